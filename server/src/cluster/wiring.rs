//! What a namespace holds of the Secrets and ConfigMaps a service references:
//! whether each exists and its key names. A Secret's values arrive with the
//! object (the API has no keys-only read) and are dropped here, unread: only
//! key names leave this module.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::Api;

use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};
use crate::spec::Presence;

/// Presence of each named Secret in `namespace`.
pub async fn secrets(
    client: &Client,
    namespace: &str,
    names: &BTreeSet<String>,
    retry: RetryPolicy,
) -> Result<BTreeMap<String, Presence>, ClusterError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut out = BTreeMap::new();
    for name in names {
        let secret = read(retry, "Secret", name, || api.get_opt(name)).await?;
        let presence = match secret {
            None => Presence::Missing,
            Some(secret) => Presence::Keys(
                secret
                    .data
                    .into_iter()
                    .flat_map(BTreeMap::into_keys)
                    .chain(secret.string_data.into_iter().flat_map(BTreeMap::into_keys))
                    .collect(),
            ),
        };
        out.insert(name.clone(), presence);
    }
    Ok(out)
}

/// Presence of each named ConfigMap in `namespace`.
pub async fn config_maps(
    client: &Client,
    namespace: &str,
    names: &BTreeSet<String>,
    retry: RetryPolicy,
) -> Result<BTreeMap<String, Presence>, ClusterError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut out = BTreeMap::new();
    for name in names {
        let config_map = read(retry, "ConfigMap", name, || api.get_opt(name)).await?;
        let presence = match config_map {
            None => Presence::Missing,
            Some(config_map) => Presence::Keys(
                config_map
                    .data
                    .into_iter()
                    .flat_map(BTreeMap::into_keys)
                    .chain(
                        config_map
                            .binary_data
                            .into_iter()
                            .flat_map(BTreeMap::into_keys),
                    )
                    .collect(),
            ),
        };
        out.insert(name.clone(), presence);
    }
    Ok(out)
}

async fn read<T, F, Fut>(
    retry: RetryPolicy,
    kind: &str,
    name: &str,
    get: F,
) -> Result<Option<T>, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, kube::Error>>,
{
    with_retry(retry, "reading a referenced object", get, |e| {
        ClusterError::Refused {
            object: format!("{kind}/{name}"),
            message: one_line(&e),
        }
    })
    .await
}
