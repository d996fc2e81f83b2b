//! CSRF protection for the portal: a synchronizer token per session, and a
//! double-submit cookie for visitors who have none.
//!
//! Every state-changing request (POST, PUT, PATCH, DELETE) to a portal route must
//! carry the expected token, either as the `csrf_token` form field or as the
//! `X-CSRF-Token` header (htmx sends it from `hx-headers` on `<body>`). A signed-in
//! session keeps its token in the session, made fresh at sign-in ([`rotate`]).
//! An anonymous visitor (the login form) gets the token in a cookie of its own
//! instead, so a visit to `/login` writes no session row: the server stores
//! nothing until a password is right. Over https that cookie is `__Host-`
//! prefixed, so a sibling subdomain cannot plant a value it knows. Logout and
//! login replace it ([`rotate_anonymous`]).
//!
//! Browsers also say where a request came from: a `Sec-Fetch-Site` other than
//! `same-origin` (or `none`, typed by the user) is refused before the token is
//! even read, which stops same-site sibling apps too.
//!
//! The API authenticates with bearer tokens, which a browser never sends on its
//! own, so it carries no cookie worth forging and is outside this layer.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use tower_sessions::Session;
use tower_sessions::cookie::{Cookie, SameSite};

use crate::error::AppError;

/// Session key of the token.
pub const SESSION_KEY: &str = "csrf";
/// Form field carrying the token.
pub const FORM_FIELD: &str = "csrf_token";
/// Header carrying the token.
pub const HEADER: &str = "x-csrf-token";

fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The session's token, created on first use (signed-in sessions only: an
/// anonymous visitor's token is [`AnonymousToken`]).
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(existing) = session.get::<String>(SESSION_KEY).await? {
        return Ok(existing);
    }
    rotate(session).await
}

/// Gives the session a new token (at sign-in), so one an attacker learned
/// before does not work after.
pub async fn rotate(session: &Session) -> Result<String, AppError> {
    let fresh = fresh_token();
    session.insert(SESSION_KEY, &fresh).await?;
    Ok(fresh)
}

/// The token for the page when the session holds none: the visitor's cookie
/// (or the one this response sets).
#[derive(Clone, Debug)]
pub struct AnonymousToken(pub String);

/// A response extension: replace the visitor's CSRF cookie (login, logout).
#[derive(Clone, Copy, Debug)]
pub struct RotateAnonymous;

/// Marks `response` so the CSRF layer sends a new anonymous token cookie.
pub fn rotate_anonymous(response: &mut Response) {
    response.extensions_mut().insert(RotateAnonymous);
}

/// The anonymous token cookie's settings.
#[derive(Clone, Copy, Debug)]
pub struct CookieSettings {
    /// Cookie name (`__Host-` prefixed over https).
    pub name: &'static str,
    /// Whether it carries `Secure`.
    pub secure: bool,
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refused() -> Response {
    AppError::Forbidden("a valid CSRF token is required").into_response()
}

/// Whether the browser says the request came from another site (or a sibling
/// subdomain). Clients that send no `Sec-Fetch-Site` rely on the token alone.
fn from_elsewhere(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| !matches!(site, "same-origin" | "none"))
}

/// The value of cookie `name` in the request, when it looks like one of our tokens.
fn cookie_token(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn token_cookie(settings: CookieSettings, value: String) -> Option<HeaderValue> {
    let cookie = Cookie::build((settings.name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// Middleware inside the session layer: refuses a state-changing request
/// without the expected token (403), and makes sure an anonymous visitor has a
/// token cookie for the forms it is shown.
pub async fn require_token(
    State(settings): State<CookieSettings>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return refused();
    };
    let in_session: Option<String> = session.get(SESSION_KEY).await.ok().flatten();
    let in_cookie = cookie_token(request.headers(), settings.name);
    if is_state_changing(request.method()) {
        if from_elsewhere(request.headers()) {
            return refused();
        }
        // A session's own token wins: once signed in, the anonymous one is void.
        let Some(expected) = in_session.clone().or_else(|| in_cookie.clone()) else {
            return refused();
        };
        let header_token = request
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let presented = match header_token {
            Some(t) => Some(t),
            None => match form_token(request).await {
                Ok((rebuilt, token)) => {
                    request = rebuilt;
                    token
                }
                Err(response) => return response,
            },
        };
        let valid = presented.is_some_and(|p| p.as_bytes().ct_eq(expected.as_bytes()).into());
        if !valid {
            return refused();
        }
    }
    let (anonymous, new_cookie) = match in_cookie {
        Some(token) => (token, false),
        None => (fresh_token(), in_session.is_none()),
    };
    request
        .extensions_mut()
        .insert(AnonymousToken(anonymous.clone()));
    let mut response = next.run(request).await;
    let rotate = response.extensions().get::<RotateAnonymous>().is_some();
    let value = if rotate {
        Some(fresh_token())
    } else {
        new_cookie.then_some(anonymous)
    };
    if let Some(cookie) = value.and_then(|v| token_cookie(settings, v)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Reads the `csrf_token` field of a urlencoded body and rebuilds the request.
async fn form_token(request: Request) -> Result<(Request, Option<String>), Response> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    // The body-limit layer outside this one has already bounded the size.
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return Err(axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response()),
    };
    let token = form_urlencoded_field(&bytes, FORM_FIELD);
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

fn form_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded_pairs(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_token_among_form_fields() {
        let body = b"name=web&csrf_token=abc%20def&x=1";
        assert_eq!(
            form_urlencoded_field(body, FORM_FIELD).as_deref(),
            Some("abc def")
        );
    }

    #[test]
    fn missing_token_field_is_none() {
        assert_eq!(form_urlencoded_field(b"name=web", FORM_FIELD), None);
    }

    #[test]
    fn only_same_origin_or_typed_requests_pass_the_fetch_metadata_check() {
        let mut headers = HeaderMap::new();
        assert!(!from_elsewhere(&headers), "old clients send nothing");
        for (site, refused) in [
            ("same-origin", false),
            ("none", false),
            ("same-site", true),
            ("cross-site", true),
        ] {
            headers.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert_eq!(from_elsewhere(&headers), refused, "{site}");
        }
    }

    #[test]
    fn the_token_cookie_is_read_only_when_it_looks_like_a_token() {
        let token = "ab".repeat(32);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; slipway_csrf={token}")).unwrap(),
        );
        assert_eq!(cookie_token(&headers, "slipway_csrf"), Some(token));
        headers.insert(header::COOKIE, HeaderValue::from_static("slipway_csrf=x"));
        assert_eq!(cookie_token(&headers, "slipway_csrf"), None);
    }

    #[test]
    fn safe_methods_are_not_checked() {
        assert!(!is_state_changing(&Method::GET));
        assert!(is_state_changing(&Method::POST));
        assert!(is_state_changing(&Method::DELETE));
    }
}
