//! Requesting a deploy from a service's page, and the deploy panel there.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::view::{DeployRow, PinView};
use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::deploys::{self as domain, DeployRequest, DeployState, Trigger};
use crate::error::{AppError, FieldError};
use crate::store::environments::Environment;
use crate::store::services::Service;
use crate::store::{self, deploys, pins};
use crate::web::forms::Problems;
use crate::web::htmx::{self, HxRequest};
use crate::web::layout::flash;
use crate::web::loaders::load_service;

/// Form of `POST /services/{team}/{service}/deploys`.
#[derive(Debug, Default, Deserialize)]
pub struct DeployForm {
    #[serde(default)]
    environment: String,
    #[serde(default)]
    image: String,
    /// Empty: the current revision.
    #[serde(default)]
    revision: String,
    /// An administrator's reason to request despite a failing checklist or a
    /// freeze window (`policy::can_override_policy`).
    #[serde(default)]
    override_reason: String,
}

impl DeployForm {
    fn parse(&self) -> Result<DeployRequest, AppError> {
        let revision = match self.revision.trim() {
            "" => None,
            n => Some(
                n.trim_start_matches('#')
                    .parse::<i32>()
                    .map_err(|_| AppError::invalid("revision", "must be a revision number"))?,
            ),
        };
        let reason = self.override_reason.trim();
        Ok(DeployRequest {
            environment: self.environment.trim().to_owned(),
            image: self.image.trim().to_owned(),
            revision,
            override_reason: (!reason.is_empty()).then(|| reason.to_owned()),
        })
    }
}

/// `POST /services/{team}/{service}/deploys`: team members and admins
/// (`policy::can_request_deploy`) request a deploy, then see its page. Invalid
/// input re-renders the deploy panel with its messages (422) for htmx, or comes
/// back as a flash message on the service page.
pub(super) async fn create_deploy(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    hx: HxRequest,
    Path((team, name)): Path<(String, String)>,
    Form(form): Form<DeployForm>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_request_deploy(&user, &service.team)?;
    let requested = match form.parse() {
        Ok(request) => {
            if request.override_reason.is_some() {
                policy::can_override_policy(&user)?;
            }
            domain::request(
                &app.db,
                &app.clusters,
                &service,
                &user.actor(addr),
                Trigger::User,
                &request,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match requested {
        Ok(deploy) => Ok(htmx::redirect(hx, &format!("/deploys/{}", deploy.id))),
        Err(AppError::Invalid(errors)) if hx.0 => {
            let layout_csrf = crate::auth::csrf::token(&session).await?;
            let mut panel = panel_for(&app, &user, &service, layout_csrf).await?;
            panel.errors = errors;
            panel.form = form;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, panel).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let text = Problems(errors).one_line();
            flash(
                &session,
                "error",
                format!("The deploy was not requested: {text}"),
            )
            .await?;
            Ok(Redirect::to(&format!("/services/{team}/{name}")).into_response())
        }
        Err(other) => Err(other),
    }
}

/// The deploy panel on a service's page: a form to deploy, and where each environment stands.
#[derive(Template, WebTemplate)]
#[template(path = "deploys/_panel.html")]
pub struct DeployPanel {
    csrf: String,
    team: String,
    service: String,
    current_revision: i32,
    default_image: String,
    can_deploy: bool,
    can_override: bool,
    environments: Vec<PanelEnvironment>,
    form: DeployForm,
    errors: Vec<FieldError>,
}

/// One environment of the deploy panel.
pub struct PanelEnvironment {
    name: String,
    requires_approval: bool,
    latest: Option<DeployRow>,
    pin: Option<PinView>,
}

impl DeployPanel {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.path == field || e.path.starts_with(&format!("{field}.")))
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn other_errors(&self) -> Vec<&FieldError> {
        self.errors
            .iter()
            .filter(|e| !matches!(e.path.as_str(), "environment" | "image" | "revision"))
            .collect()
    }
}

async fn panel_for(
    app: &AppState,
    user: &CurrentUser,
    service: &Service,
    csrf: String,
) -> Result<DeployPanel, AppError> {
    let now = OffsetDateTime::now_utc();
    let latest = deploys::latest_per_environment(&app.db, service.id).await?;
    let pins = pins::active_pins(&app.db, service.id).await?;
    let envs: Vec<Environment> = store::environments::list(&app.db).await?;
    let default_image = match latest.iter().find(|d| d.state == DeployState::Succeeded) {
        Some(d) => d.image.clone(),
        None => store::services::revision(&app.db, service.id, service.current_revision)
            .await?
            .and_then(|r| {
                r.spec
                    .pointer("/spec/image")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default(),
    };
    Ok(DeployPanel {
        csrf,
        team: service.team.clone(),
        service: service.name.clone(),
        current_revision: service.current_revision,
        default_image,
        can_deploy: policy::can_request_deploy(user, &service.team).is_ok(),
        can_override: policy::can_override_policy(user).is_ok(),
        environments: envs
            .into_iter()
            .map(|e| PanelEnvironment {
                latest: latest
                    .iter()
                    .find(|d| d.environment_id == e.id)
                    .map(|d| DeployRow::of(d, now)),
                pin: pins
                    .iter()
                    .find(|p| p.environment_id == e.id)
                    .map(PinView::of),
                requires_approval: e.requires_approval(),
                name: e.name,
            })
            .collect(),
        form: DeployForm::default(),
        errors: Vec::new(),
    })
}

/// `GET /services/{team}/{service}/deploy-panel`: the panel fragment (team members and admins).
/// It reads the CSRF token from the session itself: the `Layout` extractor would
/// consume a flash message meant for the page around it.
pub(super) async fn show_deploy_panel(
    State(app): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path((team, name)): Path<(String, String)>,
) -> Result<DeployPanel, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let csrf = crate::auth::csrf::token(&session).await?;
    panel_for(&app, &user, &service, csrf).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_may_be_written_with_a_hash_sign_or_left_out() {
        let form = |r: &str| DeployForm {
            environment: "staging".into(),
            image: "x:1".into(),
            revision: r.into(),
            override_reason: String::new(),
        };
        assert_eq!(form("#3").parse().unwrap().revision, Some(3));
        assert_eq!(form("").parse().unwrap().revision, None);
        assert!(form("three").parse().is_err());
    }
}
