//! Rules for how a service is run: scaling, disruption budget, rollout,
//! schedule, storage, security, metrics and logging.

use super::{Check, duplicates};
use crate::spec::cron;
use crate::spec::model::WorkloadKind;
use crate::spec::names;
use crate::spec::scalar::IntOrPercent;

const LOG_LEVELS: [&str; 6] = ["DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"];

pub(super) fn check(c: &mut Check<'_>) {
    kind_blocks(c);
    autoscaling(c);
    disruption_budget(c);
    strategy(c);
    cron_job(c);
    stateful(c);
    security(c);
    observability(c);
}

/// Blocks that belong to one kind only.
fn kind_blocks(c: &mut Check<'_>) {
    let spec = c.spec;
    if c.kind != WorkloadKind::Cron && spec.cron.is_some() {
        c.err("spec.cron", "only for kind cron");
    }
    if c.kind != WorkloadKind::Stateful && spec.stateful.is_some() {
        c.err("spec.stateful", "only for kind stateful");
    }
    if c.kind == WorkloadKind::Cron {
        if spec.cron.is_none() {
            c.err("spec.cron", "missing; kind cron needs a schedule");
        }
        if spec.replicas.is_some() {
            c.err(
                "spec.replicas",
                "cron jobs have no replicas; each run is one Job",
            );
        }
        for (field, set) in [
            ("autoscaling", spec.autoscaling.is_some()),
            ("disruptionBudget", spec.disruption_budget.is_some()),
            ("strategy", spec.strategy.is_some()),
        ] {
            if set {
                c.err(format!("spec.{field}"), "does not apply to cron jobs");
            }
        }
    }
}

fn autoscaling(c: &mut Check<'_>) {
    let spec = c.spec;
    let Some(a) = &spec.autoscaling else { return };
    if c.kind == WorkloadKind::Cron {
        return;
    }
    if spec.replicas.is_some() {
        c.err(
            "spec.replicas",
            "remove it: with spec.autoscaling the autoscaler sets the number of pods",
        );
    }
    if a.min_replicas == 0 {
        c.err("spec.autoscaling.minReplicas", "must be at least 1");
    }
    if a.max_replicas > 1000 {
        c.err("spec.autoscaling.maxReplicas", "must be at most 1000");
    }
    if a.min_replicas > a.max_replicas {
        c.err(
            "spec.autoscaling.minReplicas",
            format!("{} is above maxReplicas {}", a.min_replicas, a.max_replicas),
        );
    }
    if a.cpu.is_none() && a.memory.is_none() && a.pods.is_empty() && a.external.is_empty() {
        c.err(
            "spec.autoscaling",
            "set a target: `cpu` or `memory` utilisation, or a `pods` or `external` metric",
        );
    }
    custom_metrics(c, a);
    for (what, target) in [("cpu", a.cpu), ("memory", a.memory)] {
        let Some(target) = target else { continue };
        if !(1..=100).contains(&target) {
            c.err(
                format!("spec.autoscaling.{what}"),
                "must be a percentage between 1 and 100",
            );
        }
        // Utilisation is measured against requests, in every container of the pod.
        let has = |r: Option<&crate::spec::Resources>| {
            r.and_then(|r| r.requests.as_ref())
                .and_then(|l| super::containers::get(l, what))
                .is_some()
        };
        if !has(spec.resources.as_ref()) {
            c.err(
                format!("spec.resources.requests.{what}"),
                format!(
                    "missing; spec.autoscaling.{what} scales on utilisation of the {what} request"
                ),
            );
        }
        for (i, sidecar) in spec.sidecars.iter().enumerate() {
            if !has(sidecar.resources.as_ref()) {
                c.err(
                    format!("spec.sidecars[{i}].resources.requests.{what}"),
                    format!(
                        "missing; spec.autoscaling.{what} needs a {what} request in every container"
                    ),
                );
            }
        }
    }
    if let Some(down) = &a.scale_down {
        if down.stabilization_window_seconds.is_some_and(|s| s > 3600) {
            c.err(
                "spec.autoscaling.scaleDown.stabilizationWindowSeconds",
                "must be at most 3600",
            );
        }
        if down.max_percent.is_some_and(|p| !(1..=100).contains(&p)) {
            c.err(
                "spec.autoscaling.scaleDown.maxPercent",
                "must be a percentage between 1 and 100",
            );
        }
        if down
            .period_seconds
            .is_some_and(|s| !(1..=1800).contains(&s))
        {
            c.err(
                "spec.autoscaling.scaleDown.periodSeconds",
                "must be between 1 and 1800",
            );
        }
    }
}

fn percent(c: &mut Check<'_>, path: &str, value: &IntOrPercent) {
    if let IntOrPercent::Percent(text) = value
        && value.percent().is_none()
    {
        c.err(
            path,
            format!("`{text}` is neither a number nor a percentage such as 25%"),
        );
    }
}

fn disruption_budget(c: &mut Check<'_>) {
    let Some(budget) = &c.spec.disruption_budget else {
        return;
    };
    if c.kind == WorkloadKind::Cron {
        return;
    }
    let replicas = c.min_replicas();
    match (&budget.min_available, &budget.max_unavailable) {
        (None, None) => c.err(
            "spec.disruptionBudget",
            "set one of `minAvailable` or `maxUnavailable`",
        ),
        (Some(_), Some(_)) => c.err(
            "spec.disruptionBudget",
            "set only one of `minAvailable` or `maxUnavailable`",
        ),
        (Some(min), None) => {
            percent(c, "spec.disruptionBudget.minAvailable", min);
            let blocks = match min {
                IntOrPercent::Int(n) => *n >= replicas,
                IntOrPercent::Percent(_) => min.percent() == Some(100),
            };
            if blocks && replicas >= 2 {
                c.err(
                    "spec.disruptionBudget.minAvailable",
                    format!("{min} with {replicas} replicas never lets a pod go, which blocks every node drain"),
                );
            }
        }
        (None, Some(max)) => {
            percent(c, "spec.disruptionBudget.maxUnavailable", max);
            if max.is_zero() {
                c.err(
                    "spec.disruptionBudget.maxUnavailable",
                    "0 never lets a pod go, which blocks every node drain",
                );
            }
        }
    }
}

fn strategy(c: &mut Check<'_>) {
    let Some(strategy) = &c.spec.strategy else {
        return;
    };
    if let Some(surge) = &strategy.max_surge {
        percent(c, "spec.strategy.maxSurge", surge);
        if c.kind == WorkloadKind::Stateful {
            c.err(
                "spec.strategy.maxSurge",
                "StatefulSets replace pods one by one and never surge",
            );
        }
    }
    if let Some(unavailable) = &strategy.max_unavailable {
        percent(c, "spec.strategy.maxUnavailable", unavailable);
    }
    let surge_zero = strategy
        .max_surge
        .as_ref()
        .is_some_and(IntOrPercent::is_zero);
    let unavailable_zero = strategy
        .max_unavailable
        .as_ref()
        .is_none_or(IntOrPercent::is_zero);
    if surge_zero && unavailable_zero && c.kind != WorkloadKind::Stateful {
        c.err(
            "spec.strategy",
            "maxSurge and maxUnavailable cannot both be 0: a rollout could never start",
        );
    }
    if strategy.min_ready_seconds.is_some_and(|s| s > 3600) {
        c.err("spec.strategy.minReadySeconds", "must be at most 3600");
    }
    if let Some(blue_green) = &strategy.blue_green {
        if c.kind != WorkloadKind::Web {
            c.err(
                "spec.strategy.blueGreen",
                "only web services switch between blue and green",
            );
        }
        for (what, image) in [
            ("blueImage", &blue_green.blue_image),
            ("greenImage", &blue_green.green_image),
        ] {
            if let Some(image) = image {
                c.result(
                    || format!("spec.strategy.blueGreen.{what}"),
                    names::image(image).map(|_| ()),
                );
            }
        }
        if blue_green.idle_replicas.is_some_and(|n| n > 1000) {
            c.err(
                "spec.strategy.blueGreen.idleReplicas",
                "must be at most 1000",
            );
        }
    }
}

fn cron_job(c: &mut Check<'_>) {
    let Some(cron) = &c.spec.cron else { return };
    c.result(|| "spec.cron.schedule", cron::check(&cron.schedule));
    if let Some(zone) = &cron.time_zone {
        let ok = !zone.is_empty()
            && zone.len() <= 64
            && zone
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '/' | '_' | '-' | '+'))
            && !zone.starts_with('/')
            && !zone.ends_with('/');
        if !ok {
            c.err(
                "spec.cron.timeZone",
                format!("`{zone}` is not an IANA time zone such as Europe/Berlin"),
            );
        }
    }
    for (what, value, max) in [
        (
            "successfulJobsHistoryLimit",
            cron.successful_jobs_history_limit,
            100,
        ),
        (
            "failedJobsHistoryLimit",
            cron.failed_jobs_history_limit,
            100,
        ),
        ("backoffLimit", cron.backoff_limit, 100),
    ] {
        if value.is_some_and(|v| v > max) {
            c.err(
                format!("spec.cron.{what}"),
                format!("must be at most {max}"),
            );
        }
    }
    for (what, value) in [
        ("startingDeadlineSeconds", cron.starting_deadline_seconds),
        ("activeDeadlineSeconds", cron.active_deadline_seconds),
    ] {
        if value == Some(0) {
            c.err(format!("spec.cron.{what}"), "must be at least 1");
        }
    }
}

fn stateful(c: &mut Check<'_>) {
    let spec = c.spec;
    let Some(stateful) = &spec.stateful else {
        return;
    };
    for (i, claim) in stateful.volume_claims.iter().enumerate() {
        let at = format!("spec.stateful.volumeClaims[{i}]");
        c.result(|| format!("{at}.name"), names::dns_label(&claim.name));
        if spec.volumes.iter().any(|v| v.name == claim.name)
            || [
                crate::spec::defaults::TMP_VOLUME,
                crate::spec::defaults::CONFIG_VOLUME,
            ]
            .contains(&claim.name.as_str())
        {
            c.err(
                format!("{at}.name"),
                format!("`{}` clashes with a volume of the same name", claim.name),
            );
        }
        c.result(
            || format!("{at}.mountPath"),
            names::absolute_path(&claim.mount_path),
        );
        c.positive_quantity(|| format!("{at}.size"), &claim.size);
        if let Some(class) = &claim.storage_class_name {
            c.result(
                || format!("{at}.storageClassName"),
                names::dns_subdomain(class),
            );
        }
        for (j, k) in duplicates(&claim.access_modes, |m| *m) {
            c.err(
                format!("{at}.accessModes[{j}]"),
                format!("repeats {at}.accessModes[{k}]"),
            );
        }
    }
    for (i, j) in duplicates(&stateful.volume_claims, |v| v.name.as_str()) {
        c.err(
            format!("spec.stateful.volumeClaims[{i}].name"),
            format!(
                "`{}` is already used by spec.stateful.volumeClaims[{j}]",
                stateful.volume_claims[i].name
            ),
        );
    }
}

fn security(c: &mut Check<'_>) {
    let spec = c.spec;
    if let Some(security) = &spec.security {
        match security.run_as_user {
            Some(0) => c.err(
                "spec.security.runAsUser",
                "0 is root; pods run as a non-root user",
            ),
            Some(n) if n < 0 => c.err("spec.security.runAsUser", "must not be negative"),
            _ => {}
        }
        for (what, value) in [
            ("runAsGroup", security.run_as_group),
            ("fsGroup", security.fs_group),
        ] {
            match value {
                Some(0) => c.err(
                    format!("spec.security.{what}"),
                    "0 is the root group, whose files a non-root user could then write; use another group id",
                ),
                Some(n) if n < 0 => c.err(format!("spec.security.{what}"), "must not be negative"),
                _ => {}
            }
        }
    }
    if let Some(account) = &spec.service_account {
        for key in account.annotations.keys() {
            let path = || crate::spec::structure::join("spec.serviceAccount.annotations", key);
            c.result(path, names::qualified_name(key));
            if is_slipway_key(key) {
                c.err(
                    path(),
                    format!("`{key}` may not be set from a spec: slipway.dev annotations are Slipway's own"),
                );
            }
        }
    }
    if let Some(placement) = &spec.placement {
        for (key, value) in &placement.node_selector {
            let at = crate::spec::structure::join("spec.placement.nodeSelector", key);
            c.result(|| at.clone(), names::qualified_name(key));
            if !names::label_value(value) {
                c.err(at, format!("`{value}` is not a valid label value"));
            }
        }
        for (i, toleration) in placement.tolerations.iter().enumerate() {
            tolerate(c, i, toleration);
        }
    }
}

/// One toleration: a real taint key, a value only where `Equal` compares one,
/// and seconds only where `NoExecute` evicts.
fn tolerate(c: &mut Check<'_>, i: usize, toleration: &crate::spec::model::Toleration) {
    use crate::spec::model::{TaintEffect, TolerationOperator};
    let at = |field: &str| format!("spec.placement.tolerations[{i}].{field}");
    if toleration.key.trim().is_empty() {
        c.err(
            at("key"),
            "is required: a toleration without a key tolerates every taint, including those that keep nodes for other teams",
        );
    } else {
        c.result(|| at("key"), names::qualified_name(&toleration.key));
    }
    let operator = toleration.operator.unwrap_or(TolerationOperator::Equal);
    match (&toleration.value, operator) {
        (Some(value), TolerationOperator::Exists) if !value.is_empty() => c.err(
            at("value"),
            format!("`Exists` matches any value; remove `{value}` or use `Equal`"),
        ),
        (Some(value), TolerationOperator::Equal) if !names::label_value(value) => {
            c.err(at("value"), format!("`{value}` is not a valid taint value"));
        }
        _ => {}
    }
    if let Some(seconds) = toleration.toleration_seconds {
        if toleration.effect != Some(TaintEffect::NoExecute) {
            c.err(
                at("tolerationSeconds"),
                "only applies to the `NoExecute` effect; set `effect: NoExecute` or remove it",
            );
        } else if seconds < 0 {
            c.err(at("tolerationSeconds"), "must not be negative");
        }
    }
}

fn observability(c: &mut Check<'_>) {
    let spec = c.spec;
    if let Some(metrics) = &spec.metrics {
        if c.kind == WorkloadKind::Cron {
            c.err(
                "spec.metrics",
                "cron jobs are too short-lived to scrape; push metrics instead",
            );
        } else {
            c.require_declared_port("spec.metrics.port", &metrics.port);
        }
        if let Some(path) = &metrics.path
            && !path.starts_with('/')
        {
            c.err("spec.metrics.path", format!("`{path}` must start with '/'"));
        }
    }
    if let Some(level) = spec.logging.as_ref().and_then(|l| l.level.as_ref())
        && !LOG_LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level))
    {
        c.err(
            "spec.logging.level",
            format!("`{level}` is not one of {}", LOG_LEVELS.join(", ")),
        );
    }
}

/// Whether `key` is in Slipway's own `slipway.dev` domain (or below it).
fn is_slipway_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.split_once('/')
        .is_some_and(|(prefix, _)| prefix == "slipway.dev" || prefix.ends_with(".slipway.dev"))
}

/// A metric name the metrics APIs can serve: letters, digits and `_.:/-`.
fn metric_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_.:/-".contains(ch))
}

/// The `pods` and `external` metrics of the autoscaler.
fn custom_metrics(c: &mut Check<'_>, a: &crate::spec::Autoscaling) {
    let quantity = |c: &mut Check<'_>, path: String, value: &crate::spec::ScalarString| {
        match crate::spec::quantity::parse(value.as_str()) {
            Ok(v) if v > 0.0 => {}
            Ok(_) => c.err(path, "must be above 0"),
            Err(why) => c.err(path, format!("not a quantity: {why}")),
        }
    };
    for (i, m) in a.pods.iter().enumerate() {
        let at = format!("spec.autoscaling.pods[{i}]");
        if !metric_name_ok(&m.metric) {
            c.err(
                format!("{at}.metric"),
                "a metric name: letters, digits and _.:/- (at most 253)",
            );
        }
        quantity(c, format!("{at}.averageValue"), &m.average_value);
    }
    for (i, m) in a.external.iter().enumerate() {
        let at = format!("spec.autoscaling.external[{i}]");
        if !metric_name_ok(&m.metric) {
            c.err(
                format!("{at}.metric"),
                "a metric name: letters, digits and _.:/- (at most 253)",
            );
        }
        match (&m.value, &m.average_value) {
            (Some(v), None) => quantity(c, format!("{at}.value"), v),
            (None, Some(v)) => quantity(c, format!("{at}.averageValue"), v),
            _ => c.err(
                at.clone(),
                "set exactly one of `value` (the metric in total) or `averageValue` (per pod)",
            ),
        }
        for (key, value) in &m.selector {
            if let Err(why) = crate::spec::names::qualified_name(key) {
                c.err(format!("{at}.selector.{key}"), why);
            } else if !crate::spec::names::label_value(value) {
                c.err(
                    format!("{at}.selector.{key}"),
                    "not a label value (at most 63 letters, digits, -_.)",
                );
            }
        }
    }
}
