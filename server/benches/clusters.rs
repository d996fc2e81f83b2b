//! `make bench`: many clusters. The Django example deployed to two clusters
//! (staging on the local control plane, production on a second one) at once,
//! beside the same two deploys one after the other in the same run; and the
//! time from registering a cluster (connection test, seal, store, start) until
//! every one of its watches has synced, beside a fresh connection to the
//! configured cluster doing the same. Prints a table; never asserts on time.
//!
//! Needs `DATABASE_URL` (a scratch database is created and dropped),
//! `SLIPWAY_TEST_KUBECONFIG` and `SLIPWAY_TEST_SECOND_KUBECONFIG` (the local
//! control plane and `e2e/cluster/up --name second`).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kube::api::{Api, DeleteParams};
use slipway::cluster::{self, Fleet, KubeSource};
use slipway::deployer::{DeployState, Worker, WorkerConfig};
use slipway::domain::clusters::{self as registry, ConnectionInput};
use slipway::domain::deploys::{self as domain, DeployRequest};
use slipway::domain::environments::{self as environments, PolicyInput};
use slipway::secret::{SecretKey, SecretString};
use slipway::store;
use slipway::store::deploys::Trigger;
use sqlx::PgPool;

mod support;
use support::{ScratchDatabase, bench_admin, django_service};

/// The server binary's allocator (see `src/main.rs`), so these figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rounds of each way (a new image each time), interleaved.
const ROUNDS: usize = 7;
const DEADLINE: Duration = Duration::from_secs(300);

fn main() {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench clusters: no Tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("bench clusters: {e:#}");
        std::process::exit(2);
    }
}

struct Env {
    first: String,
    second: String,
}

async fn run() -> anyhow::Result<()> {
    let env = Env {
        first: std::env::var("SLIPWAY_TEST_KUBECONFIG")
            .context("SLIPWAY_TEST_KUBECONFIG is not set")?,
        second: std::env::var("SLIPWAY_TEST_SECOND_KUBECONFIG")
            .context("SLIPWAY_TEST_SECOND_KUBECONFIG is not set (e2e/cluster/up --name second)")?,
    };
    let scratch = ScratchDatabase::create("clusters", 8).await;
    let team = format!("bench{}", std::process::id());
    let result = measure(&scratch.pool, &env, &team).await;
    scratch.drop_now().await;
    for (kubeconfig, namespace) in [(&env.first, "staging"), (&env.second, "production")] {
        let client = kube_client(kubeconfig).await?;
        let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client)
            .delete(&format!("{team}-{namespace}"), &DeleteParams::background())
            .await;
    }
    let figures = result?;

    println!("Django example: staging on the local control plane, production on a second one");
    println!(
        "{:<8} {:>24} {:>24} {:>8}",
        "round", "one after the other (s)", "both at once (s)", "ratio"
    );
    for (i, (sequential, parallel)) in figures.rounds.iter().enumerate() {
        println!(
            "{:<8} {:>24.2} {:>24.2} {:>8.2}",
            i + 1,
            sequential.as_secs_f64(),
            parallel.as_secs_f64(),
            parallel.as_secs_f64() / sequential.as_secs_f64().max(1e-3)
        );
    }
    let mut ratios: Vec<f64> = figures
        .rounds
        .iter()
        .map(|(sequential, parallel)| parallel.as_secs_f64() / sequential.as_secs_f64().max(1e-3))
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio over {} rounds: {:.2} (lowest {:.2}, highest {:.2})",
        ratios.len(),
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!(
        "(each: request → rollout complete of both; at once, the two deploys overlap: one worker runs them side by side, \
         each against its own cluster's connection)"
    );
    println!("\nregister a cluster → every watch of its cache synced");
    println!(
        "  registration of the second cluster (connection test, seal, store, start): {:>7.2} s",
        figures.register.as_secs_f64()
    );
    println!(
        "  baseline: a fresh connection to the configured cluster, start → synced:    {:>7.2} s",
        figures.baseline.as_secs_f64()
    );
    Ok(())
}

struct Figures {
    rounds: Vec<(Duration, Duration)>,
    register: Duration,
    baseline: Duration,
}

async fn kube_client(kubeconfig: &str) -> anyhow::Result<kube::Client> {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}

/// Waits until every watch of `member`'s cache has synced and is fresh.
async fn synced(member: &cluster::Member) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let sizes = member.status.sizes();
        if !sizes.is_empty() && sizes.iter().all(|(_, _, fresh)| *fresh) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{}'s watches did not sync within 120 s: {sizes:?}",
                member.name
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn measure(pool: &PgPool, env: &Env, team: &str) -> anyhow::Result<Figures> {
    let (current, actor) = bench_admin(pool, team).await?;

    // Baseline: the configured cluster, a fresh connection until synced.
    let started = Instant::now();
    let fleet = Fleet::configured(
        slipway::config::DEFAULT_CLUSTER_NAME,
        KubeSource::File(env.first.clone().into()),
    );
    synced(&fleet.configured_member()).await?;
    let baseline = started.elapsed();

    // The second cluster, registered as an administrator does.
    let key = SecretKey([11; 32]);
    let input = ConnectionInput {
        source: "kubeconfig".into(),
        kubeconfig: SecretString::new(std::fs::read_to_string(&env.second)?),
        ..ConnectionInput::default()
    };
    let started = Instant::now();
    registry::register(pool, &fleet, Some(&key), &actor, "second", &input)
        .await
        .map_err(|e| anyhow::anyhow!("registering the second cluster: {e:?}"))?;
    synced(&fleet.member("second")).await?;
    let register = started.elapsed();

    let open = PolicyInput {
        namespace_pattern: "{team}-{environment}".into(),
        freeze_action: "hold".into(),
        ..PolicyInput::default()
    };
    for (environment, cluster) in [("staging", "default"), ("production", "second")] {
        environments::update_environment(
            pool,
            &actor,
            environment,
            &PolicyInput {
                cluster: cluster.into(),
                ..open.clone()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("pointing {environment} at {cluster}: {e:?}"))?;
    }

    let service = django_service(pool, &current, &actor, team).await?;
    let worker = Worker::start(pool.clone(), fleet.clone(), WorkerConfig::default());

    let request = |environment: &'static str, image: String| {
        let (fleet, service, actor) = (fleet.clone(), service.clone(), actor.clone());
        async move {
            domain::request(
                pool,
                &fleet,
                &service,
                &actor,
                Trigger::User,
                &DeployRequest {
                    environment: environment.to_owned(),
                    image,
                    revision: None,
                    override_reason: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("requesting {environment}: {e:?}"))
        }
    };
    // A first deploy to each creates the namespaces and objects: not measured.
    let image = |n: usize| format!("registry.example.com/{team}/web:2.0.{n}");
    for environment in ["staging", "production"] {
        let deploy = request(environment, image(0)).await?;
        until_done(pool, deploy.id).await?;
    }
    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        let started = Instant::now();
        for environment in ["staging", "production"] {
            let deploy = request(environment, image(round * 2 - 1)).await?;
            until_done(pool, deploy.id).await?;
        }
        let sequential = started.elapsed();
        let started = Instant::now();
        let staging = request("staging", image(round * 2)).await?;
        let production = request("production", image(round * 2)).await?;
        until_done(pool, staging.id).await?;
        until_done(pool, production.id).await?;
        rounds.push((sequential, started.elapsed()));
    }
    worker.shutdown().await;
    Ok(Figures {
        rounds,
        register,
        baseline,
    })
}

async fn until_done(pool: &PgPool, id: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let deploy = store::deploys::find(pool, id)
            .await?
            .context("the deploy")?;
        match deploy.state {
            DeployState::Succeeded => return Ok(()),
            s if s.is_finished() => bail!("deploy {id} ended {s:?}: {}", deploy.reason),
            _ if Instant::now() > deadline => bail!("deploy {id} did not finish"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
