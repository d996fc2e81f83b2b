//! `make bench`: how long a deploy of the Django example takes, from the request
//! to a finished rollout, beside `kubectl apply --server-side` + `kubectl rollout
//! status` of the very same objects in the same run. Prints a table; never
//! asserts on time.
//!
//! Needs `DATABASE_URL` (a PostgreSQL server; a scratch database is created and
//! dropped) and `SLIPWAY_TEST_KUBECONFIG` (the local control plane). kubectl is
//! `SLIPWAY_KUBECTL`, else `e2e/cluster/kubectl`, else `kubectl` on the PATH.
//!
//! Slipway's figure includes what a deploy does beyond kubectl: rendering and
//! storing the manifests, the worker claiming it (woken by PostgreSQL NOTIFY),
//! the namespace check, the dry-run diff, pruning, watching the rollout and
//! recording each step in PostgreSQL.
//!
//! On the real node (when `e2e/cluster/up` started one) the same comparison
//! runs for the Flask demo image, whose pods really start and pass their
//! readiness probes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kube::api::{Api, DeleteParams};
use slipway::auth::CurrentUser;
use slipway::cluster::{self, KubeSource};
use slipway::deployer::{self, Worker, WorkerConfig};
use slipway::domain::deploys::{self as domain, DeployRequest};
use slipway::domain::services as editing;
use slipway::store::audit::Actor;
use slipway::store::deploys::{self, Trigger};
use sqlx::PgPool;

mod support;
use support::{ScratchDatabase, bench_admin, django_service};

/// The server binary's allocator (see `src/main.rs`), so these figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Images deployed one after the other: the first creates everything, the
/// others are image changes (a rolling update).
/// Times the plan of one waiting deploy is computed and stored.
const PLAN_ROUNDS: usize = 5;

const IMAGES: [&str; 3] = [
    "registry.example.com/shop/web:1.4.2",
    "registry.example.com/shop/web:1.4.3",
    "registry.example.com/shop/web:1.4.4",
];
const DEADLINE: Duration = Duration::from_secs(300);

struct Row {
    case: String,
    slipway: Duration,
    kubectl: Duration,
    /// Slipway: request → every object applied (from the deploy's records).
    slipway_applied: Duration,
    /// kubectl: `apply --server-side` alone.
    kubectl_applied: Duration,
}

/// Request → the "applied N objects" note, from the deploy's own records
/// (PostgreSQL's clock at both ends).
async fn applied_after(pool: &PgPool, deploy: &deploys::Deploy) -> anyhow::Result<Duration> {
    let applied = deploys::events(pool, deploy.id)
        .await?
        .into_iter()
        .find(|e| e.message.starts_with("applied "))
        .context("no applied note")?;
    let secs = (applied.created_at - deploy.created_at).as_seconds_f64();
    Ok(Duration::from_secs_f64(secs.max(0.0)))
}

/// Prints one comparison table, with where each side's time went.
fn print_rows(rows: &[Row]) {
    println!(
        "{:<28} {:>12} {:>26} {:>8}   {:>22} {:>22}",
        "case",
        "slipway (s)",
        "kubectl --server-side (s)",
        "ratio",
        "to applied: slipway",
        "kubectl apply (s)"
    );
    for row in rows {
        let ratio = row.slipway.as_secs_f64() / row.kubectl.as_secs_f64().max(1e-3);
        println!(
            "{:<28} {:>12.2} {:>26.2} {:>8.2}   {:>22.3} {:>22.3}",
            row.case,
            row.slipway.as_secs_f64(),
            row.kubectl.as_secs_f64(),
            ratio,
            row.slipway_applied.as_secs_f64(),
            row.kubectl_applied.as_secs_f64(),
        );
    }
}

fn main() {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench deploy: no Tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("bench deploy: {e:#}");
        std::process::exit(2);
    }
}

async fn run() -> anyhow::Result<()> {
    let kubeconfig = PathBuf::from(
        std::env::var("SLIPWAY_TEST_KUBECONFIG").context("SLIPWAY_TEST_KUBECONFIG is not set")?,
    );
    let scratch = ScratchDatabase::create("deploy", 8).await;
    let team = format!("bench{}", std::process::id());
    let result = measure(&scratch.pool, &kubeconfig, &team).await;
    scratch.drop_now().await;
    delete_namespaces(
        &kubeconfig,
        &[
            format!("{team}-staging"),
            format!("{team}-kubectl"),
            format!("{team}-development"),
            format!("{team}-kubectl-real"),
        ],
    )
    .await;
    let (rows, pushes, timings) = result?;

    println!(
        "Django example to staging: request → rollout complete, PostgreSQL + local control plane"
    );
    print_rows(&rows);
    println!(
        "(slipway: render, store, worker claim (woken by NOTIFY), dry-run diff, apply, prune, rollout watch, records;"
    );
    println!(" kubectl: apply --server-side of the same objects, then rollout status)");
    println!(
        "\nwebhook push → rollout complete (new image each), each beside a portal-requested image change just before it"
    );
    println!(
        "{:<28} {:>12} {:>12} {:>8}",
        "round", "portal (s)", "push (s)", "ratio"
    );
    for (i, round) in pushes.iter().enumerate() {
        println!(
            "{:<28} {:>12.2} {:>12.2} {:>8.2}",
            i + 1,
            round.portal.as_secs_f64(),
            round.push.as_secs_f64(),
            round.push.as_secs_f64() / round.portal.as_secs_f64().max(1e-3)
        );
    }
    let portal: Vec<Duration> = pushes.iter().map(|r| r.portal).collect();
    let push: Vec<Duration> = pushes.iter().map(|r| r.push).collect();
    let ((portal_p50, portal_max), (push_p50, push_max)) = (p50_max(&portal), p50_max(&push));
    println!(
        "p50 / max: portal {portal_p50:.2} / {portal_max:.2} s, push {push_p50:.2} / {push_max:.2} s; push p50 over portal p50: {:.2}",
        push_p50 / portal_p50.max(1e-3)
    );
    let (plan_p50, plan_max) = p50_max(&timings.plans);
    let (apply_p50, apply_max) = p50_max(&timings.applies);
    println!(
        "\nplan of a waiting deploy (Django example, staging, against the live objects), beside the apply"
    );
    println!(
        "compute + store the plan ({} rounds)   p50 {:>7.1} ms   max {:>7.1} ms",
        timings.plans.len(),
        plan_p50 * 1e3,
        plan_max * 1e3
    );
    println!(
        "worker apply of the objects ({} deploys) p50 {:>7.1} ms   max {:>7.1} ms   plan / apply: {:.2}",
        timings.applies.len(),
        apply_p50 * 1e3,
        apply_max * 1e3,
        plan_p50 / apply_p50.max(1e-6)
    );
    println!(
        "\nFlask demo (real containers) to development on the real node: request → rollout complete"
    );
    match &timings.real {
        RealNode::Measured(rows) => {
            print_rows(rows);
            println!("(2 replicas; each round waits for real readiness probes of new pods)");
        }
        RealNode::Unavailable(reason) => {
            println!("not measured: the real node is unavailable: {reason}");
        }
    }
    Ok(())
}

/// The median and the largest of `times`, in seconds.
fn p50_max(times: &[Duration]) -> (f64, f64) {
    let mut secs: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    secs.sort_by(f64::total_cmp);
    let p50 = secs.get(secs.len() / 2).copied().unwrap_or(0.0);
    let max = secs.last().copied().unwrap_or(0.0);
    (p50, max)
}

async fn measure(
    pool: &PgPool,
    kubeconfig: &Path,
    team: &str,
) -> anyhow::Result<(Vec<Row>, Vec<PushRound>, Timings)> {
    let (current, actor) = bench_admin(pool, team).await?;
    let service = django_service(pool, &current, &actor, team).await?;

    let handle = cluster::Handle::start(KubeSource::File(kubeconfig.to_owned()));
    if handle.wait_ready(Duration::from_secs(30)).await.is_none() {
        bail!("the cluster did not answer: {:?}", handle.state());
    }
    // The configured cluster under its default name, which the fresh bench
    // database's environments target.
    let fleet = cluster::Fleet::of_handle(slipway::config::DEFAULT_CLUSTER_NAME, handle.clone());
    let worker = Worker::start(pool.clone(), fleet.clone(), WorkerConfig::default());
    let kubectl_ns = format!("{team}-kubectl");
    let mut rows = Vec::new();
    let mut applied_ids = Vec::new();
    for (i, image) in IMAGES.iter().enumerate() {
        let started = Instant::now();
        let deploy = domain::request(
            pool,
            &fleet,
            &service,
            &actor,
            Trigger::User,
            &DeployRequest {
                environment: "staging".into(),
                image: (*image).into(),
                revision: None,
                override_reason: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("requesting the deploy: {e}"))?;
        let done = loop {
            let d = deploys::find(pool, deploy.id)
                .await?
                .context("the deploy vanished")?;
            if d.state.is_finished() {
                break d;
            }
            if started.elapsed() > DEADLINE {
                bail!("deploy #{} still {} after {DEADLINE:?}", d.id, d.state);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let slipway = started.elapsed();
        if done.state != deployer::DeployState::Succeeded {
            bail!("deploy #{} {}: {}", done.id, done.state, done.reason);
        }

        // The same objects, into a namespace of their own, with kubectl.
        let manifests = deploys::documents(pool, deploy.id)
            .await?
            .manifests
            .replace(
                &format!("namespace: {}", done.namespace),
                &format!("namespace: {kubectl_ns}"),
            );
        let file = std::env::temp_dir().join(format!("slipway-bench-{team}-{i}.yaml"));
        std::fs::write(&file, manifests)?;
        if i == 0 {
            kubectl(kubeconfig, &["create", "namespace", &kubectl_ns])?;
        }
        let started = Instant::now();
        kubectl(
            kubeconfig,
            &[
                "apply",
                "--server-side",
                "--field-manager=kubectl-bench",
                "-f",
                &file.to_string_lossy(),
            ],
        )?;
        let kubectl_applied = started.elapsed();
        kubectl(
            kubeconfig,
            &[
                "-n",
                &kubectl_ns,
                "rollout",
                "status",
                "deployment/shop-web",
                "--timeout=300s",
            ],
        )?;
        let kubectl_time = started.elapsed();
        let _ = std::fs::remove_file(&file);
        applied_ids.push(deploy.id);
        rows.push(Row {
            case: if i == 0 {
                "first deploy".to_owned()
            } else {
                format!("new image ({i})")
            },
            slipway,
            kubectl: kubectl_time,
            slipway_applied: applied_after(pool, &done).await?,
            kubectl_applied,
        });
    }
    let pushes = push_rounds(pool, &fleet, &service, &actor).await?;
    let applies = apply_times(pool, &applied_ids).await?;
    let plans = plan_rounds(pool, &fleet, &service, &actor).await?;
    let real = match real_node(kubeconfig) {
        Ok(_) => RealNode::Measured(
            real_node_rounds(pool, &fleet, &current, &actor, team, kubeconfig).await?,
        ),
        Err(reason) => RealNode::Unavailable(reason),
    };
    worker.shutdown().await;
    Ok((
        rows,
        pushes,
        Timings {
            plans,
            applies,
            real,
        },
    ))
}

/// The real node's rounds, or why there are none.
enum RealNode {
    Measured(Vec<Row>),
    Unavailable(String),
}

/// The real node's name from `real-node.env` beside the kubeconfig (written by
/// `e2e/cluster/up`), or the reason it recorded.
fn real_node(kubeconfig: &Path) -> Result<String, String> {
    let path = kubeconfig.with_file_name("real-node.env");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
    };
    match (
        value("SLIPWAY_REAL_NODE"),
        value("SLIPWAY_REAL_NODE_UNAVAILABLE"),
    ) {
        (Some(name), _) if !name.is_empty() => Ok(name),
        (_, Some(reason)) => Err(reason),
        _ => Err(format!("{} names no real node", path.display())),
    }
}

/// A Flask demo service (real containers of `e2e/images`) on the real node.
fn real_node_spec(team: &str, round: usize) -> String {
    format!(
        "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: catalog\n  team: {team}\nspec:\n  framework: flask\n  appModule: catalog.app:create_app()\n  image: {REAL_NODE_IMAGE}\n  replicas: 2\n  env:\n    - {{name: BENCH_ROUND, value: \"{round}\"}}\n  resources:\n    requests: {{cpu: 10m, memory: 48Mi}}\n    limits: {{memory: 256Mi}}\n  placement:\n    nodeSelector: {{slipway.dev/node: real}}\n    tolerations:\n      - {{key: slipway.dev/node, value: real, effect: NoSchedule}}\n"
    )
}

const REAL_NODE_IMAGE: &str = "localhost/slipway-demo/catalog-api:2.3.0";

/// Deploys of the Flask demo onto the real node (the first creates it, each
/// next one changes an environment variable: a rolling update of real pods
/// that must pass their readiness probes), each beside kubectl applying the
/// same objects into a namespace of its own and waiting for the rollout.
async fn real_node_rounds(
    pool: &PgPool,
    fleet: &cluster::Fleet,
    user: &CurrentUser,
    actor: &Actor,
    team: &str,
    kubeconfig: &Path,
) -> anyhow::Result<Vec<Row>> {
    let prepared =
        editing::prepare_text(&real_node_spec(team, 0)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (service, _) = editing::create_service(pool, user, actor, team, &prepared, "bench")
        .await
        .map_err(|e| anyhow::anyhow!("creating the real-node service: {e:?}"))?;
    let kubectl_ns = format!("{team}-kubectl-real");
    let mut rows = Vec::new();
    for round in 0..3usize {
        // Each round after the first deploys the revision it saved (the
        // `service` row read at creation still names revision 1), so every
        // round is a rolling update of real pods.
        let mut revision = None;
        if round > 0 {
            let prepared = editing::prepare_text(&real_node_spec(team, round))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let saved =
                editing::save_revision(pool, user, actor, &service, None, &prepared, "bench round")
                    .await
                    .map_err(|e| anyhow::anyhow!("saving round {round}: {e}"))?;
            revision = Some(saved.number);
        }
        let started = Instant::now();
        let deploy = domain::request(
            pool,
            fleet,
            &service,
            actor,
            Trigger::User,
            &DeployRequest {
                environment: "development".into(),
                image: REAL_NODE_IMAGE.into(),
                revision,
                override_reason: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("requesting the real-node deploy: {e}"))?;
        let done = loop {
            let d = deploys::find(pool, deploy.id)
                .await?
                .context("the deploy vanished")?;
            if d.state.is_finished() {
                break d;
            }
            if started.elapsed() > DEADLINE {
                bail!("deploy #{} still {} after {DEADLINE:?}", d.id, d.state);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let slipway = started.elapsed();
        if done.state != deployer::DeployState::Succeeded {
            bail!(
                "real-node deploy #{} {}: {}",
                done.id,
                done.state,
                done.reason
            );
        }
        let manifests = deploys::documents(pool, deploy.id)
            .await?
            .manifests
            .replace(
                &format!("namespace: {}", done.namespace),
                &format!("namespace: {kubectl_ns}"),
            );
        let file = std::env::temp_dir().join(format!("slipway-bench-{team}-real-{round}.yaml"));
        std::fs::write(&file, manifests)?;
        if round == 0 {
            kubectl(kubeconfig, &["create", "namespace", &kubectl_ns])?;
        }
        let started = Instant::now();
        kubectl(
            kubeconfig,
            &[
                "apply",
                "--server-side",
                "--field-manager=kubectl-bench",
                "-f",
                &file.to_string_lossy(),
            ],
        )?;
        let kubectl_applied = started.elapsed();
        kubectl(
            kubeconfig,
            &[
                "-n",
                &kubectl_ns,
                "rollout",
                "status",
                "deployment/catalog",
                "--timeout=300s",
            ],
        )?;
        let kubectl_time = started.elapsed();
        let _ = std::fs::remove_file(&file);
        rows.push(Row {
            case: if round == 0 {
                "first deploy".to_owned()
            } else {
                format!("new revision ({round})")
            },
            slipway,
            kubectl: kubectl_time,
            slipway_applied: applied_after(pool, &done).await?,
            kubectl_applied,
        });
    }
    Ok(rows)
}

/// The plan's cost beside the apply's, measured in the same run.
struct Timings {
    /// The Flask demo on the real node (request → rollout of real pods).
    real: RealNode,
    /// Computing and storing the plan of a waiting deploy (dry run against
    /// the live objects, wiring lookup, comparison, JSON into PostgreSQL).
    plans: Vec<Duration>,
    /// The worker's apply of the same objects (claim → every object applied).
    applies: Vec<Duration>,
}

/// From each deploy's timeline: its claim to the note that every object was applied.
async fn apply_times(pool: &PgPool, ids: &[i64]) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::new();
    for id in ids {
        let events = deploys::events(pool, *id).await?;
        let claimed = events
            .iter()
            .find(|e| e.to_state == deployer::DeployState::Applying)
            .map(|e| e.created_at);
        let applied = events
            .iter()
            .find(|e| e.is_note() && e.message.starts_with("applied "))
            .map(|e| e.created_at);
        if let (Some(from), Some(to)) = (claimed, applied) {
            out.push(Duration::from_secs_f64(
                (to - from).as_seconds_f64().max(0.0),
            ));
        }
    }
    Ok(out)
}

/// Staging starts requiring an approval; new images of the Django example are
/// requested there, so each waits with a plan computed against the objects the
/// earlier deploys left running. Then the plan of the last one is computed and
/// stored again, alone, several times: the figure is that.
async fn plan_rounds(
    pool: &PgPool,
    cluster: &cluster::Fleet,
    service: &slipway::store::services::Service,
    actor: &Actor,
) -> anyhow::Result<Vec<Duration>> {
    use slipway::domain::plans;
    sqlx::query("update environments set approvals_required = 1 where name = 'staging'")
        .execute(pool)
        .await?;
    let waiting = domain::request(
        pool,
        cluster,
        service,
        actor,
        Trigger::User,
        &DeployRequest::of("staging", "registry.example.com/shop/web:2.0.0"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("requesting the deploy: {e}"))?;
    if waiting.state != deployer::DeployState::AwaitingApproval {
        bail!(
            "deploy #{} is {}, not awaiting approval",
            waiting.id,
            waiting.state
        );
    }
    let documents = deploys::documents(pool, waiting.id).await?;
    let manifests = cluster::apply::parse_manifests(&documents.manifests, &waiting.namespace)?;
    let mut out = Vec::new();
    for _ in 0..PLAN_ROUNDS {
        let mut tx = pool.begin().await?;
        let started = Instant::now();
        let plan = plans::compute(
            &mut tx,
            cluster,
            &waiting,
            &manifests,
            slipway::plan::ChecklistState::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("computing the plan: {e}"))?;
        plans::store(&mut tx, &waiting, &plan)
            .await
            .map_err(|e| anyhow::anyhow!("storing the plan: {e}"))?;
        tx.commit().await?;
        out.push(started.elapsed());
        if !matches!(plan.dry_run, slipway::plan::DryRun::Done { .. }) {
            bail!("the dry run did not run: {}", plan.summary());
        }
    }
    Ok(out)
}

/// Rounds of a push beside a portal request.
const PUSH_ROUNDS: u32 = 5;

/// One round: a portal-requested image change, then a signed push of another,
/// each followed until its rollout completed.
struct PushRound {
    portal: Duration,
    push: Duration,
}

/// Image changes of the same service in pairs: one requested the portal's way,
/// then one by a signed push through the webhook path (verify, record, the
/// judge's verdict). Paired so that both see the same cluster (the rollouts
/// of a run slow down as ReplicaSets of earlier rounds pile up, so a push
/// compared with earlier portal rounds looked slower than it was).
async fn push_rounds(
    pool: &PgPool,
    cluster: &cluster::Fleet,
    service: &slipway::store::services::Service,
    actor: &Actor,
) -> anyhow::Result<Vec<PushRound>> {
    use slipway::domain::hooks;
    let key = slipway::secret::SecretKey([42; 32]);
    let input = hooks::HookInput {
        environment: "staging".into(),
        ref_pattern: "refs/heads/main".into(),
        image: "registry.example.com/shop/web:{short_sha}".into(),
        paths: Vec::new(),
    };
    let hook = hooks::create_hook(pool, Some(&key), &Actor::system(), service, &input)
        .await
        .map_err(|e| anyhow::anyhow!("creating the hook: {e}"))?;
    let secret = hook.secret.expose().to_owned();
    let cache = slipway::domain::hook_cache::HookCache::default();
    let mut rounds = Vec::new();
    for round in 0..PUSH_ROUNDS {
        let started = Instant::now();
        let portal = domain::request(
            pool,
            cluster,
            service,
            actor,
            Trigger::User,
            &DeployRequest::of(
                "staging",
                &format!("registry.example.com/shop/web:portal-{round}"),
            ),
        )
        .await
        .map_err(|e| anyhow::anyhow!("requesting the deploy: {e}"))?;
        let portal = until_succeeded(pool, portal.id, started).await?;

        // The first character differs per round, so {short_sha} gives a new image each time.
        let sha = format!("{:x}{:039x}", round + 1, 0xbeef);
        let body = serde_json::to_vec(&serde_json::json!({
            "ref": "refs/heads/main", "after": sha, "pusher": {"name": "bench"},
            "head_commit": {"id": sha, "message": "bench push", "author": {"name": "Bench"}}
        }))?;
        let headers = slipway::webhook::Headers {
            github_event: Some("push".into()),
            github_delivery: Some(format!("bench-{round}")),
            github_signature: Some(format!(
                "sha256={}",
                slipway::webhook::sign(secret.as_bytes(), &body)
            )),
            ..Default::default()
        };
        let started = Instant::now();
        let now = time::OffsetDateTime::now_utc();
        let (found, envelope) = hooks::authenticate(
            pool,
            &cache,
            Some(&key),
            Some(hook.id),
            &headers,
            &body,
            now,
        )
        .await
        .map_err(|_| anyhow::anyhow!("the signed push was refused"))?;
        let queued = hooks::receive(pool, &found, &envelope, &body)
            .await
            .map_err(|_| anyhow::anyhow!("the push was not recorded"))?;
        let row = queued.delivery.context("the push was not queued")?;
        // What serve's judge does when the endpoint rings it.
        let receipt = slipway::domain::hook_judge::judge_hook_until(pool, cluster, found.id, row)
            .await
            .map_err(|e| anyhow::anyhow!("the push was not judged: {e}"))?;
        let id = receipt
            .deploy_id
            .with_context(|| format!("the push made no deploy: {}", receipt.reason))?;
        let push = until_succeeded(pool, id, started).await?;
        rounds.push(PushRound { portal, push });
    }
    Ok(rounds)
}

/// Waits for deploy `id` to finish; how long since `started` it took to succeed.
async fn until_succeeded(pool: &PgPool, id: i64, started: Instant) -> anyhow::Result<Duration> {
    let done = loop {
        let d = deploys::find(pool, id)
            .await?
            .context("the deploy vanished")?;
        if d.state.is_finished() {
            break d;
        }
        if started.elapsed() > DEADLINE {
            bail!("deploy #{id} still {} after {DEADLINE:?}", d.state);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    if done.state != deployer::DeployState::Succeeded {
        bail!("deploy #{id} {}: {}", done.state, done.reason);
    }
    Ok(started.elapsed())
}

/// kubectl: `SLIPWAY_KUBECTL`, else the pinned one of `e2e/cluster`, else the PATH's.
fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<()> {
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/cluster/kubectl");
    let mut command = match std::env::var("SLIPWAY_KUBECTL") {
        Ok(bin) if !bin.is_empty() => {
            let mut c = Command::new(bin);
            c.arg("--kubeconfig").arg(kubeconfig);
            c
        }
        _ if wrapper.exists() => Command::new(wrapper),
        _ => {
            let mut c = Command::new("kubectl");
            c.arg("--kubeconfig").arg(kubeconfig);
            c
        }
    };
    let out = command
        .args(args)
        .output()
        .with_context(|| format!("running kubectl {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

async fn delete_namespaces(kubeconfig: &Path, names: &[String]) {
    let Ok(kc) = kube::config::Kubeconfig::read_from(kubeconfig) else {
        return;
    };
    let Ok(config) =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await
    else {
        return;
    };
    let Ok(client) = kube::Client::try_from(config) else {
        return;
    };
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    for name in names {
        let _ = api.delete(name, &DeleteParams::background()).await;
    }
}
