//! Users and their team memberships.

use sqlx::PgExecutor;

/// A user as the rest of Slipway sees it (no password hash).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Lower-cased email, the login name.
    pub email: String,
    /// Global administrator.
    pub is_admin: bool,
}

/// A user's credentials, for login only.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    /// Row id.
    pub id: i64,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Set when an admin disabled the account.
    pub disabled: bool,
}

/// A user with the names of their teams, for lists.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserWithTeams {
    /// Row id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Global administrator.
    pub is_admin: bool,
    /// Team names, sorted.
    pub teams: Vec<String>,
}

/// Inserts a user; the email must already be normalised (lower case).
pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<User, sqlx::Error> {
    sqlx::query_as::<_, User>(
        "insert into users (email, password_hash, is_admin) values ($1, $2, $3)
         returning id, email, is_admin",
    )
    .bind(email)
    .bind(password_hash)
    .bind(is_admin)
    .fetch_one(db)
    .await
}

/// Finds an enabled user by id.
pub async fn find(db: impl PgExecutor<'_>, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(
        "select id, email, is_admin from users where id = $1 and disabled_at is null",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Finds a user by email.
pub async fn find_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>("select id, email, is_admin from users where email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

/// Credentials by email, for the login check.
pub async fn credentials(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as::<_, Credentials>(
        "select id, password_hash, disabled_at is not null as disabled from users where email = $1",
    )
    .bind(email)
    .fetch_optional(db)
    .await
}

/// Replaces a user's password hash.
pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: i64,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Names of the teams a user belongs to, sorted.
pub async fn team_names(db: impl PgExecutor<'_>, user_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select t.name from team_members m join teams t on t.id = m.team_id
         where m.user_id = $1 order by t.name",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Every user with their teams, sorted by email.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<UserWithTeams>, sqlx::Error> {
    sqlx::query_as::<_, UserWithTeams>(
        "select u.id, u.email, u.is_admin,
                coalesce(array_agg(t.name order by t.name) filter (where t.name is not null), '{}') as teams
         from users u
         left join team_members m on m.user_id = u.id
         left join teams t on t.id = m.team_id
         group by u.id order by u.email",
    )
    .fetch_all(db)
    .await
}
