//! `make bench`: the webhook endpoint under 50 concurrent signed pushes.
//!
//! Seeds a fresh database of the PostgreSQL named by `DATABASE_URL` with 50
//! services and a hook each, serves the real router on an ephemeral port (no
//! cluster: the endpoint only verifies and records), and sends signed GitHub
//! pushes from 50 concurrent clients, each with its own delivery id, so every
//! one is verified and recorded as queued, after an unmeasured round of as
//! many (so the figures are a running server's, not a cold start's: pool
//! connections open, caches warm); the judge beside the server (as in
//! `serve`) turns each into a queued deploy meanwhile, competing for the same
//! two cores. The baseline, measured the same way in the same run, is
//! `/healthz`. Then it waits for the judge to finish and prints how long after
//! arrival the verdicts came (`judged_at - created_at`). Prints figures; never
//! fails on time.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts on a broken setup"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway::app::{self, AppState};
use slipway::auth::password;
use slipway::cluster;
use slipway::config::Config;
use slipway::domain::{hooks, services};
use slipway::secret::SecretKey;
use slipway::store::{self, audit::Actor};
use slipway::webhook;

mod support;
use support::ScratchDatabase;

/// The server binary's allocator (see `src/main.rs`), so these figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONCURRENCY: usize = 50;
const REQUESTS: usize = 2_000;
const HOOKS: usize = 50;

struct Figures {
    p50: Duration,
    p99: Duration,
    per_second: f64,
    errors: usize,
}

/// Sends `REQUESTS` requests from `CONCURRENCY` tasks; `make(i)` builds request `i`.
async fn load<F>(make: F) -> Figures
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= REQUESTS {
                    break;
                }
                let start = Instant::now();
                match make(i).send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                    }
                    _ => errors += 1,
                }
                samples.push(start.elapsed());
            }
            (samples, errors)
        }));
    }
    let mut samples = Vec::with_capacity(REQUESTS);
    let mut errors = 0;
    for task in tasks {
        let (s, e) = task.await.unwrap();
        samples.extend(s);
        errors += e;
    }
    let elapsed = started.elapsed();
    samples.sort();
    Figures {
        p50: samples[samples.len() / 2],
        p99: samples[(samples.len() * 99) / 100 - 1],
        per_second: samples.len() as f64 / elapsed.as_secs_f64(),
        errors,
    }
}

/// Builds the requests of an unmeasured round: `push`'s, with delivery ids of
/// their own (far past the measured rounds' numbers, so none is a redelivery).
fn warm_up(
    push: impl Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> impl Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static {
    move |i| push(i + WARM_UP_OFFSET)
}

/// Where the warm-up round's request numbers start.
const WARM_UP_OFFSET: usize = 1_000_000;

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let scratch = ScratchDatabase::create("webhook", 1).await;
    let url = scratch.url.clone();
    // The pool `serve` builds, so the endpoint waits on connections as it would there.
    let pool = store::lazy_pool(url.parse().unwrap());

    let hash = password::hash("bench-password-123").unwrap();
    let user = store::users::insert(&pool, "bench@example.com", &hash, true)
        .await
        .unwrap();
    store::teams::insert(&pool, "shop", "shop").await.unwrap();
    let current = slipway::auth::CurrentUser::load(&pool, user.id)
        .await
        .unwrap()
        .unwrap();
    let spec = "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: api\n  team: shop\nspec:\n  framework: fastapi\n  appModule: app.main:app\n  image: registry.example.com/shop/api:1\n";
    let mut config = Config::for_database(&url);
    // The per-hook rate limit would answer most of this load 429: lift it to
    // measure the endpoint's own work (a test covers the limit itself).
    config.hook_deliveries_per_minute = 1_000_000;
    let key: SecretKey = config.secret_key.clone().unwrap();
    let input = hooks::HookInput {
        environment: "staging".into(),
        ref_pattern: "refs/heads/main".into(),
        image: "registry.example.com/shop/api:{short_sha}".into(),
        paths: Vec::new(),
    };
    // One hook on each of HOOKS services, and a burst on one ref (each push
    // supersedes the one before; the judge takes a hook's pushes in turn).
    let mut targets = Vec::new();
    for n in 0..HOOKS {
        let text = spec.replace("name: api", &format!("name: api-{n}"));
        let prepared = services::prepare_text(&text).unwrap();
        let (service, _) = services::create_service(
            &pool,
            &current,
            &Actor::system(),
            "shop",
            &prepared,
            "bench",
        )
        .await
        .unwrap();
        let hook = hooks::create_hook(&pool, Some(&key), &Actor::system(), &service, &input)
            .await
            .unwrap();
        targets.push((hook.id, hook.secret.expose().to_owned()));
    }
    let targets = Arc::new(targets);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(pool.clone(), cluster::Handle::disabled(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();

    let healthz = {
        let (client, url) = (client.clone(), format!("http://{addr}/healthz"));
        load(move |_| client.get(&url)).await
    };
    let push = |client: reqwest::Client, targets: Arc<Vec<(uuid::Uuid, String)>>, spread: bool| {
        move |i: usize| {
            let (id, secret) = &targets[if spread { i % targets.len() } else { 0 }];
            let url = format!("http://{addr}/hooks/{id}");
            let sha = format!("{:040x}", i + 1);
            let body = serde_json::to_vec(&serde_json::json!({
                "ref": "refs/heads/main", "after": sha, "pusher": {"name": "bench"},
                "head_commit": {"id": sha, "message": "bench push", "author": {"name": "Bench"}}
            }))
            .unwrap();
            let signature = format!("sha256={}", webhook::sign(secret.as_bytes(), &body));
            client
                .post(url)
                .header("content-type", "application/json")
                .header("x-github-event", "push")
                .header("x-github-delivery", format!("bench-{spread}-{i}"))
                .header("x-hub-signature-256", signature)
                .body(body)
        }
    };
    // Steady state, not a cold start: an unmeasured round first opens the pool's
    // connections and the client's, and warms PostgreSQL's caches (the judge
    // starts on its pushes and is still at them while the rounds are measured).
    let _ = load(warm_up(push(client.clone(), targets.clone(), true))).await;
    let spread = load(push(client.clone(), targets.clone(), true)).await;
    let one_ref = load(push(client.clone(), targets.clone(), false)).await;
    let answered = Instant::now();
    // Bounded: 2 minutes for the judge to catch up.
    let mut queued: i64 = 0;
    for _ in 0..1200 {
        queued = sqlx::query_scalar("select count(*) from hook_deliveries where result = 'queued'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if queued == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = answered.elapsed();
    let deploys: i64 = sqlx::query_scalar("select count(*) from deploys")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (verdict_p50, verdict_p99, verdict_max): (f64, f64, f64) = sqlx::query_as(
        "select percentile_cont(0.5) within group (order by ms),
                percentile_cont(0.99) within group (order by ms), max(ms)
         from (select extract(epoch from judged_at - created_at)::float8 * 1000 as ms
               from hook_deliveries where judged_at is not null) v",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    println!(
        "\nwebhook endpoint, {REQUESTS} requests from {CONCURRENCY} concurrent clients (release build)"
    );
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>7}",
        "case", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, f) in [
        ("baseline: GET /healthz", &healthz),
        ("signed pushes to 50 services' hooks", &spread),
        ("signed pushes to one hook's ref (a burst)", &one_ref),
    ] {
        println!(
            "{name:<44} {:>10.0} {:>10} {:>10} {:>7}",
            f.per_second,
            ms(f.p50),
            ms(f.p99),
            f.errors
        );
    }
    println!(
        "p99 over healthz p99: {:.1}x across services, {:.1}x on one ref",
        spread.p99.as_secs_f64() / healthz.p99.as_secs_f64().max(1e-9),
        one_ref.p99.as_secs_f64() / healthz.p99.as_secs_f64().max(1e-9)
    );
    println!(
        "judge: {deploys} deploys requested (every push one; older queued ones superseded), \
         queue empty {:.1} s after the last answer{}; arrival -> verdict p50 {verdict_p50:.0} ms, \
         p99 {verdict_p99:.0} ms, max {verdict_max:.0} ms (a queue under load, not the endpoint)",
        drained.as_secs_f64(),
        if queued > 0 {
            format!(" (NOT empty: {queued} still queued after 2 minutes)")
        } else {
            String::new()
        }
    );

    let _ = stop.send(());
    let _ = server.await;
    pool.close().await;
    scratch.drop_now().await;
}
