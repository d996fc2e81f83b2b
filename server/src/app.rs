//! Application state, router assembly and serving: the one place the middleware stack is built.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::Config;
use crate::telemetry::REQUEST_ID;
use crate::{auth, cluster, domain, store, telemetry, web};

/// Minutes of inactivity after which a session ends.
pub const SESSION_IDLE_MINUTES: i64 = 120;

/// How many service overviews (and, apart, status fragments) are shared at most.
const SHARED_VIEWS: usize = 1024;

/// How many deploy histories, `/deploys` pages and deploys' pages are shared
/// at most (each kind apart): fewer than overviews, since each holds dozens of
/// rows or a deploy's manifests and diff, and stale answers stay until the
/// map is full. Only what many open at the same moment gains from sharing.
const SHARED_DEPLOYS: usize = 128;

/// Answers shared for [`domain::shared_reads::FRESH_FOR`], at most `max` of them.
fn shared_for_a_second<K: Eq + std::hash::Hash + Clone, V>(
    max: usize,
) -> Arc<domain::shared_reads::Shared<K, V>> {
    Arc::new(domain::shared_reads::Shared::new(
        domain::shared_reads::FRESH_FOR,
        max,
    ))
}

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// PostgreSQL.
    pub db: PgPool,
    /// The managed clusters, each with its connection and watch cache
    /// (`cluster::fleet`); environments name the one they target.
    pub clusters: cluster::Fleet,
    /// Configuration.
    pub config: Arc<Config>,
    /// Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Per-hook rate limits of `POST /hooks/{id}`.
    pub hook_limiter: Arc<web::hooks::HookLimiter>,
    /// Hooks recently authenticated (`domain::hook_cache`).
    pub hook_cache: Arc<domain::hook_cache::HookCache>,
    /// Rung by `POST /hooks/{id}` when it queued a push for the judge.
    pub hook_wake: domain::hook_judge::Wake,
    /// The cap on concurrent password checks at sign-in.
    pub password_gate: Arc<auth::throttle::PasswordGate>,
    /// The identity provider, when single sign-on is configured.
    pub oidc: Option<Arc<auth::oidc::Provider>>,
    /// The navigation bar's count of deploys waiting for a decision.
    pub pending: Arc<domain::approvals::PendingCounts>,
    /// The catalog's pages, shared for a second (`domain::catalog_cache`).
    pub catalog: Arc<domain::catalog_cache::CatalogCache>,
    /// Service overviews as read and rendered, shared for a second
    /// (`web::services::ServiceView`).
    pub service_views: Arc<
        domain::shared_reads::Shared<web::services::ServiceViewKey, web::services::ServiceView>,
    >,
    /// Status fragments as rendered, shared for a second (`web::status`).
    pub status_fragments:
        Arc<domain::shared_reads::Shared<web::status::StatusKey, axum::body::Bytes>>,
    /// Services' deploy histories by environment, shared for a second
    /// (`web::deploys::HistoryKey`).
    pub deploy_histories: Arc<
        domain::shared_reads::Shared<
            web::deploys::HistoryKey,
            Vec<web::deploys::view::EnvironmentHistory>,
        >,
    >,
    /// `/deploys` per filter and visible teams, shared for a second
    /// (`web::deploys::DeployList`).
    pub deploy_lists:
        Arc<domain::shared_reads::Shared<store::deploys::Filter, web::deploys::DeployList>>,
    /// Deploys' pages as read, shared for a second (`web::deploys::DeployRecord`).
    pub deploy_records: Arc<domain::shared_reads::Shared<i64, web::deploys::DeployRecord>>,
    /// The approvals queue page's waiting deploys per filter, shared for a
    /// second (`domain::approvals::WaitingList`).
    pub approval_queues: Arc<
        domain::shared_reads::Shared<domain::approvals::WaitingKey, domain::approvals::WaitingList>,
    >,
    /// Signed-in sessions as loaded, kept while revocations are heard
    /// (`store::identity`).
    pub identity: Arc<store::identity::IdentityCache>,
    /// Where `serve` listens for revocations: the pool's own database (tests
    /// put a relay in between to cut it off). Behind an `Arc`: the state is
    /// cloned by every extractor of every request, and these options are not
    /// cheap to copy.
    pub revocations_from: Arc<sqlx::postgres::PgConnectOptions>,
}

/// Extractors that only need the database (`CurrentUser`, `ApiUser`, `Layout`)
/// take it through `FromRef`, so `auth` does not depend on `AppState`.
impl axum::extract::FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl axum::extract::FromRef<AppState> for Arc<domain::approvals::PendingCounts> {
    fn from_ref(state: &AppState) -> Self {
        state.pending.clone()
    }
}

impl axum::extract::FromRef<AppState> for cluster::Fleet {
    fn from_ref(state: &AppState) -> Self {
        state.clusters.clone()
    }
}

impl AppState {
    /// State over a pool and the configured cluster's connection (registered
    /// as `SLIPWAY_CLUSTER_NAME`; `serve` adds the registry's clusters).
    pub fn new(db: PgPool, cluster: cluster::Handle, config: Config) -> Self {
        let clusters = cluster::Fleet::of_handle(config.cluster_name(), cluster);
        let hook_limiter = Arc::new(web::hooks::HookLimiter::new(
            config.hook_deliveries_per_minute,
        ));
        let hook_cache = Arc::new(domain::hook_cache::HookCache::new(config.hook_cache_ttl));
        // `serve` and `run` refuse an incomplete configuration before this
        // (`Config::oidc`); here it is only read.
        let oidc = match config.oidc() {
            Ok(Some(settings)) => match auth::oidc::Provider::new(settings) {
                Ok(provider) => Some(Arc::new(provider)),
                Err(error) => {
                    tracing::error!(%error, "single sign-on is off: its HTTP client could not be built");
                    None
                }
            },
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "single sign-on is off");
                None
            }
        };
        let config_identity_fresh_for = config.identity_cache();
        let revocations_from = Arc::new((*db.connect_options()).clone());
        let password_gate = Arc::new(auth::throttle::PasswordGate::new(
            config.login_concurrency(),
            auth::throttle::GATE_WAIT,
        ));
        Self {
            db,
            clusters,
            config: Arc::new(config),
            metrics: telemetry::metrics_handle(),
            hook_limiter,
            hook_cache,
            hook_wake: domain::hook_judge::Wake::default(),
            password_gate,
            oidc,
            pending: Arc::default(),
            catalog: Arc::default(),
            service_views: shared_for_a_second(SHARED_VIEWS),
            status_fragments: shared_for_a_second(SHARED_VIEWS),
            deploy_histories: shared_for_a_second(SHARED_DEPLOYS),
            deploy_lists: shared_for_a_second(SHARED_DEPLOYS),
            deploy_records: shared_for_a_second(SHARED_DEPLOYS),
            approval_queues: shared_for_a_second(SHARED_VIEWS),
            identity: Arc::new(store::identity::IdentityCache::new(
                config_identity_fresh_for,
            )),
            revocations_from,
        }
    }
}

/// The whole HTTP surface: portal (sessions + CSRF), API, probes and static files,
/// and `/metrics` unless `SLIPWAY_METRICS_ADDR` gives it a listener of its own.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let sessions = SessionManagerLayer::new(store::sessions::PgSessionStore::new(
        state.db.clone(),
        state.identity.clone(),
    ))
    .with_name(config.session_cookie_name())
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_secure(state.config.cookies_secure())
    .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
        SESSION_IDLE_MINUTES,
    )));

    let csrf_cookie = auth::csrf::CookieSettings {
        name: config.csrf_cookie_name(),
        secure: config.cookies_secure(),
    };
    let portal = web::portal_routes()
        .layer(middleware::from_fn_with_state(
            csrf_cookie,
            auth::csrf::require_token,
        ))
        .layer(middleware::from_fn(auth::activity::keep_alive))
        .layer(sessions);

    let body_limit = config.body_limit;
    let headers = web::headers::SecurityHeaders {
        hsts: config.is_https(),
    };
    let trusted = auth::client::TrustedProxies::new(&config.trusted_proxies);
    Router::new()
        .merge(portal)
        .merge(web::api_routes())
        .merge(web::open_routes(
            config.static_dir(),
            config.metrics_addr.is_none(),
        ))
        .fallback(web::errors::not_found)
        .layer(middleware::from_fn_with_state(
            web::layout::SharedReads::of(&state),
            web::layout::fresh_reads_after_writes,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout(),
        ))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(web::errors::render_errors))
        .layer(middleware::from_fn_with_state(
            headers,
            web::headers::security_headers,
        ))
        .layer(middleware::from_fn_with_state(
            trusted,
            auth::client::resolve,
        ))
        .layer(middleware::from_fn(telemetry::observe_request))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// `/metrics` alone, for the listener of `SLIPWAY_METRICS_ADDR` (reachable by the
/// scraper, not by the public).
pub fn metrics_router(state: AppState) -> Router {
    web::health::metrics_routes()
        .fallback(web::errors::not_found)
        .layer(middleware::from_fn(web::errors::render_errors))
        .with_state(state)
}

/// Serves [`metrics_router`] on `listener` until `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, metrics_router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Serves until `shutdown` resolves, then drains in-flight requests for at most
/// the configured grace period. The judge of webhook deliveries runs beside
/// it: the endpoint only records pushes, the judge turns them into deploys.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let db = state.db.clone();
    let judge = domain::hook_judge::spawn(
        state.db.clone(),
        state.clusters.clone(),
        state.hook_wake.clone(),
    );
    let registry = domain::clusters::spawn_registry_watch(
        state.db.clone(),
        state.clusters.clone(),
        state.config.secret_key.clone(),
        state.config.cluster_name().to_owned(),
        state.config.cluster_registry_poll,
    );
    let revocations = tokio::spawn(store::identity::follow_revocations(
        state.identity.clone(),
        state.db.clone(),
        (*state.revocations_from).clone(),
    ));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let mut stop_rx = stop_rx;
    tokio::select! {
        result = server => result?,
        _ = async {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!("in-flight requests did not finish within {grace:?}; stopping anyway"),
    }
    // A verdict cut off here rolls back; the delivery stays queued for the next judge.
    judge.abort();
    registry.abort();
    revocations.abort();
    db.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
