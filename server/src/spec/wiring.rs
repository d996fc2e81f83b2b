//! Where each environment variable of a service comes from, for the "secrets
//! wiring" page: names and references only, never a value of a Secret.

use std::collections::{BTreeMap, BTreeSet};

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

/// What the cluster holds of one referenced Secret or ConfigMap: only whether it
/// exists and its key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// The cluster could not be asked.
    Unknown,
    /// No such object in the namespace.
    Missing,
    /// The object exists with these keys.
    Keys(BTreeSet<String>),
}

/// Whether a variable's source is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WiringState {
    /// A literal in the spec: nothing to look up.
    Literal,
    /// A pod field: Kubernetes fills it in.
    Field,
    /// The referenced object (and key) exists.
    Present,
    /// The object exists without the key.
    MissingKey,
    /// The object does not exist.
    Missing,
    /// Missing, but the reference is optional: the pod starts without it.
    OptionalMissing,
    /// The cluster could not be asked.
    Unknown,
}

impl WiringState {
    /// Stable name used by the JSON API and as a CSS class.
    pub fn as_str(self) -> &'static str {
        match self {
            WiringState::Literal => "literal",
            WiringState::Field => "field",
            WiringState::Present => "present",
            WiringState::MissingKey => "missing-key",
            WiringState::Missing => "missing",
            WiringState::OptionalMissing => "optional-missing",
            WiringState::Unknown => "unknown",
        }
    }

    /// Whether the pod would fail to start over it.
    pub fn is_problem(self) -> bool {
        matches!(self, WiringState::MissingKey | WiringState::Missing)
    }
}

/// The Secrets and ConfigMaps `wiring` references, to look up: `(secrets, config maps)`.
pub fn referenced_objects(wiring: &[EnvWiring]) -> (BTreeSet<String>, BTreeSet<String>) {
    let secrets = wiring.iter().filter_map(|w| w.secret.clone()).collect();
    let config_maps = wiring.iter().filter_map(|w| w.configmap.clone()).collect();
    (secrets, config_maps)
}

/// The state of one entry, given what the cluster holds (pure). Objects absent
/// from the maps count as [`Presence::Unknown`].
pub fn wiring_state(
    entry: &EnvWiring,
    secrets: &BTreeMap<String, Presence>,
    config_maps: &BTreeMap<String, Presence>,
) -> WiringState {
    let presence = match (entry.source, &entry.secret, &entry.configmap) {
        (EnvSource::Literal, _, _) => return WiringState::Literal,
        (EnvSource::Field, _, _) => return WiringState::Field,
        (_, Some(secret), _) => secrets.get(secret),
        (_, None, Some(config_map)) => config_maps.get(config_map),
        (_, None, None) => None,
    };
    let found = match presence.unwrap_or(&Presence::Unknown) {
        Presence::Unknown => return WiringState::Unknown,
        Presence::Missing => Err(WiringState::Missing),
        Presence::Keys(keys) => match &entry.key {
            Some(key) if !keys.contains(key) => Err(WiringState::MissingKey),
            _ => Ok(()),
        },
    };
    match found {
        Ok(()) => WiringState::Present,
        Err(_) if entry.optional => WiringState::OptionalMissing,
        Err(state) => state,
    }
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

    fn entry(
        source: EnvSource,
        secret: Option<&str>,
        key: Option<&str>,
        optional: bool,
    ) -> EnvWiring {
        EnvWiring {
            name: "X".into(),
            source,
            secret: secret.map(Into::into),
            configmap: None,
            key: key.map(Into::into),
            optional,
        }
    }

    #[test]
    fn states_follow_what_the_cluster_holds() {
        let secrets = BTreeMap::from([
            (
                "db".to_owned(),
                Presence::Keys(BTreeSet::from(["url".to_owned()])),
            ),
            ("gone".to_owned(), Presence::Missing),
        ]);
        let none = BTreeMap::new();
        let state = |e: &EnvWiring| wiring_state(e, &secrets, &none);
        use EnvSource::*;
        assert_eq!(
            state(&entry(SecretKey, Some("db"), Some("url"), false)),
            WiringState::Present
        );
        assert_eq!(
            state(&entry(SecretKey, Some("db"), Some("pw"), false)),
            WiringState::MissingKey
        );
        assert_eq!(
            state(&entry(SecretKey, Some("db"), Some("pw"), true)),
            WiringState::OptionalMissing
        );
        assert_eq!(
            state(&entry(SecretKey, Some("gone"), Some("k"), false)),
            WiringState::Missing
        );
        assert_eq!(
            state(&entry(SecretAll, Some("db"), None, false)),
            WiringState::Present
        );
        assert_eq!(
            state(&entry(SecretAll, Some("other"), None, false)),
            WiringState::Unknown
        );
        assert_eq!(
            state(&entry(Literal, None, None, false)),
            WiringState::Literal
        );
        assert_eq!(
            state(&entry(Field, None, Some("status.podIP"), false)),
            WiringState::Field
        );
        assert!(WiringState::MissingKey.is_problem() && !WiringState::OptionalMissing.is_problem());
    }
}
