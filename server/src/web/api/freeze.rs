//! Freeze windows over the API: administrators list, add and delete an
//! environment's windows (`policy::can_administer`), through `domain::freeze`
//! like the portal's page.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, policy};
use crate::domain::freeze::{self, ActiveFreeze, WindowInput};
use crate::error::AppError;
use crate::store::freeze_windows::FreezeWindow;
use crate::store::{self};
use crate::web::api::ApiJson;

/// A window as the API shows it: the fields it was added with (local times, as
/// typed), its label and, for once windows, the instants.
#[derive(Debug, Serialize)]
pub struct WindowOut {
    /// Row id.
    pub id: i64,
    /// The fields as they are sent to add it (`kind`, local times, zone, reason).
    #[serde(flatten)]
    pub fields: FieldsOut,
    /// The window in words.
    pub label: String,
    /// Once windows: the first frozen instant, RFC 3339 in UTC.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub starts_at_utc: Option<OffsetDateTime>,
    /// Once windows: when deploys may run again, RFC 3339 in UTC.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub ends_at_utc: Option<OffsetDateTime>,
    /// Who added it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The fields of a window as typed; those of the other kind are left out.
#[derive(Debug, Serialize)]
pub struct FieldsOut {
    kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    starts_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    ends_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    start_day: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    start_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    end_day: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    end_time: String,
    time_zone: String,
    reason: String,
}

impl From<&FreezeWindow> for WindowOut {
    fn from(w: &FreezeWindow) -> Self {
        let typed = WindowInput::of(w);
        let (starts_at_utc, ends_at_utc) = match w.kind {
            crate::store::freeze_windows::WindowKind::Once { starts_at, ends_at } => {
                (Some(starts_at), Some(ends_at))
            }
            crate::store::freeze_windows::WindowKind::Weekly { .. } => (None, None),
        };
        WindowOut {
            id: w.id,
            fields: FieldsOut {
                kind: typed.kind,
                starts_at: typed.starts_at,
                ends_at: typed.ends_at,
                start_day: typed.start_day,
                start_time: typed.start_time,
                end_day: typed.end_day,
                end_time: typed.end_time,
                time_zone: typed.time_zone,
                reason: typed.reason,
            },
            label: freeze::label(w),
            starts_at_utc,
            ends_at_utc,
            created_by: w.created_by.clone(),
            created_at: w.created_at,
        }
    }
}

/// `GET …/freeze-windows`: the windows and the freeze in force now.
#[derive(Debug, Serialize)]
pub struct WindowsOut {
    /// Every window of the environment, oldest first.
    pub windows: Vec<WindowOut>,
    /// The freeze in force now, or `null`.
    pub active: Option<ActiveFreeze>,
}

/// `GET /api/v1/environments/{name}/freeze-windows` (`policy::can_administer`).
pub async fn list_windows(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    Path(name): Path<String>,
) -> Result<Json<WindowsOut>, AppError> {
    policy::can_administer(&user)?;
    let environment = store::environments::find_by_name(&app.db, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let windows = store::freeze_windows::list_for_environment(&app.db, environment.id).await?;
    Ok(Json(WindowsOut {
        active: freeze::active_among(&windows, OffsetDateTime::now_utc()),
        windows: windows.iter().map(WindowOut::from).collect(),
    }))
}

/// `POST /api/v1/environments/{name}/freeze-windows` with a [`WindowInput`]
/// → 201 and the window (`policy::can_administer`); a bad field is 422 naming it.
pub async fn add_window(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<WindowInput>,
) -> Result<(StatusCode, Json<WindowOut>), AppError> {
    policy::can_administer(&user)?;
    let window = freeze::add_window(&app.db, &user.actor(addr), &name, &body).await?;
    Ok((StatusCode::CREATED, Json(WindowOut::from(&window))))
}

/// `DELETE /api/v1/environments/{name}/freeze-windows/{id}` → 204
/// (`policy::can_administer`); no such window of that environment: 404.
pub async fn remove_window(
    State(app): State<AppState>,
    ApiUser(user): ApiUser,
    addr: ClientAddr,
    Path((name, id)): Path<(String, i64)>,
) -> Result<StatusCode, AppError> {
    policy::can_administer(&user)?;
    freeze::remove_window(&app.db, &user.actor(addr), &name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
