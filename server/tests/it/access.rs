//! The access lifecycle: disabling and demoting users, changing a password,
//! token expiry and scopes, administrators revoking anyone's token. Each
//! test tries what must now fail, and checks the audit entry of the change.

use serde_json::{Value, json};
use slipway::domain::accounts::{self, AccessChange};
use slipway::store::audit::Actor;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use crate::harness::{
    PASSWORD, SpecBuilder, TestApp, api_token, create_service, create_user, request, with_token,
};

async fn get_api(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let res = with_token(app.client.get(app.url(path)), token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn post_api(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = with_token(app.client.post(app.url(path)), token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn audited(pool: &PgPool, action: &str, target: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "select actor, detail from audit_log where action = $1 and target = $2 order by id",
    )
    .bind(action)
    .bind(target)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_disabled_users_token_is_refused_with_401_at_its_next_call(pool: PgPool) {
    let ann = create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let root = create_user(&pool, "root@example.com", true, &[]).await;
    let ann_token = api_token(&pool, ann.id, "ci").await;
    let root_token = api_token(&pool, root.id, "admin").await;
    let app = TestApp::spawn(pool.clone()).await;
    assert_eq!(get_api(&app, &ann_token, "/api/v1/services").await.0, 200);

    let path = format!("/api/v1/users/{}/access", ann.id);
    let (status, body) = post_api(&app, &root_token, &path, json!({"change": "disable"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["disabled"], true, "{body}");

    let (status, body) = get_api(&app, &ann_token, "/api/v1/services").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(
        body["error"]["message"],
        "this token's owner is disabled; an administrator can re-enable the account."
    );
    let entries = audited(&pool, "user.disable", "ann@example.com").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "root@example.com");

    // Re-enabled, the token works again (it was never revoked).
    let (status, _) = post_api(&app, &root_token, &path, json!({"change": "enable"})).await;
    assert_eq!(status, 200);
    assert_eq!(get_api(&app, &ann_token, "/api/v1/services").await.0, 200);
    assert_eq!(
        audited(&pool, "user.enable", "ann@example.com").await.len(),
        1
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_disabled_users_session_ends_and_stays_ended_after_re_enabling(pool: PgPool) {
    let ann = create_user(&pool, "ann@example.com", false, &["shop"]).await;
    create_user(&pool, "root@example.com", true, &[]).await;
    let ann_app = TestApp::signed_in(&pool, "ann@example.com").await;
    assert_eq!(ann_app.get("/account").await.status(), 200);
    let root_app = TestApp::signed_in(&pool, "root@example.com").await;
    let path = format!("/admin/users/{}/access", ann.id);
    let res = root_app.post_form(&path, &[("change", "disable")]).await;
    assert_eq!(res.status(), 303);

    let res = ann_app.get("/account").await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/login?next="), "{location}");
    // Signing in is refused while disabled.
    let res = ann_app
        .post_form(
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 422);

    let res = root_app.post_form(&path, &[("change", "enable")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        ann_app.get("/account").await.status(),
        303,
        "re-enabling does not revive the old session"
    );
    ann_app.login_as("ann@example.com", PASSWORD).await;
    assert_eq!(ann_app.get("/account").await.status(), 200);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_demoted_admin_is_refused_on_an_admin_page_with_403_at_once(pool: PgPool) {
    create_user(&pool, "root@example.com", true, &[]).await;
    let vera = create_user(&pool, "vera@example.com", true, &[]).await;
    let vera_app = TestApp::signed_in(&pool, "vera@example.com").await;
    assert_eq!(vera_app.get("/admin/users").await.status(), 200);
    let root_app = TestApp::signed_in(&pool, "root@example.com").await;
    let path = format!("/admin/users/{}/access", vera.id);
    let res = root_app.post_form(&path, &[("change", "demote")]).await;
    assert_eq!(res.status(), 303);

    let res = vera_app.get("/admin/users").await;
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert!(body.contains("only administrators may do this"), "{body}");
    assert_eq!(
        vera_app.get("/account").await.status(),
        200,
        "still signed in"
    );
    let entries = audited(&pool, "user.demote", "vera@example.com").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1["admin"], false);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_last_enabled_admin_cannot_demote_or_disable_themselves(pool: PgPool) {
    let root = create_user(&pool, "root@example.com", true, &[]).await;
    // A disabled administrator does not count.
    let old = create_user(&pool, "old@example.com", true, &[]).await;
    accounts::change_access(&pool, &Actor::system(), old.id, AccessChange::Disable)
        .await
        .unwrap();
    let app = TestApp::signed_in(&pool, "root@example.com").await;
    let path = format!("/admin/users/{}/access", root.id);
    for change in ["demote", "disable"] {
        let res = app.post_form(&path, &[("change", change)]).await;
        assert_eq!(res.status(), 409, "{change}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("this would leave no enabled administrator"),
            "{change}: {body}"
        );
    }
    let token = api_token(&pool, root.id, "admin").await;
    let (status, body) = post_api(
        &app,
        &token,
        &format!("/api/v1/users/{}/access", root.id),
        json!({"change": "demote"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(
        app.get("/admin/users").await.status(),
        200,
        "still an admin"
    );

    // With a second enabled admin, stepping down is fine.
    let res = app
        .post_form(
            &format!("/admin/users/{}/access", old.id),
            &[("change", "enable")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app.post_form(&path, &[("change", "demote")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/admin/users").await.status(), 403);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn changing_the_password_ends_every_other_session(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let here = TestApp::signed_in(&pool, "ann@example.com").await;
    let elsewhere = TestApp::signed_in(&pool, "ann@example.com").await;
    let new_password = "tidal-orbit-47-lantern";

    let res = here
        .post_form(
            "/account/password",
            &[
                ("current_password", "not-my-password-at-all"),
                ("password", new_password),
                ("password_again", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("is not your current password")
    );
    assert_eq!(
        elsewhere.get("/account").await.status(),
        200,
        "nothing changed"
    );

    let res = here
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", new_password),
                ("password_again", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        here.get("/account").await.status(),
        200,
        "this session stays"
    );
    let res = elsewhere.get("/account").await;
    assert_eq!(res.status(), 303, "the other session ended");

    let fresh = TestApp::spawn(pool.clone()).await;
    let res = fresh
        .post_form(
            "/login",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 422, "the old password no longer works");
    fresh.login_as("ann@example.com", new_password).await;
    let entries = audited(&pool, "user.password.change", "ann@example.com").await;
    assert_eq!(entries.len(), 1);
    assert!(!entries[0].1.to_string().contains(new_password));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_expired_token_is_refused_with_401_saying_so(pool: PgPool) {
    let ann = create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let token = slipway::auth::tokens::generate();
    slipway::store::tokens::insert_with(
        &pool,
        ann.id,
        "old",
        &slipway::auth::tokens::hash(&token),
        OffsetDateTime::now_utc() - Duration::minutes(1),
        &["read", "deploy"],
    )
    .await
    .unwrap();
    let app = TestApp::spawn(pool.clone()).await;
    let (status, body) = get_api(&app, &token, "/api/v1/services").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(
        body["error"]["message"],
        "this token has expired; create a new one on your account page."
    );
    let used: Option<OffsetDateTime> =
        sqlx::query_scalar("select last_used_at from api_tokens where name = 'old'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(used.is_none(), "a refused token is not marked used");
}

async fn scoped_token(pool: &PgPool, user_id: i64, name: &str, scopes: &[&str]) -> String {
    let token = slipway::auth::tokens::generate();
    slipway::store::tokens::insert_with(
        pool,
        user_id,
        name,
        &slipway::auth::tokens::hash(&token),
        OffsetDateTime::now_utc() + Duration::days(1),
        scopes,
    )
    .await
    .unwrap();
    token
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_read_scoped_token_is_refused_on_deploy_and_approve_with_403_naming_the_scope(
    pool: PgPool,
) {
    let ann = create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let root = create_user(&pool, "root@example.com", true, &[]).await;
    create_user(&pool, "author@example.com", true, &[]).await;
    let yaml = SpecBuilder::minimal("web")
        .team("shop")
        .production_ready()
        .to_yaml();
    let web = create_service(&pool, "author@example.com", "shop", &yaml).await;
    let waiting = request(
        &pool,
        "ann@example.com",
        &web,
        "production",
        "registry.example.com/shop/web:1.0.1",
    )
    .await;
    let app = TestApp::spawn(pool.clone()).await;
    let ann_read = scoped_token(&pool, ann.id, "read-only", &["read"]).await;
    let root_read = scoped_token(&pool, root.id, "read-only", &["read"]).await;
    let deploys_before: i64 = sqlx::query_scalar("select count(*) from deploys")
        .fetch_one(&pool)
        .await
        .unwrap();

    // Reading works.
    let (status, _) = get_api(&app, &ann_read, "/api/v1/services").await;
    assert_eq!(status, 200);
    let deploy = json!({"environment": "staging", "image": "registry.example.com/shop/web:1.0.2"});
    let (status, body) = post_api(
        &app,
        &ann_read,
        "/api/v1/teams/shop/services/web/deploys",
        deploy.clone(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("lacks the `deploy` scope"), "{message}");

    let approve = format!("/api/v1/deploys/{}/approve", waiting.id);
    let (status, body) = post_api(&app, &root_read, &approve, json!({"comment": "ok"})).await;
    assert_eq!(status, 403, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("lacks the `approve` scope"), "{message}");
    for path in [
        format!("/api/v1/deploys/{}/reject", waiting.id),
        format!("/api/v1/deploys/{}/rollback", waiting.id),
        format!("/api/v1/deploys/{}/release", waiting.id),
    ] {
        let (status, body) = post_api(&app, &root_read, &path, json!({"reason": "x"})).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, body) = post_api(
        &app,
        &root_read,
        &format!("/api/v1/users/{}/access", ann.id),
        json!({"change": "disable"}),
    )
    .await;
    assert_eq!(status, 403, "any write: {body}");
    let deploys_after: i64 = sqlx::query_scalar("select count(*) from deploys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(deploys_before, deploys_after, "nothing was requested");
    let state: String = sqlx::query_scalar("select state from deploys where id = $1")
        .bind(waiting.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "awaiting_approval", "nothing was decided");

    // A deploy-scoped token deploys; it still may not approve.
    let ann_deploy = scoped_token(&pool, ann.id, "deploy", &["read", "deploy"]).await;
    let (status, body) = post_api(
        &app,
        &ann_deploy,
        "/api/v1/teams/shop/services/web/deploys",
        deploy,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let root_deploy = scoped_token(&pool, root.id, "deploy", &["read", "deploy"]).await;
    let (status, _) = post_api(&app, &root_deploy, &approve, json!({})).await;
    assert_eq!(status, 403);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_admin_revokes_another_users_token_and_a_member_may_not(pool: PgPool) {
    let ann = create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let olga = create_user(&pool, "olga@example.com", false, &["billing"]).await;
    let root = create_user(&pool, "root@example.com", true, &[]).await;
    let ann_token = api_token(&pool, ann.id, "ci").await;
    let olga_token = api_token(&pool, olga.id, "ci").await;
    let root_token = api_token(&pool, root.id, "admin").await;
    let app = TestApp::spawn(pool.clone()).await;
    let id_of = |owner: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select id from api_tokens where user_id = $1")
                .bind(owner)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let ann_token_id = id_of(ann.id).await;

    let (status, all) = get_api(&app, &root_token, "/api/v1/admin/tokens").await;
    assert_eq!(status, 200);
    let owners: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["owner"].as_str().unwrap())
        .collect();
    assert!(owners.contains(&"ann@example.com"), "{all}");
    assert!(!all.to_string().contains(&ann_token), "never a value");
    let (status, _) = get_api(&app, &olga_token, "/api/v1/admin/tokens").await;
    assert_eq!(status, 403);

    let revoke = format!("/api/v1/tokens/{ann_token_id}/revoke");
    let (status, body) = post_api(&app, &olga_token, &revoke, json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(get_api(&app, &ann_token, "/api/v1/services").await.0, 200);

    let (status, body) = post_api(&app, &root_token, &revoke, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["owner"], "ann@example.com");
    assert!(body["revoked_at"].is_string(), "{body}");
    assert_eq!(get_api(&app, &ann_token, "/api/v1/services").await.0, 401);
    let entries = audited(&pool, "token.revoke", "ann@example.com").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "root@example.com");

    // The portal page lists and revokes too.
    let olga_token_id = id_of(olga.id).await;
    let root_app = TestApp::signed_in(&pool, "root@example.com").await;
    let page = root_app.page("/admin/tokens").await;
    assert!(page.contains("olga@example.com"), "{page}");
    let res = root_app
        .post_form(&format!("/admin/tokens/{olga_token_id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(get_api(&app, &olga_token, "/api/v1/services").await.0, 401);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn creating_a_token_in_the_portal_asks_for_the_password_again(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    let res = app
        .post_form(
            "/account/tokens",
            &[
                ("name", "ci"),
                ("current_password", "someone-elses-password"),
                ("expires_in_days", "30"),
                ("scopes", "read"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("is not your current password")
    );
    let count: i64 = sqlx::query_scalar("select count(*) from api_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0);

    let res = app
        .post_form(
            "/account/tokens",
            &[
                ("name", "ci"),
                ("current_password", PASSWORD),
                ("expires_in_days", "30"),
                ("scopes", "read"),
                ("scopes", "approve"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (scopes, days): (Vec<String>, f64) = sqlx::query_as(
        "select scopes, (extract(epoch from expires_at - created_at) / 86400)::float8 from api_tokens",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(scopes, ["read", "approve"]);
    assert!((days - 30.0).abs() < 0.01, "{days}");
    let entries = audited(&pool, "token.create", "ann@example.com").await;
    assert_eq!(entries[0].1["via"], "portal");
    assert_eq!(entries[0].1["scopes"], json!(["read", "approve"]));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn re_authentication_shares_the_logins_throttle(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    let guess = |n: usize| format!("wrong-guess-number-{n}");
    let limit = usize::try_from(slipway::auth::throttle::PAIR.free).unwrap();
    for n in 0..limit {
        let attempt = guess(n);
        let res = app
            .post_form(
                "/account/tokens",
                &[("name", "ci"), ("current_password", &attempt)],
            )
            .await;
        assert_eq!(res.status(), 422, "guess {n}");
    }
    let res = app
        .post_form(
            "/account/tokens",
            &[("name", "ci"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 429, "even the right password waits now");
    let count: i64 = sqlx::query_scalar("select count(*) from api_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}
