//! The JSON API under `/api/v1`, authenticated with personal API tokens
//! (`Authorization: Bearer TOKEN`, the `ApiUser` extractor).
//!
//! It applies the same `auth::policy` functions and calls the same `domain`
//! actions as the portal, through the same loaders (`web::loaders`). Errors are plain `AppError`s; the error middleware
//! renders them as `{"error":{"code","message","fields":[{"path","message"}]}}`.
//!
//! A service of a team the caller does not belong to is `403 forbidden`, whether
//! or not it exists: the team check comes before any lookup, so the answer never
//! tells outsiders which services a team has.

mod access;
mod approvals;
mod body;
mod clusters;
mod deploys;
mod environments;
mod freeze;
mod namespaces;
mod services;
mod status;
mod wiring;

pub use body::ApiJson;

use axum::extract::State;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Serialize;

use crate::app::AppState;
use crate::auth::{ApiUser, policy};
use crate::error::AppError;
use crate::{spec, store};

/// API routes (full paths, so the route table in the tests can see them).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schema", get(show_schema))
        .route("/api/v1/teams", get(list_teams))
        .route("/api/v1/users", get(access::list_users))
        .route("/api/v1/users/{id}/access", post(access::change_access))
        .route("/api/v1/tokens", get(access::list_own_tokens))
        .route("/api/v1/admin/tokens", get(access::list_all_tokens))
        .route("/api/v1/tokens/{id}/revoke", post(access::revoke_token))
        .route("/api/v1/services", get(services::list_services))
        .route(
            "/api/v1/teams/{team}/services",
            post(services::create_service),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}",
            get(services::show_service).put(services::save_revision),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/revisions",
            get(services::list_revisions),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/revisions/{number}",
            get(services::show_revision),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/render",
            get(services::render_service),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/check",
            get(services::check_service),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/deploys",
            post(deploys::create_deploy).get(deploys::list_service_deploys),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/environments/{environment}/unpin",
            post(deploys::unpin),
        )
        .route("/api/v1/deploys", get(deploys::list_deploys))
        .route("/api/v1/deploys/{id}", get(deploys::show_deploy))
        .route("/api/v1/deploys/{id}/events", get(deploys::list_events))
        .route(
            "/api/v1/deploys/{id}/cluster-events",
            get(deploys::list_cluster_events),
        )
        .route("/api/v1/deploys/{id}/approve", post(deploys::approve))
        .route("/api/v1/deploys/{id}/reject", post(deploys::reject))
        .route("/api/v1/deploys/{id}/rollback", post(deploys::rollback))
        .route("/api/v1/deploys/{id}/release", post(deploys::release))
        .route(
            "/api/v1/clusters",
            get(clusters::list_clusters).post(clusters::register_cluster),
        )
        .route(
            "/api/v1/clusters/{name}",
            get(clusters::show_cluster)
                .put(clusters::update_cluster)
                .delete(clusters::remove_cluster),
        )
        .route("/api/v1/environments", get(environments::list_environments))
        .route(
            "/api/v1/environments/{name}",
            put(environments::update_environment),
        )
        .route("/api/v1/approvals", get(approvals::list_approvals))
        .route("/api/v1/namespaces", get(namespaces::list_namespaces))
        .route(
            "/api/v1/environments/{name}/quota",
            get(namespaces::show_quota).put(namespaces::set_quota),
        )
        .route(
            "/api/v1/namespaces/reserved/{name}",
            put(namespaces::reserve).delete(namespaces::unreserve),
        )
        .route(
            "/api/v1/environments/{name}/freeze-windows",
            get(freeze::list_windows).post(freeze::add_window),
        )
        .route(
            "/api/v1/environments/{name}/freeze-windows/{id}",
            delete(freeze::remove_window),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/wiring",
            get(wiring::show_wiring),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/secrets/{secret}/{key}",
            put(wiring::write_value),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/status",
            get(status::show_status),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/hooks",
            post(crate::web::hooks::api::create_hook).get(crate::web::hooks::api::list_hooks),
        )
        .route(
            "/api/v1/hooks/{id}/deliveries",
            get(crate::web::hooks::api::list_deliveries),
        )
        .route(
            "/api/v1/notifications",
            get(crate::web::notifications::api::list_targets)
                .post(crate::web::notifications::api::create_target),
        )
        .route(
            "/api/v1/notifications/{id}/messages",
            get(crate::web::notifications::api::list_messages),
        )
}

/// `GET /api/v1/schema`: the spec's JSON Schema. Public: no token needed.
async fn show_schema() -> Json<serde_json::Value> {
    Json(spec::json_schema())
}

/// A team as the API shows it.
#[derive(Debug, Serialize)]
pub struct TeamOut {
    /// DNS-1123 name.
    pub name: String,
    /// Human name.
    pub display_name: String,
    /// Number of members.
    pub members: i64,
}

/// `GET /api/v1/teams`: the teams whose services the caller may see
/// (`policy::can_view_team`): their own, or all for admins.
async fn list_teams(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<TeamOut>>, AppError> {
    let teams = store::teams::list(&app.db).await?;
    Ok(Json(
        teams
            .into_iter()
            .filter(|t| policy::can_view_team(&user, &t.name).is_ok())
            .map(|t| TeamOut {
                name: t.name,
                display_name: t.display_name,
                members: t.members,
            })
            .collect(),
    ))
}
