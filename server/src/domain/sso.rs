//! Single sign-on actions (docs/sso.md): signing in a person the identity
//! provider vouched for, recording a refused sign-in, and the group mappings
//! administrators keep.

use serde_json::json;
use sqlx::PgPool;

use crate::auth::oidc::{Identity, OidcError};
use crate::error::AppError;
use crate::store::audit::Actor;
use crate::store::{
    self,
    sso::{Grant, GroupChanges},
};

/// Audit action names.
pub mod actions {
    /// A person signed in through the identity provider.
    pub const SIGNED_IN: &str = "user.login";
    /// A sign-in through the provider was refused (`detail.reason`).
    pub const REFUSED: &str = "user.login_refused";
    /// A user was created at their first sign-in.
    pub const CREATED: &str = "user.created_by_sso";
    /// Sign-in changed the teams or the admin role groups grant.
    pub const GROUPS_APPLIED: &str = "user.groups_applied";
    /// An administrator added a group mapping.
    pub const MAPPING_ADDED: &str = "sso.mapping_added";
    /// An administrator removed a group mapping.
    pub const MAPPING_REMOVED: &str = "sso.mapping_removed";
}

/// A person signed in: who, with which session epoch, and what changed.
#[derive(Debug)]
pub struct SignedIn {
    /// The user.
    pub user: store::users::User,
    /// The epoch their new session belongs to.
    pub epoch: i32,
    /// Whether the user was created by this sign-in.
    pub created: bool,
    /// Teams and roles their groups changed.
    pub changes: GroupChanges,
}

/// Why a vouched-for person still may not sign in.
#[derive(Debug, thiserror::Error)]
pub enum SignInRefused {
    /// An administrator disabled the account.
    #[error("this account is disabled; ask an administrator")]
    Disabled,
    /// The email belongs to a user linked to another identity at the provider.
    #[error("{0} is linked to another identity at the identity provider; ask an administrator")]
    OtherIdentity(String),
}

impl SignInRefused {
    /// The audit reason.
    pub fn reason(&self) -> &'static str {
        match self {
            SignInRefused::Disabled => "disabled",
            SignInRefused::OtherIdentity(_) => "other_identity",
        }
    }
}

/// Signs in the person `identity` describes: the user linked to the
/// provider's subject, else the user with that (verified) email, linked now,
/// else a new user; then their teams and admin role follow their groups. One
/// transaction, audited in it.
pub async fn sign_in(
    db: &PgPool,
    issuer: &str,
    identity: &Identity,
    client_addr: &str,
) -> Result<Result<SignedIn, SignInRefused>, AppError> {
    let mut tx = db.begin().await?;
    let mut created = false;
    let user = match store::sso::by_subject(&mut *tx, issuer, &identity.subject).await? {
        Some(user) => user,
        None => match store::sso::by_email_for_update(&mut *tx, &identity.email).await? {
            Some(user) if user.oidc_subject.is_some() => {
                return Ok(Err(SignInRefused::OtherIdentity(identity.email.clone())));
            }
            Some(user) => {
                store::sso::link(&mut *tx, user.id, issuer, &identity.subject).await?;
                user
            }
            None => {
                created = true;
                store::sso::insert(&mut *tx, &identity.email, issuer, &identity.subject).await?
            }
        },
    };
    if user.disabled {
        return Ok(Err(SignInRefused::Disabled));
    }
    let changes = store::sso::apply_groups(&mut tx, user.id, &identity.groups).await?;
    let actor = Actor {
        user_id: Some(user.id),
        name: user.email.clone(),
        client_addr: Some(client_addr.to_owned()),
    };
    if created {
        store::audit::record(
            &mut *tx,
            &actor,
            actions::CREATED,
            &user.email,
            json!({"issuer": issuer, "subject": identity.subject}),
        )
        .await?;
    }
    if !changes.is_empty() {
        store::audit::record(
            &mut *tx,
            &actor,
            actions::GROUPS_APPLIED,
            &user.email,
            json!({"groups": identity.groups, "changes": changes}),
        )
        .await?;
    }
    store::audit::record(
        &mut *tx,
        &actor,
        actions::SIGNED_IN,
        &user.email,
        json!({"method": "sso", "issuer": issuer, "groups": identity.groups}),
    )
    .await?;
    let epoch = store::sso::session_epoch(&mut *tx, user.id).await?;
    let signed_in = store::sso::user(&mut *tx, user.id).await?;
    tx.commit().await?;
    Ok(Ok(SignedIn {
        user: signed_in,
        epoch,
        created,
        changes,
    }))
}

/// Records a refused sign-in through the provider, with its reason.
pub async fn record_refusal(
    db: &PgPool,
    client_addr: &str,
    who: Option<&str>,
    reason: &str,
    message: &str,
) -> Result<(), AppError> {
    let actor = Actor {
        user_id: None,
        name: who.unwrap_or("anonymous").to_owned(),
        client_addr: Some(client_addr.to_owned()),
    };
    store::audit::record(
        db,
        &actor,
        actions::REFUSED,
        who.unwrap_or("sso"),
        json!({"method": "sso", "reason": reason, "message": message}),
    )
    .await?;
    Ok(())
}

/// [`record_refusal`] of a provider-side refusal.
pub async fn record_oidc_refusal(
    db: &PgPool,
    client_addr: &str,
    error: &OidcError,
) -> Result<(), AppError> {
    record_refusal(db, client_addr, None, error.reason(), &error.to_string()).await
}

/// The longest group name a mapping takes.
pub const MAX_GROUP_NAME: usize = 200;

/// A mapping as an administrator submits it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct MappingInput {
    /// The provider's group name.
    #[serde(default)]
    pub group: String,
    /// The team its members join (empty: none).
    #[serde(default)]
    pub team: String,
    /// Whether its members are administrators (`on`/`true` from a form or JSON).
    #[serde(default, deserialize_with = "flag")]
    pub admin: bool,
    /// The environment whose deploys its members may approve (empty: none).
    #[serde(default)]
    pub approves: String,
}

/// A checkbox (`on`) or a JSON boolean.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match <Flag as serde::Deserialize>::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Text(t) => matches!(t.as_str(), "on" | "true" | "1" | "yes"),
    })
}

/// Adds a group mapping, named in the audit log.
pub async fn add_mapping(
    db: &PgPool,
    actor: &Actor,
    input: &MappingInput,
) -> Result<store::sso::Mapping, AppError> {
    let group = input.group.trim();
    if group.is_empty() {
        return Err(AppError::invalid(
            "group",
            "name the identity provider's group",
        ));
    }
    if group.chars().count() > MAX_GROUP_NAME || group.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "group",
            format!("a group name is at most {MAX_GROUP_NAME} printable characters"),
        ));
    }
    let team_name = input.team.trim();
    let environment_name = input.approves.trim();
    if team_name.is_empty() && !input.admin && environment_name.is_empty() {
        return Err(AppError::invalid(
            "team",
            "choose the team the group's members join, an environment they approve, or make them administrators",
        ));
    }
    let environment = if environment_name.is_empty() {
        None
    } else {
        Some(
            store::environments::find_by_name(db, environment_name)
                .await?
                .ok_or_else(|| {
                    AppError::invalid(
                        "approves",
                        format!("there is no environment {environment_name}"),
                    )
                })?,
        )
    };
    let team = if team_name.is_empty() {
        None
    } else {
        Some(
            store::teams::find_by_name(db, team_name)
                .await?
                .ok_or_else(|| {
                    AppError::invalid("team", format!("there is no team {team_name}"))
                })?,
        )
    };
    let mut tx = db.begin().await?;
    let mut added = None;
    if let Some(team) = &team {
        added = store::sso::insert_mapping(&mut *tx, group, Grant::Team(team.id)).await?;
    }
    if input.admin {
        added = store::sso::insert_mapping(&mut *tx, group, Grant::Admin)
            .await?
            .or(added);
    }
    if let Some(environment) = &environment {
        added = store::sso::insert_mapping(&mut *tx, group, Grant::Approver(environment.id))
            .await?
            .or(added);
    }
    let Some(id) = added else {
        return Err(AppError::Conflict(format!(
            "group {group} is mapped that way already"
        )));
    };
    store::audit::record(
        &mut *tx,
        actor,
        actions::MAPPING_ADDED,
        group,
        json!({
            "team": team.as_ref().map(|t| &t.name),
            "admin": input.admin,
            "approves": environment.as_ref().map(|e| &e.name),
        }),
    )
    .await?;
    tx.commit().await?;
    let mapping = store::sso::mappings(db)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or(AppError::NotFound)?;
    Ok(mapping)
}

/// Removes group mapping `id`; members keep their teams until their next sign-in.
pub async fn remove_mapping(db: &PgPool, actor: &Actor, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let gone = store::sso::delete_mapping(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::MAPPING_REMOVED,
        &gone.group_name,
        json!({"team": gone.team, "admin": gone.grants_admin, "approves": gone.approves}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
