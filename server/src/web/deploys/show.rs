//! One deploy's page with its live timeline, and what can be done there:
//! approve, reject, roll back, unpin.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::plan::PlanView;
use super::view::{ApprovalRow, DeployRow, EventRow, PinView};
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::deploys::{self as domain, Decision, DeployState, RollbackOffer, Seen};
use crate::domain::plans;
use crate::error::AppError;
use crate::store::deploys::{self as deploys, Deploy};
use crate::store::{self, approvals, pins};
use crate::web::diff::{self, DiffLine};
use crate::web::format::display_time;
use crate::web::htmx::HxRequest;
use crate::web::layout::{Layout, flash};
use crate::web::loaders::{load_deploy, load_service, may_view_deploy};

/// The part of a deploy's page that changes while it runs (polled every 2 s).
pub struct DeployLive {
    deploy: DeployRow,
    revision_hash: String,
    namespace: String,
    started: String,
    finished_at: String,
    attempts: i32,
    events: Vec<EventRow>,
    /// Kubernetes events of the deploy's objects, kept in its record.
    cluster_events: Vec<store::cluster_events::Stored>,
    approvals: Vec<ApprovalRow>,
    requires_approval: bool,
    approvals_required: i32,
    approvals_counted: usize,
    decision_deadline: String,
    held_until: String,
    plan: Option<PlanView>,
    /// When the stored plan was computed (RFC 3339), echoed by the decision
    /// form so a plan recomputed meanwhile is noticed.
    plan_computed_at: String,
    can_decide: bool,
    can_release: bool,
    why_not_decide: String,
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

/// What a deploy's page shows that is the same for everyone who may see it:
/// the deploy, its documents, timeline, kept cluster events, decisions,
/// environment, pin, plan and rollback offer. Read once and shared for a
/// second (`AppState::deploy_records`): a crowd watching a rollout polls the
/// live part every 2 s. What the viewer may do is decided per view.
#[derive(Debug)]
pub struct DeployRecord {
    deploy: Deploy,
    documents: deploys::Documents,
    events: Vec<deploys::Event>,
    cluster_events: Vec<store::cluster_events::Stored>,
    approvals: Vec<approvals::Approval>,
    environment: Option<store::environments::Environment>,
    pin: Option<pins::Pin>,
    plan: Option<crate::plan::Plan>,
    rollback: Option<RollbackOffer>,
}

impl DeployRecord {
    /// Reads deploy `id`'s record; a missing deploy is `AppError::NotFound`
    /// (never kept, so a deploy made a moment later is found).
    async fn read(app: &AppState, id: i64) -> Result<Self, AppError> {
        let deploy = deploys::find(&app.db, id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(DeployRecord {
            documents: deploys::documents(&app.db, id).await?,
            events: deploys::events(&app.db, id).await?,
            cluster_events: store::cluster_events::of_deploy(&app.db, id).await?,
            approvals: approvals::for_deploy(&app.db, id).await?,
            environment: store::environments::find(&app.db, deploy.environment_id).await?,
            pin: pins::active_pin(&app.db, deploy.service_id, deploy.environment_id).await?,
            plan: plans::load(&app.db, id).await?,
            rollback: domain::rollback_offer(&app.db, &deploy).await?,
            deploy,
        })
    }
}

/// The live part of `record`'s page as `user` sees it.
fn live_view(user: &CurrentUser, record: &DeployRecord, csrf: String) -> DeployLive {
    let now = OffsetDateTime::now_utc();
    let deploy = &record.deploy;
    let environment = record.environment.as_ref();
    let can_deploy = policy::can_request_deploy(user, &deploy.team).is_ok();
    let decided = record
        .approvals
        .iter()
        .any(|a| a.is_current() && a.user_id == Some(user.id));
    let no_teams = Vec::new();
    let approvers = environment
        .map(policy::Approvers::of)
        .unwrap_or(policy::Approvers {
            environment: &deploy.environment,
            teams: &no_teams,
        });
    let may = policy::can_approve(user, &approvers, &policy::Parties::of(deploy));
    let can_decide = deploy.state == DeployState::AwaitingApproval && !decided && may.is_ok();
    let why_not_decide = match may {
        Err(AppError::Forbidden(why)) => why.to_owned(),
        _ if decided => "you already decided".to_owned(),
        _ => String::new(),
    };
    let approvals_counted = record
        .approvals
        .iter()
        .filter(|a| {
            a.is_current() && a.decision == Decision::Approve && a.digest == deploy.content_digest
        })
        .count();
    DeployLive {
        deploy: DeployRow::of(deploy, now),
        revision_hash: deploy.revision_hash.clone(),
        namespace: deploy.namespace.clone(),
        started: deploy.started_at.map(display_time).unwrap_or_default(),
        finished_at: deploy.finished_at.map(display_time).unwrap_or_default(),
        attempts: deploy.attempts,
        events: record
            .events
            .iter()
            .map(|e| EventRow {
                at: display_time(e.created_at),
                is_note: e.is_note(),
                from: e.from_state.map(DeployState::as_str).unwrap_or_default(),
                to: e.to_state.as_str(),
                actor: e.actor.clone(),
                message: e.message.clone(),
            })
            .collect(),
        cluster_events: record.cluster_events.clone(),
        approvals: record
            .approvals
            .iter()
            .cloned()
            .map(ApprovalRow::of)
            .collect(),
        requires_approval: environment.is_some_and(|e| e.requires_approval()),
        approvals_required: environment.map_or(0, |e| e.approvals_required),
        approvals_counted,
        decision_deadline: deploy
            .decision_deadline
            .map(display_time)
            .unwrap_or_default(),
        held_until: deploy.held_until.map(display_time).unwrap_or_default(),
        plan: record.plan.as_ref().map(PlanView::of),
        plan_computed_at: deploy
            .plan_computed_at
            .map(crate::web::format::iso_time)
            .unwrap_or_default(),
        can_decide,
        can_release: deploy.state == DeployState::Held && policy::can_override_policy(user).is_ok(),
        why_not_decide,
        diff: record.documents.diff.as_deref().map(diff::lines),
        rollback: record.rollback.clone(),
        pin: record.pin.as_ref().map(PinView::of),
        can_deploy,
        csrf,
    }
}

/// `GET /deploys/{id}`: the deploy's page for its team's members, its
/// environment's approvers and admins; with `HX-Request`, only the live
/// fragment (the page polls it every 2 s until the deploy is finished).
pub(super) async fn show_deploy(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    hx: HxRequest,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let record = match app
        .deploy_records
        .get_or_read(id, || DeployRecord::read(&app, id))
        .await
    {
        Err(AppError::NotFound) => return Err(policy::missing_deploy(&user)),
        read => read?,
    };
    // Access is decided here, for this viewer, before anything of it is shown.
    may_view_deploy(&user, &record.deploy, record.environment.as_ref())?;
    let live = live_view(&user, &record, layout.csrf.clone());
    if hx.0 {
        return Ok(DeployLiveFragment { live }.into_response());
    }
    Ok(DeployPage {
        layout,
        live,
        manifests: record.documents.manifests.clone(),
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
    #[serde(default)]
    digest: String,
    #[serde(default)]
    plan_computed_at: String,
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
    // Who may decide (approver teams, separation of duties) is checked by
    // `domain::deploys::decide` with the deploy locked: `policy::can_approve`.
    load_deploy(&app, &user, id).await?;
    let seen = Seen {
        revision_hash: Some(form.revision_hash),
        image: Some(form.image),
        digest: Some(form.digest),
        plan_computed_at: Some(form.plan_computed_at),
    };
    let decided = domain::decide(
        &app.db,
        id,
        &user,
        &user.actor(addr),
        decision,
        &form.comment,
        &seen,
    )
    .await?;
    let message = match decision {
        Decision::Approve if decided.state == DeployState::AwaitingApproval => {
            format!("Approved deploy #{id}; it still waits for more approvals.")
        }
        Decision::Approve => format!("Approved deploy #{id}; it is {}.", decided.state.label()),
        Decision::Reject => format!("Rejected deploy #{id}."),
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to(&format!("/deploys/{id}")).into_response())
}

/// `POST /deploys/{id}/approve`: eligible approvers (`policy::can_approve`:
/// administrators and approver teams, never the requester, the revision's
/// author or the pusher), bound to the digest and plan they saw.
pub(super) async fn approve(
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
pub(super) async fn reject(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, AppError> {
    decide(app, user, addr, session, id, Decision::Reject, form).await
}

/// Form of an emergency release.
#[derive(Debug, Default, Deserialize)]
pub struct ReleaseForm {
    #[serde(default)]
    reason: String,
}

/// `POST /deploys/{id}/release`: administrators (`policy::can_override_policy`)
/// release a held deploy before its freeze window ends, with a reason.
pub(super) async fn release(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<ReleaseForm>,
) -> Result<Response, AppError> {
    load_deploy(&app, &user, id).await?;
    policy::can_override_policy(&user)?;
    let context = domain::Context::now(&app.clusters);
    let released =
        domain::release_now(&app.db, &context, id, &user.actor(addr), &form.reason).await?;
    flash(
        &session,
        "ok",
        format!(
            "Released deploy #{id} from the freeze window; it is {}.",
            released.state.label()
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/deploys/{id}")).into_response())
}

/// `POST /deploys/{id}/rollback`: team members and admins
/// (`policy::can_request_deploy`) redeploy this deploy's revision and image;
/// the environment is pinned until someone unpins it.
pub(super) async fn rollback(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let target = load_deploy(&app, &user, id).await?;
    policy::can_request_deploy(&user, &target.team)?;
    let deploy = domain::rollback(&app.db, &app.clusters, &target, &user.actor(addr)).await?;
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
pub(super) async fn unpin(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path((team, name, environment)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_request_deploy(&user, &service.team)?;
    let done = domain::unpin(&app.db, &service, &environment, &user.actor(addr)).await?;
    let message = if done {
        format!("Unpinned {team}/{name} in {environment}: automatic deploys go ahead again.")
    } else {
        format!("{team}/{name} was not pinned in {environment}.")
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to(&format!("/services/{team}/{name}/history")).into_response())
}
