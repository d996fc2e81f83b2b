//! Per-environment ResourceQuota and LimitRange settings.

use sqlx::PgExecutor;

/// What an administrator set for one environment; `None`: not limited.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Quota {
    /// ResourceQuota `requests.cpu` per team namespace.
    pub requests_cpu: Option<String>,
    /// ResourceQuota `requests.memory` per team namespace.
    pub requests_memory: Option<String>,
    /// ResourceQuota `pods` per team namespace.
    pub pods: Option<i32>,
    /// LimitRange `max.cpu` per container.
    pub max_cpu: Option<String>,
    /// LimitRange `max.memory` per container.
    pub max_memory: Option<String>,
}

/// The quota of an environment; the default (nothing limited) when none is set.
pub async fn find(db: impl PgExecutor<'_>, environment_id: i64) -> Result<Quota, sqlx::Error> {
    Ok(sqlx::query_as::<_, Quota>(
        "select requests_cpu, requests_memory, pods, max_cpu, max_memory
         from environment_quotas where environment_id = $1",
    )
    .bind(environment_id)
    .fetch_optional(db)
    .await?
    .unwrap_or_default())
}

/// Sets an environment's quota (all fields at once).
pub async fn upsert(
    db: impl PgExecutor<'_>,
    environment_id: i64,
    quota: &Quota,
    updated_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into environment_quotas
             (environment_id, requests_cpu, requests_memory, pods, max_cpu, max_memory, updated_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (environment_id) do update set
             requests_cpu = $2, requests_memory = $3, pods = $4, max_cpu = $5, max_memory = $6,
             updated_by = $7, updated_at = now()",
    )
    .bind(environment_id)
    .bind(&quota.requests_cpu)
    .bind(&quota.requests_memory)
    .bind(quota.pods)
    .bind(&quota.max_cpu)
    .bind(&quota.max_memory)
    .bind(updated_by)
    .execute(db)
    .await?;
    Ok(())
}
