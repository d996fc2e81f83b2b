//! The idle timeout without a database write per request.
//!
//! tower-sessions moves a session's expiry (`Expiry::OnInactivity`) only when
//! it saves the session, and it saves only a modified session. Saving on every
//! request would be a write per page view; saving never would end an active
//! user's session after the idle timeout. So a signed-in session records when
//! it was last seen, and that value is rewritten (and the session saved, with a
//! fresh expiry) once it is more than [`REFRESH_AFTER_SECONDS`] old: the idle
//! timeout is exact to within that minute.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::extract::SESSION_USER_ID;

/// Session key of the last time (unix seconds) the session's expiry was moved.
pub const LAST_SEEN_KEY: &str = "last_seen";
/// How stale `last_seen` may get before a request refreshes it.
pub const REFRESH_AFTER_SECONDS: i64 = 60;

/// Whether a session last refreshed at `last_seen` should be refreshed `now`.
pub fn needs_refresh(last_seen: Option<i64>, now: i64) -> bool {
    match last_seen {
        None => true,
        // A clock that went backwards refreshes too, rather than never.
        Some(seen) => now - seen >= REFRESH_AFTER_SECONDS || now < seen,
    }
}

/// Middleware inside the session layer: refresh a signed-in session's expiry
/// at most once a minute. Anonymous visitors have no stored session to refresh
/// (their login-form token is a cookie of its own, see `csrf`).
pub async fn keep_alive(request: Request, next: Next) -> Response {
    if let Some(session) = request.extensions().get::<Session>() {
        refresh_if_stale(session).await;
    }
    next.run(request).await
}

/// Writes `last_seen` when a signed-in session's is stale. A session that
/// cannot be read is the handler's problem to report; this is best effort.
async fn refresh_if_stale(session: &Session) {
    if let Ok(Some(_)) = session.get::<i64>(SESSION_USER_ID).await {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let last_seen = session.get::<i64>(LAST_SEEN_KEY).await.ok().flatten();
        if needs_refresh(last_seen, now)
            && let Err(error) = session.insert(LAST_SEEN_KEY, now).await
        {
            tracing::warn!(%error, "could not refresh the session's last-seen time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_when_never_seen_or_a_minute_old() {
        assert!(needs_refresh(None, 1_000));
        assert!(!needs_refresh(Some(1_000), 1_000));
        assert!(!needs_refresh(Some(1_000), 1_059));
        assert!(needs_refresh(Some(1_000), 1_060));
        assert!(needs_refresh(Some(1_000), 999), "clock went backwards");
    }
}
