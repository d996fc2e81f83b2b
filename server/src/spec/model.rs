//! The service spec as Rust types: what a team writes, field for field.
//!
//! Optional fields stay `Option` (and lists stay empty) instead of being filled
//! with defaults on parse: the canonical YAML of a revision then shows only what
//! the team chose, and defaults live in one place (`spec::defaults`). Doc comments
//! here become the descriptions of the JSON Schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::presets::Framework;
use super::scalar::{IntOrPercent, PortRef, Quantity, ScalarString};

/// A Slipway service: `apiVersion: slipway.dev/v1`, `kind: Service`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// Always `slipway.dev/v1`.
    pub api_version: String,
    /// Always `Service`.
    pub kind: String,
    /// Name and ownership.
    pub metadata: Metadata,
    /// What to run and how.
    pub spec: Spec,
}

/// Name and ownership of a service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The service name: a DNS-1123 label of at most 45 characters, used for every object.
    pub name: String,
    /// The owning team (a DNS-1123 label); the CLI uses it for the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// One line on what the service does, shown in the catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where people find more about it, shown on the service page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
}

/// A service's links: each an `https://` (or `http://`) URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Links {
    /// The source repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Its documentation or runbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// Its metrics dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<String>,
    /// Who is on call for it (a rota or paging page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_call: Option<String>,
}

impl Links {
    /// `(label, field, url)` of each link that is set, in a fixed order.
    pub fn entries(&self) -> Vec<(&'static str, &'static str, &str)> {
        [
            ("Repository", "repository", &self.repository),
            ("Docs", "docs", &self.docs),
            ("Dashboard", "dashboard", &self.dashboard),
            ("On call", "onCall", &self.on_call),
        ]
        .into_iter()
        .filter_map(|(label, field, url)| url.as_deref().map(|u| (label, field, u)))
        .collect()
    }
}

/// What a service runs and how Kubernetes should treat it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// The workload kind; `web` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WorkloadKind>,
    /// A framework preset that fills command, ports, probes and settings the spec leaves out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<Framework>,
    /// The WSGI/ASGI application (`shop.wsgi:application`) or Celery app (`shop`) the preset's command runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_module: Option<String>,
    /// The container image, with a tag or digest: `registry.example.com/shop/web:1.4.2`.
    pub image: String,
    /// When nodes ask the registry for the image: `IfNotPresent` when omitted
    /// (pinned images do not change); `Always` re-checks the pull secret each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,
    /// The command (entrypoint); the preset's or the image's when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments to the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Working directory inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Number of pods when autoscaling is off; 2 when omitted (1 for stateful).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Ports the application listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// The Kubernetes Service in front of a `web` or `stateful` workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceConfig>,
    /// Environment variables, from literals, ConfigMap keys, Secret keys or pod fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Whole ConfigMaps or Secrets exposed as environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFrom>,
    /// Configuration files, rendered into a ConfigMap mounted read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_files: Option<ConfigFiles>,
    /// CPU and memory requests and limits of the application container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Liveness, readiness and startup probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<Probes>,
    /// Containers that run to completion before the application starts (migrations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    /// Containers that run beside the application for its whole life (log shippers, proxies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Container>,
    /// Volumes shared between the application and its sidecars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<SharedVolume>,
    /// HTTP(S) routing from outside the cluster (`web` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressConfig>,
    /// Services outside the cluster reached by a stable in-cluster name (Service type ExternalName).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_services: Vec<ExternalService>,
    /// HorizontalPodAutoscaler (autoscaling/v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// PodDisruptionBudget; `maxUnavailable: 1` is rendered when omitted and there are at least two pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption_budget: Option<DisruptionBudget>,
    /// NetworkPolicy: deny by default, allow what is listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicyConfig>,
    /// Spreading pods across zones and nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// User and filesystem settings of the (always non-root) security context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// The service's own ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountConfig>,
    /// Prometheus scraping of the application's metrics endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// Log format and level handed to the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Rolling-update settings, or blue-green.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Seconds a pod gets to finish after SIGTERM; 30 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<u32>,
    /// Seconds to wait before SIGTERM so endpoints drop the pod first; 5 for `web` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_stop_sleep_seconds: Option<u32>,
    /// Schedule and job settings (`cron` only, and required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<CronConfig>,
    /// Persistent volumes (`stateful` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful: Option<StatefulConfig>,
    /// Per-environment overrides, keyed by environment name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, EnvironmentOverride>,
}

/// The kind of workload a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// A Deployment with a Service and optionally an Ingress.
    #[default]
    Web,
    /// A Deployment without a Service (Celery workers, consumers).
    Worker,
    /// A CronJob.
    Cron,
    /// A StatefulSet with a headless Service and volume claim templates.
    Stateful,
}

impl WorkloadKind {
    /// The kind's name as written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Web => "web",
            WorkloadKind::Worker => "worker",
            WorkloadKind::Cron => "cron",
            WorkloadKind::Stateful => "stateful",
        }
    }

    /// Whether pods of this kind run continuously (everything but cron).
    pub fn is_long_running(self) -> bool {
        !matches!(self, WorkloadKind::Cron)
    }
}

/// A port the application listens on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// Port name (IANA service name syntax: at most 15 characters), e.g. `http`.
    pub name: String,
    /// The container port number.
    pub port: u16,
    /// `TCP` (default) or `UDP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Protocol {
    /// TCP.
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
}

impl Protocol {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// The Kubernetes Service of a `web` or `stateful` workload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceConfig {
    /// `ClusterIP` (default), `NodePort` or `LoadBalancer`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<ServiceType>,
    /// Service ports; port 80 to the first container port when omitted (`web`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
}

/// How a Service is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Also through a cloud load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// A port of the Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// Port name; the target port's name when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port clients connect to.
    pub port: u16,
    /// The container port, by name or number; the first declared port when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<PortRef>,
    /// Fixed node port (30000–32767) for `NodePort` and `LoadBalancer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
}

/// One environment variable; exactly one of `value`, `secret`, `configMap` or `field`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// A literal value; never put a secret here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ScalarString>,
    /// A key of a Secret (`secretKeyRef`); Slipway stores only the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<KeyRef>,
    /// A key of a ConfigMap (`configMapKeyRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeyRef>,
    /// A pod field (`fieldRef`), e.g. `metadata.name` or `status.podIP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A key in a named Secret or ConfigMap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRef {
    /// The Secret or ConfigMap name.
    pub name: String,
    /// The key inside it.
    pub key: String,
    /// Start the pod even when the key is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A whole ConfigMap or Secret as environment; exactly one of `configMap` or `secret`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvFrom {
    /// ConfigMap name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// Secret name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Prefix added to every variable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Start the pod even when the object is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// Configuration files mounted into the application container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFiles {
    /// Directory the files appear in; `/app/config` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// File name → content.
    pub files: BTreeMap<String, String>,
}

/// Requests and limits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceList>,
    /// The most the container may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceList>,
}

/// Amounts of CPU, memory and ephemeral storage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceList {
    /// CPU, e.g. `250m` or `1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// Memory, e.g. `256Mi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
    /// Ephemeral storage, e.g. `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<Quantity>,
}

/// The three probes of the application container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probes {
    /// Restart the container when this fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
    /// Send traffic only while this succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    /// Hold the other probes until this succeeds once (slow starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Probe>,
}

/// A probe; exactly one of `http`, `tcp` or `exec`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    /// HTTP GET; success is a 2xx or 3xx answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// A TCP connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// A command that exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecProbe>,
    /// Seconds before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    /// Seconds between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    /// Seconds before a probe counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Consecutive failures that count as failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
}

/// An HTTP GET probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    /// Path, starting with `/`.
    pub path: String,
    /// A declared port; the first one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortRef>,
}

/// A TCP probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpProbe {
    /// A declared port; the first one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortRef>,
}

/// A command probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecProbe {
    /// The command and its arguments.
    pub command: Vec<String>,
}

/// An init container or a sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    /// Container name, a DNS-1123 label other than `app`.
    pub name: String,
    /// Image; for init containers the application's image (the one being deployed) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Also receive the application's `env` and `envFrom`; true for init containers, false for sidecars when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherit_env: Option<bool>,
    /// Requests and limits; init containers take the application's when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Mounts of `spec.volumes` (or `config`, the config files volume).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
}

/// A mount of a named volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeMount {
    /// A volume of `spec.volumes`, or `config` for the config files.
    pub name: String,
    /// Absolute path in the container.
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A volume shared by the containers of a pod: an emptyDir unless `configMap` or `secret` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SharedVolume {
    /// Volume name, a DNS-1123 label other than `tmp` and `config`.
    pub name: String,
    /// Where the application container mounts it; not mounted there when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// emptyDir size limit, e.g. `100Mi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<Quantity>,
    /// Back the emptyDir with memory instead of disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_memory: Option<bool>,
    /// Take the files of an existing ConfigMap instead of an empty directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    /// Take the files of an existing Secret instead of an empty directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Ingress routing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressConfig {
    /// IngressClass name, e.g. `nginx`; the cluster default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Host names served.
    pub hosts: Vec<String>,
    /// Paths routed to the service; `/` (Prefix) when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<IngressPath>,
    /// The Service port to route to, by name or number; the first when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_port: Option<PortRef>,
    /// TLS termination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngressTls>,
    /// Extra annotations for the Ingress controller.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One routed path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressPath {
    /// The path, starting with `/`.
    pub path: String,
    /// `Prefix` (default), `Exact` or `ImplementationSpecific`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_type: Option<PathType>,
}

/// How an Ingress path matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PathType {
    /// Matches the path and everything below it.
    Prefix,
    /// Matches the path only.
    Exact,
    /// Up to the Ingress controller.
    ImplementationSpecific,
}

impl PathType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PathType::Prefix => "Prefix",
            PathType::Exact => "Exact",
            PathType::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// TLS for the Ingress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressTls {
    /// The Secret holding the certificate (created by cert-manager when an issuer is named).
    pub secret_name: String,
    /// Hosts covered; all Ingress hosts when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// cert-manager ClusterIssuer (annotation `cert-manager.io/cluster-issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<String>,
    /// cert-manager Issuer in the namespace (annotation `cert-manager.io/issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// A service outside the cluster, reachable in-cluster as `name` (Service type ExternalName).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalService {
    /// In-cluster name, a DNS-1123 label.
    pub name: String,
    /// The DNS name it points to, e.g. `orders.abc123.eu-west-1.rds.amazonaws.com`.
    pub external_name: String,
    /// Ports, for documentation and for tools that read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

/// HorizontalPodAutoscaler settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Autoscaling {
    /// Fewest pods.
    pub min_replicas: u32,
    /// Most pods.
    pub max_replicas: u32,
    /// Target average CPU utilisation in percent of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// Target average memory utilisation in percent of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Per-pod metrics (HPA v2 `Pods`), e.g. requests per second per pod from
    /// a custom metrics adapter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<PodsMetric>,
    /// Metrics from outside the cluster's objects (HPA v2 `External`), e.g. a
    /// Celery queue's length from an external metrics adapter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<ExternalMetric>,
    /// How fast to scale down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScaleDown>,
}

/// A per-pod metric and the average every pod should see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodsMetric {
    /// The metric's name as the custom metrics API serves it.
    pub metric: String,
    /// Target average per pod, a quantity (`50`, `500m`).
    pub average_value: ScalarString,
}

/// An external metric and its target: exactly one of `value` (the metric in
/// total) or `averageValue` (divided by the pods).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalMetric {
    /// The metric's name as the external metrics API serves it.
    pub metric: String,
    /// Labels that pick the series (e.g. `queue: default`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    /// Target of the metric as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ScalarString>,
    /// Target of the metric divided by the number of pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<ScalarString>,
}

/// Scale-down behaviour.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleDown {
    /// Seconds of lower load before scaling down; 300 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<u32>,
    /// At most this percent of pods removed per period; 50 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_percent: Option<u32>,
    /// The period for `maxPercent`, in seconds; 60 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
}

/// PodDisruptionBudget; exactly one of the two.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisruptionBudget {
    /// Pods that must stay up during voluntary disruptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrPercent>,
    /// Pods that may be down during voluntary disruptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrPercent>,
}

/// NetworkPolicy: all traffic is denied except what is listed here, DNS and
/// (for `web` with an Ingress) the Ingress controller.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyConfig {
    /// Render the NetworkPolicy; true when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Namespace of the Ingress controller; `ingress-nginx` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_controller_namespace: Option<String>,
    /// Slipway services in the same namespace allowed to connect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_from: Vec<String>,
    /// Namespaces allowed to connect (e.g. `monitoring` for Prometheus).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_from_namespaces: Vec<String>,
    /// Slipway services in the same namespace this one may connect to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_to: Vec<String>,
    /// Address ranges outside the cluster this one may connect to (managed databases, APIs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_cidrs: Vec<CidrRule>,
    /// Allow all outbound traffic (weakens the policy; the check warns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_all_egress: Option<bool>,
}

/// Outbound access to an address range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CidrRule {
    /// An IPv4 or IPv6 CIDR, e.g. `10.20.0.0/16`.
    pub cidr: String,
    /// TCP ports; all when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

/// Pod placement.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    /// Topology spread over `topology.kubernetes.io/zone`; `ScheduleAnyway` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_spread: Option<ZoneSpread>,
    /// Pod anti-affinity over nodes; `preferred` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<AntiAffinity>,
    /// Node labels the pods require.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Node taints the pods tolerate (dedicated node pools); each names its key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
}

/// A node taint the pods tolerate, as Kubernetes spells it. A key is required:
/// a toleration of every taint would let a team's pods onto nodes kept for
/// others (or for the control plane).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    /// The taint's key, e.g. `dedicated` or `slipway.dev/node`.
    pub key: String,
    /// `Equal` (the default: key and value match) or `Exists` (any value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<TolerationOperator>,
    /// The taint's value; only with `Equal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The taint effect tolerated; every effect when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    /// For `NoExecute` only: how long pods stay once the taint appears; for ever when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

/// How a toleration matches a taint's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TolerationOperator {
    /// Key and value must match.
    Equal,
    /// The key must match; any value.
    Exists,
}

impl TolerationOperator {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "Equal",
            Self::Exists => "Exists",
        }
    }
}

/// A taint's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TaintEffect {
    /// New pods are not scheduled onto the node.
    NoSchedule,
    /// The scheduler avoids the node when it can.
    PreferNoSchedule,
    /// Running pods are evicted too.
    NoExecute,
}

impl TaintEffect {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

/// How strictly pods spread across zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ZoneSpread {
    /// Spread when possible, schedule anyway.
    ScheduleAnyway,
    /// Never break the spread.
    DoNotSchedule,
    /// No zone spread.
    Off,
}

/// Pod anti-affinity over nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AntiAffinity {
    /// Prefer different nodes.
    Preferred,
    /// Require different nodes.
    Required,
    /// None.
    Off,
}

/// Security context settings; the pod always runs as non-root, with all
/// capabilities dropped and the RuntimeDefault seccomp profile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Security {
    /// User id; 10001 when omitted; never 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    /// Group id; 10001 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    /// Group owning mounted volumes; 10001 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<i64>,
    /// Read-only root filesystem (with a writable `/tmp`); true when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
}

/// The service's own ServiceAccount.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountConfig {
    /// Mount an API token into pods; false when omitted (most apps never call the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_token: Option<bool>,
    /// Annotations, e.g. for cloud workload identity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Prometheus scraping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metrics {
    /// A declared port serving metrics.
    pub port: PortRef,
    /// Metrics path; `/metrics` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Logging handed to the app as `LOG_FORMAT` and `LOG_LEVEL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logging {
    /// `json` (structured, one object per line) or `text`.
    pub format: LogFormat,
    /// Log level, e.g. `INFO`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Plain text.
    Text,
}

impl LogFormat {
    /// As written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }
}

/// How new versions replace old ones.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Strategy {
    /// Extra pods during a rollout; `25%` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrPercent>,
    /// Pods that may be unavailable during a rollout; `0` when omitted (zero downtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrPercent>,
    /// Seconds a new pod must be ready before it counts as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<u32>,
    /// Blue-green instead of a plain rolling update (`web` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreen>,
}

/// Blue-green: two Deployments labelled by colour, the Service selecting `active`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlueGreen {
    /// The colour the Service sends traffic to.
    pub active: Color,
    /// Pin the blue Deployment to this image; unpinned colours run the image being deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_image: Option<String>,
    /// Pin the green Deployment to this image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub green_image: Option<String>,
    /// Replicas of the idle colour; the same as the active one when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_replicas: Option<u32>,
}

/// When a node pulls an image, in Kubernetes' spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Ask the registry on every container start (and so check the pull secret).
    Always,
    /// Pull only when the node does not have the image.
    IfNotPresent,
}

impl PullPolicy {
    /// As written in a container's `imagePullPolicy`.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
        }
    }
}

/// A blue-green colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// Blue.
    Blue,
    /// Green.
    Green,
}

impl Color {
    /// As written in labels and names.
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }
}

/// CronJob settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronConfig {
    /// Five-field cron schedule (`*/15 * * * *`) or a macro such as `@daily`.
    pub schedule: String,
    /// IANA time zone, e.g. `Europe/Berlin`; the controller's (UTC) when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// `Forbid` (default), `Allow` or `Replace` overlapping runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// Finished jobs kept; 3 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<u32>,
    /// Failed jobs kept; 1 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<u32>,
    /// Seconds after the scheduled time a missed run may still start; 300 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<u32>,
    /// Seconds a run may take before it is stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u32>,
    /// Retries of a failed run; 2 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<u32>,
    /// Pause scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// What to do when a run is due while the last one still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Run both.
    Allow,
    /// Skip the new run.
    Forbid,
    /// Stop the old run and start the new one.
    Replace,
}

impl ConcurrencyPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConcurrencyPolicy::Allow => "Allow",
            ConcurrencyPolicy::Forbid => "Forbid",
            ConcurrencyPolicy::Replace => "Replace",
        }
    }
}

/// StatefulSet settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatefulConfig {
    /// One PersistentVolumeClaim per pod for each entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_claims: Vec<VolumeClaim>,
    /// `OrderedReady` (default) or `Parallel` pod start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_management_policy: Option<PodManagementPolicy>,
}

/// A persistent volume per pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeClaim {
    /// Claim name, a DNS-1123 label.
    pub name: String,
    /// Where the application container mounts it.
    pub mount_path: String,
    /// Requested size, e.g. `10Gi`.
    pub size: Quantity,
    /// StorageClass; the cluster default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Access modes; `ReadWriteOnce` when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_modes: Vec<AccessMode>,
}

/// A volume access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AccessMode {
    /// One node reads and writes.
    ReadWriteOnce,
    /// One pod reads and writes.
    ReadWriteOncePod,
    /// Many nodes read.
    ReadOnlyMany,
    /// Many nodes read and write.
    ReadWriteMany,
}

impl AccessMode {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWriteOnce => "ReadWriteOnce",
            AccessMode::ReadWriteOncePod => "ReadWriteOncePod",
            AccessMode::ReadOnlyMany => "ReadOnlyMany",
            AccessMode::ReadWriteMany => "ReadWriteMany",
        }
    }
}

/// StatefulSet pod start-up order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PodManagementPolicy {
    /// One at a time, in order.
    OrderedReady,
    /// All at once.
    Parallel,
}

impl PodManagementPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PodManagementPolicy::OrderedReady => "OrderedReady",
            PodManagementPolicy::Parallel => "Parallel",
        }
    }
}

/// What one environment changes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentOverride {
    /// Fixed replicas; turns autoscaling off in this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Requests and limits, merged key by key over `spec.resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Autoscaling bounds over `spec.autoscaling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingBounds>,
    /// Ingress hosts (and TLS hosts) instead of `spec.ingress.hosts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Literal environment values, set or replaced by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, ScalarString>,
}

/// Autoscaling bounds of one environment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoscalingBounds {
    /// Fewest pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    /// Most pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
}
