//! The editor's live check: as the team types, the text is read as a spec and
//! the problems come back with their line, or, when it reads, the readiness
//! checklist and the objects it would render — without saving anything.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{CurrentUser, policy};
use crate::domain::services as editing;
use crate::error::{AppError, FieldError};
use crate::render::checklist::{self, Checklist};
use crate::render::{self};
use crate::store::services::Service;
use crate::web::loaders::load_service;
use crate::web::services::page_target;

/// Live check routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/services/{team}/{service}/edit/check", post(check))
}

/// The check panel beside the editor (an htmx fragment).
#[derive(Template, WebTemplate)]
#[template(path = "services/_spec_check.html")]
pub struct SpecCheck {
    service: Service,
    environment: String,
    errors: Vec<FieldError>,
    checklist: Checklist,
    objects: Vec<(&'static str, String)>,
    render_error: Option<String>,
}

/// Form of the check: the editor's text.
#[derive(Debug, Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    spec: String,
}

/// `POST /services/{team}/{service}/edit/check`: reads the text as the save
/// would (the same spec rules; grants are checked when it is saved) and says
/// what it found. Nothing is stored.
async fn check(
    State(app): State<AppState>,
    user: CurrentUser,
    Path((team, name)): Path<(String, String)>,
    Form(form): Form<CheckForm>,
) -> Result<SpecCheck, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_edit_service(&user, &team)?;
    let targets = editing::targets(&app.db, &service).await?;
    let (target, context) = page_target(&targets, None, &team)?;
    let mut page = SpecCheck {
        service,
        environment: target.environment,
        errors: Vec::new(),
        checklist: Checklist::default(),
        objects: Vec::new(),
        render_error: None,
    };
    match editing::prepare_text(&form.spec) {
        Err(AppError::Invalid(errors)) => page.errors = errors,
        Err(other) => return Err(other),
        Ok(prepared) => match context {
            Ok((ctx, rules)) => {
                page.checklist = checklist::check(&prepared.spec, &ctx, rules);
                match render::render(&prepared.spec, &ctx) {
                    Ok(m) => page.objects = m.kinds_and_names(),
                    Err(e) => page.render_error = Some(e.to_string()),
                }
            }
            Err(why) => page.render_error = Some(why),
        },
    }
    Ok(page)
}
