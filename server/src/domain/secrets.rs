//! Secrets wiring and write-only Secret values: which variable of a service
//! comes from which Secret (or ConfigMap) key and whether that key exists in the
//! environment's namespace, and an administrator writing one key's value.
//! Names and key names only: a value goes to the cluster and nowhere else (not
//! to PostgreSQL, the audit log, a page or a log line).

use serde_json::json;
use sqlx::PgPool;

use crate::cluster::retry::{ClusterError, RetryPolicy};
use crate::cluster::wiring::SecretKeyTarget;
use crate::cluster::{self};
use crate::domain::services::{current_spec, targets};
use crate::error::{AppError, FieldError};
use crate::secret::SecretString;
use crate::spec::{self, EnvSource, EnvWiring, WiringState};
use crate::store::audit::Actor;
use crate::store::services::Service;
use crate::store::{self};

/// Audit actions written here.
pub mod actions {
    /// A Secret key's value was written (the audit entry names Secret and key, never the value).
    pub const SECRET_WRITE: &str = "secret.write";
}

/// Largest Secret value accepted; a whole Secret is limited to 1 MiB by etcd.
pub const MAX_VALUE_BYTES: usize = 512 * 1024;

/// The wiring of a service's current revision in one environment.
#[derive(Debug)]
pub struct Wiring {
    /// The environment shown.
    pub environment: String,
    /// Its namespace for this service.
    pub namespace: String,
    /// Every environment, for the picker.
    pub environments: Vec<String>,
    /// Each variable with the state of its source.
    pub entries: Vec<(EnvWiring, WiringState)>,
    /// Why states are `unknown`, when the cluster could not be asked.
    pub cluster_problem: Option<String>,
}

/// The wiring of `service` in `environment` (the production-rules environment
/// when `None`), asking the cluster once for the referenced objects' key names.
pub async fn wiring(
    db: &PgPool,
    clusters: &cluster::Fleet,
    service: &Service,
    environment: Option<&str>,
) -> Result<Wiring, AppError> {
    let (_, spec) = current_spec(db, service).await?;
    let targets = targets(db, service).await?;
    let target = targets.resolve(environment)?;
    let namespace = target.namespace()?.to_owned();
    let environment = target.environment.clone();
    let entries = spec::secret_refs(&spec, &environment);
    let (secret_names, config_map_names) = spec::referenced_objects(&entries);
    let mut cluster_problem = None;
    let member = clusters.member(&target.cluster);
    let (secrets, config_maps) = match member.handle.client() {
        None => {
            cluster_problem = Some(format!(
                "{} (cluster `{}`)",
                member.handle.state().describe(),
                member.name
            ));
            Default::default()
        }
        Some(client) => {
            // A page view waits for one quick attempt, not the deployer's retries.
            let retry = RetryPolicy::none();
            let looked_up = async {
                let secrets =
                    cluster::wiring::secrets(&client, &namespace, &secret_names, retry).await?;
                let config_maps =
                    cluster::wiring::config_maps(&client, &namespace, &config_map_names, retry)
                        .await?;
                Ok::<_, ClusterError>((secrets, config_maps))
            };
            match looked_up.await {
                Ok(found) => found,
                Err(error) => {
                    cluster_problem = Some(error.to_string());
                    Default::default()
                }
            }
        }
    };
    let entries = entries
        .into_iter()
        .map(|entry| {
            let state = spec::wiring_state(&entry, &secrets, &config_maps);
            (entry, state)
        })
        .collect();
    Ok(Wiring {
        environment,
        namespace,
        environments: targets.names(),
        entries,
        cluster_problem,
    })
}

/// One Secret key's value to write.
#[derive(Debug)]
pub struct SecretWrite<'a> {
    /// The environment (required).
    pub environment: Option<&'a str>,
    /// The Secret's name.
    pub secret: &'a str,
    /// The key.
    pub key: &'a str,
    /// The value (never logged: `Debug` redacts it).
    pub value: &'a SecretString,
}

impl SecretWrite<'_> {
    /// Every problem with the write at once, given what the service references.
    fn problems(&self, entries: &[EnvWiring], environment: &str) -> Vec<FieldError> {
        let (secret, key) = (self.secret, self.key);
        let referenced = entries.iter().any(|e| {
            e.secret.as_deref() == Some(secret)
                && match e.source {
                    EnvSource::SecretKey => e.key.as_deref() == Some(key),
                    EnvSource::SecretAll => true,
                    _ => false,
                }
        });
        let mut problems = Vec::new();
        if !referenced {
            problems.push(FieldError::new(
                "key",
                format!(
                    "`{secret}/{key}` is not a Secret key this service references in {environment}"
                ),
            ));
        }
        if let Err(message) = spec::names::config_key(key) {
            problems.push(FieldError::new("key", message));
        }
        let value = self.value.expose();
        if value.is_empty() {
            problems.push(FieldError::new("value", "required"));
        } else if value.len() > MAX_VALUE_BYTES {
            problems.push(FieldError::new(
                "value",
                format!("must be at most {MAX_VALUE_BYTES} bytes"),
            ));
        }
        problems
    }
}

/// Writes one key of a Secret the service references, in the environment's
/// namespace (created, labelled as the team's, when missing; other keys kept).
/// The caller has checked `policy::can_write_secret`. Audited without the
/// value. Returns the environment written to.
pub async fn write_value(
    db: &PgPool,
    clusters: &cluster::Fleet,
    actor: &Actor,
    service: &Service,
    write: &SecretWrite<'_>,
) -> Result<String, AppError> {
    let Some(environment) = write.environment else {
        return Err(AppError::invalid("environment", "required"));
    };
    let targets = targets(db, service).await?;
    let target = targets.resolve(Some(environment))?;
    let namespace = target.namespace()?;
    let environment = target.environment.as_str();
    let (_, spec) = current_spec(db, service).await?;
    let problems = write.problems(&spec::secret_refs(&spec, environment), environment);
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let member = clusters.member(&target.cluster);
    let client = member
        .handle
        .client()
        .ok_or_else(|| AppError::Unavailable(format!("Cluster `{}`", member.name)))?;
    let (secret, key) = (write.secret, write.key);
    // The namespace must be (or become) this team's in this environment, as
    // for a deploy: a value never lands in a namespace another pair owns.
    let environment_id = store::environments::find_by_name(db, environment)
        .await?
        .ok_or(AppError::NotFound)?
        .id;
    let mut tx = db.begin().await?;
    super::tenancy::claim_in(
        &mut tx,
        namespace,
        &service.team,
        environment_id,
        environment,
    )
    .await?;
    tx.commit().await?;
    let target = SecretKeyTarget {
        namespace,
        team: &service.team,
        environment,
        secret,
        key,
    };
    cluster::wiring::write_secret_key(&client, &target, write.value, RetryPolicy::none())
        .await
        .map_err(|error| match error {
            // A refusal names the object and why (never the value): show it.
            cluster::retry::ClusterError::NotOurs { message, .. } => AppError::Conflict(message),
            error => {
                tracing::warn!(%error, secret, key, namespace, cluster = %member.name, "writing a Secret value failed");
                AppError::Unavailable(format!("Cluster `{}`", member.name))
            }
        })?;
    store::audit::record(
        db,
        actor,
        actions::SECRET_WRITE,
        &format!("{}/{}", service.team, service.name),
        json!({"environment": environment, "namespace": namespace, "secret": secret, "key": key}),
    )
    .await?;
    tracing::info!(secret, key, namespace, "Secret value written");
    Ok(environment.to_owned())
}
