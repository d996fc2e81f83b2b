//! `/account`: the signed-in user's own API tokens (list, create, revoke) and
//! password.
//!
//! A token is shown exactly once, in the response that created it (marked
//! `Cache-Control: no-store`); only its SHA-256 is stored, and it is never logged
//! nor put in the session. Creating one asks for the current password again, so
//! a session left open on someone's screen cannot mint a long-lived credential.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::{ClientAddr, SESSION_EPOCH};
use crate::auth::{CurrentUser, policy, tokens};
use crate::domain::accounts::{self, NewToken, PasswordChange, TokenInput, Via};
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
        .route("/account/password", post(change_password))
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
    /// When it expires (or expired).
    pub expires: String,
    /// Past its expiry.
    pub expired: bool,
    /// Its scopes, comma-separated.
    pub scopes: String,
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
            expires: display_time(t.expires_at),
            expired: t.expires_at <= time::OffsetDateTime::now_utc(),
            scopes: t.scopes.join(", "),
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
    form: TokenForm,
    errors: Problems,
    password_errors: Problems,
    new_token: Option<NewToken>,
    max_days: i64,
}

impl AccountPage {
    async fn load(app: &AppState, layout: Layout, user: CurrentUser) -> Result<Self, AppError> {
        let tokens = store::tokens::list_for_user(&app.db, user.id).await?;
        Ok(Self {
            layout,
            user,
            tokens: tokens.into_iter().map(TokenRow::from).collect(),
            form: TokenForm::default(),
            errors: Problems::default(),
            password_errors: Problems::default(),
            new_token: None,
            max_days: tokens::MAX_EXPIRY_DAYS,
        })
    }
}

impl AccountPage {
    /// "expires …, scopes read, deploy" of the token just created.
    pub fn new_token_summary(&self) -> String {
        match &self.new_token {
            Some(t) => format!(
                "It expires {} and may: {}.",
                display_time(t.expires_at),
                t.scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        }
    }
}

/// The "new token" form; `Debug` by hand so the password is never logged.
#[derive(Clone, Default)]
pub struct TokenForm {
    /// What the token is for, e.g. `ci`.
    pub name: String,
    /// The user's password (re-authentication); never rendered back.
    pub current_password: String,
    /// Days until it expires.
    pub expires_in_days: String,
    /// Ticked scopes (`read` is always sent).
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("name", &self.name)
            .field("current_password", &"***")
            .field("expires_in_days", &self.expires_in_days)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl TokenForm {
    /// Reads the urlencoded pairs; `scopes` repeats (one checkbox per scope).
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "name" => form.name = value,
                "current_password" => form.current_password = value,
                "expires_in_days" => form.expires_in_days = value,
                "scopes" if !form.scopes.contains(&value) => form.scopes.push(value),
                _ => {}
            }
        }
        form
    }

    /// Whether `scope` is ticked (a fresh form ticks `deploy`).
    pub fn has_scope(&self, scope: &str) -> bool {
        if self.scopes.is_empty() {
            return scope == "read" || scope == "deploy";
        }
        self.scopes.iter().any(|s| s == scope)
    }

    /// The expiry shown in the field.
    pub fn days(&self) -> String {
        if self.expires_in_days.is_empty() {
            tokens::DEFAULT_EXPIRY_DAYS.to_string()
        } else {
            self.expires_in_days.clone()
        }
    }
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

/// `POST /account/tokens`: re-authenticates with the current password, then
/// creates a token with the asked expiry and scopes and shows it once (422
/// with the problem inline when the password is wrong, the name missing or
/// taken, the expiry out of range; 429 after as many wrong passwords as the
/// login allows).
async fn create_token(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    policy::can_manage_own_tokens(&user)?;
    let owner = user.as_user();
    let form = TokenForm::from_pairs(pairs);
    let input = TokenInput {
        name: form.name.clone(),
        expires_in_days: form.expires_in_days.clone(),
        scopes: form.scopes.clone(),
    };
    let actor = user.actor(addr);
    let client_addr = actor.client_addr.clone().unwrap_or_default();
    let created = match accounts::confirm_password(
        &app.db,
        &owner,
        &form.current_password,
        "current_password",
        &client_addr,
    )
    .await
    {
        Ok(()) => accounts::create_token_with(&app.db, &actor, &owner, &input, Via::Portal).await,
        Err(refused) => Err(refused),
    };
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
            page.form = TokenForm {
                current_password: String::new(),
                ..form
            };
            page.errors = Problems(errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /account/password`: changes the signed-in user's own password (the
/// current one required, the strength floor of new accounts); every other
/// session of theirs ends, this one stays signed in. 422 inline otherwise.
async fn change_password(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<PasswordChange>,
) -> Result<Response, AppError> {
    policy::can_manage_own_tokens(&user)?;
    let owner = user.as_user();
    match accounts::change_password(&app.db, &user.actor(addr), &owner, &form).await {
        Ok(epoch) => {
            session.insert(SESSION_EPOCH, epoch).await?;
            let message = "Password changed. Your other sessions were signed out.";
            flash(&session, "ok", message).await?;
            Ok(Redirect::to("/account").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let mut page = AccountPage::load(&app, layout, user).await?;
            page.password_errors = Problems(errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /account/tokens/{id}/revoke`: revokes one of the user's own tokens
/// (another user's token id is `NotFound`; administrators revoke anyone's on
/// `/admin/tokens`).
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
