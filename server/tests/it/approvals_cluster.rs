//! The approval flow against the local control plane: the plan computed at
//! request time is a real server-side dry run (created / changed objects with
//! their field diff, what runs now), missing Secret keys block the request
//! itself, and what the approver approved is what rolls out.

use slipway::deploy_model::{Decision, DeployState};
use slipway::domain::deploys::{self as domain, DeployRequest, Trigger};
use slipway::domain::plans;
use slipway::error::AppError;
use slipway::plan::{DryRun, ObjectChange};
use sqlx::PgPool;

use crate::harness::{
    ClusterTest, SpecBuilder, TestApp, actor, assert_succeeded, cluster_handle, create_user,
    current_user, try_decide,
};

/// Requests a production deploy of `service` with the real cluster, as the portal does.
async fn request_with_cluster(
    t: &ClusterTest,
    service: &slipway::store::services::Service,
    image: &str,
) -> Result<slipway::store::deploys::Deploy, AppError> {
    let member = current_user(&t.pool, &t.email).await;
    domain::request(
        &t.pool,
        &slipway::cluster::Fleet::single(cluster_handle().await),
        service,
        &actor(&member),
        Trigger::User,
        &DeployRequest::of("production", image),
    )
    .await
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_approver_reads_a_real_dry_run_and_exactly_that_rolls_out(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["production"]).await;
    create_user(&pool, "ops@ops.io", true, &[]).await;
    let service = t.service(SpecBuilder::web("api").production_ready()).await;
    let image = |tag: &str| format!("registry.example.com/{}/api:{tag}", t.team);

    // The first deploy: nothing runs, the namespace does not exist yet.
    let first = request_with_cluster(&t, &service, &image("1.0.0"))
        .await
        .unwrap();
    assert_eq!(first.state, DeployState::AwaitingApproval);
    let plan = plans::load(&pool, first.id).await.unwrap().unwrap();
    assert_eq!(plan.base_deploy, None);
    assert_eq!(plan.digest, first.content_digest);
    match &plan.dry_run {
        DryRun::Done {
            objects,
            namespace_created,
            ..
        } => {
            assert!(namespace_created);
            assert!(objects.iter().all(|o| o.change == ObjectChange::Create));
            assert!(
                objects.iter().any(|o| o.kind == "Deployment"),
                "{objects:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(plan.changes.first_deploy);
    try_decide(&pool, "ops@ops.io", first.id, Decision::Approve)
        .await
        .unwrap();
    // The decision itself queued it (the worker may have claimed it since, so
    // the row's state now proves nothing): the approval's audit entry says so.
    let decided_to: String = sqlx::query_scalar(
        "select detail->>'state' from audit_log where action = 'deploy.approve' \
         and (detail->>'deploy')::bigint = $1",
    )
    .bind(first.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(decided_to, DeployState::Queued.as_str());
    assert_succeeded(&t.wait(&first).await);

    // The second: a new image. The dry run against what runs now shows the
    // Deployment changing, and only the image.
    let second = request_with_cluster(&t, &service, &image("1.1.0"))
        .await
        .unwrap();
    let plan = plans::load(&pool, second.id).await.unwrap().unwrap();
    assert_eq!(plan.base_deploy, Some(first.id));
    let DryRun::Done {
        objects,
        prune,
        namespace_created,
    } = &plan.dry_run
    else {
        panic!("{:?}", plan.dry_run)
    };
    assert!(!namespace_created);
    assert!(prune.is_empty(), "{prune:?}");
    let deployment = objects.iter().find(|o| o.kind == "Deployment").unwrap();
    assert_eq!(deployment.change, ObjectChange::Update);
    assert!(
        deployment
            .diff
            .contains(&format!("-        image: {}", image("1.0.0")))
            && deployment
                .diff
                .contains(&format!("+        image: {}", image("1.1.0"))),
        "{}",
        deployment.diff
    );
    let service_object = objects.iter().find(|o| o.kind == "Service").unwrap();
    assert_eq!(
        service_object.change,
        ObjectChange::Unchanged,
        "{}",
        service_object.diff
    );
    let web = plan
        .changes
        .images
        .iter()
        .find(|i| i.container.starts_with("Deployment/api/"))
        .unwrap_or_else(|| panic!("{:?}", plan.changes.images));
    assert_eq!(web.running.as_deref(), Some(image("1.0.0").as_str()));
    assert!(plan.changes.new_secret_refs.is_empty() && plan.changes.new_sidecars.is_empty());

    // The page an approver decides on shows the same plan.
    let ops = TestApp::signed_in(&pool, "ops@ops.io").await;
    let page = ops.page(&format!("/deploys/{}", second.id)).await;
    assert!(page.contains("0 to create, 1 to change"), "{page}");
    assert!(page.contains(&image("1.1.0")), "{page}");
    let res = ops
        .post_form(
            &format!("/deploys/{}/approve", second.id),
            &[
                ("comment", "image bump"),
                ("digest", &second.content_digest),
                ("revision_hash", &second.revision_hash),
                ("image", &second.image),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let done = t.wait(&second).await;
    assert_succeeded(&done);
    let events = slipway::store::deploys::events(&pool, second.id)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.actor == "ops@ops.io" && e.message.contains("image bump")),
        "{events:?}"
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn missing_secret_keys_block_the_request_not_the_apply(pool: PgPool) {
    let t = ClusterTest::without_worker(&pool, &["production"]).await;
    let yaml = format!(
        "{}  env:\n    - {{name: DATABASE_URL, secret: {{name: api-db, key: url}}}}\n",
        SpecBuilder::web("api")
            .production_ready()
            .team(&t.team)
            .to_yaml()
    );
    let service = t.service_yaml(&yaml).await;
    let refused = request_with_cluster(
        &t,
        &service,
        &format!("registry.example.com/{}/api:1.0.0", t.team),
    )
    .await;
    match refused {
        Err(AppError::Invalid(fields)) => {
            assert_eq!(fields[0].path, "secrets", "{fields:?}");
            assert!(fields[0].message.contains("api-db/url"), "{fields:?}");
        }
        other => panic!("{other:?}"),
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from deploys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing half-written");
    t.finish().await;
}
