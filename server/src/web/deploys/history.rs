//! A service's deploy history by environment, and `/deploys`: every deploy the
//! user may see, filterable.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use time::OffsetDateTime;

use super::view::{DeployRow, EnvironmentHistory, PinView, ServiceHistory};
use super::{HISTORY_PER_ENVIRONMENT, PAGE};
use crate::app::AppState;
use crate::auth::{CurrentUser, policy};
use crate::deploy_model::DeployState;
use crate::error::AppError;
use crate::store::deploys::{self as deploys, Filter};
use crate::store::services::Service;
use crate::store::{self, pins};
use crate::web::layout::Layout;
use crate::web::loaders::{load_service_to_show, service_filter, state_filter};

/// What a service's history shows is read for: the service and how many
/// deploys per environment.
pub type HistoryKey = (i64, i64);

/// Loads the history of `service` for `user` (who may see it: checked by the
/// caller). The environments' part is the same for every viewer, so it is read
/// once and shared for a second; only what the viewer may do is theirs.
pub async fn load_history(
    app: &AppState,
    user: &CurrentUser,
    service: &Service,
    per_environment: i64,
) -> Result<ServiceHistory, AppError> {
    let environments = app
        .deploy_histories
        .get_or_read((service.id, per_environment), || {
            read_environments(app, service.id, per_environment)
        })
        .await?;
    Ok(ServiceHistory {
        team: service.team.clone(),
        service: service.name.clone(),
        can_deploy: policy::can_request_deploy(user, &service.team).is_ok(),
        environments,
    })
}

/// Reads a service's recent deploys and pins, by environment.
async fn read_environments(
    app: &AppState,
    service_id: i64,
    per_environment: i64,
) -> Result<Vec<EnvironmentHistory>, AppError> {
    let now = OffsetDateTime::now_utc();
    let pins = pins::active_pins(&app.db, service_id).await?;
    let recent = deploys::recent_per_environment(&app.db, service_id, per_environment).await?;
    let mut environments = Vec::new();
    for env in store::environments::list(&app.db).await? {
        let list: Vec<_> = recent
            .iter()
            .filter(|d| d.environment_id == env.id)
            .collect();
        environments.push(EnvironmentHistory {
            pin: pins
                .iter()
                .find(|p| p.environment_id == env.id)
                .map(PinView::of),
            requires_approval: env.requires_approval(),
            name: env.name,
            deploys: list.iter().map(|d| DeployRow::of(d, now)).collect(),
        });
    }
    Ok(environments)
}

/// A service's deploy history by environment.
#[derive(Template, WebTemplate)]
#[template(path = "deploys/history.html")]
pub struct HistoryPage {
    layout: Layout,
    service: Service,
    history: ServiceHistory,
}

/// `GET /services/{team}/{service}/history`: team members and admins.
pub(super) async fn show_history(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
) -> Result<HistoryPage, AppError> {
    // Access is decided here, for this viewer, before anything shared is used.
    let service = load_service_to_show(&app, &user, &team, &name).await?;
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
    states: Vec<&'static str>,
    list: Arc<DeployList>,
    next: Option<String>,
}

/// What `/deploys` shows for one filter: the same for every viewer who may see
/// the same teams (the filter, the key it is shared under, holds them), so
/// read once and shared for a second (`AppState::deploy_lists`).
#[derive(Debug)]
pub struct DeployList {
    rows: Vec<DeployRow>,
    /// The oldest deploy listed, when the page is full (older ones may follow).
    full_down_to: Option<i64>,
    /// Every environment's name, for the filter.
    environments: Vec<String>,
}

async fn read_deploy_list(app: &AppState, filter: &Filter) -> Result<DeployList, AppError> {
    let list = deploys::list(&app.db, filter).await?;
    let now = OffsetDateTime::now_utc();
    Ok(DeployList {
        full_down_to: (list.len() as i64 == filter.limit)
            .then(|| list.last().map(|d| d.id))
            .flatten(),
        rows: list.iter().map(|d| DeployRow::of(d, now)).collect(),
        environments: store::environments::list(&app.db)
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect(),
    })
}

/// `GET /deploys`: the history across every service the user may see
/// (`policy::can_view_team`: their teams, or all for admins), filterable.
pub(super) async fn list_deploys(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(query): Query<ListQuery>,
) -> Result<DeploysPage, AppError> {
    let (team, service) = service_filter(&query.service);
    let state = state_filter(&query.state)?;
    let filter = Filter {
        teams: policy::visible_teams(&user),
        team,
        service,
        environment: (!query.environment.is_empty()).then(|| query.environment.clone()),
        state,
        before_id: query.before,
        limit: PAGE,
        ..Filter::default()
    };
    let list = app
        .deploy_lists
        .get_or_read(filter.clone(), || read_deploy_list(&app, &filter))
        .await?;
    Ok(DeploysPage {
        layout,
        states: DeployState::ALL.iter().map(|s| s.as_str()).collect(),
        next: list.full_down_to.map(|id| query.next_page(id)),
        list,
        query,
    })
}
