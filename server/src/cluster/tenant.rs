//! Slipway's rights in a namespace it manages: the RoleBinding of the
//! `slipway-tenant` ClusterRole (deploy/kubernetes/base/rbac.yaml) to Slipway's own
//! ServiceAccount, created beside the namespace. Slipway's cluster-wide role
//! holds no write of workloads or Secrets; this binding is what lets it deploy
//! there, and only there.

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, PostParams};

use super::apply::{MANAGED_BY_LABEL, TENANT_ROLE};
use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};
use crate::render::MANAGED_BY;

/// How long a new binding may take to reach the API server's authorizer.
const BINDING_VISIBLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The ServiceAccount (namespace, name) this client authenticates as, or
/// `None` for any other identity (an administrator's kubeconfig in `slipway
/// run`: it needs no binding, and binding a person's account is not Slipway's
/// business).
pub async fn own_service_account(
    client: &Client,
    retry: RetryPolicy,
) -> Result<Option<(String, String)>, ClusterError> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let (params, ask) = (PostParams::default(), SelfSubjectReview::default());
    let review = with_retry(
        retry,
        "asking who Slipway is",
        || api.create(&params, &ask),
        |e| ClusterError::Refused {
            object: "SelfSubjectReview".into(),
            message: one_line(&e),
        },
    )
    .await?;
    let username = review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .unwrap_or_default();
    Ok(parse_service_account(&username))
}

/// `system:serviceaccount:<namespace>:<name>` → (namespace, name).
pub fn parse_service_account(username: &str) -> Option<(String, String)> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    Some((namespace.to_owned(), name.to_owned()))
}

/// Makes sure `namespace` has the RoleBinding giving Slipway's ServiceAccount
/// the tenant role, and that the authorizer sees it before anything else is
/// written there. Does nothing when Slipway is not a ServiceAccount.
pub async fn ensure_binding(
    client: &Client,
    namespace: &str,
    retry: RetryPolicy,
) -> Result<(), ClusterError> {
    let Some((sa_namespace, sa_name)) = own_service_account(client, retry).await? else {
        return Ok(());
    };
    let api: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    let what = format!("RoleBinding/{TENANT_ROLE} in {namespace}");
    let refused = |e: kube::Error| ClusterError::Refused {
        object: what.clone(),
        message: one_line(&e),
    };
    if with_retry(
        retry,
        "reading the tenant binding",
        || api.get_opt(TENANT_ROLE),
        refused,
    )
    .await?
    .is_some()
    {
        return Ok(());
    }
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(TENANT_ROLE.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some([(MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned())].into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: TENANT_ROLE.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa_name,
            namespace: Some(sa_namespace),
            ..Subject::default()
        }]),
    };
    with_retry(
        retry,
        "binding the tenant role",
        || async {
            match api.create(&PostParams::default(), &binding).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
                Err(e) => Err(e),
            }
        },
        refused,
    )
    .await?;
    tracing::info!(namespace, "tenant role bound");
    wait_until_allowed(client, namespace).await
}

/// Polls a SelfSubjectAccessReview until the new binding takes effect (the
/// authorizer's cache follows RoleBindings within moments).
async fn wait_until_allowed(client: &Client, namespace: &str) -> Result<(), ClusterError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(namespace.to_owned()),
                verb: Some("create".into()),
                resource: Some("configmaps".into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let deadline = tokio::time::Instant::now() + BINDING_VISIBLE_WITHIN;
    loop {
        let allowed = api
            .create(&PostParams::default(), &review)
            .await
            .ok()
            .and_then(|r| r.status)
            .is_some_and(|s| s.allowed);
        if allowed {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::Refused {
                object: format!("RoleBinding/{TENANT_ROLE} in {namespace}"),
                message: format!(
                    "the tenant role was bound but Slipway still may not write in {namespace} after {} s; check the ClusterRole {TENANT_ROLE} (deploy/kubernetes/base/rbac.yaml)",
                    BINDING_VISIBLE_WITHIN.as_secs()
                ),
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_usernames_are_recognised() {
        assert_eq!(
            parse_service_account("system:serviceaccount:slipway:slipway"),
            Some(("slipway".into(), "slipway".into()))
        );
        assert_eq!(parse_service_account("kubernetes-admin"), None);
    }
}
