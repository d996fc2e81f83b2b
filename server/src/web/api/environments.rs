//! Environments over the API: everyone with a token reads them (to know where
//! they may deploy and under which policy); administrators change a policy.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, policy};
use crate::domain::environments::{self as domain, PolicyInput};
use crate::error::AppError;
use crate::store;
use crate::store::environments::Environment;

/// An environment as the API shows it.
#[derive(Debug, Serialize)]
pub struct EnvironmentOut {
    /// Name.
    pub name: String,
    /// Namespace pattern.
    pub namespace_pattern: String,
    /// Deploys need approvals (`approvals_required > 0`).
    pub requires_approval: bool,
    /// Distinct approvals a deploy needs.
    pub approvals_required: i32,
    /// Teams whose members may approve (administrators always may).
    pub approver_teams: Vec<String>,
    /// Hours a request waits for its decisions before it expires.
    pub approval_ttl_hours: i32,
    /// Images must be pinned by digest.
    pub require_image_digest: bool,
    /// A failing readiness checklist blocks requests.
    pub checklist_must_pass: bool,
    /// `hold` or `refuse` requests inside freeze windows.
    pub freeze_action: String,
    /// Deploys fail when a referenced Secret key is missing.
    pub block_on_missing_secrets: bool,
    /// The readiness checklist applies production rules.
    pub production_rules: bool,
    /// Refs that may deploy here from webhooks (empty: any).
    pub webhook_refs: Vec<String>,
    /// Listing order.
    pub position: i32,
    /// The cluster.
    pub cluster: String,
}

impl EnvironmentOut {
    fn of(e: Environment) -> Self {
        EnvironmentOut {
            requires_approval: e.requires_approval(),
            name: e.name,
            namespace_pattern: e.namespace_pattern,
            approvals_required: e.approvals_required,
            approver_teams: e.approver_teams,
            approval_ttl_hours: e.approval_ttl_hours,
            require_image_digest: e.require_image_digest,
            checklist_must_pass: e.checklist_must_pass,
            freeze_action: e.freeze_action,
            block_on_missing_secrets: e.block_on_missing_secrets,
            production_rules: e.production_rules,
            webhook_refs: e.webhook_refs,
            position: e.position,
            cluster: e.cluster,
        }
    }
}

/// `GET /api/v1/environments`: any caller with a token (`policy::can_list_environments`).
pub async fn list_environments(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<EnvironmentOut>>, AppError> {
    policy::can_list_environments(&user)?;
    Ok(Json(
        store::environments::list(&app.db)
            .await?
            .into_iter()
            .map(EnvironmentOut::of)
            .collect(),
    ))
}

/// Body of `PUT /api/v1/environments/{name}`: every field is optional and an
/// omitted one keeps its current value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    namespace_pattern: Option<String>,
    approvals_required: Option<i32>,
    approver_teams: Option<Vec<String>>,
    approval_ttl_hours: Option<i32>,
    require_image_digest: Option<bool>,
    checklist_must_pass: Option<bool>,
    freeze_action: Option<String>,
    block_on_missing_secrets: Option<bool>,
    production_rules: Option<bool>,
    webhook_refs: Option<Vec<String>>,
    position: Option<i32>,
    cluster: Option<String>,
}

impl PolicyBody {
    /// The full policy: the body over the environment's current one.
    fn over(self, e: &Environment) -> PolicyInput {
        PolicyInput {
            namespace_pattern: self
                .namespace_pattern
                .unwrap_or_else(|| e.namespace_pattern.clone()),
            approvals_required: self
                .approvals_required
                .unwrap_or(e.approvals_required)
                .to_string(),
            approver_teams: self
                .approver_teams
                .unwrap_or_else(|| e.approver_teams.clone())
                .join(" "),
            approval_ttl_hours: self
                .approval_ttl_hours
                .unwrap_or(e.approval_ttl_hours)
                .to_string(),
            require_image_digest: self.require_image_digest.unwrap_or(e.require_image_digest),
            checklist_must_pass: self.checklist_must_pass.unwrap_or(e.checklist_must_pass),
            freeze_action: self
                .freeze_action
                .unwrap_or_else(|| e.freeze_action.clone()),
            block_on_missing_secrets: self
                .block_on_missing_secrets
                .unwrap_or(e.block_on_missing_secrets),
            production_rules: self.production_rules.unwrap_or(e.production_rules),
            webhook_refs: self
                .webhook_refs
                .unwrap_or_else(|| e.webhook_refs.clone())
                .join(" "),
            position: self.position.unwrap_or(e.position).to_string(),
            cluster: self.cluster.unwrap_or_else(|| e.cluster.clone()),
        }
    }
}

/// `PUT /api/v1/environments/{name}`: administrators (`policy::can_administer`)
/// change an environment's pattern and policy; 200 with the environment.
pub async fn update_environment(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<EnvironmentOut>, AppError> {
    policy::can_administer(&user)?;
    let current = store::environments::find_by_name(&app.db, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let updated =
        domain::update_environment(&app.db, &user.actor(addr), &name, &body.over(&current)).await?;
    Ok(Json(EnvironmentOut::of(updated)))
}
