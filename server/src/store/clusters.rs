//! The cluster registry: which clusters Slipway manages and how it reaches them
//! (credentials sealed; see `secret::SecretKey::seal`).

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

/// A registered cluster as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ClusterRow {
    /// Its name, which environments target.
    pub name: String,
    /// `configured`, `kubeconfig`, `token` or `in_cluster`.
    pub source: String,
    /// The API server's URL, for people.
    pub server: Option<String>,
    /// The sealed credentials (`kubeconfig` and `token` only).
    pub credentials_sealed: Option<Vec<u8>>,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
    /// When its connection was last changed.
    pub updated_at: OffsetDateTime,
}

/// A registered cluster with the environments that target it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClusterListing {
    /// The cluster.
    #[sqlx(flatten)]
    pub cluster: ClusterRow,
    /// Names of the environments that target it, in listing order.
    pub environments: Vec<String>,
}

const COLUMNS: &str =
    "name, source, server, credentials_sealed, created_by, created_at, updated_at";

/// Every registered cluster, by name.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<ClusterRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from clusters order by name"
    )))
    .fetch_all(db)
    .await
}

/// Every registered cluster with the environments that target it.
pub async fn list_with_environments(
    db: impl PgExecutor<'_>,
) -> Result<Vec<ClusterListing>, sqlx::Error> {
    sqlx::query_as(
        "select c.name, c.source, c.server, c.credentials_sealed, c.created_by, c.created_at,
                c.updated_at,
                coalesce(array_agg(e.name order by e.position, e.name)
                         filter (where e.name is not null), '{}') as environments
         from clusters c left join environments e on e.cluster = c.name
         group by c.name order by c.name",
    )
    .fetch_all(db)
    .await
}

/// One cluster by name.
pub async fn find(db: impl PgExecutor<'_>, name: &str) -> Result<Option<ClusterRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from clusters where name = $1"
    )))
    .bind(name)
    .fetch_optional(db)
    .await
}

/// What a registration stores.
#[derive(Clone, Debug)]
pub struct NewCluster<'a> {
    /// Name.
    pub name: &'a str,
    /// `kubeconfig`, `token` or `in_cluster`.
    pub source: &'a str,
    /// The API server's URL.
    pub server: Option<&'a str>,
    /// Sealed credentials.
    pub credentials_sealed: Option<&'a [u8]>,
    /// Who registers it.
    pub created_by: &'a str,
}

/// Registers a cluster (a taken name violates `clusters_pkey`).
pub async fn insert(
    db: impl PgExecutor<'_>,
    new: &NewCluster<'_>,
) -> Result<ClusterRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into clusters (name, source, server, credentials_sealed, created_by)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    )))
    .bind(new.name)
    .bind(new.source)
    .bind(new.server)
    .bind(new.credentials_sealed)
    .bind(new.created_by)
    .fetch_one(db)
    .await
}

/// Replaces how a registered (not the configured) cluster is reached; `None`
/// when there is no such registered cluster.
pub async fn update_connection(
    db: impl PgExecutor<'_>,
    new: &NewCluster<'_>,
) -> Result<Option<ClusterRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update clusters set source = $2, server = $3, credentials_sealed = $4, updated_at = now()
         where name = $1 and source <> 'configured' returning {COLUMNS}"
    )))
    .bind(new.name)
    .bind(new.source)
    .bind(new.server)
    .bind(new.credentials_sealed)
    .fetch_optional(db)
    .await
}

/// Removes a registered (not the configured) cluster; false when there is none.
/// Environments that target it make this violate `environments_cluster_registered`.
pub async fn delete(db: impl PgExecutor<'_>, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from clusters where name = $1 and source <> 'configured'")
        .bind(name)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes `name` the configured cluster, at start: renames the configured row
/// (its environments follow by `on update cascade`, and deploys that recorded
/// the old name are moved too) or, when a registered cluster already has that
/// name, refuses. Returns the previous name when it changed.
pub async fn adopt_configured(
    tx: &mut PgConnection,
    name: &str,
) -> Result<Result<Option<String>, String>, sqlx::Error> {
    let current: Option<String> =
        sqlx::query_scalar("select name from clusters where source = 'configured' for update")
            .fetch_optional(&mut *tx)
            .await?;
    if current.as_deref() == Some(name) {
        return Ok(Ok(None));
    }
    let taken: Option<String> = sqlx::query_scalar("select source from clusters where name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(source) = taken {
        return Ok(Err(format!(
            "SLIPWAY_CLUSTER_NAME is `{name}`, but a cluster registered in the portal ({source}) has that name"
        )));
    }
    match &current {
        Some(old) => {
            sqlx::query("update clusters set name = $2, updated_at = now() where name = $1")
                .bind(old)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query("update deploys set cluster = $2 where cluster = $1")
                .bind(old)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        None => {
            sqlx::query("insert into clusters (name, source) values ($1, 'configured')")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(Ok(current))
}

/// The name of the configured cluster.
pub async fn configured_name(db: impl PgExecutor<'_>) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select name from clusters where source = 'configured'")
        .fetch_optional(db)
        .await
}
