//! The catalog's pages as read, shared for a second between every view of
//! the same page by viewers who may see the same teams.
//!
//! A portal that hundreds of people keep open asks for the same few catalog
//! pages (page 1, no filter, the same visibility) many times a second; each
//! view used to run the catalog statement. Here a page is read once and reused
//! for up to [`FRESH_FOR`] by every view with the same key, and a write
//! through this server (`invalidate`, from the same middleware that refreshes
//! the navigation bar's count) makes the next view read the database again, so
//! whoever changed something sees it at once. A deploy moving on in the worker
//! or a write on another replica shows within the second, or two while the
//! page is being re-read (`shared_reads::Shared`: one view re-reads, the
//! others meanwhile get the page of a moment ago).
//!
//! The key holds the teams the viewer may see (`None` only for
//! administrators) as well as every filter, so a page is never shown to
//! someone who may not see all of it: a person whose access changed has a
//! different key from the next request on, whatever replica made the change.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use super::shared_reads::{FRESH_FOR, Shared};
use crate::store::catalog::{self, CatalogFilter, CatalogPage};

/// How many pages are kept at most; past it, the expired ones are dropped,
/// and if none was, all of them (a burst of distinct searches cannot grow it).
const MAX_PAGES: usize = 512;

/// What a page is read for: everything that changes its rows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    visible_teams: Option<Vec<String>>,
    team: Option<String>,
    kind: Option<String>,
    state: Option<String>,
    query: Option<String>,
    limit: i64,
    offset: i64,
}

impl Key {
    fn new(filter: &CatalogFilter, limit: i64, offset: i64) -> Self {
        Key {
            // Sorted: the same teams in another order are the same visibility.
            visible_teams: filter.visible_teams.as_ref().map(|teams| {
                let mut teams = teams.clone();
                teams.sort();
                teams.dedup();
                teams
            }),
            team: filter.team.clone(),
            kind: filter.kind.clone(),
            state: filter.state.clone(),
            query: filter.query.clone(),
            limit,
            offset,
        }
    }
}

/// The shared pages (one per `AppState`).
#[derive(Debug)]
pub struct CatalogCache {
    pages: Shared<Key, CatalogPage>,
    /// Every team's name (the team filter's choices), as read.
    teams: Shared<(), Vec<String>>,
}

impl Default for CatalogCache {
    fn default() -> Self {
        Self::new(FRESH_FOR)
    }
}

impl CatalogCache {
    /// Pages reused for `fresh_for` (tests choose; the server uses [`FRESH_FOR`]).
    pub fn new(fresh_for: Duration) -> Self {
        CatalogCache {
            pages: Shared::new(fresh_for, MAX_PAGES),
            teams: Shared::new(fresh_for, 1),
        }
    }

    /// Drops every page: the next view of each reads the database.
    pub fn invalidate(&self) {
        self.pages.invalidate();
        self.teams.invalidate();
    }

    /// The page of `filter`, `limit` from `offset`: a shared one read less than
    /// `fresh_for` ago in the current generation, or a fresh read.
    pub async fn page(
        &self,
        db: &PgPool,
        filter: &CatalogFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Arc<CatalogPage>, sqlx::Error> {
        self.pages
            .get_or_read(Key::new(filter, limit, offset), || {
                catalog::page(db, filter, limit, offset)
            })
            .await
    }

    /// Every team's name, sorted: shared like the pages (the page filters it
    /// by what the viewer may see).
    pub async fn team_names(&self, db: &PgPool) -> Result<Arc<Vec<String>>, sqlx::Error> {
        self.teams
            .get_or_read((), || crate::store::teams::names(db))
            .await
    }

    /// How many pages are held (for tests).
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether no page is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(teams: Option<&[&str]>) -> CatalogFilter {
        CatalogFilter {
            visible_teams: teams.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
            ..CatalogFilter::default()
        }
    }

    #[test]
    fn the_key_tells_visibilities_apart_but_not_the_order_of_teams() {
        let admin = Key::new(&filter(None), 50, 0);
        let shop = Key::new(&filter(Some(&["shop"])), 50, 0);
        let none = Key::new(&filter(Some(&[])), 50, 0);
        assert_ne!(admin, shop);
        assert_ne!(admin, none, "no team at all is not everything");
        assert_ne!(shop, none);
        assert_eq!(
            Key::new(&filter(Some(&["shop", "pricing"])), 50, 0),
            Key::new(&filter(Some(&["pricing", "shop"])), 50, 0)
        );
        assert_ne!(shop, Key::new(&filter(Some(&["shop"])), 50, 50));
        let search = CatalogFilter {
            query: Some("web".into()),
            ..filter(Some(&["shop"]))
        };
        assert_ne!(shop, Key::new(&search, 50, 0));
    }
}
