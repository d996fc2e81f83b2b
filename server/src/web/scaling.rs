//! The scaling form of the live status card: replicas, or autoscaling
//! bounds, for one environment (`domain::scaling`): a new revision and a
//! deploy, so it has history and passes policy.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::auth::extract::ClientAddr;
use crate::domain::scaling::{ScaleChange, scale};
use crate::error::AppError;
use crate::web::forms::Problems;
use crate::web::layout::flash;
use crate::web::loaders::load_service;

/// The scaling route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/services/{team}/{service}/scale", post(scale_form))
}

/// The form: `mode` is `replicas` or `bounds`.
#[derive(Debug, Deserialize)]
pub struct ScaleForm {
    env: String,
    mode: String,
    #[serde(default)]
    replicas: String,
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
}

fn count(field: &str, text: &str) -> Result<u32, AppError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= 1000)
        .ok_or_else(|| {
            AppError::invalid(
                field,
                format!("a whole number from 0 to 1000, not {text:?}"),
            )
        })
}

impl ScaleForm {
    fn change(&self) -> Result<ScaleChange, AppError> {
        match self.mode.as_str() {
            "replicas" => Ok(ScaleChange::Replicas(count("replicas", &self.replicas)?)),
            "bounds" => Ok(ScaleChange::Bounds {
                min: count("autoscaling.minReplicas", &self.min)?,
                max: count("autoscaling.maxReplicas", &self.max)?,
            }),
            _ => Err(AppError::invalid("mode", "replicas or bounds")),
        }
    }
}

/// `POST /services/{team}/{service}/scale`: to the deploy on success, back to
/// the service with what was wrong otherwise (nothing saved then).
async fn scale_form(
    State(app): State<AppState>,
    user: CurrentUser,
    session: Session,
    addr: ClientAddr,
    Path((team, name)): Path<(String, String)>,
    Form(form): Form<ScaleForm>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    let back = format!(
        "/services/{team}/{name}?{}",
        serde_urlencoded::to_string([("env", form.env.as_str())]).unwrap_or_default()
    );
    let result = match form.change() {
        Ok(change) => {
            scale(
                &app.db,
                &app.clusters,
                &user,
                &user.actor(addr),
                &service,
                &form.env,
                change,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => {
            flash(
                &session,
                "ok",
                format!(
                    "Revision {} saved; deploy {} of it to {} is {}.",
                    done.revision,
                    done.deploy.id,
                    form.env.trim(),
                    done.deploy.state.as_str().replace('_', " ")
                ),
            )
            .await?;
            Ok(Redirect::to(&format!("/deploys/{}", done.deploy.id)).into_response())
        }
        Err(AppError::Invalid(problems)) => {
            flash(
                &session,
                "error",
                format!("Not scaled. {}", Problems(problems).one_line()),
            )
            .await?;
            Ok(Redirect::to(&back).into_response())
        }
        Err(AppError::Conflict(why)) => {
            flash(&session, "error", format!("Not scaled. {why}")).await?;
            Ok(Redirect::to(&back).into_response())
        }
        Err(other) => Err(other),
    }
}
