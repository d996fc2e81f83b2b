//! One environment's effective spec: the preset filled in, then that
//! environment's overrides applied.

use super::model::{EnvVar, ResourceList, Resources, ServiceSpec, Spec};
use super::presets;

impl ServiceSpec {
    /// The spec as it runs in `environment`: framework defaults filled in and
    /// the environment's overrides applied; `environments` is left empty.
    ///
    /// An environment without overrides (or unknown to the spec) gets the base spec.
    pub fn for_environment(&self, environment: &str) -> ServiceSpec {
        self.resolve_applied(presets::apply(&self.spec), environment)
    }

    /// [`ServiceSpec::for_environment`] from `spec`, which must be
    /// `presets::apply(&self.spec)`: the renderer computes it once for
    /// validation and resolution both.
    pub(crate) fn resolve_applied(&self, spec: Spec, environment: &str) -> ServiceSpec {
        let mut spec = spec;
        if let Some(o) = self.spec.environments.get(environment) {
            if let Some(replicas) = o.replicas {
                // Fixed replicas in one environment mean "no autoscaler here".
                spec.replicas = Some(replicas);
                spec.autoscaling = None;
            }
            if let Some(resources) = &o.resources {
                spec.resources = Some(merge_resources(spec.resources.as_ref(), resources));
            }
            if let (Some(bounds), Some(autoscaling)) = (&o.autoscaling, spec.autoscaling.as_mut()) {
                if let Some(min) = bounds.min_replicas {
                    autoscaling.min_replicas = min;
                }
                if let Some(max) = bounds.max_replicas {
                    autoscaling.max_replicas = max;
                }
            }
            if let (false, Some(ingress)) = (o.hosts.is_empty(), spec.ingress.as_mut()) {
                ingress.hosts = o.hosts.clone();
                if let Some(tls) = ingress.tls.as_mut() {
                    // Base TLS hosts name base hosts; here TLS covers the environment's hosts.
                    tls.hosts.clear();
                }
            }
            for (name, value) in &o.env {
                let literal = EnvVar {
                    name: name.clone(),
                    value: Some(value.clone()),
                    secret: None,
                    config_map: None,
                    field: None,
                };
                match spec.env.iter_mut().find(|e| &e.name == name) {
                    Some(existing) => *existing = literal,
                    None => spec.env.push(literal),
                }
            }
        }
        ServiceSpec {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            metadata: self.metadata.clone(),
            spec,
        }
    }
}

/// `over` on top of `base`, quantity by quantity.
pub fn merge_resources(base: Option<&Resources>, over: &Resources) -> Resources {
    let merge =
        |base: Option<&ResourceList>, over: Option<&ResourceList>| -> Option<ResourceList> {
            match (base, over) {
                (None, None) => None,
                (Some(b), None) => Some(b.clone()),
                (None, Some(o)) => Some(o.clone()),
                (Some(b), Some(o)) => Some(ResourceList {
                    cpu: o.cpu.clone().or_else(|| b.cpu.clone()),
                    memory: o.memory.clone().or_else(|| b.memory.clone()),
                    ephemeral_storage: o
                        .ephemeral_storage
                        .clone()
                        .or_else(|| b.ephemeral_storage.clone()),
                }),
            }
        };
    Resources {
        requests: merge(
            base.and_then(|r| r.requests.as_ref()),
            over.requests.as_ref(),
        ),
        limits: merge(base.and_then(|r| r.limits.as_ref()), over.limits.as_ref()),
    }
}
