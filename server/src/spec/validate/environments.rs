//! Rules for per-environment overrides, reported at the override's own path.

use super::Check;
use crate::spec::model::{EnvironmentOverride, Resources, Spec};
use crate::spec::{merge_resources, names, suggest};

pub(super) fn check(c: &mut Check<'_>, raw: &Spec, environments: &[&str]) {
    for (name, o) in &raw.environments {
        let at = crate::spec::structure::join("spec.environments", name);
        if !environments.contains(&name.as_str()) {
            let message = match suggest::closest(name, environments.iter().copied()) {
                Some(near) => format!("unknown environment; did you mean `{near}`?"),
                None => format!(
                    "unknown environment; expected one of {}",
                    environments.join(", ")
                ),
            };
            c.err(&at, message);
        }
        one(c, &at, o);
    }
}

fn one(c: &mut Check<'_>, at: &str, o: &EnvironmentOverride) {
    let spec = c.spec;
    if o.replicas.is_some_and(|n| n > 1000) {
        c.err(format!("{at}.replicas"), "must be at most 1000");
    }
    if let Some(resources) = &o.resources {
        let before = c.errors.len();
        super::containers::resources(c, &format!("{at}.resources"), resources);
        if c.errors.len() == before {
            merged_limits(c, at, spec.resources.as_ref(), resources);
        }
    }
    if let Some(bounds) = &o.autoscaling {
        match &spec.autoscaling {
            None => c.err(
                format!("{at}.autoscaling"),
                "spec.autoscaling is not set, so there are no bounds to change",
            ),
            Some(_) if o.replicas.is_some() => {
                c.err(
                    format!("{at}.autoscaling"),
                    "remove it: `replicas` turns autoscaling off in this environment",
                );
            }
            Some(base) => {
                let min = bounds.min_replicas.unwrap_or(base.min_replicas);
                let max = bounds.max_replicas.unwrap_or(base.max_replicas);
                if min == 0 {
                    c.err(
                        format!("{at}.autoscaling.minReplicas"),
                        "must be at least 1",
                    );
                }
                if min > max {
                    let field = if bounds.min_replicas.is_some() {
                        "minReplicas"
                    } else {
                        "maxReplicas"
                    };
                    c.err(
                        format!("{at}.autoscaling.{field}"),
                        format!("minReplicas {min} is above maxReplicas {max}"),
                    );
                }
            }
        }
    }
    if !o.hosts.is_empty() {
        if spec.ingress.is_none() {
            c.err(
                format!("{at}.hosts"),
                "spec.ingress is not set, so there are no hosts to change",
            );
        }
        for (i, host) in o.hosts.iter().enumerate() {
            c.result(|| format!("{at}.hosts[{i}]"), names::host(host));
        }
        for (i, j) in super::duplicates(&o.hosts, String::as_str) {
            c.err(
                format!("{at}.hosts[{i}]"),
                format!("`{}` is already listed at {at}.hosts[{j}]", o.hosts[i]),
            );
        }
    }
    for name in o.env.keys() {
        let path = || crate::spec::structure::join(&format!("{at}.env"), name);
        c.result(path, names::env_name(name));
        if let Some(base) = spec.env.iter().find(|e| &e.name == name) {
            let source = if base.secret.is_some() {
                Some("a Secret")
            } else if base.config_map.is_some() {
                Some("a ConfigMap")
            } else if base.field.is_some() {
                Some("a pod field")
            } else {
                None
            };
            if let Some(source) = source {
                c.err(path(), format!("`{name}` comes from {source} in spec.env; an override only sets literal values"));
            }
        }
    }
}

/// After merging, no limit may fall below its request.
fn merged_limits(c: &mut Check<'_>, at: &str, base: Option<&Resources>, over: &Resources) {
    let merged = merge_resources(base, over);
    for what in ["cpu", "memory", "ephemeralStorage"] {
        let value = |list: &Option<crate::spec::ResourceList>| {
            list.as_ref()
                .and_then(|l| super::containers::get(l, what))
                .and_then(|q| {
                    crate::spec::quantity::parse(q.as_str())
                        .ok()
                        .map(|v| (v, q.to_string()))
                })
        };
        if let (Some((request, request_text)), Some((limit, limit_text))) =
            (value(&merged.requests), value(&merged.limits))
            && limit < request
        {
            let side = if over
                .limits
                .as_ref()
                .and_then(|l| super::containers::get(l, what))
                .is_some()
            {
                "limits"
            } else {
                "requests"
            };
            c.err(
                format!("{at}.resources.{side}.{what}"),
                format!(
                    "limit {limit_text} is below the request {request_text} in this environment"
                ),
            );
        }
    }
}
