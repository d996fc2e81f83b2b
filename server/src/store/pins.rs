//! Environment pins: a rollback pins a service in an environment so that
//! webhook deploys do not undo it until someone unpins it.

use sqlx::PgExecutor;
use time::OffsetDateTime;

/// An active pin of a service in an environment.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Pin {
    /// Row id.
    pub id: i64,
    /// The service.
    pub service_id: i64,
    /// The environment.
    pub environment_id: i64,
    /// Environment name.
    pub environment: String,
    /// The rollback that pinned it.
    pub deploy_id: Option<i64>,
    /// Who pinned it.
    pub pinned_by: String,
    /// Why.
    pub reason: String,
    /// Since when.
    pub created_at: OffsetDateTime,
}

const PIN_SELECT: &str = "select p.id, p.service_id, p.environment_id, e.name as environment,
        p.deploy_id, p.pinned_by, p.reason, p.created_at
     from environment_pins p join environments e on e.id = p.environment_id";

/// Pins a service in an environment (or moves an existing pin to `deploy_id`).
pub async fn pin(
    db: impl PgExecutor<'_>,
    service_id: i64,
    environment_id: i64,
    deploy_id: i64,
    pinned_by: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into environment_pins (service_id, environment_id, deploy_id, pinned_by, reason)
         values ($1, $2, $3, $4, $5)
         on conflict (service_id, environment_id) where unpinned_at is null
         do update set deploy_id = excluded.deploy_id, pinned_by = excluded.pinned_by,
                       reason = excluded.reason, created_at = now()",
    )
    .bind(service_id)
    .bind(environment_id)
    .bind(deploy_id)
    .bind(pinned_by)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the active pin; false when there was none.
pub async fn unpin(
    db: impl PgExecutor<'_>,
    service_id: i64,
    environment_id: i64,
    unpinned_by: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update environment_pins set unpinned_at = now(), unpinned_by = $3
         where service_id = $1 and environment_id = $2 and unpinned_at is null",
    )
    .bind(service_id)
    .bind(environment_id)
    .bind(unpinned_by)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The active pin of a service in an environment, if any.
pub async fn active_pin(
    db: impl PgExecutor<'_>,
    service_id: i64,
    environment_id: i64,
) -> Result<Option<Pin>, sqlx::Error> {
    sqlx::query_as::<_, Pin>(sqlx::AssertSqlSafe(format!(
        "{PIN_SELECT} where p.service_id = $1 and p.environment_id = $2 and p.unpinned_at is null"
    )))
    .bind(service_id)
    .bind(environment_id)
    .fetch_optional(db)
    .await
}

/// Every active pin of a service.
pub async fn active_pins(
    db: impl PgExecutor<'_>,
    service_id: i64,
) -> Result<Vec<Pin>, sqlx::Error> {
    sqlx::query_as::<_, Pin>(sqlx::AssertSqlSafe(format!(
        "{PIN_SELECT} where p.service_id = $1 and p.unpinned_at is null order by e.position, e.name"
    )))
    .bind(service_id)
    .fetch_all(db)
    .await
}
