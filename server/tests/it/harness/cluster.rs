//! The cluster side of the harness: one kube client helper, the worker settings
//! for tests, and [`ClusterTest`], a team of its own with a member, a worker and
//! namespaces that are deleted at the end.
//!
//! Needs `SLIPWAY_TEST_KUBECONFIG` (e.g. `.slipway/cluster/kubeconfig`); without
//! it the cluster tests fail, because a skipped cluster test proves nothing.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use slipway::cluster::retry::RetryPolicy;
use slipway::cluster::rollout::RolloutConfig;
use slipway::cluster::{self, KubeSource};
use slipway::deployer::{DeployState, Worker, WorkerConfig};
use slipway::store::deploys::{self, Deploy};
use slipway::store::services::Service;
use sqlx::PgPool;

use super::eventually;
use super::fixtures::{SpecBuilder, create_service, create_user, request, unique_team};

/// `SLIPWAY_TEST_KUBECONFIG`; panics with how to start the control plane when unset.
pub fn kubeconfig_path() -> PathBuf {
    match std::env::var("SLIPWAY_TEST_KUBECONFIG") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "SLIPWAY_TEST_KUBECONFIG is not set: the cluster tests need the local control plane \
             (start it with e2e/cluster/up and set SLIPWAY_TEST_KUBECONFIG=.slipway/cluster/kubeconfig)"
        ),
    }
}

async fn client_from(path: &std::path::Path) -> Result<Client, String> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("unusable kubeconfig {}: {e}", path.display()))?;
    Client::try_from(config).map_err(|e| format!("kube client: {e}"))
}

/// A client of the local control plane.
pub async fn kube_client() -> Client {
    client_from(&kubeconfig_path())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Slipway's least-privilege roles, as deployed (deploy/kubernetes/base/rbac.yaml).
pub const RBAC_YAML: &str = include_str!("../../../../deploy/kubernetes/base/rbac.yaml");
/// Slipway's ServiceAccount in [`RBAC_YAML`].
pub const SLIPWAY_SA: (&str, &str) = ("slipway", "slipway");
/// Its user name, for `kubectl auth can-i --as`.
pub const SLIPWAY_USER: &str = "system:serviceaccount:slipway:slipway";

/// Applies [`RBAC_YAML`] with the admin client (server-side apply, so every
/// test run converges on the file as it is in the worktree).
pub async fn apply_rbac(admin: &Client) {
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(RBAC_YAML).expect("rbac.yaml is YAML");
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let object: kube::api::DynamicObject =
            serde_json::from_value(doc).expect("rbac.yaml holds objects");
        let types = object
            .types
            .clone()
            .expect("objects with apiVersion and kind");
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", types.api_version.as_str()));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, &types.kind);
        let (resource, caps) = kube::discovery::pinned_kind(admin, &gvk)
            .await
            .unwrap_or_else(|e| panic!("discovering {gvk:?}: {e}"));
        let api: Api<kube::api::DynamicObject> = match (&caps.scope, &object.metadata.namespace) {
            (kube::discovery::Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(admin.clone(), ns, &resource)
            }
            _ => Api::all_with(admin.clone(), &resource),
        };
        let name = object.metadata.name.clone().expect("named objects");
        api.patch(
            &name,
            &kube::api::PatchParams::apply("slipway-tests").force(),
            &kube::api::Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {}/{name} of rbac.yaml: {e}", types.kind));
    }
}

/// A kubeconfig authenticating as Slipway's ServiceAccount: [`RBAC_YAML`]
/// applied with the admin kubeconfig, then a token from the TokenRequest API,
/// written next to nothing else in a temporary folder. Made once per test run.
pub async fn slipway_kubeconfig() -> PathBuf {
    static PATH: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    PATH.get_or_init(|| async {
        // Its own runtime: the cell outlives the test (and runtime) that fills it.
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new()
                .expect("a runtime")
                .block_on(make_slipway_kubeconfig())
        })
        .join()
        .expect("making Slipway's kubeconfig")
    })
    .await
    .clone()
}

/// Applies [`RBAC_YAML`] with `admin` and returns a token of Slipway's
/// ServiceAccount there (TokenRequest API, valid for 6 hours): what an
/// administrator registers a cluster with.
pub async fn slipway_sa_token(admin: &Client) -> String {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    apply_rbac(admin).await;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(6 * 3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), SLIPWAY_SA.0)
        .create_token_request(SLIPWAY_SA.1, &kube::api::PostParams::default(), &request)
        .await
        .expect("a token for Slipway's ServiceAccount")
        .status
        .and_then(|s| s.token)
        .expect("a token")
}

async fn make_slipway_kubeconfig() -> PathBuf {
    let token = slipway_sa_token(&kube_client().await).await;
    let kubeconfig = Kubeconfig::read_from(kubeconfig_path()).expect("the admin kubeconfig");
    let context = kubeconfig
        .current_context
        .as_deref()
        .and_then(|c| kubeconfig.contexts.iter().find(|n| n.name == c))
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| Some(&c.name) == context.as_ref())
        .or_else(|| kubeconfig.clusters.first())
        .and_then(|c| c.cluster.clone())
        .expect("a cluster in the admin kubeconfig");
    let mut cluster_entry = serde_json::json!({
        "server": cluster.server,
        "insecure-skip-tls-verify": cluster.insecure_skip_tls_verify,
    });
    if let Some(ca) = &cluster.certificate_authority_data {
        cluster_entry["certificate-authority-data"] = ca.clone().into();
    }
    if let Some(ca) = &cluster.certificate_authority {
        cluster_entry["certificate-authority"] = ca.clone().into();
    }
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster_entry}],
        "users": [{"name": "slipway", "user": {"token": token}}],
        "contexts": [{"name": "slipway", "context": {"cluster": "local", "user": "slipway"}}],
        "current-context": "slipway",
    });
    let dir = std::env::temp_dir().join(format!("slipway-sa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_json::to_vec(&config).expect("JSON")).expect("writing it");
    path
}

/// A client authenticated as Slipway's ServiceAccount (what Slipway's code
/// paths get in the tests; setup and inspection keep [`kube_client`]).
pub async fn slipway_client() -> Client {
    client_from(&slipway_kubeconfig().await)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Creates (or checks) `namespace` for `team` in `environment` the way Slipway
/// does, as Slipway's ServiceAccount: labelled, Pod Security `restricted`,
/// with the tenant RoleBinding.
pub async fn managed_namespace(namespace: &str, team: &str, environment: &str) {
    slipway::cluster::apply::ensure_team_namespace(
        &slipway_client().await,
        namespace,
        team,
        environment,
        RetryPolicy::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("namespace {namespace}: {e}"));
}

/// A connected cluster handle, as `slipway serve` would have, authenticated as
/// Slipway's ServiceAccount with the least-privilege roles of rbac.yaml.
pub async fn cluster_handle() -> cluster::Handle {
    let handle = cluster::Handle::start(KubeSource::File(slipway_kubeconfig().await));
    handle
        .wait_ready(Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("the cluster did not answer: {:?}", handle.state()));
    handle
}

/// Worker settings for tests: quick polls and retries, a short lease.
pub fn test_config() -> WorkerConfig {
    WorkerConfig {
        lease: Duration::from_secs(6),
        heartbeat: Duration::from_secs(1),
        poll: Duration::from_millis(200),
        max_attempts: 3,
        concurrency: 4,
        rollout: RolloutConfig {
            stall_timeout: Duration::from_secs(90),
            max_duration: Duration::from_secs(240),
            poll: Duration::from_millis(300),
        },
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
        },
    }
}

/// How long [`ClusterTest::deploy`] waits for a deploy to finish.
const DEPLOY_DEADLINE_SECS: u64 = 240;

/// Waits for a deploy to finish; panics with its timeline when it does not.
pub async fn wait_finished(pool: &PgPool, id: i64, secs: u64) -> Deploy {
    let finished = eventually(secs, || async {
        deploys::find(pool, id)
            .await
            .ok()
            .flatten()
            .is_some_and(|d| d.state.is_finished())
    })
    .await;
    let deploy = deploys::find(pool, id).await.unwrap().unwrap();
    if !finished {
        let events = deploys::events(pool, id).await.unwrap();
        panic!(
            "deploy #{id} still {} after {secs} s; timeline: {:#?}",
            deploy.state,
            events
                .iter()
                .map(|e| format!(
                    "{:?} → {} {} ({})",
                    e.from_state, e.to_state, e.message, e.actor
                ))
                .collect::<Vec<_>>()
        );
    }
    deploy
}

/// Panics with the reason unless the deploy succeeded.
pub fn assert_succeeded(deploy: &Deploy) {
    assert_eq!(
        deploy.state,
        DeployState::Succeeded,
        "deploy #{} failed: {}",
        deploy.id,
        deploy.reason
    );
}

/// Deletes namespaces when dropped (also when the test panics): each with
/// the admin kubeconfig of the control plane it is on.
struct Cleanup {
    namespaces: Vec<(PathBuf, String)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let namespaces = std::mem::take(&mut self.namespaces);
        // Drop cannot await, and may run inside the test's runtime: use a thread.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Runtime::new() else {
                return;
            };
            runtime.block_on(async move {
                for (kubeconfig, ns) in namespaces {
                    let Ok(client) = client_from(&kubeconfig).await else {
                        continue;
                    };
                    let _ = Api::<Namespace>::all(client)
                        .delete(&ns, &DeleteParams::background())
                        .await;
                }
            });
        })
        .join();
    }
}

/// A cluster test's world: a fresh team (so namespaces `{team}-{environment}`
/// are its own), a member `dev@{team}.io`, a kube client, and workers. The
/// namespaces are deleted by [`ClusterTest::finish`] or, on a panic, on drop.
///
/// [`ClusterTest::new`] and [`ClusterTest::with_config`] start [`REPLICAS`]
/// workers, each with its own connection to the cluster — what two `slipway
/// serve` replicas on one database are — so every deploy test of the suite
/// runs against two replicas, and [`ClusterTest::finish`] checks each deploy's
/// record for what two replicas must never do (see [`audit_deploy`]).
pub struct ClusterTest {
    pub pool: PgPool,
    pub client: Client,
    pub team: String,
    pub email: String,
    environments: Vec<String>,
    workers: Vec<Worker>,
    cleanup: Cleanup,
}

impl ClusterTest {
    /// The world with [`REPLICAS`] workers of [`test_config`] running.
    pub async fn new(pool: &PgPool, environments: &[&str]) -> Self {
        Self::with_config(pool, environments, test_config()).await
    }

    /// The world with [`REPLICAS`] workers of `config` running.
    pub async fn with_config(pool: &PgPool, environments: &[&str], config: WorkerConfig) -> Self {
        let mut test = Self::without_worker(pool, environments).await;
        for _ in 0..REPLICAS {
            test.start_worker(config).await;
        }
        test
    }

    /// The world without a worker (start one with [`Self::start_worker`]).
    pub async fn without_worker(pool: &PgPool, environments: &[&str]) -> Self {
        assert!(
            !environments.is_empty(),
            "a cluster test names its environments"
        );
        let team = unique_team();
        let email = format!("dev@{team}.io");
        create_user(pool, &email, false, &[&team]).await;
        let environments: Vec<String> = environments.iter().map(|e| (*e).to_owned()).collect();
        let local = kubeconfig_path();
        let cleanup = Cleanup {
            namespaces: environments
                .iter()
                .map(|e| (local.clone(), format!("{team}-{e}")))
                .collect(),
        };
        Self {
            pool: pool.clone(),
            client: kube_client().await,
            team,
            email,
            environments,
            workers: Vec::new(),
            cleanup,
        }
    }

    /// Starts one more worker on the local cluster; [`Self::finish`] stops it.
    pub async fn start_worker(&mut self, config: WorkerConfig) {
        let worker = Worker::start(
            self.pool.clone(),
            cluster::Fleet::single(cluster_handle().await),
            config,
        );
        self.workers.push(worker);
    }

    /// Starts one more worker over `clusters` (e.g. several registered ones).
    pub async fn start_worker_on(&mut self, clusters: cluster::Fleet, config: WorkerConfig) {
        self.workers
            .push(Worker::start(self.pool.clone(), clusters, config));
    }

    /// Also deletes `namespace` on the control plane of `kubeconfig` at the
    /// end (e.g. an environment the test points at another cluster).
    pub fn clean_up_on(&mut self, kubeconfig: PathBuf, namespace: String) {
        self.cleanup.namespaces.push((kubeconfig, namespace));
    }

    /// The first environment (where [`Self::deploy`] deploys).
    pub fn environment(&self) -> &str {
        &self.environments[0]
    }

    /// The namespace of the first environment.
    pub fn ns(&self) -> String {
        format!("{}-{}", self.team, self.environment())
    }

    /// Creates a service of the team from a spec (its team is set to the test's).
    pub async fn service(&self, spec: SpecBuilder) -> Service {
        self.service_yaml(&spec.team(&self.team).to_yaml()).await
    }

    /// Creates a service of the team from YAML text.
    pub async fn service_yaml(&self, yaml: &str) -> Service {
        create_service(&self.pool, &self.email, &self.team, yaml).await
    }

    /// Requests a deploy of `service` to the first environment as the member.
    pub async fn request(&self, service: &Service, image: &str) -> Deploy {
        request(&self.pool, &self.email, service, self.environment(), image).await
    }

    /// Requests a deploy and waits until it finished, however it ended.
    pub async fn deploy(&self, service: &Service, image: &str) -> Deploy {
        let deploy = self.request(service, image).await;
        self.wait(&deploy).await
    }

    /// Requests a deploy, waits for it and asserts that it succeeded.
    pub async fn deploy_ok(&self, service: &Service, image: &str) -> Deploy {
        let deploy = self.deploy(service, image).await;
        assert_succeeded(&deploy);
        deploy
    }

    /// Waits until `deploy` finished.
    pub async fn wait(&self, deploy: &Deploy) -> Deploy {
        wait_finished(&self.pool, deploy.id, DEPLOY_DEADLINE_SECS).await
    }

    /// The workers started so far, in order.
    pub fn workers(&self) -> &[Worker] {
        &self.workers
    }

    /// Stops the workers, checks the record of every deploy of the team
    /// ([`audit_deploy`]) and deletes the namespaces.
    pub async fn finish(mut self) {
        for worker in std::mem::take(&mut self.workers) {
            worker.shutdown().await;
        }
        let ids: Vec<i64> = sqlx::query_scalar(
            "select d.id from deploys d
             join services s on s.id = d.service_id
             join teams t on t.id = s.team_id
             where t.name = $1 order by d.id",
        )
        .bind(&self.team)
        .fetch_all(&self.pool)
        .await
        .expect("the team's deploys");
        for id in ids {
            audit_deploy(&self.pool, id).await;
        }
        // Dropping `self` drops the cleanup, which deletes the namespaces.
    }
}

/// How many workers (replicas) [`ClusterTest::new`] starts.
pub const REPLICAS: usize = 2;

/// Checks a deploy's record for the mistakes of many replicas on one
/// database: every attempt counted is one claim (or take-over) on the
/// timeline; each attempt applied at most once, by the worker that held it
/// then (a worker that lost the lease wrote nothing after another took over);
/// and the state stored is the one the last transition recorded — no change
/// was lost between two writers.
pub async fn audit_deploy(pool: &PgPool, id: i64) {
    let deploy = deploys::find(pool, id)
        .await
        .expect("reading the deploy")
        .expect("the deploy exists");
    let events = deploys::events(pool, id).await.expect("its timeline");
    let is_claim = |e: &deploys::Event| {
        e.to_state == DeployState::Applying
            && (!e.is_note() || e.message.starts_with("taken over after the lease"))
    };
    let claims = events.iter().filter(|e| is_claim(e)).count();
    assert_eq!(
        i64::from(deploy.attempts),
        claims as i64,
        "deploy #{id}: {} attempts but {claims} claims on its timeline: {events:#?}",
        deploy.attempts
    );
    let mut holder: Option<&str> = None;
    let mut applied_this_attempt = false;
    for event in &events {
        if is_claim(event) {
            holder = Some(&event.actor);
            applied_this_attempt = false;
        } else if event.message.starts_with("applied ") {
            assert_eq!(
                holder,
                Some(event.actor.as_str()),
                "deploy #{id} was applied by a worker that did not hold it: {events:#?}"
            );
            assert!(
                !applied_this_attempt,
                "deploy #{id} was applied twice in one attempt: {events:#?}"
            );
            applied_this_attempt = true;
        }
    }
    if let Some(last) = events.iter().rev().find(|e| !e.is_note() || is_claim(e)) {
        assert_eq!(
            last.to_state, deploy.state,
            "deploy #{id} is stored {} but its last transition says {}: {events:#?}",
            deploy.state, last.to_state
        );
    }
}

/// `slipway::seed::prepare_namespaces`, as `slipway run` calls it.
pub async fn prepare_namespaces(pool: &PgPool, client: &Client) -> Vec<String> {
    slipway::seed::prepare_namespaces(pool, client)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
}
