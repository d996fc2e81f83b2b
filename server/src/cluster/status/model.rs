//! What the status page and `GET …/status` show, and how it is read from the
//! watched objects. Pure: objects in, plain data out; the cache (`mod.rs`)
//! chooses the objects and `explain.rs` turns the data into sentences.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus,
};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use crate::cluster::rollout::pod_problems;
use crate::render::{ANNOTATION_DEPLOY_ID, ANNOTATION_REVISION, LABEL_COLOR};

/// `topology.kubernetes.io/zone`: the zone of a node.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Replica counts summed over the service's workloads in one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replicas {
    /// What the workloads ask for (`spec.replicas`).
    pub desired: i32,
    /// Pods already on the newest template.
    pub updated: i32,
    /// Pods passing readiness.
    pub ready: i32,
    /// Pods ready for at least `minReadySeconds`.
    pub available: i32,
}

/// One workload (a Deployment or StatefulSet; one per colour for blue-green).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// `Deployment` or `StatefulSet`.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Blue-green colour, when the service has two.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Its own replica counts.
    pub replicas: Replicas,
    /// The image of its main (first) container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The deploy that last applied it (`slipway.dev/deploy-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_id: Option<String>,
    /// The revision it was rendered from (`slipway.dev/revision`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// A Deployment's ReplicaSets that have pods, and its newest one (a
    /// rollout in progress shows as the newest growing and the older shrinking).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_sets: Vec<ReplicaSetInfo>,
}

/// One of a Deployment's ReplicaSets: the pods of one template revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaSetInfo {
    /// Object name (the Deployment's and the template's hash).
    pub name: String,
    /// The Deployment's rollout revision it holds (`deployment.kubernetes.io/revision`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Pods it asks for.
    pub desired: i32,
    /// Pods it has.
    pub current: i32,
    /// Of those, ready.
    pub ready: i32,
    /// The image of its main container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Whether it is the Deployment's current template.
    pub newest: bool,
}

/// One metric of the autoscaler: what it aims for and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerMetric {
    /// `Resource`, `ContainerResource`, `Pods`, `Object` or `External`.
    pub kind: String,
    /// The resource (`cpu`, `memory`) or the metric's name.
    pub name: String,
    /// The target as the HPA states it: `70%` (of the request) or a quantity.
    pub target: String,
    /// The current value in the same terms; none while it cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Current over target (1.0 = on target); none without a current value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// A condition as Kubernetes reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// e.g. `AbleToScale`, `ScalingActive`, `ScalingLimited`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// CamelCase reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The controller's sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The autoscaler's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Autoscaler {
    /// Object name.
    pub name: String,
    /// Lower bound.
    pub min: i32,
    /// Upper bound.
    pub max: i32,
    /// Replicas it last saw.
    pub current: i32,
    /// Replicas it wants.
    pub desired: i32,
    /// Each metric against its target.
    pub metrics: Vec<AutoscalerMetric>,
    /// Its conditions.
    pub conditions: Vec<Condition>,
    /// When it last changed the replica count (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<String>,
    /// The same, in seconds since the Unix epoch (for explanations).
    #[serde(skip)]
    pub last_scale_epoch: Option<i64>,
}

impl Autoscaler {
    /// The condition of that type, when reported.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// A PodDisruptionBudget's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisruptionBudget {
    /// Object name.
    pub name: String,
    /// Voluntary disruptions (evictions, drains) allowed now.
    pub allowed: i32,
    /// Healthy pods now.
    pub current_healthy: i32,
    /// Healthy pods it requires.
    pub desired_healthy: i32,
    /// Pods it counts.
    pub expected: i32,
}

/// One pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodStatus {
    /// Pod name.
    pub name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    /// Whether its Ready condition is true.
    pub ready: bool,
    /// Container restarts, summed.
    pub restarts: i32,
    /// The node it runs on, if scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The node's zone, when the node is labelled with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// When it was created (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The same, in seconds since the Unix epoch (for ages).
    #[serde(skip)]
    pub created_epoch: Option<i64>,
    /// Why its last container ended, e.g. `OOMKilled (exit 137)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<String>,
    /// What keeps it from running or being ready, phrased to follow its name
    /// (the same sentences a failed deploy's reason uses).
    pub problems: Vec<String>,
    /// Whether the scheduler found no node for it.
    pub unschedulable: bool,
    /// Blue-green colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Its containers' names, the main one first, init containers last
    /// (whose logs can be read).
    pub containers: Vec<String>,
}

/// An explanation: one observed fact in words. `code` is stable for scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// e.g. `at-max-above-target`, `scale-down-stabilized`, `pods-unschedulable`.
    pub code: String,
    /// The sentence.
    pub message: String,
}

/// The live status of a service in one environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Replica counts over all workloads.
    pub replicas: Replicas,
    /// Each workload.
    pub workloads: Vec<Workload>,
    /// The autoscaler, when the service has one.
    pub hpa: Option<Autoscaler>,
    /// Its disruption budgets (two for blue-green: live and idle colour).
    pub disruption_budgets: Vec<DisruptionBudget>,
    /// Its pods, by name.
    pub pods: Vec<PodStatus>,
    /// Why it is (not) scaling, in words (`explain.rs`).
    pub explanations: Vec<Explanation>,
    /// The newest Warning events about its objects and their pods (at most
    /// [`RECENT_WARNINGS`]), newest first.
    pub warnings: Vec<WarningEvent>,
    /// A scheduled service's CronJob with its recent runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<super::cron::Schedule>,
    /// True when the cache may be behind: not synced yet, or a watch is reconnecting.
    pub stale: bool,
    /// Since when a watch has been failing (RFC 3339), while it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_since: Option<String>,
}

/// Warning events shown per service at most.
pub const RECENT_WARNINGS: usize = 10;

/// A Warning event about one of the service's objects.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WarningEvent {
    /// `BackOff`, `FailedScheduling`, `Unhealthy`, …
    pub reason: String,
    /// `Kind/name` of the object.
    pub object: String,
    /// What it says.
    pub message: String,
    /// How often it happened.
    pub count: i32,
    /// When it last happened (RFC 3339).
    pub last_seen: String,
    /// The same, in Unix seconds (for ordering).
    #[serde(skip)]
    pub last_seen_epoch: i64,
}

/// Reads a cached Warning event.
pub fn warning(e: &k8s_openapi::api::core::v1::Event) -> WarningEvent {
    let last = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0));
    WarningEvent {
        reason: e.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.as_deref().unwrap_or("object"),
            e.involved_object.name.as_deref().unwrap_or_default()
        ),
        message: e.message.clone().unwrap_or_default(),
        count: e.count.unwrap_or(1).max(1),
        last_seen: last.map(|t| t.to_string()).unwrap_or_default(),
        last_seen_epoch: last.map_or(0, |t| t.as_second()),
    }
}

fn rfc3339(t: &Time) -> String {
    t.0.to_string()
}

fn annotation(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.annotations.as_ref()?.get(key).cloned()
}

fn label(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.labels.as_ref()?.get(key).cloned()
}

fn main_image(spec: Option<&PodSpec>) -> Option<String> {
    spec?.containers.first()?.image.clone()
}

/// A workload from what Deployments and StatefulSets share: metadata, the
/// asked-for replicas, the pod template and the controller's counts
/// (updated, ready, available).
fn workload(
    kind: &str,
    meta: &ObjectMeta,
    desired: Option<i32>,
    template: Option<&PodSpec>,
    counts: [Option<i32>; 3],
) -> Workload {
    let [updated, ready, available] = counts.map(|c| c.unwrap_or(0));
    Workload {
        kind: kind.into(),
        name: meta.name.clone().unwrap_or_default(),
        color: label(meta, LABEL_COLOR),
        replicas: Replicas {
            desired: desired.unwrap_or(1),
            updated,
            ready,
            available,
        },
        image: main_image(template),
        deploy_id: annotation(meta, ANNOTATION_DEPLOY_ID),
        revision: annotation(meta, ANNOTATION_REVISION),
        replica_sets: Vec::new(),
    }
}

/// A Deployment as a workload.
pub fn deployment(d: &Deployment) -> Workload {
    let status = d.status.clone().unwrap_or_default();
    workload(
        "Deployment",
        &d.metadata,
        d.spec.replicas,
        d.spec.template.spec.as_ref(),
        [
            status.updated_replicas,
            status.ready_replicas,
            status.available_replicas,
        ],
    )
}

/// The Deployment controller's rollout revision annotation.
const ROLLOUT_REVISION: &str = "deployment.kubernetes.io/revision";

/// `d` as a workload with those of `sets` it owns that have pods, and the
/// newest; newest first, then by revision, highest first.
pub fn deployment_with_sets<'a>(
    d: &Deployment,
    sets: impl IntoIterator<Item = &'a ReplicaSet>,
) -> Workload {
    let mut w = deployment(d);
    let current = annotation(&d.metadata, ROLLOUT_REVISION);
    let owned = |rs: &ReplicaSet| {
        rs.metadata.owner_references.iter().flatten().any(|o| {
            o.kind == "Deployment"
                && Some(&o.name) == d.metadata.name.as_ref()
                && d.metadata.uid.as_ref().is_none_or(|uid| &o.uid == uid)
        })
    };
    w.replica_sets = sets
        .into_iter()
        .filter(|rs| owned(rs))
        .map(|rs| {
            let status = rs.status.clone().unwrap_or_default();
            let revision = annotation(&rs.metadata, ROLLOUT_REVISION);
            ReplicaSetInfo {
                name: rs.metadata.name.clone().unwrap_or_default(),
                newest: revision.is_some() && revision == current,
                revision,
                desired: rs.spec.replicas.unwrap_or(0),
                current: status.replicas,
                ready: status.ready_replicas.unwrap_or(0),
                image: main_image(rs.spec.template.as_ref().and_then(|t| t.spec.as_ref())),
            }
        })
        .filter(|rs| rs.newest || rs.desired > 0 || rs.current > 0)
        .collect();
    let number = |rs: &ReplicaSetInfo| {
        rs.revision
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0)
    };
    w.replica_sets
        .sort_by_key(|rs| std::cmp::Reverse((rs.newest, number(rs))));
    w
}

/// A StatefulSet as a workload.
pub fn stateful_set(s: &StatefulSet) -> Workload {
    let status = s.status.clone().unwrap_or_default();
    workload(
        "StatefulSet",
        &s.metadata,
        s.spec.replicas,
        s.spec.template.spec.as_ref(),
        [
            status.updated_replicas,
            status.ready_replicas,
            status.available_replicas,
        ],
    )
}

/// The sum of the workloads' counts.
pub fn total(workloads: &[Workload]) -> Replicas {
    workloads.iter().fold(Replicas::default(), |mut t, w| {
        t.desired += w.replicas.desired;
        t.updated += w.replicas.updated;
        t.ready += w.replicas.ready;
        t.available += w.replicas.available;
        t
    })
}

/// A PDB's verdict.
pub fn disruption_budget(p: &PodDisruptionBudget) -> DisruptionBudget {
    let status = p.status.clone().unwrap_or_default();
    DisruptionBudget {
        name: p.metadata.name.clone().unwrap_or_default(),
        allowed: status.disruptions_allowed.unwrap_or(0),
        current_healthy: status.current_healthy.unwrap_or(0),
        desired_healthy: status.desired_healthy.unwrap_or(0),
        expected: status.expected_pods.unwrap_or(0),
    }
}

/// A pod; `zone_of` names the zone of a node.
pub fn pod(p: &Pod, zone_of: impl Fn(&str) -> Option<String>) -> PodStatus {
    let status = p.status.clone().unwrap_or_default();
    let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
    let last_termination = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| {
            let t = c.last_state.as_ref()?.terminated.as_ref()?;
            Some(format!(
                "{} (exit {})",
                t.reason.as_deref().unwrap_or("Terminated"),
                t.exit_code
            ))
        })
        .next();
    let unschedulable = status.conditions.iter().flatten().any(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    PodStatus {
        name: p.metadata.name.clone().unwrap_or_default(),
        phase: status.phase.clone().unwrap_or_else(|| "Unknown".into()),
        ready: status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        restarts: status
            .container_statuses
            .iter()
            .flatten()
            .map(|c| c.restart_count)
            .sum(),
        zone: node.as_deref().and_then(&zone_of),
        node,
        created_at: p.metadata.creation_timestamp.as_ref().map(rfc3339),
        created_epoch: p
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second()),
        last_termination,
        problems: pod_problems(p),
        unschedulable,
        color: label(&p.metadata, LABEL_COLOR),
        containers: p
            .spec
            .iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .map(|c| c.name.clone())
            .collect(),
    }
}

/// An autoscaler with each metric matched to its current value.
pub fn autoscaler(h: &HorizontalPodAutoscaler) -> Autoscaler {
    let spec = Some(&h.spec);
    let status = h.status.clone().unwrap_or_default();
    let current = status.current_metrics.unwrap_or_default();
    let metrics = spec
        .and_then(|s| s.metrics.as_ref())
        .into_iter()
        .flatten()
        .map(|m| metric(m, &current))
        .collect();
    Autoscaler {
        name: h.metadata.name.clone().unwrap_or_default(),
        min: spec.and_then(|s| s.min_replicas).unwrap_or(1),
        max: spec.map(|s| s.max_replicas).unwrap_or_default(),
        current: status.current_replicas.unwrap_or(0),
        desired: status.desired_replicas,
        metrics,
        conditions: status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| Condition {
                type_: c.type_,
                status: c.status,
                reason: c.reason,
                message: c.message,
            })
            .collect(),
        last_scale_time: status.last_scale_time.as_ref().map(rfc3339),
        last_scale_epoch: status.last_scale_time.as_ref().map(|t| t.0.as_second()),
    }
}

/// The source of a metric: its kind, name and target.
fn source(m: &MetricSpec) -> (String, String, Option<&MetricTarget>) {
    let kind = m.type_.clone();
    match kind.as_str() {
        "Resource" => m
            .resource
            .as_ref()
            .map(|r| (kind.clone(), r.name.clone(), Some(&r.target))),
        "ContainerResource" => m.container_resource.as_ref().map(|r| {
            (
                kind.clone(),
                format!("{} of {}", r.name, r.container),
                Some(&r.target),
            )
        }),
        "Pods" => m
            .pods
            .as_ref()
            .map(|p| (kind.clone(), p.metric.name.clone(), Some(&p.target))),
        "Object" => m
            .object
            .as_ref()
            .map(|o| (kind.clone(), o.metric.name.clone(), Some(&o.target))),
        "External" => m
            .external
            .as_ref()
            .map(|e| (kind.clone(), e.metric.name.clone(), Some(&e.target))),
        _ => None,
    }
    .unwrap_or((kind, String::new(), None))
}

/// The current value reported for the metric of that kind and name.
fn current_of<'a>(
    kind: &str,
    name: &str,
    current: &'a [MetricStatus],
) -> Option<&'a MetricValueStatus> {
    current.iter().find_map(|s| {
        if s.type_ != kind {
            return None;
        }
        match kind {
            "Resource" => s
                .resource
                .as_ref()
                .filter(|r| r.name == name)
                .map(|r| &r.current),
            "ContainerResource" => s
                .container_resource
                .as_ref()
                .filter(|r| format!("{} of {}", r.name, r.container) == name)
                .map(|r| &r.current),
            "Pods" => s
                .pods
                .as_ref()
                .filter(|p| p.metric.name == name)
                .map(|p| &p.current),
            "Object" => s
                .object
                .as_ref()
                .filter(|o| o.metric.name == name)
                .map(|o| &o.current),
            "External" => s
                .external
                .as_ref()
                .filter(|e| e.metric.name == name)
                .map(|e| &e.current),
            _ => None,
        }
    })
}

fn metric(m: &MetricSpec, current: &[MetricStatus]) -> AutoscalerMetric {
    let (kind, name, target) = source(m);
    let now = current_of(&kind, &name, current);
    let (target_text, current_text, ratio) = match target {
        Some(t) if t.type_ == "Utilization" => {
            let want = t.average_utilization.unwrap_or_default();
            let have = now.and_then(|c| c.average_utilization);
            (
                format!("{want}%"),
                have.map(|h| format!("{h}%")),
                have.filter(|_| want > 0)
                    .map(|h| f64::from(h) / f64::from(want)),
            )
        }
        Some(t) => {
            let average = t.type_ == "AverageValue";
            let want = if average { &t.average_value } else { &t.value };
            let have = now.and_then(|c| {
                if average {
                    c.average_value.as_ref()
                } else {
                    c.value.as_ref()
                }
            });
            let ratio = match (
                want.as_ref().and_then(|q| quantity(&q.0)),
                have.and_then(|q| quantity(&q.0)),
            ) {
                (Some(w), Some(h)) if w > 0.0 => Some(h / w),
                _ => None,
            };
            let suffix = if average { " per pod" } else { "" };
            (
                want.as_ref()
                    .map(|q| format!("{}{suffix}", q.0))
                    .unwrap_or_default(),
                have.map(|q| format!("{}{suffix}", q.0)),
                ratio,
            )
        }
        None => (String::new(), None, None),
    };
    AutoscalerMetric {
        kind,
        name,
        target: target_text,
        current: current_text,
        ratio,
    }
}

/// A Kubernetes quantity (`250m`, `1.5`, `512Mi`, `2k`, `1e3`) as a number.
pub fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let suffixes: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0_f64.powi(4)),
        ("Pi", 1024.0_f64.powi(5)),
        ("Ei", 1024.0_f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    let more: BTreeMap<&str, f64> = [("T", 1e12), ("P", 1e15), ("E", 1e18)].into();
    for (suffix, factor) in more {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::autoscaling::v2::{
        HorizontalPodAutoscalerSpec, HorizontalPodAutoscalerStatus, ResourceMetricSource,
        ResourceMetricStatus,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(quantity("250m"), Some(0.25));
        assert_eq!(quantity("1.5"), Some(1.5));
        assert_eq!(quantity("512Mi"), Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(quantity("2k"), Some(2000.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("3E"), Some(3e18));
        assert_eq!(quantity("lots"), None);
    }

    fn hpa_with(
        target: MetricTarget,
        current: Option<MetricValueStatus>,
    ) -> HorizontalPodAutoscaler {
        HorizontalPodAutoscaler {
            spec: HorizontalPodAutoscalerSpec {
                max_replicas: 5,
                min_replicas: Some(2),
                metrics: Some(vec![MetricSpec {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".into(),
                        target,
                    }),
                    ..MetricSpec::default()
                }]),
                ..HorizontalPodAutoscalerSpec::default()
            },
            status: Some(HorizontalPodAutoscalerStatus {
                current_replicas: Some(5),
                desired_replicas: 5,
                current_metrics: current.map(|c| {
                    vec![MetricStatus {
                        type_: "Resource".into(),
                        resource: Some(ResourceMetricStatus {
                            name: "cpu".into(),
                            current: c,
                        }),
                        ..MetricStatus::default()
                    }]
                }),
                ..HorizontalPodAutoscalerStatus::default()
            }),
            ..HorizontalPodAutoscaler::default()
        }
    }

    #[test]
    fn a_utilization_metric_is_matched_to_its_current_value() {
        let h = autoscaler(&hpa_with(
            MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(70),
                ..MetricTarget::default()
            },
            Some(MetricValueStatus {
                average_utilization: Some(300),
                ..MetricValueStatus::default()
            }),
        ));
        assert_eq!((h.min, h.max, h.current, h.desired), (2, 5, 5, 5));
        let m = &h.metrics[0];
        assert_eq!((m.kind.as_str(), m.name.as_str()), ("Resource", "cpu"));
        assert_eq!(
            (m.target.as_str(), m.current.as_deref()),
            ("70%", Some("300%"))
        );
        assert!((m.ratio.unwrap() - 300.0 / 70.0).abs() < 1e-9);
    }

    #[test]
    fn an_average_value_metric_compares_quantities_and_a_missing_one_has_no_ratio() {
        let target = MetricTarget {
            type_: "AverageValue".into(),
            average_value: Some(Quantity("200Mi".into())),
            ..MetricTarget::default()
        };
        let h = autoscaler(&hpa_with(
            target.clone(),
            Some(MetricValueStatus {
                average_value: Some(Quantity("100Mi".into())),
                ..MetricValueStatus::default()
            }),
        ));
        assert_eq!(h.metrics[0].target, "200Mi per pod");
        assert_eq!(h.metrics[0].current.as_deref(), Some("100Mi per pod"));
        assert_eq!(h.metrics[0].ratio, Some(0.5));
        let none = autoscaler(&hpa_with(target, None));
        assert_eq!(
            (none.metrics[0].current.as_ref(), none.metrics[0].ratio),
            (None, None)
        );
    }

    #[test]
    fn a_deployment_keeps_its_newest_replica_set_and_those_with_pods() {
        use k8s_openapi::api::apps::v1::ReplicaSetSpec;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let revision = |r: &str| Some([(ROLLOUT_REVISION.to_owned(), r.to_owned())].into());
        let d = Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                uid: Some("d1".into()),
                annotations: revision("5"),
                ..ObjectMeta::default()
            },
            ..Deployment::default()
        };
        let set = |name: &str, owner: &str, rev: &str, replicas: i32| ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: revision(rev),
                owner_references: Some(vec![OwnerReference {
                    kind: "Deployment".into(),
                    name: owner.into(),
                    uid: "d1".into(),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            spec: ReplicaSetSpec {
                replicas: Some(replicas),
                ..ReplicaSetSpec::default()
            },
            status: None,
        };
        let sets = [
            set("web-old", "web", "3", 0),
            set("web-prev", "web", "4", 2),
            set("web-new", "web", "5", 0),
            set("web-api-x", "web-api", "5", 3),
        ];
        let w = deployment_with_sets(&d, &sets);
        let names: Vec<_> = w
            .replica_sets
            .iter()
            .map(|rs| (rs.name.as_str(), rs.newest))
            .collect();
        assert_eq!(names, [("web-new", true), ("web-prev", false)]);
    }
}
