//! The workload: Deployment (two for blue-green), StatefulSet or CronJob.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{self, PodOptions};
use super::scaling::{int_or_string, to_i32};
use super::{Input, Object, meta};
use crate::spec::{AccessMode, Color, WorkloadKind, defaults};

/// Old ReplicaSets kept for `kubectl rollout undo`; Slipway's own rollback
/// re-renders a revision, so a few are enough.
const REVISION_HISTORY: i32 = 5;
/// Seconds without progress before a rollout counts as failed (Kubernetes' default, made explicit).
const PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// The workload objects of the service's kind.
pub fn workloads(input: &Input<'_>) -> Vec<Object> {
    match input.kind {
        WorkloadKind::Web | WorkloadKind::Worker => match blue_green(input) {
            Some(bg) => [Color::Blue, Color::Green]
                .into_iter()
                .map(|color| {
                    let pinned = match color {
                        Color::Blue => bg.blue_image.as_deref(),
                        Color::Green => bg.green_image.as_deref(),
                    };
                    let replicas = match idle_color(input) {
                        Some((idle, count)) if idle == color => Some(to_i32(count)),
                        _ => fixed_replicas(input),
                    };
                    Object::Deployment(Box::new(deployment(
                        input,
                        Some(color),
                        pinned.unwrap_or(input.image),
                        replicas,
                    )))
                })
                .collect(),
            None => vec![Object::Deployment(Box::new(deployment(
                input,
                None,
                input.image,
                fixed_replicas(input),
            )))],
        },
        WorkloadKind::Stateful => vec![Object::StatefulSet(Box::new(stateful_set(input)))],
        WorkloadKind::Cron => vec![Object::CronJob(Box::new(cron_job(input)))],
    }
}

fn blue_green<'a>(input: &Input<'a>) -> Option<&'a crate::spec::BlueGreen> {
    input
        .spec
        .strategy
        .as_ref()
        .and_then(|s| s.blue_green.as_ref())
}

/// The colour the Service selects, for blue-green services.
pub fn active_color(input: &Input<'_>) -> Option<Color> {
    blue_green(input).map(|bg| bg.active)
}

/// The colour that does not serve, and its pod count, when blue-green is on.
pub fn idle_color(input: &Input<'_>) -> Option<(Color, u32)> {
    blue_green(input).map(|bg| {
        let idle = match bg.active {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        };
        (
            idle,
            bg.idle_replicas.unwrap_or_else(|| input.min_replicas()),
        )
    })
}

/// The Deployment the autoscaler scales: the only one, or the active colour.
pub fn scaled_deployment_name(input: &Input<'_>) -> String {
    deployment_name(input, active_color(input))
}

fn deployment_name(input: &Input<'_>, color: Option<Color>) -> String {
    match color {
        Some(color) => format!("{}-{}", input.name(), color.as_str()),
        None => input.name().to_owned(),
    }
}

/// Replicas to write into the workload: none when an autoscaler owns the
/// number, so that each apply does not reset what it decided.
fn fixed_replicas(input: &Input<'_>) -> Option<i32> {
    input
        .spec
        .autoscaling
        .is_none()
        .then(|| to_i32(input.replicas()))
}

fn deployment(
    input: &Input<'_>,
    color: Option<Color>,
    image: &str,
    replicas: Option<i32>,
) -> Deployment {
    let strategy = input.spec.strategy.clone().unwrap_or_default();
    let max_surge = strategy.max_surge.as_ref().map_or_else(
        || IntOrString::String(defaults::MAX_SURGE.to_owned()),
        int_or_string,
    );
    let max_unavailable = strategy.max_unavailable.as_ref().map_or(
        IntOrString::Int(to_i32(defaults::MAX_UNAVAILABLE)),
        int_or_string,
    );
    Deployment {
        metadata: meta::object_meta(input, &deployment_name(input, color)),
        spec: DeploymentSpec {
            replicas,
            selector: meta::selector(meta::color_selector_labels(input, color)),
            template: pod::template(
                input,
                PodOptions {
                    color,
                    image,
                    deployment: true,
                },
            ),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(max_surge),
                    max_unavailable: Some(max_unavailable),
                }),
            }),
            min_ready_seconds: strategy.min_ready_seconds.map(to_i32),
            revision_history_limit: Some(REVISION_HISTORY),
            progress_deadline_seconds: Some(PROGRESS_DEADLINE_SECONDS),
            paused: None,
        },
        status: None,
    }
}

fn stateful_set(input: &Input<'_>) -> StatefulSet {
    let stateful = input.spec.stateful.clone().unwrap_or_default();
    let claims: Vec<PersistentVolumeClaim> = stateful
        .volume_claims
        .iter()
        .map(|claim| {
            let modes = if claim.access_modes.is_empty() {
                vec![AccessMode::ReadWriteOnce]
            } else {
                claim.access_modes.clone()
            };
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim.name.clone()),
                    labels: Some(meta::labels(input)),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(modes.iter().map(|m| m.as_str().to_owned()).collect()),
                    storage_class_name: claim.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(
                            [(
                                "storage".to_owned(),
                                Quantity(claim.size.as_str().to_owned()),
                            )]
                            .into(),
                        ),
                        limits: None,
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                status: None,
            }
        })
        .collect();
    StatefulSet {
        metadata: meta::object_meta(input, input.name()),
        spec: StatefulSetSpec {
            service_name: Some(input.name().to_owned()),
            replicas: fixed_replicas(input),
            selector: meta::selector(meta::selector_labels(input)),
            template: pod::template(
                input,
                PodOptions {
                    color: None,
                    image: input.image,
                    deployment: false,
                },
            ),
            volume_claim_templates: (!claims.is_empty()).then_some(claims),
            pod_management_policy: stateful
                .pod_management_policy
                .map(|p| p.as_str().to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: None,
            }),
            // Data outlives the pods: deleting or scaling down never deletes a claim.
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_owned()),
                    when_scaled: Some("Retain".to_owned()),
                },
            ),
            min_ready_seconds: input
                .spec
                .strategy
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .map(to_i32),
            revision_history_limit: Some(REVISION_HISTORY),
            ordinals: None,
        },
        status: None,
    }
}

fn cron_job(input: &Input<'_>) -> CronJob {
    let Some(cron) = input.spec.cron.clone() else {
        // Validation requires `spec.cron` for kind cron, so this is never reached;
        // an empty schedule would be rejected by the API server anyway.
        return CronJob {
            metadata: meta::object_meta(input, input.name()),
            ..CronJob::default()
        };
    };
    CronJob {
        metadata: meta::object_meta(input, input.name()),
        spec: CronJobSpec {
            schedule: cron.schedule.clone(),
            time_zone: cron.time_zone.clone(),
            concurrency_policy: Some(
                cron.concurrency_policy
                    .map_or("Forbid", |p| p.as_str())
                    .to_owned(),
            ),
            successful_jobs_history_limit: Some(to_i32(
                cron.successful_jobs_history_limit
                    .unwrap_or(defaults::CRON_SUCCESSFUL_HISTORY),
            )),
            failed_jobs_history_limit: Some(to_i32(
                cron.failed_jobs_history_limit
                    .unwrap_or(defaults::CRON_FAILED_HISTORY),
            )),
            starting_deadline_seconds: Some(i64::from(
                cron.starting_deadline_seconds
                    .unwrap_or(defaults::CRON_STARTING_DEADLINE_SECONDS),
            )),
            suspend: cron.suspend,
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(meta::labels(input)),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(to_i32(
                        cron.backoff_limit.unwrap_or(defaults::CRON_BACKOFF_LIMIT),
                    )),
                    active_deadline_seconds: cron.active_deadline_seconds.map(i64::from),
                    ttl_seconds_after_finished: Some(defaults::JOB_TTL_SECONDS),
                    template: pod::template(
                        input,
                        PodOptions {
                            color: None,
                            image: input.image,
                            deployment: false,
                        },
                    ),
                    ..JobSpec::default()
                }),
            },
        },
        status: None,
    }
}
