//! What every portal page's base layout shows: the signed-in user, the CSRF token,
//! a flash message and the cluster banner.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tower_sessions::Session;

use crate::auth::{CurrentUser, MaybeUser, csrf};
use crate::cluster::{self, ClusterState};
use crate::domain::approvals::PendingCounts;
use crate::error::AppError;

const FLASH_KEY: &str = "flash";

/// A one-time message shown on the next page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    /// `ok` or `error`: the CSS class.
    pub kind: String,
    /// The text.
    pub message: String,
}

/// Stores a flash message for the next page view.
pub async fn flash(
    session: &Session,
    kind: &str,
    message: impl Into<String>,
) -> Result<(), AppError> {
    session
        .insert(
            FLASH_KEY,
            Flash {
                kind: kind.into(),
                message: message.into(),
            },
        )
        .await?;
    Ok(())
}

/// The base layout's data.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Who is signed in.
    pub user: Option<CurrentUser>,
    /// The session's CSRF token, for forms and htmx headers.
    pub csrf: String,
    /// Message from the previous action.
    pub flash: Option<Flash>,
    /// Cluster banner text when the cluster is not ready.
    pub cluster_notice: Option<String>,
    /// One line about the cluster, for the footer (empty for anonymous visitors).
    pub cluster_line: String,
    /// Deploys waiting for the signed-in user's decision (navigation bar).
    pub pending_approvals: usize,
}

impl Layout {
    /// A layout with nobody signed in and no session (error pages).
    pub fn bare() -> Self {
        Self {
            user: None,
            csrf: String::new(),
            flash: None,
            cluster_notice: None,
            cluster_line: String::new(),
            pending_approvals: 0,
        }
    }

    /// The user's email, or empty.
    pub fn email(&self) -> &str {
        self.user
            .as_ref()
            .map(|u| u.email.as_str())
            .unwrap_or_default()
    }

    /// True when an admin is signed in.
    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin)
    }
}

impl<S> FromRequestParts<S> for Layout
where
    PgPool: FromRef<S>,
    cluster::Fleet: FromRef<S>,
    Arc<PendingCounts>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
        let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("portal route without a session layer"))
        })?;
        // A session with a token (everyone signed in) uses it; an anonymous
        // visitor gets the cookie token, so showing them a form stores nothing.
        let csrf = match (session.get::<String>(csrf::SESSION_KEY).await?, &user) {
            (Some(token), _) => token,
            (None, Some(_)) => csrf::token(&session).await?,
            (None, None) => parts
                .extensions
                .get::<csrf::AnonymousToken>()
                .map(|t| t.0.clone())
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("portal route without the CSRF layer"))
                })?,
        };
        // Read first and remove only a flash that is there: a removal marks the
        // session modified, and a modified session is written back to PostgreSQL.
        let flash = session.get::<Flash>(FLASH_KEY).await?;
        if flash.is_some() {
            session.remove::<Flash>(FLASH_KEY).await?;
        }
        let (cluster_notice, cluster_summary) = clusters_in_words(&cluster::Fleet::from_ref(state));
        let pending_approvals = match &user {
            Some(user) => {
                Arc::<PendingCounts>::from_ref(state)
                    .count(&PgPool::from_ref(state), user)
                    .await?
            }
            None => 0,
        };
        // Versions, unreachable reasons and kubeconfig paths are for people
        // signed in, not for whoever opens the login page.
        let cluster_line = if user.is_some() {
            cluster_summary
        } else {
            String::new()
        };
        Ok(Self {
            user,
            csrf,
            flash,
            cluster_notice,
            cluster_line,
            pending_approvals,
        })
    }
}

/// The banner (clusters not connected, by name when there are several) and
/// the footer's line of the managed clusters. With one cluster both read as
/// they did before clusters had names.
fn clusters_in_words(fleet: &cluster::Fleet) -> (Option<String>, String) {
    let members = fleet.members();
    let states: Vec<(String, ClusterState)> = members
        .iter()
        .map(|m| (m.name.clone(), m.handle.state()))
        .collect();
    if let [(_, only)] = states.as_slice() {
        let notice = (!matches!(only, ClusterState::Ready { .. })).then(|| only.describe());
        return (notice, only.describe());
    }
    let down: Vec<String> = states
        .iter()
        .filter(|(_, s)| !matches!(s, ClusterState::Ready { .. }))
        .map(|(name, s)| format!("{name}: {}", s.describe()))
        .collect();
    let line = format!(
        "{} clusters, {} connected",
        states.len(),
        states.len() - down.len()
    );
    ((!down.is_empty()).then(|| down.join("; ")), line)
}

/// What pages share for a second, dropped after every write.
#[derive(Clone)]
pub struct SharedReads {
    /// The navigation bar's count.
    pub pending: Arc<PendingCounts>,
    /// The catalog's pages.
    pub catalog: Arc<crate::domain::catalog_cache::CatalogCache>,
    /// Signed-in sessions as loaded: a write here may have been a revocation,
    /// which must count at the next request even before its notice is back.
    pub identity: Arc<crate::store::identity::IdentityCache>,
    /// Service overviews.
    pub service_views: Arc<
        crate::domain::shared_reads::Shared<
            crate::web::services::ServiceViewKey,
            crate::web::services::ServiceView,
        >,
    >,
    /// Status fragments.
    pub status_fragments:
        Arc<crate::domain::shared_reads::Shared<crate::web::status::StatusKey, axum::body::Bytes>>,
    /// Services' deploy histories.
    pub deploy_histories: Arc<
        crate::domain::shared_reads::Shared<
            crate::web::deploys::HistoryKey,
            Vec<crate::web::deploys::view::EnvironmentHistory>,
        >,
    >,
    /// `/deploys` by filter.
    pub deploy_lists: Arc<
        crate::domain::shared_reads::Shared<
            crate::store::deploys::Filter,
            crate::web::deploys::DeployList,
        >,
    >,
    /// Deploys' pages.
    pub deploy_records:
        Arc<crate::domain::shared_reads::Shared<i64, crate::web::deploys::DeployRecord>>,
    /// The approvals queue page's waiting deploys.
    pub approval_queues: Arc<
        crate::domain::shared_reads::Shared<
            crate::domain::approvals::WaitingKey,
            crate::domain::approvals::WaitingList,
        >,
    >,
}

impl SharedReads {
    /// What `state` shares.
    pub fn of(state: &crate::app::AppState) -> Self {
        SharedReads {
            pending: state.pending.clone(),
            catalog: state.catalog.clone(),
            identity: state.identity.clone(),
            service_views: state.service_views.clone(),
            status_fragments: state.status_fragments.clone(),
            deploy_histories: state.deploy_histories.clone(),
            deploy_lists: state.deploy_lists.clone(),
            deploy_records: state.deploy_records.clone(),
            approval_queues: state.approval_queues.clone(),
        }
    }

    /// Drops what is shared: the next page reads the database.
    pub fn invalidate(&self) {
        self.pending.invalidate();
        self.catalog.invalidate();
        self.identity.forget_all();
        self.service_views.invalidate();
        self.status_fragments.invalidate();
        self.deploy_histories.invalidate();
        self.deploy_lists.invalidate();
        self.deploy_records.invalidate();
        self.approval_queues.invalidate();
    }
}

/// Middleware: after any request that is not a read (a decision, a deploy
/// request, a new service, anything that may change what waits for whom or
/// what the catalog lists), the navigation bar's count and the catalog read
/// the database afresh on the next page.
pub async fn fresh_reads_after_writes(
    State(shared): State<SharedReads>,
    request: Request,
    next: Next,
) -> Response {
    let read = request.method().is_safe();
    let response = next.run(request).await;
    if !read {
        shared.invalidate();
    }
    response
}
