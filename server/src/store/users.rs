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
    /// The epoch a session signed in now belongs to (see [`find_signed_in`]).
    pub session_epoch: i32,
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
    /// Disabled by an administrator: no sign-in, no session, no token.
    pub disabled: bool,
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

/// A user's state as the access actions need it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Access {
    /// Row id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Global administrator.
    pub is_admin: bool,
    /// Disabled.
    pub disabled: bool,
}

/// Locks and returns the user's row (`for update`: one access change of a
/// user at a time), `None` when there is no such user.
pub async fn lock_access(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Access>, sqlx::Error> {
    sqlx::query_as::<_, Access>(
        "select id, email, is_admin, disabled_at is not null as disabled from users
         where id = $1 for update",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Locks every enabled administrator's row and counts them. Two admins
/// demoting each other at once take turns here, and the second sees the
/// first's change, so the last enabled administrator is never removed.
pub async fn lock_enabled_admins(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select id from users where is_admin and disabled_at is null order by id for update",
    )
    .fetch_all(db)
    .await?;
    Ok(ids.len() as i64)
}

/// Disables or re-enables a user. Disabling also bumps the session epoch, so
/// re-enabling later does not revive the sessions that were open.
pub async fn set_disabled(
    db: impl PgExecutor<'_>,
    id: i64,
    disabled: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update users set
             disabled_at = case when $2 then coalesce(disabled_at, now()) end,
             session_epoch = session_epoch + case when $2 then 1 else 0 end
         where id = $1",
    )
    .bind(id)
    .bind(disabled)
    .execute(db)
    .await?;
    Ok(())
}

/// Grants or takes away administration.
pub async fn set_admin(
    db: impl PgExecutor<'_>,
    id: i64,
    is_admin: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("update users set is_admin = $2 where id = $1")
        .bind(id)
        .bind(is_admin)
        .execute(db)
        .await?;
    Ok(())
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
        "select id, password_hash, disabled_at is not null as disabled, session_epoch
         from users where email = $1",
    )
    .bind(email)
    .fetch_optional(db)
    .await
}

/// The password hash of an enabled user, for re-authentication.
pub async fn password_hash(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select password_hash from users where id = $1 and disabled_at is null")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Replaces a user's password hash and ends every session they have (bumps
/// the session epoch); returns the new epoch, for the session that stays.
pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: i64,
    password_hash: &str,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "update users set password_hash = $2, session_epoch = session_epoch + 1
         where id = $1 returning session_epoch",
    )
    .bind(id)
    .bind(password_hash)
    .fetch_one(db)
    .await
}

/// Names of the teams a user belongs to, sorted.
pub async fn team_names(db: impl PgExecutor<'_>, user_id: i64) -> Result<Vec<String>, sqlx::Error> {
    Ok(standing(db, user_id).await?.0)
}

/// User `user_id`'s teams and the environments a provider group makes them
/// an approver of, both sorted by name, in one round trip.
pub async fn standing(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
    sqlx::query_as(
        "select array(select t.name from team_members m join teams t on t.id = m.team_id
                      where m.user_id = $1 order by t.name) as teams,
                array(select e.name from environment_approvers a
                      join environments e on e.id = a.environment_id
                      where a.user_id = $1 order by e.name) as approves",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// An enabled user with their teams and the environments a provider group
/// makes them an approver of (both sorted by name): what a request needs to
/// know about who is asking, read in one round trip.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Signed {
    /// Row id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Global administrator.
    pub is_admin: bool,
    /// Team names.
    pub teams: Vec<String>,
    /// Environment names.
    pub approves: Vec<String>,
}

/// The columns `teams` and `approves` of the user `u` of a statement: their
/// team names and approver environments, sorted (also read with a session,
/// `store::sessions`).
pub(crate) const STANDING_COLUMNS: &str =
    "array(select t.name from team_members m join teams t on t.id = m.team_id
           where m.user_id = u.id order by t.name) as teams,
     array(select e.name from environment_approvers a
           join environments e on e.id = a.environment_id
           where a.user_id = u.id order by e.name) as approves";

/// An enabled user as [`Signed`], by id (`$1`); built once.
static SIGNED_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "select u.id, u.email, u.is_admin, {STANDING_COLUMNS}
         from users u
         where u.id = $1 and u.disabled_at is null"
    )
});

/// [`Signed`] of enabled user `id` (API tokens: no session epoch to match).
pub async fn find_signed(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Signed>, sqlx::Error> {
    sqlx::query_as::<_, Signed>(sqlx::AssertSqlSafe(SIGNED_SELECT.as_str()))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// [`Signed`] of the user a session of `epoch` belongs to: `None` when the
/// user is gone or disabled, or when their sessions were ended since (a
/// password change or disabling bumps `session_epoch`).
pub async fn find_signed_session(
    db: impl PgExecutor<'_>,
    id: i64,
    epoch: i32,
) -> Result<Option<Signed>, sqlx::Error> {
    sqlx::query_as::<_, Signed>(sqlx::AssertSqlSafe(format!(
        "{} and u.session_epoch = $2",
        SIGNED_SELECT.as_str()
    )))
    .bind(id)
    .bind(epoch)
    .fetch_optional(db)
    .await
}

/// Every user with their teams, sorted by email.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<UserWithTeams>, sqlx::Error> {
    sqlx::query_as::<_, UserWithTeams>(
        "select u.id, u.email, u.is_admin, u.disabled_at is not null as disabled,
                coalesce(array_agg(t.name order by t.name) filter (where t.name is not null), '{}') as teams
         from users u
         left join team_members m on m.user_id = u.id
         left join teams t on t.id = m.team_id
         group by u.id order by u.email",
    )
    .fetch_all(db)
    .await
}
