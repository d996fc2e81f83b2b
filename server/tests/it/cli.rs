//! `slipway admin …` runs the same account actions as the admin pages: the
//! same rules, and an audit entry for each change, made by the system actor.

use std::process::{Command, Output};

use sqlx::PgPool;

use crate::harness::{create_user, database_url};

async fn slipway(pool: &PgPool, args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLIPWAY_DATABASE_URL", database_url(pool).await);
    if let Some(password) = password {
        command.env("SLIPWAY_ADMIN_PASSWORD", password);
    }
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap()
}

async fn audit_actions(pool: &PgPool, actor: &str) -> Vec<(String, String)> {
    sqlx::query_as("select action, target from audit_log where actor = $1 order by id")
        .bind(actor)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_cli_creates_teams_users_and_tokens_audited_as_the_system(pool: PgPool) {
    let team = slipway(&pool, &["admin", "create-team", "--name", "billing"], None).await;
    assert!(team.status.success(), "{team:?}");
    let user = slipway(
        &pool,
        &[
            "admin",
            "create-user",
            "--email",
            " Ann@Billing.IO ",
            "--team",
            "billing",
        ],
        Some("a-long-enough-password-9"),
    )
    .await;
    assert!(user.status.success(), "{user:?}");
    let token = slipway(
        &pool,
        &[
            "admin",
            "token",
            "--email",
            "ann@billing.io",
            "--name",
            "ci",
        ],
        None,
    )
    .await;
    assert!(token.status.success(), "{token:?}");
    let value = String::from_utf8(token.stdout).unwrap();
    assert!(value.trim().starts_with("slw_"), "{value}");

    let entries = audit_actions(&pool, "system").await;
    assert_eq!(
        entries,
        [
            ("team.create".to_owned(), "billing".to_owned()),
            ("user.create".to_owned(), "ann@billing.io".to_owned()),
            ("token.create".to_owned(), "ann@billing.io".to_owned()),
        ]
    );
    let detail: serde_json::Value =
        sqlx::query_scalar("select detail from audit_log where action = 'token.create'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(detail["token"], "ci");
    assert_eq!(detail["via"], "cli");
    assert_eq!(
        detail["scopes"],
        serde_json::json!(["read", "deploy", "approve"])
    );
    assert!(
        !detail.to_string().contains(value.trim()),
        "the value is never audited"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_cli_token_gets_the_expiry_and_scopes_asked_for_audited_via_cli(pool: PgPool) {
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let args = [
        "admin",
        "token",
        "--email",
        "ann@shop.io",
        "--name",
        "ci",
        "--expires-in-days",
        "7",
        "--scope",
        "deploy",
    ];
    let out = slipway(&pool, &args, None).await;
    assert!(out.status.success(), "{out:?}");
    let (scopes, days): (Vec<String>, f64) = sqlx::query_as(
        "select scopes, (extract(epoch from expires_at - created_at) / 86400)::float8 from api_tokens",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(scopes, ["read", "deploy"]);
    assert!((days - 7.0).abs() < 0.01, "{days}");
    let (actor, detail): (String, serde_json::Value) =
        sqlx::query_as("select actor, detail from audit_log where action = 'token.create'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(actor, "system");
    assert_eq!(detail["via"], "cli");
    assert_eq!(detail["scopes"], serde_json::json!(["read", "deploy"]));
    assert!(detail["expires_at"].is_string(), "{detail}");
}

#[test]
fn secrets_are_not_taken_from_flags() {
    let cases: [&[&str]; 3] = [
        &[
            "serve",
            "--secret-key",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ],
        &["serve", "--database-url", "postgres://u:pw@127.0.0.1:9/x"],
        &["migrate", "--database-url", "postgres://u:pw@127.0.0.1:9/x"],
    ];
    for args in cases {
        // An invalid log filter makes a serve that accepted the flag stop at
        // once instead of serving, so a regression fails rather than hangs.
        let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SLIPWAY_LOG", "info,[")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("unexpected argument '{}'", args[1])),
            "{args:?}: {stderr}"
        );
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_cli_refuses_what_the_admin_pages_refuse_naming_the_flag(pool: PgPool) {
    create_user(&pool, "ann@shop.io", false, &["shop"]).await;
    let cases: [(&[&str], Option<&str>, &str); 7] = [
        (
            &[
                "admin",
                "token",
                "--email",
                "ann@shop.io",
                "--name",
                "ci",
                "--expires-in-days",
                "400",
            ],
            None,
            "--expires-in-days: must be a number of days from 1 to 365",
        ),
        (
            &[
                "admin",
                "token",
                "--email",
                "ann@shop.io",
                "--name",
                "ci",
                "--scope",
                "admin",
            ],
            None,
            "--scope: `admin` is not a scope",
        ),
        (
            &["admin", "create-user", "--email", "ann@"],
            Some("a-long-enough-password-9"),
            "--email: is not an email address",
        ),
        (
            &[
                "admin",
                "create-user",
                "--email",
                "bob@shop.io",
                "--team",
                "ghost",
            ],
            Some("a-long-enough-password-9"),
            "--team: there is no team `ghost`",
        ),
        (
            &["admin", "create-team", "--name", "Bad_Name"],
            None,
            "--name:",
        ),
        (
            &["admin", "token", "--email", "ann@shop.io", "--name", "   "],
            None,
            "--name: required",
        ),
        (
            &[
                "admin",
                "token",
                "--email",
                "nobody@shop.io",
                "--name",
                "ci",
            ],
            None,
            "--email: there is no user with this email",
        ),
    ];
    for (args, password, expected) in cases {
        let out = slipway(&pool, args, password).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let changes: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where actor = 'system' and action <> 'user.login'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(changes, 0, "a refused command writes nothing");
}
