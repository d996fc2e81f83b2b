//! Administration pages: users, teams, memberships and the audit log.
//!
//! Every handler calls `policy::can_administer` first; every change goes through
//! `domain::accounts`, which writes its audit entry in the change's own transaction.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::accounts::{self, AccessChange, MemberInput, TeamInput, UserInput};
use crate::error::{AppError, FieldError};
use crate::store::{self, audit, teams::Team};
use crate::web::format::{display_time, iso_time};
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// Audit entries per page of `/admin/audit`.
pub const AUDIT_PAGE: i64 = 50;

/// Admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(show_overview))
        .route("/admin/users", get(list_users).post(create_user))
        .route("/admin/users/{id}/access", post(change_access))
        .route("/admin/tokens", get(list_tokens))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/teams", get(list_teams).post(create_team))
        .route("/admin/teams/{team}", get(show_team))
        .route("/admin/teams/{team}/members", post(add_member))
        .route(
            "/admin/teams/{team}/members/{user_id}/remove",
            post(remove_member),
        )
        .route("/admin/audit", get(show_audit))
}

/// One audit entry as the pages show it.
#[derive(Clone, Debug)]
pub struct AuditRow {
    /// Row id.
    pub id: i64,
    /// When, for people.
    pub when: String,
    /// When, RFC 3339 (the `datetime` attribute).
    pub when_iso: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Extra facts as compact JSON, empty when none.
    pub detail: String,
    /// From where.
    pub client_addr: String,
}

impl From<audit::Entry> for AuditRow {
    fn from(e: audit::Entry) -> Self {
        let detail = match &e.detail {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            other => other.to_string(),
        };
        Self {
            id: e.id,
            when: display_time(e.created_at),
            when_iso: iso_time(e.created_at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail,
            client_addr: e.client_addr.unwrap_or_default(),
        }
    }
}

// ---------------------------------------------------------------- overview

/// `/admin`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/index.html")]
pub struct OverviewPage {
    layout: Layout,
    users: usize,
    admins: usize,
    teams: usize,
    sessions: i64,
    entries: Vec<AuditRow>,
}

/// `GET /admin`: counts and the latest audit entries. Admins only.
async fn show_overview(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<OverviewPage, AppError> {
    policy::can_administer(&user)?;
    let users = store::users::list(&app.db).await?;
    let teams = store::teams::list(&app.db).await?;
    let sessions = store::sessions::count_live(&app.db).await?;
    let recent = audit::list(&app.db, &audit::Filter::default(), 10).await?;
    Ok(OverviewPage {
        layout,
        users: users.len(),
        admins: users.iter().filter(|u| u.is_admin && !u.disabled).count(),
        teams: teams.len(),
        sessions,
        entries: recent.into_iter().map(AuditRow::from).collect(),
    })
}

// ---------------------------------------------------------------- users

/// `/admin/users`: the list and the "create user" form.
#[derive(Template, WebTemplate)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    layout: Layout,
    me: i64,
    users: Vec<store::users::UserWithTeams>,
    teams: Vec<String>,
    form: UserInput,
    errors: Problems,
}

impl UsersPage {
    async fn load(
        app: &AppState,
        layout: Layout,
        me: i64,
        form: UserInput,
        errors: Vec<FieldError>,
    ) -> Result<Self, AppError> {
        let users = store::users::list(&app.db).await?;
        let teams = store::teams::list(&app.db).await?;
        Ok(Self {
            layout,
            me,
            users,
            teams: teams.into_iter().map(|t| t.name).collect(),
            form,
            errors: Problems(errors),
        })
    }
}

/// `GET /admin/users`. Admins only.
async fn list_users(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<UsersPage, AppError> {
    policy::can_administer(&user)?;
    UsersPage::load(&app, layout, user.id, UserInput::default(), Vec::new()).await
}

/// `POST /admin/users`: creates a user; problems come back inline with 422. Admins only.
async fn create_user(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let form = UserInput::from_pairs(pairs);
    match accounts::create_user(&app.db, &user.actor(addr), &form).await {
        Ok(created) => {
            flash(&session, "ok", format!("Created user {}.", created.email)).await?;
            Ok(Redirect::to("/admin/users").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let form = UserInput {
                password: String::new(),
                ..form
            };
            let page = UsersPage::load(&app, layout, user.id, form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// The form of the users page's access buttons.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AccessForm {
    /// `disable`, `enable`, `promote` or `demote`.
    #[serde(default)]
    pub change: String,
}

/// `POST /admin/users/{id}/access`: disables, re-enables, promotes or demotes
/// a user (audited); never the last enabled administrator (409 saying so).
/// Admins only; it takes effect at the user's next request.
async fn change_access(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<AccessForm>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let change = AccessChange::parse(&form.change)?;
    let done = accounts::change_access(&app.db, &user.actor(addr), id, change).await?;
    let email = &done.user.email;
    let message = match (done.changed, change) {
        (false, _) => format!("Nothing to change: {email} already is so."),
        (true, AccessChange::Disable) => {
            format!("Disabled {email}: their sessions and API tokens stop working now.")
        }
        (true, AccessChange::Enable) => format!("Re-enabled {email}; they must sign in again."),
        (true, AccessChange::Promote) => format!("{email} is now an administrator."),
        (true, AccessChange::Demote) => format!("{email} is no longer an administrator."),
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to("/admin/users").into_response())
}

// ---------------------------------------------------------------- tokens

/// One token of anyone's as the administrators' list shows it.
#[derive(Clone, Debug)]
pub struct AdminTokenRow {
    /// The owner's email.
    pub owner: String,
    /// The token's metadata.
    pub token: crate::web::account::TokenRow,
}

/// `/admin/tokens`: every user's API tokens.
#[derive(Template, WebTemplate)]
#[template(path = "admin/tokens.html")]
pub struct TokensPage {
    layout: Layout,
    tokens: Vec<AdminTokenRow>,
}

/// `GET /admin/tokens`: every user's tokens, newest first (never a value). Admins only.
async fn list_tokens(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<TokensPage, AppError> {
    policy::can_administer(&user)?;
    let tokens = store::tokens::list_all(&app.db).await?;
    Ok(TokensPage {
        layout,
        tokens: tokens
            .into_iter()
            .map(|t| AdminTokenRow {
                owner: t.owner,
                token: t.token.into(),
            })
            .collect(),
    })
}

/// `POST /admin/tokens/{id}/revoke`: revokes any user's token (audited, the
/// owner as the target). Admins only (`policy::can_revoke_token`).
async fn revoke_token(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let revoked = accounts::revoke_any_token(&app.db, &user.actor(addr), id, |owner| {
        policy::can_revoke_token(&user, owner)
    })
    .await?;
    let message = match revoked {
        Some(t) => format!("Revoked {}'s token {}.", t.owner, t.token.name),
        None => "That token was already revoked.".to_owned(),
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to("/admin/tokens").into_response())
}

// ---------------------------------------------------------------- teams

/// `/admin/teams`: the list and the "create team" form.
#[derive(Template, WebTemplate)]
#[template(path = "admin/teams.html")]
pub struct TeamsPage {
    layout: Layout,
    teams: Vec<store::teams::TeamSummary>,
    form: TeamInput,
    errors: Problems,
}

/// `GET /admin/teams`. Admins only.
async fn list_teams(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<TeamsPage, AppError> {
    policy::can_administer(&user)?;
    Ok(TeamsPage {
        layout,
        teams: store::teams::list(&app.db).await?,
        form: TeamInput::default(),
        errors: Problems::default(),
    })
}

/// `POST /admin/teams`: creates a team, then shows it. Admins only.
async fn create_team(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<TeamInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    match accounts::create_team(&app.db, &user.actor(addr), &form).await {
        Ok(team) => {
            flash(&session, "ok", format!("Created team {}.", team.name)).await?;
            Ok(Redirect::to(&format!("/admin/teams/{}", team.name)).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = TeamsPage {
                layout,
                teams: store::teams::list(&app.db).await?,
                form,
                errors: Problems(errors),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `/admin/teams/{team}`: members, and forms to add and remove them.
#[derive(Template, WebTemplate)]
#[template(path = "admin/team.html")]
pub struct TeamPage {
    layout: Layout,
    team: Team,
    members: Vec<store::users::User>,
    candidates: Vec<String>,
    email: String,
    errors: Problems,
}

impl TeamPage {
    async fn load(
        app: &AppState,
        layout: Layout,
        team: Team,
        email: String,
        errors: Vec<FieldError>,
    ) -> Result<Self, AppError> {
        let members = store::teams::members(&app.db, team.id).await?;
        let candidates = store::users::list(&app.db)
            .await?
            .into_iter()
            .filter(|u| !members.iter().any(|m| m.id == u.id))
            .map(|u| u.email)
            .collect();
        Ok(Self {
            layout,
            team,
            members,
            candidates,
            email,
            errors: Problems(errors),
        })
    }
}

async fn find_team(app: &AppState, name: &str) -> Result<Team, AppError> {
    store::teams::find_by_name(&app.db, name)
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /admin/teams/{team}`. Admins only.
async fn show_team(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(team): Path<String>,
) -> Result<TeamPage, AppError> {
    policy::can_administer(&user)?;
    let team = find_team(&app, &team).await?;
    TeamPage::load(&app, layout, team, String::new(), Vec::new()).await
}

/// `POST /admin/teams/{team}/members`: adds a user by email. Admins only.
async fn add_member(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Path(team): Path<String>,
    Form(form): Form<MemberInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let team = find_team(&app, &team).await?;
    match accounts::add_member(&app.db, &user.actor(addr), &team, &form).await {
        Ok(member) => {
            let message = format!("Added {} to {}.", member.email, team.name);
            flash(&session, "ok", message).await?;
            Ok(Redirect::to(&format!("/admin/teams/{}", team.name)).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = TeamPage::load(&app, layout, team, form.email, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /admin/teams/{team}/members/{user_id}/remove`: ends a membership. Admins only.
async fn remove_member(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path((team, user_id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let team = find_team(&app, &team).await?;
    let removed = accounts::remove_member(&app.db, &user.actor(addr), &team, user_id).await?;
    let message = format!("Removed {} from {}.", removed.email, team.name);
    flash(&session, "ok", message).await?;
    Ok(Redirect::to(&format!("/admin/teams/{}", team.name)).into_response())
}

// ---------------------------------------------------------------- audit log

/// Query of `/admin/audit`; empty fields mean "any".
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuditQuery {
    /// Substring of the actor.
    #[serde(default)]
    pub actor: String,
    /// Prefix of the action.
    #[serde(default)]
    pub action: String,
    /// Substring of the target.
    #[serde(default)]
    pub target: String,
    /// Show entries older than this id.
    #[serde(default)]
    pub before: String,
}

impl AuditQuery {
    fn filter(&self) -> audit::Filter {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        audit::Filter {
            actor: text(&self.actor),
            action: text(&self.action),
            target: text(&self.target),
            before_id: self.before.trim().parse().ok(),
        }
    }

    /// The URL of this filter's page of entries older than `before` (newest when `None`).
    fn page_url(&self, before: Option<i64>) -> String {
        let before = before.map(|id| id.to_string());
        let mut pairs = vec![
            ("actor", self.actor.trim()),
            ("action", self.action.trim()),
            ("target", self.target.trim()),
        ];
        if let Some(before) = &before {
            pairs.push(("before", before));
        }
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("/admin/audit?{query}")
    }
}

/// `/admin/audit`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    layout: Layout,
    query: AuditQuery,
    entries: Vec<AuditRow>,
    older: Option<String>,
    newest: Option<String>,
    actions: &'static [&'static str],
}

/// Actions Slipway records, offered as suggestions in the filter.
const KNOWN_ACTIONS: &[&str] = &[
    "user.",
    accounts::actions::USER_CREATE,
    "user.login",
    accounts::actions::USER_DISABLE,
    accounts::actions::USER_ENABLE,
    accounts::actions::USER_PROMOTE,
    accounts::actions::USER_DEMOTE,
    accounts::actions::PASSWORD_CHANGE,
    "team.",
    accounts::actions::TEAM_CREATE,
    accounts::actions::MEMBER_ADD,
    accounts::actions::MEMBER_REMOVE,
    "token.",
    accounts::actions::TOKEN_CREATE,
    accounts::actions::TOKEN_REVOKE,
    "environment.",
    crate::domain::environments::actions::CREATE,
    crate::domain::environments::actions::UPDATE,
    "service.",
    crate::domain::services::actions::SERVICE_CREATE,
    crate::domain::services::actions::SERVICE_REVISE,
    crate::domain::secrets::actions::SECRET_WRITE,
    "deploy.",
    crate::domain::deploys::actions::REQUEST,
    crate::domain::deploys::actions::APPROVE,
    crate::domain::deploys::actions::REJECT,
    crate::domain::deploys::actions::ROLLBACK,
    crate::domain::deploys::actions::UNPIN,
    crate::domain::deploys::actions::RELEASE,
    crate::domain::waiting::actions::EXPIRE,
    "notification.",
    crate::domain::notifications::actions::CREATE,
    crate::domain::notifications::actions::DISABLE,
    crate::domain::notifications::actions::ENABLE,
    crate::domain::notifications::actions::DELETE,
    crate::domain::notifications::actions::TEST,
];

/// `GET /admin/audit`: newest first, filtered by actor, action prefix and target,
/// paged by id ("older" keeps the filter). Admins only.
async fn show_audit(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(query): Query<AuditQuery>,
) -> Result<AuditPage, AppError> {
    policy::can_administer(&user)?;
    let filter = query.filter();
    let mut entries = audit::list(&app.db, &filter, AUDIT_PAGE + 1).await?;
    let has_older = entries.len() as i64 > AUDIT_PAGE;
    entries.truncate(AUDIT_PAGE as usize);
    let older = match entries.last() {
        Some(last) if has_older => Some(query.page_url(Some(last.id))),
        _ => None,
    };
    let newest = filter.before_id.map(|_| query.page_url(None));
    Ok(AuditPage {
        layout,
        entries: entries.into_iter().map(AuditRow::from).collect(),
        query,
        older,
        newest,
        actions: KNOWN_ACTIONS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_link_keeps_the_filter() {
        let q = AuditQuery {
            actor: "ann@x.io".into(),
            action: "team.".into(),
            target: String::new(),
            before: String::new(),
        };
        assert_eq!(
            q.page_url(Some(42)),
            "/admin/audit?actor=ann%40x.io&action=team.&target=&before=42"
        );
        assert_eq!(
            q.page_url(None),
            "/admin/audit?actor=ann%40x.io&action=team.&target="
        );
    }

    #[test]
    fn empty_filter_fields_mean_any() {
        let f = AuditQuery {
            before: "x".into(),
            ..AuditQuery::default()
        }
        .filter();
        assert!(f.actor.is_none() && f.action.is_none() && f.target.is_none());
        assert!(f.before_id.is_none());
    }
}
