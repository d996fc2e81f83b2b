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
    /// Deploys wait for an administrator's approval.
    pub requires_approval: bool,
    /// Deploys fail before applying when a referenced Secret key is missing.
    pub block_on_missing_secrets: bool,
    /// The readiness checklist applies production rules here.
    pub production_rules: bool,
    /// Ref patterns that may deploy here from webhooks; empty: any a hook matches.
    pub webhook_refs: Vec<String>,
    /// The cluster targeted (`default`: the configured one).
    pub cluster: String,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last edited.
    pub updated_at: OffsetDateTime,
}

/// The editable policy of an environment.
#[derive(Clone, Debug)]
pub struct EnvironmentPolicy<'a> {
    /// Namespace pattern.
    pub namespace_pattern: &'a str,
    /// Approval required.
    pub requires_approval: bool,
    /// Block on missing secrets.
    pub block_on_missing_secrets: bool,
    /// Production rules in the readiness checklist.
    pub production_rules: bool,
    /// Ref patterns allowed to deploy from webhooks.
    pub webhook_refs: &'a [String],
    /// Listing order.
    pub position: i32,
}

const COLUMNS: &str = "id, name, position, namespace_pattern, requires_approval, \
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
        "insert into environments (name, namespace_pattern, requires_approval,
             block_on_missing_secrets, position, production_rules, webhook_refs)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(name)
    .bind(policy.namespace_pattern)
    .bind(policy.requires_approval)
    .bind(policy.block_on_missing_secrets)
    .bind(policy.position)
    .bind(policy.production_rules)
    .bind(policy.webhook_refs)
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
        "update environments set namespace_pattern = $2, requires_approval = $3,
                block_on_missing_secrets = $4, position = $5, production_rules = $6,
                webhook_refs = $7, updated_at = now()
         where name = $1 returning {COLUMNS}"
    )))
    .bind(name)
    .bind(policy.namespace_pattern)
    .bind(policy.requires_approval)
    .bind(policy.block_on_missing_secrets)
    .bind(policy.position)
    .bind(policy.production_rules)
    .bind(policy.webhook_refs)
    .fetch_optional(db)
    .await
}
