//! Deploy pages: request a deploy and the deploy panel of a service
//! ([`request`]), the history across services and per service ([`history`]),
//! a deploy's page with its live timeline, approvals, rollback and environment
//! pins ([`show`]); the view models they share are in [`view`]. Every action
//! calls `domain::deploys`.

mod history;
pub mod plan;
mod request;
mod show;
pub mod view;

pub use history::{DeployList, HistoryKey};
pub use show::DeployRecord;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

/// Deploys per page of `/deploys`.
pub const PAGE: i64 = 50;
/// Deploys per environment on a service's history.
pub const HISTORY_PER_ENVIRONMENT: i64 = 20;

/// Deploy routes of the portal.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/services/{team}/{service}/deploys",
            post(request::create_deploy),
        )
        .route(
            "/services/{team}/{service}/deploy-panel",
            get(request::show_deploy_panel),
        )
        .route(
            "/services/{team}/{service}/history",
            get(history::show_history),
        )
        .route(
            "/services/{team}/{service}/environments/{environment}/unpin",
            post(show::unpin),
        )
        .route("/deploys", get(history::list_deploys))
        .route("/deploys/{id}", get(show::show_deploy))
        .route("/deploys/{id}/approve", post(show::approve))
        .route("/deploys/{id}/reject", post(show::reject))
        .route("/deploys/{id}/rollback", post(show::rollback))
        .route("/deploys/{id}/release", post(show::release))
}
