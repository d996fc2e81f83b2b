//! Accounts: users, teams, memberships and API tokens. The admin pages, the
//! account page and `slipway admin …` all call these, so one rule holds for
//! each: input is checked before `begin()`, and every change writes its audit
//! entry in its own transaction (the CLI acts as [`Actor::system`]).

use serde_json::json;
use sqlx::PgPool;

use time::{Duration, OffsetDateTime};

use crate::auth::password;
use crate::auth::tokens::{self, Scope};
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
    /// An administrator disabled a user.
    pub const USER_DISABLE: &str = "user.disable";
    /// An administrator re-enabled a user.
    pub const USER_ENABLE: &str = "user.enable";
    /// A user became an administrator.
    pub const USER_PROMOTE: &str = "user.promote";
    /// An administrator lost administration.
    pub const USER_DEMOTE: &str = "user.demote";
    /// A user changed their own password (their other sessions ended).
    pub const PASSWORD_CHANGE: &str = "user.password.change";
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

// ---------------------------------------------------------------- access

/// What an administrator changes about a user's access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessChange {
    /// No sign-in; open sessions and every token stop at their next request.
    Disable,
    /// Signing in works again (old sessions stay ended).
    Enable,
    /// Becomes an administrator.
    Promote,
    /// Stops being an administrator, at their next request.
    Demote,
}

impl AccessChange {
    /// `disable`, `enable`, `promote` or `demote` (forms and the API).
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match raw.trim() {
            "disable" => Ok(Self::Disable),
            "enable" => Ok(Self::Enable),
            "promote" => Ok(Self::Promote),
            "demote" => Ok(Self::Demote),
            _ => Err(AppError::invalid(
                "change",
                "must be disable, enable, promote or demote",
            )),
        }
    }

    fn action(self) -> &'static str {
        match self {
            Self::Disable => actions::USER_DISABLE,
            Self::Enable => actions::USER_ENABLE,
            Self::Promote => actions::USER_PROMOTE,
            Self::Demote => actions::USER_DEMOTE,
        }
    }
}

/// What an access change did: the user afterwards, and whether anything changed.
#[derive(Clone, Debug)]
pub struct AccessChanged {
    /// The user as they are now.
    pub user: store::users::Access,
    /// False when the user already was in that state (nothing written).
    pub changed: bool,
}

/// The refusal when a change would leave nobody able to administer Slipway.
pub const LAST_ADMIN: &str =
    "this would leave no enabled administrator: promote or enable another administrator first";

/// Disables, enables, promotes or demotes user `user_id`; audited as
/// `user.disable` / `user.enable` / `user.promote` / `user.demote`. Never
/// leaves zero enabled administrators (409 [`LAST_ADMIN`]), also when an
/// administrator demotes or disables themselves; concurrent changes take
/// turns on the administrators' rows. The caller has checked
/// `policy::can_administer`; the change takes effect at the user's next
/// request, since sessions and tokens reload the user every time.
pub async fn change_access(
    db: &PgPool,
    actor: &Actor,
    user_id: i64,
    change: AccessChange,
) -> Result<AccessChanged, AppError> {
    let mut tx = db.begin().await?;
    // The administrators first, then the user: every access change locks in
    // this order, so two of them cannot deadlock.
    let admins = store::users::lock_enabled_admins(&mut *tx).await?;
    let before = store::users::lock_access(&mut *tx, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut after = before.clone();
    match change {
        AccessChange::Disable => after.disabled = true,
        AccessChange::Enable => after.disabled = false,
        AccessChange::Promote => after.is_admin = true,
        AccessChange::Demote => after.is_admin = false,
    }
    if after == before {
        return Ok(AccessChanged {
            user: before,
            changed: false,
        });
    }
    let counts = |u: &store::users::Access| i64::from(u.is_admin && !u.disabled);
    if admins - counts(&before) + counts(&after) < 1 {
        return Err(AppError::Conflict(LAST_ADMIN.into()));
    }
    match change {
        AccessChange::Disable | AccessChange::Enable => {
            store::users::set_disabled(&mut *tx, user_id, after.disabled).await?;
        }
        AccessChange::Promote | AccessChange::Demote => {
            store::users::set_admin(&mut *tx, user_id, after.is_admin).await?;
        }
    }
    store::audit::record(
        &mut *tx,
        actor,
        change.action(),
        &before.email,
        json!({"user_id": user_id, "admin": after.is_admin, "disabled": after.disabled}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id, ?change, "user access changed");
    Ok(AccessChanged {
        user: after,
        changed: true,
    })
}

// ---------------------------------------------------------------- passwords

/// The "change password" form; `Debug` by hand so no password is logged.
#[derive(Clone, Default, serde::Deserialize)]
pub struct PasswordChange {
    /// The password now (re-authentication).
    #[serde(default)]
    pub current_password: String,
    /// The new one.
    #[serde(default)]
    pub password: String,
    /// The new one again.
    #[serde(default)]
    pub password_again: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange(***)")
    }
}

/// Re-authentication: checks `attempt` against `owner`'s password (off the
/// async workers) before a token is minted or the password changed; a
/// mismatch is a field error on `field_name`. Wrong attempts count as failed
/// sign-ins of the account from `client_addr` and share the login's
/// throttle (429), so a stolen session cannot guess the password here.
pub async fn confirm_password(
    db: &PgPool,
    owner: &User,
    attempt: &str,
    field_name: &str,
    client_addr: &str,
) -> Result<(), AppError> {
    let begun = store::login_attempts::begin(
        db,
        &owner.email,
        client_addr,
        crate::auth::throttle::retry_after,
    )
    .await?;
    let attempt_id = match begun {
        store::login_attempts::Begun::Counted { id } => id,
        store::login_attempts::Begun::Throttled { .. } | store::login_attempts::Begun::Busy => {
            return Err(AppError::TooManyRequests);
        }
    };
    let phc = store::users::password_hash(db, owner.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let attempt = attempt.to_owned();
    let ok = tokio::task::spawn_blocking(move || password::verify(&attempt, &phc))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    if ok {
        store::login_attempts::succeed(db, attempt_id).await?;
        Ok(())
    } else {
        // Counted as a failure before the check; it stays one.
        Err(AppError::invalid(
            field_name,
            "is not your current password",
        ))
    }
}

/// Changes the user's own password: the current one must match and the new
/// one pass the strength floor. Every session of theirs ends (the session
/// epoch moves on); the returned epoch is for the session that asked, which
/// stays signed in. Audited as `user.password.change`.
pub async fn change_password(
    db: &PgPool,
    actor: &Actor,
    owner: &User,
    form: &PasswordChange,
) -> Result<i32, AppError> {
    let client_addr = actor.client_addr.as_deref().unwrap_or("unknown");
    let mut problems = Vec::new();
    if let Some(problem) = password::strength_problem(&form.password, &owner.email) {
        problems.push(field("password", problem));
    } else if form.password != form.password_again {
        problems.push(field("password_again", "does not match the new password"));
    }
    if form.current_password.is_empty() {
        problems.push(field("current_password", "required"));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    confirm_password(
        db,
        owner,
        &form.current_password,
        "current_password",
        client_addr,
    )
    .await?;
    let new = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&new))
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
    let mut tx = db.begin().await?;
    let epoch = store::users::set_password(&mut *tx, owner.id, &hash).await?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::PASSWORD_CHANGE,
        &owner.email,
        json!({"other_sessions": "ended"}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = owner.id, "password changed; other sessions ended");
    Ok(epoch)
}

// ---------------------------------------------------------------- tokens

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
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// What it may do.
    pub scopes: Vec<Scope>,
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

/// A new token as asked for (account page, CLI flags).
#[derive(Clone, Debug, Default)]
pub struct TokenInput {
    /// What it is for.
    pub name: String,
    /// Days until it expires, as typed; empty: [`tokens::DEFAULT_EXPIRY_DAYS`].
    pub expires_in_days: String,
    /// Scope names beyond `read` (which every token has); empty: every scope.
    pub scopes: Vec<String>,
}

/// Where a token was made, for its audit entry (`via`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The account page.
    Portal,
    /// `slipway admin token`.
    Cli,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Portal => "portal",
            Via::Cli => "cli",
        }
    }
}

/// A checked token request: name, days, scopes (always with `read`).
fn check_token(input: &TokenInput) -> Result<(String, i64, Vec<Scope>), Vec<FieldError>> {
    let mut problems = Vec::new();
    let name = check_token_name(&input.name).unwrap_or_else(|mut p| {
        problems.append(&mut p);
        String::new()
    });
    let raw_days = input.expires_in_days.trim();
    let days = if raw_days.is_empty() {
        tokens::DEFAULT_EXPIRY_DAYS
    } else {
        match raw_days.parse::<i64>() {
            Ok(d) if (1..=tokens::MAX_EXPIRY_DAYS).contains(&d) => d,
            _ => {
                problems.push(field(
                    "expires_in_days",
                    format!(
                        "must be a number of days from 1 to {}",
                        tokens::MAX_EXPIRY_DAYS
                    ),
                ));
                0
            }
        }
    };
    let mut scopes = vec![Scope::Read];
    if input.scopes.iter().all(|s| s.trim().is_empty()) {
        scopes = Scope::ALL.to_vec();
    }
    for raw in input.scopes.iter().flat_map(|s| s.split(',')) {
        if raw.trim().is_empty() {
            continue;
        }
        match Scope::parse(raw) {
            Some(scope) if !scopes.contains(&scope) => scopes.push(scope),
            Some(_) => {}
            None => problems.push(field(
                "scopes",
                format!("`{}` is not a scope (read, deploy, approve)", raw.trim()),
            )),
        }
    }
    scopes.sort();
    if problems.is_empty() {
        Ok((name, days, scopes))
    } else {
        Err(problems)
    }
}

/// Creates an API token for `owner` with the table's defaults (90 days, every
/// scope), as the account page made them before scopes existed.
pub async fn create_token(
    db: &PgPool,
    actor: &Actor,
    owner: &User,
    raw_name: &str,
) -> Result<NewToken, AppError> {
    let input = TokenInput {
        name: raw_name.to_owned(),
        ..TokenInput::default()
    };
    create_token_with(db, actor, owner, &input, Via::Portal).await
}

/// Creates an API token for `owner` that expires after the asked number of
/// days (at most a year) with the asked scopes; only its SHA-256 is stored.
/// Audited as `token.create` with the name, expiry, scopes and `via`, never
/// the value.
pub async fn create_token_with(
    db: &PgPool,
    actor: &Actor,
    owner: &User,
    input: &TokenInput,
    via: Via,
) -> Result<NewToken, AppError> {
    let (name, days, scopes) = check_token(input).map_err(AppError::Invalid)?;
    let expires_at = OffsetDateTime::now_utc() + Duration::days(days);
    let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let value = tokens::generate();
    let mut tx = db.begin().await?;
    let id = store::tokens::insert_with(
        &mut *tx,
        owner.id,
        &name,
        &tokens::hash(&value),
        expires_at,
        &scope_names,
    )
    .await
    .on_constraint("api_tokens_user_id_name_key", || {
        AppError::invalid("name", "you already have a token with this name")
    })?;
    let expires = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| AppError::Internal(e.into()))?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::TOKEN_CREATE,
        &owner.email,
        json!({"token": name, "id": id, "expires_at": expires, "scopes": scope_names, "via": via.as_str()}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = id, "API token created");
    Ok(NewToken {
        id,
        name,
        value,
        expires_at,
        scopes,
    })
}

/// Revokes token `id` whoever owns it, after `allowed(owner_id)` (the
/// caller's policy check: `policy::can_revoke_token`) said yes; `Some(token)`
/// when it was live, `None` when already revoked. Audited as `token.revoke`
/// with the owner as the target.
pub async fn revoke_any_token(
    db: &PgPool,
    actor: &Actor,
    id: i64,
    allowed: impl FnOnce(i64) -> Result<(), AppError>,
) -> Result<Option<store::tokens::OwnedToken>, AppError> {
    let mut tx = db.begin().await?;
    let token = store::tokens::lock(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    allowed(token.user_id)?;
    if !store::tokens::revoke(&mut *tx, token.user_id, id).await? {
        return Ok(None);
    }
    store::audit::record(
        &mut *tx,
        actor,
        actions::TOKEN_REVOKE,
        &token.owner,
        json!({"token": token.token.name, "id": id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = id, "API token revoked");
    Ok(Some(token))
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
            expires_at: OffsetDateTime::UNIX_EPOCH,
            scopes: vec![Scope::Read],
        };
        assert!(!format!("{t:?}").contains("slw_secret"));
    }

    fn token(days: &str, scopes: &[&str]) -> TokenInput {
        TokenInput {
            name: "ci".into(),
            expires_in_days: days.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_token_lives_90_days_with_every_scope_unless_asked_otherwise() {
        let (_, days, scopes) = check_token(&token("", &[])).unwrap();
        assert_eq!((days, scopes), (90, Scope::ALL.to_vec()));
        let (_, days, scopes) = check_token(&token("7", &["deploy"])).unwrap();
        assert_eq!((days, scopes), (7, vec![Scope::Read, Scope::Deploy]));
        let (_, _, scopes) = check_token(&token("", &["read"])).unwrap();
        assert_eq!(scopes, [Scope::Read]);
        let (_, _, scopes) = check_token(&token("", &["approve,deploy"])).unwrap();
        assert_eq!(scopes, Scope::ALL.to_vec());
    }

    #[test]
    fn token_expiry_is_one_day_to_a_year_and_scopes_are_known() {
        for bad in ["0", "366", "-1", "soon"] {
            let problems = check_token(&token(bad, &[])).unwrap_err();
            assert_eq!(problems[0].path, "expires_in_days", "{bad}");
        }
        assert!(check_token(&token("365", &[])).is_ok());
        let problems = check_token(&token("", &["admin"])).unwrap_err();
        assert_eq!(problems[0].path, "scopes");
    }

    #[test]
    fn access_changes_are_named_by_their_verbs() {
        assert_eq!(AccessChange::parse("demote").unwrap(), AccessChange::Demote);
        assert!(AccessChange::parse("delete").is_err());
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
