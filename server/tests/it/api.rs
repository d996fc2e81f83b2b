//! The JSON API with personal tokens: services and revisions, render and check
//! previews, the error format, and tokens created and revoked in the portal.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::harness::{PASSWORD, SpecBuilder, TestApp, api_token, create_user, with_token};

/// `examples/flask.yaml` as the API's JSON, renamed to `name` in `team`.
fn flask_spec(name: &str, team: &str) -> Value {
    SpecBuilder::example("flask")
        .name(name)
        .team(team)
        .to_json()
}

struct Api {
    app: TestApp,
    ann: String,
    olga: String,
}

/// ann (member of shop), olga (member of billing), each with a token.
async fn setup(pool: &PgPool) -> Api {
    let ann = create_user(pool, "ann@example.com", false, &["shop"]).await;
    let olga = create_user(pool, "olga@example.com", false, &["billing"]).await;
    let ann = api_token(pool, ann.id, "test").await;
    let olga = api_token(pool, olga.id, "test").await;
    Api {
        app: TestApp::spawn(pool.clone()).await,
        ann,
        olga,
    }
}

impl Api {
    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        with_token(self.app.client.get(self.app.url(path)), token)
            .send()
            .await
            .unwrap()
    }

    async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        with_token(self.app.client.request(method, self.app.url(path)), token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn create(&self, token: &str, team: &str, spec: Value) -> reqwest::Response {
        let body = json!({"spec": spec, "message": "first"});
        self.send(
            reqwest::Method::POST,
            token,
            &format!("/api/v1/teams/{team}/services"),
            &body,
        )
        .await
    }
}

fn field_paths(body: &Value) -> Vec<String> {
    body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_service_is_created_revised_and_listed_through_the_api(pool: PgPool) {
    let api = setup(&pool).await;
    let res = api
        .create(&api.ann, "shop", flask_spec("catalog-api", "shop"))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"team": "shop", "name": "catalog-api", "revision": 1})
    );

    let mut spec = flask_spec("catalog-api", "shop");
    spec["metadata"]["description"] = json!("Now with more catalogue.");
    let body = json!({"spec": spec, "message": "describe it better", "base_revision": 1});
    let res = api
        .send(
            reqwest::Method::PUT,
            &api.ann,
            "/api/v1/teams/shop/services/catalog-api",
            &body,
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["revision"], 2);
    assert_eq!(body["hash"].as_str().unwrap().len(), 64);

    let res = api
        .get(
            &api.ann,
            "/api/v1/teams/shop/services/catalog-api/revisions",
        )
        .await;
    assert_eq!(res.status(), 200);
    let revisions: Vec<Value> = res.json().await.unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["revision"], 2);
    assert_eq!(revisions[0]["message"], "describe it better");
    assert_eq!(revisions[0]["author"], "ann@example.com");
    assert_eq!(revisions[1]["message"], "first");
    let created_at = revisions[0]["created_at"].as_str().unwrap();
    time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
        .expect("created_at is RFC 3339");

    let res = api
        .get(
            &api.ann,
            "/api/v1/teams/shop/services/catalog-api/revisions/1",
        )
        .await;
    assert_eq!(res.status(), 200);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["revision"], 1);
    assert_eq!(first["spec"]["metadata"]["name"], "catalog-api");
    assert!(first["spec_yaml"].as_str().unwrap().contains("catalog-api"));
    assert_eq!(
        api.get(
            &api.ann,
            "/api/v1/teams/shop/services/catalog-api/revisions/9"
        )
        .await
        .status(),
        404
    );

    let service: Value = api
        .get(&api.ann, "/api/v1/teams/shop/services/catalog-api")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(service["revision"], 2);
    assert_eq!(service["kind"], "web");
    assert_eq!(service["framework"], "flask");
    assert_eq!(
        service["spec"]["metadata"]["description"],
        "Now with more catalogue."
    );

    let list: Vec<Value> = api
        .get(&api.ann, "/api/v1/services")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list,
        [
            json!({"team": "shop", "name": "catalog-api", "kind": "web", "framework": "flask", "revision": 2})
        ]
    );

    let audit: Vec<(String, String)> = sqlx::query_as(
        "select action, actor from audit_log where target = 'shop/catalog-api' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        [
            ("service.create".to_owned(), "ann@example.com".to_owned()),
            ("service.revise".to_owned(), "ann@example.com".to_owned())
        ]
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_stale_base_revision_is_a_conflict_and_saves_nothing(pool: PgPool) {
    let api = setup(&pool).await;
    api.create(&api.ann, "shop", flask_spec("catalog-api", "shop"))
        .await;
    let mut spec = flask_spec("catalog-api", "shop");
    spec["metadata"]["description"] = json!("edit one");
    let path = "/api/v1/teams/shop/services/catalog-api";
    let res = api
        .send(
            reqwest::Method::PUT,
            &api.ann,
            path,
            &json!({"spec": spec, "base_revision": 1}),
        )
        .await;
    assert_eq!(res.status(), 201);
    spec["metadata"]["description"] = json!("edit two, from the old base");
    let res = api
        .send(
            reqwest::Method::PUT,
            &api.ann,
            path,
            &json!({"spec": spec, "base_revision": 1}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revision 2"),
        "{body}"
    );
    let count: i64 = sqlx::query_scalar("select count(*) from service_revisions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
    // Without a base, the same text is saved on top of the current revision.
    let res = api
        .send(reqwest::Method::PUT, &api.ann, path, &json!({"spec": spec}))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["revision"], 3);
    // Saving the same spec again changes nothing: a conflict, not an empty revision.
    let res = api
        .send(reqwest::Method::PUT, &api.ann, path, &json!({"spec": spec}))
        .await;
    assert_eq!(res.status(), 409);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn invalid_input_is_422_with_field_paths(pool: PgPool) {
    let api = setup(&pool).await;
    let mut spec = flask_spec("Catalog_API", "shop");
    spec["spec"]["replicas"] = json!("many");
    let res = api.create(&api.ann, "shop", spec).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid");
    // The document's own paths, as the editor and `slipway validate` give them.
    let paths = field_paths(&body);
    assert!(paths.contains(&"metadata.name".to_owned()), "{body}");
    assert!(paths.contains(&"spec.replicas".to_owned()), "{body}");

    let res = api
        .send(
            reqwest::Method::POST,
            &api.ann,
            "/api/v1/teams/shop/services",
            &json!({"message": "x"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["fields"],
        json!([{"path": "spec", "message": "required"}])
    );

    let res = api
        .send(
            reqwest::Method::POST,
            &api.ann,
            "/api/v1/teams/shop/services",
            &json!({"spec": "apiVersion: x"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["fields"][0]["path"],
        "spec"
    );

    let res = with_token(
        api.app
            .client
            .post(api.app.url("/api/v1/teams/shop/services")),
        &api.ann,
    )
    .header("content-type", "application/json")
    .body("{\"spec\": ")
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["path"], "body");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("body: is not valid JSON"),
        "{body}"
    );

    let res = with_token(
        api.app
            .client
            .post(api.app.url("/api/v1/teams/shop/services")),
        &api.ann,
    )
    .body("{}")
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Content-Type: application/json"),
        "{body}"
    );

    let res = api
        .send(
            reqwest::Method::POST,
            &api.ann,
            "/api/v1/teams/shop/services",
            &json!({"spec": {}, "base_rev": 1}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `base_rev`"),
        "{body}"
    );

    // A spec naming another team than the URL's is refused on its field.
    let res = api
        .create(&api.ann, "shop", flask_spec("catalog-api", "billing"))
        .await;
    assert_eq!(res.status(), 422);
    assert!(field_paths(&res.json().await.unwrap()).contains(&"metadata.team".to_owned()));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn bad_missing_and_revoked_tokens_are_401_in_the_json_format(pool: PgPool) {
    let api = setup(&pool).await;
    let res = api.app.get("/api/v1/services").await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(body["error"]["fields"].is_array());

    assert_eq!(
        api.get(
            "slw_0000000000000000000000000000000000000000",
            "/api/v1/services"
        )
        .await
        .status(),
        401
    );
    let res = api
        .app
        .client
        .get(api.app.url("/api/v1/services"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Revoked in the portal: refused from then on.
    assert_eq!(api.get(&api.ann, "/api/v1/services").await.status(), 200);
    api.app.login_as("ann@example.com", PASSWORD).await;
    let id: i64 = sqlx::query_scalar("select id from api_tokens where token_hash = $1")
        .bind(slipway::auth::tokens::hash(&api.ann))
        .fetch_one(&pool)
        .await
        .unwrap();
    let res = api
        .app
        .post_form(&format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let res = api.get(&api.ann, "/api/v1/services").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "unauthenticated"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn another_teams_services_are_refused_and_not_listed(pool: PgPool) {
    let api = setup(&pool).await;
    assert_eq!(
        api.create(&api.ann, "shop", flask_spec("catalog-api", "shop"))
            .await
            .status(),
        201
    );

    let base = "/api/v1/teams/shop/services/catalog-api";
    for path in [
        base.to_owned(),
        format!("{base}/revisions"),
        format!("{base}/revisions/1"),
        format!("{base}/render?environment=production"),
        format!("{base}/check?environment=production"),
        // A service that does not exist looks the same to an outsider: no probing.
        "/api/v1/teams/shop/services/no-such-service".to_owned(),
    ] {
        let res = api.get(&api.olga, &path).await;
        assert_eq!(res.status(), 403, "{path}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"]["code"],
            "forbidden"
        );
    }
    let mut spec = flask_spec("catalog-api", "shop");
    spec["metadata"]["description"] = json!("hijacked");
    let res = api
        .send(
            reqwest::Method::PUT,
            &api.olga,
            base,
            &json!({"spec": spec}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = api
        .create(&api.olga, "shop", flask_spec("intruder", "shop"))
        .await;
    assert_eq!(res.status(), 403);
    let revisions: i64 = sqlx::query_scalar("select count(*) from service_revisions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(revisions, 1, "nothing changed");

    let list: Vec<Value> = api
        .get(&api.olga, "/api/v1/services")
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty(), "{list:?}");
    let teams: Vec<Value> = api
        .get(&api.olga, "/api/v1/teams")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0]["name"], "billing");

    let root = create_user(&pool, "root@example.com", true, &[]).await;
    let root = api_token(&pool, root.id, "test").await;
    let teams: Vec<Value> = api.get(&root, "/api/v1/teams").await.json().await.unwrap();
    assert_eq!(teams.len(), 2, "admins see every team");
    let list: Vec<Value> = api
        .get(&root, "/api/v1/services")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn render_and_check_preview_a_revision_per_environment(pool: PgPool) {
    let api = setup(&pool).await;
    api.create(&api.ann, "shop", flask_spec("catalog-api", "shop"))
        .await;
    let base = "/api/v1/teams/shop/services/catalog-api";

    let res = api.get(&api.ann, &format!("{base}/render?environment=production&image=registry.example.com/shop/catalog-api:2.4.0")).await;
    assert_eq!(res.status(), 200);
    let objects: Vec<Value> = res.json().await.unwrap();
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    assert_eq!(deployment["metadata"]["namespace"], "shop-production");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/shop/catalog-api:2.4.0"
    );

    let res = api
        .get(
            &api.ann,
            &format!("{base}/render?environment=staging&format=yaml"),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/yaml")
    );
    let yaml = res.text().await.unwrap();
    assert!(
        yaml.starts_with("---\n")
            && yaml.contains("kind: Deployment")
            && yaml.contains("shop-staging")
    );

    let res = with_token(
        api.app
            .client
            .get(api.app.url(&format!("{base}/render?environment=staging"))),
        &api.ann,
    )
    .header("accept", "application/yaml")
    .send()
    .await
    .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/yaml")
    );

    let res = api.get(&api.ann, &format!("{base}/render")).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["fields"][0]["path"],
        "environment"
    );
    let res = api
        .get(&api.ann, &format!("{base}/render?environment=Prod_1"))
        .await;
    assert_eq!(res.status(), 422);
    let res = api
        .get(
            &api.ann,
            &format!("{base}/render?environment=production&image=NOT%20AN%20IMAGE"),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(field_paths(&res.json().await.unwrap()).contains(&"image".to_owned()));

    let res = api
        .get(&api.ann, &format!("{base}/check?environment=production"))
        .await;
    assert_eq!(res.status(), 200);
    let check: Value = res.json().await.unwrap();
    assert_eq!(check["environment"], "production");
    assert_eq!(check["revision"], 1);
    assert!(check["score"].as_u64().unwrap() <= 100);
    let items = check["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|i| ["PASS", "WARN", "FAIL"].contains(&i["level"].as_str().unwrap()))
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_schema_is_public(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get("/api/v1/schema").await;
    assert_eq!(res.status(), 200);
    let schema: Value = res.json().await.unwrap();
    assert_eq!(schema["$id"], "https://slipway.dev/schemas/service-v1.json");
    assert!(schema["properties"]["spec"].is_object(), "{schema}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_token_made_in_the_portal_is_shown_once_works_and_records_its_use(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;

    let res = app
        .post_form(
            "/account/tokens",
            &[("name", "ci-pipeline"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let at = html
        .find("value=\"slw_")
        .expect("the new token on the page")
        + "value=\"".len();
    let token = html[at..at + 44].to_owned();
    assert!(html.contains("shown only this once"));

    let account = app.page("/account").await;
    assert!(account.contains("ci-pipeline"));
    assert!(!account.contains(&token), "never shown again");
    assert!(account.contains("never"), "not used yet");

    let res = with_token(app.client.get(app.url("/api/v1/teams")), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let teams: Vec<Value> = res.json().await.unwrap();
    assert_eq!(teams[0]["name"], "shop");
    let used: Option<time::OffsetDateTime> =
        sqlx::query_scalar("select last_used_at from api_tokens where name = 'ci-pipeline'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(used.is_some(), "last use recorded");

    let res = app
        .post_form(
            "/account/tokens",
            &[("name", "ci-pipeline"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("you already have a token with this name"));
    assert!(
        !html.contains("value=\"slw_"),
        "no token on a failed create"
    );
    let res = app
        .post_form(
            "/account/tokens",
            &[("name", "  "), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 422);

    // Someone else's token id is not found, and stays live.
    let bob = create_user(&pool, "bob@example.com", false, &[]).await;
    let bobs = api_token(&pool, bob.id, "bobs").await;
    let bob_token_id: i64 = sqlx::query_scalar("select id from api_tokens where name = 'bobs'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let res = app
        .post_form(&format!("/account/tokens/{bob_token_id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 404);
    let res = with_token(app.client.get(app.url("/api/v1/teams")), &bobs)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let actions: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "select action, detail from audit_log where action like 'token.%' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].0, "token.create");
    assert_eq!(actions[0].1["token"], "ci-pipeline");
    let everything: String =
        sqlx::query_scalar("select string_agg(detail::text || target, ' ') from audit_log")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!everything.contains(&token), "the token is never audited");
}
