//! Checks before applying: do the Secrets the manifests reference exist?
//!
//! Only names and keys are compared; a Secret's values are never read into a
//! message, a log line or the database.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use serde_json::Value;
use tracing::instrument;

use super::apply::{Manifest, Target};
use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};
use crate::plan::ManifestFacts;

/// A reference to a Secret (and maybe one key) that the pods need to start.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretNeed {
    /// Secret name.
    pub name: String,
    /// The key, or `None` for the whole Secret (`envFrom`, volumes).
    pub key: Option<String>,
}

impl std::fmt::Display for SecretNeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}/{key}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Every non-optional Secret reference in the manifests' pod templates.
pub fn secret_needs(manifests: &[Manifest]) -> BTreeSet<SecretNeed> {
    let values: Vec<Value> = manifests.iter().map(|m| m.value.clone()).collect();
    ManifestFacts::of(&values)
        .secret_refs
        .into_iter()
        .filter(|r| !r.optional)
        .map(|r| SecretNeed {
            name: r.name,
            key: r.key,
        })
        .collect()
}

/// The referenced Secrets or keys missing from the target namespace.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn missing_secrets(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<Vec<SecretNeed>, ClusterError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &target.namespace);
    let mut missing = Vec::new();
    let needs = secret_needs(manifests);
    // Before the first deploy there is no namespace (and no RoleBinding that
    // would let Slipway hear "not found"): every reference is missing.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let exists = with_retry(
        retry,
        "reading the namespace",
        || namespaces.get_opt(&target.namespace),
        |e| ClusterError::Refused {
            object: format!("Namespace/{}", target.namespace),
            message: one_line(&e),
        },
    )
    .await?
    .is_some();
    if !exists {
        return Ok(needs.into_iter().collect());
    }
    let names: BTreeSet<&str> = needs.iter().map(|n| n.name.as_str()).collect();
    for name in names {
        let secret = with_retry(
            retry,
            "reading a Secret",
            || api.get_opt(name),
            |e| ClusterError::Refused {
                object: format!("Secret/{name}"),
                message: one_line(&e),
            },
        )
        .await?;
        // Only the key names are looked at.
        let keys: BTreeSet<String> = secret
            .as_ref()
            .map(|s| {
                s.data
                    .iter()
                    .flat_map(|d| d.keys().cloned())
                    .chain(s.string_data.iter().flat_map(|d| d.keys().cloned()))
                    .collect()
            })
            .unwrap_or_default();
        for need in needs.iter().filter(|n| n.name == name) {
            let present = secret.is_some() && need.key.as_ref().is_none_or(|k| keys.contains(k));
            if !present {
                missing.push(need.clone());
            }
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::apply::parse_manifests;

    #[test]
    fn required_secret_references_are_found_and_optional_ones_skipped() {
        let yaml = serde_saphyr::to_string(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "w", "namespace": "n"},
            "spec": {"template": {"spec": {
                "containers": [{"name": "app",
                    "env": [
                        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}},
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "opt", "key": "k", "optional": true}}}
                    ],
                    "envFrom": [{"secretRef": {"name": "all"}}]}],
                "volumes": [{"name": "v", "secret": {"secretName": "files"}}]
            }}}
        }))
        .unwrap();
        let m = parse_manifests(&yaml, "n").unwrap();
        let needs: Vec<String> = secret_needs(&m).iter().map(ToString::to_string).collect();
        assert_eq!(needs, ["all", "db/url", "files"]);
    }
}
