//! What a namespace holds of the Secrets and ConfigMaps a service references:
//! whether each exists and its key names. A Secret's values arrive with the
//! object (the API has no keys-only read) and are dropped here, unread: only
//! key names leave this module.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};
use crate::secret::SecretString;
use crate::spec::Presence;

/// Label on Secrets Slipway created to hold written values. Deliberately not
/// `app.kubernetes.io/managed-by`: prune deletes what carries that label and was
/// not rendered, and these Secrets are never rendered.
pub const WRITTEN_BY_LABEL: &str = "slipway.dev/written-by";

/// Where a Secret value goes.
#[derive(Debug, Clone)]
pub struct SecretKeyTarget<'a> {
    /// Namespace of the environment.
    pub namespace: &'a str,
    /// Owning team (labels the namespace if it has to be created).
    pub team: &'a str,
    /// Environment (labels the namespace if it has to be created).
    pub environment: &'a str,
    /// Secret name.
    pub secret: &'a str,
    /// Key in the Secret.
    pub key: &'a str,
}

/// Why an existing Secret is not Slipway's to write into, naming its type and
/// owner; `None` for an Opaque Secret labelled [`WRITTEN_BY_LABEL`]. TLS,
/// service-account-token, Helm release and other people's Opaque Secrets are
/// never patched.
pub fn foreign_secret(secret: &Secret) -> Option<String> {
    let kind = secret.type_.as_deref().unwrap_or("Opaque");
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    let written = labels.get(WRITTEN_BY_LABEL).map(String::as_str) == Some("slipway");
    if kind == "Opaque" && written {
        return None;
    }
    let owner = secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .map(|o| format!("{}/{}", o.kind, o.name))
        .next()
        .or_else(|| labels.get("app.kubernetes.io/managed-by").cloned())
        .or_else(|| {
            secret
                .metadata
                .managed_fields
                .iter()
                .flatten()
                .find_map(|m| m.manager.clone())
        })
        .unwrap_or_else(|| "unknown".into());
    Some(format!(
        "Secret {} exists with type {kind}, owned by {owner}, and was not written by Slipway; Slipway writes only into Opaque Secrets it created (label {WRITTEN_BY_LABEL}=slipway)",
        secret.metadata.name.as_deref().unwrap_or_default()
    ))
}

/// Sets one key of a Secret, creating the namespace and the Secret when
/// missing; the Secret's other keys are kept. An existing Secret that Slipway
/// did not write is refused ([`foreign_secret`]). The value goes to the API server
/// and nowhere else: not into an error message, a log line or the database.
pub async fn write_secret_key(
    client: &Client,
    target: &SecretKeyTarget<'_>,
    value: &SecretString,
    retry: RetryPolicy,
) -> Result<(), ClusterError> {
    super::apply::ensure_team_namespace(
        client,
        target.namespace,
        target.team,
        target.environment,
        retry,
    )
    .await?;
    let api: Api<Secret> = Api::namespaced(client.clone(), target.namespace);
    let what = format!("Secret/{}", target.secret);
    let refused = |e: kube::Error| ClusterError::Refused {
        object: what.clone(),
        message: one_line(&e),
    };
    let encoded = ByteString(value.expose().as_bytes().to_vec());
    let existing = with_retry(
        retry,
        "reading the Secret",
        || api.get_opt(target.secret),
        refused,
    )
    .await?;
    if let Some(existing) = &existing
        && let Some(why) = foreign_secret(existing)
    {
        return Err(ClusterError::NotOurs {
            object: what.clone(),
            message: why,
        });
    }
    if existing.is_none() {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(target.secret.to_owned()),
                namespace: Some(target.namespace.to_owned()),
                labels: Some(BTreeMap::from([(
                    WRITTEN_BY_LABEL.to_owned(),
                    "slipway".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(target.key.to_owned(), encoded.clone())])),
            type_: Some("Opaque".into()),
            ..Secret::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => return Ok(()),
            // Someone created it a moment ago: patch it only if it is ours.
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                let now = api.get(target.secret).await.map_err(refused)?;
                if let Some(why) = foreign_secret(&now) {
                    return Err(ClusterError::NotOurs {
                        object: what.clone(),
                        message: why,
                    });
                }
            }
            Err(e) => return Err(refused(e)),
        }
    }
    // A merge patch of one key keeps every other key of the Secret.
    let patch = Patch::Merge(serde_json::json!({ "data": { target.key: encoded } }));
    let params = PatchParams::default();
    with_retry(
        retry,
        "writing the Secret key",
        || api.patch(target.secret, &params, &patch),
        refused,
    )
    .await?;
    Ok(())
}

/// Creates ConfigMap `name` with `key` in `namespace` unless it exists (then
/// it is left alone, whatever it holds): for the local demo's settings, which
/// are nobody's secret. Labelled as written by Slipway, like written Secrets.
pub async fn ensure_config_map_key(
    client: &Client,
    namespace: &str,
    name: &str,
    key: &str,
    value: &str,
) -> Result<(), ClusterError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                WRITTEN_BY_LABEL.to_owned(),
                "slipway".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        ..ConfigMap::default()
    };
    match api.create(&PostParams::default(), &config_map).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(e) => Err(ClusterError::Refused {
            object: format!("ConfigMap/{name}"),
            message: one_line(&e),
        }),
    }
}

/// Presence of each named Secret in `namespace`.
pub async fn secrets(
    client: &Client,
    namespace: &str,
    names: &BTreeSet<String>,
    retry: RetryPolicy,
) -> Result<BTreeMap<String, Presence>, ClusterError> {
    presence(client, namespace, names, retry, |secret: Secret| {
        let data = secret.data.into_iter().flat_map(BTreeMap::into_keys);
        data.chain(secret.string_data.into_iter().flat_map(BTreeMap::into_keys))
            .collect()
    })
    .await
}

/// Presence of each named ConfigMap in `namespace`.
pub async fn config_maps(
    client: &Client,
    namespace: &str,
    names: &BTreeSet<String>,
    retry: RetryPolicy,
) -> Result<BTreeMap<String, Presence>, ClusterError> {
    presence(client, namespace, names, retry, |config_map: ConfigMap| {
        let data = config_map.data.into_iter().flat_map(BTreeMap::into_keys);
        data.chain(
            config_map
                .binary_data
                .into_iter()
                .flat_map(BTreeMap::into_keys),
        )
        .collect()
    })
    .await
}

/// Reads each named object of kind `K` and keeps only its key names: `keys`
/// consumes the object, so its values are dropped right here.
async fn presence<K>(
    client: &Client,
    namespace: &str,
    names: &BTreeSet<String>,
    retry: RetryPolicy,
    keys: impl Fn(K) -> BTreeSet<String>,
) -> Result<BTreeMap<String, Presence>, ClusterError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    // Before the first deploy there is no namespace, and Slipway has no
    // RoleBinding in it to be told "not found": nothing in it exists.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let exists = with_retry(
        retry,
        "reading the namespace",
        || namespaces.get_opt(namespace),
        |e| ClusterError::Refused {
            object: format!("Namespace/{namespace}"),
            message: one_line(&e),
        },
    )
    .await?
    .is_some();
    if !exists {
        return Ok(names
            .iter()
            .map(|n| (n.clone(), Presence::Missing))
            .collect());
    }
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let mut out = BTreeMap::new();
    for name in names {
        let object = with_retry(
            retry,
            "reading a referenced object",
            || api.get_opt(name),
            |e| ClusterError::Refused {
                object: format!("{}/{name}", K::kind(&())),
                message: one_line(&e),
            },
        )
        .await?;
        out.insert(
            name.clone(),
            object.map_or(Presence::Missing, |o| Presence::Keys(keys(o))),
        );
    }
    Ok(out)
}
