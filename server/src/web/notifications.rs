//! Notification targets over HTTP: the admin pages `/admin/notifications` (list,
//! create with the secret shown once) and `/admin/notifications/{id}` (messages
//! with every attempt; disable, enable, delete, send a test event), and the
//! admin API under `/api/v1/notifications`. Every handler checks
//! `policy::can_manage_notifications` first.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use time::OffsetDateTime;
use tower_sessions::Session;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{ApiUser, CurrentUser, policy};
use crate::domain::notifications::{
    self, NotificationEvent, NotificationFormat, TargetInput, redacted_url,
};
use crate::error::{AppError, FieldError};
use crate::store::notifications::{self as store_notifications, Attempt, Message, Target};
use crate::store::{self};
use crate::web::format::display_time;
use crate::web::forms::{self, Problems};
use crate::web::layout::{Layout, flash};

/// Messages shown on a target's page and answered by the API.
pub const RECENT_MESSAGES: i64 = 50;

/// The admin pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/notifications",
            get(list_targets).post(create_target),
        )
        .route("/admin/notifications/{id}", get(show_target))
        .route("/admin/notifications/{id}/enable", post(enable_target))
        .route("/admin/notifications/{id}/disable", post(disable_target))
        .route("/admin/notifications/{id}/test", post(test_target))
        .route("/admin/notifications/{id}/delete", post(delete_target))
}

// ---------------------------------------------------------------- rows

/// A target as the pages show it (never its secret, only its URL's origin).
pub struct TargetRow {
    id: Uuid,
    name: String,
    url: String,
    format: &'static str,
    environment: String,
    events: String,
    enabled: bool,
    created_by: String,
    created: String,
}

impl From<&Target> for TargetRow {
    fn from(t: &Target) -> Self {
        TargetRow {
            id: t.id,
            name: t.name.clone(),
            url: redacted_url(&t.url),
            format: t.format.as_str(),
            environment: t
                .environment
                .clone()
                .unwrap_or_else(|| "all environments".into()),
            events: t
                .events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            enabled: t.enabled,
            created_by: t.created_by.clone(),
            created: display_time(t.created_at),
        }
    }
}

/// A message as the target's page shows it, with its attempts.
pub struct MessageRow {
    id: i64,
    event: &'static str,
    deploy_id: Option<i64>,
    state: String,
    next_attempt: Option<String>,
    created: String,
    delivered: Option<String>,
    attempts: Vec<AttemptRow>,
}

/// One attempt as shown.
pub struct AttemptRow {
    attempt: i32,
    status: String,
    error: String,
    duration_ms: i32,
    at: String,
}

fn message_rows(messages: &[Message], attempts: &[Attempt]) -> Vec<MessageRow> {
    messages
        .iter()
        .map(|m| MessageRow {
            id: m.id,
            event: m.event.as_str(),
            deploy_id: m.deploy_id,
            state: m.state.clone(),
            next_attempt: (m.state == "pending").then(|| display_time(m.next_attempt_at)),
            created: display_time(m.created_at),
            delivered: m.delivered_at.map(display_time),
            attempts: attempts
                .iter()
                .filter(|a| a.message_id == m.id)
                .map(|a| AttemptRow {
                    attempt: a.attempt,
                    status: a
                        .status
                        .map_or_else(|| "no answer".into(), |s| s.to_string()),
                    error: a.error.clone(),
                    duration_ms: a.duration_ms,
                    at: display_time(a.at),
                })
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------- list and create

/// The "new target" form as typed; checkboxes repeat `events`.
#[derive(Clone, Debug, Default)]
pub struct TargetForm {
    name: String,
    url: String,
    format: String,
    environment: String,
    events: Vec<String>,
}

impl TargetForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "name" => form.name = value,
                "url" => form.url = value,
                "format" => form.format = value,
                "environment" => form.environment = value,
                "events" if !value.is_empty() && !form.events.contains(&value) => {
                    form.events.push(value);
                }
                _ => {}
            }
        }
        form
    }

    fn input(&self) -> TargetInput {
        TargetInput {
            name: self.name.clone(),
            url: self.url.clone(),
            format: self.format.clone(),
            environment: Some(self.environment.clone()),
            events: self.events.clone(),
        }
    }

    /// True when `event` was ticked (for re-rendering the form).
    pub fn has_event(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// A target just made: its secret, shown only now.
pub struct CreatedTarget {
    id: Uuid,
    name: String,
    secret: String,
}

/// `/admin/notifications`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/notifications.html")]
pub struct NotificationsPage {
    layout: Layout,
    targets: Vec<TargetRow>,
    environments: Vec<String>,
    events: Vec<&'static str>,
    formats: Vec<&'static str>,
    form: TargetForm,
    errors: Problems,
    created: Option<CreatedTarget>,
    key_missing: bool,
}

impl NotificationsPage {
    async fn load(
        app: &AppState,
        layout: Layout,
        form: TargetForm,
        errors: Vec<FieldError>,
    ) -> Result<Self, AppError> {
        let targets = store_notifications::list_targets(&app.db).await?;
        let environments = store::environments::list(&app.db)
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect();
        Ok(Self {
            layout,
            targets: targets.iter().map(TargetRow::from).collect(),
            environments,
            events: NotificationEvent::CONFIGURABLE
                .iter()
                .map(|e| e.as_str())
                .collect(),
            formats: NotificationFormat::ALL.iter().map(|f| f.as_str()).collect(),
            form,
            errors: Problems(errors),
            created: None,
            key_missing: app.config.secret_key.is_none(),
        })
    }
}

/// `GET /admin/notifications`: every target and the "new target" form. Admins only.
async fn list_targets(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
) -> Result<NotificationsPage, AppError> {
    policy::can_manage_notifications(&user)?;
    let form = TargetForm {
        events: vec![
            NotificationEvent::Succeeded.as_str().into(),
            NotificationEvent::Failed.as_str().into(),
        ],
        ..TargetForm::default()
    };
    NotificationsPage::load(&app, layout, form, Vec::new()).await
}

/// `POST /admin/notifications`: creates a target and shows its secret once;
/// problems come back by field with 422. Admins only.
async fn create_target(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    policy::can_manage_notifications(&user)?;
    let form = TargetForm::from_pairs(pairs);
    let key = app.config.secret_key.as_ref();
    match notifications::create_target(&app.db, key, &user.actor(addr), &form.input()).await {
        Ok(new) => {
            let mut page =
                NotificationsPage::load(&app, layout, TargetForm::default(), Vec::new()).await?;
            page.created = Some(CreatedTarget {
                id: new.id,
                name: form.name.trim().to_owned(),
                secret: new.secret.expose().to_owned(),
            });
            Ok(forms::shown_once(page))
        }
        Err(AppError::Invalid(errors)) => {
            let page = NotificationsPage::load(&app, layout, form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

// ---------------------------------------------------------------- one target

/// `/admin/notifications/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/notification.html")]
pub struct TargetPage {
    layout: Layout,
    target: TargetRow,
    messages: Vec<MessageRow>,
}

async fn load_target(app: &AppState, id: &str) -> Result<Target, AppError> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::NotFound)?;
    store_notifications::find_target(&app.db, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /admin/notifications/{id}`: the target, its last 50 messages and
/// every attempt of each. Admins only.
async fn show_target(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path(id): Path<String>,
) -> Result<TargetPage, AppError> {
    policy::can_manage_notifications(&user)?;
    let target = load_target(&app, &id).await?;
    let messages =
        store_notifications::messages_of_target(&app.db, target.id, RECENT_MESSAGES).await?;
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let attempts = store_notifications::attempts_of(&app.db, &ids).await?;
    Ok(TargetPage {
        layout,
        target: TargetRow::from(&target),
        messages: message_rows(&messages, &attempts),
    })
}

async fn switch(
    app: &AppState,
    user: &CurrentUser,
    addr: ClientAddr,
    session: &Session,
    id: &str,
    enabled: bool,
) -> Result<Response, AppError> {
    policy::can_manage_notifications(user)?;
    let target = load_target(app, id).await?;
    notifications::set_enabled(&app.db, &user.actor(addr), &target, enabled).await?;
    let message = if enabled {
        format!(
            "{} is enabled; its waiting messages go out now.",
            target.name
        )
    } else {
        format!(
            "{} is disabled: it gets no new messages, and waiting ones are held.",
            target.name
        )
    };
    flash(session, "ok", message).await?;
    Ok(Redirect::to(&format!("/admin/notifications/{}", target.id)).into_response())
}

/// `POST /admin/notifications/{id}/enable`. Admins only.
async fn enable_target(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    switch(&app, &user, addr, &session, &id, true).await
}

/// `POST /admin/notifications/{id}/disable`. Admins only.
async fn disable_target(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    switch(&app, &user, addr, &session, &id, false).await
}

/// `POST /admin/notifications/{id}/test`: queues a `test` message for this
/// target; the sender posts it within seconds. Admins only.
async fn test_target(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    policy::can_manage_notifications(&user)?;
    let target = load_target(&app, &id).await?;
    let now = OffsetDateTime::now_utc();
    let message = notifications::send_test(
        &app.db,
        &user.actor(addr),
        &target,
        &app.config.public_url,
        now,
    )
    .await?;
    flash(
        &session,
        "ok",
        format!("Test event queued as message #{message}; it is sent within seconds."),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/notifications/{}", target.id)).into_response())
}

/// `POST /admin/notifications/{id}/delete`: the target and its messages. Admins only.
async fn delete_target(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    policy::can_manage_notifications(&user)?;
    let target = load_target(&app, &id).await?;
    notifications::delete_target(&app.db, &user.actor(addr), &target).await?;
    flash(
        &session,
        "ok",
        format!("Deleted {} and its messages.", target.name),
    )
    .await?;
    Ok(Redirect::to("/admin/notifications").into_response())
}

// ---------------------------------------------------------------- API

/// The admin API of notification targets.
pub mod api {
    use super::*;
    use crate::web::api::ApiJson;

    /// A target (never its secret; the URL as its origin only).
    #[derive(Debug, serde::Serialize)]
    pub struct TargetOut {
        id: Uuid,
        name: String,
        url: String,
        format: &'static str,
        environment: Option<String>,
        events: Vec<&'static str>,
        enabled: bool,
        created_by: String,
        #[serde(with = "time::serde::rfc3339")]
        created_at: OffsetDateTime,
    }

    impl From<Target> for TargetOut {
        fn from(t: Target) -> Self {
            TargetOut {
                id: t.id,
                url: redacted_url(&t.url),
                name: t.name,
                format: t.format.as_str(),
                environment: t.environment,
                events: t.events.iter().map(|e| e.as_str()).collect(),
                enabled: t.enabled,
                created_by: t.created_by,
                created_at: t.created_at,
            }
        }
    }

    /// A target just created, with its secret (only here).
    #[derive(Debug, serde::Serialize)]
    pub struct CreatedOut {
        #[serde(flatten)]
        target: TargetOut,
        secret: String,
    }

    /// One attempt.
    #[derive(Debug, serde::Serialize)]
    pub struct AttemptOut {
        attempt: i32,
        status: Option<i32>,
        error: String,
        duration_ms: i32,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    }

    /// A message with its attempts and the exact body sent.
    #[derive(Debug, serde::Serialize)]
    pub struct MessageOut {
        id: i64,
        event: &'static str,
        deploy_id: Option<i64>,
        state: String,
        #[serde(with = "time::serde::rfc3339::option")]
        next_attempt_at: Option<OffsetDateTime>,
        #[serde(with = "time::serde::rfc3339")]
        created_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339::option")]
        delivered_at: Option<OffsetDateTime>,
        body: serde_json::Value,
        attempts: Vec<AttemptOut>,
    }

    /// `GET /api/v1/notifications`: every target (`policy::can_manage_notifications`).
    pub async fn list_targets(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
    ) -> Result<Json<Vec<TargetOut>>, AppError> {
        policy::can_manage_notifications(&user)?;
        let targets = store_notifications::list_targets(&app.db).await?;
        Ok(Json(targets.into_iter().map(TargetOut::from).collect()))
    }

    /// `POST /api/v1/notifications` `{"name","url","format","environment"?,"events"}`
    /// → 201 with the target and its `secret`, shown only here
    /// (`policy::can_manage_notifications`).
    pub async fn create_target(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        addr: ClientAddr,
        ApiJson(body): ApiJson<TargetInput>,
    ) -> Result<
        (
            StatusCode,
            [(header::HeaderName, &'static str); 1],
            Json<CreatedOut>,
        ),
        AppError,
    > {
        policy::can_manage_notifications(&user)?;
        let key = app.config.secret_key.as_ref();
        let new = notifications::create_target(&app.db, key, &user.actor(addr), &body).await?;
        let target = store_notifications::find_target(&app.db, new.id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok((
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            Json(CreatedOut {
                target: TargetOut::from(target),
                secret: new.secret.expose().to_owned(),
            }),
        ))
    }

    /// `GET /api/v1/notifications/{id}/messages`: the newest 50, each with its
    /// attempts (`policy::can_manage_notifications`).
    pub async fn list_messages(
        State(app): State<AppState>,
        ApiUser(user): ApiUser,
        Path(id): Path<String>,
    ) -> Result<Json<Vec<MessageOut>>, AppError> {
        policy::can_manage_notifications(&user)?;
        let target = load_target(&app, &id).await?;
        let messages =
            store_notifications::messages_of_target(&app.db, target.id, RECENT_MESSAGES).await?;
        let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        let mut attempts: std::collections::HashMap<i64, Vec<Attempt>> =
            std::collections::HashMap::new();
        for attempt in store_notifications::attempts_of(&app.db, &ids).await? {
            attempts
                .entry(attempt.message_id)
                .or_default()
                .push(attempt);
        }
        Ok(Json(
            messages
                .into_iter()
                .map(|m| {
                    let mine = attempts.remove(&m.id).unwrap_or_default();
                    MessageOut {
                        id: m.id,
                        event: m.event.as_str(),
                        deploy_id: m.deploy_id,
                        next_attempt_at: (m.state == "pending").then_some(m.next_attempt_at),
                        state: m.state,
                        created_at: m.created_at,
                        delivered_at: m.delivered_at,
                        body: serde_json::from_slice(&m.body).unwrap_or_else(|_| {
                            serde_json::Value::String(String::from_utf8_lossy(&m.body).into())
                        }),
                        attempts: mine
                            .into_iter()
                            .map(|a| AttemptOut {
                                attempt: a.attempt,
                                status: a.status,
                                error: a.error,
                                duration_ms: a.duration_ms,
                                at: a.at,
                            })
                            .collect(),
                    }
                })
                .collect(),
        ))
    }
}
