//! Git push webhooks: a signed push from GitHub, GitLab or Gitea becomes a
//! deploy through the same path as the portal, and every forgery fails.
//! Payloads follow each provider's documented push format and are signed here.

use serde_json::{Value, json};
use slipway::deployer::DeployState;
use slipway::domain::hooks;
use slipway::store::deploys::{self, Deploy, Trigger};
use slipway::webhook;
use sqlx::PgPool;

use crate::harness::{
    ClusterTest, SpecBuilder, TestApp, api_token, assert_succeeded, create_service, create_user,
    mark_succeeded, rollback, wait_finished,
};

const SHA: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// A hook of `shop/api` created through the API as the team's member.
struct Hooked {
    app: TestApp,
    id: String,
    secret: String,
    pool: PgPool,
}

/// Creates a hook of `team/service` through the API with `token` (201 expected).
async fn create_hook(
    app: TestApp,
    pool: &PgPool,
    token: &str,
    (team, service): (&str, &str),
    hook: Value,
) -> Hooked {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/teams/{team}/services/{service}/hooks")))
        .bearer_auth(token)
        .json(&hook)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["url"], format!("http://127.0.0.1:8080/hooks/{id}"));
    Hooked {
        app,
        id,
        secret: body["secret"].as_str().unwrap().to_owned(),
        pool: pool.clone(),
    }
}

/// `shop/api` with a hook, made by its member `dev@shop.io`.
async fn hooked(pool: &PgPool, environment: &str, git_ref: &str, paths: &[&str]) -> Hooked {
    let user = create_user(pool, "dev@shop.io", false, &["shop"]).await;
    let api = SpecBuilder::web("api").production_ready().to_yaml();
    create_service(pool, "dev@shop.io", "shop", &api).await;
    let token = api_token(pool, user.id, "ci").await;
    let hook = json!({"environment": environment, "ref": git_ref,
                      "image": "registry.example/shop/api:{short_sha}", "paths": paths});
    let app = TestApp::spawn(pool.clone()).await;
    create_hook(app, pool, &token, ("shop", "api"), hook).await
}

fn github_push(git_ref: &str, after: &str) -> Vec<u8> {
    github_push_from(git_ref, "0123456789abcdef0123456789abcdef01234567", after)
}

/// A GitHub push that moved `git_ref` from `before` to `after`.
fn github_push_from(git_ref: &str, before: &str, after: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": git_ref,
        "before": before,
        "after": after,
        "created": false, "deleted": after.bytes().all(|b| b == b'0'), "forced": false,
        "compare": format!("https://github.com/shop/api/compare/0123456...{}", &after[..7]),
        "pusher": {"name": "ann", "email": "ann@shop.io"},
        "repository": {"full_name": "shop/api"},
        "commits": [{"id": after, "message": "Fix the login form\n\nDetails.",
                     "author": {"name": "Ann", "email": "ann@shop.io", "username": "ann"},
                     "added": ["services/api/login.py"], "removed": [], "modified": ["README.md"]}],
        "head_commit": {"id": after, "message": "Fix the login form\n\nDetails.",
                        "author": {"name": "Ann", "email": "ann@shop.io"},
                        "added": ["services/api/login.py"], "removed": [], "modified": ["README.md"]}
    }))
    .unwrap()
}

fn gitlab_push(git_ref: &str, after: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object_kind": if git_ref.starts_with("refs/tags/") { "tag_push" } else { "push" },
        "ref": git_ref, "before": "0123456789abcdef0123456789abcdef01234567", "after": after,
        "checkout_sha": after, "user_name": "Ann", "user_username": "ann",
        "project": {"web_url": "https://gitlab.example/shop/api"},
        "commits": [{"id": after, "message": "Tag it", "author": {"name": "Ann", "email": "ann@shop.io"},
                     "added": [], "modified": ["services/api/app.py"], "removed": []}]
    }))
    .unwrap()
}

fn gitea_push(git_ref: &str, after: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": git_ref, "before": "0123456789abcdef0123456789abcdef01234567", "after": after,
        "compare_url": "https://gitea.example/shop/api/compare/0123456...89abcde",
        "pusher": {"login": "ann", "full_name": "Ann"},
        "commits": [{"id": after, "message": "From Gitea", "author": {"name": "Ann", "username": "ann"},
                     "added": ["services/api/x.py"], "removed": [], "modified": []}],
        "head_commit": {"id": after, "message": "From Gitea", "author": {"name": "Ann"}}
    }))
    .unwrap()
}

impl Hooked {
    async fn send(&self, headers: &[(&str, String)], body: Vec<u8>) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .post(self.app.url(&format!("/hooks/{}", self.id)))
            .header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        req.body(body).send().await.unwrap()
    }

    /// A GitHub delivery of `event`, signed with the hook's secret.
    async fn github(&self, event: &str, delivery: &str, body: Vec<u8>) -> reqwest::Response {
        let signature = format!("sha256={}", webhook::sign(self.secret.as_bytes(), &body));
        self.send(
            &[
                ("x-github-event", event.into()),
                ("x-github-delivery", delivery.into()),
                ("x-hub-signature-256", signature),
            ],
            body,
        )
        .await
    }

    /// A signed GitHub push of `sha` to `git_ref`, and what the judge made of it.
    async fn push(&self, delivery: &str, git_ref: &str, sha: &str) -> Value {
        let res = self
            .github("push", delivery, github_push(git_ref, sha))
            .await;
        self.judged(res).await
    }

    /// A signed GitHub push moving `main` from `before` to `after`, judged.
    async fn push_from(&self, delivery: &str, before: &str, after: &str) -> Value {
        let res = self
            .github(
                "push",
                delivery,
                github_push_from("refs/heads/main", before, after),
            )
            .await;
        self.judged(res).await
    }

    /// The endpoint's answer `res` (202), or for a queued push the verdict the
    /// judge recorded for it, in the answer's shape.
    async fn judged(&self, res: reqwest::Response) -> Value {
        assert_eq!(res.status(), 202);
        let receipt: Value = res.json().await.unwrap();
        if receipt["result"] != "queued" {
            return receipt;
        }
        assert_eq!(receipt["reason"], hooks::QUEUED_REASON, "{receipt}");
        verdict(&self.pool, receipt["delivery"].as_i64().unwrap()).await
    }

    /// Waits until the judge has decided on every recorded delivery.
    async fn settled(&self) {
        for _ in 0..1500 {
            let queued: i64 =
                sqlx::query_scalar("select count(*) from hook_deliveries where result = 'queued'")
                    .fetch_one(&self.pool)
                    .await
                    .unwrap();
            if queued == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("deliveries still queued after 30 s: is a judge running?");
    }

    /// The deploys not superseded.
    async fn live(&self) -> Vec<Deploy> {
        self.deploys()
            .await
            .into_iter()
            .filter(|d| d.state != DeployState::Superseded)
            .collect()
    }

    /// Pushes `main`, marks its deploy succeeded and rolls back to it as the
    /// member, which pins the hook's environment.
    async fn pin_by_rollback(&self, delivery: &str) {
        let first = self.push(delivery, "refs/heads/main", SHA).await;
        let first = deploys::find(&self.pool, first["deploy_id"].as_i64().unwrap())
            .await
            .unwrap()
            .unwrap();
        mark_succeeded(&self.pool, first.id).await;
        let target = deploys::find(&self.pool, first.id).await.unwrap().unwrap();
        rollback(&self.pool, "dev@shop.io", &target).await;
    }

    async fn deploys(&self) -> Vec<Deploy> {
        deploys::list(
            &self.pool,
            &deploys::Filter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap()
    }

    async fn delivery_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from hook_deliveries")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The verdict recorded for delivery row `row`, once it is not queued (30 s at most).
async fn verdict(pool: &PgPool, row: i64) -> Value {
    for _ in 0..1500 {
        let d = slipway::store::hooks::delivery_by_row(pool, row)
            .await
            .unwrap()
            .expect("the delivery is recorded");
        if d.result != "queued" {
            assert!(d.judged_at.is_some(), "a verdict has its time");
            let mut v = json!({"result": d.result, "reason": d.reason, "delivery": d.id});
            if let Some(deploy) = d.deploy_id {
                v["deploy_id"] = json!(deploy);
            }
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("delivery {row} still queued after 30 s: is a judge running?");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_signed_github_push_to_main_requests_a_deploy_with_its_commit(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let res = hook
        .github("push", "d-1", github_push("refs/heads/main", SHA))
        .await;
    assert_eq!(res.status(), 202);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["result"], "queued", "{answer}");
    assert!(answer.get("deploy_id").is_none(), "{answer}");
    let receipt = verdict(&pool, answer["delivery"].as_i64().unwrap()).await;
    assert_eq!(receipt["result"], "deployed", "{receipt}");
    let deploy = deploys::find(&pool, receipt["deploy_id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deploy.trigger, Trigger::Webhook);
    assert_eq!(deploy.image, "registry.example/shop/api:89abcde");
    assert_eq!(deploy.environment, "staging");
    assert_eq!(deploy.state, DeployState::Queued);
    assert_eq!(deploy.commit_sha, SHA);
    assert_eq!(deploy.commit_message, "Fix the login form\n\nDetails.");
    assert_eq!(deploy.pusher, "ann");
    assert!(
        deploy
            .compare_url
            .starts_with("https://github.com/shop/api/compare/")
    );
    assert_eq!(deploy.requested_by, format!("webhook:{}", hook.id));

    // The history shows the push; the delivery list names what it made.
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let history = member.page("/services/shop/api/history").await;
    assert!(
        history.contains("push of 89abcdef0123 (Fix the login form)"),
        "{history}"
    );
    let page = member
        .page(&format!("/services/shop/api/hooks/{}", hook.id))
        .await;
    assert!(page.contains(&format!("deploy #{}", deploy.id)));
    assert!(
        !page.contains(&hook.secret),
        "the secret is never shown again"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn gitlab_and_gitea_pushes_are_verified_their_own_way(pool: PgPool) {
    let tags = hooked(&pool, "staging", "refs/tags/v*", &[]).await;
    let body = gitlab_push("refs/tags/v1.4.0", SHA);
    let res = tags
        .send(
            &[
                ("x-gitlab-event", "Tag Push Hook".into()),
                ("x-gitlab-event-uuid", "g-1".into()),
                ("x-gitlab-token", tags.secret.clone()),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(tags.judged(res).await["result"], "deployed");
    let wrong_token = tags
        .send(
            &[
                ("x-gitlab-event", "Tag Push Hook".into()),
                ("x-gitlab-event-uuid", "g-2".into()),
                ("x-gitlab-token", format!("{}x", tags.secret)),
            ],
            body,
        )
        .await;
    assert_eq!(wrong_token.status(), 401);

    let body = gitea_push("refs/tags/v1.5.0", SHA);
    let signature = webhook::sign(tags.secret.as_bytes(), &body);
    let res = tags
        .send(
            &[
                ("x-gitea-event", "push".into()),
                ("x-gitea-delivery", "t-1".into()),
                ("x-gitea-signature", signature),
            ],
            body,
        )
        .await;
    let receipt = tags.judged(res).await;
    assert_eq!(receipt["result"], "deployed", "{receipt}");
    let deploy = deploys::find(&pool, receipt["deploy_id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deploy.pusher, "ann");
    assert_eq!(deploy.commit_message, "From Gitea");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn forged_altered_and_unknown_deliveries_are_refused_and_record_nothing(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let body = github_push("refs/heads/main", SHA);
    let good = format!("sha256={}", webhook::sign(hook.secret.as_bytes(), &body));
    let headers = |signature: String| {
        vec![
            ("x-github-event", "push".to_owned()),
            ("x-github-delivery", "d-1".to_owned()),
            ("x-hub-signature-256", signature),
        ]
    };

    // Signed with another secret.
    let forged = format!("sha256={}", webhook::sign(b"whsec_guess", &body));
    assert_eq!(
        hook.send(&headers(forged), body.clone()).await.status(),
        401
    );
    // One byte changed after signing.
    let mut altered = body.clone();
    let at = altered.iter().position(|b| *b == b'm').unwrap();
    altered[at] = b'M';
    assert_eq!(
        hook.send(&headers(good.clone()), altered).await.status(),
        401
    );
    // The same JSON re-serialised: the signature is over the raw bytes.
    let value: Value = serde_json::from_slice(&body).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    assert_ne!(pretty, body);
    assert_eq!(
        hook.send(&headers(good.clone()), pretty).await.status(),
        401
    );
    // No signature, no provider headers.
    let unsigned = vec![("x-github-event", "push".to_owned())];
    let res = hook.send(&unsigned, body.clone()).await;
    assert_eq!(res.status(), 401);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unauthenticated");
    assert_eq!(hook.send(&[], body.clone()).await.status(), 401);
    // A correctly signed body that is not JSON.
    let junk = b"ref=refs/heads/main".to_vec();
    let junk_sig = format!("sha256={}", webhook::sign(hook.secret.as_bytes(), &junk));
    assert_eq!(hook.send(&headers(junk_sig), junk).await.status(), 400);

    // An unknown hook, and an id that is not one.
    for path in [
        "/hooks/00000000-0000-4000-8000-000000000000",
        "/hooks/not-a-hook",
    ] {
        let res = hook
            .app
            .client
            .post(hook.app.url(path))
            .header("x-github-event", "push")
            .header("x-hub-signature-256", &good)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    // A body over the limit is refused before it is read.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let res = hook.send(&headers(good.clone()), huge).await;
    assert_eq!(res.status(), 413);

    assert_eq!(hook.delivery_count().await, 0, "nothing was recorded");
    assert!(hook.deploys().await.is_empty(), "nothing was deployed");

    // The genuine delivery still works.
    let genuine = hook.send(&headers(good), body).await;
    assert_eq!(hook.judged(genuine).await["result"], "deployed");
    assert_eq!(hook.deploys().await.len(), 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn pushes_that_should_not_deploy_are_recorded_with_their_reason(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &["services/web/"]).await;
    let ping = hook
        .github(
            "ping",
            "p-1",
            serde_json::to_vec(&json!({"zen": "Keep it logically awesome.", "hook_id": 1}))
                .unwrap(),
        )
        .await;
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.json::<Value>().await.unwrap()["result"], "pong");

    let cases = [
        (
            "other-ref",
            github_push("refs/heads/dev", SHA),
            "does not match refs/heads/main",
        ),
        (
            "deleted",
            github_push("refs/heads/main", &"0".repeat(40)),
            "the ref was deleted",
        ),
        (
            "path-miss",
            github_push("refs/heads/main", SHA),
            "no pushed commit touches services/web/",
        ),
    ];
    for (delivery, body, reason) in cases {
        let res = hook.github("push", delivery, body).await;
        let receipt = hook.judged(res).await;
        assert_eq!(receipt["result"], "ignored", "{delivery}: {receipt}");
        assert!(
            receipt["reason"].as_str().unwrap().contains(reason),
            "{delivery}: {receipt}"
        );
    }
    let issues = hook
        .github("issues", "i-1", b"{\"action\":\"opened\"}".to_vec())
        .await;
    assert_eq!(issues.status(), 202);
    let answer: Value = issues.json().await.unwrap();
    assert_eq!(answer["result"], "ignored", "decided on arrival: {answer}");
    assert_eq!(answer["reason"], "`issues` events do not deploy");

    assert!(hook.deploys().await.is_empty());
    // Every delivery but the ping is in the list, newest first.
    let token = api_token(&pool, 1, "read").await;
    let list: Vec<Value> = hook
        .app
        .client
        .get(
            hook.app
                .url(&format!("/api/v1/hooks/{}/deliveries", hook.id)),
        )
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .iter()
        .map(|d| d["delivery_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["i-1", "path-miss", "deleted", "other-ref"]);
    assert_eq!(list[2]["ref"], "refs/heads/main");
    assert_eq!(list[0]["provider"], "github");
    // Each names its row and when it was decided (on arrival, or by the judge).
    assert!(
        list.iter()
            .all(|d| d["id"].is_i64() && d["judged_at"].is_string()),
        "{list:?}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_redelivery_answers_the_first_result_and_creates_nothing_even_at_once(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let body = github_push("refs/heads/main", SHA);
    let first = hook
        .judged(hook.github("push", "d-1", body.clone()).await)
        .await;
    assert_eq!(first["result"], "deployed", "{first}");
    let again: Value = hook
        .github("push", "d-1", body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["result"], "deployed", "the first's verdict: {again}");
    assert_eq!(again["deploy_id"], first["deploy_id"]);
    assert_eq!(again["delivery"], first["delivery"]);
    assert_eq!(again["redelivery"], true);
    assert_eq!(hook.deploys().await.len(), 1);

    // Two copies of a new delivery at the same instant: one row, one deploy.
    let other = github_push(
        "refs/heads/main",
        "fedcba9876543210fedcba9876543210fedcba98",
    );
    let (a, b) = tokio::join!(
        hook.github("push", "d-2", other.clone()),
        hook.github("push", "d-2", other)
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (202, 202));
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["delivery"], b["delivery"], "{a} {b}");
    assert_ne!(
        a["redelivery"], b["redelivery"],
        "exactly one was the first: {a} {b}"
    );
    hook.settled().await;
    assert_eq!(hook.deploys().await.len(), 2);
    assert_eq!(hook.delivery_count().await, 2);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_burst_of_ten_pushes_leaves_one_deploy_of_the_newest_commit(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    // 1..=10: an all-zero sha would be a branch deletion.
    let shas: Vec<String> = (1..=10).map(|i| format!("{i:x}").repeat(40)).collect();
    for (i, sha) in shas.iter().enumerate() {
        let res = hook
            .github(
                "push",
                &format!("burst-{i}"),
                github_push("refs/heads/main", sha),
            )
            .await;
        assert_eq!(res.status(), 202);
    }
    hook.settled().await;
    let all = hook.deploys().await;
    assert_eq!(all.len(), 10);
    let live: Vec<&Deploy> = all
        .iter()
        .filter(|d| d.state != DeployState::Superseded)
        .collect();
    assert_eq!(live.len(), 1, "{all:#?}");
    assert_eq!(live[0].commit_sha, shas[9]);
    assert_eq!(live[0].state, DeployState::Queued);
}

/// Shas of one branch's history: a0 → a1 → b1, and z0 before a0.
fn sha(name: &str) -> String {
    name.repeat(20)
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_older_push_delivered_later_is_ignored_and_the_newer_stays_live(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let (z0, a0, a1, b1) = (sha("f0"), sha("a0"), sha("a1"), sha("b1"));
    // B (a1 → b1) arrives first, then A (a0 → a1), which it was pushed after.
    let b = hook.push_from("o-b", &a1, &b1).await;
    assert_eq!(b["result"], "deployed", "{b}");
    let b_deploy = b["deploy_id"].as_i64().unwrap();
    let a = hook.push_from("o-a", &a0, &a1).await;
    assert_eq!(a["result"], "ignored", "{a}");
    assert_eq!(
        a["reason"],
        format!("commit a1a1a1a is older than b1b1b1b, already delivered (deploy #{b_deploy})"),
    );
    assert!(a.get("deploy_id").is_none(), "{a}");
    // Further back through recorded deliveries: the push before A is older too.
    let before_a = hook.push_from("o-z", &z0, &a0).await;
    assert_eq!(before_a["result"], "ignored", "{before_a}");
    assert!(
        before_a["reason"].as_str().unwrap().ends_with(&format!(
            "older than b1b1b1b, already delivered (deploy #{b_deploy})"
        )),
        "{before_a}"
    );

    let all = hook.deploys().await;
    assert_eq!(all.len(), 1, "{all:#?}");
    let live = hook.live().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].image, "registry.example/shop/api:b1b1b1b");
    assert_eq!(live[0].state, DeployState::Queued);

    // The deliveries list the chain they were judged by.
    let token = api_token(&pool, 1, "read").await;
    let list: Vec<Value> = hook
        .app
        .client
        .get(
            hook.app
                .url(&format!("/api/v1/hooks/{}/deliveries", hook.id)),
        )
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chain: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|d| {
            (
                d["before"].as_str().unwrap(),
                d["sha"].as_str().unwrap(),
                d["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        [
            (&*z0, &*a0, "ignored"),
            (&*a0, &*a1, "ignored"),
            (&*a1, &*b1, "deployed")
        ]
    );
}

/// The endpoint only records: it answers while a judge holds the hook (a
/// long verdict, another replica), and the queue is judged in arrival order
/// once the hook is free, so an older push that arrived second is ignored.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_endpoint_answers_while_the_hook_is_being_judged_and_the_queue_keeps_arrival_order(
    pool: PgPool,
) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let (a0, a1, b1) = (sha("a0"), sha("a1"), sha("b1"));
    let mut judge = pool.begin().await.unwrap();
    sqlx::query("select 1 from hooks where id = $1::uuid for no key update")
        .bind(&hook.id)
        .execute(&mut *judge)
        .await
        .unwrap();
    let send = |delivery: &'static str, before: String, after: String| {
        let hook = &hook;
        async move {
            let res = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                hook.github(
                    "push",
                    delivery,
                    github_push_from("refs/heads/main", &before, &after),
                ),
            )
            .await
            .expect("the endpoint answered without waiting for the hook's judge");
            assert_eq!(res.status(), 202);
            res.json::<Value>().await.unwrap()
        }
    };
    // B (a1 → b1) arrives first, then A (a0 → a1), which was pushed before it.
    let b = send("q-b", a1.clone(), b1.clone()).await;
    let a = send("q-a", a0.clone(), a1.clone()).await;
    for answer in [&a, &b] {
        assert_eq!(answer["result"], "queued", "{answer}");
    }
    assert!(b["delivery"].as_i64() < a["delivery"].as_i64());
    // Both are listed as queued pushes, with their ref and shas, before any verdict.
    let listed: Vec<(String, String, String)> =
        sqlx::query_as("select ref, sha, result from hook_deliveries order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        listed,
        [
            ("refs/heads/main".into(), b1.clone(), "queued".into()),
            ("refs/heads/main".into(), a1.clone(), "queued".into())
        ]
    );
    assert!(hook.deploys().await.is_empty(), "nothing judged while held");

    judge.commit().await.unwrap();
    let b = verdict(&pool, b["delivery"].as_i64().unwrap()).await;
    let a = verdict(&pool, a["delivery"].as_i64().unwrap()).await;
    assert_eq!(b["result"], "deployed", "{b}");
    assert_eq!(a["result"], "ignored", "{a}");
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .starts_with("commit a1a1a1a is older than b1b1b1b"),
        "{a}"
    );
    let live = hook.live().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].image, "registry.example/shop/api:b1b1b1b");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn pushes_in_order_both_deploy_and_the_newer_supersedes_the_older(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let (a0, a1, b1) = (sha("a0"), sha("a1"), sha("b1"));
    let a = hook.push_from("i-a", &a0, &a1).await;
    assert_eq!(a["result"], "deployed", "{a}");
    let b = hook.push_from("i-b", &a1, &b1).await;
    assert_eq!(b["result"], "deployed", "{b}");
    let a = deploys::find(&pool, a["deploy_id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.state, DeployState::Superseded);
    let live = hook.live().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].image, "registry.example/shop/api:b1b1b1b");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_force_push_with_no_link_to_the_chain_still_deploys(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let (a1, b1, f0, f1) = (sha("a1"), sha("b1"), sha("e0"), sha("e1"));
    assert_eq!(hook.push_from("f-b", &a1, &b1).await["result"], "deployed");
    // A force push from a history Slipway never saw.
    let forced = hook.push_from("f-f", &f0, &f1).await;
    assert_eq!(forced["result"], "deployed", "{forced}");
    let live = hook.live().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].image, "registry.example/shop/api:e1e1e1e");

    // Undo by force (e1 → b1), then redo (b1 → e1): the redo is newest, although
    // the undo started from e1.
    assert_eq!(
        hook.push_from("f-undo", &f1, &b1).await["result"],
        "deployed"
    );
    let redo = hook.push_from("f-redo", &b1, &f1).await;
    assert_eq!(redo["result"], "deployed", "{redo}");
    let live = hook.live().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].image, "registry.example/shop/api:e1e1e1e");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn policy_applies_approval_allow_lists_and_pins(pool: PgPool) {
    // Production needs an approval: the push waits for it.
    let prod = hooked(&pool, "production", "refs/heads/main", &[]).await;
    let receipt = prod.push("p-1", "refs/heads/main", SHA).await;
    let deploy = deploys::find(&pool, receipt["deploy_id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deploy.state, DeployState::AwaitingApproval);

    // Production only from tags: a branch push is refused there.
    sqlx::query(
        "update environments set webhook_refs = '{refs/tags/v*}' where name = 'production'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let receipt = prod.push("p-2", "refs/heads/main", SHA).await;
    assert_eq!(receipt["result"], "refused", "{receipt}");
    assert!(
        receipt["reason"]
            .as_str()
            .unwrap()
            .contains("only from refs/tags/v*")
    );

    // A rollback pins staging: pushes there are held and say why.
    let token = api_token(&pool, 1, "ops").await;
    let hook =
        json!({"environment": "staging", "ref": "refs/heads/main", "image": "shop/api:{sha}"});
    let app = TestApp::spawn(pool.clone()).await;
    let staging = create_hook(app, &pool, &token, ("shop", "api"), hook).await;
    staging.pin_by_rollback("s-1").await;
    let held = staging
        .push(
            "s-2",
            "refs/heads/main",
            "fedcba9876543210fedcba9876543210fedcba98",
        )
        .await;
    assert_eq!(held["result"], "ignored", "{held}");
    assert!(
        held["reason"]
            .as_str()
            .unwrap()
            .contains("is pinned in staging"),
        "{held}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_admin_redelivers_a_push_the_pin_held_once_unpinned(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    hook.pin_by_rollback("u-1").await;
    let newer = "fedcba9876543210fedcba9876543210fedcba98";
    let held = hook.push("u-2", "refs/heads/main", newer).await;
    assert_eq!(held["result"], "ignored", "{held}");
    let row: i64 = sqlx::query_scalar("select id from hook_deliveries where delivery_id = 'u-2'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let path = format!(
        "/services/shop/api/hooks/{}/deliveries/{row}/redeliver",
        hook.id
    );

    // A member may not; an administrator may, once the environment is unpinned.
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    assert_eq!(member.post_form(&path, &[]).await.status(), 403);
    let member_unpins = member
        .post_form("/services/shop/api/environments/staging/unpin", &[])
        .await;
    assert_eq!(member_unpins.status(), 303);
    create_user(&pool, "root@shop.io", true, &[]).await;
    let admin = TestApp::signed_in(&pool, "root@shop.io").await;
    let res = admin.post_form(&path, &[]).await;
    assert_eq!(res.status(), 303);
    let redelivered: Vec<Deploy> = hook
        .deploys()
        .await
        .into_iter()
        .filter(|d| d.commit_sha == newer)
        .collect();
    assert_eq!(redelivered.len(), 1, "the held push is deployed now");
    assert_eq!(redelivered[0].state, DeployState::Queued);
    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'hook.redeliver'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audit, 1);
    // A ping keeps no payload: nothing to redeliver.
    let page = admin
        .page(&format!("/services/shop/api/hooks/{}", hook.id))
        .await;
    assert!(page.contains("Redeliver"));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn hooks_are_managed_by_the_team_only_and_checked_as_typed(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let outsider = create_user(&pool, "eve@other.io", false, &["other"]).await;
    create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;
    let app = TestApp::spawn(pool.clone()).await;
    let token = api_token(&pool, outsider.id, "x").await;
    let res = app
        .client
        .post(app.url("/api/v1/teams/shop/services/api/hooks"))
        .bearer_auth(&token)
        .json(&json!({"environment": "staging", "ref": "refs/heads/main", "image": "x:{sha}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let own = api_token(&pool, 1, "own").await;
    let res = app
        .client
        .post(app.url("/api/v1/teams/shop/services/api/hooks"))
        .bearer_auth(&own)
        .json(&json!({"environment": "staging", "ref": "refs/heads/main",
                      "image": "x:{sha}", "path": ["web/"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        422,
        "a misspelt field is refused, not ignored"
    );
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["fields"][0]["path"], "body");

    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let res = member
        .post_form(
            "/services/shop/api/hooks",
            &[
                ("environment", "nowhere"),
                ("ref", "main"),
                ("image", "Bad Image:{commit}"),
                ("paths", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    for field in [
        "<code>ref</code>",
        "<code>image</code>",
        "<code>environment</code>",
    ] {
        assert!(html.contains(field), "{field} named: {html}");
    }
    let res = member
        .post_form(
            "/services/shop/api/hooks",
            &[
                ("environment", "staging"),
                ("ref", "refs/heads/main"),
                ("image", "shop/api:{short_sha}"),
                ("paths", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("whsec_"), "the secret is shown once");
    let sealed: Vec<u8> = sqlx::query_scalar("select secret_sealed from hooks")
        .fetch_one(&pool)
        .await
        .unwrap();
    let start = html.find("whsec_").unwrap();
    let secret = &html[start..start + 70];
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "stored sealed"
    );
    let audit: String =
        sqlx::query_scalar("select detail::text from audit_log where action = 'hook.create'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!audit.contains("whsec_"), "{audit}");
}

/// Rotates hook `id`'s secret through the portal of `app` (signed in as a
/// team member); the new secret, read from the page that shows it once.
async fn rotate_in_portal(app: &TestApp, id: &str) -> String {
    let res = app
        .post_form(&format!("/services/shop/api/hooks/{id}/rotate"), &[])
        .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let start = html.find("whsec_").unwrap();
    html[start..start + 70].to_owned()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_rotated_secret_keeps_the_old_one_valid_for_the_grace_period(pool: PgPool) {
    let hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let new_secret = rotate_in_portal(&member, &hook.id).await;
    assert_ne!(new_secret, hook.secret);
    let old = hook
        .github("push", "r-1", github_push("refs/heads/main", SHA))
        .await;
    assert_eq!(old.status(), 202, "the old secret still works");
    let renewed = Hooked {
        secret: new_secret,
        app: TestApp::spawn(pool.clone()).await,
        id: hook.id.clone(),
        pool: pool.clone(),
    };
    assert_eq!(
        renewed
            .github("push", "r-2", github_push("refs/heads/main", SHA))
            .await
            .status(),
        202
    );
    // A day later (faked in the table): a replica that has not seen the hook
    // for seconds reads it again and refuses the old secret. (One that read it
    // a moment ago may trust its copy for `hook_cache::TTL`; a real day is
    // longer than that.)
    sqlx::query("update hooks set previous_valid_until = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let mut hook = hook;
    // Keep the first server running: stopping it would close the shared pool.
    let _first = std::mem::replace(&mut hook.app, TestApp::spawn(pool.clone()).await);
    assert_eq!(
        hook.github("push", "r-3", github_push("refs/heads/main", SHA))
            .await
            .status(),
        401
    );
}

/// A replica keeps a hook it has just authenticated for a few seconds
/// (`domain::hook_cache`); a rotation or a deletion made through another
/// replica still takes effect on it at once.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_hook_kept_by_one_replica_follows_a_rotation_and_a_deletion_made_on_another(
    pool: PgPool,
) {
    let mut hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    // A replica that trusts its copy for an hour, so no step below depends on
    // how fast the machine is (`serve`'s is `hook_cache::TTL`).
    let trusting = TestApp::spawn_with(pool.clone(), slipway::cluster::Handle::disabled(), |c| {
        c.hook_cache_ttl = std::time::Duration::from_secs(3600);
    })
    .await;
    // Keep the first server running: stopping it would close the shared pool.
    let _first = std::mem::replace(&mut hook.app, trusting);
    let old_secret = hook.secret.clone();
    let push = |n: u32| github_push("refs/heads/main", &format!("{n:040x}"));
    assert_eq!(hook.github("push", "k-1", push(1)).await.status(), 202);
    // The replica now answers from its copy: with the stored secret made
    // unreadable for a moment, a correctly signed push still gets through.
    let sealed: Vec<u8> = sqlx::query_scalar("select secret_sealed from hooks")
        .fetch_one(&pool)
        .await
        .unwrap();
    let set_sealed = |bytes: Vec<u8>| {
        sqlx::query("update hooks set secret_sealed = $1")
            .bind(bytes)
            .execute(&pool)
    };
    set_sealed(b"unreadable".to_vec()).await.unwrap();
    assert_eq!(
        hook.github("push", "k-2", push(2)).await.status(),
        202,
        "kept"
    );
    set_sealed(sealed).await.unwrap();

    let other = TestApp::signed_in(&pool, "dev@shop.io").await;
    let new_secret = rotate_in_portal(&other, &hook.id).await;

    hook.secret = new_secret.clone();
    assert_eq!(
        hook.github("push", "k-3", push(3)).await.status(),
        202,
        "the new secret is accepted by the replica that kept the hook"
    );
    hook.secret = old_secret;
    assert_eq!(
        hook.github("push", "k-4", push(4)).await.status(),
        202,
        "grace"
    );
    hook.secret = "whsec_not-the-secret".to_owned();
    assert_eq!(hook.github("push", "k-5", push(5)).await.status(), 401);
    assert_eq!(
        hook.delivery_count().await,
        4,
        "the forged one was not recorded"
    );

    let res = other
        .post_form(&format!("/services/shop/api/hooks/{}/delete", hook.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    hook.secret = new_secret;
    let res = hook.github("push", "k-6", push(6)).await;
    assert_eq!(res.status(), 404, "deleted on the other replica");
    let recorded: i64 = sqlx::query_scalar("select count(*) from hook_deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        recorded, 0,
        "the deletion took the deliveries; none was added"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_flood_against_one_hook_is_answered_429_before_the_database(pool: PgPool) {
    let mut hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let limited = TestApp::spawn_with(pool.clone(), slipway::cluster::Handle::disabled(), |c| {
        c.hook_deliveries_per_minute = 3;
    })
    .await;
    // Keep the first server running: stopping it would close the shared pool.
    let _first = std::mem::replace(&mut hook.app, limited);
    let mut statuses = Vec::new();
    for i in 0..5 {
        let res = hook
            .github(
                "push",
                &format!("f-{i}"),
                github_push("refs/heads/main", SHA),
            )
            .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 429, 429]);
    assert_eq!(
        hook.delivery_count().await,
        3,
        "the refused ones were not recorded"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn random_hook_ids_do_not_reset_the_limit_of_a_real_hook(pool: PgPool) {
    use futures::StreamExt as _;
    let mut hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    // One a minute: every bucket of this test stays short of full throughout.
    let limited = TestApp::spawn_with(pool.clone(), slipway::cluster::Handle::disabled(), |c| {
        c.hook_deliveries_per_minute = 1;
    })
    .await;
    let _first = std::mem::replace(&mut hook.app, limited);
    let push = async |i: usize| {
        let delivery = format!("r-{i}");
        let body = github_push("refs/heads/main", SHA);
        hook.github("push", &delivery, body).await.status()
    };
    assert_eq!(push(0).await, 202);
    assert_eq!(push(1).await, 429);
    // More random ids than the limiter keeps buckets (10,000, one of them the
    // real hook's): unknown ones answer 404 until it is full, then 429 rather
    // than evicting a bucket that still limits.
    let statuses: Vec<u16> = futures::stream::iter(0..10_050)
        .map(|i| {
            let req = hook
                .app
                .client
                .post(hook.app.url(&format!("/hooks/flood-{i}")));
            async move { req.send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    assert_eq!((count(404), count(429)), (9_999, 51));
    assert_eq!(push(2).await, 429, "the real hook is still limited");
    assert_eq!(hook.delivery_count().await, 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn serve_refuses_to_start_without_the_key_once_hooks_exist(pool: PgPool) {
    let _hook = hooked(&pool, "staging", "refs/heads/main", &[]).await;
    let url = crate::harness::database_url(&pool).await;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SLIPWAY_DATABASE_URL", url)
            .env("SLIPWAY_LISTEN", "127.0.0.1:0")
            .env("SLIPWAY_KUBECONFIG", "/nonexistent/kubeconfig")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SLIPWAY_SECRET_KEY is not set"), "{stderr}");
}

/// End to end on the local control plane: a signed push to `main` deploys the
/// templated image to staging, and its pods run that image.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_signed_push_rolls_out_its_image_on_the_cluster(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let service = t.service(SpecBuilder::web("api").replicas(2)).await;
    let user = slipway::store::users::find_by_email(&pool, &t.email)
        .await
        .unwrap()
        .unwrap();
    let token = api_token(&pool, user.id, "ci").await;
    let request = json!({"environment": "staging", "ref": "refs/heads/main",
                         "image": "registry.example/shop/api:{short_sha}"});
    let app = TestApp::spawn(pool.clone()).await;
    let hook = create_hook(app, &pool, &token, (&t.team, &service.name), request).await;
    let receipt = hook.push("e2e-1", "refs/heads/main", SHA).await;
    assert_eq!(receipt["result"], "deployed", "{receipt}");
    let deploy = wait_finished(&pool, receipt["deploy_id"].as_i64().unwrap(), 240).await;
    assert_succeeded(&deploy);
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(t.client.clone(), &t.ns());
    let live = deployments.get(&service.name).await.unwrap();
    let image = live.spec.template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("registry.example/shop/api:89abcde"));
    assert_eq!(live.status.unwrap().ready_replicas, Some(2));
    t.finish().await;
}
