//! What can go wrong talking to the API server, and bounded retries for the
//! failures that are worth retrying (the API server not answering).

use std::future::Future;
use std::time::Duration;

/// Why a cluster operation of a deploy failed; the `Display` text becomes the
/// deploy's reason, so it says what a person should know.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The API server did not answer, even after the bounded retries.
    #[error("the cluster is unreachable: {0}")]
    Unreachable(String),
    /// Another field manager owns a field Slipway wants to set (server-side apply, not forced).
    #[error(
        "{object}: conflict with another field manager (Slipway does not force it; remove the other manager's fields or hand them over, then deploy again): {message}"
    )]
    Conflict {
        /// `Kind/name`.
        object: String,
        /// The API server's message naming the fields and managers.
        message: String,
    },
    /// The API server refused an object (invalid, forbidden, quota, …).
    #[error("{object}: the API server refused it: {message}")]
    Refused {
        /// `Kind/name`.
        object: String,
        /// The API server's message.
        message: String,
    },
    /// Slipway refused to touch something that is not this service's or team's
    /// (a foreign namespace, object or Secret); the message says which and why.
    #[error("{message}")]
    NotOurs {
        /// `Kind/name`.
        object: String,
        /// Why, naming the owner or labels (never the object's content).
        message: String,
    },
    /// The stored manifests cannot be read back.
    #[error("the stored manifests are unusable: {0}")]
    Manifests(String),
}

/// How often and how patiently to retry when the API server does not answer.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Delay before the second attempt; doubled for each later one.
    pub base_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts over about 30 s (2, 4, 8, 16 s between them).
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(16),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry: for a page view, which should answer quickly.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The delay before attempt `n + 1` (n counted from 1).
    pub fn delay_after(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The total time the retries may wait, to bound waiting for a connection.
    pub fn total_wait(&self) -> Duration {
        (1..self.attempts).map(|n| self.delay_after(n)).sum()
    }
}

/// True for errors that mean "the API server did not answer" (worth retrying),
/// as opposed to an answer that says no.
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Runs `op` until it succeeds, fails for good, or the attempts run out; a
/// transient failure on the last attempt becomes [`ClusterError::Unreachable`].
/// `describe` turns a final non-transient error into the deploy's reason.
pub async fn with_retry<T, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    mut op: F,
    describe: impl FnOnce(kube::Error) -> ClusterError,
) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if is_transient(&err) => {
                if attempt >= policy.attempts.max(1) {
                    return Err(ClusterError::Unreachable(format!(
                        "{what} failed {attempt} times: {}",
                        one_line(&err)
                    )));
                }
                let delay = policy.delay_after(attempt);
                tracing::warn!(%what, attempt, error = %one_line(&err), ?delay, "the API server did not answer; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(err) => return Err(describe(err)),
        }
    }
}

/// The first line of an error, with the API status's message when there is one.
pub fn one_line(err: &kube::Error) -> String {
    let text = match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => {
            // Transport errors hide the useful part ("connection refused") in their sources.
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    };
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_after(1), Duration::from_secs(2));
        assert_eq!(p.delay_after(2), Duration::from_secs(4));
        assert_eq!(p.delay_after(4), Duration::from_secs(16));
        assert_eq!(p.delay_after(9), Duration::from_secs(16));
        assert_eq!(p.total_wait(), Duration::from_secs(30));
    }

    #[test]
    fn api_refusals_are_not_retried_but_overload_is() {
        let status = |code| {
            kube::Error::Api(
                kube::core::Status::failure("no", "Whatever")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert!(!is_transient(&status(409)));
        assert!(!is_transient(&status(422)));
        assert!(is_transient(&status(503)));
    }

    #[tokio::test]
    async fn transient_errors_end_as_unreachable_after_the_attempts() {
        let policy = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let mut calls = 0;
        let result: Result<(), _> = with_retry(
            policy,
            "listing pods",
            || {
                calls += 1;
                async {
                    Err(kube::Error::Api(
                        kube::core::Status::failure("down", "ServiceUnavailable")
                            .with_code(503)
                            .boxed(),
                    ))
                }
            },
            |e| ClusterError::Refused {
                object: "x".into(),
                message: e.to_string(),
            },
        )
        .await;
        assert_eq!(calls, 3);
        let err = result.unwrap_err();
        assert!(matches!(err, ClusterError::Unreachable(_)), "{err}");
        assert!(err.to_string().contains("unreachable"), "{err}");
    }
}
