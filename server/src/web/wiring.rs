//! Secrets wiring: which variable of a service comes from which Secret (or
//! ConfigMap) key, and whether that key exists in the environment's namespace.
//! Names and key names only: a Secret's value never reaches a page or a response.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::{ApiUser, CurrentUser};
use crate::cluster::retry::RetryPolicy;
use crate::error::{AppError, FieldMessage};
use crate::spec::{self, EnvWiring, WiringState};
use crate::store::services::Service;
use crate::web::layout::Layout;
use crate::web::services::{Targets, load_revision, load_service, spec_of};

/// Wiring routes: the portal tab and its JSON twin.
pub fn routes() -> Router<AppState> {
    Router::new().route("/services/{team}/{service}/wiring", get(show_wiring))
}

/// The JSON API route (bearer token).
pub fn api_routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/teams/{team}/services/{service}/wiring",
        get(api_wiring),
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
    if let Some(asked) = environment
        && !targets.names().iter().any(|e| e == asked)
    {
        return Err(AppError::Invalid(vec![FieldMessage {
            path: "environment".into(),
            message: format!("unknown environment `{asked}`"),
        }]));
    }
    let (environment, namespace) = targets.pick(environment);
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
    }
}

/// Query of both routes: the portal's env picker says `env`, the API `environment`.
#[derive(Debug, Default, Deserialize)]
pub struct WiringQuery {
    env: Option<String>,
    environment: Option<String>,
}

impl WiringQuery {
    fn environment(&self) -> Option<&str> {
        self.environment
            .as_deref()
            .or(self.env.as_deref())
            .filter(|e| !e.is_empty())
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
}

/// `GET /services/{team}/{service}/wiring?env=E`.
async fn show_wiring(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<WiringQuery>,
) -> Result<WiringPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let wiring = wiring(&app, &service, q.environment()).await?;
    Ok(WiringPage {
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
    Query(q): Query<WiringQuery>,
) -> Result<Json<Vec<WiringRow>>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let wiring = wiring(&app, &service, q.environment()).await?;
    Ok(Json(wiring.rows))
}
