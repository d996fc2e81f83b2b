//! The Secrets tab: which variable of a service comes from which Secret (or
//! ConfigMap) key, whether that key exists in the environment's namespace, and
//! a form for administrators to write a key's value (`domain::secrets`). Names
//! and key names only: a Secret's value never reaches a page or a response.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::secrets::{self, SecretWrite};
use crate::error::AppError;
use crate::secret::SecretString;
use crate::spec::{EnvSource, EnvWiring, WiringState};
use crate::store::services::Service;
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};
use crate::web::loaders::{EnvironmentParam, load_service};

/// Wiring routes: the portal tab (and its form that writes a value).
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/services/{team}/{service}/wiring",
        get(show_wiring).post(write_value_form),
    )
}

/// One variable and the state of its source.
#[derive(Debug, Clone, Serialize)]
pub struct WiringRow {
    /// Variable name (the prefix, possibly empty, for `envFrom`).
    pub name: String,
    /// `literal`, `secretKey`, `configMapKey`, `field`, `secret` or `configMap` (whole object).
    pub source: &'static str,
    /// The Secret referenced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The ConfigMap referenced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configmap: Option<String>,
    /// The key referenced (the pod field's path for `field`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether the pod starts without it.
    pub optional: bool,
    /// `present`, `missing`, `missing-key`, `optional-missing`, `literal`, `field` or `unknown`.
    pub state: &'static str,
    #[serde(skip)]
    pub(crate) problem: bool,
    /// Whether an administrator may set this key's value here (a Secret key reference).
    #[serde(skip)]
    pub(crate) writable: bool,
}

/// The row of one variable.
pub fn row(entry: &EnvWiring, state: WiringState) -> WiringRow {
    WiringRow {
        name: entry.name.clone(),
        source: entry.source.as_str(),
        secret: entry.secret.clone(),
        configmap: entry.configmap.clone(),
        key: entry.key.clone(),
        optional: entry.optional,
        state: state.as_str(),
        problem: state.is_problem(),
        writable: entry.source == EnvSource::SecretKey,
    }
}

/// The Secrets tab.
#[derive(Template, WebTemplate)]
#[template(path = "services/wiring.html")]
pub struct WiringPage {
    layout: Layout,
    service: Service,
    environment: String,
    namespace: String,
    environments: Vec<String>,
    rows: Vec<WiringRow>,
    problems: usize,
    cluster_problem: Option<String>,
    /// Whether the viewer may write values (administrators).
    can_write: bool,
}

/// `GET /services/{team}/{service}/wiring?env=E`.
async fn show_wiring(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvironmentParam>,
) -> Result<WiringPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let wiring = secrets::wiring(&app.db, &app.clusters, &service, q.get()).await?;
    let rows: Vec<WiringRow> = wiring.entries.iter().map(|(e, s)| row(e, *s)).collect();
    Ok(WiringPage {
        can_write: policy::can_write_secret(&user).is_ok(),
        layout,
        service,
        problems: rows.iter().filter(|r| r.problem).count(),
        environment: wiring.environment,
        namespace: wiring.namespace,
        environments: wiring.environments,
        rows,
        cluster_problem: wiring.cluster_problem,
    })
}

/// The form on the Secrets tab. `Debug` never shows the value.
#[derive(Debug, Deserialize)]
pub struct WriteValueForm {
    env: String,
    secret: String,
    key: String,
    value: SecretString,
}

/// `POST /services/{team}/{service}/wiring`: an administrator sets a value.
/// The value is never echoed back: on a problem the page says what was wrong.
async fn write_value_form(
    State(app): State<AppState>,
    user: CurrentUser,
    session: Session,
    addr: ClientAddr,
    Path((team, name)): Path<(String, String)>,
    Form(form): Form<WriteValueForm>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let back = |env: &str| {
        format!(
            "/services/{team}/{name}/wiring?{}",
            serde_urlencoded::to_string([("env", env)]).unwrap_or_default()
        )
    };
    policy::can_write_secret(&user)?;
    let write = SecretWrite {
        environment: Some(&form.env),
        secret: &form.secret,
        key: &form.key,
        value: &form.value,
    };
    let result =
        secrets::write_value(&app.db, &app.clusters, &user.actor(addr), &service, &write).await;
    match result {
        Ok(environment) => {
            flash(
                &session,
                "ok",
                format!(
                    "Set key {} of Secret {} in {environment}.",
                    form.key, form.secret
                ),
            )
            .await?;
            Ok(Redirect::to(&back(&environment)).into_response())
        }
        Err(AppError::Invalid(problems)) => {
            let text = Problems(problems).one_line();
            flash(&session, "error", format!("Nothing was written. {text}")).await?;
            Ok(Redirect::to(&back(&form.env)).into_response())
        }
        Err(other) => Err(other),
    }
}
