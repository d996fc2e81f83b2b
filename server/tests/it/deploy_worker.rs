//! The deploy worker against the real local control plane (`e2e/cluster`) and a
//! real PostgreSQL: Django to staging, a new image, pruning the HPA, a rollout
//! that cannot complete, rollback, two workers and twenty deploys, SIGKILL in
//! the middle of a deploy, a lease that runs out, a replica cut off from the
//! database, and an unreachable cluster.
//!
//! Needs `SLIPWAY_TEST_KUBECONFIG` (e.g. `.slipway/cluster/kubeconfig`); without
//! it the cluster tests fail, because a skipped cluster test proves nothing.
//! Each test uses a fresh team, so its namespaces are its own; they are deleted
//! at the end.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, ListParams};
use slipway::cluster::apply::rendered_kinds;
use slipway::cluster::{self, KubeSource};
use slipway::deployer::{DeployState, Worker};
use slipway::store::{deploy_leases, deploys, pins};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::harness::{
    ClusterTest, Relay, SpecBuilder, TestApp, api_token, assert_succeeded, cluster_handle,
    create_service, create_user, database_url, eventually, find_deploy, kubeconfig_path, request,
    rollback, save_revision, test_config, wait_finished, with_token,
};

async fn container_image(client: &Client, ns: &str, name: &str) -> String {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let d = api.get(name).await.unwrap();
    d.spec
        .template
        .spec
        .and_then(|s| s.containers.into_iter().next())
        .and_then(|c| c.image)
        .unwrap_or_default()
}

async fn ready_pods(client: &Client, ns: &str, instance: &str) -> (usize, usize) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={instance}")))
        .await
        .unwrap();
    let live: Vec<&Pod> = pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let ready = live
        .iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    (ready, live.len())
}

/// `Kind/name` of every object Slipway manages for the service in the namespace.
async fn managed_objects(client: &Client, ns: &str, service: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let params = ListParams::default().labels(&format!(
        "app.kubernetes.io/managed-by=slipway,app.kubernetes.io/name={service}"
    ));
    for resource in rendered_kinds() {
        let api = slipway::cluster::apply::api_for(client, ns, &resource);
        for o in api.list(&params).await.unwrap().items {
            if o.metadata.deletion_timestamp.is_none() {
                out.insert(format!(
                    "{}/{}",
                    resource.kind,
                    o.metadata.name.unwrap_or_default()
                ));
            }
        }
    }
    out
}

/// The dry-run diff stored with a deploy.
async fn stored_diff(pool: &PgPool, id: i64) -> String {
    deploys::documents(pool, id)
        .await
        .unwrap()
        .diff
        .expect("a dry-run diff was stored")
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn django_goes_to_staging_then_a_new_image_rolls_out_and_history_shows_both(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let (client, ns, team) = (&t.client, t.ns(), &t.team);
    let service = t.service(SpecBuilder::example("django")).await;

    let first = t
        .deploy_ok(&service, "registry.example.com/shop/web:1.4.2")
        .await;
    // A pod the autoscaler adds right after the rollout may still be starting
    // (seen once in CI: 1 of 2 ready); every live pod must become ready.
    let all_ready = eventually(30, || async {
        let (ready, total) = ready_pods(client, &ns, "shop-web-staging").await;
        ready >= 1 && ready == total
    })
    .await;
    let (ready, total) = ready_pods(client, &ns, "shop-web-staging").await;
    assert!(all_ready, "{ready} of {total} pods ready");
    let namespace: Api<Namespace> = Api::all(client.clone());
    let labels = namespace
        .get(&ns)
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("slipway")
    );
    let diff = stored_diff(&pool, first.id).await;
    assert!(
        diff.contains("desired Deployment/shop-web (created)"),
        "{diff}"
    );

    let second = t
        .deploy_ok(&service, "registry.example.com/shop/web:1.5.0")
        .await;
    assert_eq!(
        container_image(client, &ns, "shop-web").await,
        "registry.example.com/shop/web:1.5.0"
    );
    let diff = stored_diff(&pool, second.id).await;
    assert!(
        diff.contains("+        image: registry.example.com/shop/web:1.5.0"),
        "{diff}"
    );
    assert!(
        diff.contains("-        image: registry.example.com/shop/web:1.4.2"),
        "{diff}"
    );
    let (ready, total) = ready_pods(client, &ns, "shop-web-staging").await;
    assert!(
        ready >= 1 && ready == total,
        "{ready} of {total} pods ready after the new image"
    );

    let app = TestApp::signed_in(&pool, &t.email).await;
    let history = app
        .page(&format!("/services/{team}/shop-web/history"))
        .await;
    for d in [&first, &second] {
        assert!(
            history.contains(&format!("href=\"/deploys/{}\"", d.id)),
            "{history}"
        );
    }
    assert_eq!(
        history.matches("class=\"state succeeded\"").count(),
        2,
        "{history}"
    );
    let page = app.page(&format!("/deploys/{}", second.id)).await;
    assert!(page.contains("id=\"deploy-diff\""), "{page}");
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn removing_autoscaling_prunes_the_hpa_and_nothing_else(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let (client, ns) = (&t.client, t.ns());
    let service = t.service(SpecBuilder::example("django")).await;

    t.deploy_ok(&service, "registry.example.com/shop/web:1.4.2")
        .await;
    let before = managed_objects(client, &ns, "shop-web").await;
    assert!(
        before.contains("HorizontalPodAutoscaler/shop-web"),
        "{before:?}"
    );
    // Let the HPA controller act first: it scales to minReplicas through the scale
    // subresource and so becomes a manager of `spec.replicas`.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let scaled = eventually(90, || async {
        deployments
            .get("shop-web")
            .await
            .is_ok_and(|d| d.spec.replicas == Some(2))
    })
    .await;
    assert!(scaled, "the HPA scaled the Deployment to its minimum");

    // Without the HPA, Slipway takes `spec.replicas` back (the HPA controller set it to 2).
    let changed = SpecBuilder::example("django")
        .team(&t.team)
        .without_autoscaling()
        .replicas(3)
        .to_yaml();
    assert!(
        !changed
            .lines()
            .any(|l| l.trim_start().starts_with("autoscaling:")),
        "{changed}"
    );
    let service = save_revision(&pool, &t.email, &service, &changed).await;
    let second = t
        .deploy_ok(&service, "registry.example.com/shop/web:1.4.2")
        .await;

    let after = managed_objects(client, &ns, "shop-web").await;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &ns);
    assert!(
        hpas.get_opt("shop-web").await.unwrap().is_none(),
        "the HPA is gone"
    );
    let expected: BTreeSet<String> = before
        .iter()
        .filter(|o| !o.starts_with("HorizontalPodAutoscaler/"))
        .cloned()
        .collect();
    assert_eq!(after, expected, "only the HPA was pruned");
    let events = deploys::events(&pool, second.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message == "pruned HorizontalPodAutoscaler/shop-web"),
        "{events:#?}"
    );
    let diff = stored_diff(&pool, second.id).await;
    assert!(diff.contains("(pruned)"), "{diff}");
    assert_eq!(
        deployments.get("shop-web").await.unwrap().spec.replicas,
        Some(3)
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_impossible_resource_request_fails_with_the_scheduler_reason_within_its_deadline(
    pool: PgPool,
) {
    let stall = Duration::from_secs(15);
    let mut config = test_config();
    config.rollout.stall_timeout = stall;
    let t = ClusterTest::with_config(&pool, &["staging"], config).await;
    let service = t.service(SpecBuilder::web("greedy").cpu("\"500\"")).await;

    let deploy = t.deploy(&service, "registry.example.com/x/greedy:1").await;
    assert_eq!(deploy.state, DeployState::Failed);
    for part in [
        "no progress for 15 s",
        "cannot be scheduled",
        "Insufficient cpu",
    ] {
        assert!(deploy.reason.contains(part), "{}", deploy.reason);
    }
    let took = deploy.finished_at.unwrap() - deploy.started_at.unwrap();
    assert!(
        took.whole_seconds() < (stall.as_secs() + 30) as i64,
        "failed after {took}, deadline {stall:?}"
    );
    t.finish().await;
}

/// The rollout wait looks again when its watch reports a change, not only at
/// its poll: with a poll far longer than the deploy deadline, a first deploy
/// and an image change both finish (a wait that only polled would still be
/// waiting for its second look when [`ClusterTest::deploy`] gives up).
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_rollout_is_seen_complete_when_its_watch_reports_it_not_at_the_next_poll(pool: PgPool) {
    let mut config = test_config();
    config.rollout.poll = Duration::from_secs(3600);
    config.rollout.stall_timeout = Duration::from_secs(7200);
    let t = ClusterTest::with_config(&pool, &["staging"], config).await;
    let service = t.service(SpecBuilder::web("watched").replicas(2)).await;
    for image in [
        "registry.example.com/x/watched:1",
        "registry.example.com/x/watched:2",
    ] {
        let deploy = t.deploy_ok(&service, image).await;
        let timeline: Vec<String> = deploys::events(&pool, deploy.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert!(
            timeline.iter().any(|m| m == "waiting for the rollout"),
            "deploy #{} never waited for a rollout: {timeline:?}",
            deploy.id
        );
        assert_eq!(container_image(&t.client, &t.ns(), "watched").await, image);
    }
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn rollback_restores_the_previous_image(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let (client, ns) = (&t.client, t.ns());
    let service = t.service(SpecBuilder::web("api")).await;

    let good = t
        .deploy_ok(&service, "registry.example.com/x/api:1.0.0")
        .await;
    t.deploy_ok(&service, "registry.example.com/x/api:2.0.0")
        .await;
    assert_eq!(
        container_image(client, &ns, "api").await,
        "registry.example.com/x/api:2.0.0"
    );

    let rollback = t.wait(&rollback(&pool, &t.email, &good).await).await;
    assert_succeeded(&rollback);
    assert_eq!(rollback.rollback_of, Some(good.id));
    assert_eq!(
        container_image(client, &ns, "api").await,
        "registry.example.com/x/api:1.0.0"
    );
    assert!(
        pins::active_pin(&pool, service.id, rollback.environment_id)
            .await
            .unwrap()
            .is_some(),
        "the rollback pinned staging"
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn two_workers_apply_twenty_queued_deploys_exactly_once(pool: PgPool) {
    let mut t = ClusterTest::without_worker(&pool, &["staging"]).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let name = format!("w{i:02}");
        let service = t.service(SpecBuilder::worker(&name)).await;
        let d = t
            .request(&service, &format!("registry.example.com/x/{name}:1"))
            .await;
        assert_eq!(d.state, DeployState::Queued);
        ids.push((d.id, name));
    }
    let mut config = test_config();
    config.concurrency = 3;
    t.start_worker(config).await;
    t.start_worker(config).await;

    let mut claimers = BTreeSet::new();
    for (id, _) in &ids {
        assert_succeeded(&wait_finished(&pool, *id, 300).await);
    }
    let deployments: Api<Deployment> = Api::namespaced(t.client.clone(), &t.ns());
    for (id, name) in &ids {
        let deploy = find_deploy(&pool, *id).await;
        assert_eq!(deploy.attempts, 1, "deploy #{id} was claimed once");
        let events = deploys::events(&pool, *id).await.unwrap();
        let claims: Vec<_> = events
            .iter()
            .filter(|e| e.to_state == DeployState::Applying && !e.is_note())
            .collect();
        assert_eq!(claims.len(), 1, "deploy #{id}: {events:#?}");
        claimers.insert(claims[0].actor.clone());
        let applied = events
            .iter()
            .filter(|e| e.message.starts_with("applied "))
            .count();
        assert_eq!(applied, 1, "deploy #{id} applied once: {events:#?}");
        let live = deployments.get(name).await.unwrap();
        let annotations = live.metadata.annotations.unwrap_or_default();
        assert_eq!(
            annotations.get("slipway.dev/deploy-id"),
            Some(&id.to_string()),
            "{name} carries its deploy's id"
        );
    }
    assert_eq!(claimers.len(), 2, "both workers took deploys: {claimers:?}");
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_deploy_whose_lease_runs_out_is_taken_over_and_completes(pool: PgPool) {
    let mut t = ClusterTest::without_worker(&pool, &["staging"]).await;
    let service = t.service(SpecBuilder::web("api")).await;
    let deploy = t.request(&service, "registry.example.com/x/api:1").await;
    // A worker claims it and dies without a word; its lease then runs out.
    let mut tx = pool.begin().await.unwrap();
    let dead = Uuid::new_v4();
    let claimed = deploy_leases::claim_next(&mut tx, dead, 1.0, "worker that dies")
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.id, deploy.id);
    expire_lease(&pool, deploy.id).await;

    t.start_worker(test_config()).await;
    let done = t.wait(&deploy).await;
    assert_succeeded(&done);
    assert_eq!(done.attempts, 2);
    let events = deploys::events(&pool, deploy.id).await.unwrap();
    assert!(
        events.iter().any(|e| e.message.contains(&format!(
            "taken over after the lease of worker {dead} ran out"
        ))),
        "{events:#?}"
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_replica_cut_off_from_the_database_stops_applying_before_another_takes_over(
    pool: PgPool,
) {
    let mut t = ClusterTest::without_worker(&pool, &["staging"]).await;
    // Replica A reaches PostgreSQL through a relay the test cuts. Its pool
    // waits the usual 30 s for a connection: a renewal stuck in that wait
    // must not keep A working past its lease.
    let (relay, through_relay) = Relay::in_front_of(&pool).await;
    let a_pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(through_relay)
        .await
        .expect("replica A's pool");
    let service = t.service(SpecBuilder::web("api")).await;
    // Its pods never become ready: A waits on the rollout, touching nothing
    // in the database but its lease.
    let deploy = t
        .request(&service, "registry.example.com/x/api:kwok-never-ready")
        .await;
    let a = Worker::start(
        a_pool,
        cluster::Fleet::single(cluster_handle().await),
        test_config(),
    );
    let applied_by_a = eventually(60, || async {
        let d = find_deploy(&pool, deploy.id).await;
        d.state == DeployState::Progressing && d.lease_owner == Some(a.id())
    })
    .await;
    assert!(
        applied_by_a,
        "{:#?}",
        deploys::events(&pool, deploy.id).await
    );
    // Replica B runs beside it (a short stall timeout, so the deploy ends soon
    // once B has it).
    let mut b_config = test_config();
    b_config.rollout.stall_timeout = Duration::from_secs(10);
    t.start_worker(b_config).await;
    let b = t.workers()[0].id();

    relay.cut().await;
    let let_go = eventually(30, || async { a.deploys_in_hand().is_empty() }).await;
    assert!(
        let_go,
        "replica A still works on deploy #{} with its database gone",
        deploy.id
    );
    // At the moment A let go its lease was still running in the database:
    // nobody could have taken the deploy over yet.
    let still_as: bool = sqlx::query_scalar(
        "select lease_owner = $2 and lease_expires_at > now() from deploys where id = $1",
    )
    .bind(deploy.id)
    .bind(a.id())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        still_as,
        "replica A stopped only after its lease had run out: {:#?}",
        deploys::events(&pool, deploy.id).await
    );

    let done = wait_finished(&pool, deploy.id, 120).await;
    assert_eq!(done.state, DeployState::Failed, "{}", done.reason);
    assert_eq!(done.attempts, 2);
    let events = deploys::events(&pool, deploy.id).await.unwrap();
    let b_actor = format!("worker {}", &b.simple().to_string()[..8]);
    let take_over = events
        .iter()
        .find(|e| {
            e.message.contains(&format!(
                "taken over after the lease of worker {} ran out",
                a.id()
            ))
        })
        .unwrap_or_else(|| panic!("no take-over: {events:#?}"));
    assert_eq!(take_over.actor, b_actor, "replica B took it over");
    let last = events.last().expect("a timeline");
    assert_eq!(
        (last.to_state, last.actor.as_str()),
        (DeployState::Failed, b_actor.as_str()),
        "replica B ended it: {events:#?}"
    );
    assert!(
        done.reason.contains("Readiness probe failed"),
        "{}",
        done.reason
    );
    drop(a);
    // The audit: one apply per attempt, each by the replica that held it.
    t.finish().await;
}

/// Lets the lease of a running deploy run out now.
async fn expire_lease(pool: &PgPool, id: i64) {
    let expired =
        sqlx::query("update deploys set lease_expires_at = now() - interval '1 second' where id = $1 and lease_owner is not null")
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
    assert_eq!(expired.rows_affected(), 1, "deploy {id} holds a lease");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_deploy_whose_workers_keep_dying_is_failed_with_a_reason_not_left_applying(pool: PgPool) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let yaml = SpecBuilder::web("api").to_yaml();
    let service = create_service(&pool, "dev@shop.io", "shop", &yaml).await;
    let deploy = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    // Three workers took it and died: attempts 3, lease run out.
    sqlx::query(
        "update deploys set state = 'progressing', attempts = 3, lease_owner = $2,
             lease_expires_at = now() - interval '1 second' where id = $1",
    )
    .bind(deploy.id)
    .bind(Uuid::new_v4())
    .execute(&pool)
    .await
    .unwrap();
    let worker = Worker::start(
        pool.clone(),
        cluster::Fleet::single(cluster::Handle::disabled()),
        test_config(),
    );
    let done = wait_finished(&pool, deploy.id, 30).await;
    assert_eq!(done.state, DeployState::Failed);
    assert!(
        done.reason
            .contains("stopped while running this deploy 3 times"),
        "{}",
        done.reason
    );
    assert!(done.lease_owner.is_none());
    worker.shutdown().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_unreachable_cluster_fails_the_deploy_after_bounded_retries_and_the_portal_keeps_working(
    pool: PgPool,
) {
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    let yaml = SpecBuilder::web("api").to_yaml();
    let service = create_service(&pool, "dev@shop.io", "shop", &yaml).await;
    // A kubeconfig naming a port where nothing listens.
    let dir = std::env::temp_dir().join(format!("slipway-unreachable-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: gone, user: u}}]
current-context: c
",
    )
    .unwrap();
    let handle = cluster::Handle::start(KubeSource::File(path));
    let app = TestApp::spawn_with(pool.clone(), handle.clone(), |_| {}).await;
    let worker = Worker::start(pool.clone(), cluster::Fleet::single(handle), test_config());
    let deploy = request(&pool, "dev@shop.io", &service, "staging", "x/api:1").await;
    let done = wait_finished(&pool, deploy.id, 60).await;
    assert_eq!(done.state, DeployState::Failed);
    assert!(done.reason.contains("unreachable"), "{}", done.reason);

    app.login_as("dev@shop.io", crate::harness::PASSWORD).await;
    let page = app.page(&format!("/deploys/{}", deploy.id)).await;
    assert!(
        page.contains("unreachable"),
        "the portal keeps working: {page}"
    );
    worker.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// `slipway serve` as a child process on this test's database and the local cluster.
fn spawn_serve(url: &str, log: &std::path::Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let err = out.try_clone().unwrap();
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .env("SLIPWAY_DATABASE_URL", url)
        .env("SLIPWAY_KUBECONFIG", kubeconfig_path())
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        .env("SLIPWAY_LOG", "info")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("slipway serve starts")
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn sigkill_in_the_middle_of_a_deploy_then_a_restart_finishes_it(pool: PgPool) {
    let t = ClusterTest::without_worker(&pool, &["staging"]).await;
    let service = t.service(SpecBuilder::example("django")).await;
    let url = database_url(&pool).await;
    let log = std::env::temp_dir().join(format!("slipway-sigkill-{}.log", t.team));

    let mut first = spawn_serve(&url, &log);
    let deploy = t
        .request(&service, "registry.example.com/shop/web:1.4.2")
        .await;
    // Look often, to kill it while it is applying (the window is a few hundred
    // milliseconds); a kill while progressing is accepted too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut state_at_kill = deploy.state;
    let mut mid_apply = false;
    while tokio::time::Instant::now() < deadline {
        state_at_kill = find_deploy(&pool, deploy.id).await.state;
        // Between the dry-run note and the "applied" note, objects are being written.
        mid_apply = state_at_kill == DeployState::Applying
            && deploys::events(&pool, deploy.id)
                .await
                .unwrap()
                .iter()
                .any(|e| e.message.starts_with("dry run"));
        if mid_apply || state_at_kill == DeployState::Progressing || state_at_kill.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
    let _ = first.wait();
    // The kill must land while the deploy runs: after the dry run while applying,
    // or while the rollout is being watched; never before the claim or after the end.
    assert!(
        mid_apply || state_at_kill == DeployState::Progressing,
        "slipway serve was not killed in the middle of deploy #{} (it was {state_at_kill}): {}",
        deploy.id,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    eprintln!(
        "slipway serve was killed while deploy #{} was {state_at_kill}{}",
        deploy.id,
        if mid_apply { ", after its dry run" } else { "" }
    );

    let mut second = spawn_serve(&url, &log);
    // The default lease is 20 s: the restarted process takes the deploy over after it.
    let done = wait_finished(&pool, deploy.id, 150).await;
    let _ = second.kill();
    let _ = second.wait();
    // Server-side apply is idempotent: applying again what was half applied succeeds.
    assert_succeeded(&done);
    assert!(done.lease_owner.is_none());
    let events = deploys::events(&pool, deploy.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message.contains("taken over after the lease")),
        "{events:#?}"
    );
    let running: i64 = sqlx::query_scalar(
        "select count(*) from deploys where state in ('applying', 'progressing')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(running, 0);
    let _ = std::fs::remove_file(log);
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_field_another_manager_owns_is_reported_as_a_conflict_and_not_forced(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let (client, ns) = (&t.client, t.ns());
    let service = t.service(SpecBuilder::web("api")).await;
    t.deploy_ok(&service, "registry.example.com/x/api:1").await;

    // Someone takes the image over with their own field manager.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let hotfix = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": ns},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "registry.example.com/x/api:hotfix"}
        ]}}}
    });
    deployments
        .patch(
            "api",
            &kube::api::PatchParams::apply("ops-hotfix").force(),
            &kube::api::Patch::Apply(&hotfix),
        )
        .await
        .unwrap();

    let second = t.deploy(&service, "registry.example.com/x/api:2").await;
    assert_eq!(second.state, DeployState::Failed);
    for part in ["Deployment/api", "conflict", "ops-hotfix"] {
        assert!(second.reason.contains(part), "{}", second.reason);
    }
    assert_eq!(
        container_image(client, &ns, "api").await,
        "registry.example.com/x/api:hotfix",
        "Slipway did not force the field"
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_environment_that_blocks_on_missing_secrets_names_them_then_deploys_once_they_exist(
    pool: PgPool,
) {
    let mut t = ClusterTest::without_worker(&pool, &["staging"]).await;
    let (client, ns) = (t.client.clone(), t.ns());
    let service = t.service(SpecBuilder::example("django")).await;
    let staging = slipway::store::environments::find_by_name(&pool, "staging")
        .await
        .unwrap()
        .unwrap();
    slipway::store::environments::update_policy(
        &pool,
        "staging",
        &slipway::store::environments::EnvironmentPolicy {
            namespace_pattern: &staging.namespace_pattern,
            approvals_required: 0,
            approver_teams: &[],
            approval_ttl_hours: 72,
            require_image_digest: false,
            checklist_must_pass: false,
            freeze_action: "hold",
            block_on_missing_secrets: true,
            production_rules: staging.production_rules,
            webhook_refs: &staging.webhook_refs,
            position: staging.position,
            cluster: "",
        },
    )
    .await
    .unwrap();
    t.start_worker(test_config()).await;

    let blocked = t
        .deploy(&service, "registry.example.com/shop/web:1.4.2")
        .await;
    assert_eq!(blocked.state, DeployState::Failed);
    assert!(
        blocked.reason.contains("missing Secrets")
            && blocked.reason.contains("shop-db-credentials/url")
            && blocked.reason.contains("shop-django/secret-key"),
        "{}",
        blocked.reason
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    assert!(
        deployments.get_opt("shop-web").await.unwrap().is_none(),
        "nothing was applied"
    );

    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    for (name, key) in [
        ("shop-db-credentials", "url"),
        ("shop-django", "secret-key"),
    ] {
        let secret: k8s_openapi::api::core::v1::Secret =
            serde_json::from_value(serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": ns},
                "stringData": {key: "not-a-real-value"}
            }))
            .unwrap();
        secrets
            .create(&kube::api::PostParams::default(), &secret)
            .await
            .unwrap();
    }
    t.deploy_ok(&service, "registry.example.com/shop/web:1.4.2")
        .await;
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_statefulset_rolls_out_and_a_cronjob_succeeds_once_applied(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["development"]).await;

    let postgres = t
        .service(SpecBuilder::example("postgres-statefulset"))
        .await;
    let deploy = t.deploy_ok(&postgres, "postgres:16.4").await;
    let events = deploys::events(&pool, deploy.id).await.unwrap();
    let last = events.last().unwrap();
    assert!(
        last.message.contains("StatefulSet shop-postgres"),
        "{events:#?}"
    );
    let sets: Api<k8s_openapi::api::apps::v1::StatefulSet> =
        Api::namespaced(t.client.clone(), &t.ns());
    let set = sets.get("shop-postgres").await.unwrap();
    let status = set.status.unwrap();
    assert_eq!(status.update_revision, status.current_revision);

    let cron = t.service(SpecBuilder::example("cron")).await;
    let deploy = t
        .deploy_ok(&cron, "registry.example.com/shop/web:1.4.2")
        .await;
    let events = deploys::events(&pool, deploy.id).await.unwrap();
    assert!(
        events
            .last()
            .unwrap()
            .message
            .contains("CronJob runs on its schedule"),
        "{events:#?}"
    );
    t.finish().await;
}

/// Live status comes from the watch cache: after a deploy, the API and the
/// portal fragment show the replicas and the pod, without a list call per view.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn live_status_shows_replicas_and_pods_of_a_deployed_service(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let team = &t.team;
    let user = crate::harness::current_user(&pool, &t.email).await;
    let token = api_token(&pool, user.id, "status").await;
    let service = t.service(SpecBuilder::web("status-web").replicas(2)).await;
    let app = TestApp::spawn_with(pool.clone(), cluster_handle().await, |_| {}).await;
    let url = app.url(&format!(
        "/api/v1/teams/{team}/services/status-web/status?environment=staging"
    ));
    let status = || async {
        with_token(app.client.get(&url), &token)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let before = status().await;

    t.deploy_ok(&service, "registry.example.com/shop/web:1.0.0")
        .await;
    // Bounded: at most 60 s of polling.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (mut settled, mut last) = (false, serde_json::Value::Null);
    while !settled && tokio::time::Instant::now() < deadline {
        last = status().await;
        settled = last["stale"] == false
            && last["replicas"]["desired"] == 2
            && last["replicas"]["ready"] == 2
            && last["pods"].as_array().is_some_and(|p| {
                p.len() == 2
                    && p.iter()
                        .all(|p| p["ready"] == true && p["node"].is_string())
            });
        if !settled {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    app.login_as(&t.email, crate::harness::PASSWORD).await;
    let fragment = app
        .page(&format!("/services/{team}/status-web/status?env=staging"))
        .await;
    t.finish().await;

    assert_eq!(
        before["replicas"]["desired"], 0,
        "nothing before the deploy: {before}"
    );
    assert!(settled, "status never showed 2 of 2 ready pods: {last}");
    assert!(
        fragment.contains("<strong>2</strong>/2 ready"),
        "{fragment}"
    );
    assert!(
        fragment.contains("status-web-"),
        "pod names listed: {fragment}"
    );
}
