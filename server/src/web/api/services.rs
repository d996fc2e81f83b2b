//! Services, revisions, render previews and the readiness checklist over the API.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::ApiJson;
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, CurrentUser, policy};
use crate::domain::services::{self as editing, PreparedSpec, spec_of, targets};
use crate::error::AppError;
use crate::render::checklist::{self, Rules};
use crate::render::{self, Manifests, RenderContext};
use crate::spec::ServiceSpec;
use crate::store::{self, services::Revision, services::Service};
use crate::web::loaders::load_service;

/// A service in lists: `GET /api/v1/services`.
#[derive(Debug, Serialize)]
pub struct ServiceOut {
    /// Owning team.
    pub team: String,
    /// Service name.
    pub name: String,
    /// web, worker, cron or stateful.
    pub kind: String,
    /// Framework preset, or empty.
    pub framework: String,
    /// Current revision number.
    pub revision: i32,
}

impl From<Service> for ServiceOut {
    fn from(s: Service) -> Self {
        Self {
            team: s.team,
            name: s.name,
            kind: s.kind,
            framework: s.framework,
            revision: s.current_revision,
        }
    }
}

/// A revision in lists.
#[derive(Debug, Serialize)]
pub struct RevisionOut {
    /// Its number.
    pub revision: i32,
    /// Content hash of the spec.
    pub hash: String,
    /// Author's email.
    pub author: String,
    /// Message.
    pub message: String,
    /// When saved (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Revision> for RevisionOut {
    fn from(r: &Revision) -> Self {
        Self {
            revision: r.number,
            hash: r.hash.clone(),
            author: r.author.clone(),
            message: r.message.clone(),
            created_at: r.created_at,
        }
    }
}

/// Body of `POST …/services` and `PUT …/services/{service}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecBody {
    /// The spec as a JSON object (required).
    #[serde(default)]
    pub spec: Option<serde_json::Value>,
    /// A commit-style message.
    #[serde(default)]
    pub message: Option<String>,
    /// For `PUT`: the revision the change was made from; a later save makes it a conflict.
    #[serde(default)]
    pub base_revision: Option<i32>,
}

impl SpecBody {
    /// Parses and validates the spec, with field paths under `spec`.
    fn prepare(&self) -> Result<PreparedSpec, AppError> {
        match &self.spec {
            None | Some(serde_json::Value::Null) => Err(AppError::invalid("spec", "required")),
            Some(value) if !value.is_object() => {
                Err(AppError::invalid("spec", "must be a JSON object"))
            }
            Some(value) => editing::prepare_json(value.clone()),
        }
    }

    fn message(&self) -> &str {
        self.message.as_deref().unwrap_or_default()
    }
}

/// Revision `number` of `service`, or its current one.
async fn load_revision(
    app: &AppState,
    service: &Service,
    number: Option<i32>,
) -> Result<Revision, AppError> {
    let number = number.unwrap_or(service.current_revision);
    editing::revision(&app.db, service, number).await
}

/// `GET /api/v1/services`: every service the caller may see (`policy::can_view_team`).
pub async fn list_services(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<ServiceOut>>, AppError> {
    let teams = policy::visible_teams(&user);
    let services = store::services::list_visible(&app.db, teams.as_deref()).await?;
    Ok(Json(
        services
            .into_iter()
            .filter(|s| policy::can_view_team(&user, &s.team).is_ok())
            .map(ServiceOut::from)
            .collect(),
    ))
}

/// `POST /api/v1/teams/{team}/services`: creates a service from `{"spec","message"}`
/// (`policy::can_create_service`) → 201 `{"team","name","revision"}`.
pub async fn create_service(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(team): Path<String>,
    ApiJson(body): ApiJson<SpecBody>,
) -> Result<Response, AppError> {
    policy::can_create_service(&user, &team)?;
    let prepared = body.prepare()?;
    let actor = user.actor(addr);
    let (service, revision) =
        editing::create_service(&app.db, &user, &actor, &team, &prepared, body.message()).await?;
    let out = json!({"team": service.team, "name": service.name, "revision": revision.number});
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `PUT /api/v1/teams/{team}/services/{service}`: a new revision from
/// `{"spec","message","base_revision"?}` (`policy::can_edit_service`) → 201
/// `{"revision","hash"}`; a stale `base_revision` or an unchanged spec is 409.
pub async fn save_revision(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path((team, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<SpecBody>,
) -> Result<Response, AppError> {
    policy::can_edit_service(&user, &team)?;
    let service = load_service(&app, &user, &team, &name).await?;
    let prepared = body.prepare()?;
    let actor = user.actor(addr);
    let revision = editing::save_revision(
        &app.db,
        &user,
        &actor,
        &service,
        body.base_revision,
        &prepared,
        body.message(),
    )
    .await?;
    let out = json!({"revision": revision.number, "hash": revision.hash});
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `GET /api/v1/teams/{team}/services/{service}`: the service and its current spec
/// (`policy::can_view_team`).
pub async fn show_service(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let revision = load_revision(&app, &service, None).await?;
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    Ok(Json(json!({
        "team": service.team,
        "name": service.name,
        "kind": service.kind,
        "framework": service.framework,
        "revision": service.current_revision,
        "hash": revision.hash,
        "created_at": rfc3339(service.created_at),
        "updated_at": rfc3339(service.updated_at),
        "spec": revision.spec,
        "spec_yaml": revision.spec_yaml,
    })))
}

/// `GET …/revisions`: newest first (`policy::can_view_team`).
pub async fn list_revisions(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
) -> Result<Json<Vec<RevisionOut>>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let revisions = store::services::revisions(&app.db, service.id).await?;
    Ok(Json(revisions.iter().map(RevisionOut::from).collect()))
}

/// A revision with its spec as YAML (as written) and JSON.
#[derive(Debug, Serialize)]
pub struct RevisionDetailOut {
    /// Number, hash, author, message, time.
    #[serde(flatten)]
    pub summary: RevisionOut,
    /// The YAML as written.
    pub spec_yaml: String,
    /// The parsed spec.
    pub spec: serde_json::Value,
}

/// `GET …/revisions/{number}` (`policy::can_view_team`).
pub async fn show_revision(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name, number)): Path<(String, String, i32)>,
) -> Result<Json<RevisionDetailOut>, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let revision = load_revision(&app, &service, Some(number)).await?;
    Ok(Json(RevisionDetailOut {
        summary: RevisionOut::from(&revision),
        spec_yaml: revision.spec_yaml,
        spec: revision.spec,
    }))
}

/// Query of the render and check previews.
#[derive(Debug, Default, Deserialize)]
pub struct PreviewQuery {
    /// Environment (required), e.g. `production`.
    pub environment: Option<String>,
    /// Image to render instead of the spec's.
    pub image: Option<String>,
    /// Revision number; the current one when absent.
    pub revision: Option<i32>,
    /// `yaml` or `json`; otherwise chosen by `Accept` (JSON unless it asks for YAML).
    pub format: Option<String>,
}

/// A revision's spec rendered for the query's environment.
struct Preview {
    revision: i32,
    context: RenderContext,
    rules: Rules,
    spec: ServiceSpec,
    manifests: Manifests,
}

async fn preview(
    app: &AppState,
    user: &CurrentUser,
    team: &str,
    name: &str,
    query: &PreviewQuery,
) -> Result<Preview, AppError> {
    let service = load_service(app, user, team, name).await?;
    let targets = targets(&app.db, &service).await?;
    let (target, namespace) = targets.require(query.environment.as_deref())?;
    let revision = load_revision(app, &service, query.revision).await?;
    let spec = spec_of(&revision)?;
    let context = RenderContext {
        environment: target.environment.clone(),
        namespace: namespace.to_owned(),
        team: service.team.clone(),
        image: query.image.clone().filter(|i| !i.trim().is_empty()),
        revision: Some(i64::from(revision.number)),
        deploy_id: None,
    };
    let manifests = render::render(&spec, &context)?;
    Ok(Preview {
        revision: revision.number,
        context,
        rules: Rules::production_if(target.production_rules),
        spec,
        manifests,
    })
}

fn wants_yaml(query: &PreviewQuery, headers: &HeaderMap) -> Result<bool, AppError> {
    match query.format.as_deref() {
        Some("yaml") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(AppError::invalid("format", "must be `yaml` or `json`")),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("yaml"))),
    }
}

/// `GET …/render?environment=E[&image=I][&revision=N][&format=yaml|json]`: the
/// Kubernetes objects, as multi-document `text/yaml` or a JSON list
/// (`policy::can_view_team`).
pub async fn render_service(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    headers: HeaderMap,
    Path((team, name)): Path<(String, String)>,
    Query(query): Query<PreviewQuery>,
) -> Result<Response, AppError> {
    let yaml = wants_yaml(&query, &headers)?;
    let preview = preview(&app, &user, &team, &name, &query).await?;
    if yaml {
        let content_type = HeaderValue::from_static("text/yaml; charset=utf-8");
        return Ok((
            [(header::CONTENT_TYPE, content_type)],
            preview.manifests.to_yaml(),
        )
            .into_response());
    }
    Ok(Json(preview.manifests.objects()).into_response())
}

/// `GET …/check?environment=E[&revision=N]`: the production-readiness checklist
/// (`policy::can_view_team`).
pub async fn check_service(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, name)): Path<(String, String)>,
    Query(query): Query<PreviewQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let preview = preview(&app, &user, &team, &name, &query).await?;
    let result = checklist::check(&preview.spec, &preview.context, preview.rules);
    Ok(Json(json!({
        "environment": preview.context.environment,
        "namespace": preview.context.namespace,
        "revision": preview.revision,
        "score": result.score,
        "has_failures": result.has_failures(),
        "items": result.items,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(spec: Option<serde_json::Value>) -> SpecBody {
        SpecBody {
            spec,
            message: None,
            base_revision: None,
        }
    }

    fn paths(err: AppError) -> Vec<String> {
        match err {
            AppError::Invalid(fields) => fields.into_iter().map(|f| f.path).collect(),
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn a_missing_or_null_spec_is_required() {
        for spec in [None, Some(serde_json::Value::Null)] {
            let err = body(spec).prepare().unwrap_err();
            assert_eq!(err.public_message(), "spec: required");
        }
    }

    #[test]
    fn a_spec_that_is_not_an_object_is_refused_on_spec() {
        let err = body(Some(json!("apiVersion: x"))).prepare().unwrap_err();
        assert_eq!(paths(err), ["spec"]);
    }

    #[test]
    fn the_format_parameter_wins_over_accept() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/yaml"));
        let query = |format: Option<&str>| PreviewQuery {
            format: format.map(str::to_owned),
            ..PreviewQuery::default()
        };
        assert!(wants_yaml(&query(None), &headers).unwrap());
        assert!(!wants_yaml(&query(Some("json")), &headers).unwrap());
        assert!(!wants_yaml(&query(None), &HeaderMap::new()).unwrap());
        assert!(wants_yaml(&query(Some("xml")), &headers).is_err());
    }
}
