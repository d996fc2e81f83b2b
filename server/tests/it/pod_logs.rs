//! A pod's log in the portal, on the local cluster: kwok serves the fake
//! pods' logs (`e2e/cluster/config/kwok-logs/`) through the API server, like a
//! kubelet. The team's members read the last lines, the previous container's
//! and a follow stream; nobody else does, and no name reaches another
//! service's pod.

use std::time::Duration;

use slipway::cluster;
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
  resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
  replicas: 1
"
    )
}

/// The first pod name the live status fragment of `service` lists.
fn first_pod(fragment: &str, service: &str) -> Option<String> {
    let marker = format!("pod={service}-");
    let at = fragment.find(&marker)? + "pod=".len();
    let end = at + fragment[at..].find('"')?;
    Some(fragment[at..end].to_owned())
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn members_read_tail_previous_and_follow_and_nobody_else_does(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let team = t.team.clone();
    let logged = t.service_yaml(&web(&team, "logged")).await;
    let neighbour = t.service_yaml(&web(&team, "neighbour")).await;
    t.deploy_ok(&logged, "registry.example.com/shop/logged:1.0.0")
        .await;
    t.deploy_ok(&neighbour, "registry.example.com/shop/neighbour:1.0.0")
        .await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    app.login_as(&t.email, PASSWORD).await;

    let status = |service: &'static str| {
        let app = &app;
        let team = team.clone();
        async move {
            app.page(&format!("/services/{team}/{service}/status?env=staging"))
                .await
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (pod, other) = loop {
        let pod = first_pod(&status("logged").await, "logged");
        let other = first_pod(&status("neighbour").await, "neighbour");
        if let (Some(p), Some(o)) = (pod, other) {
            break (Some(p), Some(o));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fragments never listed a pod with a log link"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (pod, other) = (pod.unwrap(), other.unwrap());
    let logs = |query: String| {
        let app = &app;
        let team = team.clone();
        async move {
            app.get(&format!("/services/{team}/logged/logs?env=staging&{query}"))
                .await
        }
    };

    // The last lines, HTML-escaped, with what logs are said on the page.
    let res = logs(format!("pod={pod}")).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Listening at: http://0.0.0.0:8000"), "{page}");
    assert!(page.contains("kwok-logs/current.txt"), "{page}");
    assert!(
        page.contains("the application&#39;s own output")
            || page.contains("the application's own output"),
        "{page}"
    );
    // Two lines only.
    let page = logs(format!("pod={pod}&lines=2"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("duration_ms") && !page.contains("Starting gunicorn"),
        "{page}"
    );
    // The previous container's.
    let page = logs(format!("pod={pod}&previous=1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("KeyError: &#39;DATABASE_URL&#39;") || page.contains("KeyError"),
        "{page}"
    );
    assert!(page.contains("previous.txt"), "{page}");
    // Bad input names the field.
    let res = logs(format!("pod={pod}&container=nope")).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("has no container \"nope\"")
            || body.contains("has no container &quot;nope&quot;")
            || body.contains("has no container &#34;nope&#34;"),
        "{body}"
    );
    let res = logs(format!("pod={pod}&lines=0")).await;
    assert_eq!(res.status(), 422);
    // The neighbour's pod, in the same namespace, through this service's URL: no such pod.
    let res = logs(format!("pod={other}")).await;
    assert_eq!(
        res.status(),
        404,
        "another service's pod must not be reachable"
    );

    // Follow: plain text, streamed; read the start and hang up.
    let res = app
        .get(&format!(
            "/services/{team}/logged/logs/follow?env=staging&pod={pod}"
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let mut res = res;
    let mut seen = String::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = res.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"path\": \"/ready\"") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the follow stream sent only: {seen}");
    assert!(seen.contains("Booting worker"), "{seen}");

    // Not a member: an administrator, and a member of another team.
    let others = TestApp::spawn_with(pool.clone(), cluster::Handle::disabled(), |_| {}).await;
    create_user(&pool, &format!("root@{team}.example"), true, &[]).await;
    others
        .login_as(&format!("root@{team}.example"), PASSWORD)
        .await;
    let res = others
        .get(&format!(
            "/services/{team}/logged/logs?env=staging&pod={pod}"
        ))
        .await;
    assert_eq!(res.status(), 403, "an administrator outside the team");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("only members of the team may read its pods")
    );
    let outsiders = TestApp::spawn_with(pool.clone(), cluster::Handle::disabled(), |_| {}).await;
    create_user(&pool, &format!("olga@{team}.example"), false, &["billing"]).await;
    outsiders
        .login_as(&format!("olga@{team}.example"), PASSWORD)
        .await;
    let res = outsiders
        .get(&format!(
            "/services/{team}/logged/logs/follow?env=staging&pod={pod}"
        ))
        .await;
    assert_eq!(res.status(), 403, "a member of another team");
    t.finish().await;
}
