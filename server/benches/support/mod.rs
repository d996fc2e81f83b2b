//! What more than one bench needs: a `slipway serve` child process, its
//! resident memory, signing in, and pods shaped like the ones Slipway renders.
#![allow(dead_code, reason = "each bench uses part of it")]

use std::process::Child;

use k8s_openapi::api::core::v1::Pod;

/// A free port on 127.0.0.1 (bound and released; the server binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child `slipway serve`, killed when dropped (also when a bench aborts).
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .expect("VmRSS of the server")
}

/// Signs `email` in on the portal at `addr` through the login form, with
/// `client`'s cookie store keeping the session.
pub async fn sign_in(client: &reqwest::Client, addr: &str, email: &str, password: &str) {
    let page = client
        .get(format!("http://{addr}/login"))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("the login page");
    let marker = "name=\"csrf_token\" value=\"";
    let at = page.find(marker).expect("a CSRF token on the login page") + marker.len();
    let token = &page[at..at + page[at..].find('"').expect("the token's end")];
    let res = client
        .post(format!("http://{addr}/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", token),
        ])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(res.status(), 303, "signing in {email}");
}

/// Pod `n` of service `service` of `team` in `environment`, as Slipway renders
/// one (the labels the status cache selects by, the deploy annotations,
/// resources, probes, a few env vars), bound to one of kwok's three nodes.
pub fn pod(team: &str, environment: &str, service: &str, n: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{service}-{n:03}"),
            "labels": {
                "app.kubernetes.io/name": service,
                "app.kubernetes.io/instance": format!("{service}-{environment}"),
                "app.kubernetes.io/part-of": team,
                "app.kubernetes.io/managed-by": "slipway",
                "app.kubernetes.io/component": "web",
                "slipway.dev/team": team,
                "slipway.dev/environment": environment,
            },
            "annotations": {"slipway.dev/revision": "1", "slipway.dev/deploy-id": "1"},
        },
        "spec": {
            "nodeName": format!("kwok-node-{}", 1 + n % 3),
            "containers": [{
                "name": "app",
                "image": format!("registry.example.com/{team}/{service}:1.0.0"),
                "command": ["gunicorn", "app.wsgi:application"],
                "ports": [{"name": "http", "containerPort": 8000}],
                "env": [
                    {"name": "DJANGO_SETTINGS_MODULE", "value": "app.settings"},
                    {"name": "LOG_FORMAT", "value": "json"},
                    {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}},
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "128Mi"},
                    "limits": {"memory": "256Mi", "ephemeral-storage": "512Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
                "livenessProbe": {"tcpSocket": {"port": "http"}},
            }],
        },
    }))
    .expect("a pod")
}

/// The value of a gauge with that label in Prometheus text.
pub fn gauge(text: &str, name: &str, label: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Waits (bounded: 180 s) until the server's pod watch, read from its metrics
/// listener at `addr`, is fresh and holds at least `pods` objects; the count.
pub async fn cache_holds(client: &reqwest::Client, addr: &str, pods: f64) -> f64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let text = match client.get(format!("http://{addr}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let fresh = gauge(&text, "slipway_status_watch_fresh", "kind=\"pods\"") == Some(1.0);
        let held = gauge(&text, "slipway_status_cache_objects", "kind=\"pods\"").unwrap_or(0.0);
        if fresh && held >= pods {
            return held;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the status cache holds {held} pods (fresh: {fresh}), expected {pods}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// A database of its own on the PostgreSQL named by `DATABASE_URL`, migrated,
/// for one bench run; [`ScratchDatabase::drop_now`] removes it.
pub struct ScratchDatabase {
    /// A connection to the server's default database (to drop the scratch one).
    admin: sqlx::PgPool,
    /// The scratch database's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// A pool on it.
    pub pool: sqlx::PgPool,
}

impl ScratchDatabase {
    /// Creates and migrates `bench_{prefix}_{pid}` with a pool of `connections`.
    pub async fn create(prefix: &str, connections: u32) -> Self {
        let base =
            std::env::var("DATABASE_URL").expect("DATABASE_URL (make bench starts a PostgreSQL)");
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&base)
            .await
            .expect("the PostgreSQL of DATABASE_URL");
        let name = format!("bench_{prefix}_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&admin)
            .await
            .expect("create database");
        let url = format!(
            "{}/{name}",
            base.rsplit_once('/').expect("a database URL").0
        );
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(connections)
            .connect(&url)
            .await
            .expect("the scratch database");
        slipway::store::migrate(&pool).await.expect("migrations");
        Self {
            admin,
            name,
            url,
            pool,
        }
    }

    /// Closes the pool and drops the database (also with connections left open).
    pub async fn drop_now(self) {
        self.pool.close().await;
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            self.name
        )))
        .execute(&self.admin)
        .await;
    }
}

/// A client of the cluster of an admin kubeconfig file.
pub async fn kube_client(kubeconfig: &str) -> kube::Client {
    kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig"),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("a kube config"),
    )
    .expect("a kube client")
}

/// Namespace `name`, created afresh: one left by an earlier run is deleted
/// first and waited for (bounded: 120 s).
pub async fn fresh_namespace(
    client: &kube::Client,
    name: &str,
) -> kube::Api<k8s_openapi::api::core::v1::Namespace> {
    use kube::api::{DeleteParams, PostParams};
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(client.clone());
    let _ = namespaces.delete(name, &DeleteParams::default()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while namespaces
        .get_opt(name)
        .await
        .expect("reading namespaces")
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "namespace {name} is still terminating"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
                .expect("a namespace"),
        )
        .await
        .expect("creating the namespace");
    namespaces
}

/// An administrator `bench@{team}.io` of a fresh team `team` (which may serve
/// hosts under example.com, as the examples do: docs/exposure.md), as the
/// domain sees them: who they are and how the audit log names them.
pub async fn bench_admin(
    pool: &sqlx::PgPool,
    team: &str,
) -> anyhow::Result<(slipway::auth::CurrentUser, slipway::store::audit::Actor)> {
    use slipway::store;
    let email = format!("bench@{team}.io");
    let user = store::users::insert(pool, &email, "not-a-password-hash", true).await?;
    let team_row = store::teams::insert(pool, team, team).await?;
    store::grants::ensure_host_grant(pool, team_row.id, "example.com", "bench").await?;
    let current = slipway::auth::CurrentUser {
        id: user.id,
        email: email.clone(),
        is_admin: true,
        teams: vec![team.to_owned()],
        approves: Vec::new(),
    };
    let actor = store::audit::Actor {
        user_id: Some(user.id),
        name: email,
        client_addr: None,
    };
    Ok((current, actor))
}

/// The Django example (`examples/django.yaml`) created as a service of `team`.
pub async fn django_service(
    pool: &sqlx::PgPool,
    current: &slipway::auth::CurrentUser,
    actor: &slipway::store::audit::Actor,
    team: &str,
) -> anyhow::Result<slipway::store::services::Service> {
    use anyhow::Context as _;
    use slipway::domain::services as editing;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/django.yaml");
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {path}"))?
        .replace("  team: shop\n", &format!("  team: {team}\n"));
    let prepared = editing::prepare_text(&text).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (service, _) = editing::create_service(pool, current, actor, team, &prepared, "bench")
        .await
        .map_err(|e| anyhow::anyhow!("creating the service: {e:?}"))?;
    Ok(service)
}
