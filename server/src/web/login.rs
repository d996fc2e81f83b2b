//! Signing in and out.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::activity::LAST_SEEN_KEY;
use crate::auth::extract::{ClientAddr, SESSION_EPOCH, SESSION_USER_ID};
use crate::auth::{MaybeUser, password};
use crate::error::AppError;
use crate::store;
use crate::web::layout::Layout;

/// Login routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(show_login).post(login))
        .route("/logout", post(logout))
}

/// The login page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login form. `Debug` is implemented by hand so the password can never be logged.
#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("email", &self.email)
            .field("password", &"***")
            .finish()
    }
}

/// Only local paths are allowed as a post-login destination (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// `GET /login`: the form; a signed-in user goes straight on.
async fn show_login(
    MaybeUser(user): MaybeUser,
    layout: Layout,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Redirect::to(&next).into_response();
    }
    LoginPage {
        layout,
        email: String::new(),
        next,
        error: None,
    }
    .into_response()
}

/// `POST /login`: checks the password with per-account and per-address throttling.
/// The message never says whether the account exists.
async fn login(
    State(app): State<AppState>,
    session: Session,
    ClientAddr(client_addr): ClientAddr,
    layout: Layout,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let email = form.email.trim().to_lowercase();
    let next = safe_next(Some(&form.next));
    let refuse = |layout: Layout, status: StatusCode, message: &str| {
        let page = LoginPage {
            layout,
            email: email.clone(),
            next: next.clone(),
            error: Some(message.to_owned()),
        };
        (status, page).into_response()
    };
    if store::login_attempts::is_throttled(&app.db, &email, &client_addr).await? {
        tracing::warn!(client_addr, "login throttled");
        return Ok(refuse(
            layout,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins. Wait 15 minutes and try again.",
        ));
    }
    let credentials = store::users::credentials(&app.db, &email).await?;
    let password_ok = {
        let phc = credentials
            .as_ref()
            .map(|c| c.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let attempt = form.password.clone();
        // Hashing takes tens of milliseconds of CPU: keep it off the async workers.
        tokio::task::spawn_blocking(move || password::verify(&attempt, &phc))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
    };
    let (user_id, epoch) = match credentials {
        Some(c) if password_ok && !c.disabled => (c.id, c.session_epoch),
        _ => {
            store::login_attempts::record(&app.db, &email, &client_addr, false).await?;
            tracing::info!("login refused");
            return Ok(refuse(
                layout,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Wrong email or password.",
            ));
        }
    };
    store::login_attempts::record(&app.db, &email, &client_addr, true).await?;
    // A new session id at login defeats session fixation.
    session
        .cycle_id()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cycling session id: {e}")))?;
    session.insert(SESSION_USER_ID, user_id).await?;
    session.insert(SESSION_EPOCH, epoch).await?;
    session
        .insert(
            LAST_SEEN_KEY,
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .await?;
    let actor = store::audit::Actor {
        user_id: Some(user_id),
        name: email.clone(),
        client_addr: Some(client_addr),
    };
    store::audit::record(&app.db, &actor, "user.login", &email, json!({})).await?;
    tracing::info!(user_id, "signed in");
    Ok(Redirect::to(&next).into_response())
}

/// `POST /logout`: deletes the session server-side.
async fn logout(session: Session) -> Result<Response, AppError> {
    session
        .flush()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("deleting session: {e}")))?;
    Ok(Redirect::to("/login").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/services/a/b")), "/services/a/b");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn login_form_debug_hides_the_password() {
        let form = LoginForm {
            email: "a@b.c".into(),
            password: "hunter2-hunter2".into(),
            next: String::new(),
        };
        assert!(!format!("{form:?}").contains("hunter2"));
    }
}
