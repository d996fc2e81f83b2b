//! Drift on the local cluster: after a deploy the live objects match it; a
//! change made outside Slipway (a `kubectl edit` of replicas, a `kubectl set
//! image`, a deleted object) shows with the field manager that made it, and
//! the next deploy stops on the same fields (Slipway never forces another
//! manager's fields).

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use sqlx::PgPool;

use crate::harness::{ClusterTest, PASSWORD, TestApp, cluster_handle, create_user};

fn web(team: &str, name: &str) -> String {
    format!(
        "apiVersion: slipway.dev/v1
kind: Service
metadata: {{name: {name}, team: {team}}}
spec:
  kind: web
  image: registry.example.com/{team}/{name}:1.0.0
  command: [gunicorn, app:app]
  ports: [{{name: http, port: 8000}}]
  resources: {{requests: {{cpu: 100m, memory: 32Mi}}}}
  replicas: 2
"
    )
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_change_outside_slipway_shows_with_the_manager_that_made_it(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let team = t.team.clone();
    let drifting = t.service_yaml(&web(&team, "drifting")).await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    app.login_as(&t.email, PASSWORD).await;
    let path = format!("/services/{team}/drifting/drift?env=staging");

    let page = app.page(&path).await;
    assert!(
        page.contains("Nothing has been deployed to staging successfully yet"),
        "{page}"
    );

    let image = format!("registry.example.com/{team}/drifting:1.0.0");
    let first = t.deploy_ok(&drifting, &image).await;
    let page = app.page(&path).await;
    assert!(
        page.contains("no drift") && page.contains(&format!("deploy #{}", first.id)),
        "a fresh deploy matches: {page}"
    );

    // Someone edits the Deployment by hand, as `kubectl edit` and `kubectl set image` do.
    let deployments: Api<Deployment> = Api::namespaced(t.client.clone(), &t.ns());
    deployments
        .patch(
            "drifting",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    deployments
        .patch(
            "drifting",
            &PatchParams {
                field_manager: Some("kubectl-set".into()),
                ..PatchParams::default()
            },
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "registry.example.com/hotfix:9"}
            ]}}}})),
        )
        .await
        .unwrap();
    let page = app.page(&path).await;
    for needle in [
        "2 fields in staging differ",
        "<code>Deployment/drifting</code>",
        "<code>spec.replicas</code>",
        "<code>kubectl-edit</code>",
        "<code>spec.template.spec.containers[app].image</code>",
        "<code>kubectl-set</code>",
        "registry.example.com/hotfix:9",
    ] {
        assert!(page.contains(needle), "the drift lacks {needle:?}: {page}");
    }
    // The htmx card alone, for the service page's button.
    let card = app.htmx_get(&path).await.text().await.unwrap();
    assert!(
        card.starts_with("<div class=\"card\" id=\"drift\">") && card.contains("kubectl-edit"),
        "{card}"
    );

    // A deleted object is drift too.
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(t.client.clone(), &t.ns());
    services
        .delete("drifting", &DeleteParams::default())
        .await
        .unwrap();
    let page = app.page(&path).await;
    assert!(
        page.contains("<code>Service/drifting</code>") && page.contains("deleted after the deploy"),
        "{page}"
    );

    // Slipway does not overwrite another manager's fields: the next deploy
    // stops on exactly the conflicts the drift named.
    let requested = t.request(&drifting, &image).await;
    let second = t.wait(&requested).await;
    assert_eq!(second.state, slipway::deployer::DeployState::Failed);
    assert!(
        second.reason.contains("kubectl-edit")
            && second.reason.contains(".spec.replicas")
            && second.reason.contains("kubectl-set"),
        "{}",
        second.reason
    );
    let page = app.page(&path).await;
    assert!(
        page.contains("<code>kubectl-edit</code>")
            && page.contains(&format!("deploy #{}", first.id)),
        "drift is still against the last deploy that succeeded: {page}"
    );

    // Another team's member may not look.
    create_user(&pool, &format!("olga@{team}.example"), false, &["billing"]).await;
    let other = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    other
        .login_as(&format!("olga@{team}.example"), PASSWORD)
        .await;
    assert_eq!(other.get(&path).await.status(), 403);
    t.finish().await;
}
