//! The renderer: a pure function from a validated spec and a deploy context to
//! typed Kubernetes objects (k8s-openapi), in a stable apply order, with the
//! labels and annotations listed in `docs/spec.md`.
//!
//! No I/O, clock, environment or randomness: the same input gives the same
//! objects and byte-identical YAML. Secrets appear only as references.

pub mod checklist;
mod config;
mod meta;
mod network;
mod pod;
pub mod quota;
mod scaling;
mod workload;

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::Serialize;

use crate::spec::{self, DEFAULT_ENVIRONMENTS, FieldError, ServiceSpec, names};

pub use meta::{
    ANNOTATION_DEPLOY_ID, ANNOTATION_REVISION, LABEL_COLOR, LABEL_ENVIRONMENT, LABEL_TEAM,
    MANAGED_BY,
};

/// Longest environment name: `app.kubernetes.io/instance` is `{service}-{environment}`
/// and label values stop at 63 characters.
pub const MAX_ENVIRONMENT_NAME: usize = 63 - 1 - spec::defaults::MAX_SERVICE_NAME;

/// Where and as what a spec is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderContext {
    /// Environment name (`production`): picks the spec's overrides, labels every object.
    pub environment: String,
    /// Namespace every object is rendered into.
    pub namespace: String,
    /// Owning team, for labels.
    pub team: String,
    /// The image being deployed; the spec's `image` when `None`.
    pub image: Option<String>,
    /// Service revision, recorded as the `slipway.dev/revision` annotation.
    pub revision: Option<i64>,
    /// Deploy id, recorded as the `slipway.dev/deploy-id` annotation.
    pub deploy_id: Option<String>,
}

impl RenderContext {
    /// A context for `environment` in `namespace` for `team`, with the spec's image and no deploy.
    pub fn new(environment: &str, namespace: &str, team: &str) -> Self {
        RenderContext {
            environment: environment.to_owned(),
            namespace: namespace.to_owned(),
            team: team.to_owned(),
            image: None,
            revision: None,
            deploy_id: None,
        }
    }

    /// The CLI's namespace for a spec: `{metadata.team or "default"}-{environment}`.
    pub fn cli_namespace(spec: &ServiceSpec, environment: &str) -> String {
        format!(
            "{}-{environment}",
            spec.metadata.team.as_deref().unwrap_or("default")
        )
    }

    /// The context the CLI uses: team from the spec (or `default`), namespace from [`Self::cli_namespace`].
    pub fn for_cli(spec: &ServiceSpec, environment: &str, image: Option<String>) -> Self {
        let team = spec
            .metadata
            .team
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        RenderContext {
            image,
            ..RenderContext::new(environment, &Self::cli_namespace(spec, environment), &team)
        }
    }
}

/// Why a spec could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec breaks its rules (render re-validates: callers may build specs in code).
    #[error("the spec is invalid: {}", join(.0))]
    InvalidSpec(Vec<FieldError>),
    /// The context is unusable (bad environment, namespace, team or image).
    #[error("the render context is invalid: {}", join(.0))]
    InvalidContext(Vec<FieldError>),
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One rendered object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    /// The service's own ServiceAccount.
    ServiceAccount(ServiceAccount),
    /// The config files.
    ConfigMap(ConfigMap),
    /// The service's Service, or an ExternalName Service.
    Service(Box<Service>),
    /// A `web` or `worker` Deployment (two for blue-green).
    Deployment(Box<Deployment>),
    /// A `stateful` StatefulSet.
    StatefulSet(Box<StatefulSet>),
    /// A `cron` CronJob.
    CronJob(Box<CronJob>),
    /// The autoscaler.
    HorizontalPodAutoscaler(Box<HorizontalPodAutoscaler>),
    /// The disruption budget.
    PodDisruptionBudget(Box<PodDisruptionBudget>),
    /// The network policy.
    NetworkPolicy(Box<NetworkPolicy>),
    /// The Ingress.
    Ingress(Box<Ingress>),
}

impl Object {
    /// `apiVersion`, e.g. `apps/v1`.
    pub fn api_version(&self) -> &'static str {
        match self {
            Object::ServiceAccount(_) => ServiceAccount::API_VERSION,
            Object::ConfigMap(_) => ConfigMap::API_VERSION,
            Object::Service(_) => Service::API_VERSION,
            Object::Deployment(_) => Deployment::API_VERSION,
            Object::StatefulSet(_) => StatefulSet::API_VERSION,
            Object::CronJob(_) => CronJob::API_VERSION,
            Object::HorizontalPodAutoscaler(_) => HorizontalPodAutoscaler::API_VERSION,
            Object::PodDisruptionBudget(_) => PodDisruptionBudget::API_VERSION,
            Object::NetworkPolicy(_) => NetworkPolicy::API_VERSION,
            Object::Ingress(_) => Ingress::API_VERSION,
        }
    }

    /// `kind`, e.g. `Deployment`.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::ServiceAccount(_) => ServiceAccount::KIND,
            Object::ConfigMap(_) => ConfigMap::KIND,
            Object::Service(_) => Service::KIND,
            Object::Deployment(_) => Deployment::KIND,
            Object::StatefulSet(_) => StatefulSet::KIND,
            Object::CronJob(_) => CronJob::KIND,
            Object::HorizontalPodAutoscaler(_) => HorizontalPodAutoscaler::KIND,
            Object::PodDisruptionBudget(_) => PodDisruptionBudget::KIND,
            Object::NetworkPolicy(_) => NetworkPolicy::KIND,
            Object::Ingress(_) => Ingress::KIND,
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            Object::ServiceAccount(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::StatefulSet(o) => &o.metadata,
            Object::CronJob(o) => &o.metadata,
            Object::HorizontalPodAutoscaler(o) => &o.metadata,
            Object::PodDisruptionBudget(o) => &o.metadata,
            Object::NetworkPolicy(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The object as JSON, with apiVersion, kind and metadata.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("k8s-openapi objects are plain data and always serialise")
    }

    /// The object as one YAML document (without `---`).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .expect("k8s-openapi objects are plain data and always serialise")
    }
}

/// Rendered objects in apply order: ServiceAccount, ConfigMap, Services,
/// workloads, HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy, Ingress.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifests {
    objects: Vec<Object>,
}

impl Manifests {
    /// The objects, in apply order.
    pub fn iter(&self) -> std::slice::Iter<'_, Object> {
        self.objects.iter()
    }

    /// How many objects there are.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are none (never, for a rendered spec).
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The objects as JSON values, each with apiVersion, kind and metadata.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        self.objects.iter().map(Object::to_value).collect()
    }

    /// `(kind, name)` of each object, in apply order.
    pub fn kinds_and_names(&self) -> Vec<(&'static str, String)> {
        self.objects
            .iter()
            .map(|o| (o.kind(), o.name().to_owned()))
            .collect()
    }

    /// Multi-document YAML, `---` before each document; byte-identical for equal input.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for object in &self.objects {
            out.push_str("---\n");
            out.push_str(&object.to_yaml());
        }
        out
    }
}

impl<'a> IntoIterator for &'a Manifests {
    type Item = &'a Object;
    type IntoIter = std::slice::Iter<'a, Object>;
    fn into_iter(self) -> Self::IntoIter {
        self.objects.iter()
    }
}

/// Render `spec` for `ctx`: the typed objects to apply, in apply order.
pub fn render(spec: &ServiceSpec, ctx: &RenderContext) -> Result<Manifests, RenderError> {
    check_context(ctx)?;
    let mut environments: Vec<&str> = DEFAULT_ENVIRONMENTS.to_vec();
    environments.push(&ctx.environment);
    let base = spec::presets::apply(&spec.spec);
    let errors = spec::validate_applied(spec, &base, &environments);
    if !errors.is_empty() {
        return Err(RenderError::InvalidSpec(errors));
    }
    let effective = spec.resolve_applied(base, &ctx.environment);
    let input = Input::new(&effective, ctx);
    let mut objects = vec![Object::ServiceAccount(config::service_account(&input))];
    if let Some(config_map) = config::config_map(&input) {
        objects.push(Object::ConfigMap(config_map));
    }
    objects.extend(
        network::services(&input)
            .into_iter()
            .map(|s| Object::Service(Box::new(s))),
    );
    objects.extend(workload::workloads(&input));
    if let Some(hpa) = scaling::autoscaler(&input) {
        objects.push(Object::HorizontalPodAutoscaler(Box::new(hpa)));
    }
    objects.extend(
        scaling::disruption_budgets(&input)
            .into_iter()
            .map(|pdb| Object::PodDisruptionBudget(Box::new(pdb))),
    );
    if let Some(policy) = network::network_policy(&input) {
        objects.push(Object::NetworkPolicy(Box::new(policy)));
    }
    if let Some(ingress) = network::ingress(&input) {
        objects.push(Object::Ingress(Box::new(ingress)));
    }
    if objects.len() > spec::MAX_RENDERED_OBJECTS {
        return Err(RenderError::InvalidSpec(vec![FieldError::new(
            "spec",
            format!(
                "renders {} Kubernetes objects in {}; at most {} are allowed per service",
                objects.len(),
                ctx.environment,
                spec::MAX_RENDERED_OBJECTS
            ),
        )]));
    }
    let manifests = Manifests { objects };
    external_name_collisions(&effective, &manifests)?;
    Ok(manifests)
}

/// An ExternalName Service may not take a name any other rendered object of
/// the service has (its own Service, ServiceAccount, workloads…): it would
/// replace the Service other pods and the Ingress reach, or shadow the
/// service's name in DNS. Names of *other* services' objects are refused at
/// apply time, where the cluster is read (an object without this service's
/// labels is never taken over).
fn external_name_collisions(spec: &ServiceSpec, manifests: &Manifests) -> Result<(), RenderError> {
    let rendered = manifests.kinds_and_names();
    let mut errors = Vec::new();
    for (i, e) in spec.spec.external_services.iter().enumerate() {
        let same: Vec<&str> = rendered
            .iter()
            .filter(|(_, name)| *name == e.name)
            .map(|(kind, _)| *kind)
            .collect();
        // One Service of that name is the ExternalName itself; anything more clashes.
        let clash = same
            .iter()
            .find(|kind| **kind != "Service")
            .copied()
            .or_else(|| (same.len() > 1).then_some("Service"));
        if let Some(kind) = clash {
            errors.push(FieldError::new(
                format!("spec.externalServices[{i}].name"),
                format!(
                    "`{}` is also the name of this service's rendered {kind}; pick another name",
                    e.name
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(RenderError::InvalidSpec(errors))
    }
}

fn check_context(ctx: &RenderContext) -> Result<(), RenderError> {
    let mut errors = Vec::new();
    match names::dns_label(&ctx.environment) {
        Err(message) => errors.push(FieldError::new("environment", message)),
        Ok(()) if ctx.environment.len() > MAX_ENVIRONMENT_NAME => errors.push(FieldError::new(
            "environment",
            format!("must be at most {MAX_ENVIRONMENT_NAME} characters"),
        )),
        Ok(()) => {}
    }
    if let Err(message) = names::dns_label(&ctx.namespace) {
        errors.push(FieldError::new("namespace", message));
    }
    if ctx.team.is_empty() || !names::label_value(&ctx.team) {
        errors.push(FieldError::new(
            "team",
            format!("`{}` is not a valid label value", ctx.team),
        ));
    }
    if let Some(image) = &ctx.image
        && let Err(message) = names::image(image)
    {
        errors.push(FieldError::new("image", message));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(RenderError::InvalidContext(errors))
    }
}

/// What every builder reads: the effective spec and the context.
pub(crate) struct Input<'a> {
    /// The effective spec for the environment (preset and overrides applied).
    pub doc: &'a ServiceSpec,
    /// Shorthand for `doc.spec`.
    pub spec: &'a spec::Spec,
    /// The workload kind.
    pub kind: spec::WorkloadKind,
    /// The render context.
    pub ctx: &'a RenderContext,
    /// The image being deployed.
    pub image: &'a str,
    /// Labels every object carries, built once per render.
    pub labels: meta::RenderLabels,
}

impl<'a> Input<'a> {
    fn new(doc: &'a ServiceSpec, ctx: &'a RenderContext) -> Self {
        let kind = doc.workload_kind();
        Input {
            doc,
            spec: &doc.spec,
            kind,
            ctx,
            image: ctx.image.as_deref().unwrap_or(&doc.spec.image),
            labels: meta::RenderLabels::new(&doc.metadata.name, kind, ctx),
        }
    }

    /// The service name.
    pub fn name(&self) -> &'a str {
        &self.doc.metadata.name
    }

    /// Replicas when no autoscaler decides.
    pub fn replicas(&self) -> u32 {
        self.spec.replicas.unwrap_or(match self.kind {
            spec::WorkloadKind::Stateful => spec::defaults::STATEFUL_REPLICAS,
            _ => spec::defaults::REPLICAS,
        })
    }

    /// The fewest pods running: the autoscaler's minimum or the fixed replicas.
    pub fn min_replicas(&self) -> u32 {
        self.spec
            .autoscaling
            .as_ref()
            .map_or_else(|| self.replicas(), |a| a.min_replicas)
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
