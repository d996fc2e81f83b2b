//! PostgreSQL access: the only module that writes SQL.
//!
//! One file per aggregate. Functions take `impl PgExecutor<'_>` so callers choose a
//! pool or a transaction. Queries use runtime-checked `query_as` with bind
//! parameters (every one exercised by the integration tests against a real
//! PostgreSQL) instead of the compile-time macros, so building never needs a
//! database or a committed `.sqlx/` cache.

pub mod approvals;
pub mod audit;
pub mod catalog;
pub mod cluster_events;
pub mod clusters;
pub mod deploy_leases;
pub mod deploys;
pub mod environment_quotas;
pub mod environments;
pub mod freeze_windows;
pub mod grants;
pub mod hooks;
pub mod identity;
pub mod login_attempts;
pub mod namespaces;
pub mod notifications;
pub mod pins;
pub mod roles;
pub mod services;
pub mod sessions;
pub mod sso;
pub mod teams;
pub mod tokens;
pub mod users;

use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, PgPool};

/// The migrations of `../migrations`, shared by `slipway migrate`, `slipway run` and tests.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Parses a database URL; the error names the problem but never echoes the URL (it may hold a password).
pub fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|_| anyhow::anyhow!("SLIPWAY_DATABASE_URL is not a valid PostgreSQL URL"))?;
    Ok(options.log_statements(tracing::log::LevelFilter::Trace))
}

/// `host:port/database` of a connection, for messages: never the user's password.
pub fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default)")
    )
}

/// How long a pooled connection may sit idle before it is pinged on acquire.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// A pool that connects lazily, so `serve` starts even while PostgreSQL is down
/// and recovers by itself when it returns.
pub fn lazy_pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(16)
        .min_connections(0)
        // A page must fail fast (and /readyz answer 503) while the database is away.
        .acquire_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::from_secs(300))
        // A connection that sat idle is pinged before use, so one that died
        // while PostgreSQL was away is replaced instead of failing a page. One
        // in use a moment ago is not: `test_before_acquire` pinged before every
        // statement, a round trip more per query (`docs/performance.md`).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options)
}

/// Connects now, failing within seconds with a one-line error naming host and database.
pub async fn connect_now(options: PgConnectOptions) -> anyhow::Result<PgPool> {
    let what = describe(&options);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options.clone());
    tokio::time::timeout(Duration::from_secs(8), pool)
        .await
        .map_err(|_| anyhow::anyhow!("cannot connect to PostgreSQL at {what}: timed out"))?
        .map_err(|err| {
            anyhow::anyhow!("cannot connect to PostgreSQL at {what}: {}", one_line(&err))
        })
}

/// Runs pending migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")
}

/// True when every migration Slipway knows is applied successfully (for `/readyz`).
pub async fn migrations_current(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .all(|m| applied.binary_search(&m.version).is_ok()))
}

fn one_line(err: &sqlx::Error) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
