//! A scheduled service's status: its CronJob's schedule and the recent runs
//! (the Jobs it made), read from the watched objects. Pure, like `model`.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use crate::render::{ANNOTATION_DEPLOY_ID, ANNOTATION_REVISION};

/// Runs shown per schedule at most (the CronJob's history limits keep about
/// this many anyway).
pub const RECENT_RUNS: usize = 10;

/// What `kubectl create job --from=cronjob/…` marks its Job with.
const MANUAL_ANNOTATION: &str = "cronjob.kubernetes.io/instantiate";

/// A CronJob: when it runs and how its runs went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Object name.
    pub name: String,
    /// The cron expression.
    pub schedule: String,
    /// Its time zone, when the spec sets one (else the controller's, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Whether new runs are held (`suspend: true`).
    pub suspended: bool,
    /// When the controller last started a run (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_schedule: Option<String>,
    /// When a run last succeeded (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    /// Runs going on now.
    pub active: usize,
    /// The image of its main container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The deploy that last applied it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_id: Option<String>,
    /// The revision it was rendered from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Its recent runs, newest first (at most [`RECENT_RUNS`]).
    pub runs: Vec<JobRun>,
}

/// One run: a Job the CronJob made (or one made from it by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRun {
    /// The Job's name.
    pub name: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// Started by hand (`kubectl create job --from=cronjob/…`), not by the schedule.
    pub manual: bool,
    /// When it started (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// When it ended (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// How long it ran, in seconds, once ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<i64>,
    /// Pods that succeeded.
    pub succeeded: i32,
    /// Pods that failed.
    pub failed: i32,
    /// Why it failed, as the Job controller says (`BackoffLimitExceeded: …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it started, in seconds since the Unix epoch (for explanations).
    #[serde(skip)]
    pub started_epoch: Option<i64>,
    /// When it ended, likewise.
    #[serde(skip)]
    pub finished_epoch: Option<i64>,
}

fn annotation(meta: &ObjectMeta, key: &str) -> Option<String> {
    meta.annotations.as_ref()?.get(key).cloned()
}

fn owned_by(job: &Job, cron: &CronJob) -> bool {
    job.metadata.owner_references.iter().flatten().any(|o| {
        o.kind == "CronJob"
            && Some(&o.name) == cron.metadata.name.as_ref()
            && cron.metadata.uid.as_ref().is_none_or(|uid| &o.uid == uid)
    })
}

/// A Job as a run.
pub fn run(job: &Job) -> JobRun {
    let status = job.status.clone().unwrap_or_default();
    let condition = |type_: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == type_ && c.status == "True")
            .cloned()
    };
    let failed_condition = condition("Failed");
    let state = if condition("Complete").is_some() {
        "succeeded"
    } else if failed_condition.is_some() {
        "failed"
    } else {
        "running"
    };
    let started = status.start_time.as_ref().map(|t| t.0);
    let finished = status.completion_time.as_ref().map(|t| t.0).or_else(|| {
        failed_condition
            .as_ref()
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t: &Time| t.0)
    });
    JobRun {
        name: job.metadata.name.clone().unwrap_or_default(),
        state: state.into(),
        manual: annotation(&job.metadata, MANUAL_ANNOTATION).as_deref() == Some("manual"),
        started: started.map(|t| t.to_string()),
        finished: finished.map(|t| t.to_string()),
        duration_secs: started
            .zip(finished)
            .map(|(s, f)| (f.as_second() - s.as_second()).max(0)),
        succeeded: status.succeeded.unwrap_or(0),
        failed: status.failed.unwrap_or(0),
        reason: failed_condition.map(|c| match (c.reason.as_deref(), c.message.as_deref()) {
            (Some(r), Some(m)) => format!("{r}: {m}"),
            (Some(r), None) => r.to_owned(),
            (None, Some(m)) => m.to_owned(),
            (None, None) => "failed".to_owned(),
        }),
        started_epoch: started.map(|t| t.as_second()),
        finished_epoch: finished.map(|t| t.as_second()),
    }
}

/// A CronJob with its runs, picked from `jobs` by owner.
pub fn schedule<'a>(cron: &CronJob, jobs: impl IntoIterator<Item = &'a Job>) -> Schedule {
    let spec = cron.spec.clone();
    let status = cron.status.clone().unwrap_or_default();
    let mut owned: Vec<&Job> = jobs.into_iter().filter(|j| owned_by(j, cron)).collect();
    // Newest first; a Job not started yet is newer than every started one.
    owned.sort_by_key(|j| {
        std::cmp::Reverse((
            j.metadata.creation_timestamp.as_ref().map(|t| t.0),
            j.metadata.name.clone(),
        ))
    });
    owned.truncate(RECENT_RUNS);
    Schedule {
        name: cron.metadata.name.clone().unwrap_or_default(),
        schedule: spec.schedule,
        time_zone: spec.time_zone,
        suspended: spec.suspend.unwrap_or(false),
        last_schedule: status.last_schedule_time.map(|t| t.0.to_string()),
        last_success: status.last_successful_time.map(|t| t.0.to_string()),
        active: status.active.map_or(0, |a| a.len()),
        image: spec
            .job_template
            .spec
            .as_ref()
            .and_then(|j| j.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.image.clone()),
        deploy_id: annotation(&cron.metadata, ANNOTATION_DEPLOY_ID),
        revision: annotation(&cron.metadata, ANNOTATION_REVISION),
        runs: owned.into_iter().map(run).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    fn job(name: &str, owner: &str, created: &str, status: JobStatus) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(at(created)),
                owner_references: Some(vec![OwnerReference {
                    kind: "CronJob".into(),
                    name: owner.into(),
                    uid: "u1".into(),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            status: Some(status),
            ..Job::default()
        }
    }

    fn cron() -> CronJob {
        CronJob {
            metadata: ObjectMeta {
                name: Some("nightly".into()),
                uid: Some("u1".into()),
                ..ObjectMeta::default()
            },
            spec: CronJobSpec {
                schedule: "0 3 * * *".into(),
                suspend: Some(true),
                ..CronJobSpec::default()
            },
            status: None,
        }
    }

    fn condition(type_: &str, reason: &str, message: &str, at_: &str) -> JobCondition {
        JobCondition {
            type_: type_.into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_transition_time: Some(at(at_)),
            ..JobCondition::default()
        }
    }

    #[test]
    fn runs_are_its_own_jobs_newest_first_with_state_duration_and_reason() {
        let ok = job(
            "nightly-1",
            "nightly",
            "2026-12-01T03:00:00Z",
            JobStatus {
                start_time: Some(at("2026-12-01T03:00:01Z")),
                completion_time: Some(at("2026-12-01T03:00:43Z")),
                succeeded: Some(1),
                conditions: Some(vec![condition(
                    "Complete",
                    "Completed",
                    "",
                    "2026-12-01T03:00:43Z",
                )]),
                ..JobStatus::default()
            },
        );
        let failed = job(
            "nightly-2",
            "nightly",
            "2026-12-02T03:00:00Z",
            JobStatus {
                start_time: Some(at("2026-12-02T03:00:01Z")),
                failed: Some(3),
                conditions: Some(vec![condition(
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    "2026-12-02T03:01:11Z",
                )]),
                ..JobStatus::default()
            },
        );
        let running = job(
            "nightly-3",
            "nightly",
            "2026-12-03T03:00:00Z",
            JobStatus {
                start_time: Some(at("2026-12-03T03:00:01Z")),
                ..JobStatus::default()
            },
        );
        let neighbour = job(
            "nightly-report-1",
            "nightly-report",
            "2026-12-03T04:00:00Z",
            JobStatus::default(),
        );
        let jobs = [ok, neighbour, failed, running];
        let s = schedule(&cron(), &jobs);
        assert!(s.suspended);
        assert_eq!(s.schedule, "0 3 * * *");
        let names: Vec<_> = s.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["nightly-3", "nightly-2", "nightly-1"]);
        assert_eq!(s.runs[0].state, "running");
        assert_eq!(s.runs[0].duration_secs, None);
        assert_eq!(s.runs[1].state, "failed");
        assert_eq!(s.runs[1].duration_secs, Some(70));
        assert_eq!(
            s.runs[1].reason.as_deref(),
            Some("BackoffLimitExceeded: Job has reached the specified backoff limit")
        );
        assert_eq!(s.runs[2].state, "succeeded");
        assert_eq!(s.runs[2].duration_secs, Some(42));
        assert_eq!(s.runs[2].reason, None);
    }

    #[test]
    fn a_job_of_a_recreated_cronjob_of_the_same_name_is_not_its_run() {
        let mut other = job(
            "nightly-9",
            "nightly",
            "2026-12-01T03:00:00Z",
            JobStatus::default(),
        );
        other.metadata.owner_references.as_mut().unwrap()[0].uid = "old".into();
        assert!(schedule(&cron(), [&other]).runs.is_empty());
    }
}
