//! The approvals queue: deploys waiting for a decision the user may make
//! (administrators and approver teams, never their own requests, revisions or
//! pushes), with filters, the count the navigation bar shows, and deciding
//! several at once where the plans are clean. Each decision is
//! `domain::deploys::decide`, one transaction per deploy.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::auth::{CurrentUser, policy};
use crate::deploy_model::{Decision, DeployState};
use crate::domain::deploys::{self as domain, Seen};
use crate::domain::plans;
use crate::domain::shared_reads::Shared;
use crate::error::AppError;
use crate::plan::Plan;
use crate::store::audit::Actor;
use crate::store::deploys::{self as deploys, Deploy, Filter};
use crate::store::environments::Environment;
use crate::store::{self, approvals};

/// Most waiting deploys the queue reads at once.
const QUEUE_LIMIT: i64 = 500;

/// Which waiting deploys to show.
#[derive(Clone, Debug, Default)]
pub struct QueueFilter {
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this team.
    pub team: Option<String>,
}

/// One deploy in the queue.
#[derive(Clone, Debug)]
pub struct QueueEntry {
    /// The deploy (shared with the list it came from: a page of the queue
    /// is cut from a shared list on every view, and a deploy with its plan is
    /// a lot to copy).
    pub deploy: Arc<Deploy>,
    /// Approvals its environment requires.
    pub approvals_required: i32,
    /// Current approvals of its digest.
    pub approvals: usize,
    /// Its plan, once computed.
    pub plan: Option<Arc<Plan>>,
}

impl QueueEntry {
    /// Why the plan is not clean enough to approve from a list (empty: clean):
    /// not computed, the dry run did not run or found conflicts or refusals,
    /// Secret keys are missing, checks fail, or there are new Secret
    /// references, sidecars or containers to look at.
    pub fn unclean(&self) -> Vec<&'static str> {
        let Some(plan) = &self.plan else {
            return vec!["no plan yet"];
        };
        let mut why = Vec::new();
        if plan.is_decidable().is_err() {
            why.push("the dry run did not run");
        }
        if !plan.dry_run.conflicts().is_empty() {
            why.push("field-manager conflicts");
        }
        if !plan.dry_run.errors().is_empty() {
            why.push("objects the API server refuses");
        }
        if !plan.wiring.missing.is_empty() {
            why.push("missing Secret keys");
        }
        if !plan.checklist.failures().is_empty() {
            why.push("failing checks");
        }
        if plan.changes.needs_attention() {
            why.push("new Secret references, sidecars or containers");
        }
        why
    }
}

/// The one rule behind the queue and the navigation bar's count: a waiting
/// deploy waits for `user` when they may decide it and have no current
/// decision on it yet.
fn waits_for(
    user: &CurrentUser,
    approvers: &policy::Approvers<'_>,
    parties: &policy::Parties<'_>,
    has_decided: bool,
) -> bool {
    !has_decided && policy::can_approve(user, approvers, parties).is_ok()
}

/// A deploy waiting for approval as every viewer's queue starts from: its
/// environment's rules, its decisions so far and its plan. Which of them wait
/// for one viewer is decided from these on every view (`narrowed_to`).
#[derive(Debug)]
struct Candidate {
    deploy: Arc<Deploy>,
    environment: Environment,
    decisions: Vec<approvals::Approval>,
    plan: Option<Arc<Plan>>,
}

/// The deploys waiting for approval that one [`QueueFilter`] selects, newest
/// first, before they are narrowed to one viewer, with what the queue page's
/// filters offer: the same for everyone, so the portal's queue page shares it
/// for a second (`AppState::approval_queues`, dropped by any write through
/// this server).
#[derive(Debug, Default)]
pub struct WaitingList {
    candidates: Vec<Candidate>,
    /// The environments that require approval, in listing order.
    pub approval_environments: Vec<String>,
    /// Every team's name.
    pub teams: Vec<String>,
}

/// What a [`WaitingList`] is read for: the environment and the team asked
/// for (none: all).
pub type WaitingKey = (Option<String>, Option<String>);

impl QueueFilter {
    /// The filter as a [`WaitingKey`]: an empty value asks for nothing.
    pub fn key(&self) -> WaitingKey {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        (given(&self.environment), given(&self.team))
    }
}

/// Reads the [`WaitingList`] of `key`: five statements, whoever asks.
pub async fn read_waiting(db: &PgPool, key: &WaitingKey) -> Result<WaitingList, AppError> {
    let (environment, team) = key.clone();
    let waiting = deploys::list(
        db,
        &Filter {
            state: Some(DeployState::AwaitingApproval),
            environment,
            team,
            limit: QUEUE_LIMIT,
            ..Filter::default()
        },
    )
    .await?;
    let listed = store::environments::list(db).await?;
    let approval_environments = listed
        .iter()
        .filter(|e| e.requires_approval())
        .map(|e| e.name.clone())
        .collect();
    let teams = store::teams::list(db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let environments: HashMap<i64, Environment> = listed.into_iter().map(|e| (e.id, e)).collect();
    let ids: Vec<i64> = waiting.iter().map(|d| d.id).collect();
    let (mut decisions, mut stored) = if ids.is_empty() {
        Default::default()
    } else {
        (
            approvals::for_deploys(db, &ids).await?,
            deploys::plans(db, &ids).await?,
        )
    };
    let mut candidates = Vec::with_capacity(waiting.len());
    for deploy in waiting {
        let Some(environment) = environments.get(&deploy.environment_id) else {
            continue;
        };
        let plan = stored
            .remove(&deploy.id)
            .map(|json| plans::read(deploy.id, json).map(Arc::new))
            .transpose()?;
        candidates.push(Candidate {
            decisions: decisions.remove(&deploy.id).unwrap_or_default(),
            environment: environment.clone(),
            plan,
            deploy: Arc::new(deploy),
        });
    }
    Ok(WaitingList {
        candidates,
        approval_environments,
        teams,
    })
}

impl WaitingList {
    /// The deploys of this list that wait for `user` (`waits_for`), oldest
    /// first, from the `skip`-th, at most `take`; and how many wait in all.
    pub fn narrowed_to(
        &self,
        user: &CurrentUser,
        skip: usize,
        take: usize,
    ) -> (Vec<QueueEntry>, usize) {
        let mine: Vec<&Candidate> = self
            .candidates
            .iter()
            .filter(|c| {
                let has_decided = c
                    .decisions
                    .iter()
                    .any(|a| a.is_current() && a.user_id == Some(user.id));
                waits_for(
                    user,
                    &policy::Approvers::of(&c.environment),
                    &policy::Parties::of(&c.deploy),
                    has_decided,
                )
            })
            .collect();
        let total = mine.len();
        // Newest first from the store; the queue shows the oldest first.
        let shown = mine.into_iter().rev().skip(skip).take(take);
        let entries = shown
            .map(|c| QueueEntry {
                approvals_required: c.environment.approvals_required,
                approvals: c
                    .decisions
                    .iter()
                    .filter(|a| {
                        a.is_current()
                            && a.decision == Decision::Approve
                            && a.digest == c.deploy.content_digest
                    })
                    .count(),
                plan: c.plan.clone(),
                deploy: c.deploy.clone(),
            })
            .collect();
        (entries, total)
    }
}

/// Every deploy waiting for `user`'s decision under `filter`, oldest first,
/// read from the database now (the API, the cluster overview).
pub async fn queue(
    db: &PgPool,
    user: &CurrentUser,
    filter: &QueueFilter,
) -> Result<Vec<QueueEntry>, AppError> {
    let list = read_waiting(db, &filter.key()).await?;
    Ok(list.narrowed_to(user, 0, usize::MAX).0)
}

/// The [`WaitingList`] of `filter` that `shared` holds (read at most a
/// second ago, never before a write through this server), for the portal's
/// queue page, which approvers keep open; the page narrows it to its viewer
/// with [`WaitingList::narrowed_to`]. Each decision reads the database.
pub async fn shared_waiting(
    shared: &Shared<WaitingKey, WaitingList>,
    db: &PgPool,
    filter: &QueueFilter,
) -> Result<Arc<WaitingList>, AppError> {
    let key = filter.key();
    shared
        .get_or_read(key.clone(), || read_waiting(db, &key))
        .await
}

/// How long the navigation bar's list of waiting deploys is reused.
const PENDING_FOR: Duration = Duration::from_secs(1);

/// The waiting deploys as read: when, in which generation, and the list.
type ReadList = (Instant, u64, Arc<Vec<deploys::Awaiting>>);

/// The navigation bar's count of deploys waiting for the signed-in user's
/// decision, on every page view. The waiting deploys (with who has decided
/// each) are read once and reused by every user's count for up to
/// [`PENDING_FOR`]; a write through this server (`invalidate`, called after
/// every portal and API request that is not a read) reads them afresh. So a
/// decision or request made here shows in the count at once, and one made
/// elsewhere (another replica, the webhook judge, the sweep) within a second.
/// The count is only a hint: the queue and every decision read the database.
#[derive(Debug, Default)]
pub struct PendingCounts {
    /// The list, when it was read, and the generation it was read in.
    slot: std::sync::Mutex<Option<ReadList>>,
    /// Moved on by `invalidate`.
    generation: AtomicU64,
    /// One refresh at a time; the others wait for it and use its list.
    refresh: tokio::sync::Mutex<()>,
}

impl PendingCounts {
    /// Drops the list: the next count reads the database.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn fresh(&self) -> Option<Arc<Vec<deploys::Awaiting>>> {
        let slot = self.slot.lock().ok()?;
        let (read_at, generation, list) = slot.as_ref()?;
        (read_at.elapsed() < PENDING_FOR && *generation == self.generation.load(Ordering::SeqCst))
            .then(|| list.clone())
    }

    async fn list(&self, db: &PgPool) -> Result<Arc<Vec<deploys::Awaiting>>, AppError> {
        if let Some(list) = self.fresh() {
            return Ok(list);
        }
        let _one = self.refresh.lock().await;
        if let Some(list) = self.fresh() {
            return Ok(list);
        }
        // Taken before the read: an invalidation during it makes it stale.
        let generation = self.generation.load(Ordering::SeqCst);
        let list = Arc::new(deploys::awaiting(db, QUEUE_LIMIT).await?);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Instant::now(), generation, list.clone()));
        }
        Ok(list)
    }

    /// How many deploys wait for `user`'s decision.
    pub async fn count(&self, db: &PgPool, user: &CurrentUser) -> Result<usize, AppError> {
        Ok(self
            .list(db)
            .await?
            .iter()
            .filter(|w| {
                waits_for(
                    user,
                    &policy::Approvers {
                        environment: &w.environment,
                        teams: &w.approver_teams,
                    },
                    &policy::Parties {
                        requested_by_id: w.requested_by_id,
                        revision_author_id: w.revision_author_id,
                        pusher: &w.pusher,
                        pusher_email: &w.pusher_email,
                    },
                    w.deciders.contains(&user.id),
                )
            })
            .count())
    }
}

/// One deploy of a decision on several, with what the approver was shown.
#[derive(Clone, Debug)]
pub struct Selected {
    /// The deploy.
    pub id: i64,
    /// The digest shown.
    pub digest: String,
    /// When the plan shown was computed (RFC 3339).
    pub plan_computed_at: String,
}

/// Decides several deploys from the queue, each in its own transaction. An
/// approval from a list is only for clean plans: a deploy whose plan needs a
/// closer look is refused here with the reasons (open it to decide). Returns
/// each deploy's outcome, in the order given.
pub async fn decide_many(
    db: &PgPool,
    user: &CurrentUser,
    actor: &Actor,
    selected: &[Selected],
    decision: Decision,
    comment: &str,
) -> Result<Vec<(i64, Result<Deploy, AppError>)>, AppError> {
    let entries: HashMap<i64, QueueEntry> = queue(db, user, &QueueFilter::default())
        .await?
        .into_iter()
        .map(|e| (e.deploy.id, e))
        .collect();
    let mut out = Vec::with_capacity(selected.len());
    for s in selected {
        if decision == Decision::Approve
            && let Some(entry) = entries.get(&s.id)
        {
            let why = entry.unclean();
            if !why.is_empty() {
                out.push((
                    s.id,
                    Err(AppError::Conflict(format!(
                        "Deploy #{} needs a closer look ({}); open it to decide.",
                        s.id,
                        why.join(", ")
                    ))),
                ));
                continue;
            }
        }
        let seen = Seen {
            revision_hash: None,
            image: None,
            digest: Some(s.digest.clone()),
            plan_computed_at: Some(s.plan_computed_at.clone()),
        };
        let result = domain::decide(db, s.id, user, actor, decision, comment, &seen).await;
        out.push((s.id, result));
    }
    Ok(out)
}
