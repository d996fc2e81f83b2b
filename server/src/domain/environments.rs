//! Environments: administrators add them and change where their deploys go
//! (the namespace pattern) and under which policy. The admin pages and the API
//! call these; each change is audited in its own transaction.

use serde_json::json;
use sqlx::PgPool;

use crate::domain::{namespaces, tenancy};
use crate::error::{AppError, FieldError, ResultExt as _};
use crate::render::MAX_ENVIRONMENT_NAME;
use crate::spec::names;
use crate::store::audit::Actor;
use crate::store::environments::{Environment, EnvironmentPolicy};
use crate::store::{self};

/// Audit actions written here.
pub mod actions {
    /// An environment was added.
    pub const CREATE: &str = "environment.create";
    /// An environment's pattern or policy changed.
    pub const UPDATE: &str = "environment.update";
}

/// Most approvals an environment may require.
pub const MAX_APPROVALS: i32 = 5;
/// Default hours a request waits for its decisions.
pub const DEFAULT_APPROVAL_TTL_HOURS: i32 = 72;
/// Longest a request may wait (30 days).
pub const MAX_APPROVAL_TTL_HOURS: i32 = 720;

/// An environment's policy as typed (checkboxes already read as booleans,
/// numbers still as text so a typo is reported, not defaulted).
#[derive(Clone, Debug, Default)]
pub struct PolicyInput {
    /// Namespace pattern with `{team}`, `{environment}` and `{service}`.
    pub namespace_pattern: String,
    /// Distinct approvals a deploy needs, 0–5; empty means 0.
    pub approvals_required: String,
    /// Teams whose members may approve, separated by spaces or commas.
    pub approver_teams: String,
    /// Hours a request stays open; empty means 72.
    pub approval_ttl_hours: String,
    /// Every image must be pinned by digest.
    pub require_image_digest: bool,
    /// A FAIL in the readiness checklist blocks a request.
    pub checklist_must_pass: bool,
    /// `hold` (default) or `refuse` requests inside a freeze window.
    pub freeze_action: String,
    /// Deploys fail before applying when a referenced Secret key is missing.
    pub block_on_missing_secrets: bool,
    /// The readiness checklist applies production rules.
    pub production_rules: bool,
    /// Ref patterns that may deploy from webhooks, separated by spaces or
    /// commas; empty: any ref a hook matches.
    pub webhook_refs: String,
    /// Listing order as typed; empty means 0.
    pub position: String,
    /// The registered cluster deploys go to; empty: the configured cluster
    /// (a new environment) or the current one (an update).
    pub cluster: String,
}

/// The patterns of a `webhook_refs` field.
fn split_refs(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A whole number in `range` typed into `field`, `default` when empty.
fn number_in(
    raw: &str,
    field: &'static str,
    default: i32,
    range: std::ops::RangeInclusive<i32>,
    errors: &mut Vec<FieldError>,
) -> i32 {
    match raw.trim() {
        "" => default,
        text => match text.parse::<i32>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                ));
                default
            }
        },
    }
}

impl PolicyInput {
    /// The checked policy, or every problem at once. `approver_teams` is the
    /// split list (checked against the teams table by the caller).
    fn check<'a>(
        &'a self,
        webhook_refs: &'a [String],
        approver_teams: &'a [String],
    ) -> Result<EnvironmentPolicy<'a>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let approvals_required = number_in(
            &self.approvals_required,
            "approvals_required",
            0,
            0..=MAX_APPROVALS,
            &mut errors,
        );
        let approval_ttl_hours = number_in(
            &self.approval_ttl_hours,
            "approval_ttl_hours",
            DEFAULT_APPROVAL_TTL_HOURS,
            1..=MAX_APPROVAL_TTL_HOURS,
            &mut errors,
        );
        let freeze_action = match self.freeze_action.trim() {
            "" | "hold" => "hold",
            "refuse" => "refuse",
            _ => {
                errors.push(FieldError::new(
                    "freeze_action",
                    "must be `hold` or `refuse`",
                ));
                "hold"
            }
        };
        for team in approver_teams {
            if let Err(why) = names::dns_label(team) {
                errors.push(FieldError::new("approver_teams", format!("`{team}` {why}")));
            }
        }
        for pattern in webhook_refs {
            if let Err(why) = crate::webhook::rules::check_pattern(pattern) {
                errors.push(FieldError::new(
                    "webhook_refs",
                    format!("`{pattern}` {why}"),
                ));
            }
        }
        let pattern = self.namespace_pattern.trim();
        if let Err(why) = namespaces::check_pattern(pattern) {
            errors.push(FieldError::new("namespace_pattern", why.to_string()));
        }
        let position = match self.position.trim() {
            "" => 0,
            p => p.parse::<i32>().unwrap_or_else(|_| {
                errors.push(FieldError::new("position", "must be a whole number"));
                0
            }),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(EnvironmentPolicy {
            namespace_pattern: pattern,
            approvals_required,
            approver_teams,
            approval_ttl_hours,
            require_image_digest: self.require_image_digest,
            checklist_must_pass: self.checklist_must_pass,
            freeze_action,
            block_on_missing_secrets: self.block_on_missing_secrets,
            production_rules: self.production_rules,
            webhook_refs,
            position,
            cluster: self.cluster.trim(),
        })
    }
}

/// A problem when `cluster` names no registered cluster.
async fn unknown_cluster(db: &PgPool, cluster: &str) -> Result<Vec<FieldError>, AppError> {
    let cluster = cluster.trim();
    if cluster.is_empty() || store::clusters::find(db, cluster).await?.is_some() {
        return Ok(Vec::new());
    }
    Ok(vec![FieldError::new(
        "cluster",
        format!("no cluster named `{cluster}` is registered"),
    )])
}

/// A problem for each approver team that does not exist.
async fn unknown_teams(db: &PgPool, teams: &[String]) -> Result<Vec<FieldError>, AppError> {
    let mut errors = Vec::new();
    for team in teams {
        if names::dns_label(team).is_ok() && store::teams::find_by_name(db, team).await?.is_none() {
            errors.push(FieldError::new(
                "approver_teams",
                format!("there is no team `{team}`"),
            ));
        }
    }
    Ok(errors)
}

fn check_name(name: &str) -> Result<(), FieldError> {
    names::dns_label(name).map_err(|why| FieldError::new("name", why))?;
    if name.len() > MAX_ENVIRONMENT_NAME {
        return Err(FieldError::new(
            "name",
            format!("must be at most {MAX_ENVIRONMENT_NAME} characters"),
        ));
    }
    Ok(())
}

fn audit_detail(policy: &EnvironmentPolicy<'_>) -> serde_json::Value {
    json!({"namespace_pattern": policy.namespace_pattern,
           "approvals_required": policy.approvals_required,
           "approver_teams": policy.approver_teams,
           "approval_ttl_hours": policy.approval_ttl_hours,
           "require_image_digest": policy.require_image_digest,
           "checklist_must_pass": policy.checklist_must_pass,
           "freeze_action": policy.freeze_action,
           "block_on_missing_secrets": policy.block_on_missing_secrets,
           "production_rules": policy.production_rules,
           "webhook_refs": policy.webhook_refs,
           "position": policy.position,
           "cluster": policy.cluster})
}

/// Adds environment `name`; audited as `environment.create`.
pub async fn create_environment(
    db: &PgPool,
    actor: &Actor,
    name: &str,
    input: &PolicyInput,
) -> Result<Environment, AppError> {
    let name = name.trim();
    let mut errors: Vec<FieldError> = check_name(name).err().into_iter().collect();
    let refs = split_refs(&input.webhook_refs);
    let teams = split_refs(&input.approver_teams);
    errors.extend(unknown_teams(db, &teams).await?);
    errors.extend(unknown_cluster(db, &input.cluster).await?);
    errors.extend(tenancy::check_environment(db, name, input.namespace_pattern.trim()).await?);
    let policy = input.check(&refs, &teams).map_err(|mut more| {
        errors.append(&mut more);
        AppError::Invalid(std::mem::take(&mut errors))
    })?;
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let mut tx = db.begin().await?;
    let environment = store::environments::insert(&mut *tx, name, &policy)
        .await
        .on_constraint("environments_name_key", || {
            AppError::invalid("name", "an environment with this name exists")
        })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::CREATE,
        name,
        audit_detail(&policy),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(environment = name, "environment created");
    Ok(environment)
}

/// Replaces environment `name`'s pattern and policy; audited as
/// `environment.update`. Deploys already requested keep the namespace they
/// were rendered for. No such environment: `NotFound`.
pub async fn update_environment(
    db: &PgPool,
    actor: &Actor,
    name: &str,
    input: &PolicyInput,
) -> Result<Environment, AppError> {
    let refs = split_refs(&input.webhook_refs);
    let teams = split_refs(&input.approver_teams);
    let mut errors = unknown_teams(db, &teams).await?;
    errors.extend(unknown_cluster(db, &input.cluster).await?);
    errors.extend(tenancy::check_environment(db, name, input.namespace_pattern.trim()).await?);
    let policy = input.check(&refs, &teams).map_err(|mut more| {
        errors.append(&mut more);
        AppError::Invalid(std::mem::take(&mut errors))
    })?;
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let mut tx = db.begin().await?;
    let environment = store::environments::update_policy(&mut *tx, name, &policy)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::UPDATE,
        name,
        audit_detail(&policy),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(environment = name, "environment updated");
    Ok(environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_problem_is_reported_at_once() {
        let input = PolicyInput {
            namespace_pattern: "{team}_{env}".into(),
            position: "first".into(),
            ..PolicyInput::default()
        };
        let refs = split_refs("refs/tags/v*, main");
        let paths: Vec<String> = input
            .check(&refs, &[])
            .unwrap_err()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["webhook_refs", "namespace_pattern", "position"]);
    }

    #[test]
    fn approval_numbers_and_the_freeze_action_are_checked() {
        let input = PolicyInput {
            namespace_pattern: "{team}-{environment}".into(),
            approvals_required: "6".into(),
            approval_ttl_hours: "0".into(),
            freeze_action: "ignore".into(),
            ..PolicyInput::default()
        };
        let teams = vec!["Bad_Team".to_owned()];
        let errors = input.check(&[], &teams).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "approvals_required",
                "approval_ttl_hours",
                "freeze_action",
                "approver_teams"
            ]
        );
        assert!(
            errors[0].message.contains("0 to 5"),
            "{}",
            errors[0].message
        );
        let fine = PolicyInput {
            namespace_pattern: "{team}-{environment}".into(),
            approvals_required: "2".into(),
            ..PolicyInput::default()
        };
        let policy = fine.check(&[], &[]).unwrap();
        assert_eq!(policy.approvals_required, 2);
        assert_eq!(policy.approval_ttl_hours, DEFAULT_APPROVAL_TTL_HOURS);
        assert_eq!(policy.freeze_action, "hold");
    }

    #[test]
    fn environment_names_are_short_dns_labels() {
        assert!(check_name("qa").is_ok());
        assert!(check_name("QA").is_err());
        assert!(check_name(&"a".repeat(MAX_ENVIRONMENT_NAME + 1)).is_err());
    }
}
