//! Services and their immutable revisions.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

/// A service with its team's name.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Service {
    /// Row id.
    pub id: i64,
    /// Owning team id.
    pub team_id: i64,
    /// Owning team name.
    pub team: String,
    /// Service name.
    pub name: String,
    /// web, worker, cron or stateful.
    pub kind: String,
    /// Framework preset name, or empty.
    pub framework: String,
    /// Number of the current revision.
    pub current_revision: i32,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When the last revision was saved.
    pub updated_at: OffsetDateTime,
}

/// One revision.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Revision {
    /// Row id.
    pub id: i64,
    /// The service.
    pub service_id: i64,
    /// 1, 2, 3 … per service.
    pub number: i32,
    /// The YAML as written.
    pub spec_yaml: String,
    /// The parsed spec as JSON.
    pub spec: serde_json::Value,
    /// Content hash of the canonical spec.
    pub hash: String,
    /// Author's email (kept even if the user is deleted).
    pub author: String,
    /// The author's user id (`None` once the user is deleted, or for the system).
    pub author_id: Option<i64>,
    /// Commit-style message.
    pub message: String,
    /// When saved.
    pub created_at: OffsetDateTime,
}

/// What a new revision carries.
#[derive(Clone, Debug)]
pub struct NewRevision<'a> {
    /// YAML text as written.
    pub spec_yaml: &'a str,
    /// Parsed spec.
    pub spec: serde_json::Value,
    /// Content hash.
    pub hash: &'a str,
    /// Kind, for the catalog.
    pub kind: &'a str,
    /// Framework, for the catalog.
    pub framework: &'a str,
    /// Author's user id.
    pub author_id: Option<i64>,
    /// Author's email.
    pub author: &'a str,
    /// Message.
    pub message: &'a str,
}

/// Why a revision was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Someone saved since the editor was opened.
    #[error("the service is at revision {current}; you edited revision {base}")]
    Stale {
        /// The editor's base.
        base: i32,
        /// The service's current revision.
        current: i32,
    },
    /// The spec is the same as the current revision's.
    #[error("nothing changed since revision {0}")]
    Unchanged(i32),
    /// Database failure.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

const SERVICE_COLUMNS: &str = "s.id, s.team_id, t.name as team, s.name, s.kind, s.framework, \
     s.current_revision, s.created_at, s.updated_at";

/// Finds a service by team and name.
pub async fn find(
    db: impl PgExecutor<'_>,
    team: &str,
    name: &str,
) -> Result<Option<Service>, sqlx::Error> {
    sqlx::query_as::<_, Service>(sqlx::AssertSqlSafe(format!(
        "select {SERVICE_COLUMNS} from services s join teams t on t.id = s.team_id
         where t.name = $1 and s.name = $2"
    )))
    .bind(team)
    .bind(name)
    .fetch_optional(db)
    .await
}

/// [`find`], answered from the rows `kept` holds while it hears every change
/// to them (`store::identity`): for the pages that crowds keep polling. Never
/// for a write, which must read the row itself.
pub async fn find_kept(
    db: &sqlx::PgPool,
    kept: &crate::store::identity::IdentityCache,
    team: &str,
    name: &str,
) -> Result<Option<Service>, sqlx::Error> {
    if let Some(service) = kept.service(team, name) {
        return Ok(Some(service));
    }
    let ticket = kept.begin_service_read();
    let found = find(db, team, name).await?;
    if let Some(service) = &found {
        kept.keep_service(ticket, service);
    }
    Ok(found)
}

/// Creates a service with its first revision, in the caller's transaction.
pub async fn create(
    conn: &mut PgConnection,
    team_id: i64,
    name: &str,
    rev: &NewRevision<'_>,
) -> Result<(Service, Revision), sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "insert into services (team_id, name, kind, framework, current_revision, description)
         values ($1, $2, $3, $4, 1, coalesce($5::jsonb -> 'metadata' ->> 'description', ''))
         returning id",
    )
    .bind(team_id)
    .bind(name)
    .bind(rev.kind)
    .bind(rev.framework)
    .bind(&rev.spec)
    .fetch_one(&mut *conn)
    .await?;
    let revision = insert_revision(&mut *conn, id, 1, rev).await?;
    let service = find_by_id(&mut *conn, id).await?;
    Ok((service, revision))
}

async fn find_by_id(db: impl PgExecutor<'_>, id: i64) -> Result<Service, sqlx::Error> {
    sqlx::query_as::<_, Service>(sqlx::AssertSqlSafe(format!(
        "select {SERVICE_COLUMNS} from services s join teams t on t.id = s.team_id where s.id = $1"
    )))
    .bind(id)
    .fetch_one(db)
    .await
}

async fn insert_revision(
    db: impl PgExecutor<'_>,
    service_id: i64,
    number: i32,
    rev: &NewRevision<'_>,
) -> Result<Revision, sqlx::Error> {
    sqlx::query_as::<_, Revision>(
        "insert into service_revisions (service_id, number, spec_yaml, spec, hash, author_id, author, message)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning id, service_id, number, spec_yaml, spec, hash, author, author_id, message, created_at",
    )
    .bind(service_id)
    .bind(number)
    .bind(rev.spec_yaml)
    .bind(&rev.spec)
    .bind(rev.hash)
    .bind(rev.author_id)
    .bind(rev.author)
    .bind(rev.message)
    .fetch_one(db)
    .await
}

/// Appends a revision when the spec changed and nobody saved since `base`
/// (`None`: whatever is current, as the API's PUT without a base does).
pub async fn save_revision(
    conn: &mut PgConnection,
    service_id: i64,
    base: Option<i32>,
    rev: &NewRevision<'_>,
) -> Result<Revision, SaveError> {
    // The row lock serialises concurrent saves of one service: the second waits,
    // then sees the first's revision number and gets `Stale` instead of
    // silently overwriting it.
    let (current, current_hash): (i32, Option<String>) = sqlx::query_as(
        "select s.current_revision, r.hash from services s
         left join service_revisions r on r.service_id = s.id and r.number = s.current_revision
         where s.id = $1 for update of s",
    )
    .bind(service_id)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(base) = base
        && base != current
    {
        return Err(SaveError::Stale { base, current });
    }
    if current_hash.as_deref() == Some(rev.hash) {
        return Err(SaveError::Unchanged(current));
    }
    let revision = insert_revision(&mut *conn, service_id, current + 1, rev).await?;
    sqlx::query(
        "update services set current_revision = $2, kind = $3, framework = $4, updated_at = now(),
                description = coalesce($5::jsonb -> 'metadata' ->> 'description', '')
         where id = $1",
    )
    .bind(service_id)
    .bind(current + 1)
    .bind(rev.kind)
    .bind(rev.framework)
    .bind(&rev.spec)
    .execute(&mut *conn)
    .await?;
    Ok(revision)
}

/// One revision by number.
pub async fn revision(
    db: impl PgExecutor<'_>,
    service_id: i64,
    number: i32,
) -> Result<Option<Revision>, sqlx::Error> {
    sqlx::query_as::<_, Revision>(
        "select id, service_id, number, spec_yaml, spec, hash, author, author_id, message, created_at
         from service_revisions where service_id = $1 and number = $2",
    )
    .bind(service_id)
    .bind(number)
    .fetch_optional(db)
    .await
}

/// Every revision of a service, newest first.
pub async fn revisions(
    db: impl PgExecutor<'_>,
    service_id: i64,
) -> Result<Vec<Revision>, sqlx::Error> {
    sqlx::query_as::<_, Revision>(
        "select id, service_id, number, spec_yaml, spec, hash, author, author_id, message, created_at
         from service_revisions where service_id = $1 order by number desc",
    )
    .bind(service_id)
    .fetch_all(db)
    .await
}

/// Services of the given teams (or all when `teams` is `None`), by team then name.
pub async fn list_visible(
    db: impl PgExecutor<'_>,
    teams: Option<&[String]>,
) -> Result<Vec<Service>, sqlx::Error> {
    sqlx::query_as::<_, Service>(sqlx::AssertSqlSafe(format!(
        "select {SERVICE_COLUMNS} from services s join teams t on t.id = s.team_id
         where ($1::text[] is null or t.name = any($1))
         order by t.name, s.name"
    )))
    .bind(teams)
    .fetch_all(db)
    .await
}
