//! Caps on every list and map of the spec, so one spec cannot render thousands
//! of objects or entries that the worker then applies, diffs and prunes one by
//! one while other teams wait (security review #17). The numbers are generous
//! for real services; `docs/spec.md` lists them.

use super::Check;
use crate::spec::model::{Container, Spec};

/// The most Kubernetes objects one service may render in one environment.
pub const MAX_RENDERED_OBJECTS: usize = 50;

/// Caps of the top-level lists, by their spec path.
pub const CAPS: &[(&str, usize)] = &[
    ("spec.command", 64),
    ("spec.args", 128),
    ("spec.ports", 20),
    ("spec.service.ports", 20),
    ("spec.env", 200),
    ("spec.envFrom", 20),
    ("spec.configFiles.files", 50),
    ("spec.initContainers", 10),
    ("spec.sidecars", 10),
    ("spec.volumes", 20),
    ("spec.ingress.hosts", 20),
    ("spec.ingress.paths", 20),
    ("spec.ingress.annotations", 50),
    ("spec.ingress.tls.hosts", 20),
    ("spec.externalServices", 20),
    ("spec.externalServices[].ports", 20),
    ("spec.networkPolicy.allowFrom", 50),
    ("spec.networkPolicy.allowFromNamespaces", 50),
    ("spec.networkPolicy.egressTo", 50),
    ("spec.networkPolicy.egressCidrs", 50),
    ("spec.networkPolicy.egressCidrs[].ports", 20),
    ("spec.placement.nodeSelector", 20),
    ("spec.placement.tolerations", 20),
    ("spec.serviceAccount.annotations", 20),
    ("spec.probes.*.exec.command", 64),
    ("spec.stateful.volumeClaims", 10),
    ("spec.autoscaling.pods", 10),
    ("spec.autoscaling.external", 10),
    ("spec.autoscaling.external[].selector", 20),
    ("spec.environments", 20),
    ("spec.environments.*.hosts", 20),
    ("spec.environments.*.env", 200),
    ("containers: command, args", 64),
    ("containers: env", 200),
    ("containers: volumeMounts", 20),
];

fn cap(name: &str) -> usize {
    CAPS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, max)| *max)
        .expect("every capped list has a row in CAPS")
}

fn limit(c: &mut Check<'_>, path: impl FnOnce() -> String, len: usize, max: usize) {
    if len > max {
        let path = path();
        c.err(
            path,
            format!("has {len} entries; at most {max} are allowed"),
        );
    }
}

/// Records every list of `spec` (as the author wrote it) that is over its cap.
pub(super) fn check(c: &mut Check<'_>, spec: &Spec) {
    for (path, len) in [
        ("spec.command", spec.command.len()),
        ("spec.args", spec.args.len()),
        ("spec.ports", spec.ports.len()),
        ("spec.env", spec.env.len()),
        ("spec.envFrom", spec.env_from.len()),
        ("spec.initContainers", spec.init_containers.len()),
        ("spec.sidecars", spec.sidecars.len()),
        ("spec.volumes", spec.volumes.len()),
        ("spec.externalServices", spec.external_services.len()),
        ("spec.environments", spec.environments.len()),
    ] {
        limit(c, || path.to_owned(), len, cap(path));
    }
    if let Some(service) = &spec.service {
        limit(
            c,
            || "spec.service.ports".into(),
            service.ports.len(),
            cap("spec.service.ports"),
        );
    }
    if let Some(files) = &spec.config_files {
        limit(
            c,
            || "spec.configFiles.files".into(),
            files.files.len(),
            cap("spec.configFiles.files"),
        );
    }
    if let Some(ingress) = &spec.ingress {
        for (path, len) in [
            ("spec.ingress.hosts", ingress.hosts.len()),
            ("spec.ingress.paths", ingress.paths.len()),
            ("spec.ingress.annotations", ingress.annotations.len()),
            (
                "spec.ingress.tls.hosts",
                ingress.tls.as_ref().map_or(0, |t| t.hosts.len()),
            ),
        ] {
            limit(c, || path.to_owned(), len, cap(path));
        }
    }
    if let Some(a) = &spec.autoscaling {
        for (path, len) in [
            ("spec.autoscaling.pods", a.pods.len()),
            ("spec.autoscaling.external", a.external.len()),
        ] {
            limit(c, || path.to_owned(), len, cap(path));
        }
        for (i, m) in a.external.iter().enumerate() {
            limit(
                c,
                || format!("spec.autoscaling.external[{i}].selector"),
                m.selector.len(),
                cap("spec.autoscaling.external[].selector"),
            );
        }
    }
    for (i, external) in spec.external_services.iter().enumerate() {
        limit(
            c,
            || format!("spec.externalServices[{i}].ports"),
            external.ports.len(),
            cap("spec.externalServices[].ports"),
        );
    }
    if let Some(policy) = &spec.network_policy {
        for (path, len) in [
            ("spec.networkPolicy.allowFrom", policy.allow_from.len()),
            (
                "spec.networkPolicy.allowFromNamespaces",
                policy.allow_from_namespaces.len(),
            ),
            ("spec.networkPolicy.egressTo", policy.egress_to.len()),
            ("spec.networkPolicy.egressCidrs", policy.egress_cidrs.len()),
        ] {
            limit(c, || path.to_owned(), len, cap(path));
        }
        for (i, rule) in policy.egress_cidrs.iter().enumerate() {
            limit(
                c,
                || format!("spec.networkPolicy.egressCidrs[{i}].ports"),
                rule.ports.len(),
                cap("spec.networkPolicy.egressCidrs[].ports"),
            );
        }
    }
    if let Some(placement) = &spec.placement {
        limit(
            c,
            || "spec.placement.nodeSelector".into(),
            placement.node_selector.len(),
            cap("spec.placement.nodeSelector"),
        );
        limit(
            c,
            || "spec.placement.tolerations".into(),
            placement.tolerations.len(),
            cap("spec.placement.tolerations"),
        );
    }
    if let Some(account) = &spec.service_account {
        limit(
            c,
            || "spec.serviceAccount.annotations".into(),
            account.annotations.len(),
            cap("spec.serviceAccount.annotations"),
        );
    }
    if let Some(probes) = &spec.probes {
        for (what, probe) in [
            ("liveness", &probes.liveness),
            ("readiness", &probes.readiness),
            ("startup", &probes.startup),
        ] {
            if let Some(exec) = probe.as_ref().and_then(|p| p.exec.as_ref()) {
                limit(
                    c,
                    || format!("spec.probes.{what}.exec.command"),
                    exec.command.len(),
                    cap("spec.probes.*.exec.command"),
                );
            }
        }
    }
    if let Some(stateful) = &spec.stateful {
        limit(
            c,
            || "spec.stateful.volumeClaims".into(),
            stateful.volume_claims.len(),
            cap("spec.stateful.volumeClaims"),
        );
    }
    for (name, o) in &spec.environments {
        let at = crate::spec::structure::join("spec.environments", name);
        limit(
            c,
            || format!("{at}.hosts"),
            o.hosts.len(),
            cap("spec.environments.*.hosts"),
        );
        limit(
            c,
            || format!("{at}.env"),
            o.env.len(),
            cap("spec.environments.*.env"),
        );
    }
    for (list, containers) in [
        ("spec.initContainers", &spec.init_containers),
        ("spec.sidecars", &spec.sidecars),
    ] {
        for (i, container) in containers.iter().enumerate() {
            container_limits(c, &format!("{list}[{i}]"), container);
        }
    }
}

fn container_limits(c: &mut Check<'_>, at: &str, container: &Container) {
    let words = cap("containers: command, args");
    limit(
        c,
        || format!("{at}.command"),
        container.command.len(),
        words,
    );
    limit(c, || format!("{at}.args"), container.args.len(), words);
    limit(
        c,
        || format!("{at}.env"),
        container.env.len(),
        cap("containers: env"),
    );
    limit(
        c,
        || format!("{at}.volumeMounts"),
        container.volume_mounts.len(),
        cap("containers: volumeMounts"),
    );
}
