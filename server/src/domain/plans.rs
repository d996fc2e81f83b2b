//! Plans of deploys that wait for decisions: computed at request time (a
//! server-side dry run against the live cluster, the spec diff, images, new
//! Secret references and sidecars against what runs now, the wiring state and
//! the checklist), stored with the deploy, and recomputed — voiding the
//! approvals given on the old one — when what runs now changed meanwhile.
//! The pure parts are in `crate::plan`; the dry run in `cluster::plan`.

use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::cluster::apply::{self, Manifest, Target};
use crate::cluster::retry::RetryPolicy;
use crate::cluster::{self, ClusterState, preflight};
use crate::deploy_model::DeployState;
use crate::error::AppError;
use crate::plan::{self, ChecklistState, DryRun, ManifestFacts, Plan, WiringState};
use crate::store::deploys::{self, Deploy};
use crate::store::{self, approvals};

pub(crate) fn target_of(deploy: &Deploy) -> Target {
    Target {
        deploy_id: deploy.id,
        team: deploy.team.clone(),
        service: deploy.service.clone(),
        environment: deploy.environment.clone(),
        namespace: deploy.namespace.clone(),
    }
}

/// The running deploy's manifests' facts and spec, when something runs.
async fn running(
    conn: &mut PgConnection,
    deploy: &Deploy,
) -> Result<Option<(i64, ManifestFacts, serde_json::Value)>, AppError> {
    let Some(base) =
        deploys::latest_succeeded(&mut *conn, deploy.service_id, deploy.environment_id).await?
    else {
        return Ok(None);
    };
    let documents = deploys::documents(&mut *conn, base.id).await?;
    let values: Vec<serde_json::Value> =
        apply::parse_manifests(&documents.manifests, &base.namespace)
            .map(|ms| ms.into_iter().map(|m| m.value).collect())
            .unwrap_or_default();
    let spec = store::services::revision(&mut *conn, base.service_id, base.revision)
        .await?
        .map(|r| r.spec)
        .unwrap_or(serde_json::Value::Null);
    Ok(Some((base.id, ManifestFacts::of(&values), spec)))
}

/// Computes the plan of `deploy` (whose rendered objects are `manifests`) with
/// the checklist found at request time. The cluster is asked once, without
/// retries (a person or a webhook waits); when it cannot answer, the plan says
/// so and the sweep in `domain::waiting` computes it again later.
pub async fn compute(
    conn: &mut PgConnection,
    clusters: &cluster::Fleet,
    deploy: &Deploy,
    manifests: &[Manifest],
    checklist: ChecklistState,
) -> Result<Plan, AppError> {
    let member = clusters.member(&deploy.cluster);
    let cluster = &member.handle;
    let values: Vec<serde_json::Value> = manifests.iter().map(|m| m.value.clone()).collect();
    let requested = ManifestFacts::of(&values);
    let running = running(&mut *conn, deploy).await?;
    let spec = store::services::revision(&mut *conn, deploy.service_id, deploy.revision)
        .await?
        .map(|r| r.spec)
        .unwrap_or(serde_json::Value::Null);
    let target = target_of(deploy);
    let retry = RetryPolicy::none();
    let (dry_run, wiring) = match cluster.client() {
        Some(client) => {
            let dry_run = cluster::plan::dry_run(&client, &target, manifests, retry)
                .await
                .unwrap_or_else(|e| DryRun::Unavailable {
                    reason: e.to_string(),
                    no_cluster: false,
                });
            let wiring = match preflight::missing_secrets(&client, &target, manifests, retry).await
            {
                Ok(missing) => WiringState {
                    checked: true,
                    missing: missing.iter().map(ToString::to_string).collect(),
                    problem: None,
                },
                Err(e) => WiringState {
                    checked: false,
                    missing: Vec::new(),
                    problem: Some(e.to_string()),
                },
            };
            (dry_run, wiring)
        }
        None => {
            let state = cluster.state();
            let reason = format!("{} (cluster `{}`)", state.describe(), member.name);
            let unchecked = WiringState {
                checked: false,
                missing: Vec::new(),
                problem: Some(reason.clone()),
            };
            (
                DryRun::Unavailable {
                    reason,
                    no_cluster: matches!(state, ClusterState::Disabled),
                },
                unchecked,
            )
        }
    };
    Ok(Plan {
        computed_at: OffsetDateTime::now_utc(),
        base_deploy: running.as_ref().map(|(id, _, _)| *id),
        digest: plan::content_digest(&deploy.namespace, &values),
        namespace: deploy.namespace.clone(),
        dry_run,
        spec_diff: plan::spec_diff(running.as_ref().map(|(_, _, spec)| spec), &spec),
        changes: plan::Changes::between(running.as_ref().map(|(_, facts, _)| facts), &requested),
        wiring,
        checklist,
    })
}

/// Stores `plan` with `deploy`.
pub async fn store(conn: &mut PgConnection, deploy: &Deploy, plan: &Plan) -> Result<(), AppError> {
    let json = serde_json::to_value(plan)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("plan not serialisable: {e}")))?;
    deploys::set_plan(&mut *conn, deploy.id, &json, plan.base_deploy).await?;
    Ok(())
}

/// The stored plan of a deploy, when it has one.
pub async fn load(db: impl sqlx::PgExecutor<'_>, deploy_id: i64) -> Result<Option<Plan>, AppError> {
    let Some(json) = deploys::plan(db, deploy_id).await? else {
        return Ok(None);
    };
    read(deploy_id, json).map(Some)
}

/// Reads deploy `deploy_id`'s stored plan.
pub fn read(deploy_id: i64, json: serde_json::Value) -> Result<Plan, AppError> {
    serde_json::from_value(json).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "deploy {deploy_id}: stored plan unreadable: {e}"
        ))
    })
}

/// Refuses an approval of a deploy whose plan is missing, incomplete or stale
/// (a newer deploy succeeded since it was computed): approvers decide on the
/// plan of exactly what will be applied.
pub async fn ensure_decidable(conn: &mut PgConnection, deploy: &Deploy) -> Result<(), AppError> {
    let Some(plan) = load(&mut *conn, deploy.id).await? else {
        return Err(AppError::Conflict(format!(
            "Deploy #{} has no plan yet; Slipway computes it shortly, then it can be approved.",
            deploy.id
        )));
    };
    plan.is_decidable()
        .map_err(|why| AppError::Conflict(format!("Deploy #{}: {why}.", deploy.id)))?;
    let running = deploys::latest_succeeded(&mut *conn, deploy.service_id, deploy.environment_id)
        .await?
        .map(|d| d.id);
    if running != plan.base_deploy {
        return Err(AppError::Conflict(format!(
            "Deploy #{}: its plan was computed before deploy #{} succeeded; Slipway recomputes it — review the new plan.",
            deploy.id,
            running.unwrap_or_default()
        )));
    }
    Ok(())
}

/// What a refresh did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Plans recomputed.
    pub plans: usize,
    /// Approvals voided because their plan was recomputed after a newer deploy succeeded.
    pub voided: u64,
}

/// Recomputes the plan of one waiting deploy when it is missing, incomplete or
/// stale; a plan recomputed because a newer deploy succeeded voids the
/// approvals given on the old one (they decided on a different live state).
pub async fn refresh(
    db: &sqlx::PgPool,
    clusters: &cluster::Fleet,
    deploy_id: i64,
) -> Result<Refreshed, AppError> {
    let mut tx = db.begin().await?;
    let Some(deploy) = deploys::lock(&mut tx, deploy_id).await? else {
        return Ok(Refreshed::default());
    };
    if !matches!(
        deploy.state,
        DeployState::AwaitingApproval | DeployState::Held
    ) {
        return Ok(Refreshed::default());
    }
    let old = load(&mut *tx, deploy.id).await?;
    let documents = deploys::documents(&mut *tx, deploy.id).await?;
    let manifests = apply::parse_manifests(&documents.manifests, &deploy.namespace)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("deploy {deploy_id}: {e}")))?;
    let checklist = old
        .as_ref()
        .map(|p| p.checklist.clone())
        .unwrap_or_default();
    let plan = compute(&mut tx, clusters, &deploy, &manifests, checklist).await?;
    let base_moved = old
        .as_ref()
        .is_some_and(|o| o.base_deploy != plan.base_deploy);
    let mut voided = 0;
    if base_moved {
        let reason = format!(
            "the plan was recomputed after deploy #{} succeeded",
            plan.base_deploy.unwrap_or_default()
        );
        voided = approvals::void_for_deploy(&mut *tx, deploy.id, &reason).await?;
        deploys::note(
            &mut *tx,
            deploy.id,
            deploy.state,
            "slipway",
            &format!("{reason}; {voided} approvals voided — decide on the new plan"),
        )
        .await?;
    } else if old.as_ref().is_none_or(|o| o.dry_run != plan.dry_run) {
        // Said once per outcome, not on every retry against an unreachable cluster.
        deploys::note(
            &mut *tx,
            deploy.id,
            deploy.state,
            "slipway",
            &format!("plan computed: {}", plan.summary()),
        )
        .await?;
    }
    store(&mut tx, &deploy, &plan).await?;
    tx.commit().await?;
    Ok(Refreshed { plans: 1, voided })
}
