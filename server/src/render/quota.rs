//! An environment's optional ResourceQuota and LimitRange, as typed objects for
//! each team namespace, and the check of a deploy's containers against the
//! LimitRange's maximum (so a request that the API server would refuse pod by
//! pod is refused at request time, naming the field). Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::{LABEL_ENVIRONMENT, LABEL_TEAM, MANAGED_BY};
use crate::spec::{FieldError, quantity};

/// Name of the ResourceQuota and the LimitRange Slipway keeps in a namespace.
pub const QUOTA_NAME: &str = "slipway";

/// What an administrator set for an environment; `None`: not limited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceQuota {
    /// Total `requests.cpu` of a team namespace.
    pub requests_cpu: Option<String>,
    /// Total `requests.memory` of a team namespace.
    pub requests_memory: Option<String>,
    /// Most pods in a team namespace.
    pub pods: Option<i32>,
    /// Largest cpu (request or limit) of one container.
    pub max_cpu: Option<String>,
    /// Largest memory (request or limit) of one container.
    pub max_memory: Option<String>,
}

fn meta(namespace: &str, team: &str, environment: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(QUOTA_NAME.to_owned()),
        namespace: Some(namespace.to_owned()),
        // No app.kubernetes.io/name: these belong to the namespace, not to a
        // service, so no service's prune selects them.
        labels: Some(BTreeMap::from([
            (
                "app.kubernetes.io/managed-by".to_owned(),
                MANAGED_BY.to_owned(),
            ),
            (LABEL_TEAM.to_owned(), team.to_owned()),
            (LABEL_ENVIRONMENT.to_owned(), environment.to_owned()),
        ])),
        ..ObjectMeta::default()
    }
}

/// The ResourceQuota of `quota`, or `None` when it sets no total.
pub fn resource_quota(
    quota: &NamespaceQuota,
    namespace: &str,
    team: &str,
    environment: &str,
) -> Option<ResourceQuota> {
    let mut hard = BTreeMap::new();
    if let Some(cpu) = &quota.requests_cpu {
        hard.insert("requests.cpu".to_owned(), Quantity(cpu.clone()));
    }
    if let Some(memory) = &quota.requests_memory {
        hard.insert("requests.memory".to_owned(), Quantity(memory.clone()));
    }
    if let Some(pods) = quota.pods {
        hard.insert("pods".to_owned(), Quantity(pods.to_string()));
    }
    (!hard.is_empty()).then(|| ResourceQuota {
        metadata: meta(namespace, team, environment),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    })
}

/// The LimitRange of `quota`, or `None` when it sets no maximum.
pub fn limit_range(
    quota: &NamespaceQuota,
    namespace: &str,
    team: &str,
    environment: &str,
) -> Option<LimitRange> {
    let mut max = BTreeMap::new();
    if let Some(cpu) = &quota.max_cpu {
        max.insert("cpu".to_owned(), Quantity(cpu.clone()));
    }
    if let Some(memory) = &quota.max_memory {
        max.insert("memory".to_owned(), Quantity(memory.clone()));
    }
    (!max.is_empty()).then(|| LimitRange {
        metadata: meta(namespace, team, environment),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                max: Some(max),
                ..LimitRangeItem::default()
            }],
        }),
    })
}

/// The pod specs of rendered objects (Deployment, StatefulSet, CronJob).
fn pod_specs(object: &Value) -> Option<&Value> {
    object
        .pointer("/spec/template/spec")
        .or_else(|| object.pointer("/spec/jobTemplate/spec/template/spec"))
}

/// Every container of `objects` over the LimitRange's maximum, as field errors
/// on the spec: `spec.resources.limits.cpu` for the application container,
/// `spec.sidecars[i]…` / `spec.initContainers[i]…` for the others (found by name).
pub fn over_max(
    quota: &NamespaceQuota,
    objects: &[Value],
    app_container: &str,
    sidecars: &[String],
    init_containers: &[String],
    environment: &str,
) -> Vec<FieldError> {
    let maxima: Vec<(&str, f64, &str)> = [("cpu", &quota.max_cpu), ("memory", &quota.max_memory)]
        .into_iter()
        .filter_map(|(what, max)| {
            let max = max.as_deref()?;
            quantity::parse(max).ok().map(|v| (what, v, max))
        })
        .collect();
    let mut errors: Vec<FieldError> = Vec::new();
    if maxima.is_empty() {
        return errors;
    }
    for pod in objects.iter().filter_map(pod_specs) {
        for list in ["containers", "initContainers"] {
            for container in pod
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = container
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let base = if name == app_container && list == "containers" {
                    "spec.resources".to_owned()
                } else if let Some(i) = sidecars.iter().position(|s| s == name) {
                    format!("spec.sidecars[{i}].resources")
                } else if let Some(i) = init_containers.iter().position(|s| s == name) {
                    format!("spec.initContainers[{i}].resources")
                } else {
                    format!("container `{name}` resources")
                };
                for kind in ["requests", "limits"] {
                    for (what, max, shown) in &maxima {
                        let Some(value) = container
                            .pointer(&format!("/resources/{kind}/{what}"))
                            .and_then(Value::as_str)
                        else {
                            continue;
                        };
                        if quantity::parse(value).is_ok_and(|v| v > *max) {
                            let path = format!("{base}.{kind}.{what}");
                            if !errors.iter().any(|e| e.path == path) {
                                errors.push(FieldError::new(
                                    path,
                                    format!(
                                        "{value} is over {environment}'s maximum of {shown} per container"
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn quota() -> NamespaceQuota {
        NamespaceQuota {
            requests_cpu: Some("4".into()),
            pods: Some(20),
            max_cpu: Some("1".into()),
            max_memory: Some("1Gi".into()),
            ..NamespaceQuota::default()
        }
    }

    #[test]
    fn a_quota_renders_typed_objects_named_slipway() {
        let q = resource_quota(&quota(), "shop-staging", "shop", "staging").unwrap();
        let hard = q.spec.unwrap().hard.unwrap();
        assert_eq!(hard["requests.cpu"], Quantity("4".into()));
        assert_eq!(hard["pods"], Quantity("20".into()));
        assert!(!hard.contains_key("requests.memory"));
        let l = limit_range(&quota(), "shop-staging", "shop", "staging").unwrap();
        assert_eq!(l.metadata.name.as_deref(), Some(QUOTA_NAME));
        assert_eq!(
            l.spec.unwrap().limits[0].max.as_ref().unwrap()["memory"],
            Quantity("1Gi".into())
        );
        assert!(resource_quota(&NamespaceQuota::default(), "n", "t", "e").is_none());
        assert!(limit_range(&NamespaceQuota::default(), "n", "t", "e").is_none());
    }

    #[test]
    fn containers_over_the_maximum_are_field_errors_naming_the_spec_field() {
        let deployment = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": "web", "resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "2", "memory": "512Mi"}}},
            {"name": "proxy", "resources": {"requests": {"memory": "2Gi"}}}
        ]}}}});
        let errors = over_max(
            &quota(),
            &[deployment],
            "web",
            &["proxy".into()],
            &[],
            "staging",
        );
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "spec.resources.limits.cpu: 2 is over staging's maximum of 1 per container",
                "spec.sidecars[0].resources.requests.memory: 2Gi is over staging's maximum of 1Gi per container",
            ]
        );
        assert!(over_max(&NamespaceQuota::default(), &[], "web", &[], &[], "staging").is_empty());
    }
}
