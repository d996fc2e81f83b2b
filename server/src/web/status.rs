//! Live scaling status of a service in one environment: replicas, the
//! autoscaler and pods, read from the watch-backed cache (`cluster::status`),
//! never from a list call. The overview page polls the fragment with htmx.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};

use crate::app::AppState;
use crate::auth::{ApiUser, CurrentUser};
use crate::cluster::status::ServiceStatus;
use crate::error::AppError;
use crate::store::services::Service;
use crate::web::services::{EnvironmentParam, Targets, load_service};

/// The portal fragment.
pub fn routes() -> Router<AppState> {
    Router::new().route("/services/{team}/{service}/status", get(show_status))
}

/// The JSON API route.
pub fn api_routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/teams/{team}/services/{service}/status",
        get(api_status),
    )
}

/// The status of `service` in the asked-for environment (production when none).
async fn status_of(
    app: &AppState,
    service: &Service,
    q: &EnvironmentParam,
) -> Result<(String, ServiceStatus), AppError> {
    let targets = Targets::load(app, &service.team, &service.name).await?;
    let (environment, namespace) = targets.resolve(q.get())?;
    let status = app.status.service(&namespace, &service.name, &environment);
    Ok((environment, status))
}

/// The status fragment of the overview page.
#[derive(Template, WebTemplate)]
#[template(path = "services/_status.html")]
pub struct StatusFragment {
    service: Service,
    environment: String,
    status: ServiceStatus,
}

/// `GET /services/{team}/{service}/status?env=E`: the fragment.
async fn show_status(
    State(app): State<AppState>,
    user: CurrentUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvironmentParam>,
) -> Result<StatusFragment, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let (environment, status) = status_of(&app, &service, &q).await?;
    Ok(StatusFragment {
        service,
        environment,
        status,
    })
}

/// `GET /api/v1/teams/{team}/services/{service}/status?environment=E`.
async fn api_status(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvironmentParam>,
) -> Result<Json<ServiceStatus>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let (_, status) = status_of(&app, &service, &q).await?;
    Ok(Json(status))
}
