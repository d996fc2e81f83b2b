//! The admin pages: teams, users and memberships through the portal's forms, the
//! audit rows they leave, the audit log's filters and paging, and who may not.

use sqlx::PgPool;

use crate::harness::{TestApp, create_user};

async fn signed_in_admin(pool: &PgPool) -> TestApp {
    create_user(pool, "root@example.com", true, &[]).await;
    TestApp::signed_in(pool, "root@example.com").await
}

async fn audit_count(pool: &PgPool, action: &str, target: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_log where action = $1 and target = $2")
        .bind(action)
        .bind(target)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_admin_creates_a_team_a_user_and_a_membership_through_the_forms(pool: PgPool) {
    let app = signed_in_admin(&pool).await;

    let res = app
        .post_form(
            "/admin/teams",
            &[("name", "payments"), ("display_name", "Payments")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/teams/payments");
    let page = app.get("/admin/teams/payments").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Created team payments.")
    );

    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", " Pat@Example.com "),
                ("password", "tidal-orbit-47-lantern"),
                ("teams", "payments"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let users = app.page("/admin/users").await;
    assert!(users.contains("Created user pat@example.com."), "{users}");
    assert!(users.contains("pat@example.com"));

    let teams: Vec<String> = sqlx::query_scalar(
        "select t.name from team_members m join teams t on t.id = m.team_id join users u on u.id = m.user_id
         where u.email = 'pat@example.com'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(teams, ["payments"]);

    // The new user can sign in with the password the admin set.
    let other = TestApp::spawn(pool.clone()).await;
    other
        .login_as("pat@example.com", "tidal-orbit-47-lantern")
        .await;

    create_user(&pool, "quinn@example.com", false, &[]).await;
    let res = app
        .post_form(
            "/admin/teams/payments/members",
            &[("email", "quinn@example.com")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page("/admin/teams/payments").await;
    assert!(page.contains("Added quinn@example.com to payments."));
    assert!(page.contains("quinn@example.com"));

    let quinn: i64 = sqlx::query_scalar("select id from users where email = 'quinn@example.com'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let res = app
        .post_form(
            &format!("/admin/teams/payments/members/{quinn}/remove"),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let members: i64 = sqlx::query_scalar("select count(*) from team_members where user_id = $1")
        .bind(quinn)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(members, 0);
    // Removing again: not a member any more.
    let res = app
        .post_form(
            &format!("/admin/teams/payments/members/{quinn}/remove"),
            &[],
        )
        .await;
    assert_eq!(res.status(), 404);

    assert_eq!(audit_count(&pool, "team.create", "payments").await, 1);
    assert_eq!(
        audit_count(&pool, "user.create", "pat@example.com").await,
        1
    );
    assert_eq!(audit_count(&pool, "team.member.add", "payments").await, 1);
    assert_eq!(
        audit_count(&pool, "team.member.remove", "payments").await,
        1
    );
    let (actor, addr, detail): (String, Option<String>, serde_json::Value) = sqlx::query_as(
        "select actor, client_addr, detail from audit_log where action = 'team.member.add'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(actor, "root@example.com");
    assert_eq!(addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(detail["user"], "quinn@example.com");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_weak_password_is_refused_inline_and_the_form_keeps_its_values(pool: PgPool) {
    let app = signed_in_admin(&pool).await;
    app.post_form("/admin/teams", &[("name", "shop")]).await;
    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", "pat@example.com"),
                ("password", "short"),
                ("teams", "shop"),
                ("is_admin", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Password must be at least 12 characters"),
        "{html}"
    );
    assert!(html.contains("value=\"pat@example.com\""), "email kept");
    assert!(html.contains("value=\"shop\" checked"), "team box kept");
    assert!(html.contains("name=\"is_admin\" checked"), "admin box kept");
    assert!(
        !html.contains("value=\"short\""),
        "the password is never echoed"
    );
    let users: i64 =
        sqlx::query_scalar("select count(*) from users where email = 'pat@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(users, 0);
    assert_eq!(
        audit_count(&pool, "user.create", "pat@example.com").await,
        0
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_taken_email_a_bad_email_and_a_bad_team_name_are_field_errors(pool: PgPool) {
    let app = signed_in_admin(&pool).await;
    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", "ROOT@example.com"),
                ("password", "tidal-orbit-47-lantern"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("a user with this email exists")
    );

    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", "not-an-email"),
                ("password", "tidal-orbit-47-lantern"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("is not an email address")
    );

    let res = app
        .post_form(
            "/admin/teams",
            &[("name", "Bad_Team"), ("display_name", "Bad")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("value=\"Bad_Team\""), "name kept");
    assert!(html.contains("class=\"field-error\""), "{html}");

    app.post_form("/admin/teams", &[("name", "shop")]).await;
    let res = app.post_form("/admin/teams", &[("name", "shop")]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("a team with this name exists")
    );

    let res = app
        .post_form(
            "/admin/teams/shop/members",
            &[("email", "ghost@example.com")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("there is no user with this email")
    );
    let res = app
        .post_form(
            "/admin/teams/nope/members",
            &[("email", "root@example.com")],
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_audit_log_filters_by_actor_action_and_target_and_pages_older(pool: PgPool) {
    let app = signed_in_admin(&pool).await;
    app.post_form("/admin/teams", &[("name", "shop")]).await;
    app.post_form("/admin/teams", &[("name", "billing")]).await;
    let system = slipway::store::audit::Actor::system();
    for i in 0..60 {
        slipway::store::audit::record(
            &pool,
            &system,
            "test.tick",
            &format!("tick-{i:02}"),
            serde_json::json!({"n": i}),
        )
        .await
        .unwrap();
    }

    let html = app.page("/admin/audit?action=team.").await;
    assert!(
        html.contains(">shop<") && html.contains(">billing<"),
        "{html}"
    );
    assert!(!html.contains("tick-"), "filtered by action prefix");

    let html = app.page("/admin/audit?target=billing").await;
    assert!(html.contains(">billing<") && !html.contains(">shop<"));

    let html = app.page("/admin/audit?actor=system&action=test.").await;
    assert!(!html.contains(">team.create<"));
    assert!(html.contains("tick-59") && html.contains("tick-10"));
    assert!(!html.contains("tick-09"), "50 per page");
    let at = html.find("rel=\"next\"").expect("an Older link");
    let href_start = html[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let href = html[href_start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(
        href.contains("actor=system") && href.contains("action=test."),
        "keeps the filter: {href}"
    );

    let older = app.page(&href).await;
    assert!(
        older.contains("tick-09") && older.contains("tick-00"),
        "{older}"
    );
    assert!(!older.contains("tick-10"));
    assert!(!older.contains("rel=\"next\""), "nothing older");
    assert!(older.contains("Newest"));

    let overview = app.get("/admin").await;
    assert_eq!(overview.status(), 200);
    assert!(
        overview.text().await.unwrap().contains("tick-59"),
        "recent activity"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_member_cannot_reach_the_admin_pages_or_change_anything(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/teams",
        "/admin/teams/shop",
        "/admin/audit",
    ] {
        assert_eq!(app.get(path).await.status(), 403, "{path}");
    }
    let res = app.post_form("/admin/teams", &[("name", "sneaky")]).await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            "/admin/users",
            &[
                ("email", "mallory@example.com"),
                ("password", "tidal-orbit-47-lantern"),
                ("is_admin", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let (teams, users): (i64, i64) =
        sqlx::query_as("select (select count(*) from teams), (select count(*) from users)")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((teams, users), (1, 1));
    let html = app.page("/").await;
    assert!(
        !html.contains("href=\"/admin\""),
        "no Admin link for members"
    );
}
