//! Static assets (vendored htmx, CSS, the icon) from the `static/` folder, with cache headers.

use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Redirect;
use axum::response::Response;
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::app::AppState;

/// `GET /static/…`, and `GET /favicon.ico` sent to the icon (for clients that
/// ask there without reading the page's `<link rel=icon>`).
pub fn routes(dir: PathBuf) -> Router<AppState> {
    Router::new()
        .route("/favicon.ico", get(favicon))
        .nest_service("/static", ServeDir::new(dir))
        .layer(middleware::from_fn(cache_headers))
}

async fn favicon() -> Redirect {
    Redirect::permanent("/static/favicon.svg")
}

/// Vendored files carry their version in the name and never change: cache a year.
/// Our own CSS is not fingerprinted: an hour.
async fn cache_headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/static/vendor/");
    let mut response = next.run(request).await;
    if response.status().is_success() {
        let value = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=3600"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}
