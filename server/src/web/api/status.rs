//! Live scaling status over the API, from the watch-backed cache.

use axum::Json;
use axum::extract::{Path, Query, State};

use crate::app::AppState;
use crate::auth::ApiUser;
use crate::cluster::status::ServiceStatus;
use crate::error::AppError;
use crate::web::loaders::{EnvironmentParam, load_service};
use crate::web::status::status_of;

/// `GET /api/v1/teams/{team}/services/{service}/status?environment=E`
/// (`policy::can_view_team`): replicas, the autoscaler, pods and `stale`.
pub async fn show_status(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvironmentParam>,
) -> Result<Json<ServiceStatus>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let (_, status) = status_of(&app, &service, q.get()).await?;
    Ok(Json(status))
}
