//! Deploy pages: request a deploy, the deploy panel of a service, the history
//! (across services and per service), a deploy's page with its live timeline,
//! approvals, rollback and environment pins.
//!
//! The service page includes `deploys/_history.html` through [`load_history`]
//! (a [`ServiceHistory`] named `history` must be in scope, and `layout`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::deployer::{self, Decision, DeployRequest, DeployState, Seen};
use crate::error::{AppError, FieldMessage};
use crate::store::deploys::{self as deploys, Deploy, Filter, Pin, Trigger};
use crate::store::environments::Environment;
use crate::store::services::Service;
use crate::store::{self};
use crate::web::diff::DiffLine;
use crate::web::layout::{Layout, flash};
use crate::web::services::load_service;

/// Deploy routes of the portal.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/{team}/{service}/deploys", post(create_deploy))
        .route(
            "/services/{team}/{service}/deploy-panel",
            get(show_deploy_panel),
        )
        .route("/services/{team}/{service}/history", get(show_history))
        .route(
            "/services/{team}/{service}/environments/{environment}/unpin",
            post(unpin),
        )
        .route("/deploys", get(list_deploys))
        .route("/deploys/{id}", get(show_deploy))
        .route("/deploys/{id}/approve", post(approve))
        .route("/deploys/{id}/reject", post(reject))
        .route("/deploys/{id}/rollback", post(rollback))
}

/// Deploys per page of `/deploys`.
pub const PAGE: i64 = 50;
/// Deploys per environment on a service's history.
pub const HISTORY_PER_ENVIRONMENT: i64 = 20;

/// `2026-11-26 14:03:07 UTC`.
pub fn display_time(t: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// `1m 05s`, `42s`, `2h 03m`.
pub fn display_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// A deploy as the templates show it.
#[derive(Clone, Debug)]
pub struct DeployRow {
    /// Number.
    pub id: i64,
    /// Team.
    pub team: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Revision number.
    pub revision: i32,
    /// Image.
    pub image: String,
    /// State name (CSS class).
    pub state: &'static str,
    /// State for people.
    pub state_label: &'static str,
    /// `user`, `webhook`, `rollback`.
    pub trigger: String,
    /// Who asked.
    pub requested_by: String,
    /// The deploy a rollback restores.
    pub rollback_of: Option<i64>,
    /// Why it failed / was rejected / superseded.
    pub reason: String,
    /// When requested.
    pub created: String,
    /// How long it took (so far).
    pub duration: String,
    /// Finished (no more changes).
    pub finished: bool,
}

impl DeployRow {
    /// The view of `d` at `now`.
    pub fn of(d: &Deploy, now: OffsetDateTime) -> Self {
        DeployRow {
            id: d.id,
            team: d.team.clone(),
            service: d.service.clone(),
            environment: d.environment.clone(),
            revision: d.revision,
            image: d.image.clone(),
            state: d.state.as_str(),
            state_label: d.state.label(),
            trigger: d.trigger.clone(),
            requested_by: d.requested_by.clone(),
            rollback_of: d.rollback_of,
            reason: d.reason.clone(),
            created: display_time(d.created_at),
            duration: display_duration(d.duration_secs(now)),
            finished: d.state.is_finished(),
        }
    }

    /// "who or what triggered it", in words.
    pub fn triggered_by(&self) -> String {
        match (self.trigger.as_str(), self.rollback_of) {
            ("rollback", Some(of)) => format!("{} (rollback to #{of})", self.requested_by),
            ("webhook", _) => format!("{} (push)", self.requested_by),
            _ => self.requested_by.clone(),
        }
    }
}

/// An active pin as shown.
#[derive(Clone, Debug)]
pub struct PinView {
    /// Environment.
    pub environment: String,
    /// Who pinned.
    pub by: String,
    /// Since when.
    pub since: String,
    /// The rollback deploy.
    pub deploy_id: Option<i64>,
    /// Why.
    pub reason: String,
}

impl PinView {
    fn of(p: &Pin) -> Self {
        PinView {
            environment: p.environment.clone(),
            by: p.pinned_by.clone(),
            since: display_time(p.created_at),
            deploy_id: p.deploy_id,
            reason: p.reason.clone(),
        }
    }
}

/// One environment's part of a service's history.
#[derive(Clone, Debug)]
pub struct EnvironmentHistory {
    /// Environment name.
    pub name: String,
    /// Approval required there.
    pub requires_approval: bool,
    /// Active pin.
    pub pin: Option<PinView>,
    /// Deploys, newest first.
    pub deploys: Vec<DeployRow>,
}

/// A service's deploy history by environment: what `deploys/_history.html` shows.
#[derive(Clone, Debug)]
pub struct ServiceHistory {
    /// Team.
    pub team: String,
    /// Service.
    pub service: String,
    /// May the viewer deploy, roll back and unpin.
    pub can_deploy: bool,
    /// Per environment, in listing order.
    pub environments: Vec<EnvironmentHistory>,
}

/// Loads the history of `service` for `user` (who may see it: checked by the caller).
pub async fn load_history(
    app: &AppState,
    user: &CurrentUser,
    service: &Service,
    per_environment: i64,
) -> Result<ServiceHistory, AppError> {
    let now = OffsetDateTime::now_utc();
    let pins = deploys::active_pins(&app.db, service.id).await?;
    let mut environments = Vec::new();
    for env in store::environments::list(&app.db).await? {
        let list = deploys::list(
            &app.db,
            &Filter {
                service_id: Some(service.id),
                environment: Some(env.name.clone()),
                limit: per_environment,
                ..Filter::default()
            },
        )
        .await?;
        environments.push(EnvironmentHistory {
            pin: pins
                .iter()
                .find(|p| p.environment_id == env.id)
                .map(PinView::of),
            requires_approval: env.requires_approval,
            name: env.name,
            deploys: list.iter().map(|d| DeployRow::of(d, now)).collect(),
        });
    }
    Ok(ServiceHistory {
        team: service.team.clone(),
        service: service.name.clone(),
        can_deploy: policy::can_request_deploy(user, &service.team).is_ok(),
        environments,
    })
}

async fn load_deploy(app: &AppState, user: &CurrentUser, id: i64) -> Result<Deploy, AppError> {
    let deploy = deploys::find(&app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::can_view_team(user, &deploy.team)?;
    Ok(deploy)
}

// ---------------------------------------------------------------- request

/// Form of `POST /services/{team}/{service}/deploys`.
#[derive(Debug, Default, Deserialize)]
pub struct DeployForm {
    #[serde(default)]
    environment: String,
    #[serde(default)]
    image: String,
    /// Empty: the current revision.
    #[serde(default)]
    revision: String,
}

impl DeployForm {
    fn parse(&self) -> Result<DeployRequest, AppError> {
        let revision = match self.revision.trim() {
            "" => None,
            n => Some(
                n.trim_start_matches('#')
                    .parse::<i32>()
                    .map_err(|_| AppError::invalid("revision", "must be a revision number"))?,
            ),
        };
        Ok(DeployRequest {
            environment: self.environment.trim().to_owned(),
            image: self.image.trim().to_owned(),
            revision,
        })
    }
}

/// `POST /services/{team}/{service}/deploys`: team members and admins
/// (`policy::can_request_deploy`) request a deploy, then see its page. Invalid
/// input re-renders the deploy panel with its messages (422) for htmx, or comes
/// back as a flash message on the service page.
async fn create_deploy(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    headers: HeaderMap,
    Path((team, name)): Path<(String, String)>,
    Form(form): Form<DeployForm>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_request_deploy(&user, &service.team)?;
    let requested = match form.parse() {
        Ok(request) => {
            deployer::request(
                &app.db,
                &service,
                &user.actor(addr),
                Trigger::User,
                &request,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match requested {
        Ok(deploy) => Ok(to_deploy_page(&headers, deploy.id)),
        Err(AppError::Invalid(errors)) if is_htmx(&headers) => {
            let layout_csrf = crate::auth::csrf::token(&session).await?;
            let mut panel = panel_for(&app, &user, &service, layout_csrf).await?;
            panel.errors = errors;
            panel.form = form;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, panel).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let text = errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            flash(
                &session,
                "error",
                format!("The deploy was not requested: {text}"),
            )
            .await?;
            Ok(Redirect::to(&format!("/services/{team}/{name}")).into_response())
        }
        Err(other) => Err(other),
    }
}

/// A redirect to a deploy's page that htmx follows as a full navigation.
fn to_deploy_page(headers: &HeaderMap, id: i64) -> Response {
    let target = format!("/deploys/{id}");
    if is_htmx(headers) {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&target) {
            response.headers_mut().insert("hx-redirect", v);
        }
        response
    } else {
        Redirect::to(&target).into_response()
    }
}

/// The deploy panel on a service's page: a form to deploy, and where each environment stands.
#[derive(Template, WebTemplate)]
#[template(path = "deploys/_panel.html")]
pub struct DeployPanel {
    csrf: String,
    team: String,
    service: String,
    current_revision: i32,
    default_image: String,
    can_deploy: bool,
    environments: Vec<PanelEnvironment>,
    form: DeployForm,
    errors: Vec<FieldMessage>,
}

/// One environment of the deploy panel.
pub struct PanelEnvironment {
    name: String,
    requires_approval: bool,
    latest: Option<DeployRow>,
    pin: Option<PinView>,
}

impl DeployPanel {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.path == field || e.path.starts_with(&format!("{field}.")))
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn other_errors(&self) -> Vec<&FieldMessage> {
        self.errors
            .iter()
            .filter(|e| !matches!(e.path.as_str(), "environment" | "image" | "revision"))
            .collect()
    }
}

async fn panel_for(
    app: &AppState,
    user: &CurrentUser,
    service: &Service,
    csrf: String,
) -> Result<DeployPanel, AppError> {
    let now = OffsetDateTime::now_utc();
    let latest = deploys::latest_per_environment(&app.db, service.id).await?;
    let pins = deploys::active_pins(&app.db, service.id).await?;
    let envs: Vec<Environment> = store::environments::list(&app.db).await?;
    let default_image = match latest.iter().find(|d| d.state == DeployState::Succeeded) {
        Some(d) => d.image.clone(),
        None => store::services::revision(&app.db, service.id, service.current_revision)
            .await?
            .and_then(|r| {
                r.spec
                    .pointer("/spec/image")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default(),
    };
    Ok(DeployPanel {
        csrf,
        team: service.team.clone(),
        service: service.name.clone(),
        current_revision: service.current_revision,
        default_image,
        can_deploy: policy::can_request_deploy(user, &service.team).is_ok(),
        environments: envs
            .into_iter()
            .map(|e| PanelEnvironment {
                latest: latest
                    .iter()
                    .find(|d| d.environment_id == e.id)
                    .map(|d| DeployRow::of(d, now)),
                pin: pins
                    .iter()
                    .find(|p| p.environment_id == e.id)
                    .map(PinView::of),
                requires_approval: e.requires_approval,
                name: e.name,
            })
            .collect(),
        form: DeployForm::default(),
        errors: Vec::new(),
    })
}

/// `GET /services/{team}/{service}/deploy-panel`: the panel fragment (team members and admins).
/// It reads the CSRF token from the session itself: the `Layout` extractor would
/// consume a flash message meant for the page around it.
async fn show_deploy_panel(
    State(app): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((team, name)): Path<(String, String)>,
) -> Result<DeployPanel, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let csrf = crate::auth::csrf::token(&session).await?;
    panel_for(&app, &user, &service, csrf).await
}

// ---------------------------------------------------------------- history

/// A service's deploy history by environment.
#[derive(Template, WebTemplate)]
#[template(path = "deploys/history.html")]
pub struct HistoryPage {
    layout: Layout,
    service: Service,
    history: ServiceHistory,
}

/// `GET /services/{team}/{service}/history`: team members and admins.
async fn show_history(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
) -> Result<HistoryPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let history = load_history(&app, &user, &service, HISTORY_PER_ENVIRONMENT).await?;
    Ok(HistoryPage {
        layout,
        service,
        history,
    })
}

/// Query of `GET /deploys`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// `team/service` or a service name.
    #[serde(default)]
    service: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    state: String,
    /// Paging: deploys older than this id.
    before: Option<i64>,
}

impl ListQuery {
    fn next_page(&self, before: i64) -> String {
        let query = serde_urlencoded::to_string([
            ("service", self.service.as_str()),
            ("environment", self.environment.as_str()),
            ("state", self.state.as_str()),
            ("before", &before.to_string()),
        ])
        .unwrap_or_default();
        format!("/deploys?{query}")
    }
}

/// Every deploy the user may see.
#[derive(Template, WebTemplate)]
#[template(path = "deploys/index.html")]
pub struct DeploysPage {
    layout: Layout,
    query: ListQuery,
    environments: Vec<String>,
    states: Vec<&'static str>,
    rows: Vec<DeployRow>,
    next: Option<String>,
}

/// `GET /deploys`: the history across every service the user may see
/// (`policy::can_view_team`: their teams, or all for admins), filterable.
async fn list_deploys(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(query): Query<ListQuery>,
) -> Result<DeploysPage, AppError> {
    let (team, service) = match query.service.trim().split_once('/') {
        Some((t, s)) => (Some(t.to_owned()), Some(s.to_owned())),
        None if query.service.trim().is_empty() => (None, None),
        None => (None, Some(query.service.trim().to_owned())),
    };
    let state = match query.state.as_str() {
        "" => None,
        s => Some(
            s.parse::<DeployState>()
                .map_err(|_| AppError::invalid("state", "no such state"))?,
        ),
    };
    let filter = Filter {
        teams: (!user.is_admin).then(|| user.teams.clone()),
        team,
        service,
        environment: (!query.environment.is_empty()).then(|| query.environment.clone()),
        state,
        before_id: query.before,
        limit: PAGE,
        ..Filter::default()
    };
    let list = deploys::list(&app.db, &filter).await?;
    let now = OffsetDateTime::now_utc();
    let next = (list.len() as i64 == PAGE)
        .then(|| list.last().map(|d| query.next_page(d.id)))
        .flatten();
    Ok(DeploysPage {
        layout,
        environments: store::environments::list(&app.db)
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect(),
        states: DeployState::ALL.iter().map(|s| s.as_str()).collect(),
        rows: list.iter().map(|d| DeployRow::of(d, now)).collect(),
        next,
        query,
    })
}

// ---------------------------------------------------------------- one deploy

/// One timeline entry.
#[derive(Clone, Debug)]
pub struct EventRow {
    /// When.
    pub at: String,
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
    /// A note that did not change the state.
    pub is_note: bool,
    /// Who.
    pub actor: String,
    /// What.
    pub message: String,
}

/// One decision.
#[derive(Clone, Debug)]
pub struct ApprovalRow {
    /// Who.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Their comment.
    pub comment: String,
    /// When.
    pub at: String,
    /// The revision hash decided on (short).
    pub revision_hash: String,
    /// The image decided on.
    pub image: String,
}

/// A rollback the page offers.
#[derive(Clone, Debug)]
pub struct RollbackOffer {
    /// The deploy to restore.
    pub target: i64,
    /// Its image.
    pub image: String,
    /// Its revision.
    pub revision: i32,
}

/// The part of a deploy's page that changes while it runs (polled every 2 s).
pub struct DeployLive {
    deploy: DeployRow,
    revision_hash: String,
    namespace: String,
    started: String,
    finished_at: String,
    attempts: i32,
    events: Vec<EventRow>,
    approvals: Vec<ApprovalRow>,
    requires_approval: bool,
    can_decide: bool,
    diff: Option<Vec<DiffLine>>,
    rollback: Option<RollbackOffer>,
    pin: Option<PinView>,
    can_deploy: bool,
    csrf: String,
}

/// A deploy's page.
#[derive(Template, WebTemplate)]
#[template(path = "deploys/show.html")]
pub struct DeployPage {
    layout: Layout,
    live: DeployLive,
    manifests: String,
}

/// The live fragment alone, for htmx polling.
#[derive(Template, WebTemplate)]
#[template(path = "deploys/show.html", block = "live")]
pub struct DeployLiveFragment {
    live: DeployLive,
}

/// Classifies the lines of a stored unified diff for colouring.
pub fn diff_lines(diff: &str) -> Vec<DiffLine> {
    diff.lines()
        .map(|line| DiffLine {
            class: if line.starts_with("+++") || line.starts_with("---") || line.starts_with("@@") {
                "hunk"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else {
                "ctx"
            },
            text: line.to_owned(),
        })
        .collect()
}

async fn load_live(
    app: &AppState,
    user: &CurrentUser,
    deploy: &Deploy,
    csrf: String,
    diff: Option<String>,
) -> Result<DeployLive, AppError> {
    let now = OffsetDateTime::now_utc();
    let events = deploys::events(&app.db, deploy.id).await?;
    let approvals = deploys::approvals(&app.db, deploy.id).await?;
    let environment = store::environments::find(&app.db, deploy.environment_id).await?;
    let pin = deploys::active_pin(&app.db, deploy.service_id, deploy.environment_id).await?;
    let can_deploy = policy::can_request_deploy(user, &deploy.team).is_ok();
    let decided = approvals.iter().any(|a| a.user_id == Some(user.id));
    let can_decide = deploy.state == DeployState::AwaitingApproval
        && !decided
        && policy::can_approve(user, deploy.requested_by_id).is_ok();
    // A deploy that succeeded: restore it, unless it is what runs now, in which
    // case offer the one before it. A failed deploy: restore the last good one.
    let rollback = if matches!(deploy.state, DeployState::Succeeded | DeployState::Failed) {
        let latest_ok = deploys::list(
            &app.db,
            &Filter {
                service_id: Some(deploy.service_id),
                environment: Some(deploy.environment.clone()),
                state: Some(DeployState::Succeeded),
                limit: 1,
                ..Filter::default()
            },
        )
        .await?
        .into_iter()
        .next();
        let target = match latest_ok {
            Some(latest) if latest.id == deploy.id => {
                deploys::previous_succeeded(
                    &app.db,
                    deploy.service_id,
                    deploy.environment_id,
                    deploy.id,
                )
                .await?
            }
            Some(_) if deploy.state == DeployState::Succeeded => Some(deploy.clone()),
            // Only when this failure came after the last good deploy.
            Some(latest) if latest.id < deploy.id => Some(latest),
            _ => None,
        };
        target.map(|t| RollbackOffer {
            target: t.id,
            image: t.image,
            revision: t.revision,
        })
    } else {
        None
    };
    Ok(DeployLive {
        deploy: DeployRow::of(deploy, now),
        revision_hash: deploy.revision_hash.clone(),
        namespace: deploy.namespace.clone(),
        started: deploy.started_at.map(display_time).unwrap_or_default(),
        finished_at: deploy.finished_at.map(display_time).unwrap_or_default(),
        attempts: deploy.attempts,
        events: events
            .into_iter()
            .map(|e| EventRow {
                at: display_time(e.created_at),
                is_note: e.from_state.as_deref() == Some(e.to_state.as_str()),
                from: e.from_state.unwrap_or_default(),
                to: e.to_state,
                actor: e.actor,
                message: e.message,
            })
            .collect(),
        approvals: approvals
            .into_iter()
            .map(|a| ApprovalRow {
                approver: a.approver,
                decision: a.decision,
                comment: a.comment,
                at: display_time(a.created_at),
                revision_hash: a.revision_hash.chars().take(12).collect(),
                image: a.image,
            })
            .collect(),
        requires_approval: environment.is_some_and(|e| e.requires_approval),
        can_decide,
        diff: diff.map(|d| diff_lines(&d)),
        rollback,
        pin: pin.as_ref().map(PinView::of),
        can_deploy,
        csrf,
    })
}

/// `GET /deploys/{id}`: the deploy's page for its team's members and admins; with
/// `HX-Request`, only the live fragment (the page polls it every 2 s until the
/// deploy is finished).
async fn show_deploy(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let deploy = load_deploy(&app, &user, id).await?;
    let documents = deploys::documents(&app.db, id).await?;
    let live = load_live(&app, &user, &deploy, layout.csrf.clone(), documents.diff).await?;
    if is_htmx(&headers) {
        return Ok(DeployLiveFragment { live }.into_response());
    }
    Ok(DeployPage {
        layout,
        live,
        manifests: documents.manifests,
    }
    .into_response())
}

/// Form of approve and reject: the comment, and what the approver was shown.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    revision_hash: String,
    #[serde(default)]
    image: String,
}

async fn decide(
    app: AppState,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    id: i64,
    decision: Decision,
    form: DecisionForm,
) -> Result<Response, AppError> {
    let deploy = load_deploy(&app, &user, id).await?;
    policy::can_approve(&user, deploy.requested_by_id)?;
    let seen = Seen {
        revision_hash: Some(form.revision_hash),
        image: Some(form.image),
    };
    let decided = deployer::decide(
        &app.db,
        id,
        &user.actor(addr),
        decision,
        &form.comment,
        &seen,
    )
    .await?;
    let message = match decision {
        Decision::Approve => format!("Approved deploy #{id}; it is {}.", decided.state.label()),
        Decision::Reject => format!("Rejected deploy #{id}."),
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to(&format!("/deploys/{id}")).into_response())
}

/// `POST /deploys/{id}/approve`: administrators other than the requester
/// (`policy::can_approve`), bound to the revision hash and image they saw.
async fn approve(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, AppError> {
    decide(app, user, addr, session, id, Decision::Approve, form).await
}

/// `POST /deploys/{id}/reject`: as approve (`policy::can_approve`).
async fn reject(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, AppError> {
    decide(app, user, addr, session, id, Decision::Reject, form).await
}

/// `POST /deploys/{id}/rollback`: team members and admins
/// (`policy::can_request_deploy`) redeploy this deploy's revision and image;
/// the environment is pinned until someone unpins it.
async fn rollback(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let target = load_deploy(&app, &user, id).await?;
    policy::can_request_deploy(&user, &target.team)?;
    let deploy = deployer::rollback(&app.db, &target, &user.actor(addr)).await?;
    flash(
        &session,
        "ok",
        format!(
            "Rolling back {} in {} to deploy #{id}; automatic deploys there are held until you unpin it.",
            target.service_path(),
            target.environment
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/deploys/{}", deploy.id)).into_response())
}

/// `POST /services/{team}/{service}/environments/{environment}/unpin`: team
/// members and admins (`policy::can_request_deploy`) let automatic deploys in again.
async fn unpin(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path((team, name, environment)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_request_deploy(&user, &service.team)?;
    let done = deployer::unpin(&app.db, &service, &environment, &user.actor(addr)).await?;
    let message = if done {
        format!("Unpinned {team}/{name} in {environment}: automatic deploys go ahead again.")
    } else {
        format!("{team}/{name} was not pinned in {environment}.")
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to(&format!("/services/{team}/{name}/history")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(display_duration(7), "7s");
        assert_eq!(display_duration(65), "1m 05s");
        assert_eq!(display_duration(3 * 3600 + 120), "3h 02m");
    }

    #[test]
    fn diff_lines_are_classified() {
        let lines = diff_lines("--- live\n+++ desired\n@@ -1 +1 @@\n-a\n+b\n c\n");
        let classes: Vec<&str> = lines.iter().map(|l| l.class).collect();
        assert_eq!(classes, ["hunk", "hunk", "hunk", "del", "add", "ctx"]);
    }

    #[test]
    fn a_revision_may_be_written_with_a_hash_sign_or_left_out() {
        let form = |r: &str| DeployForm {
            environment: "staging".into(),
            image: "x:1".into(),
            revision: r.into(),
        };
        assert_eq!(form("#3").parse().unwrap().revision, Some(3));
        assert_eq!(form("").parse().unwrap().revision, None);
        assert!(form("three").parse().is_err());
    }
}
