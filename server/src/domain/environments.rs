//! Environments: administrators add them and change where their deploys go
//! (the namespace pattern) and under which policy. The admin pages and the API
//! call these; each change is audited in its own transaction.

use serde_json::json;
use sqlx::PgPool;

use crate::domain::namespaces;
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

/// An environment's policy as typed (checkboxes already read as booleans).
#[derive(Clone, Debug, Default)]
pub struct PolicyInput {
    /// Namespace pattern with `{team}`, `{environment}` and `{service}`.
    pub namespace_pattern: String,
    /// Deploys wait for an approval.
    pub requires_approval: bool,
    /// Deploys fail before applying when a referenced Secret key is missing.
    pub block_on_missing_secrets: bool,
    /// The readiness checklist applies production rules.
    pub production_rules: bool,
    /// Ref patterns that may deploy from webhooks, separated by spaces or
    /// commas; empty: any ref a hook matches.
    pub webhook_refs: String,
    /// Listing order as typed; empty means 0.
    pub position: String,
}

/// The patterns of a `webhook_refs` field.
fn split_refs(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

impl PolicyInput {
    /// The checked policy, or every problem at once.
    fn check<'a>(
        &'a self,
        webhook_refs: &'a [String],
    ) -> Result<EnvironmentPolicy<'a>, Vec<FieldError>> {
        let mut errors = Vec::new();
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
            requires_approval: self.requires_approval,
            block_on_missing_secrets: self.block_on_missing_secrets,
            production_rules: self.production_rules,
            webhook_refs,
            position,
        })
    }
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
           "requires_approval": policy.requires_approval,
           "block_on_missing_secrets": policy.block_on_missing_secrets,
           "production_rules": policy.production_rules,
           "webhook_refs": policy.webhook_refs,
           "position": policy.position})
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
    let policy = input.check(&refs).map_err(|mut more| {
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
    let policy = input.check(&refs).map_err(AppError::Invalid)?;
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
            .check(&refs)
            .unwrap_err()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["webhook_refs", "namespace_pattern", "position"]);
    }

    #[test]
    fn environment_names_are_short_dns_labels() {
        assert!(check_name("qa").is_ok());
        assert!(check_name("QA").is_err());
        assert!(check_name(&"a".repeat(MAX_ENVIRONMENT_NAME + 1)).is_err());
    }
}
