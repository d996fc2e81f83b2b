//! A pod's log in the portal: the last lines of a container, the previous
//! container's (after a crash), and a follow stream, for the team's members
//! (`domain::logs`). The page says what logs are: the application's own
//! output, which Slipway neither filters nor keeps.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::cluster::logs;
use crate::domain::logs::{Located, locate};
use crate::error::AppError;
use crate::store::services::Service;
use crate::web::layout::Layout;
use crate::web::loaders::load_service;

/// Lines a tail shows by default, and at most.
const DEFAULT_LINES: i64 = 200;
const MAX_LINES: i64 = 5_000;
/// A follow stream ends after this long or this much text, whichever first;
/// the page says so and offers to start again.
pub const FOLLOW_FOR: Duration = Duration::from_secs(10 * 60);
pub const FOLLOW_BYTES: usize = 2 * 1024 * 1024;

/// The log routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/services/{team}/{service}/logs", get(show_logs))
        .route("/services/{team}/{service}/logs/follow", get(follow_logs))
}

/// `?env=E&pod=P&container=C&previous=1&lines=N`.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    env: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    previous: Option<String>,
    lines: Option<String>,
}

impl LogQuery {
    fn pod(&self) -> Result<&str, AppError> {
        self.pod
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| AppError::invalid("pod", "name the pod whose log to show"))
    }

    fn lines(&self) -> Result<i64, AppError> {
        match self
            .lines
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            None => Ok(DEFAULT_LINES),
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LINES).contains(n))
                .ok_or_else(|| {
                    AppError::invalid("lines", format!("a number of lines from 1 to {MAX_LINES}"))
                }),
        }
    }

    fn previous(&self) -> bool {
        matches!(self.previous.as_deref(), Some("1" | "true" | "on"))
    }
}

async fn located(
    app: &AppState,
    user: &CurrentUser,
    team: &str,
    name: &str,
    q: &LogQuery,
) -> Result<(Service, Located), AppError> {
    let service = load_service(app, user, team, name).await?;
    let found = locate(
        &app.db,
        &app.clusters,
        user,
        &service,
        q.env.as_deref(),
        q.pod()?,
        q.container.as_deref(),
    )
    .await?;
    Ok((service, found))
}

/// The client of the cluster the pod runs on.
fn client(app: &AppState, found: &crate::domain::logs::Located) -> Result<kube::Client, AppError> {
    let member = app.clusters.member(&found.cluster);
    member.handle.client().ok_or_else(|| {
        AppError::Unavailable(format!(
            "cluster `{}` is not connected: {}",
            member.name,
            member.handle.state().describe()
        ))
    })
}

/// The log page.
#[derive(Template, WebTemplate)]
#[template(path = "services/logs.html")]
pub struct LogsPage {
    layout: Layout,
    service: Service,
    environment: String,
    pod: String,
    container: String,
    containers: Vec<String>,
    previous: bool,
    lines: i64,
    /// The text, or why the API server gave none.
    text: Result<String, String>,
    follow_minutes: u64,
}

/// `GET /services/{team}/{service}/logs?env=E&pod=P[&container=C][&previous=1][&lines=N]`.
async fn show_logs(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<LogsPage, AppError> {
    let lines = q.lines()?;
    let (service, found) = located(&app, &user, &team, &name, &q).await?;
    let text = logs::tail(&client(&app, &found)?, &found.target, lines, q.previous()).await;
    Ok(LogsPage {
        layout,
        service,
        environment: found.environment,
        pod: found.target.pod,
        container: found.target.container,
        containers: found.containers,
        previous: q.previous(),
        lines,
        text,
        follow_minutes: FOLLOW_FOR.as_secs() / 60,
    })
}

/// `GET …/logs/follow?env=E&pod=P[&container=C]`: the log as plain text,
/// streamed as the container writes it, for at most [`FOLLOW_FOR`] and
/// [`FOLLOW_BYTES`].
async fn follow_logs(
    State(app): State<AppState>,
    user: CurrentUser,
    Path((team, name)): Path<(String, String)>,
    Query(q): Query<LogQuery>,
) -> Result<Response, AppError> {
    let lines = q.lines()?;
    let (_, found) = located(&app, &user, &team, &name, &q).await?;
    let stream = logs::follow(&client(&app, &found)?, &found.target, lines)
        .await
        .map_err(|why| AppError::Conflict(format!("the log cannot be followed: {why}")))?;
    let bounded = bounded(stream, FOLLOW_BYTES, FOLLOW_FOR);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(bounded),
    )
        .into_response())
}

/// Passes lines through until `max_bytes` or `max_time`, then one closing line
/// that says why the stream ended.
fn bounded<S>(
    lines: S,
    max_bytes: usize,
    max_time: Duration,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> + Send
where
    S: futures::Stream<Item = Result<String, std::io::Error>> + Send + 'static,
{
    let deadline = tokio::time::sleep(max_time);
    let mut sent = 0usize;
    let limited = lines.take_until(deadline).take_while(move |line| {
        let go = sent < max_bytes;
        if let Ok(l) = line {
            sent += l.len();
        }
        futures::future::ready(go)
    });
    limited.chain(futures::stream::once(async move {
        Ok(format!(
            "-- Slipway: end of the followed log (streams stop after {} minutes or {} MiB; reload to follow again) --\n",
            max_time.as_secs() / 60,
            max_bytes / (1024 * 1024)
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_follow_stream_stops_at_its_size_bound_and_says_so() {
        let lines = futures::stream::iter((0..1000).map(|i| Ok(format!("line {i:04}\n"))));
        let out: Vec<String> = bounded(lines, 50, Duration::from_secs(60))
            .map(|l| l.unwrap())
            .collect()
            .await;
        // 10 bytes a line: lines are passed until 50 bytes were sent, then the end line.
        assert_eq!(out.len(), 6, "{out:?}");
        assert!(out[5].starts_with("-- Slipway: end of the followed log"));
    }

    #[tokio::test]
    async fn a_follow_stream_stops_at_its_time_bound() {
        let forever = futures::stream::pending::<Result<String, std::io::Error>>();
        let out: Vec<String> = bounded(forever, 1024, Duration::from_millis(50))
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(out.len(), 1);
        assert!(out[0].starts_with("-- Slipway: end of the followed log"));
    }
}
