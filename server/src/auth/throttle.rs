//! Slowing down password guessing without letting anyone lock anyone else out.
//!
//! Three exponential backoffs, each free for its first few failures, then
//! `30 s · 2^(n − free)` after the last failure, at most 15 minutes:
//!
//! - **(account, address)**: 5 free failures since that pair's last success
//!   (remembered a day). This is the one a guesser meets first, and it is theirs
//!   alone: the real user at another address is not slowed by it.
//! - **address, any account**: 20 free within 15 minutes (password spraying from
//!   one address). Behind a proxy this needs `SLIPWAY_TRUSTED_PROXIES`, or every
//!   user shares the proxy's address.
//! - **account, any address**: 50 free within 15 minutes (guessing from many
//!   addresses), applied only to addresses that have not signed in to that
//!   account in the last 30 days, so the account's owner keeps signing in from
//!   where they usually do.
//!
//! [`PasswordGate`] caps how many argon2 checks (about 19 MiB each) run at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::store::login_attempts::{Counts, Recent};

/// One backoff: free failures, then doubling waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Failures allowed before any wait.
    pub free: i64,
    /// The first wait, in seconds.
    pub base_secs: i64,
    /// The longest wait, in seconds.
    pub max_secs: i64,
}

/// This account from this address.
pub const PAIR: Rule = Rule {
    free: 5,
    base_secs: 30,
    max_secs: 15 * 60,
};
/// Any account from this address.
pub const ADDRESS: Rule = Rule {
    free: 20,
    base_secs: 30,
    max_secs: 15 * 60,
};
/// This account from addresses it does not know.
pub const ACCOUNT: Rule = Rule {
    free: 50,
    base_secs: 30,
    max_secs: 15 * 60,
};

impl Rule {
    /// How long after the last failure the next attempt must wait.
    pub fn delay_secs(&self, failures: i64) -> Option<i64> {
        if failures < self.free {
            return None;
        }
        let doublings = u32::try_from(failures - self.free)
            .unwrap_or(u32::MAX)
            .min(30);
        Some(
            self.base_secs
                .saturating_mul(1_i64 << doublings)
                .min(self.max_secs),
        )
    }

    /// Seconds still to wait at `now`, if any.
    pub fn wait_secs(&self, recent: &Recent, now: time::OffsetDateTime) -> Option<u64> {
        let delay = self.delay_secs(recent.failures)?;
        let last = recent.last?;
        let until = last + time::Duration::seconds(delay);
        let left = (until - now).whole_seconds();
        // Round a fraction of a second up, so Retry-After is never 0 while refused.
        (until > now).then(|| u64::try_from(left.max(0)).unwrap_or(0) + 1)
    }
}

/// Seconds to wait before this attempt may be checked, or `None` to check it now.
pub fn retry_after(counts: &Counts) -> Option<u64> {
    let pair = PAIR.wait_secs(&counts.pair, counts.now);
    let address = ADDRESS.wait_secs(&counts.address, counts.now);
    let account = if counts.known_address {
        None
    } else {
        ACCOUNT.wait_secs(&counts.account, counts.now)
    };
    [pair, address, account].into_iter().flatten().max()
}

/// Too many password checks are running; try again in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many sign-ins are being checked at once")]
pub struct Busy;

/// The cap on concurrent password checks.
#[derive(Debug)]
pub struct PasswordGate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// How long a sign-in waits for a free slot before it is answered 429.
pub const GATE_WAIT: Duration = Duration::from_millis(500);

impl PasswordGate {
    /// At most `concurrency` checks at once; others wait up to `wait` for a slot.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// Waits for a slot and checks `password` against `phc` on a blocking thread.
    /// The slot is held until the hash is done, even if the request goes away.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, GateError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| GateError::Busy(Busy))?
            .map_err(|_| GateError::Busy(Busy))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            super::password::verify(&password, &phc)
        })
        .await
        .map_err(GateError::Join)
    }
}

/// Why [`PasswordGate::verify`] did not answer.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Every slot stayed taken.
    #[error(transparent)]
    Busy(Busy),
    /// The hashing thread panicked or was cancelled.
    #[error("password check did not finish")]
    Join(#[source] tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-12-03 06:00 UTC);

    fn recent(failures: i64, secs_ago: i64) -> Recent {
        Recent {
            failures,
            last: Some(NOW - time::Duration::seconds(secs_ago)),
        }
    }

    fn counts(pair: Recent, address: Recent, account: Recent, known: bool) -> Counts {
        Counts {
            pair,
            address,
            account,
            known_address: known,
            now: NOW,
        }
    }

    #[test]
    fn the_first_failures_are_free_then_the_wait_doubles_up_to_a_cap() {
        assert_eq!(PAIR.delay_secs(4), None);
        assert_eq!(PAIR.delay_secs(5), Some(30));
        assert_eq!(PAIR.delay_secs(6), Some(60));
        assert_eq!(PAIR.delay_secs(8), Some(240));
        assert_eq!(PAIR.delay_secs(10), Some(900));
        assert_eq!(PAIR.delay_secs(1_000_000), Some(900));
    }

    #[test]
    fn the_wait_runs_from_the_last_failure() {
        assert_eq!(PAIR.wait_secs(&recent(5, 10), NOW), Some(21));
        assert_eq!(PAIR.wait_secs(&recent(5, 30), NOW), None);
        assert_eq!(PAIR.wait_secs(&recent(40, 899), NOW), Some(2));
        assert_eq!(PAIR.wait_secs(&recent(40, 900), NOW), None);
    }

    #[test]
    fn the_longest_applicable_wait_wins() {
        let none = Recent::default();
        assert_eq!(retry_after(&counts(none, none, none, false)), None);
        let c = counts(recent(6, 0), recent(25, 0), none, false);
        assert_eq!(retry_after(&c), Some(901));
    }

    #[test]
    fn guessing_from_many_addresses_does_not_slow_an_address_the_account_knows() {
        let none = Recent::default();
        let flooded = recent(500, 0);
        assert!(retry_after(&counts(none, none, flooded, false)).is_some());
        assert_eq!(retry_after(&counts(none, none, flooded, true)), None);
    }

    #[tokio::test]
    async fn a_full_gate_answers_busy_after_its_wait() {
        let gate = PasswordGate::new(1, Duration::from_millis(50));
        let held = gate.permits.clone().acquire_owned().await.unwrap();
        let result = gate.verify("x".into(), "not-a-phc".into()).await;
        assert!(matches!(result, Err(GateError::Busy(Busy))), "{result:?}");
        drop(held);
        let result = gate.verify("x".into(), "not-a-phc".into()).await;
        assert!(matches!(result, Ok(false)), "{result:?}");
    }
}
