//! Reading a pod's log: who may (the team's members, `policy::can_read_logs`)
//! and which pod (one of the service's pods in that environment, as the
//! status watch cache knows them, so a name cannot reach another service's pod
//! in a shared namespace). `cluster::logs` reads it.

use crate::auth::{CurrentUser, policy};
use crate::cluster::Fleet;
use crate::cluster::logs::LogTarget;
use crate::error::AppError;
use crate::store::services::Service;

/// A located log: its environment, the target, and the pod's containers (for
/// the page's container picker).
#[derive(Debug, Clone)]
pub struct Located {
    /// The environment the pod runs in.
    pub environment: String,
    /// The cluster it runs on (the environment's).
    pub cluster: String,
    /// What to read.
    pub target: LogTarget,
    /// The pod's containers, the main one first.
    pub containers: Vec<String>,
}

/// Finds `pod` (and `container`, by default its main one) of `service` in
/// `environment` for `user`.
pub async fn locate(
    db: &sqlx::PgPool,
    clusters: &Fleet,
    user: &CurrentUser,
    service: &Service,
    environment: Option<&str>,
    pod: &str,
    container: Option<&str>,
) -> Result<Located, AppError> {
    policy::can_read_logs(user, &service.team)?;
    let targets = super::services::targets(db, service).await?;
    let target = targets.resolve(environment)?;
    let namespace = target.namespace()?.to_owned();
    let live = clusters.member(&target.cluster).status.service(
        &namespace,
        &service.name,
        &target.environment,
    );
    let found = live
        .pods
        .into_iter()
        .find(|p| p.name == pod)
        .ok_or(AppError::NotFound)?;
    let container = match container.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) if found.containers.iter().any(|have| have == c) => c.to_owned(),
        Some(c) => {
            return Err(AppError::invalid(
                "container",
                format!(
                    "pod {pod} has no container {c:?}; it has {}",
                    found.containers.join(", ")
                ),
            ));
        }
        None => found
            .containers
            .first()
            .cloned()
            .ok_or(AppError::NotFound)?,
    };
    Ok(Located {
        environment: target.environment.clone(),
        cluster: target.cluster.clone(),
        target: LogTarget {
            namespace,
            pod: found.name,
            container,
        },
        containers: found.containers,
    })
}
