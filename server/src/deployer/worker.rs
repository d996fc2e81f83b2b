//! The deploy worker: a thin claim → apply → watch → record loop around the
//! state machine, running inside `slipway serve` and `slipway run`.
//!
//! Several replicas may run one each against one database. A worker claims a
//! queued deploy with `FOR UPDATE SKIP LOCKED` and holds it with a lease that a
//! heartbeat extends; every state change it makes is a compare-and-set on that
//! lease. When a worker dies, its lease runs out and another worker takes the
//! deploy over (applying again is safe: server-side apply is idempotent) — or,
//! after `max_attempts`, fails it with a reason. Nothing stays `applying`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use sqlx::PgPool;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{Instrument as _, instrument};
use uuid::Uuid;

use super::sha256_hex;
use super::state::{DeployEvent, DeployState, next};
use crate::auth::policy;
use crate::cluster::apply::{self, Manifest, Target};
use crate::cluster::retry::{ClusterError, RetryPolicy};
use crate::cluster::rollout::{self, Rollout, RolloutConfig};
use crate::cluster::{self, ClusterState, diff, events, preflight};
use crate::deploy_model::NotificationEvent;
use crate::domain::{notifications, tenancy};
use crate::plan;
use crate::store::deploys::{self as deploys, Deploy, Transition};
use crate::store::environments;
use crate::store::{approvals, cluster_events, deploy_leases};

/// How a worker behaves; the defaults suit production, tests shorten them.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How often the lease is extended while a deploy runs.
    pub heartbeat: Duration,
    /// How often to look for queued deploys and expired leases.
    pub poll: Duration,
    /// Claims of one deploy (first claim plus take-overs) before it is failed.
    pub max_attempts: i32,
    /// Deploys one worker runs at once (of different services or environments).
    pub concurrency: usize,
    /// Rollout deadlines.
    pub rollout: RolloutConfig,
    /// Retries while the API server does not answer.
    pub retry: RetryPolicy,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            lease: Duration::from_secs(20),
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_millis(500),
            max_attempts: 3,
            concurrency: 4,
            rollout: RolloutConfig::default(),
            retry: RetryPolicy::default(),
        }
    }
}

struct Context {
    id: Uuid,
    actor: String,
    db: PgPool,
    clusters: cluster::Fleet,
    config: WorkerConfig,
    /// The deploys whose work (render, apply, rollout wait) is running now.
    in_hand: InHand,
}

/// The ids of the deploys a worker is working on; shared with its [`Worker`]
/// so that the code that started it (the tests do) can see what it holds.
type InHand = Arc<std::sync::Mutex<BTreeSet<i64>>>;

impl Context {
    fn lease_secs(&self) -> f64 {
        self.config.lease.as_secs_f64()
    }

    /// The client of cluster `name`, waiting at most as long as the retry
    /// policy would; the reason of a failure names the cluster.
    async fn client(&self, name: &str) -> Result<Client, String> {
        let member = self.clusters.member(name);
        let cluster = &member.handle;
        if let Some(client) = cluster.client() {
            return Ok(client);
        }
        if matches!(cluster.state(), ClusterState::Disabled) {
            return Err(format!(
                "no cluster is configured as `{name}` (set SLIPWAY_KUBECONFIG)"
            ));
        }
        match cluster.wait_ready(self.config.retry.total_wait()).await {
            Some(client) => Ok(client),
            None => Err(match cluster.state() {
                ClusterState::Unreachable(why) => format!(
                    "cluster `{name}` is unreachable: {why} (gave up after {} s)",
                    self.config.retry.total_wait().as_secs()
                ),
                other => format!(
                    "cluster `{name}` is not connected: {} (gave up after {} s)",
                    other.describe(),
                    self.config.retry.total_wait().as_secs()
                ),
            }),
        }
    }
}

/// A running worker; dropping it stops the loop (leases then run out and other
/// workers take its deploys over), [`Worker::shutdown`] hands them over at once.
pub struct Worker {
    id: Uuid,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    in_hand: InHand,
}

impl Worker {
    /// Starts a worker with a fresh id on the current Tokio runtime.
    pub fn start(db: PgPool, clusters: cluster::Fleet, config: WorkerConfig) -> Self {
        let id = Uuid::new_v4();
        let in_hand = InHand::default();
        let ctx = Arc::new(Context {
            id,
            actor: format!("worker {}", &id.simple().to_string()[..8]),
            db,
            clusters,
            config,
            in_hand: in_hand.clone(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("deploy_worker", worker = %ctx.actor);
        let task = tokio::spawn(run_loop(ctx, stop_rx).instrument(span));
        tracing::info!(worker = %id, "deploy worker started");
        Worker {
            id,
            stop,
            task: Some(task),
            in_hand,
        }
    }

    /// This worker's lease owner id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The deploys this worker is working on at this moment. A deploy leaves
    /// the set once its work has stopped — finished, failed, or given up
    /// because the lease was lost — so nothing of it reaches the cluster from
    /// this worker afterwards (only its end may still be recorded).
    pub fn deploys_in_hand(&self) -> Vec<i64> {
        lock_in_hand(&self.in_hand).iter().copied().collect()
    }

    /// Stops claiming, stops the running deploys and ends their leases so another
    /// worker (or the next start) takes them over without waiting.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run_loop(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(listen_for_queued(ctx.db.clone(), wake.clone()).in_current_span());
    let mut running: JoinSet<()> = JoinSet::new();
    let mut db_trouble = false;
    loop {
        if *stop.borrow() {
            break;
        }
        let result = async {
            sweep_expired(&ctx, &mut running).await?;
            while running.len() < ctx.config.concurrency {
                let Some(deploy) = claim(&ctx).await? else {
                    break;
                };
                running.spawn(run_deploy(ctx.clone(), deploy));
            }
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match result {
            Ok(()) if db_trouble => {
                tracing::info!("database reachable again; claiming deploys");
                db_trouble = false;
            }
            Err(err) if !db_trouble => {
                tracing::warn!(error = %err, "cannot claim deploys; retrying");
                db_trouble = true;
            }
            _ => {}
        }
        tokio::select! {
            _ = stop.changed() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = wake.notified() => {}
            () = tokio::time::sleep(ctx.config.poll) => {}
        }
    }
    listener.abort();
    running.abort_all();
    while running.join_next().await.is_some() {}
    match deploy_leases::release_leases(&ctx.db, ctx.id).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deploys = n, "handed running deploys over"),
        Err(err) => {
            tracing::warn!(error = %err, "could not hand running deploys over; their leases will run out")
        }
    }
    tracing::info!("deploy worker stopped");
}

/// Wakes the loop when a deploy is queued anywhere (PostgreSQL NOTIFY), so a
/// claim does not wait for the next poll; polling still covers a lost listener.
async fn listen_for_queued(db: PgPool, wake: Arc<Notify>) {
    loop {
        match deploy_leases::listen_queued(&db).await {
            Ok(mut listener) => loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(err) => {
                        tracing::debug!(error = %err, "queued-deploy listener lost; polling meanwhile");
                        break;
                    }
                }
            },
            Err(err) => {
                tracing::debug!(error = %err, "cannot listen for queued deploys; polling meanwhile")
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn claim(ctx: &Context) -> Result<Option<Deploy>, sqlx::Error> {
    let mut tx = ctx.db.begin().await?;
    let Some(deploy) = deploy_leases::claim_next_fair(
        &mut tx,
        ctx.id,
        ctx.lease_secs(),
        &ctx.actor,
        deploy_leases::team_share(ctx.config.concurrency),
    )
    .await?
    else {
        // Nothing to claim, or lost a race on a unique index: the transaction is
        // void either way.
        tx.rollback().await?;
        return Ok(None);
    };
    tx.commit().await?;
    tracing::info!(deploy.id = deploy.id, service = %deploy.service, environment = %deploy.environment, "claimed deploy");
    Ok(Some(deploy))
}

/// Takes over (or, after `max_attempts`, fails) running deploys whose worker stopped renewing its lease.
async fn sweep_expired(ctx: &Arc<Context>, running: &mut JoinSet<()>) -> Result<(), sqlx::Error> {
    loop {
        let mut tx = ctx.db.begin().await?;
        let Some(deploy) = deploy_leases::lock_expired(&mut tx).await? else {
            tx.rollback().await?;
            return Ok(());
        };
        if deploy.attempts >= ctx.config.max_attempts {
            let reason = format!(
                "Slipway stopped while running this deploy {} times (each time its worker's lease ran out, e.g. the process was killed); the cluster may hold part of it — check the live objects, then deploy again",
                deploy.attempts
            );
            let to = next(deploy.state, DeployEvent::Failed).unwrap_or(DeployState::Failed);
            deploys::transition(
                &mut tx,
                &Transition {
                    id: deploy.id,
                    from: deploy.state,
                    to,
                    actor: &ctx.actor,
                    message: "given up: its worker stopped too often",
                    reason: Some(&reason),
                    lease_owner: None,
                },
            )
            .await?;
            if let Some(now) = deploys::find(&mut *tx, deploy.id).await? {
                notifications::notify_in(
                    &mut tx,
                    NotificationEvent::Failed,
                    &now,
                    &ctx.actor,
                    &reason,
                )
                .await?;
            }
            tx.commit().await?;
            tracing::warn!(
                deploy.id = deploy.id,
                attempts = deploy.attempts,
                "deploy failed: its workers kept stopping"
            );
            metrics::counter!("slipway_deploys_finished_total", "state" => "failed").increment(1);
            continue;
        }
        if running.len() >= ctx.config.concurrency {
            tx.rollback().await?;
            return Ok(());
        }
        if next(deploy.state, DeployEvent::Reclaimed).is_err()
            || !deploy_leases::take_over(&mut tx, &deploy, ctx.id, ctx.lease_secs(), &ctx.actor)
                .await?
        {
            tx.rollback().await?;
            return Ok(());
        }
        tx.commit().await?;
        tracing::warn!(deploy.id = deploy.id, previous = ?deploy.lease_owner, "took over a deploy whose worker stopped");
        let taken = Deploy {
            state: DeployState::Applying,
            lease_owner: Some(ctx.id),
            attempts: deploy.attempts + 1,
            ..deploy
        };
        running.spawn(run_deploy(ctx.clone(), taken));
    }
}

/// How running a deploy ended.
enum Outcome {
    /// Rolled out; the summary.
    Succeeded(String),
    /// Failed in `from` with a reason for the deploy's record.
    Failed { from: DeployState, reason: String },
    /// The lease was lost or the database went away: another worker (or a later
    /// attempt) finishes it; nothing more to record here.
    Interrupted(String),
}

#[instrument(skip_all, fields(deploy.id = deploy.id, service = %deploy.service, environment = %deploy.environment))]
async fn run_deploy(ctx: Arc<Context>, deploy: Deploy) {
    let (lost_tx, mut lost_rx) = watch::channel(false);
    let heartbeat = tokio::spawn(keep_lease(ctx.clone(), deploy.id, lost_tx).in_current_span());
    let mut state = deploy.state;
    let in_hand = InHandGuard::take(&ctx.in_hand, deploy.id);
    let outcome = tokio::select! {
        outcome = execute(&ctx, &deploy, &mut state) => outcome,
        _ = lost_rx.wait_for(|lost| *lost) => Outcome::Interrupted("the lease was lost".into()),
    };
    // `execute` has ended or been dropped: nothing more of this deploy goes
    // to the cluster from here.
    drop(in_hand);
    heartbeat.abort();
    finish(&ctx, &deploy, outcome).await;
}

fn lock_in_hand(in_hand: &InHand) -> std::sync::MutexGuard<'_, BTreeSet<i64>> {
    // A panic while holding it cannot leave the set half-changed.
    in_hand
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks a deploy as in hand until dropped (also when the task is aborted).
struct InHandGuard {
    in_hand: InHand,
    id: i64,
}

impl InHandGuard {
    fn take(in_hand: &InHand, id: i64) -> Self {
        lock_in_hand(in_hand).insert(id);
        InHandGuard {
            in_hand: in_hand.clone(),
            id,
        }
    }
}

impl Drop for InHandGuard {
    fn drop(&mut self) {
        lock_in_hand(&self.in_hand).remove(&self.id);
    }
}

/// Extends the lease until aborted; flags `lost` when another worker has it or
/// when the lease may run out while the database cannot be reached. A renewal
/// counts from the moment it was *sent* (the database's expiry is at least
/// that late), and the lease is given up [`lost_after`] it — before it can
/// expire and another worker take the deploy over — so a worker cut off from
/// the database stops writing to the cluster before anyone else starts. A
/// renewal that hangs (a database behind a dropped network answers nothing,
/// and a pool waits its whole acquire timeout for a connection) is cut short
/// at that moment too, or the worker would notice only after the lease ran out.
async fn keep_lease(ctx: Arc<Context>, id: i64, lost: watch::Sender<bool>) {
    let give_up = lost_after(&ctx.config);
    let mut deadline = tokio::time::Instant::now() + give_up;
    loop {
        // The next renewal, or the moment to give up if that comes first.
        tokio::time::sleep_until(
            (tokio::time::Instant::now() + ctx.config.heartbeat).min(deadline),
        )
        .await;
        let sent = tokio::time::Instant::now();
        let renewal = tokio::time::timeout_at(
            deadline,
            deploy_leases::heartbeat(&ctx.db, id, ctx.id, ctx.lease_secs()),
        )
        .await;
        match renewal {
            Ok(Ok(true)) => deadline = sent + give_up,
            Ok(Ok(false)) => {
                tracing::warn!("lost the lease of the deploy; stopping work on it");
                let _ = lost.send(true);
                return;
            }
            Ok(Err(err)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %err, "could not renew the lease; retrying");
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    "could not renew the lease before it could run out; stopping work on the deploy"
                );
                let _ = lost.send(true);
                return;
            }
        }
    }
}

/// How long after the last renewal was sent a worker that cannot reach the
/// database gives its lease up: the lease less two heartbeats (one for the
/// renewal that failed, one as margin for a slow runtime).
fn lost_after(config: &WorkerConfig) -> Duration {
    config.lease.saturating_sub(config.heartbeat * 2)
}

/// Before each write phase (apply, prune): the lease is still this worker's
/// and unexpired, read from the database, so a worker that lost it does not
/// write what another worker is now applying.
async fn fence(ctx: &Context, deploy: &Deploy) -> Result<(), Step> {
    if deploy_leases::holds(&ctx.db, deploy.id, ctx.id).await? {
        Ok(())
    } else {
        Err(Step::LeaseLost)
    }
}

async fn finish(ctx: &Context, deploy: &Deploy, outcome: Outcome) {
    let (from, event, message, reason) = match &outcome {
        Outcome::Succeeded(summary) => (
            DeployState::Progressing,
            DeployEvent::RolledOut,
            summary.clone(),
            None,
        ),
        Outcome::Failed { from, reason } => (
            *from,
            DeployEvent::Failed,
            reason.clone(),
            Some(reason.clone()),
        ),
        Outcome::Interrupted(why) => {
            tracing::warn!(
                why,
                "deploy interrupted; it will be taken over when its lease runs out"
            );
            return;
        }
    };
    let Ok(to) = next(from, event) else {
        tracing::error!(%from, ?event, "the worker tried an impossible transition");
        return;
    };
    let stored = async {
        let mut tx = ctx.db.begin().await?;
        let moved = deploys::transition(
            &mut tx,
            &Transition {
                id: deploy.id,
                from,
                to,
                actor: &ctx.actor,
                message: &message,
                reason: reason.as_deref(),
                lease_owner: Some(ctx.id),
            },
        )
        .await?;
        if moved && let Some(now) = deploys::find(&mut *tx, deploy.id).await? {
            let event = if to == DeployState::Succeeded {
                NotificationEvent::Succeeded
            } else {
                NotificationEvent::Failed
            };
            notifications::notify_in(&mut tx, event, &now, &ctx.actor, &message).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(moved)
    }
    .await;
    match stored {
        Ok(true) => {
            metrics::counter!("slipway_deploys_finished_total", "state" => to.as_str())
                .increment(1);
            if to == DeployState::Succeeded {
                tracing::info!("deploy succeeded");
            } else {
                tracing::warn!(reason = %message, "deploy failed");
            }
        }
        Ok(false) => tracing::warn!("the deploy moved on without this worker (lease lost)"),
        Err(err) => {
            tracing::warn!(error = %err, "could not record the deploy's end; it will be taken over")
        }
    }
}

fn failed(from: DeployState, reason: impl Into<String>) -> Outcome {
    Outcome::Failed {
        from,
        reason: reason.into(),
    }
}

fn db_lost(err: sqlx::Error) -> Outcome {
    Outcome::Interrupted(format!("database error: {err}"))
}

/// Applies the stored manifests and waits for the rollout; `state` follows the deploy.
async fn execute(ctx: &Context, deploy: &Deploy, state: &mut DeployState) -> Outcome {
    match execute_steps(ctx, deploy, state).await {
        Ok(outcome) => outcome,
        Err(Step::Db(err)) => db_lost(err),
        // Which cluster, once there are several, is half of what went wrong.
        Err(Step::Cluster(err)) => failed(*state, format!("cluster `{}`: {err}", deploy.cluster)),
        Err(Step::Fail(reason)) => failed(*state, reason),
        Err(Step::LeaseLost) => Outcome::Interrupted("the lease was lost".into()),
    }
}

enum Step {
    Db(sqlx::Error),
    Cluster(ClusterError),
    Fail(String),
    LeaseLost,
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Step::Db(e)
    }
}

impl From<ClusterError> for Step {
    fn from(e: ClusterError) -> Self {
        Step::Cluster(e)
    }
}

async fn execute_steps(
    ctx: &Context,
    deploy: &Deploy,
    state: &mut DeployState,
) -> Result<Outcome, Step> {
    let retry = ctx.config.retry;
    let environment = environments::find(&ctx.db, deploy.environment_id)
        .await?
        .ok_or_else(|| Step::Fail("its environment no longer exists".into()))?;
    let documents = deploys::documents(&ctx.db, deploy.id).await?;
    if sha256_hex(&documents.manifests) != deploy.manifests_hash {
        return Err(Step::Fail(
            "the stored manifests do not match their hash; request the deploy again".into(),
        ));
    }
    let manifests = apply::parse_manifests(&documents.manifests, &deploy.namespace)?;
    check_approvals(ctx, deploy, &environment, &manifests).await?;
    if environment.cluster != deploy.cluster {
        return Err(Step::Fail(format!(
            "{} now targets cluster `{}`, but this deploy was planned (and approved) for cluster `{}`; request it again",
            environment.name, environment.cluster, deploy.cluster
        )));
    }
    let client = ctx.client(&deploy.cluster).await.map_err(Step::Fail)?;
    let target = Target {
        deploy_id: deploy.id,
        team: deploy.team.clone(),
        service: deploy.service.clone(),
        environment: deploy.environment.clone(),
        namespace: deploy.namespace.clone(),
    };

    // The registry and the reserved list again, as they are now: the namespace
    // was checked when the deploy was requested, and the lists may have changed.
    if let Err(why) = tenancy::check_owner(
        &ctx.db,
        &target.namespace,
        &target.team,
        &target.environment,
    )
    .await?
    {
        return Err(Step::Fail(why));
    }
    if apply::ensure_namespace(&client, &target, retry).await? {
        note(
            ctx,
            deploy,
            *state,
            &format!("created namespace {}", target.namespace),
        )
        .await?;
    }
    // The environment's quota, kept in the namespace before anything runs there.
    let quota = crate::domain::quotas::for_render(
        &crate::store::environment_quotas::find(&ctx.db, environment.id).await?,
    );
    apply::apply_namespace_quota(
        &client,
        &target.namespace,
        crate::render::quota::resource_quota(
            &quota,
            &target.namespace,
            &target.team,
            &target.environment,
        )
        .as_ref(),
        crate::render::quota::limit_range(
            &quota,
            &target.namespace,
            &target.team,
            &target.environment,
        )
        .as_ref(),
        retry,
    )
    .await?;
    if environment.block_on_missing_secrets {
        let missing = preflight::missing_secrets(&client, &target, &manifests, retry).await?;
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
            return Err(Step::Fail(format!(
                "missing Secrets in namespace {}: {} ({} blocks deploys with missing secrets; create them, then deploy again)",
                target.namespace,
                list.join(", "),
                environment.name
            )));
        }
    }

    let diff = diff::dry_run_diff(&client, &target, &manifests, retry).await?;
    if !deploys::set_diff(&ctx.db, deploy.id, ctx.id, &diff).await? {
        return Err(Step::LeaseLost);
    }
    let changed = diff.matches("\n+++ ").count() + usize::from(diff.starts_with("+++ "));
    note(
        ctx,
        deploy,
        *state,
        &if diff.is_empty() {
            "dry run: nothing changes".to_owned()
        } else {
            format!("dry run: {changed} objects change")
        },
    )
    .await?;

    fence(ctx, deploy).await?;
    // Events from this moment on are this deploy's (a few seconds of slack
    // for the cluster's clock).
    let since = jiff::Timestamp::now().as_second() - 5;
    let applied = apply::apply_all(&client, &target, &manifests, retry).await?;
    note(
        ctx,
        deploy,
        *state,
        &format!("applied {} objects: {}", applied.len(), applied.join(", ")),
    )
    .await?;
    fence(ctx, deploy).await?;
    let pruned = apply::prune(&client, &target, &manifests, retry).await?;
    if !pruned.is_empty() {
        note(
            ctx,
            deploy,
            *state,
            &format!("pruned {}", pruned.join(", ")),
        )
        .await?;
    }

    let to = next(*state, DeployEvent::Applied).map_err(|e| Step::Fail(e.to_string()))?;
    let mut tx = ctx.db.begin().await?;
    let moved = deploys::transition(
        &mut tx,
        &Transition {
            id: deploy.id,
            from: *state,
            to,
            actor: &ctx.actor,
            message: "waiting for the rollout",
            reason: None,
            lease_owner: Some(ctx.id),
        },
    )
    .await?;
    tx.commit().await?;
    if !moved {
        return Err(Step::LeaseLost);
    }
    *state = to;

    let outcome = match rollout::wait(
        &client,
        &target,
        &manifests,
        ctx.config
            .rollout
            .for_environment(environment.production_rules),
        retry,
    )
    .await?
    {
        Rollout::Complete(summary) => Outcome::Succeeded(summary),
        Rollout::Failed(reason) => failed(*state, reason),
    };
    keep_cluster_events(ctx, deploy, &client, &target, &manifests, since, retry).await?;
    Ok(outcome)
}

/// Copies the events of the deploy's objects into its record. Not being able
/// to read them is noted on the timeline and does not change the outcome.
async fn keep_cluster_events(
    ctx: &Context,
    deploy: &Deploy,
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    since: i64,
    retry: RetryPolicy,
) -> Result<(), Step> {
    match events::of_deploy(client, target, manifests, since, retry).await {
        Ok(found) => {
            cluster_events::record(&ctx.db, deploy.id, &found).await?;
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not read the deploy's events");
            note(
                ctx,
                deploy,
                DeployState::Progressing,
                &format!("could not keep the cluster's events: {err}"),
            )
            .await?;
        }
    }
    Ok(())
}

/// Just before applying: the digest of exactly what is about to be sent must
/// be the deploy's, and — under the environment's policy as it is now — enough
/// approvals of that digest must come from users who are eligible now (still
/// administrators or in an approver team, not the requester, the revision's
/// author or the pusher). Anything else fails the deploy with a reason that
/// says which check did not hold.
async fn check_approvals(
    ctx: &Context,
    deploy: &Deploy,
    environment: &environments::Environment,
    manifests: &[apply::Manifest],
) -> Result<(), Step> {
    let values: Vec<serde_json::Value> = manifests.iter().map(|m| m.value.clone()).collect();
    let digest = plan::content_digest(&deploy.namespace, &values);
    if digest != deploy.content_digest {
        return Err(Step::Fail(format!(
            "the manifests about to be applied (digest {}) are not the ones rendered for this deploy (digest {}); refusing to apply",
            plan::short(&digest),
            plan::short(&deploy.content_digest)
        )));
    }
    let required = usize::try_from(environment.approvals_required).unwrap_or(0);
    if required == 0 {
        return Ok(());
    }
    let parties = policy::Parties::of(deploy);
    let mut valid = 0;
    let mut not_counted = Vec::new();
    for approver in approvals::approvers_now(&ctx.db, deploy.id).await? {
        let standing = policy::Standing::now(&approver);
        if approver.digest != digest {
            not_counted.push(format!(
                "{} approved digest {}",
                approver.email,
                plan::short(&approver.digest)
            ));
        } else if let Err(why) =
            policy::may_approve(&standing, &policy::Approvers::of(environment), &parties)
        {
            not_counted.push(format!("{}: {why}", approver.email));
        } else {
            valid += 1;
        }
    }
    if valid < required {
        let detail = if not_counted.is_empty() {
            String::new()
        } else {
            format!(" (not counted: {})", not_counted.join("; "))
        };
        return Err(Step::Fail(format!(
            "{} requires {required} approvals of exactly what is applied (digest {}); {valid} valid{detail}",
            environment.name,
            plan::short(&digest)
        )));
    }
    Ok(())
}

async fn note(
    ctx: &Context,
    deploy: &Deploy,
    state: DeployState,
    message: &str,
) -> Result<(), Step> {
    deploys::note(&ctx.db, deploy.id, state, &ctx.actor, message).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_renews_well_within_the_lease() {
        let c = WorkerConfig::default();
        assert!(c.heartbeat * 3 <= c.lease);
    }

    #[test]
    fn a_cut_off_worker_gives_its_lease_up_before_it_can_expire() {
        let c = WorkerConfig::default();
        assert_eq!(lost_after(&c), Duration::from_secs(10));
        assert!(lost_after(&c) + c.heartbeat < c.lease);
    }
}
