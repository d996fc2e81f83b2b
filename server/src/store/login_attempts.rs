//! Login attempts, kept to throttle guessing per account and per client address.

use sqlx::PgExecutor;

/// Failed attempts within the window that lock further tries for an account.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Failed attempts within the window that lock further tries from one address.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// The window, in minutes.
pub const WINDOW_MINUTES: i32 = 15;

/// Records one attempt.
pub async fn record(
    db: impl PgExecutor<'_>,
    email: &str,
    client_addr: &str,
    succeeded: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into login_attempts (email, client_addr, succeeded) values ($1, $2, $3)")
        .bind(email)
        .bind(client_addr)
        .bind(succeeded)
        .execute(db)
        .await?;
    Ok(())
}

/// True when the account or the address has failed too often recently.
pub async fn is_throttled(
    db: impl PgExecutor<'_>,
    email: &str,
    client_addr: &str,
) -> Result<bool, sqlx::Error> {
    let (by_email, by_addr): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where email = $1), count(*) filter (where client_addr = $2)
         from login_attempts
         where not succeeded and created_at > now() - make_interval(mins => $3)
           and (email = $1 or client_addr = $2)",
    )
    .bind(email)
    .bind(client_addr)
    .bind(WINDOW_MINUTES)
    .fetch_one(db)
    .await?;
    Ok(by_email >= MAX_FAILURES_PER_ACCOUNT || by_addr >= MAX_FAILURES_PER_ADDRESS)
}
