//! The rules a spec keeps beyond its shape. Every rule appends to one list, so
//! a user sees all problems at once, each at the path of the field to change.
//!
//! Rules run on the spec with its framework preset filled in (so preset
//! probes are checked against declared ports); presets only add, and add their
//! environment variables last, so the paths still point at what the user wrote.

mod containers;
mod environments;
mod exposure;
mod limits;
mod operations;
pub mod tenancy;

pub use limits::MAX_RENDERED_OBJECTS;

use std::collections::HashMap;

use super::model::{ServiceSpec, Spec, WorkloadKind};
use super::scalar::{PortRef, Quantity};
use super::{
    API_VERSION, DEFAULT_ENVIRONMENTS, FieldError, KIND, defaults, names, presets, quantity,
};

/// Every rule violation of `spec`, with overrides allowed for the default environments.
pub fn validate(spec: &ServiceSpec) -> Vec<FieldError> {
    validate_with_environments(spec, &DEFAULT_ENVIRONMENTS)
}

/// Every rule violation of `spec`, with overrides allowed for `environments`
/// (for portals that define environments beyond the default three).
pub fn validate_with_environments(spec: &ServiceSpec, environments: &[&str]) -> Vec<FieldError> {
    validate_applied(spec, &presets::apply(&spec.spec), environments)
}

/// [`validate_with_environments`] for a caller that already holds
/// `presets::apply(&spec.spec)` (the renderer), so it is not computed twice.
pub(crate) fn validate_applied(
    spec: &ServiceSpec,
    effective: &Spec,
    environments: &[&str],
) -> Vec<FieldError> {
    let mut check = Check::new(effective);
    check.document(spec);
    limits::check(&mut check, &spec.spec);
    containers::check(&mut check);
    exposure::check(&mut check);
    operations::check(&mut check);
    environments::check(&mut check, &spec.spec, environments);
    check.errors
}

/// Shared state of one validation run.
pub(super) struct Check<'a> {
    /// The spec with its preset applied.
    pub spec: &'a Spec,
    /// Its workload kind.
    pub kind: WorkloadKind,
    /// Problems found so far.
    pub errors: Vec<FieldError>,
}

impl<'a> Check<'a> {
    fn new(spec: &'a Spec) -> Self {
        Check {
            spec,
            kind: spec.kind.unwrap_or_default(),
            errors: Vec::new(),
        }
    }

    /// Record a problem.
    pub fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    /// Record `result`'s message, if any, at the path `path` builds (only on
    /// error: most checks pass, and formatting every path showed in profiles).
    pub fn result<P: Into<String>>(
        &mut self,
        path: impl FnOnce() -> P,
        result: Result<(), String>,
    ) {
        if let Err(message) = result {
            self.err(path(), message);
        }
    }

    /// The value of a quantity that must be positive, recording a problem otherwise.
    /// The path is built only on error, like [`Self::result`]'s.
    pub fn positive_quantity<P: Into<String>>(
        &mut self,
        path: impl FnOnce() -> P,
        q: &Quantity,
    ) -> Option<f64> {
        match quantity::parse(q.as_str()) {
            Ok(v) if v > 0.0 => Some(v),
            Ok(_) => {
                self.err(path(), "must be greater than zero");
                None
            }
            Err(message) => {
                self.err(path(), message);
                None
            }
        }
    }

    /// Whether `port` names or numbers a declared container port.
    pub fn declared_port(&self, port: &PortRef) -> bool {
        self.spec.ports.iter().any(|p| match port {
            PortRef::Number(n) => p.port == *n,
            PortRef::Name(name) => &p.name == name,
        })
    }

    /// Record a problem when `port` is not a declared container port.
    pub fn require_declared_port(&mut self, path: &str, port: &PortRef) {
        if !self.declared_port(port) {
            let declared: Vec<String> = self
                .spec
                .ports
                .iter()
                .map(|p| format!("{} ({})", p.name, p.port))
                .collect();
            let message = if declared.is_empty() {
                format!("port `{port}` is not declared; spec.ports is empty")
            } else {
                format!(
                    "port `{port}` is not declared in spec.ports ({})",
                    declared.join(", ")
                )
            };
            self.err(path, message);
        }
    }

    /// The fewest pods the base spec runs: fixed replicas, autoscaling minimum or the default.
    pub fn min_replicas(&self) -> u32 {
        match (&self.spec.autoscaling, self.spec.replicas) {
            (Some(a), _) => a.min_replicas,
            (None, Some(n)) => n,
            (None, None) if self.kind == WorkloadKind::Stateful => defaults::STATEFUL_REPLICAS,
            (None, None) => defaults::REPLICAS,
        }
    }

    fn document(&mut self, doc: &ServiceSpec) {
        if doc.api_version != API_VERSION {
            self.err("apiVersion", format!("must be `{API_VERSION}`"));
        }
        if doc.kind != KIND {
            self.err("kind", format!("must be `{KIND}`"));
        }
        let name = &doc.metadata.name;
        match names::dns_label(name) {
            Err(message) => self.err("metadata.name", message),
            Ok(()) if name.len() > defaults::MAX_SERVICE_NAME => self.err(
                "metadata.name",
                format!("`{name}` is longer than {} characters, which derived object names need to stay within 63", defaults::MAX_SERVICE_NAME),
            ),
            Ok(()) => {}
        }
        if let Some(team) = &doc.metadata.team {
            self.result(|| "metadata.team", names::dns_label(team));
        }
        if doc
            .metadata
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 300)
        {
            self.err("metadata.description", "must be at most 300 characters");
        }
        if let Some(links) = &doc.metadata.links {
            for (_, field, link) in links.entries() {
                if let Err(message) = names::link(link) {
                    self.err(format!("metadata.links.{field}"), message);
                }
            }
        }
        let spec = self.spec;
        self.result(|| "spec.image", names::image(&spec.image).map(|_| ()));
        if let Some(module) = &spec.app_module {
            let ok = !module.is_empty()
                // Parentheses allow gunicorn's application factories: `app:create_app()`.
                && module.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '(' | ')'))
                && !module.starts_with(['.', ':']);
            if !ok {
                self.err(
                    "spec.appModule",
                    format!("`{module}` is not a Python module path such as shop.wsgi:application"),
                );
            }
        }
        if let Some(dir) = &spec.working_dir {
            self.result(|| "spec.workingDir", names::absolute_path(dir));
        }
        if let Some(replicas) = spec.replicas
            && replicas > 1000
        {
            self.err("spec.replicas", "must be at most 1000");
        }
        if let Some(seconds) = spec.termination_grace_period_seconds
            && seconds > 3600
        {
            self.err("spec.terminationGracePeriodSeconds", "must be at most 3600");
        }
        let grace = spec
            .termination_grace_period_seconds
            .unwrap_or(defaults::TERMINATION_GRACE_SECONDS);
        if let Some(sleep) = spec.pre_stop_sleep_seconds
            && sleep >= grace
        {
            self.err(
                "spec.preStopSleepSeconds",
                format!("{sleep} leaves no time to shut down within terminationGracePeriodSeconds {grace}"),
            );
        }
    }
}

/// Duplicates in `items` by `key`: for every repeat, its index and the index
/// of the first occurrence. Keys may borrow from the items; short lists (the
/// usual case) are scanned directly instead of hashed.
pub(super) fn duplicates<'a, T, K: std::hash::Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<(usize, usize)> {
    let keys: Vec<K> = items.iter().map(key).collect();
    let mut out = Vec::new();
    if keys.len() <= 32 {
        for (i, k) in keys.iter().enumerate() {
            if let Some(j) = keys[..i].iter().position(|earlier| earlier == k) {
                out.push((i, j));
            }
        }
        return out;
    }
    let mut first: HashMap<&K, usize> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        match first.get(k) {
            Some(&j) => out.push((i, j)),
            None => {
                first.insert(k, i);
            }
        }
    }
    out
}
