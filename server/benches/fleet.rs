//! `make bench`: the portal at fleet scale, under load.
//!
//! Seeds a scratch database of the PostgreSQL named by `DATABASE_URL` with a
//! fleet (10,000 services in 50 teams, 100,000 deploys of which one service
//! has 1,000 and 200 wait for approval, 1,000,000 audit entries), runs the
//! release `slipway serve` binary on it and, for each page people keep open,
//! runs `wrk` with 64 connections for a fixed time (`FLEET_SECONDS`, default
//! 10) on 127.0.0.1. It prints requests/s, p50, p99 and errors (non-2xx and
//! socket errors) beside `/healthz` measured the same way in the same run, and
//! the server's resident memory at the end. With `SLIPWAY_TEST_KUBECONFIG`
//! (`make bench` starts the local control plane) the server also holds 1,000
//! pods of the busy service in its watch cache, so the status fragment shows
//! them and the RSS counts them.
//!
//! Prints figures; never fails on time. `FLEET_ONLY=catalog` runs only the
//! cases whose name contains that text (for profiling one page).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts on a broken setup"
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use slipway::auth::{CurrentUser, password};
use slipway::domain::services;
use slipway::store::{self, audit::Actor};
use sqlx::PgPool;
use support::{
    ScratchDatabase, Server, cache_holds, free_port, fresh_namespace, kube_client, pod, rss_kib,
    sign_in,
};

mod support;

const TEAMS: i64 = 50;
const SERVICES: i64 = 10_000;
const DEPLOYS: i64 = 100_000;
const BUSY_DEPLOYS: i64 = 1_000;
const WAITING: i64 = 200;
const AUDIT_ENTRIES: i64 = 1_000_000;
const PODS: usize = 1_000;
const CONNECTIONS: u32 = 64;
const PASSWORD: &str = "bench-password-123";
const ADMIN: &str = "bench@example.com";
const MEMBER: &str = "dev@example.com";
/// The service with the long history, the pods and a real spec.
const BUSY_TEAM: &str = "team-1";
const BUSY: &str = "storefront";

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

async fn seed(pool: &PgPool) {
    exec(
        pool,
        &format!("insert into teams (name) select 'team-' || g from generate_series(1, {TEAMS}) g"),
    )
    .await;
    exec(
        pool,
        "update environments set approvals_required = 1 where name = 'production'",
    )
    .await;
    let hash = password::hash(PASSWORD).unwrap();
    let admin = store::users::insert(pool, ADMIN, &hash, true)
        .await
        .unwrap();
    let member = store::users::insert(pool, MEMBER, &hash, false)
        .await
        .unwrap();
    let requester = store::users::insert(pool, "requester@example.com", &hash, false)
        .await
        .unwrap();
    for user in [member.id, requester.id] {
        sqlx::query(
            "insert into team_members (team_id, user_id)
             select id, $1 from teams where name = $2",
        )
        .bind(user)
        .bind(BUSY_TEAM)
        .execute(pool)
        .await
        .unwrap();
    }

    // The busy service goes through the domain, so its page renders a real spec
    // (its Ingress hosts under a domain granted to its team).
    sqlx::query(
        "insert into host_grants (team_id, suffix, wildcard, created_by)
         select id, 'example.com', true, 'bench' from teams where name = $1",
    )
    .bind(BUSY_TEAM)
    .execute(pool)
    .await
    .unwrap();
    let current = CurrentUser::load(pool, admin.id).await.unwrap().unwrap();
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/django.yaml"
    ))
    .unwrap()
    .replace("name: shop-web", &format!("name: {BUSY}"))
    .replace("team: shop", &format!("team: {BUSY_TEAM}"));
    let prepared = services::prepare_text(&spec).expect("the Django example is valid");
    services::create_service(
        pool,
        &current,
        &Actor::system(),
        BUSY_TEAM,
        &prepared,
        "bench",
    )
    .await
    .unwrap();

    // The rest in bulk: the catalog needs rows, not specs.
    exec(
        pool,
        &format!(
            "insert into services (team_id, name, kind, framework, current_revision, description)
             select (select id from teams where name = 'team-' || (1 + g % {TEAMS})),
                    'svc-' || g,
                    (array['web','worker','cron','stateful'])[1 + g % 4],
                    (array['django','celery','cron','flask'])[1 + g % 4], 1,
                    'service number ' || g
             from generate_series(1, {}) g",
            SERVICES - 1
        ),
    )
    .await;
    exec(
        pool,
        "insert into service_revisions (service_id, number, spec_yaml, spec, hash, author, message)
         select id, 1, 'x', '{}'::jsonb, md5(id::text), 'bench', 'seed' from services s
         where not exists (select 1 from service_revisions r where r.service_id = s.id)",
    )
    .await;
    // Three deploys per service and environment (the catalog shows the newest),
    // the busy service's long history in staging, 200 waiting for approval in
    // production, and one more in development for as many services as it takes
    // to make 100,000.
    let insert = "insert into deploys (service_id, environment_id, revision, revision_id,
                       revision_hash, image, namespace, state, trigger, requested_by,
                       requested_by_id, created_at, decision_deadline, content_digest)";
    exec(
        pool,
        &format!(
            "{insert}
             select r.service_id, e.id, 1, r.id, r.hash, 'registry.example.com/x:1', 'ns',
                    (array['succeeded','failed','succeeded'])[1 + (r.service_id + e.id + n) % 3],
                    'user', 'bench', null, now() - make_interval(hours => 4 - n), null, ''
             from service_revisions r cross join environments e cross join generate_series(1, 3) n
             where r.service_id <> (select id from services where name = '{BUSY}')
             order by n, r.service_id, e.id"
        ),
    )
    .await;
    exec(
        pool,
        &format!(
            "{insert}
             select r.service_id, e.id, r.number, r.id, r.hash,
                    'registry.example.com/team-1/storefront:1.' || n, 'team-1-staging',
                    case when n % 10 = 0 then 'failed' else 'succeeded' end,
                    'user', 'bench', null, now() - make_interval(mins => {BUSY_DEPLOYS} - n), null, ''
             from service_revisions r cross join generate_series(1, {BUSY_DEPLOYS}) n
                  join environments e on e.name = 'staging'
             where r.service_id = (select id from services where name = '{BUSY}')
             order by n"
        ),
    )
    .await;
    exec(
        pool,
        &format!(
            "{insert}
             select r.service_id, e.id, r.number, r.id, r.hash,
                    'registry.example.com/team-1/storefront:2.' || n, 'team-1-production',
                    'awaiting_approval', 'user', 'requester@example.com', {}, now(),
                    now() + interval '72 hours', md5(r.id::text || n)
             from service_revisions r cross join generate_series(1, {WAITING}) n
                  join environments e on e.name = 'production'
             where r.service_id = (select id from services where name = '{BUSY}')
             order by n",
            requester.id
        ),
    )
    .await;
    let so_far: i64 = sqlx::query_scalar("select count(*) from deploys")
        .fetch_one(pool)
        .await
        .unwrap();
    exec(
        pool,
        &format!(
            "{insert}
             select r.service_id, e.id, 1, r.id, r.hash, 'registry.example.com/x:3', 'ns',
                    'succeeded', 'user', 'bench', null, now() - interval '1 minute', null, ''
             from service_revisions r join environments e on e.name = 'development'
             where r.service_id in (select id from services where name like 'svc-%'
                                    order by id limit {})",
            (DEPLOYS - so_far).max(0)
        ),
    )
    .await;
    exec(
        pool,
        &format!(
            "insert into audit_log (created_at, actor, action, target, detail, client_addr)
             select now() - make_interval(secs => {AUDIT_ENTRIES} - g),
                    (array['{ADMIN}','{MEMBER}','system','webhook:1'])[1 + g % 4],
                    (array['deploy.request','service.revision','deploy.approve','auth.login',
                           'deploy.succeed'])[1 + g % 5],
                    'team-' || (1 + g % {TEAMS}) || '/svc-' || (1 + g % {SERVICES}),
                    jsonb_build_object('n', g), '127.0.0.1'
             from generate_series(1, {AUDIT_ENTRIES}) g"
        ),
    )
    .await;
    exec(pool, "vacuum analyze").await;
}

/// One wrk run's figures.
struct Figures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// `1.23ms`, `456.00us`, `1.02s` in milliseconds.
fn wrk_ms(text: &str) -> f64 {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

/// Reads wrk's `--latency` report.
fn parse_wrk(out: &str) -> Figures {
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    let socket_errors: u64 = field("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let non_2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Figures {
        per_second: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50_ms: field("50%").map_or(f64::NAN, |v| wrk_ms(&v)),
        p99_ms: field("99%").map_or(f64::NAN, |v| wrk_ms(&v)),
        errors: socket_errors + non_2xx,
    }
}

/// One page under load.
struct Case {
    name: &'static str,
    path: String,
    /// The session cookie of whoever looks at it (`None`: signed out).
    cookie: Option<String>,
    htmx: bool,
    /// Text the page must contain, checked once before the load: the figures
    /// are of the page, not of an error page.
    shows: &'static str,
    /// Each request appends a random number below this to `path` (a wrk
    /// script), so that no two views in a row are of the same page: what the
    /// catalog costs when its shared pages do not help.
    vary: Option<u32>,
}

/// A wrk script making every request's path `prefix` and a random number below `below`.
fn varying_paths_script(prefix: &str, below: u32) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("slipway-fleet-{}.lua", std::process::id()));
    let script = format!(
        "math.randomseed(os.time())\nrequest = function()\n  return wrk.format(nil, {prefix:?} .. math.random(0, {}))\nend\n",
        below.saturating_sub(1)
    );
    std::fs::write(&path, script).expect("writing the wrk script");
    path
}

async fn run_case(client: &reqwest::Client, addr: &str, case: &Case, seconds: u64) -> Figures {
    let url = format!("http://{addr}{}", case.path);
    let mut check = client.get(&url);
    if let Some(cookie) = &case.cookie {
        check = check.header("cookie", cookie);
    }
    if case.htmx {
        check = check.header("hx-request", "true");
    }
    let res = check.send().await.unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{}: {url}", case.name);
    assert!(
        body.contains(case.shows),
        "{}: {url} does not show {:?}",
        case.name,
        case.shows
    );
    let mut wrk = Command::new("wrk");
    wrk.args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .args(["--latency", "--timeout", "10s"]);
    if let Some(cookie) = &case.cookie {
        wrk.args(["-H", &format!("Cookie: {cookie}")]);
    }
    if case.htmx {
        wrk.args(["-H", "HX-Request: true"]);
    }
    let script = case
        .vary
        .map(|below| varying_paths_script(&case.path, below));
    if let Some(script) = &script {
        wrk.arg("-s").arg(script);
    }
    let out = wrk
        .arg(&url)
        .output()
        .expect("wrk (scripts/ensure-deps --bench)");
    if let Some(script) = &script {
        let _ = std::fs::remove_file(script);
    }
    assert!(out.status.success(), "wrk failed on {url}");
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// A session cookie for `email`, signed in through the login form.
async fn session_cookie(addr: &str, email: &str) -> String {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    sign_in(&client, addr, email, PASSWORD).await;
    use reqwest::cookie::CookieStore;
    jar.cookies(&format!("http://{addr}/").parse().unwrap())
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Creates the busy service's 1,000 pods in staging on kwok's nodes.
/// The namespace of the busy service's pods, deleted when dropped: also when
/// a case panics, so a failed run does not leave 1,000 pods filling the local
/// cluster's nodes for the tests that come after it.
struct PodsNamespace {
    kubeconfig: String,
    name: String,
}

impl Drop for PodsNamespace {
    fn drop(&mut self) {
        let (kubeconfig, name) = (self.kubeconfig.clone(), self.name.clone());
        // A runtime of its own: this may run while the bench's unwinds.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let namespaces: Api<Namespace> = Api::all(kube_client(&kubeconfig).await);
                let _ = namespaces.delete(&name, &DeleteParams::default()).await;
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "could not delete namespace {}: delete it by hand",
                self.name
            );
        }
    }
}

async fn create_pods(kubeconfig: &str) -> PodsNamespace {
    let kube = kube_client(kubeconfig).await;
    let ns = format!("{BUSY_TEAM}-staging");
    fresh_namespace(&kube, &ns).await;
    let made = PodsNamespace {
        kubeconfig: kubeconfig.to_owned(),
        name: ns.clone(),
    };
    let pods: Api<Pod> = Api::namespaced(kube, &ns);
    futures::stream::iter(0..PODS)
        .for_each_concurrent(16, |n| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod(BUSY_TEAM, "staging", BUSY, n))
                    .await
                    .unwrap();
            }
        })
        .await;
    made
}

#[tokio::main]
async fn main() {
    let kubeconfig = std::env::var("SLIPWAY_TEST_KUBECONFIG").ok();
    let seconds: u64 = std::env::var("FLEET_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .clamp(1, 120);
    let only = std::env::var("FLEET_ONLY").unwrap_or_default();
    let scratch = ScratchDatabase::create("fleet", 4).await;
    let (pool, url) = (scratch.pool.clone(), scratch.url.clone());
    let started = Instant::now();
    seed(&pool).await;
    eprintln!(
        "seeded {SERVICES} services, {DEPLOYS} deploys, {AUDIT_ENTRIES} audit entries in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let pods = match &kubeconfig {
        Some(path) => {
            let started = Instant::now();
            let made = create_pods(path).await;
            eprintln!(
                "created {PODS} pods in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Some(made)
        }
        None => {
            eprintln!(
                "SLIPWAY_TEST_KUBECONFIG is not set: no pods, the status fragment shows none"
            );
            None
        }
    };

    let (http, metrics_addr) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let mut serve = Command::new(env!("CARGO_BIN_EXE_slipway"));
    serve
        .arg("serve")
        .env("SLIPWAY_DATABASE_URL", &url)
        .env("SLIPWAY_LISTEN", &http)
        .env("SLIPWAY_METRICS_ADDR", &metrics_addr)
        .env("SLIPWAY_LOG", "warn")
        .stdout(Stdio::null());
    if let Some(path) = &kubeconfig {
        serve.env("SLIPWAY_KUBECONFIG", path);
    }
    let server = Server(serve.spawn().expect("slipway serve"));
    let pid = server.0.id();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ready = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("http://{http}/readyz"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < ready, "slipway serve did not become ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The waiting deploys were written here, not requested, so they have no
    // manifests and the sweeper cannot compute their plans: it tries again each
    // round, a little background work during the measurement.
    if pods.is_some() {
        let held = cache_holds(&client, &metrics_addr, PODS as f64).await;
        eprintln!("the watch cache holds {held} pods");
    }
    let admin_cookie = session_cookie(&http, ADMIN).await;
    let member_cookie = session_cookie(&http, MEMBER).await;
    let busy_deploy: i64 = sqlx::query_scalar(
        "select max(d.id) from deploys d join services s on s.id = d.service_id
         where s.name = $1 and d.state <> 'awaiting_approval'",
    )
    .bind(BUSY)
    .fetch_one(&pool)
    .await
    .unwrap();
    let oldest_audit: i64 = sqlx::query_scalar("select min(id) + 5000 from audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();

    if let Some(hold) = std::env::var("FLEET_HOLD")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        // For profiling by hand: the server, its database and a session stay up.
        eprintln!("holding {hold}s: http://{http} database {url} cookie {admin_cookie} pid {pid}");
        tokio::time::sleep(Duration::from_secs(hold.min(3600))).await;
    }
    let as_admin = || Some(admin_cookie.clone());
    let service = format!("/services/{BUSY_TEAM}/{BUSY}");
    let cases = vec![
        Case {
            name: "baseline: GET /healthz",
            path: "/healthz".into(),
            cookie: None,
            htmx: false,
            shows: "ok",
            vary: None,
        },
        Case {
            name: "baseline: signed-in page, no data (/account)",
            path: "/account".into(),
            cookie: as_admin(),
            htmx: false,
            shows: ADMIN,
            vary: None,
        },
        Case {
            name: "catalog page 1 (admin: 10,000 services)",
            path: "/".into(),
            cookie: as_admin(),
            htmx: false,
            shows: "svc-",
            vary: None,
        },
        Case {
            name: "catalog page 120",
            path: "/?page=120".into(),
            cookie: as_admin(),
            htmx: false,
            shows: "svc-",
            vary: None,
        },
        Case {
            name: "catalog search (htmx, q=svc-12)",
            path: "/?q=svc-12".into(),
            cookie: as_admin(),
            htmx: true,
            shows: "svc-12",
            vary: None,
        },
        Case {
            name: "catalog filter kind=worker state=failed (htmx)",
            path: "/?kind=worker&state=failed".into(),
            cookie: as_admin(),
            htmx: true,
            shows: "svc-",
            vary: None,
        },
        Case {
            name: "catalog search, a different text every request (htmx, nothing shared)",
            path: "/?q=svc-".into(),
            cookie: as_admin(),
            htmx: true,
            shows: "svc-",
            vary: Some(SERVICES as u32),
        },
        Case {
            name: "catalog page 1 (member of one team)",
            path: "/".into(),
            cookie: Some(member_cookie.clone()),
            htmx: false,
            shows: BUSY,
            vary: None,
        },
        Case {
            name: "service page (1,000 deploys in staging)",
            path: service.clone(),
            cookie: as_admin(),
            htmx: false,
            shows: BUSY,
            vary: None,
        },
        Case {
            name: "status fragment (htmx, staging: 50 of the 1,000 pods)",
            path: format!("{service}/status?env=staging"),
            cookie: as_admin(),
            htmx: true,
            shows: if pods.is_some() {
                "Showing 50 of 1000 pods"
            } else {
                ""
            },
            vary: None,
        },
        Case {
            name: "status fragment, all 1,000 pods asked for (?pods=all)",
            path: format!("{service}/status?env=staging&pods=all"),
            cookie: as_admin(),
            htmx: true,
            shows: if pods.is_some() { "storefront-999" } else { "" },
            vary: None,
        },
        Case {
            name: "deploy history of the busy service",
            path: format!("{service}/history"),
            cookie: as_admin(),
            htmx: false,
            shows: "storefront:1.1000",
            vary: None,
        },
        Case {
            name: "one deploy of the busy service",
            path: format!("/deploys/{busy_deploy}"),
            cookie: as_admin(),
            htmx: false,
            shows: BUSY,
            vary: None,
        },
        Case {
            name: "one deploy's live fragment (htmx, what its open page polls)",
            path: format!("/deploys/{busy_deploy}"),
            cookie: as_admin(),
            htmx: true,
            shows: "id=\"deploy-live\"",
            vary: None,
        },
        Case {
            name: "all deploys (/deploys, 100,000)",
            path: "/deploys".into(),
            cookie: as_admin(),
            htmx: false,
            shows: "svc-",
            vary: None,
        },
        Case {
            name: "approvals queue (200 waiting, first page of 50)",
            path: "/approvals".into(),
            cookie: as_admin(),
            htmx: false,
            shows: "storefront:2.50</code>",
            vary: None,
        },
        Case {
            name: "approvals queue (200 waiting, last page)",
            path: "/approvals?page=4".into(),
            cookie: as_admin(),
            htmx: false,
            shows: "storefront:2.200</code>",
            vary: None,
        },
        Case {
            name: "audit log, newest (1,000,000 entries)",
            path: "/admin/audit".into(),
            cookie: as_admin(),
            htmx: false,
            shows: "deploy.",
            vary: None,
        },
        Case {
            name: "audit log, filtered action=deploy.approve",
            path: "/admin/audit?action=deploy.approve".into(),
            cookie: as_admin(),
            htmx: false,
            shows: "deploy.approve",
            vary: None,
        },
        Case {
            name: "audit log, filtered by actor, an old page",
            path: format!("/admin/audit?actor=dev%40example.com&before={oldest_audit}"),
            cookie: as_admin(),
            htmx: false,
            shows: MEMBER,
            vary: None,
        },
    ];

    println!();
    println!(
        "Fleet: {SERVICES} services in {TEAMS} teams, {DEPLOYS} deploys, {AUDIT_ENTRIES} audit \
         entries; slipway serve (release), wrk -c{CONNECTIONS} -d{seconds}s on 127.0.0.1"
    );
    println!();
    println!("| page | requests/s | × /healthz | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut healthz = 0.0;
    for case in &cases {
        if !only.is_empty() && !case.name.contains(&only) && !case.name.starts_with("baseline") {
            continue;
        }
        let f = run_case(&client, &http, case, seconds).await;
        if healthz == 0.0 {
            healthz = f.per_second;
        }
        println!(
            "| {} | {:.0} | {:.3} | {:.2} | {:.2} | {} |",
            case.name,
            f.per_second,
            f.per_second / healthz,
            f.p50_ms,
            f.p99_ms,
            f.errors
        );
    }
    println!();
    println!(
        "RSS of slipway serve at the end: {:.1} MiB{}",
        rss_kib(pid) as f64 / 1024.0,
        if pods.is_some() {
            format!(" ({PODS} pods in its watch cache)")
        } else {
            String::new()
        }
    );

    drop(server);
    drop(pods);
    scratch.drop_now().await;
}
