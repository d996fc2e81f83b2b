//! Rules for how a service is reached and what it may reach: Service,
//! Ingress, external services and NetworkPolicy.

use super::{Check, duplicates, tenancy};
use crate::spec::model::{ServiceType, WorkloadKind};
use crate::spec::names;
use crate::spec::scalar::PortRef;

pub(super) fn check(c: &mut Check<'_>) {
    service(c);
    ingress(c);
    external_services(c);
    network_policy(c);
}

fn service(c: &mut Check<'_>) {
    let Some(service) = &c.spec.service else {
        return;
    };
    if !matches!(c.kind, WorkloadKind::Web | WorkloadKind::Stateful) {
        c.err(
            "spec.service",
            format!("a {} has no Service; use kind web", c.kind.as_str()),
        );
        return;
    }
    let kind = service.type_.unwrap_or(ServiceType::ClusterIP);
    if c.kind == WorkloadKind::Stateful && kind != ServiceType::ClusterIP {
        c.err(
            "spec.service.type",
            "a stateful service gets a headless Service, which is always ClusterIP",
        );
    }
    for (i, port) in service.ports.iter().enumerate() {
        let at = format!("spec.service.ports[{i}]");
        if port.port == 0 {
            c.err(format!("{at}.port"), "must be between 1 and 65535");
        }
        if let Some(name) = &port.name {
            c.result(|| format!("{at}.name"), names::port_name(name));
        }
        match &port.target_port {
            Some(target) => c.require_declared_port(&format!("{at}.targetPort"), target),
            None if c.spec.ports.is_empty() => c.err(
                format!("{at}.targetPort"),
                "missing; no ports are declared to default to",
            ),
            None => {}
        }
        if let Some(node_port) = port.node_port {
            if kind == ServiceType::ClusterIP {
                c.err(
                    format!("{at}.nodePort"),
                    "only NodePort and LoadBalancer services have node ports",
                );
            } else if !(30000..=32767).contains(&node_port) {
                c.err(format!("{at}.nodePort"), "must be between 30000 and 32767");
            }
        }
    }
    for (i, j) in duplicates(&service.ports, |p| p.port) {
        c.err(
            format!("spec.service.ports[{i}].port"),
            format!(
                "{} clashes with spec.service.ports[{j}]",
                service.ports[i].port
            ),
        );
    }
    let names: Vec<Option<String>> = service
        .ports
        .iter()
        .map(|p| {
            p.name
                .clone()
                .or_else(|| target_name(c, p.target_port.as_ref()))
        })
        .collect();
    if service.ports.len() > 1 {
        for (i, name) in names.iter().enumerate() {
            if name.is_none() {
                c.err(
                    format!("spec.service.ports[{i}].name"),
                    "missing; a Service with several ports names each one",
                );
            }
        }
        for (i, j) in duplicates(&names, Option::as_deref) {
            if names[i].is_some() {
                c.err(
                    format!("spec.service.ports[{i}].name"),
                    format!("clashes with spec.service.ports[{j}]"),
                );
            }
        }
    }
}

/// The name of the container port a target refers to (first port when unset).
fn target_name(c: &Check<'_>, target: Option<&PortRef>) -> Option<String> {
    let ports = &c.spec.ports;
    let port = match target {
        None => ports.first(),
        Some(PortRef::Number(n)) => ports.iter().find(|p| p.port == *n),
        Some(PortRef::Name(name)) => ports.iter().find(|p| &p.name == name),
    };
    port.map(|p| p.name.clone())
}

fn ingress(c: &mut Check<'_>) {
    let Some(ingress) = &c.spec.ingress else {
        return;
    };
    if c.kind != WorkloadKind::Web {
        c.err("spec.ingress", "only web services have an Ingress");
        return;
    }
    if ingress.hosts.is_empty() {
        c.err("spec.ingress.hosts", "list at least one host");
    }
    for (i, host) in ingress.hosts.iter().enumerate() {
        c.result(|| format!("spec.ingress.hosts[{i}]"), names::host(host));
    }
    for (i, j) in duplicates(&ingress.hosts, String::as_str) {
        c.err(
            format!("spec.ingress.hosts[{i}]"),
            format!(
                "`{}` is already listed at spec.ingress.hosts[{j}]",
                ingress.hosts[i]
            ),
        );
    }
    for (i, path) in ingress.paths.iter().enumerate() {
        if !path.path.starts_with('/') {
            c.err(
                format!("spec.ingress.paths[{i}].path"),
                format!("`{}` must start with '/'", path.path),
            );
        }
    }
    for (i, j) in duplicates(&ingress.paths, |p| p.path.as_str()) {
        c.err(
            format!("spec.ingress.paths[{i}].path"),
            format!(
                "`{}` is already listed at spec.ingress.paths[{j}]",
                ingress.paths[i].path
            ),
        );
    }
    if let Some(class) = &ingress.class_name {
        c.result(|| "spec.ingress.className", names::dns_subdomain(class));
    }
    if let Some(port) = &ingress.service_port {
        let service_ports = c
            .spec
            .service
            .as_ref()
            .map(|s| s.ports.clone())
            .unwrap_or_default();
        let known = if service_ports.is_empty() {
            // The default Service port is 80, named after the first container port.
            match port {
                PortRef::Number(n) => *n == crate::spec::defaults::SERVICE_PORT,
                PortRef::Name(name) => c.spec.ports.first().is_some_and(|p| &p.name == name),
            }
        } else {
            service_ports.iter().any(|p| match port {
                PortRef::Number(n) => p.port == *n,
                PortRef::Name(name) => {
                    p.name.as_ref() == Some(name)
                        || (p.name.is_none()
                            && target_name(c, p.target_port.as_ref()).as_ref() == Some(name))
                }
            })
        };
        if !known {
            c.err(
                "spec.ingress.servicePort",
                format!("the Service has no port `{port}`"),
            );
        }
    }
    for key in ingress.annotations.keys() {
        let path = || crate::spec::structure::join("spec.ingress.annotations", key);
        c.result(path, names::qualified_name(key));
        if let Some(why) = tenancy::forbidden_annotation(key) {
            c.err(path(), format!("`{key}` may not be set from a spec: {why}"));
        }
    }
    if let Some(tls) = &ingress.tls {
        c.result(
            || "spec.ingress.tls.secretName",
            names::dns_subdomain(&tls.secret_name),
        );
        for (i, host) in tls.hosts.iter().enumerate() {
            if !ingress.hosts.contains(host) {
                c.err(
                    format!("spec.ingress.tls.hosts[{i}]"),
                    format!("`{host}` is not among spec.ingress.hosts"),
                );
            }
        }
        if let Some(what) = secret_references(c.spec)
            .into_iter()
            .find(|(name, _)| *name == tls.secret_name)
            .map(|(_, what)| what)
        {
            c.err(
                "spec.ingress.tls.secretName",
                format!(
                    "`{}` is also referenced as a Secret at {what}; the certificate Secret is cert-manager's or the ingress controller's, so name it differently",
                    tls.secret_name
                ),
            );
        }
        if tls.cluster_issuer.is_some() && tls.issuer.is_some() {
            c.err(
                "spec.ingress.tls",
                "set only one of `clusterIssuer` or `issuer`",
            );
        }
        for (what, issuer) in [
            ("clusterIssuer", &tls.cluster_issuer),
            ("issuer", &tls.issuer),
        ] {
            if let Some(issuer) = issuer {
                c.result(
                    || format!("spec.ingress.tls.{what}"),
                    names::dns_subdomain(issuer),
                );
            }
        }
    }
}

fn external_services(c: &mut Check<'_>) {
    let spec = c.spec;
    for (i, external) in spec.external_services.iter().enumerate() {
        let at = format!("spec.externalServices[{i}]");
        c.result(|| format!("{at}.name"), names::dns_label(&external.name));
        if let Some(why) = tenancy::internal_name(&external.external_name)
            && external.external_name.parse::<std::net::IpAddr>().is_err()
            && external.external_name.contains('.')
        {
            c.err(
                format!("{at}.externalName"),
                format!(
                    "`{}` is cluster-internal ({why}); ExternalName may only point outside the cluster",
                    external.external_name
                ),
            );
        } else if external.external_name.parse::<std::net::IpAddr>().is_ok() {
            c.err(
                format!("{at}.externalName"),
                "ExternalName needs a DNS name; an IP address does not resolve through it",
            );
        } else if !external.external_name.contains('.') {
            c.err(
                format!("{at}.externalName"),
                format!(
                    "`{}` is not a fully qualified DNS name",
                    external.external_name
                ),
            );
        } else {
            c.result(
                || format!("{at}.externalName"),
                names::dns_subdomain(&external.external_name),
            );
        }
        for (j, port) in external.ports.iter().enumerate() {
            if *port == 0 {
                c.err(format!("{at}.ports[{j}]"), "must be between 1 and 65535");
            }
        }
    }
    for (i, j) in duplicates(&spec.external_services, |e| e.name.as_str()) {
        c.err(
            format!("spec.externalServices[{i}].name"),
            format!(
                "`{}` is already used by spec.externalServices[{j}]",
                spec.external_services[i].name
            ),
        );
    }
}

fn network_policy(c: &mut Check<'_>) {
    let Some(policy) = &c.spec.network_policy else {
        return;
    };
    if let Some(namespace) = &policy.ingress_controller_namespace {
        c.result(
            || "spec.networkPolicy.ingressControllerNamespace",
            names::dns_label(namespace),
        );
    }
    for (field, list) in [
        ("allowFrom", &policy.allow_from),
        ("allowFromNamespaces", &policy.allow_from_namespaces),
        ("egressTo", &policy.egress_to),
    ] {
        for (i, name) in list.iter().enumerate() {
            c.result(
                || format!("spec.networkPolicy.{field}[{i}]"),
                names::dns_label(name),
            );
        }
        for (i, j) in duplicates(list, String::as_str) {
            c.err(
                format!("spec.networkPolicy.{field}[{i}]"),
                format!(
                    "`{}` is already listed at spec.networkPolicy.{field}[{j}]",
                    list[i]
                ),
            );
        }
    }
    for (i, rule) in policy.egress_cidrs.iter().enumerate() {
        c.result(
            || format!("spec.networkPolicy.egressCidrs[{i}].cidr"),
            names::cidr(&rule.cidr),
        );
        for (j, port) in rule.ports.iter().enumerate() {
            if *port == 0 {
                c.err(
                    format!("spec.networkPolicy.egressCidrs[{i}].ports[{j}]"),
                    "must be between 1 and 65535",
                );
            }
        }
    }
}

/// Every Secret the spec references outside the Ingress, with the path of one
/// reference (env, envFrom, volumes, init containers and sidecars).
fn secret_references(spec: &crate::spec::model::Spec) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    env_secrets("spec.env", &spec.env, &mut out);
    for (i, from) in spec.env_from.iter().enumerate() {
        if let Some(secret) = &from.secret {
            out.push((secret.as_str(), format!("spec.envFrom[{i}].secret")));
        }
    }
    for (i, volume) in spec.volumes.iter().enumerate() {
        if let Some(secret) = &volume.secret {
            out.push((secret.as_str(), format!("spec.volumes[{i}].secret")));
        }
    }
    for (list, containers) in [
        ("spec.initContainers", &spec.init_containers),
        ("spec.sidecars", &spec.sidecars),
    ] {
        for (i, container) in containers.iter().enumerate() {
            env_secrets(&format!("{list}[{i}].env"), &container.env, &mut out);
        }
    }
    out
}

fn env_secrets<'a>(
    at: &str,
    env: &'a [crate::spec::model::EnvVar],
    out: &mut Vec<(&'a str, String)>,
) {
    for (i, var) in env.iter().enumerate() {
        if let Some(secret) = &var.secret {
            out.push((secret.name.as_str(), format!("{at}[{i}].secret.name")));
        }
    }
}
