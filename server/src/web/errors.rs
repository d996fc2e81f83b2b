//! Turning errors into responses: HTML pages for the portal, the JSON error shape
//! of `docs/api.md` under `/api/`, a login redirect for anonymous portal visits.

use askama::Template;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::error::{AppError, ErrorReport, FieldError};
use crate::telemetry::REQUEST_ID;
use crate::web::htmx::{self, HxRequest};
use crate::web::layout::Layout;

/// The HTML error page.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Base layout (nobody signed in: the page must render even when the database is down).
    pub layout: Layout,
    /// HTTP status code.
    pub status: u16,
    /// Short title, e.g. "Not found".
    pub title: String,
    /// What happened, safe to show.
    pub message: String,
    /// Field problems.
    pub fields: Vec<FieldError>,
    /// The request id, to quote when reporting a problem.
    pub request_id: String,
}

/// Fallback for unknown paths.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/api" || path.starts_with("/hooks/")
}

/// Middleware: renders every error response in the route's format, once.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let hx = HxRequest(request.headers().contains_key("hx-request"));
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let report = match response.extensions().get::<ErrorReport>() {
        Some(report) => report.clone(),
        // Errors produced by layers (413, 408, 405) or extractors: render them too,
        // unless a handler already chose a body format (e.g. a 422 form fragment).
        None if has_own_body(&response) => return response,
        None => report_for_status(status),
    };
    if let Some(internal) = &report.internal {
        tracing::error!(error = %internal, "request failed");
    }
    if is_api(&path) {
        let body = json!({"error": {
            "code": report.code,
            "message": report.message,
            "fields": report.fields,
        }});
        let mut out = (status, axum::Json(body)).into_response();
        copy_allow_header(&response, &mut out);
        return out;
    }
    if status == StatusCode::UNAUTHORIZED {
        let mut next_url = path.clone();
        if let Some(q) = query {
            next_url = format!("{next_url}?{q}");
        }
        let target = format!("/login?next={}", urlencode(&next_url));
        return htmx::redirect(hx, &target);
    }
    let page = ErrorPage {
        layout: Layout::bare(),
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        message: report.message,
        fields: report.fields,
        request_id,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{} {}", status.as_u16(), page.title));
    let mut out = (status, Html(body)).into_response();
    copy_allow_header(&response, &mut out);
    out
}

fn has_own_body(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.starts_with("application/json"))
}

fn copy_allow_header(from: &Response, to: &mut Response) {
    if let Some(allow) = from.headers().get(header::ALLOW) {
        to.headers_mut().insert(header::ALLOW, allow.clone());
    }
}

fn report_for_status(status: StatusCode) -> ErrorReport {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "Not found."),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "That method is not allowed here.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is too large."),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "The request took too long."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "Unsupported content type.")
        }
        StatusCode::BAD_REQUEST => ("bad_request", "The request could not be read."),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid", "The request body is invalid."),
        s if s.is_server_error() => ("internal", "Something went wrong."),
        _ => ("error", "The request failed."),
    };
    ErrorReport {
        code,
        message: message.to_owned(),
        fields: Vec::new(),
        internal: None,
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|encoded| encoded.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_and_hook_paths_get_json() {
        assert!(is_api("/api/v1/nope"));
        assert!(!is_api("/apiary"));
        assert!(!is_api("/services/a/b"));
    }

    #[test]
    fn next_parameter_is_encoded() {
        assert_eq!(
            urlencode("/services/a?x=1&y=2"),
            "%2Fservices%2Fa%3Fx%3D1%26y%3D2"
        );
    }
}
