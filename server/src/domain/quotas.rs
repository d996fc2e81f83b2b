//! Per-environment quota: administrators set a ResourceQuota (totals per team
//! namespace) and a LimitRange (largest container) that the worker renders into
//! every team namespace of the environment, and requests are checked against
//! the LimitRange's maximum (see docs/tenancy.md).

use serde_json::json;
use sqlx::PgPool;

use crate::error::{AppError, FieldError};
use crate::render::quota::NamespaceQuota;
use crate::spec::quantity;
use crate::store::audit::Actor;
use crate::store::environment_quotas::Quota;
use crate::store::{self};

/// Audit action written here.
pub const UPDATE: &str = "environment.quota";

/// A quota as typed; empty fields mean "not limited".
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct QuotaInput {
    /// Total cpu requests per team namespace (`4`, `2500m`).
    #[serde(default)]
    pub requests_cpu: String,
    /// Total memory requests per team namespace (`8Gi`).
    #[serde(default)]
    pub requests_memory: String,
    /// Most pods per team namespace.
    #[serde(default)]
    pub pods: String,
    /// Largest cpu of one container.
    #[serde(default)]
    pub max_cpu: String,
    /// Largest memory of one container.
    #[serde(default)]
    pub max_memory: String,
}

fn quantity_in(raw: &str, field: &'static str, errors: &mut Vec<FieldError>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match quantity::parse(raw) {
        Ok(v) if v > 0.0 => Some(raw.to_owned()),
        Ok(_) => {
            errors.push(FieldError::new(field, "must be more than 0"));
            None
        }
        Err(why) => {
            errors.push(FieldError::new(field, why));
            None
        }
    }
}

impl QuotaInput {
    /// The checked quota, or every problem at once.
    pub fn check(&self) -> Result<Quota, Vec<FieldError>> {
        let mut errors = Vec::new();
        let quota = Quota {
            requests_cpu: quantity_in(&self.requests_cpu, "requests_cpu", &mut errors),
            requests_memory: quantity_in(&self.requests_memory, "requests_memory", &mut errors),
            pods: match self.pods.trim() {
                "" => None,
                p => match p.parse::<i32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        errors.push(FieldError::new("pods", "must be a whole number above 0"));
                        None
                    }
                },
            },
            max_cpu: quantity_in(&self.max_cpu, "max_cpu", &mut errors),
            max_memory: quantity_in(&self.max_memory, "max_memory", &mut errors),
        };
        if errors.is_empty() {
            Ok(quota)
        } else {
            Err(errors)
        }
    }

    /// The form of a stored quota.
    pub fn of(quota: &Quota) -> Self {
        QuotaInput {
            requests_cpu: quota.requests_cpu.clone().unwrap_or_default(),
            requests_memory: quota.requests_memory.clone().unwrap_or_default(),
            pods: quota.pods.map(|p| p.to_string()).unwrap_or_default(),
            max_cpu: quota.max_cpu.clone().unwrap_or_default(),
            max_memory: quota.max_memory.clone().unwrap_or_default(),
        }
    }
}

/// The renderer's view of a stored quota.
pub fn for_render(quota: &Quota) -> NamespaceQuota {
    NamespaceQuota {
        requests_cpu: quota.requests_cpu.clone(),
        requests_memory: quota.requests_memory.clone(),
        pods: quota.pods,
        max_cpu: quota.max_cpu.clone(),
        max_memory: quota.max_memory.clone(),
    }
}

/// Sets environment `name`'s quota; audited as `environment.quota`. Applied
/// to each team namespace by the next deploy there.
pub async fn set_quota(
    db: &PgPool,
    actor: &Actor,
    name: &str,
    input: &QuotaInput,
) -> Result<Quota, AppError> {
    let environment = store::environments::find_by_name(db, name)
        .await?
        .ok_or(AppError::NotFound)?;
    let quota = input.check().map_err(AppError::Invalid)?;
    let mut tx = db.begin().await?;
    store::environment_quotas::upsert(&mut *tx, environment.id, &quota, &actor.name).await?;
    store::audit::record(
        &mut *tx,
        actor,
        UPDATE,
        name,
        json!({"requests_cpu": quota.requests_cpu, "requests_memory": quota.requests_memory,
               "pods": quota.pods, "max_cpu": quota.max_cpu, "max_memory": quota.max_memory}),
    )
    .await?;
    tx.commit().await?;
    Ok(quota)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_fields_are_quantities_or_empty() {
        let input = QuotaInput {
            requests_cpu: "4".into(),
            max_memory: "lots".into(),
            pods: "0".into(),
            ..QuotaInput::default()
        };
        let errors = input.check().unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["pods", "max_memory"]);
        let fine = QuotaInput {
            max_cpu: "500m".into(),
            ..QuotaInput::default()
        };
        assert_eq!(fine.check().unwrap().max_cpu.as_deref(), Some("500m"));
    }
}
