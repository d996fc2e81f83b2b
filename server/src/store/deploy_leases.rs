//! Worker leases on deploys: the queue's wake-up channel, claiming the next
//! queued deploy, taking over one whose worker died, heartbeats and hand-over.
//!
//! A claim and a take-over write `state` directly (not through
//! `deploys::transition`): each is a guarded `update … where` that only one
//! worker can win, and each records its timeline event in the same transaction.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::deploys::{Deploy, find, record_event};
use crate::deploy_model::DeployState;

/// The channel on which a newly queued deploy is announced to workers, so they
/// claim it at once instead of at their next poll.
pub const QUEUED_CHANNEL: &str = "slipway_deploy_queued";

/// Announces a queued deploy to listening workers (delivered when the caller's
/// transaction commits).
pub async fn announce_queued(db: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_notify($1, '')")
        .bind(QUEUED_CHANNEL)
        .execute(db)
        .await?;
    Ok(())
}

/// A connection listening for [`QUEUED_CHANNEL`] (it keeps one pool connection).
pub async fn listen_queued(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(QUEUED_CHANNEL).await?;
    Ok(listener)
}

/// The most deploys one team may have running while another team's deploys
/// wait to be claimed: half the worker's slots, rounded up, so one team's
/// backlog never takes every slot (security review #17).
pub fn team_share(slots: usize) -> i64 {
    i64::try_from(slots.div_ceil(2).max(1)).unwrap_or(i64::MAX)
}

/// [`claim_next_fair`] with the share of a worker of default concurrency (4 slots).
pub async fn claim_next(
    conn: &mut PgConnection,
    owner: Uuid,
    lease_secs: f64,
    actor: &str,
) -> Result<Option<Deploy>, sqlx::Error> {
    claim_next_fair(conn, owner, lease_secs, actor, team_share(4)).await
}

/// Claims the next queued deploy whose service and environment has no deploy
/// running: `applying`, leased to `owner` for `lease_secs`, attempts + 1, with a
/// timeline event. Fair between teams: the team with the fewest running
/// deploys goes first (then the oldest deploy), and a team that already runs
/// `team_cap` deploys is passed over while another team has a claimable one.
/// `None` when there is nothing to claim (or another worker won a race for the
/// same service and environment: the caller rolls back and retries).
pub async fn claim_next_fair(
    conn: &mut PgConnection,
    owner: Uuid,
    lease_secs: f64,
    actor: &str,
    team_cap: i64,
) -> Result<Option<Deploy>, sqlx::Error> {
    // SKIP LOCKED: concurrent workers each take a different row instead of queueing
    // behind one another; the unique index deploys_one_running_key makes sure two
    // of them never run two deploys of one service and environment.
    let claimed: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(
        "with running as (
             select s.team_id, count(*) as n from deploys r join services s on s.id = r.service_id
             where r.state in ('applying', 'progressing')
             group by s.team_id
         ),
         claimable as (
             select d.id, s.team_id, coalesce(ru.n, 0) as running
             from deploys d join services s on s.id = d.service_id
             left join running ru on ru.team_id = s.team_id
             where d.state = 'queued'
               and not exists (select 1 from deploys r
                               where r.service_id = d.service_id and r.environment_id = d.environment_id
                                 and r.state in ('applying', 'progressing'))
         ),
         candidate as (
             -- `d.state = 'queued'` again here: the lock re-checks only this level's
             -- conditions on the row's newest version, so a deploy another worker
             -- claimed after this statement's snapshot is not claimed twice.
             select d.id from deploys d join claimable c on c.id = d.id
             where d.state = 'queued'
               and not exists (select 1 from deploys r
                               where r.service_id = d.service_id and r.environment_id = d.environment_id
                                 and r.state in ('applying', 'progressing'))
               and (c.running < $3
                    or not exists (select 1 from claimable o where o.team_id <> c.team_id))
             order by c.running, d.id
             limit 1
             for update of d skip locked
         )
         update deploys d set state = 'applying', lease_owner = $1,
             lease_expires_at = now() + make_interval(secs => $2),
             attempts = d.attempts + 1, started_at = coalesce(d.started_at, now()), updated_at = now()
         from candidate where d.id = candidate.id and d.state = 'queued'
         returning d.id",
    )
    .bind(owner)
    .bind(lease_secs)
    .bind(team_cap)
    .fetch_optional(&mut *conn)
    .await;
    let id = match claimed {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(None),
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("deploys_one_running_key") => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    record_event(
        &mut *conn,
        id,
        Some(DeployState::Queued),
        DeployState::Applying,
        actor,
        "claimed by a worker",
    )
    .await?;
    find(&mut *conn, id).await
}

/// Locks one running deploy whose lease ran out, if any (its worker died).
pub async fn lock_expired(conn: &mut PgConnection) -> Result<Option<Deploy>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "select id from deploys
         where state in ('applying', 'progressing') and lease_expires_at < now()
         order by lease_expires_at limit 1
         for update skip locked",
    )
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => find(&mut *conn, id).await,
        None => Ok(None),
    }
}

/// Gives a running deploy whose lease ran out to `owner`: back to `applying`,
/// attempts + 1, a fresh lease, and a timeline event naming the lost worker.
pub async fn take_over(
    conn: &mut PgConnection,
    deploy: &Deploy,
    owner: Uuid,
    lease_secs: f64,
    actor: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update deploys set state = 'applying', lease_owner = $3,
             lease_expires_at = now() + make_interval(secs => $4),
             attempts = attempts + 1, updated_at = now()
         where id = $1 and state = $2 and lease_owner is not distinct from $5
           and lease_expires_at < now()",
    )
    .bind(deploy.id)
    .bind(deploy.state.as_str())
    .bind(owner)
    .bind(lease_secs)
    .bind(deploy.lease_owner)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    let message = format!(
        "taken over after the lease of worker {} ran out (attempt {})",
        deploy
            .lease_owner
            .map(|u| u.to_string())
            .unwrap_or_else(|| "?".into()),
        deploy.attempts + 1
    );
    record_event(
        &mut *conn,
        deploy.id,
        Some(deploy.state),
        DeployState::Applying,
        actor,
        &message,
    )
    .await?;
    Ok(true)
}

/// Extends the lease of a deploy `owner` still holds; false when it lost it.
pub async fn heartbeat(
    db: impl PgExecutor<'_>,
    id: i64,
    owner: Uuid,
    lease_secs: f64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update deploys set lease_expires_at = now() + make_interval(secs => $3)
         where id = $1 and lease_owner = $2 and state in ('applying', 'progressing')",
    )
    .bind(id)
    .bind(owner)
    .bind(lease_secs)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `owner` still holds an unexpired lease of deploy `id` (the worker's
/// fence before each write to the cluster).
pub async fn holds(db: impl PgExecutor<'_>, id: i64, owner: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>(
        "select coalesce(lease_owner = $2 and lease_expires_at > now(), false)
         from deploys where id = $1",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(db)
    .await
    .map(|held| held.unwrap_or(false))
}

/// Ends `owner`'s leases now, so another worker takes its deploys over at once
/// (a graceful shutdown in the middle of a deploy).
pub async fn release_leases(db: impl PgExecutor<'_>, owner: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "update deploys set lease_expires_at = now() - interval '1 second'
         where lease_owner = $1 and state in ('applying', 'progressing')",
    )
    .bind(owner)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
