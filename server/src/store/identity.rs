//! Signed-in sessions as loaded, with their person, kept in memory for a few
//! seconds while this replica is sure to hear of every change to them.
//!
//! Every portal request loads its session and the person it belongs to (one
//! statement, `store::sessions`). A portal that hundreds of people keep open
//! asks that same question many times a second, so the answer is kept here for
//! up to [`FRESH_FOR`], and dropped the moment it may have stopped being true:
//!
//! - the database says so. Triggers (migration `20261211000100`) notify the
//!   [`CHANNEL`] channel in the writing transaction whenever a session is saved
//!   or deleted, a user is disabled, demoted, promoted, renamed or deleted or
//!   their sessions ended, a membership or an approver environment is granted
//!   or taken away, or a team or an environment is renamed, whoever wrote it
//!   (this replica, another one, the CLI, SQL by hand). [`follow_revocations`]
//!   listens on its own connection and forgets the user's sessions as each
//!   notice arrives;
//! - this replica cannot be sure it hears. Nothing is served from memory
//!   unless a notice arrived in the last [`LIVE_FOR`]; [`follow_revocations`]
//!   sends one every [`PING_EVERY`] to keep that true, so a listening
//!   connection that died, even silently (a network that drops packets), turns
//!   the cache off within [`LIVE_FOR`], and every request reads the database
//!   until the listener is back. A reconnected listener starts from nothing:
//!   notices sent while it was away are lost;
//! - a write went through this server (`forget_all`, from the middleware that
//!   also refreshes the navigation bar's count), so whoever changed something
//!   sees it on their next request even before the notice is back.
//!
//! A read that started before any of these and finishes after is not kept
//! (the generation it started in has passed), so a stale answer can never be
//! stored by a slow read. What is kept is checked on every use against the
//! session's idle and absolute timeouts, exactly as the statement would.
//!
//! The same rules keep the service rows that the most polled pages name in
//! their URL (`/services/{team}/{service}` and its status fragment): which
//! row `team/service` is, and its current revision. A trigger (migration
//! `20261212000100`) sends `s:<service id>` whenever a service row is updated
//! (a new revision) or deleted, and that row is forgotten. A name that finds
//! no service is never kept, so a service created on another replica shows at
//! once. Writes always read the row itself (`store::services::find`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

use crate::store::services::Service;

/// The channel the triggers notify.
pub const CHANNEL: &str = "slipway_identity";
/// How long a loaded session is reused at most (`SLIPWAY_IDENTITY_CACHE_SECONDS`).
pub const FRESH_FOR: Duration = Duration::from_secs(10);
/// How often [`follow_revocations`] sends the notice that proves it hears.
pub const PING_EVERY: Duration = Duration::from_secs(2);
/// How long after the last notice heard the cache is still trusted.
pub const LIVE_FOR: Duration = Duration::from_secs(6);
/// The payload of the liveness notice (not a revocation).
const PING: &str = "ping";
/// Sessions kept at most; past it the stale ones go, and if none was, all.
const MAX_SESSIONS: usize = 10_000;
/// Service rows kept at most, the same way.
const MAX_SERVICES: usize = 10_000;

/// A session as loaded.
#[derive(Debug)]
struct Entry {
    record: Record,
    user_id: i64,
    /// The row's `created_at` (the absolute timeout counts from it).
    created_at: OffsetDateTime,
    read_at: Instant,
}

/// A service row as read, under its team's and its own name.
#[derive(Debug)]
struct KeptService {
    service: Service,
    read_at: Instant,
}

/// The sessions kept (one per `AppState`, shared with its session store), and
/// the service rows.
#[derive(Debug)]
pub struct IdentityCache {
    fresh_for: Duration,
    entries: Mutex<HashMap<Id, Entry>>,
    /// Locked after `entries` when both are.
    services: Mutex<HashMap<(String, String), KeptService>>,
    /// Moved on by every forgetting: a read begun in an older one is not kept.
    generation: AtomicU64,
    /// When the listener last heard a notice; `None` while it is not listening.
    heard_at: Mutex<Option<Instant>>,
    /// Sessions read from the database rather than from here (tests).
    reads: AtomicU64,
    /// Service rows read from the database rather than from here (tests).
    service_reads: AtomicU64,
    /// Revocation notices heard (tests wait for one).
    notices: AtomicU64,
}

impl Default for IdentityCache {
    fn default() -> Self {
        Self::new(FRESH_FOR)
    }
}

/// What [`IdentityCache::begin_read`] hands to [`IdentityCache::keep`].
#[derive(Clone, Copy, Debug)]
pub struct ReadTicket(u64);

impl IdentityCache {
    /// Sessions reused for `fresh_for` (zero: never kept).
    pub fn new(fresh_for: Duration) -> Self {
        IdentityCache {
            fresh_for,
            entries: Mutex::default(),
            services: Mutex::default(),
            generation: AtomicU64::default(),
            heard_at: Mutex::default(),
            reads: AtomicU64::default(),
            service_reads: AtomicU64::default(),
            notices: AtomicU64::default(),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<Id, Entry>> {
        // A panic while holding the lock cannot leave a half-written entry.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn services(&self) -> MutexGuard<'_, HashMap<(String, String), KeptService>> {
        self.services.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn heard_at(&self) -> MutexGuard<'_, Option<Instant>> {
        self.heard_at.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True while the listener has heard a notice in the last [`LIVE_FOR`]:
    /// only then is anything served from memory.
    pub fn is_live(&self) -> bool {
        self.heard_at()
            .is_some_and(|heard| heard.elapsed() < LIVE_FOR)
    }

    /// Sessions read from the database so far (each miss counts one).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }

    /// Service rows read from the database so far (each miss counts one).
    pub fn service_reads(&self) -> u64 {
        self.service_reads.load(Ordering::SeqCst)
    }

    /// Revocation notices heard so far (the liveness notice does not count).
    pub fn notices(&self) -> u64 {
        self.notices.load(Ordering::SeqCst)
    }

    /// The session `id` as loaded less than `fresh_for` ago, if it is kept,
    /// still within its timeouts, and the listener hears.
    pub fn get(&self, id: &Id, absolute_timeout: time::Duration) -> Option<Record> {
        if self.fresh_for.is_zero() || !self.is_live() {
            return None;
        }
        let now = OffsetDateTime::now_utc();
        let entries = self.entries();
        let entry = entries.get(id)?;
        let usable = entry.read_at.elapsed() < self.fresh_for
            && entry.record.expiry_date > now
            && entry.created_at > now - absolute_timeout;
        usable.then(|| entry.record.clone())
    }

    /// Called before reading a session from the database.
    pub fn begin_read(&self) -> ReadTicket {
        self.reads.fetch_add(1, Ordering::SeqCst);
        ReadTicket(self.generation.load(Ordering::SeqCst))
    }

    /// Keeps a session read since `ticket`, unless something was forgotten in
    /// the meantime (the read may predate it) or the listener does not hear.
    pub fn keep(
        &self,
        ticket: ReadTicket,
        record: &Record,
        user_id: i64,
        created_at: OffsetDateTime,
    ) {
        if self.fresh_for.is_zero() || !self.is_live() {
            return;
        }
        let mut entries = self.entries();
        // Checked under the lock that every forgetting takes too.
        if self.generation.load(Ordering::SeqCst) != ticket.0 {
            return;
        }
        if entries.len() >= MAX_SESSIONS {
            entries.retain(|_, entry| entry.read_at.elapsed() < self.fresh_for);
            if entries.len() >= MAX_SESSIONS {
                entries.clear();
            }
        }
        entries.insert(
            record.id,
            Entry {
                record: record.clone(),
                user_id,
                created_at,
                read_at: Instant::now(),
            },
        );
    }

    /// Service `team/name` as read less than `fresh_for` ago, if it is kept
    /// and the listener hears.
    pub fn service(&self, team: &str, name: &str) -> Option<Service> {
        if self.fresh_for.is_zero() || !self.is_live() {
            return None;
        }
        let services = self.services();
        let kept = services.get(&(team.to_owned(), name.to_owned()))?;
        (kept.read_at.elapsed() < self.fresh_for).then(|| kept.service.clone())
    }

    /// Called before reading a service row from the database.
    pub fn begin_service_read(&self) -> ReadTicket {
        self.service_reads.fetch_add(1, Ordering::SeqCst);
        ReadTicket(self.generation.load(Ordering::SeqCst))
    }

    /// Keeps a service row read since `ticket`, on the terms of [`Self::keep`].
    pub fn keep_service(&self, ticket: ReadTicket, service: &Service) {
        if self.fresh_for.is_zero() || !self.is_live() {
            return;
        }
        let mut services = self.services();
        if self.generation.load(Ordering::SeqCst) != ticket.0 {
            return;
        }
        if services.len() >= MAX_SERVICES {
            services.retain(|_, kept| kept.read_at.elapsed() < self.fresh_for);
            if services.len() >= MAX_SERVICES {
                services.clear();
            }
        }
        services.insert(
            (service.team.clone(), service.name.clone()),
            KeptService {
                service: service.clone(),
                read_at: Instant::now(),
            },
        );
    }

    /// Forgets the row of service `id` (it was updated or deleted).
    fn forget_service(&self, id: i64) {
        let mut services = self.services();
        self.generation.fetch_add(1, Ordering::SeqCst);
        services.retain(|_, kept| kept.service.id != id);
    }

    /// Forgets one session (this replica saved or deleted it).
    pub fn forget_session(&self, id: &Id) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(id);
    }

    /// Forgets every session of user `user_id`.
    pub fn forget_user(&self, user_id: i64) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.retain(|_, entry| entry.user_id != user_id);
    }

    /// Forgets every session and service row.
    pub fn forget_all(&self) {
        let mut entries = self.entries();
        let mut services = self.services();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
        services.clear();
    }

    /// A notice arrived on [`CHANNEL`].
    fn hear(&self, payload: &str) {
        match payload {
            PING => {}
            "*" => self.forget_all(),
            other => {
                let id = |prefix| other.strip_prefix(prefix).and_then(|id| id.parse().ok());
                match (id("u:"), id("s:")) {
                    (Some(user_id), _) => self.forget_user(user_id),
                    (_, Some(service_id)) => self.forget_service(service_id),
                    // Not ours to understand: forgetting everything is always safe.
                    _ => self.forget_all(),
                }
            }
        }
        if payload != PING {
            self.notices.fetch_add(1, Ordering::SeqCst);
        }
        *self.heard_at() = Some(Instant::now());
    }

    /// The listener is not listening (any more): nothing is served, and what
    /// was kept is gone, since notices may be missed from now on.
    fn deaf(&self) {
        *self.heard_at() = None;
        self.forget_all();
    }
}

/// Listens on [`CHANNEL`] through a connection of its own to `listen_on` (the
/// pool's database; tests put a relay in between) and tells `cache` what it
/// hears, for as long as it runs; `db` sends the liveness notice. Reconnects
/// after a second when the connection fails or goes quiet for [`LIVE_FOR`].
pub async fn follow_revocations(
    cache: Arc<IdentityCache>,
    db: PgPool,
    listen_on: PgConnectOptions,
) {
    let pinger = tokio::spawn(ping_forever(db));
    // Aborts the pinger when this future is dropped (the server stopped).
    let _pinger = AbortOnDrop(pinger);
    loop {
        let why = match listen(&cache, &listen_on).await {
            Ok(why) => why.to_owned(),
            Err(error) => error.to_string(),
        };
        cache.deaf();
        tracing::warn!(
            reason = %why,
            "the identity cache's listener stopped; sessions are read from the database until it is back"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One listening connection, until it fails (`Err`), is lost or hears nothing,
/// not even the pings, for [`LIVE_FOR`] (`Ok`, saying which).
async fn listen(
    cache: &IdentityCache,
    listen_on: &PgConnectOptions,
) -> Result<&'static str, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(LIVE_FOR)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(listen_on.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection is this function's to report, not the listener's to
    // mend behind our back (notices would be missed meanwhile).
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    // Whatever was kept before may have changed while no one listened.
    cache.forget_all();
    loop {
        // Dropping `try_recv` midway is fine: the listener is dropped with it.
        match tokio::time::timeout(LIVE_FOR, listener.try_recv()).await {
            Ok(Ok(Some(notice))) => cache.hear(notice.payload()),
            Ok(Ok(None)) => return Ok("the connection was lost"),
            Ok(Err(error)) => return Err(error),
            Err(_quiet) => return Ok("nothing was heard, not even the liveness notice"),
        }
    }
}

/// Sends the liveness notice every [`PING_EVERY`] (every replica hears every
/// replica's; any one proves the listener hears).
async fn ping_forever(db: PgPool) {
    let mut every = tokio::time::interval(PING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = sqlx::query("select pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(PING)
            .execute(&db)
            .await
        {
            tracing::debug!(%error, "could not send the identity cache's liveness notice");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap as Map;

    fn record(id: i128) -> Record {
        Record {
            id: Id(id),
            data: Map::new(),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(1),
        }
    }

    const TWELVE_HOURS: time::Duration = time::Duration::hours(12);

    fn listening(cache: &IdentityCache) {
        cache.hear(PING);
    }

    #[test]
    fn nothing_is_served_or_kept_unless_the_listener_hears() {
        let cache = IdentityCache::new(Duration::from_secs(60));
        let ticket = cache.begin_read();
        cache.keep(ticket, &record(1), 7, OffsetDateTime::now_utc());
        listening(&cache);
        assert!(cache.get(&Id(1), TWELVE_HOURS).is_none(), "kept while deaf");

        let ticket = cache.begin_read();
        cache.keep(ticket, &record(1), 7, OffsetDateTime::now_utc());
        assert!(cache.get(&Id(1), TWELVE_HOURS).is_some());
        cache.deaf();
        assert!(
            cache.get(&Id(1), TWELVE_HOURS).is_none(),
            "served while deaf"
        );
        listening(&cache);
        assert!(
            cache.get(&Id(1), TWELVE_HOURS).is_none(),
            "kept across deafness"
        );
    }

    #[test]
    fn a_notice_forgets_that_users_sessions_only() {
        let cache = IdentityCache::new(Duration::from_secs(60));
        listening(&cache);
        for (id, user) in [(1, 7), (2, 7), (3, 8)] {
            let ticket = cache.begin_read();
            cache.keep(ticket, &record(id), user, OffsetDateTime::now_utc());
        }
        cache.hear("u:7");
        assert!(cache.get(&Id(1), TWELVE_HOURS).is_none());
        assert!(cache.get(&Id(2), TWELVE_HOURS).is_none());
        assert!(cache.get(&Id(3), TWELVE_HOURS).is_some());
        cache.hear("*");
        assert!(cache.get(&Id(3), TWELVE_HOURS).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_forgetting_is_not_kept() {
        let cache = IdentityCache::new(Duration::from_secs(60));
        listening(&cache);
        let ticket = cache.begin_read();
        cache.hear("u:99");
        cache.keep(ticket, &record(1), 7, OffsetDateTime::now_utc());
        assert!(cache.get(&Id(1), TWELVE_HOURS).is_none());
    }

    #[test]
    fn timeouts_count_as_in_the_statement() {
        let cache = IdentityCache::new(Duration::from_secs(60));
        listening(&cache);
        let mut expired = record(1);
        expired.expiry_date = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        let ticket = cache.begin_read();
        cache.keep(ticket, &expired, 7, OffsetDateTime::now_utc());
        assert!(cache.get(&Id(1), TWELVE_HOURS).is_none(), "idle timeout");
        let ticket = cache.begin_read();
        let old = OffsetDateTime::now_utc() - time::Duration::hours(13);
        cache.keep(ticket, &record(2), 7, old);
        assert!(
            cache.get(&Id(2), TWELVE_HOURS).is_none(),
            "absolute timeout"
        );
    }

    #[test]
    fn a_zero_reuse_time_keeps_nothing() {
        let cache = IdentityCache::new(Duration::ZERO);
        listening(&cache);
        let ticket = cache.begin_read();
        cache.keep(ticket, &record(1), 7, OffsetDateTime::now_utc());
        assert!(cache.get(&Id(1), TWELVE_HOURS).is_none());
    }
}
