//! Live scaling status from watches: Deployments, StatefulSets, autoscalers and
//! pods that Slipway manages (`app.kubernetes.io/managed-by=slipway`), kept in
//! memory by kube-runtime reflectors. A page view reads the cache and never
//! makes a list call to the API server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

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
    pods: Store<Pod>,
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
    epoch: Instant,
}

/// After a failure, a watch counts as recovered once an event arrives or once
/// this long has passed without another failure: the server ends every watch
/// request after [`WATCH_TIMEOUT_SECS`] and the watcher re-issues it (its
/// retries back off to at most 30 s, plus up to as much again of jitter), so
/// a re-watch that keeps failing reports again within this time, while a
/// quiet kind that reconnected sends nothing that could say so.
const RECOVERED_AFTER_MS: u64 = 65_000;

impl WatchHealth {
    fn new() -> Self {
        Self {
            synced: AtomicBool::new(false),
            failed_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn failed(&self) {
        self.failed_at_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn event(&self) {
        self.failed_at_ms.store(0, Ordering::Relaxed);
    }

    fn fresh(&self) -> bool {
        is_fresh(
            self.synced.load(Ordering::Relaxed),
            self.failed_at_ms.load(Ordering::Relaxed),
            self.now_ms(),
        )
    }
}

/// Pure: a watch is fresh once synced, unless it failed less than
/// [`RECOVERED_AFTER_MS`] ago with no event since (`failed_at_ms` 0: never).
fn is_fresh(synced: bool, failed_at_ms: u64, now_ms: u64) -> bool {
    synced && (failed_at_ms == 0 || now_ms.saturating_sub(failed_at_ms) >= RECOVERED_AFTER_MS)
}

/// The watch-backed cache; cheap to clone.
#[derive(Clone, Default)]
pub struct StatusCache {
    stores: Arc<OnceCell<Stores>>,
}

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

/// The autoscaler's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Autoscaler {
    /// Lower bound.
    pub min: i32,
    /// Upper bound.
    pub max: i32,
    /// Replicas it last saw.
    pub current: i32,
    /// Replicas it wants.
    pub desired: i32,
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
}

/// The live status of a service in one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Replica counts.
    pub replicas: Replicas,
    /// The autoscaler, when the service has one.
    pub hpa: Option<Autoscaler>,
    /// Its pods, by name.
    pub pods: Vec<PodStatus>,
    /// True when the cache may be behind: not synced yet, or a watch is reconnecting.
    pub stale: bool,
}

impl StatusCache {
    /// Starts the watches once `cluster` answers; until then every status is stale.
    pub fn start(cluster: Handle) -> Self {
        let cache = StatusCache::default();
        let stores = cache.stores.clone();
        tokio::spawn(async move {
            if let Some(client) = cluster.wait_until_ready().await {
                let _ = stores.set(watch_all(client));
            }
        });
        cache
    }

    /// The status of `service` in `environment`, whose objects live in `namespace`.
    pub fn service(&self, namespace: &str, service: &str, environment: &str) -> ServiceStatus {
        let Some(stores) = self.stores.get() else {
            return ServiceStatus {
                stale: true,
                ..ServiceStatus::default()
            };
        };
        let mine = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            meta.namespace.as_deref() == Some(namespace)
                && meta.labels.as_ref().is_some_and(|l| {
                    l.get(NAME_LABEL).map(String::as_str) == Some(service)
                        && l.get(LABEL_ENVIRONMENT).map(String::as_str) == Some(environment)
                })
        };
        let mut replicas = Replicas::default();
        for d in stores.deployments.state_filter(|d| mine(&d.metadata)) {
            let status = d.status.clone().unwrap_or_default();
            replicas.desired += d.spec.replicas.unwrap_or(1);
            replicas.updated += status.updated_replicas.unwrap_or(0);
            replicas.ready += status.ready_replicas.unwrap_or(0);
            replicas.available += status.available_replicas.unwrap_or(0);
        }
        for s in stores.stateful_sets.state_filter(|s| mine(&s.metadata)) {
            let status = s.status.clone().unwrap_or_default();
            replicas.desired += s.spec.replicas.unwrap_or(1);
            replicas.updated += status.updated_replicas.unwrap_or(0);
            replicas.ready += status.ready_replicas.unwrap_or(0);
            replicas.available += status.available_replicas.unwrap_or(0);
        }
        let hpa = stores
            .autoscalers
            .state_filter(|h| mine(&h.metadata))
            .first()
            .map(|h| {
                let spec = &h.spec;
                let status = h.status.clone().unwrap_or_default();
                Autoscaler {
                    min: spec.min_replicas.unwrap_or(1),
                    max: spec.max_replicas,
                    current: status.current_replicas.unwrap_or(0),
                    desired: status.desired_replicas,
                }
            });
        let mut pods: Vec<PodStatus> = stores
            .pods
            .state_filter(|p| mine(&p.metadata))
            .iter()
            .map(|p| pod_status(p))
            .collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        ServiceStatus {
            replicas,
            hpa,
            pods,
            stale: !stores.health.iter().all(|h| h.fresh()),
        }
    }
}

fn pod_status(pod: &Pod) -> PodStatus {
    let status = pod.status.clone().unwrap_or_default();
    PodStatus {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: status.phase.unwrap_or_else(|| "Unknown".into()),
        ready: status
            .conditions
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        restarts: status
            .container_statuses
            .unwrap_or_default()
            .iter()
            .map(|c| c.restart_count)
            .sum(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
    }
}

/// Starts one reflector per kind, all filtered by the managed-by label.
fn watch_all(client: Client) -> Stores {
    let health: Vec<Arc<WatchHealth>> = (0..4).map(|_| Arc::new(WatchHealth::new())).collect();
    Stores {
        deployments: reflect(Api::all(client.clone()), &health[0]),
        stateful_sets: reflect(Api::all(client.clone()), &health[1]),
        autoscalers: reflect(Api::all(client.clone()), &health[2]),
        pods: reflect(Api::all(client), &health[3]),
        health,
    }
}

/// Seconds the API server keeps one watch request open before ending it
/// cleanly (the watcher then re-watches from where it was, without listing).
/// It must stay below the client's read timeout (30 s, `connection.rs`):
/// otherwise a quiet watch, with no event to read, is cut as a timeout, the
/// cache reports itself stale and relists.
const WATCH_TIMEOUT_SECS: u32 = 20;

fn reflect<K>(api: Api<K>, health: &Arc<WatchHealth>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let config = watcher::Config::default()
        .labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"))
        .timeout(WATCH_TIMEOUT_SECS);
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    let ready = store.clone();
    let (health, synced) = (health.clone(), health.clone());
    tokio::spawn(async move {
        let counted = async move {
            if ready.wait_until_ready().await.is_ok() {
                synced.synced.store(true, Ordering::Relaxed);
            }
        };
        let mut failing = false;
        let watch = stream.for_each(|event| {
            match &event {
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "status watch failing; reconnecting");
                    }
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
    store
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
