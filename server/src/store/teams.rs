//! Teams and memberships.

use sqlx::PgExecutor;

/// A team.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Team {
    /// Row id.
    pub id: i64,
    /// DNS-1123 name, used in namespaces.
    pub name: String,
    /// Human name.
    pub display_name: String,
}

/// A team with counts, for the admin list.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TeamSummary {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Human name.
    pub display_name: String,
    /// Members.
    pub members: i64,
}

/// Inserts a team.
pub async fn insert(
    db: impl PgExecutor<'_>,
    name: &str,
    display_name: &str,
) -> Result<Team, sqlx::Error> {
    sqlx::query_as::<_, Team>(
        "insert into teams (name, display_name) values ($1, $2) returning id, name, display_name",
    )
    .bind(name)
    .bind(display_name)
    .fetch_one(db)
    .await
}

/// Finds a team by name.
pub async fn find_by_name(
    db: impl PgExecutor<'_>,
    name: &str,
) -> Result<Option<Team>, sqlx::Error> {
    sqlx::query_as::<_, Team>("select id, name, display_name from teams where name = $1")
        .bind(name)
        .fetch_optional(db)
        .await
}

/// All teams with member counts.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<TeamSummary>, sqlx::Error> {
    sqlx::query_as::<_, TeamSummary>(
        "select t.id, t.name, t.display_name, count(m.user_id) as members
         from teams t left join team_members m on m.team_id = t.id
         group by t.id order by t.name",
    )
    .fetch_all(db)
    .await
}

/// Every team's name, sorted (the catalog's team filter).
pub async fn names(db: impl PgExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("select name from teams order by name")
        .fetch_all(db)
        .await
}

/// Adds a member (idempotent).
pub async fn add_member(
    db: impl PgExecutor<'_>,
    team_id: i64,
    user_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into team_members (team_id, user_id) values ($1, $2) on conflict do nothing",
    )
    .bind(team_id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a member; true when they were one.
pub async fn remove_member(
    db: impl PgExecutor<'_>,
    team_id: i64,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from team_members where team_id = $1 and user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The members of a team, by email.
pub async fn members(
    db: impl PgExecutor<'_>,
    team_id: i64,
) -> Result<Vec<super::users::User>, sqlx::Error> {
    sqlx::query_as::<_, super::users::User>(
        "select u.id, u.email, u.is_admin from team_members m join users u on u.id = m.user_id
         where m.team_id = $1 order by u.email",
    )
    .bind(team_id)
    .fetch_all(db)
    .await
}
