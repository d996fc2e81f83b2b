//! Probes and metrics: `/healthz`, `/readyz`, `/metrics`.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::app::AppState;
use crate::cluster::ClusterState;
use crate::store;

/// Probe routes: `/healthz`, `/readyz`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `GET /metrics`, on the main listener or (with `SLIPWAY_METRICS_ADDR`) its own.
pub fn metrics_routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// `GET /healthz`: 200 while the process runs.
async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when PostgreSQL answers and every migration is applied, else 503.
/// Each call asks the database afresh, so readiness recovers by itself. The body
/// is booleans only: an anonymous caller learns nothing of the database's error
/// or the cluster's version; the reason goes to the log.
async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let check =
        tokio::time::timeout(Duration::from_secs(2), store::migrations_current(&app.db)).await;
    let (database, migrations) = match check {
        Ok(Ok(current)) => (true, current),
        Ok(Err(err)) => {
            tracing::warn!(error = %first_line(&err.to_string()), "not ready: the database does not answer");
            (false, false)
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer within 2 s");
            (false, false)
        }
    };
    if database && !migrations {
        tracing::warn!("not ready: migrations are pending");
    }
    let ready = database && migrations;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "database": database,
        "migrations": migrations,
        "cluster": matches!(app.clusters.configured_member().handle.state(), ClusterState::Ready { .. }),
    });
    (status, axum::Json(body))
}

/// `GET /metrics`: Prometheus text, with pool gauges refreshed at scrape time.
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("db_pool_connections").set(f64::from(app.db.size()));
    metrics::gauge!("db_pool_idle_connections").set(app.db.num_idle() as f64);
    for member in app.clusters.members() {
        let cluster = member.name.clone();
        for (kind, objects, fresh) in member.status.sizes() {
            metrics::gauge!("slipway_status_cache_objects", "kind" => kind, "cluster" => cluster.clone())
                .set(objects as f64);
            metrics::gauge!("slipway_status_watch_fresh", "kind" => kind, "cluster" => cluster.clone())
                .set(if fresh { 1.0 } else { 0.0 });
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
