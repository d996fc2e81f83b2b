//! "Why is it (not) scaling": the status's numbers in sentences, each from an
//! observed fact (a condition, a count, a scheduler message), never a guess.
//! Pure: the status and the time in, explanations out; problems first.

use super::cron::Schedule;
use super::model::{Autoscaler, AutoscalerMetric, Explanation, ServiceStatus};

/// How long after a scale the page mentions it.
const RECENT_SCALE_SECS: i64 = 10 * 60;

fn say(code: &str, message: String) -> Explanation {
    Explanation {
        code: code.to_owned(),
        message,
    }
}

fn plural(n: i32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `cpu at 300% (target 70%)`, for the metrics that have a current value.
fn readings(metrics: &[AutoscalerMetric], pick: impl Fn(&AutoscalerMetric) -> bool) -> String {
    metrics
        .iter()
        .filter(|m| m.current.is_some() && pick(m))
        .map(|m| {
            let of = if m.target.ends_with('%') {
                " of the request"
            } else {
                ""
            };
            format!(
                "{} at {}{of} (target {})",
                m.name,
                m.current.as_deref().unwrap_or_default(),
                m.target
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn above(m: &AutoscalerMetric) -> bool {
    m.ratio.is_some_and(|r| r > 1.0)
}

/// The HPA controller leaves a ratio within 10% of 1.0 alone
/// (`--horizontal-pod-autoscaler-tolerance`, default 0.1).
fn beyond_tolerance(m: &AutoscalerMetric) -> bool {
    m.ratio.is_some_and(|r| r > 1.1)
}

/// The replicas the controller's formula gives when every metric is read and
/// below target past its tolerance, when that is fewer than now:
/// `ceil(current × ratio)` for the highest ratio, at least the minimum.
fn fewer_would_do(h: &Autoscaler) -> Option<i32> {
    let ratios: Option<Vec<f64>> = h.metrics.iter().map(|m| m.ratio).collect();
    let highest = ratios?.into_iter().reduce(f64::max)?;
    if highest >= 0.9 {
        return None;
    }
    // A replica count times a ratio below 1: small, finite, not negative.
    #[allow(clippy::cast_possible_truncation)]
    let wanted = ((f64::from(h.current) * highest).ceil() as i32).max(h.min);
    (wanted < h.current).then_some(wanted)
}

fn ago(secs: i64) -> String {
    match secs {
        s if s < 90 => format!("{s} s ago"),
        s if s < 90 * 60 => format!("{} min ago", (s + 30) / 60),
        s => format!("{} h ago", (s + 1800) / 3600),
    }
}

/// The explanations of `status` at `now` (seconds since the Unix epoch).
pub fn explain(status: &ServiceStatus, now: i64) -> Vec<Explanation> {
    let mut out = Vec::new();
    if status.stale {
        out.push(say(
            "stale",
            match &status.stale_since {
                Some(since) => format!(
                    "The cluster has not answered since {since}: these numbers may be behind."
                ),
                None => "The view of the cluster is still syncing: these numbers may be behind."
                    .to_owned(),
            },
        ));
    }
    pods(status, &mut out);
    match &status.hpa {
        Some(h) => autoscaling(h, status, now, &mut out),
        None if status.replicas.desired > 0 => out.push(say(
            "fixed-replicas",
            format!(
                "No autoscaler: the spec fixes {} at {}.",
                if status.workloads.len() > 1 {
                    "the replicas of each workload"
                } else {
                    "the replicas"
                },
                status.replicas.desired
            ),
        )),
        None => {}
    }
    if status.replicas.updated < status.replicas.desired {
        let older: Vec<String> = status
            .workloads
            .iter()
            .flat_map(|w| &w.replica_sets)
            .filter(|rs| !rs.newest && rs.current > 0)
            .map(|rs| {
                format!(
                    "{}{} still has {}",
                    rs.name,
                    rs.revision
                        .as_deref()
                        .map(|r| format!(" (revision {r})"))
                        .unwrap_or_default(),
                    plural(rs.current, "pod", "pods")
                )
            })
            .collect();
        let older = match older.as_slice() {
            [] => String::new(),
            [one] => format!(" The older ReplicaSet {one}."),
            many => format!(" The older ReplicaSets: {}.", many.join("; ")),
        };
        out.push(say(
            "rolling-out",
            format!(
                "A rollout is in progress: {} of {} on the newest template.{older}",
                status.replicas.updated,
                plural(status.replicas.desired, "pod", "pods")
            ),
        ));
    }
    if let Some(c) = &status.cron {
        schedule(c, now, &mut out);
    }
    for b in &status.disruption_budgets {
        if b.allowed == 0 && b.expected > 0 {
            out.push(say(
                "disruption-blocked",
                format!(
                    "The disruption budget {} allows no voluntary disruption now ({} healthy, {} required): node drains and evictions wait until more pods are ready.",
                    b.name, b.current_healthy, b.desired_healthy
                ),
            ));
        }
    }
    out
}

/// A scheduled service runs on its schedule, not on replicas: what holds its
/// runs, and how the last one went.
fn schedule(c: &Schedule, now: i64, out: &mut Vec<Explanation>) {
    let when = format!(
        "`{}`{}",
        c.schedule,
        c.time_zone
            .as_deref()
            .map(|z| format!(" ({z})"))
            .unwrap_or_default()
    );
    if c.suspended {
        out.push(say(
            "cron-suspended",
            format!(
                "The schedule {when} is suspended: no run starts until the spec sets `suspend: false` and is deployed."
            ),
        ));
    }
    let Some(last) = c.runs.first() else {
        if !c.suspended {
            out.push(say(
                "cron-no-run-yet",
                format!("Runs on the schedule {when}; no run yet."),
            ));
        }
        return;
    };
    let how = if last.manual { "by hand" } else { "scheduled" };
    let started = last
        .started_epoch
        .map(|t| format!(", started {}", ago(now - t)))
        .unwrap_or_default();
    let (code, message) = match last.state.as_str() {
        "failed" => (
            "cron-last-run-failed",
            format!(
                "The last run {} ({how}{started}) failed after {} failed pod{}: {}.",
                last.name,
                last.failed,
                if last.failed == 1 { "" } else { "s" },
                last.reason.as_deref().unwrap_or("the Job gave no reason")
            ),
        ),
        "succeeded" => (
            "cron-last-run-succeeded",
            format!(
                "The last run {} ({how}{started}) succeeded{}; runs on the schedule {when}.",
                last.name,
                last.duration_secs
                    .map(|d| format!(" in {d} s"))
                    .unwrap_or_default()
            ),
        ),
        _ => (
            "cron-running",
            format!("Run {} ({how}{started}) is running.", last.name),
        ),
    };
    out.push(say(code, message));
}

fn pods(status: &ServiceStatus, out: &mut Vec<Explanation>) {
    let unschedulable: Vec<_> = status.pods.iter().filter(|p| p.unschedulable).collect();
    if let Some(first) = unschedulable.first() {
        let why = first
            .problems
            .iter()
            .find_map(|p| p.strip_prefix("cannot be scheduled: "))
            .unwrap_or("the scheduler found no node for it");
        out.push(say(
            "pods-unschedulable",
            format!(
                "{} Pending because no node fits: {why}",
                if unschedulable.len() == 1 {
                    format!("Pod {} is", first.name)
                } else {
                    format!("{} pods are", unschedulable.len())
                }
            ),
        ));
    }
    for p in status.pods.iter().filter(|p| !p.unschedulable) {
        if let Some(problem) = p.problems.first() {
            out.push(say(
                "pod-problem",
                format!("Pod {} {problem}.", p.name).replace("..", "."),
            ));
        }
    }
}

fn autoscaling(h: &Autoscaler, status: &ServiceStatus, now: i64, out: &mut Vec<Explanation>) {
    let active = h.condition("ScalingActive");
    if let Some(c) = active.filter(|c| c.status == "False") {
        let missing: Vec<_> = h
            .metrics
            .iter()
            .filter(|m| m.current.is_none())
            .map(|m| m.name.as_str())
            .collect();
        let which = if missing.is_empty() {
            String::new()
        } else {
            format!(
                " ({} {} no current value)",
                missing.join(", "),
                if missing.len() == 1 { "has" } else { "have" }
            )
        };
        out.push(say(
            "metrics-unavailable",
            format!(
                "The autoscaler cannot act: it cannot read its metrics{which}. {}: {}",
                c.reason.as_deref().unwrap_or("ScalingActive is False"),
                c.message.as_deref().unwrap_or("no message")
            ),
        ));
        return;
    }
    if h.conditions.is_empty() {
        out.push(say(
            "autoscaler-new",
            format!(
                "The autoscaler {} has not reported yet; it reads its metrics every 15 s.",
                h.name
            ),
        ));
        return;
    }
    let limited = h
        .condition("ScalingLimited")
        .filter(|c| c.status == "True")
        .and_then(|c| c.reason.as_deref());
    let able = h.condition("AbleToScale").and_then(|c| c.reason.as_deref());
    let hot = readings(&h.metrics, above);
    let all = readings(&h.metrics, |_| true);
    if h.desired > h.current {
        // Below its minimum the controller raises the count whatever the
        // metrics say (often before it has any reading, on a first deploy).
        let why = if h.current < h.min {
            format!("the minimum is {}", plural(h.min, "replica", "replicas"))
        } else if !hot.is_empty() {
            hot.clone()
        } else if !all.is_empty() {
            all.clone()
        } else {
            "no metric reading shown yet".to_owned()
        };
        out.push(say(
            "scaling-out",
            format!("Scaling out from {} to {}: {why}.", h.current, h.desired),
        ));
    } else if h.desired < h.current {
        let why = if h.current > h.max {
            format!("the maximum is {}", plural(h.max, "replica", "replicas"))
        } else if !all.is_empty() {
            all.clone()
        } else {
            "no metric reading shown yet".to_owned()
        };
        out.push(say(
            "scaling-in",
            format!("Scaling in from {} to {}: {why}.", h.current, h.desired),
        ));
    } else if limited == Some("TooManyReplicas") && !hot.is_empty() {
        out.push(say(
            "at-max-above-target",
            format!(
                "At its maximum of {} and still above target: {hot}. Raise the maximum (spec autoscaling.maxReplicas) or lower the load per pod.",
                plural(h.max, "replica", "replicas")
            ),
        ));
    } else if limited == Some("TooManyReplicas") {
        out.push(say(
            "at-max",
            format!(
                "At its maximum of {}{}.",
                plural(h.max, "replica", "replicas"),
                if all.is_empty() {
                    String::new()
                } else {
                    format!(": {all}")
                }
            ),
        ));
    } else if limited == Some("TooFewReplicas") {
        out.push(say(
            "at-min",
            format!(
                "At its minimum of {}{}.",
                plural(h.min, "replica", "replicas"),
                if all.is_empty() {
                    String::new()
                } else {
                    format!(": {all}, fewer would do")
                }
            ),
        ));
    } else if limited == Some("ScaleUpLimit") {
        out.push(say(
            "scale-up-limited",
            format!(
                "Wants more than {} ({}) but adds replicas no faster than its scale-up policy allows (by default 4 pods or double every 15 s): more come at its next syncs.",
                plural(h.current, "replica", "replicas"),
                if hot.is_empty() { &all } else { &hot }
            ),
        ));
    } else if limited == Some("ScaleDownLimit") {
        out.push(say(
            "scale-down-limited",
            format!(
                "Wants fewer than {} ({all}) but removes replicas no faster than its scale-down policy allows.",
                plural(h.current, "replica", "replicas")
            ),
        ));
    } else if h.metrics.iter().any(beyond_tolerance)
        && able != Some("ScaleUpStabilized")
        && !able.is_some_and(|a| a.starts_with("Backoff"))
    {
        // Above target past the controller's 10% tolerance, and nothing
        // reported that holds it: the next sync (every 15 s) acts.
        out.push(say(
            "above-target",
            format!(
                "Above target at {}: {}; the autoscaler adds replicas at its next sync (every 15 s).",
                plural(h.current, "replica", "replicas"),
                readings(&h.metrics, beyond_tolerance)
            ),
        ));
    } else if let Some(fewer) = fewer_would_do(h)
        && able != Some("ScaleDownStabilized")
        && !able.is_some_and(|a| a.starts_with("Backoff"))
    {
        out.push(say(
            "below-target",
            format!(
                "Below target at {}: {all}; {fewer} would do. The autoscaler removes replicas at a next sync (every 15 s); pods it has no reading of yet (new, or not ready) count as on target when it scales in, which can hold it for a while.",
                plural(h.current, "replica", "replicas")
            ),
        ));
    } else if able != Some("ScaleDownStabilized") && able != Some("ScaleUpStabilized") {
        out.push(say(
            "within-target",
            format!(
                "Holding at {}: {}.",
                plural(h.current, "replica", "replicas"),
                if all.is_empty() {
                    "metrics are within their targets".to_owned()
                } else {
                    format!("{all}, within target")
                }
            ),
        ));
    }
    match able {
        Some("ScaleDownStabilized") => out.push(say(
            "scale-down-stabilized",
            format!(
                "Scaling in is held by the stabilization window: the autoscaler keeps the highest recommendation of the last minutes (by default 5) before it removes pods{}.{}",
                if all.is_empty() {
                    String::new()
                } else {
                    format!(" ({all} now)")
                },
                h.condition("AbleToScale")
                    .and_then(|c| c.message.as_deref())
                    .map(|m| format!(" The controller says: {m}."))
                    .unwrap_or_default()
            ),
        )),
        Some("ScaleUpStabilized") => out.push(say(
            "scale-up-stabilized",
            "Scaling out is held by the scale-up stabilization window of the spec's behavior."
                .to_owned(),
        )),
        Some("BackoffBoth" | "BackoffDownscale" | "BackoffUpscale") => out.push(say(
            "scale-backoff",
            format!(
                "The autoscaler just scaled and waits before the next change: {}",
                h.condition("AbleToScale")
                    .and_then(|c| c.message.as_deref())
                    .unwrap_or("back-off")
            ),
        )),
        _ => {}
    }
    if let Some(at) = h.last_scale_epoch
        && now >= at
        && now - at < RECENT_SCALE_SECS
    {
        out.push(say(
            "recently-scaled",
            format!(
                "Last scaled {} (to {}).",
                ago(now - at),
                // The controller writes the count it scaled to and the time
                // together; the current count catches up after.
                plural(h.desired, "replica", "replicas")
            ),
        ));
    }
    if h.desired > h.current && status.pods.iter().any(|p| p.unschedulable) {
        out.push(say(
            "scale-out-pending",
            "The new replicas are waiting for a node (see the Pending pods above).".to_owned(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::cron::JobRun;
    use super::super::model::{
        Autoscaler, AutoscalerMetric, Condition, DisruptionBudget, PodStatus, ReplicaSetInfo,
        Replicas, ServiceStatus, Workload,
    };
    use super::*;

    fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
        }
    }

    fn cpu(current: Option<i32>) -> AutoscalerMetric {
        AutoscalerMetric {
            kind: "Resource".into(),
            name: "cpu".into(),
            target: "70%".into(),
            current: current.map(|c| format!("{c}%")),
            ratio: current.map(|c| f64::from(c) / 70.0),
        }
    }

    fn hpa(
        current: i32,
        desired: i32,
        cpu_now: Option<i32>,
        conditions: Vec<Condition>,
    ) -> Autoscaler {
        Autoscaler {
            name: "web".into(),
            min: 2,
            max: 5,
            current,
            desired,
            metrics: vec![cpu(cpu_now)],
            conditions,
            last_scale_time: None,
            last_scale_epoch: None,
        }
    }

    fn status(hpa: Option<Autoscaler>) -> ServiceStatus {
        let replicas = Replicas {
            desired: 5,
            updated: 5,
            ready: 5,
            available: 5,
        };
        ServiceStatus {
            replicas: replicas.clone(),
            workloads: vec![Workload {
                kind: "Deployment".into(),
                name: "web".into(),
                color: None,
                replicas,
                image: Some("shop/web:1".into()),
                deploy_id: None,
                revision: None,
                replica_sets: Vec::new(),
            }],
            hpa,
            ..ServiceStatus::default()
        }
    }

    fn codes(e: &[Explanation]) -> Vec<&str> {
        e.iter().map(|e| e.code.as_str()).collect()
    }

    fn able() -> Condition {
        condition(
            "AbleToScale",
            "True",
            "ReadyForNewScale",
            "recommended size matches current size",
        )
    }

    fn active() -> Condition {
        condition(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            "the HPA was able to compute",
        )
    }

    #[test]
    fn below_its_minimum_before_any_reading_names_the_minimum_and_the_count_scaled_to() {
        // A first deploy: the Deployment starts at 1, the controller raises it
        // to the minimum before metrics-server has read any pod.
        let mut h = hpa(
            1,
            2,
            None,
            vec![condition(
                "AbleToScale",
                "True",
                "SucceededRescale",
                "the HPA controller was able to update the target scale to 2",
            )],
        );
        h.last_scale_epoch = Some(990);
        let e = explain(&status(Some(h)), 1_000);
        assert_eq!(codes(&e), ["scaling-out", "recently-scaled"]);
        assert_eq!(
            e[0].message,
            "Scaling out from 1 to 2: the minimum is 2 replicas."
        );
        assert_eq!(e[1].message, "Last scaled 10 s ago (to 2 replicas).");
    }

    #[test]
    fn scaling_out_with_no_reading_says_there_is_none_rather_than_nothing() {
        let h = hpa(3, 4, None, vec![able()]);
        let e = explain(&status(Some(h)), 0);
        assert_eq!(
            e[0].message,
            "Scaling out from 3 to 4: no metric reading shown yet."
        );
    }

    #[test]
    fn at_the_maximum_and_still_above_target_says_so_with_the_numbers() {
        let h = hpa(
            5,
            5,
            Some(300),
            vec![
                able(),
                active(),
                condition(
                    "ScalingLimited",
                    "True",
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                ),
            ],
        );
        let e = explain(&status(Some(h)), 0);
        assert_eq!(codes(&e), ["at-max-above-target"]);
        assert_eq!(
            e[0].message,
            "At its maximum of 5 replicas and still above target: cpu at 300% of the request (target 70%). Raise the maximum (spec autoscaling.maxReplicas) or lower the load per pod."
        );
    }

    #[test]
    fn load_removed_names_the_stabilization_window() {
        let h = hpa(
            5,
            5,
            Some(2),
            vec![
                condition(
                    "AbleToScale",
                    "True",
                    "ScaleDownStabilized",
                    "recent recommendations were higher than current one, applying the highest recent recommendation",
                ),
                active(),
                condition(
                    "ScalingLimited",
                    "False",
                    "DesiredWithinRange",
                    "the desired count is within the acceptable range",
                ),
            ],
        );
        let e = explain(&status(Some(h)), 0);
        assert_eq!(codes(&e), ["scale-down-stabilized"]);
        assert!(
            e[0].message.contains("stabilization window"),
            "{}",
            e[0].message
        );
        assert!(
            e[0].message
                .contains("cpu at 2% of the request (target 70%) now"),
            "{}",
            e[0].message
        );
        assert!(
            e[0].message
                .ends_with("The controller says: recent recommendations were higher than current one, applying the highest recent recommendation."),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn metrics_unavailable_names_the_metric_and_the_controllers_reason() {
        let h = hpa(
            2,
            2,
            None,
            vec![
                able(),
                condition(
                    "ScalingActive",
                    "False",
                    "FailedGetResourceMetric",
                    "the HPA was unable to compute the replica count: failed to get cpu utilization",
                ),
            ],
        );
        let e = explain(&status(Some(h)), 0);
        assert_eq!(codes(&e), ["metrics-unavailable"]);
        assert_eq!(
            e[0].message,
            "The autoscaler cannot act: it cannot read its metrics (cpu has no current value). FailedGetResourceMetric: the HPA was unable to compute the replica count: failed to get cpu utilization"
        );
    }

    #[test]
    fn scaling_out_recently_and_waiting_for_nodes() {
        let mut h = hpa(2, 5, Some(300), vec![able(), active()]);
        h.last_scale_epoch = Some(1_000);
        let mut s = status(Some(h));
        s.pods = vec![PodStatus {
            name: "web-1".into(),
            phase: "Pending".into(),
            ready: false,
            restarts: 0,
            node: None,
            zone: None,
            created_at: None,
            created_epoch: None,
            last_termination: None,
            problems: vec![
                "cannot be scheduled: 0/4 nodes are available: 4 Insufficient cpu.".into(),
            ],
            unschedulable: true,
            color: None,
            containers: vec!["app".into()],
        }];
        let e = explain(&s, 1_120);
        assert_eq!(
            codes(&e),
            [
                "pods-unschedulable",
                "scaling-out",
                "recently-scaled",
                "scale-out-pending"
            ]
        );
        assert_eq!(
            e[0].message,
            "Pod web-1 is Pending because no node fits: 0/4 nodes are available: 4 Insufficient cpu."
        );
        assert_eq!(
            e[1].message,
            "Scaling out from 2 to 5: cpu at 300% of the request (target 70%)."
        );
        assert_eq!(e[2].message, "Last scaled 2 min ago (to 5 replicas).");
        // Long ago, it is not news.
        assert!(!codes(&explain(&s, 1_000 + RECENT_SCALE_SECS)).contains(&"recently-scaled"));
    }

    #[test]
    fn fixed_replicas_a_rollout_a_blocking_budget_and_staleness() {
        let mut s = status(None);
        s.replicas.updated = 1;
        s.disruption_budgets = vec![DisruptionBudget {
            name: "web".into(),
            allowed: 0,
            current_healthy: 1,
            desired_healthy: 1,
            expected: 1,
        }];
        s.stale = true;
        s.stale_since = Some("2026-12-02T10:00:00Z".into());
        let e = explain(&s, 0);
        assert_eq!(
            codes(&e),
            [
                "stale",
                "fixed-replicas",
                "rolling-out",
                "disruption-blocked"
            ]
        );
        assert!(e[0].message.contains("since 2026-12-02T10:00:00Z"));
        assert_eq!(
            e[1].message,
            "No autoscaler: the spec fixes the replicas at 5."
        );
        assert_eq!(
            e[2].message,
            "A rollout is in progress: 1 of 5 pods on the newest template."
        );
        assert!(e[3].message.starts_with(
            "The disruption budget web allows no voluntary disruption now (1 healthy, 1 required)"
        ));
    }

    #[test]
    fn within_target_at_the_minimum_and_a_new_autoscaler() {
        let limited_min = condition(
            "ScalingLimited",
            "True",
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        );
        let e = explain(
            &status(Some(hpa(
                2,
                2,
                Some(2),
                vec![able(), active(), limited_min],
            ))),
            0,
        );
        assert_eq!(e[0].code, "at-min");
        assert_eq!(
            e[0].message,
            "At its minimum of 2 replicas: cpu at 2% of the request (target 70%), fewer would do."
        );
        let e = explain(
            &status(Some(hpa(3, 3, Some(50), vec![able(), active()]))),
            0,
        );
        assert_eq!(
            e[0].message,
            "Holding at 3 replicas: cpu at 50% of the request (target 70%), within target."
        );
        let e = explain(&status(Some(hpa(0, 0, None, vec![]))), 0);
        assert_eq!(codes(&e), ["autoscaler-new"]);
    }

    #[test]
    fn a_crashing_pod_is_named_with_its_problem() {
        let mut s = status(None);
        s.pods = vec![PodStatus {
            name: "web-2".into(),
            phase: "Running".into(),
            ready: false,
            restarts: 3,
            node: Some("vm".into()),
            zone: None,
            created_at: None,
            created_epoch: None,
            last_termination: Some("Error (exit 1)".into()),
            problems: vec!["container app exited with code 1 (Error), restarted 3 times and keeps crashing (CrashLoopBackOff)".into()],
            unschedulable: false,
            color: None,
            containers: vec!["app".into()],
        }];
        let e = explain(&s, 0);
        assert_eq!(e[0].code, "pod-problem");
        assert_eq!(
            e[0].message,
            "Pod web-2 container app exited with code 1 (Error), restarted 3 times and keeps crashing (CrashLoopBackOff)."
        );
    }

    #[test]
    fn a_rollout_names_the_older_replica_set_that_still_has_pods() {
        let mut s = status(None);
        s.replicas.updated = 2;
        let set = |name: &str, revision: &str, current: i32, newest: bool| ReplicaSetInfo {
            name: name.into(),
            revision: Some(revision.into()),
            desired: current,
            current,
            ready: current,
            image: None,
            newest,
        };
        s.workloads[0].replica_sets = vec![
            set("web-7c9", "4", 2, true),
            set("web-5d1", "3", 3, false),
            set("web-1a2", "2", 0, false),
        ];
        let e = explain(&s, 0);
        let rolling = e.iter().find(|e| e.code == "rolling-out").unwrap();
        assert_eq!(
            rolling.message,
            "A rollout is in progress: 2 of 5 pods on the newest template. The older ReplicaSet web-5d1 (revision 3) still has 3 pods."
        );
    }

    fn schedule(runs: Vec<JobRun>, suspended: bool) -> ServiceStatus {
        ServiceStatus {
            cron: Some(Schedule {
                name: "nightly".into(),
                schedule: "0 3 * * *".into(),
                time_zone: Some("Europe/Berlin".into()),
                suspended,
                last_schedule: None,
                last_success: None,
                active: 0,
                image: None,
                deploy_id: None,
                revision: None,
                runs,
            }),
            ..ServiceStatus::default()
        }
    }

    fn run(name: &str, state: &str, manual: bool) -> JobRun {
        JobRun {
            name: name.into(),
            state: state.into(),
            manual,
            started: None,
            finished: None,
            duration_secs: Some(42),
            succeeded: i32::from(state == "succeeded"),
            failed: if state == "failed" { 3 } else { 0 },
            reason: (state == "failed").then(|| {
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            }),
            started_epoch: Some(1_000),
            finished_epoch: None,
        }
    }

    #[test]
    fn a_schedule_says_how_its_last_run_went_or_that_it_is_held() {
        let e = explain(&schedule(vec![], false), 1_000);
        assert_eq!(codes(&e), ["cron-no-run-yet"]);
        assert_eq!(
            e[0].message,
            "Runs on the schedule `0 3 * * *` (Europe/Berlin); no run yet."
        );
        let e = explain(&schedule(vec![], true), 1_000);
        assert_eq!(codes(&e), ["cron-suspended"]);
        let e = explain(
            &schedule(
                vec![
                    run("nightly-2", "failed", false),
                    run("nightly-1", "succeeded", false),
                ],
                false,
            ),
            1_300,
        );
        assert_eq!(codes(&e), ["cron-last-run-failed"]);
        assert_eq!(
            e[0].message,
            "The last run nightly-2 (scheduled, started 5 min ago) failed after 3 failed pods: BackoffLimitExceeded: Job has reached the specified backoff limit."
        );
        let e = explain(
            &schedule(vec![run("manual-1", "succeeded", true)], true),
            1_030,
        );
        assert_eq!(codes(&e), ["cron-suspended", "cron-last-run-succeeded"]);
        assert_eq!(
            e[1].message,
            "The last run manual-1 (by hand, started 30 s ago) succeeded in 42 s; runs on the schedule `0 3 * * *` (Europe/Berlin)."
        );
        let e = explain(
            &schedule(vec![run("nightly-3", "running", false)], false),
            1_000,
        );
        assert_eq!(codes(&e), ["cron-running"]);
    }

    #[test]
    fn above_target_is_never_called_within_target() {
        // Between two syncs of a scale-up the controller reports the rate
        // limit; the numbers are far above target.
        let limited_up = condition(
            "ScalingLimited",
            "True",
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        );
        let e = explain(
            &status(Some(hpa(
                4,
                4,
                Some(200),
                vec![able(), active(), limited_up],
            ))),
            0,
        );
        assert_eq!(codes(&e), ["scale-up-limited"]);
        assert_eq!(
            e[0].message,
            "Wants more than 4 replicas (cpu at 200% of the request (target 70%)) but adds replicas no faster than its scale-up policy allows (by default 4 pods or double every 15 s): more come at its next syncs."
        );
        // Nothing reported holds it: the next sync acts.
        let e = explain(
            &status(Some(hpa(3, 3, Some(140), vec![able(), active()]))),
            0,
        );
        assert_eq!(codes(&e), ["above-target"]);
        // Within the controller's tolerance it is within target.
        let e = explain(
            &status(Some(hpa(3, 3, Some(75), vec![able(), active()]))),
            0,
        );
        assert_eq!(codes(&e), ["within-target"]);
        // Far below target above the minimum: not "within target" either.
        let e = explain(&status(Some(hpa(4, 4, Some(0), vec![able(), active()]))), 0);
        assert_eq!(codes(&e), ["below-target"]);
        assert!(
            e[0].message.starts_with(
                "Below target at 4 replicas: cpu at 0% of the request (target 70%); 2 would do. "
            ),
            "{}",
            e[0].message
        );
    }
}
