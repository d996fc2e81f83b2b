//! The catalog query: one round trip per page view, whatever the page size.

use sqlx::{PgPool, Postgres, QueryBuilder};
use time::OffsetDateTime;

/// Filters of the catalog; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct CatalogFilter {
    /// Teams the viewer may see; `None` for admins (everything).
    pub visible_teams: Option<Vec<String>>,
    /// Only this team.
    pub team: Option<String>,
    /// Only this workload kind.
    pub kind: Option<String>,
    /// Only services whose latest deploy in some environment is in this state.
    pub state: Option<String>,
    /// Substring of the name, the team's name or the description (case-insensitive).
    pub query: Option<String>,
}

/// The latest deploy of a service in one environment.
#[derive(Clone, Debug)]
pub struct LatestDeploy {
    /// Environment name.
    pub environment: String,
    /// Deploy state.
    pub state: String,
    /// When it was requested.
    pub at: OffsetDateTime,
}

/// One catalog row.
#[derive(Clone, Debug)]
pub struct CatalogRow {
    /// Team name.
    pub team: String,
    /// Service name.
    pub name: String,
    /// Workload kind.
    pub kind: String,
    /// Framework preset, or empty.
    pub framework: String,
    /// Current revision.
    pub revision: i32,
    /// The current revision's `metadata.description`, or empty.
    pub description: String,
    /// Latest deploy per environment, in environment order.
    pub deploys: Vec<LatestDeploy>,
}

/// A page of the catalog and the total number of matching services.
#[derive(Clone, Debug)]
pub struct CatalogPage {
    /// The rows.
    pub rows: Vec<CatalogRow>,
    /// All matching services.
    pub total: i64,
}

/// One row of the statement: a service of the page, with one of its latest
/// deploys (none: the environment columns are null) and the total.
#[derive(sqlx::FromRow)]
struct Row {
    team: String,
    name: String,
    kind: String,
    framework: String,
    current_revision: i32,
    description: String,
    environment: Option<String>,
    state: Option<String>,
    at: Option<OffsetDateTime>,
    total: i64,
}

/// Appends the `where` conditions of `filter` over `services s`, only those
/// that are set. Teams match on `services.team_name`, the copy a migration keeps
/// in step with `teams`. Each combination of filters is its own statement text, so
/// PostgreSQL's cached generic plan fits it: a catch-all `($1 is null or …)`
/// form got a generic plan that expected one row and nested-looped over all
/// 10,000 services (~30 ms instead of ~3 ms) from the sixth request on.
fn push_filter(query: &mut QueryBuilder<Postgres>, filter: &CatalogFilter) {
    query.push(" where true");
    if let Some(teams) = &filter.visible_teams {
        query
            .push(" and s.team_name = any(")
            .push_bind(teams.clone())
            .push(")");
    }
    if let Some(team) = &filter.team {
        query.push(" and s.team_name = ").push_bind(team.clone());
    }
    if let Some(kind) = &filter.kind {
        query.push(" and s.kind = ").push_bind(kind.clone());
    }
    if let Some(text) = &filter.query {
        // `search_text` is team, name and description lowercased (a generated
        // column with a trigram index where pg_trgm exists); the search text
        // is matched literally, its LIKE wildcards escaped.
        query
            .push(" and s.search_text like '%' || ")
            .push_bind(crate::store::audit::like_literal(&text.to_lowercase()))
            .push(" || '%' escape '\\'");
    }
    if let Some(state) = &filter.state {
        query
            .push(" and s.id in (select l.service_id from latest_deploys l where l.state = ")
            .push_bind(state.clone())
            .push(")");
    }
}

/// Appends the count of services matching `filter`. Without a search text or a
/// state filter it is a sum over `service_counts` (teams × kinds rows, kept by
/// a trigger); with one, the matching services are counted.
fn push_total(query: &mut QueryBuilder<Postgres>, filter: &CatalogFilter) {
    if filter.query.is_some() || filter.state.is_some() {
        query.push("select count(*) from services s");
        push_filter(query, filter);
        return;
    }
    query.push(
        "select coalesce(sum(c.services), 0)::bigint from service_counts c
         join teams t on t.id = c.team_id where true",
    );
    if let Some(teams) = &filter.visible_teams {
        query
            .push(" and t.name = any(")
            .push_bind(teams.clone())
            .push(")");
    }
    if let Some(team) = &filter.team {
        query.push(" and t.name = ").push_bind(team.clone());
    }
    if let Some(kind) = &filter.kind {
        query.push(" and c.kind = ").push_bind(kind.clone());
    }
}

/// Services matching `filter`, sorted by team and name, `limit` from `offset`.
pub async fn page(
    db: &PgPool,
    filter: &CatalogFilter,
    limit: i64,
    offset: i64,
) -> Result<CatalogPage, sqlx::Error> {
    // One statement: the page (a walk of services_team_name_name_idx that
    // stops at offset + limit, no sort), the count of every match
    // (`push_total`: the maintained counts, or a scan that counts without
    // sorting; a `count(*) over ()` on the page forced a sort of all matches,
    // ~15 ms at 10,000), and the latest deploy per environment
    // from `latest_deploys`, which a trigger keeps, joined as rows (a service
    // with three environments is three rows, grouped below): a JSON aggregate
    // per service built and parsed 50 small documents a page.
    let mut query = QueryBuilder::new(
        "with page as (
             select s.id, s.team_name as team, s.name, s.kind, s.framework, s.current_revision,
                    s.description
             from services s",
    );
    push_filter(&mut query, filter);
    query
        .push(" order by s.team_name, s.name limit ")
        .push_bind(limit)
        .push(" offset ")
        .push_bind(offset)
        .push(
            ")
         select p.team, p.name, p.kind, p.framework, p.current_revision, p.description,
                e.name as environment, l.state, l.created_at as at, (",
        );
    push_total(&mut query, filter);
    query.push(
        ") as total
         from page p
         left join latest_deploys l on l.service_id = p.id
         left join environments e on e.id = l.environment_id
         order by p.team, p.name, e.position",
    );
    let rows = query.build_query_as::<Row>().fetch_all(db).await?;
    let total = match rows.first() {
        Some(row) => row.total,
        // A page past the end (a stale link, a hand-typed `?page=`) has no row
        // to carry the count; count again so the page can say how many there are.
        None if offset > 0 => Box::pin(page(db, filter, 1, 0)).await?.total,
        None => 0,
    };
    let mut page_rows: Vec<CatalogRow> = Vec::new();
    for r in rows {
        let same = page_rows
            .last()
            .is_some_and(|last| last.team == r.team && last.name == r.name);
        if !same {
            page_rows.push(CatalogRow {
                team: r.team,
                name: r.name,
                kind: r.kind,
                framework: r.framework,
                revision: r.current_revision,
                description: r.description,
                deploys: Vec::new(),
            });
        }
        if let (Some(row), Some(environment), Some(state), Some(at)) =
            (page_rows.last_mut(), r.environment, r.state, r.at)
        {
            row.deploys.push(LatestDeploy {
                environment,
                state,
                at,
            });
        }
    }
    Ok(CatalogPage {
        total,
        rows: page_rows,
    })
}
