//! Signing in and out.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::activity::LAST_SEEN_KEY;
use crate::auth::extract::{ClientAddr, SESSION_EPOCH, SESSION_SSO_UNTIL, SESSION_USER_ID};
use crate::auth::throttle::{self, GateError};
use crate::auth::{MaybeUser, csrf, oidc, password};
use crate::config::PasswordLogin;
use crate::domain;
use crate::error::AppError;
use crate::store;
use crate::store::login_attempts::Begun;
use crate::web::layout::Layout;

/// Login routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(show_login).post(login))
        .route("/logout", post(logout))
        .route("/auth/oidc/start", get(sso_start))
        // oidc::CALLBACK_PATH, written out for the route table the tests read.
        .route("/auth/oidc/callback", get(sso_callback))
}

/// Session key of the sign-in started at the identity provider.
const OIDC_PENDING: &str = "oidc_pending";

/// The login page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
    /// "Sign in with …" when single sign-on is configured.
    sso_name: Option<String>,
    sso_href: String,
    /// Whether the password form shows (off for all but break-glass).
    password_login: bool,
    password_href: String,
    /// After signing out of a session the provider started: the provider's
    /// end-session URL, when it has one, offered to end that session too.
    provider_sign_out: Option<String>,
}

impl LoginPage {
    fn new(app: &AppState, layout: Layout, next: String, show_password: bool) -> Self {
        let query = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("next", next.as_str())];
            pairs.extend_from_slice(extra);
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        };
        let password_login = show_password
            || app.config.password_login == PasswordLogin::Everyone
            || app.oidc.is_none();
        Self {
            layout,
            email: String::new(),
            sso_href: format!("/auth/oidc/start?{}", query(&[])),
            password_href: format!("/login?{}", query(&[("password", "1")])),
            next,
            error: None,
            sso_name: app.oidc.as_ref().map(|p| p.display_name().to_owned()),
            password_login,
            provider_sign_out: None,
        }
    }
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// `1`: show the password form even when it is kept for break-glass.
    password: Option<String>,
    /// `provider`: the session just ended had been started by the provider.
    signed_out: Option<String>,
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
/// Browsers drop tabs and newlines from a `Location` and read `\\` as `/`, so
/// `/\t/evil.example` would become `//evil.example`: a destination must be
/// printable ASCII without spaces or backslashes, start with one `/`, and parse
/// as a path (and query) alone.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(n: &str) -> bool {
    n.starts_with('/')
        && !n.starts_with("//")
        && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && n.parse::<axum::http::uri::PathAndQuery>().is_ok()
}

/// A wait in words, for the throttled login page.
fn in_words(secs: u64) -> String {
    match secs {
        0..=1 => "a second".to_owned(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

/// `GET /login`: the form; a signed-in user goes straight on.
async fn show_login(
    State(app): State<AppState>,
    MaybeUser(user): MaybeUser,
    layout: Layout,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let mut page = LoginPage::new(&app, layout, next, q.password.as_deref() == Some("1"));
    if q.signed_out.as_deref() == Some("provider")
        && let Some(provider) = &app.oidc
    {
        page.provider_sign_out = provider.end_session_url().await;
    }
    page.into_response()
}

/// `POST /login`: checks the password, throttled per (account, address), per address
/// and per account (see `auth::throttle`), with at most a few checks at once.
/// The attempt is counted before its password is hashed. The message never says
/// whether the account exists.
async fn login(
    State(app): State<AppState>,
    session: Session,
    ClientAddr(client_addr): ClientAddr,
    layout: Layout,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let email = form.email.trim().to_lowercase();
    let next = safe_next(Some(&form.next));
    let refuse = |layout: Layout, status: StatusCode, message: String, retry_after: Option<u64>| {
        let page = LoginPage {
            email: email.clone(),
            error: Some(message),
            ..LoginPage::new(&app, layout, next.clone(), true)
        };
        let mut response = (status, page).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    };
    if app.config.password_login == PasswordLogin::BreakGlass
        && app.oidc.is_some()
        && email != app.config.admin_email.trim().to_lowercase()
    {
        tracing::info!("password login refused: kept for the break-glass administrator");
        let name = app
            .oidc
            .as_ref()
            .map_or("single sign-on", |p| p.display_name());
        return Ok(refuse(
            layout,
            StatusCode::FORBIDDEN,
            format!("Password sign-in is off here; sign in with {name}."),
            None,
        ));
    }
    let attempt =
        match store::login_attempts::begin(&app.db, &email, &client_addr, throttle::retry_after)
            .await?
        {
            Begun::Throttled { retry_after } => {
                tracing::warn!(client_addr, retry_after, "login throttled");
                return Ok(refuse(
                    layout,
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed sign-ins. Wait {} and try again.",
                        in_words(retry_after)
                    ),
                    Some(retry_after),
                ));
            }
            Begun::Busy => {
                tracing::warn!(
                    client_addr,
                    "login refused: another from this address is being counted"
                );
                return Ok(refuse(
                    layout,
                    StatusCode::TOO_MANY_REQUESTS,
                    "Another sign-in from your address is being checked. Try again in a moment."
                        .to_owned(),
                    Some(1),
                ));
            }
            Begun::Counted { id } => id,
        };
    let credentials = store::users::credentials(&app.db, &email).await?;
    // A user of single sign-on has no password; the dummy hash costs the same.
    let phc = credentials
        .as_ref()
        .map(|c| c.password_hash.clone())
        .filter(|h| h != store::sso::NO_PASSWORD)
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let password_ok = match app.password_gate.verify(form.password.clone(), phc).await {
        Ok(ok) => ok,
        Err(GateError::Busy(_)) => {
            // Never checked, so it must not count against the person who tried.
            store::login_attempts::forget(&app.db, attempt).await?;
            tracing::warn!("login refused: every password check slot is busy");
            return Ok(refuse(
                layout,
                StatusCode::TOO_MANY_REQUESTS,
                "Slipway is checking many sign-ins at once. Try again in a moment.".to_owned(),
                Some(1),
            ));
        }
        Err(GateError::Join(err)) => return Err(AppError::Internal(err.into())),
    };
    let (user_id, epoch) = match credentials {
        Some(c) if password_ok && !c.disabled => (c.id, c.session_epoch),
        _ => {
            // The attempt was recorded as a failure before hashing; it stays one.
            tracing::info!("login refused");
            return Ok(refuse(
                layout,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Wrong email or password.".to_owned(),
                None,
            ));
        }
    };
    store::login_attempts::succeed(&app.db, attempt).await?;
    start_session(&session, user_id, epoch).await?;
    let actor = store::audit::Actor {
        user_id: Some(user_id),
        name: email.clone(),
        client_addr: Some(client_addr),
    };
    store::audit::record(&app.db, &actor, "user.login", &email, json!({})).await?;
    tracing::info!(user_id, "signed in");
    let mut response = Redirect::to(&next).into_response();
    csrf::rotate_anonymous(&mut response);
    Ok(response)
}

/// Makes `session` the signed-in session of `user_id`. A new session id at
/// login defeats session fixation, and a new CSRF token makes one learned
/// before sign-in (a planted cookie) worthless after it.
async fn start_session(session: &Session, user_id: i64, epoch: i32) -> Result<(), AppError> {
    session
        .cycle_id()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cycling session id: {e}")))?;
    session.insert(SESSION_USER_ID, user_id).await?;
    session.insert(SESSION_EPOCH, epoch).await?;
    // A sign-in through the provider sets its own end after this.
    session.remove::<i64>(SESSION_SSO_UNTIL).await?;
    session
        .insert(
            LAST_SEEN_KEY,
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .await?;
    csrf::rotate(session).await?;
    Ok(())
}

/// `GET /auth/oidc/start`: remembers a new sign-in in the session and sends
/// the browser to the identity provider.
async fn sso_start(
    State(app): State<AppState>,
    session: Session,
    ClientAddr(client_addr): ClientAddr,
    layout: Layout,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    let provider = app.oidc.clone().ok_or(AppError::NotFound)?;
    let next = safe_next(q.next.as_deref());
    match provider.begin(&next, sso_now(&app).timestamp()).await {
        Ok((url, pending)) => {
            session.insert(OIDC_PENDING, pending).await?;
            Ok(Redirect::to(&url).into_response())
        }
        Err(error) => {
            tracing::warn!(%error, "single sign-on could not start");
            oidc_refused(&app, &client_addr, layout, next, &error).await
        }
    }
}

/// The identity provider's answer (`GET /auth/oidc/callback`).
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/oidc/callback`: checks the answer against the sign-in this
/// browser started (used once: it leaves the session whatever happens),
/// exchanges the code, verifies the ID token, and signs the person in.
async fn sso_callback(
    State(app): State<AppState>,
    session: Session,
    ClientAddr(client_addr): ClientAddr,
    layout: Layout,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let provider = app.oidc.clone().ok_or(AppError::NotFound)?;
    let pending: Option<oidc::Pending> = session.remove(OIDC_PENDING).await?;
    let next = pending
        .as_ref()
        .map_or_else(|| "/".to_owned(), |p| safe_next(Some(&p.next)));
    let now = sso_now(&app);
    let identity = match q.error {
        Some(error) => Err(oidc::OidcError::Refused(
            [Some(error), q.error_description]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
        )),
        None => {
            provider
                .finish(
                    pending,
                    q.state.as_deref().unwrap_or_default(),
                    q.code.as_deref().unwrap_or_default(),
                    now,
                )
                .await
        }
    };
    let identity = match identity {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(reason = error.reason(), %error, "single sign-on refused");
            return oidc_refused(&app, &client_addr, layout, next, &error).await;
        }
    };
    match domain::sso::sign_in(&app.db, provider.issuer(), &identity, &client_addr).await? {
        Ok(signed_in) => {
            start_session(&session, signed_in.user.id, signed_in.epoch).await?;
            let hours = i64::from(app.config.oidc_session_hours);
            session
                .insert(SESSION_SSO_UNTIL, now.timestamp() + hours * 3600)
                .await?;
            tracing::info!(
                user_id = signed_in.user.id,
                created = signed_in.created,
                "signed in through single sign-on"
            );
            let mut response = Redirect::to(&next).into_response();
            csrf::rotate_anonymous(&mut response);
            Ok(response)
        }
        Err(refused) => {
            domain::sso::record_refusal(
                &app.db,
                &client_addr,
                Some(&identity.email),
                refused.reason(),
                &refused.to_string(),
            )
            .await?;
            Ok(sso_refused(&app, layout, next, refused.to_string()))
        }
    }
}

/// The clock of single sign-on: now, moved by the tests' offset.
fn sso_now(app: &AppState) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::seconds(app.config.oidc_clock_offset_secs)
}

/// Audits the provider-side refusal `error` and shows the login page saying it.
async fn oidc_refused(
    app: &AppState,
    client_addr: &str,
    layout: Layout,
    next: String,
    error: &oidc::OidcError,
) -> Result<Response, AppError> {
    domain::sso::record_oidc_refusal(&app.db, client_addr, error).await?;
    Ok(sso_refused(app, layout, next, error.to_string()))
}

/// The login page saying why single sign-on did not sign the visitor in.
fn sso_refused(app: &AppState, layout: Layout, next: String, why: String) -> Response {
    let page = LoginPage {
        error: Some(format!("Single sign-on failed: {why}")),
        ..LoginPage::new(app, layout, next, false)
    };
    (StatusCode::UNAUTHORIZED, page).into_response()
}

/// `POST /logout`: deletes the session server-side and replaces the visitor's
/// CSRF cookie, so no token of the ended session works on the login form.
async fn logout(session: Session) -> Result<Response, AppError> {
    // A session the provider started leaves the person signed in there: the
    // login page then offers the provider's own sign-out (when it has one).
    let through_provider = session.get::<i64>(SESSION_SSO_UNTIL).await?.is_some();
    session
        .flush()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("deleting session: {e}")))?;
    let to = if through_provider {
        "/login?signed_out=provider"
    } else {
        "/login"
    };
    let mut response = Redirect::to(to).into_response();
    csrf::rotate_anonymous(&mut response);
    Ok(response)
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
    fn control_characters_and_spaces_never_reach_the_location_header() {
        for attack in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n//evil.example",
            "/ /evil.example",
            "/\u{0}/evil.example",
            "/\u{a0}/evil.example",
            "\t//evil.example",
            "/\\/evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(attack)), "/", "{attack:?}");
        }
        assert_eq!(
            safe_next(Some("/deploys?state=failed&page=2")),
            "/deploys?state=failed&page=2"
        );
        assert_eq!(
            safe_next(Some("/%09/x")),
            "/%09/x",
            "an escaped tab stays a path"
        );
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(in_words(1), "a second");
        assert_eq!(in_words(30), "30 seconds");
        assert_eq!(in_words(901), "16 minutes");
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
