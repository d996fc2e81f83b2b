//! Secrets wiring: which variable of a service comes from which Secret (or
//! ConfigMap) key, and whether that key exists in the environment's namespace.
//! Names and key names only: a Secret's value never reaches a page or a response.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, put};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, CurrentUser, policy};
use crate::cluster::retry::RetryPolicy;
use crate::cluster::wiring::SecretKeyTarget;
use crate::config::SecretString;
use crate::error::{AppError, FieldMessage};
use crate::spec::{self, EnvSource, EnvWiring, WiringState};
use crate::store;
use crate::store::services::Service;
use crate::web::api::ApiJson;
use crate::web::layout::{Layout, flash};
use crate::web::services::{EnvironmentParam, Targets, load_revision, load_service, spec_of};

/// Largest Secret value accepted; a whole Secret is limited to 1 MiB by etcd.
const MAX_VALUE_BYTES: usize = 512 * 1024;

/// Wiring routes: the portal tab (and its form that writes a value).
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/services/{team}/{service}/wiring",
        get(show_wiring).post(write_value_form),
    )
}

/// The JSON API routes (bearer token).
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/teams/{team}/services/{service}/wiring",
            get(api_wiring),
        )
        .route(
            "/api/v1/teams/{team}/services/{service}/secrets/{secret}/{key}",
            put(api_write_value),
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
    problem: bool,
    /// Whether an administrator may set this key's value here (a Secret key reference).
    #[serde(skip)]
    writable: bool,
}

/// The wiring of a service in one environment.
struct Wiring {
    environment: String,
    namespace: String,
    environments: Vec<String>,
    rows: Vec<WiringRow>,
    /// Why states are `unknown`, when the cluster could not be asked.
    cluster_problem: Option<String>,
}

/// Builds the wiring of the current revision in the asked-for environment,
/// asking the cluster for the referenced objects' key names.
async fn wiring(
    app: &AppState,
    service: &Service,
    environment: Option<&str>,
) -> Result<Wiring, AppError> {
    let revision = load_revision(app, service, service.current_revision).await?;
    let spec = spec_of(&revision)?;
    let targets = Targets::load(app, &service.team, &service.name).await?;
    let (environment, namespace) = targets.resolve(environment)?;
    let entries = spec::secret_refs(&spec, &environment);
    let (secret_names, config_map_names) = spec::referenced_objects(&entries);
    let mut cluster_problem = None;
    let (secrets, config_maps) = match app.cluster.client() {
        None => {
            cluster_problem = Some(app.cluster.state().describe());
            Default::default()
        }
        Some(client) => {
            // A page view waits for one quick attempt, not the deployer's retries.
            let retry = RetryPolicy::none();
            let looked_up = async {
                let secrets =
                    crate::cluster::wiring::secrets(&client, &namespace, &secret_names, retry)
                        .await?;
                let config_maps = crate::cluster::wiring::config_maps(
                    &client,
                    &namespace,
                    &config_map_names,
                    retry,
                )
                .await?;
                Ok::<_, crate::cluster::retry::ClusterError>((secrets, config_maps))
            };
            match looked_up.await {
                Ok(found) => found,
                Err(error) => {
                    cluster_problem = Some(error.to_string());
                    Default::default()
                }
            }
        }
    };
    let rows = entries
        .iter()
        .map(|entry| row(entry, spec::wiring_state(entry, &secrets, &config_maps)))
        .collect();
    Ok(Wiring {
        environment,
        namespace,
        environments: targets.names(),
        rows,
        cluster_problem,
    })
}

fn row(entry: &EnvWiring, state: WiringState) -> WiringRow {
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
    let wiring = wiring(&app, &service, q.get()).await?;
    Ok(WiringPage {
        can_write: policy::can_write_secret(&user).is_ok(),
        layout,
        service,
        problems: wiring.rows.iter().filter(|r| r.problem).count(),
        environment: wiring.environment,
        namespace: wiring.namespace,
        environments: wiring.environments,
        rows: wiring.rows,
        cluster_problem: wiring.cluster_problem,
    })
}

/// `GET /api/v1/teams/{team}/services/{service}/wiring?environment=E`.
async fn api_wiring(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvironmentParam>,
) -> Result<Json<Vec<WiringRow>>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let wiring = wiring(&app, &service, q.get()).await?;
    Ok(Json(wiring.rows))
}

// ---------------------------------------------------------------- writing values

/// Writes `value` into key `key` of Secret `secret` in the environment's
/// namespace, after checking the policy and that the service references that
/// Secret there. Audited without the value; the value goes to the cluster only.
/// Returns the environment written to.
#[allow(clippy::too_many_arguments)]
async fn write_value(
    app: &AppState,
    user: &CurrentUser,
    addr: ClientAddr,
    service: &Service,
    environment: Option<&str>,
    secret: &str,
    key: &str,
    value: &SecretString,
) -> Result<String, AppError> {
    policy::can_write_secret(user)?;
    let Some(environment) = environment else {
        return Err(AppError::invalid("environment", "required"));
    };
    let targets = Targets::load(app, &service.team, &service.name).await?;
    let (environment, namespace) = targets.resolve(Some(environment))?;
    let revision = load_revision(app, service, service.current_revision).await?;
    let entries = spec::secret_refs(&spec_of(&revision)?, &environment);
    let referenced = entries.iter().any(|e| {
        e.secret.as_deref() == Some(secret)
            && match e.source {
                EnvSource::SecretKey => e.key.as_deref() == Some(key),
                EnvSource::SecretAll => true,
                _ => false,
            }
    });
    let mut problems = Vec::new();
    if !referenced {
        problems.push(FieldMessage {
            path: "key".into(),
            message: format!(
                "`{secret}/{key}` is not a Secret key this service references in {environment}"
            ),
        });
    }
    if let Err(message) = spec::names::config_key(key) {
        problems.push(FieldMessage {
            path: "key".into(),
            message,
        });
    }
    if value.expose().is_empty() {
        problems.push(FieldMessage {
            path: "value".into(),
            message: "required".into(),
        });
    } else if value.expose().len() > MAX_VALUE_BYTES {
        problems.push(FieldMessage {
            path: "value".into(),
            message: format!("must be at most {MAX_VALUE_BYTES} bytes"),
        });
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let client = app
        .cluster
        .client()
        .ok_or_else(|| AppError::Unavailable("The cluster".into()))?;
    let target = SecretKeyTarget {
        namespace: &namespace,
        team: &service.team,
        environment: &environment,
        secret,
        key,
    };
    crate::cluster::wiring::write_secret_key(&client, &target, value, RetryPolicy::none())
        .await
        .map_err(|error| {
            tracing::warn!(%error, secret, key, namespace, "writing a Secret value failed");
            AppError::Unavailable("The cluster".into())
        })?;
    store::audit::record(
        &app.db,
        &user.actor(addr),
        "secret.write",
        &format!("{}/{}", service.team, service.name),
        json!({"environment": environment, "namespace": namespace, "secret": secret, "key": key}),
    )
    .await?;
    tracing::info!(secret, key, namespace, "Secret value written");
    Ok(environment)
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
    let result = write_value(
        &app,
        &user,
        addr,
        &service,
        Some(&form.env),
        &form.secret,
        &form.key,
        &form.value,
    )
    .await;
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
            let text = problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect::<Vec<_>>()
                .join("; ");
            flash(&session, "error", format!("Nothing was written. {text}")).await?;
            Ok(Redirect::to(&back(&form.env)).into_response())
        }
        Err(other) => Err(other),
    }
}

/// Body of the API call.
#[derive(Debug, Deserialize)]
pub struct WriteValueBody {
    value: SecretString,
}

/// `PUT /api/v1/teams/{team}/services/{service}/secrets/{secret}/{key}?environment=E`
/// with `{"value"}`: 204, and the value never comes back.
async fn api_write_value(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path((team, name, secret, key)): Path<(String, String, String, String)>,
    Query(q): Query<EnvironmentParam>,
    ApiJson(body): ApiJson<WriteValueBody>,
) -> Result<StatusCode, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    write_value(
        &app,
        &user,
        addr,
        &service,
        q.get(),
        &secret,
        &key,
        &body.value,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
