//! What the portal and the API both read from a request before acting: the
//! service or deploy in the path (authorized the same way for both), and the
//! query parameters they share.

use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{CurrentUser, policy};
use crate::deploy_model::DeployState;
use crate::error::AppError;
use crate::store::deploys::{self as deploys, Deploy};
use crate::store::environments::Environment;
use crate::store::services::Service;
use crate::store::{self};

/// Loads a service the user may see: the team check comes first, so outsiders
/// get 403 whether or not the service exists.
pub async fn load_service(
    app: &AppState,
    user: &CurrentUser,
    team: &str,
    name: &str,
) -> Result<Service, AppError> {
    policy::can_view_team(user, team)?;
    found(store::services::find(&app.db, team, name).await?)
}

/// [`load_service`] for the pages a crowd keeps open (the overview and its
/// status fragment): the same decision, the row as kept while every change to
/// it is heard (`store::services::find_kept`). Never for a write.
pub async fn load_service_to_show(
    app: &AppState,
    user: &CurrentUser,
    team: &str,
    name: &str,
) -> Result<Service, AppError> {
    policy::can_view_team(user, team)?;
    found(store::services::find_kept(&app.db, &app.identity, team, name).await?)
}

/// A service that was looked up after the access check: missing is 404.
fn found(service: Option<Service>) -> Result<Service, AppError> {
    service.ok_or(AppError::NotFound)
}

/// Loads a deploy the user may see (its team's members and admins); a missing
/// id is refused like another team's deploy (`policy::missing_deploy`).
pub async fn load_deploy(app: &AppState, user: &CurrentUser, id: i64) -> Result<Deploy, AppError> {
    let deploy = deploys::find(&app.db, id)
        .await?
        .ok_or_else(|| policy::missing_deploy(user))?;
    if policy::can_view_team(user, &deploy.team).is_err() {
        // Only then is the environment read: an approver from outside the team.
        let environment = store::environments::find(&app.db, deploy.environment_id).await?;
        may_view_deploy(user, &deploy, environment.as_ref())?;
    }
    Ok(deploy)
}

/// Whether `user` may see `deploy`, in `environment`: its team's members,
/// admins, and the environment's approvers (`policy::can_view_deploy`).
pub fn may_view_deploy(
    user: &CurrentUser,
    deploy: &Deploy,
    environment: Option<&Environment>,
) -> Result<(), AppError> {
    let approvers = environment.map(policy::Approvers::of);
    policy::can_view_deploy(user, &deploy.team, approvers.as_ref())
}

/// Query naming an environment: `env` in the portal (the env picker),
/// `environment` in the API; either is accepted, an empty one means none.
#[derive(Debug, Default, Deserialize)]
pub struct EnvironmentParam {
    env: Option<String>,
    environment: Option<String>,
}

impl EnvironmentParam {
    /// The environment asked for, if any.
    pub fn get(&self) -> Option<&str> {
        self.environment
            .as_deref()
            .or(self.env.as_deref())
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }
}

/// The `service` filter of the deploy lists: `team/service`, or a service name
/// in any team; `(team, service)`.
pub fn service_filter(raw: &str) -> (Option<String>, Option<String>) {
    let raw = raw.trim();
    match raw.split_once('/') {
        Some((team, service)) => (Some(team.to_owned()), Some(service.to_owned())),
        None if raw.is_empty() => (None, None),
        None => (None, Some(raw.to_owned())),
    }
}

/// The `state` filter of the deploy lists; empty means any.
pub fn state_filter(raw: &str) -> Result<Option<DeployState>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid("state", "no such state")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_filter_may_name_the_team() {
        assert_eq!(
            service_filter("shop/web"),
            (Some("shop".into()), Some("web".into()))
        );
        assert_eq!(service_filter(" web "), (None, Some("web".into())));
        assert_eq!(service_filter(""), (None, None));
    }

    #[test]
    fn an_unknown_state_is_a_field_error() {
        assert_eq!(state_filter("").unwrap(), None);
        assert_eq!(state_filter("queued").unwrap(), Some(DeployState::Queued));
        assert_eq!(
            state_filter("paused").unwrap_err().public_message(),
            "state: no such state"
        );
    }
}
