//! The cluster registry over the API (administrators only): list with each
//! cluster's connection as this replica sees it, register, change how one is
//! reached, remove. Credentials go in and never come out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, policy};
use crate::domain::clusters::{self as domain, ClusterView, ConnectionInput};
use crate::error::AppError;
use crate::secret::SecretString;

/// A cluster as the API shows it (never a credential).
#[derive(Debug, Serialize)]
pub struct ClusterOut {
    /// Name environments target.
    pub name: String,
    /// The API server's URL, when known.
    pub server: Option<String>,
    /// `connected`, `waiting`, `unreachable` or `disabled`.
    pub state: &'static str,
    /// The connection in words.
    pub detail: String,
    /// `configured`, `kubeconfig`, `token` or `in_cluster`.
    pub source: String,
    /// The API server's version when connected.
    pub version: Option<String>,
    /// Since when its watches fail, while they do.
    pub stale_since: Option<String>,
    /// Environments that target it.
    pub environments: Vec<String>,
}

impl ClusterOut {
    fn of(v: ClusterView) -> Self {
        ClusterOut {
            name: v.name,
            server: v.server,
            state: v.state,
            detail: v.detail,
            source: v.source,
            version: v.version,
            stale_since: v.stale_since,
            environments: v.environments,
        }
    }
}

/// How to reach a cluster: `source` and its fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kubeconfig: SecretString,
    #[serde(default)]
    server: String,
    #[serde(default)]
    token: SecretString,
    #[serde(default)]
    ca: String,
}

impl ConnectionBody {
    fn input(self) -> (String, ConnectionInput) {
        (
            self.name,
            ConnectionInput {
                source: self.source,
                kubeconfig: self.kubeconfig,
                server: self.server,
                token: self.token,
                ca: self.ca,
            },
        )
    }
}

/// `GET /api/v1/clusters` (`policy::can_administer`).
pub async fn list_clusters(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<ClusterOut>>, AppError> {
    policy::can_administer(&user)?;
    let views = domain::list(&app.db, &app.clusters).await?;
    Ok(Json(views.into_iter().map(ClusterOut::of).collect()))
}

/// `GET /api/v1/clusters/{name}` (`policy::can_administer`).
pub async fn show_cluster(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<ClusterOut>, AppError> {
    policy::can_administer(&user)?;
    one(&app, &name).await.map(Json)
}

async fn one(app: &AppState, name: &str) -> Result<ClusterOut, AppError> {
    domain::list(&app.db, &app.clusters)
        .await?
        .into_iter()
        .find(|v| v.name == name)
        .map(ClusterOut::of)
        .ok_or(AppError::NotFound)
}

/// `POST /api/v1/clusters` (`policy::can_administer`): registers a cluster
/// after a connection test; 201 with the cluster.
pub async fn register_cluster(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    ApiJson(body): ApiJson<ConnectionBody>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let (name, input) = body.input();
    let key = app.config.secret_key.as_ref();
    let row = domain::register(
        &app.db,
        &app.clusters,
        key,
        &user.actor(addr),
        &name,
        &input,
    )
    .await?;
    let out = one(&app, &row.name).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `PUT /api/v1/clusters/{name}` (`policy::can_administer`): replaces how a
/// registered cluster is reached, after a connection test.
pub async fn update_cluster(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ConnectionBody>,
) -> Result<Json<ClusterOut>, AppError> {
    policy::can_administer(&user)?;
    let (named, input) = body.input();
    if !named.is_empty() && named != name {
        return Err(AppError::invalid(
            "name",
            "a cluster cannot be renamed; register it under the new name",
        ));
    }
    let key = app.config.secret_key.as_ref();
    domain::update(
        &app.db,
        &app.clusters,
        key,
        &user.actor(addr),
        &name,
        &input,
    )
    .await?;
    one(&app, &name).await.map(Json)
}

/// `DELETE /api/v1/clusters/{name}` (`policy::can_administer`): 204; 409
/// while an environment targets it.
pub async fn remove_cluster(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    policy::can_administer(&user)?;
    let key = app.config.secret_key.as_ref();
    domain::remove(&app.db, &app.clusters, key, &user.actor(addr), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
