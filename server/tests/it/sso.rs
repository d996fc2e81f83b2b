//! Single sign-on against a real identity provider (Dex, built from its Go
//! module): sign-in through Dex's own login form, groups to teams and the
//! admin role, and the attacks: a tampered `state`, a replayed code, a token
//! for another audience, an expired token, a wrong issuer, an unverified email.

use serde_json::Value;
use sqlx::PgPool;

use crate::harness::*;

/// The audit entries of `action`, oldest first: (actor, detail).
async fn audited(pool: &PgPool, action: &str) -> Vec<(String, Value)> {
    sqlx::query_as("select actor, detail from audit_log where action = $1 order by id")
        .bind(action)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The teams of the user with `email`, sorted.
async fn teams_of(pool: &PgPool, email: &str) -> Vec<String> {
    sqlx::query_scalar(
        "select t.name from team_members m join teams t on t.id = m.team_id
         join users u on u.id = m.user_id where u.email = $1 order by t.name",
    )
    .bind(email)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Asserts `res` is the login page refusing the sign-in (401) with `message`.
async fn refused_saying(res: reqwest::Response, message: &str) {
    assert_eq!(res.status(), 401);
    let page = res.text().await.unwrap();
    assert!(page.contains(message), "{page}");
}

/// Whether `browser` holds a signed-in session (the catalog answers 200).
async fn signed_in(app: &TestApp, browser: &reqwest::Client) -> bool {
    browser.get(app.url("/")).send().await.unwrap().status() == 200
}

fn users() -> Vec<DexUser> {
    vec![
        DexUser::ada(&["shop-devs"]),
        DexUser::bob(&["pay-devs", "slipway-admins"]),
        DexUser::eve_unverified(),
    ]
}

async fn mapped(pool: &PgPool) {
    map_group(pool, "shop-devs", Some("shop"), false).await;
    map_group(pool, "pay-devs", Some("pay"), false).await;
    map_group(pool, "slipway-admins", None, true).await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn people_sign_in_through_dex_and_get_the_teams_their_groups_map_to(pool: PgPool) {
    create_user(&pool, "owner@slipway.test", false, &["shop", "pay"]).await;
    mapped(&pool).await;
    create_service(
        &pool,
        "owner@slipway.test",
        "shop",
        &flask_yaml("catalog", "shop"),
    )
    .await;
    create_service(
        &pool,
        "owner@slipway.test",
        "pay",
        &flask_yaml("ledger", "pay"),
    )
    .await;
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |_| {}).await;

    let login = app.get("/login").await.text().await.unwrap();
    assert!(login.contains("Sign in with Dex"), "{login}");

    let ada = browser();
    let (res, _) = app
        .sso_sign_in(&ada, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(res.headers()["location"], "/");
    let catalog = ada
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(catalog.contains("catalog"), "{catalog}");
    assert!(
        !catalog.contains("ledger"),
        "ada sees only her team's services"
    );
    assert_eq!(teams_of(&pool, "ada@example.com").await, ["shop"]);

    let bob = browser();
    let (res, _) = app
        .sso_sign_in(&bob, &dex, "bob@example.com", DexUser::bob(&[]).password)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(teams_of(&pool, "bob@example.com").await, ["pay"]);
    let admin_page = bob.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(
        admin_page.status(),
        200,
        "slipway-admins makes bob an administrator"
    );
    let forbidden = ada.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(forbidden.status(), 403, "ada is no administrator");

    let created: Vec<String> = audited(&pool, "user.created_by_sso")
        .await
        .into_iter()
        .map(|(actor, _)| actor)
        .collect();
    assert_eq!(created, ["ada@example.com", "bob@example.com"]);
    let logins = audited(&pool, "user.login").await;
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0].1["method"], "sso");
    // A user first seen through the provider has no password to sign in with.
    let res = app
        .post_form("/login", &[("email", "ada@example.com"), ("password", "")])
        .await;
    assert_eq!(res.status(), 422);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_tampered_state_is_refused_with_a_reason_and_an_audit_entry(pool: PgPool) {
    mapped(&pool).await;
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |_| {}).await;
    let ada = browser();
    let callback = app
        .sso_callback_url(&ada, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    let state = callback
        .split("state=")
        .nth(1)
        .expect("the callback carries state")
        .to_owned();
    let tampered = callback.replace(&format!("state={state}"), &format!("state=x{state}"));
    let res = ada.get(&tampered).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("does not belong to the sign-in started here"),
        "{page}"
    );
    assert!(!signed_in(&app, &ada).await);
    // The untampered answer is no good either now: a started sign-in is used once.
    let res = ada.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let reasons: Vec<Value> = audited(&pool, "user.login_refused")
        .await
        .into_iter()
        .map(|(_, d)| d["reason"].clone())
        .collect();
    assert_eq!(reasons, ["bad_state", "no_pending_sign_in"]);
    assert!(audited(&pool, "user.login").await.is_empty());
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_replayed_authorization_code_is_refused(pool: PgPool) {
    mapped(&pool).await;
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |_| {}).await;
    let first = browser();
    let (res, callback) = app
        .sso_sign_in(&first, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    assert_eq!(res.status(), 303);
    let code = callback
        .split("code=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("the callback carries a code")
        .to_owned();
    // The attacker starts a sign-in of their own (a valid state in their
    // session) and hands Slipway the code already used.
    let attacker = browser();
    let start = attacker
        .get(app.url("/auth/oidc/start"))
        .send()
        .await
        .unwrap();
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let state = authorize
        .split("state=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("the authorization URL carries state")
        .to_owned();
    let replay = app.url(&format!("/auth/oidc/callback?code={code}&state={state}"));
    let res = attacker.get(&replay).send().await.unwrap();
    refused_saying(res, "refused the sign-in code").await;
    assert!(!signed_in(&app, &attacker).await);
    let refused = audited(&pool, "user.login_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].1["reason"], "code_refused");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_id_token_for_another_audience_is_refused(pool: PgPool) {
    mapped(&pool).await;
    // Dex mints an ID token addressed to `other-app` (which trusts Slipway)
    // when asked for it: a token that was never meant for Slipway.
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |config| {
        config
            .oidc_scopes
            .push("audience:server:client_id:other-app".into());
    })
    .await;
    let ada = browser();
    let (res, _) = app
        .sso_sign_in(&ada, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    refused_saying(res, "ID token was refused (audience)").await;
    assert!(!signed_in(&app, &ada).await);
    let refused = audited(&pool, "user.login_refused").await;
    assert_eq!(refused[0].1["reason"], "audience");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_expired_id_token_is_refused(pool: PgPool) {
    mapped(&pool).await;
    // Slipway's clock two days ahead: Dex's 24-hour ID token has expired.
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |config| {
        config.oidc_clock_offset_secs = 2 * 86_400;
    })
    .await;
    let ada = browser();
    let (res, _) = app
        .sso_sign_in(&ada, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    refused_saying(res, "ID token was refused (expired)").await;
    let refused = audited(&pool, "user.login_refused").await;
    assert_eq!(refused[0].1["reason"], "expired");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_provider_that_names_another_issuer_is_refused(pool: PgPool) {
    mapped(&pool).await;
    // The same Dex reached as `localhost`: its discovery document names
    // 127.0.0.1, so it is not the issuer Slipway was told to trust.
    let (app, _dex) = TestApp::spawn_sso(pool.clone(), &users(), |config| {
        let issuer = config.oidc_issuer.clone().unwrap();
        config.oidc_issuer = Some(issuer.replace("127.0.0.1", "localhost"));
    })
    .await;
    let res = app.get("/auth/oidc/start").await;
    assert_eq!(res.status(), 401);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("identity provider could not be used"),
        "{page}"
    );
    let refused = audited(&pool, "user.login_refused").await;
    assert_eq!(refused[0].1["reason"], "provider");
    let message = refused[0].1["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.to_lowercase().contains("issuer"), "{message}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_email_the_provider_has_not_verified_is_refused(pool: PgPool) {
    mapped(&pool).await;
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |_| {}).await;
    let eve = browser();
    let (res, _) = app
        .sso_sign_in(
            &eve,
            &dex,
            "eve@example.com",
            DexUser::eve_unverified().password,
        )
        .await;
    refused_saying(res, "not verified").await;
    let refused = audited(&pool, "user.login_refused").await;
    assert_eq!(refused[0].1["reason"], "email_not_verified");
    let none: Option<i64> =
        sqlx::query_scalar("select id from users where email = 'eve@example.com'")
            .fetch_optional(&pool)
            .await
            .unwrap();
    assert_eq!(none, None, "no user is created for an unverified email");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn leaving_a_group_at_the_provider_removes_the_team_at_the_next_sign_in(pool: PgPool) {
    mapped(&pool).await;
    let (app, mut dex) = TestApp::spawn_sso(
        pool.clone(),
        &[DexUser::ada(&["shop-devs", "pay-devs", "slipway-admins"])],
        |_| {},
    )
    .await;
    let (res, _) = app
        .sso_sign_in(
            &browser(),
            &dex,
            "ada@example.com",
            DexUser::ada(&[]).password,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(teams_of(&pool, "ada@example.com").await, ["pay", "shop"]);
    // An administrator also adds her to a team by hand: no group took it, so
    // no group change takes it away.
    let ada = store_user(&pool, "ada@example.com").await;
    let by_hand = slipway::store::teams::insert(&pool, "ops", "ops")
        .await
        .unwrap();
    slipway::store::teams::add_member(&pool, by_hand.id, ada)
        .await
        .unwrap();

    // The provider's administrator takes her out of pay-devs and slipway-admins.
    // The restarted Dex (memory storage) signs with new keys: the sign-in below
    // passes only because Slipway fetches the keys again when a token names
    // one its cached set lacks (a key rotation).
    dex.restart_with(&[DexUser::ada(&["shop-devs"])]).await;
    let again = browser();
    let (res, _) = app
        .sso_sign_in(&again, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(teams_of(&pool, "ada@example.com").await, ["ops", "shop"]);
    let admin_page = again.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(
        admin_page.status(),
        403,
        "the admin role left with the group"
    );
    let applied = audited(&pool, "user.groups_applied").await;
    assert_eq!(applied.len(), 2);
    assert_eq!(applied[1].1["changes"]["left"], serde_json::json!(["pay"]));
    assert_eq!(applied[1].1["changes"]["admin"], false);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn password_sign_in_can_be_kept_for_the_break_glass_administrator(pool: PgPool) {
    mapped(&pool).await;
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "admin@slipway.local", true, &[]).await;
    let (app, _dex) = TestApp::spawn_sso(pool.clone(), &users(), |config| {
        config.password_login = slipway::config::PasswordLogin::BreakGlass;
    })
    .await;
    let login = app.get("/login").await.text().await.unwrap();
    assert!(
        !login.contains("type=\"password\""),
        "no password form by default"
    );
    // The break-glass form is one link away; its CSRF token is the page's.
    let form = app.get("/login?password=1").await.text().await.unwrap();
    assert!(form.contains("type=\"password\""), "{form}");
    let token = extract_csrf(&form).expect("the form has a token");
    let post = |email: &'static str| {
        app.client
            .post(app.url("/login"))
            .form(&[
                ("email", email),
                ("password", PASSWORD),
                ("csrf_token", &token),
            ])
            .send()
    };
    let res = post("dev@shop.io").await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("sign in with Dex"));
    let res = post("admin@slipway.local").await.unwrap();
    assert_eq!(
        res.status(),
        303,
        "the break-glass administrator still signs in"
    );
}

async fn store_user(pool: &PgPool, email: &str) -> i64 {
    sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_provider_group_approves_its_environment_until_its_person_leaves_the_group(pool: PgPool) {
    use slipway::deploy_model::{Decision, DeployState};
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    slipway::domain::sso::add_mapping(
        &pool,
        &slipway::store::audit::Actor::system(),
        &slipway::domain::sso::MappingInput {
            group: "prod-approvers".into(),
            approves: "production".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Staging needs an approval too here, from its approver teams only.
    set_approval_policy(&pool, "staging", 1, &["release"]).await;
    let (app, mut dex) =
        TestApp::spawn_sso(pool.clone(), &[DexUser::ada(&["prod-approvers"])], |_| {}).await;
    let ada = browser();
    let (res, _) = app
        .sso_sign_in(&ada, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    assert_eq!(res.status(), 303);
    let applied = audited(&pool, "user.groups_applied").await;
    assert_eq!(
        applied[0].1["changes"]["approves"],
        serde_json::json!(["production (prod-approvers)"])
    );

    let production = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let staging = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    // Her queue in the portal holds production's deploy, not staging's.
    let queue = ada
        .get(app.url("/approvals"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains(&format!("queue-{}", production.id)),
        "{queue}"
    );
    assert!(!queue.contains(&format!("queue-{}", staging.id)), "{queue}");
    let refused = try_decide(&pool, "ada@example.com", staging.id, Decision::Approve).await;
    assert!(
        matches!(&refused, Err(slipway::error::AppError::Forbidden(m)) if m.contains("approver")),
        "{refused:?}"
    );
    // She is no member of shop: its service pages stay closed, but the deploy
    // she decides on opens with its plan, and she approves it there.
    let service_page = ada.get(app.url("/services/shop/api")).send().await.unwrap();
    assert_eq!(service_page.status(), 403);
    let page = ada
        .get(app.url(&format!("/deploys/{}", production.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"deploy-plan\""), "{page}");
    assert!(
        page.contains(&format!(
            "formaction=\"/deploys/{}/approve\"",
            production.id
        )),
        "{page}"
    );
    let csrf = extract_csrf(&page).expect("the page has a token");
    let res = ada
        .post(app.url(&format!("/deploys/{}/approve", production.id)))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("comment", "approved as prod-approvers"),
            ("revision_hash", production.revision_hash.as_str()),
            ("image", "x/api:1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let approved = find_deploy(&pool, production.id).await;
    assert_eq!(approved.state, DeployState::Queued);
    // The worker re-checks approvers as they are when it applies: it reads the
    // same grant.
    let now = slipway::store::approvals::approvers_now(&pool, production.id)
        .await
        .unwrap();
    assert_eq!(now[0].approves, ["production"]);

    // She leaves the group at the provider: her next sign-in takes the grant
    // back, and the worker would no longer count her approval.
    dex.restart_with(&[DexUser::ada(&[])]).await;
    let again = browser();
    let (res, _) = app
        .sso_sign_in(&again, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    assert_eq!(res.status(), 303);
    let applied = audited(&pool, "user.groups_applied").await;
    assert_eq!(
        applied[1].1["changes"]["stopped_approving"],
        serde_json::json!(["production"])
    );
    let now = slipway::store::approvals::approvers_now(&pool, production.id)
        .await
        .unwrap();
    assert!(now[0].approves.is_empty());
    let next = request(&pool, "dev@shop.io", &service, "production", "x/api:2").await;
    let refused = try_decide(&pool, "ada@example.com", next.id, Decision::Approve).await;
    assert!(
        matches!(&refused, Err(slipway::error::AppError::Forbidden(_))),
        "{refused:?}"
    );
}

/// Signs out `browser` (POST /logout with the page's CSRF token); the
/// redirect's target.
async fn sign_out(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = extract_csrf(&page).expect("a signed-in page has a token");
    let res = browser
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn signing_out_offers_the_providers_end_session_and_the_provider_accepts_it(pool: PgPool) {
    let (app, op) = TestApp::spawn_with_op(pool.clone()).await;
    let browser = browser();
    let start = browser
        .get(app.url("/auth/oidc/start?next=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(&op.issuer), "{authorize}");
    let callback = op.log_in(&browser, &authorize).await;
    let res = browser.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert!(signed_in(&app, &browser).await);

    // Signing out ends Slipway's session and offers the provider's.
    let to = sign_out(&app, &browser).await;
    assert_eq!(to, "/login?signed_out=provider");
    assert!(!signed_in(&app, &browser).await, "Slipway's session ended");
    let login = browser
        .get(app.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("id=\"provider-sign-out\""), "{login}");
    let offered = login
        .split("id=\"provider-sign-out\"")
        .nth(1)
        .and_then(|rest| rest.split("href=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("a link to the provider's sign-out")
        // As a browser reads the attribute (askama writes & as &#38;).
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(
        offered.starts_with(&format!("{}end_session?", op.issuer)),
        "{offered}"
    );
    // Following it, the provider ends its session and, having checked the
    // client and the registered URI, sends the browser back to Slipway.
    let res = browser.get(&offered).send().await.unwrap();
    assert_eq!(res.status(), 302, "{}", op.log());
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        app.url("/login"),
        "{offered}\n{}",
        op.log()
    );
    // A forged offer naming another place to return to is refused there.
    let forged = offered.replace(
        &serde_urlencoded::to_string([("post_logout_redirect_uri", app.url("/login"))]).unwrap(),
        "post_logout_redirect_uri=http%3A%2F%2Fevil.example%2F",
    );
    assert_ne!(forged, offered);
    let res = browser.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn without_an_end_session_endpoint_signing_out_offers_nothing_more(pool: PgPool) {
    mapped(&pool).await;
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |_| {}).await;
    let browser = browser();
    let (res, _) = app
        .sso_sign_in(
            &browser,
            &dex,
            "ada@example.com",
            DexUser::ada(&[]).password,
        )
        .await;
    assert_eq!(res.status(), 303);
    let to = sign_out(&app, &browser).await;
    assert_eq!(to, "/login?signed_out=provider");
    let login = app.get(&to).await.text().await.unwrap();
    assert!(login.contains("Sign in with Dex"), "{login}");
    assert!(
        !login.contains("provider-sign-out"),
        "Dex has no end-session endpoint: {login}"
    );
    // A password session signs out to the plain login page.
    create_user(&pool, "pw@shop.io", false, &["shop"]).await;
    let password = TestApp::signed_in(&pool, "pw@shop.io").await;
    assert_eq!(sign_out(&password, &password.client).await, "/login");
}

/// A Flask service of `team`.
fn flask_yaml(name: &str, team: &str) -> String {
    SpecBuilder::minimal(name).team(team).to_yaml()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_administrator_maps_groups_on_the_portal_with_errors_naming_the_field(pool: PgPool) {
    create_user(&pool, "root@slipway.test", true, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "root@slipway.test").await;
    let page = app.page("/admin/sso").await;
    assert!(page.contains("Single sign-on is off"), "{page}");
    let res = app
        .post_form("/admin/sso/mappings", &[("group", ""), ("team", "shop")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("name the identity provider")
    );
    let res = app
        .post_form(
            "/admin/sso/mappings",
            &[("group", "shop-devs"), ("team", "")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post_form(
            "/admin/sso/mappings",
            &[("group", "shop-devs"), ("team", "nope")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("there is no team nope"));
    // A valid team with an unknown environment: refused whole, naming the field.
    let res = app
        .post_form(
            "/admin/sso/mappings",
            &[
                ("group", "shop-devs"),
                ("team", "shop"),
                ("approves", "nowhere"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let text = res.text().await.unwrap();
    assert!(text.contains("there is no environment nowhere"), "{text}");
    let none: i64 = sqlx::query_scalar("select count(*) from oidc_group_mappings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(none, 0, "nothing half-written");
    let res = app
        .post_form(
            "/admin/sso/mappings",
            &[("group", "shop-devs"), ("team", "shop"), ("admin", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page("/admin/sso").await;
    assert!(page.contains("<code>shop-devs</code>"), "{page}");
    assert!(page.contains("member of <strong>shop</strong>"));
    assert!(page.contains("administrator"));
    let res = app
        .post_form(
            "/admin/sso/mappings",
            &[("group", "prod-approvers"), ("approves", "production")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page("/admin/sso").await;
    assert!(
        page.contains("approver of <strong>production</strong> deploys"),
        "{page}"
    );
    let added = audited(&pool, "sso.mapping_added").await;
    assert_eq!(added.len(), 2);
    assert_eq!(added[1].1["approves"], "production");
    assert_eq!(added[0].0, "root@slipway.test");
    let id: i64 = sqlx::query_scalar("select min(id) from oidc_group_mappings")
        .fetch_one(&pool)
        .await
        .unwrap();
    let res = app
        .post_form(&format!("/admin/sso/mappings/{id}/delete"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(audited(&pool, "sso.mapping_removed").await.len(), 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_session_started_through_the_provider_ends_after_its_hours(pool: PgPool) {
    mapped(&pool).await;
    // Signed in "two hours ago" (Slipway's sign-in clock moved back) with
    // one-hour sessions: by the real clock the session has already ended.
    let (app, dex) = TestApp::spawn_sso(pool.clone(), &users(), |config| {
        config.oidc_session_hours = 1;
        config.oidc_clock_offset_secs = -2 * 3600;
    })
    .await;
    let ada = browser();
    let (res, _) = app
        .sso_sign_in(&ada, &dex, "ada@example.com", DexUser::ada(&[]).password)
        .await;
    assert_eq!(res.status(), 303, "the sign-in itself succeeds");
    assert_eq!(audited(&pool, "user.login").await.len(), 1);
    let res = ada.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        res.status(),
        303,
        "the ended session is sent to sign in again"
    );
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}
