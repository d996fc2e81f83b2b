//! CSRF: every state-changing portal route, as found in the source (see
//! `harness::routes::source_routes`), refuses a signed-in admin's request that
//! carries no token or a wrong one. The API (bearer tokens) and webhooks
//! (signatures) send no cookies worth forging and are not checked here.

use sqlx::PgPool;

use crate::harness::routes::{concrete, source_routes};
use crate::harness::{TestApp, create_user};

#[test]
fn routes_become_concrete_paths() {
    assert_eq!(
        concrete("/services/{team}/{service}/deploys/{id}"),
        "/services/shop/web/deploys/1"
    );
    assert_eq!(concrete("/"), "/");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn every_state_changing_portal_route_refuses_a_request_without_a_valid_token(pool: PgPool) {
    create_user(&pool, "root@example.com", true, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "root@example.com").await;
    let routes: Vec<(String, String)> = source_routes()
        .into_iter()
        .filter(|(method, path)| {
            method != "GET" && !path.starts_with("/api/") && !path.starts_with("/hooks/")
        })
        .collect();
    assert!(
        routes.len() >= 5,
        "the scan found the portal's forms: {routes:?}"
    );
    let mut failures = Vec::new();
    for (method, route) in &routes {
        let path = concrete(route);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        for token in [None, Some("forged-token")] {
            let mut fields = vec![("name", "x"), ("email", "x@example.com")];
            if let Some(token) = token {
                fields.push(("csrf_token", token));
            }
            let res = app
                .client
                .request(method.clone(), app.url(&path))
                .form(&fields)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            if status != 403 || !body.contains("CSRF token is required") {
                failures.push(format!("{method} {path} with token {token:?}: {status}"));
            }
        }
        // The htmx header is checked the same way.
        let res = app
            .client
            .request(method.clone(), app.url(&path))
            .header("x-csrf-token", "forged-token")
            .header("hx-request", "true")
            .send()
            .await
            .unwrap();
        if res.status() != 403 {
            failures.push(format!(
                "{method} {path} with a forged X-CSRF-Token: {}",
                res.status()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "accepted without a valid CSRF token:\n{}",
        failures.join("\n")
    );
    let (teams, users): (i64, i64) =
        sqlx::query_as("select (select count(*) from teams), (select count(*) from users)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((teams, users), (1, 1), "nothing was created");
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        sessions >= 1,
        "logout without a token did not end the session"
    );
}
