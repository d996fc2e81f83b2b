//! Deploys as the templates show them.

use time::OffsetDateTime;

use crate::deploy_model::Trigger;
use crate::store::deploys::Deploy;
use crate::store::pins::Pin;
use crate::web::format::{display_duration, display_time};

/// A deploy as the templates show it.
#[derive(Clone, Debug)]
pub struct DeployRow {
    /// Number.
    pub id: i64,
    /// Team.
    pub team: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// The cluster it went to.
    pub cluster: String,
    /// Revision number.
    pub revision: i32,
    /// Image.
    pub image: String,
    /// State name (CSS class).
    pub state: &'static str,
    /// State for people.
    pub state_label: &'static str,
    /// How it came about.
    pub trigger: Trigger,
    /// Who asked.
    pub requested_by: String,
    /// The deploy a rollback restores.
    pub rollback_of: Option<i64>,
    /// Why it failed / was rejected / superseded.
    pub reason: String,
    /// When requested.
    pub created: String,
    /// How long it took (so far).
    pub duration: String,
    /// Finished (no more changes).
    pub finished: bool,
    /// For a webhook deploy: the commit's short sha (else empty).
    pub commit_sha: String,
    /// The first line of its message.
    pub commit_title: String,
    /// Its author.
    pub commit_author: String,
    /// The push's compare link.
    pub compare_url: String,
}

impl DeployRow {
    /// The view of `d` at `now`.
    pub fn of(d: &Deploy, now: OffsetDateTime) -> Self {
        DeployRow {
            id: d.id,
            team: d.team.clone(),
            service: d.service.clone(),
            environment: d.environment.clone(),
            cluster: d.cluster.clone(),
            revision: d.revision,
            image: d.image.clone(),
            state: d.state.as_str(),
            state_label: d.state.label(),
            trigger: d.trigger,
            requested_by: d.requested_by.clone(),
            rollback_of: d.rollback_of,
            reason: d.reason.clone(),
            created: display_time(d.created_at),
            duration: display_duration(d.duration_secs(now)),
            finished: d.state.is_finished(),
            commit_sha: d.commit_sha.chars().take(12).collect(),
            commit_title: d
                .commit_message
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
            commit_author: d.commit_author.clone(),
            compare_url: d.compare_url.clone(),
        }
    }

    /// "who or what triggered it", in words.
    pub fn triggered_by(&self) -> String {
        match (self.trigger, self.rollback_of) {
            (Trigger::Rollback, Some(of)) => format!("{} (rollback to #{of})", self.requested_by),
            (Trigger::Webhook, _) if !self.commit_sha.is_empty() => {
                format!("push of {} ({})", self.commit_sha, self.commit_title)
            }
            (Trigger::Webhook, _) => format!("{} (push)", self.requested_by),
            _ => self.requested_by.clone(),
        }
    }
}

/// An active pin as shown.
#[derive(Clone, Debug)]
pub struct PinView {
    /// Environment.
    pub environment: String,
    /// Who pinned.
    pub by: String,
    /// Since when.
    pub since: String,
    /// The rollback deploy.
    pub deploy_id: Option<i64>,
    /// Why.
    pub reason: String,
}

impl PinView {
    /// The view of an active pin.
    pub fn of(p: &Pin) -> Self {
        PinView {
            environment: p.environment.clone(),
            by: p.pinned_by.clone(),
            since: display_time(p.created_at),
            deploy_id: p.deploy_id,
            reason: p.reason.clone(),
        }
    }
}

/// One environment's part of a service's history.
#[derive(Clone, Debug)]
pub struct EnvironmentHistory {
    /// Environment name.
    pub name: String,
    /// Approval required there.
    pub requires_approval: bool,
    /// Active pin.
    pub pin: Option<PinView>,
    /// Deploys, newest first.
    pub deploys: Vec<DeployRow>,
}

/// A service's deploy history by environment: what `deploys/_history.html` shows.
#[derive(Clone, Debug)]
pub struct ServiceHistory {
    /// Team.
    pub team: String,
    /// Service.
    pub service: String,
    /// May the viewer deploy, roll back and unpin.
    pub can_deploy: bool,
    /// Per environment, in listing order: the same for every viewer, shared
    /// for a second (`AppState::deploy_histories`).
    pub environments: std::sync::Arc<Vec<EnvironmentHistory>>,
}

/// One timeline entry.
#[derive(Clone, Debug)]
pub struct EventRow {
    /// When.
    pub at: String,
    /// Before (empty for the request itself).
    pub from: &'static str,
    /// After.
    pub to: &'static str,
    /// A note that did not change the state.
    pub is_note: bool,
    /// Who.
    pub actor: String,
    /// What.
    pub message: String,
}

/// One decision.
#[derive(Clone, Debug)]
pub struct ApprovalRow {
    /// Who.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: &'static str,
    /// Their comment.
    pub comment: String,
    /// When.
    pub at: String,
    /// The revision hash decided on (short).
    pub revision_hash: String,
    /// The image decided on.
    pub image: String,
    /// The digest decided on (short).
    pub digest: String,
    /// Voided (its plan was recomputed): why; empty while it counts.
    pub voided: String,
}

impl ApprovalRow {
    /// The row of a stored decision.
    pub fn of(a: crate::store::approvals::Approval) -> Self {
        ApprovalRow {
            voided: if a.is_current() {
                String::new()
            } else {
                format!("void: {}", a.void_reason)
            },
            approver: a.approver,
            decision: a.decision.as_str(),
            comment: a.comment,
            at: display_time(a.created_at),
            revision_hash: a.revision_hash.chars().take(12).collect(),
            image: a.image,
            digest: crate::plan::short(&a.digest).to_owned(),
        }
    }
}
