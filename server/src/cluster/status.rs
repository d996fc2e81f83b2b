//! Live scaling status from watches: Deployments, StatefulSets, autoscalers and
//! pods that Slipway manages (`app.kubernetes.io/managed-by=slipway`), kept in
//! memory by kube-runtime reflectors. A page view reads the cache and never
//! makes a list call to the API server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// False while a watch is failing (reconnecting with backoff).
    healthy: Arc<AtomicBool>,
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
            stale: !stores.healthy.load(Ordering::Relaxed),
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
    let healthy = Arc::new(AtomicBool::new(false));
    let synced = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Stores {
        deployments: reflect(Api::all(client.clone()), &healthy, &synced),
        stateful_sets: reflect(Api::all(client.clone()), &healthy, &synced),
        autoscalers: reflect(Api::all(client.clone()), &healthy, &synced),
        pods: reflect(Api::all(client), &healthy, &synced),
        healthy,
    }
}

/// How many reflectors [`watch_all`] starts; the cache is fresh once all have listed.
const KINDS: usize = 4;

fn reflect<K>(
    api: Api<K>,
    healthy: &Arc<AtomicBool>,
    synced: &Arc<std::sync::atomic::AtomicUsize>,
) -> Store<K>
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
    let config = watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    let (healthy, synced) = (healthy.clone(), synced.clone());
    let (healthy_once_synced, synced_count) = (healthy.clone(), synced.clone());
    let ready = store.clone();
    tokio::spawn(async move {
        let counted = async move {
            if ready.wait_until_ready().await.is_ok()
                && synced_count.fetch_add(1, Ordering::Relaxed) + 1 == KINDS
            {
                healthy_once_synced.store(true, Ordering::Relaxed);
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
                    healthy.store(false, Ordering::Relaxed);
                }
                Ok(_) if failing => {
                    failing = false;
                    if synced.load(Ordering::Relaxed) >= KINDS {
                        healthy.store(true, Ordering::Relaxed);
                    }
                }
                Ok(_) => {}
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
}
