//! `/admin/environments/{name}/quota`: the optional ResourceQuota and
//! LimitRange of an environment's team namespaces (`policy::can_administer`),
//! saved through `domain::quotas`. Its own page, beside the policy form.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::quotas::{self, QuotaInput};
use crate::error::AppError;
use crate::store;
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// Quota routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/admin/environments/{name}/quota",
        get(show_quota).post(save_quota),
    )
}

/// The quota page of one environment.
#[derive(Template, WebTemplate)]
#[template(path = "environments/quota.html")]
pub struct QuotaPage {
    layout: Layout,
    environment: String,
    form: QuotaInput,
    errors: Problems,
}

/// `GET /admin/environments/{name}/quota` (`policy::can_administer`).
async fn show_quota(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(name): Path<String>,
) -> Result<QuotaPage, AppError> {
    policy::can_administer(&user)?;
    let environment = store::environments::find_by_name(&app.db, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let quota = store::environment_quotas::find(&app.db, environment.id).await?;
    Ok(QuotaPage {
        layout,
        environment: environment.name,
        form: QuotaInput::of(&quota),
        errors: Problems::default(),
    })
}

/// `POST /admin/environments/{name}/quota` (`policy::can_administer`);
/// problems come back with 422 and what was typed.
async fn save_quota(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Path(name): Path<String>,
    Form(form): Form<QuotaInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    match quotas::set_quota(&app.db, &user.actor(addr), &name, &form).await {
        Ok(_) => {
            flash(
                &session,
                "ok",
                format!("Quota of {name} saved; applied by the next deploy of each namespace."),
            )
            .await?;
            Ok(Redirect::to(&format!("/admin/environments/{name}/quota")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = QuotaPage {
                layout,
                environment: name,
                form,
                errors: Problems(errors),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}
