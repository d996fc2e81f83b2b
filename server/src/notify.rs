//! The notification sender: a thin claim → post → record loop beside the
//! deploy worker (zero-to-production's delivery worker). Messages and their
//! bodies are made by `domain::notifications`; this only posts stored bytes.
//!
//! One pass is [`deliver_due`], with the clock as an argument so tests move
//! time instead of sleeping. It claims due messages with `FOR UPDATE SKIP
//! LOCKED` (replicas never take one message twice) and holds each for
//! [`CLAIM_HOLD`]; a sender that dies mid-post leaves it to be sent again then
//! (at least once: receivers deduplicate on `X-Slipway-Delivery`). Every
//! attempt is recorded; a 2xx delivers, anything else retries after
//! [`backoff_after`], and the sixth failure gives up. Errors here are logged,
//! never passed to deploys; neither the secret nor the URL is ever logged.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::secret::SecretKey;
use crate::store::notifications::{
    self as store_notifications, AfterAttempt, AttemptResult, Claimed,
};
use crate::webhook;

/// How long one post may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How long a claim holds a message: well past [`TIMEOUT`], so only a sender
/// that died lets another one send it again.
pub const CLAIM_HOLD: time::Duration = time::Duration::seconds(60);

/// Attempts before a message is given up (`failed`).
pub const MAX_ATTEMPTS: i32 = 6;

/// The waits after failed attempts 1 to 5: 10 s, 1 min, 5 min, 30 min, 2 h
/// (about 2 h 36 min from the first attempt to the last).
pub const BACKOFF: [time::Duration; 5] = [
    time::Duration::seconds(10),
    time::Duration::minutes(1),
    time::Duration::minutes(5),
    time::Duration::minutes(30),
    time::Duration::hours(2),
];

/// Messages claimed per pass.
const BATCH: i64 = 32;
/// Posts in flight at once per sender.
const CONCURRENCY: usize = 8;
/// The longest error text or answer excerpt recorded for an attempt.
const ERROR_MAX: usize = 500;

/// The wait after failed attempt `attempt` (1 for the first), or `None` when
/// it was the last.
pub fn backoff_after(attempt: i32) -> Option<time::Duration> {
    if attempt >= MAX_ATTEMPTS {
        return None;
    }
    let index = usize::try_from(attempt.max(1) - 1).unwrap_or(0);
    BACKOFF.get(index).copied()
}

/// The HTTP client the sender posts with: [`TIMEOUT`] per post, no redirects
/// (a signed body goes only where it was configured to).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Slipway-Notifications/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "notification client without its settings");
            reqwest::Client::new()
        })
}

/// The `X-Slipway-Signature` value of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", webhook::sign(secret, body))
}

/// One pass: posts every message due at `now` (up to a batch) and records each
/// attempt; returns how many were attempted. A database error is returned
/// (the loop logs it); a receiver's failure is only recorded.
pub async fn deliver_due(
    db: &PgPool,
    key: &SecretKey,
    http: &reqwest::Client,
    now: OffsetDateTime,
) -> Result<usize, sqlx::Error> {
    let claimed = store_notifications::claim_due(db, now, now + CLAIM_HOLD, BATCH).await?;
    let results: Vec<Result<(), sqlx::Error>> = futures::stream::iter(claimed)
        .map(|message| deliver_one(db, key, http, message, now))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let attempted = results.len();
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(attempted)
}

/// What one post came to.
struct Posted {
    status: Option<i32>,
    error: String,
    ok: bool,
}

async fn post(key: &SecretKey, http: &reqwest::Client, message: &Claimed) -> Posted {
    let secret = match key.open(&message.secret_sealed, message.target_id.as_bytes()) {
        Ok(secret) => secret,
        Err(error) => {
            return Posted {
                status: None,
                error: format!("the target's secret cannot be opened: {error}"),
                ok: false,
            };
        }
    };
    let answer = http
        .post(&message.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Slipway-Event", message.event.as_str())
        .header("X-Slipway-Delivery", message.id.to_string())
        .header("X-Slipway-Signature", signature(&secret, &message.body))
        .body(message.body.clone())
        .send()
        .await;
    match answer {
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                return Posted {
                    status: Some(i32::from(status.as_u16())),
                    error: String::new(),
                    ok: true,
                };
            }
            let excerpt = response.text().await.unwrap_or_default();
            let excerpt = excerpt.trim();
            let mut error = format!("answered {status}");
            if !excerpt.is_empty() {
                error.push_str(": ");
                error.push_str(excerpt);
            }
            Posted {
                status: Some(i32::from(status.as_u16())),
                error: truncate(&error),
                ok: false,
            }
        }
        Err(error) => Posted {
            status: None,
            error: truncate(&describe(error)),
            ok: false,
        },
    }
}

/// A transport error with its causes, without the URL (it may be a credential).
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let error = error.without_url();
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= ERROR_MAX {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(ERROR_MAX).collect();
    cut.push('…');
    cut
}

async fn deliver_one(
    db: &PgPool,
    key: &SecretKey,
    http: &reqwest::Client,
    message: Claimed,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    let posted = post(key, http, &message).await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let attempt = message.attempts + 1;
    let after = if posted.ok {
        AfterAttempt::Delivered
    } else {
        match backoff_after(attempt) {
            Some(wait) => AfterAttempt::RetryAt(now + wait),
            None => AfterAttempt::Failed,
        }
    };
    let recorded = store_notifications::record_attempt(
        db,
        &AttemptResult {
            message_id: message.id,
            attempt,
            status: posted.status,
            error: &posted.error,
            duration_ms,
            at: now,
            after,
        },
    )
    .await?;
    let (target, id, event) = (message.target_id, message.id, message.event.as_str());
    match after {
        _ if !recorded => tracing::warn!(
            notification.target = %target, notification.message = id, attempt,
            "attempt not recorded: the message changed meanwhile (another sender recorded it, or its target was deleted)"
        ),
        AfterAttempt::Delivered => tracing::debug!(
            notification.target = %target, notification.message = id, event, attempt,
            "notification delivered"
        ),
        AfterAttempt::RetryAt(_) => tracing::warn!(
            notification.target = %target, notification.message = id, event, attempt,
            status = posted.status, error = %posted.error, "notification not delivered; retrying"
        ),
        AfterAttempt::Failed => tracing::error!(
            notification.target = %target, notification.message = id, event, attempt,
            status = posted.status, error = %posted.error,
            "notification not delivered; gave up after {MAX_ATTEMPTS} attempts"
        ),
    }
    Ok(())
}

/// How often the sender looks for due messages.
pub const POLL: Duration = Duration::from_secs(2);

/// A running sender; dropping it stops the loop, [`Sender::shutdown`] waits
/// for the pass in progress to record its attempts.
pub struct Sender {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Sender {
    /// Starts a sender on the current Tokio runtime.
    pub fn start(db: PgPool, key: SecretKey) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let span = tracing::info_span!("notification_sender");
        let task = tokio::spawn(run_loop(db, key, stop_rx).instrument(span));
        tracing::info!("notification sender started");
        Sender {
            stop,
            task: Some(task),
        }
    }

    /// Stops after the current pass.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn run_loop(db: PgPool, key: SecretKey, mut stop: watch::Receiver<bool>) {
    let http = http_client();
    let mut db_trouble = false;
    loop {
        if *stop.borrow() {
            break;
        }
        let pass = deliver_due(&db, &key, &http, OffsetDateTime::now_utc()).await;
        let full = matches!(pass, Ok(n) if n as i64 >= BATCH);
        match pass {
            Ok(_) if db_trouble => {
                tracing::info!("database reachable again; sending notifications");
                db_trouble = false;
            }
            Err(error) if !db_trouble => {
                tracing::warn!(%error, "cannot send notifications; retrying");
                db_trouble = true;
            }
            _ => {}
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_attempts_wait_longer_each_time_then_give_up_after_the_sixth() {
        let waits: Vec<_> = (1..=7).map(backoff_after).collect();
        assert_eq!(
            waits,
            [
                Some(time::Duration::seconds(10)),
                Some(time::Duration::minutes(1)),
                Some(time::Duration::minutes(5)),
                Some(time::Duration::minutes(30)),
                Some(time::Duration::hours(2)),
                None,
                None,
            ]
        );
    }

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_exact_body() {
        // `printf '{"a":1}' | openssl dgst -sha256 -hmac whsec_test`
        assert_eq!(
            signature(b"whsec_test", br#"{"a":1}"#),
            "sha256=51426af50a41dd7ff2cd3f116594734766d4018d15d6fb07169aee5d2959adf5"
        );
        assert_ne!(signature(b"whsec_test", b"{}"), signature(b"other", b"{}"));
    }

    #[test]
    fn long_errors_are_cut() {
        let long = "x".repeat(2000);
        assert_eq!(truncate(&long).chars().count(), ERROR_MAX + 1);
        assert_eq!(truncate("short"), "short");
    }
}
