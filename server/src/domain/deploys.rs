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
use tracing::instrument;

pub use crate::deploy_model::{Decision, DeployState, Trigger};
use crate::deployer::{DeployEvent, next, sha256_hex};
use crate::domain::namespaces;
use crate::error::{AppError, ResultExt as _};
use crate::render::{self, RenderContext};
use crate::spec::{self, names};
use crate::store::audit::Actor;
use crate::store::deploys::{self as deploys, Deploy, Filter, NewDeploy, Transition};
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
}

impl DeployRequest {
    /// A request of the current revision.
    pub fn of(environment: &str, image: &str) -> Self {
        DeployRequest {
            environment: environment.to_owned(),
            image: image.to_owned(),
            revision: None,
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

/// Requests a deploy: checks the environment, revision and image, renders the
/// revision for the environment, stores the manifests and their hash and routes
/// the deploy to approval or the queue — all in one transaction. The caller has
/// checked `policy::can_request_deploy`. A webhook deploy of a pinned service is
/// refused with a conflict that says so.
#[instrument(skip_all, fields(deploy.id, service = %service.name, environment = %request.environment))]
pub async fn request(
    db: &PgPool,
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
    let id = create_in(&mut tx, service, &environment, actor, &origin, request).await?;
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

/// [`request`] inside the caller's transaction (a webhook records its
/// delivery in the same one); returns the new deploy's id. Nothing is written
/// when it fails, as long as the caller rolls back.
pub async fn create_in(
    conn: &mut PgConnection,
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
    let yaml = manifests.to_yaml();
    deploys::set_manifests(&mut *tx, id, &yaml, &sha256_hex(&yaml)).await?;
    let deploy = deploys::find(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let message = match rollback_of {
        Some(of) => format!(
            "rollback to deploy #{of}: rendered {} objects",
            manifests.len()
        ),
        None => format!("rendered {} objects", manifests.len()),
    };
    let to = move_deploy(
        &mut *tx,
        &deploy,
        DeployEvent::Validated {
            needs_approval: environment.requires_approval,
        },
        &actor.name,
        &message,
        None,
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
               "commit": commit.sha}),
    )
    .await?;
    tracing::info!(state = %to, image, revision = revision.number, "deploy requested");
    Ok(id)
}

/// What the approver saw when deciding; when given, it must still be the deploy's.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The revision hash shown to the approver.
    pub revision_hash: Option<String>,
    /// The image shown to the approver.
    pub image: Option<String>,
}

/// Records an approval or rejection of a deploy awaiting approval, bound to its
/// exact revision hash and image, and moves it to `queued` or `rejected`. The
/// caller has checked `policy::can_approve`; the requester is refused here too.
#[instrument(skip_all, fields(deploy.id = deploy_id, service, environment))]
pub async fn decide(
    db: &PgPool,
    deploy_id: i64,
    approver: &Actor,
    decision: Decision,
    comment: &str,
    seen: &Seen,
) -> Result<Deploy, AppError> {
    let user_id = approver
        .user_id
        .ok_or(AppError::Forbidden("only a person may approve deploys"))?;
    let mut tx = db.begin().await?;
    let deploy = deploys::find(&mut *tx, deploy_id)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::Span::current()
        .record("service", deploy.service.as_str())
        .record("environment", deploy.environment.as_str());
    if deploy.requested_by_id == Some(user_id) {
        return Err(AppError::Forbidden(
            "the requester may not approve their own deploy",
        ));
    }
    let stale = seen
        .revision_hash
        .as_deref()
        .is_some_and(|h| !h.is_empty() && h != deploy.revision_hash)
        || seen
            .image
            .as_deref()
            .is_some_and(|i| !i.is_empty() && i != deploy.image);
    if stale {
        return Err(AppError::Conflict(format!(
            "Deploy #{} is not the revision and image you reviewed; look at it again.",
            deploy.id
        )));
    }
    let comment = comment.trim();
    approvals::insert(
        &mut *tx,
        &approvals::NewApproval {
            deploy_id,
            user_id,
            approver: &approver.name,
            decision,
            comment,
            revision_hash: &deploy.revision_hash,
            image: &deploy.image,
        },
    )
    .await
    .on_constraint(approvals::ONE_DECISION_PER_USER, || {
        AppError::Conflict(format!("You already decided on deploy #{deploy_id}."))
    })?;
    let (event, message, reason) = match decision {
        Decision::Approve => (
            DeployEvent::Approved,
            format!("approved by {}", approver.name),
            None,
        ),
        Decision::Reject => (
            DeployEvent::Rejected,
            format!("rejected by {}", approver.name),
            Some(if comment.is_empty() {
                format!("rejected by {}", approver.name)
            } else {
                format!("rejected by {}: {comment}", approver.name)
            }),
        ),
    };
    let message = if comment.is_empty() {
        message
    } else {
        format!("{message}: {comment}")
    };
    let to = move_deploy(
        &mut tx,
        &deploy,
        event,
        &approver.name,
        &message,
        reason.as_deref(),
    )
    .await?;
    store::audit::record(
        &mut *tx,
        approver,
        match decision {
            Decision::Approve => actions::APPROVE,
            Decision::Reject => actions::REJECT,
        },
        &deploy.service_path(),
        json!({"deploy": deploy_id, "environment": deploy.environment,
               "revision_hash": deploy.revision_hash, "image": deploy.image, "state": to.as_str()}),
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
pub async fn rollback(db: &PgPool, target: &Deploy, actor: &Actor) -> Result<Deploy, AppError> {
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
    };
    let origin = Origin {
        trigger: Trigger::Rollback,
        rollback_of: Some(target.id),
        commit: None,
    };
    let mut tx = db.begin().await?;
    let id = create_in(&mut tx, &service, &environment, actor, &origin, &request).await?;
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
    let latest_ok = deploys::list(
        db,
        &Filter {
            service_id: Some(deploy.service_id),
            environment: Some(deploy.environment.clone()),
            state: Some(DeployState::Succeeded),
            limit: 1,
            ..Filter::default()
        },
    )
    .await?
    .into_iter()
    .next();
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
        assert_eq!(supersedable(), ["awaiting_approval", "queued"]);
    }
}
