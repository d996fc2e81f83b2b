//! HTTP handlers by area. Each area offers `routes()`; this module groups them by
//! how they authenticate: the portal (session + CSRF), the API under `api/`
//! (bearer token) and open routes (probes, metrics, static files). Handlers
//! extract, authorize (`auth::policy`), call one `domain` action and render.

pub mod account;
pub mod admin;
pub mod api;
pub mod approvals;
pub mod catalog;
pub mod cluster_overview;
pub mod clusters;
pub mod deploys;
pub mod diff;
pub mod drift;
pub mod environments;
pub mod errors;
pub mod format;
pub mod forms;
pub mod freeze;
pub mod headers;
pub mod health;
pub mod hooks;
pub mod htmx;
pub mod layout;
pub mod loaders;
pub mod login;
pub mod logs;
pub mod namespaces;
pub mod notifications;
pub mod quotas;
pub mod scaling;
pub mod services;
pub mod spec_check;
pub mod sso;
pub mod static_files;
pub mod status;
pub mod tenancy;
pub mod wiring;

use axum::Router;

use crate::app::AppState;

/// Routes of the HTML portal; the router wraps them in sessions and CSRF checks.
pub fn portal_routes() -> Router<AppState> {
    Router::new()
        .merge(login::routes())
        .merge(catalog::routes())
        .merge(services::routes())
        .merge(spec_check::routes())
        .merge(deploys::routes())
        .merge(environments::routes())
        .merge(freeze::routes())
        .merge(admin::routes())
        .merge(namespaces::routes())
        .merge(sso::routes())
        .merge(quotas::routes())
        .merge(account::routes())
        .merge(wiring::routes())
        .merge(status::routes())
        .merge(logs::routes())
        .merge(drift::routes())
        .merge(scaling::routes())
        .merge(cluster_overview::routes())
        .merge(clusters::routes())
        .merge(hooks::routes())
        .merge(approvals::routes())
        .merge(notifications::routes())
        .merge(tenancy::routes())
}

/// Routes of the JSON API under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    api::routes().merge(tenancy::api_routes())
}

/// Routes without a session: probes, static files, and metrics unless they
/// have a listener of their own (`metrics_here` false).
pub fn open_routes(static_dir: std::path::PathBuf, metrics_here: bool) -> Router<AppState> {
    let open = Router::new()
        .merge(health::routes())
        .merge(hooks::open_routes())
        .merge(static_files::routes(static_dir));
    if metrics_here {
        open.merge(health::metrics_routes())
    } else {
        open
    }
}
