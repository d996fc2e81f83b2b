//! The failures real clusters produce, injected on kwok's nodes by image tag
//! (`e2e/cluster/config/kwok-failures.yaml`): each ends a deploy as failed
//! with the matching reason in its record, which stays in the ledger after
//! Kubernetes has dropped the events it was built from. The real node covers
//! real crashes (`real_node.rs`); these cover every kind, cheaply.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DeleteParams, ListParams};
use slipway::deployer::DeployState;
use sqlx::PgPool;

use crate::harness::{
    ClusterTest, PASSWORD, TestApp, api_token, cluster_handle, create_user, test_config, with_token,
};

fn spec(team: &str, name: &str) -> String {
    format!(
        "apiVersion: slipway.dev/v1
kind: Service
metadata: {{name: {name}, team: {team}}}
spec:
  kind: web
  image: registry.example.com/{team}/{name}:1.0.0
  command: [gunicorn, app:app]
  ports: [{{name: http, port: 8000}}]
  resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
  replicas: 2
  env:
    - {{name: DATABASE_URL, secret: {{name: {name}-db, key: url}}}}
"
    )
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn each_emulated_failure_fails_the_deploy_with_its_reason(pool: PgPool) {
    let mut config = test_config();
    // Nothing moves once a failure is injected: no need to wait 90 s.
    config.rollout.stall_timeout = Duration::from_secs(20);
    let t = ClusterTest::with_config(&pool, &["staging"], config).await;
    // (tag, what the reason must say)
    let cases: [(&str, &[&str]); 5] = [
        (
            "kwok-crash-loop",
            &[
                "CrashLoopBackOff",
                "exited with code 1 (Error), restarted 5 times",
            ],
        ),
        (
            "kwok-oom-killed",
            &[
                "exited with code 137 (OOMKilled), restarted 3 times",
                "CrashLoopBackOff",
            ],
        ),
        (
            "kwok-image-pull",
            &["is waiting: ImagePullBackOff Back-off pulling image"],
        ),
        (
            "kwok-config-error",
            &["is waiting: CreateContainerConfigError couldn't find key url in Secret"],
        ),
        (
            "kwok-never-ready",
            &["Readiness probe failed: HTTP probe failed with statuscode: 503"],
        ),
    ];
    let mut requested = Vec::new();
    for (tag, _) in &cases {
        let name = tag.trim_start_matches("kwok-");
        let service = t.service_yaml(&spec(&t.team, name)).await;
        let image = format!("registry.example.com/{}/{name}:{tag}", t.team);
        requested.push(t.request(&service, &image).await);
    }
    let mut finished = Vec::new();
    for deploy in &requested {
        finished.push(t.wait(deploy).await);
    }
    for ((tag, needles), deploy) in cases.iter().zip(&finished) {
        assert_eq!(
            deploy.state,
            DeployState::Failed,
            "{tag}: {}",
            deploy.reason
        );
        for needle in *needles {
            assert!(
                deploy.reason.contains(needle),
                "{tag}: the reason lacks {needle:?}: {}",
                deploy.reason
            );
        }
    }

    // The admin's cluster page lists the failing pods, from the watch cache.
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    let admin = format!("root@{}.example", t.team);
    let admin_user = create_user(&pool, &admin, true, &[]).await;
    app.login_as(&admin, PASSWORD).await;
    let mut page = String::new();
    for _ in 0..120 {
        page = app.page("/admin/cluster").await;
        if ["crash-loop-", "oom-killed-", "image-pull-", "config-error-"]
            .iter()
            .all(|p| page.contains(p))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for needle in [
        "crash-loop-",
        "oom-killed-",
        "image-pull-",
        "config-error-",
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "<td>pods</td>",
        "connected",
    ] {
        assert!(
            page.contains(needle),
            "/admin/cluster lacks {needle:?}: {page}"
        );
    }
    assert!(
        page.contains(&format!("<code>{}-staging</code>", t.team)),
        "the namespace is listed: {page}"
    );

    // The status page shows each service's recent Warning events, from the
    // watch cache, and only its own.
    let status_path = format!("/services/{}/crash-loop/status?env=staging", t.team);
    let mut fragment = String::new();
    for _ in 0..120 {
        fragment = app.page(&status_path).await;
        if fragment.contains("Recent warnings") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        fragment.contains("Recent warnings")
            && fragment.contains("Back-off restarting failed container")
            && fragment.contains("<code>Pod/crash-loop-"),
        "{fragment}"
    );
    assert!(
        !fragment.contains("Pod/oom-killed-") && !fragment.contains("Readiness probe failed"),
        "another service's warnings are not this one's: {fragment}"
    );
    let never_ready_path = format!("/services/{}/never-ready/status?env=staging", t.team);
    let mut fragment = String::new();
    for _ in 0..120 {
        fragment = app.page(&never_ready_path).await;
        if fragment.contains("Readiness probe failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        fragment.contains("<strong>Unhealthy</strong>")
            && !fragment.contains("Back-off restarting"),
        "{fragment}"
    );

    // Kubernetes drops events after an hour; here, at once. The record keeps them.
    let ns = t.ns();
    let events: Api<Event> = Api::namespaced(t.client.clone(), &ns);
    events
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    assert!(
        events
            .list(&ListParams::default().fields("type=Warning"))
            .await
            .unwrap()
            .items
            .is_empty(),
        "the namespace's Warning events are gone"
    );
    // Every deploy's record has its own objects' events, Warning and Normal,
    // read from the ledger now that Kubernetes has none.
    let warnings = [
        (
            "crash-loop",
            "BackOff",
            "Back-off restarting failed container",
        ),
        (
            "oom-killed",
            "BackOff",
            "Back-off restarting failed container",
        ),
        ("image-pull", "Failed", "Error: ImagePullBackOff"),
        (
            "config-error",
            "Failed",
            "Error: CreateContainerConfigError",
        ),
        ("never-ready", "Unhealthy", "Readiness probe failed"),
    ];
    for ((name, reason, message), deploy) in warnings.iter().zip(&finished) {
        let kept = slipway::store::cluster_events::of_deploy(&pool, deploy.id)
            .await
            .unwrap();
        let seen: Vec<String> = kept
            .iter()
            .map(|e| {
                format!(
                    "{} {} {}/{}: {}",
                    e.kind, e.reason, e.object_kind, e.object_name, e.message
                )
            })
            .collect();
        assert!(
            kept.iter().any(|e| e.is_warning()
                && e.reason == *reason
                && e.object_kind == "Pod"
                && e.object_name.starts_with(&format!("{name}-"))
                && e.message.contains(message)),
            "{name}: the record lacks the Warning {reason}: {seen:#?}"
        );
        assert!(
            kept.iter().any(|e| !e.is_warning()
                && e.reason == "ScalingReplicaSet"
                && e.object_kind == "Deployment"
                && e.object_name == *name),
            "{name}: the record lacks the Deployment's ScalingReplicaSet: {seen:#?}"
        );
        assert!(
            kept.iter()
                .all(|e| e.object_name == *name || e.object_name.starts_with(&format!("{name}-"))),
            "{name}: only its own objects' events: {seen:#?}"
        );
    }
    let crash_loop = &finished[0];
    let page = app.page(&format!("/deploys/{}", crash_loop.id)).await;
    assert!(
        page.contains("id=\"cluster-events\"")
            && page.contains("Back-off restarting failed container")
            && page.contains("ScalingReplicaSet"),
        "the deploy's page shows the kept events: {page}"
    );
    let token = api_token(&pool, admin_user.id, "events").await;
    let res = with_token(
        reqwest::Client::new()
            .get(app.url(&format!("/api/v1/deploys/{}/cluster-events", crash_loop.id))),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let api: serde_json::Value = res.json().await.unwrap();
    let items = api.as_array().expect("a list");
    assert!(
        items.iter().any(|e| e["type"] == "Warning"
            && e["reason"] == "BackOff"
            && e["object"]
                .as_str()
                .is_some_and(|o| o.starts_with("Pod/crash-loop-"))),
        "{api:#}"
    );

    let never_ready = finished.last().unwrap();
    let stored = slipway::store::deploys::find(&pool, never_ready.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.reason.contains("Warning Unhealthy on Pod/")
            && stored.reason.contains("Readiness probe failed"),
        "{}",
        stored.reason
    );
    t.finish().await;
}
