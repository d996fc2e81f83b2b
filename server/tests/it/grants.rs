//! Tenancy attacks that must fail (docs/exposure.md): another team's host and
//! path, hosts outside the grant, wildcards, forbidden annotations, ExternalName
//! into the cluster, LoadBalancer without a grant, over-long lists, and one
//! team's backlog filling every worker slot. Each is refused at save time
//! and/or at deploy request time with a message naming the field.

use serde_json::{Value, json};
use slipway::domain::grants::{self, HostGrantInput};
use slipway::domain::services as editing;
use slipway::error::AppError;
use slipway::store::deploy_leases;
use slipway::store::deploys::Trigger;
use slipway::store::services::Service;
use sqlx::PgPool;
use uuid::Uuid;

use crate::harness::{
    SpecBuilder, TestApp, actor, api_token, create_service, create_user, current_user, request,
    try_request, with_token,
};

/// A web service `name` of `team` with an Ingress (`ingress` is the flow map's inside).
fn web_with(team: &str, name: &str, extra: &str) -> String {
    format!("{}{extra}", SpecBuilder::web(name).team(team).to_yaml())
}

/// Creating `yaml` in `team` as `email`: the field errors, or none.
async fn try_create(pool: &PgPool, email: &str, team: &str, yaml: &str) -> Vec<(String, String)> {
    let user = current_user(pool, email).await;
    let result = match editing::prepare_text(yaml) {
        Ok(prepared) => editing::create_service(pool, &user, &actor(&user), team, &prepared, "c")
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Vec::new(),
        Err(AppError::Invalid(errors)) => errors.into_iter().map(|e| (e.path, e.message)).collect(),
        Err(other) => panic!("{other:?}"),
    }
}

fn field<'a>(errors: &'a [(String, String)], path: &str) -> &'a str {
    errors
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, m)| m.as_str())
        .unwrap_or_else(|| panic!("no error at {path}: {errors:?}"))
}

async fn drop_grants(pool: &PgPool, team: &str) {
    sqlx::query("delete from host_grants where team_id = (select id from teams where name = $1)")
        .bind(team)
        .execute(pool)
        .await
        .unwrap();
}

/// Team `shop` (ann) and team `evil` (bob), each with a service `web` whose
/// spec carries the same `ingress` line; saved before anything is claimed.
async fn rival_services(pool: &PgPool, ingress: &str) -> (Service, Service) {
    create_user(pool, "ann@shop.io", false, &["shop"]).await;
    create_user(pool, "bob@evil.io", false, &["evil"]).await;
    let shop = create_service(
        pool,
        "ann@shop.io",
        "shop",
        &web_with("shop", "web", ingress),
    )
    .await;
    let evil = create_service(
        pool,
        "bob@evil.io",
        "evil",
        &web_with("evil", "web", ingress),
    )
    .await;
    (shop, evil)
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn another_teams_host_and_path_is_refused_naming_the_owner(pool: PgPool) {
    let ingress = "  ingress: {hosts: [shop.example.com], paths: [{path: /login}]}\n";
    // Both save first (nothing is claimed yet), then A deploys and claims the pair.
    let (shop, evil) = rival_services(&pool, ingress).await;
    request(&pool, "ann@shop.io", &shop, "development", "x/web:1").await;
    // B's deploy request, the authoritative check, is refused naming A's service.
    let bob = current_user(&pool, "bob@evil.io").await;
    let refused = try_request(
        &pool,
        &evil,
        &actor(&bob),
        Trigger::User,
        "development",
        "x/web:1",
    )
    .await
    .unwrap_err();
    let AppError::Invalid(errors) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(errors[0].path, "spec.ingress.hosts[0]");
    assert!(errors[0].message.contains("shop/web"), "{errors:?}");
    // Saving it anew is refused at once, too.
    let errors = try_create(
        &pool,
        "bob@evil.io",
        "evil",
        &web_with("evil", "web2", ingress),
    )
    .await;
    assert!(field(&errors, "spec.ingress.hosts[0]").contains("claimed by shop/web"));
    // Another path on the same host is free; A's next deploy without the
    // Ingress releases the pair.
    let other = "  ingress: {hosts: [shop.example.com], paths: [{path: /evil}]}\n";
    assert!(
        try_create(
            &pool,
            "bob@evil.io",
            "evil",
            &web_with("evil", "web3", other)
        )
        .await
        .is_empty()
    );
    let shop =
        crate::harness::save_revision(&pool, "ann@shop.io", &shop, &web_with("shop", "web", ""))
            .await;
    request(&pool, "ann@shop.io", &shop, "development", "x/web:2").await;
    assert!(
        try_request(
            &pool,
            &evil,
            &actor(&bob),
            Trigger::User,
            "development",
            "x/web:1"
        )
        .await
        .is_ok()
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn two_racing_requests_for_one_host_cannot_both_claim_it(pool: PgPool) {
    let (a, b) = rival_services(&pool, "  ingress: {hosts: [race.example.com]}\n").await;
    let (ann, bob) = (
        current_user(&pool, "ann@shop.io").await,
        current_user(&pool, "bob@evil.io").await,
    );
    let (ann, bob) = (actor(&ann), actor(&bob));
    let (ra, rb) = tokio::join!(
        try_request(&pool, &a, &ann, Trigger::User, "development", "x/web:1"),
        try_request(&pool, &b, &bob, Trigger::User, "staging", "x/web:1"),
    );
    assert_eq!(ra.is_ok() as u8 + rb.is_ok() as u8, 1, "{ra:?} {rb:?}");
    let owners: i64 = sqlx::query_scalar(
        "select count(distinct service_id) from host_claims where host = 'race.example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(owners, 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_host_outside_the_grant_and_an_ungranted_wildcard_are_refused(pool: PgPool) {
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let outside = try_create(
        &pool,
        "ann@shop.io",
        "shop",
        &web_with("shop", "a", "  ingress: {hosts: [shop.evil.test]}\n"),
    )
    .await;
    assert!(field(&outside, "spec.ingress.hosts[0]").contains("not under a domain granted"));
    let wildcard = try_create(
        &pool,
        "ann@shop.io",
        "shop",
        &web_with("shop", "b", "  ingress: {hosts: ['*.example.com']}\n"),
    )
    .await;
    assert!(field(&wildcard, "spec.ingress.hosts[0]").contains("wildcard grant"));
    // An explicit wildcard grant allows it below its suffix.
    let admin = current_user(&pool, "ann@shop.io").await;
    grants::add_host_grant(
        &pool,
        &actor(&admin),
        &HostGrantInput {
            team: "shop".into(),
            environment: String::new(),
            suffix: "apps.example.com".into(),
            wildcard: true,
            ..HostGrantInput::default()
        },
    )
    .await
    .unwrap();
    assert!(
        try_create(
            &pool,
            "ann@shop.io",
            "shop",
            &web_with("shop", "c", "  ingress: {hosts: ['*.apps.example.com']}\n")
        )
        .await
        .is_empty()
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_grant_for_one_environment_is_refused_in_another_at_request_time(pool: PgPool) {
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    drop_grants(&pool, "shop").await;
    let ann = current_user(&pool, "ann@shop.io").await;
    grants::add_host_grant(
        &pool,
        &actor(&ann),
        &HostGrantInput {
            team: "shop".into(),
            environment: "staging".into(),
            suffix: "shop.example.com".into(),
            wildcard: false,
            ..HostGrantInput::default()
        },
    )
    .await
    .unwrap();
    // Saving is allowed: staging could serve it.
    let service = create_service(
        &pool,
        "ann@shop.io",
        "shop",
        &web_with("shop", "web", "  ingress: {hosts: [shop.example.com]}\n"),
    )
    .await;
    let refused = try_request(
        &pool,
        &service,
        &actor(&ann),
        Trigger::User,
        "development",
        "x/web:1",
    )
    .await
    .unwrap_err();
    let AppError::Invalid(errors) = refused else {
        panic!("{refused:?}")
    };
    assert!(errors[0].message.contains("in development"), "{errors:?}");
    request(&pool, "ann@shop.io", &service, "staging", "x/web:1").await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn forbidden_annotations_are_refused_even_when_the_allow_list_would_match(pool: PgPool) {
    let root = create_user(&pool, "root@slipway.io", true, &[]).await;
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let app = TestApp::spawn(pool.clone()).await;
    let token = api_token(&pool, root.id, "admin").await;
    let post = |path: &'static str, body: Value| {
        let req = with_token(app.client.post(app.url(path)), &token).json(&body);
        async move { req.send().await.unwrap() }
    };
    // The admin allows every nginx key with any value...
    let res = post(
        "/api/v1/admin/annotation-rules",
        json!({"key": "nginx.ingress.kubernetes.io/", "prefix": true, "value_pattern": ".*"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    // A misspelt field is refused, not ignored.
    let res = post(
        "/api/v1/admin/annotation-rules",
        json!({"key": "example.org/x", "prefx": true, "value_pattern": ".*"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    // ... but cannot list a key that is never allowed.
    let res = post(
        "/api/v1/admin/annotation-rules",
        json!({"key": "cert-manager.io/cluster-issuer", "value_pattern": ".*"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["path"], "key");
    for key in [
        "cert-manager.io/cluster-issuer",
        "nginx.ingress.kubernetes.io/configuration-snippet",
        "nginx.ingress.kubernetes.io/auth-url",
        "alb.ingress.kubernetes.io/group.name",
        "slipway.dev/revision",
    ] {
        let yaml = web_with(
            "shop",
            "web",
            &format!(
                "  ingress:\n    hosts: [shop.example.com]\n    annotations: {{'{key}': 'http://169.254.169.254/'}}\n"
            ),
        );
        let errors = try_create(&pool, "ann@shop.io", "shop", &yaml).await;
        let path = format!("spec.ingress.annotations[\"{key}\"]");
        assert!(
            field(&errors, &path).contains("may not be set from a spec"),
            "{key}: {errors:?}"
        );
    }
    // An allowed key with an allowed value passes.
    let yaml = web_with(
        "shop",
        "web",
        "  ingress:\n    hosts: [shop.example.com]\n    annotations: {nginx.ingress.kubernetes.io/proxy-body-size: 8m}\n",
    );
    assert!(
        try_create(&pool, "ann@shop.io", "shop", &yaml)
            .await
            .is_empty()
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_annotation_off_the_default_allow_list_or_with_a_bad_value_is_refused(pool: PgPool) {
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    // The default allow-list has proxy-body-size with a size pattern, and no rewrite-target.
    let yaml = web_with(
        "shop",
        "web",
        "  ingress:\n    hosts: [shop.example.com]\n    annotations:\n      nginx.ingress.kubernetes.io/proxy-body-size: 8m; evil\n      nginx.ingress.kubernetes.io/rewrite-target: /\n",
    );
    let errors = try_create(&pool, "ann@shop.io", "shop", &yaml).await;
    assert!(
        field(
            &errors,
            "spec.ingress.annotations[\"nginx.ingress.kubernetes.io/proxy-body-size\"]"
        )
        .contains("not an allowed value")
    );
    assert!(
        field(
            &errors,
            "spec.ingress.annotations[\"nginx.ingress.kubernetes.io/rewrite-target\"]"
        )
        .contains("allow-list")
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_external_name_into_the_cluster_is_refused_through_the_api(pool: PgPool) {
    let ann = create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let app = TestApp::spawn(pool.clone()).await;
    let token = api_token(&pool, ann.id, "t").await;
    let mut spec = SpecBuilder::web("web").team("shop").to_json();
    spec["spec"]["externalServices"] =
        json!([{"name": "api", "externalName": "kubernetes.default.svc.cluster.local"}]);
    let res = with_token(
        app.client.post(app.url("/api/v1/teams/shop/services")),
        &token,
    )
    .json(&json!({"spec": spec, "message": "m"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["fields"][0]["path"],
        "spec.externalServices[0].externalName"
    );
    assert!(
        body["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cluster-internal")
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_load_balancer_needs_an_exposure_grant_for_its_environment(pool: PgPool) {
    create_user(&pool, "root@slipway.io", true, &[]).await;
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let lb = web_with("shop", "web", "  service: {type: LoadBalancer}\n");
    let errors = try_create(&pool, "ann@shop.io", "shop", &lb).await;
    assert!(field(&errors, "spec.service.type").contains("exposure grant"));
    // The admin grants it in development through the portal page.
    let admin = TestApp::signed_in(&pool, "root@slipway.io").await;
    let res = admin
        .post_form(
            "/admin/tenancy/exposure",
            &[
                ("team", "shop"),
                ("environment", "development"),
                ("service_type", "LoadBalancer"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = admin.page("/admin/tenancy").await;
    assert!(page.contains("LoadBalancer"), "{page}");
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'grant.exposure.add'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);
    let service = create_service(&pool, "ann@shop.io", "shop", &lb).await;
    request(&pool, "ann@shop.io", &service, "development", "x/web:1").await;
    let ann = current_user(&pool, "ann@shop.io").await;
    let refused = try_request(
        &pool,
        &service,
        &actor(&ann),
        Trigger::User,
        "staging",
        "x/web:1",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&refused, AppError::Invalid(e) if e[0].path == "spec.service.type"),
        "{refused:?}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn over_long_lists_are_refused_naming_the_field(pool: PgPool) {
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let env: String = (0..201)
        .map(|i| format!("    - {{name: V{i}, value: x}}\n"))
        .collect();
    let hosts: Vec<String> = (0..21).map(|i| format!("h{i}.example.com")).collect();
    let yaml = web_with(
        "shop",
        "web",
        &format!(
            "  env:\n{env}  ingress: {{hosts: [{}]}}\n",
            hosts.join(", ")
        ),
    );
    let errors = try_create(&pool, "ann@shop.io", "shop", &yaml).await;
    assert!(field(&errors, "spec.env").contains("at most 200"));
    assert!(field(&errors, "spec.ingress.hosts").contains("at most 20"));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn one_teams_backlog_cannot_take_every_worker_slot(pool: PgPool) {
    create_user(&pool, "ann@a.io", false, &["teama"]).await;
    create_user(&pool, "bob@b.io", false, &["teamb"]).await;
    let mut a_deploys = Vec::new();
    for i in 0..6 {
        let name = format!("w{i}");
        let service = create_service(
            &pool,
            "ann@a.io",
            "teama",
            &SpecBuilder::worker(&name).team("teama").to_yaml(),
        )
        .await;
        a_deploys.push(
            request(&pool, "ann@a.io", &service, "staging", "x/w:1")
                .await
                .id,
        );
    }
    let b = create_service(
        &pool,
        "bob@b.io",
        "teamb",
        &SpecBuilder::worker("w").team("teamb").to_yaml(),
    )
    .await;
    let b_deploy = request(&pool, "bob@b.io", &b, "staging", "x/w:1").await.id;
    // Four slots: a team may hold two while another team waits.
    let share = deploy_leases::team_share(4);
    assert_eq!(share, 2);
    let mut order = Vec::new();
    for _ in 0..4 {
        let mut tx = pool.begin().await.unwrap();
        let claimed = deploy_leases::claim_next_fair(&mut tx, Uuid::new_v4(), 30.0, "w", share)
            .await
            .unwrap()
            .expect("something to claim");
        tx.commit().await.unwrap();
        order.push(claimed.id);
    }
    // B's deploy, queued after all six of A's, is claimed second.
    assert_eq!(order[1], b_deploy, "{order:?} (A: {a_deploys:?})");
    assert_eq!(order.iter().filter(|id| a_deploys.contains(id)).count(), 3);
    // With B's deploy running and nothing of B waiting, A may use the slots.
    let queued_a: i64 = sqlx::query_scalar("select count(*) from deploys where state = 'queued'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued_a, 3);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_team_at_its_share_is_passed_over_while_another_team_waits(pool: PgPool) {
    create_user(&pool, "ann@a.io", false, &["teama"]).await;
    create_user(&pool, "bob@b.io", false, &["teamb"]).await;
    let mut a_deploys = Vec::new();
    for i in 0..3 {
        let service = create_service(
            &pool,
            "ann@a.io",
            "teama",
            &SpecBuilder::worker(&format!("w{i}"))
                .team("teama")
                .to_yaml(),
        )
        .await;
        a_deploys.push(
            request(&pool, "ann@a.io", &service, "staging", "x/w:1")
                .await
                .id,
        );
    }
    // Two slots: A holds one (its share) ...
    let share = deploy_leases::team_share(2);
    let mut tx = pool.begin().await.unwrap();
    let first = deploy_leases::claim_next_fair(&mut tx, Uuid::new_v4(), 30.0, "w", share)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(first.id, a_deploys[0]);
    // ... B's deploy arrives after A's backlog and still goes next.
    let b = create_service(
        &pool,
        "bob@b.io",
        "teamb",
        &SpecBuilder::worker("w").team("teamb").to_yaml(),
    )
    .await;
    let b_deploy = request(&pool, "bob@b.io", &b, "staging", "x/w:1").await.id;
    let mut tx = pool.begin().await.unwrap();
    let second = deploy_leases::claim_next_fair(&mut tx, Uuid::new_v4(), 30.0, "w", share)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(second.id, b_deploy);
}

/// On the local control plane: with an exposure grant a LoadBalancer Service is
/// applied, the Ingress carries the allowed annotation, and the managed
/// `slipway.dev/` annotations are Slipway's; another service's request for the
/// same (host, path) then fails before anything reaches the cluster.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn granted_exposure_reaches_the_cluster_and_a_claimed_host_does_not(pool: PgPool) {
    use k8s_openapi::api::core::v1::Service as KubeService;
    use k8s_openapi::api::networking::v1::Ingress;

    let t = crate::harness::ClusterTest::new(&pool, &["staging"]).await;
    let admin = create_user(&pool, "root@slipway.io", true, &[]).await;
    let _ = admin;
    let root = current_user(&pool, "root@slipway.io").await;
    grants::add_exposure_grant(
        &pool,
        &actor(&root),
        &grants::ExposureGrantInput {
            team: t.team.clone(),
            environment: "staging".into(),
            service_type: "LoadBalancer".into(),
            fixed_node_ports: false,
            ..grants::ExposureGrantInput::default()
        },
    )
    .await
    .unwrap();
    let host = format!("{}.example.com", t.team);
    let yaml = web_with(
        &t.team,
        "web",
        &format!(
            "  service: {{type: LoadBalancer}}\n  ingress:\n    hosts: [{host}]\n    annotations: {{nginx.ingress.kubernetes.io/proxy-body-size: 8m}}\n"
        ),
    );
    let service = t.service_yaml(&yaml).await;
    t.deploy_ok(&service, "registry.example.com/x/web:1").await;
    let services: kube::Api<KubeService> = kube::Api::namespaced(t.client.clone(), &t.ns());
    let live = services.get("web").await.unwrap();
    assert_eq!(
        live.spec.and_then(|s| s.type_).as_deref(),
        Some("LoadBalancer")
    );
    let ingresses: kube::Api<Ingress> = kube::Api::namespaced(t.client.clone(), &t.ns());
    let annotations = ingresses
        .get("web")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert_eq!(
        annotations["nginx.ingress.kubernetes.io/proxy-body-size"],
        "8m"
    );
    assert!(annotations.contains_key("slipway.dev/deploy-id"));
    // A second team's service for the same host and path: refused at request time.
    create_user(&pool, "bob@evil.io", false, &["evil"]).await;
    let evil_yaml = web_with("evil", "web", &format!("  ingress: {{hosts: [{host}]}}\n"));
    let errors = try_create(&pool, "bob@evil.io", "evil", &evil_yaml).await;
    assert!(field(&errors, "spec.ingress.hosts[0]").contains(&format!("{}/web", t.team)));
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn removing_a_grant_through_the_api_audits_it_with_its_team_and_environment(pool: PgPool) {
    let root = create_user(&pool, "root@slipway.io", true, &[]).await;
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let app = TestApp::spawn(pool.clone()).await;
    let token = api_token(&pool, root.id, "admin").await;
    let send = |req: reqwest::RequestBuilder| async move { req.send().await.unwrap() };
    let cases = [
        (
            "/api/v1/admin/host-grants",
            json!({"team": "shop", "environment": "staging", "suffix": "gone.example.com"}),
            "grant.host.remove",
        ),
        (
            "/api/v1/admin/exposure-grants",
            json!({"team": "shop", "environment": "staging", "service_type": "LoadBalancer"}),
            "grant.exposure.remove",
        ),
    ];
    for (path, body, action) in cases {
        let res = send(with_token(app.client.post(app.url(path)), &token).json(&body)).await;
        assert_eq!(res.status(), 201, "{path}");
        let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let delete = || with_token(app.client.delete(app.url(&format!("{path}/{id}"))), &token);
        assert_eq!(send(delete()).await.status(), 204, "{path}");
        // Gone: a second removal finds nothing.
        assert_eq!(send(delete()).await.status(), 404, "{path}");
        let (target, detail): (String, Value) = sqlx::query_as(
            "select target, detail from audit_log where action = $1 and (detail->>'id')::bigint = $2",
        )
        .bind(action)
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(target, "shop", "{action}");
        assert_eq!(detail["environment"], "staging", "{action}: {detail}");
    }
}
