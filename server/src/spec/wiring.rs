//! Where each environment variable of a service comes from, for the "secrets
//! wiring" page: names and references only, never a value of a Secret.

use serde::Serialize;

use super::model::ServiceSpec;

/// The kind of source an environment variable comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvSource {
    /// A literal value in the spec.
    Literal,
    /// A key of a ConfigMap.
    ConfigMapKey,
    /// A key of a Secret.
    SecretKey,
    /// A pod field.
    Field,
    /// Every key of a ConfigMap (`envFrom`).
    ConfigMapAll,
    /// Every key of a Secret (`envFrom`).
    SecretAll,
}

impl EnvSource {
    /// Stable name used by the JSON API.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvSource::Literal => "literal",
            EnvSource::ConfigMapKey => "configMapKey",
            EnvSource::SecretKey => "secretKey",
            EnvSource::Field => "field",
            EnvSource::ConfigMapAll => "configMap",
            EnvSource::SecretAll => "secret",
        }
    }
}

/// One entry of the wiring table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvWiring {
    /// The variable name, or the prefix (possibly empty) for `envFrom`.
    pub name: String,
    /// Where the value comes from.
    pub source: EnvSource,
    /// The Secret referenced, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The ConfigMap referenced, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configmap: Option<String>,
    /// The key referenced, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether the pod starts when the reference is missing.
    pub optional: bool,
}

/// The wiring of the application container's environment in `environment`
/// (preset and overrides applied), in container order, `envFrom` last.
pub fn secret_refs(spec: &ServiceSpec, environment: &str) -> Vec<EnvWiring> {
    let effective = spec.for_environment(environment);
    let mut out = Vec::new();
    for var in &effective.spec.env {
        let (source, secret, configmap, key, optional) = if let Some(r) = &var.secret {
            (
                EnvSource::SecretKey,
                Some(r.name.clone()),
                None,
                Some(r.key.clone()),
                r.optional,
            )
        } else if let Some(r) = &var.config_map {
            (
                EnvSource::ConfigMapKey,
                None,
                Some(r.name.clone()),
                Some(r.key.clone()),
                r.optional,
            )
        } else if let Some(path) = &var.field {
            (EnvSource::Field, None, None, Some(path.clone()), None)
        } else {
            (EnvSource::Literal, None, None, None, None)
        };
        out.push(EnvWiring {
            name: var.name.clone(),
            source,
            secret,
            configmap,
            key,
            optional: optional.unwrap_or(false),
        });
    }
    for from in &effective.spec.env_from {
        let (source, secret, configmap) = match (&from.secret, &from.config_map) {
            (Some(secret), _) => (EnvSource::SecretAll, Some(secret.clone()), None),
            (None, configmap) => (EnvSource::ConfigMapAll, None, configmap.clone()),
        };
        out.push(EnvWiring {
            name: from.prefix.clone().unwrap_or_default(),
            source,
            secret,
            configmap,
            key: None,
            optional: from.optional.unwrap_or(false),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiring_names_secret_references_and_never_values() {
        let spec = crate::spec::parse(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {name: api}\nspec:\n  image: api:1.0\n  ports: [{name: http, port: 8000}]\n  env:\n    - {name: DATABASE_URL, secret: {name: db, key: url}}\n    - {name: DEBUG, value: 'False'}\n  envFrom: [{configMap: api-settings}]\n",
        )
        .expect("valid spec");
        let wiring = secret_refs(&spec, "production");
        assert_eq!(wiring[0].source, EnvSource::SecretKey);
        assert_eq!(wiring[0].secret.as_deref(), Some("db"));
        assert_eq!(wiring[0].key.as_deref(), Some("url"));
        assert_eq!(wiring[1].source, EnvSource::Literal);
        assert_eq!(wiring[2].source, EnvSource::ConfigMapAll);
        assert_eq!(wiring[2].configmap.as_deref(), Some("api-settings"));
    }
}
