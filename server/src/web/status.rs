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
use crate::web::loaders::{EnvironmentParam, load_service};

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

/// The status fragment of the overview page (rendered to shared bytes).
#[derive(Template)]
#[template(path = "services/_status.html")]
pub struct StatusFragment {
    service: Service,
    environment: String,
    status: ServiceStatus,
    /// Unix seconds of the view, for ages.
    now: i64,
}

impl StatusFragment {
    /// How old the pod is, e.g. `3m 05s`.
    fn age(&self, pod: &PodStatus) -> String {
        pod.created_epoch
            .map(|c| display_duration((self.now - c).max(0)))
            .unwrap_or_else(|| "—".to_owned())
    }
}

/// What a rendered fragment is shared under: the service and the
/// environment asked for. Every open overview of the service polls it.
pub type StatusKey = (i64, Option<String>);

/// `GET /services/{team}/{service}/status?env=E`: the fragment, rendered once
/// a second for everyone who may see the service (`AppState::status_fragments`;
/// the watch cache it reads moves on its own, so a second is what a poll sees).
async fn show_status(
    State(app): State<AppState>,
    user: CurrentUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvironmentParam>,
) -> Result<Html<Bytes>, AppError> {
    // Access is decided here, for this viewer, before anything shared is used.
    let service = load_service(&app, &user, &team, &name).await?;
    let asked = q.get().map(str::to_owned);
    let html = app
        .status_fragments
        .get_or_read((service.id, asked.clone()), || async {
            let (environment, status) = status_of(&app, &service, asked.as_deref()).await?;
            let fragment = StatusFragment {
                service: service.clone(),
                environment,
                status,
                now: jiff::Timestamp::now().as_second(),
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
