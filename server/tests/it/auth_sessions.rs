//! Sign-in, sessions and CSRF.

use sqlx::PgPool;

use crate::harness::{PASSWORD, TestApp, create_user};

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn signing_in_changes_the_session_id(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::spawn(pool).await;
    let before = app.get("/login").await;
    assert_eq!(
        app.session_cookie(&before),
        None,
        "the login form needs no session (its token is a cookie of its own)"
    );
    let csrf_cookie = before
        .cookies()
        .find(|c| c.name() == "slipway_csrf")
        .map(|c| c.value().to_owned())
        .expect("the login form's CSRF cookie");
    let token = crate::harness::extract_csrf(&before.text().await.unwrap()).unwrap();
    assert_eq!(
        token, csrf_cookie,
        "double submit: the form carries the cookie's token"
    );
    // An id an attacker chose (planted from a sibling subdomain, say) is not adopted.
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    let res = app
        .client
        .post(app.url("/login"))
        .header(
            "cookie",
            format!("slipway_session={planted}; slipway_csrf={csrf_cookie}"),
        )
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let signed_in_id = app
        .session_cookie(&res)
        .expect("a new session cookie at login");
    assert_ne!(
        planted, signed_in_id,
        "session fixation: the id must change at login"
    );
    assert_eq!(app.get("/").await.status(), 200);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn logout_deletes_the_session_server_side(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    let html = app.page("/").await;
    let cookie_before: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(cookie_before >= 1);
    let token = crate::harness::extract_csrf(&html).unwrap();
    let res = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let remaining: i64 = sqlx::query_scalar(
        "select count(*) from sessions where data is not null and id in (select id from sessions)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(remaining, 0, "the signed-in session row is gone");
    assert_eq!(app.get("/").await.status(), 303, "back to the login page");
}

/// The signed-in session row: (data, expiry), to see whether a request wrote it.
async fn session_row(pool: &PgPool) -> (Vec<u8>, time::OffsetDateTime) {
    sqlx::query_as(
        "select data, expiry_date from sessions
         where created_at = (select max(created_at) from sessions)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn page_views_do_not_write_the_session_until_a_minute_has_passed(pool: PgPool) {
    use std::str::FromStr;
    use tower_sessions::SessionStore;
    use tower_sessions::session::Id;

    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    assert_eq!(app.get("/").await.status(), 200);
    let after_first = session_row(&pool).await;
    for path in ["/", "/account", "/"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    assert_eq!(
        session_row(&pool).await,
        after_first,
        "reading pages must not rewrite the session"
    );

    // Age the last-seen time by two minutes, as if the user had paused: the
    // next request moves the expiry (the idle timeout restarts) and records it.
    let id: String = sqlx::query_scalar(
        "select id from sessions where created_at = (select max(created_at) from sessions)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let store =
        slipway::store::sessions::PgSessionStore::new(pool.clone(), std::sync::Arc::default());
    let mut record = store
        .load(&Id::from_str(&id).unwrap())
        .await
        .unwrap()
        .expect("the signed-in session");
    let seen = record.data[slipway::auth::activity::LAST_SEEN_KEY]
        .as_i64()
        .expect("login records the last-seen time");
    record.data.insert(
        slipway::auth::activity::LAST_SEEN_KEY.to_owned(),
        serde_json::json!(seen - 120),
    );
    record.expiry_date -= time::Duration::minutes(2);
    store.save(&record).await.unwrap();
    let aged = session_row(&pool).await;

    assert_eq!(app.get("/").await.status(), 200);
    let refreshed = session_row(&pool).await;
    assert!(
        refreshed.1 > aged.1,
        "the expiry moves forward: {:?} -> {:?}",
        aged.1,
        refreshed.1
    );
    let record = store
        .load(&Id::from_str(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        record.data[slipway::auth::activity::LAST_SEEN_KEY]
            .as_i64()
            .unwrap()
            >= seen
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn replaying_an_old_session_cookie_after_logout_is_anonymous(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::spawn(pool).await;
    let token = app.csrf_token().await;
    let res = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    let stolen = app.session_cookie(&res).unwrap();
    let html = app.page("/").await;
    let token = crate::harness::extract_csrf(&html).unwrap();
    app.client
        .post(app.url("/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = replay
        .get(app.url("/"))
        .header("cookie", format!("slipway_session={stolen}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn wrong_password_and_unknown_account_get_the_same_message(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn(pool).await;
    let wrong = app
        .post_form(
            "/login",
            &[("email", "ann@example.com"), ("password", "nope-nope-nope")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let wrong = wrong.text().await.unwrap();
    let unknown = app
        .post_form(
            "/login",
            &[("email", "zed@example.com"), ("password", "nope-nope-nope")],
        )
        .await;
    assert_eq!(unknown.status(), 422);
    let unknown = unknown.text().await.unwrap();
    assert!(wrong.contains("Wrong email or password."));
    assert!(unknown.contains("Wrong email or password."));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn five_failures_slow_the_account_from_that_address_even_with_the_right_password(
    pool: PgPool,
) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn(pool).await;
    for _ in 0..5 {
        let res = app
            .post_form(
                "/login",
                &[("email", "ann@example.com"), ("password", "bad-guess-123")],
            )
            .await;
        assert_eq!(res.status(), 422);
    }
    let res = app
        .post_form(
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Too many failed sign-ins")
    );
    // An unknown account is throttled the same way: the message reveals nothing.
    for _ in 0..5 {
        app.post_form(
            "/login",
            &[
                ("email", "ghost@example.com"),
                ("password", "bad-guess-123"),
            ],
        )
        .await;
    }
    let res = app
        .post_form(
            "/login",
            &[
                ("email", "ghost@example.com"),
                ("password", "bad-guess-123"),
            ],
        )
        .await;
    assert_eq!(res.status(), 429);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_post_without_the_csrf_token_is_refused(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn(pool).await;
    app.get("/login").await; // a session exists, but the token is not sent
    let res = app
        .client
        .post(app.url("/login"))
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_csrf_header_is_accepted_like_the_form_field(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn(pool).await;
    let token = app.csrf_token().await;
    let res = app
        .client
        .post(app.url("/login"))
        .header("x-csrf-token", token)
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn login_never_redirects_off_site(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn(pool).await;
    let res = app
        .post_form(
            "/login",
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_audit_log_refuses_updates_and_deletes(pool: PgPool) {
    slipway::store::audit::record(
        &pool,
        &slipway::store::audit::Actor::system(),
        "test.act",
        "x",
        serde_json::json!({}),
    )
    .await
    .unwrap();
    let upd = sqlx::query("update audit_log set actor = 'mallory'")
        .execute(&pool)
        .await;
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del = sqlx::query("delete from audit_log").execute(&pool).await;
    assert!(del.unwrap_err().to_string().contains("append-only"));
}

/// A page view reads the session and its person in one statement: the person
/// is the database's (a removed membership and a disabling count on the next
/// request once the database's notice is in, see `identity_cache`), it is never written
/// into the stored session, and a session saved before sessions recorded their
/// user (no `user_id` column value) is still signed in, read the old way.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_sessions_person_is_read_with_it_and_never_stored_in_it(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop", "pay"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    assert!(
        app.page("/account").await.contains(">pay<"),
        "a member of pay"
    );
    let (data, _) = session_row(&pool).await;
    let stored = String::from_utf8_lossy(&data);
    assert!(
        !stored.contains("slipway.person") && !stored.contains("ann@example.com"),
        "the person is not part of the stored session: {stored}"
    );
    let recorded: Option<i64> = sqlx::query_scalar(
        "select user_id from sessions where created_at = (select max(created_at) from sessions)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let ann: i64 = sqlx::query_scalar("select id from users where email = 'ann@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, Some(ann), "the session records whose it is");

    let heard = app.identity().notices();
    sqlx::query(
        "delete from team_members where user_id = $1
         and team_id = (select id from teams where name = 'pay')",
    )
    .bind(ann)
    .execute(&pool)
    .await
    .unwrap();
    // Another replica's write: what this server kept goes with the notice.
    app.until_notice_after(heard).await;
    let account = app.page("/account").await;
    assert!(
        account.contains("shop") && !account.contains(">pay<"),
        "the membership is gone at the next request: {account}"
    );

    // A session from before the column: signed in all the same.
    let heard = app.identity().notices();
    sqlx::query("update sessions set user_id = null")
        .execute(&pool)
        .await
        .unwrap();
    app.until_notice_after(heard).await;
    assert_eq!(app.get("/account").await.status(), 200);
    assert!(app.page("/account").await.contains("ann@example.com"));

    let heard = app.identity().notices();
    sqlx::query("update users set disabled_at = now() where id = $1")
        .bind(ann)
        .execute(&pool)
        .await
        .unwrap();
    app.until_notice_after(heard).await;
    let res = app.get("/account").await;
    assert_eq!(res.status(), 303, "a disabled user's session is refused");
    sqlx::query("update sessions set user_id = $1")
        .bind(ann)
        .execute(&pool)
        .await
        .unwrap();
    let res = app.get("/account").await;
    assert_eq!(res.status(), 303, "also when read with the session");
}
