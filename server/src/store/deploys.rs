//! Deploys and their timeline. Leases and claims are in [`super::deploy_leases`],
//! decisions in [`super::approvals`], environment pins in [`super::pins`].
//!
//! Every state change a person or the deployer makes goes through [`transition`],
//! a compare-and-set on the old state (and, for a worker, on its lease) that
//! records the timeline event in the same transaction. Three writes set `state`
//! directly because they are claims or bulk moves with their own guard in the
//! `where` clause: `deploy_leases::claim_next`, `deploy_leases::take_over` and
//! [`supersede_older`]; each records its timeline event too. Which moves are legal
//! is decided by the pure state machine in `deployer::state`.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::deploy_model::DeployState;
pub use crate::deploy_model::Trigger;

/// A deploy with its service, team and environment names (without the large
/// manifests and diff: see [`documents`]).
#[derive(Clone, Debug, sqlx::FromRow)]
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
    #[sqlx(try_from = "String")]
    pub state: DeployState,
    /// Why it failed, was rejected or superseded.
    pub reason: String,
    /// How it came about.
    #[sqlx(try_from = "String")]
    pub trigger: Trigger,
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
    /// For a webhook deploy: the pushed commit's sha (else empty).
    pub commit_sha: String,
    /// Its message.
    pub commit_message: String,
    /// Its author.
    pub commit_author: String,
    /// Who pushed it.
    pub pusher: String,
    /// The push's compare link.
    pub compare_url: String,
    /// The pusher's email, when the provider sent one.
    pub pusher_email: String,
    /// Who wrote the deployed revision.
    pub revision_author_id: Option<i64>,
    /// The digest approvals are bound to (see `plan::content_digest`).
    pub content_digest: String,
    /// When the plan was computed.
    pub plan_computed_at: Option<OffsetDateTime>,
    /// The deploy running when the plan was computed.
    pub plan_base_deploy_id: Option<i64>,
    /// A waiting deploy is rejected as expired after this.
    pub decision_deadline: Option<OffsetDateTime>,
    /// A held deploy moves on after this.
    pub held_until: Option<OffsetDateTime>,
    /// The cluster it was planned for and is applied to: its environment's
    /// when it was requested (for deploys from before the registry, the
    /// environment's now).
    pub cluster: String,
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

const SELECT: &str =
    "select d.id, d.service_id, s.name as service, t.name as team, d.environment_id,
        e.name as environment, d.revision, d.revision_id, d.revision_hash, d.image, d.namespace,
        d.state, d.reason, d.trigger, d.requested_by_id, d.requested_by, d.rollback_of,
        d.manifests_hash, d.lease_owner, d.lease_expires_at, d.attempts, d.created_at,
        d.started_at, d.finished_at, d.commit_sha, d.commit_message, d.commit_author, d.pusher,
        d.compare_url, d.pusher_email, d.revision_author_id, d.content_digest, d.plan_computed_at,
        d.plan_base_deploy_id, d.decision_deadline, d.held_until,
        coalesce(d.cluster, e.cluster) as cluster
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
    /// For a webhook deploy: the pushed commit's sha (else empty).
    pub commit_sha: &'a str,
    /// Its message.
    pub commit_message: &'a str,
    /// Its author.
    pub commit_author: &'a str,
    /// Who pushed it.
    pub pusher: &'a str,
    /// The push's compare link.
    pub compare_url: &'a str,
    /// The pusher's email.
    pub pusher_email: &'a str,
    /// Who wrote the revision.
    pub revision_author_id: Option<i64>,
}

/// Inserts a `requested` deploy and its first timeline event; returns its id.
pub async fn insert(conn: &mut PgConnection, new: &NewDeploy<'_>) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "insert into deploys (service_id, environment_id, revision, revision_id, revision_hash,
             image, namespace, state, trigger, requested_by_id, requested_by, rollback_of,
             commit_sha, commit_message, commit_author, pusher, compare_url, pusher_email,
             revision_author_id, cluster)
         values ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $9, $10, $11, $12, $13, $14, $15, $16,
             $17, $18, (select cluster from environments where id = $2))
         returning id",
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
    .bind(new.commit_sha)
    .bind(new.commit_message)
    .bind(new.commit_author)
    .bind(new.pusher)
    .bind(new.compare_url)
    .bind(new.pusher_email)
    .bind(new.revision_author_id)
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

/// Stores the rendered manifests, their hash and their approval digest, once:
/// afterwards the database refuses any change to them (a trigger).
pub async fn set_manifests(
    db: impl PgExecutor<'_>,
    id: i64,
    manifests: &str,
    hash: &str,
    digest: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update deploys set manifests = $2, manifests_hash = $3, content_digest = $4,
             updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(manifests)
    .bind(hash)
    .bind(digest)
    .execute(db)
    .await?;
    Ok(())
}

/// Stores a deploy's plan (JSON) with the deploy it was compared against.
pub async fn set_plan(
    db: impl PgExecutor<'_>,
    id: i64,
    plan: &serde_json::Value,
    base_deploy_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update deploys set plan = $2, plan_base_deploy_id = $3, plan_computed_at = now(),
             updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(plan)
    .bind(base_deploy_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A deploy's stored plan, as JSON (`None` before one was computed).
pub async fn plan(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar("select plan from deploys where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

/// The stored plans of deploys `ids` that have one, by deploy id: one round
/// trip for a whole approvals queue.
pub async fn plans(
    db: impl PgExecutor<'_>,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, serde_json::Value>, sqlx::Error> {
    let rows: Vec<(i64, serde_json::Value)> =
        sqlx::query_as("select id, plan from deploys where id = any($1) and plan is not null")
            .bind(ids)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Sets when a waiting deploy expires (entering `awaiting_approval`) or a held
/// one moves on (entering `held`).
pub async fn set_deadlines(
    db: impl PgExecutor<'_>,
    id: i64,
    decision_deadline: Option<OffsetDateTime>,
    held_until: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update deploys set decision_deadline = $2, held_until = $3, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(decision_deadline)
    .bind(held_until)
    .execute(db)
    .await?;
    Ok(())
}

/// The latest deploy of `(service, environment)` that succeeded: what runs now.
pub async fn latest_succeeded(
    db: impl PgExecutor<'_>,
    service_id: i64,
    environment_id: i64,
) -> Result<Option<Deploy>, sqlx::Error> {
    sqlx::query_as::<_, Deploy>(sqlx::AssertSqlSafe(format!(
        "{SELECT} where d.service_id = $1 and d.environment_id = $2 and d.state = 'succeeded'
         order by d.id desc limit 1"
    )))
    .bind(service_id)
    .bind(environment_id)
    .fetch_optional(db)
    .await
}

/// Ids of deploys that wait for decisions past their deadline.
pub async fn expired_waiting(
    db: impl PgExecutor<'_>,
    now: OffsetDateTime,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from deploys where state = 'awaiting_approval' and decision_deadline <= $1
         order by id",
    )
    .bind(now)
    .fetch_all(db)
    .await
}

/// Ids of held deploys whose hold ended.
pub async fn due_held(
    db: impl PgExecutor<'_>,
    now: OffsetDateTime,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from deploys where state = 'held' and held_until <= $1 order by id",
    )
    .bind(now)
    .fetch_all(db)
    .await
}

/// Ids of deploys waiting for decisions (or held) whose plan must be
/// (re)computed: none yet, the dry run could not run, or a newer deploy of the
/// pair succeeded since it was computed.
pub async fn plans_to_refresh(db: impl PgExecutor<'_>) -> Result<Vec<i64>, sqlx::Error> {
    // The waiting deploys first, each state through its partial index: with the
    // conditions in one `where` over `deploys`, PostgreSQL scanned all of them
    // (100,000 at fleet scale, with JIT: ~350 ms every sweep, not 1 ms).
    sqlx::query_scalar(
        "with waiting as materialized (
             select id, service_id, environment_id, plan, plan_base_deploy_id from deploys
             where state = 'awaiting_approval'
             union all
             select id, service_id, environment_id, plan, plan_base_deploy_id from deploys
             where state = 'held'
         )
         select w.id from waiting w
         where w.plan is null
            or (w.plan -> 'dry_run' ->> 'outcome' = 'unavailable'
                and not coalesce((w.plan -> 'dry_run' ->> 'no_cluster')::boolean, false))
            or coalesce(w.plan_base_deploy_id, 0) is distinct from coalesce((
                select max(s.id) from deploys s
                where s.service_id = w.service_id and s.environment_id = w.environment_id
                  and s.state = 'succeeded'), 0)
         order by w.id",
    )
    .fetch_all(db)
    .await
}

/// Locks a deploy's row for the rest of the transaction (deciders serialise here).
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Option<Deploy>, sqlx::Error> {
    sqlx::query_scalar::<_, i64>("select id from deploys where id = $1 for update")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    find(&mut *conn, id).await
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

pub(super) async fn record_event(
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

/// One deploy.
pub async fn find(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Deploy>, sqlx::Error> {
    sqlx::query_as::<_, Deploy>(sqlx::AssertSqlSafe(format!("{SELECT} where d.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
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

/// Filter of the deploy history (also the key `/deploys` shares a page under).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
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
///
/// Only the filters that are set become conditions, so each combination is its
/// own statement text and PostgreSQL's cached plan fits it. The catch-all form
/// (`$1 is null or …` for every filter) got a generic plan from the sixth
/// execution on that walked every service of every team: 135 ms instead of
/// 2 ms for the navigation bar's "waiting for approval" with 100,000 deploys
/// (`docs/performance.md`).
pub async fn list(db: impl PgExecutor<'_>, filter: &Filter) -> Result<Vec<Deploy>, sqlx::Error> {
    let mut query = sqlx::QueryBuilder::new(SELECT);
    query.push(" where true");
    if let Some(teams) = &filter.teams {
        query
            .push(" and t.name = any(")
            .push_bind(teams.clone())
            .push(")");
    }
    if let Some(team) = &filter.team {
        query.push(" and t.name = ").push_bind(team.clone());
    }
    if let Some(service) = &filter.service {
        query.push(" and s.name = ").push_bind(service.clone());
    }
    if let Some(service_id) = filter.service_id {
        query.push(" and d.service_id = ").push_bind(service_id);
    }
    if let Some(environment) = &filter.environment {
        // The environment's id, not a condition on the joined name, so a
        // service's deploys in it come from the (service_id, environment_id,
        // id) index in order instead of a walk of every newer deploy.
        query
            .push(" and d.environment_id = (select id from environments where name = ")
            .push_bind(environment.clone())
            .push(")");
    }
    if let Some(state) = filter.state {
        query.push(" and d.state = ").push_bind(state.as_str());
    }
    if let Some(before_id) = filter.before_id {
        query.push(" and d.id < ").push_bind(before_id);
    }
    query
        .push(" order by d.id desc limit ")
        .push_bind(filter.limit.clamp(1, 500));
    query.build_query_as::<Deploy>().fetch_all(db).await
}

/// A deploy waiting for approval, with only what deciding whom it waits for
/// needs: its environment's approvers, who brought it about, and who has a
/// current decision on it already.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Awaiting {
    /// The deploy.
    pub id: i64,
    /// Its environment's name.
    pub environment: String,
    /// Its environment's approver teams.
    pub approver_teams: Vec<String>,
    /// The requesting user.
    pub requested_by_id: Option<i64>,
    /// The author of the deployed revision.
    pub revision_author_id: Option<i64>,
    /// The git pusher, for webhook deploys.
    pub pusher: String,
    /// The pusher's email.
    pub pusher_email: String,
    /// Users with a current (not voided) decision on it.
    pub deciders: Vec<i64>,
}

/// The newest `limit` deploys waiting for approval, as [`Awaiting`]: one round
/// trip for the navigation bar's count of every user.
pub async fn awaiting(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<Awaiting>, sqlx::Error> {
    sqlx::query_as::<_, Awaiting>(
        "select d.id, e.name as environment, e.approver_teams, d.requested_by_id,
                d.revision_author_id, d.pusher, d.pusher_email,
                array(select a.user_id from approvals a
                      where a.deploy_id = d.id and a.voided_at is null and a.user_id is not null)
                    as deciders
         from deploys d join environments e on e.id = d.environment_id
         where d.state = 'awaiting_approval'
         order by d.id desc limit $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The latest deploy of a service in each environment that has one, from
/// `latest_deploys` (kept by a trigger): a service with a long history is
/// not read deploy by deploy to find its newest ones.
pub async fn latest_per_environment(
    db: impl PgExecutor<'_>,
    service_id: i64,
) -> Result<Vec<Deploy>, sqlx::Error> {
    sqlx::query_as::<_, Deploy>(sqlx::AssertSqlSafe(format!(
        "{SELECT}
         where d.id in (select deploy_id from latest_deploys where service_id = $1)
         order by e.position, e.name"
    )))
    .bind(service_id)
    .fetch_all(db)
    .await
}

/// The newest `per_environment` deploys of a service in each environment,
/// newest first within an environment: one round trip for a history page,
/// each environment's walk of `(service_id, environment_id, id)` stopping at
/// its limit.
pub async fn recent_per_environment(
    db: impl PgExecutor<'_>,
    service_id: i64,
    per_environment: i64,
) -> Result<Vec<Deploy>, sqlx::Error> {
    let select = SELECT.replacen(
        "from deploys d",
        "from environments pe
          cross join lateral (select * from deploys x
                              where x.service_id = $1 and x.environment_id = pe.id
                              order by x.id desc limit $2) d",
        1,
    );
    sqlx::query_as::<_, Deploy>(sqlx::AssertSqlSafe(format!(
        "{select} order by pe.position, pe.name, d.id desc"
    )))
    .bind(service_id)
    .bind(per_environment.clamp(1, 500))
    .fetch_all(db)
    .await
}

/// The latest succeeded deploy of a service in an environment before `before_id`.
pub async fn previous_succeeded(
    db: impl PgExecutor<'_>,
    service_id: i64,
    environment_id: i64,
    before_id: i64,
) -> Result<Option<Deploy>, sqlx::Error> {
    sqlx::query_as::<_, Deploy>(sqlx::AssertSqlSafe(format!(
        "{SELECT}
         where d.service_id = $1 and d.environment_id = $2 and d.id < $3 and d.state = 'succeeded'
         order by d.id desc limit 1"
    )))
    .bind(service_id)
    .bind(environment_id)
    .bind(before_id)
    .fetch_optional(db)
    .await
}

/// One entry of a deploy's timeline.
#[derive(Clone, Debug)]
pub struct Event {
    /// Row id.
    pub id: i64,
    /// State before (none for the request itself).
    pub from_state: Option<DeployState>,
    /// State after; equal to `from_state` for a note.
    pub to_state: DeployState,
    /// Who: an email, `worker:<uuid>` or `system`.
    pub actor: String,
    /// What happened.
    pub message: String,
    /// When.
    pub created_at: OffsetDateTime,
}

impl Event {
    /// A note that did not change the state.
    pub fn is_note(&self) -> bool {
        self.from_state == Some(self.to_state)
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    from_state: Option<String>,
    to_state: String,
    actor: String,
    message: String,
    created_at: OffsetDateTime,
}

impl TryFrom<EventRow> for Event {
    type Error = sqlx::Error;
    fn try_from(r: EventRow) -> Result<Self, Self::Error> {
        let decode = |e| sqlx::Error::Decode(Box::new(e));
        Ok(Event {
            id: r.id,
            from_state: r
                .from_state
                .map(|s| s.parse())
                .transpose()
                .map_err(decode)?,
            to_state: r.to_state.parse().map_err(decode)?,
            actor: r.actor,
            message: r.message,
            created_at: r.created_at,
        })
    }
}

/// A deploy's timeline, oldest first.
pub async fn events(db: impl PgExecutor<'_>, deploy_id: i64) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as::<_, EventRow>(
        "select id, from_state, to_state, actor, message, created_at
         from deploy_events where deploy_id = $1 order by id",
    )
    .bind(deploy_id)
    .fetch_all(db)
    .await?
    .into_iter()
    .map(Event::try_from)
    .collect()
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
