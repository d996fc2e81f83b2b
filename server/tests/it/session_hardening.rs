//! Sessions and CSRF tokens under attack: tokens planted before sign-in,
//! resurrected sessions, a table grown by anonymous visits, requests from
//! sibling sites, and the purge of what expired.

use std::str::FromStr as _;

use sqlx::PgPool;
use tower_sessions::SessionStore as _;
use tower_sessions::session::{Id, Record};

use crate::harness::{PASSWORD, TestApp, create_user, eventually, extract_csrf};

async fn sessions(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn set_cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    res.cookies()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn cookieless_visits_to_the_login_page_store_no_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    // A client without a cookie jar: every visit is a new visitor.
    let visitor = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..25 {
        let res = visitor.get(app.url("/login")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(set_cookie_value(&res, "slipway_csrf").is_some());
        assert!(extract_csrf(&res.text().await.unwrap()).is_some());
        let home = visitor.get(app.url("/")).send().await.unwrap();
        assert_eq!(home.status(), 303);
    }
    assert_eq!(
        sessions(&pool).await,
        0,
        "anonymous visits wrote session rows"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_csrf_token_changes_at_login_and_at_logout(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::spawn(pool.clone()).await;
    // What an attacker could know: the token of the form before sign-in.
    let before = app.csrf_token().await;
    app.login_as("ann@example.com", PASSWORD).await;
    let signed_in = app.csrf_token().await;
    assert_ne!(before, signed_in, "a new token at login");
    let res = app
        .client
        .post(app.url("/logout"))
        .header("x-csrf-token", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        403,
        "the pre-login token is void once signed in"
    );
    assert_eq!(app.get("/").await.status(), 200, "still signed in");

    let res = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", signed_in.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let after = set_cookie_value(&res, "slipway_csrf").expect("logout replaces the form token");
    assert_ne!(after, before);
    assert_ne!(after, signed_in);
    assert_eq!(app.csrf_token().await, after);
    // Neither old token works on the login form now.
    for old in [&before, &signed_in] {
        let res = app
            .client
            .post(app.url("/login"))
            .form(&[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf_token", old.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_post_from_a_sibling_site_is_refused_even_with_the_token(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn(pool).await;
    let token = app.csrf_token().await;
    for site in ["same-site", "cross-site"] {
        let res = app
            .client
            .post(app.url("/login"))
            .header("sec-fetch-site", site)
            .form(&[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{site}");
    }
    let res = app
        .client
        .post(app.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

fn record() -> Record {
    Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_late_save_neither_resurrects_a_session_nor_restarts_its_clock(pool: PgPool) {
    let store =
        slipway::store::sessions::PgSessionStore::new(pool.clone(), std::sync::Arc::default());
    // A request still in flight at logout saves the session it loaded.
    let mut gone = record();
    store.create(&mut gone).await.unwrap();
    store.delete(&gone.id).await.unwrap();
    store.save(&gone).await.unwrap();
    assert_eq!(
        sessions(&pool).await,
        0,
        "save brought a deleted session back"
    );

    // A session past the absolute timeout stays past it, however often it is saved.
    let mut old = record();
    store.create(&mut old).await.unwrap();
    sqlx::query("update sessions set created_at = now() - interval '13 hours' where id = $1")
        .bind(old.id.to_string())
        .execute(&pool)
        .await
        .unwrap();
    store.save(&old).await.unwrap();
    assert!(store.load(&old.id).await.unwrap().is_none());
    let id = Id::from_str(&old.id.to_string()).unwrap();
    let created: time::OffsetDateTime =
        sqlx::query_scalar("select created_at from sessions where id = $1")
            .bind(id.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(created < time::OffsetDateTime::now_utc() - time::Duration::hours(12));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_purger_deletes_expired_sessions_and_old_login_attempts(pool: PgPool) {
    sqlx::query(
        "insert into sessions (id, data, expiry_date, created_at) values
           ('live', '', now() + interval '1 hour', now()),
           ('idle', '', now() - interval '1 minute', now() - interval '1 hour'),
           ('ancient', '', now() + interval '1 hour', now() - interval '13 hours')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into login_attempts (email, client_addr, succeeded, created_at) values
           ('a@example.com', '192.0.2.1', false, now() - interval '1 hour'),
           ('a@example.com', '192.0.2.1', false, now() - interval '25 hours'),
           ('a@example.com', '192.0.2.1', true, now() - interval '20 days'),
           ('a@example.com', '192.0.2.1', true, now() - interval '31 days')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let purger =
        slipway::auth::purge::spawn_purger(pool.clone(), std::time::Duration::from_millis(100));
    let done = eventually(10, || async {
        let attempts: i64 = sqlx::query_scalar("select count(*) from login_attempts")
            .fetch_one(&pool)
            .await
            .unwrap();
        sessions(&pool).await == 1 && attempts == 2
    })
    .await;
    purger.abort();
    assert!(done, "the purger did not run");
    let left: String = sqlx::query_scalar("select id from sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, "live");
    let kept: Vec<(bool, bool)> = sqlx::query_as(
        "select succeeded, created_at > now() - interval '2 hours' from login_attempts order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        kept,
        [(false, true), (true, false)],
        "the recent failure and the 20-day success"
    );
}
