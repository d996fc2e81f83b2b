//! `/admin/namespaces`: which team and environment own each namespace (the
//! registry, written by deploys), and the reserved namespaces no pattern may
//! give to a team. Administrators only (`policy::can_administer`); changes go
//! through `domain::tenancy`, audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::tenancy;
use crate::error::AppError;
use crate::store::{self, namespaces::Registered, namespaces::Reserved};
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// Namespace administration routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/namespaces", get(show_namespaces))
        .route("/admin/namespaces/reserved", post(reserve))
        .route("/admin/namespaces/reserved/{name}/delete", post(unreserve))
}

/// The namespaces page.
#[derive(Template, WebTemplate)]
#[template(path = "admin/namespaces.html")]
pub struct NamespacesPage {
    layout: Layout,
    registered: Vec<Registered>,
    reserved: Vec<Reserved>,
    form: ReserveForm,
    errors: Problems,
}

/// Form of `POST /admin/namespaces/reserved`.
#[derive(Debug, Default, Deserialize)]
pub struct ReserveForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    reason: String,
}

async fn page(
    app: &AppState,
    layout: Layout,
    form: ReserveForm,
    errors: Problems,
) -> Result<NamespacesPage, AppError> {
    Ok(NamespacesPage {
        layout,
        registered: store::namespaces::list(&app.db).await?,
        reserved: store::namespaces::reserved(&app.db).await?,
        form,
        errors,
    })
}

/// `GET /admin/namespaces` (`policy::can_administer`).
async fn show_namespaces(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<NamespacesPage, AppError> {
    policy::can_administer(&user)?;
    page(&app, layout, ReserveForm::default(), Problems::default()).await
}

/// `POST /admin/namespaces/reserved`: reserves a namespace
/// (`policy::can_administer`); problems come back with 422.
async fn reserve(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<ReserveForm>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    match tenancy::reserve(&app.db, &user.actor(addr), &form.name, &form.reason).await {
        Ok(()) => {
            flash(&session, "ok", format!("Reserved {}.", form.name.trim())).await?;
            Ok(Redirect::to("/admin/namespaces").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = page(&app, layout, form, Problems(errors)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /admin/namespaces/reserved/{name}/delete` (`policy::can_administer`).
async fn unreserve(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    tenancy::unreserve(&app.db, &user.actor(addr), &name).await?;
    flash(&session, "ok", format!("{name} is no longer reserved.")).await?;
    Ok(Redirect::to("/admin/namespaces").into_response())
}
