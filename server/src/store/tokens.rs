//! Personal API tokens, stored as SHA-256 hashes.

use sqlx::PgExecutor;
use time::OffsetDateTime;

use super::users::User;

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
}

/// Stores a token hash.
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

/// The enabled user owning a live token with this hash; marks the token used.
pub async fn authenticate(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(
        "with used as (
             update api_tokens set last_used_at = now()
             where token_hash = $1 and revoked_at is null
             returning user_id)
         select u.id, u.email, u.is_admin from users u join used on used.user_id = u.id
         where u.disabled_at is null",
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
    sqlx::query_as::<_, TokenInfo>(
        "select id, name, created_at, last_used_at, revoked_at from api_tokens
         where user_id = $1 order by id desc",
    )
    .bind(user_id)
    .fetch_all(db)
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
