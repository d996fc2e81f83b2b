//! Before applying: what would change. Each object is applied as a server-side
//! dry run (so the API server fills in defaults exactly as it would for real) and
//! compared with what is live; objects that would be pruned show as removed.
//! Both sides lose the fields that always differ and say nothing
//! (managedFields, resourceVersion, uid, creationTimestamp, generation, status).

use kube::Client;
use serde_json::Value;
use similar::TextDiff;
use tracing::instrument;

use super::apply::{Manifest, Target, apply_one, live_objects, manager_for, prune_candidates};
use super::retry::{ClusterError, RetryPolicy};

/// Metadata fields that change on every write and carry no meaning for a review.
const NOISY_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
];

/// Removes the fields that always differ between live and desired.
pub fn strip_noise(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        object.remove("status");
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in NOISY_METADATA {
                meta.remove(key);
            }
        }
    }
}

/// YAML of an object without noise, or empty for "absent".
pub fn comparable_yaml(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(v) => {
            let mut v = v.clone();
            strip_noise(&mut v);
            serde_saphyr::to_string(&v).unwrap_or_else(|e| format!("# cannot show: {e}\n"))
        }
    }
}

/// A unified diff of one object, or `None` when nothing changes.
pub fn object_diff(title: &str, live: Option<&Value>, desired: Option<&Value>) -> Option<String> {
    let before = comparable_yaml(live);
    let after = comparable_yaml(desired);
    if before == after {
        return None;
    }
    let (old_header, new_header) = match (live.is_some(), desired.is_some()) {
        (false, _) => ("(absent)".to_owned(), format!("desired {title} (created)")),
        (true, false) => (format!("live {title}"), "(pruned)".to_owned()),
        (true, true) => (format!("live {title}"), format!("desired {title}")),
    };
    Some(
        TextDiff::from_lines(&before, &after)
            .unified_diff()
            .context_radius(3)
            .header(&old_header, &new_header)
            .to_string(),
    )
}

/// The whole diff of a deploy: a dry-run apply of every manifest against what is
/// live, plus the objects prune would delete. Empty when nothing would change.
/// An object that exists without this service's labels refuses the whole diff
/// (and so the deploy) before anything of it is read into the diff.
#[instrument(skip_all, fields(deploy.id = target.deploy_id, service = %target.service, environment = %target.environment))]
pub async fn dry_run_diff(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    retry: RetryPolicy,
) -> Result<String, ClusterError> {
    let mut out = String::new();
    let lives = live_objects(client, target, manifests, retry).await?;
    // Dry runs store nothing, so they go at once; the diff keeps the manifests' order.
    let managers: Vec<String> = lives
        .iter()
        .map(|live| manager_for(live.as_ref(), target))
        .collect();
    let dry_runs =
        futures::future::join_all(manifests.iter().zip(&managers).map(|(manifest, manager)| {
            apply_one(client, &target.namespace, manifest, manager, true, retry)
        }));
    let (dry_runs, candidates) =
        tokio::join!(dry_runs, prune_candidates(client, target, manifests, retry));
    for ((manifest, live), desired) in manifests.iter().zip(lives).zip(dry_runs) {
        let desired = desired?;
        let live = live.map(|o| to_value(&o)).transpose()?;
        let desired = to_value(&desired)?;
        if let Some(d) = object_diff(&manifest.describe(), live.as_ref(), Some(&desired)) {
            out.push_str(&d);
        }
    }
    for (resource, object) in candidates? {
        let title = format!(
            "{}/{}",
            resource.kind,
            object.metadata.name.as_deref().unwrap_or_default()
        );
        let live = to_value(&object)?;
        if let Some(d) = object_diff(&title, Some(&live), None) {
            out.push_str(&d);
        }
    }
    Ok(out)
}

fn to_value(object: &kube::api::DynamicObject) -> Result<Value, ClusterError> {
    serde_json::to_value(object).map_err(|e| ClusterError::Manifests(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn noise_is_stripped_from_both_sides() {
        let live = json!({"kind": "ConfigMap", "metadata": {"name": "c", "uid": "1", "resourceVersion": "9",
            "managedFields": [{}], "generation": 3, "creationTimestamp": "x"}, "data": {"a": "1"},
            "status": {"x": 1}});
        let desired = json!({"kind": "ConfigMap", "metadata": {"name": "c", "uid": "1", "resourceVersion": "10"},
            "data": {"a": "1"}});
        assert_eq!(
            object_diff("ConfigMap/c", Some(&live), Some(&desired)),
            None
        );
    }

    #[test]
    fn a_changed_field_shows_as_a_unified_diff() {
        let live = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let desired = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
        let d = object_diff("ConfigMap/c", Some(&live), Some(&desired)).unwrap();
        assert!(d.contains("--- live ConfigMap/c"), "{d}");
        assert!(d.contains("+++ desired ConfigMap/c"), "{d}");
        assert!(d.contains("-  a: '1'") || d.contains("-  a: \"1\""), "{d}");
    }

    #[test]
    fn new_and_pruned_objects_are_labelled() {
        let o = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "w"}});
        let created = object_diff("HorizontalPodAutoscaler/w", None, Some(&o)).unwrap();
        assert!(created.contains("(created)"), "{created}");
        let pruned = object_diff("HorizontalPodAutoscaler/w", Some(&o), None).unwrap();
        assert!(pruned.contains("(pruned)"), "{pruned}");
    }
}
