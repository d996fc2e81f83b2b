//! `make bench`: the live status with 1,000 managed pods in the watch cache.
//!
//! Runs the real `slipway serve` binary (release build) against a scratch
//! database and the local control plane, and reports
//! - its resident memory (`VmRSS`) once its status cache has synced *before*
//!   the bench's pods exist (the baseline) and again once it holds the 1,000
//!   pods (50 services × 20 pods on kwok's nodes, each pod shaped like one
//!   Slipway renders: labels, annotations, resources, probes, env), and
//! - p50/p99 of the status fragment (HTML, one service of 20 pods) and of
//!   `GET …/status` (JSON) beside `/healthz`, over the same connection, in the
//!   same run.
//!
//! Needs `DATABASE_URL` and `SLIPWAY_TEST_KUBECONFIG` (an admin kubeconfig).
//! Prints figures; never fails on time.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts on a broken setup"
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use slipway::auth::password;
use slipway::store;
use sqlx::PgPool;
use support::{
    ScratchDatabase, Server, cache_holds, free_port, fresh_namespace, kube_client, pod, rss_kib,
    sign_in,
};

mod support;

const TEAM: &str = "benchstatus";
const ENVIRONMENT: &str = "staging";
const SERVICES: usize = 50;
const PODS_PER_SERVICE: usize = 20;
const WARMUP: usize = 20;
const SAMPLES: usize = 300;

fn namespace() -> String {
    format!("{TEAM}-{ENVIRONMENT}")
}

async fn seed(pool: &PgPool) {
    sqlx::query("insert into teams (name) values ($1)")
        .bind(TEAM)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into services (team_id, name, kind, framework, current_revision)
         select (select id from teams where name = $1), 'svc-' || g, 'web', 'django', 1
         from generate_series(1, $2) g",
    )
    .bind(TEAM)
    .bind(i64::try_from(SERVICES).unwrap())
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into service_revisions (service_id, number, spec_yaml, spec, hash, author, message)
         select id, 1, 'x', '{}'::jsonb, md5(id::text), 'bench', 'seed' from services",
    )
    .execute(pool)
    .await
    .unwrap();
    let hash = password::hash("bench-password-123").unwrap();
    store::users::insert(pool, "bench@example.com", &hash, true)
        .await
        .unwrap();
}

struct Figures {
    p50: Duration,
    p99: Duration,
}

async fn measure(client: &reqwest::Client, url: &str) -> Figures {
    for _ in 0..WARMUP {
        let res = client.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        res.bytes().await.unwrap();
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        let res = client.get(url).send().await.unwrap();
        res.bytes().await.unwrap();
        samples.push(start.elapsed());
    }
    samples.sort();
    Figures {
        p50: samples[SAMPLES / 2],
        p99: samples[(SAMPLES * 99) / 100 - 1],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let kubeconfig = std::env::var("SLIPWAY_TEST_KUBECONFIG")
        .expect("SLIPWAY_TEST_KUBECONFIG (make bench starts the local cluster)");
    let scratch = ScratchDatabase::create("status", 4).await;
    let (pool, url) = (scratch.pool.clone(), scratch.url.clone());
    seed(&pool).await;

    let kube = kube_client(&kubeconfig).await;
    let ns = namespace();
    let namespaces = fresh_namespace(&kube, &ns).await;

    let (http, metrics_addr) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_slipway"))
            .arg("serve")
            .env("SLIPWAY_DATABASE_URL", &url)
            .env("SLIPWAY_KUBECONFIG", &kubeconfig)
            .env("SLIPWAY_LISTEN", &http)
            .env("SLIPWAY_METRICS_ADDR", &metrics_addr)
            .env("SLIPWAY_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("slipway serve"),
    );
    let pid = _server.0.id();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let before = cache_holds(&client, &metrics_addr, 0.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_kib(pid);

    let started = Instant::now();
    let pods: Api<Pod> = Api::namespaced(kube.clone(), &ns);
    futures::stream::iter((1..=SERVICES).flat_map(|s| (0..PODS_PER_SERVICE).map(move |n| (s, n))))
        .for_each_concurrent(16, |(s, n)| {
            let pods = pods.clone();
            async move {
                pods.create(
                    &PostParams::default(),
                    &pod(TEAM, ENVIRONMENT, &format!("svc-{s}"), n),
                )
                .await
                .unwrap();
            }
        })
        .await;
    let total = SERVICES * PODS_PER_SERVICE;
    eprintln!(
        "created {total} pods in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let held = cache_holds(&client, &metrics_addr, before + total as f64).await;
    // kwok marks them Running and Ready: one more event per pod; let it settle.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rss_after = rss_kib(pid);

    sign_in(&client, &http, "bench@example.com", "bench-password-123").await;
    let fragment = format!("http://{http}/services/{TEAM}/svc-7/status?env={ENVIRONMENT}");
    let shown = client
        .get(&fragment)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains("svc-7-019"),
        "the fragment lists the service's pods"
    );

    let cases = [
        ("baseline: GET /healthz", format!("http://{http}/healthz")),
        ("status fragment (HTML, 20 of the 1,000 pods)", fragment),
    ];
    println!();
    println!("Live status with {held} pods in the watch cache (slipway serve, release build)");
    println!();
    println!("| | RSS of slipway serve |");
    println!("|---|---:|");
    println!(
        "| baseline: cache synced, {before} pods | {:.1} MiB |",
        rss_before as f64 / 1024.0
    );
    println!(
        "| with {held} pods | {:.1} MiB |",
        rss_after as f64 / 1024.0
    );
    println!(
        "| difference | {:.1} MiB ({:.1} KiB per pod) |",
        (rss_after as f64 - rss_before as f64) / 1024.0,
        (rss_after as f64 - rss_before as f64) / total as f64
    );
    println!();
    println!("| request ({SAMPLES} sequential, one connection) | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    for (name, url) in &cases {
        let f = measure(&client, url).await;
        println!("| {name} | {} | {} |", ms(f.p50), ms(f.p99));
    }
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
    drop(pool);
    scratch.drop_now().await;
}
