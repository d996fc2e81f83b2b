//! Administration → Tenancy: host grants, exposure grants, the Ingress
//! annotation allow-list and internal DNS zones (`docs/exposure.md`), as one
//! portal page with add/remove forms and the JSON API under `/api/v1/admin/…`.
//!
//! Every handler calls `policy::can_administer` first; every change goes through
//! `domain::grants`, which writes its audit entry in the change's transaction.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, CurrentUser, policy};
use crate::domain::grants::{
    self, AnnotationRuleInput, ExposureGrantInput, HostGrantInput, InternalZoneInput, Overview,
};
use crate::error::{AppError, FieldError};
use crate::store;
use crate::web::api::ApiJson;
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// Portal routes of the tenancy page.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tenancy", get(show_tenancy))
        .route("/admin/tenancy/hosts", post(add_host_grant))
        .route("/admin/tenancy/hosts/{id}/remove", post(remove_host_grant))
        .route("/admin/tenancy/exposure", post(add_exposure_grant))
        .route(
            "/admin/tenancy/exposure/{id}/remove",
            post(remove_exposure_grant),
        )
        .route("/admin/tenancy/annotations", post(add_annotation_rule))
        .route(
            "/admin/tenancy/annotations/{id}/remove",
            post(remove_annotation_rule),
        )
        .route("/admin/tenancy/zones", post(add_internal_zone))
        .route(
            "/admin/tenancy/zones/{id}/remove",
            post(remove_internal_zone),
        )
}

/// API routes (full paths, so the route table in the tests can see them).
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/tenancy", get(api::show_tenancy))
        .route("/api/v1/admin/host-grants", post(api::add_host_grant))
        .route(
            "/api/v1/admin/host-grants/{id}",
            delete(api::remove_host_grant),
        )
        .route(
            "/api/v1/admin/exposure-grants",
            post(api::add_exposure_grant),
        )
        .route(
            "/api/v1/admin/exposure-grants/{id}",
            delete(api::remove_exposure_grant),
        )
        .route(
            "/api/v1/admin/annotation-rules",
            post(api::add_annotation_rule),
        )
        .route(
            "/api/v1/admin/annotation-rules/{id}",
            delete(api::remove_annotation_rule),
        )
        .route("/api/v1/admin/internal-zones", post(api::add_internal_zone))
        .route(
            "/api/v1/admin/internal-zones/{id}",
            delete(api::remove_internal_zone),
        )
}

/// `/admin/tenancy`: the grants, lists and zones with their forms.
#[derive(Template, WebTemplate)]
#[template(path = "admin/tenancy.html")]
pub struct TenancyPage {
    layout: Layout,
    overview: Overview,
    teams: Vec<String>,
    environments: Vec<String>,
    /// Which form failed (`hosts`, `exposure`, `annotations`, `zones`), if any.
    failed: &'static str,
    errors: Problems,
}

impl TenancyPage {
    async fn load(
        app: &AppState,
        layout: Layout,
        failed: &'static str,
        errors: Vec<FieldError>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            layout,
            overview: grants::overview(&app.db).await?,
            teams: store::teams::list(&app.db)
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect(),
            environments: store::environments::list(&app.db)
                .await?
                .into_iter()
                .map(|e| e.name)
                .collect(),
            failed,
            errors: Problems(errors),
        })
    }

    /// The message of `path` when form `form` failed.
    fn error(&self, form: &str, path: &str) -> Option<&str> {
        if self.failed == form {
            self.errors.get(path)
        } else {
            None
        }
    }
}

/// `GET /admin/tenancy`. Admins only.
async fn show_tenancy(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<TenancyPage, AppError> {
    policy::can_administer(&user)?;
    TenancyPage::load(&app, layout, "", Vec::new()).await
}

/// After an add: back to the page with a flash, or the page with the form's
/// problems and 422.
async fn answer(
    app: &AppState,
    session: &Session,
    layout: Layout,
    form: &'static str,
    result: Result<String, AppError>,
) -> Result<Response, AppError> {
    match result {
        Ok(message) => {
            flash(session, "ok", message).await?;
            Ok(Redirect::to("/admin/tenancy").into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let page = TenancyPage::load(app, layout, form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /admin/tenancy/hosts`: grants a domain suffix to a team. Admins only.
async fn add_host_grant(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<HostGrantInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let result = grants::add_host_grant(&app.db, &user.actor(addr), &form)
        .await
        .map(|_| format!("Granted {} to {}.", form.suffix.trim(), form.team.trim()));
    answer(&app, &session, layout, "hosts", result).await
}

/// `POST /admin/tenancy/hosts/{id}/remove`. Admins only.
async fn remove_host_grant(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    grants::remove_host_grant(&app.db, &user.actor(addr), id).await?;
    flash(&session, "ok", "Removed the host grant.").await?;
    Ok(Redirect::to("/admin/tenancy").into_response())
}

/// `POST /admin/tenancy/exposure`: grants NodePort or LoadBalancer. Admins only.
async fn add_exposure_grant(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<ExposureGrantInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let result = grants::add_exposure_grant(&app.db, &user.actor(addr), &form)
        .await
        .map(|_| {
            format!(
                "Granted {} to {} in {}.",
                form.service_type.trim(),
                form.team.trim(),
                form.environment.trim()
            )
        });
    answer(&app, &session, layout, "exposure", result).await
}

/// `POST /admin/tenancy/exposure/{id}/remove`. Admins only.
async fn remove_exposure_grant(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    grants::remove_exposure_grant(&app.db, &user.actor(addr), id).await?;
    flash(&session, "ok", "Removed the exposure grant.").await?;
    Ok(Redirect::to("/admin/tenancy").into_response())
}

/// `POST /admin/tenancy/annotations`: adds an allow-list entry. Admins only.
async fn add_annotation_rule(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<AnnotationRuleInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let result = grants::add_annotation_rule(&app.db, &user.actor(addr), &form)
        .await
        .map(|_| format!("Allowed {}.", form.key.trim()));
    answer(&app, &session, layout, "annotations", result).await
}

/// `POST /admin/tenancy/annotations/{id}/remove`. Admins only.
async fn remove_annotation_rule(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    grants::remove_annotation_rule(&app.db, &user.actor(addr), id).await?;
    flash(&session, "ok", "Removed the annotation rule.").await?;
    Ok(Redirect::to("/admin/tenancy").into_response())
}

/// `POST /admin/tenancy/zones`: lists an internal DNS zone. Admins only.
async fn add_internal_zone(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    layout: Layout,
    Form(form): Form<InternalZoneInput>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let result = grants::add_internal_zone(&app.db, &user.actor(addr), &form)
        .await
        .map(|_| format!("Listed {} as internal.", form.zone.trim()));
    answer(&app, &session, layout, "zones", result).await
}

/// `POST /admin/tenancy/zones/{id}/remove`. Admins only.
async fn remove_internal_zone(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    grants::remove_internal_zone(&app.db, &user.actor(addr), id).await?;
    flash(&session, "ok", "Removed the internal zone.").await?;
    Ok(Redirect::to("/admin/tenancy").into_response())
}

/// The JSON API of the same actions (`docs/api.md`).
pub mod api {
    use super::*;

    /// The id of what an add created.
    #[derive(Debug, serde::Serialize)]
    pub struct Created {
        /// Row id (for `DELETE …/{id}`).
        pub id: i64,
    }

    /// `GET /api/v1/admin/tenancy`: every grant, rule and zone (`policy::can_administer`).
    pub async fn show_tenancy(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
    ) -> Result<Json<Overview>, AppError> {
        policy::can_administer(&user)?;
        Ok(Json(grants::overview(&app.db).await?))
    }

    /// `POST /api/v1/admin/host-grants` `{"team","environment"?,"suffix","wildcard"?}` → 201 `{"id"}`.
    pub async fn add_host_grant(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        ApiJson(body): ApiJson<HostGrantInput>,
    ) -> Result<(StatusCode, Json<Created>), AppError> {
        policy::can_administer(&user)?;
        let id = grants::add_host_grant(&app.db, &user.actor(addr), &body).await?;
        Ok((StatusCode::CREATED, Json(Created { id })))
    }

    /// `DELETE /api/v1/admin/host-grants/{id}` → 204.
    pub async fn remove_host_grant(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        Path(id): Path<i64>,
    ) -> Result<StatusCode, AppError> {
        policy::can_administer(&user)?;
        grants::remove_host_grant(&app.db, &user.actor(addr), id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// `POST /api/v1/admin/exposure-grants` `{"team","environment","service_type","fixed_node_ports"?}` → 201.
    pub async fn add_exposure_grant(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        ApiJson(body): ApiJson<ExposureGrantInput>,
    ) -> Result<(StatusCode, Json<Created>), AppError> {
        policy::can_administer(&user)?;
        let id = grants::add_exposure_grant(&app.db, &user.actor(addr), &body).await?;
        Ok((StatusCode::CREATED, Json(Created { id })))
    }

    /// `DELETE /api/v1/admin/exposure-grants/{id}` → 204.
    pub async fn remove_exposure_grant(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        Path(id): Path<i64>,
    ) -> Result<StatusCode, AppError> {
        policy::can_administer(&user)?;
        grants::remove_exposure_grant(&app.db, &user.actor(addr), id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// `POST /api/v1/admin/annotation-rules` `{"key","prefix"?,"value_pattern"}` → 201.
    pub async fn add_annotation_rule(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        ApiJson(body): ApiJson<AnnotationRuleInput>,
    ) -> Result<(StatusCode, Json<Created>), AppError> {
        policy::can_administer(&user)?;
        let id = grants::add_annotation_rule(&app.db, &user.actor(addr), &body).await?;
        Ok((StatusCode::CREATED, Json(Created { id })))
    }

    /// `DELETE /api/v1/admin/annotation-rules/{id}` → 204.
    pub async fn remove_annotation_rule(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        Path(id): Path<i64>,
    ) -> Result<StatusCode, AppError> {
        policy::can_administer(&user)?;
        grants::remove_annotation_rule(&app.db, &user.actor(addr), id).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// `POST /api/v1/admin/internal-zones` `{"zone"}` → 201.
    pub async fn add_internal_zone(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        ApiJson(body): ApiJson<InternalZoneInput>,
    ) -> Result<(StatusCode, Json<Created>), AppError> {
        policy::can_administer(&user)?;
        let id = grants::add_internal_zone(&app.db, &user.actor(addr), &body).await?;
        Ok((StatusCode::CREATED, Json(Created { id })))
    }

    /// `DELETE /api/v1/admin/internal-zones/{id}` → 204.
    pub async fn remove_internal_zone(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        Path(id): Path<i64>,
    ) -> Result<StatusCode, AppError> {
        policy::can_administer(&user)?;
        grants::remove_internal_zone(&app.db, &user.actor(addr), id).await?;
        Ok(StatusCode::NO_CONTENT)
    }
}
