//! Service pages: create from a preset, overview with the readiness checklist,
//! the YAML editor with inline validation, revisions, diffs and manifest previews.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::namespaces::Target;
use crate::domain::services::{self as editing, PreparedSpec, revision as load_revision, spec_of};
use crate::error::{AppError, FieldError};
use crate::render::checklist::{self, Checklist, Rules};
use crate::render::{self, RenderContext};
use crate::spec;
use crate::spec::presets::{self, Framework};
use crate::store;
use crate::store::services::{Revision, Service};
use crate::web::diff::{self, DiffLine};
use crate::web::htmx::{self, HxRequest};
use crate::web::layout::{Layout, flash};
use crate::web::loaders::{load_service, load_service_to_show};
use tower_sessions::Session;

/// Service routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/new", get(show_new).post(create))
        .route("/services/{team}/{service}", get(show_service))
        .route(
            "/services/{team}/{service}/edit",
            get(show_editor).post(save),
        )
        .route("/services/{team}/{service}/revisions", get(list_revisions))
        .route(
            "/services/{team}/{service}/revisions/{number}",
            get(show_revision),
        )
        .route("/services/{team}/{service}/diff", get(show_diff))
        .route("/services/{team}/{service}/manifests", get(show_manifests))
}

// ---------------------------------------------------------------- create

/// The "new service" page.
#[derive(Template, WebTemplate)]
#[template(path = "services/new.html")]
pub struct NewServicePage {
    layout: Layout,
    teams: Vec<String>,
    frameworks: Vec<(&'static str, &'static str)>,
    team: String,
    name: String,
    framework: String,
    errors: Vec<FieldError>,
}

/// Form of `POST /services/new`.
#[derive(Debug, Deserialize)]
pub struct NewServiceForm {
    #[serde(default)]
    team: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    framework: String,
}

fn framework_choices() -> Vec<(&'static str, &'static str)> {
    presets::ALL
        .iter()
        .map(|f| (f.as_str(), f.label()))
        .collect()
}

/// The teams `user` may create a service in (`policy::can_create_service`).
async fn creatable_teams(app: &AppState, user: &CurrentUser) -> Result<Vec<String>, AppError> {
    Ok(store::teams::list(&app.db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .filter(|team| policy::can_create_service(user, team).is_ok())
        .collect())
}

/// `GET /services/new`: pick a team, a name and a framework preset.
async fn show_new(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(q): Query<NewServiceForm>,
) -> Result<NewServicePage, AppError> {
    let teams = creatable_teams(&app, &user).await?;
    let team = if q.team.is_empty() {
        teams.first().cloned().unwrap_or_default()
    } else {
        q.team
    };
    Ok(NewServicePage {
        layout,
        teams,
        frameworks: framework_choices(),
        team,
        name: q.name,
        framework: if q.framework.is_empty() {
            "django".into()
        } else {
            q.framework
        },
        errors: Vec::new(),
    })
}

/// `POST /services/new`: creates the service from the preset's starter spec (revision 1).
async fn create(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<NewServiceForm>,
) -> Result<Response, AppError> {
    let mut errors = Vec::new();
    let framework = Framework::from_name(&form.framework);
    if framework.is_none() {
        errors.push(FieldError::new("framework", "choose one of the presets"));
    }
    if let Err(e) = spec::names::dns_label(&form.name) {
        errors.push(FieldError::new("name", e));
    } else if form.name.len() > spec::defaults::MAX_SERVICE_NAME {
        errors.push(FieldError::new(
            "name",
            format!(
                "must be at most {} characters",
                spec::defaults::MAX_SERVICE_NAME
            ),
        ));
    }
    let result = match (framework, errors.is_empty()) {
        (Some(f), true) => {
            policy::can_create_service(&user, &form.team)?;
            let prepared = editing::prepare_text(&f.starter_yaml(&form.name))?;
            editing::create_service(
                &app.db,
                &user,
                &user.actor(addr),
                &form.team,
                &prepared,
                "Create from the preset",
            )
            .await
        }
        _ => Err(AppError::Invalid(errors)),
    };
    match result {
        Ok((service, _)) => {
            let message = format!(
                "Created {}/{} from the {} preset.",
                service.team, service.name, form.framework
            );
            flash(&session, "ok", message).await?;
            Ok(
                Redirect::to(&format!("/services/{}/{}", service.team, service.name))
                    .into_response(),
            )
        }
        Err(AppError::Invalid(errors)) => {
            let teams = creatable_teams(&app, &user).await?;
            let page = NewServicePage {
                layout,
                teams,
                frameworks: framework_choices(),
                team: form.team,
                name: form.name,
                framework: form.framework,
                errors,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

// ---------------------------------------------------------------- overview

/// Where a page renders a service: the context and the checklist's rules, or
/// why it cannot be rendered there.
type PageContext = Result<(RenderContext, Rules), String>;

/// The environment a page shows (see `Targets::pick`) and the context to
/// render it in, or why it cannot be rendered there (its namespace pattern
/// gives no valid name for this service). No namespace is ever invented.
pub(crate) fn page_target(
    targets: &crate::domain::namespaces::Targets,
    asked: Option<&str>,
    team: &str,
) -> Result<(Target, PageContext), AppError> {
    let target = targets
        .pick(asked)
        .cloned()
        .ok_or_else(|| AppError::invalid("environment", "no environments are configured"))?;
    let context = match &target.namespace {
        Ok(namespace) => Ok((
            RenderContext::new(&target.environment, namespace, team),
            Rules::production_if(target.production_rules),
        )),
        Err(why) => Err(format!("namespace pattern {why}")),
    };
    Ok((target, context))
}

/// The service overview.
#[derive(Template, WebTemplate)]
#[template(path = "services/show.html")]
pub struct ServicePage {
    layout: Layout,
    service: Service,
    revision: Revision,
    environments: Vec<String>,
    environment: String,
    checklist: Checklist,
    objects: Vec<(&'static str, String)>,
    render_error: Option<String>,
    last_delivery: Option<crate::web::hooks::DeliveryRow>,
    /// The scaling form's starting values, when the viewer may scale.
    scaling: Option<crate::domain::scaling::ScaleChange>,
    /// `metadata.links` of the current revision: (label, URL).
    links: Vec<(&'static str, String)>,
    /// Whether the status fragment lists every pod (`?pods=all`).
    all_pods: bool,
}

/// Query naming an environment.
#[derive(Debug, Deserialize)]
pub struct EnvQuery {
    env: Option<String>,
    revision: Option<i32>,
    /// `all` for every pod row in the status fragment.
    pods: Option<String>,
}

/// What the overview shows of a service's current revision in one
/// environment: the same for everyone who may see the service, so it is read
/// and rendered once and shared for a second (`AppState::service_views`).
#[derive(Debug)]
pub struct ServiceView {
    revision: Revision,
    spec: spec::ServiceSpec,
    environments: Vec<String>,
    environment: String,
    checklist: Checklist,
    objects: Vec<(&'static str, String)>,
    render_error: Option<String>,
    last_delivery: Option<crate::web::hooks::DeliveryRow>,
    links: Vec<(&'static str, String)>,
}

/// What a [`ServiceView`] is read for: the service, its current revision
/// (a new one is another view at once) and the environment asked for.
pub type ServiceViewKey = (i64, i32, Option<String>);

/// Reads and renders [`ServiceView`] of `service` in environment `asked`.
async fn read_service_view(
    app: &AppState,
    service: &Service,
    asked: Option<&str>,
) -> Result<ServiceView, AppError> {
    let (revision, spec) = editing::current_spec(&app.db, service).await?;
    let targets = editing::targets(&app.db, service).await?;
    let (target, context) = page_target(&targets, asked, &service.team)?;
    let (checklist, objects, render_error) = match context {
        Ok((ctx, rules)) => {
            let checklist = checklist::check(&spec, &ctx, rules);
            match render::render(&spec, &ctx) {
                Ok(m) => (checklist, m.kinds_and_names(), None),
                Err(e) => (checklist, Vec::new(), Some(e.to_string())),
            }
        }
        Err(why) => (Checklist::default(), Vec::new(), Some(why)),
    };
    let last_delivery = store::hooks::last_delivery_of_service(&app.db, service.id)
        .await?
        .as_ref()
        .map(crate::web::hooks::DeliveryRow::from);
    let links = spec
        .metadata
        .links
        .as_ref()
        .map(|l| {
            l.entries()
                .into_iter()
                .map(|(label, _, url)| (label, url.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Ok(ServiceView {
        revision,
        environments: targets.names(),
        environment: target.environment,
        checklist,
        objects,
        render_error,
        last_delivery,
        links,
        spec,
    })
}

/// `GET /services/{team}/{service}`: what it is, its readiness per environment.
async fn show_service(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvQuery>,
) -> Result<ServicePage, AppError> {
    // Access is decided here, for this viewer, before anything shared is used.
    let service = load_service_to_show(&app, &user, &team, &name).await?;
    let key = (service.id, service.current_revision, q.env.clone());
    let view = app
        .service_views
        .get_or_read(key, || read_service_view(&app, &service, q.env.as_deref()))
        .await?;
    let may_scale = policy::can_edit_service(&user, &team).is_ok()
        && policy::can_request_deploy(&user, &team).is_ok()
        && view.spec.workload_kind() != crate::spec::WorkloadKind::Cron;
    let scaling = may_scale.then(|| crate::domain::scaling::current(&view.spec, &view.environment));
    Ok(ServicePage {
        links: view.links.clone(),
        scaling,
        layout,
        service,
        revision: view.revision.clone(),
        environments: view.environments.clone(),
        environment: view.environment.clone(),
        checklist: view.checklist.clone(),
        objects: view.objects.clone(),
        render_error: view.render_error.clone(),
        last_delivery: view.last_delivery.clone(),
        all_pods: q.pods.as_deref() == Some("all"),
    })
}

// ---------------------------------------------------------------- editor

/// The YAML editor; `as_editor()` renders only its `editor` block, the htmx
/// fragment re-rendered on save.
#[derive(Template, WebTemplate)]
#[template(path = "services/edit.html", blocks = ["editor"])]
pub struct EditorPage {
    layout: Layout,
    service: Service,
    base_revision: i32,
    text: String,
    message: String,
    errors: Vec<FieldError>,
    conflict: Option<String>,
}

/// `GET /services/{team}/{service}/edit`.
async fn show_editor(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
) -> Result<EditorPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_edit_service(&user, &team)?;
    let revision = load_revision(&app.db, &service, service.current_revision).await?;
    Ok(EditorPage {
        layout,
        base_revision: revision.number,
        text: revision.spec_yaml,
        service,
        message: String::new(),
        errors: Vec::new(),
        conflict: None,
    })
}

/// Form of the editor.
#[derive(Debug, Deserialize)]
pub struct EditorForm {
    spec: String,
    #[serde(default)]
    message: String,
    base_revision: i32,
}

/// `POST /services/{team}/{service}/edit`: validates and saves a new revision.
/// Invalid specs and conflicts re-render the editor with the text kept (422 / 409).
#[expect(clippy::too_many_arguments, reason = "one axum extractor per argument")]
async fn save(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    hx: HxRequest,
    Path((team, name)): Path<(String, String)>,
    Form(form): Form<EditorForm>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_edit_service(&user, &team)?;
    let outcome = match editing::prepare_text(&form.spec) {
        Ok(prepared) => save_prepared(&app, &user, addr, &service, &form, &prepared).await,
        Err(invalid) => Err(invalid),
    };
    let (status, errors, conflict) = match outcome {
        Ok(revision) => {
            let target = format!(
                "/services/{team}/{name}/diff?from={}&to={}",
                revision.number - 1,
                revision.number
            );
            flash(
                &session,
                "ok",
                format!("Saved revision {}.", revision.number),
            )
            .await?;
            return Ok(htmx::redirect(hx, &target));
        }
        Err(AppError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None),
        Err(AppError::Conflict(msg)) => (StatusCode::CONFLICT, Vec::new(), Some(msg)),
        Err(other) => return Err(other),
    };
    let page = EditorPage {
        layout,
        service,
        base_revision: form.base_revision,
        text: form.spec,
        message: form.message,
        errors,
        conflict,
    };
    if hx.0 {
        let html = page
            .as_editor()
            .render()
            .map_err(|e| AppError::Internal(e.into()))?;
        return Ok((status, axum::response::Html(html)).into_response());
    }
    Ok((status, page).into_response())
}

async fn save_prepared(
    app: &AppState,
    user: &CurrentUser,
    addr: ClientAddr,
    service: &Service,
    form: &EditorForm,
    prepared: &PreparedSpec,
) -> Result<Revision, AppError> {
    editing::save_revision(
        &app.db,
        user,
        &user.actor(addr),
        service,
        Some(form.base_revision),
        prepared,
        &form.message,
    )
    .await
}

// ---------------------------------------------------------------- revisions

/// The revision list.
#[derive(Template, WebTemplate)]
#[template(path = "services/revisions.html")]
pub struct RevisionsPage {
    layout: Layout,
    service: Service,
    revisions: Vec<Revision>,
}

/// `GET /services/{team}/{service}/revisions`.
async fn list_revisions(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
) -> Result<RevisionsPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let revisions = store::services::revisions(&app.db, service.id).await?;
    Ok(RevisionsPage {
        layout,
        service,
        revisions,
    })
}

/// One revision's YAML.
#[derive(Template, WebTemplate)]
#[template(path = "services/revision.html")]
pub struct RevisionPage {
    layout: Layout,
    service: Service,
    revision: Revision,
}

/// `GET /services/{team}/{service}/revisions/{number}`.
async fn show_revision(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name, number)): Path<(String, String, i32)>,
) -> Result<RevisionPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let revision = load_revision(&app.db, &service, number).await?;
    Ok(RevisionPage {
        layout,
        service,
        revision,
    })
}

/// The diff page: spec and rendered manifests between two revisions.
#[derive(Template, WebTemplate)]
#[template(path = "services/diff.html")]
pub struct DiffPage {
    layout: Layout,
    service: Service,
    numbers: Vec<i32>,
    from: i32,
    to: i32,
    environments: Vec<String>,
    environment: String,
    spec_diff: Vec<DiffLine>,
    manifest_diff: Vec<DiffLine>,
}

/// Query of the diff page.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: Option<i32>,
    to: Option<i32>,
    env: Option<String>,
}

fn rendered_yaml(revision: &Revision, context: &PageContext) -> Result<String, AppError> {
    let spec = spec_of(revision)?;
    Ok(match context {
        Ok((ctx, _)) => match render::render(&spec, ctx) {
            Ok(m) => m.to_yaml(),
            Err(e) => format!("# cannot render: {e}\n"),
        },
        Err(why) => format!("# cannot render: {why}\n"),
    })
}

/// `GET /services/{team}/{service}/diff?from=&to=&env=`.
async fn show_diff(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> Result<DiffPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let to = q.to.unwrap_or(service.current_revision);
    let from = q.from.unwrap_or((to - 1).max(1));
    let old = load_revision(&app.db, &service, from).await?;
    let new = load_revision(&app.db, &service, to).await?;
    let targets = editing::targets(&app.db, &service).await?;
    let (target, context) = page_target(&targets, q.env.as_deref(), &team)?;
    let environment = target.environment;
    let spec_diff = diff::unified(
        &old.spec_yaml,
        &new.spec_yaml,
        &format!("revision {from}"),
        &format!("revision {to}"),
    );
    let manifest_diff = diff::unified(
        &rendered_yaml(&old, &context)?,
        &rendered_yaml(&new, &context)?,
        &format!("revision {from} ({environment})"),
        &format!("revision {to} ({environment})"),
    );
    Ok(DiffPage {
        layout,
        numbers: (1..=service.current_revision).rev().collect(),
        service,
        from,
        to,
        environments: targets.names(),
        environment,
        spec_diff,
        manifest_diff,
    })
}

/// The manifest preview with the readiness checklist.
#[derive(Template, WebTemplate)]
#[template(path = "services/manifests.html")]
pub struct ManifestsPage {
    layout: Layout,
    service: Service,
    revision: i32,
    environments: Vec<String>,
    environment: String,
    yaml: String,
    namespace: String,
    checklist: Checklist,
}

/// `GET /services/{team}/{service}/manifests?env=&revision=`.
async fn show_manifests(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<EnvQuery>,
) -> Result<ManifestsPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let number = q.revision.unwrap_or(service.current_revision);
    let revision = load_revision(&app.db, &service, number).await?;
    let targets = editing::targets(&app.db, &service).await?;
    let (target, context) = page_target(&targets, q.env.as_deref(), &team)?;
    let spec = spec_of(&revision)?;
    let checklist = match &context {
        Ok((ctx, rules)) => checklist::check(&spec, ctx, *rules),
        Err(_) => Checklist::default(),
    };
    Ok(ManifestsPage {
        layout,
        yaml: rendered_yaml(&revision, &context)?,
        namespace: target.namespace.clone().unwrap_or_default(),
        checklist,
        service,
        revision: number,
        environments: targets.names(),
        environment: target.environment,
    })
}
