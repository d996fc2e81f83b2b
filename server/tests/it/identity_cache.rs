//! The signed-in sessions and service rows a replica keeps in memory
//! (`store::identity`): a revocation or a new revision written anywhere ends
//! what it kept at once, and while it cannot hear them it keeps nothing.
//!
//! The writes below are SQL straight to PostgreSQL, as another replica, the
//! CLI or an operator would make them, and the server is never told
//! (`wrote_behind_its_back` is not called): only the database's notices can
//! make it forget. Each server keeps what it loaded for an hour, so a change
//! that showed was not a reuse time running out.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::harness::*;

const AN_HOUR: u64 = 3600;

/// A server that keeps sessions for an hour; `adjust` may change its state.
async fn keeping_for_an_hour(
    pool: &PgPool,
    adjust: impl FnOnce(&mut slipway::app::AppState),
) -> TestApp {
    let app = TestApp::spawn_adjusted(
        pool.clone(),
        |config| config.identity_cache_secs = AN_HOUR,
        adjust,
    )
    .await;
    app.until_revocations_are_heard().await;
    app
}

/// Asserts that a second view of `path` was answered from memory: the first
/// may read the session, the second must not.
async fn assert_kept(app: &TestApp, path: &str) {
    assert_eq!(app.get(path).await.status(), 200, "GET {path}");
    let reads = app.identity().reads();
    assert_eq!(app.get(path).await.status(), 200, "GET {path}");
    assert_eq!(
        app.identity().reads(),
        reads,
        "the second view of {path} read the session again: nothing is kept, so this test would prove nothing"
    );
}

/// Polls `path` (at most 5 s) until `ended` says so; returns how long it took.
async fn until<F>(app: &TestApp, path: &str, what: &str, ended: F) -> Duration
where
    F: Fn(reqwest::StatusCode, &str) -> bool,
{
    let started = Instant::now();
    loop {
        let res = app.get(path).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        if ended(status, &body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: still {status} after 5 s with sessions kept for an hour: {body}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn to_login(status: reqwest::StatusCode) -> bool {
    status == 303
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_revocation_written_anywhere_ends_a_kept_session_at_once(pool: PgPool) {
    let dev = create_user(&pool, "dev@shop.io", false, &["shop", "pay"]).await;
    let boss = create_user(&pool, "boss@shop.io", true, &[]).await;
    let other = create_user(&pool, "other@shop.io", false, &["shop"]).await;
    let app = keeping_for_an_hour(&pool, |_| {}).await;
    app.login_as("dev@shop.io", PASSWORD).await;
    let admin = app.another_browser();
    admin.login_as("boss@shop.io", PASSWORD).await;
    let bystander = app.another_browser();
    bystander.login_as("other@shop.io", PASSWORD).await;
    assert_kept(&app, "/account").await;
    assert_kept(&admin, "/admin/users").await;
    assert_kept(&bystander, "/account").await;

    // A membership taken away.
    sqlx::query(
        "delete from team_members where user_id = $1
         and team_id = (select id from teams where name = 'pay')",
    )
    .bind(dev.id)
    .execute(&pool)
    .await
    .unwrap();
    let took = until(&app, "/account", "membership removed", |status, body| {
        status == 200 && body.contains(">shop<") && !body.contains(">pay<")
    })
    .await;
    eprintln!("membership removal showed after {took:?}");
    // Only that person's sessions were forgotten.
    let reads = app.identity().reads();
    assert_eq!(bystander.get("/account").await.status(), 200);
    assert_eq!(
        app.identity().reads(),
        reads,
        "someone else's session was forgotten with it"
    );

    // A demotion.
    sqlx::query("update users set is_admin = false where id = $1")
        .bind(boss.id)
        .execute(&pool)
        .await
        .unwrap();
    let took = until(&admin, "/admin/users", "demotion", |status, _| {
        status == 403
    })
    .await;
    eprintln!("demotion showed after {took:?}");

    // Disabled.
    sqlx::query("update users set disabled_at = now() where id = $1")
        .bind(dev.id)
        .execute(&pool)
        .await
        .unwrap();
    let took = until(&app, "/account", "disabled", |status, _| to_login(status)).await;
    eprintln!("disabling showed after {took:?}");

    // Signed out everywhere (the session rows deleted, as a logout on
    // another replica or the purge does).
    assert_kept(&bystander, "/account").await;
    sqlx::query("delete from sessions where user_id = $1")
        .bind(other.id)
        .execute(&pool)
        .await
        .unwrap();
    let took = until(&bystander, "/account", "session deleted", |status, _| {
        to_login(status)
    })
    .await;
    eprintln!("a deleted session showed after {took:?}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn while_revocations_cannot_be_heard_every_request_reads_the_database(pool: PgPool) {
    let dev = create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "ops@shop.io", false, &["shop"]).await;
    create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").team("shop").to_yaml(),
    )
    .await;
    // The server hears revocations through a relay that the test cuts.
    let (relay, through_relay) = Relay::in_front_of(&pool).await;
    let app =
        keeping_for_an_hour(&pool, |state| state.revocations_from = through_relay.into()).await;
    app.login_as("dev@shop.io", PASSWORD).await;
    assert_kept(&app, "/account").await;

    relay.cut().await;
    assert!(
        eventually(15, || async { !app.identity().is_live() }).await,
        "the server still trusts what it keeps with its listener cut off"
    );
    // Every view reads the session from the database now, and the overview
    // the service row its URL names.
    let reads = app.identity().reads();
    assert_eq!(app.get("/account").await.status(), 200);
    assert_eq!(app.get("/account").await.status(), 200);
    assert_eq!(
        app.identity().reads(),
        reads + 2,
        "a view was served from memory"
    );
    let service_reads = app.identity().service_reads();
    assert_eq!(app.get("/services/shop/api").await.status(), 200);
    assert_eq!(app.get("/services/shop/api").await.status(), 200);
    assert_eq!(
        app.identity().service_reads(),
        service_reads + 2,
        "a service row was served from memory"
    );
    // So a revocation the server cannot hear of counts at the very next request.
    sqlx::query("update users set disabled_at = now() where id = $1")
        .bind(dev.id)
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        to_login(app.get("/account").await.status()),
        "a disabled user was served while no revocation could be heard"
    );

    // Back: it hears again and keeps what it loads again.
    relay.restore().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !app.identity().is_live() {
        assert!(Instant::now() < deadline, "the listener did not come back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ops = app.another_browser();
    ops.login_as("ops@shop.io", PASSWORD).await;
    assert_kept(&ops, "/account").await;
    assert!(
        to_login(app.get("/account").await.status()),
        "the disabled user is still refused"
    );
}

/// The overview and its status fragment, which crowds poll, read the service
/// row their URL names from memory. A revision saved by another replica (the
/// domain layer on the same database; this server is never told) shows on
/// both at once.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_revision_saved_anywhere_shows_on_a_kept_overview_at_once(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let spec = |replicas| {
        SpecBuilder::web("api")
            .team("shop")
            .replicas(replicas)
            .to_yaml()
    };
    let service = create_service(&pool, "dev@shop.io", "shop", &spec(2)).await;
    let app = keeping_for_an_hour(&pool, |_| {}).await;
    app.login_as("dev@shop.io", PASSWORD).await;
    let (overview, fragment) = ("/services/shop/api", "/services/shop/api/status");
    for path in [overview, fragment] {
        assert_eq!(app.get(path).await.status(), 200, "GET {path}");
        let reads = app.identity().service_reads();
        assert_eq!(app.get(path).await.status(), 200, "GET {path}");
        assert_eq!(
            app.identity().service_reads(),
            reads,
            "the second view of {path} read the service row again: nothing is kept"
        );
    }
    assert!(app.page(overview).await.contains("revision 1 ·"));

    let since = app.identity().notices();
    save_revision(&pool, "dev@shop.io", &service, &spec(3)).await;
    let took = until(&app, overview, "a new revision", |status, body| {
        status == 200 && body.contains("revision 2 ·") && body.contains(">Revision 2</a>")
    })
    .await;
    eprintln!("a revision saved elsewhere showed after {took:?}");
    app.until_notice_after(since).await;
    // Read once more, and kept again.
    let reads = app.identity().service_reads();
    assert!(app.page(overview).await.contains("revision 2 ·"));
    assert_eq!(app.identity().service_reads(), reads);
}
