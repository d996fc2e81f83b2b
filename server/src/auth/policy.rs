//! Every permission decision of Slipway, as named functions. Handlers and API
//! endpoints call exactly one of these before acting; nothing else decides.

use super::CurrentUser;
use crate::error::AppError;

type Decision = Result<(), AppError>;

fn allow_if(condition: bool, rule: &'static str) -> Decision {
    if condition {
        Ok(())
    } else {
        Err(AppError::Forbidden(rule))
    }
}

/// Administration (users, teams, environments, audit log): admins only.
pub fn can_administer(user: &CurrentUser) -> Decision {
    allow_if(user.is_admin, "only administrators may do this")
}

/// Seeing a team's services, revisions, deploys and status: its members and admins.
pub fn can_view_team(user: &CurrentUser, team: &str) -> Decision {
    allow_if(
        user.is_admin || user.is_member_of(team),
        "only members of the team may see its services",
    )
}

/// Creating a service in a team: its members and admins.
pub fn can_create_service(user: &CurrentUser, team: &str) -> Decision {
    allow_if(
        user.is_admin || user.is_member_of(team),
        "only members of the team may create services in it",
    )
}

/// Editing a service's spec (a new revision): its team's members and admins.
pub fn can_edit_service(user: &CurrentUser, team: &str) -> Decision {
    allow_if(
        user.is_admin || user.is_member_of(team),
        "only members of the team may edit its services",
    )
}

/// Requesting a deploy or a rollback: the team's members and admins.
pub fn can_request_deploy(user: &CurrentUser, team: &str) -> Decision {
    allow_if(
        user.is_admin || user.is_member_of(team),
        "only members of the team may deploy its services",
    )
}

/// Writing a Secret value for a service: administrators only. Values are
/// write-only (nobody reads them back through Slipway), but whoever writes them
/// decides what production connects to.
pub fn can_write_secret(user: &CurrentUser) -> Decision {
    allow_if(user.is_admin, "only administrators may write Secret values")
}

/// Approving or rejecting a deploy: admins, and never the person who requested it.
pub fn can_approve(user: &CurrentUser, requested_by: Option<i64>) -> Decision {
    if requested_by == Some(user.id) {
        return Err(AppError::Forbidden(
            "the requester may not approve their own deploy",
        ));
    }
    allow_if(user.is_admin, "only administrators may approve deploys")
}

/// Managing the webhooks of a team's service: the team's members and admins.
pub fn can_manage_hooks(user: &CurrentUser, team: &str) -> Decision {
    allow_if(
        user.is_admin || user.is_member_of(team),
        "only members of the team may manage its webhooks",
    )
}

/// Notification targets (outgoing webhooks of deploy events), their messages
/// and test events: admins only, since a target hears of every team's deploys.
pub fn can_manage_notifications(user: &CurrentUser) -> Decision {
    allow_if(
        user.is_admin,
        "only administrators may manage notification targets",
    )
}

/// Managing one's own API tokens: any signed-in user, for their own tokens.
pub fn can_manage_own_tokens(_user: &CurrentUser) -> Decision {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, admin: bool, teams: &[&str]) -> CurrentUser {
        CurrentUser {
            id,
            email: format!("u{id}@x.io"),
            is_admin: admin,
            teams: teams.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn member_may_edit_own_team_service_only() {
        let m = user(1, false, &["shop"]);
        assert!(can_edit_service(&m, "shop").is_ok());
        assert!(can_edit_service(&m, "billing").is_err());
    }

    #[test]
    fn admin_may_edit_any_service() {
        assert!(can_edit_service(&user(1, true, &[]), "billing").is_ok());
    }

    #[test]
    fn requester_never_approves_own_deploy_even_as_admin() {
        let a = user(7, true, &[]);
        assert!(can_approve(&a, Some(7)).is_err());
        assert!(can_approve(&a, Some(8)).is_ok());
    }

    #[test]
    fn members_do_not_approve() {
        assert!(can_approve(&user(1, false, &["shop"]), Some(2)).is_err());
    }

    #[test]
    fn only_admins_administer() {
        assert!(can_administer(&user(1, false, &["shop"])).is_err());
        assert!(can_administer(&user(1, true, &[])).is_ok());
    }

    #[test]
    fn only_admins_manage_notifications_even_of_their_own_team() {
        assert!(can_manage_notifications(&user(1, false, &["shop"])).is_err());
        assert!(can_manage_notifications(&user(1, true, &[])).is_ok());
    }
}
