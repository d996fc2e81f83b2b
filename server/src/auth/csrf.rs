//! CSRF protection for the portal: a per-session synchronizer token.
//!
//! Every state-changing request (POST, PUT, PATCH, DELETE) to a portal route must
//! carry the session's token, either as the `csrf_token` form field or as the
//! `X-CSRF-Token` header (htmx sends it from `hx-headers` on `<body>`). The API
//! authenticates with bearer tokens, which a browser never sends on its own, so
//! it carries no cookie worth forging and is outside this layer.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use tower_sessions::Session;

use crate::error::AppError;

/// Session key of the token.
pub const SESSION_KEY: &str = "csrf";
/// Form field carrying the token.
pub const FORM_FIELD: &str = "csrf_token";
/// Header carrying the token.
pub const HEADER: &str = "x-csrf-token";

/// The session's token, created on first use.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(existing) = session.get::<String>(SESSION_KEY).await? {
        return Ok(existing);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let fresh = hex::encode(bytes);
    session.insert(SESSION_KEY, &fresh).await?;
    Ok(fresh)
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware: refuses a state-changing request without the session's token (403).
pub async fn require_token(request: Request, next: Next) -> Response {
    if !is_state_changing(request.method()) {
        return next.run(request).await;
    }
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return AppError::Forbidden("a valid CSRF token is required").into_response();
    };
    let expected: Option<String> = session.get(SESSION_KEY).await.ok().flatten();
    let Some(expected) = expected else {
        return AppError::Forbidden("a valid CSRF token is required").into_response();
    };
    let header_token = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (request, presented) = match header_token {
        Some(t) => (request, Some(t)),
        None => match form_token(request).await {
            Ok(pair) => pair,
            Err(response) => return response,
        },
    };
    let valid = presented.is_some_and(|p| p.as_bytes().ct_eq(expected.as_bytes()).into());
    if !valid {
        return AppError::Forbidden("a valid CSRF token is required").into_response();
    }
    next.run(request).await
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
    fn safe_methods_are_not_checked() {
        assert!(!is_state_changing(&Method::GET));
        assert!(is_state_changing(&Method::POST));
        assert!(is_state_changing(&Method::DELETE));
    }
}
