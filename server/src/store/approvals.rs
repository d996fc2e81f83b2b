//! Approvers' decisions on deploys, each bound to the digest of the content
//! the approver saw (and, for people, its revision hash and image). A decision
//! is never edited: when the plan it was given on is recomputed it is voided.

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
    /// The content digest decided on.
    pub digest: String,
    /// When it stopped counting (its plan was recomputed).
    pub voided_at: Option<OffsetDateTime>,
    /// Why.
    pub void_reason: String,
    /// When.
    pub created_at: OffsetDateTime,
}

impl Approval {
    /// Still counts: not voided.
    pub fn is_current(&self) -> bool {
        self.voided_at.is_none()
    }
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
    /// The content digest decided on.
    pub digest: &'a str,
}

/// Constraint that makes a user decide a deploy at most once.
pub const ONE_DECISION_PER_USER: &str = "approvals_deploy_id_user_id_key";

/// Records a decision.
pub async fn insert(db: impl PgExecutor<'_>, a: &NewApproval<'_>) -> Result<Approval, sqlx::Error> {
    sqlx::query_as::<_, Approval>(
        "insert into approvals (deploy_id, user_id, approver, decision, comment, revision_hash,
             image, digest)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning id, deploy_id, user_id, approver, decision, comment, revision_hash, image,
             digest, voided_at, void_reason, created_at",
    )
    .bind(a.deploy_id)
    .bind(a.user_id)
    .bind(a.approver)
    .bind(a.decision.as_str())
    .bind(a.comment)
    .bind(a.revision_hash)
    .bind(a.image)
    .bind(a.digest)
    .fetch_one(db)
    .await
}

/// A deploy's decisions, oldest first.
pub async fn for_deploy(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
) -> Result<Vec<Approval>, sqlx::Error> {
    sqlx::query_as::<_, Approval>(
        "select id, deploy_id, user_id, approver, decision, comment, revision_hash, image,
             digest, voided_at, void_reason, created_at
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
        "select id, deploy_id, user_id, approver, decision, comment, revision_hash, image,
             digest, voided_at, void_reason, created_at
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

/// Voids a deploy's current decisions (their plan was recomputed); returns how many.
pub async fn void_for_deploy(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "update approvals set voided_at = now(), void_reason = $2
         where deploy_id = $1 and voided_at is null",
    )
    .bind(deploy_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// An approver as they are now: whether they are still an administrator, which
/// teams they are in, whether they are disabled. The worker re-checks
/// eligibility with this, not with what was true when they decided.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApproverNow {
    /// The approval's row id.
    pub approval_id: i64,
    /// The user (`None`: the user was deleted).
    pub user_id: Option<i64>,
    /// Their email now (as recorded when the user was deleted).
    pub email: String,
    /// An administrator now.
    pub is_admin: bool,
    /// Their teams now.
    pub teams: Vec<String>,
    /// The environments a provider group makes them an approver of now.
    pub approves: Vec<String>,
    /// Disabled now.
    pub disabled: bool,
    /// The digest they approved.
    pub digest: String,
}

/// The current `approve` decisions of a deploy (not voided) with each
/// approver's standing now, oldest first.
pub async fn approvers_now(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
) -> Result<Vec<ApproverNow>, sqlx::Error> {
    sqlx::query_as::<_, ApproverNow>(
        "select a.id as approval_id, a.user_id, coalesce(u.email, a.approver) as email,
                coalesce(u.is_admin, false) as is_admin,
                coalesce(array(select t.name from team_members m join teams t on t.id = m.team_id
                               where m.user_id = a.user_id order by t.name), '{}') as teams,
                coalesce(array(select e.name from environment_approvers g
                               join environments e on e.id = g.environment_id
                               where g.user_id = a.user_id order by e.name), '{}') as approves,
                (u.id is null or u.disabled_at is not null) as disabled,
                a.digest
         from approvals a left join users u on u.id = a.user_id
         where a.deploy_id = $1 and a.decision = 'approve' and a.voided_at is null
         order by a.id",
    )
    .bind(deploy_id)
    .fetch_all(db)
    .await
}
