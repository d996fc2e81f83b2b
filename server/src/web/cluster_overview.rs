//! Administration → Cluster: what Slipway sees of the cluster at a glance:
//! the connection, each status watch's health and size (stale since when,
//! while the API server is unreachable), the managed namespaces, the pods
//! something keeps from running, and the deploys waiting for an approval.
//! From the watch cache and PostgreSQL only: no Kubernetes request per view.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;

use crate::app::AppState;
use crate::auth::{CurrentUser, policy};
use crate::cluster::status::FailingPod;
use crate::domain::approvals::{self, QueueFilter};
use crate::error::AppError;
use crate::store;
use crate::web::layout::Layout;

/// Failing pods listed at most.
const FAILING_SHOWN: usize = 50;

/// The route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/cluster", get(show_cluster))
}

/// One watch's row.
pub struct WatchRow {
    kind: &'static str,
    objects: usize,
    fresh: bool,
}

/// One waiting deploy.
pub struct WaitingRow {
    id: i64,
    team: String,
    service: String,
    environment: String,
    approvals: String,
}

/// `?cluster=NAME`: which cluster (the configured one by default).
#[derive(Debug, serde::Deserialize)]
pub struct Which {
    cluster: Option<String>,
}

/// The page.
#[derive(Template, WebTemplate)]
#[template(path = "admin/cluster.html")]
pub struct ClusterPage {
    layout: Layout,
    /// The cluster shown.
    name: String,
    /// Every cluster's name, for the switcher.
    names: Vec<String>,
    connection: String,
    connected: bool,
    stale_since: Option<String>,
    watches: Vec<WatchRow>,
    namespaces: Vec<store::namespaces::Registered>,
    failing: Vec<FailingPod>,
    failing_total: usize,
    waiting: Vec<WaitingRow>,
}

/// `GET /admin/cluster`. Admins only.
async fn show_cluster(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(which): Query<Which>,
) -> Result<ClusterPage, AppError> {
    policy::can_administer(&user)?;
    let names: Vec<String> = app.clusters.members().into_iter().map(|m| m.name).collect();
    let name = which
        .cluster
        .unwrap_or_else(|| app.clusters.configured_name());
    if !names.contains(&name) {
        return Err(AppError::NotFound);
    }
    let member = app.clusters.member(&name);
    let state = member.handle.state();
    let (failing, failing_total) = member.status.failing_pods(FAILING_SHOWN);
    let waiting = approvals::queue(&app.db, &user, &QueueFilter::default())
        .await?
        .into_iter()
        .map(|e| WaitingRow {
            id: e.deploy.id,
            team: e.deploy.team.clone(),
            service: e.deploy.service.clone(),
            environment: e.deploy.environment.clone(),
            approvals: format!("{} of {}", e.approvals, e.approvals_required),
        })
        .collect();
    let namespaces = store::namespaces::list(&app.db)
        .await?
        .into_iter()
        .filter(|n| n.cluster == name)
        .collect();
    Ok(ClusterPage {
        layout,
        names,
        connected: state.client().is_some(),
        connection: state.describe(),
        stale_since: member.status.stale_since(),
        watches: member
            .status
            .sizes()
            .into_iter()
            .map(|(kind, objects, fresh)| WatchRow {
                kind,
                objects,
                fresh,
            })
            .collect(),
        namespaces,
        name,
        failing,
        failing_total,
        waiting,
    })
}
