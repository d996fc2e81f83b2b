//! Framework presets: the defaults a Django, Flask, FastAPI, Celery or cron
//! service gets for whatever its spec leaves out, and starter specs.
//!
//! A preset only fills gaps (no command → the preset's command; no liveness
//! probe → the preset's), so anything in the spec wins. Preset environment
//! variables are appended after the spec's own, which keeps `spec.env[i]`
//! paths in validation messages pointing at what the user wrote.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{
    EnvVar, ExecProbe, HttpProbe, Port, Probe, Probes, Spec, TcpProbe, WorkloadKind,
};
use super::scalar::{PortRef, ScalarString};

/// A framework preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    /// Django behind gunicorn; health at `/health/`, `CONN_MAX_AGE` for persistent connections.
    Django,
    /// Flask behind gunicorn; health at `/health`.
    Flask,
    /// FastAPI behind uvicorn; health at `/health`.
    #[serde(rename = "fastapi")]
    FastApi,
    /// A Celery worker (kind `worker`), checked with `celery inspect ping`.
    Celery,
    /// A scheduled Python job (kind `cron`).
    Cron,
}

/// Every preset, in the order the "create service" form offers them.
pub const ALL: [Framework; 5] = [
    Framework::Django,
    Framework::Flask,
    Framework::FastApi,
    Framework::Celery,
    Framework::Cron,
];

/// The port web presets listen on (gunicorn's and uvicorn's customary 8000).
const WEB_PORT: u16 = 8000;

impl Framework {
    /// The preset's name as written in `spec.framework`.
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Django => "django",
            Framework::Flask => "flask",
            Framework::FastApi => "fastapi",
            Framework::Celery => "celery",
            Framework::Cron => "cron",
        }
    }

    /// A human label for forms.
    pub fn label(self) -> &'static str {
        match self {
            Framework::Django => "Django",
            Framework::Flask => "Flask",
            Framework::FastApi => "FastAPI",
            Framework::Celery => "Celery worker",
            Framework::Cron => "Cron job",
        }
    }

    /// Look a preset up by its spec name.
    pub fn from_name(name: &str) -> Option<Framework> {
        ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The workload kind the preset implies when `spec.kind` is unset.
    pub fn kind(self) -> WorkloadKind {
        match self {
            Framework::Celery => WorkloadKind::Worker,
            Framework::Cron => WorkloadKind::Cron,
            _ => WorkloadKind::Web,
        }
    }

    /// The application module used when `spec.appModule` is unset.
    pub fn default_module(self) -> &'static str {
        match self {
            Framework::Django => "config.wsgi:application",
            Framework::Flask => "app:app",
            Framework::FastApi => "app.main:app",
            Framework::Celery | Framework::Cron => "app",
        }
    }

    fn health_path(self) -> Option<&'static str> {
        match self {
            Framework::Django => Some("/health/"),
            Framework::Flask | Framework::FastApi => Some("/health"),
            Framework::Celery | Framework::Cron => None,
        }
    }

    /// The command the preset runs; `port` is the first declared port.
    fn command(self, module: &str, port: u16) -> Vec<String> {
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match self {
            // gunicorn reads WEB_CONCURRENCY for its worker count, so environments
            // can tune it without a new command; graceful-timeout stays below the
            // pod's termination grace period.
            Framework::Django | Framework::Flask => {
                let mut command = strings(&["gunicorn", &format!("--bind=0.0.0.0:{port}")]);
                command.extend(strings(&[
                    "--access-logfile=-",
                    "--graceful-timeout=20",
                    "--worker-tmp-dir=/tmp",
                    module,
                ]));
                command
            }
            Framework::FastApi => {
                let mut command = strings(&["uvicorn", module, "--host=0.0.0.0"]);
                command.push(format!("--port={port}"));
                command.extend(strings(&[
                    "--proxy-headers",
                    "--timeout-graceful-shutdown=20",
                ]));
                command
            }
            Framework::Celery => strings(&[
                "celery",
                &format!("--app={module}"),
                "worker",
                "--loglevel=INFO",
            ]),
            Framework::Cron => Vec::new(),
        }
    }

    /// Environment defaults: unbuffered output so logs reach `kubectl logs`
    /// at once, and the framework's connection settings.
    fn env(self) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![("PYTHONUNBUFFERED", "1"), ("PYTHONDONTWRITEBYTECODE", "1")];
        match self {
            Framework::Django => env.extend([
                ("CONN_MAX_AGE", "60"),
                ("CONN_HEALTH_CHECKS", "true"),
                ("WEB_CONCURRENCY", "2"),
            ]),
            Framework::Flask => env.extend([
                ("DB_POOL_SIZE", "5"),
                ("DB_POOL_PRE_PING", "true"),
                ("WEB_CONCURRENCY", "2"),
            ]),
            Framework::FastApi => env.extend([("DB_POOL_SIZE", "5"), ("DB_POOL_PRE_PING", "true")]),
            Framework::Celery => env.extend([
                ("CELERY_WORKER_PREFETCH_MULTIPLIER", "1"),
                ("DB_POOL_SIZE", "2"),
            ]),
            Framework::Cron => {}
        }
        env
    }

    /// A starter spec for the "create service" form: valid as it stands for a
    /// valid `name`, production-minded, with placeholders to edit.
    pub fn starter_yaml(self, name: &str) -> String {
        let image = format!("registry.example.com/{name}:0.1.0");
        let head = format!(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  framework: {}\n  image: {image}\n",
            self.as_str()
        );
        let resources =
            "  resources:\n    requests: {cpu: 100m, memory: 256Mi}\n    limits: {memory: 512Mi}\n";
        let secrets = format!(
            "  env:\n    - name: DATABASE_URL\n      secret: {{name: {name}-db, key: url}}\n"
        );
        let logging = "  logging: {format: json, level: INFO}\n";
        let body = match self {
            Framework::Django | Framework::Flask | Framework::FastApi => format!(
                "{resources}{secrets}{logging}  autoscaling: {{minReplicas: 2, maxReplicas: 5, cpu: 70}}\n  environments:\n    development:\n      replicas: 1\n"
            ),
            Framework::Celery => format!("{resources}{secrets}{logging}  replicas: 2\n"),
            Framework::Cron => format!(
                "  command: [python, -m, app.jobs.nightly]\n  cron:\n    schedule: \"0 3 * * *\"\n{resources}{secrets}{logging}"
            ),
        };
        format!("{head}{body}")
    }
}

/// `spec` with the preset's defaults filled in (unchanged without a
/// framework), and without `environments`: overrides are applied separately.
pub fn apply(spec: &Spec) -> Spec {
    let mut out = clone_without_environments(spec);
    let Some(framework) = spec.framework else {
        return out;
    };
    if out.kind.is_none() {
        out.kind = Some(framework.kind());
    }
    let kind = out.kind.unwrap_or_default();
    if out.ports.is_empty() && kind == WorkloadKind::Web {
        out.ports.push(Port {
            name: "http".into(),
            port: WEB_PORT,
            protocol: None,
        });
    }
    let port = out.ports.first().map_or(WEB_PORT, |p| p.port);
    let module = spec
        .app_module
        .clone()
        .unwrap_or_else(|| framework.default_module().to_owned());
    if out.command.is_empty() {
        out.command = framework.command(&module, port);
    }
    let port_ref = out.ports.first().map(|p| PortRef::Name(p.name.clone()));
    let probes = out.probes.get_or_insert_with(Probes::default);
    if let Some(path) = framework
        .health_path()
        .filter(|_| kind == WorkloadKind::Web)
    {
        let http = |period: u32, failures: u32| Probe {
            http: Some(HttpProbe {
                path: path.to_owned(),
                port: port_ref.clone(),
            }),
            period_seconds: Some(period),
            failure_threshold: Some(failures),
            timeout_seconds: Some(2),
            ..Probe::default()
        };
        // The startup probe gives a slow Django boot up to 150 s without
        // making liveness lenient for the rest of the pod's life.
        probes.startup.get_or_insert_with(|| http(5, 30));
        // Liveness asks only whether the server still takes connections,
        // readiness whether it can serve: a health check that fails because a
        // database is down then takes pods out of the Service instead of
        // restarting every one of them. A hung gunicorn worker is gunicorn's to
        // restart (its worker timeout), not the kubelet's.
        probes.liveness.get_or_insert_with(|| Probe {
            tcp: Some(TcpProbe {
                port: port_ref.clone(),
            }),
            period_seconds: Some(10),
            failure_threshold: Some(3),
            timeout_seconds: Some(2),
            ..Probe::default()
        });
        probes.readiness.get_or_insert_with(|| http(5, 2));
    }
    if framework == Framework::Celery {
        out.termination_grace_period_seconds
            .get_or_insert(super::defaults::CELERY_TERMINATION_GRACE_SECONDS);
        probes.liveness.get_or_insert_with(|| Probe {
            exec: Some(ExecProbe {
                // A shell expands $HOSTNAME; Kubernetes' $(VAR) only sees declared variables.
                command: vec![
                    "sh".into(),
                    "-c".into(),
                    format!("celery --app={module} inspect ping --destination=celery@$HOSTNAME --timeout=10"),
                ],
            }),
            period_seconds: Some(60),
            timeout_seconds: Some(20),
            failure_threshold: Some(3),
            ..Probe::default()
        });
    }
    if out.probes.as_ref().is_some_and(|p| *p == Probes::default()) {
        out.probes = None;
    }
    for (name, value) in framework.env() {
        if !out.env.iter().any(|e| e.name == name) {
            out.env.push(EnvVar {
                name: name.to_owned(),
                value: Some(ScalarString::from(value)),
                secret: None,
                config_map: None,
                field: None,
            });
        }
    }
    out
}

/// A copy of `spec` without its per-environment overrides, which every caller
/// of [`apply`] drops anyway; destructuring makes a new field a compile error here.
fn clone_without_environments(spec: &Spec) -> Spec {
    let Spec {
        kind,
        framework,
        app_module,
        image,
        image_pull_policy,
        command,
        args,
        working_dir,
        replicas,
        ports,
        service,
        env,
        env_from,
        config_files,
        resources,
        probes,
        init_containers,
        sidecars,
        volumes,
        ingress,
        external_services,
        autoscaling,
        disruption_budget,
        network_policy,
        placement,
        security,
        service_account,
        metrics,
        logging,
        strategy,
        termination_grace_period_seconds,
        pre_stop_sleep_seconds,
        cron,
        stateful,
        environments: _,
    } = spec;
    Spec {
        kind: *kind,
        framework: *framework,
        app_module: app_module.clone(),
        image: image.clone(),
        image_pull_policy: *image_pull_policy,
        command: command.clone(),
        args: args.clone(),
        working_dir: working_dir.clone(),
        replicas: *replicas,
        ports: ports.clone(),
        service: service.clone(),
        env: env.clone(),
        env_from: env_from.clone(),
        config_files: config_files.clone(),
        resources: resources.clone(),
        probes: probes.clone(),
        init_containers: init_containers.clone(),
        sidecars: sidecars.clone(),
        volumes: volumes.clone(),
        ingress: ingress.clone(),
        external_services: external_services.clone(),
        autoscaling: autoscaling.clone(),
        disruption_budget: disruption_budget.clone(),
        network_policy: network_policy.clone(),
        placement: placement.clone(),
        security: security.clone(),
        service_account: service_account.clone(),
        metrics: metrics.clone(),
        logging: logging.clone(),
        strategy: strategy.clone(),
        termination_grace_period_seconds: *termination_grace_period_seconds,
        pre_stop_sleep_seconds: *pre_stop_sleep_seconds,
        cron: cron.clone(),
        stateful: stateful.clone(),
        environments: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_starter_spec_is_valid() {
        for framework in ALL {
            let yaml = framework.starter_yaml("shop-web");
            if let Err(errors) = crate::spec::parse(&yaml) {
                panic!("{framework:?} starter is invalid: {errors:?}\n{yaml}");
            }
        }
    }

    #[test]
    fn a_command_in_the_spec_wins_over_the_preset() {
        let spec = Spec {
            framework: Some(Framework::Django),
            command: vec!["python".into(), "serve.py".into()],
            ..Spec::default()
        };
        assert_eq!(apply(&spec).command, ["python", "serve.py"]);
    }

    #[test]
    fn the_django_preset_runs_gunicorn_on_port_8000_with_health_probes() {
        let spec = Spec {
            framework: Some(Framework::Django),
            ..Spec::default()
        };
        let out = apply(&spec);
        assert_eq!(out.command[0], "gunicorn");
        assert_eq!(out.ports[0].port, 8000);
        let probes = out.probes.expect("preset probes");
        assert_eq!(
            probes
                .readiness
                .and_then(|p| p.http)
                .map(|h| h.path)
                .as_deref(),
            Some("/health/")
        );
        // Distinct from readiness: the process answers, whatever its dependencies do.
        assert_eq!(
            probes.liveness.and_then(|p| p.tcp).and_then(|t| t.port),
            Some(PortRef::Name("http".into()))
        );
        assert!(out.env.iter().any(|e| e.name == "CONN_MAX_AGE"));
    }

    #[test]
    fn a_spec_variable_replaces_the_preset_variable_of_the_same_name() {
        let spec = Spec {
            framework: Some(Framework::Django),
            env: vec![EnvVar {
                name: "CONN_MAX_AGE".into(),
                value: Some("0".into()),
                secret: None,
                config_map: None,
                field: None,
            }],
            ..Spec::default()
        };
        let out = apply(&spec);
        let values: Vec<_> = out
            .env
            .iter()
            .filter(|e| e.name == "CONN_MAX_AGE")
            .collect();
        assert_eq!(values.len(), 1);
        assert_eq!(
            values[0].value.as_ref().map(ScalarString::as_str),
            Some("0")
        );
    }
}
