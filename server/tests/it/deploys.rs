//! Deploys without a cluster: requesting (portal and API), approvals bound to
//! revision and image, supersession, rollback and pins, the pages, and the
//! environments admin. The worker against the real control plane is in
//! `deploy_worker.rs`.

use serde_json::{Value, json};
use slipway::deployer::{self, DeployEvent, DeployState, next};
use slipway::store::audit::Actor;
use slipway::store::deploys::{self, Transition, Trigger};
use slipway::store::{self, approvals, deploy_leases, pins};
use sqlx::PgPool;
use uuid::Uuid;

use crate::harness::{
    PASSWORD, SpecBuilder, TestApp, api_token, create_service, create_user, current_user,
    eventually, request, save_revision, shop_member_with_api, try_request,
};

/// Plays a worker that succeeds without a cluster: claim, applied, rolled out.
async fn succeed_without_cluster(pool: &PgPool, id: i64) {
    // Claims this very deploy (claim_next would take the oldest queued one).
    let owner = Uuid::new_v4();
    let claimed = sqlx::query(
        "update deploys set state = 'applying', lease_owner = $2,
             lease_expires_at = now() + interval '30 seconds', attempts = attempts + 1
         where id = $1 and state = 'queued'",
    )
    .bind(id)
    .bind(owner)
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(claimed.rows_affected(), 1, "deploy {id} was queued");
    let mut state = DeployState::Applying;
    for event in [DeployEvent::Applied, DeployEvent::RolledOut] {
        let to = next(state, event).unwrap();
        let mut tx = pool.begin().await.unwrap();
        assert!(
            deploys::transition(
                &mut tx,
                &Transition {
                    id,
                    from: state,
                    to,
                    actor: "test worker",
                    message: "",
                    reason: None,
                    lease_owner: Some(owner),
                },
            )
            .await
            .unwrap()
        );
        tx.commit().await.unwrap();
        state = to;
    }
}

async fn state_of(pool: &PgPool, id: i64) -> DeployState {
    deploys::find(pool, id).await.unwrap().unwrap().state
}

async fn id_from_location(res: &reqwest::Response) -> i64 {
    let location = res.headers()["location"].to_str().unwrap();
    location
        .strip_prefix("/deploys/")
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_three_default_environments_are_seeded_with_production_guarded(pool: PgPool) {
    let envs = store::environments::list(&pool).await.unwrap();
    let summary: Vec<(&str, &str, bool, bool)> = envs
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.namespace_pattern.as_str(),
                e.requires_approval(),
                e.block_on_missing_secrets,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("development", "{team}-{environment}", false, false),
            ("staging", "{team}-{environment}", false, false),
            ("production", "{team}-{environment}", true, true),
        ]
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_member_requests_a_deploy_from_the_portal_and_sees_its_page(pool: PgPool) {
    let app = shop_member_with_api(&pool).await;

    let res = app
        .post_form(
            "/services/shop/api/deploys",
            &[
                ("environment", "staging"),
                ("image", "registry.example.com/shop/api:2.0.0"),
                ("revision", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = id_from_location(&res).await;

    let deploy = deploys::find(&pool, id).await.unwrap().unwrap();
    assert_eq!(deploy.state, DeployState::Queued);
    assert_eq!(deploy.namespace, "shop-staging");
    assert_eq!(deploy.revision, 1);
    assert_eq!(deploy.requested_by, "dev@shop.io");
    let docs = deploys::documents(&pool, id).await.unwrap();
    assert!(
        docs.manifests
            .contains("image: registry.example.com/shop/api:2.0.0")
    );
    assert!(
        docs.manifests
            .contains(&format!("slipway.dev/deploy-id: '{id}'"))
            || docs
                .manifests
                .contains(&format!("slipway.dev/deploy-id: \"{id}\"")),
        "{}",
        docs.manifests
    );
    assert_eq!(deploy.manifests_hash, deployer::sha256_hex(&docs.manifests));
    let events = deploys::events(&pool, id).await.unwrap();
    let moves: Vec<(Option<&str>, &str)> = events
        .iter()
        .map(|e| (e.from_state.map(DeployState::as_str), e.to_state.as_str()))
        .collect();
    assert_eq!(moves, [(None, "requested"), (Some("requested"), "queued")]);

    let html = app.page(&format!("/deploys/{id}")).await;
    assert!(html.contains("Deploy #"), "{html}");
    assert!(html.contains("class=\"state queued\""), "{html}");
    assert!(
        html.contains("hx-trigger=\"every 2s\""),
        "a running deploy polls: {html}"
    );
    assert!(html.contains("registry.example.com/shop/api:2.0.0"));
    assert!(html.contains("id=\"deploy-manifests\""));

    // The live fragment alone, for htmx.
    let fragment = app
        .htmx_get(&format!("/deploys/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        fragment.trim_start().starts_with("<div id=\"deploy-live\""),
        "{fragment}"
    );
    assert!(!fragment.contains("<html"), "{fragment}");

    let list = app.page("/deploys?environment=staging").await;
    assert!(list.contains(&format!("/deploys/{id}")), "{list}");
    let history = app.page("/services/shop/api/history").await;
    assert!(history.contains(&format!("/deploys/{id}")), "{history}");
    let panel = app.page("/services/shop/api/deploy-panel").await;
    assert!(panel.starts_with("<div id=\"deploy-panel\""), "{panel}");
    assert!(panel.contains("name=\"csrf_token\""), "{panel}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_invalid_request_names_the_field_and_stores_nothing(pool: PgPool) {
    let app = shop_member_with_api(&pool).await;
    let token = app.csrf_token().await;

    // htmx: the panel comes back with the message, 422.
    let res = app
        .client
        .post(app.url("/services/shop/api/deploys"))
        .header("hx-request", "true")
        .form(&[
            ("environment", "staging"),
            ("image", "Not An Image!"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("not an image reference"), "{html}");

    for (env, image, revision, field) in [
        ("qa", "x/y:1", "", "environment"),
        ("staging", "", "", "image"),
        ("staging", "x/y:1", "9", "revision"),
    ] {
        let res = app
            .post_form(
                "/services/shop/api/deploys",
                &[
                    ("environment", env),
                    ("image", image),
                    ("revision", revision),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{field}");
        assert_eq!(res.headers()["location"], "/services/shop/api", "{field}");
        let page = app.page("/services/shop/api/deploy-panel").await;
        assert!(
            !page.contains("state queued"),
            "{field}: nothing was stored"
        );
    }
    let count: i64 = sqlx::query_scalar("select count(*) from deploys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn outsiders_may_neither_deploy_nor_see_deploys(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "eve@billing.io", false, &["billing"]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;
    let deploy = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    let app = TestApp::signed_in(&pool, "eve@billing.io").await;
    let res = app
        .post_form(
            "/services/shop/api/deploys",
            &[("environment", "staging"), ("image", "x/api:2")],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get(&format!("/deploys/{}", deploy.id)).await.status(),
        403
    );
    assert_eq!(app.get("/services/shop/api/history").await.status(), 403);
    let list = app.page("/deploys").await;
    assert!(!list.contains(&format!("/deploys/{}", deploy.id)), "{list}");
    let res = app
        .post_form(&format!("/deploys/{}/rollback", deploy.id), &[])
        .await;
    assert_eq!(res.status(), 403);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn production_waits_for_an_admin_who_did_not_request_it(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "boss@shop.io", true, &["shop"]).await;
    create_user(&pool, "ops@shop.io", true, &[]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    let by_admin = request(&pool, "boss@shop.io", &service, "production", "x/api:1").await;
    assert_eq!(by_admin.state, DeployState::AwaitingApproval);

    // The requester, even an admin, may not approve; a member may not either.
    let app = TestApp::signed_in(&pool, "boss@shop.io").await;
    let page = app.page(&format!("/deploys/{}", by_admin.id)).await;
    assert!(
        !page.contains("formaction=\"/deploys/"),
        "no buttons for the requester"
    );
    assert!(
        !page.contains("hx-trigger=\"every 2s\""),
        "no polling while a form may be filled in"
    );
    let res = app
        .post_form(
            &format!("/deploys/{}/approve", by_admin.id),
            &[("comment", "lgtm")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let res = member
        .post_form(&format!("/deploys/{}/approve", by_admin.id), &[])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        state_of(&pool, by_admin.id).await,
        DeployState::AwaitingApproval
    );

    // Another admin approves exactly what they saw.
    let ops = TestApp::signed_in(&pool, "ops@shop.io").await;
    let page = ops.page(&format!("/deploys/{}", by_admin.id)).await;
    assert!(
        page.contains(&format!("formaction=\"/deploys/{}/approve\"", by_admin.id)),
        "{page}"
    );
    let stale = ops
        .post_form(
            &format!("/deploys/{}/approve", by_admin.id),
            &[("revision_hash", "0000"), ("image", "x/api:1")],
        )
        .await;
    assert_eq!(
        stale.status(),
        409,
        "an approval of another revision is refused"
    );
    let res = ops
        .post_form(
            &format!("/deploys/{}/approve", by_admin.id),
            &[
                ("comment", "ship it"),
                ("revision_hash", &by_admin.revision_hash),
                ("image", "x/api:1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(state_of(&pool, by_admin.id).await, DeployState::Queued);
    let approvals = approvals::for_deploy(&pool, by_admin.id).await.unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].approver, "ops@shop.io");
    assert_eq!(approvals[0].revision_hash, by_admin.revision_hash);
    assert_eq!(approvals[0].image, "x/api:1");
    assert_eq!(approvals[0].comment, "ship it");
    // Deciding twice is a conflict, not a second row.
    let again = ops
        .post_form(&format!("/deploys/{}/reject", by_admin.id), &[])
        .await;
    assert_eq!(again.status(), 409);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_rejection_ends_the_deploy_with_the_reason(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "ops@shop.io", true, &[]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let app = TestApp::signed_in(&pool, "ops@shop.io").await;
    let res = app
        .post_form(
            &format!("/deploys/{}/reject", deploy.id),
            &[("comment", "not during the sale")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let rejected = deploys::find(&pool, deploy.id).await.unwrap().unwrap();
    assert_eq!(rejected.state, DeployState::Rejected);
    assert_eq!(
        rejected.reason,
        "rejected by ops@shop.io: not during the sale"
    );
    assert!(rejected.finished_at.is_some());
    let page = app.page(&format!("/deploys/{}", deploy.id)).await;
    assert!(page.contains("not during the sale"), "{page}");
    assert!(
        !page.contains("hx-trigger=\"every 2s\""),
        "a finished deploy stops polling"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_newer_queued_deploy_supersedes_older_queued_ones_of_its_environment(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;
    let first = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    let other_env = request(&pool, "dev@shop.io", &service, "development", "x/api:1").await;
    let second = request(&pool, "dev@shop.io", &service, "staging", "x/api:2").await;
    let first = deploys::find(&pool, first.id).await.unwrap().unwrap();
    assert_eq!(first.state, DeployState::Superseded);
    assert_eq!(first.reason, format!("superseded by deploy #{}", second.id));
    assert_eq!(state_of(&pool, second.id).await, DeployState::Queued);
    assert_eq!(state_of(&pool, other_env.id).await, DeployState::Queued);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_running_deploy_blocks_the_next_claim_of_its_service_and_environment(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;
    let first = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    let mut tx = pool.begin().await.unwrap();
    let claimed = deploy_leases::claim_next(&mut tx, Uuid::new_v4(), 30.0, "w1")
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.id, first.id);
    assert_eq!(claimed.state, DeployState::Applying);
    assert_eq!(claimed.attempts, 1);
    // A newer deploy is queued behind it, and cannot be claimed while it runs.
    let second = request(&pool, "dev@shop.io", &service, "staging", "x/api:2").await;
    assert_eq!(second.state, DeployState::Queued);
    let mut tx = pool.begin().await.unwrap();
    assert!(
        deploy_leases::claim_next(&mut tx, Uuid::new_v4(), 30.0, "w2")
            .await
            .unwrap()
            .is_none()
    );
    tx.rollback().await.unwrap();
    // The database itself refuses a second running deploy of the pair.
    let refused = sqlx::query("update deploys set state = 'applying' where id = $1")
        .bind(second.id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("deploys_one_running_key"),
        "{refused}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn rollback_redeploys_an_earlier_revision_and_image_and_pins_until_unpinned(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;
    let v1 = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    succeed_without_cluster(&pool, v1.id).await;
    let service = save_revision(
        &pool,
        "dev@shop.io",
        &service,
        &SpecBuilder::web("api").replicas(2).to_yaml(),
    )
    .await;
    let v2 = request(&pool, "dev@shop.io", &service, "staging", "x/api:2").await;
    succeed_without_cluster(&pool, v2.id).await;
    assert_eq!(v2.revision, 2);

    let app = TestApp::signed_in(&pool, "dev@shop.io").await;
    // The current deploy's page offers the one before it.
    let page = app.page(&format!("/deploys/{}", v2.id)).await;
    assert!(
        page.contains(&format!("action=\"/deploys/{}/rollback\"", v1.id)),
        "{page}"
    );
    let res = app
        .post_form(&format!("/deploys/{}/rollback", v1.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let id = id_from_location(&res).await;
    let rollback = deploys::find(&pool, id).await.unwrap().unwrap();
    assert_eq!(rollback.trigger, Trigger::Rollback);
    assert_eq!(rollback.rollback_of, Some(v1.id));
    assert_eq!(rollback.revision, 1);
    assert_eq!(rollback.image, "x/api:1");
    assert_eq!(rollback.state, DeployState::Queued);

    // Pinned: a webhook deploy is held, visibly; a person may still deploy.
    let pin = pins::active_pin(&pool, service.id, rollback.environment_id)
        .await
        .unwrap()
        .expect("pinned");
    assert_eq!(pin.deploy_id, Some(id));
    let hook = Actor {
        user_id: None,
        name: "webhook:7".into(),
        client_addr: None,
    };
    let held = try_request(
        &pool,
        &service,
        &hook,
        Trigger::Webhook,
        "staging",
        "x/api:3",
    )
    .await
    .unwrap_err();
    assert!(held.to_string().contains("pinned"), "{held}");
    let history = app.page("/services/shop/api/history").await;
    assert!(history.contains("automatic deploys are held"), "{history}");

    let res = app
        .post_form("/services/shop/api/environments/staging/unpin", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        pins::active_pin(&pool, service.id, rollback.environment_id)
            .await
            .unwrap()
            .is_none()
    );
    try_request(
        &pool,
        &service,
        &hook,
        Trigger::Webhook,
        "staging",
        "x/api:3",
    )
    .await
    .expect("unpinned: webhooks deploy again");

    // Only a deploy that succeeded can be rolled back to.
    let res = app.post_form(&format!("/deploys/{id}/rollback"), &[]).await;
    assert_eq!(res.status(), 409);

    // A failed deploy's page offers the last good one.
    let mut tx = pool.begin().await.unwrap();
    let rb = deploys::find(&mut *tx, id).await.unwrap().unwrap();
    assert!(
        deploys::transition(
            &mut tx,
            &Transition {
                id,
                from: rb.state,
                to: DeployState::Failed,
                actor: "test",
                message: "",
                reason: Some("boom"),
                lease_owner: None,
            },
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    let page = app.page(&format!("/deploys/{id}")).await;
    assert!(
        page.contains(&format!("action=\"/deploys/{}/rollback\"", v2.id)),
        "{page}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_api_requests_reads_approves_and_rolls_back(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "ops@shop.io", true, &[]).await;
    create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    let dev_token = token_for(&pool, "dev@shop.io").await;
    let ops_token = token_for(&pool, "ops@shop.io").await;
    let app = TestApp::spawn(pool.clone()).await;
    let client = reqwest::Client::new();

    let res = client
        .post(app.url("/api/v1/teams/shop/services/api/deploys"))
        .bearer_auth(&dev_token)
        .json(&json!({"environment": "production", "image": "x/api:1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(body["state"], "awaiting_approval");

    let res = client
        .get(app.url(&format!("/api/v1/deploys/{id}")))
        .bearer_auth(&dev_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    for key in [
        "id",
        "state",
        "reason",
        "environment",
        "image",
        "revision",
        "requested_by",
        "approvals",
        "created_at",
        "finished_at",
    ] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }
    assert_eq!(body["environment"], "production");
    assert_eq!(body["revision"], 1);
    assert_eq!(body["requested_by"], "dev@shop.io");
    assert_eq!(body["finished_at"], Value::Null);

    // The requester may not approve; an admin may.
    let res = client
        .post(app.url(&format!("/api/v1/deploys/{id}/approve")))
        .bearer_auth(&dev_token)
        .json(&json!({"comment": "me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client
        .post(app.url(&format!("/api/v1/deploys/{id}/approve")))
        .bearer_auth(&ops_token)
        .json(&json!({"comment": "ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["state"], "queued");
    assert_eq!(body["approvals"][0]["approver"], "ops@shop.io");
    assert_eq!(body["approvals"][0]["decision"], "approve");
    assert_eq!(body["approvals"][0]["image"], "x/api:1");

    // Invalid input names its field.
    let res = client
        .post(app.url("/api/v1/teams/shop/services/api/deploys"))
        .bearer_auth(&dev_token)
        .json(&json!({"environment": "staging", "image": "UPPER CASE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["path"], "image");

    // Rollback through the API: a new deploy of that deploy's revision and image.
    let staging = client
        .post(app.url("/api/v1/teams/shop/services/api/deploys"))
        .bearer_auth(&dev_token)
        .json(&json!({"environment": "staging", "image": "x/api:7", "revision": 1}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let staging_id = staging["id"].as_i64().unwrap();
    succeed_without_cluster(&pool, staging_id).await;
    let res = client
        .post(app.url(&format!("/api/v1/deploys/{staging_id}/rollback")))
        .bearer_auth(&dev_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["image"], "x/api:7");
    assert_eq!(body["trigger"], "rollback");
    assert_eq!(body["rollback_of"], staging_id);

    // Lists and the timeline.
    let list: Value = client
        .get(app.url("/api/v1/deploys?environment=staging"))
        .bearer_auth(&dev_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let events: Value = client
        .get(app.url(&format!("/api/v1/deploys/{staging_id}/events")))
        .bearer_auth(&dev_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to"], "succeeded");

    // Outsiders: 403 whether or not the service exists.
    create_user(&pool, "eve@billing.io", false, &["billing"]).await;
    let eve = token_for(&pool, "eve@billing.io").await;
    for path in [
        "/api/v1/teams/shop/services/api/deploys".to_owned(),
        "/api/v1/teams/shop/services/nope/deploys".to_owned(),
    ] {
        let res = client
            .post(app.url(&path))
            .bearer_auth(&eve)
            .json(&json!({"environment": "staging", "image": "x/api:1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    let res = client
        .get(app.url(&format!("/api/v1/deploys/{id}")))
        .bearer_auth(&eve)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn token_for(pool: &PgPool, email: &str) -> String {
    api_token(pool, current_user(pool, email).await.id, "test").await
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn admins_edit_environments_and_new_deploys_follow_them(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "ops@shop.io", true, &[]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;

    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    assert_eq!(member.get("/admin/environments").await.status(), 403);
    let res = member
        .post_form(
            "/admin/environments/staging",
            &[("namespace_pattern", "x-{environment}")],
        )
        .await;
    assert_eq!(res.status(), 403);

    let admin = TestApp::signed_in(&pool, "ops@shop.io").await;
    let html = admin.page("/admin/environments").await;
    assert!(
        html.contains("shop-production"),
        "example namespace shown: {html}"
    );

    let bad = admin
        .post_form(
            "/admin/environments/staging",
            &[("namespace_pattern", "{team}_{env}"), ("position", "2")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("unknown placeholder"));

    let res = admin
        .post_form(
            "/admin/environments/staging",
            &[
                ("namespace_pattern", "{team}-stage"),
                ("approvals_required", "1"),
                ("position", "2"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let staging = store::environments::find_by_name(&pool, "staging")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(staging.namespace_pattern, "{team}-stage");
    assert!(staging.requires_approval());
    assert!(!staging.block_on_missing_secrets);
    let deploy = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    assert_eq!(deploy.namespace, "shop-stage");
    assert_eq!(deploy.state, DeployState::AwaitingApproval);

    let res = admin
        .post_form(
            "/admin/environments",
            &[
                ("name", "qa"),
                ("namespace_pattern", "{team}-qa"),
                ("position", "4"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let dup = admin
        .post_form(
            "/admin/environments",
            &[("name", "qa"), ("namespace_pattern", "{team}-qa")],
        )
        .await;
    assert_eq!(dup.status(), 422);
    let qa = request(&pool, "dev@shop.io", &service, "qa", "x/api:1").await;
    assert_eq!(qa.namespace, "shop-qa");
    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action like 'environment.%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audit, 2);
}

/// `/deploys` and a service's history are read once a second and shared
/// (`web::deploys::DeployList`, `HistoryKey`): `/deploys` only between viewers
/// who may see the same teams, the history only after the viewer's access to
/// the team was decided. A deploy requested through this server shows at once;
/// a step the worker records shows within moments.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn shared_deploy_lists_keep_each_team_to_its_own_and_show_new_deploys(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "eve@billing.io", false, &["billing"]).await;
    create_user(&pool, "root@ops.io", true, &[]).await;
    let api = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;
    let pay = create_service(
        &pool,
        "eve@billing.io",
        "billing",
        &SpecBuilder::web("pay").team("billing").to_yaml(),
    )
    .await;
    let shop_deploy = request(&pool, "dev@shop.io", &api, "staging", "x/api:1").await;
    let billing_deploy = request(&pool, "eve@billing.io", &pay, "staging", "x/pay:1").await;
    let admin = TestApp::signed_in(&pool, "root@ops.io").await;
    let dev = admin.another_browser();
    dev.login_as("dev@shop.io", PASSWORD).await;
    let eve = admin.another_browser();
    eve.login_as("eve@billing.io", PASSWORD).await;
    let lists = |page: &str, id: i64| page.contains(&format!("href=\"/deploys/{id}\""));

    let page = admin.page("/deploys").await;
    assert!(
        lists(&page, shop_deploy.id) && lists(&page, billing_deploy.id),
        "{page}"
    );
    for _ in 0..3 {
        let page = dev.page("/deploys").await;
        assert!(lists(&page, shop_deploy.id), "{page}");
        assert!(
            !lists(&page, billing_deploy.id),
            "another team's deploy: {page}"
        );
        let page = eve.page("/deploys").await;
        assert!(lists(&page, billing_deploy.id), "{page}");
        assert!(
            !lists(&page, shop_deploy.id),
            "another team's deploy: {page}"
        );
    }
    let history = dev.page("/services/shop/api/history").await;
    assert!(lists(&history, shop_deploy.id), "{history}");
    for _ in 0..3 {
        let res = eve.get("/services/shop/api/history").await;
        assert_eq!(res.status(), 403);
        assert!(!res.text().await.unwrap().contains("x/api:1"));
    }

    // The worker's steps (here played straight on the database): within moments.
    succeed_without_cluster(&pool, shop_deploy.id).await;
    let succeeded = format!("href=\"/deploys/{}\"", shop_deploy.id);
    assert!(
        eventually(5, || async {
            let history = dev.page("/services/shop/api/history").await;
            history
                .split(&succeeded)
                .nth(1)
                .and_then(|row| row.split("</tr>").next())
                .is_some_and(|row| row.contains("succeeded"))
        })
        .await,
        "the worker's success never showed on the shared history"
    );

    // Requested through this server: on the next page, for everyone.
    let res = dev
        .post_form(
            "/services/shop/api/deploys",
            &[("environment", "staging"), ("image", "x/api:2")],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let newest: i64 = sqlx::query_scalar("select max(id) from deploys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(lists(&dev.page("/deploys").await, newest));
    assert!(lists(&admin.page("/deploys").await, newest));
    assert!(lists(&dev.page("/services/shop/api/history").await, newest));
}
