//! The catalog (`/`): every service the user can see, filtered as they type.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::app::AppState;
use crate::auth::{CurrentUser, policy};
use crate::error::AppError;
use crate::store::catalog::{CatalogFilter, CatalogRow};
use crate::web::htmx::HxRequest;
use crate::web::layout::Layout;

/// The highest page number asked of the database; larger ones are clamped to it.
const MAX_PAGE: i64 = 1_000_000;

/// Services per page.
pub const PAGE_SIZE: i64 = 50;

/// Catalog routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(show_catalog))
}

/// Query of `/`: the filters, reflected in the URL.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CatalogQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: Option<i64>,
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A row ready for the template.
pub struct RowView {
    row: CatalogRow,
    deploys: Vec<(String, String, String)>,
}

/// The catalog page; the `results` block is the htmx fragment.
#[derive(Template, WebTemplate)]
#[template(path = "catalog.html")]
pub struct CatalogPageView {
    layout: Layout,
    query: CatalogQueryView,
    teams: Vec<String>,
    rows: Vec<RowView>,
    total: i64,
    page: i64,
    pages: i64,
}

/// The results fragment.
#[derive(Template)]
#[template(path = "catalog.html", block = "results")]
pub struct CatalogResults {
    query: CatalogQueryView,
    rows: Vec<RowView>,
    total: i64,
    page: i64,
    pages: i64,
}

/// The filters as the template shows them, with a query string builder for links.
#[derive(Clone, Debug, Default)]
pub struct CatalogQueryView {
    q: String,
    team: String,
    kind: String,
    state: String,
}

impl CatalogQueryView {
    /// The query string for page `page` with the same filters.
    pub fn page_link(&self, page: &i64) -> String {
        let pairs = [
            ("q", self.q.as_str()),
            ("team", self.team.as_str()),
            ("kind", self.kind.as_str()),
            ("state", self.state.as_str()),
        ];
        let mut parts: Vec<(&str, String)> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        parts.push(("page", page.to_string()));
        format!(
            "/?{}",
            serde_urlencoded::to_string(parts).unwrap_or_default()
        )
    }
}

/// "3m", "2h", "5d": the age of a deploy.
pub fn age(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - at).whole_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `GET /`: the catalog; an htmx request gets only the results.
async fn show_catalog(
    State(app): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    headers: HeaderMap,
    Query(q): Query<CatalogQuery>,
) -> Result<Response, AppError> {
    let filter = CatalogFilter {
        visible_teams: policy::visible_teams(&user),
        team: non_empty(&q.team),
        kind: non_empty(&q.kind),
        state: non_empty(&q.state),
        query: non_empty(&q.q),
    };
    // Clamped so `(page - 1) * PAGE_SIZE` cannot overflow: a page past the
    // end shows the last page anyway.
    let mut page = q.page.unwrap_or(1).clamp(1, MAX_PAGE);
    let shared = &app.catalog;
    let mut result = shared
        .page(&app.db, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let last_page = ((result.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    if result.rows.is_empty() && page > last_page {
        // A stale link or a hand-typed page past the end shows the last page.
        page = last_page;
        result = shared
            .page(&app.db, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
            .await?;
    }
    let now = OffsetDateTime::now_utc();
    let rows = result
        .rows
        .iter()
        .map(|row| RowView {
            deploys: row
                .deploys
                .iter()
                .map(|d| (d.environment.clone(), d.state.clone(), age(d.at, now)))
                .collect(),
            row: row.clone(),
        })
        .collect();
    let pages = ((result.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let view = CatalogQueryView {
        q: q.q,
        team: q.team,
        kind: q.kind,
        state: q.state,
    };
    if HxRequest::of(&headers).0 {
        let fragment = CatalogResults {
            query: view,
            rows,
            total: result.total,
            page,
            pages,
        };
        let html = fragment
            .render()
            .map_err(|e| AppError::Internal(e.into()))?;
        return Ok(Html(html).into_response());
    }
    // The team filter offers the teams whose services the list may show.
    let teams = shared
        .team_names(&app.db)
        .await?
        .iter()
        .filter(|team| policy::can_view_team(&user, team).is_ok())
        .cloned()
        .collect();
    Ok(CatalogPageView {
        layout,
        query: view,
        teams,
        rows,
        total: result.total,
        page,
        pages,
    }
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short_and_readable() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10);
        assert_eq!(age(now - time::Duration::seconds(5), now), "5s");
        assert_eq!(age(now - time::Duration::minutes(3), now), "3m");
        assert_eq!(age(now - time::Duration::hours(2), now), "2h");
        assert_eq!(age(now - time::Duration::days(4), now), "4d");
    }

    #[test]
    fn page_links_keep_the_filters() {
        let q = CatalogQueryView {
            q: "web".into(),
            team: String::new(),
            kind: "worker".into(),
            state: String::new(),
        };
        assert_eq!(q.page_link(&2), "/?q=web&kind=worker&page=2");
    }
}
