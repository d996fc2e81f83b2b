//! Accounts: users, teams, memberships and API tokens. The admin pages, the
//! account page and `slipway admin …` all call these, so one rule holds for
//! each: input is checked before `begin()`, and every change writes its audit
//! entry in its own transaction (the CLI acts as [`Actor::system`]).

use serde_json::json;
use sqlx::PgPool;

use crate::auth::{password, tokens};
use crate::error::{AppError, FieldError, ResultExt as _};
use crate::spec::names;
use crate::store::{self, audit::Actor, teams::Team, users::User};

/// Audit actions written here.
pub mod actions {
    /// A user was created.
    pub const USER_CREATE: &str = "user.create";
    /// A team was created.
    pub const TEAM_CREATE: &str = "team.create";
    /// A member joined a team.
    pub const MEMBER_ADD: &str = "team.member.add";
    /// A member left a team.
    pub const MEMBER_REMOVE: &str = "team.member.remove";
    /// An API token was created.
    pub const TOKEN_CREATE: &str = "token.create";
    /// An API token was revoked.
    pub const TOKEN_REVOKE: &str = "token.revoke";
}

/// Longest team name: the `teams_name_format` constraint (teams become namespace prefixes).
pub const MAX_TEAM_NAME: usize = 30;
/// Longest display name of a team.
pub const MAX_DISPLAY_NAME: usize = 100;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 254;

/// A new user as typed (portal form or CLI flags); `Debug` by hand so the password is never logged.
#[derive(Clone, Default)]
pub struct UserInput {
    /// Email as typed.
    pub email: String,
    /// The initial password (never rendered back).
    pub password: String,
    /// Whether the user becomes a global admin.
    pub is_admin: bool,
    /// Names of the teams to join.
    pub teams: Vec<String>,
}

impl std::fmt::Debug for UserInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInput")
            .field("email", &self.email)
            .field("password", &"***")
            .field("is_admin", &self.is_admin)
            .field("teams", &self.teams)
            .finish()
    }
}

impl UserInput {
    /// Reads the urlencoded pairs; `teams` may repeat (one checkbox per team).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "email" => form.email = value,
                "password" => form.password = value,
                "is_admin" => form.is_admin = matches!(value.as_str(), "on" | "true" | "1"),
                "teams" if !value.is_empty() && !form.teams.contains(&value) => {
                    form.teams.push(value);
                }
                _ => {}
            }
        }
        form
    }

    /// True when `team` was ticked (for re-rendering the form).
    pub fn has_team(&self, team: &str) -> bool {
        self.teams.iter().any(|t| t == team)
    }
}

/// A new team as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TeamInput {
    /// DNS-1123 name.
    #[serde(default)]
    pub name: String,
    /// Human name; the name when empty.
    #[serde(default)]
    pub display_name: String,
}

/// A member to add, by email.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct MemberInput {
    /// Email of the user to add.
    #[serde(default)]
    pub email: String,
}

fn field(path: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(path, message)
}

/// Normalises an email (trimmed, lower case) or says why it is not one.
pub fn parse_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("required");
    }
    if email.len() > MAX_EMAIL {
        return Err("must be at most 254 characters");
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err("is not an email address")
    }
}

/// A checked "create user" form.
#[derive(Debug)]
struct NewUser {
    email: String,
    is_admin: bool,
    teams: Vec<String>,
}

fn check_user(form: &UserInput, known_teams: &[String]) -> Result<NewUser, Vec<FieldError>> {
    let mut problems = Vec::new();
    let email = parse_email(&form.email).unwrap_or_else(|message| {
        problems.push(field("email", message));
        String::new()
    });
    if let Some(problem) = password::strength_problem(&form.password, &email) {
        problems.push(field("password", problem));
    }
    for team in &form.teams {
        if !known_teams.contains(team) {
            problems.push(field("teams", format!("there is no team `{team}`")));
        }
    }
    if problems.is_empty() {
        Ok(NewUser {
            email,
            is_admin: form.is_admin,
            teams: form.teams.clone(),
        })
    } else {
        Err(problems)
    }
}

/// Creates a user with a password and team memberships; audited as `user.create`.
pub async fn create_user(db: &PgPool, actor: &Actor, form: &UserInput) -> Result<User, AppError> {
    let known: Vec<String> = store::teams::list(db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let new = check_user(form, &known).map_err(AppError::Invalid)?;
    let attempt = form.password.clone();
    // Hashing takes tens of milliseconds of CPU: keep it off the async workers.
    let hash = tokio::task::spawn_blocking(move || password::hash(&attempt))
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
    let mut tx = db.begin().await?;
    let user = store::users::insert(&mut *tx, &new.email, &hash, new.is_admin)
        .await
        .on_constraint("users_email_key", || {
            AppError::invalid("email", "a user with this email exists")
        })?;
    for name in &new.teams {
        let team = store::teams::find_by_name(&mut *tx, name)
            .await?
            .ok_or_else(|| AppError::invalid("teams", format!("there is no team `{name}`")))?;
        store::teams::add_member(&mut *tx, team.id, user.id).await?;
    }
    store::audit::record(
        &mut *tx,
        actor,
        actions::USER_CREATE,
        &user.email,
        json!({"admin": new.is_admin, "teams": new.teams}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = user.id, "user created");
    Ok(user)
}

/// A checked "create team" form: (name, display name).
fn check_team(form: &TeamInput) -> Result<(String, String), Vec<FieldError>> {
    let mut problems = Vec::new();
    let name = form.name.trim().to_owned();
    if name.is_empty() {
        problems.push(field("name", "required"));
    } else if name.len() > MAX_TEAM_NAME {
        problems.push(field("name", "must be at most 30 characters"));
    } else if let Err(message) = names::dns_label(&name) {
        problems.push(field("name", message));
    }
    let display = form.display_name.trim();
    if display.chars().count() > MAX_DISPLAY_NAME {
        problems.push(field("display_name", "must be at most 100 characters"));
    }
    let display = if display.is_empty() {
        name.clone()
    } else {
        display.to_owned()
    };
    if problems.is_empty() {
        Ok((name, display))
    } else {
        Err(problems)
    }
}

/// Creates a team; audited as `team.create`.
pub async fn create_team(db: &PgPool, actor: &Actor, form: &TeamInput) -> Result<Team, AppError> {
    let (name, display) = check_team(form).map_err(AppError::Invalid)?;
    let problems = super::tenancy::check_new_team(db, &name).await?;
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let mut tx = db.begin().await?;
    let team = store::teams::insert(&mut *tx, &name, &display)
        .await
        .on_constraint("teams_name_key", || {
            AppError::invalid("name", "a team with this name exists")
        })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::TEAM_CREATE,
        &team.name,
        json!({"display_name": team.display_name}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(team = %team.name, "team created");
    Ok(team)
}

/// Adds the user with `form.email` to `team`; audited as `team.member.add`.
pub async fn add_member(
    db: &PgPool,
    actor: &Actor,
    team: &Team,
    form: &MemberInput,
) -> Result<User, AppError> {
    let email = parse_email(&form.email).map_err(|m| AppError::invalid("email", m))?;
    let mut tx = db.begin().await?;
    let user = store::users::find_by_email(&mut *tx, &email)
        .await?
        .ok_or_else(|| AppError::invalid("email", "there is no user with this email"))?;
    let members = store::teams::members(&mut *tx, team.id).await?;
    if members.iter().any(|m| m.id == user.id) {
        return Err(AppError::invalid("email", "is already a member"));
    }
    store::teams::add_member(&mut *tx, team.id, user.id).await?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::MEMBER_ADD,
        &team.name,
        json!({"user": user.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Removes a member from `team`; audited as `team.member.remove`. Not a member: `NotFound`.
pub async fn remove_member(
    db: &PgPool,
    actor: &Actor,
    team: &Team,
    user_id: i64,
) -> Result<User, AppError> {
    let mut tx = db.begin().await?;
    let user = store::teams::members(&mut *tx, team.id)
        .await?
        .into_iter()
        .find(|m| m.id == user_id)
        .ok_or(AppError::NotFound)?;
    if !store::teams::remove_member(&mut *tx, team.id, user.id).await? {
        return Err(AppError::NotFound);
    }
    store::audit::record(
        &mut *tx,
        actor,
        actions::MEMBER_REMOVE,
        &team.name,
        json!({"user": user.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Longest token name.
pub const MAX_TOKEN_NAME: usize = 64;

/// A token just created: the only time its value is shown.
#[derive(Clone)]
pub struct NewToken {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The token.
    pub value: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &"***")
            .finish()
    }
}

fn check_token_name(raw: &str) -> Result<String, Vec<FieldError>> {
    let name = raw.trim();
    let problem = if name.is_empty() {
        "required"
    } else if name.chars().count() > MAX_TOKEN_NAME {
        "must be at most 64 characters"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(name.to_owned());
    };
    Err(vec![field("name", problem)])
}

/// Creates an API token for `owner`; only its SHA-256 is stored. Audited as
/// `token.create` with the name, never the value.
pub async fn create_token(
    db: &PgPool,
    actor: &Actor,
    owner: &User,
    raw_name: &str,
) -> Result<NewToken, AppError> {
    let name = check_token_name(raw_name).map_err(AppError::Invalid)?;
    let value = tokens::generate();
    let mut tx = db.begin().await?;
    let id = store::tokens::insert(&mut *tx, owner.id, &name, &tokens::hash(&value))
        .await
        .on_constraint("api_tokens_user_id_name_key", || {
            AppError::invalid("name", "you already have a token with this name")
        })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::TOKEN_CREATE,
        &owner.email,
        json!({"token": name, "id": id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = id, "API token created");
    Ok(NewToken { id, name, value })
}

/// Revokes one of `owner`'s tokens; `Some(name)` when it was live, `None` when
/// already revoked, `NotFound` when it is not theirs. Audited as `token.revoke`.
pub async fn revoke_token(
    db: &PgPool,
    actor: &Actor,
    owner: &User,
    id: i64,
) -> Result<Option<String>, AppError> {
    let mut tx = db.begin().await?;
    let token = store::tokens::list_for_user(&mut *tx, owner.id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound)?;
    if !store::tokens::revoke(&mut *tx, owner.id, id).await? {
        return Ok(None);
    }
    store::audit::record(
        &mut *tx,
        actor,
        actions::TOKEN_REVOKE,
        &owner.email,
        json!({"token": token.name, "id": id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = id, "API token revoked");
    Ok(Some(token.name))
}

/// The user with `email` (normalised as [`parse_email`] does), or a field error on `email`.
pub async fn user_by_email(db: &PgPool, email: &str) -> Result<User, AppError> {
    let email = parse_email(email).map_err(|m| AppError::invalid("email", m))?;
    store::users::find_by_email(db, &email)
        .await?
        .ok_or_else(|| AppError::invalid("email", "there is no user with this email"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn user_form_collects_repeated_team_boxes() {
        let form = UserInput::from_pairs(pairs(&[
            ("email", "A@x.io"),
            ("teams", "shop"),
            ("teams", "billing"),
            ("teams", "shop"),
            ("is_admin", "on"),
            ("csrf_token", "t"),
        ]));
        assert_eq!(form.teams, ["shop", "billing"]);
        assert!(form.is_admin);
        assert!(form.has_team("billing"));
    }

    #[test]
    fn user_form_debug_hides_the_password() {
        let form = UserInput::from_pairs(pairs(&[("password", "hunter2-hunter2")]));
        assert!(!format!("{form:?}").contains("hunter2"));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            parse_email("  Ann@Example.COM "),
            Ok("ann@example.com".into())
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in ["", "ann", "@x.io", "ann@", "a b@x.io", "a@b@c", "ann@.io"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_user_problem_is_reported_at_once() {
        let form = UserInput::from_pairs(pairs(&[
            ("email", "nope"),
            ("password", "short"),
            ("teams", "ghost"),
        ]));
        let problems = check_user(&form, &["shop".into()]).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["email", "password", "teams"]);
    }

    #[test]
    fn token_names_are_trimmed_and_required() {
        assert_eq!(check_token_name("  ci  ").unwrap(), "ci");
        assert_eq!(check_token_name("   ").unwrap_err()[0].message, "required");
        assert!(check_token_name(&"x".repeat(65)).is_err());
        assert!(check_token_name("a\u{7}b").is_err());
    }

    #[test]
    fn a_new_token_never_shows_in_debug_output() {
        let t = NewToken {
            id: 1,
            name: "ci".into(),
            value: "slw_secret".into(),
        };
        assert!(!format!("{t:?}").contains("slw_secret"));
    }

    #[test]
    fn team_names_must_be_dns_labels_of_at_most_30_characters() {
        let check = |name: &str| {
            check_team(&TeamInput {
                name: name.into(),
                display_name: String::new(),
            })
        };
        assert_eq!(check("shop").unwrap(), ("shop".into(), "shop".into()));
        assert!(check("").is_err());
        assert!(check("Shop").is_err());
        assert!(check("-shop").is_err());
        assert!(check(&"a".repeat(31)).is_err());
        assert!(check(&"a".repeat(30)).is_ok());
    }
}
