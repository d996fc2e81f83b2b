//! The connection to the managed cluster, kept up to date in the background.
//!
//! Slipway must start (and keep serving) when no cluster is reachable, and pick the
//! cluster up once it appears: the local control plane may still be building when
//! `make run` opens the portal. A background task owns connecting and probing; the
//! rest of Slipway reads the latest [`ClusterState`] without waiting.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::requests::{CountRequests, RequestCounts};
use crate::secret::SecretString;
use tokio::sync::watch;

/// Where the cluster's credentials come from.
#[derive(Clone, Debug)]
pub enum KubeSource {
    /// A kubeconfig file named by the operator (`SLIPWAY_KUBECONFIG`).
    File(PathBuf),
    /// The local control plane's kubeconfig, which `e2e/cluster/up` writes when the
    /// cluster is ready (the embedded default of `slipway run`).
    Local(PathBuf),
    /// `KUBECONFIG` or in-cluster configuration, as kube infers it.
    Infer,
    /// A registered cluster's kubeconfig document (checked by
    /// [`super::credentials`], opened from its sealed copy in PostgreSQL).
    Document(SecretString),
    /// The cluster Slipway's own pod runs in (its ServiceAccount).
    InCluster,
    /// No cluster at all (tests of the portal alone).
    Disabled,
    /// A registration that cannot be used, and why (its credentials do not
    /// open); retried like an unreachable cluster, so a fixed key recovers it.
    Broken(String),
}

/// What Slipway currently knows about the cluster.
#[derive(Clone)]
pub enum ClusterState {
    /// Not configured; deploys are impossible.
    Disabled,
    /// Waiting for the configuration to appear (e.g. the local cluster is building).
    Waiting(String),
    /// Connected; the API server answered with this version.
    Ready {
        /// The client to use.
        client: Client,
        /// `gitVersion` of the API server.
        version: String,
        /// The API server's URL.
        server: String,
    },
    /// Configured but not answering; the reason is shown in the portal.
    Unreachable(String),
}

impl std::fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ClusterState {
    /// A one-line description for the portal banner and `/readyz` details.
    pub fn describe(&self) -> String {
        match self {
            Self::Disabled => "no cluster configured".into(),
            Self::Waiting(why) => why.clone(),
            Self::Ready { version, .. } => format!("connected to Kubernetes {version}"),
            Self::Unreachable(why) => format!("cluster unreachable: {why}"),
        }
    }

    /// The client when connected.
    pub fn client(&self) -> Option<&Client> {
        match self {
            Self::Ready { client, .. } => Some(client),
            _ => None,
        }
    }
}

/// A cheap, cloneable view of the cluster connection.
#[derive(Clone, Debug)]
pub struct Handle {
    state: watch::Receiver<ClusterState>,
    requests: Arc<RequestCounts>,
    _task: Arc<TaskGuard>,
}

#[derive(Debug)]
struct TaskGuard(Option<tokio::task::JoinHandle<()>>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// How often to retry while not connected, and to re-probe while connected.
const RETRY_EVERY: Duration = Duration::from_secs(3);
const PROBE_EVERY: Duration = Duration::from_secs(15);

impl Handle {
    /// Starts watching the source in the background.
    pub fn start(source: KubeSource) -> Self {
        if matches!(source, KubeSource::Disabled) {
            return Self::disabled();
        }
        let (tx, rx) = watch::channel(ClusterState::Waiting("connecting to the cluster".into()));
        let requests = Arc::new(RequestCounts::default());
        let counts = requests.clone();
        let task = tokio::spawn(async move { keep_connected(source, tx, counts).await });
        Self {
            state: rx,
            requests,
            _task: Arc::new(TaskGuard(Some(task))),
        }
    }

    /// A handle with no cluster.
    pub fn disabled() -> Self {
        let (_tx, rx) = watch::channel(ClusterState::Disabled);
        Self {
            state: rx,
            requests: Arc::default(),
            _task: Arc::new(TaskGuard(None)),
        }
    }

    /// A handle that stays in `state` (e.g. a cluster that is not registered).
    pub fn unavailable(state: ClusterState) -> Self {
        let (_tx, rx) = watch::channel(state);
        Self {
            state: rx,
            requests: Arc::default(),
            _task: Arc::new(TaskGuard(None)),
        }
    }

    /// The requests this connection's clients have sent, by verb and resource.
    pub fn requests(&self) -> &RequestCounts {
        &self.requests
    }

    /// The latest state.
    pub fn state(&self) -> ClusterState {
        self.state.borrow().clone()
    }

    /// The API server's URL, when connected.
    pub fn server(&self) -> Option<String> {
        match &*self.state.borrow() {
            ClusterState::Ready { server, .. } => Some(server.clone()),
            _ => None,
        }
    }

    /// The client, when connected.
    pub fn client(&self) -> Option<Client> {
        self.state.borrow().client().cloned()
    }

    /// Waits until connected, however long that takes (the first local cluster
    /// is built from source and may take half an hour); `None` for a disabled handle.
    pub async fn wait_until_ready(&self) -> Option<Client> {
        if matches!(self.state(), ClusterState::Disabled) {
            return None;
        }
        let mut rx = self.state.clone();
        let ready = rx
            .wait_for(|s| matches!(s, ClusterState::Ready { .. }))
            .await
            .ok()?;
        ready.client().cloned()
    }

    /// Waits until connected or the timeout passes.
    pub async fn wait_ready(&self, timeout: Duration) -> Option<Client> {
        let mut rx = self.state.clone();
        let wait = rx.wait_for(|s| matches!(s, ClusterState::Ready { .. }));
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(state)) => state.client().cloned(),
            _ => None,
        }
    }
}

async fn keep_connected(
    source: KubeSource,
    tx: watch::Sender<ClusterState>,
    requests: Arc<RequestCounts>,
) {
    let mut logged_waiting = false;
    loop {
        let next = match connect(&source, &requests).await {
            Ok((client, version, server)) => {
                if !matches!(*tx.borrow(), ClusterState::Ready { .. }) {
                    tracing::info!(%version, %server, "connected to the cluster");
                }
                ClusterState::Ready {
                    client,
                    version,
                    server,
                }
            }
            Err(ConnectError::NotYet(why)) => {
                if !logged_waiting {
                    tracing::info!("{why}");
                    logged_waiting = true;
                }
                ClusterState::Waiting(why)
            }
            Err(ConnectError::Failed(why)) => {
                if !matches!(*tx.borrow(), ClusterState::Unreachable(_)) {
                    tracing::warn!(reason = %why, "cluster unreachable; retrying");
                }
                ClusterState::Unreachable(why)
            }
        };
        let ready = matches!(next, ClusterState::Ready { .. });
        if tx.send(next).is_err() {
            return; // every handle is gone
        }
        tokio::time::sleep(if ready { PROBE_EVERY } else { RETRY_EVERY }).await;
    }
}

/// What a connection test found: the API server's version, and whether the
/// credentials may list namespaces (Slipway creates and reads team namespaces).
#[derive(Debug)]
pub struct Probe {
    /// `gitVersion` of the API server.
    pub version: String,
}

/// Connects once, as a registration's connection test: the API server must
/// answer within 5 s and the credentials must be allowed to list namespaces.
pub async fn probe(source: &KubeSource) -> Result<Probe, String> {
    let (client, version, _) = connect(source, &Arc::default())
        .await
        .map_err(|e| match e {
            ConnectError::NotYet(why) | ConnectError::Failed(why) => why,
        })?;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    let listed = tokio::time::timeout(
        Duration::from_secs(5),
        namespaces.list_metadata(&kube::api::ListParams::default().limit(1)),
    )
    .await
    .map_err(|_| "the API server did not answer a list of namespaces within 5 s".to_owned())?;
    match listed {
        Ok(_) => Ok(Probe { version }),
        Err(kube::Error::Api(status)) if status.code == 401 => Err(format!(
            "the API server (Kubernetes {version}) refused the credentials: {}",
            status.message
        )),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(format!(
            "the credentials authenticate (Kubernetes {version}) but may not list namespaces; \
             bind them to the ClusterRole of deploy/kubernetes/base/rbac.yaml"
        )),
        Err(e) => Err(format!("listing namespaces failed: {e}")),
    }
}

enum ConnectError {
    NotYet(String),
    Failed(String),
}

async fn connect(
    source: &KubeSource,
    requests: &Arc<RequestCounts>,
) -> Result<(Client, String, String), ConnectError> {
    let config = match source {
        KubeSource::Disabled => return Err(ConnectError::NotYet("no cluster configured".into())),
        KubeSource::Broken(why) => return Err(ConnectError::Failed(why.clone())),
        KubeSource::File(path) | KubeSource::Local(path) => {
            if !path.exists() {
                let hint = if matches!(source, KubeSource::Local(_)) {
                    " (the local cluster is still being prepared: e2e/cluster/up)"
                } else {
                    " (check SLIPWAY_KUBECONFIG)"
                };
                return Err(ConnectError::NotYet(format!(
                    "waiting for the cluster: {} does not exist yet{hint}",
                    path.display()
                )));
            }
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| ConnectError::Failed(format!("reading {}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| ConnectError::Failed(format!("loading {}: {e}", path.display())))?
        }
        KubeSource::Infer => Config::infer()
            .await
            .map_err(|e| ConnectError::NotYet(format!("no cluster configuration found: {e}")))?,
        KubeSource::Document(document) => {
            let kubeconfig = Kubeconfig::from_yaml(document.expose())
                .map_err(|e| ConnectError::Failed(format!("reading the kubeconfig: {e}")))?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| ConnectError::Failed(format!("loading the kubeconfig: {e}")))?
        }
        KubeSource::InCluster => Config::incluster()
            .map_err(|e| ConnectError::Failed(format!("not running in a Kubernetes pod: {e}")))?,
    };
    let mut config = config;
    let server = config.cluster_url.to_string();
    config.connect_timeout = Some(Duration::from_secs(3));
    config.read_timeout = Some(Duration::from_secs(30));
    let client = ClientBuilder::try_from(config)
        .map_err(|e| ConnectError::Failed(e.to_string()))?
        .with_layer(&CountRequests::new(requests.clone()))
        .build();
    let version = tokio::time::timeout(Duration::from_secs(5), client.apiserver_version())
        .await
        .map_err(|_| ConnectError::Failed("the API server did not answer within 5 s".into()))?
        .map_err(|e| ConnectError::Failed(e.to_string()))?;
    Ok((
        client,
        version.git_version,
        server.trim_end_matches('/').to_owned(),
    ))
}
