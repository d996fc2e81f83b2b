//! Server-side apply of a deploy's stored manifests: namespace first (created
//! labelled as the team's, or an existing one refused unless it is labelled so),
//! then every object in the renderer's order with the service's own field
//! manager `slipway/<team>/<service>` (never forced) — each object read first
//! and refused when it exists without this service's labels — then prune what
//! Slipway applied before for this service and environment but no longer
//! renders, found by label selector — never by guessing names.

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

/// The field manager of Slipway's writes that belong to no one service (the
/// namespace, the tenant RoleBinding, Secret values), and the one every object
/// was applied with before each service had its own: objects still managed by
/// it are handed to the service's manager on their first apply (see
/// [`adopt_legacy_manager`]).
pub const FIELD_MANAGER: &str = "slipway";
/// Longest field manager the API server accepts.
pub const MAX_FIELD_MANAGER: usize = 128;
/// The ClusterRole bound in each managed namespace (deploy/kubernetes/base/rbac.yaml).
pub const TENANT_ROLE: &str = "slipway-tenant";
/// Pod Security Admission level enforced on namespaces Slipway creates.
pub const POD_SECURITY_LEVEL: &str = "restricted";
/// Label naming the service (part of the ownership check and the prune selector).
pub const SERVICE_LABEL: &str = NAME_LABEL;

/// The field manager of one service's objects: `slipway/<team>/<service>`, so
/// that server-side apply reports a conflict when two services write one
/// object. Names that make it longer than the API's 128 characters are cut and
/// given a hash of the whole, so two long names still get different managers.
pub fn field_manager(team: &str, service: &str) -> String {
    let full = format!("{FIELD_MANAGER}/{team}/{service}");
    if full.len() <= MAX_FIELD_MANAGER {
        return full;
    }
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(full.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let keep = MAX_FIELD_MANAGER - hex.len() - 1;
    format!("{}~{hex}", &full[..keep])
}
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
    /// This service's field manager.
    pub fn field_manager(&self) -> String {
        field_manager(&self.team, &self.service)
    }

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

/// Why an existing namespace is not `team`'s to deploy into, naming its labels;
/// `None` when it is labelled `app.kubernetes.io/managed-by=slipway` and
/// `slipway.dev/team=<team>`.
pub fn foreign_namespace(namespace: &Namespace, team: &str) -> Option<String> {
    let labels = namespace.metadata.labels.clone().unwrap_or_default();
    let ours = labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY)
        && labels.get(LABEL_TEAM).map(String::as_str) == Some(team);
    if ours {
        return None;
    }
    let shown = if labels.is_empty() {
        "it has no labels".to_owned()
    } else {
        let list: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("its labels: {}", list.join(", "))
    };
    Some(format!(
        "namespace {} exists and is not labelled as team {team}'s ({MANAGED_BY_LABEL}={MANAGED_BY} and {LABEL_TEAM}={team}; {shown}); Slipway does not deploy into it",
        namespace.metadata.name.as_deref().unwrap_or_default()
    ))
}

/// The labels of a namespace Slipway creates: whose it is, and Pod Security
/// Admission at `restricted` (enforced, and warned and audited at the same level).
pub fn namespace_labels(
    team: &str,
    environment: &str,
) -> std::collections::BTreeMap<String, String> {
    let mut labels: std::collections::BTreeMap<String, String> = [
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        (LABEL_TEAM.to_owned(), team.to_owned()),
        (LABEL_ENVIRONMENT.to_owned(), environment.to_owned()),
    ]
    .into();
    for mode in ["enforce", "warn", "audit"] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            POD_SECURITY_LEVEL.to_owned(),
        );
    }
    labels
}

/// Creates `namespace` for `team` in `environment`, labelled as Slipway's and
/// the team's with Pod Security `restricted`, when it does not exist; true when
/// created. An existing namespace is used only when it carries the team's
/// labels (it is never relabelled: Slipway may not patch namespaces), and is
/// refused otherwise. Either way the namespace gets the RoleBinding that gives
/// Slipway's ServiceAccount the tenant role there.
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
    let created = match existing {
        Some(live) => {
            if let Some(why) = foreign_namespace(&live, team) {
                return Err(ClusterError::NotOurs {
                    object: what,
                    message: why,
                });
            }
            false
        }
        None => {
            let object = Namespace {
                metadata: ObjectMeta {
                    name: Some(namespace.to_owned()),
                    labels: Some(namespace_labels(team, environment)),
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
                        // Another deploy created it a moment ago: check it like any other.
                        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(false),
                        Err(e) => Err(e),
                    }
                },
                refused(what.clone()),
            )
            .await?;
            if !created
                && let Some(live) = api
                    .get_opt(namespace)
                    .await
                    .map_err(refused(what.clone()))?
                && let Some(why) = foreign_namespace(&live, team)
            {
                return Err(ClusterError::NotOurs {
                    object: what,
                    message: why,
                });
            }
            if created {
                tracing::info!(namespace, "namespace created");
            }
            created
        }
    };
    super::tenant::ensure_binding(client, namespace, retry).await?;
    Ok(created)
}

/// Keeps the namespace's ResourceQuota and LimitRange `slipway` as the
/// environment sets them: applied when set, deleted when no longer set.
pub async fn apply_namespace_quota(
    client: &Client,
    namespace: &str,
    quota: Option<&k8s_openapi::api::core::v1::ResourceQuota>,
    limits: Option<&k8s_openapi::api::core::v1::LimitRange>,
    retry: RetryPolicy,
) -> Result<(), ClusterError> {
    use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota};
    let name = crate::render::quota::QUOTA_NAME;
    let params = PatchParams::apply(FIELD_MANAGER);
    async fn keep<K>(
        api: Api<K>,
        name: &str,
        object: Option<&K>,
        params: &PatchParams,
        retry: RetryPolicy,
    ) -> Result<(), ClusterError>
    where
        K: kube::Resource<DynamicType = ()>
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let what = format!("{}/{name}", K::kind(&()));
        match object {
            Some(object) => {
                let patch = Patch::Apply(object);
                with_retry(
                    retry,
                    "applying the quota",
                    || api.patch(name, params, &patch),
                    refused(what),
                )
                .await?;
            }
            None => {
                with_retry(
                    retry,
                    "removing the quota",
                    || async {
                        match api.delete(name, &DeleteParams::default()).await {
                            Ok(_) => Ok(()),
                            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
                            Err(e) => Err(e),
                        }
                    },
                    refused(what),
                )
                .await?;
            }
        }
        Ok(())
    }
    // Two independent objects: written at once.
    tokio::try_join!(
        keep(
            Api::<ResourceQuota>::namespaced(client.clone(), namespace),
            name,
            quota,
            &params,
            retry,
        ),
        keep(
            Api::<LimitRange>::namespaced(client.clone(), namespace),
            name,
            limits,
            &params,
            retry,
        ),
    )?;
    Ok(())
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
    manager: &str,
    dry_run: bool,
    retry: RetryPolicy,
) -> Result<DynamicObject, ClusterError> {
    let api = api_for(client, namespace, &manifest.resource);
    // Not forced: a field another manager owns is a conflict to report, not to take.
    let mut params = PatchParams::apply(manager);
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

/// Why a live object is not this service's to change, or `None` when it
/// carries this service's labels (managed-by Slipway, the team, the service).
/// The message names no field of the object beyond that: a foreign object's
/// content is not shown, stored or merged into.
pub fn foreign_object(live: &DynamicObject, target: &Target, what: &str) -> Option<String> {
    let labels = live.metadata.labels.clone().unwrap_or_default();
    let label = |key: &str| labels.get(key).map(String::as_str);
    if label(MANAGED_BY_LABEL) != Some(MANAGED_BY) {
        return Some(format!(
            "refused: {what} exists and is not Slipway's; rename the object in the spec or remove the existing one"
        ));
    }
    if label(LABEL_TEAM) != Some(target.team.as_str())
        || label(NAME_LABEL) != Some(target.service.as_str())
    {
        return Some(format!(
            "refused: {what} exists and belongs to another Slipway service ({}/{})",
            label(LABEL_TEAM).unwrap_or("?"),
            label(NAME_LABEL).unwrap_or("?")
        ));
    }
    None
}

/// Reads every manifest's live object (`None`: absent) and refuses at the first
/// that exists without this service's labels ([`foreign_object`]).
pub async fn live_objects(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<Vec<Option<DynamicObject>>, ClusterError> {
    // Read at once (they are independent), judged in order, so the refusal
    // names the first foreign object of the manifests whatever answered first.
    let reads = futures::future::join_all(
        manifests
            .iter()
            .map(|manifest| read_live(client, target, manifest, retry)),
    )
    .await;
    let mut out = Vec::with_capacity(manifests.len());
    for (manifest, live) in manifests.iter().zip(reads) {
        let live = live?;
        if let Some(live) = &live
            && let Some(why) = foreign_object(live, target, &manifest.describe())
        {
            return Err(ClusterError::NotOurs {
                object: manifest.describe(),
                message: why,
            });
        }
        out.push(live);
    }
    Ok(out)
}

/// The live object of one manifest, `None` when absent.
pub async fn read_live(
    client: &Client,
    target: &Target,
    manifest: &Manifest,
    retry: RetryPolicy,
) -> Result<Option<DynamicObject>, ClusterError> {
    let api = api_for(client, &target.namespace, &manifest.resource);
    with_retry(
        retry,
        "reading the live object",
        || api.get_opt(&manifest.name),
        refused(manifest.describe()),
    )
    .await
}

/// Whether `live` still has fields owned by the shared legacy manager
/// [`FIELD_MANAGER`] through an apply.
pub fn has_legacy_manager(live: &DynamicObject) -> bool {
    live.metadata.managed_fields.iter().flatten().any(|m| {
        m.manager.as_deref() == Some(FIELD_MANAGER) && m.operation.as_deref() == Some("Apply")
    })
}

/// The manager to dry-run `live` with: the legacy one while it still owns the
/// object's fields (what this service's manager will own once it is adopted),
/// else the service's.
pub fn manager_for(live: Option<&DynamicObject>, target: &Target) -> String {
    match live {
        Some(live) if has_legacy_manager(live) => FIELD_MANAGER.to_owned(),
        _ => target.field_manager(),
    }
}

/// Hands the fields an object's legacy `slipway` apply owns to this service's
/// manager, by rewriting `metadata.managedFields` (the documented way to move
/// ownership between managers), so the first apply with the new manager does
/// not conflict with Slipway's own earlier applies. Only ever called on an
/// object [`foreign_object`] accepted as this service's. When the service's
/// manager already has an entry, the legacy entry is dropped: the service's
/// next apply owns what it sends.
pub async fn adopt_legacy_manager(
    client: &Client,
    target: &Target,
    manifest: &Manifest,
    live: &DynamicObject,
    retry: RetryPolicy,
) -> Result<(), ClusterError> {
    let manager = target.field_manager();
    let entries = live.metadata.managed_fields.clone().unwrap_or_default();
    let has_new = entries.iter().any(|m| {
        m.manager.as_deref() == Some(manager.as_str()) && m.operation.as_deref() == Some("Apply")
    });
    let mut moved = Vec::with_capacity(entries.len());
    for mut entry in entries {
        let legacy = entry.manager.as_deref() == Some(FIELD_MANAGER)
            && entry.operation.as_deref() == Some("Apply");
        if legacy {
            if has_new {
                continue;
            }
            entry.manager = Some(manager.clone());
        }
        moved.push(entry);
    }
    // A merge patch replaces the whole list; the resourceVersion makes it fail
    // (409) rather than overwrite a change made since the object was read.
    let patch = Patch::Merge(serde_json::json!({"metadata": {
        "resourceVersion": live.metadata.resource_version,
        "managedFields": moved,
    }}));
    let api = api_for(client, &target.namespace, &manifest.resource);
    let params = PatchParams::default();
    with_retry(
        retry,
        "adopting the legacy field manager",
        || api.patch(&manifest.name, &params, &patch),
        refused(manifest.describe()),
    )
    .await?;
    tracing::info!(object = %manifest.describe(), manager, "legacy field manager adopted");
    Ok(())
}

/// Applies every object in order; stops at the first refusal or conflict.
/// Every object is read first: one that exists without this service's labels
/// is refused before anything is written. Returns `Kind/name` of each applied
/// object.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn apply_all(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<Vec<String>, ClusterError> {
    let live = live_objects(client, target, manifests, retry).await?;
    let manager = target.field_manager();
    let mut applied = Vec::with_capacity(manifests.len());
    for (manifest, live) in manifests.iter().zip(&live) {
        if let Some(live) = live
            && has_legacy_manager(live)
        {
            adopt_legacy_manager(client, target, manifest, live, retry).await?;
        }
        apply_one(client, &target.namespace, manifest, &manager, false, retry).await?;
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
    let kinds: Vec<ApiResource> = rendered_kinds().into_iter().rev().collect();
    // One list per kind, all at once; the candidates keep the kinds' order.
    let lists = futures::future::join_all(kinds.iter().map(|resource| {
        let api = api_for(client, &target.namespace, resource);
        let what = format!("{} in {}", resource.plural, target.namespace);
        let params = &params;
        async move {
            with_retry(
                retry,
                "listing objects to prune",
                || api.list(params),
                refused(what),
            )
            .await
        }
    }))
    .await;
    let mut out = Vec::new();
    for (resource, live) in kinds.into_iter().zip(lists) {
        for object in live?.items {
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
    fn each_service_has_its_own_field_manager_within_the_api_limit() {
        assert_eq!(field_manager("shop", "web"), "slipway/shop/web");
        let long = field_manager(&"t".repeat(63), &"s".repeat(63));
        assert_eq!(long.len(), MAX_FIELD_MANAGER);
        assert!(long.starts_with("slipway/ttt"), "{long}");
        let other = field_manager(&"t".repeat(63), &format!("{}x", "s".repeat(62)));
        assert_ne!(long, other);
    }

    fn live(labels: &[(&str, &str)]) -> DynamicObject {
        let mut o = DynamicObject::new("web", &ApiResource::erase::<ServiceAccount>(&()));
        o.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        o
    }

    #[test]
    fn an_object_without_this_services_labels_is_foreign() {
        let t = Target {
            deploy_id: 1,
            team: "shop".into(),
            service: "web".into(),
            environment: "staging".into(),
            namespace: "shop-staging".into(),
        };
        let ours = live(&[
            (MANAGED_BY_LABEL, MANAGED_BY),
            (LABEL_TEAM, "shop"),
            (NAME_LABEL, "web"),
        ]);
        assert_eq!(foreign_object(&ours, &t, "ServiceAccount/web"), None);
        let theirs = foreign_object(&live(&[]), &t, "ServiceAccount/web").unwrap();
        assert!(theirs.contains("is not Slipway's"), "{theirs}");
        let sibling = live(&[
            (MANAGED_BY_LABEL, MANAGED_BY),
            (LABEL_TEAM, "shop"),
            (NAME_LABEL, "api"),
        ]);
        let why = foreign_object(&sibling, &t, "Service/api").unwrap();
        assert!(why.contains("another Slipway service (shop/api)"), "{why}");
    }

    #[test]
    fn a_namespace_is_the_teams_only_with_both_labels() {
        let ns = |labels: &[(&str, &str)]| Namespace {
            metadata: ObjectMeta {
                name: Some("shop-staging".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        assert_eq!(
            foreign_namespace(
                &ns(&[(MANAGED_BY_LABEL, MANAGED_BY), (LABEL_TEAM, "shop")]),
                "shop"
            ),
            None
        );
        let why = foreign_namespace(&ns(&[(LABEL_TEAM, "blog")]), "shop").unwrap();
        assert!(why.contains("namespace shop-staging exists"), "{why}");
        assert!(why.contains("its labels: slipway.dev/team=blog"), "{why}");
        let labels = namespace_labels("shop", "staging");
        assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
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
