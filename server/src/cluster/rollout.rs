//! Waiting for a rollout with the controllers' own status: a Deployment is done
//! when the controller observed its generation and every desired replica is
//! updated, ready and available (`ProgressDeadlineExceeded` means failed); a
//! StatefulSet when its replicas are ready and updated and `updateRevision ==
//! currentRevision`; a CronJob has nothing to roll out. When a rollout stalls,
//! the reasons are collected from the pods (scheduling, waiting containers) and
//! the namespace's Warning events.
//!
//! The wait looks again whenever a watch on the service's workloads reports a
//! change (as `kubectl rollout status` does), so a finished rollout is seen
//! within a round trip rather than at the next poll; the poll stays as the
//! longest gap between looks, for a watch the API server ends or refuses.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::time::Instant;
use tracing::instrument;

use super::apply::{Manifest, Target};
use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};

/// How long to wait for a rollout.
#[derive(Clone, Copy, Debug)]
pub struct RolloutConfig {
    /// A rollout whose replica counts do not move for this long has failed.
    pub stall_timeout: Duration,
    /// No rollout takes longer than this, moving or not.
    pub max_duration: Duration,
    /// The longest gap between looks; a watched change makes the next look at once.
    pub poll: Duration,
}

impl Default for RolloutConfig {
    /// 120 s without progress, 30 minutes at most, a look at every change and
    /// at least every two seconds.
    fn default() -> Self {
        RolloutConfig {
            stall_timeout: Duration::from_secs(120),
            max_duration: Duration::from_secs(30 * 60),
            poll: Duration::from_secs(2),
        }
    }
}

/// The longest rollout outside production (environments without production
/// rules): a deploy whose replica counts keep moving cannot hold a worker
/// slot there for the full production deadline (security review #17).
pub const NON_PRODUCTION_MAX_DURATION: Duration = Duration::from_secs(10 * 60);

impl RolloutConfig {
    /// The deadlines for an environment: outside production (`production` is
    /// the environment's production rules) at most [`NON_PRODUCTION_MAX_DURATION`].
    pub fn for_environment(self, production: bool) -> Self {
        if production {
            self
        } else {
            RolloutConfig {
                max_duration: self.max_duration.min(NON_PRODUCTION_MAX_DURATION),
                ..self
            }
        }
    }
}

/// How a rollout ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// Every workload is rolled out; the text summarises it.
    Complete(String),
    /// It cannot complete; the text is the deploy's reason.
    Failed(String),
}

/// Where one workload stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Still rolling out; the text says how far (it changes when there is progress).
    Waiting(String),
    /// Rolled out.
    Done(String),
    /// The controller itself gave up.
    Failed(String),
}

/// A Deployment's rollout, read from its status alone (as `kubectl rollout status` does).
pub fn deployment_progress(d: &Deployment) -> Progress {
    let name = d.metadata.name.as_deref().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    if status.observed_generation.unwrap_or(0) < generation {
        return Progress::Waiting(format!(
            "Deployment {name}: waiting for the controller to see generation {generation}"
        ));
    }
    if let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Progressing"))
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return Progress::Failed(format!(
            "Deployment {name} exceeded its progress deadline: {}",
            c.message.as_deref().unwrap_or("no message")
        ));
    }
    let desired = d.spec.replicas.unwrap_or(1);
    let total = status.replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let counts = format!(
        "{updated} of {desired} updated, {ready} ready, {available} available, {total} in all"
    );
    if updated < desired || total > updated || ready < desired || available < desired {
        Progress::Waiting(format!("Deployment {name}: {counts}"))
    } else {
        Progress::Done(format!(
            "Deployment {name}: {desired} of {desired} replicas updated, ready and available"
        ))
    }
}

/// A StatefulSet's rollout, read from its status alone.
pub fn statefulset_progress(s: &StatefulSet) -> Progress {
    let name = s.metadata.name.as_deref().unwrap_or_default();
    let generation = s.metadata.generation.unwrap_or(0);
    let status = s.status.clone().unwrap_or_default();
    if status.observed_generation.unwrap_or(0) < generation {
        return Progress::Waiting(format!(
            "StatefulSet {name}: waiting for the controller to see generation {generation}"
        ));
    }
    let desired = s.spec.replicas.unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let strategy = s.spec.update_strategy.as_ref();
    if strategy.and_then(|u| u.type_.as_deref()) == Some("OnDelete") {
        return Progress::Done(format!(
            "StatefulSet {name}: OnDelete strategy, pods update when deleted"
        ));
    }
    let partition = strategy
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let revisions_match =
        status.update_revision.is_some() && status.update_revision == status.current_revision;
    let counts = format!("{updated} of {desired} updated, {ready} ready");
    if ready < desired || updated < desired - partition.min(desired) {
        return Progress::Waiting(format!("StatefulSet {name}: {counts}"));
    }
    if partition == 0 && !revisions_match {
        return Progress::Waiting(format!(
            "StatefulSet {name}: {counts}, waiting for the current revision to be the update revision"
        ));
    }
    Progress::Done(format!(
        "StatefulSet {name}: {desired} of {desired} replicas updated and ready"
    ))
}

/// Waits until every Deployment and StatefulSet of the manifests is rolled out,
/// or fails with the reasons found when the controller gives up or nothing moves
/// for `stall_timeout`.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn wait(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    config: RolloutConfig,
    retry: RetryPolicy,
) -> Result<Rollout, ClusterError> {
    let workloads: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| matches!(m.kind(), "Deployment" | "StatefulSet"))
        .collect();
    if workloads.is_empty() {
        let kinds: Vec<&str> = manifests.iter().map(Manifest::kind).collect();
        let what = if kinds.contains(&"CronJob") {
            "applied; a CronJob runs on its schedule, there is no rollout to wait for"
        } else {
            "applied; there is no workload to roll out"
        };
        return Ok(Rollout::Complete(what.into()));
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &target.namespace);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &target.namespace);
    // A watch begins (when first polled, after the first look) by listing the
    // objects as they are, which wakes a look too: a change between the first
    // look and the watch's start is not missed.
    let mut changes = workload_changes(client, target, &workloads);
    let mut watching = true;
    let started = Instant::now();
    let mut last_change = Instant::now();
    let mut last_summary = String::new();
    loop {
        let mut states = Vec::with_capacity(workloads.len());
        for w in &workloads {
            let progress = match w.kind() {
                "Deployment" => {
                    let d = with_retry(
                        retry,
                        "reading the Deployment",
                        || deployments.get(&w.name),
                        |e| refused(w, e),
                    )
                    .await?;
                    deployment_progress(&d)
                }
                _ => {
                    let s = with_retry(
                        retry,
                        "reading the StatefulSet",
                        || statefulsets.get(&w.name),
                        |e| refused(w, e),
                    )
                    .await?;
                    statefulset_progress(&s)
                }
            };
            states.push(progress);
        }
        let summary = states
            .iter()
            .map(|p| match p {
                Progress::Waiting(s) | Progress::Done(s) | Progress::Failed(s) => s.as_str(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        if let Some(Progress::Failed(why)) =
            states.iter().find(|p| matches!(p, Progress::Failed(_)))
        {
            let reasons = failure_reasons(client, target, &workloads, retry).await?;
            return Ok(Rollout::Failed(with_reasons(why, &reasons)));
        }
        if states.iter().all(|p| matches!(p, Progress::Done(_))) {
            return Ok(Rollout::Complete(summary));
        }
        if summary != last_summary {
            tracing::debug!(%summary, "rollout progressing");
            last_summary = summary.clone();
            last_change = Instant::now();
        }
        let stalled = last_change.elapsed() >= config.stall_timeout;
        let too_long = started.elapsed() >= config.max_duration;
        if stalled || too_long {
            let why = if stalled {
                format!(
                    "the rollout made no progress for {} s ({summary})",
                    config.stall_timeout.as_secs()
                )
            } else {
                format!(
                    "the rollout did not finish within {} s ({summary})",
                    config.max_duration.as_secs()
                )
            };
            let reasons = failure_reasons(client, target, &workloads, retry).await?;
            return Ok(Rollout::Failed(with_reasons(&why, &reasons)));
        }
        tokio::select! {
            change = changes.next(), if watching => {
                if change.is_none() {
                    tracing::debug!("the workload watch ended; polling");
                    watching = false;
                }
                // One look for a burst of changes (a rollout reports several at once).
                while let Some(Some(_)) = changes.next().now_or_never() {}
            }
            () = tokio::time::sleep(config.poll) => {}
        }
    }
}

/// A tick for every change the API server reports to the Deployments and
/// StatefulSets among `workloads` (a watch of the namespace filtered by the
/// service's labels, each kind watched only when the manifests have one). A
/// watch error is a tick too (the next look reads the objects themselves) and
/// backs off, so a refused watch does not spin.
fn workload_changes(
    client: &Client,
    target: &Target,
    workloads: &[&Manifest],
) -> BoxStream<'static, ()> {
    let config = watcher::Config::default().labels(&target.selector());
    let has = |kind: &str| workloads.iter().any(|w| w.kind() == kind);
    let mut streams: Vec<BoxStream<'static, ()>> = Vec::new();
    if has("Deployment") {
        let api: Api<Deployment> = Api::namespaced(client.clone(), &target.namespace);
        streams.push(
            watcher(api, config.clone())
                .default_backoff()
                .map(|_| ())
                .boxed(),
        );
    }
    if has("StatefulSet") {
        let api: Api<StatefulSet> = Api::namespaced(client.clone(), &target.namespace);
        streams.push(watcher(api, config).default_backoff().map(|_| ()).boxed());
    }
    futures::stream::select_all(streams).boxed()
}

fn refused(w: &Manifest, e: kube::Error) -> ClusterError {
    ClusterError::Refused {
        object: w.describe(),
        message: one_line(&e),
    }
}

/// Longest reason stored on a deploy; events can be chatty.
const MAX_REASON: usize = 2000;

fn with_reasons(why: &str, reasons: &[String]) -> String {
    let mut out = why.to_owned();
    if !reasons.is_empty() {
        out.push_str(". ");
        out.push_str(&reasons.join(". "));
    }
    if out.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// What the pods and events say about a stuck rollout: unschedulable pods,
/// containers waiting (ImagePullBackOff, CrashLoopBackOff, …) or exiting with an
/// error, and the namespace's Warning events about the workloads.
pub async fn failure_reasons(
    client: &Client,
    target: &Target,
    workloads: &[&Manifest],
    retry: RetryPolicy,
) -> Result<Vec<String>, ClusterError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
    // Identical problems of many pods read as one line with a count.
    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in workloads {
        let Some(selector) = match_labels(&w.value) else {
            continue;
        };
        let params = ListParams::default().labels(&selector);
        let list = with_retry(
            retry,
            "listing pods",
            || pods.list(&params),
            |e| refused(w, e),
        )
        .await?;
        for pod in list.items {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            for problem in pod_problems(&pod) {
                problems.entry(problem).or_default().push(pod_name.clone());
            }
        }
    }
    let mut out: Vec<String> = problems
        .into_iter()
        .map(|(problem, pods)| match pods.as_slice() {
            [one] => format!("pod {one} {problem}"),
            [first, rest @ ..] => format!("pod {first} (and {} more) {problem}", rest.len()),
            [] => problem,
        })
        .collect();
    let events: Api<Event> = Api::namespaced(client.clone(), &target.namespace);
    let params = ListParams::default().fields("type=Warning");
    let warnings = with_retry(
        retry,
        "listing events",
        || events.list(&params),
        |e| ClusterError::Refused {
            object: format!("events in {}", target.namespace),
            message: one_line(&e),
        },
    )
    .await?;
    let prefixes: Vec<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
    let mut seen = Vec::new();
    let mut items = warnings.items;
    items.sort_by(|a, b| a.last_timestamp.cmp(&b.last_timestamp));
    for event in items.iter().rev() {
        let object = event.involved_object.name.as_deref().unwrap_or_default();
        if !prefixes.iter().any(|p| object.starts_with(p)) {
            continue;
        }
        let line = format!(
            "Warning {} on {}/{object}: {}",
            event.reason.as_deref().unwrap_or("Event"),
            event.involved_object.kind.as_deref().unwrap_or("object"),
            event.message.as_deref().unwrap_or_default().trim()
        );
        if !seen.contains(&line) {
            seen.push(line);
        }
        if seen.len() == 5 {
            break;
        }
    }
    out.extend(seen);
    Ok(out)
}

fn match_labels(workload: &serde_json::Value) -> Option<String> {
    let labels = workload
        .pointer("/spec/selector/matchLabels")?
        .as_object()?;
    let parts: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Waiting reasons that only mean "starting": not problems.
const BENIGN_WAITING: [&str; 2] = ["ContainerCreating", "PodInitializing"];

/// The problems of one pod, each phrased to follow "pod NAME".
pub fn pod_problems(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    let Some(status) = &pod.status else {
        return out;
    };
    for c in status.conditions.iter().flatten() {
        if c.type_ == "PodScheduled" && c.status == "False" {
            out.push(format!(
                "cannot be scheduled: {}",
                c.message
                    .as_deref()
                    .unwrap_or(c.reason.as_deref().unwrap_or("Unschedulable"))
            ));
        }
    }
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in containers {
        let mut said_crash_loop = false;
        if let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && !BENIGN_WAITING.contains(&reason)
        {
            said_crash_loop = reason == CRASH_LOOP;
            let message = waiting.message.as_deref().unwrap_or_default();
            out.push(
                format!("container {} is waiting: {reason} {message}", c.name)
                    .trim_end()
                    .to_owned(),
            );
        }
        if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            // The count says "it keeps crashing", which one exit code does not.
            let restarts = match c.restart_count {
                0 => String::new(),
                1 => ", restarted once".to_owned(),
                n => format!(", restarted {n} times"),
            };
            // Between two back-offs a crashing container is briefly running
            // (or starting) again, so its state alone does not say
            // CrashLoopBackOff; a restart after a failed exit means it is in one.
            let crash_loop = if c.restart_count > 0 && !said_crash_loop {
                format!(" and keeps crashing ({CRASH_LOOP})")
            } else {
                String::new()
            };
            out.push(format!(
                "container {} exited with code {} ({}){restarts}{crash_loop}",
                c.name,
                t.exit_code,
                t.reason.as_deref().unwrap_or("Error")
            ));
        }
    }
    out
}

/// The kubelet's waiting reason for a container it restarts after back-off.
const CRASH_LOOP: &str = "CrashLoopBackOff";

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateWaiting, ContainerStatus, PodCondition, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    #[test]
    fn rollouts_outside_production_get_a_shorter_deadline() {
        let config = RolloutConfig::default();
        assert_eq!(
            config.for_environment(false).max_duration,
            NON_PRODUCTION_MAX_DURATION
        );
        assert_eq!(
            config.for_environment(true).max_duration,
            config.max_duration
        );
        let short = RolloutConfig {
            max_duration: Duration::from_secs(5),
            ..config
        };
        assert_eq!(
            short.for_environment(false).max_duration,
            Duration::from_secs(5)
        );
    }

    fn deployment(generation: i64, desired: i32, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            spec: DeploymentSpec {
                replicas: Some(desired),
                ..DeploymentSpec::default()
            },
            status: Some(status),
        }
    }

    fn counts(
        observed: i64,
        total: i32,
        updated: i32,
        ready: i32,
        available: i32,
    ) -> DeploymentStatus {
        DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(total),
            updated_replicas: Some(updated),
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            ..DeploymentStatus::default()
        }
    }

    #[test]
    fn a_deployment_not_yet_observed_is_waiting() {
        let d = deployment(2, 2, counts(1, 2, 2, 2, 2));
        assert!(matches!(deployment_progress(&d), Progress::Waiting(_)));
    }

    #[test]
    fn a_deployment_with_every_replica_updated_ready_and_available_is_done() {
        let d = deployment(2, 2, counts(2, 2, 2, 2, 2));
        assert!(matches!(deployment_progress(&d), Progress::Done(_)));
    }

    #[test]
    fn old_replicas_still_terminating_keep_it_waiting() {
        let d = deployment(2, 2, counts(2, 3, 2, 2, 2));
        assert!(matches!(deployment_progress(&d), Progress::Waiting(_)));
    }

    #[test]
    fn unavailable_replicas_keep_it_waiting() {
        let d = deployment(2, 2, counts(2, 2, 2, 1, 1));
        assert!(matches!(deployment_progress(&d), Progress::Waiting(_)));
    }

    #[test]
    fn progress_deadline_exceeded_is_a_failure() {
        let mut status = counts(2, 2, 1, 0, 0);
        status.conditions = Some(vec![DeploymentCondition {
            type_: Some("Progressing".into()),
            status: Some("False".into()),
            reason: Some("ProgressDeadlineExceeded".into()),
            message: Some("ReplicaSet \"web-1\" has timed out progressing.".into()),
            ..DeploymentCondition::default()
        }]);
        match deployment_progress(&deployment(2, 2, status)) {
            Progress::Failed(why) => assert!(why.contains("timed out progressing"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unschedulable_pod_says_why() {
        let pod = Pod {
            status: Some(PodStatus {
                conditions: Some(vec![PodCondition {
                    type_: "PodScheduled".into(),
                    status: "False".into(),
                    reason: Some("Unschedulable".into()),
                    message: Some("0/3 nodes are available: 3 Insufficient cpu.".into()),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        assert_eq!(
            pod_problems(&pod),
            ["cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu."]
        );
    }

    #[test]
    fn image_pull_back_off_is_a_problem_but_container_creating_is_not() {
        let waiting = |reason: &str| ContainerStatus {
            name: "app".into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.into()),
                    message: Some("Back-off pulling image".into()),
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        };
        let pod = Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![
                    waiting("ImagePullBackOff"),
                    waiting("ContainerCreating"),
                ]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        assert_eq!(
            pod_problems(&pod),
            ["container app is waiting: ImagePullBackOff Back-off pulling image"]
        );
    }

    #[test]
    fn a_crashing_container_says_how_often_it_restarted() {
        use k8s_openapi::api::core::v1::ContainerStateTerminated;
        let pod = Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: "app".into(),
                    restart_count: 4,
                    state: Some(ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some("CrashLoopBackOff".into()),
                            message: Some("back-off 40s restarting failed container=app".into()),
                        }),
                        ..ContainerState::default()
                    }),
                    last_state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code: 3,
                            reason: Some("Error".into()),
                            ..ContainerStateTerminated::default()
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        assert_eq!(
            pod_problems(&pod),
            [
                "container app is waiting: CrashLoopBackOff back-off 40s restarting failed container=app",
                "container app exited with code 3 (Error), restarted 4 times",
            ]
        );
    }

    #[test]
    fn a_crashing_container_read_between_two_back_offs_is_still_a_crash_loop() {
        use k8s_openapi::api::core::v1::{ContainerStateRunning, ContainerStateTerminated};
        let status = |restart_count| ContainerStatus {
            name: "app".into(),
            restart_count,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..ContainerState::default()
            }),
            last_state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 1,
                    reason: Some("Error".into()),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        };
        let pod = |c| Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![c]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        assert_eq!(
            pod_problems(&pod(status(3))),
            [
                "container app exited with code 1 (Error), restarted 3 times and keeps crashing (CrashLoopBackOff)"
            ]
        );
        // Never restarted: one failed exit is not a loop.
        assert_eq!(
            pod_problems(&pod(status(0))),
            ["container app exited with code 1 (Error)"]
        );
    }

    #[test]
    fn long_reasons_are_cut() {
        let long = "x".repeat(5000);
        assert!(with_reasons(&long, &[]).len() <= MAX_REASON + 3);
    }
}
