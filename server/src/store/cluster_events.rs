//! The Kubernetes events kept in a deploy's record (`deploy_cluster_events`).

use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::cluster::events::ClusterEvent;

/// One kept event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Stored {
    /// `Normal` or `Warning`.
    #[sqlx(rename = "type")]
    pub kind: String,
    /// `BackOff`, `ScalingReplicaSet`, …
    pub reason: String,
    /// The involved object's kind.
    pub object_kind: String,
    /// The involved object's name.
    pub object_name: String,
    /// What it said.
    pub message: String,
    /// How often.
    pub count: i32,
    /// First time.
    pub first_seen: OffsetDateTime,
    /// Last time.
    pub last_seen: OffsetDateTime,
}

impl Stored {
    /// A warning, not a normal event.
    pub fn is_warning(&self) -> bool {
        self.kind == "Warning"
    }
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Keeps `events` in deploy `deploy_id`'s record, in one statement; an event
/// kept before (same uid) gets its newer count and time.
pub async fn record(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
    events: &[ClusterEvent],
) -> Result<u64, sqlx::Error> {
    if events.is_empty() {
        return Ok(0);
    }
    let column = |f: fn(&ClusterEvent) -> String| events.iter().map(f).collect::<Vec<_>>();
    let counts: Vec<i32> = events.iter().map(|e| e.count).collect();
    let first: Vec<OffsetDateTime> = events.iter().map(|e| at(e.first_seen)).collect();
    let last: Vec<OffsetDateTime> = events.iter().map(|e| at(e.last_seen)).collect();
    let done = sqlx::query(
        "insert into deploy_cluster_events
             (deploy_id, uid, type, reason, object_kind, object_name, message, count,
              first_seen, last_seen)
         select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::text[], $8::int[], $9::timestamptz[], $10::timestamptz[])
         on conflict (deploy_id, uid) do update
             set count = excluded.count, last_seen = excluded.last_seen,
                 message = excluded.message",
    )
    .bind(deploy_id)
    .bind(column(|e| e.uid.clone()))
    .bind(column(|e| e.kind.clone()))
    .bind(column(|e| e.reason.clone()))
    .bind(column(|e| e.object_kind.clone()))
    .bind(column(|e| e.object_name.clone()))
    .bind(column(|e| e.message.clone()))
    .bind(counts)
    .bind(first)
    .bind(last)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The events kept for a deploy, oldest first.
pub async fn of_deploy(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
) -> Result<Vec<Stored>, sqlx::Error> {
    sqlx::query_as::<_, Stored>(
        "select type, reason, object_kind, object_name, message, count, first_seen, last_seen
         from deploy_cluster_events where deploy_id = $1 order by last_seen, id",
    )
    .bind(deploy_id)
    .fetch_all(db)
    .await
}
