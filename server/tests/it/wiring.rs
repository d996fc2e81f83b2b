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

use crate::api::{api_token, with_token};
use crate::deploy_worker::{cluster_handle, kube_client};
use crate::deploys::unique_team;
use crate::harness::{PASSWORD, TestApp, create_user};

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

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn wiring_shows_each_variables_source_and_whether_its_key_exists(pool: PgPool) {
    let team = unique_team();
    let namespace = format!("{team}-production");
    let kube = kube_client().await;
    Api::<Namespace>::all(kube.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta(&namespace, ""),
                ..Namespace::default()
            },
        )
        .await
        .unwrap();
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
    let res = with_token(
        app.client
            .post(app.url(&format!("/api/v1/teams/{team}/services"))),
        &token,
    )
    .json(&json!({"spec": spec(&team), "message": "wiring"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

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
    let page = app
        .get(&format!("/services/{team}/api/wiring?env=production"))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
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
    let res = with_token(
        app.client
            .post(app.url(&format!("/api/v1/teams/{team}/services"))),
        &token,
    )
    .json(&json!({"spec": spec(&team), "message": "wiring"}))
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
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
    let html = app
        .get(&format!("/services/{team}/api/wiring"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("The cluster could not be asked"), "{html}");
}
