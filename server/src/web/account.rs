//! `/account`: the signed-in user's own API tokens (list, create, revoke).
//!
//! A token is shown exactly once, in the response that created it (marked
//! `Cache-Control: no-store`); only its SHA-256 is stored, and it is never logged
//! nor put in the session.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::accounts::{self, NewToken};
use crate::error::AppError;
use crate::store;
use crate::web::format::display_time;
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// Account routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(show_account))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
}

/// One token as the page lists it (never the token itself).
#[derive(Clone, Debug)]
pub struct TokenRow {
    /// Row id.
    pub id: i64,
    /// The owner's name for it.
    pub name: String,
    /// When created.
    pub created: String,
    /// When last used, or `never`.
    pub last_used: String,
    /// When revoked.
    pub revoked: Option<String>,
}

impl From<store::tokens::TokenInfo> for TokenRow {
    fn from(t: store::tokens::TokenInfo) -> Self {
        Self {
            id: t.id,
            name: t.name,
            created: display_time(t.created_at),
            last_used: t
                .last_used_at
                .map(display_time)
                .unwrap_or_else(|| "never".into()),
            revoked: t.revoked_at.map(display_time),
        }
    }
}

/// `/account`.
#[derive(Template, WebTemplate)]
#[template(path = "account/index.html")]
pub struct AccountPage {
    layout: Layout,
    user: CurrentUser,
    tokens: Vec<TokenRow>,
    name: String,
    errors: Problems,
    new_token: Option<NewToken>,
}

impl AccountPage {
    async fn load(app: &AppState, layout: Layout, user: CurrentUser) -> Result<Self, AppError> {
        let tokens = store::tokens::list_for_user(&app.db, user.id).await?;
        Ok(Self {
            layout,
            user,
            tokens: tokens.into_iter().map(TokenRow::from).collect(),
            name: String::new(),
            errors: Problems::default(),
            new_token: None,
        })
    }
}

/// The "new token" form.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TokenForm {
    /// What the token is for, e.g. `ci`.
    #[serde(default)]
    pub name: String,
}

/// `GET /account`: any signed-in user, their own tokens only.
async fn show_account(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<AccountPage, AppError> {
    policy::can_manage_own_tokens(&user)?;
    AccountPage::load(&app, layout, user).await
}

/// `POST /account/tokens`: creates a token and shows it once (422 with the
/// problem inline when the name is missing or taken).
async fn create_token(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    policy::can_manage_own_tokens(&user)?;
    let owner = user.as_user();
    let created = accounts::create_token(&app.db, &user.actor(addr), &owner, &form.name).await;
    let mut page = AccountPage::load(&app, layout, user).await?;
    match created {
        Ok(new_token) => {
            page.new_token = Some(new_token);
            let mut response = page.into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(AppError::Invalid(errors)) => {
            page.name = form.name;
            page.errors = Problems(errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /account/tokens/{id}/revoke`: revokes one of the user's own tokens
/// (another user's token id is `NotFound`).
async fn revoke_token(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    policy::can_manage_own_tokens(&user)?;
    let owner = user.as_user();
    let message = match accounts::revoke_token(&app.db, &user.actor(addr), &owner, id).await? {
        Some(name) => {
            format!("Revoked token {name}. Programs using it can no longer call the API.")
        }
        None => "That token was already revoked.".to_owned(),
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to("/account").into_response())
}
