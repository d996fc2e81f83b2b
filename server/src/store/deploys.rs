//! Deploys, their timeline, approvals and environment pins.
//!
//! Every state change goes through [`transition`], a compare-and-set on the old
//! state (and, for a worker, on its lease) that records the timeline event in
//! the same statement's transaction. Which moves are legal is decided by the pure
//! state machine in `deployer::state`, whose [`DeployState`] type this module
//! stores (a plain data type: the store still never calls the deployer).

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::deployer::state::DeployState;

/// How a deploy came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A person, in the portal or through the API.
    User,
    /// A git push webhook.
    Webhook,
    /// A rollback to an earlier deploy.
    Rollback,
}

impl Trigger {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::User => "user",
            Trigger::Webhook => "webhook",
            Trigger::Rollback => "rollback",
        }
    }
}

/// A deploy with its service, team and environment names (without the large
/// manifests and diff: see [`documents`]).
#[derive(Clone, Debug)]
pub struct Deploy {
    /// Row id, the deploy's number.
    pub id: i64,
    /// The service.
    pub service_id: i64,
    /// Service name.
    pub service: String,
    /// Owning team's name.
    pub team: String,
    /// The environment.
    pub environment_id: i64,
    /// Environment name.
    pub environment: String,
    /// Revision number.
    pub revision: i32,
    /// Revision row id.
    pub revision_id: i64,
    /// Revision content hash.
    pub revision_hash: String,
    /// Image reference.
    pub image: String,
    /// Target namespace.
    pub namespace: String,
    /// Current state.
    pub state: DeployState,
    /// Why it failed, was rejected or superseded.
    pub reason: String,
    /// `user`, `webhook` or `rollback`.
    pub trigger: String,
    /// Requesting user's id, when a person asked.
    pub requested_by_id: Option<i64>,
    /// Requesting user's email, `webhook:<id>` or `system`.
    pub requested_by: String,
    /// The deploy a rollback restores.
    pub rollback_of: Option<i64>,
    /// sha256 of the manifests.
    pub manifests_hash: String,
    /// The worker holding it.
    pub lease_owner: Option<Uuid>,
    /// Until when the worker holds it.
    pub lease_expires_at: Option<OffsetDateTime>,
    /// How many times a worker took it.
    pub attempts: i32,
    /// When requested.
    pub created_at: OffsetDateTime,
    /// When a worker first took it.
    pub started_at: Option<OffsetDateTime>,
    /// When it reached a final state.
    pub finished_at: Option<OffsetDateTime>,
}

impl Deploy {
    /// `team/service`.
    pub fn service_path(&self) -> String {
        format!("{}/{}", self.team, self.service)
    }

    /// Seconds from start (or request) to finish, or to `now` while running.
    pub fn duration_secs(&self, now: OffsetDateTime) -> i64 {
        let start = self.started_at.unwrap_or(self.created_at);
        let end = self.finished_at.unwrap_or(now);
        (end - start).whole_seconds().max(0)
    }
}

#[derive(sqlx::FromRow)]
struct DeployRow {
    id: i64,
    service_id: i64,
    service: String,
    team: String,
    environment_id: i64,
    environment: String,
    revision: i32,
    revision_id: i64,
    revision_hash: String,
    image: String,
    namespace: String,
    state: String,
    reason: String,
    trigger: String,
    requested_by_id: Option<i64>,
    requested_by: String,
    rollback_of: Option<i64>,
    manifests_hash: String,
    lease_owner: Option<Uuid>,
    lease_expires_at: Option<OffsetDateTime>,
    attempts: i32,
    created_at: OffsetDateTime,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
}

impl TryFrom<DeployRow> for Deploy {
    type Error = sqlx::Error;
    fn try_from(r: DeployRow) -> Result<Self, Self::Error> {
        let state = r
            .state
            .parse::<DeployState>()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Deploy {
            id: r.id,
            service_id: r.service_id,
            service: r.service,
            team: r.team,
            environment_id: r.environment_id,
            environment: r.environment,
            revision: r.revision,
            revision_id: r.revision_id,
            revision_hash: r.revision_hash,
            image: r.image,
            namespace: r.namespace,
            state,
            reason: r.reason,
            trigger: r.trigger,
            requested_by_id: r.requested_by_id,
            requested_by: r.requested_by,
            rollback_of: r.rollback_of,
            manifests_hash: r.manifests_hash,
            lease_owner: r.lease_owner,
            lease_expires_at: r.lease_expires_at,
            attempts: r.attempts,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

fn to_deploys(rows: Vec<DeployRow>) -> Result<Vec<Deploy>, sqlx::Error> {
    rows.into_iter().map(Deploy::try_from).collect()
}

const SELECT: &str =
    "select d.id, d.service_id, s.name as service, t.name as team, d.environment_id,
        e.name as environment, d.revision, d.revision_id, d.revision_hash, d.image, d.namespace,
        d.state, d.reason, d.trigger, d.requested_by_id, d.requested_by, d.rollback_of,
        d.manifests_hash, d.lease_owner, d.lease_expires_at, d.attempts, d.created_at,
        d.started_at, d.finished_at
     from deploys d
     join services s on s.id = d.service_id
     join teams t on t.id = s.team_id
     join environments e on e.id = d.environment_id";

/// What a new deploy records; it starts as `requested`.
#[derive(Clone, Debug)]
pub struct NewDeploy<'a> {
    /// The service.
    pub service_id: i64,
    /// The environment.
    pub environment_id: i64,
    /// Revision number.
    pub revision: i32,
    /// Revision row id.
    pub revision_id: i64,
    /// Revision hash.
    pub revision_hash: &'a str,
    /// Image reference.
    pub image: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// How it came about.
    pub trigger: Trigger,
    /// Requesting user.
    pub requested_by_id: Option<i64>,
    /// Requesting user's email, `webhook:<id>` or `system`.
    pub requested_by: &'a str,
    /// The deploy a rollback restores.
    pub rollback_of: Option<i64>,
}

/// Inserts a `requested` deploy and its first timeline event; returns its id.
pub async fn insert(conn: &mut PgConnection, new: &NewDeploy<'_>) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "insert into deploys (service_id, environment_id, revision, revision_id, revision_hash,
             image, namespace, state, trigger, requested_by_id, requested_by, rollback_of)
         values ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $9, $10, $11) returning id",
    )
    .bind(new.service_id)
    .bind(new.environment_id)
    .bind(new.revision)
    .bind(new.revision_id)
    .bind(new.revision_hash)
    .bind(new.image)
    .bind(new.namespace)
    .bind(new.trigger.as_str())
    .bind(new.requested_by_id)
    .bind(new.requested_by)
    .bind(new.rollback_of)
    .fetch_one(&mut *conn)
    .await?;
    record_event(
        &mut *conn,
        id,
        None,
        DeployState::Requested,
        new.requested_by,
        "",
    )
    .await?;
    Ok(id)
}

/// Stores the rendered manifests and their hash.
pub async fn set_manifests(
    db: impl PgExecutor<'_>,
    id: i64,
    manifests: &str,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update deploys set manifests = $2, manifests_hash = $3, updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(manifests)
    .bind(hash)
    .execute(db)
    .await?;
    Ok(())
}

/// Stores the dry-run diff; only the worker holding the lease may.
pub async fn set_diff(
    db: impl PgExecutor<'_>,
    id: i64,
    owner: Uuid,
    diff: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update deploys set diff = $3, updated_at = now() where id = $1 and lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(diff)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn record_event(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
    from: Option<DeployState>,
    to: DeployState,
    actor: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into deploy_events (deploy_id, from_state, to_state, actor, message)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(deploy_id)
    .bind(from.map(DeployState::as_str))
    .bind(to.as_str())
    .bind(actor)
    .bind(message)
    .execute(db)
    .await?;
    Ok(())
}

/// One state change, applied only if the deploy is still in `from`.
#[derive(Clone, Debug)]
pub struct Transition<'a> {
    /// The deploy.
    pub id: i64,
    /// The state it must be in now.
    pub from: DeployState,
    /// The state it moves to (from `deployer::state::next`).
    pub to: DeployState,
    /// Who moves it: an email, `worker:<uuid>`, `system`.
    pub actor: &'a str,
    /// A line for the timeline.
    pub message: &'a str,
    /// The deploy's reason, when it changes (failures, rejections).
    pub reason: Option<&'a str>,
    /// For worker moves: the lease the worker must still hold.
    pub lease_owner: Option<Uuid>,
}

/// Applies a transition and records it on the timeline; false when the deploy
/// was no longer in `from` (or the lease was lost), in which case nothing changed.
/// Leaving the running states releases the lease; final states set `finished_at`.
pub async fn transition(conn: &mut PgConnection, t: &Transition<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update deploys set
             state = $3,
             reason = coalesce($4, reason),
             started_at = case when $3 = 'applying' then coalesce(started_at, now()) else started_at end,
             finished_at = case when $6 then now() else finished_at end,
             lease_owner = case when $7 then lease_owner else null end,
             lease_expires_at = case when $7 then lease_expires_at else null end,
             updated_at = now()
         where id = $1 and state = $2 and ($5::uuid is null or lease_owner = $5)",
    )
    .bind(t.id)
    .bind(t.from.as_str())
    .bind(t.to.as_str())
    .bind(t.reason)
    .bind(t.lease_owner)
    .bind(t.to.is_finished())
    .bind(t.to.is_running())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    record_event(&mut *conn, t.id, Some(t.from), t.to, t.actor, t.message).await?;
    Ok(true)
}

/// Moves every deploy of `(service, environment)` older than `newer_id` that is in
/// one of `from_states` to `superseded`, with events; returns their ids.
pub async fn supersede_older(
    conn: &mut PgConnection,
    service_id: i64,
    environment_id: i64,
    newer_id: i64,
    from_states: &[&str],
    actor: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    let reason = format!("superseded by deploy #{newer_id}");
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "with old as (
             select id, state from deploys
             where service_id = $1 and environment_id = $2 and id < $3 and state = any($4)
             for update
         )
         update deploys d set state = 'superseded', reason = $5, finished_at = now(), updated_at = now()
         from old where d.id = old.id and d.state = old.state
         returning d.id, old.state",
    )
    .bind(service_id)
    .bind(environment_id)
    .bind(newer_id)
    .bind(from_states)
    .bind(&reason)
    .fetch_all(&mut *conn)
    .await?;
    let mut ids = Vec::with_capacity(rows.len());
    for (id, old) in rows {
        let from = old.parse::<DeployState>().ok();
        record_event(
            &mut *conn,
            id,
            from,
            DeployState::Superseded,
            actor,
            &reason,
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

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

/// Serialises deploy requests of one service and environment for the rest of the
/// caller's transaction, so "supersede the older ones" sees every older one.
pub async fn lock_pair(
    conn: &mut PgConnection,
    service_id: i64,
    environment_id: i64,
) -> Result<(), sqlx::Error> {
    // Two int4 keys: a collision of the service id modulo 2^31 only serialises
    // two unrelated requests for a moment.
    sqlx::query("select pg_advisory_xact_lock(($1 % 2147483647)::int, ($2 % 2147483647)::int)")
        .bind(service_id)
        .bind(environment_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Claims the oldest queued deploy whose service and environment has no deploy
/// running: `applying`, leased to `owner` for `lease_secs`, attempts + 1, with a
/// timeline event. `None` when there is nothing to claim (or another worker won
/// a race for the same service and environment: the caller rolls back and retries).
pub async fn claim_next(
    conn: &mut PgConnection,
    owner: Uuid,
    lease_secs: f64,
    actor: &str,
) -> Result<Option<Deploy>, sqlx::Error> {
    // SKIP LOCKED: concurrent workers each take a different row instead of queueing
    // behind one another; the unique index deploys_one_running_key makes sure two
    // of them never run two deploys of one service and environment.
    let claimed: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(
        "with candidate as (
             select d.id from deploys d
             where d.state = 'queued'
               and not exists (select 1 from deploys r
                               where r.service_id = d.service_id and r.environment_id = d.environment_id
                                 and r.state in ('applying', 'progressing'))
             order by d.id
             limit 1
             for update skip locked
         )
         update deploys d set state = 'applying', lease_owner = $1,
             lease_expires_at = now() + make_interval(secs => $2),
             attempts = d.attempts + 1, started_at = coalesce(d.started_at, now()), updated_at = now()
         from candidate where d.id = candidate.id
         returning d.id",
    )
    .bind(owner)
    .bind(lease_secs)
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

/// One deploy.
pub async fn find(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Deploy>, sqlx::Error> {
    sqlx::query_as::<_, DeployRow>(sqlx::AssertSqlSafe(format!("{SELECT} where d.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .map(Deploy::try_from)
        .transpose()
}

/// The large texts of a deploy.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct Documents {
    /// Rendered multi-document YAML.
    pub manifests: String,
    /// Dry-run diff against the live objects, once computed.
    pub diff: Option<String>,
}

/// The manifests and diff of a deploy.
pub async fn documents(db: impl PgExecutor<'_>, id: i64) -> Result<Documents, sqlx::Error> {
    sqlx::query_as::<_, Documents>("select manifests, diff from deploys where id = $1")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Filter of the deploy history.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only these teams' services (`None`: every team).
    pub teams: Option<Vec<String>>,
    /// Only this team.
    pub team: Option<String>,
    /// Only services with this name.
    pub service: Option<String>,
    /// Only this service (by id).
    pub service_id: Option<i64>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this state.
    pub state: Option<DeployState>,
    /// Only deploys with a smaller id (paging, newest first).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// Deploys matching `filter`, newest first.
pub async fn list(db: impl PgExecutor<'_>, filter: &Filter) -> Result<Vec<Deploy>, sqlx::Error> {
    let rows = sqlx::query_as::<_, DeployRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT}
         where ($1::text[] is null or t.name = any($1))
           and ($2::text is null or t.name = $2)
           and ($3::text is null or s.name = $3)
           and ($4::bigint is null or d.service_id = $4)
           and ($5::text is null or e.name = $5)
           and ($6::text is null or d.state = $6)
           and ($7::bigint is null or d.id < $7)
         order by d.id desc
         limit $8"
    )))
    .bind(filter.teams.as_deref())
    .bind(filter.team.as_deref())
    .bind(filter.service.as_deref())
    .bind(filter.service_id)
    .bind(filter.environment.as_deref())
    .bind(filter.state.map(DeployState::as_str))
    .bind(filter.before_id)
    .bind(filter.limit.clamp(1, 500))
    .fetch_all(db)
    .await?;
    to_deploys(rows)
}

/// The latest deploy of a service in each environment that has one.
pub async fn latest_per_environment(
    db: impl PgExecutor<'_>,
    service_id: i64,
) -> Result<Vec<Deploy>, sqlx::Error> {
    let rows = sqlx::query_as::<_, DeployRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT}
         where d.id in (select distinct on (environment_id) id from deploys
                        where service_id = $1 order by environment_id, id desc)
         order by e.position, e.name"
    )))
    .bind(service_id)
    .fetch_all(db)
    .await?;
    to_deploys(rows)
}

/// The latest succeeded deploy of a service in an environment before `before_id`.
pub async fn previous_succeeded(
    db: impl PgExecutor<'_>,
    service_id: i64,
    environment_id: i64,
    before_id: i64,
) -> Result<Option<Deploy>, sqlx::Error> {
    sqlx::query_as::<_, DeployRow>(sqlx::AssertSqlSafe(format!(
        "{SELECT}
         where d.service_id = $1 and d.environment_id = $2 and d.id < $3 and d.state = 'succeeded'
         order by d.id desc limit 1"
    )))
    .bind(service_id)
    .bind(environment_id)
    .bind(before_id)
    .fetch_optional(db)
    .await?
    .map(Deploy::try_from)
    .transpose()
}

/// One entry of a deploy's timeline.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Event {
    /// Row id.
    pub id: i64,
    /// State before (none for the request itself).
    pub from_state: Option<String>,
    /// State after.
    pub to_state: String,
    /// Who.
    pub actor: String,
    /// What happened.
    pub message: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A deploy's timeline, oldest first.
pub async fn events(db: impl PgExecutor<'_>, deploy_id: i64) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as::<_, Event>(
        "select id, from_state, to_state, actor, message, created_at
         from deploy_events where deploy_id = $1 order by id",
    )
    .bind(deploy_id)
    .fetch_all(db)
    .await
}

/// A note on the timeline that does not change the state (e.g. "applied 9 objects").
pub async fn note(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
    state: DeployState,
    actor: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    record_event(db, deploy_id, Some(state), state, actor, message).await
}

/// An approval or rejection as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Approval {
    /// Row id.
    pub id: i64,
    /// The deploy.
    pub deploy_id: i64,
    /// The deciding user.
    pub user_id: Option<i64>,
    /// Their email.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Their comment.
    pub comment: String,
    /// The revision hash decided on.
    pub revision_hash: String,
    /// The image decided on.
    pub image: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// What an approval records.
#[derive(Clone, Debug)]
pub struct NewApproval<'a> {
    /// The deploy.
    pub deploy_id: i64,
    /// The deciding user.
    pub user_id: i64,
    /// Their email.
    pub approver: &'a str,
    /// `approve` or `reject`.
    pub decision: &'a str,
    /// Their comment.
    pub comment: &'a str,
    /// The revision hash decided on.
    pub revision_hash: &'a str,
    /// The image decided on.
    pub image: &'a str,
}

/// Constraint that makes a user decide a deploy at most once.
pub const APPROVAL_UNIQUE: &str = "approvals_deploy_id_user_id_key";

/// Records a decision.
pub async fn insert_approval(
    db: impl PgExecutor<'_>,
    a: &NewApproval<'_>,
) -> Result<Approval, sqlx::Error> {
    sqlx::query_as::<_, Approval>(
        "insert into approvals (deploy_id, user_id, approver, decision, comment, revision_hash, image)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, deploy_id, user_id, approver, decision, comment, revision_hash, image, created_at",
    )
    .bind(a.deploy_id)
    .bind(a.user_id)
    .bind(a.approver)
    .bind(a.decision)
    .bind(a.comment)
    .bind(a.revision_hash)
    .bind(a.image)
    .fetch_one(db)
    .await
}

/// A deploy's decisions, oldest first.
pub async fn approvals(
    db: impl PgExecutor<'_>,
    deploy_id: i64,
) -> Result<Vec<Approval>, sqlx::Error> {
    sqlx::query_as::<_, Approval>(
        "select id, deploy_id, user_id, approver, decision, comment, revision_hash, image, created_at
         from approvals where deploy_id = $1 order by id",
    )
    .bind(deploy_id)
    .fetch_all(db)
    .await
}

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
