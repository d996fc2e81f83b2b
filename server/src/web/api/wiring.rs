//! Secrets wiring and write-only Secret values over the API.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::ApiJson;
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, policy};
use crate::domain::secrets::{self, SecretWrite};
use crate::error::AppError;
use crate::secret::SecretString;
use crate::web::loaders::{EnvironmentParam, load_service};
use crate::web::wiring::{WiringRow, row};

/// `GET /api/v1/teams/{team}/services/{service}/wiring?environment=E`: every
/// variable, its source and its state; never a value (`policy::can_view_team`).
pub async fn show_wiring(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvironmentParam>,
) -> Result<Json<Vec<WiringRow>>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let wiring = secrets::wiring(&app.db, &app.clusters, &service, q.get()).await?;
    Ok(Json(
        wiring.entries.iter().map(|(e, s)| row(e, *s)).collect(),
    ))
}

/// Body of the write call. `Debug` never shows the value.
#[derive(Debug, Deserialize)]
pub struct WriteValueBody {
    value: SecretString,
}

/// `PUT /api/v1/teams/{team}/services/{service}/secrets/{secret}/{key}?environment=E`
/// with `{"value"}`: administrators (`policy::can_write_secret`); 204, and the
/// value never comes back.
pub async fn write_value(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path((team, name, secret, key)): Path<(String, String, String, String)>,
    Query(q): Query<EnvironmentParam>,
    ApiJson(body): ApiJson<WriteValueBody>,
) -> Result<StatusCode, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_write_secret(&user)?;
    let write = SecretWrite {
        environment: q.get(),
        secret: &secret,
        key: &key,
        value: &body.value,
    };
    secrets::write_value(&app.db, &app.clusters, &user.actor(addr), &service, &write).await?;
    Ok(StatusCode::NO_CONTENT)
}
