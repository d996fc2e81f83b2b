//! The production-readiness check: the article's production checklist as
//! named checks over what the renderer would produce for one environment.
//!
//! Pure like the renderer. It reads the effective spec (preset and overrides
//! applied) and never fails: an odd spec gives failing checks, not an error.

use std::fmt;

use super::RenderContext;
use crate::spec::{
    AntiAffinity, LogFormat, ServiceSpec, WorkloadKind, ZoneSpread, defaults, names,
};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// The practice is followed.
    Pass,
    /// Followed in part, or acceptable outside production.
    Warn,
    /// Not followed.
    Fail,
}

impl Level {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckItem {
    /// Stable id, e.g. `resources`.
    pub id: &'static str,
    /// Outcome.
    pub level: Level,
    /// Why, in a sentence.
    pub message: String,
}

/// All checks and a score (empty, scoring 0, when nothing could be checked).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Checklist {
    /// The checks, in a fixed order.
    pub items: Vec<CheckItem>,
    /// 0–100: a pass counts fully, a warning half.
    pub score: u8,
}

impl Checklist {
    /// Whether any check failed.
    pub fn has_failures(&self) -> bool {
        self.items.iter().any(|i| i.level == Level::Fail)
    }
}

/// Words that mark a variable as secret when it holds a literal value.
const SECRET_WORDS: [&str; 7] = [
    "PASSWORD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "PASSWD",
];

/// The highest id a node's own users and groups take (distributions hand them
/// out from 1000 up); kube-score and Polaris expect pods above it.
const HIGHEST_NODE_ID: i64 = 10_000;

/// Which rules the checklist applies: an environment's property
/// (`production_rules`), not its name, since environments are admin-defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// Everything acceptable outside production passes or warns.
    Standard,
    /// Production: e.g. DEBUG on is a failure.
    Production,
}

impl Rules {
    /// Production rules when `production` is true.
    pub fn production_if(production: bool) -> Self {
        if production {
            Rules::Production
        } else {
            Rules::Standard
        }
    }
}

/// What every check reads: the effective spec for the environment and what
/// follows from it.
#[derive(Clone, Copy)]
struct Facts<'a> {
    s: &'a crate::spec::Spec,
    ctx: &'a RenderContext,
    kind: WorkloadKind,
    long_running: bool,
    min_replicas: u32,
    production: bool,
}

/// A group of checks of one concern; each adds its checks' outcomes.
type CheckGroup = fn(&Facts<'_>, &mut dyn FnMut(&'static str, Level, String));

/// Every group, in the order the checklist lists them.
const CHECKS: &[CheckGroup] = &[
    resources,
    probes,
    security_context,
    network_policy,
    availability,
    shipping,
    operations,
];

/// Run every check for `spec` as rendered for `ctx`, under `rules`.
pub fn check(spec: &ServiceSpec, ctx: &RenderContext, rules: Rules) -> Checklist {
    let doc = spec.for_environment(&ctx.environment);
    let s = &doc.spec;
    let kind = doc.workload_kind();
    let min_replicas = s.autoscaling.as_ref().map_or_else(
        || {
            s.replicas.unwrap_or(if kind == WorkloadKind::Stateful {
                defaults::STATEFUL_REPLICAS
            } else {
                defaults::REPLICAS
            })
        },
        |a| a.min_replicas,
    );
    let facts = Facts {
        s,
        ctx,
        kind,
        long_running: kind.is_long_running(),
        min_replicas,
        production: rules == Rules::Production,
    };
    let mut items = Vec::new();
    let mut add = |id: &'static str, level: Level, message: String| {
        items.push(CheckItem { id, level, message })
    };
    for group in CHECKS {
        group(&facts, &mut add);
    }
    let total = items.len().max(1);
    let points: usize = items
        .iter()
        .map(|i| match i.level {
            Level::Pass => 2,
            Level::Warn => 1,
            Level::Fail => 0,
        })
        .sum();
    let score = u8::try_from((points * 100) / (total * 2)).unwrap_or(100);
    Checklist { items, score }
}

/// Resources: requests let the scheduler place pods; a memory limit stops one leak taking the node.
fn resources(f: &Facts<'_>, add: &mut dyn FnMut(&'static str, Level, String)) {
    let Facts { s, .. } = *f;
    let mut missing = Vec::new();
    let app_resources = s.resources.clone().unwrap_or_default();
    let containers = std::iter::once((defaults::APP_CONTAINER, Some(app_resources.clone())))
        .chain(s.init_containers.iter().map(|c| {
            (
                c.name.as_str(),
                c.resources.clone().or_else(|| Some(app_resources.clone())),
            )
        }))
        .chain(
            s.sidecars
                .iter()
                .map(|c| (c.name.as_str(), c.resources.clone())),
        );
    for (name, resources) in containers {
        let r = resources.unwrap_or_default();
        let requests = r.requests.unwrap_or_default();
        let limits = r.limits.unwrap_or_default();
        if requests.cpu.is_none() || requests.memory.is_none() || limits.memory.is_none() {
            missing.push(name.to_owned());
        }
    }
    if missing.is_empty() {
        add(
            "resources",
            Level::Pass,
            "every container requests CPU and memory and has a memory limit".into(),
        );
    } else {
        add(
            "resources",
            Level::Fail,
            format!(
                "set cpu and memory requests and a memory limit for: {}",
                missing.join(", ")
            ),
        );
    }
}

/// Probes.
fn probes(f: &Facts<'_>, add: &mut dyn FnMut(&'static str, Level, String)) {
    let Facts { s, kind, .. } = *f;
    let probes = s.probes.clone().unwrap_or_default();
    let (level, message) = match kind {
        WorkloadKind::Cron => (
            Level::Pass,
            "cron jobs run to completion and need no probes".to_owned(),
        ),
        WorkloadKind::Worker if probes.liveness.is_some() => {
            (Level::Pass, "the worker has a liveness probe".to_owned())
        }
        WorkloadKind::Worker => (
            Level::Warn,
            "add a liveness probe so a hung worker is restarted".to_owned(),
        ),
        _ if probes.liveness.is_some() && probes.readiness.is_some() => (
            Level::Pass,
            "liveness and readiness probes are set".to_owned(),
        ),
        _ => (
            Level::Fail,
            "set liveness and readiness probes (or use a framework preset)".to_owned(),
        ),
    };
    add("probes", level, message);
    let (level, message) = match (&probes.liveness, &probes.readiness) {
        (Some(live), Some(ready)) if same_check(s, live, ready) => (
            Level::Fail,
            "liveness and readiness are the same check: when a dependency fails it, every pod \
             restarts; make liveness only ask whether the process answers (e.g. tcp on the port)"
                .to_owned(),
        ),
        (Some(_), Some(_)) => (
            Level::Pass,
            "liveness and readiness are different checks".to_owned(),
        ),
        _ => (
            Level::Pass,
            "no liveness and readiness pair to compare".to_owned(),
        ),
    };
    add("probes-distinct", level, message);
}

/// Whether two probes ask the same thing (kube-score's `pod-probes-identical`):
/// the same path on the same port, the same port, or the same command. Ports
/// are compared as numbers, so `http` and `8000` are one port.
fn same_check(s: &crate::spec::Spec, a: &crate::spec::Probe, b: &crate::spec::Probe) -> bool {
    use crate::spec::PortRef;
    let port = |p: &Option<PortRef>| match p {
        Some(PortRef::Number(n)) => Some(*n),
        Some(PortRef::Name(name)) => s.ports.iter().find(|p| &p.name == name).map(|p| p.port),
        None => s.ports.first().map(|p| p.port),
    };
    if let (Some(x), Some(y)) = (&a.http, &b.http) {
        return x.path == y.path && port(&x.port) == port(&y.port);
    }
    if let (Some(x), Some(y)) = (&a.tcp, &b.tcp) {
        return port(&x.port) == port(&y.port);
    }
    if let (Some(x), Some(y)) = (&a.exec, &b.exec) {
        return x.command == y.command;
    }
    false
}

/// Security context.
fn security_context(f: &Facts<'_>, add: &mut dyn FnMut(&'static str, Level, String)) {
    let Facts { s, .. } = *f;
    let security = s.security.clone().unwrap_or_default();
    let uid = security.run_as_user.unwrap_or(defaults::RUN_AS_USER);
    if uid > 0 {
        add(
            "non-root",
            Level::Pass,
            format!("pods run as user {uid} with runAsNonRoot"),
        );
    } else {
        add("non-root", Level::Fail, "runAsUser 0 is root".into());
    }
    let gid = security.run_as_group.unwrap_or(defaults::RUN_AS_GROUP);
    if uid > HIGHEST_NODE_ID && gid > HIGHEST_NODE_ID {
        add(
            "high-user-id",
            Level::Pass,
            format!("user {uid} and group {gid} are above {HIGHEST_NODE_ID}, no user of the node"),
        );
    } else {
        add(
            "high-user-id",
            Level::Warn,
            format!(
                "user {uid} / group {gid}: ids up to {HIGHEST_NODE_ID} can be users of the node, \
                 which a container escape would act as; set security.runAsUser and runAsGroup \
                 above {HIGHEST_NODE_ID} if the image allows"
            ),
        );
    }
    if security.read_only_root_filesystem.unwrap_or(true) {
        add(
            "read-only-root",
            Level::Pass,
            "the root filesystem is read-only; /tmp is a writable emptyDir".into(),
        );
    } else {
        add(
            "read-only-root",
            Level::Fail,
            "readOnlyRootFilesystem is off; mount writable volumes where the app writes instead"
                .into(),
        );
    }
    add(
        "least-privilege",
        Level::Pass,
        "all capabilities dropped, no privilege escalation, seccomp RuntimeDefault".into(),
    );
    if s.service_account
        .as_ref()
        .and_then(|a| a.automount_token)
        .unwrap_or(false)
    {
        add(
            "service-account",
            Level::Warn,
            "the API token is mounted; grant its ServiceAccount only the RBAC it needs".into(),
        );
    } else {
        add(
            "service-account",
            Level::Pass,
            "own ServiceAccount without a mounted API token".into(),
        );
    }
}

/// Network policy.
fn network_policy(f: &Facts<'_>, add: &mut dyn FnMut(&'static str, Level, String)) {
    let Facts { s, .. } = *f;
    let policy = s.network_policy.clone().unwrap_or_default();
    let (level, message) = if policy.enabled == Some(false) {
        (
            Level::Fail,
            "the NetworkPolicy is disabled; every pod in the cluster can reach this one".to_owned(),
        )
    } else if policy.allow_all_egress == Some(true) {
        (
            Level::Warn,
            "ingress is restricted but all egress is allowed".to_owned(),
        )
    } else {
        (
            Level::Pass,
            "deny-by-default NetworkPolicy with listed exceptions".to_owned(),
        )
    };
    add("network-policy", level, message);
}

/// Availability.
fn availability(f: &Facts<'_>, add: &mut dyn FnMut(&'static str, Level, String)) {
    let Facts {
        s,
        kind,
        long_running,
        min_replicas,
        ..
    } = *f;
    if !long_running {
        add(
            "disruption-budget",
            Level::Pass,
            "not applicable to cron jobs".into(),
        );
        add(
            "zone-spread",
            Level::Pass,
            "not applicable to cron jobs".into(),
        );
    } else {
        if min_replicas >= 2 {
            add(
                "disruption-budget",
                Level::Pass,
                format!("PodDisruptionBudget over at least {min_replicas} pods"),
            );
            let (level, message) = match blocked_drain(s, min_replicas) {
                Some(why) => (
                    Level::Fail,
                    format!(
                        "{why}: the budget lets no pod be evicted, so every node drain waits \
                         until someone deletes it; allow at least one"
                    ),
                ),
                None => (
                    Level::Pass,
                    "the budget lets a drain evict pods one at a time".to_owned(),
                ),
            };
            add("drain-allowed", level, message);
        } else {
            add(
                "disruption-budget",
                Level::Fail,
                format!("{min_replicas} pod: a node drain takes the service down; run at least 2"),
            );
        }
        let zone = s
            .placement
            .as_ref()
            .and_then(|p| p.zone_spread)
            .unwrap_or(ZoneSpread::ScheduleAnyway);
        let anti = s
            .placement
            .as_ref()
            .and_then(|p| p.anti_affinity)
            .unwrap_or(AntiAffinity::Preferred);
        let (level, message) = match (zone, anti, min_replicas >= 2) {
            (ZoneSpread::Off, _, _) => (
                Level::Fail,
                "zone spread is off; one zone outage can take every pod".to_owned(),
            ),
            (_, AntiAffinity::Off, _) => (
                Level::Warn,
                "spread across zones, but several pods may share a node".to_owned(),
            ),
            (_, _, false) => (Level::Warn, "one pod cannot spread across zones".to_owned()),
            _ => (
                Level::Pass,
                "pods spread across zones and prefer different nodes".to_owned(),
            ),
        };
        add("zone-spread", level, message);
    }
    let (level, message) = match kind {
        WorkloadKind::Web | WorkloadKind::Worker => match &s.autoscaling {
            Some(a) if a.max_replicas <= a.min_replicas => (
                Level::Warn,
                format!(
                    "the autoscaler's minimum and maximum are both {}: it can never add a pod; \
                     raise maxReplicas",
                    a.min_replicas
                ),
            ),
            Some(a) => (
                Level::Pass,
                format!(
                    "autoscaling between {} and {} pods",
                    a.min_replicas, a.max_replicas
                ),
            ),
            None => (
                Level::Warn,
                format!("fixed at {min_replicas} pods; add autoscaling for traffic spikes"),
            ),
        },
        WorkloadKind::Stateful => (Level::Pass, "stateful sets scale by hand".to_owned()),
        WorkloadKind::Cron => (Level::Pass, "not applicable to cron jobs".to_owned()),
    };
    add("autoscaling", level, message);
}

/// Why the disruption budget lets no pod go (kube-linter's
/// `pdb-max-unavailable` and `pdb-min-available`), or `None`.
fn blocked_drain(s: &crate::spec::Spec, pods: u32) -> Option<String> {
    use crate::spec::IntOrPercent;
    let budget = s.disruption_budget.as_ref()?;
    let percent = |p: &str| p.trim_end_matches('%').parse::<u32>().ok();
    if let Some(min) = &budget.min_available {
        let blocks = match min {
            IntOrPercent::Int(n) => *n >= pods,
            IntOrPercent::Percent(p) => percent(p).is_some_and(|p| p >= 100),
        };
        return blocks.then(|| format!("minAvailable {} of {pods} pods", show(min)));
    }
    let max = budget.max_unavailable.as_ref()?;
    let blocks = match max {
        IntOrPercent::Int(n) => *n == 0,
        IntOrPercent::Percent(p) => percent(p) == Some(0),
    };
    blocks.then(|| format!("maxUnavailable {}", show(max)))
}

fn show(value: &crate::spec::IntOrPercent) -> String {
    match value {
        crate::spec::IntOrPercent::Int(n) => n.to_string(),
        crate::spec::IntOrPercent::Percent(p) => p.clone(),
    }
}

/// Shipping.
fn shipping(f: &Facts<'_>, add: &mut dyn FnMut(&'static str, Level, String)) {
    let Facts {
        s,
        ctx,
        kind,
        long_running,
        ..
    } = *f;
    let image = ctx.image.clone().unwrap_or_else(|| s.image.clone());
    let mut unpinned = Vec::new();
    for image in std::iter::once(image.as_str())
        .chain(s.sidecars.iter().filter_map(|c| c.image.as_deref()))
        .chain(s.init_containers.iter().filter_map(|c| c.image.as_deref()))
    {
        if !names::image(image).is_ok_and(|r| r.is_pinned()) {
            unpinned.push(image.to_owned());
        }
    }
    if unpinned.is_empty() {
        add(
            "image-pinned",
            Level::Pass,
            "every image has a version tag or digest".into(),
        );
    } else {
        add(
            "image-pinned",
            Level::Fail,
            format!(
                "pin a version instead of latest or no tag: {}",
                unpinned.join(", ")
            ),
        );
    }
    if long_running && kind != WorkloadKind::Stateful {
        let blue_green = s
            .strategy
            .as_ref()
            .is_some_and(|st| st.blue_green.is_some());
        let unavailable_zero = s
            .strategy
            .as_ref()
            .and_then(|st| st.max_unavailable.as_ref())
            .is_none_or(|u| u.is_zero());
        if blue_green || unavailable_zero {
            add(
                "zero-downtime-rollout",
                Level::Pass,
                "rollouts never reduce serving capacity".into(),
            );
        } else {
            add(
                "zero-downtime-rollout",
                Level::Warn,
                "maxUnavailable above 0 lowers capacity during rollouts".into(),
            );
        }
    } else {
        add(
            "zero-downtime-rollout",
            Level::Pass,
            "not applicable".into(),
        );
    }
    let grace = s
        .termination_grace_period_seconds
        .unwrap_or(defaults::TERMINATION_GRACE_SECONDS);
    let pre_stop = s
        .pre_stop_sleep_seconds
        .unwrap_or(if kind == WorkloadKind::Web {
            defaults::PRE_STOP_SLEEP_SECONDS_WEB
        } else {
            0
        });
    let (level, message) = match kind {
        WorkloadKind::Cron => (Level::Pass, "not applicable to cron jobs".to_owned()),
        WorkloadKind::Web if pre_stop == 0 => (
            Level::Warn,
            "no preStop pause: requests may reach a stopping pod".to_owned(),
        ),
        _ if grace < pre_stop + 10 => (
            Level::Warn,
            format!(
                "{grace}s grace leaves under 10s to finish work after the {pre_stop}s preStop pause"
            ),
        ),
        _ => (
            Level::Pass,
            format!("{pre_stop}s preStop pause, {grace}s to finish after SIGTERM"),
        ),
    };
    add("graceful-shutdown", level, message);
    // A scale-in stops queue workers. Celery finishes the tasks it holds on
    // SIGTERM (its warm shutdown), but only within the grace period; then
    // the kubelet kills it mid-task and the task runs again elsewhere.
    let autoscaled = s.autoscaling.is_some();
    let (level, message) = match kind {
        WorkloadKind::Worker if autoscaled && grace < defaults::WORKER_SHUTDOWN_GRACE_SECONDS => (
            Level::Warn,
            format!(
                "an autoscaled worker gets {grace}s to finish its tasks when scaled in: set terminationGracePeriodSeconds to the longest task (Celery finishes running tasks on SIGTERM)"
            ),
        ),
        WorkloadKind::Worker if autoscaled => (
            Level::Pass,
            format!("{grace}s for running tasks to finish when scaled in"),
        ),
        _ => (
            Level::Pass,
            "not applicable: only autoscaled workers are scaled in mid-task".to_owned(),
        ),
    };
    add("worker-shutdown", level, message);
}

/// Operations.
fn operations(f: &Facts<'_>, add: &mut dyn FnMut(&'static str, Level, String)) {
    let Facts {
        s,
        kind,
        production,
        ..
    } = *f;
    let (level, message) = match s.logging.as_ref().map(|l| l.format) {
        Some(LogFormat::Json) => (
            Level::Pass,
            "structured JSON logs (LOG_FORMAT=json)".to_owned(),
        ),
        Some(LogFormat::Text) => (
            Level::Warn,
            "plain-text logs; JSON logs are searchable by field".to_owned(),
        ),
        None => (
            Level::Fail,
            "set logging.format: json for structured logs".to_owned(),
        ),
    };
    add("json-logs", level, message);
    let tls = match (&s.ingress, kind) {
        (Some(ingress), WorkloadKind::Web) if ingress.tls.is_none() => (
            Level::Fail,
            "the Ingress serves plain HTTP; add tls".to_owned(),
        ),
        (Some(_), WorkloadKind::Web) => (Level::Pass, "the Ingress terminates TLS".to_owned()),
        _ => (Level::Pass, "no Ingress".to_owned()),
    };
    add("tls", tls.0, tls.1);
    let leaked: Vec<&str> = s
        .env
        .iter()
        .chain(
            s.init_containers
                .iter()
                .chain(&s.sidecars)
                .flat_map(|c| &c.env),
        )
        .filter(|e| {
            e.value.is_some()
                && SECRET_WORDS
                    .iter()
                    .any(|w| e.name.to_uppercase().contains(w))
        })
        .map(|e| e.name.as_str())
        .collect();
    if leaked.is_empty() {
        add(
            "secrets-by-reference",
            Level::Pass,
            "secret-looking variables come from Secrets".into(),
        );
    } else {
        add(
            "secrets-by-reference",
            Level::Fail,
            format!(
                "literal values for secret-looking variables: {}; use secret references",
                leaked.join(", ")
            ),
        );
    }
    let debug_on = s.env.iter().any(|e| {
        e.name.eq_ignore_ascii_case("DEBUG")
            && e.value.as_ref().is_some_and(|v| {
                ["true", "1", "yes", "on"].contains(&v.as_str().to_lowercase().as_str())
            })
    });
    let (level, message) = match (debug_on, production) {
        (true, true) => (Level::Fail, "DEBUG is on in production".to_owned()),
        (true, false) => (
            Level::Warn,
            "DEBUG is on (acceptable outside production)".to_owned(),
        ),
        (false, _) => (Level::Pass, "DEBUG is off".to_owned()),
    };
    add("debug-off", level, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_for(environment: &str) -> Rules {
        Rules::production_if(environment == "production")
    }

    fn example(name: &str) -> ServiceSpec {
        let path = format!("{}/../examples/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("example exists");
        crate::spec::parse(&text).expect("example is valid")
    }

    #[test]
    fn the_django_example_passes_every_check_in_production() {
        let spec = example("django");
        let ctx = RenderContext::for_cli(
            &spec,
            "production",
            Some("registry.example.com/shop/web:1.4.2".into()),
        );
        let checklist = check(&spec, &ctx, rules_for(&ctx.environment));
        let not_passing: Vec<_> = checklist
            .items
            .iter()
            .filter(|i| i.level != Level::Pass)
            .collect();
        assert!(not_passing.is_empty(), "{not_passing:#?}");
        assert_eq!(checklist.score, 100);
    }

    #[test]
    fn a_latest_image_fails_the_pinning_check() {
        let spec = example("django");
        let ctx = RenderContext::for_cli(
            &spec,
            "production",
            Some("registry.example.com/shop/web:latest".into()),
        );
        let item = check(&spec, &ctx, rules_for(&ctx.environment))
            .items
            .into_iter()
            .find(|i| i.id == "image-pinned")
            .expect("check exists");
        assert_eq!(item.level, Level::Fail);
    }

    #[test]
    fn one_replica_in_development_fails_the_disruption_budget_check() {
        let spec = example("django");
        let ctx = RenderContext::for_cli(&spec, "development", None);
        let checklist = check(&spec, &ctx, rules_for(&ctx.environment));
        let item = checklist
            .items
            .iter()
            .find(|i| i.id == "disruption-budget")
            .expect("check exists");
        assert_eq!(item.level, Level::Fail);
        assert!(checklist.score < 100);
    }

    #[test]
    fn debug_on_fails_only_in_production() {
        let mut spec = example("django");
        spec.spec.env.retain(|e| e.name != "DEBUG");
        spec.spec.env.push(crate::spec::EnvVar {
            name: "DEBUG".into(),
            value: Some("True".into()),
            secret: None,
            config_map: None,
            field: None,
        });
        let level = |env: &str| {
            let ctx = RenderContext::for_cli(&spec, env, None);
            check(&spec, &ctx, rules_for(&ctx.environment))
                .items
                .into_iter()
                .find(|i| i.id == "debug-off")
                .map(|i| i.level)
        };
        assert_eq!(level("production"), Some(Level::Fail));
        assert_eq!(level("staging"), Some(Level::Warn));
    }

    #[test]
    fn an_autoscaled_worker_needs_time_to_finish_its_tasks() {
        let worker = |extra: &str| {
            crate::spec::parse(&format!(
                "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {{name: w, team: shop}}\nspec:\n  kind: worker\n  image: registry.example.com/shop/w:1\n  command: [python, -m, consume]\n  resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}\n{extra}"
            ))
            .unwrap_or_else(|e| panic!("{e:?}"))
        };
        let scaled = "  autoscaling: {minReplicas: 2, maxReplicas: 6, cpu: 70}\n";
        let warned = item(&worker(scaled), "worker-shutdown");
        assert_eq!(warned.level, Level::Warn, "{}", warned.message);
        assert!(warned.message.contains("30s"), "{}", warned.message);
        let long = format!("{scaled}  terminationGracePeriodSeconds: 600\n");
        assert_eq!(item(&worker(&long), "worker-shutdown").level, Level::Pass);
        assert_eq!(
            item(&worker("  replicas: 2\n"), "worker-shutdown").level,
            Level::Pass
        );
        // The Celery preset gives its workers two minutes unless told otherwise.
        let celery = crate::spec::parse(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {name: c, team: shop}\nspec:\n  framework: celery\n  appModule: shop\n  image: registry.example.com/shop/c:1\n  resources: {requests: {cpu: 100m, memory: 64Mi}}\n  autoscaling: {minReplicas: 2, maxReplicas: 6, cpu: 70}\n",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let celery_item = item(&celery, "worker-shutdown");
        assert_eq!(celery_item.level, Level::Pass, "{}", celery_item.message);
        assert!(
            celery_item.message.starts_with("120s"),
            "{}",
            celery_item.message
        );
    }

    fn item(spec: &ServiceSpec, id: &str) -> CheckItem {
        let ctx = RenderContext::for_cli(spec, "production", None);
        check(spec, &ctx, rules_for(&ctx.environment))
            .items
            .into_iter()
            .find(|i| i.id == id)
            .expect("check exists")
    }

    #[test]
    fn the_same_liveness_and_readiness_check_fails_even_with_the_port_named_differently() {
        let mut spec = example("django");
        assert_eq!(item(&spec, "probes-distinct").level, Level::Pass);
        let probes = spec.spec.probes.get_or_insert_with(Default::default);
        let mut live = probes.readiness.clone().expect("the example has readiness");
        if let Some(http) = live.http.as_mut() {
            // 8000 is the port named `http` that readiness uses.
            http.port = Some(crate::spec::PortRef::Number(8000));
        }
        probes.liveness = Some(live);
        let failed = item(&spec, "probes-distinct");
        assert_eq!(failed.level, Level::Fail, "{}", failed.message);
    }

    #[test]
    fn user_ids_a_node_may_have_warn() {
        let mut spec = example("django");
        assert_eq!(item(&spec, "high-user-id").level, Level::Pass);
        spec.spec.security = Some(crate::spec::Security {
            run_as_user: Some(999),
            ..crate::spec::Security::default()
        });
        let warned = item(&spec, "high-user-id");
        assert_eq!(warned.level, Level::Warn);
        assert!(warned.message.contains("999"), "{}", warned.message);
    }

    #[test]
    fn a_budget_that_lets_no_pod_go_fails_the_drain_check() {
        use crate::spec::{DisruptionBudget, IntOrPercent};
        let mut spec = example("flask");
        assert_eq!(item(&spec, "drain-allowed").level, Level::Pass);
        for budget in [
            DisruptionBudget {
                max_unavailable: Some(IntOrPercent::Int(0)),
                ..DisruptionBudget::default()
            },
            DisruptionBudget {
                min_available: Some(IntOrPercent::Percent("100%".into())),
                ..DisruptionBudget::default()
            },
            DisruptionBudget {
                min_available: Some(IntOrPercent::Int(50)),
                ..DisruptionBudget::default()
            },
        ] {
            spec.spec.disruption_budget = Some(budget);
            assert_eq!(item(&spec, "drain-allowed").level, Level::Fail);
        }
        spec.spec.disruption_budget = Some(DisruptionBudget {
            min_available: Some(IntOrPercent::Percent("50%".into())),
            ..DisruptionBudget::default()
        });
        assert_eq!(item(&spec, "drain-allowed").level, Level::Pass);
    }

    #[test]
    fn an_autoscaler_that_cannot_add_a_pod_warns() {
        let mut spec = example("fastapi");
        assert_eq!(item(&spec, "autoscaling").level, Level::Pass);
        if let Some(a) = spec.spec.autoscaling.as_mut() {
            a.max_replicas = a.min_replicas;
        }
        assert_eq!(item(&spec, "autoscaling").level, Level::Warn);
    }

    #[test]
    fn a_literal_password_fails_the_secrets_check() {
        let mut spec = example("flask");
        spec.spec.env.push(crate::spec::EnvVar {
            name: "DB_PASSWORD".into(),
            value: Some("hunter2".into()),
            secret: None,
            config_map: None,
            field: None,
        });
        let ctx = RenderContext::for_cli(&spec, "production", None);
        let item = check(&spec, &ctx, rules_for(&ctx.environment))
            .items
            .into_iter()
            .find(|i| i.id == "secrets-by-reference")
            .expect("check exists");
        assert_eq!(item.level, Level::Fail);
        assert!(!item.message.contains("hunter2"));
    }
}
