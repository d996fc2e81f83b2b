//! The HTTP base: probes, errors, limits, static files, metrics.

use sqlx::PgPool;

use crate::harness::TestApp;

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn healthz_and_readyz_answer_200_with_a_migrated_database(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(body["database"], true, "{body}");
    assert_eq!(body["migrations"], true, "{body}");
}

#[sqlx::test(migrations = false)]
async fn readyz_is_503_while_migrations_are_pending(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn login_page_renders_with_vendored_htmx(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let html = app.page("/login").await;
    assert!(
        html.contains("<form method=\"post\" action=\"/login\""),
        "{html}"
    );
    assert!(html.contains("src=\"/static/vendor/htmx-2.0.11.min.js\""));
    assert!(!html.contains("https://"), "no external assets: {html}");
    let js = app.get("/static/vendor/htmx-2.0.11.min.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(js.text().await.unwrap().contains("htmx"));
    // The icon the page names, and the one browsers ask for without a page.
    assert!(
        html.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""),
        "{html}"
    );
    let icon = app.get("/static/favicon.svg").await;
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    let old_place = app.get("/favicon.ico").await;
    assert_eq!(old_place.status(), 308);
    assert_eq!(old_place.headers()["location"], "/static/favicon.svg");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn anonymous_home_redirects_to_login_with_next(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get("/?q=web").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?next=%2F%3Fq%3Dweb");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn unknown_path_gets_the_html_404_page(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("404 · Not Found"), "{html}");
    assert!(html.contains("Request id"), "{html}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn unknown_api_path_gets_a_json_error(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get("/api/v1/nope").await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["fields"].is_array());
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_body_over_the_limit_gets_413(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let big = "x".repeat(2 * 1024 * 1024);
    let res = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn responses_carry_a_request_id(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get("/healthz").await;
    assert!(res.headers().contains_key("x-request-id"));
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn metrics_show_the_requests_just_made_in_prometheus_text(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // The counters are process-wide and other tests run alongside: count the delta.
    let before = login_200_count(&app.page("/metrics").await);
    for _ in 0..3 {
        assert_eq!(app.get("/login").await.status(), 200);
    }
    app.get("/definitely-missing").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    let after = login_200_count(&text).expect("a counter for GET /login");
    assert!(
        after - before.unwrap_or(0.0) >= 3.0,
        "GET /login 200 went from {before:?} to {after}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "histogram present"
    );
    assert!(
        text.contains("route=\"unmatched\""),
        "404s are counted under one label"
    );
    assert!(text.contains("db_pool_connections"));
    // Every sample line is `name{labels} value` or `name value`: Prometheus text format.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf" || value == "NaN",
            "bad line {line}"
        );
    }
}

/// The value of `http_requests_total` for GET /login answered 200, if counted yet.
fn login_200_count(metrics: &str) -> Option<f64> {
    let line = metrics.lines().find(|l| {
        l.starts_with("http_requests_total{")
            && l.contains("route=\"/login\"")
            && l.contains("status=\"200\"")
    })?;
    Some(line.rsplit(' ').next()?.parse().unwrap())
}
