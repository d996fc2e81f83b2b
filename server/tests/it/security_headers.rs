//! Security headers on every response of every GET route the source declares
//! (see `harness::routes::source_routes`), signed in and out, page and htmx
//! fragment; and pages that a policy without inline script or style can run.

use reqwest::header::{self, HeaderMap};
use slipway::cluster::Handle as ClusterHandle;
use sqlx::PgPool;

use crate::harness::routes::{concrete, source_routes};
use crate::harness::{PASSWORD, SpecBuilder, TestApp, create_service, create_user};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What is wrong with one response's headers, if anything.
fn header_problems(headers: &HeaderMap, signed_in: bool) -> Vec<String> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut problems = Vec::new();
    for (name, want) in [
        ("content-security-policy", CSP),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        if get(name) != want {
            problems.push(format!("{name}: {:?}", get(name)));
        }
    }
    if headers.contains_key("strict-transport-security") {
        problems.push("HSTS over plain http".into());
    }
    if get("content-type").starts_with("text/html") {
        let cache = get("cache-control");
        if signed_in && cache != "no-store" {
            problems.push(format!("signed-in page cache-control: {cache:?}"));
        }
        let vary: Vec<String> = headers
            .get_all(header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_lowercase)
            .collect();
        if !vary.iter().any(|v| v.contains("hx-request")) {
            problems.push(format!("vary without HX-Request: {vary:?}"));
        }
    }
    problems
}

/// Markup the policy would block: inline scripts, handlers, style attributes.
fn inline_code(html: &str) -> Vec<String> {
    let lower = html.to_lowercase();
    let mut found = Vec::new();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("<script") {
        let tag_end = rest[at..].find('>').map_or(rest.len(), |e| at + e);
        if !rest[at..tag_end].contains(" src=") {
            found.push("an inline <script>".to_owned());
        }
        rest = &rest[tag_end..];
    }
    if lower.contains("<style") {
        found.push("a <style> element".into());
    }
    if lower.contains(" style=") {
        found.push("a style= attribute".into());
    }
    for handler in [
        " onclick=",
        " onfocus=",
        " onload=",
        " onchange=",
        " onsubmit=",
        " oninput=",
        " hx-on",
        "javascript:",
    ] {
        if lower.contains(handler) {
            found.push(format!("{handler:?}"));
        }
    }
    found
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn every_get_route_carries_the_security_headers_signed_in_and_out(pool: PgPool) {
    create_user(&pool, "root@example.com", true, &["shop"]).await;
    let yaml = SpecBuilder::minimal("web").team("shop").to_yaml();
    create_service(&pool, "root@example.com", "shop", &yaml).await;
    let anonymous = TestApp::spawn(pool.clone()).await;
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    let routes: Vec<String> = source_routes()
        .into_iter()
        .filter(|(method, path)| method == "GET" && !path.starts_with("/api/"))
        .map(|(_, path)| path)
        .collect();
    assert!(routes.len() >= 20, "the scan found the pages: {routes:?}");
    let mut failures = Vec::new();
    let mut html_pages = 0;
    for route in &routes {
        let path = concrete(route);
        for (app, signed_in) in [(&anonymous, false), (&admin, true)] {
            for htmx in [false, true] {
                let mut req = app.client.get(app.url(&path));
                if htmx {
                    req = req.header("hx-request", "true");
                }
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let body = res.text().await.unwrap_or_default();
                let who = if signed_in { "admin" } else { "anonymous" };
                for problem in header_problems(&headers, signed_in) {
                    failures.push(format!(
                        "{who} GET {path} (htmx {htmx}) {status}: {problem}"
                    ));
                }
                let is_html = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|ct| ct.starts_with("text/html"));
                if is_html {
                    if signed_in && status == 200 {
                        html_pages += 1;
                    }
                    for code in inline_code(&body) {
                        failures.push(format!("{who} GET {path} (htmx {htmx}): {code}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        html_pages >= 20,
        "only {html_pages} signed-in HTML answers were 200: the sweep saw too few real pages"
    );
}

#[test]
fn the_inline_code_check_sees_what_the_policy_blocks() {
    assert!(inline_code("<script src=\"/static/app.js\" defer></script>").is_empty());
    assert_eq!(inline_code("<script>alert(1)</script>").len(), 1);
    assert_eq!(inline_code("<input onfocus=\"this.select()\">").len(), 1);
    assert_eq!(inline_code("<p style=\"color:red\">").len(), 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_https_portal_sends_hsts_and_host_prefixed_cookies(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn_with(pool, ClusterHandle::disabled(), |c| {
        c.public_url = "https://slipway.example.com".into();
    })
    .await;
    let res = app.get("/login").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookies: Vec<String> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("__Host-slipway_csrf="))
        .unwrap_or_else(|| panic!("a __Host- CSRF cookie: {cookies:?}"));
    // What the __Host- prefix requires of a cookie, or browsers drop it.
    assert!(csrf.contains("Secure"), "{csrf}");
    assert!(csrf.contains("Path=/"), "{csrf}");
    assert!(!csrf.to_lowercase().contains("domain="), "{csrf}");
    assert!(csrf.contains("HttpOnly"), "{csrf}");
    // Signing in over https sets the session cookie under its __Host- name.
    let token = crate::harness::extract_csrf(&res.text().await.unwrap()).unwrap();
    let csrf_value = csrf
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-slipway_csrf=")
        .to_owned();
    let signed_in = app
        .client
        .post(app.url("/login"))
        .header("cookie", format!("__Host-slipway_csrf={csrf_value}"))
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = signed_in
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-slipway_session="))
        .expect("a __Host- session cookie");
    assert!(
        session.contains("Secure") && session.contains("Path=/"),
        "{session}"
    );
    assert!(!session.to_lowercase().contains("domain="), "{session}");
    let health = app.get("/healthz").await;
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}
