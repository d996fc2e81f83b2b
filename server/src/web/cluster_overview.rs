//! Administration → Cluster: what Slipway sees of the cluster at a glance:
//! the connection, each status watch's health and size (stale since when,
//! while the API server is unreachable), the managed namespaces, the pods
//! something keeps from running, and the deploys waiting for an approval.
//! From the watch cache and PostgreSQL only: no Kubernetes request per view.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
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

/// The page.
#[derive(Template, WebTemplate)]
#[template(path = "admin/cluster.html")]
pub struct ClusterPage {
    layout: Layout,
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
) -> Result<ClusterPage, AppError> {
    policy::can_administer(&user)?;
    let state = app.cluster.state();
    let (failing, failing_total) = app.status.failing_pods(FAILING_SHOWN);
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
    Ok(ClusterPage {
        layout,
        connected: state.client().is_some(),
        connection: state.describe(),
        stale_since: app.status.stale_since(),
        watches: app
            .status
            .sizes()
            .into_iter()
            .map(|(kind, objects, fresh)| WatchRow {
                kind,
                objects,
                fresh,
            })
            .collect(),
        namespaces: store::namespaces::list(&app.db).await?,
        failing,
        failing_total,
        waiting,
    })
}
