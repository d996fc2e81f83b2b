//! Drift of a service in an environment: its live objects against the
//! manifests of the last deploy there that succeeded (`cluster::drift`).
//! Anyone who may see the team may check; the check reads the cluster on
//! demand (a few GETs), never per status view.

use crate::auth::{CurrentUser, policy};
use crate::cluster::drift::{self, Drifted};
use crate::cluster::{self, apply, retry::RetryPolicy};
use crate::error::AppError;
use crate::store::{self, services::Service};

/// What the check found.
#[derive(Debug, Clone)]
pub enum Report {
    /// Nothing has been deployed there successfully: nothing to compare with.
    NeverDeployed {
        /// The environment.
        environment: String,
    },
    /// Compared with deploy `deploy_id`.
    Checked {
        /// The environment.
        environment: String,
        /// The deploy compared with.
        deploy_id: i64,
        /// Its revision.
        revision: i32,
        /// The drifted fields; empty when live matches.
        drift: Vec<Drifted>,
    },
}

/// Checks `service` in `environment` (the first of its environments by default).
pub async fn check(
    db: &sqlx::PgPool,
    clusters: &cluster::Fleet,
    user: &CurrentUser,
    service: &Service,
    environment: Option<&str>,
) -> Result<Report, AppError> {
    policy::can_view_team(user, &service.team)?;
    let targets = super::services::targets(db, service).await?;
    let target = targets.resolve(environment)?;
    let environment = target.environment.clone();
    let env = store::environments::find_by_name(db, &environment)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(deploy) = store::deploys::latest_succeeded(db, service.id, env.id).await? else {
        return Ok(Report::NeverDeployed { environment });
    };
    let member = clusters.member(&deploy.cluster);
    let client = member.handle.client().ok_or_else(|| {
        AppError::Unavailable(format!(
            "cluster `{}` is not connected: {}",
            member.name,
            member.handle.state().describe()
        ))
    })?;
    let documents = store::deploys::documents(db, deploy.id).await?;
    let manifests = apply::parse_manifests(&documents.manifests, &deploy.namespace)
        .map_err(|e| AppError::Unavailable(format!("deploy #{}: {e}", deploy.id)))?;
    let drift = drift::drift(
        &client,
        &super::plans::target_of(&deploy),
        &manifests,
        RetryPolicy::none(),
    )
    .await
    .map_err(|e| AppError::Unavailable(format!("reading the live objects: {e}")))?;
    Ok(Report::Checked {
        environment,
        deploy_id: deploy.id,
        revision: deploy.revision,
        drift,
    })
}
