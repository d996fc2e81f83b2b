//! What the admin pages change: users, teams and memberships, each with its
//! audit entry in the same transaction. Input is checked before `begin()`.

use serde_json::json;
use sqlx::PgPool;

use crate::auth::password;
use crate::error::{AppError, FieldMessage, ResultExt as _};
use crate::spec::names;
use crate::store::{self, audit::Actor, teams::Team, users::User};

/// Longest team name: the `teams_name_format` constraint (teams become namespace prefixes).
pub const MAX_TEAM_NAME: usize = 30;
/// Longest display name of a team.
pub const MAX_DISPLAY_NAME: usize = 100;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 254;

/// The "create user" form as typed; `Debug` by hand so the password is never logged.
#[derive(Clone, Default)]
pub struct UserForm {
    /// Email as typed.
    pub email: String,
    /// The initial password (never rendered back).
    pub password: String,
    /// Whether the user becomes a global admin.
    pub is_admin: bool,
    /// Names of the teams to join.
    pub teams: Vec<String>,
}

impl std::fmt::Debug for UserForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserForm")
            .field("email", &self.email)
            .field("password", &"***")
            .field("is_admin", &self.is_admin)
            .field("teams", &self.teams)
            .finish()
    }
}

impl UserForm {
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

/// The "create team" form.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TeamForm {
    /// DNS-1123 name.
    #[serde(default)]
    pub name: String,
    /// Human name; the name when empty.
    #[serde(default)]
    pub display_name: String,
}

/// The "add member" form.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct MemberForm {
    /// Email of the user to add.
    #[serde(default)]
    pub email: String,
}

fn field(path: &str, message: impl Into<String>) -> FieldMessage {
    FieldMessage {
        path: path.into(),
        message: message.into(),
    }
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

fn check_user(form: &UserForm, known_teams: &[String]) -> Result<NewUser, Vec<FieldMessage>> {
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
pub async fn create_user(db: &PgPool, actor: &Actor, form: &UserForm) -> Result<User, AppError> {
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
        "user.create",
        &user.email,
        json!({"admin": new.is_admin, "teams": new.teams}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = user.id, "user created");
    Ok(user)
}

/// A checked "create team" form: (name, display name).
fn check_team(form: &TeamForm) -> Result<(String, String), Vec<FieldMessage>> {
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
pub async fn create_team(db: &PgPool, actor: &Actor, form: &TeamForm) -> Result<Team, AppError> {
    let (name, display) = check_team(form).map_err(AppError::Invalid)?;
    let mut tx = db.begin().await?;
    let team = store::teams::insert(&mut *tx, &name, &display)
        .await
        .on_constraint("teams_name_key", || {
            AppError::invalid("name", "a team with this name exists")
        })?;
    store::audit::record(
        &mut *tx,
        actor,
        "team.create",
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
    form: &MemberForm,
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
        "team.member.add",
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
        "team.member.remove",
        &team.name,
        json!({"user": user.email}),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
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
        let form = UserForm::from_pairs(pairs(&[
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
        let form = UserForm::from_pairs(pairs(&[("password", "hunter2-hunter2")]));
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
        let form = UserForm::from_pairs(pairs(&[
            ("email", "nope"),
            ("password", "short"),
            ("teams", "ghost"),
        ]));
        let problems = check_user(&form, &["shop".into()]).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["email", "password", "teams"]);
    }

    #[test]
    fn team_names_must_be_dns_labels_of_at_most_30_characters() {
        let check = |name: &str| {
            check_team(&TeamForm {
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
