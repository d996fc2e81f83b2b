//! `make bench`: the catalog with 10,000 services.
//!
//! Seeds a fresh database of the PostgreSQL named by `DATABASE_URL` with 10,000
//! services (50 teams, a revision each, deploys in three environments), serves the
//! real router on an ephemeral port and times sequential requests from one client.
//! The baseline, measured in the same run over the same connection, is `/healthz`
//! (routing, middleware and HTTP with no database work), so the table shows what
//! the catalog itself costs. Prints figures; never fails on time.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts on a broken setup"
)]

use std::time::{Duration, Instant};

use slipway::app::{self, AppState};
use slipway::auth::password;
use slipway::cluster;
use slipway::config::Config;
use slipway::store;
use sqlx::PgPool;

mod support;
use support::ScratchDatabase;

/// The server binary's allocator (see `src/main.rs`), so these figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVICES: i64 = 10_000;
const WARMUP: usize = 20;
const SAMPLES: usize = 300;

async fn seed(pool: &PgPool) {
    sqlx::query("insert into teams (name) select 'team-' || g from generate_series(1, 50) g")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into services (team_id, name, kind, framework, current_revision)
         select (select id from teams where name = 'team-' || (1 + g % 50)),
                'svc-' || g,
                (array['web','worker','cron','stateful'])[1 + g % 4],
                (array['django','celery','cron','flask'])[1 + g % 4], 1
         from generate_series(1, $1) g",
    )
    .bind(SERVICES)
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
    // Three deploys per service and environment: the catalog must pick the newest.
    sqlx::query(
        "insert into deploys (service_id, environment_id, revision, revision_id, revision_hash, image,
                              namespace, state, trigger, requested_by)
         select r.service_id, e.id, 1, r.id, r.hash, 'registry.example.com/x:1', 'ns',
                (array['succeeded','failed','progressing','queued'])[1 + (r.service_id + e.id + n) % 4],
                'user', 'bench'
         from service_revisions r cross join environments e cross join generate_series(1, 3) n",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("analyze").execute(pool).await.unwrap();
    let hash = password::hash("bench-password-123").unwrap();
    store::users::insert(pool, "bench@example.com", &hash, true)
        .await
        .unwrap();
}

struct Figures {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

async fn measure(client: &reqwest::Client, url: &str, htmx: bool) -> Figures {
    let send = || {
        let mut req = client.get(url);
        if htmx {
            req = req.header("hx-request", "true");
        }
        req.send()
    };
    for _ in 0..WARMUP {
        let res = send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        res.bytes().await.unwrap();
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        let res = send().await.unwrap();
        res.bytes().await.unwrap();
        samples.push(start.elapsed());
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / SAMPLES as u32;
    Figures {
        p50: samples[SAMPLES / 2],
        p99: samples[(SAMPLES * 99) / 100 - 1],
        mean,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let scratch = ScratchDatabase::create("catalog", 16).await;
    let pool = scratch.pool.clone();
    let started = Instant::now();
    seed(&pool).await;
    eprintln!(
        "seeded {SERVICES} services in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(
        pool.clone(),
        cluster::Handle::disabled(),
        Config::for_database(&scratch.url),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("http://{addr}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let at = page.find(marker).unwrap() + marker.len();
    let token = &page[at..at + page[at..].find('"').unwrap()];
    let res = client
        .post(format!("http://{addr}/login"))
        .form(&[
            ("email", "bench@example.com"),
            ("password", "bench-password-123"),
            ("csrf_token", token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    let cases: [(&str, String, bool); 6] = [
        (
            "baseline: GET /healthz",
            format!("http://{addr}/healthz"),
            false,
        ),
        (
            "baseline: signed-in page, no catalog",
            format!("http://{addr}/account"),
            false,
        ),
        (
            "catalog page 1 (10,000 services)",
            format!("http://{addr}/"),
            false,
        ),
        (
            "catalog page 120",
            format!("http://{addr}/?page=120"),
            false,
        ),
        (
            "search as you type (htmx, q=svc-12)",
            format!("http://{addr}/?q=svc-12"),
            true,
        ),
        (
            "filter kind=worker state=failed",
            format!("http://{addr}/?kind=worker&state=failed"),
            true,
        ),
    ];
    println!();
    println!(
        "Catalog with {SERVICES} services, {SAMPLES} sequential requests each (after {WARMUP} warm-up):"
    );
    println!(
        "{:<40} {:>9} {:>9} {:>9}",
        "case", "p50 ms", "p99 ms", "mean ms"
    );
    let mut baseline_p99 = Duration::ZERO;
    for (name, url, htmx) in &cases {
        let f = measure(&client, url, *htmx).await;
        if baseline_p99.is_zero() {
            baseline_p99 = f.p99;
        }
        println!(
            "{name:<40} {:>9} {:>9} {:>9}",
            ms(f.p50),
            ms(f.p99),
            ms(f.mean)
        );
    }
    println!(
        "(target: catalog p99 well under 50 ms; baseline p99 {} ms)",
        ms(baseline_p99)
    );

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    scratch.drop_now().await;
}
