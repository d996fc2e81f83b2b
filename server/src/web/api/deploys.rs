//! Deploys over the API: request, read, approve, reject and roll back deploys,
//! list them, read their timeline, and unpin. Same `auth::policy` rules and the
//! same `domain::deploys` actions as the portal; bearer tokens through [`ApiUser`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ApiJson;
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, policy};
use crate::domain::deploys::{self as domain, Decision, DeployRequest, DeployState, Seen, Trigger};
use crate::domain::plans;
use crate::error::AppError;
use crate::plan::Plan;
use crate::store;
use crate::store::approvals::{self, Approval};
use crate::store::deploys::{self as deploys, Deploy, Filter};
use crate::web::loaders::{load_deploy, load_service, service_filter, state_filter};

/// A decision as the API shows it.
#[derive(Debug, Serialize)]
pub struct ApprovalOut {
    /// Who decided.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: Decision,
    /// Their comment.
    pub comment: String,
    /// The revision hash decided on.
    pub revision_hash: String,
    /// The image decided on.
    pub image: String,
    /// The content digest decided on.
    pub digest: String,
    /// Still counts (false once its plan was recomputed).
    pub current: bool,
    /// Why it no longer counts.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub void_reason: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The commit a webhook deploy came from.
#[derive(Debug, Serialize)]
pub struct CommitOut {
    /// Full sha.
    pub sha: String,
    /// Message.
    pub message: String,
    /// Author.
    pub author: String,
    /// Who pushed.
    pub pusher: String,
    /// The push's compare link.
    pub compare_url: String,
}

/// A deploy as the API shows it.
#[derive(Debug, Serialize)]
pub struct DeployOut {
    /// Number.
    pub id: i64,
    /// State (`docs/api.md` lists them).
    pub state: DeployState,
    /// Why it failed, was rejected or superseded (empty otherwise).
    pub reason: String,
    /// Team.
    pub team: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// The cluster it was planned for and applied to.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Image.
    pub image: String,
    /// Revision number.
    pub revision: i32,
    /// Revision content hash.
    pub revision_hash: String,
    /// `user`, `webhook` or `rollback`.
    pub trigger: Trigger,
    /// Who asked.
    pub requested_by: String,
    /// The deploy a rollback restores.
    pub rollback_of: Option<i64>,
    /// Claims by workers so far.
    pub attempts: i32,
    /// sha256 of the rendered manifests.
    pub manifests_hash: String,
    /// For a webhook deploy: the pushed commit (else empty strings).
    pub commit: CommitOut,
    /// The digest approvals are bound to.
    pub digest: String,
    /// Decisions.
    pub approvals: Vec<ApprovalOut>,
    /// Approvals the environment requires now.
    pub approvals_required: i32,
    /// A waiting deploy is rejected as expired after this.
    #[serde(with = "time::serde::rfc3339::option")]
    pub decision_deadline: Option<OffsetDateTime>,
    /// A held deploy moves on after this.
    #[serde(with = "time::serde::rfc3339::option")]
    pub held_until: Option<OffsetDateTime>,
    /// The stored plan (one deploy's call only; lists leave it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// When requested.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a worker took it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl DeployOut {
    /// The API view of `d` with its decisions.
    fn of(
        d: Deploy,
        approvals: Vec<Approval>,
        approvals_required: i32,
        plan: Option<Plan>,
    ) -> Self {
        DeployOut {
            id: d.id,
            state: d.state,
            reason: d.reason,
            team: d.team,
            service: d.service,
            environment: d.environment,
            cluster: d.cluster,
            namespace: d.namespace,
            image: d.image,
            revision: d.revision,
            revision_hash: d.revision_hash,
            trigger: d.trigger,
            requested_by: d.requested_by,
            rollback_of: d.rollback_of,
            attempts: d.attempts,
            manifests_hash: d.manifests_hash,
            commit: CommitOut {
                sha: d.commit_sha,
                message: d.commit_message,
                author: d.commit_author,
                pusher: d.pusher,
                compare_url: d.compare_url,
            },
            digest: d.content_digest,
            approvals: approvals
                .into_iter()
                .map(|a| ApprovalOut {
                    current: a.is_current(),
                    approver: a.approver,
                    decision: a.decision,
                    comment: a.comment,
                    revision_hash: a.revision_hash,
                    image: a.image,
                    digest: a.digest,
                    void_reason: a.void_reason,
                    created_at: a.created_at,
                })
                .collect(),
            approvals_required,
            decision_deadline: d.decision_deadline,
            held_until: d.held_until,
            plan,
            created_at: d.created_at,
            started_at: d.started_at,
            finished_at: d.finished_at,
        }
    }
}

/// One deploy with its decisions and its plan.
async fn deploy_out(app: &AppState, d: Deploy) -> Result<DeployOut, AppError> {
    let approvals = approvals::for_deploy(&app.db, d.id).await?;
    let required = store::environments::find(&app.db, d.environment_id)
        .await?
        .map_or(0, |e| e.approvals_required);
    let plan = plans::load(&app.db, d.id).await?;
    Ok(DeployOut::of(d, approvals, required, plan))
}

/// A list of deploys with their decisions, fetched in one query (without plans).
pub(super) async fn deploys_out(
    app: &AppState,
    list: Vec<Deploy>,
) -> Result<Vec<DeployOut>, AppError> {
    let ids: Vec<i64> = list.iter().map(|d| d.id).collect();
    let mut by_deploy = approvals::for_deploys(&app.db, &ids).await?;
    let required: std::collections::HashMap<i64, i32> = store::environments::list(&app.db)
        .await?
        .into_iter()
        .map(|e| (e.id, e.approvals_required))
        .collect();
    Ok(list
        .into_iter()
        .map(|d| {
            let approvals = by_deploy.remove(&d.id).unwrap_or_default();
            let n = required.get(&d.environment_id).copied().unwrap_or(0);
            DeployOut::of(d, approvals, n, None)
        })
        .collect())
}

/// Body of `POST …/deploys`.
#[derive(Debug, Deserialize)]
pub struct DeployBody {
    environment: String,
    image: String,
    #[serde(default)]
    revision: Option<i32>,
    /// Administrators: a written reason to request despite a failing
    /// readiness checklist or a freeze window.
    #[serde(default)]
    override_reason: Option<String>,
}

/// `POST /api/v1/teams/{team}/services/{service}/deploys`: team members and
/// admins (`policy::can_request_deploy`); 202 with the deploy (`id`, `state`, …).
pub async fn create_deploy(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path((team, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<DeployBody>,
) -> Result<(StatusCode, Json<DeployOut>), AppError> {
    // The team check comes before the lookup: outsiders learn nothing.
    policy::can_request_deploy(&user, &team)?;
    let service = load_service(&app, &user, &team, &name).await?;
    let override_reason = body
        .override_reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if override_reason.is_some() {
        policy::can_override_policy(&user)?;
    }
    let deploy = domain::request(
        &app.db,
        &app.clusters,
        &service,
        &user.actor(addr),
        Trigger::User,
        &DeployRequest {
            environment: body.environment,
            image: body.image,
            revision: body.revision,
            override_reason,
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(deploy_out(&app, deploy).await?)))
}

/// Query of the deploy lists.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// `team/service` or a service name (`/api/v1/deploys` only).
    service: Option<String>,
    environment: Option<String>,
    state: Option<String>,
    /// Deploys older than this id.
    before: Option<i64>,
    limit: Option<i64>,
}

impl ListQuery {
    fn filter(&self) -> Result<Filter, AppError> {
        let state = state_filter(self.state.as_deref().unwrap_or_default())?;
        Ok(Filter {
            environment: self.environment.clone().filter(|e| !e.is_empty()),
            state,
            before_id: self.before,
            limit: self.limit.unwrap_or(50).clamp(1, 200),
            ..Filter::default()
        })
    }
}

/// `GET /api/v1/teams/{team}/services/{service}/deploys`: the service's deploys,
/// newest first (`policy::can_view_team`).
pub async fn list_service_deploys(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<DeployOut>>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let filter = Filter {
        service_id: Some(service.id),
        ..query.filter()?
    };
    let list = deploys::list(&app.db, &filter).await?;
    Ok(Json(deploys_out(&app, list).await?))
}

/// `GET /api/v1/deploys`: deploys of every service the caller may see, newest
/// first; `?service=team/name&environment=&state=&before=&limit=`.
pub async fn list_deploys(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<DeployOut>>, AppError> {
    let (team, service) = service_filter(query.service.as_deref().unwrap_or_default());
    let filter = Filter {
        teams: policy::visible_teams(&user),
        team,
        service,
        ..query.filter()?
    };
    let list = deploys::list(&app.db, &filter).await?;
    Ok(Json(deploys_out(&app, list).await?))
}

/// `GET /api/v1/deploys/{id}`: team members and admins (`policy::can_view_team`).
pub async fn show_deploy(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<DeployOut>, AppError> {
    let deploy = load_deploy(&app, &user, id).await?;
    Ok(Json(deploy_out(&app, deploy).await?))
}

/// One timeline entry.
#[derive(Debug, Serialize)]
pub struct EventOut {
    /// State before (null for the request).
    pub from: Option<DeployState>,
    /// State after (equal to `from` for a note).
    pub to: DeployState,
    /// Who.
    pub actor: String,
    /// What.
    pub message: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// `GET /api/v1/deploys/{id}/events`: the timeline (`policy::can_view_team`).
pub async fn list_events(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<EventOut>>, AppError> {
    load_deploy(&app, &user, id).await?;
    let events = deploys::events(&app.db, id).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| EventOut {
                from: e.from_state,
                to: e.to_state,
                actor: e.actor,
                message: e.message,
                at: e.created_at,
            })
            .collect(),
    ))
}

/// One Kubernetes event kept in a deploy's record.
#[derive(Debug, Serialize)]
pub struct ClusterEventOut {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `BackOff`, `ScalingReplicaSet`, …
    pub reason: String,
    /// `Kind/name` of the object it is about.
    pub object: String,
    /// What it said.
    pub message: String,
    /// How often.
    pub count: i32,
    /// First time.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// Last time.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// `GET /api/v1/deploys/{id}/cluster-events`: the Kubernetes events of the
/// deploy's objects, copied when its rollout ended (`policy::can_view_team`).
pub async fn list_cluster_events(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ClusterEventOut>>, AppError> {
    load_deploy(&app, &user, id).await?;
    let events = crate::store::cluster_events::of_deploy(&app.db, id).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| ClusterEventOut {
                object: format!("{}/{}", e.object_kind, e.object_name),
                kind: e.kind,
                reason: e.reason,
                message: e.message,
                count: e.count,
                first_seen: e.first_seen,
                last_seen: e.last_seen,
            })
            .collect(),
    ))
}

/// Body of approve and reject; `revision_hash` and `image`, when given, must be the deploy's.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionBody {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    revision_hash: Option<String>,
    #[serde(default)]
    image: Option<String>,
    /// The content digest reviewed; when given, it must be the deploy's.
    #[serde(default)]
    digest: Option<String>,
}

/// The decision body; an empty body is a decision without a comment.
fn decision_body(bytes: &[u8]) -> Result<DecisionBody, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(DecisionBody::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| AppError::invalid("body", format!("is not a valid decision: {e}")))
}

async fn decide(
    app: AppState,
    user: crate::auth::CurrentUser,
    addr: ClientAddr,
    id: i64,
    decision: Decision,
    body: DecisionBody,
) -> Result<Json<DeployOut>, AppError> {
    // Who may decide is checked by the action with the deploy locked
    // (`policy::can_approve` with the environment's approver teams).
    load_deploy(&app, &user, id).await?;
    let decided = domain::decide(
        &app.db,
        id,
        &user,
        &user.actor(addr),
        decision,
        &body.comment,
        &Seen {
            revision_hash: body.revision_hash,
            image: body.image,
            digest: body.digest,
            plan_computed_at: None,
        },
    )
    .await?;
    Ok(Json(deploy_out(&app, decided).await?))
}

/// `POST /api/v1/deploys/{id}/approve` `{"comment"}`: administrators other than
/// the requester (`policy::can_approve`); the deploy.
pub async fn approve(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<DeployOut>, AppError> {
    decide(
        app,
        user,
        addr,
        id,
        Decision::Approve,
        decision_body(&body)?,
    )
    .await
}

/// `POST /api/v1/deploys/{id}/reject` `{"comment"}`: as approve.
pub async fn reject(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<DeployOut>, AppError> {
    decide(app, user, addr, id, Decision::Reject, decision_body(&body)?).await
}

/// Body of `POST /api/v1/deploys/{id}/release`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    reason: String,
}

/// `POST /api/v1/deploys/{id}/release` `{"reason"}`: administrators
/// (`policy::can_override_policy`) release a held deploy before its freeze
/// window ends; the deploy.
pub async fn release(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ReleaseBody>,
) -> Result<Json<DeployOut>, AppError> {
    load_deploy(&app, &user, id).await?;
    policy::can_override_policy(&user)?;
    let context = domain::Context::now(&app.clusters);
    let released =
        domain::release_now(&app.db, &context, id, &user.actor(addr), &body.reason).await?;
    Ok(Json(deploy_out(&app, released).await?))
}

/// `POST /api/v1/deploys/{id}/rollback`: team members and admins
/// (`policy::can_request_deploy`); 202 with a new deploy of that deploy's
/// revision and image, which pins the environment.
pub async fn rollback(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<DeployOut>), AppError> {
    let target = load_deploy(&app, &user, id).await?;
    policy::can_request_deploy(&user, &target.team)?;
    let deploy = domain::rollback(&app.db, &app.clusters, &target, &user.actor(addr)).await?;
    Ok((StatusCode::ACCEPTED, Json(deploy_out(&app, deploy).await?)))
}

/// Answer of unpin.
#[derive(Debug, Serialize)]
pub struct UnpinOut {
    /// True when there was a pin to end.
    pub unpinned: bool,
}

/// `POST /api/v1/teams/{team}/services/{service}/environments/{environment}/unpin`:
/// team members and admins (`policy::can_request_deploy`).
pub async fn unpin(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path((team, name, environment)): Path<(String, String, String)>,
) -> Result<Json<UnpinOut>, AppError> {
    policy::can_request_deploy(&user, &team)?;
    let service = load_service(&app, &user, &team, &name).await?;
    let unpinned = domain::unpin(&app.db, &service, &environment, &user.actor(addr)).await?;
    Ok(Json(UnpinOut { unpinned }))
}
