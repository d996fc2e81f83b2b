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
use serde_json::json;
use sqlx::PgPool;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy, tokens};
use crate::error::{AppError, FieldMessage, ResultExt as _};
use crate::store::{self, audit::Actor};
use crate::web::admin::{Problems, display_time};
use crate::web::layout::{Layout, flash};

/// Longest token name.
pub const MAX_TOKEN_NAME: usize = 64;

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

/// A token just created: the only time its value is shown.
#[derive(Clone)]
pub struct NewToken {
    /// Its name.
    pub name: String,
    /// The token.
    pub value: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("name", &self.name)
            .field("value", &"***")
            .finish()
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
    let actor = user.actor(addr);
    let created = insert_token(&app.db, &actor, &user, &form.name).await;
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
    let actor = user.actor(addr);
    let message = match revoke_own_token(&app.db, &actor, &user, id).await? {
        Some(name) => {
            format!("Revoked token {name}. Programs using it can no longer call the API.")
        }
        None => "That token was already revoked.".to_owned(),
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to("/account").into_response())
}

fn check_token_name(raw: &str) -> Result<String, Vec<FieldMessage>> {
    let name = raw.trim();
    let problem = if name.is_empty() {
        "required"
    } else if name.chars().count() > MAX_TOKEN_NAME {
        "must be at most 64 characters"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(name.to_owned());
    };
    Err(vec![FieldMessage {
        path: "name".into(),
        message: problem.into(),
    }])
}

/// Creates a token for `user`; audited as `token.create` (the name, never the value).
async fn insert_token(
    db: &PgPool,
    actor: &Actor,
    user: &CurrentUser,
    raw_name: &str,
) -> Result<NewToken, AppError> {
    let name = check_token_name(raw_name).map_err(AppError::Invalid)?;
    let value = tokens::generate();
    let mut tx = db.begin().await?;
    let id = store::tokens::insert(&mut *tx, user.id, &name, &tokens::hash(&value))
        .await
        .on_constraint("api_tokens_user_id_name_key", || {
            AppError::invalid("name", "you already have a token with this name")
        })?;
    store::audit::record(
        &mut *tx,
        actor,
        "token.create",
        &user.email,
        json!({"token": name, "id": id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = id, "API token created");
    Ok(NewToken { name, value })
}

/// Revokes one of `user`'s tokens; `Some(name)` when it was live, `None` when
/// already revoked; audited as `token.revoke`.
async fn revoke_own_token(
    db: &PgPool,
    actor: &Actor,
    user: &CurrentUser,
    id: i64,
) -> Result<Option<String>, AppError> {
    let mut tx = db.begin().await?;
    let token = store::tokens::list_for_user(&mut *tx, user.id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound)?;
    if !store::tokens::revoke(&mut *tx, user.id, id).await? {
        return Ok(None);
    }
    store::audit::record(
        &mut *tx,
        actor,
        "token.revoke",
        &user.email,
        json!({"token": token.name, "id": id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = id, "API token revoked");
    Ok(Some(token.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_are_trimmed_and_required() {
        assert_eq!(check_token_name("  ci  ").unwrap(), "ci");
        assert_eq!(check_token_name("   ").unwrap_err()[0].message, "required");
        assert!(check_token_name(&"x".repeat(65)).is_err());
        assert!(check_token_name("a\u{7}b").is_err());
    }

    #[test]
    fn a_new_token_never_shows_in_debug_output() {
        let t = NewToken {
            name: "ci".into(),
            value: "slw_secret".into(),
        };
        assert!(!format!("{t:?}").contains("slw_secret"));
    }
}
