//! The pod template: containers, volumes, security context and placement.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapEnvSource, ConfigMapKeySelector, ConfigMapVolumeSource,
    Container, ContainerPort, EmptyDirVolumeSource, EnvFromSource, EnvVar, EnvVarSource,
    ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler, ObjectFieldSelector, PodAffinityTerm,
    PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretEnvSource, SecretKeySelector, SecretVolumeSource, SecurityContext,
    SleepAction, TCPSocketAction, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{CONFIG_CHECKSUM_ANNOTATION, config_checksum, config_map_name};
use super::scaling::to_i32;
use super::{Input, meta};
use crate::spec::{
    self, AntiAffinity, Color, PortRef, WorkloadKind, ZoneSpread, defaults, quantity,
};

/// How the pod template is used.
#[derive(Debug, Clone, Copy)]
pub struct PodOptions<'a> {
    /// The blue-green colour, if any.
    pub color: Option<Color>,
    /// The application image of this pod.
    pub image: &'a str,
    /// Whether the owner is a Deployment (rolling spreads use `pod-template-hash`).
    pub deployment: bool,
}

/// The pod template of the service's workload.
pub fn template(input: &Input<'_>, options: PodOptions<'_>) -> PodTemplateSpec {
    let spec = input.spec;
    let mut annotations = BTreeMap::new();
    if let Some(metrics) = &spec.metrics {
        annotations.insert("prometheus.io/scrape".to_owned(), "true".to_owned());
        annotations.insert(
            "prometheus.io/port".to_owned(),
            port_number(input, &metrics.port).to_string(),
        );
        annotations.insert(
            "prometheus.io/path".to_owned(),
            metrics
                .path
                .clone()
                .unwrap_or_else(|| defaults::METRICS_PATH.to_owned()),
        );
    }
    if let Some(files) = &spec.config_files {
        annotations.insert(
            CONFIG_CHECKSUM_ANNOTATION.to_owned(),
            config_checksum(&files.files),
        );
    }
    let long_running = input.kind.is_long_running();
    let mut init_containers: Vec<Container> =
        spec.sidecars.iter().map(|s| sidecar(input, s)).collect();
    init_containers.extend(
        spec.init_containers
            .iter()
            .map(|c| init_container(input, c, options.image)),
    );
    let grace = spec
        .termination_grace_period_seconds
        .unwrap_or(defaults::TERMINATION_GRACE_SECONDS);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(meta::pod_labels(input, options.color)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(input.name().to_owned()),
            automount_service_account_token: Some(
                spec.service_account
                    .as_ref()
                    .and_then(|a| a.automount_token)
                    .unwrap_or(false),
            ),
            // Service links put variables like REDIS_PORT=tcp://… into every pod,
            // which breaks Python settings that read REDIS_PORT as a number.
            enable_service_links: Some(false),
            security_context: Some(pod_security(spec)),
            termination_grace_period_seconds: Some(i64::from(grace)),
            init_containers: (!init_containers.is_empty()).then_some(init_containers),
            containers: vec![app_container(input, options.image)],
            volumes: Some(volumes(input)),
            restart_policy: (!long_running).then(|| "Never".to_owned()),
            topology_spread_constraints: long_running.then(|| spread(input, options)).flatten(),
            affinity: long_running.then(|| affinity(input, options)).flatten(),
            node_selector: spec
                .placement
                .as_ref()
                .map(|p| p.node_selector.clone())
                .filter(|s| !s.is_empty()),
            tolerations: tolerations(spec),
            ..PodSpec::default()
        }),
    }
}

/// The spec's tolerations as Kubernetes objects; none when the spec has none.
fn tolerations(spec: &spec::Spec) -> Option<Vec<Toleration>> {
    let list = &spec.placement.as_ref()?.tolerations;
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|t| Toleration {
                key: Some(t.key.clone()),
                operator: t.operator.map(|o| o.as_str().to_owned()),
                value: t.value.clone().filter(|v| !v.is_empty()),
                effect: t.effect.map(|e| e.as_str().to_owned()),
                toleration_seconds: t.toleration_seconds,
            })
            .collect()
    })
}

fn pod_security(spec: &spec::Spec) -> PodSecurityContext {
    let security = spec.security.clone().unwrap_or_default();
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(security.run_as_user.unwrap_or(defaults::RUN_AS_USER)),
        run_as_group: Some(security.run_as_group.unwrap_or(defaults::RUN_AS_GROUP)),
        fs_group: Some(security.fs_group.unwrap_or(defaults::FS_GROUP)),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// The container security context every container gets.
fn container_security(spec: &spec::Spec) -> SecurityContext {
    let read_only = spec
        .security
        .as_ref()
        .and_then(|s| s.read_only_root_filesystem)
        .unwrap_or(true);
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(read_only),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        ..SecurityContext::default()
    }
}

fn app_container(input: &Input<'_>, image: &str) -> Container {
    let spec = input.spec;
    let probes = spec.probes.clone().unwrap_or_default();
    let pre_stop = spec.pre_stop_sleep_seconds.unwrap_or(match input.kind {
        WorkloadKind::Web => defaults::PRE_STOP_SLEEP_SECONDS_WEB,
        _ => 0,
    });
    let mut mounts = vec![tmp_mount()];
    if let Some(files) = &spec.config_files {
        mounts.push(VolumeMount {
            name: defaults::CONFIG_VOLUME.to_owned(),
            mount_path: files
                .mount_path
                .clone()
                .unwrap_or_else(|| defaults::CONFIG_MOUNT_PATH.to_owned()),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    for volume in &spec.volumes {
        if let Some(path) = &volume.mount_path {
            mounts.push(VolumeMount {
                name: volume.name.clone(),
                mount_path: path.clone(),
                read_only: (volume.config_map.is_some() || volume.secret.is_some()).then_some(true),
                ..VolumeMount::default()
            });
        }
    }
    if let Some(stateful) = &spec.stateful {
        for claim in &stateful.volume_claims {
            mounts.push(VolumeMount {
                name: claim.name.clone(),
                mount_path: claim.mount_path.clone(),
                ..VolumeMount::default()
            });
        }
    }
    Container {
        name: defaults::APP_CONTAINER.to_owned(),
        image: Some(image.to_owned()),
        command: non_empty(&spec.command),
        args: non_empty(&spec.args),
        working_dir: spec.working_dir.clone(),
        ports: non_empty(
            &spec
                .ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.port),
                    protocol: Some(p.protocol.map_or("TCP", |p| p.as_str()).to_owned()),
                    ..ContainerPort::default()
                })
                .collect::<Vec<_>>(),
        ),
        env: non_empty(&app_env(input)),
        env_from: non_empty(&env_from(&spec.env_from)),
        image_pull_policy: Some(pull_policy(spec)),
        resources: Some(with_ephemeral_storage(
            spec.resources.as_ref().map(resources).unwrap_or_default(),
            defaults::APP_EPHEMERAL_STORAGE_REQUEST,
            &app_ephemeral_storage_limit(input),
        )),
        liveness_probe: probes.liveness.as_ref().map(|p| probe(input, p)),
        readiness_probe: probes.readiness.as_ref().map(|p| probe(input, p)),
        startup_probe: probes.startup.as_ref().map(|p| probe(input, p)),
        lifecycle: (pre_stop > 0 && input.kind.is_long_running()).then(|| Lifecycle {
            // The sleep action needs no shell in the image (Kubernetes ≥ 1.30).
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: i64::from(pre_stop),
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        security_context: Some(container_security(spec)),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// The application's environment: the spec's variables (preset ones last),
/// then `LOG_FORMAT`/`LOG_LEVEL` from `spec.logging` unless set explicitly.
fn app_env(input: &Input<'_>) -> Vec<EnvVar> {
    let spec = input.spec;
    let mut vars: Vec<EnvVar> = spec.env.iter().map(env_var).collect();
    if let Some(logging) = &spec.logging {
        let mut add = |name: &str, value: &str| {
            if !spec.env.iter().any(|e| e.name == name) {
                vars.push(EnvVar {
                    name: name.to_owned(),
                    value: Some(value.to_owned()),
                    value_from: None,
                });
            }
        };
        add("LOG_FORMAT", logging.format.as_str());
        if let Some(level) = &logging.level {
            add("LOG_LEVEL", &level.to_uppercase());
        }
    }
    vars
}

fn env_var(var: &spec::EnvVar) -> EnvVar {
    let value_from = if let Some(r) = &var.secret {
        Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: r.name.clone(),
                key: r.key.clone(),
                optional: r.optional,
            }),
            ..EnvVarSource::default()
        })
    } else if let Some(r) = &var.config_map {
        Some(EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: r.name.clone(),
                key: r.key.clone(),
                optional: r.optional,
            }),
            ..EnvVarSource::default()
        })
    } else {
        var.field.as_ref().map(|path| EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.clone(),
                api_version: None,
            }),
            ..EnvVarSource::default()
        })
    };
    EnvVar {
        name: var.name.clone(),
        value: var.value.as_ref().map(|v| v.as_str().to_owned()),
        value_from,
    }
}

fn env_from(list: &[spec::EnvFrom]) -> Vec<EnvFromSource> {
    list.iter()
        .map(|from| EnvFromSource {
            config_map_ref: from.config_map.as_ref().map(|name| ConfigMapEnvSource {
                name: name.clone(),
                optional: from.optional,
            }),
            secret_ref: from.secret.as_ref().map(|name| SecretEnvSource {
                name: name.clone(),
                optional: from.optional,
            }),
            prefix: from.prefix.clone(),
        })
        .collect()
}

fn resources(r: &spec::Resources) -> ResourceRequirements {
    let list = |l: &Option<spec::ResourceList>| {
        l.as_ref().map(|l| {
            let mut out = BTreeMap::new();
            for (name, q) in [
                ("cpu", &l.cpu),
                ("memory", &l.memory),
                ("ephemeral-storage", &l.ephemeral_storage),
            ] {
                if let Some(q) = q {
                    out.insert(name.to_owned(), Quantity(q.as_str().to_owned()));
                }
            }
            out
        })
    };
    ResourceRequirements {
        requests: list(&r.requests),
        limits: list(&r.limits),
        ..ResourceRequirements::default()
    }
}

fn pull_policy(spec: &spec::Spec) -> String {
    spec.image_pull_policy
        .map_or(defaults::IMAGE_PULL_POLICY, spec::PullPolicy::as_str)
        .to_owned()
}

const EPHEMERAL_STORAGE: &str = "ephemeral-storage";

/// `r` with an ephemeral-storage request and limit where it names none, so the
/// scheduler counts the container's disk and the kubelet stops it before it
/// fills the node's. A request given alone keeps the default limit unless it
/// is larger, a limit given alone lowers the default request to it.
fn with_ephemeral_storage(
    mut r: ResourceRequirements,
    request: &str,
    limit: &str,
) -> ResourceRequirements {
    let size = |q: &Quantity| quantity::parse(&q.0).unwrap_or(0.0);
    let requests = r.requests.get_or_insert_with(BTreeMap::new);
    let limits = r.limits.get_or_insert_with(BTreeMap::new);
    let default_request = Quantity(request.to_owned());
    let default_limit = Quantity(limit.to_owned());
    match (
        requests.get(EPHEMERAL_STORAGE),
        limits.get(EPHEMERAL_STORAGE),
    ) {
        (Some(_), Some(_)) => {}
        (Some(given), None) => {
            let limit = if size(given) > size(&default_limit) {
                given.clone()
            } else {
                default_limit
            };
            limits.insert(EPHEMERAL_STORAGE.to_owned(), limit);
        }
        (None, Some(given)) => {
            let request = if size(given) < size(&default_request) {
                given.clone()
            } else {
                default_request
            };
            requests.insert(EPHEMERAL_STORAGE.to_owned(), request);
        }
        (None, None) => {
            requests.insert(EPHEMERAL_STORAGE.to_owned(), default_request);
            limits.insert(EPHEMERAL_STORAGE.to_owned(), default_limit);
        }
    }
    r
}

/// The application container's default ephemeral-storage limit: its own
/// allowance plus every disk-backed emptyDir of the pod (`/tmp` and the
/// `volumes` without `inMemory`), because the kubelet counts those against the
/// containers' limits: an emptyDir filled to its own size limit must not get
/// the pod evicted.
fn app_ephemeral_storage_limit(input: &Input<'_>) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    let parse = |q: &str| quantity::parse(q).unwrap_or(0.0);
    let mut bytes = parse(defaults::APP_EPHEMERAL_STORAGE_LIMIT) + parse(defaults::TMP_SIZE_LIMIT);
    for volume in &input.spec.volumes {
        let disk = volume.config_map.is_none()
            && volume.secret.is_none()
            && !volume.in_memory.unwrap_or(false);
        if disk {
            bytes += parse(
                volume
                    .size_limit
                    .as_ref()
                    .map_or(defaults::EMPTY_DIR_SIZE_LIMIT, |q| q.as_str()),
            );
        }
    }
    format!("{}Mi", (bytes / MIB).ceil())
}

/// A probe; an unset port means the first declared port.
fn probe(input: &Input<'_>, p: &spec::Probe) -> Probe {
    let port = |port: &Option<PortRef>| match port {
        Some(PortRef::Number(n)) => IntOrString::Int(i32::from(*n)),
        Some(PortRef::Name(name)) => IntOrString::String(name.clone()),
        None => input
            .spec
            .ports
            .first()
            .map_or(IntOrString::Int(0), |p| IntOrString::String(p.name.clone())),
    };
    Probe {
        http_get: p.http.as_ref().map(|h| HTTPGetAction {
            path: Some(h.path.clone()),
            port: port(&h.port),
            ..HTTPGetAction::default()
        }),
        tcp_socket: p.tcp.as_ref().map(|t| TCPSocketAction {
            port: port(&t.port),
            host: None,
        }),
        exec: p.exec.as_ref().map(|e| ExecAction {
            command: Some(e.command.clone()),
        }),
        initial_delay_seconds: p.initial_delay_seconds.map(to_i32),
        period_seconds: p.period_seconds.map(to_i32),
        timeout_seconds: p.timeout_seconds.map(to_i32),
        failure_threshold: p.failure_threshold.map(to_i32),
        ..Probe::default()
    }
}

fn init_container(input: &Input<'_>, c: &spec::Container, app_image: &str) -> Container {
    let inherit = c.inherit_env.unwrap_or(true);
    let mut container = extra_container(input, c, inherit);
    // Migrations must run the version being deployed, so the default is the app's image.
    container.image = Some(c.image.clone().unwrap_or_else(|| app_image.to_owned()));
    if c.resources.is_none() {
        container.resources = Some(with_ephemeral_storage(
            input
                .spec
                .resources
                .as_ref()
                .map(resources)
                .unwrap_or_default(),
            defaults::EXTRA_EPHEMERAL_STORAGE_REQUEST,
            defaults::EXTRA_EPHEMERAL_STORAGE_LIMIT,
        ));
    }
    container
}

/// A sidecar as a native sidecar (an init container that keeps running): it
/// starts before the app, stops after it, and does not keep a Job alive.
fn sidecar(input: &Input<'_>, c: &spec::Container) -> Container {
    let mut container = extra_container(input, c, c.inherit_env.unwrap_or(false));
    container.restart_policy = Some("Always".to_owned());
    container
}

fn extra_container(input: &Input<'_>, c: &spec::Container, inherit_env: bool) -> Container {
    let mut env: Vec<EnvVar> = Vec::new();
    let mut from = Vec::new();
    if inherit_env {
        env.extend(
            app_env(input)
                .into_iter()
                .filter(|v| !c.env.iter().any(|own| own.name == v.name)),
        );
        from = env_from(&input.spec.env_from);
    }
    env.extend(c.env.iter().map(env_var));
    let mut mounts = vec![tmp_mount()];
    mounts.extend(c.volume_mounts.iter().map(|m| VolumeMount {
        name: m.name.clone(),
        mount_path: m.mount_path.clone(),
        read_only: m.read_only,
        ..VolumeMount::default()
    }));
    Container {
        name: c.name.clone(),
        image: c.image.clone(),
        command: non_empty(&c.command),
        args: non_empty(&c.args),
        env: non_empty(&env),
        env_from: non_empty(&from),
        image_pull_policy: Some(pull_policy(input.spec)),
        resources: Some(with_ephemeral_storage(
            c.resources.as_ref().map(resources).unwrap_or_default(),
            defaults::EXTRA_EPHEMERAL_STORAGE_REQUEST,
            defaults::EXTRA_EPHEMERAL_STORAGE_LIMIT,
        )),
        security_context: Some(container_security(input.spec)),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn tmp_mount() -> VolumeMount {
    VolumeMount {
        name: defaults::TMP_VOLUME.to_owned(),
        mount_path: "/tmp".to_owned(),
        ..VolumeMount::default()
    }
}

fn volumes(input: &Input<'_>) -> Vec<Volume> {
    let spec = input.spec;
    let mut volumes = vec![Volume {
        name: defaults::TMP_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(defaults::TMP_SIZE_LIMIT.to_owned())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }];
    if spec.config_files.is_some() {
        volumes.push(Volume {
            name: defaults::CONFIG_VOLUME.to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map_name(input),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    for volume in &spec.volumes {
        let mut out = Volume {
            name: volume.name.clone(),
            ..Volume::default()
        };
        if let Some(name) = &volume.config_map {
            out.config_map = Some(ConfigMapVolumeSource {
                name: name.clone(),
                ..ConfigMapVolumeSource::default()
            });
        } else if let Some(name) = &volume.secret {
            out.secret = Some(SecretVolumeSource {
                secret_name: Some(name.clone()),
                ..SecretVolumeSource::default()
            });
        } else {
            out.empty_dir = Some(EmptyDirVolumeSource {
                medium: volume.in_memory.filter(|m| *m).map(|_| "Memory".to_owned()),
                // A default limit: without one, a pod can fill the node's disk
                // (or, in memory, its RAM) until the kubelet evicts its neighbours.
                size_limit: Some(Quantity(
                    volume
                        .size_limit
                        .as_ref()
                        .map_or(defaults::EMPTY_DIR_SIZE_LIMIT, |q| q.as_str())
                        .to_owned(),
                )),
                mode: None,
            });
        }
        volumes.push(out);
    }
    volumes
}

fn spread(input: &Input<'_>, options: PodOptions<'_>) -> Option<Vec<TopologySpreadConstraint>> {
    let mode = input
        .spec
        .placement
        .as_ref()
        .and_then(|p| p.zone_spread)
        .unwrap_or(ZoneSpread::ScheduleAnyway);
    let when = match mode {
        ZoneSpread::Off => return None,
        ZoneSpread::ScheduleAnyway => "ScheduleAnyway",
        ZoneSpread::DoNotSchedule => "DoNotSchedule",
    };
    Some(vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "topology.kubernetes.io/zone".to_owned(),
        when_unsatisfiable: when.to_owned(),
        label_selector: Some(meta::selector(meta::color_selector_labels(
            input,
            options.color,
        ))),
        // Spread each ReplicaSet on its own, so a rollout's new pods spread too.
        match_label_keys: options
            .deployment
            .then(|| vec!["pod-template-hash".to_owned()]),
        ..TopologySpreadConstraint::default()
    }])
}

fn affinity(input: &Input<'_>, options: PodOptions<'_>) -> Option<Affinity> {
    let mode = input
        .spec
        .placement
        .as_ref()
        .and_then(|p| p.anti_affinity)
        .unwrap_or(AntiAffinity::Preferred);
    let term = PodAffinityTerm {
        label_selector: Some(meta::selector(meta::color_selector_labels(
            input,
            options.color,
        ))),
        topology_key: "kubernetes.io/hostname".to_owned(),
        ..PodAffinityTerm::default()
    };
    let anti = match mode {
        AntiAffinity::Off => return None,
        AntiAffinity::Preferred => PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: term,
                },
            ]),
            ..PodAntiAffinity::default()
        },
        AntiAffinity::Required => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term]),
            ..PodAntiAffinity::default()
        },
    };
    Some(Affinity {
        pod_anti_affinity: Some(anti),
        ..Affinity::default()
    })
}

/// The number of a declared port (validation guarantees it exists).
pub fn port_number(input: &Input<'_>, port: &PortRef) -> u16 {
    match port {
        PortRef::Number(n) => *n,
        PortRef::Name(name) => input
            .spec
            .ports
            .iter()
            .find(|p| &p.name == name)
            .map_or(0, |p| p.port),
    }
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}
