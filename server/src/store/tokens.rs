//! Personal API tokens, stored as SHA-256 hashes, with an expiry and scopes.

use sqlx::PgExecutor;
use time::OffsetDateTime;

/// A token's metadata (never the token).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenInfo {
    /// Row id.
    pub id: i64,
    /// The owner's name for it.
    pub name: String,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last used.
    pub last_used_at: Option<OffsetDateTime>,
    /// When revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// Scope names (`read`, `deploy`, `approve`).
    pub scopes: Vec<String>,
}

/// A token's metadata with its owner, for the administrators' list.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OwnedToken {
    /// The owner's user id.
    pub user_id: i64,
    /// The owner's email.
    pub owner: String,
    /// The token.
    #[sqlx(flatten)]
    pub token: TokenInfo,
}

/// What a presented token hash is, when it is one of ours and not revoked.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Presented {
    /// The owner.
    pub user_id: i64,
    /// Past its expiry.
    pub expired: bool,
    /// Its owner is disabled.
    pub owner_disabled: bool,
    /// Scope names.
    pub scopes: Vec<String>,
}

const COLUMNS: &str =
    "t.id, t.name, t.created_at, t.last_used_at, t.revoked_at, t.expires_at, t.scopes";

/// Stores a token hash with the defaults of the table (90 days, every scope).
pub async fn insert(
    db: impl PgExecutor<'_>,
    user_id: i64,
    name: &str,
    token_hash: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into api_tokens (user_id, name, token_hash) values ($1, $2, $3) returning id",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .fetch_one(db)
    .await
}

/// Stores a token hash with its expiry and scope names.
pub async fn insert_with(
    db: impl PgExecutor<'_>,
    user_id: i64,
    name: &str,
    token_hash: &str,
    expires_at: OffsetDateTime,
    scopes: &[&str],
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into api_tokens (user_id, name, token_hash, expires_at, scopes)
         values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(expires_at)
    .bind(scopes)
    .fetch_one(db)
    .await
}

/// Looks up a presented token (`None`: unknown or revoked) and marks it used
/// when it may still be used (not expired, owner enabled).
pub async fn authenticate(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> Result<Option<Presented>, sqlx::Error> {
    sqlx::query_as::<_, Presented>(
        "with found as (
             select t.id, t.user_id, t.expires_at <= now() as expired,
                    u.disabled_at is not null as owner_disabled, t.scopes
             from api_tokens t join users u on u.id = t.user_id
             where t.token_hash = $1 and t.revoked_at is null),
         used as (
             update api_tokens set last_used_at = now()
             where id in (select id from found where not expired and not owner_disabled))
         select user_id, expired, owner_disabled, scopes from found",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// A user's tokens, newest first.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as::<_, TokenInfo>(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from api_tokens t where t.user_id = $1 order by t.id desc"
    )))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Every user's tokens with their owners, newest first (administrators' list).
pub async fn list_all(db: impl PgExecutor<'_>) -> Result<Vec<OwnedToken>, sqlx::Error> {
    sqlx::query_as::<_, OwnedToken>(sqlx::AssertSqlSafe(format!(
        "select t.user_id, u.email as owner, {COLUMNS}
         from api_tokens t join users u on u.id = t.user_id order by t.id desc"
    )))
    .fetch_all(db)
    .await
}

/// One token with its owner, locked (`for update`: a revocation and its audit
/// entry see one state).
pub async fn lock(
    db: impl PgExecutor<'_>,
    token_id: i64,
) -> Result<Option<OwnedToken>, sqlx::Error> {
    sqlx::query_as::<_, OwnedToken>(sqlx::AssertSqlSafe(format!(
        "select t.user_id, u.email as owner, {COLUMNS}
         from api_tokens t join users u on u.id = t.user_id where t.id = $1 for update of t"
    )))
    .bind(token_id)
    .fetch_optional(db)
    .await
}

/// Revokes one of the user's tokens; true when it was live.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    user_id: i64,
    token_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update api_tokens set revoked_at = now() where id = $1 and user_id = $2 and revoked_at is null",
    )
    .bind(token_id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
