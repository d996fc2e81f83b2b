//! Logs of the real binary: JSON lines, and never a password or a cookie.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::PgPool;

use crate::harness::{
    PASSWORD, create_user, database_url, eventually, extract_csrf, listening_port,
};

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_login_request_log_holds_neither_password_nor_cookie(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLIPWAY_DATABASE_URL", database_url(&pool).await)
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        .env(
            "SLIPWAY_LOG",
            "trace,hyper=info,h2=info,reqwest=info,rustls=info",
        )
        .env("SLIPWAY_LOG_FORMAT", "json")
        .env("SLIPWAY_KUBECONFIG", "/nonexistent/kubeconfig")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pid = child.id();
    let mut port = None;
    let listening = eventually(20, || {
        port = port.or_else(|| listening_port(pid));
        let found = port.is_some();
        async move { found }
    })
    .await;
    assert!(listening, "slipway serve did not listen within 20 s");
    let base = format!("http://127.0.0.1:{}", port.unwrap());
    let healthz = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    let anonymous_cookie = page.cookies().next().map(|c| c.value().to_owned()).unwrap();
    let token = extract_csrf(&page.text().await.unwrap()).unwrap();
    let res = client
        .post(format!("{base}/login"))
        .header("authorization", "Bearer slw_should_never_be_logged")
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session_cookie = res.cookies().next().map(|c| c.value().to_owned()).unwrap();
    // One more request carrying the cookie, answered before the shutdown begins.
    let home = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    home.text().await.unwrap();
    // SIGTERM: graceful shutdown drains and flushes, then read everything it logged.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let logs = format!("{out}{err}");
    let login_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"route\":\"/login\"") && l.contains("request finished"))
        .collect();
    assert!(
        login_lines.len() >= 2,
        "the login requests were logged: {logs}"
    );
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("not a JSON line: {line}"));
    }
    assert!(!logs.contains(PASSWORD), "password leaked");
    assert!(!logs.contains(&session_cookie), "session cookie leaked");
    assert!(!logs.contains(&anonymous_cookie), "anonymous cookie leaked");
    assert!(!logs.contains(&token), "csrf token leaked");
    assert!(
        !logs.contains("slw_should_never_be_logged"),
        "authorization header leaked"
    );
}

#[test]
fn migrate_against_an_unreachable_database_fails_fast_naming_host_and_database() {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["migrate"])
        .env(
            "SLIPWAY_DATABASE_URL",
            "postgres://bob:s3cretpw@127.0.0.1:1/shopdb",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("127.0.0.1:1/shopdb"), "{stderr}");
    assert!(!stderr.contains("s3cretpw"), "{stderr}");
}
