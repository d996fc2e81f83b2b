//! The approvals queue over the API: deploys waiting for a decision the
//! caller may make.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::AppState;
use crate::auth::ApiUser;
use crate::domain::approvals::{self as domain, QueueFilter};
use crate::error::AppError;

/// Query of `GET /api/v1/approvals`.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    environment: Option<String>,
    team: Option<String>,
}

/// A waiting deploy as the queue shows it.
#[derive(Debug, Serialize)]
pub struct QueueOut {
    /// Deploy id.
    pub id: i64,
    /// Team.
    pub team: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Image.
    pub image: String,
    /// Revision.
    pub revision: i32,
    /// Who asked.
    pub requested_by: String,
    /// `user`, `webhook`, `rollback`.
    pub trigger: String,
    /// The digest an approval binds to.
    pub digest: String,
    /// Approvals counted so far and required.
    pub approvals: usize,
    /// Required.
    pub approvals_required: i32,
    /// The plan's one-line summary (empty before it is computed).
    pub plan_summary: String,
    /// Reasons the plan needs a closer look (empty: it can be approved from a list).
    pub attention: Vec<&'static str>,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub decision_deadline: Option<OffsetDateTime>,
    /// When requested.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /api/v1/approvals?environment=&team=`: any caller; the list holds only
/// deploys the caller may decide (`policy::can_approve` per deploy).
pub async fn list_approvals(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Query(query): Query<QueueQuery>,
) -> Result<Json<Vec<QueueOut>>, AppError> {
    let filter = QueueFilter {
        environment: query.environment,
        team: query.team,
    };
    let entries = domain::queue(&app.db, &user, &filter).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| {
                let attention = e.unclean();
                let d = e.deploy;
                QueueOut {
                    id: d.id,
                    team: d.team.clone(),
                    service: d.service.clone(),
                    environment: d.environment.clone(),
                    image: d.image.clone(),
                    revision: d.revision,
                    requested_by: d.requested_by.clone(),
                    trigger: d.trigger.as_str().to_owned(),
                    digest: d.content_digest.clone(),
                    approvals: e.approvals,
                    approvals_required: e.approvals_required,
                    plan_summary: e.plan.as_ref().map(|p| p.summary()).unwrap_or_default(),
                    attention,
                    decision_deadline: d.decision_deadline,
                    created_at: d.created_at,
                }
            })
            .collect(),
    ))
}
