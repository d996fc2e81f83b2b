//! Environments over the API.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::app::AppState;
use crate::auth::ApiUser;
use crate::error::AppError;
use crate::store;

/// An environment as the API shows it.
#[derive(Debug, Serialize)]
pub struct EnvironmentOut {
    /// Name.
    pub name: String,
    /// Namespace pattern.
    pub namespace_pattern: String,
    /// Deploys need an approval.
    pub requires_approval: bool,
    /// Deploys fail when a referenced Secret key is missing.
    pub block_on_missing_secrets: bool,
    /// The readiness checklist applies production rules.
    pub production_rules: bool,
}

/// `GET /api/v1/environments`: any caller with a token.
pub async fn list_environments(
    State(app): State<AppState>,
    ApiUser(_user): ApiUser,
) -> Result<Json<Vec<EnvironmentOut>>, AppError> {
    Ok(Json(
        store::environments::list(&app.db)
            .await?
            .into_iter()
            .map(|e| EnvironmentOut {
                name: e.name,
                namespace_pattern: e.namespace_pattern,
                requires_approval: e.requires_approval,
                block_on_missing_secrets: e.block_on_missing_secrets,
                production_rules: e.production_rules,
            })
            .collect(),
    ))
}
