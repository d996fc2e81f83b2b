//! The namespace registry (namespace → team, environment) and the
//! administrators' list of reserved namespaces.

use sqlx::PgExecutor;

/// One registered namespace with the names of its owners.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Registered {
    /// Namespace name.
    pub name: String,
    /// Owning team.
    pub team: String,
    /// Owning environment.
    pub environment: String,
    /// The cluster it is on (its environment's).
    pub cluster: String,
}

/// One reserved namespace.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Reserved {
    /// Namespace name.
    pub name: String,
    /// Why it is reserved.
    pub reason: String,
    /// Who added it.
    pub created_by: String,
}

const REGISTERED: &str = "select n.name, t.name as team, e.name as environment, e.cluster
     from namespaces n join teams t on t.id = n.team_id join environments e on e.id = n.environment_id";

/// Registers `name` for (`team`, `environment_id`) unless it is registered
/// already, and returns its owners as they are now (possibly another pair's:
/// the caller compares). The insert's `on conflict do nothing` makes two
/// concurrent first deploys agree on one owner.
pub async fn claim(
    db: &mut sqlx::PgConnection,
    name: &str,
    team: &str,
    environment_id: i64,
) -> Result<Registered, sqlx::Error> {
    sqlx::query(
        "insert into namespaces (name, team_id, environment_id)
         select $1, t.id, $3 from teams t where t.name = $2
         on conflict (name) do nothing",
    )
    .bind(name)
    .bind(team)
    .bind(environment_id)
    .execute(&mut *db)
    .await?;
    sqlx::query_as::<_, Registered>(sqlx::AssertSqlSafe(format!(
        "{REGISTERED} where n.name = $1"
    )))
    .bind(name)
    .fetch_one(&mut *db)
    .await
}

/// The owners of `name`, if registered.
pub async fn find(db: impl PgExecutor<'_>, name: &str) -> Result<Option<Registered>, sqlx::Error> {
    sqlx::query_as::<_, Registered>(sqlx::AssertSqlSafe(format!(
        "{REGISTERED} where n.name = $1"
    )))
    .bind(name)
    .fetch_optional(db)
    .await
}

/// Every registered namespace, by name.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<Registered>, sqlx::Error> {
    sqlx::query_as::<_, Registered>(sqlx::AssertSqlSafe(format!("{REGISTERED} order by n.name")))
        .fetch_all(db)
        .await
}

/// The reserved namespaces, by name.
pub async fn reserved(db: impl PgExecutor<'_>) -> Result<Vec<Reserved>, sqlx::Error> {
    sqlx::query_as::<_, Reserved>(
        "select name, reason, created_by from reserved_namespaces order by name",
    )
    .fetch_all(db)
    .await
}

/// Adds a reserved namespace (an existing one keeps its reason); true when added.
pub async fn reserve(
    db: impl PgExecutor<'_>,
    name: &str,
    reason: &str,
    created_by: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into reserved_namespaces (name, reason, created_by) values ($1, $2, $3)
         on conflict (name) do nothing",
    )
    .bind(name)
    .bind(reason)
    .bind(created_by)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a reserved namespace; true when it was there.
pub async fn unreserve(db: impl PgExecutor<'_>, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from reserved_namespaces where name = $1")
        .bind(name)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
