//! Live scaling status on the local cluster: the HorizontalPodAutoscaler really
//! scales (metrics-server over kwok's emulated usage, set with
//! `e2e/cluster/load`, the README's command), and the page and the API explain
//! it; views cost no Kubernetes request; a cluster that stops answering is shown
//! as stale since a time.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::Value;
use slipway::cluster::{self, KubeSource};
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::harness::{
    ClusterTest, PASSWORD, SpecBuilder, TestApp, api_token, cluster_handle, current_user,
    eventually, managed_namespace, slipway_kubeconfig, with_token,
};

/// A web service that autoscales on CPU between 2 and 4 pods, on kwok's nodes.
fn autoscaled_web(team: &str, name: &str) -> String {
    format!(
        "apiVersion: slipway.dev/v1
kind: Service
metadata: {{name: {name}, team: {team}}}
spec:
  kind: web
  image: registry.example.com/{team}/{name}:1.0.0
  command: [gunicorn, app:app]
  ports: [{{name: http, port: 8000}}]
  resources: {{requests: {{cpu: 100m, memory: 32Mi}}}}
  autoscaling: {{minReplicas: 2, maxReplicas: 4, cpu: 70}}
"
    )
}

/// `e2e/cluster/load ARGS…`, as a developer types it.
fn load(args: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e/cluster/load");
    let out = Command::new(&script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Clears a service's emulated load when the test ends, however it ends.
struct LoadGuard(String, String);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        load(&[&self.0, &self.1, "--clear"]);
    }
}

/// Polls `read` every 250 ms for up to `secs` until `done` holds; the last
/// value read and whether it held.
async fn until<T, F, Fut>(secs: u64, mut read: F, done: impl Fn(&T) -> bool) -> (bool, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let value = read().await;
        if done(&value) || tokio::time::Instant::now() >= deadline {
            return (done(&value), value);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn codes(status: &Value) -> Vec<String> {
    status["explanations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["code"].as_str().map(str::to_owned))
        .collect()
}

fn message(status: &Value, code: &str) -> String {
    status["explanations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["code"] == code)
        .and_then(|e| e["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The acceptance path: load above target → the autoscaler scales out to its
/// maximum and the page says "at its maximum and still above target" with the
/// numbers; load removed → the explanation names the stabilization window.
/// Meanwhile a hundred status views send no request to the API server, and a
/// pod deleted with the API disappears from the page within seconds.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn emulated_load_scales_out_and_the_status_explains_it(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let (team, ns) = (t.team.clone(), t.ns());
    let service = t.service_yaml(&autoscaled_web(&team, "busy")).await;
    t.deploy_ok(&service, "registry.example.com/shop/busy:1.0.0")
        .await;
    let user = current_user(&pool, &t.email).await;
    let token = api_token(&pool, user.id, "status").await;
    let handle = cluster_handle().await;
    let app = TestApp::spawn_with(pool.clone(), handle.clone(), |_| {}).await;
    app.login_as(&t.email, PASSWORD).await;
    let url = app.url(&format!(
        "/api/v1/teams/{team}/services/busy/status?environment=staging"
    ));
    let status = || async {
        with_token(app.client.get(&url), &token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let fragment_path = format!("/services/{team}/busy/status?env=staging");

    // Idle: the autoscaler reads CPU (metrics flow) and holds at its minimum.
    let (idle, last) = until(120, status, |s| {
        s["hpa"]["metrics"][0]["current"].is_string() && s["stale"] == false
    })
    .await;
    assert!(idle, "the autoscaler never read its CPU metric: {last:#}");
    assert_eq!(last["hpa"]["metrics"][0]["target"], "70%", "{last:#}");

    let _guard = LoadGuard(ns.clone(), "busy".into());
    load(&[&ns, "busy", "300m"]);
    let (at_max, last) = until(180, status, |s| {
        s["hpa"]["current"] == 4
            && s["replicas"]["ready"] == 4
            && codes(s).contains(&"at-max-above-target".to_owned())
    })
    .await;
    assert!(at_max, "never at 4 replicas and explained: {last:#}");
    let said = message(&last, "at-max-above-target");
    assert!(
        said.starts_with("At its maximum of 4 replicas and still above target: cpu at ")
            && said.contains("% of the request (target 70%)"),
        "{said}"
    );
    let page = app.page(&fragment_path).await;
    assert!(page.contains("Why it is (not) scaling"), "{page}");
    assert!(
        page.contains("At its maximum of 4 replicas and still above target"),
        "{page}"
    );
    assert!(page.contains("ScalingLimited"), "conditions listed: {page}");
    // Pods carry their node's zone (kwok nodes are in zone-a/b/c).
    let pods = last["pods"].as_array().unwrap();
    assert!(
        pods.iter()
            .all(|p| p["zone"].as_str().is_some_and(|z| z.starts_with("zone-"))),
        "{last:#}"
    );

    // A hundred views of the page and the API read the cache only.
    let before = handle.requests().snapshot();
    for i in 0..100 {
        if i % 2 == 0 {
            assert!(app.page(&fragment_path).await.contains("Live status"));
        } else {
            assert_eq!(status().await["replicas"]["desired"], 4);
        }
    }
    let after = handle.requests().snapshot();
    // Only what runs on its own clock may move meanwhile: the watches renew
    // every 20 s and the connection probe asks /version every 15 s.
    let moved: Vec<_> = after
        .iter()
        .filter(|((verb, resource), n)| {
            before.get(&(*verb, resource.clone())).copied().unwrap_or(0) != **n
                && *verb != "watch"
                && resource != "version"
        })
        .collect();
    assert!(moved.is_empty(), "status views sent requests: {moved:?}");
    assert!(
        after
            .keys()
            .any(|(verb, r)| *verb == "watch" && r == "pods"),
        "the counter sees this connection's requests: {after:?}"
    );

    // A pod deleted behind Slipway's back leaves the page within seconds.
    let pods_api: Api<Pod> = Api::namespaced(t.client.clone(), &ns);
    let victim = pods_api
        .list(&ListParams::default().labels("app.kubernetes.io/name=busy"))
        .await
        .unwrap()
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    pods_api
        .delete(&victim, &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let gone = eventually(15, || async {
        !app.page(&fragment_path).await.contains(&victim)
    })
    .await;
    assert!(gone, "{victim} still shown after 15 s");

    // Load removed: the stabilization window holds the replicas, and says so.
    load(&[&ns, "busy", "--clear"]);
    let (held, last) = until(120, status, |s| {
        codes(s).contains(&"scale-down-stabilized".to_owned())
    })
    .await;
    assert!(held, "the stabilization window was never named: {last:#}");
    assert_eq!(last["hpa"]["current"], 4, "{last:#}");
    assert!(
        message(&last, "scale-down-stabilized").contains("stabilization window"),
        "{last:#}"
    );
    let page = app.page(&fragment_path).await;
    assert!(page.contains("held by the stabilization window"), "{page}");
    t.finish().await;
}

/// A TCP forwarder to the API server that can be cut: every connection through
/// it ends and new ones are refused, as when the API server goes away.
struct Forwarder {
    port: u16,
    tasks: JoinSet<()>,
}

impl Forwarder {
    async fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { port, tasks }
    }

    /// Ends every connection and stops listening (the accept loop owns both).
    async fn cut(&mut self) {
        self.tasks.shutdown().await;
    }
}

/// Slipway's kubeconfig and the API server's `host:port` in it.
async fn kubeconfig_and_server() -> (Value, String) {
    let path = slipway_kubeconfig().await;
    let config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let server = config["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .trim_start_matches("https://")
        .to_owned();
    (config, server)
}

/// That kubeconfig with the server moved to `127.0.0.1:port` (the API
/// server's certificate names 127.0.0.1, so TLS still verifies).
fn kubeconfig_through(mut config: Value, port: u16) -> PathBuf {
    config["clusters"][0]["cluster"]["server"] = format!("https://127.0.0.1:{port}").into();
    let moved = std::env::temp_dir().join(format!(
        "slipway-forwarded-{}-{port}.kubeconfig",
        std::process::id()
    ));
    std::fs::write(&moved, serde_json::to_vec(&config).unwrap()).unwrap();
    moved
}

/// With the API server gone the service page still renders, with its last
/// known numbers marked stale since the time the watches failed.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn with_the_api_server_gone_the_page_renders_marked_stale_since_a_time(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let team = t.team.clone();
    let service = t
        .service_yaml(&SpecBuilder::web("quiet").team(&team).replicas(2).to_yaml())
        .await;
    t.deploy_ok(&service, "registry.example.com/shop/quiet:1.0.0")
        .await;

    let (config, server) = kubeconfig_and_server().await;
    let mut forwarder = Forwarder::to(server).await;
    let kubeconfig = kubeconfig_through(config, forwarder.port);
    let handle = cluster::Handle::start(KubeSource::File(kubeconfig));
    assert!(
        handle.wait_ready(Duration::from_secs(30)).await.is_some(),
        "{:?}",
        handle.state()
    );
    let app = TestApp::spawn_with(pool.clone(), handle, |_| {}).await;
    app.login_as(&t.email, PASSWORD).await;
    let path = format!("/services/{team}/quiet/status?env=staging");
    let (live, page) = until(
        60,
        || app.page(&path),
        |page: &String| page.contains("<strong>2</strong>/2 ready") && !page.contains("stale"),
    )
    .await;
    assert!(live, "never fresh with 2 ready: {page}");

    let cut_at = jiff::Timestamp::now().as_second();
    forwarder.cut().await;
    let (stale, page) = until(
        90,
        || app.page(&path),
        |page: &String| page.contains("stale since "),
    )
    .await;
    assert!(
        stale,
        "never marked stale after the API server went away: {page}"
    );
    // The numbers last seen stay, with the time the watches started failing.
    assert!(page.contains("<strong>2</strong>/2 ready"), "{page}");
    let since = page
        .split("stale since ")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    let since: jiff::Timestamp = since.parse().unwrap_or_else(|e| panic!("{since}: {e}"));
    assert!(
        since.as_second() >= cut_at - 1,
        "stale since {since}, cut at {cut_at}"
    );
    assert!(
        page.contains("The cluster has not answered since "),
        "the explanation says so: {page}"
    );
    // The whole service page renders too.
    let show = app.page(&format!("/services/{team}/quiet")).await;
    assert!(show.contains("quiet"), "{show}");
    t.finish().await;
}

/// Scaling from the portal: the form saves a revision (the environment's
/// override) and deploys it; fixed replicas to 3 shows 3 Ready pods, and new
/// autoscaling bounds reach the HorizontalPodAutoscaler. Bad input is refused
/// naming the field, with nothing saved.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn scaling_from_the_portal_is_a_revision_and_a_deploy(pool: PgPool) {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let (team, ns) = (t.team.clone(), t.ns());
    let fixed = t
        .service_yaml(&autoscaled_web(&team, "fixed").replace(
            "  autoscaling: {minReplicas: 2, maxReplicas: 4, cpu: 70}\n",
            "  replicas: 1\n",
        ))
        .await;
    let scaled = t.service_yaml(&autoscaled_web(&team, "bounded")).await;
    t.deploy_ok(&fixed, "registry.example.com/shop/fixed:1.0.0")
        .await;
    t.deploy_ok(&scaled, "registry.example.com/shop/bounded:1.0.0")
        .await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    app.login_as(&t.email, PASSWORD).await;

    let page = app
        .page(&format!("/services/{team}/fixed?env=staging"))
        .await;
    assert!(
        page.contains("Scale staging") && page.contains("name=\"replicas\""),
        "{page}"
    );
    // Bad input: refused, nothing saved.
    let res = app
        .post_form(
            &format!("/services/{team}/fixed/scale"),
            &[
                ("env", "staging"),
                ("mode", "replicas"),
                ("replicas", "many"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .page(&format!("/services/{team}/fixed?env=staging"))
        .await;
    assert!(
        page.contains("Not scaled.") && page.contains("replicas"),
        "{page}"
    );
    let revisions = slipway::store::services::revisions(&pool, fixed.id)
        .await
        .unwrap();
    assert_eq!(revisions.len(), 1, "nothing saved");

    // Three pods.
    let res = app
        .post_form(
            &format!("/services/{team}/fixed/scale"),
            &[("env", "staging"), ("mode", "replicas"), ("replicas", "3")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/deploys/"), "{to}");
    let id: i64 = to.trim_start_matches("/deploys/").parse().unwrap();
    let deploy = crate::harness::wait_finished(&pool, id, 120).await;
    crate::harness::assert_succeeded(&deploy);
    assert_eq!(deploy.revision, 2);
    let revision = slipway::store::services::revision(&pool, fixed.id, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revision.message,
        "Scaled staging to 3 replicas, from the portal"
    );
    assert!(
        revision.spec_yaml.contains("staging"),
        "{}",
        revision.spec_yaml
    );
    let fragment = format!("/services/{team}/fixed/status?env=staging");
    let (ready, page) = until(
        60,
        || app.page(&fragment),
        |p: &String| p.contains("<strong>3</strong>/3 ready"),
    )
    .await;
    assert!(ready, "{page}");

    // New bounds reach the autoscaler.
    let res = app
        .post_form(
            &format!("/services/{team}/bounded/scale"),
            &[
                ("env", "staging"),
                ("mode", "bounds"),
                ("min", "2"),
                ("max", "6"),
            ],
        )
        .await;
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = to.trim_start_matches("/deploys/").parse().unwrap();
    crate::harness::assert_succeeded(&crate::harness::wait_finished(&pool, id, 120).await);
    let hpa = Api::<HorizontalPodAutoscaler>::namespaced(t.client.clone(), &ns)
        .get("bounded")
        .await
        .unwrap();
    assert_eq!(hpa.spec.max_replicas, 6);
    t.finish().await;
}

/// A pod of service `name` in `t`'s namespace, on a kwok node, or pinned to a
/// node that does not exist (it stays Pending: unschedulable).
fn bare_pod(t: &ClusterTest, name: &str, n: usize, schedulable: bool) -> Pod {
    let node = if schedulable {
        serde_json::json!({"nodeName": format!("kwok-node-{}", 1 + n % 3)})
    } else {
        serde_json::json!({"nodeSelector": {"slipway.dev/no-such-node": "true"}})
    };
    let mut spec = serde_json::json!({
        "containers": [{
            "name": "app",
            "image": format!("registry.example.com/{}/{name}:1.0.0", t.team),
            // What the namespace's Pod Security level (restricted) asks.
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 10001,
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        }],
    });
    spec.as_object_mut()
        .unwrap()
        .extend(node.as_object().unwrap().clone());
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{name}-{n:03}"),
            "labels": {
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/instance": format!("{name}-{}", t.environment()),
                "app.kubernetes.io/part-of": t.team,
                "app.kubernetes.io/managed-by": "slipway",
                "app.kubernetes.io/component": "web",
                "slipway.dev/team": t.team,
                "slipway.dev/environment": t.environment(),
            },
        },
        "spec": spec,
    }))
    .unwrap()
}

/// The fragment that every open overview polls lists 50 pod rows, those in
/// trouble first, and says how many there are; all of them only when asked,
/// and then its polling keeps asking.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_crowd_of_pods_is_listed_fifty_at_a_time_those_in_trouble_first(pool: PgPool) {
    let t = ClusterTest::without_worker(&pool, &["staging"]).await;
    let team = t.team.clone();
    t.service_yaml(&SpecBuilder::web("crowd").team(&team).replicas(60).to_yaml())
        .await;
    managed_namespace(&t.ns(), &team, "staging").await;
    let pods: Api<Pod> = Api::namespaced(t.client.clone(), &t.ns());
    let mut created = JoinSet::new();
    for n in 0..60 {
        let (pods, pod) = (pods.clone(), bare_pod(&t, "crowd", n, n != 59));
        created.spawn(async move { pods.create(&Default::default(), &pod).await });
    }
    while let Some(made) = created.join_next().await {
        made.unwrap().unwrap();
    }
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    app.login_as(&t.email, PASSWORD).await;

    let path = format!("/services/{team}/crowd/status?env=staging");
    let rows = |page: &str| {
        page.matches(&format!("/services/{team}/crowd/logs?env=staging&amp;pod="))
            .count()
    };
    let (settled, page) = until(
        60,
        || app.page(&path),
        |page: &String| {
            page.contains("Showing 50 of 60 pods, the 1 not ready, restarted or stuck first.")
        },
    )
    .await;
    assert!(settled, "not 59 ready and one stuck: {page}");
    assert_eq!(rows(&page), 50, "{page}");
    let first_row = page.find("<table class=\"list pods\">").unwrap();
    assert!(
        page[first_row..].find("crowd-059").unwrap() < page[first_row..].find("crowd-000").unwrap(),
        "the stuck pod is not listed first: {page}"
    );
    assert!(!page.contains("crowd-049"), "51 rows: {page}");
    assert!(page.contains(&format!(
        "href=\"/services/{team}/crowd?env=staging&amp;pods=all\">Show all 60 pods</a>"
    )));
    assert!(
        !page.contains("pods=all\" hx-trigger"),
        "polls for all: {page}"
    );

    // Asked for all: every row, and the page and its polling keep asking.
    let all = app.page(&format!("{path}&pods=all")).await;
    assert_eq!(rows(&all), 60, "{all}");
    assert!(all.contains("All 60 pods."), "{all}");
    assert!(
        all.contains(&format!(
            "/services/{team}/crowd/status?env=staging&amp;pods=all\" hx-trigger=\"every 5s\""
        )),
        "{all}"
    );
    let overview = app
        .page(&format!("/services/{team}/crowd?env=staging&pods=all"))
        .await;
    assert!(
        overview.contains(&format!(
            "/services/{team}/crowd/status?env=staging&amp;pods=all\" hx-trigger=\"load\""
        )),
        "{overview}"
    );
    t.finish().await;
}
