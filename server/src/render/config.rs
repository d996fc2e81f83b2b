//! The ServiceAccount and the config-files ConfigMap.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use sha2::{Digest, Sha256};

use super::{Input, meta};

/// Pod template annotation carrying the config files' hash: a changed file
/// changes the pod template, so the Deployment rolls and pods read the new file.
pub const CONFIG_CHECKSUM_ANNOTATION: &str = "checksum/config";

/// The service's own ServiceAccount: no API token unless the spec asks, since
/// a stolen token is only useful to an attacker when it is mounted.
pub fn service_account(input: &Input<'_>) -> ServiceAccount {
    let account = input.spec.service_account.clone().unwrap_or_default();
    ServiceAccount {
        metadata: meta::object_meta_annotated(input, input.name(), account.annotations),
        automount_service_account_token: Some(account.automount_token.unwrap_or(false)),
        ..ServiceAccount::default()
    }
}

/// The name of the config-files ConfigMap.
pub fn config_map_name(input: &Input<'_>) -> String {
    format!("{}-config", input.name())
}

/// The ConfigMap holding `spec.configFiles`, if any.
pub fn config_map(input: &Input<'_>) -> Option<ConfigMap> {
    let files = input.spec.config_files.as_ref()?;
    Some(ConfigMap {
        metadata: meta::object_meta(input, &config_map_name(input)),
        data: Some(files.files.clone()),
        ..ConfigMap::default()
    })
}

/// SHA-256 over the config files (names and contents, in name order).
pub fn config_checksum(files: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, content) in files {
        // Lengths first, so ("ab","c") and ("a","bc") hash differently.
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(content.as_bytes());
    }
    hex::encode(hasher.finalize())
}
