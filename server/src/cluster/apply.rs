//! Server-side apply of a deploy's stored manifests: namespace first, then every
//! object in the renderer's order with field manager `slipway` (never forced),
//! then prune what Slipway applied before for this service and environment but
//! no longer renders, found by label selector — never by guessing names.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use serde_json::Value;
use tracing::instrument;

use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};
use crate::render::{LABEL_ENVIRONMENT, LABEL_TEAM, MANAGED_BY};

/// The field manager of every Slipway write.
pub const FIELD_MANAGER: &str = "slipway";
/// Label Slipway puts on namespaces it created.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
const NAME_LABEL: &str = "app.kubernetes.io/name";

/// Where a deploy's objects go and which labels mark them as this service's.
#[derive(Clone, Debug)]
pub struct Target {
    /// The deploy, for logs.
    pub deploy_id: i64,
    /// Owning team.
    pub team: String,
    /// Service name.
    pub service: String,
    /// Environment name.
    pub environment: String,
    /// Namespace of every object.
    pub namespace: String,
}

impl Target {
    /// The label selector of everything Slipway applied for this service and environment.
    pub fn selector(&self) -> String {
        format!(
            "{MANAGED_BY_LABEL}={MANAGED_BY},{NAME_LABEL}={},{LABEL_ENVIRONMENT}={},{LABEL_TEAM}={}",
            self.service, self.environment, self.team
        )
    }
}

/// One object of the manifests, ready to apply.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Its API resource (group, version, plural).
    pub resource: ApiResource,
    /// `metadata.name`.
    pub name: String,
    /// The object as JSON.
    pub value: Value,
}

impl Manifest {
    /// `Kind/name`, for messages.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.resource.kind, self.name)
    }

    /// The object's kind.
    pub fn kind(&self) -> &str {
        &self.resource.kind
    }
}

/// The kinds the renderer produces, in apply order; prune looks only at these.
pub fn rendered_kinds() -> Vec<ApiResource> {
    vec![
        ApiResource::erase::<ServiceAccount>(&()),
        ApiResource::erase::<ConfigMap>(&()),
        ApiResource::erase::<Service>(&()),
        ApiResource::erase::<Deployment>(&()),
        ApiResource::erase::<StatefulSet>(&()),
        ApiResource::erase::<CronJob>(&()),
        ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        ApiResource::erase::<PodDisruptionBudget>(&()),
        ApiResource::erase::<NetworkPolicy>(&()),
        ApiResource::erase::<Ingress>(&()),
    ]
}

fn resource_for(api_version: &str, kind: &str) -> ApiResource {
    rendered_kinds()
        .into_iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
        .unwrap_or_else(|| {
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
        })
}

/// Reads stored multi-document YAML back into objects, checking that each is a
/// named object of `namespace` (the manifests are applied exactly as stored).
pub fn parse_manifests(yaml: &str, namespace: &str) -> Result<Vec<Manifest>, ClusterError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .map_err(|e| ClusterError::Manifests(format!("not valid YAML: {e}")))?;
    let mut out = Vec::new();
    for (i, value) in docs.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(&value, |v, k| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (Some(api_version), Some(kind), Some(name)) = (
            field(&["apiVersion"]),
            field(&["kind"]),
            field(&["metadata", "name"]),
        ) else {
            return Err(ClusterError::Manifests(format!(
                "document {} lacks apiVersion, kind or metadata.name",
                i + 1
            )));
        };
        if field(&["metadata", "namespace"]).as_deref() != Some(namespace) {
            return Err(ClusterError::Manifests(format!(
                "{kind}/{name} is not in namespace {namespace}"
            )));
        }
        out.push(Manifest {
            resource: resource_for(&api_version, &kind),
            name,
            value,
        });
    }
    if out.is_empty() {
        return Err(ClusterError::Manifests("there are no objects".into()));
    }
    Ok(out)
}

fn refused(object: String) -> impl FnOnce(kube::Error) -> ClusterError {
    move |err| match &err {
        kube::Error::Api(status) if status.is_conflict() => ClusterError::Conflict {
            object,
            message: status.message.clone(),
        },
        _ => ClusterError::Refused {
            object,
            message: one_line(&err),
        },
    }
}

/// Creates the deploy's namespace, labelled as Slipway's, when it does not exist;
/// true when created. An existing namespace is left exactly as it is.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn ensure_namespace(
    client: &Client,
    target: &Target,
    retry: RetryPolicy,
) -> Result<bool, ClusterError> {
    ensure_team_namespace(
        client,
        &target.namespace,
        &target.team,
        &target.environment,
        retry,
    )
    .await
}

/// Creates `namespace` for `team` in `environment`, labelled as Slipway's, when
/// it does not exist; true when created. An existing namespace is left as it is.
pub async fn ensure_team_namespace(
    client: &Client,
    namespace: &str,
    team: &str,
    environment: &str,
    retry: RetryPolicy,
) -> Result<bool, ClusterError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let what = format!("Namespace/{namespace}");
    let existing = with_retry(
        retry,
        "reading the namespace",
        || api.get_opt(namespace),
        refused(what.clone()),
    )
    .await?;
    if existing.is_some() {
        return Ok(false);
    }
    let object = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.to_owned()),
            labels: Some(
                [
                    (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
                    (LABEL_TEAM.to_owned(), team.to_owned()),
                    (LABEL_ENVIRONMENT.to_owned(), environment.to_owned()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let created = with_retry(
        retry,
        "creating the namespace",
        || async {
            match api.create(&PostParams::default(), &object).await {
                Ok(_) => Ok(true),
                // Another deploy created it a moment ago: that is what we wanted.
                Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(false),
                Err(e) => Err(e),
            }
        },
        refused(what),
    )
    .await?;
    if created {
        tracing::info!(namespace, "namespace created");
    }
    Ok(created)
}

/// The dynamic API of one manifest in the target namespace.
pub fn api_for(client: &Client, namespace: &str, resource: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, resource)
}

/// Server-side applies one object (`dry_run`: the API server computes the result
/// without storing it) and returns what the API server answered.
pub async fn apply_one(
    client: &Client,
    namespace: &str,
    manifest: &Manifest,
    dry_run: bool,
    retry: RetryPolicy,
) -> Result<DynamicObject, ClusterError> {
    let api = api_for(client, namespace, &manifest.resource);
    // Not forced: a field another manager owns is a conflict to report, not to take.
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if dry_run {
        params = params.dry_run();
    }
    let patch = Patch::Apply(&manifest.value);
    with_retry(
        retry,
        "applying",
        || api.patch(&manifest.name, &params, &patch),
        refused(manifest.describe()),
    )
    .await
}

/// Applies every object in order; stops at the first refusal or conflict.
/// Returns `Kind/name` of each applied object.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn apply_all(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<Vec<String>, ClusterError> {
    let mut applied = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        apply_one(client, &target.namespace, manifest, false, retry).await?;
        applied.push(manifest.describe());
    }
    tracing::info!(objects = applied.len(), "applied");
    Ok(applied)
}

/// Objects Slipway applied before for this service and environment that the
/// manifests no longer contain, in reverse apply order (Ingress before Service).
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn prune_candidates(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<Vec<(ApiResource, DynamicObject)>, ClusterError> {
    let wanted: BTreeSet<(String, String)> = manifests
        .iter()
        .map(|m| (m.resource.kind.clone(), m.name.clone()))
        .collect();
    let params = ListParams::default().labels(&target.selector());
    let mut out = Vec::new();
    for resource in rendered_kinds().into_iter().rev() {
        let api = api_for(client, &target.namespace, &resource);
        let what = format!("{} in {}", resource.plural, target.namespace);
        let live = with_retry(
            retry,
            "listing objects to prune",
            || api.list(&params),
            refused(what),
        )
        .await?;
        for object in live.items {
            let name = object.metadata.name.clone().unwrap_or_default();
            // Already on its way out (e.g. a previous attempt deleted it).
            if object.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if !wanted.contains(&(resource.kind.clone(), name)) {
                out.push((resource.clone(), object));
            }
        }
    }
    Ok(out)
}

/// Deletes the prune candidates (in the background: owned objects such as
/// ReplicaSets go with them); returns `Kind/name` of each deleted object.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn prune(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<Vec<String>, ClusterError> {
    let candidates = prune_candidates(client, target, manifests, retry).await?;
    let mut pruned = Vec::new();
    for (resource, object) in candidates {
        let name = object.metadata.name.clone().unwrap_or_default();
        let what = format!("{}/{name}", resource.kind);
        let api = api_for(client, &target.namespace, &resource);
        with_retry(
            retry,
            "pruning",
            || async {
                match api.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
                    Err(e) => Err(e),
                }
            },
            refused(what.clone()),
        )
        .await?;
        tracing::info!(object = %what, "pruned");
        pruned.push(what);
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: shop-staging
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop-staging
spec:
  minReplicas: 2
";

    #[test]
    fn stored_manifests_read_back_with_their_resources() {
        let m = parse_manifests(TWO, "shop-staging").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].describe(), "ServiceAccount/web");
        assert_eq!(m[0].resource.plural, "serviceaccounts");
        assert_eq!(m[1].resource.plural, "horizontalpodautoscalers");
        assert_eq!(m[1].resource.group, "autoscaling");
        assert_eq!(m[1].value["spec"]["minReplicas"], 2);
    }

    #[test]
    fn an_object_of_another_namespace_is_refused() {
        let err = parse_manifests(TWO, "shop-production").unwrap_err();
        assert!(err.to_string().contains("not in namespace"), "{err}");
    }

    #[test]
    fn empty_manifests_are_refused() {
        assert!(parse_manifests("", "x").is_err());
    }

    #[test]
    fn every_rendered_kind_has_its_real_plural() {
        let plurals: Vec<String> = rendered_kinds().into_iter().map(|r| r.plural).collect();
        assert!(plurals.contains(&"networkpolicies".to_owned()));
        assert!(plurals.contains(&"ingresses".to_owned()));
        assert!(plurals.contains(&"poddisruptionbudgets".to_owned()));
    }

    #[test]
    fn the_prune_selector_names_service_environment_and_team() {
        let t = Target {
            deploy_id: 1,
            team: "shop".into(),
            service: "web".into(),
            environment: "staging".into(),
            namespace: "shop-staging".into(),
        };
        assert_eq!(
            t.selector(),
            "app.kubernetes.io/managed-by=slipway,app.kubernetes.io/name=web,slipway.dev/environment=staging,slipway.dev/team=shop"
        );
    }
}
