//! Drift: the live objects compared with the manifests of the last deploy
//! that succeeded, and for each changed field who changed it, from the
//! object's `metadata.managedFields` (e.g. `kubectl-edit` set `spec.replicas`
//! to 1). Read on demand, never per status view.
//!
//! A field counts as drifted when its live value differs from the deployed one
//! and another field manager owns it (someone wrote it after Slipway), or when
//! it is gone. A difference that only Slipway's own manager owns is the API
//! server's normal form (`1000m` read back as `1`), not drift.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::Client;
use serde_json::Value;

use super::apply::{FIELD_MANAGER, Manifest, Target, read_live};
use super::retry::{ClusterError, RetryPolicy};

/// One drifted field (or object).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drifted {
    /// `Kind/name`.
    pub object: String,
    /// `spec.replicas`, `spec.template.spec.containers[web].image`; empty for
    /// the whole object.
    pub field: String,
    /// What the last deploy applied (JSON).
    pub deployed: String,
    /// What is live (JSON), or `(absent)`.
    pub live: String,
    /// The field manager that wrote it, when managedFields says.
    pub manager: Option<String>,
}

/// The drift of `manifests` (the last successful deploy's) against what is live.
pub async fn drift(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<Vec<Drifted>, ClusterError> {
    let ours = [target.field_manager(), FIELD_MANAGER.to_owned()];
    let mut out = Vec::new();
    for manifest in manifests {
        let object = manifest.describe();
        let Some(live) = read_live(client, target, manifest, retry).await? else {
            out.push(Drifted {
                object,
                field: String::new(),
                deployed: "present".into(),
                live: "(absent: deleted after the deploy)".into(),
                manager: None,
            });
            continue;
        };
        let managed = live.metadata.managed_fields.clone().unwrap_or_default();
        let live_value = serde_json::to_value(&live).unwrap_or(Value::Null);
        out.extend(
            compare(&manifest.value, &live_value, &managed, &ours)
                .into_iter()
                .map(|d| Drifted {
                    object: object.clone(),
                    ..d
                }),
        );
    }
    Ok(out)
}

/// One step of a path: an object key, or a list element by name or index.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Named(String),
    Index(usize),
}

fn render_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Named(n) => out.push_str(&format!("[{n}]")),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Pure: the drifted fields of one object (`object` left empty), walking what
/// was deployed. `ours` are Slipway's field managers.
pub fn compare(
    deployed: &Value,
    live: &Value,
    managed: &[ManagedFieldsEntry],
    ours: &[String],
) -> Vec<Drifted> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    for key in ["metadata", "spec", "data"] {
        let (Some(d), l) = (deployed.get(key), live.get(key)) else {
            continue;
        };
        path.push(Step::Key(key.into()));
        if key == "metadata" {
            // Only what Slipway sets and a person could change.
            for sub in ["labels", "annotations"] {
                if let Some(d) = d.get(sub) {
                    path.push(Step::Key(sub.into()));
                    walk(
                        d,
                        l.and_then(|l| l.get(sub)),
                        &mut path,
                        managed,
                        ours,
                        &mut out,
                    );
                    path.pop();
                }
            }
        } else {
            walk(d, l, &mut path, managed, ours, &mut out);
        }
        path.pop();
    }
    out
}

fn walk(
    deployed: &Value,
    live: Option<&Value>,
    path: &mut Vec<Step>,
    managed: &[ManagedFieldsEntry],
    ours: &[String],
    out: &mut Vec<Drifted>,
) {
    match (deployed, live) {
        (Value::Object(d), Some(Value::Object(l))) => {
            for (k, dv) in d {
                path.push(Step::Key(k.clone()));
                walk(dv, l.get(k), path, managed, ours, out);
                path.pop();
            }
        }
        (Value::Array(d), Some(Value::Array(l)))
            if d.iter()
                .all(|e| e.get("name").and_then(Value::as_str).is_some()) =>
        {
            for dv in d {
                let name = dv.get("name").and_then(Value::as_str).unwrap_or_default();
                let lv = l
                    .iter()
                    .find(|e| e.get("name").and_then(Value::as_str) == Some(name));
                path.push(Step::Named(name.to_owned()));
                walk(dv, lv, path, managed, ours, out);
                path.pop();
            }
            // An element someone else added (a container, a variable).
            for lv in l {
                let Some(name) = lv.get("name").and_then(Value::as_str) else {
                    continue;
                };
                if d.iter()
                    .any(|e| e.get("name").and_then(Value::as_str) == Some(name))
                {
                    continue;
                }
                path.push(Step::Named(name.to_owned()));
                if let Some(manager) = manager_of(managed, path, ours) {
                    out.push(Drifted {
                        object: String::new(),
                        field: render_path(path),
                        deployed: "(absent)".into(),
                        live: lv.to_string(),
                        manager: Some(manager),
                    });
                }
                path.pop();
            }
        }
        (Value::Array(d), Some(Value::Array(l)))
            if d.len() == l.len() && d.iter().all(Value::is_object) =>
        {
            for (i, (dv, lv)) in d.iter().zip(l).enumerate() {
                path.push(Step::Index(i));
                walk(dv, Some(lv), path, managed, ours, out);
                path.pop();
            }
        }
        (d, l) if Some(d) == l => {}
        // The server drops empty lists, maps and nulls it was sent.
        (Value::Array(a), None) if a.is_empty() => {}
        (Value::Object(o), None) if o.is_empty() => {}
        (Value::Null, None) => {}
        (d, l) => {
            let manager = manager_of(managed, path, ours);
            // A difference only Slipway owns is the server's normal form.
            if manager.is_some() || l.is_none() {
                out.push(Drifted {
                    object: String::new(),
                    field: render_path(path),
                    deployed: d.to_string(),
                    live: l.map_or_else(|| "(absent)".to_owned(), Value::to_string),
                    manager,
                });
            }
        }
    }
}

/// The newest manager other than `ours` whose managedFields entry owns `path`
/// (the field or anything under it).
fn manager_of(managed: &[ManagedFieldsEntry], path: &[Step], ours: &[String]) -> Option<String> {
    managed
        .iter()
        .filter(|m| m.manager.as_ref().is_some_and(|n| !ours.contains(n)))
        .filter(|m| m.fields_v1.as_ref().is_some_and(|f| owns(&f.0, path)))
        .max_by_key(|m| m.time.as_ref().map(|t| t.0))
        .and_then(|m| m.manager.clone())
}

/// Whether a fieldsV1 tree has `path` (`f:key` per key, `k:{"name":…}` per
/// named element; an indexed element matches any element).
fn owns(fields: &Value, path: &[Step]) -> bool {
    let Some((step, rest)) = path.split_first() else {
        return true;
    };
    let Some(map) = fields.as_object() else {
        return false;
    };
    match step {
        Step::Key(k) => map.get(&format!("f:{k}")).is_some_and(|f| owns(f, rest)),
        Step::Named(n) => {
            let needle = format!("\"name\":{}", Value::String(n.clone()));
            map.iter()
                .any(|(k, f)| k.starts_with("k:") && k.contains(&needle) && owns(f, rest))
        }
        Step::Index(_) => map
            .iter()
            .any(|(k, f)| (k.starts_with("k:") || k.starts_with("i:")) && owns(f, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;
    use serde_json::json;

    fn entry(manager: &str, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some("Update".into()),
            fields_v1: Some(FieldsV1(fields)),
            ..ManagedFieldsEntry::default()
        }
    }

    fn deployed() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "web", "image": "shop/web:1.0", "resources": {"requests": {"cpu": "1000m"}}}
            ]}}}
        })
    }

    fn ours() -> Vec<String> {
        vec!["slipway-shop-web".into()]
    }

    #[test]
    fn a_field_another_manager_changed_is_drift_with_its_manager() {
        let mut live = deployed();
        live["spec"]["replicas"] = json!(1);
        live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("shop/web:hotfix");
        live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] =
            json!("/dev/termination-log");
        let managed = [
            entry("slipway-shop-web", json!({"f:spec": {"f:template": {}}})),
            entry("kubectl-edit", json!({"f:spec": {"f:replicas": {}}})),
            entry(
                "kubectl-set",
                json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {"f:image": {}}
                }}}}}),
            ),
        ];
        let drift = compare(&deployed(), &live, &managed, &ours());
        let seen: Vec<(&str, &str, &str, Option<&str>)> = drift
            .iter()
            .map(|d| {
                (
                    d.field.as_str(),
                    d.deployed.as_str(),
                    d.live.as_str(),
                    d.manager.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("spec.replicas", "2", "1", Some("kubectl-edit")),
                (
                    "spec.template.spec.containers[web].image",
                    "\"shop/web:1.0\"",
                    "\"shop/web:hotfix\"",
                    Some("kubectl-set")
                ),
            ]
        );
    }

    #[test]
    fn the_servers_normal_form_and_defaults_are_not_drift() {
        let mut live = deployed();
        live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] =
            json!("1");
        live["spec"]["progressDeadlineSeconds"] = json!(600);
        let mut deployed = deployed();
        deployed["spec"]["template"]["spec"]["volumes"] = json!([]);
        let managed = [entry(
            "slipway-shop-web",
            json!({"f:spec": {"f:replicas": {}, "f:template": {}}}),
        )];
        assert!(compare(&deployed, &live, &managed, &ours()).is_empty());
        assert!(compare(&deployed, &deployed, &managed, &ours()).is_empty());
    }

    #[test]
    fn a_removed_field_is_drift_even_without_an_owner() {
        let mut live = deployed();
        live["metadata"]["labels"] = json!({});
        let drift = compare(&deployed(), &live, &[], &ours());
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].field, "metadata.labels.app.kubernetes.io/name");
        assert_eq!(drift[0].live, "(absent)");
        assert_eq!(drift[0].manager, None);
    }
}
