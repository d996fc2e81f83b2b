use serde_json::{Value, json};

use super::*;

fn deployment(image: &str, secret_key: &str, sidecar: Option<&str>) -> Value {
    let mut init = Vec::new();
    if let Some(image) = sidecar {
        init.push(json!({"name": "proxy", "image": image, "restartPolicy": "Always"}));
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop-production"},
        "spec": {"template": {"spec": {
            "initContainers": init,
            "containers": [{"name": "web", "image": image, "env": [
                {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": secret_key}}}
            ]}],
            "volumes": [{"name": "tls", "secret": {"secretName": "tls", "optional": true}}]
        }}}
    })
}

#[test]
fn the_digest_ignores_key_order_but_not_content() {
    let a = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    let b: Value = serde_json::from_str(
        r#"{"data":{"b":"2","a":"1"},"metadata":{"name":"c"},"kind":"ConfigMap"}"#,
    )
    .unwrap();
    assert_eq!(
        content_digest("ns", std::slice::from_ref(&a)),
        content_digest("ns", &[b])
    );
    let changed =
        json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "3"}});
    assert_ne!(
        content_digest("ns", std::slice::from_ref(&a)),
        content_digest("ns", &[changed])
    );
    assert_ne!(
        content_digest("ns", std::slice::from_ref(&a)),
        content_digest("other", &[a])
    );
}

#[test]
fn the_digest_changes_with_the_image_and_the_secret_references() {
    let base = content_digest("ns", &[deployment("web:1", "url", None)]);
    assert_ne!(
        base,
        content_digest("ns", &[deployment("web:2", "url", None)])
    );
    assert_ne!(
        base,
        content_digest("ns", &[deployment("web:1", "password", None)])
    );
    assert_eq!(base.len(), 64);
    assert_eq!(short(&base).len(), 12);
}

#[test]
fn facts_read_images_secret_references_and_sidecars() {
    let facts = ManifestFacts::of(&[deployment("web:1", "url", Some("envoy:1"))]);
    let images: Vec<(&str, &str, bool)> = facts
        .images
        .iter()
        .map(|i| (i.container.as_str(), i.image.as_str(), i.init))
        .collect();
    assert_eq!(
        images,
        [("proxy", "envoy:1", true), ("web", "web:1", false)]
    );
    let refs: Vec<String> = facts.secret_refs.iter().map(ToString::to_string).collect();
    assert_eq!(refs, ["db/url", "tls (optional)"]);
}

#[test]
fn changes_name_new_images_secret_references_and_sidecars() {
    let running = ManifestFacts::of(&[deployment("web:1", "url", None)]);
    let requested = ManifestFacts::of(&[deployment("web:2", "password", Some("evil:1"))]);
    let changes = Changes::between(Some(&running), &requested);
    assert_eq!(changes.new_secret_refs, ["db/password"]);
    assert_eq!(changes.dropped_secret_refs, ["db/url"]);
    assert_eq!(changes.new_sidecars, ["Deployment/web/proxy"]);
    let web = changes
        .images
        .iter()
        .find(|i| i.container == "Deployment/web/web")
        .unwrap();
    assert_eq!(web.running.as_deref(), Some("web:1"));
    assert!(web.is_changed());
    assert!(changes.needs_attention());
    assert!(!changes.first_deploy);
}

#[test]
fn the_same_manifests_change_nothing() {
    let facts = ManifestFacts::of(&[deployment("web:1", "url", Some("envoy:1"))]);
    let changes = Changes::between(Some(&facts), &facts);
    assert!(changes.new_secret_refs.is_empty());
    assert!(changes.new_sidecars.is_empty());
    assert!(!changes.needs_attention());
    assert!(changes.images.iter().all(|i| !i.is_changed()));
}

#[test]
fn a_first_deploy_has_everything_new_but_its_own_container_is_no_sidecar() {
    let facts = ManifestFacts::of(&[deployment("web:1", "url", Some("envoy:1"))]);
    let changes = Changes::between(None, &facts);
    assert!(changes.first_deploy);
    assert_eq!(changes.new_sidecars, ["Deployment/web/proxy"]);
    assert_eq!(changes.new_secret_refs.len(), 2);
}

#[test]
fn images_pinned_by_digest_are_told_apart() {
    let hex = "a".repeat(64);
    assert!(is_pinned_by_digest(&format!("registry/web@sha256:{hex}")));
    assert!(is_pinned_by_digest(&format!(
        "registry/web:1.2@sha256:{hex}"
    )));
    assert!(!is_pinned_by_digest("registry/web:1.2"));
    assert!(!is_pinned_by_digest("registry/web@sha256:abc"));
    assert!(!is_pinned_by_digest(&format!("@sha256:{hex}")));
}

#[test]
fn the_spec_diff_is_empty_for_equal_specs() {
    let a = json!({"name": "web", "replicas": 2});
    assert_eq!(spec_diff(Some(&a), &a), "");
    let b = json!({"name": "web", "replicas": 3});
    let diff = spec_diff(Some(&a), &b);
    assert!(
        diff.contains("-replicas: 2") && diff.contains("+replicas: 3"),
        "{diff}"
    );
    assert!(spec_diff(None, &a).contains("(nothing deployed)"));
}

#[test]
fn a_plan_round_trips_through_json_and_says_when_it_cannot_be_decided() {
    let plan = Plan {
        computed_at: time::macros::datetime!(2026-12-02 10:00 UTC),
        base_deploy: Some(3),
        digest: "d".repeat(64),
        namespace: "shop-production".into(),
        dry_run: DryRun::Unavailable {
            reason: "the cluster is unreachable".into(),
            no_cluster: false,
        },
        spec_diff: String::new(),
        changes: Changes::default(),
        wiring: WiringState::default(),
        checklist: ChecklistState::default(),
    };
    let back: Plan = serde_json::from_value(serde_json::to_value(&plan).unwrap()).unwrap();
    assert_eq!(back, plan);
    assert!(plan.is_decidable().unwrap_err().contains("unreachable"));
    let done = Plan {
        dry_run: DryRun::Done {
            objects: vec![ObjectPlan {
                kind: "Deployment".into(),
                name: "web".into(),
                change: ObjectChange::Update,
                diff: "-a\n+b\n".into(),
                conflict: Some("conflict with kubectl".into()),
                error: None,
            }],
            prune: vec!["HorizontalPodAutoscaler/web".into()],
            namespace_created: false,
        },
        ..plan
    };
    assert!(done.is_decidable().is_ok());
    assert_eq!(
        done.summary(),
        "0 to create, 1 to change, 0 unchanged, 1 to prune, 1 with conflicts"
    );
}
