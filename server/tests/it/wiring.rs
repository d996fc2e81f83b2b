//! Secrets wiring against the local control plane: every variable's source and
//! whether its Secret or ConfigMap key exists, in the portal and the API, and
//! never a value.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::harness::{
    PASSWORD, TestApp, api_token, cluster_handle, create_user, kube_client, managed_namespace,
    unique_team, with_token,
};

/// A value that must never appear in an answer.
const SECRET_VALUE: &str = "postgres://app:hunter2-never-shown@db/app";

fn meta(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        ..ObjectMeta::default()
    }
}

fn spec(team: &str) -> Value {
    json!({
        "apiVersion": "slipway.dev/v1",
        "kind": "Service",
        "metadata": {"name": "api", "team": team},
        "spec": {
            "image": "registry.example.com/api:1.0.0",
            "ports": [{"name": "http", "port": 8000}],
            "env": [
                {"name": "DATABASE_URL", "secret": {"name": "db", "key": "url"}},
                {"name": "DATABASE_PASSWORD", "secret": {"name": "db", "key": "password"}},
                {"name": "SENTRY_DSN", "secret": {"name": "sentry", "key": "dsn"}},
                {"name": "STRIPE_KEY", "secret": {"name": "stripe", "key": "key", "optional": true}},
                {"name": "FLAGS", "configMap": {"name": "settings", "key": "flags"}},
                {"name": "LOG_FORMAT", "value": "json"},
                {"name": "POD_IP", "field": "status.podIP"}
            ]
        }
    })
}

/// Creates service `api` of [`spec`] in `team` through the API.
async fn create_api(app: &TestApp, token: &str, team: &str) {
    let res = with_token(
        app.client
            .post(app.url(&format!("/api/v1/teams/{team}/services"))),
        token,
    )
    .json(&json!({"spec": spec(team), "message": "wiring"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn wiring_shows_each_variables_source_and_whether_its_key_exists(pool: PgPool) {
    let team = unique_team();
    let namespace = format!("{team}-production");
    let kube = kube_client().await;
    managed_namespace(&namespace, &team, "production").await;
    Api::<Secret>::namespaced(kube.clone(), &namespace)
        .create(
            &PostParams::default(),
            &Secret {
                metadata: meta("db", &namespace),
                data: Some(BTreeMap::from([(
                    "url".to_owned(),
                    ByteString(SECRET_VALUE.as_bytes().to_vec()),
                )])),
                ..Secret::default()
            },
        )
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(kube.clone(), &namespace)
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: meta("settings", &namespace),
                data: Some(BTreeMap::from([("flags".to_owned(), "a,b".to_owned())])),
                ..ConfigMap::default()
            },
        )
        .await
        .unwrap();

    let ann = create_user(&pool, "ann@example.com", false, &[&team]).await;
    let token = api_token(&pool, ann.id, "test").await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    create_api(&app, &token, &team).await;

    let base = format!("/api/v1/teams/{team}/services/api/wiring");
    let res = with_token(
        app.client
            .get(app.url(&format!("{base}?environment=production"))),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    app.login_as("ann@example.com", PASSWORD).await;
    let html = app
        .page(&format!("/services/{team}/api/wiring?env=production"))
        .await;
    let bad_env = with_token(
        app.client.get(app.url(&format!("{base}?environment=prod"))),
        &token,
    )
    .send()
    .await
    .unwrap();
    let bad_env_status = bad_env.status();
    let bad_env_body: Value = bad_env.json().await.unwrap();

    let _ = Api::<Namespace>::all(kube)
        .delete(&namespace, &DeleteParams::default())
        .await;

    assert_eq!(
        states,
        [
            ("DATABASE_URL", "present"),
            ("DATABASE_PASSWORD", "missing-key"),
            ("SENTRY_DSN", "missing"),
            ("STRIPE_KEY", "optional-missing"),
            ("FLAGS", "present"),
            ("LOG_FORMAT", "literal"),
            ("POD_IP", "field"),
        ],
        "{text}"
    );
    assert_eq!(rows[0]["source"], "secretKey");
    assert_eq!(rows[0]["secret"], "db");
    assert_eq!(rows[0]["key"], "url");
    assert_eq!(rows[4]["configmap"], "settings");
    assert!(
        !text.contains("hunter2"),
        "no Secret value in the API: {text}"
    );
    assert!(!text.contains("json\""), "no literal value either: {text}");

    assert!(
        html.contains("2 references would keep pods from starting"),
        "{html}"
    );
    assert!(html.contains("missing-key") && html.contains("DATABASE_PASSWORD"));
    assert!(!html.contains("hunter2"), "no Secret value on the page");

    assert_eq!(bad_env_status, 422);
    assert_eq!(bad_env_body["error"]["fields"][0]["path"], "environment");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn without_a_cluster_every_reference_is_unknown_and_the_page_says_why(pool: PgPool) {
    let team = unique_team();
    let ann = create_user(&pool, "ann@example.com", false, &[&team]).await;
    let token = api_token(&pool, ann.id, "test").await;
    let app = TestApp::spawn(pool.clone()).await;
    create_api(&app, &token, &team).await;
    let rows: Vec<Value> = with_token(
        app.client.get(app.url(&format!(
            "/api/v1/teams/{team}/services/api/wiring?environment=staging"
        ))),
        &token,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(rows[0]["state"], "unknown");
    assert_eq!(rows[5]["state"], "literal");
    app.login_as("ann@example.com", PASSWORD).await;
    let html = app.page(&format!("/services/{team}/api/wiring")).await;
    assert!(html.contains("The cluster could not be asked"), "{html}");
}

async fn put_value(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    with_token(app.client.put(app.url(path)), token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_admin_writes_secret_values_that_only_the_cluster_keeps(pool: PgPool) {
    const PASSWORD_VALUE: &str = "pw-4f1c-never-stored";
    const DSN_VALUE: &str = "https://dsn-9d2e-never-stored@sentry.example.com/1";
    let team = unique_team();
    let namespace = format!("{team}-production");
    let ann = create_user(&pool, "ann@example.com", false, &[&team]).await;
    let root = create_user(&pool, "root@example.com", true, &[]).await;
    let ann_token = api_token(&pool, ann.id, "test").await;
    let root_token = api_token(&pool, root.id, "test").await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    create_api(&app, &ann_token, &team).await;

    let secrets = format!("/api/v1/teams/{team}/services/api/secrets");
    let member = put_value(
        &app,
        &ann_token,
        &format!("{secrets}/db/password?environment=production"),
        json!({"value": PASSWORD_VALUE}),
    )
    .await;
    let written_password = put_value(
        &app,
        &root_token,
        &format!("{secrets}/db/password?environment=production"),
        json!({"value": PASSWORD_VALUE}),
    )
    .await;
    let written_url = put_value(
        &app,
        &root_token,
        &format!("{secrets}/db/url?environment=production"),
        json!({"value": SECRET_VALUE}),
    )
    .await;
    let unreferenced = put_value(
        &app,
        &root_token,
        &format!("{secrets}/other/key?environment=production"),
        json!({"value": "x"}),
    )
    .await;
    let empty = put_value(
        &app,
        &root_token,
        &format!("{secrets}/db/url?environment=production"),
        json!({"value": ""}),
    )
    .await;
    let no_environment = put_value(
        &app,
        &root_token,
        &format!("{secrets}/db/url"),
        json!({"value": "x"}),
    )
    .await;

    // The portal form, as an admin: the Secret and the namespace do not exist yet.
    app.login_as("root@example.com", PASSWORD).await;
    let form = app
        .post_form(
            &format!("/services/{team}/api/wiring"),
            &[
                ("env", "production"),
                ("secret", "sentry"),
                ("key", "dsn"),
                ("value", DSN_VALUE),
            ],
        )
        .await;
    let form_status = form.status();
    let page = app
        .page(&format!("/services/{team}/api/wiring?env=production"))
        .await;
    let wiring: Vec<Value> = with_token(
        app.client.get(app.url(&format!(
            "/api/v1/teams/{team}/services/api/wiring?environment=production"
        ))),
        &root_token,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();

    let kube = kube_client().await;
    let secrets_api = Api::<Secret>::namespaced(kube.clone(), &namespace);
    let db = secrets_api.get("db").await;
    let sentry = secrets_api.get("sentry").await;
    let stored: String = sqlx::query_scalar(
        "select coalesce(string_agg(action || ' ' || target || ' ' || detail::text, ' | '), '')
         from audit_log where action = 'secret.write'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let _ = Api::<Namespace>::all(kube)
        .delete(&namespace, &DeleteParams::default())
        .await;

    assert_eq!(member.status(), 403, "members may not write values");
    assert_eq!(written_password.status(), 204);
    assert_eq!(written_url.status(), 204);
    assert!(
        written_url.text().await.unwrap().is_empty(),
        "the value never comes back"
    );
    let paths = |v: Value| -> Vec<String> {
        v["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(unreferenced.status(), 422);
    assert_eq!(paths(unreferenced.json().await.unwrap()), ["key"]);
    assert_eq!(empty.status(), 422);
    assert_eq!(paths(empty.json().await.unwrap()), ["value"]);
    assert_eq!(no_environment.status(), 422);
    assert_eq!(paths(no_environment.json().await.unwrap()), ["environment"]);

    let db = db.expect("Secret db created");
    let data = db.data.unwrap_or_default();
    assert_eq!(
        data["password"].0,
        PASSWORD_VALUE.as_bytes(),
        "first key kept"
    );
    assert_eq!(data["url"].0, SECRET_VALUE.as_bytes());
    let labels = db.metadata.labels.unwrap_or_default();
    assert_eq!(labels["slipway.dev/written-by"], "slipway");
    assert!(
        !labels.contains_key("app.kubernetes.io/managed-by"),
        "prune must never select a written Secret"
    );
    assert_eq!(form_status, 303);
    assert_eq!(
        sentry
            .expect("Secret sentry created")
            .data
            .unwrap_or_default()["dsn"]
            .0,
        DSN_VALUE.as_bytes()
    );
    assert!(
        page.contains("Set key dsn of Secret sentry in production."),
        "{page}"
    );
    let state = |name: &str| {
        wiring
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state("DATABASE_URL").as_deref(), Some("present"));
    assert_eq!(state("DATABASE_PASSWORD").as_deref(), Some("present"));
    assert_eq!(state("SENTRY_DSN").as_deref(), Some("present"));

    assert_eq!(stored.matches("secret.write").count(), 3, "{stored}");
    for value in [PASSWORD_VALUE, SECRET_VALUE, DSN_VALUE] {
        assert!(!stored.contains(value), "no value in the audit log");
        assert!(!page.contains(value), "no value on the page");
    }
}
