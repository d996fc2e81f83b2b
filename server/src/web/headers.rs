//! Security headers on every response, in one layer (`app.rs` puts it outside
//! the error renderer, so error pages carry them too).
//!
//! - `Content-Security-Policy`: scripts and styles only from our own `/static/`
//!   (no inline script or style, no `eval`), no plugins, no `<base>`, forms
//!   post only to us, and no page may frame the portal (clickjacking of the
//!   Approve button from a same-site team app).
//! - `X-Frame-Options: DENY` for browsers without `frame-ancestors`.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`.
//! - `Strict-Transport-Security` when the public URL is https.
//! - `Cache-Control: no-store` on HTML and JSON that did not choose a policy
//!   (pages show team data; static files set their own caching).
//! - `Vary: HX-Request` on HTML: a handler answers a fragment or the whole page
//!   depending on that header, so a cache must keep the two apart.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy: nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// HSTS for an https portal: a year, this host only (team apps on sibling
/// subdomains decide for themselves).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// What the layer needs to know.
#[derive(Clone, Copy, Debug)]
pub struct SecurityHeaders {
    /// Send `Strict-Transport-Security`.
    pub hsts: bool,
}

/// Middleware: adds the headers to the response.
pub async fn security_headers(
    State(settings): State<SecurityHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    apply(settings, response.headers_mut());
    response
}

fn apply(settings: SecurityHeaders, headers: &mut HeaderMap) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let html = content_type.starts_with("text/html");
    let json = content_type.starts_with("application/json");
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if settings.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    if (html || json) && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if html {
        headers.append(header::VARY, HeaderValue::from_static("HX-Request"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_gets_no_store_and_vary_but_keeps_a_chosen_cache_policy() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        apply(SecurityHeaders { hsts: false }, &mut headers);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["accept-encoding", "HX-Request"]);
        assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));

        let mut css = HeaderMap::new();
        css.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css"));
        css.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        apply(SecurityHeaders { hsts: true }, &mut css);
        assert_eq!(css[header::CACHE_CONTROL], "public, max-age=3600");
        assert!(!css.contains_key(header::VARY));
        assert_eq!(css[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            css[header::STRICT_TRANSPORT_SECURITY],
            STRICT_TRANSPORT_SECURITY
        );
    }

    #[test]
    fn the_policy_allows_no_inline_script_or_style() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
