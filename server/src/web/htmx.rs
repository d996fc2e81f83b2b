//! htmx conventions in one place: whether a request came from htmx (and
//! wants a fragment), and a redirect htmx follows as a full navigation.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

/// Whether the request was sent by htmx (`HX-Request`) for a fragment; a
/// boosted navigation (`HX-Boosted`) wants a whole page and counts as not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HxRequest(pub bool);

impl HxRequest {
    /// Reads the headers.
    pub fn of(headers: &HeaderMap) -> Self {
        Self(headers.contains_key("hx-request") && !headers.contains_key("hx-boosted"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HxRequest {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers))
    }
}

/// Sends the browser to `target`: for htmx a 200 with `HX-Redirect` (htmx does
/// not follow a 3xx as a navigation), otherwise a 303.
pub fn redirect(hx: HxRequest, target: &str) -> Response {
    if !hx.0 {
        return Redirect::to(target).into_response();
    }
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(target) {
        response.headers_mut().insert("hx-redirect", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htmx_gets_an_hx_redirect_and_a_browser_a_303() {
        let hx = redirect(HxRequest(true), "/deploys/7");
        assert_eq!(hx.status(), StatusCode::OK);
        assert_eq!(hx.headers()["hx-redirect"], "/deploys/7");
        let plain = redirect(HxRequest(false), "/deploys/7");
        assert_eq!(plain.status(), StatusCode::SEE_OTHER);
    }

    #[test]
    fn a_boosted_navigation_is_not_a_fragment_request() {
        let mut headers = HeaderMap::new();
        headers.insert("hx-request", HeaderValue::from_static("true"));
        assert_eq!(HxRequest::of(&headers), HxRequest(true));
        headers.insert("hx-boosted", HeaderValue::from_static("true"));
        assert_eq!(HxRequest::of(&headers), HxRequest(false));
    }
}
