//! The append-only audit log: who did what, when, from where.

use serde::Serialize;
use sqlx::PgExecutor;
use time::OffsetDateTime;

/// Who acted.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The user, when a person acted.
    pub user_id: Option<i64>,
    /// Readable name: an email, `webhook:<id>` or `system`.
    pub name: String,
    /// Client address, when known.
    pub client_addr: Option<String>,
}

impl Actor {
    /// Slipway itself (seeding, the worker).
    pub fn system() -> Self {
        Self {
            user_id: None,
            name: "system".into(),
            client_addr: None,
        }
    }
}

/// One audit entry as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What, as `area.verb` (e.g. `service.create`).
    pub action: String,
    /// On what, e.g. `shop/web`.
    pub target: String,
    /// Extra facts (never secret values).
    pub detail: serde_json::Value,
    /// From where.
    pub client_addr: Option<String>,
}

/// Appends one entry. Call it inside the transaction of the change it records.
pub async fn record(
    db: impl PgExecutor<'_>,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (actor_user_id, actor, action, target, detail, client_addr)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.user_id)
    .bind(&actor.name)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(&actor.client_addr)
    .execute(db)
    .await?;
    Ok(())
}

/// Filter for browsing the log.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Substring of the actor.
    pub actor: Option<String>,
    /// Action prefix, e.g. `service.`.
    pub action: Option<String>,
    /// Substring of the target.
    pub target: Option<String>,
    /// Entries older than this id (keyset pagination).
    pub before_id: Option<i64>,
}

/// `s` as a LIKE pattern that matches itself only: `%`, `_` and the escape
/// character `\` lose their meaning, so a filter of `a_b` does not match `axb`.
pub fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Newest entries first, at most `limit`; the filters match literally (see [`like_literal`]).
/// Only the filters that are set become conditions, each combination its own
/// statement text, so the cached plan is the one for that combination (as in
/// `deploys::list`): the newest entries walk the primary key backwards and
/// stop at `limit`.
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let mut query = sqlx::QueryBuilder::new(
        "select id, created_at, actor, action, target, detail, client_addr from audit_log
         where true",
    );
    if let Some(actor) = &filter.actor {
        query
            .push(" and actor ilike '%' || ")
            .push_bind(like_literal(actor))
            .push(" || '%' escape '\\'");
    }
    if let Some(action) = &filter.action {
        query
            .push(" and action like ")
            .push_bind(like_literal(action))
            .push(" || '%' escape '\\'");
    }
    if let Some(target) = &filter.target {
        query
            .push(" and target ilike '%' || ")
            .push_bind(like_literal(target))
            .push(" || '%' escape '\\'");
    }
    if let Some(before_id) = filter.before_id {
        query.push(" and id < ").push_bind(before_id);
    }
    query.push(" order by id desc limit ").push_bind(limit);
    query.build_query_as::<Entry>().fetch_all(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_filter_are_escaped() {
        assert_eq!(like_literal("web"), "web");
        assert_eq!(like_literal("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }
}
