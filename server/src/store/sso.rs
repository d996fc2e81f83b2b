//! Single sign-on rows: users' identities at the provider, the group
//! mappings, and the memberships and admin roles groups granted.

use sqlx::{PgExecutor, Postgres, Transaction};

use super::users::User;

/// The password hash of a user created through single sign-on: no PHC
/// string, so no password ever verifies (`auth::password::verify`).
pub const NO_PASSWORD: &str = "!sso";

/// A user as single sign-on finds them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SsoUser {
    /// Row id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Disabled by an administrator.
    pub disabled: bool,
    /// The session epoch a new session belongs to.
    pub session_epoch: i32,
    /// The provider subject the user is linked to, if any.
    pub oidc_subject: Option<String>,
    /// The issuer of that subject.
    pub oidc_issuer: Option<String>,
}

/// The columns of [`SsoUser`], as a literal so queries stay static strings.
macro_rules! sso_user {
    () => {
        "select id, email, disabled_at is not null as disabled, session_epoch,
         oidc_subject, oidc_issuer from users"
    };
}

/// The user linked to (`issuer`, `subject`).
pub async fn by_subject(
    db: impl PgExecutor<'_>,
    issuer: &str,
    subject: &str,
) -> Result<Option<SsoUser>, sqlx::Error> {
    sqlx::query_as::<_, SsoUser>(concat!(
        sso_user!(),
        " where oidc_issuer = $1 and oidc_subject = $2"
    ))
    .bind(issuer)
    .bind(subject)
    .fetch_optional(db)
    .await
}

/// The user with `email`, locked for the sign-in that links or updates it.
pub async fn by_email_for_update(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<SsoUser>, sqlx::Error> {
    sqlx::query_as::<_, SsoUser>(concat!(sso_user!(), " where email = $1 for update"))
        .bind(email)
        .fetch_optional(db)
        .await
}

/// Links user `id` to (`issuer`, `subject`).
pub async fn link(
    db: impl PgExecutor<'_>,
    id: i64,
    issuer: &str,
    subject: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update users set oidc_issuer = $2, oidc_subject = $3 where id = $1")
        .bind(id)
        .bind(issuer)
        .bind(subject)
        .execute(db)
        .await?;
    Ok(())
}

/// Creates a user first seen through the provider, without a password.
pub async fn insert(
    db: impl PgExecutor<'_>,
    email: &str,
    issuer: &str,
    subject: &str,
) -> Result<SsoUser, sqlx::Error> {
    sqlx::query_as::<_, SsoUser>(
        "insert into users (email, password_hash, oidc_issuer, oidc_subject)
         values ($1, $2, $3, $4)
         returning id, email, disabled_at is not null as disabled, session_epoch,
                   oidc_subject, oidc_issuer",
    )
    .bind(email)
    .bind(NO_PASSWORD)
    .bind(issuer)
    .bind(subject)
    .fetch_one(db)
    .await
}

/// A group mapping with its team's name.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Mapping {
    /// Row id.
    pub id: i64,
    /// The provider's group name.
    pub group_name: String,
    /// The team its members join, if any.
    pub team: Option<String>,
    /// Whether its members are administrators.
    pub grants_admin: bool,
    /// The environment its members approve deploys to, if any.
    pub approves: Option<String>,
}

/// What one mapping grants (each row grants exactly one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Membership of the team with this id.
    Team(i64),
    /// The administrator role.
    Admin,
    /// Approving deploys to the environment with this id.
    Approver(i64),
}

/// Every mapping, by group then what it grants.
pub async fn mappings(db: impl PgExecutor<'_>) -> Result<Vec<Mapping>, sqlx::Error> {
    sqlx::query_as::<_, Mapping>(
        "select m.id, m.group_name, t.name as team, m.grants_admin, e.name as approves
         from oidc_group_mappings m left join teams t on t.id = m.team_id
              left join environments e on e.id = m.environment_id
         order by m.group_name, t.name nulls first, e.name nulls first",
    )
    .fetch_all(db)
    .await
}

/// Adds a mapping; `None` when the same one exists already.
pub async fn insert_mapping(
    db: impl PgExecutor<'_>,
    group_name: &str,
    grant: Grant,
) -> Result<Option<i64>, sqlx::Error> {
    let (team_id, grants_admin, environment_id) = match grant {
        Grant::Team(id) => (Some(id), false, None),
        Grant::Admin => (None, true, None),
        Grant::Approver(id) => (None, false, Some(id)),
    };
    sqlx::query_scalar(
        "insert into oidc_group_mappings (group_name, team_id, grants_admin, environment_id)
         values ($1, $2, $3, $4) on conflict do nothing returning id",
    )
    .bind(group_name)
    .bind(team_id)
    .bind(grants_admin)
    .bind(environment_id)
    .fetch_optional(db)
    .await
}

/// Deletes mapping `id`; the deleted row, if there was one.
pub async fn delete_mapping(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<Mapping>, sqlx::Error> {
    sqlx::query_as::<_, Mapping>(
        "with gone as (delete from oidc_group_mappings where id = $1 returning *)
         select gone.id, gone.group_name, t.name as team, gone.grants_admin, e.name as approves
         from gone left join teams t on t.id = gone.team_id
              left join environments e on e.id = gone.environment_id",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// What applying a user's groups changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupChanges {
    /// Teams joined, as `team (group)`.
    pub joined: Vec<String>,
    /// Teams left because no group grants them any more.
    pub left: Vec<String>,
    /// Administrator role granted (`Some(true)`) or taken back (`Some(false)`).
    pub admin: Option<bool>,
    /// Environments they now approve, as `environment (group)`.
    pub approves: Vec<String>,
    /// Environments they no longer approve because no group grants it.
    pub stopped_approving: Vec<String>,
}

impl GroupChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
            && self.left.is_empty()
            && self.admin.is_none()
            && self.approves.is_empty()
            && self.stopped_approving.is_empty()
    }
}

/// Makes user `user_id`'s group-granted memberships, approver environments
/// and admin role follow `groups`: joins each mapped team not yet joined,
/// leaves each team a group granted that no current group grants, does the
/// same for the environments groups make them an approver of, and grants or
/// takes back the administrator role a group gave. What an administrator
/// granted by hand stays as it is.
pub async fn apply_groups(
    tx: &mut Transaction<'_, Postgres>,
    user_id: i64,
    groups: &[String],
) -> Result<GroupChanges, sqlx::Error> {
    let mut changes = GroupChanges::default();
    let joined: Vec<(String, String)> = sqlx::query_as(
        "insert into team_members (team_id, user_id, granted_by_group)
         select distinct on (m.team_id) m.team_id, $1, m.group_name
         from oidc_group_mappings m
         where m.team_id is not null and m.group_name = any($2)
         order by m.team_id, m.group_name
         on conflict (team_id, user_id) do nothing
         returning (select name from teams where id = team_id), granted_by_group",
    )
    .bind(user_id)
    .bind(groups)
    .fetch_all(&mut **tx)
    .await?;
    changes.joined = joined
        .into_iter()
        .map(|(team, group)| format!("{team} ({group})"))
        .collect();
    let left: Vec<String> = sqlx::query_scalar(
        "delete from team_members tm
         where tm.user_id = $1 and tm.granted_by_group is not null
           and not exists (select 1 from oidc_group_mappings m
                           where m.team_id = tm.team_id and m.group_name = any($2))
         returning (select name from teams where id = tm.team_id)",
    )
    .bind(user_id)
    .bind(groups)
    .fetch_all(&mut **tx)
    .await?;
    changes.left = left;
    let approves: Vec<(String, String)> = sqlx::query_as(
        "insert into environment_approvers (environment_id, user_id, granted_by_group)
         select distinct on (m.environment_id) m.environment_id, $1, m.group_name
         from oidc_group_mappings m
         where m.environment_id is not null and m.group_name = any($2)
         order by m.environment_id, m.group_name
         on conflict (user_id, environment_id) do nothing
         returning (select name from environments where id = environment_id), granted_by_group",
    )
    .bind(user_id)
    .bind(groups)
    .fetch_all(&mut **tx)
    .await?;
    changes.approves = approves
        .into_iter()
        .map(|(environment, group)| format!("{environment} ({group})"))
        .collect();
    changes.stopped_approving = sqlx::query_scalar(
        "delete from environment_approvers a
         where a.user_id = $1
           and not exists (select 1 from oidc_group_mappings m
                           where m.environment_id = a.environment_id and m.group_name = any($2))
         returning (select name from environments where id = a.environment_id)",
    )
    .bind(user_id)
    .bind(groups)
    .fetch_all(&mut **tx)
    .await?;
    let admin_groups: bool = sqlx::query_scalar(
        "select exists (select 1 from oidc_group_mappings
                        where grants_admin and group_name = any($1))",
    )
    .bind(groups)
    .fetch_one(&mut **tx)
    .await?;
    let (is_admin, by_group): (bool, bool) =
        sqlx::query_as("select is_admin, admin_by_group from users where id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
    if admin_groups && !is_admin {
        sqlx::query("update users set is_admin = true, admin_by_group = true where id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        changes.admin = Some(true);
    } else if !admin_groups && is_admin && by_group {
        // Taking a role back ends the user's other sessions, as a demotion by
        // an administrator does.
        sqlx::query(
            "update users set is_admin = false, admin_by_group = false,
                 session_epoch = session_epoch + 1 where id = $1",
        )
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        changes.admin = Some(false);
    }
    Ok(changes)
}

/// The user as the rest of Slipway sees it.
pub async fn user(db: impl PgExecutor<'_>, id: i64) -> Result<User, sqlx::Error> {
    sqlx::query_as::<_, User>("select id, email, is_admin from users where id = $1")
        .bind(id)
        .fetch_one(db)
        .await
}

/// The session epoch of user `id` (after [`apply_groups`] may have moved it).
pub async fn session_epoch(db: impl PgExecutor<'_>, id: i64) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("select session_epoch from users where id = $1")
        .bind(id)
        .fetch_one(db)
        .await
}
