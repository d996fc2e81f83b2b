//! Housekeeping of what sign-ins leave behind: expired sessions and login
//! attempts the throttle no longer reads. `slipway serve` and `run` start
//! [`spawn_purger`] beside the deploy worker; every replica may run it (the
//! deletes are idempotent).

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tower_sessions::session_store::ExpiredDeletion as _;

use crate::store::{self, sessions::PgSessionStore};

/// How often the purger runs when `serve` starts it.
pub const EVERY: Duration = Duration::from_secs(10 * 60);

/// One pass: deletes expired sessions and old login attempts.
pub async fn purge_once(db: &PgPool) -> anyhow::Result<u64> {
    PgSessionStore::new(db.clone(), std::sync::Arc::default())
        .delete_expired()
        .await
        .map_err(|e| anyhow::anyhow!("deleting expired sessions: {e}"))?;
    let attempts = store::login_attempts::purge(db).await?;
    Ok(attempts)
}

/// Runs [`purge_once`] now and then every `every`, until the task is aborted.
pub fn spawn_purger(db: PgPool, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match purge_once(&db).await {
                Ok(attempts) => {
                    tracing::debug!(attempts, "purged expired sessions and old login attempts")
                }
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "purging sessions failed; retrying later")
                }
            }
            tokio::time::sleep(every).await;
        }
    })
}
