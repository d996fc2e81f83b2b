//! Deploys: requesting one (validate, render, store), deciding on approvals,
//! rolling back, pins — and the worker that applies queued deploys.
//!
//! The state machine in [`state`] is pure; this module orchestrates `store`,
//! `render` and (in [`worker`]) `cluster` around it. Portal and API share these
//! functions, so both apply the same validation, policy and audit.

pub mod state;
pub mod worker;

use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use tracing::instrument;

pub use state::{DeployEvent, DeployState, TransitionError, next};
pub use worker::{Worker, WorkerConfig};

use crate::error::{AppError, FieldMessage, ResultExt as _};
use crate::render::{self, RenderContext};
use crate::spec::{self, names};
use crate::store::audit::Actor;
use crate::store::deploys::{self as deploys, Deploy, NewDeploy, Transition, Trigger};
use crate::store::environments::Environment;
use crate::store::services::Service;
use crate::store::{self};

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

/// The namespaces every service needs, one per (service, environment) as the
/// environments' patterns give them, without repeats: `(namespace, team, environment)`.
pub async fn service_namespaces(db: &PgPool) -> Result<Vec<(String, String, String)>, AppError> {
    let services = store::services::list_visible(db, None).await?;
    let environments = store::environments::list(db).await?;
    let mut namespaces: Vec<(String, String, String)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for service in &services {
        for environment in &environments {
            // A pattern that gives no valid name is reported when someone deploys.
            if let Ok(namespace) = namespace_for(
                &environment.namespace_pattern,
                &service.team,
                &environment.name,
                &service.name,
            ) && seen.insert(namespace.clone())
            {
                namespaces.push((namespace, service.team.clone(), environment.name.clone()));
            }
        }
    }
    Ok(namespaces)
}

/// Creates the namespaces of [`service_namespaces`] that do not exist, so that
/// on `slipway run`'s local cluster the demo services can be applied (or
/// dry-run with `kubectl`) before their first deploy. Returns those created.
pub async fn prepare_namespaces(
    db: &PgPool,
    client: &kube::Client,
) -> Result<Vec<String>, AppError> {
    let mut created = Vec::new();
    for (namespace, team, environment) in service_namespaces(db).await? {
        if crate::cluster::apply::ensure_team_namespace(
            client,
            &namespace,
            &team,
            &environment,
            crate::cluster::retry::RetryPolicy::default(),
        )
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("namespace {namespace}: {e}")))?
        {
            created.push(namespace);
        }
    }
    Ok(created)
}

/// The placeholders a namespace pattern may use.
pub const NAMESPACE_PLACEHOLDERS: [&str; 3] = ["{team}", "{environment}", "{service}"];

/// The namespace a pattern gives for a service (pure).
pub fn namespace_for(
    pattern: &str,
    team: &str,
    environment: &str,
    service: &str,
) -> Result<String, String> {
    let namespace = pattern
        .replace("{team}", team)
        .replace("{environment}", environment)
        .replace("{service}", service);
    if namespace.contains(['{', '}']) {
        return Err(format!(
            "`{pattern}` has an unknown placeholder; use {}",
            NAMESPACE_PLACEHOLDERS.join(", ")
        ));
    }
    names::dns_label(&namespace).map_err(|why| format!("gives `{namespace}`, which {why}"))?;
    Ok(namespace)
}

/// Checks a namespace pattern: known placeholders only, and a DNS-1123 label for
/// ordinary names (a deploy whose names make it too long fails with a field message).
pub fn check_namespace_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("must not be empty".into());
    }
    namespace_for(pattern, "shop", "staging", "web").map(|_| ())
}

/// sha256 hex of a text.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn field_messages(errors: &[spec::FieldError], prefix: &str) -> Vec<FieldMessage> {
    errors
        .iter()
        .map(|e| FieldMessage {
            path: if e.path.is_empty() {
                prefix.to_owned()
            } else {
                e.path.clone()
            },
            message: e.message.clone(),
        })
        .collect()
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
        deploys::announce_queued(&mut *conn).await?;
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
    create(db, service, &environment, actor, trigger, request, None).await
}

async fn create(
    db: &PgPool,
    service: &Service,
    environment: &Environment,
    actor: &Actor,
    trigger: Trigger,
    request: &DeployRequest,
    rollback_of: Option<i64>,
) -> Result<Deploy, AppError> {
    let image = request.image.trim();
    if image.is_empty() {
        return Err(AppError::invalid("image", "required"));
    }
    names::image(image).map_err(|why| AppError::invalid("image", why))?;
    let number = request.revision.unwrap_or(service.current_revision);
    let revision = store::services::revision(db, service.id, number)
        .await?
        .ok_or_else(|| AppError::invalid("revision", format!("there is no revision {number}")))?;
    let spec = spec::from_json_value(revision.spec.clone())
        .map_err(|errors| AppError::Invalid(field_messages(&errors, "revision")))?;
    let namespace = namespace_for(
        &environment.namespace_pattern,
        &service.team,
        &environment.name,
        &service.name,
    )
    .map_err(|why| AppError::invalid("environment", format!("namespace pattern {why}")))?;
    if trigger == Trigger::Webhook
        && let Some(pin) = deploys::active_pin(db, service.id, environment.id).await?
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

    let mut tx = db.begin().await?;
    deploys::lock_pair(&mut tx, service.id, environment.id).await?;
    let id = deploys::insert(
        &mut tx,
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
        render::RenderError::InvalidSpec(errors) => {
            AppError::Invalid(field_messages(&errors, "revision"))
        }
        render::RenderError::InvalidContext(errors) => {
            AppError::Invalid(field_messages(&errors, "environment"))
        }
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
        &mut tx,
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
        deploys::pin(
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
            "deploy.rollback"
        } else {
            "deploy.request"
        },
        &format!("{}/{}", service.team, service.name),
        json!({"deploy": id, "environment": environment.name, "revision": revision.number,
               "image": image, "trigger": trigger.as_str(), "state": to.as_str()}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(state = %to, image, revision = revision.number, "deploy requested");
    deploys::find(db, id).await?.ok_or(AppError::NotFound)
}

/// An approver's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Let the deploy go to the queue.
    Approve,
    /// Stop it.
    Reject,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
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
    store::deploys::insert_approval(
        &mut *tx,
        &store::deploys::NewApproval {
            deploy_id,
            user_id,
            approver: &approver.name,
            decision: decision.as_str(),
            comment,
            revision_hash: &deploy.revision_hash,
            image: &deploy.image,
        },
    )
    .await
    .on_constraint(store::deploys::APPROVAL_UNIQUE, || {
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
            Decision::Approve => "deploy.approve",
            Decision::Reject => "deploy.reject",
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
    create(
        db,
        &service,
        &environment,
        actor,
        Trigger::Rollback,
        &request,
        Some(target.id),
    )
    .await
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
    let done = deploys::unpin(&mut *tx, service.id, env.id, &actor.name).await?;
    if done {
        store::audit::record(
            &mut *tx,
            actor,
            "deploy.unpin",
            &format!("{}/{}", service.team, service.name),
            json!({"environment": env.name}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pattern_gives_team_dash_environment() {
        assert_eq!(
            namespace_for("{team}-{environment}", "shop", "staging", "web").unwrap(),
            "shop-staging"
        );
    }

    #[test]
    fn unknown_placeholders_are_refused() {
        let err = namespace_for("{team}-{env}", "shop", "staging", "web").unwrap_err();
        assert!(err.contains("unknown placeholder"), "{err}");
    }

    #[test]
    fn a_pattern_giving_an_invalid_name_is_refused() {
        assert!(check_namespace_pattern("{team}_{environment}").is_err());
        assert!(check_namespace_pattern("").is_err());
        assert!(check_namespace_pattern("{team}-{environment}").is_ok());
        assert!(check_namespace_pattern("apps").is_ok());
    }

    #[test]
    fn a_new_deploy_supersedes_queued_and_waiting_ones_only() {
        assert_eq!(supersedable(), ["awaiting_approval", "queued"]);
    }
}
