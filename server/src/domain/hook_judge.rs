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
//!
//! The judge yields to the endpoint: while pushes keep arriving it rests
//! between verdicts ([`pause_after`]), so a burst is answered at the
//! endpoint's own pace and judged at full speed as soon as it ends. The
//! endpoint's answer is what a provider waits for (and times out on); a
//! verdict a few hundred milliseconds later changes nothing it sees.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

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

/// Pushes rung within this long make the endpoint busy: the judge paces itself.
pub const BUSY_WINDOW: Duration = Duration::from_millis(50);
/// While the endpoint is busy the judge rests this many times as long as its
/// last verdict took, so it takes at most a quarter of its share of the CPU.
const REST_FACTOR: u32 = 3;
/// The longest rest between two verdicts: a slow verdict (a plan computed
/// against the cluster) never holds the queue up for long.
const MAX_REST: Duration = Duration::from_millis(100);

/// Rung by the endpoint after it recorded a push, so the judge starts at once;
/// it also tells the judge when the endpoint last had a push.
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Rings>);

#[derive(Debug, Default)]
struct Rings {
    notify: Notify,
    /// Microseconds since [`EPOCH`] of the last ring; 0 before the first.
    last: AtomicU64,
}

/// The clock of [`Rings::last`].
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn micros_since_epoch(at: Instant) -> u64 {
    // One past, so that a ring at the epoch itself is not "never".
    u64::try_from(at.saturating_duration_since(*EPOCH).as_micros())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

impl Wake {
    /// Wakes the judge (a ring while it is busy is kept for its next wait).
    pub fn ring(&self) {
        self.0
            .last
            .store(micros_since_epoch(Instant::now()), Ordering::Relaxed);
        self.0.notify.notify_one();
    }

    /// Whether a push was rung within [`BUSY_WINDOW`] before `now`.
    pub fn busy_at(&self, now: Instant) -> bool {
        let last = self.0.last.load(Ordering::Relaxed);
        last != 0
            && micros_since_epoch(now).saturating_sub(last)
                <= u64::try_from(BUSY_WINDOW.as_micros()).unwrap_or(u64::MAX)
    }
}

/// How long the judge rests after a verdict that took `took`: nothing when
/// the endpoint is quiet, else [`REST_FACTOR`] times `took`, at most [`MAX_REST`].
pub fn pause_after(took: Duration, busy: bool) -> Duration {
    if busy {
        (took * REST_FACTOR).min(MAX_REST)
    } else {
        Duration::ZERO
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
    cluster: &cluster::Handle,
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
        Ok(push) => hooks::deploy_push(&mut *tx, cluster, &hook, row, &push)
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
pub async fn judge_next(db: &PgPool, cluster: &cluster::Handle) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let Some(hook_id) = store_hooks::lock_next_queued_hook(&mut tx).await? else {
        return Ok(false);
    };
    match judge_oldest(&mut tx, cluster, hook_id).await {
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
pub async fn judge_all(db: &PgPool, cluster: &cluster::Handle) -> Result<usize, AppError> {
    let mut judged = 0;
    while judge_next(db, cluster).await? {
        judged += 1;
    }
    Ok(judged)
}

/// Judges the queue of `hook_id` in the caller's task until row `until` has
/// its verdict, waiting for the hook's lock if a judge holds it; the verdict.
/// For an administrator's redelivery, who waits for the outcome.
pub async fn judge_hook_until(
    db: &PgPool,
    cluster: &cluster::Handle,
    hook_id: Uuid,
    until: i64,
) -> Result<Receipt, AppError> {
    loop {
        let mut tx = db.begin().await?;
        if !store_hooks::lock_for_delivery(&mut tx, hook_id).await? {
            return Err(AppError::NotFound);
        }
        match judge_oldest(&mut tx, cluster, hook_id).await {
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
pub fn spawn(db: PgPool, cluster: cluster::Handle, wake: Wake) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match judge_paced(&db, &cluster, &wake).await {
                Ok(0) => {}
                Ok(judged) => tracing::debug!(judged, "webhook deliveries judged"),
                Err(error) => {
                    tracing::warn!(%error, "judging webhook deliveries failed; retrying")
                }
            }
            tokio::select! {
                _ = wake.0.notify.notified() => {}
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    })
}

/// [`judge_all`], resting between verdicts while the endpoint is busy ([`pause_after`]).
async fn judge_paced(
    db: &PgPool,
    cluster: &cluster::Handle,
    wake: &Wake,
) -> Result<usize, AppError> {
    let mut judged = 0;
    loop {
        let started = Instant::now();
        if !judge_next(db, cluster).await? {
            return Ok(judged);
        }
        judged += 1;
        let now = Instant::now();
        let rest = pause_after(now - started, wake.busy_at(now));
        if !rest.is_zero() {
            tokio::time::sleep(rest).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_judge_rests_only_while_pushes_keep_arriving_and_never_long() {
        let took = Duration::from_millis(4);
        assert_eq!(pause_after(took, false), Duration::ZERO);
        assert_eq!(pause_after(took, true), Duration::from_millis(12));
        assert_eq!(pause_after(Duration::from_secs(2), true), MAX_REST);
    }

    #[test]
    fn the_endpoint_is_busy_for_a_window_after_a_ring() {
        let wake = Wake::default();
        let now = Instant::now();
        assert!(!wake.busy_at(now), "never rung: quiet");
        wake.ring();
        let rung = Instant::now();
        assert!(wake.busy_at(rung));
        assert!(wake.busy_at(rung + BUSY_WINDOW / 2));
        assert!(!wake.busy_at(rung + BUSY_WINDOW * 3));
    }
}
