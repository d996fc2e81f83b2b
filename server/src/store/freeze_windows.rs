//! Freeze windows: periods in which deploys to an environment must not run.
//! Evaluated by `domain::freeze` (the calendar is pure; this only stores rows).

use sqlx::PgExecutor;
use time::OffsetDateTime;

/// When a stored window applies, as stored (local times are not interpreted here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// From `starts_at` until `ends_at` (after it).
    Once {
        /// First frozen instant.
        starts_at: OffsetDateTime,
        /// First instant deploys may run again.
        ends_at: OffsetDateTime,
    },
    /// Every week (or, with no days, every day) in local time of the window's zone.
    Weekly {
        /// 0 = Monday … 6 = Sunday; `None` (with `end_day`): every day.
        start_day: Option<i16>,
        /// Local start time.
        start_time: time::Time,
        /// 0 = Monday … 6 = Sunday; `None` with `start_day`.
        end_day: Option<i16>,
        /// Local end time.
        end_time: time::Time,
    },
}

/// One freeze window of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreezeWindow {
    /// Row id.
    pub id: i64,
    /// The environment it freezes.
    pub environment_id: i64,
    /// When it applies.
    pub kind: WindowKind,
    /// IANA zone name of its local times.
    pub time_zone: String,
    /// Why deploys are frozen, shown to whoever is held.
    pub reason: String,
    /// Who added it.
    pub created_by: String,
    /// When it was added.
    pub created_at: OffsetDateTime,
}

/// A window to add; the caller has checked every field.
#[derive(Clone, Debug)]
pub struct NewWindow<'a> {
    /// The environment it freezes.
    pub environment_id: i64,
    /// When it applies.
    pub kind: &'a WindowKind,
    /// IANA zone name.
    pub time_zone: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Who adds it.
    pub created_by: &'a str,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    environment_id: i64,
    kind: String,
    starts_at: Option<OffsetDateTime>,
    ends_at: Option<OffsetDateTime>,
    start_day: Option<i16>,
    end_day: Option<i16>,
    start_time: Option<time::Time>,
    end_time: Option<time::Time>,
    time_zone: String,
    reason: String,
    created_by: String,
    created_at: OffsetDateTime,
}

impl TryFrom<Row> for FreezeWindow {
    type Error = sqlx::Error;

    /// The table's checks make every row one of the two kinds; anything else is
    /// a decode error rather than a guess.
    fn try_from(row: Row) -> Result<Self, Self::Error> {
        let kind = match (
            row.kind.as_str(),
            row.starts_at,
            row.ends_at,
            row.start_time,
            row.end_time,
        ) {
            ("once", Some(starts_at), Some(ends_at), _, _) => {
                WindowKind::Once { starts_at, ends_at }
            }
            ("weekly", _, _, Some(start_time), Some(end_time)) => WindowKind::Weekly {
                start_day: row.start_day,
                start_time,
                end_day: row.end_day,
                end_time,
            },
            (kind, ..) => {
                return Err(sqlx::Error::Decode(
                    format!("freeze window {}: incomplete `{kind}` row", row.id).into(),
                ));
            }
        };
        Ok(FreezeWindow {
            id: row.id,
            environment_id: row.environment_id,
            kind,
            time_zone: row.time_zone,
            reason: row.reason,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }
}

const COLUMNS: &str = "id, environment_id, kind, starts_at, ends_at, start_day, end_day, \
     start_time, end_time, time_zone, reason, created_by, created_at";

/// The windows of an environment, oldest first.
#[tracing::instrument(skip_all, fields(environment_id = environment_id))]
pub async fn list_for_environment(
    db: impl PgExecutor<'_>,
    environment_id: i64,
) -> Result<Vec<FreezeWindow>, sqlx::Error> {
    sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from freeze_windows where environment_id = $1 order by id"
    )))
    .bind(environment_id)
    .fetch_all(db)
    .await?
    .into_iter()
    .map(FreezeWindow::try_from)
    .collect()
}

/// Adds a window.
#[tracing::instrument(skip_all, fields(environment_id = window.environment_id))]
pub async fn insert(
    db: impl PgExecutor<'_>,
    window: &NewWindow<'_>,
) -> Result<FreezeWindow, sqlx::Error> {
    let (kind, starts_at, ends_at, start_day, start_time, end_day, end_time) = match window.kind {
        WindowKind::Once { starts_at, ends_at } => (
            "once",
            Some(*starts_at),
            Some(*ends_at),
            None,
            None,
            None,
            None,
        ),
        WindowKind::Weekly {
            start_day,
            start_time,
            end_day,
            end_time,
        } => (
            "weekly",
            None,
            None,
            *start_day,
            Some(*start_time),
            *end_day,
            Some(*end_time),
        ),
    };
    let row = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "insert into freeze_windows (environment_id, kind, starts_at, ends_at, start_day,
             start_time, end_day, end_time, time_zone, reason, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning {COLUMNS}"
    )))
    .bind(window.environment_id)
    .bind(kind)
    .bind(starts_at)
    .bind(ends_at)
    .bind(start_day)
    .bind(start_time)
    .bind(end_day)
    .bind(end_time)
    .bind(window.time_zone)
    .bind(window.reason)
    .bind(window.created_by)
    .fetch_one(db)
    .await?;
    FreezeWindow::try_from(row)
}

/// Deletes window `id` of environment `environment_id`; the deleted window, or
/// `None` when the environment has no such window.
#[tracing::instrument(skip_all, fields(environment_id = environment_id, id = id))]
pub async fn delete(
    db: impl PgExecutor<'_>,
    environment_id: i64,
    id: i64,
) -> Result<Option<FreezeWindow>, sqlx::Error> {
    sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "delete from freeze_windows where environment_id = $1 and id = $2 returning {COLUMNS}"
    )))
    .bind(environment_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .map(FreezeWindow::try_from)
    .transpose()
}
