//! The audit log is append-only at the database level for the serving role:
//! migrations run as the schema owner, `slipway serve` connects as a login
//! role that is only a member of `slipway_app`. That role appends and reads
//! the log and runs the whole portal, but cannot update, delete or truncate
//! the log, nor disable or drop its triggers (both need ownership), nor take
//! ownership.

use slipway::domain::accounts::{self, AccessChange};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::harness::{
    PASSWORD, TestApp, create_user, database_url, eventually, extract_csrf, listening_port,
};

/// The test database's URL as `role` (the throwaway server trusts local connections).
async fn url_as(owner: &PgPool, role: &str) -> String {
    let url = database_url(owner).await;
    url.replacen("://postgres@", &format!("://{role}@"), 1)
}

/// A fresh login role in `slipway_app`, made as `slipway run` makes its
/// serving role, and a pool of the test's database
/// connected as it (the throwaway server trusts local connections).
async fn serving_pool(owner: &PgPool) -> (String, PgPool) {
    let role = format!("slipway_web_{}", &Uuid::new_v4().simple().to_string()[..12]);
    // The call `slipway run` makes for its private instance; a second call (a
    // restart) only sets the password again.
    for password in ["first-password", "second-password"] {
        slipway::store::roles::ensure_serving_role(owner, &role, password)
            .await
            .unwrap();
    }
    let member: bool = sqlx::query_scalar("select pg_has_role($1, 'slipway_app', 'member')")
        .bind(&role)
        .fetch_one(owner)
        .await
        .unwrap();
    assert!(member, "{role} is a member of slipway_app");
    let url = database_url(owner).await;
    let options: PgConnectOptions = url.parse::<PgConnectOptions>().unwrap().username(&role);
    let pool = PgPool::connect_with(options).await.unwrap();
    (role, pool)
}

async fn drop_role(owner: &PgPool, role: &str) {
    for sql in [format!("drop owned by {role}"), format!("drop role {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(owner)
            .await
            .unwrap();
    }
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_serving_role_appends_to_the_audit_log_but_cannot_rewrite_it(owner: PgPool) {
    let (role, app_pool) = serving_pool(&owner).await;
    let who: (String, bool) = sqlx::query_as(
        "select current_user::text, rolsuper from pg_roles where rolname = current_user",
    )
    .fetch_one(&app_pool)
    .await
    .unwrap();
    assert_eq!(who, (role.clone(), false));

    // Normal operation as the serving role: users, sign-in (sessions, login
    // attempts), tokens through the portal, an access change; each audited.
    let ann = create_user(&app_pool, "ann@example.com", false, &["shop"]).await;
    create_user(&app_pool, "root@example.com", true, &[]).await;
    let app = TestApp::spawn(app_pool.clone()).await;
    app.login_as("ann@example.com", PASSWORD).await;
    let res = app
        .post_form(
            "/account/tokens",
            &[
                ("name", "ci"),
                ("current_password", PASSWORD),
                ("scopes", "read"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    accounts::change_access(
        &app_pool,
        &slipway::store::audit::Actor::system(),
        ann.id,
        AccessChange::Disable,
    )
    .await
    .unwrap();
    assert_eq!(app.get("/account").await.status(), 303, "disabled at once");
    let actions: Vec<String> = sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(&app_pool)
        .await
        .unwrap();
    assert_eq!(actions, ["user.login", "token.create", "user.disable"]);
    assert!(
        slipway::store::migrations_current(&app_pool).await.unwrap(),
        "/readyz can read the migrations"
    );

    // History cannot be changed by the serving role, not even by going around the triggers.
    let attacks = [
        "update audit_log set actor = 'nobody'".to_owned(),
        "delete from audit_log".into(),
        "truncate audit_log".into(),
        "alter table audit_log disable trigger audit_log_no_update".into(),
        "alter table audit_log disable trigger all".into(),
        "drop trigger audit_log_no_update on audit_log".into(),
        "drop function audit_log_refuse_change() cascade".into(),
        format!("alter table audit_log owner to {role}"),
        "drop table audit_log".into(),
        "set role postgres".into(),
        "delete from _sqlx_migrations".into(),
        "create table audit_log_shadow (id bigint)".into(),
    ];
    for sql in &attacks {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&app_pool)
            .await
            .expect_err(sql);
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
    }
    // Granting itself more is a no-op (PostgreSQL warns "no privileges were granted").
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "grant update, delete, truncate on audit_log to {role}"
    )))
    .execute(&app_pool)
    .await
    .unwrap();
    let may: (bool, bool, bool, bool) = sqlx::query_as(
        "select has_table_privilege('audit_log', 'UPDATE'), has_table_privilege('audit_log', 'DELETE'),
                has_table_privilege('audit_log', 'TRUNCATE'), has_table_privilege('audit_log', 'INSERT')",
    )
    .fetch_one(&app_pool)
    .await
    .unwrap();
    assert_eq!(may, (false, false, false, true));
    let count: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(count, 3, "every entry is still there");
    let triggers: i64 = sqlx::query_scalar(
        "select count(*) from pg_trigger where tgrelid = 'audit_log'::regclass
         and not tgisinternal and tgenabled = 'O'",
    )
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(triggers, 2, "both triggers are in place and enabled");

    drop(app);
    app_pool.close().await;
    drop_role(&owner, &role).await;
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn deleting_a_user_is_possible_without_rewriting_the_audit_log(owner: PgPool) {
    // Slipway disables users and never deletes them, but an operator cleaning
    // up by hand must not be stopped by the log's (dropped) foreign key.
    let ann = create_user(&owner, "ann@example.com", false, &["shop"]).await;
    slipway::store::audit::record(
        &owner,
        &slipway::store::audit::Actor {
            user_id: Some(ann.id),
            name: ann.email.clone(),
            client_addr: None,
        },
        "user.login",
        &ann.email,
        serde_json::json!({}),
    )
    .await
    .unwrap();
    sqlx::query("delete from users where id = $1")
        .bind(ann.id)
        .execute(&owner)
        .await
        .unwrap();
    let kept: Option<i64> = sqlx::query_scalar("select actor_user_id from audit_log")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(kept, Some(ann.id), "the entry keeps who acted");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn serve_migrates_as_the_owner_and_serves_as_the_app_role(owner: PgPool) {
    let (role, probe) = serving_pool(&owner).await;
    probe.close().await;
    create_user(&owner, "ann@example.com", false, &["shop"]).await;
    let serving_url = url_as(&owner, &role).await;
    assert!(serving_url.contains(&role), "{serving_url}");
    let dir = std::env::temp_dir().join(format!("slipway-roles-{role}"));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("secret-key");
    std::fs::write(&key_file, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLIPWAY_DATABASE_URL", &serving_url)
        .env("SLIPWAY_MIGRATION_DATABASE_URL", database_url(&owner).await)
        .env("SLIPWAY_SECRET_KEY_FILE", &key_file)
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        .env("SLIPWAY_KUBECONFIG", "/nonexistent/kubeconfig")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut port = None;
    let listening = eventually(20, || {
        port = port.or_else(|| listening_port(pid));
        let found = port.is_some();
        async move { found }
    })
    .await;
    assert!(listening, "slipway serve did not listen within 20 s");
    let base = format!("http://127.0.0.1:{}", port.unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf = extract_csrf(&page.text().await.unwrap()).unwrap();
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let who: String = sqlx::query_scalar(
        "select usename::text from pg_stat_activity
         where datname = current_database() and application_name <> 'sqlx-test' and usename <> 'postgres'
         limit 1",
    )
    .fetch_optional(&owner)
    .await
    .unwrap()
    .unwrap_or_default();
    assert_eq!(who, role, "the portal's connections are the serving role's");
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    std::fs::remove_dir_all(&dir).unwrap();
    drop_role(&owner, &role).await;
}
