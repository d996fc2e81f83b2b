//! Slipway against the local cluster's real node (`e2e/cluster/up` starts a
//! kubelet with containerd beside the kwok nodes): the demo images of
//! `e2e/images` run as real containers, so readiness, crashes, missing Secret
//! keys, image pulls, graceful shutdown, logs and CPU load (what metrics-server
//! reads and the autoscaler acts on) are what a real cluster does,
//! not what kwok pretends.
//!
//! When `up` could not start the node, these tests fail with the reason it
//! recorded in `real-node.env`: a skipped test would prove nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Pod, Service as KubeService};
use kube::Client;
use kube::api::{Api, ListParams, LogParams};
use slipway::deployer::DeployState;
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::harness::cluster::{ClusterTest, cluster_handle, kubeconfig_path, test_config};
use crate::harness::fixtures::{create_user, save_revision};
use crate::harness::{PASSWORD, TestApp, eventually};

/// The label and taint of the real node (`e2e/cluster/up`).
const REAL_NODE_KEY: &str = "slipway.dev/node";
const REAL_NODE_VALUE: &str = "real";

/// The name of the real node, from the `real-node.env` that `up` writes beside
/// the kubeconfig; panics with the recorded reason when there is none.
fn real_node() -> String {
    let path = kubeconfig_path().with_file_name("real-node.env");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} cannot be read ({e}): start the local cluster with e2e/cluster/up, which starts the real node and records it there",
            path.display()
        )
    });
    let vars: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"').trim_matches('\'')))
        .collect();
    if let Some(reason) = vars.get("SLIPWAY_REAL_NODE_UNAVAILABLE") {
        panic!("the real node is unavailable on this machine: {reason}");
    }
    match vars.get("SLIPWAY_REAL_NODE") {
        Some(name) if !name.is_empty() => (*name).to_owned(),
        _ => panic!("{} names no real node: {text}", path.display()),
    }
}

/// The placement every service of these tests carries: onto the real node.
fn placement() -> String {
    format!(
        "  placement:\n    nodeSelector: {{{REAL_NODE_KEY}: {REAL_NODE_VALUE}}}\n    tolerations:\n      - {{key: {REAL_NODE_KEY}, value: {REAL_NODE_VALUE}, effect: NoSchedule}}\n"
    )
}

/// A web service of the demo images on the real node; `extra` is spec YAML
/// (two-space indented) added as it is.
fn web_spec(
    name: &str,
    team: &str,
    framework: &str,
    module: &str,
    image: &str,
    extra: &str,
) -> String {
    format!(
        "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n  team: {team}\nspec:\n  framework: {framework}\n  appModule: {module}\n  image: {image}\n  resources:\n    requests: {{cpu: 10m, memory: 48Mi}}\n    limits: {{memory: 256Mi}}\n  logging: {{format: json}}\n{}{extra}",
        placement()
    )
}

const FLASK_IMAGE: &str = "localhost/slipway-demo/catalog-api:2.3.0";
const FASTAPI_IMAGE: &str = "localhost/slipway-demo/pricing-api:0.9.3";
const DJANGO_IMAGE: &str = "localhost/slipway-demo/shop-web:1.4.2";
const REDIS_IMAGE: &str = "localhost/slipway-demo/redis:7";

/// Worker settings with a shorter stall deadline: the failure cases wait for it.
fn failing_config() -> slipway::deployer::WorkerConfig {
    let mut config = test_config();
    config.rollout.stall_timeout = Duration::from_secs(45);
    config
}

/// The pods of a service in a namespace.
async fn pods_of(client: &Client, ns: &str, service: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={service}")))
        .await
        .unwrap_or_else(|e| panic!("listing pods of {service}: {e}"))
        .items
}

/// `http://<cluster IP>:<first port>`: kube-proxy routes the host to it.
async fn service_url(client: &Client, ns: &str, name: &str) -> String {
    let service = Api::<KubeService>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("Service {ns}/{name}: {e}"));
    let spec = service.spec.expect("a Service spec");
    let ip = spec.cluster_ip.expect("a cluster IP");
    let port = spec
        .ports
        .and_then(|p| p.first().map(|p| p.port))
        .expect("a port");
    format!("http://{ip}:{port}")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// A client that opens a new connection for every request, as a stream of
/// new visitors does: kube-proxy chooses a pod per connection, so a pooled
/// keep-alive connection would stay pinned to an old pod after its endpoint
/// was removed, and measure the client's pool rather than the rollout.
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client")
}

/// Waits until `url` answers 200 (kube-proxy programs a new Service's rules
/// a moment after its endpoints appear; under a full test run's load that
/// moment can stretch well past a few seconds). Each try connects anew within
/// 2 s: a SYN sent before the rules exist is tracked without DNAT, so a long
/// connect would keep waiting on a connection that can never succeed. On
/// failure the message says what the last try saw and whether the host's NAT
/// table knows the Service's address.
async fn wait_answering(url: &str) {
    let web = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client");
    let last = std::sync::Mutex::new(String::from("no try finished"));
    let answering = eventually(90, || async {
        match web.get(url).send().await {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                *last.lock().unwrap() = format!("status {}", r.status());
                false
            }
            Err(e) => {
                *last.lock().unwrap() = format!("{e:?}");
                false
            }
        }
    })
    .await;
    if !answering {
        let host = url
            .trim_start_matches("http://")
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let nat = match std::process::Command::new("iptables-save")
            .args(["-t", "nat"])
            .output()
        {
            Ok(out) => {
                let rules = String::from_utf8_lossy(&out.stdout);
                format!(
                    "{} NAT rules name {host}",
                    rules.lines().filter(|l| l.contains(&host)).count()
                )
            }
            Err(e) => format!("iptables-save did not run: {e}"),
        };
        panic!(
            "{url} did not answer 200 within 90 s; the last try: {}; {nat}",
            last.lock().unwrap()
        );
    }
}

/// Asserts every pod of the service runs on the real node, Ready.
async fn assert_ready_on_real_node(client: &Client, ns: &str, service: &str, node: &str) {
    let pods = pods_of(client, ns, service).await;
    assert!(!pods.is_empty(), "no pods of {service}");
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let on = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        assert_eq!(on, Some(node), "pod {name} runs on {on:?}");
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        assert!(ready, "pod {name} is not Ready: {:?}", pod.status);
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_flask_service_becomes_ready_through_its_probe_answers_through_its_service_and_logs_json(
    pool: PgPool,
) {
    let node = real_node();
    let t = ClusterTest::new(&pool, &["development"]).await;
    let (client, ns) = (t.client.clone(), t.ns());
    let service = t
        .service_yaml(&web_spec(
            "catalog",
            &t.team,
            "flask",
            "catalog.app:create_app()",
            FLASK_IMAGE,
            "  replicas: 2\n",
        ))
        .await;
    t.deploy_ok(&service, FLASK_IMAGE).await;
    assert_ready_on_real_node(&client, &ns, "catalog", &node).await;

    // Through the Service: kube-proxy spreads requests over both real pods,
    // and each answer names the pod (its hostname) that served it.
    let url = service_url(&client, &ns, "catalog").await;
    wait_answering(&format!("{url}/")).await;
    let pods: Vec<String> = pods_of(&client, &ns, "catalog")
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    wait_answering(&format!("{url}/health")).await;
    let web = fresh_connections();
    // Until both pods answered: kube-proxy may add the second endpoint a
    // moment after the first.
    let served_by = Mutex::new(std::collections::BTreeSet::new());
    eventually(30, || async {
        let Ok(res) = web.get(format!("{url}/")).send().await else {
            return false;
        };
        let info: serde_json::Value = res.json().await.unwrap_or_default();
        let mut seen = served_by.lock().await;
        seen.insert(info["hostname"].as_str().unwrap_or_default().to_owned());
        seen.len() >= 2
    })
    .await;
    let served_by = served_by.into_inner();
    assert!(
        served_by.iter().all(|h| pods.contains(h)) && served_by.len() == 2,
        "answers came from {served_by:?}, the pods are {pods:?}"
    );

    // The log subresource serves the container's JSON lines (the kubelet's
    // probes and our requests are logged, one object per line).
    let logs = Api::<Pod>::namespaced(client.clone(), &ns)
        .logs(
            &pods[0],
            &LogParams {
                container: Some("app".into()),
                ..LogParams::default()
            },
        )
        .await
        .expect("the pod's logs");
    let json_lines: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        json_lines.iter().any(|l| l.to_string().contains("/health")),
        "no JSON line about /health in the logs:\n{logs}"
    );
    t.finish().await;
}

/// Writes one Secret key through the portal's Secrets tab, as an admin.
async fn set_from_secrets_page(
    app: &TestApp,
    team: &str,
    service: &str,
    secret: &str,
    key: &str,
    value: &str,
) {
    let res = app
        .post_form(
            &format!("/services/{team}/{service}/wiring"),
            &[
                ("env", "development"),
                ("secret", secret),
                ("key", key),
                ("value", value),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        303,
        "the Secrets form answered {}",
        res.status()
    );
    let page = app
        .page(&format!(
            "/services/{team}/{service}/wiring?env=development"
        ))
        .await;
    assert!(
        page.contains(&format!("Set key {key} of Secret {secret}")),
        "the page does not confirm the write:\n{page}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_missing_secret_key_fails_with_create_container_config_error_until_it_is_set_from_the_secrets_page(
    pool: PgPool,
) {
    real_node();
    let t = ClusterTest::with_config(&pool, &["development"], failing_config()).await;
    let service = t
        .service_yaml(&web_spec(
            "catalog",
            &t.team,
            "flask",
            "catalog.app:create_app()",
            FLASK_IMAGE,
            "  env:\n    - name: DATABASE_USER\n      secret: {name: catalog-db, key: user}\n    - name: DATABASE_URL\n      secret: {name: catalog-db, key: url}\n",
        ))
        .await;
    create_user(&pool, "root@example.com", true, &[]).await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    app.login_as("root@example.com", PASSWORD).await;
    // The Secret exists (Slipway wrote it, with the one key set) but lacks
    // the other key the pod needs.
    set_from_secrets_page(&app, &t.team, "catalog", "catalog-db", "user", "demo").await;

    let failed = t.deploy(&service, FLASK_IMAGE).await;
    assert_eq!(failed.state, DeployState::Failed, "{}", failed.reason);
    assert!(
        failed.reason.contains("CreateContainerConfigError")
            && failed.reason.contains("couldn't find key url in Secret"),
        "{}",
        failed.reason
    );

    set_from_secrets_page(
        &app,
        &t.team,
        "catalog",
        "catalog-db",
        "url",
        "sqlite:////tmp/catalog.db",
    )
    .await;
    t.deploy_ok(&service, FLASK_IMAGE).await;
    t.finish().await;
}

/// Requests sent while a rollout runs: every answer, and every failure.
#[derive(Default)]
struct Poll {
    ok: Vec<Answer>,
    failed: Vec<String>,
}

/// One answered request: which pod answered, and when it was sent and answered.
#[derive(Clone, Debug)]
struct Answer {
    hostname: String,
    sent: SystemTime,
    answered: SystemTime,
}

/// How the polling lanes send: how many, how far apart they start, and the
/// pause after each answer.
#[derive(Clone, Copy)]
struct Lanes {
    count: usize,
    stagger: Duration,
    pause: Duration,
}

/// Sends `GET {url}{path}` from `lanes.count` loops, each starting
/// `lanes.stagger` after the previous and pausing `lanes.pause` after each
/// answer, until `stop`; at most 3000 requests per lane (bounded).
fn poll(
    url: String,
    path: &'static str,
    lanes: Lanes,
    stop: Arc<AtomicBool>,
    into: Arc<Mutex<Poll>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    const LIMIT: usize = 3000;
    let Lanes {
        count,
        stagger,
        pause,
    } = lanes;
    (0..count)
        .map(|lane| {
            let (url, stop, into) = (url.clone(), stop.clone(), into.clone());
            tokio::spawn(async move {
                tokio::time::sleep(stagger * lane as u32).await;
                let web = fresh_connections();
                for _ in 0..LIMIT {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let sent = SystemTime::now();
                    let result = async {
                        let res = web.get(format!("{url}{path}")).send().await?;
                        let status = res.status();
                        let body: serde_json::Value = res.json().await?;
                        Ok::<_, reqwest::Error>((status, body))
                    }
                    .await;
                    let mut poll = into.lock().await;
                    match result {
                        Ok((status, body)) if status.is_success() => poll.ok.push(Answer {
                            hostname: body["hostname"].as_str().unwrap_or_default().to_owned(),
                            sent,
                            answered: SystemTime::now(),
                        }),
                        Ok((status, body)) => poll.failed.push(format!("{status}: {body}")),
                        Err(e) => poll.failed.push(error_chain(&e)),
                    }
                    drop(poll);
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect()
}

/// An error with its causes, which say what happened on the wire.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

async fn stop_polling(stop: &AtomicBool, lanes: Vec<tokio::task::JoinHandle<()>>) {
    stop.store(true, Ordering::Relaxed);
    for lane in lanes {
        lane.await.expect("a polling lane");
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_failing_health_check_fails_the_deploy_with_the_probe_reason_while_the_old_pods_keep_serving(
    pool: PgPool,
) {
    let node = real_node();
    let t = ClusterTest::with_config(&pool, &["development"], failing_config()).await;
    let (client, ns) = (t.client.clone(), t.ns());
    let spec = |extra: &str| {
        web_spec(
            "catalog",
            &t.team,
            "flask",
            "catalog.app:create_app()",
            FLASK_IMAGE,
            &format!("  replicas: 2\n{extra}"),
        )
    };
    let service = t.service_yaml(&spec("")).await;
    t.deploy_ok(&service, FLASK_IMAGE).await;
    let old_pods: Vec<String> = pods_of(&client, &ns, "catalog")
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    let url = service_url(&client, &ns, "catalog").await;
    wait_answering(&format!("{url}/")).await;

    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Poll::default()));
    let lanes = poll(
        url,
        "/",
        Lanes {
            count: 2,
            stagger: Duration::from_millis(100),
            pause: Duration::from_millis(100),
        },
        stop.clone(),
        answers.clone(),
    );
    let failing = save_revision(
        &pool,
        &t.email,
        &service,
        &spec("  env:\n    - {name: DEMO_FAIL_HEALTH, value: \"1\"}\n"),
    )
    .await;
    let deploy = t.deploy(&failing, FLASK_IMAGE).await;
    let ended = SystemTime::now();
    stop_polling(&stop, lanes).await;

    assert_eq!(deploy.state, DeployState::Failed, "{}", deploy.reason);
    assert!(
        deploy.reason.contains("probe failed") && deploy.reason.contains("503"),
        "the reason does not name the failing probe: {}",
        deploy.reason
    );
    let poll = answers.lock().await;
    assert!(
        poll.failed.is_empty(),
        "{} of {} requests failed during the rollout: {:?}",
        poll.failed.len(),
        poll.failed.len() + poll.ok.len(),
        &poll.failed[..poll.failed.len().min(5)]
    );
    assert!(
        poll.ok
            .iter()
            .any(|a| a.sent + Duration::from_secs(2) >= ended),
        "the polling stopped before the deploy ended ({} answers), so it proves nothing",
        poll.ok.len()
    );
    assert!(
        poll.ok.iter().all(|a| old_pods.contains(&a.hostname)),
        "a request was answered by a pod that is not one of the old ones {old_pods:?}"
    );
    // The old ReplicaSet's pods still serve, Ready, on the real node.
    let still: Vec<Pod> = pods_of(&client, &ns, "catalog")
        .await
        .into_iter()
        .filter(|p| {
            p.metadata
                .name
                .as_ref()
                .is_some_and(|n| old_pods.contains(n))
        })
        .collect();
    assert_eq!(still.len(), 2, "the old pods are gone");
    for pod in &still {
        assert_eq!(
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(node.as_str())
        );
    }
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_crash_at_start_is_crash_loop_back_off_with_restarts_and_a_missing_image_is_an_image_pull_error(
    pool: PgPool,
) {
    real_node();
    let t = ClusterTest::with_config(&pool, &["development"], failing_config()).await;
    let crashing = t
        .service_yaml(&web_spec(
            "crashing",
            &t.team,
            "flask",
            "catalog.app:create_app()",
            FLASK_IMAGE,
            "  env:\n    - {name: DEMO_CRASH_AT_START, value: \"1\"}\n",
        ))
        .await;
    let missing = t
        .service_yaml(&web_spec(
            "missing",
            &t.team,
            "flask",
            "catalog.app:create_app()",
            FLASK_IMAGE,
            "",
        ))
        .await;
    let crash = t.request(&crashing, FLASK_IMAGE).await;
    let pull = t
        .request(&missing, "localhost/slipway-demo/no-such-image:0.0.1")
        .await;
    let crash = t.wait(&crash).await;
    let pull = t.wait(&pull).await;

    assert_eq!(crash.state, DeployState::Failed, "{}", crash.reason);
    assert!(
        crash.reason.contains("CrashLoopBackOff") && crash.reason.contains("restarted"),
        "{}",
        crash.reason
    );
    assert_eq!(pull.state, DeployState::Failed, "{}", pull.reason);
    assert!(
        pull.reason.contains("ErrImagePull") || pull.reason.contains("ImagePullBackOff"),
        "{}",
        pull.reason
    );
    assert!(pull.reason.contains("no-such-image"), "{}", pull.reason);
    t.finish().await;
}

/// When the deletion of `pod` began (its `deletionTimestamp`), polled.
async fn watch_deletions(
    client: Client,
    ns: String,
    pods: Vec<String>,
    stop: Arc<AtomicBool>,
) -> BTreeMap<String, SystemTime> {
    let api = Api::<Pod>::namespaced(client, &ns);
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && seen.len() < pods.len() {
        for name in &pods {
            if seen.contains_key(name) {
                continue;
            }
            match api.get_opt(name).await {
                Ok(Some(pod)) => {
                    if let Some(ts) = pod.metadata.deletion_timestamp {
                        let at = SystemTime::UNIX_EPOCH
                            + Duration::from_secs(ts.0.as_second().max(0) as u64);
                        // Less what `deletionGracePeriodSeconds` adds: the
                        // timestamp is when the kill is due, not when it began.
                        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
                        seen.insert(name.clone(), at - Duration::from_secs(grace.max(0) as u64));
                    }
                }
                // Gone before we looked: nothing to measure for that pod.
                Ok(None) => {}
                Err(e) => panic!("reading pod {name}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn in_flight_requests_to_the_old_pods_complete_during_a_rollout(pool: PgPool) {
    const PRE_STOP: u64 = 5;
    real_node();
    let t = ClusterTest::new(&pool, &["development"]).await;
    let (client, ns) = (t.client.clone(), t.ns());
    let spec = |version: &str| {
        web_spec(
            "pricing",
            &t.team,
            "fastapi",
            "pricing.main:app",
            FASTAPI_IMAGE,
            &format!(
                "  replicas: 2\n  preStopSleepSeconds: {PRE_STOP}\n  env:\n    - {{name: APP_VERSION, value: \"{version}\"}}\n"
            ),
        )
    };
    let service = t.service_yaml(&spec("1")).await;
    t.deploy_ok(&service, FASTAPI_IMAGE).await;
    let old_pods: Vec<String> = pods_of(&client, &ns, "pricing")
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    let url = service_url(&client, &ns, "pricing").await;
    wait_answering(&format!("{url}/")).await;

    // Ten lanes of 12-second requests, started 1.2 s apart, so that requests
    // are always in flight when an old pod is told to stop; two lanes of quick
    // ones beside them.
    let stop = Arc::new(AtomicBool::new(false));
    let slow = Arc::new(Mutex::new(Poll::default()));
    let quick = Arc::new(Mutex::new(Poll::default()));
    let mut lanes = poll(
        url.clone(),
        "/slow?seconds=12",
        Lanes {
            count: 10,
            stagger: Duration::from_millis(1200),
            pause: Duration::ZERO,
        },
        stop.clone(),
        slow.clone(),
    );
    lanes.extend(poll(
        url,
        "/",
        Lanes {
            count: 2,
            stagger: Duration::from_millis(50),
            pause: Duration::from_millis(100),
        },
        stop.clone(),
        quick.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(13)).await;
    let deletions = tokio::spawn(watch_deletions(
        client.clone(),
        ns.clone(),
        old_pods.clone(),
        stop.clone(),
    ));
    let next = save_revision(&pool, &t.email, &service, &spec("2")).await;
    t.deploy_ok(&next, FASTAPI_IMAGE).await;
    // Until the last old pod is gone, so requests it holds finish or fail.
    let gone = eventually(120, || async {
        let live = pods_of(&client, &ns, "pricing").await;
        !live.iter().any(|p| {
            p.metadata
                .name
                .as_ref()
                .is_some_and(|n| old_pods.contains(n))
        })
    })
    .await;
    assert!(gone, "the old pods never went away");
    stop_polling(&stop, lanes).await;
    let deletions = deletions.await.expect("the deletion watch");

    let slow = slow.lock().await;
    let quick = quick.lock().await;
    assert!(
        slow.failed.is_empty() && quick.failed.is_empty(),
        "requests failed during the rollout: slow {:?}, quick {:?}",
        &slow.failed[..slow.failed.len().min(5)],
        &quick.failed[..quick.failed.len().min(5)]
    );
    // Proof that shutdowns happened mid-request: answers from an old pod to
    // requests sent before that pod's deletion began and answered after its
    // SIGTERM (which follows the preStop sleep).
    let spanning: Vec<&Answer> = slow
        .ok
        .iter()
        .filter(|a| {
            deletions.get(&a.hostname).is_some_and(|deleted| {
                a.sent + Duration::from_secs(1) < *deleted
                    && a.answered > *deleted + Duration::from_secs(PRE_STOP + 1)
            })
        })
        .collect();
    assert_eq!(
        deletions.len(),
        old_pods.len(),
        "the deletion of every old pod was seen"
    );
    assert!(
        !spanning.is_empty(),
        "no request to an old pod spanned its SIGTERM, so the test proved nothing; deletions {deletions:?}, {} slow answers",
        slow.ok.len()
    );
    assert!(
        quick.ok.iter().any(|a| old_pods.contains(&a.hostname))
            && quick.ok.iter().any(|a| !old_pods.contains(&a.hostname)),
        "the quick requests did not see both the old and the new pods"
    );
    t.finish().await;
}

/// Follows a container's log until it ends (the container exited) or `limit`
/// passes; returns the lines with the time each arrived.
async fn follow_logs(
    client: Client,
    ns: String,
    pod: String,
    limit: Duration,
) -> Vec<(SystemTime, String)> {
    let api = Api::<Pod>::namespaced(client, &ns);
    let params = LogParams {
        container: Some("app".into()),
        follow: true,
        ..LogParams::default()
    };
    let stream = api
        .log_stream(&pod, &params)
        .await
        .unwrap_or_else(|e| panic!("following the logs of {pod}: {e}"));
    let mut lines = stream.lines();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        while let Ok(Some(line)) = lines.try_next().await {
            out.push((SystemTime::now(), line));
        }
    })
    .await;
    out
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_celery_worker_finishes_its_running_task_when_scaled_down(pool: PgPool) {
    real_node();
    let t = ClusterTest::new(&pool, &["development"]).await;
    let (client, ns) = (t.client.clone(), t.ns());
    let broker = "  env:\n    - {name: CELERY_BROKER_URL, value: \"redis://redis:6379/0\"}\n    - {name: DJANGO_SETTINGS_MODULE, value: shop.settings.development}\n";
    let redis = t
        .service_yaml(&format!(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: redis\n  team: {}\nspec:\n  image: {REDIS_IMAGE}\n  replicas: 1\n  command: [redis-server, --bind, 0.0.0.0, --port, \"6379\", --protected-mode, \"no\", --dir, /tmp, --save, \"\", --appendonly, \"no\"]\n  ports: [{{name: redis, port: 6379}}]\n  service:\n    ports: [{{name: redis, port: 6379, targetPort: redis}}]\n  probes:\n    readiness: {{tcp: {{port: redis}}, periodSeconds: 2}}\n    liveness: {{tcp: {{port: redis}}, periodSeconds: 10}}\n  resources:\n    requests: {{cpu: 10m, memory: 32Mi}}\n    limits: {{memory: 128Mi}}\n{}",
            t.team,
            placement()
        ))
        .await;
    let web = t
        .service_yaml(&web_spec(
            "shop-web",
            &t.team,
            "django",
            "shop.wsgi:application",
            DJANGO_IMAGE,
            broker,
        ))
        .await;
    let worker_spec = |replicas: u32| {
        format!(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: shop-worker\n  team: {}\nspec:\n  framework: celery\n  appModule: shop\n  image: {DJANGO_IMAGE}\n  args: [--concurrency=1]\n  replicas: {replicas}\n  terminationGracePeriodSeconds: 90\n  resources:\n    requests: {{cpu: 10m, memory: 96Mi}}\n    limits: {{memory: 384Mi}}\n  logging: {{format: json}}\n{broker}{}",
            t.team,
            placement()
        )
    };
    let worker = t.service_yaml(&worker_spec(1)).await;
    t.deploy_ok(&redis, REDIS_IMAGE).await;
    t.deploy_ok(&web, DJANGO_IMAGE).await;
    t.deploy_ok(&worker, DJANGO_IMAGE).await;
    let worker_pod = pods_of(&client, &ns, "shop-worker")
        .await
        .into_iter()
        .find_map(|p| p.metadata.name)
        .expect("a worker pod");
    let logs = tokio::spawn(follow_logs(
        client.clone(),
        ns.clone(),
        worker_pod.clone(),
        Duration::from_secs(240),
    ));

    let url = service_url(&client, &ns, "shop-web").await;
    wait_answering(&format!("{url}/health/")).await;
    let sent: serde_json::Value = http()
        .get(format!("{url}/tasks/sleep?seconds=20"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task_id = sent["task_id"].as_str().expect("a task id").to_owned();
    // Scale down only once the worker holds the task.
    let started = eventually(120, || async {
        Api::<Pod>::namespaced(client.clone(), &ns)
            .logs(
                &worker_pod,
                &LogParams {
                    container: Some("app".into()),
                    ..LogParams::default()
                },
            )
            .await
            .is_ok_and(|l| l.contains("task_started") && l.contains(&task_id))
    })
    .await;
    if !started {
        let logs = Api::<Pod>::namespaced(client.clone(), &ns)
            .logs(&worker_pod, &LogParams::default())
            .await
            .unwrap_or_default();
        let pods: Vec<String> = Api::<Pod>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .map(|p| {
                        format!(
                            "{} {:?}",
                            p.metadata.name.as_deref().unwrap_or_default(),
                            p.status.as_ref().and_then(|s| s.container_statuses.clone())
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        panic!(
            "the worker never started task {task_id}; its log:\n{}\npods: {pods:#?}",
            logs.lines().rev().take(30).collect::<Vec<_>>().join("\n")
        );
    }
    let scaled_down_at = SystemTime::now();
    let down = save_revision(&pool, &t.email, &worker, &worker_spec(0)).await;
    t.deploy_ok(&down, DJANGO_IMAGE).await;
    let lines = logs.await.expect("the log follower");
    let finished = lines
        .iter()
        .find(|(_, l)| l.contains("task_finished") && l.contains(&task_id));
    let tail: Vec<&str> = lines[lines.len().saturating_sub(20)..]
        .iter()
        .map(|(_, l)| l.as_str())
        .collect();
    let Some((finished_at, _)) = finished else {
        panic!(
            "the worker stopped without finishing task {task_id}; its last lines:\n{}",
            tail.join("\n")
        );
    };
    // The scale-down began while the task ran: after its start line, before
    // its finish line; and the worker is gone now.
    assert!(
        *finished_at > scaled_down_at,
        "the task finished before the scale-down began, so nothing was proved"
    );
    let gone = eventually(60, || async {
        pods_of(&client, &ns, "shop-worker").await.is_empty()
    })
    .await;
    assert!(gone, "the worker pod is still there");
    t.finish().await;
}

const BUSYBOX_IMAGE: &str = "localhost/slipway/busybox:1";

/// Real CPU load: a worker on the real node that spins, capped by its CPU
/// limit (100m, five times its 20m request), is read by metrics-server from
/// the real kubelet; the autoscaler (target 50% of the request) scales it to
/// its maximum, and the status says it is there and still above target, with
/// the reading. No emulation: kwok's load annotations are not involved.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn real_cpu_load_on_the_real_node_drives_the_autoscaler_to_its_maximum(pool: PgPool) {
    let node = real_node();
    let t = ClusterTest::new(&pool, &["development"]).await;
    let service = t
        .service_yaml(&format!(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: spinner\n  team: {}\nspec:\n  kind: worker\n  image: {BUSYBOX_IMAGE}\n  command: [sh, -c, \"while :; do :; done\"]\n  autoscaling: {{minReplicas: 1, maxReplicas: 2, cpu: 50}}\n  resources:\n    requests: {{cpu: 20m, memory: 16Mi}}\n    limits: {{cpu: 100m, memory: 64Mi}}\n{}",
            t.team,
            placement()
        ))
        .await;
    t.deploy_ok(&service, BUSYBOX_IMAGE).await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    app.login_as(&t.email, PASSWORD).await;
    let path = format!("/services/{}/spinner/status?env=development", t.team);
    let mut fragment = String::new();
    // Two scrapes make a rate (15 s apart), the HPA syncs every 15 s, the
    // second pod starts on the real node: about a minute; three at most.
    for _ in 0..360 {
        fragment = app.page(&path).await;
        if fragment.contains("data-code=\"at-max-above-target\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        fragment.contains("data-code=\"at-max-above-target\""),
        "the autoscaler never reached its maximum under real load: {fragment}"
    );
    assert!(
        fragment.contains("At its maximum of 2 replicas and still above target: cpu at ")
            && fragment.contains("of the request (target 50%)"),
        "{fragment}"
    );
    let pods = pods_of(&t.client, &t.ns(), "spinner").await;
    assert_eq!(pods.len(), 2, "scaled to 2 pods");
    for p in &pods {
        assert_eq!(
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(node.as_str()),
            "every spinner runs on the real node"
        );
    }
    // The reading is the kubelet's: the HPA reports what the containers use,
    // well above the 20m request (the limit caps it near 100m, 500%).
    let hpas: Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> =
        Api::namespaced(t.client.clone(), &t.ns());
    let hpa = hpas.get("spinner").await.expect("the autoscaler");
    let utilization = hpa
        .status
        .and_then(|s| s.current_metrics)
        .into_iter()
        .flatten()
        .find_map(|m| m.resource?.current.average_utilization)
        .expect("a current CPU utilization");
    assert!(
        utilization > 100,
        "utilization {utilization}% of the request"
    );
    t.finish().await;
}
