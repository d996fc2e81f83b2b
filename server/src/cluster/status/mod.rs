//! Live scaling status from watches: Deployments (with their ReplicaSets),
//! StatefulSets, CronJobs (with their Jobs), autoscalers, disruption budgets
//! and pods that Slipway manages (`app.kubernetes.io/managed-by=slipway`),
//! the Warning events of Slipway's namespaces (trimmed), plus the nodes' zone
//! labels, kept in memory by kube-runtime reflectors. A page view reads the
//! cache and never makes a request to the API server. `model` and `cron` read
//! the objects, `explain` says in words why the service is (not) scaling.

pub mod cron;
pub mod explain;
pub mod model;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Container, Event, Namespace, Node, Pod, PodSpec};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::OnceCell;

pub use cron::{JobRun, Schedule};
pub use model::{
    Autoscaler, AutoscalerMetric, Condition, DisruptionBudget, Explanation, PodStatus,
    ReplicaSetInfo, Replicas, ServiceStatus, WarningEvent, Workload,
};

use super::Handle;
use super::apply::MANAGED_BY_LABEL;
use crate::render::{LABEL_ENVIRONMENT, MANAGED_BY};

/// `app.kubernetes.io/name`: the service a rendered object belongs to.
const NAME_LABEL: &str = "app.kubernetes.io/name";

/// The stores, once the cluster has answered.
struct Stores {
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    autoscalers: Store<HorizontalPodAutoscaler>,
    disruption_budgets: Store<PodDisruptionBudget>,
    pods: Store<Pod>,
    /// Nodes' metadata only, trimmed to their zone label.
    nodes: Store<PartialObjectMeta<Node>>,
    /// Slipway's namespaces (labelled managed-by), metadata only.
    namespaces: Store<PartialObjectMeta<Namespace>>,
    /// Warning events in those namespaces, trimmed.
    warnings: Store<Event>,
    /// Deployments' ReplicaSets, their templates trimmed to the images.
    replica_sets: Store<ReplicaSet>,
    /// CronJobs, their job templates trimmed to the images.
    cron_jobs: Store<CronJob>,
    /// The Jobs CronJobs made (they carry the job template's labels), trimmed likewise.
    jobs: Store<Job>,
    /// Each watch's own freshness: one kind's failure neither hides nor
    /// outlives the others'.
    health: Vec<Arc<WatchHealth>>,
}

/// The freshness of one watch.
struct WatchHealth {
    /// Its first list has completed.
    synced: AtomicBool,
    /// When it last failed (milliseconds since `epoch`, at least 1) with no
    /// event since; 0 when it is not failing.
    failed_at_ms: AtomicU64,
    /// When the current run of failures began (Unix seconds); 0 when fresh.
    failing_since: AtomicI64,
    epoch: Instant,
}

/// After a failure, a watch counts as recovered once an event arrives or once
/// this long has passed without another failure: the server ends every watch
/// request after [`WATCH_TIMEOUT_SECS`] and the watcher re-issues it (its
/// retries back off to at most 30 s, plus up to as much again of jitter), so
/// a re-watch that keeps failing reports again within this time, while a
/// quiet kind that reconnected sends nothing that could say so.
const RECOVERED_AFTER_MS: u64 = 65_000;

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl WatchHealth {
    fn new() -> Self {
        Self {
            synced: AtomicBool::new(false),
            failed_at_ms: AtomicU64::new(0),
            failing_since: AtomicI64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn failed(&self) {
        if self.fresh() || self.failing_since.load(Ordering::Relaxed) == 0 {
            self.failing_since.store(unix_now(), Ordering::Relaxed);
        }
        self.failed_at_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn event(&self) {
        self.failed_at_ms.store(0, Ordering::Relaxed);
        self.failing_since.store(0, Ordering::Relaxed);
    }

    fn fresh(&self) -> bool {
        is_fresh(
            self.synced.load(Ordering::Relaxed),
            self.failed_at_ms.load(Ordering::Relaxed),
            self.now_ms(),
        )
    }

    /// Since when it has been failing, while it is stale because of it.
    fn failing_since(&self) -> Option<i64> {
        let since = self.failing_since.load(Ordering::Relaxed);
        (since != 0 && !self.fresh()).then_some(since)
    }
}

/// Pure: a watch is fresh once synced, unless it failed less than
/// [`RECOVERED_AFTER_MS`] ago with no event since (`failed_at_ms` 0: never).
fn is_fresh(synced: bool, failed_at_ms: u64, now_ms: u64) -> bool {
    synced && (failed_at_ms == 0 || now_ms.saturating_sub(failed_at_ms) >= RECOVERED_AFTER_MS)
}

/// Since when the earliest failing watch of `health` has failed, while one is.
fn since_of(health: &[Arc<WatchHealth>]) -> Option<String> {
    health
        .iter()
        .filter_map(|h| h.failing_since())
        .min()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
}

/// A managed pod that something keeps from running or being ready.
#[derive(Debug, Clone)]
pub struct FailingPod {
    /// Its namespace.
    pub namespace: String,
    /// Its team, service and environment, from Slipway's labels.
    pub team: String,
    /// Service name.
    pub service: String,
    /// Environment name.
    pub environment: String,
    /// The pod.
    pub pod: PodStatus,
}

/// The watch-backed cache; cheap to clone.
#[derive(Clone, Default)]
pub struct StatusCache {
    stores: Arc<OnceCell<Stores>>,
    tasks: Tasks,
}

/// The tasks of one cache (its watches), stopped together when the cluster
/// is removed from the registry or its connection is replaced.
#[derive(Clone, Default)]
struct Tasks {
    running: Arc<std::sync::Mutex<TaskList>>,
}

#[derive(Default)]
struct TaskList {
    stopped: bool,
    handles: Vec<tokio::task::AbortHandle>,
}

impl Tasks {
    fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task).abort_handle();
        let mut list = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if list.stopped {
            handle.abort();
            return;
        }
        list.handles.retain(|h| !h.is_finished());
        list.handles.push(handle);
    }

    fn stop(&self) {
        let mut list = self.running.lock().unwrap_or_else(|e| e.into_inner());
        list.stopped = true;
        for handle in &list.handles {
            handle.abort();
        }
    }
}

impl StatusCache {
    /// Starts the watches once `cluster` answers; until then every status is stale.
    pub fn start(cluster: Handle) -> Self {
        let cache = StatusCache::default();
        let stores = cache.stores.clone();
        let tasks = cache.tasks.clone();
        cache.tasks.spawn(async move {
            if let Some(client) = cluster.wait_until_ready().await {
                let _ = stores.set(watch_all(client, &tasks));
            }
        });
        cache
    }

    /// Stops every watch of this cache (and the wait for the cluster); its
    /// statuses stay as they were, stale. For a cluster leaving the registry.
    pub fn stop(&self) {
        self.tasks.stop();
    }

    /// Whether this cache was stopped and every one of its tasks has ended.
    pub fn stopped(&self) -> bool {
        let list = self.tasks.running.lock().unwrap_or_else(|e| e.into_inner());
        // Kept after `stop` so this sees each task actually end (an aborted
        // task ends at its next await point, not at once).
        list.stopped
            && list
                .handles
                .iter()
                .all(tokio::task::AbortHandle::is_finished)
    }

    /// Objects in the cache per kind, and whether each watch is fresh (for
    /// `/metrics` and the admin overview); empty before the cluster answered.
    pub fn sizes(&self) -> Vec<(&'static str, usize, bool)> {
        let Some(s) = self.stores.get() else {
            return Vec::new();
        };
        let counts = [
            s.deployments.state().len(),
            s.stateful_sets.state().len(),
            s.autoscalers.state().len(),
            s.disruption_budgets.state().len(),
            s.pods.state().len(),
            s.nodes.state().len(),
            s.namespaces.state().len(),
            s.warnings.state().len(),
            s.replica_sets.state().len(),
            s.cron_jobs.state().len(),
            s.jobs.state().len(),
        ];
        KINDS
            .iter()
            .zip(counts)
            .zip(&s.health)
            .map(|((kind, n), h)| (*kind, n, h.fresh()))
            .collect()
    }

    /// Since when the earliest failing watch has failed (RFC 3339), while one is.
    pub fn stale_since(&self) -> Option<String> {
        self.stores.get().and_then(|s| since_of(&s.health))
    }

    /// Pods Slipway manages that something keeps from running or being ready
    /// (a waiting reason, a failed exit, no node), at most `limit`, by
    /// namespace and name; and how many there are in all.
    pub fn failing_pods(&self, limit: usize) -> (Vec<FailingPod>, usize) {
        let Some(stores) = self.stores.get() else {
            return (Vec::new(), 0);
        };
        let zone_of = |_: &str| None;
        let mut failing: Vec<FailingPod> = stores
            .pods
            .state()
            .iter()
            .filter_map(|p| {
                let status = model::pod(p, zone_of);
                (status.unschedulable || !status.problems.is_empty()).then(|| {
                    let label = |k: &str| {
                        p.metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(k).cloned())
                            .unwrap_or_default()
                    };
                    FailingPod {
                        namespace: p.metadata.namespace.clone().unwrap_or_default(),
                        team: label(crate::render::LABEL_TEAM),
                        service: label(NAME_LABEL),
                        environment: label(LABEL_ENVIRONMENT),
                        pod: status,
                    }
                })
            })
            .collect();
        failing.sort_by(|a, b| (&a.namespace, &a.pod.name).cmp(&(&b.namespace, &b.pod.name)));
        let total = failing.len();
        failing.truncate(limit);
        (failing, total)
    }

    /// The status of `service` in `environment`, whose objects live in
    /// `namespace`, with its explanations.
    pub fn service(&self, namespace: &str, service: &str, environment: &str) -> ServiceStatus {
        let mut status = self.observed(namespace, service, environment);
        status.explanations = explain::explain(&status, unix_now());
        status
    }

    fn observed(&self, namespace: &str, service: &str, environment: &str) -> ServiceStatus {
        let Some(stores) = self.stores.get() else {
            return ServiceStatus {
                stale: true,
                ..ServiceStatus::default()
            };
        };
        let mine = |meta: &ObjectMeta| {
            meta.namespace.as_deref() == Some(namespace)
                && meta.labels.as_ref().is_some_and(|l| {
                    l.get(NAME_LABEL).map(String::as_str) == Some(service)
                        && l.get(LABEL_ENVIRONMENT).map(String::as_str) == Some(environment)
                })
        };
        let sets = stores.replica_sets.state_filter(|rs| mine(&rs.metadata));
        let mut workloads: Vec<Workload> = stores
            .deployments
            .state_filter(|d| mine(&d.metadata))
            .iter()
            .map(|d| model::deployment_with_sets(d, sets.iter().map(|rs| rs.as_ref())))
            .chain(
                stores
                    .stateful_sets
                    .state_filter(|s| mine(&s.metadata))
                    .iter()
                    .map(|s| model::stateful_set(s)),
            )
            .collect();
        workloads.sort_by(|a, b| a.name.cmp(&b.name));
        let hpa = stores
            .autoscalers
            .state_filter(|h| mine(&h.metadata))
            .first()
            .map(|h| model::autoscaler(h));
        let mut disruption_budgets: Vec<DisruptionBudget> = stores
            .disruption_budgets
            .state_filter(|p| mine(&p.metadata))
            .iter()
            .map(|p| model::disruption_budget(p))
            .collect();
        disruption_budgets.sort_by(|a, b| a.name.cmp(&b.name));
        let zone_of = |node: &str| {
            stores
                .nodes
                .get(&reflector::ObjectRef::new(node))
                .and_then(|n| n.metadata.labels.as_ref()?.get(model::ZONE_LABEL).cloned())
        };
        let mut pods: Vec<PodStatus> = stores
            .pods
            .state_filter(|p| mine(&p.metadata))
            .iter()
            .map(|p| model::pod(p, zone_of))
            .collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        let mut owners: Vec<(&str, &str)> = workloads
            .iter()
            .map(|w| (w.kind.as_str(), w.name.as_str()))
            .collect();
        if let Some(h) = &hpa {
            owners.push(("HorizontalPodAutoscaler", h.name.as_str()));
        }
        owners.push(("CronJob", service));
        let mut warnings: Vec<WarningEvent> = stores
            .warnings
            .state_filter(|e| {
                e.metadata.namespace.as_deref() == Some(namespace)
                    && super::events::belongs(
                        e.involved_object.kind.as_deref().unwrap_or_default(),
                        e.involved_object.name.as_deref().unwrap_or_default(),
                        &owners,
                    )
            })
            .iter()
            .map(|e| model::warning(e))
            .collect();
        warnings.sort_by_key(|w| std::cmp::Reverse(w.last_seen_epoch));
        warnings.truncate(model::RECENT_WARNINGS);
        let cron = stores
            .cron_jobs
            .state_filter(|c| mine(&c.metadata))
            .first()
            .map(|c| {
                let jobs = stores.jobs.state_filter(|j| mine(&j.metadata));
                cron::schedule(c, jobs.iter().map(|j| j.as_ref()))
            });
        let stale_since = since_of(&stores.health);
        ServiceStatus {
            replicas: model::total(&workloads),
            workloads,
            hpa,
            disruption_budgets,
            pods,
            explanations: Vec::new(),
            warnings,
            cron,
            stale: !stores.health.iter().all(|h| h.fresh()),
            stale_since,
        }
    }
}

/// The watched kinds, in the order of `Stores::health` (for metrics).
const KINDS: [&str; 11] = [
    "deployments",
    "statefulsets",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "pods",
    "nodes",
    "namespaces",
    "events",
    "replicasets",
    "cronjobs",
    "jobs",
];

/// Starts one reflector per kind, all filtered by the managed-by label but
/// the nodes' (metadata only, trimmed to the zone label).
fn watch_all(client: Client, tasks: &Tasks) -> Stores {
    let health: Vec<Arc<WatchHealth>> = (0..KINDS.len())
        .map(|_| Arc::new(WatchHealth::new()))
        .collect();
    let namespaces = reflect(Api::all(client.clone()), &health[6], KINDS[6], tasks);
    let warnings = reflect_warnings(
        Api::all(client.clone()),
        namespaces.clone(),
        health[6].clone(),
        &health[7],
        tasks,
    );
    Stores {
        deployments: reflect(Api::all(client.clone()), &health[0], KINDS[0], tasks),
        stateful_sets: reflect(Api::all(client.clone()), &health[1], KINDS[1], tasks),
        autoscalers: reflect(Api::all(client.clone()), &health[2], KINDS[2], tasks),
        disruption_budgets: reflect(Api::all(client.clone()), &health[3], KINDS[3], tasks),
        pods: reflect(Api::all(client.clone()), &health[4], KINDS[4], tasks),
        nodes: reflect_node_zones(Api::all(client.clone()), &health[5], tasks),
        namespaces,
        warnings,
        replica_sets: reflect_trimmed(
            Api::all(client.clone()),
            &health[8],
            KINDS[8],
            |rs| {
                if let Some(t) = rs.spec.template.as_mut() {
                    trim_pod_spec(&mut t.spec);
                }
            },
            tasks,
        ),
        cron_jobs: reflect_trimmed(
            Api::all(client.clone()),
            &health[9],
            KINDS[9],
            |c| {
                if let Some(j) = c.spec.job_template.spec.as_mut() {
                    trim_pod_spec(&mut j.template.spec);
                }
            },
            tasks,
        ),
        jobs: reflect_trimmed(
            Api::all(client),
            &health[10],
            KINDS[10],
            |j| {
                if let Some(s) = j.spec.as_mut() {
                    trim_pod_spec(&mut s.template.spec);
                }
            },
            tasks,
        ),
        health,
    }
}

/// A pod template reduced to its containers' names and images: all the status
/// reads of ReplicaSets and Jobs, which are many (ten old ReplicaSets per
/// Deployment) and whose templates are the larger part of them.
fn trim_pod_spec(spec: &mut Option<PodSpec>) {
    if let Some(s) = spec.as_mut() {
        *s = PodSpec {
            containers: s
                .containers
                .iter()
                .map(|c| Container {
                    name: c.name.clone(),
                    image: c.image.clone(),
                    ..Container::default()
                })
                .collect(),
            ..PodSpec::default()
        };
    }
}

/// Seconds the API server keeps one watch request open before ending it
/// cleanly (the watcher then re-watches from where it was, without listing).
/// It must stay below the client's read timeout (30 s, `connection.rs`):
/// otherwise a quiet watch, with no event to read, is cut as a timeout, the
/// cache reports itself stale and relists.
const WATCH_TIMEOUT_SECS: u32 = 20;

/// What a reflector can watch and keep.
trait Watched:
    kube::Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

fn reflect<K: Watched>(
    api: Api<K>,
    health: &Arc<WatchHealth>,
    kind: &'static str,
    tasks: &Tasks,
) -> Store<K> {
    reflect_trimmed(api, health, kind, |_| {}, tasks)
}

/// Like `reflect`, with `trim` applied to each object before it is kept.
fn reflect_trimmed<K: Watched>(
    api: Api<K>,
    health: &Arc<WatchHealth>,
    kind: &'static str,
    trim: fn(&mut K),
    tasks: &Tasks,
) -> Store<K> {
    let (store, writer) = reflector::store();
    let config = watcher::Config::default()
        .labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"))
        .timeout(WATCH_TIMEOUT_SECS);
    // managedFields is often the larger half of an object and nothing here
    // reads it: dropped before the store keeps the object.
    let trimmed = watcher(api, config).modify(move |object| {
        object.meta_mut().managed_fields = None;
        trim(object);
    });
    let stream = reflector::reflector(writer, trimmed).default_backoff();
    track(store.clone(), stream, health.clone(), kind, tasks);
    store
}

/// The nodes, for their zone: metadata only (no status, no images), and of
/// that only the zone label, so a large cluster costs little memory.
fn reflect_node_zones(
    api: Api<PartialObjectMeta<Node>>,
    health: &Arc<WatchHealth>,
    tasks: &Tasks,
) -> Store<PartialObjectMeta<Node>> {
    let (store, writer) = reflector::store();
    let config = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
    let trimmed = watcher(api, config).modify(|node| {
        let zone = node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(model::ZONE_LABEL).cloned());
        node.metadata.labels = zone.map(|z| [(model::ZONE_LABEL.to_owned(), z)].into());
        node.metadata.annotations = None;
        node.metadata.managed_fields = None;
        node.metadata.owner_references = None;
    });
    let stream = reflector::reflector(writer, trimmed).default_backoff();
    track(store.clone(), stream, health.clone(), KINDS[5], tasks);
    store
}

/// Longest message kept of a cached Warning event.
const MAX_WARNING_MESSAGE: usize = 500;

/// Warning events (the API server filters by type) of Slipway's namespaces
/// only: events carry no labels to select by, so each is kept only when its
/// namespace is one `namespaces` knows, and trimmed to what the page shows.
/// The watch starts once the namespaces are listed, so none is dropped for
/// want of its namespace.
fn reflect_warnings(
    api: Api<Event>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    namespaces_synced: Arc<WatchHealth>,
    health: &Arc<WatchHealth>,
    tasks: &Tasks,
) -> Store<Event> {
    let (store, writer) = reflector::store();
    let config = watcher::Config::default()
        .fields("type=Warning")
        .timeout(WATCH_TIMEOUT_SECS);
    let health = health.clone();
    let reader = store.clone();
    let inner = tasks.clone();
    tasks.spawn(async move {
        // Polled: a second `wait_until_ready` on the same store is not
        // woken once the first has been (kube-runtime's DelayedInit).
        while !namespaces_synced.synced.load(Ordering::Relaxed) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let ours = move |e: &Event| {
            e.metadata
                .namespace
                .as_deref()
                .is_some_and(|ns| namespaces.get(&reflector::ObjectRef::new(ns)).is_some())
        };
        let kept = watcher(api, config)
            .modify(trim_warning)
            .filter(move |event| {
                futures::future::ready(match event {
                    Ok(watcher::Event::Apply(e) | watcher::Event::InitApply(e)) => ours(e),
                    _ => true,
                })
            });
        let stream = reflector::reflector(writer, kept).default_backoff();
        track(reader, stream, health, KINDS[7], &inner);
    });
    store
}

/// What the status page reads of an event; the rest is dropped.
fn trim_warning(e: &mut Event) {
    e.metadata.managed_fields = None;
    e.metadata.annotations = None;
    e.metadata.labels = None;
    e.related = None;
    e.series = None;
    e.source = None;
    e.reporting_component = None;
    e.reporting_instance = None;
    e.action = None;
    e.involved_object.field_path = None;
    e.involved_object.uid = None;
    e.involved_object.resource_version = None;
    e.involved_object.api_version = None;
    if let Some(m) = e.message.as_mut()
        && m.len() > MAX_WARNING_MESSAGE
    {
        let mut cut = MAX_WARNING_MESSAGE;
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
        m.push('…');
    }
}

/// Drives one watch and keeps its health: synced once the first list is in,
/// failing from an error until the next event.
fn track<K, S, E>(
    store: Store<K>,
    stream: S,
    health: Arc<WatchHealth>,
    kind: &'static str,
    tasks: &Tasks,
) where
    K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    S: futures::Stream<Item = Result<watcher::Event<K>, E>> + Send + 'static,
    E: std::fmt::Display + Send,
{
    let synced = health.clone();
    tasks.spawn(async move {
        let counted = async move {
            if store.wait_until_ready().await.is_ok() {
                synced.synced.store(true, Ordering::Relaxed);
            }
        };
        let mut failing = false;
        let watch = stream.for_each(|event| {
            match &event {
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, kind, "status watch failing; reconnecting");
                    }
                    metrics::counter!("slipway_status_watch_errors_total", "kind" => kind)
                        .increment(1);
                    failing = true;
                    health.failed();
                }
                Ok(_) => {
                    failing = false;
                    health.event();
                }
            }
            futures::future::ready(())
        });
        tokio::join!(counted, watch);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_cluster_every_status_is_stale_and_empty() {
        let cache = StatusCache::start(Handle::disabled());
        let status = cache.service("shop-production", "web", "production");
        assert!(status.stale);
        assert_eq!(status.replicas, Replicas::default());
        assert!(status.pods.is_empty() && status.hpa.is_none());
    }

    #[test]
    fn a_watch_is_fresh_once_synced_and_again_after_a_failure_goes_quiet() {
        assert!(!is_fresh(false, 0, 10));
        assert!(is_fresh(true, 0, 10));
        // Failed at 1 s: stale until an event, or until 65 s pass without another failure.
        assert!(!is_fresh(true, 1_000, 1_000));
        assert!(!is_fresh(true, 1_000, 1_000 + RECOVERED_AFTER_MS - 1));
        assert!(is_fresh(true, 1_000, 1_000 + RECOVERED_AFTER_MS));
        // The recovery window outlasts the watcher's longest retry and a watch request.
        assert!(
            RECOVERED_AFTER_MS > 30_000
                && RECOVERED_AFTER_MS > u64::from(WATCH_TIMEOUT_SECS) * 1_000
        );
    }
}
