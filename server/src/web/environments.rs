//! `/admin/environments`: administrators edit where deploys go (namespace
//! pattern) and under which policy (approval, missing secrets), and add environments.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::deployer;
use crate::error::{AppError, FieldMessage, ResultExt as _};
use crate::render::MAX_ENVIRONMENT_NAME;
use crate::spec::names;
use crate::store::environments::{Environment, EnvironmentPolicy};
use crate::store::{self};
use crate::web::deploys::display_time;
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
    cluster: String,
    updated: String,
}

impl EnvironmentRow {
    fn of(e: &Environment) -> Self {
        EnvironmentRow {
            example_namespace: deployer::namespace_for(
                &e.namespace_pattern,
                "shop",
                &e.name,
                "web",
            )
            .unwrap_or_else(|why| why),
            name: e.name.clone(),
            position: e.position,
            namespace_pattern: e.namespace_pattern.clone(),
            requires_approval: e.requires_approval,
            block_on_missing_secrets: e.block_on_missing_secrets,
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
    errors: Vec<FieldMessage>,
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
    position: String,
}

impl EnvironmentForm {
    fn policy(&self) -> Result<EnvironmentPolicy<'_>, AppError> {
        let mut errors = Vec::new();
        let pattern = self.namespace_pattern.trim();
        if let Err(why) = deployer::check_namespace_pattern(pattern) {
            errors.push(FieldMessage {
                path: "namespace_pattern".into(),
                message: why,
            });
        }
        let position = match self.position.trim() {
            "" => 0,
            p => p.parse::<i32>().unwrap_or_else(|_| {
                errors.push(FieldMessage {
                    path: "position".into(),
                    message: "must be a whole number".into(),
                });
                0
            }),
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        Ok(EnvironmentPolicy {
            namespace_pattern: pattern,
            requires_approval: self.requires_approval.is_some(),
            block_on_missing_secrets: self.block_on_missing_secrets.is_some(),
            position,
        })
    }
}

async fn page(
    app: &AppState,
    layout: Layout,
    errors: Vec<FieldMessage>,
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

/// `POST /admin/environments`: adds an environment (`policy::can_administer`).
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
    let checked = check_name(&name).and_then(|()| form.policy());
    let policy = match checked {
        Ok(p) => p,
        Err(AppError::Invalid(errors)) => {
            let page = page(&app, layout, errors, name).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(e),
    };
    let mut tx = app.db.begin().await?;
    store::environments::insert(&mut *tx, &name, &policy)
        .await
        .on_constraint("environments_name_key", || {
            AppError::invalid("name", "an environment with this name exists")
        })?;
    store::audit::record(
        &mut *tx,
        &user.actor(addr),
        "environment.create",
        &name,
        json!({"namespace_pattern": policy.namespace_pattern,
               "requires_approval": policy.requires_approval,
               "block_on_missing_secrets": policy.block_on_missing_secrets}),
    )
    .await?;
    tx.commit().await?;
    flash(&session, "ok", format!("Environment {name} added.")).await?;
    Ok(Redirect::to("/admin/environments").into_response())
}

fn check_name(name: &str) -> Result<(), AppError> {
    names::dns_label(name).map_err(|why| AppError::invalid("name", why))?;
    if name.len() > MAX_ENVIRONMENT_NAME {
        return Err(AppError::invalid(
            "name",
            format!("must be at most {MAX_ENVIRONMENT_NAME} characters"),
        ));
    }
    Ok(())
}

/// `POST /admin/environments/{name}`: replaces an environment's namespace pattern
/// and policy (`policy::can_administer`). Deploys already requested keep the
/// namespace they were rendered for.
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
    let policy = match form.policy() {
        Ok(p) => p,
        Err(AppError::Invalid(errors)) => {
            let errors = errors
                .into_iter()
                .map(|mut e| {
                    e.path = format!("{name}.{}", e.path);
                    e
                })
                .collect();
            let page = page(&app, layout, errors, String::new()).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(e),
    };
    let mut tx = app.db.begin().await?;
    store::environments::update_policy(&mut *tx, &name, &policy)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        &user.actor(addr),
        "environment.update",
        &name,
        json!({"namespace_pattern": policy.namespace_pattern,
               "requires_approval": policy.requires_approval,
               "block_on_missing_secrets": policy.block_on_missing_secrets,
               "position": policy.position}),
    )
    .await?;
    tx.commit().await?;
    flash(&session, "ok", format!("Environment {name} saved.")).await?;
    Ok(Redirect::to("/admin/environments").into_response())
}
