//! `/approvals`: the queue of deploys waiting for the signed-in user's
//! decision, filtered by environment and team, each with its plan; approve or
//! reject one, or several at once where the plans are clean. Decisions go
//! through `domain::approvals` / `domain::deploys::decide`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::auth::extract::ClientAddr;
use crate::deploy_model::Decision;
use crate::domain::approvals::{self as domain, QueueFilter, Selected};
use crate::error::AppError;
use crate::web::deploys::plan::PlanView;
use crate::web::deploys::view::DeployRow;
use crate::web::layout::{Layout, flash};

/// Most deploys one decision of the queue covers (each is its own transaction).
const MAX_SELECTED: usize = 100;

/// Queue routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(show_queue))
        .route("/approvals/decide", post(decide_selected))
}

/// One waiting deploy on the page.
pub struct QueueRow {
    deploy: DeployRow,
    approvals: usize,
    approvals_required: i32,
    digest: String,
    plan_computed_at: String,
    plan: Option<PlanView>,
    attention: String,
    deadline: String,
}

/// The queue page.
#[derive(Template, WebTemplate)]
#[template(path = "approvals/index.html")]
pub struct QueuePage {
    layout: Layout,
    rows: Vec<QueueRow>,
    environments: Vec<String>,
    teams: Vec<String>,
    environment: String,
    team: String,
    /// "Showing 51–100 of 200", when there is more than one page.
    showing: Option<String>,
    /// Links to the pages before and after this one (with the filters).
    previous: Option<String>,
    next: Option<String>,
}

/// Deploys the queue shows per page: each comes with its plan.
pub const QUEUE_PAGE: usize = 50;

/// Query of the queue page.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    environment: String,
    #[serde(default)]
    team: String,
    /// 1-based; past the end shows the last page.
    page: Option<usize>,
}

impl QueueQuery {
    fn link(&self, page: usize) -> String {
        let page = page.to_string();
        let pairs: Vec<(&str, &str)> = [
            ("environment", self.environment.as_str()),
            ("team", self.team.as_str()),
            ("page", page.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("/approvals?{query}")
    }
}

/// `GET /approvals`: any signed-in user; the queue holds only what they may
/// decide (`policy::can_approve` per deploy and per view, in
/// `domain::approvals::WaitingList::narrowed_to`), from the list of waiting
/// deploys shared for a second.
async fn show_queue(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(query): Query<QueueQuery>,
) -> Result<QueuePage, AppError> {
    let filter = QueueFilter {
        environment: Some(query.environment.clone()),
        team: Some(query.team.clone()),
    };
    let now = OffsetDateTime::now_utc();
    let asked = query.page.unwrap_or(1).max(1);
    let list = domain::shared_waiting(&app.approval_queues, &app.db, &filter).await?;
    let (mut entries, total) = list.narrowed_to(&user, (asked - 1) * QUEUE_PAGE, QUEUE_PAGE);
    let pages = total.div_ceil(QUEUE_PAGE).max(1);
    // A page past the end (deploys were decided meanwhile) shows the last one.
    let page = asked.min(pages);
    if page < asked {
        entries = list
            .narrowed_to(&user, (page - 1) * QUEUE_PAGE, QUEUE_PAGE)
            .0;
    }
    let first = (page - 1) * QUEUE_PAGE + 1;
    let showing = (pages > 1).then(|| {
        format!(
            "Showing {first}–{} of {total}, oldest first",
            first + entries.len().saturating_sub(1)
        )
    });
    let previous = (page > 1).then(|| query.link(page - 1));
    let next = (page < pages).then(|| query.link(page + 1));
    let rows = entries
        .into_iter()
        .map(|e| {
            let attention = e.unclean().join(", ");
            QueueRow {
                deploy: DeployRow::of(&e.deploy, now),
                approvals: e.approvals,
                approvals_required: e.approvals_required,
                digest: e.deploy.content_digest.clone(),
                plan_computed_at: e
                    .deploy
                    .plan_computed_at
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default(),
                plan: e.plan.as_deref().map(PlanView::of),
                attention,
                deadline: e
                    .deploy
                    .decision_deadline
                    .map(crate::web::format::display_time)
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(QueuePage {
        layout,
        rows,
        environments: list.approval_environments.clone(),
        teams: list.teams.clone(),
        environment: query.environment,
        team: query.team,
        showing,
        previous,
        next,
    })
}

/// The selected deploys of the queue form: `select=ID` with `digest_ID` and
/// `plan_ID` (what was shown), the decision and one comment for all.
fn parse_selection(body: &[u8]) -> Result<(Vec<Selected>, Decision, String), AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| AppError::invalid("body", format!("is not a form: {e}")))?;
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let decision = match value("decision").as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        _ => return Err(AppError::invalid("decision", "must be approve or reject")),
    };
    let mut selected = Vec::new();
    for (key, id) in &pairs {
        if key != "select" {
            continue;
        }
        let id: i64 = id
            .parse()
            .map_err(|_| AppError::invalid("select", "must be deploy numbers"))?;
        selected.push(Selected {
            id,
            digest: value(&format!("digest_{id}")),
            plan_computed_at: value(&format!("plan_{id}")),
        });
    }
    if selected.is_empty() {
        return Err(AppError::invalid("select", "choose at least one deploy"));
    }
    if selected.len() > MAX_SELECTED {
        return Err(AppError::invalid(
            "select",
            format!("decide at most {MAX_SELECTED} deploys at once"),
        ));
    }
    Ok((selected, decision, value("comment")))
}

/// `POST /approvals/decide`: decides the selected deploys, each checked by
/// `domain::deploys::decide` (`policy::can_approve`); an approval from the
/// list is refused for plans that need a closer look. Reports every outcome.
async fn decide_selected(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let (selected, decision, comment) = match parse_selection(&body) {
        Ok(parsed) => parsed,
        Err(AppError::Invalid(errors)) => {
            let text = crate::web::forms::Problems(errors).one_line();
            flash(&session, "error", format!("Nothing was decided: {text}")).await?;
            return Ok(Redirect::to("/approvals").into_response());
        }
        Err(other) => return Err(other),
    };
    let outcomes = domain::decide_many(
        &app.db,
        &user,
        &user.actor(addr),
        &selected,
        decision,
        &comment,
    )
    .await?;
    let (done, refused): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(|(_, r)| r.is_ok());
    let verb = match decision {
        Decision::Approve => "Approved",
        Decision::Reject => "Rejected",
    };
    let mut message = String::new();
    if !done.is_empty() {
        let ids: Vec<String> = done.iter().map(|(id, _)| format!("#{id}")).collect();
        message.push_str(&format!("{verb} {}.", ids.join(", ")));
    }
    let kind = if refused.is_empty() { "ok" } else { "error" };
    for (id, result) in refused {
        if let Err(e) = result {
            message.push_str(&format!(" #{id} not decided: {}", e.public_message()));
        }
    }
    flash(&session, kind, message.trim().to_owned()).await?;
    Ok(Redirect::to("/approvals").into_response())
}
