//! Deploys that wait move on by themselves: a held deploy whose freeze window
//! ended goes to approval or the queue, a request nobody decided in time is
//! rejected as `expired`, and a waiting deploy's plan is computed again when it
//! is missing, could not run, or is stale. One [`sweep`] does all of it for
//! a given `now` (tests pass their own clock); [`spawn_sweeper`] runs it every
//! few seconds beside the deploy worker.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use crate::cluster;
use crate::deploy_model::NotificationEvent;
use crate::deployer::{DeployEvent, next};
use crate::domain::deploys as deploys_domain;
use crate::domain::plans;
use crate::error::AppError;
use crate::store::audit::Actor;
use crate::store::deploys::{self, Transition};
use crate::store::{self};

/// Audit actions written here.
pub mod actions {
    /// A deploy waited past its decision deadline.
    pub const EXPIRE: &str = "deploy.expire";
}

/// The actor of moves nobody made by hand.
const SLIPWAY: &str = "slipway";

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Held deploys whose freeze window ended.
    pub released: Vec<i64>,
    /// Deploys rejected as expired.
    pub expired: Vec<i64>,
    /// Plans recomputed.
    pub plans: usize,
    /// Approvals voided by recomputed plans.
    pub voided: u64,
}

/// Expires overdue requests and refreshes plans, as of `now`.
pub async fn sweep(
    db: &PgPool,
    clusters: &cluster::Fleet,
    now: OffsetDateTime,
) -> Result<Swept, AppError> {
    let mut swept = Swept::default();
    let context = deploys_domain::Context { clusters, now };
    for id in deploys::due_held(db, now).await? {
        if deploys_domain::release_held(db, &context, id).await? {
            swept.released.push(id);
        }
    }
    for id in deploys::expired_waiting(db, now).await? {
        if expire(db, id, now).await? {
            swept.expired.push(id);
        }
    }
    for id in deploys::plans_to_refresh(db).await? {
        let refreshed = plans::refresh(db, clusters, id).await?;
        swept.plans += refreshed.plans;
        swept.voided += refreshed.voided;
    }
    Ok(swept)
}

/// Rejects one waiting deploy as expired, if it is still waiting past its deadline.
async fn expire(db: &PgPool, id: i64, now: OffsetDateTime) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let Some(deploy) = deploys::lock(&mut tx, id).await? else {
        return Ok(false);
    };
    let Some(deadline) = deploy.decision_deadline.filter(|d| *d <= now) else {
        return Ok(false);
    };
    let Ok(to) = next(deploy.state, DeployEvent::Expired) else {
        return Ok(false);
    };
    let reason = format!(
        "expired: not enough approvals before its deadline ({})",
        deploys_domain::format_utc(deadline)
    );
    let moved = deploys::transition(
        &mut tx,
        &Transition {
            id,
            from: deploy.state,
            to,
            actor: SLIPWAY,
            message: &reason,
            reason: Some(&reason),
            lease_owner: None,
        },
    )
    .await?;
    if moved {
        deploys_domain::notify(&mut tx, id, NotificationEvent::Expired, SLIPWAY, &reason).await?;
        store::audit::record(
            &mut *tx,
            &Actor::system(),
            actions::EXPIRE,
            &deploy.service_path(),
            json!({"deploy": id, "environment": deploy.environment}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// Runs [`sweep`] every `every` until the task is aborted; errors are logged
/// and the next round tries again.
pub fn spawn_sweeper(db: PgPool, clusters: cluster::Fleet, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sweep(&db, &clusters, OffsetDateTime::now_utc()).await {
                Ok(swept)
                    if !swept.expired.is_empty()
                        || !swept.released.is_empty()
                        || swept.plans > 0 =>
                {
                    tracing::info!(released = ?swept.released, expired = ?swept.expired, plans = swept.plans, voided = swept.voided, "waiting deploys swept");
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "sweeping waiting deploys failed; retrying")
                }
            }
            tokio::time::sleep(every).await;
        }
    })
}
