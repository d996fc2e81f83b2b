//! The plan of a deploy as the pages show it: wherever a decision is made
//! (the deploy's page, the approvals queue) an approver reads the same thing.

use crate::plan::{DryRun, ObjectChange, Plan};
use crate::web::diff::{self, DiffLine};
use crate::web::format::display_time;

/// One object of the dry run.
pub struct ObjectView {
    /// `Kind/name`.
    pub title: String,
    /// `create`, `update`, `unchanged`, `error`.
    pub change: &'static str,
    /// Its field diff.
    pub diff: Vec<DiffLine>,
    /// A conflict with another field manager.
    pub conflict: String,
    /// Why the API server refused it.
    pub error: String,
}

/// One image of the request.
pub struct ImageView {
    /// `workload/container`.
    pub container: String,
    /// The requested image.
    pub image: String,
    /// What the container runs now (empty: a new container).
    pub running: String,
    /// Differs from what runs now.
    pub changed: bool,
}

/// One readiness check.
pub struct CheckView {
    /// Id.
    pub id: String,
    /// `PASS`, `WARN`, `FAIL`.
    pub level: String,
    /// Why.
    pub message: String,
}

/// A deploy's plan for the templates.
pub struct PlanView {
    /// When computed.
    pub computed_at: String,
    /// The running deploy compared against.
    pub base_deploy: Option<i64>,
    /// The digest approvals bind to, in full and short.
    pub digest: String,
    /// The first 12 characters.
    pub digest_short: String,
    /// One line: "2 to create, 1 to change …".
    pub summary: String,
    /// The dry run ran.
    pub dry_run_done: bool,
    /// Why it did not.
    pub dry_run_problem: String,
    /// The namespace is created by this deploy.
    pub namespace_created: bool,
    /// Each object.
    pub objects: Vec<ObjectView>,
    /// `Kind/name` pruned.
    pub prune: Vec<String>,
    /// Objects with conflicts.
    pub conflicts: usize,
    /// Objects refused.
    pub errors: usize,
    /// The spec diff against what runs now.
    pub spec_diff: Vec<DiffLine>,
    /// Images.
    pub images: Vec<ImageView>,
    /// New Secret references.
    pub new_secret_refs: Vec<String>,
    /// Dropped Secret references.
    pub dropped_secret_refs: Vec<String>,
    /// New sidecars and init containers.
    pub new_sidecars: Vec<String>,
    /// Nothing runs yet.
    pub first_deploy: bool,
    /// Missing Secret keys.
    pub missing_secrets: Vec<String>,
    /// The wiring could not be checked: why.
    pub wiring_problem: String,
    /// Failing, then warning checks.
    pub checks: Vec<CheckView>,
    /// Checks passed.
    pub passed: usize,
    /// The checklist score.
    pub score: u8,
    /// An override of the checklist, in words.
    pub checklist_override: String,
    /// The plan can be decided on.
    pub decidable: bool,
}

impl PlanView {
    /// The view of `plan`.
    pub fn of(plan: &Plan) -> Self {
        let (dry_run_done, dry_run_problem, namespace_created, prune) = match &plan.dry_run {
            DryRun::Done {
                prune,
                namespace_created,
                ..
            } => (true, String::new(), *namespace_created, prune.clone()),
            DryRun::Unavailable { reason, .. } => (false, reason.clone(), false, Vec::new()),
        };
        let objects = plan
            .dry_run
            .objects()
            .iter()
            .map(|o| ObjectView {
                title: format!("{}/{}", o.kind, o.name),
                change: match o.change {
                    ObjectChange::Create => "create",
                    ObjectChange::Update => "update",
                    ObjectChange::Unchanged => "unchanged",
                    ObjectChange::Error => "error",
                },
                diff: diff::lines(&o.diff),
                conflict: o.conflict.clone().unwrap_or_default(),
                error: o.error.clone().unwrap_or_default(),
            })
            .collect();
        let mut checks: Vec<CheckView> = plan
            .checklist
            .items
            .iter()
            .filter(|i| i.level != "PASS")
            .map(|i| CheckView {
                id: i.id.clone(),
                level: i.level.clone(),
                message: i.message.clone(),
            })
            .collect();
        checks.sort_by_key(|c| if c.level == "FAIL" { 0 } else { 1 });
        PlanView {
            computed_at: display_time(plan.computed_at),
            base_deploy: plan.base_deploy,
            digest: plan.digest.clone(),
            digest_short: crate::plan::short(&plan.digest).to_owned(),
            summary: plan.summary(),
            dry_run_done,
            dry_run_problem,
            namespace_created,
            objects,
            prune,
            conflicts: plan.dry_run.conflicts().len(),
            errors: plan.dry_run.errors().len(),
            spec_diff: diff::lines(&plan.spec_diff),
            images: plan
                .changes
                .images
                .iter()
                .map(|i| ImageView {
                    container: i.container.clone(),
                    image: i.image.clone(),
                    running: i.running.clone().unwrap_or_default(),
                    changed: i.is_changed(),
                })
                .collect(),
            new_secret_refs: plan.changes.new_secret_refs.clone(),
            dropped_secret_refs: plan.changes.dropped_secret_refs.clone(),
            new_sidecars: plan.changes.new_sidecars.clone(),
            first_deploy: plan.changes.first_deploy,
            missing_secrets: plan.wiring.missing.clone(),
            wiring_problem: plan.wiring.problem.clone().unwrap_or_default(),
            passed: plan
                .checklist
                .items
                .iter()
                .filter(|i| i.level == "PASS")
                .count(),
            score: plan.checklist.score,
            checklist_override: match (
                &plan.checklist.override_reason,
                &plan.checklist.overridden_by,
            ) {
                (Some(reason), Some(by)) => format!("overridden by {by}: {reason}"),
                (Some(reason), None) => format!("overridden: {reason}"),
                _ => String::new(),
            },
            checks,
            decidable: plan.is_decidable().is_ok(),
        }
    }
}
