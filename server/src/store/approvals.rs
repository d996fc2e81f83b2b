//! Approvers' decisions on deploys, each bound to the revision hash and image
//! the approver saw.

use std::collections::HashMap;

use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::deploy_model::Decision;

/// An approval or rejection as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Approval {
    /// Row id.
    pub id: i64,
    /// The deploy.
    pub deploy_id: i64,
    /// The deciding user.
    pub user_id: Option<i64>,
    /// Their email.
    pub approver: String,
    /// Approve or reject.
    #[sqlx(try_from = "String")]
    pub decision: Decision,
    /// Their comment.
    pub comment: String,
    /// The revision hash decided on.
    pub revision_hash: String,
    /// The image decided on.
    pub image: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// What an approval records.
#[derive(Clone, Debug)]
pub struct NewApproval<'a> {
    /// The deploy.
    pub deploy_id: i64,
    /// The deciding user.
    pub user_id: i64,
    /// Their email.
    pub approver: &'a str,
    /// Approve or reject.
    pub decision: Decision,
    /// Their comment.
    pub comment: &'a str,
    /// The revision hash decided on.
    pub revision_hash: &'a str,
    /// The image decided on.
    pub image: &'a str,
}

/// Constraint that makes a user decide a deploy at most once.
pub const ONE_DECISION_PER_USER: &str = "approvals_deploy_id_user_id_key";

/// Records a decision.
pub async fn insert(db: impl PgExecutor<'_>, a: &NewApproval<'_>) -> Result<Approval, sqlx::Error> {
    sqlx::query_as::<_, Approval>(
        "insert into approvals (deploy_id, user_id, approver, decision, comment, revision_hash, image)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, deploy_id, user_id, approver, decision, comment, revision_hash, image, created_at",
    )
    .bind(a.deploy_id)
    .bind(a.user_id)
    .bind(a.approver)
    .bind(a.decision.as_str())
    .bind(a.comment)
    .bind(a.revision_hash)
    .bind(a.image)
    .fetch_one(db)
    .await
}

/// A deploy's decisions, oldest first.
pub async fn for_deploy(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
) -> Result<Vec<Approval>, sqlx::Error> {
    sqlx::query_as::<_, Approval>(
        "select id, deploy_id, user_id, approver, decision, comment, revision_hash, image, created_at
         from approvals where deploy_id = $1 order by id",
    )
    .bind(deploy_id)
    .fetch_all(db)
    .await
}

/// The decisions on each of `deploy_ids`, oldest first per deploy, in one query
/// (lists of deploys show their approvals without a query per row).
pub async fn for_deploys(
    db: impl PgExecutor<'_>,
    deploy_ids: &[i64],
) -> Result<HashMap<i64, Vec<Approval>>, sqlx::Error> {
    let rows = sqlx::query_as::<_, Approval>(
        "select id, deploy_id, user_id, approver, decision, comment, revision_hash, image, created_at
         from approvals where deploy_id = any($1) order by deploy_id, id",
    )
    .bind(deploy_ids)
    .fetch_all(db)
    .await?;
    let mut by_deploy: HashMap<i64, Vec<Approval>> = HashMap::new();
    for approval in rows {
        by_deploy
            .entry(approval.deploy_id)
            .or_default()
            .push(approval);
    }
    Ok(by_deploy)
}
