//! Namespaces as tenants' property: the checks that keep one namespace to one
//! (team, environment) pair and away from the cluster's own, over the
//! registry and the reserved list in `store::namespaces`. The rules themselves
//! are pure, in [`super::namespaces`]; this module feeds them what the
//! database holds and owns the administrators' reserved-list actions.
//!
//! Where they run: when an environment is created or changed and when a team
//! is created ([`check_environment`], [`check_new_team`]); in the deploy
//! request's transaction, which registers the namespace ([`claim_in`]); and in
//! the worker just before applying ([`check_owner`]).

use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::namespaces;
use crate::error::{AppError, FieldError};
use crate::spec::names;
use crate::store::audit::Actor;
use crate::store::{self};

/// Audit actions written here.
pub mod actions {
    /// A namespace was added to the reserved list.
    pub const RESERVE: &str = "namespace.reserve";
    /// A namespace was taken off the reserved list.
    pub const UNRESERVE: &str = "namespace.unreserve";
}

/// The reserved list's names.
pub async fn reserved_names(db: impl sqlx::PgExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    Ok(store::namespaces::reserved(db)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

async fn registry(db: &PgPool) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    Ok(store::namespaces::list(db)
        .await?
        .into_iter()
        .map(|r| (r.name, r.team, r.environment))
        .collect())
}

async fn team_names(db: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    Ok(store::teams::list(db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect())
}

/// Problems (on `namespace_pattern`) with saving environment `name` with
/// `pattern`: a namespace it gives any team (or a sample team) that is
/// reserved, and a namespace it gives that another pair gets or owns.
pub async fn check_environment(
    db: &PgPool,
    name: &str,
    pattern: &str,
) -> Result<Vec<FieldError>, AppError> {
    let mut errors = Vec::new();
    if namespaces::check_pattern(pattern).is_err() {
        return Ok(errors); // reported by the pattern check itself
    }
    let reserved = reserved_names(db).await?;
    let mut teams = team_names(db).await?;
    for team in teams.iter().map(String::as_str).chain(["shop"]) {
        if let Ok(namespace) =
            namespaces::namespace_for(pattern, team, name, namespaces::SAMPLE_SERVICE)
            && let Err(why) = namespaces::check_not_reserved(&namespace, &reserved)
        {
            errors.push(FieldError::new("namespace_pattern", why.to_string()));
            return Ok(errors);
        }
    }
    let mut environments: Vec<(String, String)> = store::environments::list(db)
        .await?
        .into_iter()
        .filter(|e| e.name != name)
        .map(|e| (e.name, e.namespace_pattern))
        .collect();
    environments.push((name.to_owned(), pattern.to_owned()));
    teams.sort();
    if let Some(collision) =
        namespaces::find_collision(&environments, &teams, &registry(db).await?, |_, e| {
            e == name
        })
    {
        errors.push(FieldError::new(
            "namespace_pattern",
            format!("collides: {collision}"),
        ));
    }
    Ok(errors)
}

/// Problems (on `name`) with creating team `team`: a namespace the
/// environments' patterns would give it that is reserved, or that another
/// pair gets or owns.
pub async fn check_new_team(db: &PgPool, team: &str) -> Result<Vec<FieldError>, AppError> {
    let reserved = reserved_names(db).await?;
    let environments: Vec<(String, String)> = store::environments::list(db)
        .await?
        .into_iter()
        .map(|e| (e.name, e.namespace_pattern))
        .collect();
    for (environment, pattern) in &environments {
        if let Ok(namespace) =
            namespaces::namespace_for(pattern, team, environment, namespaces::SAMPLE_SERVICE)
            && let Err(why) = namespaces::check_not_reserved(&namespace, &reserved)
        {
            return Ok(vec![FieldError::new(
                "name",
                format!("the pattern of {environment} {why}"),
            )]);
        }
    }
    let mut teams = team_names(db).await?;
    teams.retain(|t| t != team);
    teams.push(team.to_owned());
    Ok(
        namespaces::find_collision(&environments, &teams, &registry(db).await?, |t, _| {
            t == team
        })
        .map(|collision| vec![FieldError::new("name", format!("collides: {collision}"))])
        .unwrap_or_default(),
    )
}

/// Inside a deploy request's (or the seed's) transaction: refuses a reserved
/// namespace, and registers `namespace` for (`team`, environment) or refuses
/// it when another pair owns it. The error is on `environment`.
pub async fn claim_in(
    conn: &mut PgConnection,
    namespace: &str,
    team: &str,
    environment_id: i64,
    environment: &str,
) -> Result<(), AppError> {
    let reserved = reserved_names(&mut *conn).await?;
    namespaces::check_not_reserved(namespace, &reserved).map_err(|why| {
        AppError::invalid(
            "environment",
            format!("the namespace pattern of {environment} {why}"),
        )
    })?;
    let owner = store::namespaces::claim(conn, namespace, team, environment_id).await?;
    if owner.team != team || owner.environment != environment {
        return Err(AppError::invalid(
            "environment",
            format!(
                "namespace `{namespace}` belongs to team `{}` in `{}`; team `{team}` in `{environment}` may not deploy there",
                owner.team, owner.environment
            ),
        ));
    }
    Ok(())
}

/// The worker's re-check just before applying: `namespace` is not reserved
/// (the list may have grown since the request) and the registry gives it to
/// exactly (`team`, `environment`). The error says why, for the deploy's reason.
pub async fn check_owner(
    db: &PgPool,
    namespace: &str,
    team: &str,
    environment: &str,
) -> Result<Result<(), String>, sqlx::Error> {
    let reserved = reserved_names(db).await?;
    if let Err(why) = namespaces::check_not_reserved(namespace, &reserved) {
        return Ok(Err(format!("namespace {why}")));
    }
    Ok(match store::namespaces::find(db, namespace).await? {
        Some(owner) if owner.team == team && owner.environment == environment => Ok(()),
        Some(owner) => Err(format!(
            "namespace `{namespace}` belongs to team `{}` in `{}`, not to team `{team}` in `{environment}`",
            owner.team, owner.environment
        )),
        None => Err(format!(
            "namespace `{namespace}` is not registered for team `{team}` in `{environment}`; request the deploy again"
        )),
    })
}

/// Adds `name` to the reserved list; audited as `namespace.reserve`. Refused
/// when a team already owns it in the registry (move that team first).
pub async fn reserve(db: &PgPool, actor: &Actor, name: &str, reason: &str) -> Result<(), AppError> {
    let name = name.trim();
    names::dns_label(name).map_err(|why| AppError::invalid("name", why))?;
    if let Some(owner) = store::namespaces::find(db, name).await? {
        return Err(AppError::invalid(
            "name",
            format!(
                "`{name}` belongs to team `{}` in `{}`",
                owner.team, owner.environment
            ),
        ));
    }
    let mut tx = db.begin().await?;
    if store::namespaces::reserve(&mut *tx, name, reason.trim(), &actor.name).await? {
        store::audit::record(
            &mut *tx,
            actor,
            actions::RESERVE,
            name,
            json!({"reason": reason.trim()}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Takes `name` off the reserved list; audited as `namespace.unreserve`.
pub async fn unreserve(db: &PgPool, actor: &Actor, name: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store::namespaces::unreserve(&mut *tx, name).await? {
        return Err(AppError::NotFound);
    }
    store::audit::record(&mut *tx, actor, actions::UNRESERVE, name, json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// At start (`serve`, `run`): Slipway's own namespace is on the reserved list.
pub async fn reserve_own(db: &PgPool, own: &str) -> Result<(), sqlx::Error> {
    store::namespaces::reserve(db, own, "Slipway's own namespace", "config").await?;
    Ok(())
}
