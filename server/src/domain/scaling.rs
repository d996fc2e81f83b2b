//! Scaling from the portal: a service's replicas, or its autoscaling bounds,
//! in one environment become a new revision (the environment's override in
//! the spec, so the history says who scaled what) and a deploy of it with the
//! image running there, so policy (approvals, freeze windows, the checklist)
//! applies as to any deploy.

use sqlx::PgPool;

use super::deploys::{self, DeployRequest};
use super::services as editing;
use crate::auth::{CurrentUser, policy};
use crate::cluster;
use crate::deploy_model::Trigger;
use crate::error::AppError;
use crate::spec::{AutoscalingBounds, ServiceSpec};
use crate::store;
use crate::store::audit::Actor;
use crate::store::deploys::Deploy;
use crate::store::services::Service;

/// What to change in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleChange {
    /// A fixed number of pods (turns autoscaling off in that environment).
    Replicas(u32),
    /// The autoscaler's bounds.
    Bounds {
        /// Fewest pods.
        min: u32,
        /// Most pods.
        max: u32,
    },
}

/// Pure: how `environment` is scaled now, as the spec says (the form's
/// starting values): fixed replicas, or the autoscaler's bounds.
pub fn current(spec: &ServiceSpec, environment: &str) -> ScaleChange {
    let over = spec.spec.environments.get(environment);
    if let Some(n) = over.and_then(|o| o.replicas) {
        return ScaleChange::Replicas(n);
    }
    match &spec.spec.autoscaling {
        Some(a) => {
            let bounds = over.and_then(|o| o.autoscaling.clone()).unwrap_or_default();
            ScaleChange::Bounds {
                min: bounds.min_replicas.unwrap_or(a.min_replicas),
                max: bounds.max_replicas.unwrap_or(a.max_replicas),
            }
        }
        None => ScaleChange::Replicas(spec.spec.replicas.unwrap_or(
            if spec.workload_kind() == crate::spec::WorkloadKind::Stateful {
                crate::spec::defaults::STATEFUL_REPLICAS
            } else {
                crate::spec::defaults::REPLICAS
            },
        )),
    }
}

/// Pure: `spec` with `change` applied to `environment`'s override, and the
/// revision message; refused when the change makes no sense for the spec.
pub fn rescaled(
    spec: &ServiceSpec,
    environment: &str,
    change: ScaleChange,
) -> Result<(ServiceSpec, String), AppError> {
    let mut next = spec.clone();
    let over = next
        .spec
        .environments
        .entry(environment.to_owned())
        .or_default();
    let message = match change {
        ScaleChange::Replicas(n) => {
            if over.replicas == Some(n) {
                return Err(AppError::invalid(
                    "replicas",
                    format!("{environment} already runs {n} replicas"),
                ));
            }
            over.replicas = Some(n);
            over.autoscaling = None;
            let off = if spec.spec.autoscaling.is_some() {
                " (autoscaling off there)"
            } else {
                ""
            };
            format!("Scaled {environment} to {n} replicas{off}, from the portal")
        }
        ScaleChange::Bounds { min, max } => {
            let Some(base) = &spec.spec.autoscaling else {
                return Err(AppError::invalid(
                    "autoscaling",
                    "this service does not autoscale: set its replicas, or add spec.autoscaling",
                ));
            };
            if min > max {
                return Err(AppError::invalid(
                    "autoscaling.minReplicas",
                    format!("the minimum ({min}) is above the maximum ({max})"),
                ));
            }
            let now = over.autoscaling.clone().unwrap_or_default();
            let was = (
                now.min_replicas.unwrap_or(base.min_replicas),
                now.max_replicas.unwrap_or(base.max_replicas),
            );
            if over.replicas.is_none() && was == (min, max) {
                return Err(AppError::invalid(
                    "autoscaling",
                    format!("{environment} already autoscales between {min} and {max}"),
                ));
            }
            over.replicas = None;
            over.autoscaling = Some(AutoscalingBounds {
                min_replicas: Some(min),
                max_replicas: Some(max),
            });
            format!(
                "Autoscaling in {environment} between {min} and {max} (was {}–{}), from the portal",
                was.0, was.1
            )
        }
    };
    if next
        .spec
        .environments
        .get(environment)
        .is_some_and(|o| o == &crate::spec::EnvironmentOverride::default())
    {
        next.spec.environments.remove(environment);
    }
    Ok((next, message))
}

/// What [`scale`] did.
#[derive(Debug)]
pub struct Scaled {
    /// The new revision.
    pub revision: i32,
    /// The deploy of it (queued, or awaiting approval).
    pub deploy: Deploy,
}

/// Applies `change` to `environment` of `service`: a new revision, then a
/// deploy of it with the image that environment runs now. When the deploy is
/// refused the revision stays (it is a valid spec) and the error says so.
pub async fn scale(
    db: &PgPool,
    clusters: &cluster::Fleet,
    user: &CurrentUser,
    actor: &Actor,
    service: &Service,
    environment: &str,
    change: ScaleChange,
) -> Result<Scaled, AppError> {
    policy::can_edit_service(user, &service.team)?;
    policy::can_request_deploy(user, &service.team)?;
    let environment = environment.trim();
    store::environments::find_by_name(db, environment)
        .await?
        .ok_or_else(|| AppError::invalid("environment", "no such environment"))?;
    let image = store::deploys::latest_per_environment(db, service.id)
        .await?
        .into_iter()
        .find(|d| d.environment == environment)
        .map(|d| d.image)
        .ok_or_else(|| {
            AppError::invalid(
                "environment",
                format!(
                    "{} was never deployed to {environment}: deploy it first",
                    service.name
                ),
            )
        })?;
    let (base, spec) = editing::current_spec(db, service).await?;
    let (next, message) = rescaled(&spec, environment, change)?;
    let prepared = editing::prepare_text(&next.to_yaml())?;
    let saved = editing::save_revision(
        db,
        user,
        actor,
        service,
        Some(base.number),
        &prepared,
        &message,
    )
    .await?;
    let revision = saved.number;
    let service = store::services::find(db, &service.team, &service.name)
        .await?
        .ok_or(AppError::NotFound)?;
    let deploy = deploys::request(
        db,
        clusters,
        &service,
        actor,
        Trigger::User,
        &DeployRequest {
            environment: environment.to_owned(),
            image,
            revision: Some(revision),
            override_reason: None,
        },
    )
    .await
    .map_err(|e| match e {
        AppError::Invalid(mut problems) => {
            for p in &mut problems {
                p.message = format!(
                    "revision {revision} is saved, but its deploy was refused: {}",
                    p.message
                );
            }
            AppError::Invalid(problems)
        }
        AppError::Conflict(why) => AppError::Conflict(format!(
            "revision {revision} is saved, but its deploy was refused: {why}"
        )),
        other => other,
    })?;
    Ok(Scaled { revision, deploy })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ServiceSpec {
        crate::spec::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const AUTOSCALED: &str = "apiVersion: slipway.dev/v1
kind: Service
metadata: {name: web, team: shop}
spec:
  kind: web
  image: registry.example.com/shop/web:1
  command: [gunicorn, app:app]
  ports: [{name: http, port: 8000}]
  resources: {requests: {cpu: 100m, memory: 64Mi}}
  autoscaling: {minReplicas: 2, maxReplicas: 8, cpu: 70}
  environments:
    development: {replicas: 1}
";

    #[test]
    fn bounds_go_into_the_environments_override_and_say_what_they_were() {
        let (next, message) = rescaled(
            &spec(AUTOSCALED),
            "staging",
            ScaleChange::Bounds { min: 3, max: 12 },
        )
        .unwrap();
        let over = &next.spec.environments["staging"];
        assert_eq!(over.autoscaling.as_ref().unwrap().max_replicas, Some(12));
        assert_eq!(over.replicas, None);
        assert_eq!(
            message,
            "Autoscaling in staging between 3 and 12 (was 2–8), from the portal"
        );
        // The result is a valid spec.
        crate::spec::parse(&next.to_yaml()).unwrap();
    }

    #[test]
    fn replicas_turn_autoscaling_off_there_and_bounds_turn_it_back_on() {
        let (fixed, message) =
            rescaled(&spec(AUTOSCALED), "staging", ScaleChange::Replicas(3)).unwrap();
        assert_eq!(fixed.spec.environments["staging"].replicas, Some(3));
        assert!(message.contains("autoscaling off there"), "{message}");
        let (back, _) =
            rescaled(&fixed, "staging", ScaleChange::Bounds { min: 2, max: 8 }).unwrap();
        assert_eq!(back.spec.environments["staging"].replicas, None);
        // development's fixed replica count replaced by bounds: autoscaling there too.
        let (dev, message) = rescaled(
            &spec(AUTOSCALED),
            "development",
            ScaleChange::Bounds { min: 1, max: 2 },
        )
        .unwrap();
        assert_eq!(dev.spec.environments["development"].replicas, None);
        assert!(message.contains("(was 2–8)"), "{message}");
    }

    #[test]
    fn the_form_starts_from_what_the_spec_says_for_the_environment() {
        let s = spec(AUTOSCALED);
        assert_eq!(current(&s, "development"), ScaleChange::Replicas(1));
        assert_eq!(
            current(&s, "staging"),
            ScaleChange::Bounds { min: 2, max: 8 }
        );
    }

    #[test]
    fn nonsense_is_refused_naming_the_field() {
        let s = spec(AUTOSCALED);
        let field = |e: AppError| match e {
            AppError::Invalid(p) => p[0].path.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(rescaled(&s, "staging", ScaleChange::Bounds { min: 5, max: 2 }).unwrap_err()),
            "autoscaling.minReplicas"
        );
        assert_eq!(
            field(rescaled(&s, "staging", ScaleChange::Bounds { min: 2, max: 8 }).unwrap_err()),
            "autoscaling"
        );
        assert_eq!(
            field(rescaled(&s, "development", ScaleChange::Replicas(1)).unwrap_err()),
            "replicas"
        );
        let fixed = spec(&AUTOSCALED.replace(
            "  autoscaling: {minReplicas: 2, maxReplicas: 8, cpu: 70}\n",
            "  replicas: 2\n",
        ));
        assert_eq!(
            field(rescaled(&fixed, "staging", ScaleChange::Bounds { min: 2, max: 4 }).unwrap_err()),
            "autoscaling"
        );
    }
}
