//! Form problems as templates look them up, and the answer of a form that
//! shows a secret once.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::FieldError;

/// A page that shows a secret exactly once (a new hook's or notification
/// target's): never cached, by the browser or anything between.
pub fn shown_once(page: impl IntoResponse) -> Response {
    let mut response = page.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Field problems of a form, looked up by field name in templates.
#[derive(Clone, Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    /// The first message for `path`, if any.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.message.as_str())
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every problem on one line, `path: message; …`, for a flash message.
    pub fn one_line(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
