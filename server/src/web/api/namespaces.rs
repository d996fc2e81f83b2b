//! Namespaces over the API (administrators, `policy::can_administer`): the
//! registry of which team and environment own each namespace, and the
//! reserved list no pattern may give to a team.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, policy};
use crate::domain::tenancy;
use crate::error::AppError;
use crate::store;

/// `GET /api/v1/namespaces`.
#[derive(Debug, Serialize)]
pub struct NamespacesOut {
    /// `[{"name","team","environment"}]`.
    pub registered: Vec<RegisteredOut>,
    /// `[{"name","reason","created_by"}]`; `default` and `kube-*` are always reserved.
    pub reserved: Vec<ReservedOut>,
}

/// One registered namespace.
#[derive(Debug, Serialize)]
pub struct RegisteredOut {
    /// Namespace.
    pub name: String,
    /// Owning team.
    pub team: String,
    /// Owning environment.
    pub environment: String,
}

/// One reserved namespace.
#[derive(Debug, Serialize)]
pub struct ReservedOut {
    /// Namespace.
    pub name: String,
    /// Why.
    pub reason: String,
    /// Who reserved it (`config` for Slipway's own).
    pub created_by: String,
}

/// Body of `PUT /api/v1/namespaces/reserved/{name}`.
#[derive(Debug, Default, Deserialize)]
pub struct ReserveBody {
    /// Why it is reserved.
    #[serde(default)]
    pub reason: String,
}

/// `GET /api/v1/namespaces` → the registry and the reserved list.
pub async fn list_namespaces(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<NamespacesOut>, AppError> {
    policy::can_administer(&user)?;
    let registered = store::namespaces::list(&app.db)
        .await?
        .into_iter()
        .map(|r| RegisteredOut {
            name: r.name,
            team: r.team,
            environment: r.environment,
        })
        .collect();
    let reserved = store::namespaces::reserved(&app.db)
        .await?
        .into_iter()
        .map(|r| ReservedOut {
            name: r.name,
            reason: r.reason,
            created_by: r.created_by,
        })
        .collect();
    Ok(Json(NamespacesOut {
        registered,
        reserved,
    }))
}

/// `PUT /api/v1/namespaces/reserved/{name}` `{"reason"}` → 204; a namespace a
/// team already owns is 422 naming the owner.
pub async fn reserve(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ReserveBody>,
) -> Result<StatusCode, AppError> {
    policy::can_administer(&user)?;
    tenancy::reserve(&app.db, &user.actor(addr), &name, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/namespaces/reserved/{name}` → 204; not reserved: 404.
pub async fn unreserve(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    policy::can_administer(&user)?;
    tenancy::unreserve(&app.db, &user.actor(addr), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/environments/{name}/quota` (administrators) → the quota;
/// empty strings are "not limited".
pub async fn show_quota(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<crate::domain::quotas::QuotaInput>, AppError> {
    policy::can_administer(&user)?;
    let environment = store::environments::find_by_name(&app.db, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let quota = store::environment_quotas::find(&app.db, environment.id).await?;
    Ok(Json(crate::domain::quotas::QuotaInput::of(&quota)))
}

/// `PUT /api/v1/environments/{name}/quota` `{"requests_cpu","requests_memory",
/// "pods","max_cpu","max_memory"}` (strings; empty or missing: not limited)
/// → 200 the quota; 422 naming a field that is not a quantity.
pub async fn set_quota(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<crate::domain::quotas::QuotaInput>,
) -> Result<Json<crate::domain::quotas::QuotaInput>, AppError> {
    policy::can_administer(&user)?;
    let quota = crate::domain::quotas::set_quota(&app.db, &user.actor(addr), &name, &body).await?;
    Ok(Json(crate::domain::quotas::QuotaInput::of(&quota)))
}
