//! Every permission decision of Slipway, as named functions. Handlers and API
//! endpoints call exactly one of these before acting; nothing else decides.

use super::CurrentUser;
use super::tokens::Scope;
use crate::error::AppError;

type Decision = Result<(), AppError>;

fn allow_if(condition: bool, rule: &'static str) -> Decision {
    if condition {
        Ok(())
    } else {
        Err(AppError::Forbidden(rule))
    }
}

/// Administration (users, teams, environments and their freeze windows, audit
/// log): admins only.
pub fn can_administer(user: &CurrentUser) -> Decision {
    allow_if(user.is_admin, "only administrators may do this")
}

/// The teams whose services, deploys and status a user may see in lists:
/// `None` for every team (administrators), else their own teams. Every list
/// filters through this, so it agrees with [`can_view_team`].
pub fn visible_teams(user: &CurrentUser) -> Option<Vec<String>> {
    (!user.is_admin).then(|| user.teams.clone())
}

/// Seeing the environments (names, namespace patterns, approval rules): any
/// signed-in user, since requesting a deploy means choosing one. Changing
/// them is [`can_administer`].
pub fn can_list_environments(_user: &CurrentUser) -> Decision {
    Ok(())
}
const VIEW_TEAM_RULE: &str = "only members of the team may see its services";

/// Seeing a team's services, revisions, deploys and status: its members and admins.
pub fn can_view_team(user: &CurrentUser, team: &str) -> Decision {
    allow_if(user.is_admin || user.is_member_of(team), VIEW_TEAM_RULE)
}

/// Reading a pod's log: the team's members only. Logs are the application's
/// own output and may hold what it should not have printed; an administrator
/// who needs them joins the team (which is audited).
pub fn can_read_logs(user: &CurrentUser, team: &str) -> Decision {
    allow_if(
        user.is_member_of(team),
        "only members of the team may read its pods' logs",
    )
}

/// The answer for a deploy id that names no deploy. Administrators may see every
/// deploy, so they learn it is missing (404); anyone else gets exactly the refusal
/// of another team's deploy (403), so sequential ids cannot be probed for which
/// exist.
pub fn missing_deploy(user: &CurrentUser) -> AppError {
    if user.is_admin {
        AppError::NotFound
    } else {
        AppError::Forbidden(VIEW_TEAM_RULE)
    }
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

/// Who brought a deploy about: none of them may approve it (separation of duties).
#[derive(Clone, Copy, Debug, Default)]
pub struct Parties<'a> {
    /// The requesting user.
    pub requested_by_id: Option<i64>,
    /// The author of the deployed revision.
    pub revision_author_id: Option<i64>,
    /// The git pusher of the triggering commit (login or name), for webhook deploys.
    pub pusher: &'a str,
    /// The pusher's email, when the provider sent one.
    pub pusher_email: &'a str,
}

impl<'a> Parties<'a> {
    /// The parties of a stored deploy.
    pub fn of(deploy: &'a crate::store::deploys::Deploy) -> Self {
        Parties {
            requested_by_id: deploy.requested_by_id,
            revision_author_id: deploy.revision_author_id,
            pusher: &deploy.pusher,
            pusher_email: &deploy.pusher_email,
        }
    }
}

/// An approver's standing at the moment of the check.
#[derive(Clone, Copy, Debug)]
pub struct Standing<'a> {
    /// The user (`None`: deleted).
    pub user_id: Option<i64>,
    /// Email.
    pub email: &'a str,
    /// An administrator.
    pub is_admin: bool,
    /// Their teams.
    pub teams: &'a [String],
    /// Environments a provider group makes them an approver of.
    pub approves: &'a [String],
    /// Disabled (or deleted).
    pub disabled: bool,
}

impl<'a> Standing<'a> {
    /// The standing now of someone who approved (as the worker reads it).
    pub fn now(approver: &'a crate::store::approvals::ApproverNow) -> Self {
        Standing {
            user_id: approver.user_id,
            email: &approver.email,
            is_admin: approver.is_admin,
            teams: &approver.teams,
            approves: &approver.approves,
            disabled: approver.disabled,
        }
    }

    /// A signed-in user's standing.
    pub fn of(user: &'a CurrentUser) -> Self {
        Standing {
            user_id: Some(user.id),
            email: &user.email,
            is_admin: user.is_admin,
            teams: &user.teams,
            approves: &user.approves,
            disabled: false,
        }
    }
}

/// Who besides administrators may approve in an environment: members of its
/// approver teams, and the people a provider group makes its approvers.
#[derive(Clone, Copy, Debug)]
pub struct Approvers<'a> {
    /// The environment's name.
    pub environment: &'a str,
    /// Its approver teams.
    pub teams: &'a [String],
}

impl<'a> Approvers<'a> {
    /// The approvers of `environment`.
    pub fn of(environment: &'a crate::store::environments::Environment) -> Self {
        Approvers {
            environment: &environment.name,
            teams: &environment.approver_teams,
        }
    }
}

/// True when the git pusher is this person: the same email, or a login equal
/// to the email or its local part (case-insensitive). Erring towards "same
/// person" only ever refuses an approval, never grants one.
fn is_pusher(email: &str, parties: &Parties<'_>) -> bool {
    let email = email.trim();
    let local = email.split('@').next().unwrap_or_default();
    let same = |a: &str, b: &str| !a.trim().is_empty() && a.trim().eq_ignore_ascii_case(b);
    same(parties.pusher_email, email) || same(parties.pusher, email) || same(parties.pusher, local)
}

/// Approving or rejecting a deploy in an environment: administrators, members
/// of its approver teams and those a provider group makes its approvers; never
/// the requester, the revision's author or the pusher of the triggering commit.
/// Used when deciding and again by the worker just before applying (with the
/// approver's standing then).
pub fn may_approve(
    who: &Standing<'_>,
    approvers: &Approvers<'_>,
    parties: &Parties<'_>,
) -> Decision {
    if who.disabled || who.user_id.is_none() {
        return Err(AppError::Forbidden(
            "the approver's account is disabled or gone",
        ));
    }
    if who.user_id == parties.requested_by_id {
        return Err(AppError::Forbidden(
            "the requester may not approve their own deploy",
        ));
    }
    if who.user_id == parties.revision_author_id {
        return Err(AppError::Forbidden(
            "the author of the revision may not approve its deploy",
        ));
    }
    if is_pusher(who.email, parties) {
        return Err(AppError::Forbidden(
            "the pusher of the commit may not approve its deploy",
        ));
    }
    allow_if(
        is_approver(who, approvers),
        "only administrators, members of the environment's approver teams and its approvers by provider group may approve deploys",
    )
}

/// Whether `who` is among `approvers` (administrators always are), whatever
/// their part in a particular deploy.
fn is_approver(who: &Standing<'_>, approvers: &Approvers<'_>) -> bool {
    who.is_admin
        || who.teams.iter().any(|t| approvers.teams.contains(t))
        || who.approves.iter().any(|e| e == approvers.environment)
}

/// Seeing one deploy (its page, plan, timeline and events): whoever sees its
/// team, and whoever may approve deploys to its environment, who decides on
/// exactly that plan and so must be able to read it. `approvers` is `None`
/// when the environment is gone. Acting on the deploy is decided apart
/// (rollback: [`can_request_deploy`], deciding: [`can_approve`]).
pub fn can_view_deploy(
    user: &CurrentUser,
    team: &str,
    approvers: Option<&Approvers<'_>>,
) -> Decision {
    if can_view_team(user, team).is_ok() {
        return Ok(());
    }
    allow_if(
        approvers.is_some_and(|a| is_approver(&Standing::of(user), a)),
        VIEW_TEAM_RULE,
    )
}

/// [`may_approve`] for the signed-in user.
pub fn can_approve(
    user: &CurrentUser,
    approvers: &Approvers<'_>,
    parties: &Parties<'_>,
) -> Decision {
    may_approve(&Standing::of(user), approvers, parties)
}

/// Overriding a failing readiness checklist or a freeze window when requesting:
/// administrators only, with a written reason (checked by the action).
pub fn can_override_policy(user: &CurrentUser) -> Decision {
    allow_if(
        user.is_admin,
        "only administrators may override the checklist or a freeze window",
    )
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

/// Managing one's own API tokens and password: any signed-in user, for their own.
pub fn can_manage_own_tokens(_user: &CurrentUser) -> Decision {
    Ok(())
}

/// Revoking a token: its owner, or an administrator (any user's token).
pub fn can_revoke_token(user: &CurrentUser, owner_id: i64) -> Decision {
    allow_if(
        user.is_admin || user.id == owner_id,
        "only the token's owner or an administrator may revoke it",
    )
}

/// The scope an API call needs, by method and route (as routed, e.g.
/// `/api/v1/deploys/{id}/approve`): the one place this is decided. Reading
/// (GET, HEAD) needs `read`, which every token has; approving or rejecting a
/// deploy needs `approve`; every other write needs `deploy` (a route added
/// later is a write like the others until decided otherwise here).
pub fn required_scope(method: &axum::http::Method, route: &str) -> Scope {
    use axum::http::Method;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Scope::Read
    } else if route.ends_with("/approve") || route.ends_with("/reject") {
        Scope::Approve
    } else {
        Scope::Deploy
    }
}

/// Whether a token with `scopes` may make a call needing `needed`; the 403
/// names the missing scope. Checked by the `ApiUser` extractor on every API
/// call, before the handler's own rule (a scope never grants what the owner
/// may not do).
pub fn token_allows(scopes: &[Scope], needed: Scope) -> Decision {
    allow_if(
        needed == Scope::Read || scopes.contains(&needed),
        match needed {
            Scope::Read => "this token may not read",
            Scope::Deploy => {
                "this token lacks the `deploy` scope, which every write but approvals needs"
            }
            Scope::Approve => {
                "this token lacks the `approve` scope, which approving and rejecting deploys needs"
            }
        },
    )
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
            approves: Vec::new(),
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

    fn production(teams: &[String]) -> Approvers<'_> {
        Approvers {
            environment: "production",
            teams,
        }
    }

    #[test]
    fn a_provider_group_makes_its_people_approvers_of_its_environment_only() {
        let mut m = user(1, false, &["shop"]);
        m.approves = vec!["production".into()];
        assert!(can_approve(&m, &production(&[]), &requested_by(2)).is_ok());
        let staging = Approvers {
            environment: "staging",
            teams: &[],
        };
        assert!(can_approve(&m, &staging, &requested_by(2)).is_err());
        // Separation of duties holds for them too.
        assert!(can_approve(&m, &production(&[]), &requested_by(1)).is_err());
    }

    fn requested_by(id: i64) -> Parties<'static> {
        Parties {
            requested_by_id: Some(id),
            ..Parties::default()
        }
    }

    #[test]
    fn requester_never_approves_own_deploy_even_as_admin() {
        let a = user(7, true, &[]);
        assert!(can_approve(&a, &production(&[]), &requested_by(7)).is_err());
        assert!(can_approve(&a, &production(&[]), &requested_by(8)).is_ok());
    }

    #[test]
    fn members_do_not_approve_unless_in_an_approver_team() {
        let m = user(1, false, &["shop", "sre"]);
        assert!(can_approve(&m, &production(&[]), &requested_by(2)).is_err());
        assert!(can_approve(&m, &production(&["release".into()]), &requested_by(2)).is_err());
        assert!(can_approve(&m, &production(&["sre".into()]), &requested_by(2)).is_ok());
    }

    #[test]
    fn the_author_and_the_pusher_never_approve() {
        let a = user(7, true, &[]);
        let authored = Parties {
            requested_by_id: Some(1),
            revision_author_id: Some(7),
            ..Parties::default()
        };
        let err = can_approve(&a, &production(&[]), &authored).unwrap_err();
        assert!(format!("{err:?}").contains("author"), "{err:?}");
        for (pusher, pusher_email) in [("u7", ""), ("U7@X.IO", ""), ("someone", "u7@x.io")] {
            let pushed = Parties {
                pusher,
                pusher_email,
                ..Parties::default()
            };
            let err = can_approve(&a, &production(&[]), &pushed).unwrap_err();
            assert!(format!("{err:?}").contains("pusher"), "{pusher}: {err:?}");
        }
        let other = Parties {
            pusher: "alice",
            pusher_email: "alice@x.io",
            ..Parties::default()
        };
        assert!(can_approve(&a, &production(&[]), &other).is_ok());
    }

    #[test]
    fn a_disabled_or_deleted_approver_counts_for_nothing() {
        let teams = Vec::new();
        let who = Standing {
            user_id: Some(7),
            email: "u7@x.io",
            is_admin: true,
            teams: &teams,
            approves: &teams,
            disabled: true,
        };
        assert!(may_approve(&who, &production(&[]), &Parties::default()).is_err());
        let gone = Standing {
            user_id: None,
            disabled: false,
            ..who
        };
        assert!(may_approve(&gone, &production(&[]), &Parties::default()).is_err());
    }

    #[test]
    fn members_see_their_teams_and_admins_every_team() {
        assert_eq!(
            visible_teams(&user(1, false, &["shop"])),
            Some(vec!["shop".into()])
        );
        assert_eq!(visible_teams(&user(1, true, &["shop"])), None);
    }

    #[test]
    fn reads_need_read_approvals_need_approve_other_writes_need_deploy() {
        use axum::http::Method;
        let scope = |m: Method, r: &str| required_scope(&m, r);
        assert_eq!(scope(Method::GET, "/api/v1/deploys/{id}"), Scope::Read);
        assert_eq!(
            scope(Method::POST, "/api/v1/deploys/{id}/approve"),
            Scope::Approve
        );
        assert_eq!(
            scope(Method::POST, "/api/v1/deploys/{id}/reject"),
            Scope::Approve
        );
        for route in [
            "/api/v1/teams/{team}/services/{service}/deploys",
            "/api/v1/deploys/{id}/rollback",
            "/api/v1/deploys/{id}/release",
            "/api/v1/teams/{team}/services",
        ] {
            assert_eq!(scope(Method::POST, route), Scope::Deploy, "{route}");
        }
        assert_eq!(
            scope(Method::PUT, "/api/v1/environments/{name}"),
            Scope::Deploy
        );
        assert_eq!(scope(Method::DELETE, "/api/v1/x/{id}"), Scope::Deploy);
    }

    #[test]
    fn a_read_token_is_refused_writes_naming_the_scope() {
        let read = [Scope::Read];
        assert!(token_allows(&read, Scope::Read).is_ok());
        let err = token_allows(&read, Scope::Deploy).unwrap_err();
        assert!(err.public_message().contains("`deploy` scope"), "{err:?}");
        let err = token_allows(&read, Scope::Approve).unwrap_err();
        assert!(err.public_message().contains("`approve` scope"), "{err:?}");
        assert!(token_allows(&[Scope::Read, Scope::Approve], Scope::Approve).is_ok());
    }

    #[test]
    fn tokens_are_revoked_by_their_owner_or_an_admin() {
        assert!(can_revoke_token(&user(1, false, &[]), 1).is_ok());
        assert!(can_revoke_token(&user(1, false, &[]), 2).is_err());
        assert!(can_revoke_token(&user(1, true, &[]), 2).is_ok());
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
