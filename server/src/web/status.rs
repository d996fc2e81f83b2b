//! Live scaling status of a service in one environment: replicas, the
//! autoscaler and pods, read from the watch-backed cache (`cluster::status`),
//! never from a list call. The overview page polls the fragment with htmx.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::get;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::cluster::status::{PodStatus, ServiceStatus};
use crate::domain::services::targets;
use crate::error::AppError;
use crate::store::services::Service;
use crate::web::format::display_duration;
use crate::web::loaders::{EnvironmentParam, load_service_to_show};

/// The portal fragment.
pub fn routes() -> Router<AppState> {
    Router::new().route("/services/{team}/{service}/status", get(show_status))
}

/// The status of `service` in the asked-for environment (the production-rules
/// one when none); shared with the API.
pub(crate) async fn status_of(
    app: &AppState,
    service: &Service,
    environment: Option<&str>,
) -> Result<(String, ServiceStatus), AppError> {
    let targets = targets(&app.db, service).await?;
    let target = targets.resolve(environment)?;
    let status = app.clusters.member(&target.cluster).status.service(
        target.namespace()?,
        &service.name,
        &target.environment,
    );
    Ok((target.environment.clone(), status))
}

/// Pod rows the fragment shows unless all are asked for (`?pods=all`). Every
/// open overview polls it every five seconds: a thousand rows each time (about
/// 300 KB) would cost the browser and the portal far more than anyone reads.
pub const PODS_SHOWN: usize = 50;

/// Whether a pod wants someone's attention: not ready, in trouble, or
/// restarted. Those are listed first when not all pods are shown.
fn needs_attention(pod: &PodStatus) -> bool {
    !pod.ready || pod.unschedulable || pod.restarts > 0 || !pod.problems.is_empty()
}

/// The pod rows to show of `pods` (sorted by name): all when `all` or when
/// they fit in [`PODS_SHOWN`]; otherwise those needing attention first, then
/// the others, each group by name, [`PODS_SHOWN`] in all.
pub fn pods_to_show(pods: Vec<PodStatus>, all: bool) -> Vec<PodStatus> {
    if all || pods.len() <= PODS_SHOWN {
        return pods;
    }
    let (mut shown, rest): (Vec<_>, Vec<_>) = pods.into_iter().partition(needs_attention);
    shown.truncate(PODS_SHOWN);
    let room = PODS_SHOWN - shown.len();
    shown.extend(rest.into_iter().take(room));
    shown
}

/// The status fragment of the overview page (rendered to shared bytes).
#[derive(Template)]
#[template(path = "services/_status.html")]
pub struct StatusFragment {
    service: Service,
    environment: String,
    status: ServiceStatus,
    /// Unix seconds of the view, for ages.
    now: i64,
    /// How many pods there are, shown or not.
    pod_count: usize,
    /// How many of them need attention (`needs_attention`).
    pods_in_trouble: usize,
    /// Whether every pod row was asked for.
    all_pods: bool,
}

impl StatusFragment {
    /// [`PODS_SHOWN`], for the template.
    fn pods_limit(&self) -> usize {
        PODS_SHOWN
    }

    /// How old the pod is, e.g. `3m 05s`.
    fn age(&self, pod: &PodStatus) -> String {
        pod.created_epoch
            .map(|c| display_duration((self.now - c).max(0)))
            .unwrap_or_else(|| "—".to_owned())
    }
}

/// What a rendered fragment is shared under: the service, the environment
/// asked for and whether all pods were. Every open overview of it polls it.
pub type StatusKey = (i64, Option<String>, bool);

/// The fragment's query: the environment, and `pods=all` for every pod row.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StatusQuery {
    #[serde(flatten)]
    environment: EnvironmentParam,
    pods: Option<String>,
}

impl StatusQuery {
    fn all_pods(&self) -> bool {
        self.pods.as_deref() == Some("all")
    }
}

/// `GET /services/{team}/{service}/status?env=E`: the fragment, rendered once
/// a second for everyone who may see the service (`AppState::status_fragments`;
/// the watch cache it reads moves on its own, so a second is what a poll sees).
async fn show_status(
    State(app): State<AppState>,
    user: CurrentUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<StatusQuery>,
) -> Result<Html<Bytes>, AppError> {
    // Access is decided here, for this viewer, before anything shared is used.
    let service = load_service_to_show(&app, &user, &team, &name).await?;
    let asked = q.environment.get().map(str::to_owned);
    let all_pods = q.all_pods();
    let html = app
        .status_fragments
        .get_or_read((service.id, asked.clone(), all_pods), || async {
            let (environment, mut status) = status_of(&app, &service, asked.as_deref()).await?;
            let pods = std::mem::take(&mut status.pods);
            let (pod_count, pods_in_trouble) = (
                pods.len(),
                pods.iter().filter(|p| needs_attention(p)).count(),
            );
            status.pods = pods_to_show(pods, all_pods);
            let fragment = StatusFragment {
                service: service.clone(),
                environment,
                status,
                now: jiff::Timestamp::now().as_second(),
                pod_count,
                pods_in_trouble,
                all_pods,
            };
            let html = fragment
                .render()
                .map_err(|e| AppError::Internal(e.into()))?;
            Ok::<_, AppError>(Bytes::from(html))
        })
        .await?;
    // The bytes are shared, not copied, by every response.
    Ok(Html(html.as_ref().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool, restarts: i32) -> PodStatus {
        PodStatus {
            name: name.to_owned(),
            phase: "Running".to_owned(),
            ready,
            restarts,
            node: None,
            zone: None,
            created_at: None,
            created_epoch: None,
            last_termination: None,
            problems: Vec::new(),
            unschedulable: false,
            color: None,
            containers: Vec::new(),
        }
    }

    fn names(pods: &[PodStatus]) -> Vec<&str> {
        pods.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn pods_that_fit_are_all_shown_in_name_order() {
        let pods = vec![pod("a", true, 0), pod("b", false, 0), pod("c", true, 2)];
        assert_eq!(names(&pods_to_show(pods, false)), ["a", "b", "c"]);
    }

    #[test]
    fn past_the_limit_those_needing_attention_come_first() {
        let mut pods: Vec<_> = (0..200)
            .map(|i| pod(&format!("p{i:03}"), true, 0))
            .collect();
        pods[150].ready = false;
        pods[170].restarts = 3;
        pods[190].unschedulable = true;
        let shown = pods_to_show(pods.clone(), false);
        assert_eq!(shown.len(), PODS_SHOWN);
        assert_eq!(names(&shown[..4]), ["p150", "p170", "p190", "p000"]);
        assert_eq!(shown[PODS_SHOWN - 1].name, "p046");
        assert_eq!(pods_to_show(pods, true).len(), 200, "all, when asked");
    }

    #[test]
    fn more_pods_in_trouble_than_rows_shows_only_those() {
        let pods: Vec<_> = (0..80)
            .map(|i| pod(&format!("p{i:02}"), false, 0))
            .collect();
        let shown = pods_to_show(pods, false);
        assert_eq!(shown.len(), PODS_SHOWN);
        assert_eq!(shown[0].name, "p00");
    }
}
