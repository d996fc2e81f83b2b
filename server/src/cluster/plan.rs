//! The cluster half of a deploy's plan: each rendered object dry-run with
//! server-side apply against what is live (created / changed / unchanged, with
//! its field diff), conflicts with other field managers and refusals such as
//! immutable fields recorded per object instead of stopping, and what prune
//! would delete. Nothing is written to the cluster.

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use tracing::instrument;

use super::apply::{
    Manifest, Target, api_for, foreign_namespace, foreign_object, manager_for, prune_candidates,
};
use super::diff::{comparable_yaml, object_diff};
use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};
use crate::plan::{DryRun, ObjectChange, ObjectPlan};
use crate::render::{ANNOTATION_DEPLOY_ID, ANNOTATION_REVISION};

/// Dry-runs every manifest of `target`. An unreachable API server is an error
/// (the caller records the plan as unavailable and retries later); anything
/// the API server says about one object is part of the plan.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn dry_run(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<DryRun, ClusterError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = with_retry(
        retry,
        "reading the namespace",
        || namespaces.get_opt(&target.namespace),
        |e| ClusterError::Refused {
            object: format!("Namespace/{}", target.namespace),
            message: one_line(&e),
        },
    )
    .await?;
    if let Some(live) = &namespace
        && let Some(why) = foreign_namespace(live, &target.team)
    {
        // Not the team's namespace: nothing in it is read, every object refused.
        let objects = manifests
            .iter()
            .map(|m| ObjectPlan {
                kind: m.resource.kind.clone(),
                name: m.name.clone(),
                change: ObjectChange::Error,
                diff: String::new(),
                conflict: None,
                error: Some(why.clone()),
            })
            .collect();
        return Ok(DryRun::Done {
            objects,
            prune: Vec::new(),
            namespace_created: false,
        });
    }
    let namespace_exists = namespace.is_some();
    if !namespace_exists {
        // Nothing can be dry-run in a namespace that does not exist yet: every
        // object is new, shown as rendered.
        let objects = manifests
            .iter()
            .map(|m| ObjectPlan {
                kind: m.resource.kind.clone(),
                name: m.name.clone(),
                change: ObjectChange::Create,
                diff: object_diff(&m.describe(), None, Some(&m.value)).unwrap_or_default(),
                conflict: None,
                error: None,
            })
            .collect();
        return Ok(DryRun::Done {
            objects,
            prune: Vec::new(),
            namespace_created: true,
        });
    }
    // Every object's reads and dry runs at once (nothing is stored), in the
    // manifests' order in the plan.
    let planned = futures::future::join_all(
        manifests
            .iter()
            .map(|manifest| plan_object(client, target, manifest, retry)),
    );
    let (planned, candidates) =
        tokio::join!(planned, prune_candidates(client, target, manifests, retry));
    let objects = planned.into_iter().collect::<Result<Vec<_>, _>>()?;
    let prune = candidates?
        .into_iter()
        .map(|(resource, object)| {
            format!(
                "{}/{}",
                resource.kind,
                object.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    Ok(DryRun::Done {
        objects,
        prune,
        namespace_created: false,
    })
}

/// One object: live state, an unforced dry-run apply (conflicts show), and
/// when it conflicts a forced one so the diff still shows what would change.
async fn plan_object(
    client: &Client,
    target: &Target,
    manifest: &Manifest,
    retry: RetryPolicy,
) -> Result<ObjectPlan, ClusterError> {
    let api = api_for(client, &target.namespace, &manifest.resource);
    let live = with_retry(
        retry,
        "reading the live object",
        || api.get_opt(&manifest.name),
        |e| ClusterError::Refused {
            object: manifest.describe(),
            message: one_line(&e),
        },
    )
    .await?;
    let mut plan = ObjectPlan {
        kind: manifest.resource.kind.clone(),
        name: manifest.name.clone(),
        change: ObjectChange::Unchanged,
        diff: String::new(),
        conflict: None,
        error: None,
    };
    // Someone else's object: refused, and nothing of it is dry-run, diffed or
    // stored — only that it exists and is not this service's.
    if let Some(live) = &live
        && let Some(why) = foreign_object(live, target, &manifest.describe())
    {
        plan.change = ObjectChange::Error;
        plan.error = Some(why);
        return Ok(plan);
    }
    let manager = manager_for(live.as_ref(), target);
    let desired = match dry_run_apply(&api, manifest, &manager, false, retry).await {
        Ok(desired) => desired,
        Err(ClusterError::Conflict { message, .. }) => {
            plan.conflict = Some(message);
            match dry_run_apply(&api, manifest, &manager, true, retry).await {
                Ok(desired) => desired,
                Err(ClusterError::Unreachable(why)) => return Err(ClusterError::Unreachable(why)),
                Err(other) => return Ok(refused(plan, &other)),
            }
        }
        Err(ClusterError::Unreachable(why)) => return Err(ClusterError::Unreachable(why)),
        Err(other) => return Ok(refused(plan, &other)),
    };
    let live = live.map(|o| to_value(&o)).transpose()?;
    let desired = to_value(&desired)?;
    plan.change = match &live {
        None => ObjectChange::Create,
        Some(live) if without_bookkeeping(live) == without_bookkeeping(&desired) => {
            ObjectChange::Unchanged
        }
        Some(_) => ObjectChange::Update,
    };
    if plan.change != ObjectChange::Unchanged {
        plan.diff =
            object_diff(&manifest.describe(), live.as_ref(), Some(&desired)).unwrap_or_default();
    }
    Ok(plan)
}

/// The object as a reviewer compares it: without the fields that always
/// differ and without Slipway's own bookkeeping annotations on the object
/// (which deploy and revision last applied it), which change on every deploy
/// and say nothing about what the object does. Pod template annotations are
/// kept: a change there restarts pods.
fn without_bookkeeping(object: &serde_json::Value) -> String {
    let mut object = object.clone();
    if let Some(annotations) = object
        .pointer_mut("/metadata/annotations")
        .and_then(serde_json::Value::as_object_mut)
    {
        annotations.remove(ANNOTATION_DEPLOY_ID);
        annotations.remove(ANNOTATION_REVISION);
        if annotations.is_empty()
            && let Some(meta) = object
                .get_mut("metadata")
                .and_then(serde_json::Value::as_object_mut)
        {
            meta.remove("annotations");
        }
    }
    comparable_yaml(Some(&object))
}

fn refused(mut plan: ObjectPlan, error: &ClusterError) -> ObjectPlan {
    plan.change = ObjectChange::Error;
    plan.error = Some(match error {
        ClusterError::Refused { message, .. } | ClusterError::Conflict { message, .. } => {
            message.clone()
        }
        other => other.to_string(),
    });
    plan
}

async fn dry_run_apply(
    api: &Api<DynamicObject>,
    manifest: &Manifest,
    manager: &str,
    force: bool,
    retry: RetryPolicy,
) -> Result<DynamicObject, ClusterError> {
    let mut params = PatchParams::apply(manager).dry_run();
    if force {
        params = params.force();
    }
    let patch = Patch::Apply(&manifest.value);
    with_retry(
        retry,
        "dry-running",
        || api.patch(&manifest.name, &params, &patch),
        |err| match &err {
            kube::Error::Api(status) if status.is_conflict() => ClusterError::Conflict {
                object: manifest.describe(),
                message: status.message.clone(),
            },
            _ => ClusterError::Refused {
                object: manifest.describe(),
                message: one_line(&err),
            },
        },
    )
    .await
}

fn to_value(object: &DynamicObject) -> Result<serde_json::Value, ClusterError> {
    serde_json::to_value(object).map_err(|e| ClusterError::Manifests(e.to_string()))
}
