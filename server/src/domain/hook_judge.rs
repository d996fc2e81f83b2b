//! The judge of queued webhook deliveries. The endpoint only records a verified
//! push as `queued` (`hooks::receive`); the judge turns it into what it comes
//! to (`hooks::deploy_push`: the hook's rules, the chain of its ref, a deploy
//! through the portal's path) and records the verdict.
//!
//! One hook at a time and in arrival order: a hook's row lock is held while
//! one of its deliveries is judged, and the oldest queued one is always next,
//! so each push sees the verdicts of those before it. Judges of several
//! replicas take different hooks (`skip locked`). A judge that dies mid-way
//! rolls its transaction back and the delivery stays queued for the next.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::cluster;
use crate::domain::hooks::{self, Receipt};
use crate::error::AppError;
use crate::store::hooks::{self as store_hooks, Queued};
use crate::webhook;

/// How often a judge looks for queued deliveries nobody woke it for (recorded
/// by another replica, or left queued by a judge that died).
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Rung by the endpoint after it recorded a push, so the judge starts at once.
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Wakes the judge (a ring while it is busy is kept for its next wait).
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

/// A verdict on one delivery row.
struct Verdict {
    row: i64,
    receipt: Receipt,
}

/// An error while judging `row` (none when it came before a delivery was read).
struct Failure {
    row: Option<i64>,
    error: AppError,
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure {
            row: None,
            error: error.into(),
        }
    }
}

/// Judges the oldest queued delivery of `hook_id`, whose lock the caller's
/// transaction holds. `Ok(None)` when its queue is empty.
async fn judge_oldest(
    tx: &mut PgConnection,
    clusters: &cluster::Fleet,
    hook_id: Uuid,
) -> Result<Option<Verdict>, Failure> {
    let Some(queued) = store_hooks::oldest_queued(&mut *tx, hook_id).await? else {
        return Ok(None);
    };
    let row = queued.id;
    let fail = |error: AppError| Failure {
        row: Some(row),
        error,
    };
    let hook = store_hooks::find(&mut *tx, hook_id)
        .await
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| fail(AppError::NotFound))?;
    let receipt = match parse(&queued) {
        Ok(push) => hooks::deploy_push(&mut *tx, clusters, &hook, row, &push)
            .await
            .map_err(fail)?,
        Err(why) => hooks::receipt("failed", why, None),
    };
    store_hooks::record_verdict(
        &mut *tx,
        row,
        &receipt.result,
        &receipt.reason,
        receipt.deploy_id,
    )
    .await
    .map_err(|e| fail(e.into()))?;
    tracing::info!(hook = %hook_id, delivery = row, result = %receipt.result, deploy.id = receipt.deploy_id, "webhook delivery judged");
    Ok(Some(Verdict {
        row,
        receipt: Receipt {
            delivery: Some(row),
            ..receipt
        },
    }))
}

/// The stored push of a queued delivery (verified and parsed once on arrival,
/// so an error here means the row was changed by hand).
fn parse(queued: &Queued) -> Result<webhook::Push, String> {
    let provider = webhook::Provider::from_name(&queued.provider)
        .ok_or_else(|| format!("unknown provider {}", queued.provider))?;
    let payload = queued
        .payload
        .as_deref()
        .ok_or_else(|| "the push's body was not kept".to_owned())?;
    webhook::push::parse(provider, payload).map_err(|e| format!("the stored push: {e}"))
}

/// A delivery that could not be judged is recorded `failed` (it stays
/// redeliverable), so that one bad row never holds up its hook's queue. When
/// the database is unavailable it stays queued for the next round instead.
async fn give_up(db: &PgPool, row: i64, error: AppError) -> Result<(), AppError> {
    let reason = match &error {
        AppError::Unavailable(_) => return Err(error),
        AppError::NotFound => "the hook's service or environment no longer exists".to_owned(),
        AppError::Internal(_) => {
            "could not be judged (see the server log); an administrator can redeliver it".to_owned()
        }
        other => other.to_string(),
    };
    tracing::warn!(delivery = row, error = %error, "webhook delivery could not be judged");
    store_hooks::record_verdict(db, row, "failed", &reason, None).await?;
    Ok(())
}

/// Takes the hook of the oldest queued delivery no other judge holds and
/// judges that delivery. False when nothing is queued (or all is held).
pub async fn judge_next(db: &PgPool, clusters: &cluster::Fleet) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let Some(hook_id) = store_hooks::lock_next_queued_hook(&mut tx).await? else {
        return Ok(false);
    };
    match judge_oldest(&mut tx, clusters, hook_id).await {
        Ok(_) => tx.commit().await?,
        Err(Failure { row, error }) => {
            tx.rollback().await?;
            match row {
                Some(row) => give_up(db, row, error).await?,
                None => return Err(error),
            }
        }
    }
    Ok(true)
}

/// Judges until nothing is queued; how many were judged.
pub async fn judge_all(db: &PgPool, clusters: &cluster::Fleet) -> Result<usize, AppError> {
    let mut judged = 0;
    while judge_next(db, clusters).await? {
        judged += 1;
    }
    Ok(judged)
}

/// Judges the queue of `hook_id` in the caller's task until row `until` has
/// its verdict, waiting for the hook's lock if a judge holds it; the verdict.
/// For an administrator's redelivery, who waits for the outcome.
pub async fn judge_hook_until(
    db: &PgPool,
    clusters: &cluster::Fleet,
    hook_id: Uuid,
    until: i64,
) -> Result<Receipt, AppError> {
    loop {
        let mut tx = db.begin().await?;
        if !store_hooks::lock_for_delivery(&mut tx, hook_id).await? {
            return Err(AppError::NotFound);
        }
        match judge_oldest(&mut tx, clusters, hook_id).await {
            Ok(Some(verdict)) => {
                tx.commit().await?;
                if verdict.row == until {
                    return Ok(verdict.receipt);
                }
            }
            Ok(None) => {
                // Judged by another judge meanwhile: read its verdict.
                tx.commit().await?;
                return recorded_verdict(db, until).await;
            }
            Err(Failure { row, error }) => {
                tx.rollback().await?;
                let Some(row) = row else { return Err(error) };
                give_up(db, row, error).await?;
                if row == until {
                    return recorded_verdict(db, until).await;
                }
            }
        }
    }
}

/// What is recorded for delivery row `row`.
async fn recorded_verdict(db: &PgPool, row: i64) -> Result<Receipt, AppError> {
    let done = store_hooks::delivery_by_row(db, row)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Receipt::recorded(done, false))
}

/// Runs a judge until aborted: at once when rung, and every [`SWEEP_EVERY`]
/// for what nobody rang for. An error (the database gone) is logged and the
/// queue tried again on the next round.
pub fn spawn(db: PgPool, clusters: cluster::Fleet, wake: Wake) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match judge_all(&db, &clusters).await {
                Ok(0) => {}
                Ok(judged) => tracing::debug!(judged, "webhook deliveries judged"),
                Err(error) => {
                    tracing::warn!(%error, "judging webhook deliveries failed; retrying")
                }
            }
            tokio::select! {
                _ = wake.0.notified() => {}
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    })
}
