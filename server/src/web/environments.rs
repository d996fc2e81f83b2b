//! `/admin/environments`: administrators edit where deploys go (namespace
//! pattern) and under which policy (approval, missing secrets, production
//! rules), and add environments. Changes go through `domain::environments`.

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
        .route("/admin/environments/{name}", post(update_environment))
}

/// An environment as the page shows it.
pub struct EnvironmentRow {
    name: String,
    position: i32,
    namespace_pattern: String,
    example_namespace: String,
    requires_approval: bool,
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
            requires_approval: e.requires_approval,
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

/// Form of create and update; checkboxes are absent when unticked.
#[derive(Debug, Default, Deserialize)]
pub struct EnvironmentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace_pattern: String,
    #[serde(default)]
    requires_approval: Option<String>,
    #[serde(default)]
    block_on_missing_secrets: Option<String>,
    #[serde(default)]
    production_rules: Option<String>,
    #[serde(default)]
    webhook_refs: String,
    #[serde(default)]
    position: String,
}

impl EnvironmentForm {
    fn input(&self) -> PolicyInput {
        PolicyInput {
            namespace_pattern: self.namespace_pattern.clone(),
            requires_approval: self.requires_approval.is_some(),
            block_on_missing_secrets: self.block_on_missing_secrets.is_some(),
            production_rules: self.production_rules.is_some(),
            webhook_refs: self.webhook_refs.clone(),
            position: self.position.clone(),
        }
    }
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
/// and policy (`policy::can_administer`); problems are shown under the
/// environment's name with 422.
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
            Ok(Redirect::to("/admin/environments").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let errors = errors
                .into_iter()
                .map(|e| FieldError::new(format!("{name}.{}", e.path), e.message))
                .collect();
            let page = page(&app, layout, errors, String::new()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}
