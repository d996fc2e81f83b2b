//! The approval flow without a cluster: N-of-M approvals, concurrent
//! deciders, separation of duties (requester, revision author, pusher),
//! approver teams, the content digest and the database's refusal to change a
//! rendered deploy, the worker's re-check (tampered manifests, a policy
//! changed meanwhile), expiry and stale plans with an injected clock, the
//! request-time policy (images by digest, the checklist), and the queue.
//! The plan's dry run against the real control plane is in `approvals_cluster.rs`.

use std::time::Duration;

use serde_json::Value;
use slipway::cluster;
use slipway::deploy_model::{Decision, DeployState};
use slipway::deployer::{Worker, WorkerConfig, sha256_hex};
use slipway::domain::{plans, waiting};
use slipway::error::AppError;
use slipway::store::{self, approvals, deploys};
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::harness::{
    PASSWORD, SpecBuilder, TestApp, api_token, create_service, create_user, current_user,
    eventually, find_deploy, mark_succeeded, request, save_revision, set_approval_policy,
    try_decide, try_request, wait_finished,
};

/// `dev@shop.io` (member, author of `shop/api`), admins `a1`, `a2`, `a3`.
async fn shop_with_three_admins(pool: &PgPool) -> store::services::Service {
    create_user(pool, "dev@shop.io", false, &["shop"]).await;
    for admin in ["a1@ops.io", "a2@ops.io", "a3@ops.io"] {
        create_user(pool, admin, true, &[]).await;
    }
    create_service(
        pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await
}

fn is_conflict(result: &Result<deploys::Deploy, AppError>, words: &str) -> bool {
    matches!(result, Err(AppError::Conflict(m)) if m.contains(words))
}

fn is_forbidden(result: &Result<deploys::Deploy, AppError>, words: &str) -> bool {
    matches!(result, Err(AppError::Forbidden(m)) if m.contains(words))
}

/// Timeline moves of deploy `id` into `to`.
async fn moves_into(pool: &PgPool, id: i64, to: DeployState) -> usize {
    deploys::events(pool, id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| !e.is_note() && e.to_state == to)
        .count()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn two_of_three_waits_for_the_second_and_refuses_a_third_as_superfluous(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    set_approval_policy(&pool, "production", 2, &[]).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    assert_eq!(deploy.state, DeployState::AwaitingApproval);
    assert_eq!(deploy.content_digest.len(), 64);

    let first = try_decide(&pool, "a1@ops.io", deploy.id, Decision::Approve).await;
    assert_eq!(first.unwrap().state, DeployState::AwaitingApproval);
    let second = try_decide(&pool, "a2@ops.io", deploy.id, Decision::Approve).await;
    assert_eq!(second.unwrap().state, DeployState::Queued);
    let third = try_decide(&pool, "a3@ops.io", deploy.id, Decision::Approve).await;
    assert!(is_conflict(&third, "superfluous"), "{third:?}");

    let stored = approvals::for_deploy(&pool, deploy.id).await.unwrap();
    assert_eq!(stored.len(), 2, "the superfluous approval left no row");
    assert!(stored.iter().all(|a| a.digest == deploy.content_digest));
    assert_eq!(moves_into(&pool, deploy.id, DeployState::Queued).await, 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn two_approvers_at_the_same_instant_make_one_transition_and_one_apply(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let (a1, a2) = (
        current_user(&pool, "a1@ops.io").await,
        current_user(&pool, "a2@ops.io").await,
    );
    let seen = slipway::domain::deploys::Seen::default();
    let decide = |user| {
        let pool = pool.clone();
        let seen = seen.clone();
        async move {
            let actor = crate::harness::actor(&user);
            slipway::domain::deploys::decide(
                &pool,
                deploy.id,
                &user,
                &actor,
                Decision::Approve,
                "",
                &seen,
            )
            .await
        }
    };
    let (r1, r2) = tokio::join!(decide(a1), decide(a2));
    let results = [&r1, &r2];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{r1:?} {r2:?}"
    );
    assert!(
        results.iter().any(|r| is_conflict(r, "superfluous")),
        "{r1:?} {r2:?}"
    );
    assert_eq!(moves_into(&pool, deploy.id, DeployState::Queued).await, 1);
    assert_eq!(
        approvals::for_deploy(&pool, deploy.id).await.unwrap().len(),
        1
    );

    // One worker run applies it once: with no cluster configured it gets as
    // far as asking for one, past the approval check.
    let worker = Worker::start(
        pool.clone(),
        cluster::Fleet::single(cluster::Handle::disabled()),
        quick_worker(),
    );
    let done = wait_finished(&pool, deploy.id, 30).await;
    worker.shutdown().await;
    assert_eq!(done.state, DeployState::Failed);
    assert!(done.reason.contains("no cluster"), "{}", done.reason);
    assert_eq!(moves_into(&pool, deploy.id, DeployState::Applying).await, 1);
}

fn quick_worker() -> WorkerConfig {
    WorkerConfig {
        poll: Duration::from_millis(50),
        retry: cluster::retry::RetryPolicy::none(),
        ..WorkerConfig::default()
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_requester_the_revision_author_and_the_pusher_never_approve(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "author@ops.io", true, &[]).await;
    create_user(&pool, "requester@ops.io", true, &[]).await;
    create_user(&pool, "ann@ops.io", true, &[]).await;
    create_user(&pool, "other@ops.io", true, &[]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    // An administrator writes revision 2; a member requests its deploy.
    let service = save_revision(
        &pool,
        "author@ops.io",
        &service,
        &SpecBuilder::web("api")
            .production_ready()
            .replicas(3)
            .to_yaml(),
    )
    .await;
    let authored = request(&pool, "dev@shop.io", &service, "production", "x/api:2").await;
    let by_author = try_decide(&pool, "author@ops.io", authored.id, Decision::Approve).await;
    assert!(is_forbidden(&by_author, "author"), "{by_author:?}");

    let requested = request(&pool, "requester@ops.io", &service, "production", "x/api:3").await;
    let by_requester = try_decide(&pool, "requester@ops.io", requested.id, Decision::Approve).await;
    assert!(is_forbidden(&by_requester, "requester"), "{by_requester:?}");

    // A webhook deploy pushed by `ann`: the admin whose login that is may not approve.
    let production = store::environments::find_by_name(&pool, "production")
        .await
        .unwrap()
        .unwrap();
    let commit = slipway::domain::deploys::CommitInfo {
        sha: "89abcdef0123456789abcdef0123456789abcdef".into(),
        pusher: "ann".into(),
        ..Default::default()
    };
    let nobody = cluster::Fleet::single(cluster::Handle::disabled());
    let mut tx = pool.begin().await.unwrap();
    let pushed_id = slipway::domain::deploys::create_in(
        &mut tx,
        &slipway::domain::deploys::Context::now(&nobody),
        &service,
        &production,
        &slipway::store::audit::Actor {
            user_id: None,
            name: "webhook:1".into(),
            client_addr: None,
        },
        &slipway::domain::deploys::Origin {
            trigger: store::deploys::Trigger::Webhook,
            rollback_of: None,
            commit: Some(&commit),
        },
        &slipway::domain::deploys::DeployRequest::of("production", "x/api:4"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let pushed = find_deploy(&pool, pushed_id).await;
    assert_eq!(pushed.pusher, "ann");
    let by_pusher = try_decide(&pool, "ann@ops.io", pushed.id, Decision::Approve).await;
    assert!(is_forbidden(&by_pusher, "pusher"), "{by_pusher:?}");

    // The same refusals through the portal and the API, as 403s; someone else may.
    let author = TestApp::signed_in(&pool, "author@ops.io").await;
    let page = author.page(&format!("/deploys/{}", authored.id)).await;
    assert!(
        page.contains("the author of the revision may not approve"),
        "{page}"
    );
    let res = author
        .post_form(&format!("/deploys/{}/approve", authored.id), &[])
        .await;
    assert_eq!(res.status(), 403);
    let ann = store::users::find_by_email(&pool, "ann@ops.io")
        .await
        .unwrap()
        .unwrap();
    let token = api_token(&pool, ann.id, "ci").await;
    let res = author
        .client
        .post(author.url(&format!("/api/v1/deploys/{}/approve", pushed.id)))
        .bearer_auth(&token)
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pusher"),
        "{body}"
    );
    for id in [authored.id, requested.id, pushed.id] {
        assert_eq!(
            find_deploy(&pool, id).await.state,
            DeployState::AwaitingApproval
        );
        let ok = try_decide(&pool, "other@ops.io", id, Decision::Approve).await;
        assert_eq!(ok.unwrap().state, DeployState::Queued);
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn members_of_approver_teams_approve_and_other_members_do_not(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "rel@x.io", false, &["release"]).await;
    create_user(&pool, "other@x.io", false, &["billing"]).await;
    let service = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    set_approval_policy(&pool, "production", 1, &["release"]).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let refused = try_decide(&pool, "other@x.io", deploy.id, Decision::Approve).await;
    assert!(is_forbidden(&refused, "approver teams"), "{refused:?}");
    // The queue shows it to the release member only.
    let rel = TestApp::signed_in(&pool, "rel@x.io").await;
    let queue = rel.page("/approvals").await;
    assert!(queue.contains(&format!("queue-{}", deploy.id)), "{queue}");
    assert!(queue.contains("class=\"nav-count\""), "{queue}");
    // The approver from another team opens the deploy and reads its plan;
    // someone who neither sees the team nor approves there does not.
    let page = rel.page(&format!("/deploys/{}", deploy.id)).await;
    assert!(page.contains("id=\"deploy-plan\""), "{page}");
    let other = TestApp::signed_in(&pool, "other@x.io").await;
    let queue = other.page("/approvals").await;
    assert!(queue.contains("queue-empty"), "{queue}");
    let closed = other.get(&format!("/deploys/{}", deploy.id)).await;
    assert_eq!(closed.status(), 403);
    let ok = try_decide(&pool, "rel@x.io", deploy.id, Decision::Approve).await;
    assert_eq!(ok.unwrap().state, DeployState::Queued);
}

/// Replaces a stored deploy's manifests behind the application's back, as a
/// stolen database credential would: with the immutability trigger disabled.
async fn tamper(pool: &PgPool, id: i64, from: &str, to: &str) {
    let documents = deploys::documents(pool, id).await.unwrap();
    assert!(
        documents.manifests.contains(from),
        "{}",
        documents.manifests
    );
    let forged = documents.manifests.replace(from, to);
    let values: Vec<Value> =
        cluster::apply::parse_manifests(&forged, &find_deploy(pool, id).await.namespace)
            .unwrap()
            .into_iter()
            .map(|m| m.value)
            .collect();
    let digest = slipway::plan::content_digest(&find_deploy(pool, id).await.namespace, &values);
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("alter table deploys disable trigger deploys_content_immutable")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "update deploys set manifests = $2, manifests_hash = $3, content_digest = $4 where id = $1",
    )
    .bind(id)
    .bind(&forged)
    .bind(sha256_hex(&forged))
    .bind(&digest)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("alter table deploys enable trigger deploys_content_immutable")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_database_refuses_to_change_a_rendered_deploy(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    for (column, value) in [
        ("image", "evil/api:1"),
        ("manifests", "kind: Pod"),
        ("content_digest", "0000"),
        ("namespace", "kube-system"),
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(format!(
            "update deploys set {column} = $2 where id = $1"
        )))
        .bind(deploy.id)
        .bind(value)
        .execute(&pool)
        .await
        .unwrap_err();
        assert!(err.to_string().contains("immutable"), "{column}: {err}");
    }
    // Approvals cannot be rewritten either, only voided.
    try_decide(&pool, "a1@ops.io", deploy.id, Decision::Approve)
        .await
        .unwrap();
    let err = sqlx::query("update approvals set digest = 'forged' where deploy_id = $1")
        .bind(deploy.id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn tampered_manifests_in_the_database_are_refused_by_the_worker(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let approved = try_decide(&pool, "a1@ops.io", deploy.id, Decision::Approve)
        .await
        .unwrap();
    assert_eq!(approved.state, DeployState::Queued);
    tamper(&pool, deploy.id, "image: x/api:1", "image: evil/miner:1").await;
    assert_ne!(
        find_deploy(&pool, deploy.id).await.content_digest,
        deploy.content_digest,
        "the forgery rewrote the digest too"
    );

    let worker = Worker::start(
        pool.clone(),
        cluster::Fleet::single(cluster::Handle::disabled()),
        quick_worker(),
    );
    let done = wait_finished(&pool, deploy.id, 30).await;
    worker.shutdown().await;
    assert_eq!(done.state, DeployState::Failed);
    assert!(
        done.reason
            .contains("requires 1 approvals of exactly what is applied")
            && done.reason.contains(&format!(
                "approved digest {}",
                slipway::plan::short(&deploy.content_digest)
            )),
        "{}",
        done.reason
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_policy_changed_while_a_deploy_waits_leaves_the_old_approval_short(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    try_decide(&pool, "a1@ops.io", deploy.id, Decision::Approve)
        .await
        .unwrap();
    // Queued on one approval; then production starts requiring two.
    set_approval_policy(&pool, "production", 2, &[]).await;
    let worker = Worker::start(
        pool.clone(),
        cluster::Fleet::single(cluster::Handle::disabled()),
        quick_worker(),
    );
    let done = wait_finished(&pool, deploy.id, 30).await;
    assert_eq!(done.state, DeployState::Failed);
    assert!(
        done.reason
            .contains("production requires 2 approvals of exactly what is applied")
            && done.reason.contains("1 valid"),
        "{}",
        done.reason
    );

    // An approver who lost their standing no longer counts either. No worker
    // runs until the standing changed (one would claim the deploy at once).
    worker.shutdown().await;
    set_approval_policy(&pool, "production", 1, &["release"]).await;
    create_user(&pool, "rel@x.io", false, &["release"]).await;
    let next = request(&pool, "dev@shop.io", &service, "production", "x/api:2").await;
    try_decide(&pool, "rel@x.io", next.id, Decision::Approve)
        .await
        .unwrap();
    sqlx::query(
        "delete from team_members where user_id = (select id from users where email = 'rel@x.io')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let worker = Worker::start(
        pool.clone(),
        cluster::Fleet::single(cluster::Handle::disabled()),
        quick_worker(),
    );
    let done = wait_finished(&pool, next.id, 30).await;
    worker.shutdown().await;
    assert_eq!(done.state, DeployState::Failed);
    assert!(
        done.reason.contains("rel@x.io") && done.reason.contains("approver teams"),
        "{}",
        done.reason
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_new_revision_needs_its_own_approvals(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    set_approval_policy(&pool, "production", 2, &[]).await;
    let old = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    try_decide(&pool, "a1@ops.io", old.id, Decision::Approve)
        .await
        .unwrap();
    // A new revision is saved and requested while the old deploy waits.
    let service = save_revision(
        &pool,
        "dev@shop.io",
        &service,
        &SpecBuilder::web("api")
            .production_ready()
            .replicas(4)
            .to_yaml(),
    )
    .await;
    let new = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    assert_ne!(new.content_digest, old.content_digest);
    let approved = try_decide(&pool, "a2@ops.io", new.id, Decision::Approve)
        .await
        .unwrap();
    assert_eq!(
        approved.state,
        DeployState::AwaitingApproval,
        "a1's approval of the old revision does not count for the new one"
    );
    // Approving the old deploy applies the old revision, not the new one.
    let old_done = try_decide(&pool, "a2@ops.io", old.id, Decision::Approve)
        .await
        .unwrap();
    assert_eq!(old_done.state, DeployState::Queued);
    assert_eq!(old_done.revision, old.revision);
    assert_eq!(old_done.content_digest, old.content_digest);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_request_nobody_decides_expires_at_its_deadline(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let deadline = deploy.decision_deadline.expect("a deadline");
    let hours = (deadline - deploy.created_at).whole_minutes() as f64 / 60.0;
    assert!((71.9..=72.1).contains(&hours), "{hours} h");

    let nobody = cluster::Fleet::single(cluster::Handle::disabled());
    let before = waiting::sweep(&pool, &nobody, deadline - time::Duration::minutes(1))
        .await
        .unwrap();
    assert!(before.expired.is_empty());
    assert_eq!(
        find_deploy(&pool, deploy.id).await.state,
        DeployState::AwaitingApproval
    );
    let after = waiting::sweep(&pool, &nobody, deadline + time::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(after.expired, [deploy.id]);
    let done = find_deploy(&pool, deploy.id).await;
    assert_eq!(done.state, DeployState::Rejected);
    assert!(done.reason.starts_with("expired"), "{}", done.reason);
    let late = try_decide(&pool, "a1@ops.io", deploy.id, Decision::Approve).await;
    assert!(is_conflict(&late, "rejected"), "{late:?}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_plan_made_stale_by_a_newer_success_is_recomputed_and_its_approvals_void(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    set_approval_policy(&pool, "production", 2, &[]).await;
    // An earlier request is approved and queued; a later one waits on a plan
    // computed while nothing ran yet.
    let earlier = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let waiting_deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:2").await;
    try_decide(&pool, "a1@ops.io", waiting_deploy.id, Decision::Approve)
        .await
        .unwrap();
    let plan = plans::load(&pool, waiting_deploy.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plan.base_deploy, None);
    for admin in ["a2@ops.io", "a3@ops.io"] {
        try_decide(&pool, admin, earlier.id, Decision::Approve)
            .await
            .unwrap();
    }
    assert_eq!(
        find_deploy(&pool, waiting_deploy.id).await.state,
        DeployState::AwaitingApproval,
        "the older deploy being queued does not supersede a newer one"
    );
    // The earlier one succeeds meanwhile: the waiting plan is stale.
    mark_succeeded(&pool, earlier.id).await;
    let other = earlier;

    let stale = try_decide(&pool, "a2@ops.io", waiting_deploy.id, Decision::Approve).await;
    assert!(is_conflict(&stale, "recomputes"), "{stale:?}");
    let swept = waiting::sweep(
        &pool,
        &cluster::Fleet::single(cluster::Handle::disabled()),
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    assert_eq!((swept.plans, swept.voided), (1, 1));
    let plan = plans::load(&pool, waiting_deploy.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plan.base_deploy, Some(other.id));
    let stored = approvals::for_deploy(&pool, waiting_deploy.id)
        .await
        .unwrap();
    assert!(stored[0].voided_at.is_some(), "{stored:?}");
    assert!(stored[0].void_reason.contains("recomputed"));
    // a1 decides again on the new plan, a2 too: now it is queued.
    try_decide(&pool, "a1@ops.io", waiting_deploy.id, Decision::Approve)
        .await
        .unwrap();
    let queued = try_decide(&pool, "a2@ops.io", waiting_deploy.id, Decision::Approve)
        .await
        .unwrap();
    assert_eq!(queued.state, DeployState::Queued);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn production_refuses_unpinned_images_and_failing_checklists_unless_overridden(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    sqlx::query("update environments set require_image_digest = true where name = 'production'")
        .execute(&pool)
        .await
        .unwrap();
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let res = member
        .post_form(
            "/services/shop/api/deploys",
            &[("environment", "production"), ("image", "x/api:1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = member.page("/services/shop/api").await;
    assert!(page.contains("pinned by digest"), "{page}");
    let pinned = format!("x/api@sha256:{}", "a".repeat(64));
    let ok = request(&pool, "dev@shop.io", &service, "production", &pinned).await;
    assert_eq!(ok.state, DeployState::AwaitingApproval);

    // A spec whose production checklist fails (DEBUG on) is refused, naming the check.
    let debug = format!(
        "{}  env:\n    - {{name: DEBUG, value: \"true\"}}\n",
        SpecBuilder::web("api").production_ready().to_yaml()
    );
    let service = save_revision(&pool, "dev@shop.io", &service, &debug).await;
    let refused = try_request(
        &pool,
        &service,
        &crate::harness::actor(&current_user(&pool, "dev@shop.io").await),
        store::deploys::Trigger::User,
        "production",
        &pinned,
    )
    .await;
    match &refused {
        Err(AppError::Invalid(fields)) => {
            assert_eq!(fields[0].path, "checklist", "{fields:?}");
            assert!(
                fields[0].message.contains("DEBUG is on in production"),
                "{fields:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A member may not override; an administrator may, with a reason on the record.
    let res = member
        .post_form(
            "/services/shop/api/deploys",
            &[
                ("environment", "production"),
                ("image", &pinned),
                ("override_reason", "trust me"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let admin = TestApp::signed_in(&pool, "a1@ops.io").await;
    let res = admin
        .post_form(
            "/services/shop/api/deploys",
            &[
                ("environment", "production"),
                ("image", &pinned),
                ("override_reason", "incident 42: debug logging for one hour"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = deploy_id_in(&res);
    let plan = plans::load(&pool, id).await.unwrap().unwrap();
    assert_eq!(
        plan.checklist.override_reason.as_deref(),
        Some("incident 42: debug logging for one hour")
    );
    let page = admin.page(&format!("/deploys/{id}")).await;
    assert!(page.contains("overridden by a1@ops.io"), "{page}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_queue_lists_what_waits_and_approves_clean_plans_together(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    let first = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let other = create_service(
        &pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("worker-api").production_ready().to_yaml(),
    )
    .await;
    let second = request(&pool, "dev@shop.io", &other, "production", "x/w:1").await;

    let a1 = current_user(&pool, "a1@ops.io").await;
    let token = api_token(&pool, a1.id, "ci").await;
    let admin = TestApp::signed_in(&pool, "a1@ops.io").await;
    let listed: Value = admin
        .client
        .get(admin.url("/api/v1/approvals?environment=production"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [first.id, second.id]);
    assert_eq!(listed[0]["approvals_required"], 1);
    // A first deploy is all new: it needs a closer look, so the list refuses it.
    assert!(
        listed[0]["attention"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains("new")),
        "{listed}"
    );
    let page = admin.page("/approvals").await;
    assert!(page.contains("class=\"nav-count\""), "{page}");
    let bulk = admin
        .post_form(
            "/approvals/decide",
            &[
                ("select", &first.id.to_string()),
                ("select", &second.id.to_string()),
                (&format!("digest_{}", first.id), &first.content_digest),
                (&format!("digest_{}", second.id), &second.content_digest),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(bulk.status(), 303);
    assert_eq!(
        find_deploy(&pool, first.id).await.state,
        DeployState::AwaitingApproval,
        "an unclean plan is not approved from the list"
    );
    // Rejecting several at once needs no closer look.
    let bulk = admin
        .post_form(
            "/approvals/decide",
            &[
                ("select", &first.id.to_string()),
                ("select", &second.id.to_string()),
                ("decision", "reject"),
                ("comment", "not this week"),
            ],
        )
        .await;
    assert_eq!(bulk.status(), 303);
    for id in [first.id, second.id] {
        let d = find_deploy(&pool, id).await;
        assert_eq!(d.state, DeployState::Rejected);
        assert!(d.reason.contains("not this week"), "{}", d.reason);
    }
    // The requester's queue never held them.
    let dev = current_user(&pool, "dev@shop.io").await;
    let dev_token = api_token(&pool, dev.id, "ci").await;
    let mine: Value = admin
        .client
        .get(admin.url("/api/v1/approvals"))
        .bearer_auth(&dev_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine, serde_json::json!([]));
}

/// Freezes production from an hour ago until `hours` from now; returns the end.
async fn freeze_production(pool: &PgPool, hours: i64, reason: &str) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let ends = now + time::Duration::hours(hours);
    crate::harness::add_freeze_window(
        pool,
        "production",
        &crate::harness::once_window(
            &local(now - time::Duration::hours(1)),
            &local(ends),
            "UTC",
            reason,
        ),
    )
    .await;
    ends
}

/// The deploy a portal request redirected to.
fn deploy_id_in(res: &reqwest::Response) -> i64 {
    res.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/deploys/")
        .parse()
        .unwrap()
}

/// `YYYY-MM-DDTHH:MM` in UTC, as the freeze window form takes it.
fn local(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]"
    ))
    .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_deploy_requested_in_a_freeze_window_is_held_until_it_ends(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    let ends = freeze_production(&pool, 2, "year-end sale").await;
    let held = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    assert_eq!(held.state, DeployState::Held);
    let until = held.held_until.expect("held until the window ends");
    assert!(
        (until - ends).abs() < time::Duration::minutes(1),
        "{until} vs {ends}"
    );
    // The plan is there to read meanwhile; nobody may approve a held deploy yet.
    assert!(plans::load(&pool, held.id).await.unwrap().is_some());
    let early = try_decide(&pool, "a1@ops.io", held.id, Decision::Approve).await;
    assert!(is_conflict(&early, "held"), "{early:?}");
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let page = member.page(&format!("/deploys/{}", held.id)).await;
    assert!(page.contains("id=\"deploy-held\""), "{page}");

    let nobody = cluster::Fleet::single(cluster::Handle::disabled());
    let during = waiting::sweep(&pool, &nobody, until - time::Duration::minutes(5))
        .await
        .unwrap();
    assert!(during.released.is_empty());
    let after = waiting::sweep(&pool, &nobody, until + time::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(after.released, [held.id]);
    let released = find_deploy(&pool, held.id).await;
    assert_eq!(released.state, DeployState::AwaitingApproval);
    assert!(released.decision_deadline.is_some());
    let ok = try_decide(&pool, "a1@ops.io", held.id, Decision::Approve).await;
    assert_eq!(ok.unwrap().state, DeployState::Queued);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_freeze_that_refuses_is_overridden_only_by_an_admin_with_a_reason(pool: PgPool) {
    shop_with_three_admins(&pool).await;
    sqlx::query("update environments set freeze_action = 'refuse' where name = 'production'")
        .execute(&pool)
        .await
        .unwrap();
    freeze_production(&pool, 1, "audit week").await;
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let refused = member
        .post_form(
            "/services/shop/api/deploys",
            &[("environment", "production"), ("image", "x/api:1")],
        )
        .await;
    assert_eq!(refused.status(), 303);
    let page = member.page("/services/shop/api").await;
    assert!(
        page.contains("is frozen until") && page.contains("audit week"),
        "{page}"
    );
    let count: i64 = sqlx::query_scalar("select count(*) from deploys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was stored");

    let admin = TestApp::signed_in(&pool, "a1@ops.io").await;
    let res = admin
        .post_form(
            "/services/shop/api/deploys",
            &[
                ("environment", "production"),
                ("image", "x/api:1"),
                ("override_reason", "security fix CVE-2026-1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = deploy_id_in(&res);
    let deploy = find_deploy(&pool, id).await;
    assert_eq!(deploy.state, DeployState::AwaitingApproval);
    let events = deploys::events(&pool, id).await.unwrap();
    assert!(
        events.iter().any(|e| e
            .message
            .contains("freeze window overridden by a1@ops.io: security fix CVE-2026-1")),
        "{events:?}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_admin_releases_a_held_deploy_early_with_a_reason(pool: PgPool) {
    let service = shop_with_three_admins(&pool).await;
    freeze_production(&pool, 6, "data-centre move").await;
    let held = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    assert_eq!(held.state, DeployState::Held);
    let member = TestApp::signed_in(&pool, "dev@shop.io").await;
    let res = member
        .post_form(
            &format!("/deploys/{}/release", held.id),
            &[("reason", "please")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let admin = TestApp::signed_in(&pool, "a1@ops.io").await;
    let page = admin.page(&format!("/deploys/{}", held.id)).await;
    assert!(page.contains("id=\"release\""), "{page}");
    let res = admin
        .post_form(&format!("/deploys/{}/release", held.id), &[("reason", " ")])
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(find_deploy(&pool, held.id).await.state, DeployState::Held);
    let res = admin
        .post_form(
            &format!("/deploys/{}/release", held.id),
            &[("reason", "hotfix for the checkout outage")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let released = find_deploy(&pool, held.id).await;
    assert_eq!(released.state, DeployState::AwaitingApproval);
    let events = deploys::events(&pool, held.id).await.unwrap();
    assert!(
        events.iter().any(|e| e.message
            == "released from the freeze window by a1@ops.io: hotfix for the checkout outage"),
        "{events:?}"
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'deploy.release' and detail->>'reason' = $1",
    )
    .bind("hotfix for the checkout outage")
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // Released is not approved: it still needs its approval.
    let ok = try_decide(&pool, "a1@ops.io", held.id, Decision::Approve).await;
    assert_eq!(ok.unwrap().state, DeployState::Queued);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_long_queue_is_paged_oldest_first_and_its_links_keep_the_filters(pool: PgPool) {
    shop_with_three_admins(&pool).await;
    let mut waiting = Vec::new();
    for n in 0..55 {
        let service = create_service(
            &pool,
            "dev@shop.io",
            "shop",
            &SpecBuilder::web(&format!("svc-{n}"))
                .production_ready()
                .to_yaml(),
        )
        .await;
        waiting.push(request(&pool, "dev@shop.io", &service, "production", "x/api:1").await);
    }
    let admin = TestApp::signed_in(&pool, "a1@ops.io").await;
    let entries = |page: &str| page.matches("class=\"card queue-entry\"").count();

    let first = admin.page("/approvals").await;
    assert!(
        first.contains("Showing 1–50 of 55, oldest first"),
        "{first}"
    );
    assert_eq!(entries(&first), 50);
    assert!(first.contains(&format!("id=\"queue-{}\"", waiting[0].id)));
    assert!(first.contains(&format!("id=\"queue-{}\"", waiting[49].id)));
    assert!(!first.contains(&format!("id=\"queue-{}\"", waiting[50].id)));
    assert!(!first.contains("Previous page"));
    assert!(
        first.contains("href=\"/approvals?page=2\" rel=\"next\""),
        "{first}"
    );

    let second = admin.page("/approvals?page=2").await;
    assert!(
        second.contains("Showing 51–55 of 55, oldest first"),
        "{second}"
    );
    assert_eq!(entries(&second), 5);
    assert!(second.contains(&format!("id=\"queue-{}\"", waiting[54].id)));
    assert!(!second.contains(&format!("id=\"queue-{}\"", waiting[49].id)));
    assert!(second.contains("Previous page") && !second.contains("Next page"));

    // Past the end (decided meanwhile): the last page, not an empty one.
    let past = admin.page("/approvals?page=9").await;
    assert_eq!(entries(&past), 5, "{past}");
    // The filters are kept in the links; a short queue has no pages at all.
    let filtered = admin.page("/approvals?environment=production").await;
    assert!(
        filtered.contains("href=\"/approvals?environment=production&#38;page=2\""),
        "{filtered}"
    );
    let other_team = admin.page("/approvals?team=billing").await;
    assert!(other_team.contains("id=\"queue-empty\"") && !other_team.contains("Showing"));
}

/// Who looks at shop/api's production deploys, which need two approvals
/// with the release team's among them: an admin, the release team's `rel`,
/// the requester `dev` (shop) and `other` (billing), signed in on one server.
struct Viewers {
    service: slipway::store::services::Service,
    admin: TestApp,
    rel: TestApp,
    dev: TestApp,
    other: TestApp,
}

async fn production_viewers(pool: &PgPool) -> Viewers {
    create_user(pool, "dev@shop.io", false, &["shop"]).await;
    create_user(pool, "rel@x.io", false, &["release"]).await;
    create_user(pool, "other@x.io", false, &["billing"]).await;
    create_user(pool, "a1@ops.io", true, &[]).await;
    let service = create_service(
        pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    set_approval_policy(pool, "production", 2, &["release"]).await;
    let admin = TestApp::signed_in(pool, "a1@ops.io").await;
    let browser = |email: &'static str| {
        let app = admin.another_browser();
        async move {
            app.login_as(email, PASSWORD).await;
            app
        }
    };
    let (rel, dev, other) = (
        browser("rel@x.io").await,
        browser("dev@shop.io").await,
        browser("other@x.io").await,
    );
    Viewers {
        service,
        admin,
        rel,
        dev,
        other,
    }
}

/// The queue page's list of waiting deploys is read once a second for every
/// viewer of the same filter (`domain::approvals::WaitingList`); who each
/// deploy waits for is still decided per viewer and per view. A decision
/// through this server shows at once, one made elsewhere (another replica:
/// the domain on the same database, this server never told) within two
/// seconds.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_shared_queue_shows_each_viewer_only_what_waits_for_them(pool: PgPool) {
    let Viewers {
        service,
        admin,
        rel,
        dev,
        other,
    } = production_viewers(&pool).await;
    let first = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let second = request(&pool, "dev@shop.io", &service, "production", "x/api:2").await;
    let lists = |page: &str, id: i64| page.contains(&format!("id=\"queue-{id}\""));

    // Within one second, on one server: each sees what waits for them.
    let page = admin.page("/approvals").await;
    assert!(lists(&page, first.id) && lists(&page, second.id), "{page}");
    let page = rel.page("/approvals").await;
    assert!(lists(&page, first.id) && lists(&page, second.id), "{page}");
    for (who, app) in [("the requester", &dev), ("another team", &other)] {
        let page = app.page("/approvals").await;
        assert!(
            page.contains("id=\"queue-empty\"") && !lists(&page, first.id),
            "{who} was shown a shared queue entry: {page}"
        );
    }

    // A decision through this server: at once, for the one who decided and
    // for everyone else.
    let res = rel
        .post_form(&format!("/deploys/{}/approve", first.id), &[])
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert!(!lists(&rel.page("/approvals").await, first.id));
    let page = admin.page("/approvals").await;
    assert!(lists(&page, first.id), "still one approval short: {page}");

    // A decision elsewhere: within two seconds.
    try_decide(&pool, "rel@x.io", second.id, Decision::Approve)
        .await
        .unwrap();
    assert!(
        eventually(5, || async {
            !lists(&rel.page("/approvals").await, second.id)
        })
        .await,
        "a decision made elsewhere never showed"
    );
    try_decide(&pool, "a1@ops.io", second.id, Decision::Approve)
        .await
        .unwrap();
    assert!(
        eventually(5, || async {
            !lists(&admin.page("/approvals").await, second.id)
        })
        .await,
        "a deploy approved elsewhere stayed in the queue"
    );
}

/// A deploy's page is read once and shared for a second between everyone
/// who opens it (`web::deploys::DeployRecord`); what each viewer may do is
/// still decided per view, an outsider is refused however often the record
/// was read for others, a decision through this server shows at once and one
/// made elsewhere within moments.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_shared_deploy_page_shows_each_viewer_what_they_may_do(pool: PgPool) {
    let Viewers {
        service,
        admin,
        rel,
        dev,
        other,
    } = production_viewers(&pool).await;
    let deploy = request(&pool, "dev@shop.io", &service, "production", "x/api:1").await;
    let path = format!("/deploys/{}", deploy.id);
    let refused = "You cannot decide";

    // Within a second, one record: the approvers may decide, the requester
    // sees why not, another team is refused.
    for (who, app) in [("the admin", &admin), ("the approver team", &rel)] {
        let page = app.page(&path).await;
        assert!(page.contains("Approvals"), "{who}: {page}");
        assert!(!page.contains(refused), "{who} was refused: {page}");
    }
    let page = dev.page(&path).await;
    assert!(
        page.contains(&format!("{refused}: ")),
        "the requester was offered the decision: {page}"
    );
    for _ in 0..3 {
        let res = other.get(&path).await;
        assert_eq!(res.status(), 403);
        assert!(!res.text().await.unwrap().contains("x/api:1"));
        let res = other.htmx_get(&path).await;
        assert_eq!(res.status(), 403);
    }

    // A decision through this server: at once, on every viewer's page.
    let res = rel
        .post_form(&format!("/deploys/{}/approve", deploy.id), &[])
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let decided = "approved</span> by <strong>rel@x.io</strong>";
    let page = rel.page(&path).await;
    assert!(
        page.contains(decided) && page.contains("you already decided"),
        "{page}"
    );
    assert!(dev.page(&path).await.contains(decided));

    // A decision elsewhere (another replica): within moments.
    try_decide(&pool, "a1@ops.io", deploy.id, Decision::Approve)
        .await
        .unwrap();
    assert!(
        eventually(5, || async {
            dev.page(&path)
                .await
                .contains("approved</span> by <strong>a1@ops.io</strong>")
        })
        .await,
        "a decision made elsewhere never showed on the deploy's page"
    );
}
