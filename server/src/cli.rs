//! The subcommands that run Slipway itself: `serve`, `run`, `migrate`, `admin`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::app::{self, AppState};
use crate::cluster::{self, KubeSource};
use crate::config::Config;
use crate::domain::accounts::{self, TeamInput, UserInput};
use crate::error::AppError;
use crate::local::postgres::LocalPostgres;
use crate::local::state_dir::StateDir;
use crate::secret::SecretString;
use crate::store::audit::Actor;
use crate::{deployer, notify, seed, store};

/// `slipway serve`: configuration from the environment; starts even while the
/// database is down and reports not ready until it is back.
pub async fn serve(mut config: Config) -> anyhow::Result<()> {
    config.check()?;
    config.read_secrets()?;
    config.oidc()?;
    let url = config
        .database_url
        .clone()
        .context("SLIPWAY_DATABASE_URL is not set (use `slipway run` for the embedded default)")?;
    let options = store::connect_options(url.expose())?;
    let pool = store::lazy_pool(options.clone());
    match migrate_before_serving(&config, &pool).await {
        Ok(()) => {
            tracing::info!(database = %store::describe(&options), "migrations are current");
            crate::domain::tenancy::reserve_own(&pool, &config.own_namespace).await?;
            if config.secret_key.is_none() && store::hooks::any(&pool).await? {
                anyhow::bail!(
                    "webhooks exist, but SLIPWAY_SECRET_KEY is not set: their secrets are sealed \
                     with it and no delivery could be verified; set the key they were made with"
                );
            }
        }
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "database not ready at start; serving and retrying")
        }
    }
    let source = match &config.kubeconfig {
        Some(path) => KubeSource::File(path.clone()),
        None => KubeSource::Infer,
    };
    let cluster = cluster::Handle::start(source);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {} (SLIPWAY_LISTEN)", config.listen))?;
    tracing::info!(address = %config.listen, "serving");
    let state = AppState::new(pool, cluster, config);
    serve_with_worker(listener, state).await
}

/// Brings the schema up to date before `serve` answers: with the owner's URL
/// (`SLIPWAY_MIGRATION_DATABASE_URL`) when there is one, so the serving role
/// needs no DDL rights; else with the serving pool, unless the schema is
/// already current (a serving role that owns nothing may not even run the
/// migrator's `create table if not exists`).
async fn migrate_before_serving(config: &Config, pool: &PgPool) -> anyhow::Result<()> {
    if let Some(owner_url) = &config.migration_database_url {
        let owner = store::connect_now(store::connect_options(owner_url.expose())?).await?;
        let result = store::migrate(&owner).await;
        owner.close().await;
        return result;
    }
    if store::migrations_current(pool).await.unwrap_or(false) {
        return Ok(());
    }
    store::migrate(pool).await
}

/// `slipway run`: the embedded default (private PostgreSQL, local cluster, demo
/// team). One role does everything there: the private instance's superuser.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    config.check()?;
    config.read_secrets()?;
    config.oidc()?;
    let state_dir = StateDir::new(Path::new("."))?;
    let _lock = state_dir.lock_run()?;
    if config.secret_key.is_none() {
        config.secret_key = Some(state_dir.secret_key()?);
    }
    let mut private_pg = None;
    if config.database_url.is_none() {
        let mut pg = tokio::task::spawn_blocking({
            let state_dir = state_dir.clone();
            move || LocalPostgres::prepare(&state_dir)
        })
        .await??;
        pg.start()?;
        eprintln!(
            "slipway: private PostgreSQL running from {}",
            pg.data_dir().display()
        );
        config.database_url = Some(SecretString::new(pg.url()));
        state_dir.write_database_url(&pg.url())?;
        private_pg = Some(pg);
    }
    let result = run_with_database(config, &state_dir, private_pg.as_ref()).await;
    if let Some(pg) = private_pg {
        eprintln!("slipway: stopping the private PostgreSQL");
        pg.stop();
    }
    result
}

async fn run_with_database(
    mut config: Config,
    state_dir: &StateDir,
    pg: Option<&LocalPostgres>,
) -> anyhow::Result<()> {
    if let Some(pg) = pg {
        create_database_if_missing(&pg.maintenance_url()).await?;
    }
    let url = config.database_url.clone().context("database URL")?;
    let owner = store::connect_now(store::connect_options(url.expose())?).await?;
    store::migrate(&owner).await?;
    crate::domain::tenancy::reserve_own(&owner, &config.own_namespace).await?;
    let pool = match pg {
        Some(pg) => serve_as_app_role(owner, pg, state_dir, &mut config).await?,
        None => owner,
    };
    let seeded =
        seed::seed_demo(&pool, &config.admin_email, config.admin_password.as_ref()).await?;
    let (source, kubeconfig) = match &config.kubeconfig {
        Some(path) => (KubeSource::File(path.clone()), path.clone()),
        None => {
            let local = state_dir.root().join("cluster").join("kubeconfig");
            (KubeSource::Local(local.clone()), local)
        }
    };
    let local_cluster = config
        .kubeconfig
        .is_none()
        .then(|| state_dir.root().join("cluster"));
    if local_cluster.is_some() {
        let adapted = crate::local::demo::adapt(&pool, &seeded.admin_email).await?;
        if !adapted.is_empty() {
            tracing::info!(services = %adapted.join(", "), "adapted the demo services for the local cluster");
        }
    }
    if local_cluster.is_some() && config.cluster_name.is_none() {
        // INTERFACES: `make run` registers the local control plane as `local`.
        config.cluster_name = Some(LOCAL_CLUSTER_NAME.to_owned());
    }
    crate::domain::clusters::adopt_configured(&pool, config.cluster_name()).await?;
    let cluster = cluster::Handle::start(source);
    let listener = TcpListener::bind(config.listen).await.with_context(|| {
        format!(
            "binding {} (SLIPWAY_LISTEN); is another Slipway using it?",
            config.listen
        )
    })?;
    print_welcome(&config, &seeded, &kubeconfig);
    let state = AppState::new(pool.clone(), cluster, config);
    prepare_demo_namespaces(pool, state.clusters.clone(), local_cluster);
    serve_with_worker(listener, state).await
}

/// The login role the private instance serves as.
const SERVING_ROLE: &str = "slipway_web";

/// The name `run` registers its local control plane under.
const LOCAL_CLUSTER_NAME: &str = "local";

/// The private instance serves as [`SERVING_ROLE`], a member of `slipway_app`
/// that owns nothing, while its superuser stays the schema owner that migrated:
/// the two-role setup of `docs/access.md`, so the audit log is append-only for
/// the portal here too. `.slipway/database-url` gets the serving role's URL
/// (what `slipway admin …` uses) and `.slipway/migration-database-url` the
/// owner's (what `slipway migrate` uses).
async fn serve_as_app_role(
    owner: PgPool,
    pg: &LocalPostgres,
    state_dir: &StateDir,
    config: &mut Config,
) -> anyhow::Result<PgPool> {
    let password = state_dir.serving_password()?;
    store::roles::ensure_serving_role(&owner, SERVING_ROLE, &password).await?;
    owner.close().await;
    let owner_url = pg.url();
    let serving_url = pg.url_as(SERVING_ROLE, &password);
    state_dir.write_migration_database_url(&owner_url)?;
    state_dir.write_database_url(&serving_url)?;
    config.migration_database_url = Some(SecretString::new(owner_url));
    config.database_url = Some(SecretString::new(serving_url.clone()));
    store::connect_now(store::connect_options(&serving_url)?).await
}

/// Once the cluster answers, creates the namespaces the seeded services deploy
/// into, so `slipway render … | kubectl apply --dry-run=server -f -` works on the
/// local cluster before anyone deploys. In the background: the portal starts
/// at once, and the first `make run` may build the control plane for half an
/// hour, so this waits as long as that takes.
///
/// On the local cluster (`local_cluster` is its state folder) it then runs
/// the demo on the real node: see [`crate::local::demo`].
fn prepare_demo_namespaces(pool: PgPool, clusters: cluster::Fleet, local_cluster: Option<PathBuf>) {
    tokio::spawn(async move {
        let configured = clusters.configured_member();
        let Some(client) = configured.handle.wait_until_ready().await else {
            return;
        };
        match seed::prepare_namespaces(&pool, &client).await {
            Ok(created) if !created.is_empty() => {
                tracing::info!(namespaces = %created.join(", "), "created the demo services' namespaces");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not prepare the demo services' namespaces"),
        }
        if let Some(dir) = local_cluster {
            crate::local::demo::run_when_node_ready(&pool, &clusters, &client, &dir).await;
        }
    });
}

/// Serves the portal with the deploy worker, the sweeper of waiting deploys,
/// the purger of expired sessions and old login attempts, the notification
/// sender and (with `SLIPWAY_METRICS_ADDR`) the metrics listener beside it; on SIGTERM the worker hands its
/// running deploys over (ends their leases) and the sender finishes its pass
/// before the pool closes. Without SLIPWAY_SECRET_KEY no notification target
/// can exist or be signed for, so no sender runs.
async fn serve_with_worker(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    crate::domain::notifications::configure_public_url(&state.config.public_url);
    let worker = deployer::Worker::start(
        state.db.clone(),
        state.clusters.clone(),
        deployer::WorkerConfig::default(),
    );
    // Expires overdue requests and keeps waiting deploys' plans fresh.
    let sweeper = crate::domain::waiting::spawn_sweeper(
        state.db.clone(),
        state.clusters.clone(),
        std::time::Duration::from_secs(5),
    );
    let purger = crate::auth::purge::spawn_purger(state.db.clone(), crate::auth::purge::EVERY);
    let metrics = match state.config.metrics_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} (SLIPWAY_METRICS_ADDR)"))?;
            tracing::info!(address = %addr, "serving /metrics on its own listener");
            let task = tokio::spawn(app::serve_metrics(
                listener,
                state.clone(),
                std::future::pending(),
            ));
            Some(task)
        }
        None => None,
    };
    let sender = match &state.config.secret_key {
        Some(key) => Some(notify::Sender::start(state.db.clone(), key.clone())),
        None => {
            if store::notifications::any_target(&state.db)
                .await
                .unwrap_or(false)
            {
                tracing::warn!(
                    "notification targets exist, but SLIPWAY_SECRET_KEY is not set: \
                     their secrets are sealed with it, so nothing is sent"
                );
            }
            None
        }
    };
    app::serve(listener, state, async move {
        app::shutdown_signal().await;
        sweeper.abort();
        purger.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        worker.shutdown().await;
        if let Some(sender) = sender {
            sender.shutdown().await;
        }
    })
    .await
}

fn print_welcome(config: &Config, seeded: &seed::Seeded, kubeconfig: &Path) {
    let url = config.public_url.trim_end_matches('/');
    let listening = format!("http://{}", config.listen);
    eprintln!();
    eprintln!("  Slipway is serving at {listening}");
    if url != listening {
        eprintln!("  Public URL (SLIPWAY_PUBLIC_URL): {url}");
    }
    eprintln!("  Sign in as {}", seeded.admin_email);
    match (&seeded.generated_password, &config.admin_password) {
        (Some(pw), _) => eprintln!("  Password (generated now, shown only once): {pw}"),
        (None, Some(_)) => eprintln!("  Password: the value of SLIPWAY_ADMIN_PASSWORD"),
        (None, None) => {
            eprintln!("  Password: the one printed when this folder's Slipway first started")
        }
    }
    eprintln!("  Cluster kubeconfig: {}", kubeconfig.display());
    if config.kubeconfig.is_none() {
        eprintln!(
            "  Demo: once the local cluster's real node is Ready, shop-redis, shop-web, shop-worker and"
        );
        eprintln!(
            "  pricing-api deploy to development there; the log says where each answers. catalog-api"
        );
        eprintln!("  needs Secret catalog-db key url, left unset on purpose: see its Secrets tab.");
    }
    eprintln!("  Stop with Ctrl-C.");
    eprintln!();
}

async fn create_database_if_missing(maintenance_url: &str) -> anyhow::Result<()> {
    let pool = store::connect_now(store::connect_options(maintenance_url)?).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(crate::local::postgres::DB_NAME)
            .fetch_one(&pool)
            .await?;
    if !exists {
        // Identifiers cannot be bound; DB_NAME is a constant.
        sqlx::query("create database slipway")
            .execute(&pool)
            .await?;
    }
    pool.close().await;
    Ok(())
}

/// The database URL for one-shot subcommands: `SLIPWAY_DATABASE_URL`, else the
/// private instance of `slipway run` in the current folder.
pub fn database_url_for_tools(config_url: Option<&SecretString>) -> anyhow::Result<String> {
    if let Some(url) = config_url {
        return Ok(url.expose().to_owned());
    }
    let state_dir = StateDir::new(Path::new("."))?;
    state_dir.database_url().context(
        "SLIPWAY_DATABASE_URL is not set and no `slipway run` instance was found in this folder",
    )
}

/// `slipway migrate`: with `SLIPWAY_MIGRATION_DATABASE_URL` when set (the
/// schema owner), else `SLIPWAY_DATABASE_URL`, else in a `slipway run` folder
/// its owner's URL (`.slipway/migration-database-url`); it needs nothing else,
/// not the secret key.
pub async fn migrate(database_url: Option<SecretString>) -> anyhow::Result<()> {
    // In a `slipway run` folder the schema owner's URL, not the serving role's.
    let database_url = database_url.or_else(|| {
        StateDir::new(Path::new("."))
            .ok()
            .and_then(|dir| dir.migration_database_url())
            .map(SecretString::new)
    });
    let pool = tool_pool(database_url.as_ref()).await?;
    store::migrate(&pool).await?;
    eprintln!("migrations are current");
    Ok(())
}

async fn tool_pool(url: Option<&SecretString>) -> anyhow::Result<PgPool> {
    let url = database_url_for_tools(url)?;
    store::connect_now(store::connect_options(&url)?).await
}

/// An action's refusal as the CLI prints it: each field problem on its own
/// line, naming the flag (`--email: is not an email address`).
fn cli_error(err: AppError, flag_of: impl Fn(&str) -> &'static str) -> anyhow::Error {
    match err {
        AppError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", flag_of(&f.path), f.message))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => anyhow::anyhow!("{}", other.public_message()),
    }
}

/// `slipway admin create-user`: password from `SLIPWAY_ADMIN_PASSWORD` or stdin.
/// The same action and rules as the admin page, audited as the system.
pub async fn admin_create_user(
    database_url: Option<SecretString>,
    email: &str,
    admin: bool,
    team: Option<&str>,
    password_env: Option<SecretString>,
) -> anyhow::Result<()> {
    let password = match password_env {
        Some(p) => p.expose().to_owned(),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the password from stdin")?;
            s.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    let input = UserInput {
        email: email.to_owned(),
        password,
        is_admin: admin,
        teams: team.map(str::to_owned).into_iter().collect(),
    };
    let pool = tool_pool(database_url.as_ref()).await?;
    let user = accounts::create_user(&pool, &Actor::system(), &input)
        .await
        .map_err(|e| {
            cli_error(e, |path| match path {
                "email" => "--email",
                "teams" => "--team",
                _ => "password",
            })
        })?;
    eprintln!("created user {}", user.email);
    Ok(())
}

/// `slipway admin create-team`: the same action and rules as the admin page.
pub async fn admin_create_team(
    database_url: Option<SecretString>,
    name: &str,
) -> anyhow::Result<()> {
    let pool = tool_pool(database_url.as_ref()).await?;
    let input = TeamInput {
        name: name.to_owned(),
        display_name: String::new(),
    };
    let team = accounts::create_team(&pool, &Actor::system(), &input)
        .await
        .map_err(|e| {
            cli_error(e, |path| match path {
                "name" => "--name",
                _ => "--display-name",
            })
        })?;
    eprintln!("created team {}", team.name);
    Ok(())
}

/// `slipway admin token`: creates an API token and prints it once; the same
/// action as the account page (name, expiry and scopes checked, audited as
/// `token.create` by the system with `via: cli`). `expires_in_days` empty:
/// 90 days; `scopes` empty: every scope.
pub async fn admin_token(
    database_url: Option<SecretString>,
    email: &str,
    name: &str,
    expires_in_days: Option<i64>,
    scopes: &[String],
) -> anyhow::Result<()> {
    let pool = tool_pool(database_url.as_ref()).await?;
    let flag_of = |path: &str| match path {
        "email" => "--email",
        "expires_in_days" => "--expires-in-days",
        "scopes" => "--scope",
        _ => "--name",
    };
    let owner = accounts::user_by_email(&pool, email)
        .await
        .map_err(|e| cli_error(e, flag_of))?;
    let input = accounts::TokenInput {
        name: name.to_owned(),
        expires_in_days: expires_in_days.map(|d| d.to_string()).unwrap_or_default(),
        scopes: scopes.to_vec(),
    };
    let token =
        accounts::create_token_with(&pool, &Actor::system(), &owner, &input, accounts::Via::Cli)
            .await
            .map_err(|e| cli_error(e, flag_of))?;
    println!("{}", token.value);
    Ok(())
}
