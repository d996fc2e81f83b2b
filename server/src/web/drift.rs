//! `GET /services/{team}/{service}/drift?env=E`: the live objects against the
//! last successful deploy there, with who changed each drifted field
//! (`domain::drift`). A page, or its card alone for htmx.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::domain::drift::{self, Report};
use crate::error::AppError;
use crate::store::services::Service;
use crate::web::htmx::HxRequest;
use crate::web::layout::Layout;
use crate::web::loaders::load_service;

/// The route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/services/{team}/{service}/drift", get(show_drift))
}

/// `?env=E`.
#[derive(Debug, Default, Deserialize)]
pub struct DriftQuery {
    env: Option<String>,
}

/// The card.
#[derive(Template, WebTemplate)]
#[template(path = "services/_drift.html")]
pub struct DriftCard {
    service: Service,
    report: Report,
}

/// The page around it.
#[derive(Template, WebTemplate)]
#[template(path = "services/drift.html")]
pub struct DriftPage {
    layout: Layout,
    service: Service,
    report: Report,
}

async fn show_drift(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    hx: HxRequest,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<DriftQuery>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let report = drift::check(&app.db, &app.clusters, &user, &service, q.env.as_deref()).await?;
    if hx.0 {
        return Ok(DriftCard { service, report }.into_response());
    }
    Ok(DriftPage {
        layout,
        service,
        report,
    }
    .into_response())
}
