//! Environments: where deploys go and under which policy.

use sqlx::PgExecutor;
use time::OffsetDateTime;

/// One environment (`development`, `staging`, `production`, …).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Environment {
    /// Row id.
    pub id: i64,
    /// DNS-1123 name, at most 17 characters.
    pub name: String,
    /// Listing order.
    pub position: i32,
    /// Namespace pattern with `{team}`, `{environment}` and `{service}`.
    pub namespace_pattern: String,
    /// Distinct approvals a deploy needs (0: none).
    pub approvals_required: i32,
    /// Teams whose members may approve here (administrators always may).
    pub approver_teams: Vec<String>,
    /// Hours a deploy waits for its decisions before it is rejected as expired.
    pub approval_ttl_hours: i32,
    /// Every image must be pinned by digest.
    pub require_image_digest: bool,
    /// A FAIL in the readiness checklist blocks a request.
    pub checklist_must_pass: bool,
    /// `hold` or `refuse` a request inside a freeze window.
    pub freeze_action: String,
    /// Deploys fail before applying when a referenced Secret key is missing.
    pub block_on_missing_secrets: bool,
    /// The readiness checklist applies production rules here.
    pub production_rules: bool,
    /// Ref patterns that may deploy here from webhooks; empty: any a hook matches.
    pub webhook_refs: Vec<String>,
    /// The registered cluster it targets (`store::clusters`).
    pub cluster: String,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last edited.
    pub updated_at: OffsetDateTime,
}

impl Environment {
    /// Deploys here wait for approvals.
    pub fn requires_approval(&self) -> bool {
        self.approvals_required > 0
    }

    /// A request inside a freeze window is refused rather than held.
    pub fn refuses_in_freeze(&self) -> bool {
        self.freeze_action == "refuse"
    }
}

/// The editable policy of an environment.
#[derive(Clone, Debug)]
pub struct EnvironmentPolicy<'a> {
    /// Namespace pattern.
    pub namespace_pattern: &'a str,
    /// Distinct approvals required (0–5).
    pub approvals_required: i32,
    /// Teams whose members may approve.
    pub approver_teams: &'a [String],
    /// Hours a request stays open.
    pub approval_ttl_hours: i32,
    /// Images must be pinned by digest.
    pub require_image_digest: bool,
    /// Checklist failures block requests.
    pub checklist_must_pass: bool,
    /// `hold` or `refuse` inside freeze windows.
    pub freeze_action: &'a str,
    /// Block on missing secrets.
    pub block_on_missing_secrets: bool,
    /// Production rules in the readiness checklist.
    pub production_rules: bool,
    /// Ref patterns allowed to deploy from webhooks.
    pub webhook_refs: &'a [String],
    /// Listing order.
    pub position: i32,
    /// The registered cluster; empty: the configured one (insert) or the
    /// current one (update).
    pub cluster: &'a str,
}

const COLUMNS: &str = "id, name, position, namespace_pattern, approvals_required, \
     approver_teams, approval_ttl_hours, require_image_digest, checklist_must_pass, freeze_action, \
     block_on_missing_secrets, production_rules, webhook_refs, cluster, created_at, updated_at";

/// Every environment, in listing order.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<Environment>, sqlx::Error> {
    sqlx::query_as::<_, Environment>(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from environments order by position, name"
    )))
    .fetch_all(db)
    .await
}

/// One environment by name.
pub async fn find_by_name(
    db: impl PgExecutor<'_>,
    name: &str,
) -> Result<Option<Environment>, sqlx::Error> {
    sqlx::query_as::<_, Environment>(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from environments where name = $1"
    )))
    .bind(name)
    .fetch_optional(db)
    .await
}

/// One environment by id.
pub async fn find(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Environment>, sqlx::Error> {
    sqlx::query_as::<_, Environment>(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from environments where id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Adds an environment (names are checked by the caller and the table's constraint).
pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    policy: &EnvironmentPolicy<'_>,
) -> Result<Environment, sqlx::Error> {
    sqlx::query_as::<_, Environment>(sqlx::AssertSqlSafe(format!(
        "insert into environments (name, namespace_pattern, approvals_required,
             block_on_missing_secrets, position, production_rules, webhook_refs,
             approver_teams, approval_ttl_hours, require_image_digest, checklist_must_pass,
             freeze_action, cluster)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
             coalesce(nullif($13, ''), (select name from clusters where source = 'configured')))
         returning {COLUMNS}"
    )))
    .bind(name)
    .bind(policy.namespace_pattern)
    .bind(policy.approvals_required)
    .bind(policy.block_on_missing_secrets)
    .bind(policy.position)
    .bind(policy.production_rules)
    .bind(policy.webhook_refs)
    .bind(policy.approver_teams)
    .bind(policy.approval_ttl_hours)
    .bind(policy.require_image_digest)
    .bind(policy.checklist_must_pass)
    .bind(policy.freeze_action)
    .bind(policy.cluster)
    .fetch_one(db)
    .await
}

/// Replaces an environment's policy; `None` when there is no such environment.
pub async fn update_policy(
    db: impl PgExecutor<'_>,
    name: &str,
    policy: &EnvironmentPolicy<'_>,
) -> Result<Option<Environment>, sqlx::Error> {
    sqlx::query_as::<_, Environment>(sqlx::AssertSqlSafe(format!(
        "update environments set namespace_pattern = $2, approvals_required = $3,
                block_on_missing_secrets = $4, position = $5, production_rules = $6,
                webhook_refs = $7, approver_teams = $8, approval_ttl_hours = $9,
                require_image_digest = $10, checklist_must_pass = $11, freeze_action = $12,
                cluster = coalesce(nullif($13, ''), cluster), updated_at = now()
         where name = $1 returning {COLUMNS}"
    )))
    .bind(name)
    .bind(policy.namespace_pattern)
    .bind(policy.approvals_required)
    .bind(policy.block_on_missing_secrets)
    .bind(policy.position)
    .bind(policy.production_rules)
    .bind(policy.webhook_refs)
    .bind(policy.approver_teams)
    .bind(policy.approval_ttl_hours)
    .bind(policy.require_image_digest)
    .bind(policy.checklist_must_pass)
    .bind(policy.freeze_action)
    .bind(policy.cluster)
    .fetch_optional(db)
    .await
}
