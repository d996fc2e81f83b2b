//! Administration → Clusters: the registry. Administrators see every cluster
//! with its connection (as this replica sees it), register one (a connection
//! test runs before anything is stored), change how one is reached and remove
//! one no environment targets. Credentials typed here are sealed and never
//! shown again: a form that failed comes back with the name, the source and
//! the server URL, never the kubeconfig, token or CA. Changes go through
//! `domain::clusters`.

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
use crate::domain::clusters::{self as domain, ClusterView, ConnectionInput};
use crate::error::AppError;
use crate::secret::SecretString;
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/clusters", get(list_clusters).post(register_cluster))
        .route(
            "/admin/clusters/{name}",
            get(edit_cluster).post(update_cluster),
        )
        .route("/admin/clusters/{name}/remove", post(remove_cluster))
}

/// The register and change forms; the credential fields are never echoed back.
#[derive(Debug, Default, Deserialize)]
pub struct ClusterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    kubeconfig: SecretString,
    #[serde(default)]
    server: String,
    #[serde(default)]
    token: SecretString,
    #[serde(default)]
    ca: String,
}

impl ClusterForm {
    fn input(&self) -> ConnectionInput {
        ConnectionInput {
            source: self.source.clone(),
            kubeconfig: self.kubeconfig.clone(),
            server: self.server.clone(),
            token: self.token.clone(),
            ca: self.ca.clone(),
        }
    }

    /// What a page may show again of a failed form: no credential.
    fn shown(&self) -> Shown {
        Shown {
            name: self.name.trim().to_owned(),
            source: match self.source.as_str() {
                "token" | "in_cluster" => self.source.clone(),
                _ => "kubeconfig".into(),
            },
            server: self.server.trim().to_owned(),
        }
    }
}

/// The non-secret fields of a form, shown again after a refusal.
#[derive(Debug, Default)]
pub struct Shown {
    name: String,
    source: String,
    server: String,
}

/// The registry page.
#[derive(Template, WebTemplate)]
#[template(path = "admin/clusters.html")]
pub struct ClustersPage {
    layout: Layout,
    clusters: Vec<ClusterView>,
    form: Shown,
    errors: Problems,
}

/// One cluster's page: its connection, a change form and removal.
#[derive(Template, WebTemplate)]
#[template(path = "admin/cluster_edit.html")]
pub struct ClusterEditPage {
    layout: Layout,
    cluster: ClusterView,
    form: Shown,
    errors: Problems,
}

async fn registry(
    app: &AppState,
    layout: Layout,
    form: Shown,
    errors: Problems,
) -> Result<ClustersPage, AppError> {
    Ok(ClustersPage {
        layout,
        clusters: domain::list(&app.db, &app.clusters).await?,
        form,
        errors,
    })
}

async fn one(app: &AppState, name: &str) -> Result<ClusterView, AppError> {
    domain::list(&app.db, &app.clusters)
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or(AppError::NotFound)
}

/// `GET /admin/clusters` (`policy::can_administer`).
async fn list_clusters(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<ClustersPage, AppError> {
    policy::can_administer(&user)?;
    let form = Shown {
        source: "kubeconfig".into(),
        ..Shown::default()
    };
    registry(&app, layout, form, Problems::default()).await
}

/// `POST /admin/clusters` (`policy::can_administer`): registers a cluster;
/// problems (a failed connection test among them) come back with 422.
async fn register_cluster(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    session: Session,
    Form(form): Form<ClusterForm>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let key = app.config.secret_key.as_ref();
    let name = form.name.trim().to_owned();
    match domain::register(
        &app.db,
        &app.clusters,
        key,
        &user.actor(addr),
        &name,
        &form.input(),
    )
    .await
    {
        Ok(row) => {
            flash(
                &session,
                "ok",
                format!(
                    "Cluster {} registered; point an environment at it to deploy there.",
                    row.name
                ),
            )
            .await?;
            Ok(Redirect::to("/admin/clusters").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = registry(&app, layout, form.shown(), Problems(errors)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `GET /admin/clusters/{name}` (`policy::can_administer`).
async fn edit_cluster(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(name): Path<String>,
) -> Result<ClusterEditPage, AppError> {
    policy::can_administer(&user)?;
    let cluster = one(&app, &name).await?;
    let form = Shown {
        name: cluster.name.clone(),
        source: match cluster.source.as_str() {
            "token" | "in_cluster" => cluster.source.clone(),
            _ => "kubeconfig".into(),
        },
        server: cluster.server.clone().unwrap_or_default(),
    };
    Ok(ClusterEditPage {
        layout,
        cluster,
        form,
        errors: Problems::default(),
    })
}

/// `POST /admin/clusters/{name}` (`policy::can_administer`): replaces how it
/// is reached; problems come back with 422.
async fn update_cluster(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<ClusterForm>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let key = app.config.secret_key.as_ref();
    match domain::update(
        &app.db,
        &app.clusters,
        key,
        &user.actor(addr),
        &name,
        &form.input(),
    )
    .await
    {
        Ok(_) => {
            flash(
                &session,
                "ok",
                format!("Cluster {name}'s connection replaced."),
            )
            .await?;
            Ok(Redirect::to(&format!("/admin/clusters/{name}")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let cluster = one(&app, &name).await?;
            let mut shown = form.shown();
            shown.name = name;
            let page = ClusterEditPage {
                layout,
                cluster,
                form: shown,
                errors: Problems(errors),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /admin/clusters/{name}/remove` (`policy::can_administer`).
async fn remove_cluster(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let key = app.config.secret_key.as_ref();
    match domain::remove(&app.db, &app.clusters, key, &user.actor(addr), &name).await {
        Ok(()) => {
            flash(
                &session,
                "ok",
                format!("Cluster {name} removed; its watches stopped."),
            )
            .await?;
            Ok(Redirect::to("/admin/clusters").into_response())
        }
        Err(AppError::Conflict(why)) => {
            flash(&session, "error", why).await?;
            Ok(Redirect::to(&format!("/admin/clusters/{name}")).into_response())
        }
        Err(other) => Err(other),
    }
}
