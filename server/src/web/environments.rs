//! `/admin/environments`: administrators see every environment's policy at a
//! glance, add environments, and on `/admin/environments/{name}` edit where
//! deploys go (namespace pattern) and under which policy (approvals and who
//! may give them, how long a request stays open, images by digest, the
//! checklist, freeze windows, missing secrets, webhook refs). Changes go
//! through `domain::environments`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::environments::{self, PolicyInput};
use crate::domain::namespaces;
use crate::error::{AppError, FieldError};
use crate::store::environments::Environment;
use crate::store::{self};
use crate::web::format::display_time;
use crate::web::layout::{Layout, flash};

/// Environment administration routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/environments",
            get(list_environments).post(create_environment),
        )
        .route(
            "/admin/environments/{name}",
            get(edit_environment).post(update_environment),
        )
}

/// An environment as the page shows it.
pub struct EnvironmentRow {
    name: String,
    position: i32,
    namespace_pattern: String,
    example_namespace: String,
    approvals_required: String,
    approver_teams: String,
    approval_ttl_hours: String,
    require_image_digest: bool,
    checklist_must_pass: bool,
    freeze_action: String,
    block_on_missing_secrets: bool,
    production_rules: bool,
    webhook_refs: String,
    cluster: String,
    updated: String,
}

impl EnvironmentRow {
    fn of(e: &Environment) -> Self {
        EnvironmentRow {
            example_namespace: namespaces::namespace_in(e, "shop", "web")
                .unwrap_or_else(|why| why.to_string()),
            name: e.name.clone(),
            position: e.position,
            namespace_pattern: e.namespace_pattern.clone(),
            approvals_required: e.approvals_required.to_string(),
            approver_teams: e.approver_teams.join(" "),
            approval_ttl_hours: e.approval_ttl_hours.to_string(),
            require_image_digest: e.require_image_digest,
            checklist_must_pass: e.checklist_must_pass,
            freeze_action: e.freeze_action.clone(),
            block_on_missing_secrets: e.block_on_missing_secrets,
            production_rules: e.production_rules,
            webhook_refs: e.webhook_refs.join(" "),
            cluster: e.cluster.clone(),
            updated: display_time(e.updated_at),
        }
    }
}

/// The environments page.
#[derive(Template, WebTemplate)]
#[template(path = "environments/index.html")]
pub struct EnvironmentsPage {
    layout: Layout,
    environments: Vec<EnvironmentRow>,
    errors: Vec<FieldError>,
    new_name: String,
}

/// One environment's policy page.
#[derive(Template, WebTemplate)]
#[template(path = "environments/edit.html")]
pub struct EnvironmentPage {
    layout: Layout,
    e: EnvironmentRow,
    errors: Vec<FieldError>,
    max_approvals: i32,
    /// The registered clusters' names, for the cluster select.
    clusters: Vec<String>,
}

/// Form of create and update; checkboxes are absent when unticked.
#[derive(Debug, Default, Deserialize)]
pub struct EnvironmentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace_pattern: String,
    #[serde(default)]
    approvals_required: String,
    #[serde(default)]
    approver_teams: String,
    #[serde(default)]
    approval_ttl_hours: String,
    #[serde(default)]
    require_image_digest: Option<String>,
    #[serde(default)]
    checklist_must_pass: Option<String>,
    #[serde(default)]
    freeze_action: String,
    #[serde(default)]
    block_on_missing_secrets: Option<String>,
    #[serde(default)]
    production_rules: Option<String>,
    #[serde(default)]
    webhook_refs: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    cluster: String,
}

impl EnvironmentForm {
    fn input(&self) -> PolicyInput {
        PolicyInput {
            namespace_pattern: self.namespace_pattern.clone(),
            approvals_required: self.approvals_required.clone(),
            approver_teams: self.approver_teams.clone(),
            approval_ttl_hours: self.approval_ttl_hours.clone(),
            require_image_digest: self.require_image_digest.is_some(),
            checklist_must_pass: self.checklist_must_pass.is_some(),
            freeze_action: self.freeze_action.clone(),
            block_on_missing_secrets: self.block_on_missing_secrets.is_some(),
            production_rules: self.production_rules.is_some(),
            webhook_refs: self.webhook_refs.clone(),
            position: self.position.clone(),
            cluster: self.cluster.clone(),
        }
    }
}

async fn cluster_names(app: &AppState) -> Result<Vec<String>, AppError> {
    Ok(store::clusters::list(&app.db)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect())
}

async fn page(
    app: &AppState,
    layout: Layout,
    errors: Vec<FieldError>,
    new_name: String,
) -> Result<EnvironmentsPage, AppError> {
    let environments = store::environments::list(&app.db).await?;
    Ok(EnvironmentsPage {
        layout,
        environments: environments.iter().map(EnvironmentRow::of).collect(),
        errors,
        new_name,
    })
}

/// `GET /admin/environments`: administrators only (`policy::can_administer`).
async fn list_environments(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<EnvironmentsPage, AppError> {
    policy::can_administer(&user)?;
    page(&app, layout, Vec::new(), String::new()).await
}

/// `GET /admin/environments/{name}`: one environment's policy form
/// (`policy::can_administer`).
async fn edit_environment(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(name): Path<String>,
) -> Result<EnvironmentPage, AppError> {
    policy::can_administer(&user)?;
    let environment = store::environments::find_by_name(&app.db, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(EnvironmentPage {
        layout,
        e: EnvironmentRow::of(&environment),
        errors: Vec::new(),
        max_approvals: environments::MAX_APPROVALS,
        clusters: cluster_names(&app).await?,
    })
}

/// `POST /admin/environments`: adds an environment (`policy::can_administer`);
/// problems come back on the page with 422.
async fn create_environment(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    session: Session,
    Form(form): Form<EnvironmentForm>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let name = form.name.trim().to_owned();
    match environments::create_environment(&app.db, &user.actor(addr), &name, &form.input()).await {
        Ok(_) => {
            flash(&session, "ok", format!("Environment {name} added.")).await?;
            Ok(Redirect::to("/admin/environments").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = page(&app, layout, errors, name).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /admin/environments/{name}`: replaces an environment's namespace pattern
/// and policy (`policy::can_administer`); problems come back on its page with
/// 422 and what was typed.
async fn update_environment(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<EnvironmentForm>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    match environments::update_environment(&app.db, &user.actor(addr), &name, &form.input()).await {
        Ok(_) => {
            flash(&session, "ok", format!("Environment {name} saved.")).await?;
            Ok(Redirect::to(&format!("/admin/environments/{name}")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let environment = store::environments::find_by_name(&app.db, &name)
                .await?
                .ok_or(AppError::NotFound)?;
            // The form shows what was typed, so nothing typed is lost.
            let mut e = EnvironmentRow::of(&environment);
            e.namespace_pattern = form.namespace_pattern.clone();
            e.approver_teams = form.approver_teams.clone();
            e.approvals_required = form.approvals_required.clone();
            e.approval_ttl_hours = form.approval_ttl_hours.clone();
            e.webhook_refs = form.webhook_refs.clone();
            if !form.cluster.trim().is_empty() {
                e.cluster = form.cluster.trim().to_owned();
            }
            let page = EnvironmentPage {
                layout,
                e,
                errors,
                max_approvals: environments::MAX_APPROVALS,
                clusters: cluster_names(&app).await?,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}
