//! Deploys as business actions: requesting one (validate, render, store and
//! route it), deciding on approvals, rolling back, the rollback a deploy's page
//! offers, and pins. The portal, the API and (next) webhooks call these; the
//! worker in `deployer/` applies what they queue.
//!
//! Each action checks its input, then moves the deploy with the pure state
//! machine (`deployer::state::next`) and writes its audit entry, all in one
//! transaction.

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tracing::instrument;

use crate::auth::{CurrentUser, policy};
use crate::cluster;
use crate::deploy_model::NotificationEvent;
pub use crate::deploy_model::{Decision, DeployState, Trigger};
use crate::deployer::{DeployEvent, next, sha256_hex};
use crate::domain::{freeze, grants, namespaces, notifications, plans};
use crate::error::{AppError, ResultExt as _};
use crate::plan;
use crate::render::{self, RenderContext};
use crate::spec::{self, names};
use crate::store::audit::Actor;
use crate::store::deploys::{self as deploys, Deploy, NewDeploy, Transition};
use crate::store::environments::Environment;
use crate::store::services::Service;
use crate::store::{self, approvals, pins};

/// Audit actions written here.
pub mod actions {
    /// A deploy was requested.
    pub const REQUEST: &str = "deploy.request";
    /// A rollback was requested.
    pub const ROLLBACK: &str = "deploy.rollback";
    /// An approver approved.
    pub const APPROVE: &str = "deploy.approve";
    /// An approver rejected.
    pub const REJECT: &str = "deploy.reject";
    /// A pin was ended.
    pub const UNPIN: &str = "deploy.unpin";
    /// An administrator released a held deploy before its freeze ended.
    pub const RELEASE: &str = "deploy.release";
}

/// The commit a webhook deploy came from (empty for a person's request).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitInfo {
    /// Full sha.
    pub sha: String,
    /// Commit message.
    pub message: String,
    /// Its author.
    pub author: String,
    /// Who pushed it.
    pub pusher: String,
    /// The pusher's email, when the provider sent one.
    pub pusher_email: String,
    /// A link comparing the push's before and after.
    pub compare_url: String,
}

/// What a person (or a webhook) asks to deploy.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    /// Environment name.
    pub environment: String,
    /// Image reference.
    pub image: String,
    /// Revision number; the service's current revision when `None`.
    pub revision: Option<i32>,
    /// An administrator's written reason to request despite a failing
    /// readiness checklist or a freeze window (`policy::can_override_policy`).
    pub override_reason: Option<String>,
}

impl DeployRequest {
    /// A request of the current revision.
    pub fn of(environment: &str, image: &str) -> Self {
        DeployRequest {
            environment: environment.to_owned(),
            image: image.to_owned(),
            revision: None,
            override_reason: None,
        }
    }
}

/// States a newly queued deploy supersedes: those the state machine lets go to `superseded`.
fn supersedable() -> Vec<&'static str> {
    DeployState::ALL
        .into_iter()
        .filter(|s| next(*s, DeployEvent::Superseded).is_ok())
        .map(DeployState::as_str)
        .collect()
}

/// Moves a deploy on by `event` inside the caller's transaction, checking the
/// move with the state machine; a deploy that moved meanwhile is a conflict.
async fn move_deploy(
    conn: &mut PgConnection,
    deploy: &Deploy,
    event: DeployEvent,
    actor: &str,
    message: &str,
    reason: Option<&str>,
) -> Result<DeployState, AppError> {
    let to = next(deploy.state, event).map_err(|e| {
        AppError::Conflict(format!(
            "Deploy #{} is {}; {e}.",
            deploy.id,
            deploy.state.label()
        ))
    })?;
    let moved = deploys::transition(
        conn,
        &Transition {
            id: deploy.id,
            from: deploy.state,
            to,
            actor,
            message,
            reason,
            lease_owner: None,
        },
    )
    .await?;
    if !moved {
        return Err(AppError::Conflict(format!(
            "Deploy #{} changed meanwhile; reload and try again.",
            deploy.id
        )));
    }
    if to == DeployState::Queued {
        store::deploy_leases::announce_queued(&mut *conn).await?;
        deploys::supersede_older(
            conn,
            deploy.service_id,
            deploy.environment_id,
            deploy.id,
            &supersedable(),
            actor,
        )
        .await?;
    }
    Ok(to)
}

/// What an action that creates or moves deploys needs besides the database:
/// the cluster (for the plan's dry run) and the time (injected in tests, so
/// deadlines and freeze windows are checked without sleeping).
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The managed cluster.
    pub clusters: &'a cluster::Fleet,
    /// Now.
    pub now: OffsetDateTime,
}

impl<'a> Context<'a> {
    /// The context at the current time.
    pub fn now(clusters: &'a cluster::Fleet) -> Self {
        Context {
            clusters,
            now: OffsetDateTime::now_utc(),
        }
    }
}

/// Requests a deploy: checks the environment, revision and image, renders the
/// revision for the environment, applies the environment's policy (images by
/// digest, the readiness checklist, freeze windows), computes the plan of a
/// deploy that will wait for approvals, stores the manifests, their digest and
/// the plan, and routes the deploy to `held`, approval or the queue — all in
/// one transaction. The caller has checked `policy::can_request_deploy` (and
/// `policy::can_override_policy` when the request carries an override). A
/// webhook deploy of a pinned service is refused with a conflict that says so.
#[instrument(skip_all, fields(deploy.id, service = %service.name, environment = %request.environment))]
pub async fn request(
    db: &PgPool,
    clusters: &cluster::Fleet,
    service: &Service,
    actor: &Actor,
    trigger: Trigger,
    request: &DeployRequest,
) -> Result<Deploy, AppError> {
    let environment = store::environments::find_by_name(db, request.environment.trim())
        .await?
        .ok_or_else(|| AppError::invalid("environment", "no such environment"))?;
    let mut tx = db.begin().await?;
    let origin = Origin {
        trigger,
        rollback_of: None,
        commit: None,
    };
    let context = Context::now(clusters);
    let id = create_in(
        &mut tx,
        &context,
        service,
        &environment,
        actor,
        &origin,
        request,
    )
    .await?;
    tx.commit().await?;
    deploys::find(db, id).await?.ok_or(AppError::NotFound)
}

/// How a deploy came about, beyond who asked.
#[derive(Clone, Debug)]
pub struct Origin<'a> {
    /// A person, a webhook, a rollback.
    pub trigger: Trigger,
    /// For a rollback: the deploy it restores (and pins).
    pub rollback_of: Option<i64>,
    /// For a webhook: the pushed commit.
    pub commit: Option<&'a CommitInfo>,
}

/// The images of `manifests` that are not pinned by digest.
fn unpinned_images(manifests: &[cluster::apply::Manifest]) -> Vec<String> {
    let values: Vec<serde_json::Value> = manifests.iter().map(|m| m.value.clone()).collect();
    let mut unpinned: Vec<String> = plan::ManifestFacts::of(&values)
        .images
        .into_iter()
        .map(|i| i.image)
        .filter(|i| !plan::is_pinned_by_digest(i))
        .collect();
    unpinned.dedup();
    unpinned
}

/// The request's checklist against the environment's policy: its failures
/// block unless an administrator overrode them with a reason.
fn check_checklist(
    environment: &Environment,
    checklist: &mut plan::ChecklistState,
    request: &DeployRequest,
    actor: &Actor,
) -> Result<Option<String>, AppError> {
    let failures: Vec<String> = checklist
        .failures()
        .iter()
        .map(|f| format!("{}: {}", f.id, f.message))
        .collect();
    if !environment.checklist_must_pass || failures.is_empty() {
        return Ok(None);
    }
    let reason = request
        .override_reason
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if reason.is_empty() {
        return Err(AppError::invalid(
            "checklist",
            format!(
                "{} requires the readiness checklist to pass; failing: {} (an administrator may override with a written reason)",
                environment.name,
                failures.join("; ")
            ),
        ));
    }
    checklist.override_reason = Some(reason.to_owned());
    checklist.overridden_by = Some(actor.name.clone());
    Ok(Some(format!(
        "checklist failures overridden by {}: {reason} (failing: {})",
        actor.name,
        failures.join("; ")
    )))
}

/// [`request`] inside the caller's transaction (a webhook records its
/// delivery in the same one); returns the new deploy's id. Nothing is written
/// when it fails, as long as the caller rolls back.
pub async fn create_in(
    conn: &mut PgConnection,
    context: &Context<'_>,
    service: &Service,
    environment: &Environment,
    actor: &Actor,
    origin: &Origin<'_>,
    request: &DeployRequest,
) -> Result<i64, AppError> {
    let (trigger, rollback_of) = (origin.trigger, origin.rollback_of);
    let image = request.image.trim();
    if image.is_empty() {
        return Err(AppError::invalid("image", "required"));
    }
    names::image(image).map_err(|why| AppError::invalid("image", why))?;
    let number = request.revision.unwrap_or(service.current_revision);
    let revision = store::services::revision(&mut *conn, service.id, number)
        .await?
        .ok_or_else(|| AppError::invalid("revision", format!("there is no revision {number}")))?;
    let spec = spec::from_json_value(revision.spec.clone())
        .map_err(|errors| AppError::invalid_fields(errors, "revision"))?;
    let namespace = namespaces::namespace_in(environment, &service.team, &service.name)
        .map_err(|why| AppError::invalid("environment", format!("namespace pattern {why}")))?;
    if trigger == Trigger::Webhook
        && let Some(pin) = pins::active_pin(&mut *conn, service.id, environment.id).await?
    {
        return Err(AppError::Conflict(format!(
            "{}/{} is pinned in {} since {} rolled back (deploy #{}); automatic deploys are held until someone unpins it.",
            service.team,
            service.name,
            environment.name,
            pin.pinned_by,
            pin.deploy_id.unwrap_or_default()
        )));
    }

    let tx = conn;
    deploys::lock_pair(&mut *tx, service.id, environment.id).await?;
    // The namespace becomes (or already is) this pair's in the same transaction.
    super::tenancy::claim_in(
        &mut *tx,
        &namespace,
        &service.team,
        environment.id,
        &environment.name,
    )
    .await?;
    let no_commit = CommitInfo::default();
    let commit = origin.commit.unwrap_or(&no_commit);
    let id = deploys::insert(
        &mut *tx,
        &NewDeploy {
            service_id: service.id,
            environment_id: environment.id,
            revision: revision.number,
            revision_id: revision.id,
            revision_hash: &revision.hash,
            image,
            namespace: &namespace,
            trigger,
            requested_by_id: actor.user_id,
            requested_by: &actor.name,
            rollback_of,
            commit_sha: &commit.sha,
            commit_message: &commit.message,
            commit_author: &commit.author,
            pusher: &commit.pusher,
            compare_url: &commit.compare_url,
            pusher_email: &commit.pusher_email,
            revision_author_id: revision.author_id,
        },
    )
    .await?;
    tracing::Span::current().record("deploy.id", id);
    let ctx = RenderContext {
        environment: environment.name.clone(),
        namespace: namespace.clone(),
        team: service.team.clone(),
        image: Some(image.to_owned()),
        revision: Some(i64::from(revision.number)),
        deploy_id: Some(id.to_string()),
    };
    // A render failure rolls the whole request back: nothing half-made is stored.
    let manifests = render::render(&spec, &ctx).map_err(|e| match e {
        render::RenderError::InvalidSpec(errors) => AppError::invalid_fields(errors, "revision"),
        context => AppError::from(context),
    })?;
    // Hosts, annotations and exposure against the team's grants in this
    // environment, and the service's (host, path) claims, in this transaction.
    grants::claim_hosts_in(&mut *tx, service, environment, id, &spec).await?;
    let yaml = manifests.to_yaml();
    // The digest is computed from the objects exactly as the worker will read
    // them back and send them.
    let parsed = cluster::apply::parse_manifests(&yaml, &namespace)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendered manifests unreadable: {e}")))?;
    if environment.require_image_digest {
        let unpinned = unpinned_images(&parsed);
        if !unpinned.is_empty() {
            return Err(AppError::invalid(
                "image",
                format!(
                    "{} requires images pinned by digest (name@sha256:<64 hex>); not pinned: {}",
                    environment.name,
                    unpinned.join(", ")
                ),
            ));
        }
    }
    // The environment's LimitRange, if any: a container over its maximum would
    // be refused pod by pod by the API server; refuse the request instead.
    let quota = super::quotas::for_render(
        &store::environment_quotas::find(&mut *tx, environment.id).await?,
    );
    let over = render::quota::over_max(
        &quota,
        &parsed.iter().map(|m| m.value.clone()).collect::<Vec<_>>(),
        crate::spec::defaults::APP_CONTAINER,
        &spec
            .spec
            .sidecars
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
        &spec
            .spec
            .init_containers
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>(),
        &environment.name,
    );
    if !over.is_empty() {
        return Err(AppError::Invalid(over));
    }
    let mut checklist = plan::ChecklistState::of(&render::checklist::check(
        &spec,
        &ctx,
        render::checklist::Rules::production_if(environment.production_rules),
    ));
    let checklist_override = check_checklist(environment, &mut checklist, request, actor)?;
    let values: Vec<serde_json::Value> = parsed.iter().map(|m| m.value.clone()).collect();
    let digest = plan::content_digest(&namespace, &values);
    deploys::set_manifests(&mut *tx, id, &yaml, &sha256_hex(&yaml), &digest).await?;
    let deploy = deploys::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if environment.requires_approval() {
        let plan = plans::compute(&mut *tx, context.clusters, &deploy, &parsed, checklist).await?;
        if environment.block_on_missing_secrets && !plan.wiring.missing.is_empty() {
            return Err(AppError::invalid(
                "secrets",
                format!(
                    "missing in namespace {namespace}: {} ({} blocks deploys with missing secrets; write them first)",
                    plan.wiring.missing.join(", "),
                    environment.name
                ),
            ));
        }
        plans::store(&mut *tx, &deploy, &plan).await?;
    }
    if let Some(note) = &checklist_override {
        deploys::note(&mut *tx, id, DeployState::Requested, &actor.name, note).await?;
    }
    let message = match rollback_of {
        Some(of) => format!(
            "rollback to deploy #{of}: rendered {} objects",
            manifests.len()
        ),
        None => format!("rendered {} objects", manifests.len()),
    };
    let to = route(
        &mut *tx,
        context,
        &deploy,
        environment,
        request,
        &actor.name,
        &message,
    )
    .await?;
    if let Some(of) = rollback_of {
        pins::pin(
            &mut *tx,
            service.id,
            environment.id,
            id,
            &actor.name,
            &format!("rolled back to deploy #{of}"),
        )
        .await?;
    }
    store::audit::record(
        &mut *tx,
        actor,
        if rollback_of.is_some() {
            actions::ROLLBACK
        } else {
            actions::REQUEST
        },
        &format!("{}/{}", service.team, service.name),
        json!({"deploy": id, "environment": environment.name, "revision": revision.number,
               "image": image, "trigger": trigger.as_str(), "state": to.as_str(),
               "commit": commit.sha, "digest": digest,
               "checklist_override": checklist_override}),
    )
    .await?;
    tracing::info!(state = %to, image, revision = revision.number, "deploy requested");
    Ok(id)
}

/// Moves a just-rendered deploy on: inside a freeze window into `held` (or
/// refused, as the environment says; an administrator's override goes ahead,
/// recorded), else into `awaiting_approval` (with its decision deadline) or
/// the queue.
async fn route(
    conn: &mut PgConnection,
    context: &Context<'_>,
    deploy: &Deploy,
    environment: &Environment,
    request: &DeployRequest,
    actor: &str,
    message: &str,
) -> Result<DeployState, AppError> {
    if let Some(freeze) = freeze::active_freeze(&mut *conn, environment.id, context.now).await? {
        let until = format_utc(freeze.ends_at);
        let reason = request
            .override_reason
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        if !reason.is_empty() {
            deploys::note(
                &mut *conn,
                deploy.id,
                deploy.state,
                actor,
                &format!(
                    "freeze window overridden by {actor}: {reason} ({} until {until}: {})",
                    freeze.label, freeze.reason
                ),
            )
            .await?;
        } else if environment.refuses_in_freeze() {
            return Err(AppError::invalid(
                "environment",
                format!(
                    "{} is frozen until {until} ({}: {}); deploys are refused meanwhile (an administrator may override with a written reason)",
                    environment.name, freeze.label, freeze.reason
                ),
            ));
        } else {
            let to = move_deploy(
                &mut *conn,
                deploy,
                DeployEvent::Frozen,
                actor,
                &format!(
                    "{message}; held until {until} by the freeze window {} ({})",
                    freeze.label, freeze.reason
                ),
                None,
            )
            .await?;
            deploys::set_deadlines(&mut *conn, deploy.id, None, Some(freeze.ends_at)).await?;
            return Ok(to);
        }
    }
    let to = move_deploy(
        &mut *conn,
        deploy,
        DeployEvent::Validated {
            needs_approval: environment.requires_approval(),
        },
        actor,
        message,
        None,
    )
    .await?;
    after_entering(conn, context, deploy.id, to, environment, actor).await?;
    Ok(to)
}

/// `2026-12-24 08:00 UTC`: deadlines and freeze ends in timeline messages.
pub(crate) fn format_utc(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// What comes with entering a state: a deploy entering `awaiting_approval`
/// gets its decision deadline and its approvers are notified.
async fn after_entering(
    conn: &mut PgConnection,
    context: &Context<'_>,
    id: i64,
    state: DeployState,
    environment: &Environment,
    actor: &str,
) -> Result<(), AppError> {
    if state == DeployState::AwaitingApproval {
        let deadline =
            context.now + time::Duration::hours(i64::from(environment.approval_ttl_hours));
        deploys::set_deadlines(&mut *conn, id, Some(deadline), None).await?;
        notify(conn, id, NotificationEvent::AwaitingApproval, actor, "").await?;
    }
    Ok(())
}

/// Queues the notifications of `event` about deploy `id` as it is now, in the
/// caller's transaction.
pub(crate) async fn notify(
    conn: &mut PgConnection,
    id: i64,
    event: NotificationEvent,
    actor: &str,
    message: &str,
) -> Result<(), AppError> {
    if let Some(deploy) = deploys::find(&mut *conn, id).await? {
        notifications::notify_in(conn, event, &deploy, actor, message).await?;
    }
    Ok(())
}

/// Moves a held deploy on when its freeze ended: into `awaiting_approval` or
/// the queue, as the environment says now. Still frozen (a window chained on,
/// or a new one): its hold is extended. False when it was not held or not due.
pub async fn release_held(db: &PgPool, context: &Context<'_>, id: i64) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let Some(deploy) = deploys::lock(&mut tx, id).await? else {
        return Ok(false);
    };
    if deploy.state != DeployState::Held || deploy.held_until.is_none_or(|t| t > context.now) {
        return Ok(false);
    }
    let environment = store::environments::find(&mut *tx, deploy.environment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(freeze) = freeze::active_freeze(&mut *tx, environment.id, context.now).await? {
        deploys::set_deadlines(&mut *tx, id, None, Some(freeze.ends_at)).await?;
        deploys::note(
            &mut *tx,
            id,
            deploy.state,
            "slipway",
            &format!(
                "still frozen: held until {} ({})",
                format_utc(freeze.ends_at),
                freeze.label
            ),
        )
        .await?;
        tx.commit().await?;
        return Ok(false);
    }
    release(
        &mut tx,
        context,
        &deploy,
        &environment,
        "slipway",
        "the freeze window ended",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Moves a held deploy on to approval or the queue, in the caller's transaction.
async fn release(
    conn: &mut PgConnection,
    context: &Context<'_>,
    deploy: &Deploy,
    environment: &Environment,
    actor: &str,
    message: &str,
) -> Result<DeployState, AppError> {
    let to = move_deploy(
        &mut *conn,
        deploy,
        DeployEvent::Released {
            needs_approval: environment.requires_approval(),
        },
        actor,
        message,
        None,
    )
    .await?;
    deploys::set_deadlines(&mut *conn, deploy.id, None, None).await?;
    after_entering(conn, context, deploy.id, to, environment, actor).await?;
    Ok(to)
}

/// An administrator's emergency release of a held deploy before its freeze
/// window ends, with a written reason kept on the timeline and in the audit
/// log. The caller has checked `policy::can_override_policy`. The deploy then
/// goes through the environment's approvals like any other.
#[instrument(skip_all, fields(deploy.id = id))]
pub async fn release_now(
    db: &PgPool,
    context: &Context<'_>,
    id: i64,
    actor: &Actor,
    reason: &str,
) -> Result<Deploy, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid(
            "reason",
            "an emergency release needs a written reason",
        ));
    }
    let mut tx = db.begin().await?;
    let deploy = deploys::lock(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if deploy.state != DeployState::Held {
        return Err(AppError::Conflict(format!(
            "Deploy #{id} is {}; only a held deploy can be released.",
            deploy.state.label()
        )));
    }
    let environment = store::environments::find(&mut *tx, deploy.environment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let to = release(
        &mut tx,
        context,
        &deploy,
        &environment,
        &actor.name,
        &format!(
            "released from the freeze window by {}: {reason}",
            actor.name
        ),
    )
    .await?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::RELEASE,
        &deploy.service_path(),
        json!({"deploy": id, "environment": deploy.environment, "reason": reason,
               "state": to.as_str()}),
    )
    .await?;
    tx.commit().await?;
    deploys::find(db, id).await?.ok_or(AppError::NotFound)
}

/// What the approver saw when deciding; when given, it must still be the deploy's.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The revision hash shown to the approver.
    pub revision_hash: Option<String>,
    /// The image shown to the approver.
    pub image: Option<String>,
    /// The content digest shown to the approver.
    pub digest: Option<String>,
    /// When the plan shown was computed (RFC 3339), to notice a recomputed plan.
    pub plan_computed_at: Option<String>,
}

impl Seen {
    /// The first thing that no longer matches `deploy`, in words.
    fn mismatch(&self, deploy: &Deploy) -> Option<&'static str> {
        let differs = |seen: &Option<String>, now: &str| {
            seen.as_deref().is_some_and(|s| !s.is_empty() && s != now)
        };
        let computed_at = deploy
            .plan_computed_at
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        if differs(&self.revision_hash, &deploy.revision_hash)
            || differs(&self.image, &deploy.image)
        {
            Some("is not the revision and image you reviewed")
        } else if differs(&self.digest, &deploy.content_digest) {
            Some("does not apply the content you reviewed")
        } else if differs(&self.plan_computed_at, &computed_at) {
            Some("has a newer plan than the one you reviewed")
        } else {
            None
        }
    }
}

/// Records an approval or rejection of a deploy awaiting approval, bound to the
/// digest of its content, and moves it to `queued` once enough eligible
/// approvers approved (or to `rejected` on the first rejection). Who may decide
/// is `policy::can_approve` with the environment's approver teams and the
/// deploy's parties (requester, revision author, pusher), checked here with the
/// deploy row locked, so two deciders at the same instant are serialised: one
/// transition, one apply. An approval is refused while the plan is missing,
/// incomplete or stale, and once the deploy has all the approvals it needs.
#[instrument(skip_all, fields(deploy.id = deploy_id, service, environment))]
pub async fn decide(
    db: &PgPool,
    deploy_id: i64,
    approver: &CurrentUser,
    actor: &Actor,
    decision: Decision,
    comment: &str,
    seen: &Seen,
) -> Result<Deploy, AppError> {
    let mut tx = db.begin().await?;
    let deploy = deploys::lock(&mut tx, deploy_id)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::Span::current()
        .record("service", deploy.service.as_str())
        .record("environment", deploy.environment.as_str());
    let environment = store::environments::find(&mut *tx, deploy.environment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::can_approve(
        approver,
        &policy::Approvers::of(&environment),
        &policy::Parties::of(&deploy),
    )?;
    if deploy.state != DeployState::AwaitingApproval {
        return Err(AppError::Conflict(match (deploy.state, decision) {
            (
                DeployState::Queued | DeployState::Applying | DeployState::Progressing,
                Decision::Approve,
            )
            | (DeployState::Succeeded, Decision::Approve) => format!(
                "Deploy #{} already has the approvals it needs; another approval is superfluous.",
                deploy.id
            ),
            (state, _) => format!(
                "Deploy #{} is {}; there is nothing to decide.",
                deploy.id,
                state.label()
            ),
        }));
    }
    if let Some(what) = seen.mismatch(&deploy) {
        return Err(AppError::Conflict(format!(
            "Deploy #{} {what}; look at it again.",
            deploy.id
        )));
    }
    if decision == Decision::Approve {
        plans::ensure_decidable(&mut tx, &deploy).await?;
    }
    let comment = comment.trim();
    approvals::insert(
        &mut *tx,
        &approvals::NewApproval {
            deploy_id,
            user_id: approver.id,
            approver: &actor.name,
            decision,
            comment,
            revision_hash: &deploy.revision_hash,
            image: &deploy.image,
            digest: &deploy.content_digest,
        },
    )
    .await
    .on_constraint(approvals::ONE_DECISION_PER_USER, || {
        AppError::Conflict(format!("You already decided on deploy #{deploy_id}."))
    })?;
    let with_comment = |m: String| {
        if comment.is_empty() {
            m
        } else {
            format!("{m}: {comment}")
        }
    };
    let to = match decision {
        Decision::Reject => {
            let message = with_comment(format!("rejected by {}", actor.name));
            move_deploy(
                &mut tx,
                &deploy,
                DeployEvent::Rejected,
                &actor.name,
                &message,
                Some(&message),
            )
            .await?
        }
        Decision::Approve => {
            let approved = approvals::approvers_now(&mut *tx, deploy_id)
                .await?
                .into_iter()
                .filter(|a| a.digest == deploy.content_digest)
                .count();
            let required = usize::try_from(environment.approvals_required).unwrap_or(1);
            let message = with_comment(format!(
                "approved by {} ({approved} of {required}, digest {})",
                actor.name,
                plan::short(&deploy.content_digest)
            ));
            if approved >= required {
                move_deploy(
                    &mut tx,
                    &deploy,
                    DeployEvent::Approved,
                    &actor.name,
                    &message,
                    None,
                )
                .await?
            } else {
                deploys::note(&mut *tx, deploy_id, deploy.state, &actor.name, &message).await?;
                deploy.state
            }
        }
    };
    match to {
        DeployState::Queued => {
            notify(
                &mut tx,
                deploy_id,
                NotificationEvent::Approved,
                &actor.name,
                comment,
            )
            .await?;
        }
        DeployState::Rejected => {
            notify(
                &mut tx,
                deploy_id,
                NotificationEvent::Rejected,
                &actor.name,
                comment,
            )
            .await?;
        }
        _ => {}
    }
    store::audit::record(
        &mut *tx,
        actor,
        match decision {
            Decision::Approve => actions::APPROVE,
            Decision::Reject => actions::REJECT,
        },
        &deploy.service_path(),
        json!({"deploy": deploy_id, "environment": deploy.environment,
               "revision_hash": deploy.revision_hash, "image": deploy.image,
               "digest": deploy.content_digest, "comment": comment, "state": to.as_str()}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(state = %to, "deploy {}", decision.as_str());
    deploys::find(db, deploy_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Rolls back to `target`: a new deploy of its revision and image in its
/// environment (the environment's policy applies), which pins the service
/// there so webhooks do not undo it. The caller has checked
/// `policy::can_request_deploy` for the deploy's team.
#[instrument(skip_all, fields(deploy.id = target.id, service = %target.service, environment = %target.environment))]
pub async fn rollback(
    db: &PgPool,
    clusters: &cluster::Fleet,
    target: &Deploy,
    actor: &Actor,
) -> Result<Deploy, AppError> {
    if target.state != DeployState::Succeeded {
        return Err(AppError::Conflict(format!(
            "Deploy #{} is {}; only a deploy that succeeded can be rolled back to.",
            target.id,
            target.state.label()
        )));
    }
    let service = store::services::find(db, &target.team, &target.service)
        .await?
        .ok_or(AppError::NotFound)?;
    let environment = store::environments::find(db, target.environment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let request = DeployRequest {
        environment: environment.name.clone(),
        image: target.image.clone(),
        revision: Some(target.revision),
        override_reason: None,
    };
    let origin = Origin {
        trigger: Trigger::Rollback,
        rollback_of: Some(target.id),
        commit: None,
    };
    let mut tx = db.begin().await?;
    let context = Context::now(clusters);
    let id = create_in(
        &mut tx,
        &context,
        &service,
        &environment,
        actor,
        &origin,
        &request,
    )
    .await?;
    tx.commit().await?;
    deploys::find(db, id).await?.ok_or(AppError::NotFound)
}

/// Ends the pin of a service in an environment; false when it was not pinned.
/// The caller has checked `policy::can_request_deploy`.
#[instrument(skip_all, fields(deploy.id, service = %service.name, environment = %environment))]
pub async fn unpin(
    db: &PgPool,
    service: &Service,
    environment: &str,
    actor: &Actor,
) -> Result<bool, AppError> {
    let env = store::environments::find_by_name(db, environment)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = db.begin().await?;
    let done = pins::unpin(&mut *tx, service.id, env.id, &actor.name).await?;
    if done {
        store::audit::record(
            &mut *tx,
            actor,
            actions::UNPIN,
            &format!("{}/{}", service.team, service.name),
            json!({"environment": env.name}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// A rollback a deploy's page offers: restore `target` (its revision and image).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackOffer {
    /// The deploy to restore.
    pub target: i64,
    /// Its image.
    pub image: String,
    /// Its revision.
    pub revision: i32,
}

/// What rolling back from `deploy` would restore, if anything. A deploy that
/// succeeded: itself, unless it is what runs now, in which case the one before
/// it. A failed deploy: the last good one, when the failure came after it.
/// Deploys still on their way offer nothing.
pub async fn rollback_offer(
    db: &PgPool,
    deploy: &Deploy,
) -> Result<Option<RollbackOffer>, AppError> {
    if !matches!(deploy.state, DeployState::Succeeded | DeployState::Failed) {
        return Ok(None);
    }
    // By environment id: the walk of (service_id, environment_id, id) stops at
    // the newest success; filtering by the environment's name walked every
    // newer deploy of every service (9,000 rows at fleet scale).
    let latest_ok = deploys::latest_succeeded(db, deploy.service_id, deploy.environment_id).await?;
    let target = match latest_ok {
        Some(latest) if latest.id == deploy.id => {
            deploys::previous_succeeded(db, deploy.service_id, deploy.environment_id, deploy.id)
                .await?
        }
        Some(_) if deploy.state == DeployState::Succeeded => Some(deploy.clone()),
        Some(latest) if latest.id < deploy.id => Some(latest),
        _ => None,
    };
    Ok(target.map(|t| RollbackOffer {
        target: t.id,
        image: t.image,
        revision: t.revision,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_deploy_supersedes_queued_and_waiting_ones_only() {
        assert_eq!(supersedable(), ["held", "awaiting_approval", "queued"]);
    }
}
