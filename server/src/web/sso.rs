//! `/admin/sso`: the identity provider's groups and the teams and admin role
//! they grant at sign-in (docs/sso.md). Administrators only
//! (`policy::can_administer`); changes go through `domain::sso`, audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::sso::{self, MappingInput};
use crate::error::AppError;
use crate::store::{self, sso::Mapping, teams::TeamSummary};
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// Single sign-on administration routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sso", get(show))
        .route("/admin/sso/mappings", post(add))
        .route("/admin/sso/mappings/{id}/delete", post(remove))
}

/// The single sign-on page.
#[derive(Template, WebTemplate)]
#[template(path = "admin/sso.html")]
pub struct SsoPage {
    layout: Layout,
    /// The configured issuer, or `None` when single sign-on is off.
    issuer: Option<String>,
    provider: Option<String>,
    groups_claim: String,
    mappings: Vec<Mapping>,
    teams: Vec<TeamSummary>,
    environments: Vec<String>,
    form: MappingInput,
    errors: Problems,
}

async fn page(
    app: &AppState,
    layout: Layout,
    form: MappingInput,
    errors: Problems,
) -> Result<SsoPage, AppError> {
    Ok(SsoPage {
        layout,
        issuer: app.oidc.as_ref().map(|p| p.issuer().to_owned()),
        provider: app.oidc.as_ref().map(|p| p.display_name().to_owned()),
        groups_claim: app.config.oidc_groups_claim.clone(),
        mappings: store::sso::mappings(&app.db).await?,
        teams: store::teams::list(&app.db).await?,
        environments: store::environments::list(&app.db)
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect(),
        form,
        errors,
    })
}

/// `GET /admin/sso` (`policy::can_administer`).
async fn show(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<SsoPage, AppError> {
    policy::can_administer(&user)?;
    page(&app, layout, MappingInput::default(), Problems::default()).await
}

/// `POST /admin/sso/mappings`: maps a group (`policy::can_administer`);
/// problems come back with 422, a duplicate with 409.
async fn add(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<MappingInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    match sso::add_mapping(&app.db, &user.actor(addr), &form).await {
        Ok(mapping) => {
            flash(
                &session,
                "ok",
                format!(
                    "Members of {} now get what it grants at their next sign-in.",
                    mapping.group_name
                ),
            )
            .await?;
            Ok(Redirect::to("/admin/sso").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = page(&app, layout, form, Problems(errors)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /admin/sso/mappings/{id}/delete` (`policy::can_administer`).
async fn remove(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    sso::remove_mapping(&app.db, &user.actor(addr), id).await?;
    flash(
        &session,
        "ok",
        "Mapping removed; its members lose what it granted at their next sign-in.",
    )
    .await?;
    Ok(Redirect::to("/admin/sso").into_response())
}
