//! Many clusters, on two real control planes: the local one (the configured
//! cluster, `default`) and a second one (`e2e/cluster/up --name second`),
//! registered through the API the way an administrator does it — with
//! Slipway's ServiceAccount token and the cluster's CA, a connection test
//! first. Development deploys to one, production to the other; status, logs
//! and drift come from the right one; a registration removed stops its
//! watches; a cluster cut off slows no other, its deploys fail naming it, and
//! it recovers.
//!
//! Needs `SLIPWAY_TEST_KUBECONFIG` and `SLIPWAY_TEST_SECOND_KUBECONFIG`
//! (`scripts/test-all` starts both control planes).

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use slipway::cluster::Fleet;
use slipway::deployer::DeployState;
use slipway::domain::clusters;
use slipway::secret::SecretKey;
use sqlx::PgPool;

use crate::harness::{
    ClusterTest, PASSWORD, Relay, SecondCluster, SpecBuilder, TestApp, api_token, assert_succeeded,
    cluster_handle, create_user, eventually, second_cluster, second_kubeconfig_path, test_config,
    wait_finished, with_token,
};

/// The key `Config::for_database` gives the test servers, so a fleet the test
/// builds opens the credentials their registrations sealed.
fn test_key() -> SecretKey {
    SecretKey([7; 32])
}

/// Registration of `name` reaching the second control plane at `server`
/// (its own address, or a relay's) as Slipway's ServiceAccount.
fn token_registration(name: &str, server: &str, second: &SecondCluster) -> Value {
    json!({"name": name, "source": "token", "server": server,
           "token": second.token, "ca": second.ca_pem})
}

async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = with_token(app.client.request(method, app.url(path)), token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Points `environment` at `cluster`, with no approvals or checklist gate (the
/// tests are about where deploys go, not about the production policy).
async fn point(app: &TestApp, admin: &str, environment: &str, cluster: &str) {
    let (status, body) = api(
        app,
        admin,
        reqwest::Method::PUT,
        &format!("/api/v1/environments/{environment}"),
        Some(json!({"cluster": cluster, "approvals_required": 0,
                    "checklist_must_pass": false, "block_on_missing_secrets": false})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cluster"], cluster, "{body}");
}

/// Requests a deploy over the API as the team's member; its id.
async fn request_deploy(
    app: &TestApp,
    token: &str,
    team: &str,
    environment: &str,
    image: &str,
) -> i64 {
    let (status, body) = api(
        app,
        token,
        reqwest::Method::POST,
        &format!("/api/v1/teams/{team}/services/api/deploys"),
        Some(json!({"environment": environment, "image": image})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_i64().expect("a deploy id")
}

async fn deployment_exists(client: &Client, namespace: &str) -> bool {
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .get_opt("api")
        .await
        .ok()
        .flatten()
        .is_some()
}

async fn pod_names(client: &Client, namespace: &str) -> Vec<String> {
    let mut names: Vec<String> = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels("app.kubernetes.io/name=api"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

/// Deletes the test's namespace on the second control plane at the end.
async fn delete_namespace(client: &Client, namespace: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(namespace, &DeleteParams::default())
        .await;
}

struct World {
    t: ClusterTest,
    app: TestApp,
    admin: String,
    member: String,
    fleet: Fleet,
    second: SecondCluster,
}

async fn world(pool: &PgPool) -> World {
    let second = second_cluster().await;
    let mut t = ClusterTest::without_worker(pool, &["development", "production"]).await;
    // Production goes to the second control plane in these tests.
    t.clean_up_on(second_kubeconfig_path(), format!("{}-production", t.team));
    let admin = create_user(pool, &format!("root@{}.io", t.team), true, &[]).await;
    let admin = api_token(pool, admin.id, "admin").await;
    let member = slipway::store::users::find_by_email(pool, &t.email)
        .await
        .unwrap()
        .expect("the team's member");
    let member = api_token(pool, member.id, "member").await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |c| {
        c.cluster_registry_poll = Duration::from_millis(200);
    })
    .await;
    app.login_as(&t.email, PASSWORD).await;
    World {
        t,
        app,
        admin,
        member,
        // The worker's replica: its own fleet, kept equal to the registry as
        // `serve` keeps it.
        fleet: Fleet::single(cluster_handle().await),
        second,
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn development_deploys_to_one_cluster_and_production_to_the_other(pool: PgPool) {
    let World {
        mut t,
        app,
        admin,
        member,
        fleet,
        second,
    } = world(&pool).await;
    let team = t.team.clone();

    // A registration whose connection test fails stores nothing.
    let (status, body) = api(
        &app,
        &admin,
        reqwest::Method::POST,
        "/api/v1/clusters",
        Some(token_registration("second", "https://127.0.0.1:1", &second)),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("server") && body.to_string().contains("connection test failed"),
        "{body}"
    );
    let (_, listed) = api(&app, &admin, reqwest::Method::GET, "/api/v1/clusters", None).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["default"], "{listed}");

    // The real registration: tested, stored, connected at once on this replica.
    let (status, body) = api(
        &app,
        &admin,
        reqwest::Method::POST,
        "/api/v1/clusters",
        Some(token_registration("second", &second.server, &second)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "connected", "{body}");
    assert_eq!(body["server"], second.server.as_str(), "{body}");
    assert!(
        body["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.")),
        "{body}"
    );

    // An environment may only target a registered cluster.
    let (status, body) = api(
        &app,
        &admin,
        reqwest::Method::PUT,
        "/api/v1/environments/production",
        Some(json!({"cluster": "nowhere"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("cluster") && body.to_string().contains("nowhere"),
        "{body}"
    );
    point(&app, &admin, "development", "default").await;
    point(&app, &admin, "production", "second").await;

    let changes = clusters::sync(&pool, &fleet, Some(&test_key()))
        .await
        .unwrap();
    assert_eq!(changes.started, ["second"]);
    assert!(
        fleet
            .member("second")
            .handle
            .wait_ready(Duration::from_secs(30))
            .await
            .is_some(),
        "{:?}",
        fleet.member("second").handle.state()
    );
    t.start_worker_on(fleet.clone(), test_config()).await;
    t.service(SpecBuilder::web("api")).await;
    let image = format!("registry.example.com/{team}/api:1.0.0");

    let development = request_deploy(&app, &member, &team, "development", &image).await;
    let production = request_deploy(&app, &member, &team, "production", &image).await;
    for id in [development, production] {
        assert_succeeded(&wait_finished(&pool, id, 240).await);
    }
    let (_, shown) = api(
        &app,
        &member,
        reqwest::Method::GET,
        &format!("/api/v1/deploys/{production}"),
        None,
    )
    .await;
    assert_eq!(shown["cluster"], "second", "{shown}");
    let (_, shown) = api(
        &app,
        &member,
        reqwest::Method::GET,
        &format!("/api/v1/deploys/{development}"),
        None,
    )
    .await;
    assert_eq!(shown["cluster"], "default", "{shown}");

    // Each environment's objects are on its cluster and only there.
    let (dev_ns, prod_ns) = (format!("{team}-development"), format!("{team}-production"));
    assert!(deployment_exists(&t.client, &dev_ns).await);
    assert!(
        !deployment_exists(&t.client, &prod_ns).await,
        "production is not on the local cluster"
    );
    assert!(deployment_exists(&second.admin, &prod_ns).await);
    assert!(
        !deployment_exists(&second.admin, &dev_ns).await,
        "development is not on the second"
    );

    // Status comes from each environment's own watch cache: the pods it lists
    // are the pods of that cluster.
    for (environment, client, namespace) in [
        ("production", &second.admin, &prod_ns),
        ("development", &t.client, &dev_ns),
    ] {
        let path = format!("/api/v1/teams/{team}/services/api/status?environment={environment}");
        let last = std::sync::Mutex::new(Value::Null);
        let matches = eventually(60, || {
            let (app, member, path, last) = (&app, &member, &path, &last);
            async move {
                let (_, status) = api(app, member, reqwest::Method::GET, path, None).await;
                let live = pod_names(client, namespace).await;
                let mut shown: Vec<String> = status["pods"]
                    .as_array()
                    .map(|pods| {
                        pods.iter()
                            .filter_map(|p| p["name"].as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                shown.sort();
                *last.lock().unwrap() = status.clone();
                status["stale"] == false && !live.is_empty() && shown == live
            }
        })
        .await;
        assert!(
            matches,
            "{environment}'s status lists its cluster's pods: {}",
            last.lock().unwrap()
        );
    }

    // Logs: a production pod exists only on the second cluster, so reading it
    // proves the log request went there.
    let pod = pod_names(&second.admin, &prod_ns).await.remove(0);
    let page = app
        .page(&format!(
            "/services/{team}/api/logs?env=production&pod={pod}"
        ))
        .await;
    assert!(
        page.contains("kwok-logs"),
        "the emulated log of {pod}: {page}"
    );

    // Drift: an edit on the second cluster shows in production's drift.
    let drift = format!("/services/{team}/api/drift?env=production");
    assert!(app.page(&drift).await.contains("no drift"));
    Api::<Deployment>::namespaced(second.admin.clone(), &prod_ns)
        .patch(
            "api",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let page = app.page(&drift).await;
    assert!(
        page.contains("<code>spec.replicas</code>") && page.contains("kubectl-edit"),
        "{page}"
    );
    assert!(
        app.page(&format!("/services/{team}/api/drift?env=development"))
            .await
            .contains("no drift")
    );

    // Another replica (a second server on the database) picks the
    // registration up by itself, and its admin page names each cluster with
    // its state.
    let other = other_replica_as_admin(&pool).await;
    let registry = std::sync::Mutex::new(String::new());
    let shown = eventually(30, || {
        let (other, registry) = (&other, &registry);
        async move {
            let page = other.page("/admin/clusters").await;
            let both =
                page.contains("<code>second</code>") && page.matches("state ready").count() == 2;
            *registry.lock().unwrap() = page;
            both
        }
    })
    .await;
    let registry = registry.into_inner().unwrap();
    assert!(
        shown,
        "both clusters connected on the other replica: {registry}"
    );
    for needle in ["<code>default</code>", second.server.as_str(), "production"] {
        assert!(
            registry.contains(needle),
            "/admin/clusters lacks {needle:?}: {registry}"
        );
    }

    // A cluster an environment targets cannot be removed; once none does, its
    // registration goes and its watches stop, on every replica.
    let (status, body) = api(
        &app,
        &admin,
        reqwest::Method::DELETE,
        "/api/v1/clusters/second",
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("production"), "{body}");
    point(&app, &admin, "production", "default").await;
    let kept = fleet.member("second");
    assert!(!kept.status.stopped());
    let (status, body) = api(
        &app,
        &admin,
        reqwest::Method::DELETE,
        "/api/v1/clusters/second",
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = api(
        &app,
        &admin,
        reqwest::Method::GET,
        "/api/v1/clusters/second",
        None,
    )
    .await;
    assert_eq!(status, 404, "gone from the replica that removed it");
    let changes = clusters::sync(&pool, &fleet, Some(&test_key()))
        .await
        .unwrap();
    assert_eq!(
        changes.stopped,
        ["second"],
        "and from another replica at its next sync"
    );
    assert!(
        eventually(10, || async { kept.status.stopped() }).await,
        "the removed cluster's watch tasks ended"
    );
    assert!(
        fleet
            .member("second")
            .handle
            .state()
            .describe()
            .contains("no cluster named `second` is registered")
    );

    t.finish().await;
    delete_namespace(&second.admin, &prod_ns).await;
}

/// Another server over the same database, an administrator signed in.
async fn other_replica_as_admin(pool: &PgPool) -> TestApp {
    let email = format!("pages-{}@clusters.io", uuid::Uuid::new_v4().simple());
    create_user(pool, &email, true, &[]).await;
    let other = TestApp::spawn_with(pool.clone(), cluster_handle().await, |c| {
        c.cluster_registry_poll = Duration::from_millis(200);
    })
    .await;
    other.login_as(&email, PASSWORD).await;
    other
}

/// Sum of `rounds` GETs of each page (each must answer 200).
async fn page_time(app: &TestApp, paths: &[String], rounds: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..rounds {
        for path in paths {
            app.page(path).await;
        }
    }
    started.elapsed()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_cluster_cut_off_slows_no_other_its_deploys_fail_naming_it_and_it_recovers(pool: PgPool) {
    let World {
        mut t,
        app,
        admin,
        member,
        fleet,
        second,
    } = world(&pool).await;
    let team = t.team.clone();
    // `edge` is the second control plane behind a relay the test can cut.
    let relay = Relay::start(second.addr).await;
    let (status, body) = api(
        &app,
        &admin,
        reqwest::Method::POST,
        "/api/v1/clusters",
        Some(token_registration(
            "edge",
            &format!("https://{}", relay.addr),
            &second,
        )),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    point(&app, &admin, "development", "default").await;
    point(&app, &admin, "production", "edge").await;
    clusters::sync(&pool, &fleet, Some(&test_key()))
        .await
        .unwrap();
    assert!(
        fleet
            .member("edge")
            .handle
            .wait_ready(Duration::from_secs(30))
            .await
            .is_some()
    );
    t.start_worker_on(fleet.clone(), test_config()).await;
    t.service(SpecBuilder::web("api")).await;
    let image = |tag: &str| format!("registry.example.com/{team}/api:{tag}");

    // Both environments deploy while both clusters answer.
    let first = request_deploy(&app, &member, &team, "production", &image("1.0.0")).await;
    assert_succeeded(&wait_finished(&pool, first, 240).await);
    let pages = vec![
        format!("/services/{team}/api?env=development"),
        format!("/services/{team}/api/status?env=development"),
        "/".to_owned(),
    ];
    page_time(&app, &pages, 3).await; // warm
    let started = Instant::now();
    let base_deploy = request_deploy(&app, &member, &team, "development", &image("1.0.0")).await;
    assert_succeeded(&wait_finished(&pool, base_deploy, 240).await);
    let deploy_before = started.elapsed();
    let pages_before = page_time(&app, &pages, 10).await;

    // Cut `edge` off: its connections close and new ones hang unanswered, as
    // with a region that drops off the network.
    relay.cut().await;
    let started = Instant::now();
    let cut_deploy = request_deploy(&app, &member, &team, "development", &image("1.0.1")).await;
    assert_succeeded(&wait_finished(&pool, cut_deploy, 240).await);
    let deploy_during = started.elapsed();
    let pages_during = page_time(&app, &pages, 10).await;
    eprintln!(
        "development while edge is cut off: deploy {deploy_during:?} (before {deploy_before:?}), \
         30 page views {pages_during:?} (before {pages_before:?})"
    );
    // Bounded by a multiple of the baseline measured above, not by a clock:
    // had anything waited on edge, it would have waited its timeouts (5 s for
    // a probe, 30 s for a read), far beyond these bounds.
    assert!(
        deploy_during <= deploy_before.max(Duration::from_secs(1)) * 4,
        "a development deploy took {deploy_during:?} with edge cut off, {deploy_before:?} before"
    );
    assert!(
        pages_during <= pages_before.max(Duration::from_millis(100)) * 4,
        "30 page views took {pages_during:?} with edge cut off, {pages_before:?} before"
    );

    // Edge's deploy fails after bounded retries, with a reason naming it.
    let doomed = request_deploy(&app, &member, &team, "production", &image("2.0.0")).await;
    let failed = wait_finished(&pool, doomed, 240).await;
    assert_eq!(failed.state, DeployState::Failed, "{failed:?}");
    assert!(
        failed.reason.contains("cluster `edge`"),
        "{}",
        failed.reason
    );
    // The portal says so: edge unreachable, production's status stale.
    let edge_down = eventually(60, || async {
        let (_, c) = api(
            &app,
            &admin,
            reqwest::Method::GET,
            "/api/v1/clusters/edge",
            None,
        )
        .await;
        c["state"] == "unreachable"
    })
    .await;
    assert!(edge_down, "edge is shown unreachable");
    let stale = eventually(90, || async {
        let (_, s) = api(
            &app,
            &member,
            reqwest::Method::GET,
            &format!("/api/v1/teams/{team}/services/api/status?environment=production"),
            None,
        )
        .await;
        s["stale"] == true
    })
    .await;
    assert!(stale, "production's status is marked stale");

    // The worker's replica has seen edge go too (its own connection, probed on
    // its own clock): only then can a connection it reports later be one made
    // after the restore.
    assert!(
        eventually(60, || async {
            fleet.member("edge").handle.client().is_none()
        })
        .await,
        "the worker's replica sees edge unreachable"
    );
    // Back on the network, edge takes deploys again.
    relay.restore().await;
    assert!(
        eventually(60, || async {
            fleet.member("edge").handle.client().is_some()
        })
        .await,
        "edge reconnects"
    );
    let again = request_deploy(&app, &member, &team, "production", &image("2.0.0")).await;
    assert_succeeded(&wait_finished(&pool, again, 240).await);
    assert_eq!(
        Api::<Deployment>::namespaced(second.admin.clone(), &format!("{team}-production"))
            .get("api")
            .await
            .unwrap()
            .spec
            .template
            .spec
            .and_then(|s| s.containers.into_iter().next())
            .and_then(|c| c.image),
        Some(image("2.0.0"))
    );

    t.finish().await;
    delete_namespace(&second.admin, &format!("{team}-production")).await;
}

/// A token that is never a real credential, typed into registrations that
/// must fail: it must not come back either.
const SENTINEL: &str = "sentinel-credential-3f9a7c1e5b2d4086";

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn registered_credentials_never_appear_in_pages_answers_logs_or_a_database_dump(
    pool: PgPool,
) {
    use std::process::{Command, Stdio};

    use crate::harness::{database_url, extract_csrf, listening_port};

    let second = second_cluster().await;
    let email = "root@sentinel.io";
    let admin = create_user(&pool, email, true, &[]).await;
    let token = api_token(&pool, admin.id, "admin").await;
    let log_path =
        std::env::temp_dir().join(format!("slipway-sentinel-{}.log", uuid::Uuid::new_v4()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLIPWAY_DATABASE_URL", database_url(&pool).await)
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        .env(
            "SLIPWAY_LOG",
            "trace,hyper=info,h2=info,reqwest=info,rustls=info",
        )
        .env("SLIPWAY_LOG_FORMAT", "json")
        .env("SLIPWAY_KUBECONFIG", "/nonexistent/kubeconfig")
        .env(
            "SLIPWAY_SECRET_KEY",
            "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
        )
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut port = None;
    let listening = eventually(20, || {
        port = port.or_else(|| listening_port(pid));
        let found = port.is_some();
        async move { found }
    })
    .await;
    assert!(listening, "slipway serve did not listen within 20 s");
    let base = format!("http://127.0.0.1:{}", port.unwrap());
    let client = crate::harness::browser();
    let mut seen = Vec::new();

    // Over the API: one registration that works, one whose credentials the
    // API server refuses.
    let registered = with_token(client.post(format!("{base}/api/v1/clusters")), &token)
        .json(&token_registration("vault", &second.server, &second))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    seen.push(registered.text().await.unwrap());
    let mut refused = token_registration("refused", &second.server, &second);
    refused["token"] = SENTINEL.into();
    let refused = with_token(client.post(format!("{base}/api/v1/clusters")), &token)
        .json(&refused)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("connection test failed"), "{refused}");
    seen.push(refused);
    for path in ["/api/v1/clusters", "/api/v1/clusters/vault"] {
        let res = with_token(client.get(format!("{base}{path}")), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        seen.push(res.text().await.unwrap());
    }

    // In the portal: the pages, and a form that fails comes back without
    // what was typed into its credential fields.
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf = extract_csrf(&login.text().await.unwrap()).unwrap();
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = client
        .get(format!("{base}/admin/clusters"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = extract_csrf(&page).unwrap();
    seen.push(page);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: k, cluster: {{server: '{}'}}}}]\n\
         users: [{{name: u, user: {{token: {SENTINEL}}}}}]\ncontexts: [{{name: c, context: {{cluster: k, user: u}}}}]\n",
        second.server
    );
    let form = client
        .post(format!("{base}/admin/clusters"))
        .form(&[
            ("name", "typed"),
            ("source", "kubeconfig"),
            ("kubeconfig", kubeconfig.as_str()),
            ("token", SENTINEL),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 422);
    let form = form.text().await.unwrap();
    assert!(form.contains("connection test failed"), "{form}");
    seen.push(form);
    for path in [
        "/admin/clusters/vault",
        "/admin/cluster?cluster=vault",
        "/admin/audit",
    ] {
        let res = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        seen.push(res.text().await.unwrap());
    }

    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success(), "graceful shutdown exits 0");
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        logs.contains("cluster registered"),
        "the registration was logged: {logs}"
    );

    let dump = Command::new(pg_dump())
        .arg("--dbname")
        .arg(database_url(&pool).await)
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(dump.contains("vault"), "the dump holds the registration");

    // A token's first 24 characters are enough to find a leak by.
    for secret in [second.token.as_str(), SENTINEL] {
        let needle = &secret[..24];
        for (i, text) in seen.iter().enumerate() {
            assert!(
                !text.contains(needle),
                "answer {i} shows a credential: {text}"
            );
        }
        assert!(!logs.contains(needle), "a credential was logged");
        assert!(
            !dump.contains(needle),
            "a credential is in clear in the database"
        );
    }
}

/// `pg_dump` of the PostgreSQL the tests run (the newest installed server's).
fn pg_dump() -> std::path::PathBuf {
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin/pg_dump"))
                .collect()
        })
        .unwrap_or_default();
    dirs.retain(|p| p.exists());
    dirs.sort();
    dirs.pop().unwrap_or_else(|| "pg_dump".into())
}
