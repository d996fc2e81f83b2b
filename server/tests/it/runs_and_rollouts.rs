//! Status beyond a steady Deployment, from the watch cache: a scheduled
//! service's runs (the Jobs of its CronJob, one succeeding, one failing on
//! kwok's `:kwok-job-fail`) and a rollout caught midway (the Deployment's old
//! and new ReplicaSets), each in the API and the page with its explanation.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::api::{Api, PostParams};
use serde_json::Value;
use slipway::deployer::DeployState;
use sqlx::PgPool;

use crate::harness::{
    ClusterTest, PASSWORD, SpecBuilder, TestApp, api_token, cluster_handle, current_user,
    test_config, with_token,
};

/// A scheduled service that never fires on its own during a test (1 January,
/// midnight), so every run is the test's.
fn cron_spec(team: &str, name: &str, backoff_limit: u32) -> String {
    format!(
        "apiVersion: slipway.dev/v1
kind: Service
metadata: {{name: {name}, team: {team}}}
spec:
  framework: cron
  image: registry.example.com/{team}/{name}:1.0.0
  command: [python, manage.py, {name}]
  cron: {{schedule: \"0 0 1 1 *\", backoffLimit: {backoff_limit}}}
  resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
"
    )
}

/// Starts a run of `cron` now, the way `kubectl create job --from=cronjob/…`
/// does: its job template, owned by it, marked as started by hand.
async fn run_now(t: &ClusterTest, cron: &str, job: &str) {
    let crons: Api<CronJob> = Api::namespaced(t.client.clone(), &t.ns());
    let c = crons.get(cron).await.expect("the CronJob was applied");
    let template = c.spec.job_template.clone();
    let owner = OwnerReference {
        api_version: CronJob::api_version(&()).into_owned(),
        kind: "CronJob".into(),
        name: cron.into(),
        uid: c.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: None,
    };
    let run = Job {
        metadata: ObjectMeta {
            name: Some(job.into()),
            labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
            annotations: Some(
                [(
                    "cronjob.kubernetes.io/instantiate".to_owned(),
                    "manual".to_owned(),
                )]
                .into(),
            ),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    };
    Api::<Job>::namespaced(t.client.clone(), &t.ns())
        .create(&PostParams::default(), &run)
        .await
        .expect("the Job is created");
}

struct Viewer {
    app: TestApp,
    token: String,
    team: String,
}

impl Viewer {
    async fn new(t: &ClusterTest) -> Self {
        let user = current_user(&t.pool, &t.email).await;
        let token = api_token(&t.pool, user.id, "status").await;
        let app = TestApp::spawn_with(t.pool.clone(), cluster_handle().await, |_| {}).await;
        app.login_as(&t.email, PASSWORD).await;
        Viewer {
            app,
            token,
            team: t.team.clone(),
        }
    }

    async fn status(&self, service: &str) -> Value {
        let url = self.app.url(&format!(
            "/api/v1/teams/{}/services/{service}/status?environment=staging",
            self.team
        ));
        let res = with_token(self.app.client.get(&url), &self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "status of {service}");
        res.json().await.unwrap()
    }

    /// The status once `ready` holds for it, within 60 s; the last one seen
    /// is in the panic message otherwise.
    async fn status_when(
        &self,
        service: &str,
        what: &str,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        for _ in 0..240 {
            last = self.status(service).await;
            if ready(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("{service}: never {what}: {last:#}");
    }

    async fn fragment(&self, service: &str) -> String {
        self.app
            .page(&format!(
                "/services/{}/{service}/status?env=staging",
                self.team
            ))
            .await
    }
}

fn codes(status: &Value) -> Vec<&str> {
    status["explanations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["code"].as_str())
        .collect()
}

fn explanation<'a>(status: &'a Value, code: &str) -> &'a str {
    status["explanations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["code"] == code)
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no {code} explanation: {status:#}"))
}

fn first_run_state(status: &Value) -> Option<&str> {
    status["cron"]["runs"][0]["state"].as_str()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_scheduled_service_shows_its_runs_and_why_the_last_one_failed(pool: PgPool) {
    let t = ClusterTest::new(&pool, &["staging"]).await;
    let team = t.team.clone();
    let report = t.service_yaml(&cron_spec(&team, "report", 2)).await;
    t.deploy_ok(
        &report,
        &format!("registry.example.com/{team}/report:1.0.0"),
    )
    .await;
    let broken = t.service_yaml(&cron_spec(&team, "broken", 0)).await;
    t.deploy_ok(
        &broken,
        &format!("registry.example.com/{team}/broken:kwok-job-fail"),
    )
    .await;
    let viewer = Viewer::new(&t).await;

    // Before any run: the schedule, and that nothing ran yet.
    let status = viewer
        .status_when("report", "shows its schedule", |s| s["cron"].is_object())
        .await;
    assert_eq!(status["cron"]["schedule"], "0 0 1 1 *", "{status:#}");
    assert_eq!(status["cron"]["suspended"], false);
    assert_eq!(status["cron"]["runs"], Value::Array(vec![]));
    assert_eq!(codes(&status), ["cron-no-run-yet"], "{status:#}");
    assert!(
        status["cron"]["deploy_id"].is_string(),
        "the deploy that put it there: {status:#}"
    );

    run_now(&t, "report", "report-by-hand-1").await;
    run_now(&t, "broken", "broken-by-hand-1").await;

    let status = viewer
        .status_when("report", "shows its run succeeded", |s| {
            first_run_state(s) == Some("succeeded")
        })
        .await;
    let run = &status["cron"]["runs"][0];
    assert_eq!(run["name"], "report-by-hand-1");
    assert_eq!(run["manual"], true);
    assert_eq!(run["succeeded"], 1, "{run:#}");
    assert!(run["duration_secs"].is_i64(), "{run:#}");
    assert!(
        explanation(&status, "cron-last-run-succeeded")
            .starts_with("The last run report-by-hand-1 (by hand, started "),
        "{status:#}"
    );

    let status = viewer
        .status_when("broken", "shows its run failed", |s| {
            first_run_state(s) == Some("failed")
        })
        .await;
    let run = &status["cron"]["runs"][0];
    assert_eq!(run["name"], "broken-by-hand-1");
    assert_eq!(run["failed"], 1, "{run:#}");
    assert!(
        run["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("BackoffLimitExceeded")),
        "{run:#}"
    );
    let failed = explanation(&status, "cron-last-run-failed");
    assert!(
        failed.contains("broken-by-hand-1") && failed.contains("BackoffLimitExceeded"),
        "{failed}"
    );
    assert_eq!(
        status["cron"]["runs"].as_array().map(Vec::len),
        Some(1),
        "only its own runs: {status:#}"
    );

    // The page says the same, each service with only its own runs.
    let page = viewer.fragment("broken").await;
    for needle in [
        "Schedule <code>broken</code>",
        "<code>0 0 1 1 *</code>",
        "broken-by-hand-1",
        "(by hand)",
        "<span class=\"state failed\">failed</span>",
        "BackoffLimitExceeded",
    ] {
        assert!(
            page.contains(needle),
            "the fragment lacks {needle:?}: {page}"
        );
    }
    assert!(!page.contains("report-by-hand-1"), "{page}");
    let page = viewer.fragment("report").await;
    assert!(
        page.contains("report-by-hand-1")
            && page.contains("<span class=\"state ready\">succeeded</span>"),
        "{page}"
    );
    t.finish().await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_rollout_caught_midway_shows_the_old_and_the_new_replica_set(pool: PgPool) {
    let mut config = test_config();
    // The new pods never get ready; no need to wait 90 s for the verdict.
    config.rollout.stall_timeout = Duration::from_secs(20);
    let t = ClusterTest::with_config(&pool, &["staging"], config).await;
    let team = t.team.clone();
    let service = t
        .service_yaml(&SpecBuilder::web("shop").team(&team).replicas(2).to_yaml())
        .await;
    t.deploy_ok(&service, &format!("registry.example.com/{team}/shop:1.0.0"))
        .await;
    let viewer = Viewer::new(&t).await;
    let steady = viewer
        .status_when("shop", "shows its ReplicaSet", |s| {
            s["workloads"][0]["replica_sets"]
                .as_array()
                .is_some_and(|r| r.len() == 1 && r[0]["ready"] == 2)
        })
        .await;
    let first = steady["workloads"][0]["replica_sets"][0].clone();
    assert_eq!(first["newest"], true, "{steady:#}");
    assert_eq!(first["revision"], "1", "{steady:#}");
    assert!(!codes(&steady).contains(&"rolling-out"), "{steady:#}");

    // A new image whose pods never get ready: the rollout stops midway, the
    // old ReplicaSet keeping its pods (maxUnavailable rounds down to 0).
    let stuck = t
        .request(
            &service,
            &format!("registry.example.com/{team}/shop:kwok-never-ready"),
        )
        .await;
    // The new ReplicaSet's pod and the Deployment's own count of updated
    // pods are written by two controllers, one after the other: wait for both.
    let midway = viewer
        .status_when("shop", "shows the rollout midway", |s| {
            s["workloads"][0]["replicas"]["updated"] == 1
                && s["workloads"][0]["replica_sets"]
                    .as_array()
                    .is_some_and(|r| r.len() == 2 && r[0]["current"] == 1)
        })
        .await;
    let sets = &midway["workloads"][0]["replica_sets"];
    assert_eq!(sets[0]["newest"], true, "{midway:#}");
    assert_eq!(sets[0]["revision"], "2");
    assert_eq!(sets[0]["ready"], 0);
    assert!(
        sets[0]["image"]
            .as_str()
            .is_some_and(|i| i.ends_with(":kwok-never-ready")),
        "{midway:#}"
    );
    assert_eq!(sets[1]["name"], first["name"]);
    assert_eq!(sets[1]["newest"], false);
    assert_eq!(sets[1]["current"], 2);
    let old = first["name"].as_str().unwrap_or_default();
    assert_eq!(
        explanation(&midway, "rolling-out"),
        format!(
            "A rollout is in progress: 1 of 2 pods on the newest template. The older ReplicaSet {old} (revision 1) still has 2 pods."
        )
    );
    let page = viewer.fragment("shop").await;
    assert!(
        page.contains(&format!("data-replica-set=\"{old}\"")) && page.contains("(newest)"),
        "{page}"
    );

    let stuck = t.wait(&stuck).await;
    assert_eq!(stuck.state, DeployState::Failed, "{}", stuck.reason);
    t.finish().await;
}
