//! `/admin/environments/{name}/freeze`: administrators list an environment's
//! freeze windows, see the one in force and when deploys may run again, add
//! one-off and weekly windows and delete them. Changes go through
//! `domain::freeze`; every handler calls `policy::can_administer` first.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::freeze::{self, WindowInput, calendar};
use crate::error::{AppError, FieldError};
use crate::store::environments::Environment;
use crate::store::freeze_windows::{FreezeWindow, WindowKind};
use crate::store::{self};
use crate::web::format::{display_time, iso_time};
use crate::web::forms::Problems;
use crate::web::layout::{Layout, flash};

/// Freeze window routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/environments/{name}/freeze",
            get(show_freeze).post(add_window),
        )
        .route(
            "/admin/environments/{name}/freeze/{id}/delete",
            post(remove_window),
        )
}

/// A window as the page lists it.
pub struct WindowRow {
    id: i64,
    kind: &'static str,
    label: String,
    time_zone: String,
    reason: String,
    created_by: String,
    created: String,
    active: bool,
}

/// The freeze in force, as the page announces it.
pub struct ActiveRow {
    label: String,
    reason: String,
    ends_utc: String,
    ends_local: String,
    ends_iso: String,
}

/// The freeze page of one environment.
#[derive(Template, WebTemplate)]
#[template(path = "freeze/index.html")]
pub struct FreezePage {
    layout: Layout,
    environment: String,
    windows: Vec<WindowRow>,
    active: Option<ActiveRow>,
    once: WindowInput,
    once_errors: Problems,
    weekly: WindowInput,
    weekly_errors: Problems,
    zones: Vec<String>,
    weekdays: Vec<(&'static str, &'static str)>,
}

impl FreezePage {
    /// The page at `now`, with the forms' values and problems (if any).
    async fn load(
        app: &AppState,
        layout: Layout,
        environment: &Environment,
        now: OffsetDateTime,
        submitted: Option<(WindowInput, Vec<FieldError>)>,
    ) -> Result<Self, AppError> {
        let windows = store::freeze_windows::list_for_environment(&app.db, environment.id).await?;
        let active = freeze::active_among(&windows, now);
        let active_row = active.as_ref().map(|a| {
            let zone = windows
                .iter()
                .find(|w| w.id == a.window_id)
                .and_then(|w| calendar::zone(&w.time_zone))
                .unwrap_or(jiff::tz::TimeZone::UTC);
            ActiveRow {
                label: a.label.clone(),
                reason: a.reason.clone(),
                ends_utc: display_time(a.ends_at),
                ends_local: format!(
                    "{} {}",
                    calendar::local_words(calendar::to_timestamp(a.ends_at), &zone),
                    calendar::zone_name(&zone)
                ),
                ends_iso: iso_time(a.ends_at),
            }
        });
        let rows = windows
            .iter()
            .map(|w| row(w, active.as_ref().map(|a| a.window_id)))
            .collect();
        let blank = |kind: &str| WindowInput {
            kind: kind.to_owned(),
            time_zone: "UTC".into(),
            ..WindowInput::default()
        };
        let (mut once, mut once_errors) = (blank("once"), Problems::default());
        let (mut weekly, mut weekly_errors) = (
            WindowInput {
                start_day: "fri".into(),
                start_time: "16:00".into(),
                end_day: "mon".into(),
                end_time: "08:00".into(),
                ..blank("weekly")
            },
            Problems::default(),
        );
        match submitted {
            Some((input, errors)) if input.kind.trim() == "weekly" => {
                (weekly, weekly_errors) = (input, Problems(errors));
            }
            Some((input, errors)) => (once, once_errors) = (input, Problems(errors)),
            None => {}
        }
        Ok(Self {
            layout,
            environment: environment.name.clone(),
            windows: rows,
            active: active_row,
            once,
            once_errors,
            weekly,
            weekly_errors,
            zones: calendar::zone_names(),
            weekdays: vec![
                ("mon", "Monday"),
                ("tue", "Tuesday"),
                ("wed", "Wednesday"),
                ("thu", "Thursday"),
                ("fri", "Friday"),
                ("sat", "Saturday"),
                ("sun", "Sunday"),
            ],
        })
    }
}

impl FreezePage {
    /// Whether the weekly form's `start` or `end` day select should show `key`.
    fn weekly_day_is(&self, which: &str, key: &str) -> bool {
        let value = match which {
            "start" => self.weekly.start_day.trim(),
            _ => self.weekly.end_day.trim(),
        };
        value.eq_ignore_ascii_case(key)
            || calendar::parse_weekday(value).map(calendar::weekday_key) == Some(key)
    }
}

fn row(w: &FreezeWindow, active: Option<i64>) -> WindowRow {
    WindowRow {
        id: w.id,
        kind: match w.kind {
            WindowKind::Once { .. } => "once",
            WindowKind::Weekly {
                start_day: None, ..
            } => "daily",
            WindowKind::Weekly { .. } => "weekly",
        },
        label: freeze::label(w),
        time_zone: w.time_zone.clone(),
        reason: w.reason.clone(),
        created_by: w.created_by.clone(),
        created: display_time(w.created_at),
        active: active == Some(w.id),
    }
}

/// The two forms' fields; each form says its `kind` in a hidden field.
#[derive(Debug, Default, Deserialize)]
pub struct WindowForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    start_day: String,
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_day: String,
    #[serde(default)]
    end_time: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    reason: String,
}

impl From<WindowForm> for WindowInput {
    fn from(f: WindowForm) -> Self {
        WindowInput {
            kind: f.kind,
            starts_at: f.starts_at,
            ends_at: f.ends_at,
            start_day: f.start_day,
            start_time: f.start_time,
            end_day: f.end_day,
            end_time: f.end_time,
            time_zone: f.time_zone,
            reason: f.reason,
        }
    }
}

async fn load_environment(app: &AppState, name: &str) -> Result<Environment, AppError> {
    store::environments::find_by_name(&app.db, name)
        .await?
        .ok_or(AppError::NotFound)
}

fn page_url(name: &str) -> String {
    format!("/admin/environments/{name}/freeze")
}

/// `GET /admin/environments/{name}/freeze`: the windows and the freeze in
/// force now. Administrators only (`policy::can_administer`).
async fn show_freeze(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(name): Path<String>,
) -> Result<FreezePage, AppError> {
    policy::can_administer(&user)?;
    let environment = load_environment(&app, &name).await?;
    FreezePage::load(&app, layout, &environment, OffsetDateTime::now_utc(), None).await
}

/// `POST /admin/environments/{name}/freeze`: adds a window
/// (`policy::can_administer`); problems come back on the page with 422 and
/// nothing is stored.
async fn add_window(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<WindowForm>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let environment = load_environment(&app, &name).await?;
    let input = WindowInput::from(form);
    match freeze::add_window(&app.db, &user.actor(addr), &environment.name, &input).await {
        Ok(window) => {
            let message = format!("Freeze window added: {}.", freeze::label(&window));
            flash(&session, "ok", message).await?;
            Ok(Redirect::to(&page_url(&environment.name)).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let now = OffsetDateTime::now_utc();
            let page =
                FreezePage::load(&app, layout, &environment, now, Some((input, errors))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// `POST /admin/environments/{name}/freeze/{id}/delete`: removes a window
/// (`policy::can_administer`).
async fn remove_window(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path((name, id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    policy::can_administer(&user)?;
    let window = freeze::remove_window(&app.db, &user.actor(addr), &name, id).await?;
    let message = format!("Freeze window removed: {}.", freeze::label(&window));
    flash(&session, "ok", message).await?;
    Ok(Redirect::to(&page_url(&name)).into_response())
}
