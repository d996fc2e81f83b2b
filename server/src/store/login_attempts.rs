//! Login attempts, kept to slow down guessing (see `auth::throttle` for the rules).
//!
//! An attempt is written *before* its password is checked, as a failure, and
//! turned into a success afterwards: a crash, a timeout or forty parallel
//! requests can never check a password without being counted. The count and
//! the write happen under a per-address advisory lock, taken with *try*: a
//! second attempt from the same address while one is being counted is turned
//! away at once ([`Begun::Busy`]) instead of waiting, so a flood from one
//! address cannot pin the connection pool, and every attempt that is let
//! through saw all the ones before it from its address (the (account, address)
//! and address counts are exact; the account-wide count, a coarse backstop
//! across addresses, may miss attempts racing from other addresses).

use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;

/// Hours a failure is remembered for the (account, address) backoff.
pub const PAIR_WINDOW_HOURS: i32 = 24;
/// Minutes failures are counted for the per-address and per-account backoffs.
pub const WINDOW_MINUTES: i32 = 15;
/// Days a successful sign-in makes its address known to the account.
pub const KNOWN_ADDRESS_DAYS: i32 = 30;

/// Recent failures of one kind: how many, and when the last one was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recent {
    /// Failed (or still unchecked) attempts.
    pub failures: i64,
    /// The newest of them.
    pub last: Option<OffsetDateTime>,
}

/// What the throttle decides on, read in one query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// This account from this address, since the pair's last success (at most a day).
    pub pair: Recent,
    /// Any account from this address, within the window.
    pub address: Recent,
    /// This account from any address, within the window.
    pub account: Recent,
    /// Whether this address signed in to this account lately.
    pub known_address: bool,
    /// The database's clock when it counted.
    pub now: OffsetDateTime,
}

/// The outcome of [`begin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begun {
    /// Refused without counting; try again in this many seconds.
    Throttled {
        /// Seconds until an attempt would be let through.
        retry_after: u64,
    },
    /// Another attempt from this address is being counted right now.
    Busy,
    /// Counted as a failure until [`succeed`] says otherwise.
    Counted {
        /// The attempt's row.
        id: i64,
    },
}

/// Counts the recent failures for `email` from `client_addr` and, unless `refuse`
/// returns a wait in seconds, records a new attempt as a failure, atomically
/// for the address.
pub async fn begin(
    db: &PgPool,
    email: &str,
    client_addr: &str,
    refuse: impl FnOnce(&Counts) -> Option<u64>,
) -> Result<Begun, sqlx::Error> {
    let mut tx = db.begin().await?;
    let locked: bool = sqlx::query_scalar(
        "select pg_try_advisory_xact_lock(hashtextextended('login-address:' || $1, 0))",
    )
    .bind(client_addr)
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        tx.rollback().await?;
        return Ok(Begun::Busy);
    }
    let counts = counts(&mut *tx, email, client_addr).await?;
    if let Some(retry_after) = refuse(&counts) {
        tx.rollback().await?;
        return Ok(Begun::Throttled { retry_after });
    }
    let id: i64 = sqlx::query_scalar(
        "insert into login_attempts (email, client_addr, succeeded) values ($1, $2, false)
         returning id",
    )
    .bind(email)
    .bind(client_addr)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Begun::Counted { id })
}

type CountsRow = (
    i64,
    Option<OffsetDateTime>,
    i64,
    Option<OffsetDateTime>,
    i64,
    Option<OffsetDateTime>,
    bool,
    OffsetDateTime,
);

async fn counts(
    db: impl PgExecutor<'_>,
    email: &str,
    client_addr: &str,
) -> Result<Counts, sqlx::Error> {
    let row: CountsRow = sqlx::query_as(
        "with pair_success as (
             select max(created_at) as at from login_attempts
             where email = $1 and client_addr = $2 and succeeded
         ),
         failed as (
             select email, client_addr, created_at from login_attempts
             where not succeeded and (email = $1 or client_addr = $2)
               and created_at > now() - make_interval(hours => $3)
         ),
         pair as (
             select created_at from failed
             where email = $1 and client_addr = $2
               and created_at > coalesce((select at from pair_success), '-infinity')
         ),
         by_address as (
             select created_at from failed
             where client_addr = $2 and created_at > now() - make_interval(mins => $4)
         ),
         by_account as (
             select created_at from failed
             where email = $1 and created_at > now() - make_interval(mins => $4)
         )
         select (select count(*) from pair), (select max(created_at) from pair),
                (select count(*) from by_address), (select max(created_at) from by_address),
                (select count(*) from by_account), (select max(created_at) from by_account),
                coalesce((select at from pair_success) > now() - make_interval(days => $5), false),
                now()",
    )
    .bind(email)
    .bind(client_addr)
    .bind(PAIR_WINDOW_HOURS)
    .bind(WINDOW_MINUTES)
    .bind(KNOWN_ADDRESS_DAYS)
    .fetch_one(db)
    .await?;
    Ok(Counts {
        pair: Recent {
            failures: row.0,
            last: row.1,
        },
        address: Recent {
            failures: row.2,
            last: row.3,
        },
        account: Recent {
            failures: row.4,
            last: row.5,
        },
        known_address: row.6,
        now: row.7,
    })
}

/// Marks attempt `id` as a success: the password was right.
pub async fn succeed(db: impl PgExecutor<'_>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update login_attempts set succeeded = true where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets attempt `id`: its password was never checked (the server was too busy),
/// so it must not count against the person who made it.
pub async fn forget(db: impl PgExecutor<'_>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("delete from login_attempts where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes what the throttle no longer reads: failures older than the pair
/// window, successes older than the known-address period. Returns the count.
pub async fn purge(db: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "delete from login_attempts
         where (not succeeded and created_at < now() - make_interval(hours => $1))
            or created_at < now() - make_interval(days => $2)",
    )
    .bind(PAIR_WINDOW_HOURS)
    .bind(KNOWN_ADDRESS_DAYS)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
