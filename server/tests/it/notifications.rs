//! Outgoing notifications: an administrator's target hears of the deploy
//! events it wants, signed with the secret it was shown once, retried with
//! backoff; other environments' and other events' targets hear nothing.
//! The receiver is a real HTTP server in the test; the sender's clock is moved
//! by hand, so nothing sleeps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use slipway::domain::notifications::NotificationEvent;
use slipway::store::deploys::Deploy;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

use slipway::deploy_model::Decision;

use crate::harness::{
    SpecBuilder, TestApp, api_token, create_service, create_user, deliver_notifications,
    enqueue_notification, request, try_decide,
};

// ---------------------------------------------------------------- the receiver

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    content_type: String,
    event: String,
    delivery: String,
    signature: String,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
struct Inbox {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once they run out.
    answers: Arc<Mutex<VecDeque<u16>>>,
}

/// A small HTTP server on an ephemeral port that records every request.
struct Receiver {
    base: String,
    inbox: Inbox,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Self {
        let inbox = Inbox {
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
            ..Inbox::default()
        };
        let app = axum::Router::new()
            .fallback(record)
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { base, inbox }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn got(&self) -> Vec<Received> {
        self.inbox.got.lock().unwrap().clone()
    }

    fn got_at(&self, path: &str) -> Vec<Received> {
        self.got().into_iter().filter(|r| r.path == path).collect()
    }
}

async fn record(
    State(inbox): State<Inbox>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    inbox.got.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        content_type: header("content-type"),
        event: header("x-slipway-event"),
        delivery: header("x-slipway-delivery"),
        signature: header("x-slipway-signature"),
        body: body.to_vec(),
    });
    let status = inbox.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// What a receiver does: HMAC-SHA256 of the exact body, compared in constant time.
fn verifies(signature: &str, secret: &str, body: &[u8]) -> bool {
    use hmac::{Hmac, KeyInit, Mac};
    let Some(hex_sig) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

// ---------------------------------------------------------------- setup

struct World {
    pool: PgPool,
    app: TestApp,
    admin_token: String,
    api: slipway::store::services::Service,
}

/// root (admin), dev@shop.io (member of shop) owning shop/api, and a server.
async fn world(pool: &PgPool) -> World {
    let root = create_user(pool, "root@example.com", true, &[]).await;
    create_user(pool, "dev@shop.io", false, &["shop"]).await;
    let api = create_service(
        pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    let admin_token = api_token(pool, root.id, "admin").await;
    World {
        pool: pool.clone(),
        app: TestApp::spawn(pool.clone()).await,
        admin_token,
        api,
    }
}

impl World {
    async fn api_create(&self, body: Value) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/api/v1/notifications"))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a target through the API; returns `(id, secret)`.
    async fn target(&self, body: Value) -> (String, String) {
        let res = self.api_create(body).await;
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let made: Value = res.json().await.unwrap();
        (
            made["id"].as_str().unwrap().to_owned(),
            made["secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn messages(&self, target: &str) -> Value {
        let res = self
            .app
            .client
            .get(
                self.app
                    .url(&format!("/api/v1/notifications/{target}/messages")),
            )
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// A production deploy of shop/api requested by its member (it awaits approval).
    async fn deploy(&self) -> Deploy {
        request(
            &self.pool,
            "dev@shop.io",
            &self.api,
            "production",
            "registry.example.com/shop/api:2.0.0",
        )
        .await
    }
}

// ---------------------------------------------------------------- tests

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_deploy_event_reaches_its_targets_signed_with_the_secret_shown_once(pool: PgPool) {
    let w = world(&pool).await;
    let receiver = Receiver::start(&[]).await;
    let (json_target, json_secret) = w
        .target(
            json!({"name": "ops", "url": receiver.url("/json"), "format": "json",
                       "events": ["awaiting_approval", "failed"]}),
        )
        .await;
    // The Slack target through the admin form: the page shows the secret once.
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    let res = admin
        .post_form(
            "/admin/notifications",
            &[
                ("name", "chat"),
                ("url", &receiver.url("/slack")),
                ("format", "slack"),
                ("environment", "production"),
                ("events", "awaiting_approval"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    let at = page
        .find("aria-label=\"secret\"")
        .expect("the secret is shown");
    let before = &page[..at];
    let start = before.rfind("value=\"").unwrap() + "value=\"".len();
    let slack_secret = before[start..].split('"').next().unwrap().to_owned();
    assert!(slack_secret.starts_with("whsec_"), "{slack_secret}");
    let listed = admin.page("/admin/notifications").await;
    assert!(listed.contains("chat") && !listed.contains(&slack_secret));

    // The request itself queues `awaiting_approval` in its transaction.
    let deploy = w.deploy().await;
    assert!(
        receiver.got().is_empty(),
        "queued, not sent, inside the transition"
    );
    assert_eq!(
        deliver_notifications(&pool, OffsetDateTime::now_utc()).await,
        2
    );

    let json_got = receiver.got_at("/json");
    assert_eq!(json_got.len(), 1);
    let got = &json_got[0];
    assert_eq!(got.content_type, "application/json");
    assert_eq!(got.event, "awaiting_approval");
    let body = got.json();
    assert_eq!(body["event"], "awaiting_approval");
    assert_eq!(body["actor"], "dev@shop.io");
    assert_eq!(body["message"], "");
    assert!(body["at"].as_str().unwrap().ends_with('Z'), "{body}");
    assert_eq!(
        body["deploy"],
        json!({
            "id": deploy.id, "team": "shop", "service": "api", "environment": "production",
            "image": "registry.example.com/shop/api:2.0.0", "revision": 1,
            "state": "awaiting_approval", "reason": deploy.reason, "requested_by": "dev@shop.io",
            "url": format!("http://127.0.0.1:8080/deploys/{}", deploy.id)
        })
    );
    assert!(verifies(&got.signature, &json_secret, &got.body));
    assert!(!verifies(&got.signature, &slack_secret, &got.body));
    assert!(!verifies(&got.signature, "whsec_wrong", &got.body));

    let slack_got = receiver.got_at("/slack");
    assert_eq!(slack_got.len(), 1);
    let slack = &slack_got[0];
    assert_eq!(slack.event, "awaiting_approval");
    assert!(verifies(&slack.signature, &slack_secret, &slack.body));
    assert!(!verifies(&slack.signature, &json_secret, &slack.body));
    let text = slack.json();
    assert_eq!(text.as_object().unwrap().len(), 1, "only `text`: {text}");
    let text = text["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            ":hourglass_flowing_sand: <http://127.0.0.1:8080/deploys/{id}|Deploy #{id}> of *shop/api* to *production* awaits approval",
            id = deploy.id
        )),
        "{text}"
    );
    assert_ne!(got.delivery, slack.delivery, "one delivery id per message");

    // Delivered once: a later pass sends nothing again.
    assert_eq!(
        deliver_notifications(&pool, OffsetDateTime::now_utc() + Duration::hours(3)).await,
        0
    );
    let messages = w.messages(&json_target).await;
    assert_eq!(messages.as_array().unwrap().len(), 1);
    let message = &messages[0];
    assert_eq!(message["state"], "delivered");
    assert_eq!(message["event"], "awaiting_approval");
    assert_eq!(message["deploy_id"], deploy.id);
    assert_eq!(message["id"].to_string(), got.delivery);
    assert_eq!(message["body"], body);
    assert_eq!(message["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(message["attempts"][0]["status"], 200);
    assert_eq!(message["attempts"][0]["attempt"], 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_failing_receiver_gets_the_message_again_only_after_each_backoff(pool: PgPool) {
    let w = world(&pool).await;
    let receiver = Receiver::start(&[500, 500, 200]).await;
    let (target, secret) = w
        .target(json!({"name": "flaky", "url": receiver.url("/in"),
                       "events": ["succeeded"]}))
        .await;
    let deploy = w.deploy().await;
    enqueue_notification(&pool, NotificationEvent::Succeeded, &deploy, "worker 1", "").await;
    let t0 = OffsetDateTime::now_utc();

    assert_eq!(deliver_notifications(&pool, t0).await, 1);
    assert_eq!(receiver.got().len(), 1);
    assert_eq!(
        deliver_notifications(&pool, t0 + Duration::seconds(9)).await,
        0,
        "the first retry waits 10 s"
    );
    let t1 = t0 + Duration::seconds(11);
    assert_eq!(deliver_notifications(&pool, t1).await, 1);
    assert_eq!(receiver.got().len(), 2);
    assert_eq!(
        deliver_notifications(&pool, t1 + Duration::seconds(59)).await,
        0,
        "the second retry waits a minute"
    );
    assert_eq!(receiver.got().len(), 2);
    let t2 = t1 + Duration::seconds(61);
    assert_eq!(deliver_notifications(&pool, t2).await, 1);
    assert_eq!(
        deliver_notifications(&pool, t2 + Duration::hours(3)).await,
        0
    );

    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|r| r.body == got[0].body && r.delivery == got[0].delivery),
        "every attempt posts the same bytes under the same delivery id"
    );
    assert!(verifies(&got[2].signature, &secret, &got[2].body));
    let messages = w.messages(&target).await;
    let message = &messages[0];
    assert_eq!(message["state"], "delivered");
    let statuses: Vec<&Value> = message["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    assert!(
        message["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{message}"
    );

    // The target's page shows every attempt.
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    let page = admin.page(&format!("/admin/notifications/{target}")).await;
    assert!(page.contains("try 3"), "{page}");
    assert!(page.contains("<strong>500</strong>") && page.contains("<strong>200</strong>"));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_unreachable_target_is_given_up_after_six_attempts(pool: PgPool) {
    let w = world(&pool).await;
    // Nothing listens on the discard port: every connection is refused.
    let (target, _) = w
        .target(
            json!({"name": "gone", "url": "http://127.0.0.1:9/hidden-path",
                       "events": ["failed"]}),
        )
        .await;
    let deploy = w.deploy().await;
    enqueue_notification(
        &pool,
        NotificationEvent::Failed,
        &deploy,
        "worker 1",
        "boom",
    )
    .await;
    let mut now = OffsetDateTime::now_utc();
    for _ in 0..6 {
        assert_eq!(deliver_notifications(&pool, now).await, 1);
        now += Duration::hours(3);
    }
    assert_eq!(deliver_notifications(&pool, now).await, 0);
    let messages = w.messages(&target).await;
    let message = &messages[0];
    assert_eq!(message["state"], "failed");
    let attempts = message["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 6);
    assert!(attempts.iter().all(|a| a["status"].is_null()));
    let error = attempts[0]["error"].as_str().unwrap();
    assert!(error.starts_with("could not connect"), "{error}");
    assert!(!error.contains("hidden-path"), "the URL stays out: {error}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn targets_of_other_environments_other_events_or_disabled_hear_nothing(pool: PgPool) {
    let w = world(&pool).await;
    let receiver = Receiver::start(&[]).await;
    w.target(
        json!({"name": "staging only", "url": receiver.url("/staging"),
                    "environment": "staging", "events": ["succeeded"]}),
    )
    .await;
    w.target(json!({"name": "failures", "url": receiver.url("/failures"),
                    "environment": "production", "events": ["failed"]}))
        .await;
    let (disabled, _) = w
        .target(json!({"name": "paused", "url": receiver.url("/paused"),
                       "events": ["succeeded"]}))
        .await;
    w.target(
        json!({"name": "production", "url": receiver.url("/production"),
                    "environment": "production", "events": ["succeeded"]}),
    )
    .await;
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    let res = admin
        .post_form(&format!("/admin/notifications/{disabled}/disable"), &[])
        .await;
    assert_eq!(res.status(), 303);

    let deploy = w.deploy().await;
    enqueue_notification(&pool, NotificationEvent::Succeeded, &deploy, "worker 1", "").await;
    assert_eq!(
        deliver_notifications(&pool, OffsetDateTime::now_utc()).await,
        1
    );
    let paths: Vec<String> = receiver.got().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/production"]);
    let queued: i64 = sqlx::query_scalar("select count(*) from notification_messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 1, "nothing queued for the others either");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_test_event_goes_to_the_one_target_it_was_sent_from(pool: PgPool) {
    let w = world(&pool).await;
    let receiver = Receiver::start(&[]).await;
    let (target, secret) = w
        .target(
            json!({"name": "ops", "url": receiver.url("/ops"), "format": "json",
                       "events": ["rejected"]}),
        )
        .await;
    w.target(json!({"name": "other", "url": receiver.url("/other"), "events": ["rejected"]}))
        .await;
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    let res = admin
        .post_form(&format!("/admin/notifications/{target}/test"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        deliver_notifications(&pool, OffsetDateTime::now_utc()).await,
        1
    );
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/ops");
    assert_eq!(got[0].event, "test");
    assert_eq!(got[0].json()["event"], "test");
    assert_eq!(got[0].json()["actor"], "root@example.com");
    assert!(got[0].json()["deploy"].is_null());
    assert!(verifies(&got[0].signature, &secret, &got[0].body));
    let page = admin.page(&format!("/admin/notifications/{target}")).await;
    assert!(page.contains("state delivered"), "{page}");
    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'notification.test'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audit, 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn invalid_targets_are_refused_naming_the_field(pool: PgPool) {
    let w = world(&pool).await;
    let cases = [
        (
            json!({"name": "a", "url": "ftp://example.com/x", "events": ["failed"]}),
            "url",
        ),
        (
            json!({"name": "a", "url": "https://example.com/x", "events": ["deployed"]}),
            "events",
        ),
        (
            json!({"name": "a", "url": "https://example.com/x", "events": ["test"]}),
            "events",
        ),
        (
            json!({"name": "a", "url": "https://example.com/x", "events": []}),
            "events",
        ),
        (
            json!({"name": "a", "url": "https://example.com/x", "environment": "moon",
                   "events": ["failed"]}),
            "environment",
        ),
        (
            json!({"name": "a", "url": "https://example.com/x", "format": "xml",
                   "events": ["failed"]}),
            "format",
        ),
        (
            json!({"name": "", "url": "https://example.com/x", "events": ["failed"]}),
            "name",
        ),
        (
            json!({"name": "a", "url": "https://example.com/x", "events": ["failed"],
                   "enviroment": "staging"}),
            "body",
        ),
    ];
    for (body, field) in cases {
        let res = w.api_create(body.clone()).await;
        assert_eq!(res.status(), 422, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "invalid", "{answer}");
        let paths: Vec<&str> = answer["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, [field], "{body}: {answer}");
    }
    // A taken name, and the portal form's field message.
    w.target(json!({"name": "ops", "url": "https://example.com/x", "events": ["failed"]}))
        .await;
    let res = w
        .api_create(json!({"name": "ops", "url": "https://example.com/y", "events": ["failed"]}))
        .await;
    assert_eq!(res.status(), 422);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"]["fields"][0]["path"], "name");
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    let res = admin
        .post_form(
            "/admin/notifications",
            &[
                ("name", "x"),
                ("url", "ftp://example.com/"),
                ("events", "failed"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("URL must be an https:// or http:// URL"),
        "{page}"
    );
    let targets: i64 = sqlx::query_scalar("select count(*) from notification_targets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(targets, 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn without_a_secret_key_no_target_is_created(pool: PgPool) {
    let root = create_user(&pool, "root@example.com", true, &[]).await;
    let token = api_token(&pool, root.id, "admin").await;
    let app = TestApp::spawn_with(
        pool.clone(),
        slipway::cluster::Handle::disabled(),
        |config| config.secret_key = None,
    )
    .await;
    let res = app
        .client
        .post(app.url("/api/v1/notifications"))
        .bearer_auth(&token)
        .json(&json!({"name": "ops", "url": "https://example.com/x", "events": ["failed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SLIPWAY_SECRET_KEY"),
        "{answer}"
    );
    app.login_as("root@example.com", crate::harness::PASSWORD)
        .await;
    let page = app.page("/admin/notifications").await;
    assert!(page.contains("SLIPWAY_SECRET_KEY is not configured"));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn deploy_transitions_queue_their_own_events(pool: PgPool) {
    let w = world(&pool).await;
    let receiver = Receiver::start(&[]).await;
    let (target, _secret) = w
        .target(
            json!({"name": "all", "url": receiver.url("/in"), "environment": "production",
                       "events": ["awaiting_approval", "approved", "rejected", "expired"]}),
        )
        .await;
    // Approved: awaiting_approval, then approved with the approver as actor.
    let approved = w.deploy().await;
    try_decide(&pool, "root@example.com", approved.id, Decision::Approve)
        .await
        .unwrap();
    // Rejected.
    let rejected = w.deploy().await;
    try_decide(&pool, "root@example.com", rejected.id, Decision::Reject)
        .await
        .unwrap();
    // Expired: nobody decides before the deadline (the sweep's clock is moved).
    let expired = w.deploy().await;
    let deadline = expired.decision_deadline.unwrap();
    slipway::domain::waiting::sweep(
        &pool,
        &slipway::cluster::Fleet::single(slipway::cluster::Handle::disabled()),
        deadline + Duration::minutes(1),
    )
    .await
    .unwrap();

    assert_eq!(
        deliver_notifications(&pool, OffsetDateTime::now_utc()).await,
        6
    );
    let mut seen: Vec<(i64, String, String)> = receiver
        .got_at("/in")
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["deploy"]["id"].as_i64().unwrap(),
                r.event.clone(),
                body["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let dev = "dev@shop.io".to_owned();
    let root = "root@example.com".to_owned();
    assert_eq!(
        seen,
        [
            (approved.id, "approved".into(), root.clone()),
            (approved.id, "awaiting_approval".into(), dev.clone()),
            (rejected.id, "awaiting_approval".into(), dev.clone()),
            (rejected.id, "rejected".into(), root),
            (expired.id, "awaiting_approval".into(), dev.clone()),
            (expired.id, "expired".into(), "slipway".into()),
        ]
    );
    assert_eq!(w.messages(&target).await.as_array().unwrap().len(), 6);
}
