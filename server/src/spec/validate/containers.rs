//! Rules for what runs in the pod: ports, environment, files, resources,
//! probes, init containers, sidecars and volumes.

use std::collections::BTreeMap;

use super::{Check, duplicates};
use crate::spec::Quantity;
use crate::spec::defaults;
use crate::spec::model::{
    Container, EnvFrom, EnvVar, Probe, ResourceList, Resources, WorkloadKind,
};
use crate::spec::names;

/// Pod fields an environment variable may read (the Downward API's `fieldRef`).
const FIELD_PATHS: [&str; 8] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.podIP",
    "status.podIPs",
];

/// ConfigMaps are stored in etcd, whose objects are limited to about 1 MiB.
const MAX_CONFIG_BYTES: usize = 900 * 1024;

pub(super) fn check(c: &mut Check<'_>) {
    ports(c);
    let spec = c.spec;
    env_list(c, "spec.env", &spec.env);
    env_from_list(c, "spec.envFrom", &spec.env_from);
    config_files(c);
    if let Some(resources) = &spec.resources {
        self::resources(c, "spec.resources", resources);
    }
    probes(c);
    containers(c);
    volumes(c);
    app_mount_paths(c);
}

fn ports(c: &mut Check<'_>) {
    let spec = c.spec;
    for (i, port) in spec.ports.iter().enumerate() {
        c.result(
            || format!("spec.ports[{i}].name"),
            names::port_name(&port.name),
        );
        if port.port == 0 {
            c.err(
                format!("spec.ports[{i}].port"),
                "must be between 1 and 65535",
            );
        }
    }
    for (i, j) in duplicates(&spec.ports, |p| p.name.as_str()) {
        c.err(
            format!("spec.ports[{i}].name"),
            format!(
                "`{}` is already used by spec.ports[{j}]",
                spec.ports[i].name
            ),
        );
    }
    for (i, j) in duplicates(&spec.ports, |p| {
        (p.port, p.protocol.map(|p| p.as_str()).unwrap_or("TCP"))
    }) {
        c.err(
            format!("spec.ports[{i}].port"),
            format!("{} clashes with spec.ports[{j}]", spec.ports[i].port),
        );
    }
    if c.kind == WorkloadKind::Web && spec.ports.is_empty() {
        c.err(
            "spec.ports",
            "a web service needs at least one port (or a framework preset that declares one)",
        );
    }
}

/// Rules for a list of environment variables at `path`.
pub(super) fn env_list(c: &mut Check<'_>, path: &str, env: &[EnvVar]) {
    for (i, var) in env.iter().enumerate() {
        // Paths are built only for problems: this runs for every variable of every render.
        let at = || format!("{path}[{i}]");
        c.result(|| format!("{}.name", at()), names::env_name(&var.name));
        let sources = [
            var.value.is_some(),
            var.secret.is_some(),
            var.config_map.is_some(),
            var.field.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        match sources {
            0 => c.err(at(), "set one of `value`, `secret`, `configMap` or `field`"),
            1 => {}
            _ => c.err(
                at(),
                "set only one of `value`, `secret`, `configMap` or `field`",
            ),
        }
        for (what, reference) in [("secret", &var.secret), ("configMap", &var.config_map)] {
            if let Some(r) = reference {
                c.result(
                    || format!("{}.{what}.name", at()),
                    names::dns_subdomain(&r.name),
                );
                let key = if r.key.is_empty() {
                    Err("must not be empty".to_owned())
                } else {
                    names::config_key(&r.key)
                };
                c.result(|| format!("{}.{what}.key", at()), key);
            }
        }
        if let Some(field) = &var.field {
            let labelled = ["metadata.labels['", "metadata.annotations['"]
                .iter()
                .any(|p| field.starts_with(p) && field.ends_with("']"));
            if !FIELD_PATHS.contains(&field.as_str()) && !labelled {
                c.err(
                    format!("{}.field", at()),
                    format!(
                        "`{field}` is not a pod field; use one of {}",
                        FIELD_PATHS.join(", ")
                    ),
                );
            }
        }
    }
    for (i, j) in duplicates(env, |v| v.name.as_str()) {
        c.err(
            format!("{path}[{i}].name"),
            format!("`{}` is already set by {path}[{j}]", env[i].name),
        );
    }
}

fn env_from_list(c: &mut Check<'_>, path: &str, list: &[EnvFrom]) {
    for (i, from) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match (&from.config_map, &from.secret) {
            (Some(name), None) => {
                c.result(|| format!("{at}.configMap"), names::dns_subdomain(name))
            }
            (None, Some(name)) => c.result(|| format!("{at}.secret"), names::dns_subdomain(name)),
            (None, None) => c.err(&at, "set one of `configMap` or `secret`"),
            (Some(_), Some(_)) => c.err(&at, "set only one of `configMap` or `secret`"),
        }
        if let Some(prefix) = &from.prefix
            && names::env_name(&format!("{prefix}X")).is_err()
        {
            c.err(
                format!("{at}.prefix"),
                format!("`{prefix}` cannot start a variable name"),
            );
        }
    }
}

fn config_files(c: &mut Check<'_>) {
    let Some(files) = &c.spec.config_files else {
        return;
    };
    if files.files.is_empty() {
        c.err("spec.configFiles.files", "list at least one file");
    }
    for name in files.files.keys() {
        c.result(
            || crate::spec::structure::join("spec.configFiles.files", name),
            names::config_key(name),
        );
    }
    let size: usize = files.files.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_CONFIG_BYTES {
        c.err(
            "spec.configFiles.files",
            format!("{size} bytes is more than a ConfigMap holds ({MAX_CONFIG_BYTES})"),
        );
    }
    if let Some(mount) = &files.mount_path {
        c.result(|| "spec.configFiles.mountPath", mount_path(mount));
    }
}

/// A mount path: absolute and not `/tmp`, which every container already mounts.
fn mount_path(path: &str) -> Result<(), String> {
    names::absolute_path(path)?;
    if path.trim_end_matches('/') == "/tmp" || path == "/" {
        return Err(format!(
            "`{path}` is reserved (the root filesystem and /tmp are managed by Slipway)"
        ));
    }
    Ok(())
}

/// Rules for requests and limits at `path`: positive quantities, limits not below requests.
pub(super) fn resources(c: &mut Check<'_>, path: &str, r: &Resources) {
    const RESOURCES: [&str; 3] = ["cpu", "memory", "ephemeralStorage"];
    // values[side][resource]: requests are side 0, limits side 1.
    let mut values = [[None::<f64>; 3]; 2];
    for (side_index, (side, list)) in [("requests", &r.requests), ("limits", &r.limits)]
        .into_iter()
        .enumerate()
    {
        let Some(list) = list else { continue };
        for (what_index, what) in RESOURCES.into_iter().enumerate() {
            if let Some(q) = get(list, what) {
                values[side_index][what_index] =
                    c.positive_quantity(|| format!("{path}.{side}.{what}"), q);
            }
        }
    }
    for (what_index, what) in RESOURCES.into_iter().enumerate() {
        if let (Some(request), Some(limit)) = (values[0][what_index], values[1][what_index])
            && limit < request
        {
            let text = |list: &Option<ResourceList>| {
                list.as_ref()
                    .and_then(|l| get(l, what))
                    .map(ToString::to_string)
                    .unwrap_or_default()
            };
            c.err(
                format!("{path}.limits.{what}"),
                format!(
                    "limit {} is below the request {}",
                    text(&r.limits),
                    text(&r.requests)
                ),
            );
        }
    }
}

/// The quantity named `what` (as written in the spec) of a resource list.
pub(super) fn get<'a>(list: &'a ResourceList, what: &str) -> Option<&'a Quantity> {
    match what {
        "cpu" => list.cpu.as_ref(),
        "memory" => list.memory.as_ref(),
        _ => list.ephemeral_storage.as_ref(),
    }
}

fn probes(c: &mut Check<'_>) {
    let Some(probes) = &c.spec.probes else { return };
    for (name, probe) in [
        ("liveness", &probes.liveness),
        ("readiness", &probes.readiness),
        ("startup", &probes.startup),
    ] {
        if let Some(probe) = probe {
            self::probe(c, &format!("spec.probes.{name}"), probe);
        }
    }
    if c.kind == WorkloadKind::Cron && probes.readiness.is_some() {
        c.err(
            "spec.probes.readiness",
            "cron jobs receive no traffic, so they have no readiness probe",
        );
    }
}

fn probe(c: &mut Check<'_>, path: &str, p: &Probe) {
    let kinds = [p.http.is_some(), p.tcp.is_some(), p.exec.is_some()]
        .iter()
        .filter(|k| **k)
        .count();
    match kinds {
        0 => c.err(path, "set one of `http`, `tcp` or `exec`"),
        1 => {}
        _ => c.err(path, "set only one of `http`, `tcp` or `exec`"),
    }
    if let Some(http) = &p.http
        && !http.path.starts_with('/')
    {
        c.err(
            format!("{path}.http.path"),
            format!("`{}` must start with '/'", http.path),
        );
    }
    for (what, port) in [
        ("http", p.http.as_ref().map(|h| &h.port)),
        ("tcp", p.tcp.as_ref().map(|t| &t.port)),
    ] {
        match port {
            Some(Some(port)) => c.require_declared_port(&format!("{path}.{what}.port"), port),
            Some(None) if c.spec.ports.is_empty() => {
                c.err(
                    format!("{path}.{what}.port"),
                    "missing; no ports are declared to default to",
                );
            }
            _ => {}
        }
    }
    if let Some(exec) = &p.exec
        && exec.command.is_empty()
    {
        c.err(format!("{path}.exec.command"), "must not be empty");
    }
    for (what, value) in [
        ("periodSeconds", p.period_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("failureThreshold", p.failure_threshold),
    ] {
        if value == Some(0) {
            c.err(format!("{path}.{what}"), "must be at least 1");
        }
    }
    if p.initial_delay_seconds.is_some_and(|s| s > 3600) {
        c.err(
            format!("{path}.initialDelaySeconds"),
            "must be at most 3600",
        );
    }
}

fn containers(c: &mut Check<'_>) {
    let spec = c.spec;
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    seen.insert(
        defaults::APP_CONTAINER,
        "the application container".to_owned(),
    );
    for (list, label) in [
        (&spec.init_containers, "spec.initContainers"),
        (&spec.sidecars, "spec.sidecars"),
    ] {
        for (i, container) in list.iter().enumerate() {
            let at = format!("{label}[{i}]");
            match names::dns_label(&container.name) {
                Err(message) => c.err(format!("{at}.name"), message),
                Ok(()) => match seen.get(container.name.as_str()) {
                    Some(other) => c.err(
                        format!("{at}.name"),
                        format!("`{}` is already used by {other}", container.name),
                    ),
                    None => {
                        seen.insert(&container.name, at.clone());
                    }
                },
            }
            self::container(c, &at, container, label == "spec.sidecars");
        }
    }
}

fn container(c: &mut Check<'_>, at: &str, container: &Container, sidecar: bool) {
    match &container.image {
        Some(image) => c.result(|| format!("{at}.image"), names::image(image).map(|_| ())),
        None if sidecar => c.err(
            format!("{at}.image"),
            "missing; a sidecar runs its own image",
        ),
        None => {}
    }
    env_list(c, &format!("{at}.env"), &container.env);
    if let Some(resources) = &container.resources {
        self::resources(c, &format!("{at}.resources"), resources);
    }
    for (j, mount) in container.volume_mounts.iter().enumerate() {
        let path = format!("{at}.volumeMounts[{j}]");
        let known = c.spec.volumes.iter().any(|v| v.name == mount.name)
            || (mount.name == defaults::CONFIG_VOLUME && c.spec.config_files.is_some());
        if !known {
            let message = if mount.name == defaults::CONFIG_VOLUME {
                "volume `config` holds spec.configFiles, which is not set".to_owned()
            } else {
                format!("no volume `{}` in spec.volumes", mount.name)
            };
            c.err(format!("{path}.name"), message);
        }
        c.result(
            || format!("{path}.mountPath"),
            mount_path(&mount.mount_path),
        );
    }
    for (j, k) in duplicates(&container.volume_mounts, |m| {
        m.mount_path.trim_end_matches('/').to_owned()
    }) {
        c.err(
            format!("{at}.volumeMounts[{j}].mountPath"),
            format!(
                "`{}` is already mounted by {at}.volumeMounts[{k}]",
                container.volume_mounts[j].mount_path
            ),
        );
    }
}

fn volumes(c: &mut Check<'_>) {
    let spec = c.spec;
    for (i, volume) in spec.volumes.iter().enumerate() {
        let at = format!("spec.volumes[{i}]");
        c.result(|| format!("{at}.name"), names::dns_label(&volume.name));
        if volume.name == defaults::TMP_VOLUME || volume.name == defaults::CONFIG_VOLUME {
            c.err(
                format!("{at}.name"),
                format!("`{}` is reserved by Slipway", volume.name),
            );
        }
        if let Some(path) = &volume.mount_path {
            c.result(|| format!("{at}.mountPath"), mount_path(path));
        }
        if let Some(limit) = &volume.size_limit {
            c.positive_quantity(|| format!("{at}.sizeLimit"), limit);
        }
        match (&volume.config_map, &volume.secret) {
            (Some(_), Some(_)) => c.err(&at, "set at most one of `configMap` or `secret`"),
            (Some(name), None) => {
                c.result(|| format!("{at}.configMap"), names::dns_subdomain(name))
            }
            (None, Some(name)) => c.result(|| format!("{at}.secret"), names::dns_subdomain(name)),
            (None, None) => {}
        }
        if (volume.config_map.is_some() || volume.secret.is_some())
            && (volume.in_memory.is_some() || volume.size_limit.is_some())
        {
            c.err(&at, "`inMemory` and `sizeLimit` apply to empty directories, not to ConfigMap or Secret volumes");
        }
        let used = volume.mount_path.is_some()
            || spec
                .init_containers
                .iter()
                .chain(&spec.sidecars)
                .any(|container| {
                    container
                        .volume_mounts
                        .iter()
                        .any(|m| m.name == volume.name)
                });
        if !used {
            c.err(&at, format!("`{}` is not mounted by any container; set `mountPath` or mount it in a sidecar", volume.name));
        }
    }
    for (i, j) in duplicates(&spec.volumes, |v| v.name.as_str()) {
        c.err(
            format!("spec.volumes[{i}].name"),
            format!(
                "`{}` is already used by spec.volumes[{j}]",
                spec.volumes[i].name
            ),
        );
    }
}

/// Mount paths of the application container must not collide.
fn app_mount_paths(c: &mut Check<'_>) {
    let spec = c.spec;
    let mut mounts: Vec<(String, String)> = Vec::new();
    if let Some(files) = &spec.config_files {
        let path = files
            .mount_path
            .clone()
            .unwrap_or_else(|| defaults::CONFIG_MOUNT_PATH.to_owned());
        mounts.push((path, "spec.configFiles.mountPath".to_owned()));
    }
    for (i, volume) in spec.volumes.iter().enumerate() {
        if let Some(path) = &volume.mount_path {
            mounts.push((path.clone(), format!("spec.volumes[{i}].mountPath")));
        }
    }
    if let Some(stateful) = &spec.stateful {
        for (i, claim) in stateful.volume_claims.iter().enumerate() {
            mounts.push((
                claim.mount_path.clone(),
                format!("spec.stateful.volumeClaims[{i}].mountPath"),
            ));
        }
    }
    for (i, j) in duplicates(&mounts, |(p, _)| p.trim_end_matches('/')) {
        let (path, at) = mounts[i].clone();
        let other = mounts[j].1.clone();
        c.err(at, format!("`{path}` is already mounted by {other}"));
    }
}
