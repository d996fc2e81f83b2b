//! The CI client, run as the real binary against a serving Slipway: `apply`
//! keeps a spec file in sync, `deploy --wait` exits 0 only when the rollout
//! succeeded, 1 when it failed (with the reason), 2 when refused.

use std::process::Output;
use std::time::Duration;

use slipway::deployer::WorkerConfig;
use sqlx::PgPool;

use crate::harness::{
    ClusterTest, SpecBuilder, TestApp, api_token, create_service, create_user, test_config,
};

async fn slipway(app: &TestApp, token: &str, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLIPWAY_SERVER", format!("http://{}", app.addr))
        .env("SLIPWAY_TOKEN", token);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn apply_creates_then_revises_only_when_the_spec_changed(pool: PgPool) {
    let user = create_user(&pool, "ci@shop.io", false, &["shop"]).await;
    let token = api_token(&pool, user.id, "ci").await;
    let app = TestApp::spawn(pool.clone()).await;
    let dir = std::env::temp_dir().join(format!("slipway-apply-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("slipway.yaml");
    let path = file.to_str().unwrap();
    std::fs::write(&file, SpecBuilder::web("api").team("shop").to_yaml()).unwrap();

    let created = slipway(&app, &token, &["apply", "-f", path]).await;
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains("shop/api: revision 1"));
    let again = slipway(&app, &token, &["apply", "-f", path]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again.stdout).contains("unchanged (revision 1)"),
        "{}",
        text(&again.stdout)
    );

    std::fs::write(
        &file,
        SpecBuilder::web("api").team("shop").replicas(3).to_yaml(),
    )
    .unwrap();
    let revised = slipway(&app, &token, &["apply", "-f", path]).await;
    assert_eq!(revised.status.code(), Some(0), "{}", text(&revised.stderr));
    assert!(text(&revised.stdout).contains("shop/api: revision 2"));
    let revisions: i64 = sqlx::query_scalar("select count(*) from service_revisions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(revisions, 2);

    std::fs::write(
        &file,
        "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: Bad_Name\n  team: shop\nspec:\n  replicaz: 2\n",
    )
    .unwrap();
    let invalid = slipway(&app, &token, &["apply", "-f", path]).await;
    assert_eq!(invalid.status.code(), Some(2));
    let stderr = text(&invalid.stderr);
    assert!(
        stderr.contains(&format!("{path}: spec.replicaz:")),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn deploy_reports_refusals_and_an_approval_that_did_not_come(pool: PgPool) {
    let user = create_user(&pool, "ci@shop.io", false, &["shop"]).await;
    let outsider = create_user(&pool, "eve@other.io", false, &["other"]).await;
    create_service(
        &pool,
        "ci@shop.io",
        "shop",
        &SpecBuilder::web("api").production_ready().to_yaml(),
    )
    .await;
    let token = api_token(&pool, user.id, "ci").await;
    let app = TestApp::spawn(pool.clone()).await;
    let base = [
        "deploy",
        "--team",
        "shop",
        "--service",
        "api",
        "--image",
        "shop/api:2",
    ];

    let queued = slipway(&app, &token, &[&base[..], &["--env", "staging"]].concat()).await;
    assert_eq!(queued.status.code(), Some(0), "{}", text(&queued.stderr));
    assert!(
        text(&queued.stdout).contains("to staging: queued"),
        "{}",
        text(&queued.stdout)
    );

    let waiting = slipway(
        &app,
        &token,
        &[
            &base[..],
            &["--env", "production", "--wait", "--timeout", "3s"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(waiting.status.code(), Some(2));
    assert!(text(&waiting.stderr).contains("is still awaiting approval after 3s"));

    let foreign = api_token(&pool, outsider.id, "x").await;
    let refused = slipway(&app, &foreign, &[&base[..], &["--env", "staging"]].concat()).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("refused (403)"),
        "{}",
        text(&refused.stderr)
    );

    let bad_token = slipway(
        &app,
        "slw_nope",
        &[&base[..], &["--env", "staging"]].concat(),
    )
    .await;
    assert_eq!(bad_token.status.code(), Some(2));
    assert!(text(&bad_token.stderr).contains("token was refused"));

    let invalid = slipway(
        &app,
        &token,
        &[
            "deploy",
            "--team",
            "shop",
            "--service",
            "api",
            "--image",
            "Not An Image",
            "--env",
            "staging",
        ],
    )
    .await;
    assert_eq!(invalid.status.code(), Some(2));
    assert!(
        text(&invalid.stderr).contains("  image:"),
        "{}",
        text(&invalid.stderr)
    );
}

/// On the local control plane: `--wait` exits 0 after a real rollout, and 1
/// with the scheduler's reason when the pods can never be placed.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn deploy_wait_follows_a_real_rollout_to_its_end(pool: PgPool) {
    let mut config: WorkerConfig = test_config();
    config.rollout.stall_timeout = Duration::from_secs(15);
    let t = ClusterTest::with_config(&pool, &["staging"], config).await;
    let service = t.service(SpecBuilder::web("api")).await;
    let greedy = t.service(SpecBuilder::web("greedy").cpu("\"500\"")).await;
    let user = slipway::store::users::find_by_email(&pool, &t.email)
        .await
        .unwrap()
        .unwrap();
    let token = api_token(&pool, user.id, "ci").await;
    let app = TestApp::spawn(pool.clone()).await;
    let run = |name: &str| {
        vec![
            "deploy".to_owned(),
            "--team".into(),
            t.team.clone(),
            "--service".into(),
            name.to_owned(),
            "--env".into(),
            "staging".into(),
            "--image".into(),
            format!("registry.example.com/x/{name}:1"),
            "--wait".into(),
            "--timeout".into(),
            "240s".into(),
        ]
    };
    let args = run(&service.name);
    let ok = slipway(
        &app,
        &token,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}\n{}",
        text(&ok.stdout),
        text(&ok.stderr)
    );
    let stdout = text(&ok.stdout);
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert!(
        stdout.contains("  applying"),
        "progress is printed: {stdout}"
    );

    let args = run(&greedy.name);
    let failed = slipway(
        &app,
        &token,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stdout));
    let stderr = text(&failed.stderr);
    assert!(
        stderr.contains("failed") && stderr.contains("Insufficient cpu"),
        "{stderr}"
    );
    t.finish().await;
}
