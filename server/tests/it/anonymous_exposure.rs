//! What an anonymous visitor learns: metrics on their own listener, readiness
//! as booleans, no cluster line on the login page. And two input edges: a huge
//! catalog page number, LIKE wildcards in the audit filter.

use slipway::app::{self, AppState};
use slipway::cluster::Handle as ClusterHandle;
use slipway::config::Config;
use slipway::store::audit::{self, Actor, Filter};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::harness::{TestApp, create_user};

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn metrics_move_to_their_own_listener_when_configured(pool: PgPool) {
    let metrics_addr = "127.0.0.1:9".parse().unwrap();
    let app = TestApp::spawn_with(pool.clone(), ClusterHandle::disabled(), |c| {
        c.metrics_addr = Some(metrics_addr);
    })
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(
        app.get("/metrics").await.status(),
        404,
        "the public listener no longer serves metrics"
    );

    let mut config = Config::for_database("postgres://unused");
    config.metrics_addr = Some(metrics_addr);
    let state = AppState::new(pool, ClusterHandle::disabled(), config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(app::serve_metrics(listener, state, std::future::pending()));
    let client = reqwest::Client::new();
    let res = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let login = client
        .get(format!("http://{addr}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        login.status(),
        404,
        "the metrics listener serves nothing else"
    );
    server.abort();
}

#[tokio::test]
async fn readyz_says_booleans_and_no_error_text() {
    // Nothing listens on port 1: the database is unreachable.
    let options =
        slipway::store::connect_options("postgres://slipway:pw@127.0.0.1:1/slipway").unwrap();
    let app = TestApp::spawn(slipway::store::lazy_pool(options)).await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    let fields = body.as_object().unwrap();
    assert!(!fields.is_empty());
    for (name, value) in fields {
        assert!(value.is_boolean(), "{name}: {value}");
    }
    assert_eq!(body["database"], false);
    assert_eq!(body["ready"], false);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_footer_names_the_cluster_only_to_people_signed_in(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let anonymous = TestApp::spawn(pool.clone()).await;
    let login = anonymous.page("/login").await;
    assert!(!login.contains("no cluster configured"), "{login}");
    let signed_in = TestApp::signed_in(&pool, "ann@example.com").await;
    let home = signed_in.page("/").await;
    assert!(home.contains("no cluster configured"), "{home}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_huge_catalog_page_number_shows_the_last_page(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    for page in ["9223372036854775807", "-9223372036854775808", "0"] {
        let res = app.get(&format!("/?page={page}")).await;
        assert_eq!(res.status(), 200, "page={page}");
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn audit_filters_match_wildcards_literally(pool: PgPool) {
    for name in ["a_b@example.com", "axb@example.com", "100%@example.com"] {
        let actor = Actor {
            user_id: None,
            name: name.into(),
            client_addr: None,
        };
        audit::record(&pool, &actor, "user.login", name, serde_json::json!({}))
            .await
            .unwrap();
    }
    let actors = |filter: Filter| {
        let pool = pool.clone();
        async move {
            audit::list(&pool, &filter, 50)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.actor)
                .collect::<Vec<_>>()
        }
    };
    let underscore = actors(Filter {
        actor: Some("a_b".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(underscore, ["a_b@example.com"]);
    let percent = actors(Filter {
        target: Some("%".into()),
        ..Filter::default()
    })
    .await;
    assert_eq!(percent, ["100%@example.com"]);
    let prefix = actors(Filter {
        action: Some("user_".into()),
        ..Filter::default()
    })
    .await;
    assert!(prefix.is_empty(), "{prefix:?}");
}
