//! Git push webhooks over HTTP: `POST /hooks/{id}` (no session: the signature
//! is the credential), and the service's *Hooks* tab where team members create
//! hooks, read their deliveries and rotate their secrets.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::extract::ClientAddr;
use crate::auth::{CurrentUser, policy};
use crate::domain::hooks::{self, HookInput, NewSecret, Rejection};
use crate::error::{AppError, FieldError};
use crate::store::hooks::{Delivery, Hook};
use crate::store::services::Service;
use crate::store::{self};
use crate::web::format::display_time;
use crate::web::forms;
use crate::web::layout::{Layout, flash};
use crate::web::loaders::load_service;
use crate::webhook::Headers;

/// Most buckets a limiter keeps. Every id posted to `/hooks/{id}` costs one
/// (the limiter runs before the database says whether the hook exists), so an
/// unbounded map would let random ids grow memory without end.
const MAX_BUCKETS: usize = 10_000;

/// How often, at most, a limiter at [`MAX_BUCKETS`] looks for buckets to
/// forget: a look costs a pass over all of them, and a flood of unknown ids
/// must not buy one per request.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Per-hook token buckets, in memory (each replica limits on its own),
/// separate from the portal's login throttling: a push burst from CI stays well
/// below the rate (`SLIPWAY_HOOK_DELIVERIES_PER_MINUTE`, default 120); a flood
/// against one hook is answered 429 before it reaches the database.
///
/// Memory is bounded without ever forgetting a bucket that still limits: at
/// [`MAX_BUCKETS`] only buckets that are full again are forgotten (idle long
/// enough to have refilled, so a fresh bucket would be the same), and when none
/// is, a new id is answered as limited instead of getting a bucket. Forgetting
/// all of them, or the oldest, would hand a hook under a flood a fresh burst to
/// anyone who posts enough random ids. The price: while more than
/// [`MAX_BUCKETS`] ids are busy at once, a hook not seen lately gets 429 until
/// buckets refill (at most a minute); forges retry. Keying buckets only by hooks
/// that exist would need the database before the limiter, which is what it
/// keeps floods away from.
#[derive(Debug)]
pub struct HookLimiter {
    per_minute: f64,
    capacity: usize,
    state: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_hook: HashMap<String, Bucket>,
    last_sweep: Option<Instant>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Its tokens at `now`, refilled at `per_minute` a minute up to as many.
    fn tokens_at(self, now: Instant, per_minute: f64) -> f64 {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * per_minute / 60.0;
        (self.tokens + refill).min(per_minute)
    }
}

impl HookLimiter {
    /// A limiter of `per_minute` deliveries per hook, with a burst of as many.
    pub fn new(per_minute: u32) -> Self {
        Self::with_capacity(per_minute, MAX_BUCKETS)
    }

    fn with_capacity(per_minute: u32, capacity: usize) -> Self {
        HookLimiter {
            per_minute: f64::from(per_minute.max(1)),
            capacity: capacity.max(1),
            state: Mutex::default(),
        }
    }

    /// Takes one delivery from `hook`'s bucket; false when it is empty, or when
    /// `hook` has none and no room can be made for it (see [`HookLimiter`]).
    pub fn allow(&self, hook: &str, now: Instant) -> bool {
        // A panic elsewhere cannot leave a bucket half-written: keep limiting.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let per_minute = self.per_minute;
        if let Some(bucket) = state.by_hook.get_mut(hook) {
            let tokens = bucket.tokens_at(now, per_minute);
            let allowed = tokens >= 1.0;
            *bucket = Bucket {
                tokens: if allowed { tokens - 1.0 } else { tokens },
                at: now,
            };
            return allowed;
        }
        if state.by_hook.len() >= self.capacity {
            state.forget_full(now, per_minute);
            if state.by_hook.len() >= self.capacity {
                return false;
            }
        }
        state.by_hook.insert(
            hook.to_owned(),
            Bucket {
                tokens: per_minute - 1.0,
                at: now,
            },
        );
        true
    }
}

impl Buckets {
    /// Forgets the buckets that are full at `now`, at most once per
    /// [`SWEEP_EVERY`]; a bucket that would still refuse or shorten a burst is
    /// kept whatever the pressure.
    fn forget_full(&mut self, now: Instant, per_minute: f64) {
        if self
            .last_sweep
            .is_some_and(|last| now.saturating_duration_since(last) < SWEEP_EVERY)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.by_hook
            .retain(|_, bucket| bucket.tokens_at(now, per_minute) < per_minute);
    }
}

/// The route of deliveries (open: no session, no CSRF).
pub fn open_routes() -> Router<AppState> {
    Router::new().route("/hooks/{id}", post(receive))
}

/// The portal's Hooks tab.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/services/{team}/{service}/hooks",
            get(show_hooks).post(create_hook),
        )
        .route("/services/{team}/{service}/hooks/{id}", get(show_hook))
        .route(
            "/services/{team}/{service}/hooks/{id}/rotate",
            post(rotate_hook),
        )
        .route(
            "/services/{team}/{service}/hooks/{id}/delete",
            post(delete_hook),
        )
        .route(
            "/services/{team}/{service}/hooks/{id}/deliveries/{delivery}/redeliver",
            post(redeliver),
        )
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn provider_headers(headers: &HeaderMap) -> Headers {
    Headers {
        github_event: header(headers, "x-github-event"),
        github_delivery: header(headers, "x-github-delivery"),
        github_signature: header(headers, "x-hub-signature-256"),
        gitlab_event: header(headers, "x-gitlab-event"),
        gitlab_delivery: header(headers, "x-gitlab-event-uuid"),
        gitlab_token: header(headers, "x-gitlab-token"),
        gitea_event: header(headers, "x-gitea-event"),
        gitea_delivery: header(headers, "x-gitea-delivery"),
        gitea_signature: header(headers, "x-gitea-signature"),
    }
}

fn rejection(rejection: Rejection) -> AppError {
    match rejection {
        Rejection::UnknownHook => AppError::NotFound,
        Rejection::BadSignature => AppError::Unauthenticated,
        Rejection::Malformed(why) => AppError::BadRequest(why),
    }
}

/// `POST /hooks/{id}`: a delivery from GitHub, GitLab or Gitea, told by its
/// headers. Verified over the raw bytes before anything is parsed; 401 on a bad
/// signature, 404 for an unknown hook (after the same work), 400 for a body that
/// is not a push, 200 for a ping, 202 otherwise: `queued` for a push (the judge
/// requests its deploy in the background; the deliveries list shows the
/// verdict), `ignored` for other events. Only records; never renders, locks or
/// waits on the cluster.
async fn receive(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    if !app.hook_limiter.allow(&id, Instant::now()) {
        return Err(AppError::TooManyRequests);
    }
    let provider = provider_headers(&headers);
    let key = app.config.secret_key.as_ref();
    let now = OffsetDateTime::now_utc();
    let hook_id = Uuid::parse_str(&id).ok();
    let (hook, envelope) = match hooks::authenticate(
        &app.db,
        &app.hook_cache,
        key,
        hook_id,
        &provider,
        &body,
        now,
    )
    .await
    {
        Ok(found) => found,
        Err(Ok(refused)) => return Err(rejection(refused)),
        Err(Err(error)) => return Err(error),
    };
    let receipt = match hooks::receive(&app.db, &hook, &envelope, &body).await {
        Ok(receipt) => receipt,
        Err(Ok(refused)) => return Err(rejection(refused)),
        Err(Err(error)) => return Err(error),
    };
    if receipt.result == "queued" && !receipt.redelivery {
        app.hook_wake.ring();
    }
    let status = if receipt.result == "pong" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(receipt)).into_response())
}

// ---------------------------------------------------------------- portal

/// A hook as the pages show it.
pub struct HookRow {
    id: Uuid,
    url: String,
    environment: String,
    ref_pattern: String,
    image_template: String,
    paths: String,
    created: String,
    rotating_until: Option<String>,
    last: Option<DeliveryRow>,
}

/// A delivery as the pages show it.
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub(crate) id: i64,
    pub(crate) redeliverable: bool,
    pub(crate) at: String,
    pub(crate) provider: String,
    pub(crate) event: String,
    pub(crate) git_ref: String,
    pub(crate) sha: String,
    pub(crate) pusher: String,
    pub(crate) result: String,
    pub(crate) reason: String,
    pub(crate) deploy_id: Option<i64>,
}

impl From<&Delivery> for DeliveryRow {
    fn from(d: &Delivery) -> Self {
        DeliveryRow {
            id: d.id,
            redeliverable: d.has_payload,
            at: display_time(d.created_at),
            provider: d.provider.clone(),
            event: d.event.clone(),
            git_ref: d.git_ref.clone(),
            sha: d.sha.chars().take(12).collect(),
            pusher: d.pusher.clone(),
            result: d.result.clone(),
            reason: d.reason.clone(),
            deploy_id: d.deploy_id,
        }
    }
}

/// The URL a repository posts to.
pub fn hook_url(app: &AppState, id: Uuid) -> String {
    format!("{}/hooks/{id}", app.config.public_url.trim_end_matches('/'))
}

fn row(app: &AppState, hook: &Hook, last: Option<&Delivery>) -> HookRow {
    let now = OffsetDateTime::now_utc();
    HookRow {
        id: hook.id,
        url: hook_url(app, hook.id),
        environment: hook.environment.clone(),
        ref_pattern: hook.ref_pattern.clone(),
        image_template: hook.image_template.clone(),
        paths: hook.paths.join(", "),
        created: display_time(hook.created_at),
        rotating_until: hook
            .previous_valid_until
            .filter(|until| *until > now)
            .map(display_time),
        last: last.map(DeliveryRow::from),
    }
}

/// The Hooks tab.
#[derive(Template, WebTemplate)]
#[template(path = "services/hooks.html")]
pub struct HooksPage {
    layout: Layout,
    service: Service,
    hooks: Vec<HookRow>,
    environments: Vec<String>,
    can_manage: bool,
    form: HookForm,
    errors: Vec<FieldError>,
    created: Option<CreatedHook>,
    key_missing: bool,
}

/// A hook (or a rotated secret) just made: shown once.
pub struct CreatedHook {
    url: String,
    secret: String,
}

impl From<(&AppState, NewSecret)> for CreatedHook {
    fn from((app, new): (&AppState, NewSecret)) -> Self {
        CreatedHook {
            url: hook_url(app, new.id),
            secret: new.secret.expose().to_owned(),
        }
    }
}

/// The "new hook" form.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct HookForm {
    #[serde(default)]
    environment: String,
    #[serde(default, rename = "ref")]
    ref_pattern: String,
    #[serde(default)]
    image: String,
    /// Path prefixes, one per line or comma-separated.
    #[serde(default)]
    paths: String,
}

impl HookForm {
    fn input(&self) -> HookInput {
        HookInput {
            environment: self.environment.clone(),
            ref_pattern: self.ref_pattern.clone(),
            image: self.image.clone(),
            paths: self
                .paths
                .split([',', '\n'])
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }
}

async fn hooks_page(
    app: &AppState,
    user: &CurrentUser,
    layout: Layout,
    service: Service,
) -> Result<HooksPage, AppError> {
    let hooks = store::hooks::for_service(&app.db, service.id).await?;
    let last = store::hooks::last_delivery_per_hook(&app.db, service.id).await?;
    let rows = hooks
        .iter()
        .map(|hook| row(app, hook, last.iter().find(|d| d.hook_id == hook.id)))
        .collect();
    let environments = store::environments::list(&app.db)
        .await?
        .into_iter()
        .map(|e| e.name)
        .collect();
    Ok(HooksPage {
        layout,
        can_manage: policy::can_manage_hooks(user, &service.team).is_ok(),
        service,
        hooks: rows,
        environments,
        form: HookForm {
            ref_pattern: "refs/heads/main".into(),
            ..HookForm::default()
        },
        errors: Vec::new(),
        created: None,
        key_missing: app.config.secret_key.is_none(),
    })
}

/// `GET /services/{team}/{service}/hooks`: the team's members and admins.
async fn show_hooks(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
) -> Result<HooksPage, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    hooks_page(&app, &user, layout, service).await
}

/// `POST /services/{team}/{service}/hooks`: creates a hook
/// (`policy::can_manage_hooks`) and shows its URL and secret once; problems
/// come back on the page with 422.
async fn create_hook(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
    Form(form): Form<HookForm>,
) -> Result<Response, AppError> {
    let service = load_service(&app, &user, &team, &name).await?;
    policy::can_manage_hooks(&user, &service.team)?;
    let key = app.config.secret_key.as_ref();
    let made = hooks::create_hook(&app.db, key, &user.actor(addr), &service, &form.input()).await;
    let mut page = hooks_page(&app, &user, layout, service).await?;
    match made {
        Ok(new) => {
            page.created = Some(CreatedHook::from((&app, new)));
            Ok(forms::shown_once(page))
        }
        Err(AppError::Invalid(errors)) => {
            page.errors = errors;
            page.form = form;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other),
    }
}

/// One hook with its deliveries.
#[derive(Template, WebTemplate)]
#[template(path = "services/hook.html")]
pub struct HookPage {
    layout: Layout,
    service: Service,
    hook: HookRow,
    deliveries: Vec<DeliveryRow>,
    can_manage: bool,
    can_redeliver: bool,
    created: Option<CreatedHook>,
}

async fn load_hook(
    app: &AppState,
    user: &CurrentUser,
    team: &str,
    name: &str,
    id: &str,
) -> Result<(Service, Hook), AppError> {
    let service = load_service(app, user, team, name).await?;
    let id = Uuid::parse_str(id).map_err(|_| AppError::NotFound)?;
    let hook = store::hooks::find(&app.db, id)
        .await?
        .filter(|h| h.service_id == service.id)
        .ok_or(AppError::NotFound)?;
    Ok((service, hook))
}

async fn hook_page(
    app: &AppState,
    user: &CurrentUser,
    layout: Layout,
    service: Service,
    hook: &Hook,
) -> Result<HookPage, AppError> {
    let deliveries = store::hooks::deliveries(&app.db, hook.id, 100).await?;
    Ok(HookPage {
        layout,
        can_manage: policy::can_manage_hooks(user, &service.team).is_ok(),
        can_redeliver: policy::can_administer(user).is_ok(),
        service,
        hook: row(app, hook, deliveries.first()),
        deliveries: deliveries.iter().map(DeliveryRow::from).collect(),
        created: None,
    })
}

/// `GET /services/{team}/{service}/hooks/{id}`: its last 100 deliveries.
async fn show_hook(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name, id)): Path<(String, String, String)>,
) -> Result<HookPage, AppError> {
    let (service, hook) = load_hook(&app, &user, &team, &name, &id).await?;
    hook_page(&app, &user, layout, service, &hook).await
}

/// `POST …/hooks/{id}/rotate`: a new secret, shown once; the old one keeps
/// working for a day (`policy::can_manage_hooks`).
async fn rotate_hook(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    layout: Layout,
    Path((team, name, id)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let (service, hook) = load_hook(&app, &user, &team, &name, &id).await?;
    policy::can_manage_hooks(&user, &service.team)?;
    let key = app.config.secret_key.as_ref();
    let now = OffsetDateTime::now_utc();
    let new = hooks::rotate_secret(&app.db, key, &user.actor(addr), &hook, now).await?;
    app.hook_cache.forget(hook.id);
    let hook = store::hooks::find(&app.db, hook.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut page = hook_page(&app, &user, layout, service, &hook).await?;
    page.created = Some(CreatedHook::from((&app, new)));
    Ok(forms::shown_once(page))
}

/// `POST …/hooks/{id}/delete` (`policy::can_manage_hooks`).
async fn delete_hook(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path((team, name, id)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let (service, hook) = load_hook(&app, &user, &team, &name, &id).await?;
    policy::can_manage_hooks(&user, &service.team)?;
    hooks::delete_hook(&app.db, &user.actor(addr), &hook).await?;
    app.hook_cache.forget(hook.id);
    flash(&session, "ok", "Hook deleted; its URL now answers 404.").await?;
    Ok(Redirect::to(&format!("/services/{team}/{name}/hooks")).into_response())
}

/// `POST …/hooks/{id}/deliveries/{delivery}/redeliver`: administrators
/// (`policy::can_administer`) deliver a stored push again, e.g. after unpinning.
async fn redeliver(
    State(app): State<AppState>,
    user: CurrentUser,
    addr: ClientAddr,
    session: Session,
    Path((team, name, id, delivery)): Path<(String, String, String, i64)>,
) -> Result<Response, AppError> {
    let (_, hook) = load_hook(&app, &user, &team, &name, &id).await?;
    policy::can_administer(&user)?;
    let now = OffsetDateTime::now_utc();
    let receipt = hooks::redeliver(
        &app.db,
        &app.clusters,
        &user.actor(addr),
        &hook,
        delivery,
        now,
    )
    .await?;
    let message = match receipt.deploy_id {
        Some(deploy) => format!("Delivered again: deploy #{deploy}."),
        None => format!("Delivered again: {} ({}).", receipt.result, receipt.reason),
    };
    flash(&session, "ok", message).await?;
    Ok(Redirect::to(&format!("/services/{team}/{name}/hooks/{id}")).into_response())
}

/// The API's view of hooks and deliveries.
pub mod api {
    use super::*;

    /// A hook just created: `{"id","url","secret"}` (the secret only here).
    #[derive(Debug, serde::Serialize)]
    pub struct CreatedOut {
        id: Uuid,
        url: String,
        secret: String,
    }

    /// A hook in lists (never its secret).
    #[derive(Debug, serde::Serialize)]
    pub struct HookOut {
        id: Uuid,
        url: String,
        environment: String,
        #[serde(rename = "ref")]
        ref_pattern: String,
        image: String,
        paths: Vec<String>,
        #[serde(with = "time::serde::rfc3339")]
        created_at: OffsetDateTime,
    }

    /// A delivery.
    #[derive(Debug, serde::Serialize)]
    pub struct DeliveryOut {
        /// The row, as `POST /hooks/ID` answers it (`delivery`).
        id: i64,
        delivery_id: String,
        provider: String,
        event: String,
        #[serde(rename = "ref")]
        git_ref: String,
        sha: String,
        /// The sha the ref pointed to before the push (empty when unknown).
        before: String,
        pusher: String,
        result: String,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        deploy_id: Option<i64>,
        #[serde(with = "time::serde::rfc3339")]
        created_at: OffsetDateTime,
        /// When the result was decided (absent while `queued`).
        #[serde(
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        judged_at: Option<OffsetDateTime>,
    }

    /// `POST /api/v1/teams/{team}/services/{service}/hooks`
    /// `{"environment","ref","image","paths"?}` → 201 `{"id","url","secret"}`
    /// (`policy::can_manage_hooks`).
    pub async fn create_hook(
        State(app): State<AppState>,
        crate::auth::ApiUser(user): crate::auth::ApiUser,
        addr: ClientAddr,
        Path((team, name)): Path<(String, String)>,
        crate::web::api::ApiJson(body): crate::web::api::ApiJson<HookInput>,
    ) -> Result<(StatusCode, Json<CreatedOut>), AppError> {
        let service = load_service(&app, &user, &team, &name).await?;
        policy::can_manage_hooks(&user, &service.team)?;
        let key = app.config.secret_key.as_ref();
        let new = hooks::create_hook(&app.db, key, &user.actor(addr), &service, &body).await?;
        Ok((
            StatusCode::CREATED,
            Json(CreatedOut {
                url: hook_url(&app, new.id),
                id: new.id,
                secret: new.secret.expose().to_owned(),
            }),
        ))
    }

    /// `GET /api/v1/teams/{team}/services/{service}/hooks` (`policy::can_view_team`).
    pub async fn list_hooks(
        State(app): State<AppState>,
        crate::auth::ApiUser(user): crate::auth::ApiUser,
        Path((team, name)): Path<(String, String)>,
    ) -> Result<Json<Vec<HookOut>>, AppError> {
        let service = load_service(&app, &user, &team, &name).await?;
        let hooks = store::hooks::for_service(&app.db, service.id).await?;
        Ok(Json(
            hooks
                .into_iter()
                .map(|h| HookOut {
                    url: hook_url(&app, h.id),
                    id: h.id,
                    environment: h.environment,
                    ref_pattern: h.ref_pattern,
                    image: h.image_template,
                    paths: h.paths,
                    created_at: h.created_at,
                })
                .collect(),
        ))
    }

    /// `GET /api/v1/hooks/{id}/deliveries`: newest first (`policy::can_view_team`
    /// of the hook's team).
    pub async fn list_deliveries(
        State(app): State<AppState>,
        crate::auth::ApiUser(user): crate::auth::ApiUser,
        Path(id): Path<String>,
    ) -> Result<Json<Vec<DeliveryOut>>, AppError> {
        let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
        let hook = store::hooks::find(&app.db, id)
            .await?
            .ok_or(AppError::NotFound)?;
        policy::can_view_team(&user, &hook.team)?;
        let deliveries = store::hooks::deliveries(&app.db, hook.id, 200).await?;
        Ok(Json(
            deliveries
                .into_iter()
                .map(|d| DeliveryOut {
                    id: d.id,
                    delivery_id: d.delivery_id,
                    provider: d.provider,
                    event: d.event,
                    git_ref: d.git_ref,
                    sha: d.sha,
                    before: d.before_sha,
                    pusher: d.pusher,
                    result: d.result,
                    reason: d.reason,
                    deploy_id: d.deploy_id,
                    created_at: d.created_at,
                    judged_at: d.judged_at,
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl HookLimiter {
        /// How many ids hold a bucket.
        fn tracked(&self) -> usize {
            self.state.lock().unwrap().by_hook.len()
        }
    }

    #[test]
    fn a_hook_is_limited_on_its_own_and_refills() {
        let limiter = HookLimiter::new(120);
        let t0 = Instant::now();
        let allowed = (0..200).filter(|_| limiter.allow("a", t0)).count();
        assert_eq!(allowed, 120);
        assert!(limiter.allow("b", t0), "another hook has its own bucket");
        assert!(!limiter.allow("a", t0));
        assert!(
            limiter.allow("a", t0 + Duration::from_secs(1)),
            "refills over time"
        );
    }

    #[test]
    fn a_limited_hook_stays_limited_through_a_flood_of_random_ids() {
        let limiter = HookLimiter::new(120);
        let t0 = Instant::now();
        let allowed = (0..200).filter(|_| limiter.allow("real", t0)).count();
        assert_eq!(allowed, 120);
        // 20,000 random ids within 20 ms: twice the cap.
        for i in 0..20_000u64 {
            let at = t0 + Duration::from_micros(i);
            limiter.allow(
                &format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                at,
            );
        }
        let after = t0 + Duration::from_millis(20);
        assert!(!limiter.allow("real", after), "still limited, not reset");
        assert!(limiter.tracked() <= MAX_BUCKETS, "{}", limiter.tracked());
    }

    #[test]
    fn memory_stays_bounded_and_new_ids_past_the_cap_are_refused() {
        let limiter = HookLimiter::with_capacity(120, 100);
        let t0 = Instant::now();
        let allowed = (0..1_000)
            .filter(|i| limiter.allow(&format!("id-{i}"), t0))
            .count();
        assert_eq!(allowed, 100, "one per id until the cap, then none");
        assert_eq!(limiter.tracked(), 100);
        assert!(limiter.allow("id-7", t0), "a known id keeps its bucket");
        // Once the flood's buckets have refilled they make room again.
        let later = t0 + Duration::from_secs(2);
        assert!(limiter.allow("new", later));
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn a_bucket_is_forgotten_only_once_full() {
        // 60 a minute: one token a second, full from empty in a minute.
        let limiter = HookLimiter::with_capacity(60, 3);
        let t0 = Instant::now();
        assert_eq!((0..60).filter(|_| limiter.allow("real", t0)).count(), 60);
        assert!(limiter.allow("x", t0) && limiter.allow("y", t0));
        // Two seconds on, x and y are full again (59 + 2 ≥ 60); real holds 2.
        let t2 = t0 + Duration::from_secs(2);
        assert!(limiter.allow("z", t2));
        assert_eq!(limiter.tracked(), 2, "x and y forgotten, real kept");
        assert_eq!((0..5).filter(|_| limiter.allow("real", t2)).count(), 2);
        assert!(limiter.allow("w", t0 + Duration::from_secs(30)));
        // At the cap again at 40 s: z and w refilled, real (38 of 60) did not.
        let t40 = t0 + Duration::from_secs(40);
        assert!(limiter.allow("v", t40));
        assert_eq!(limiter.tracked(), 2, "z and w forgotten, real kept");
        assert_eq!((0..60).filter(|_| limiter.allow("real", t40)).count(), 38);
    }

    #[test]
    fn a_full_limiter_looks_for_room_at_most_once_a_second() {
        let limiter = HookLimiter::with_capacity(120, 1);
        let t0 = Instant::now();
        assert!(limiter.allow("a", t0));
        assert!(!limiter.allow("b", t0), "a is not full yet");
        // a is full 0.5 s later, but the last look was under a second ago.
        assert!(!limiter.allow("b", t0 + Duration::from_millis(900)));
        assert!(limiter.allow("b", t0 + Duration::from_secs(1)));
    }
}
