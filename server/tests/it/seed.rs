//! The demo seed of `slipway run`.

use slipway::config::SecretString;
use sqlx::PgPool;

use crate::harness::TestApp;

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_demo_seed_creates_the_admin_and_every_example_once(pool: PgPool) {
    let pw = SecretString::new("tidal-orbit-47-lantern");
    let first = slipway::seed::seed_demo(&pool, "Admin@Slipway.Local", Some(&pw))
        .await
        .unwrap();
    assert_eq!(first.admin_email, "admin@slipway.local");
    assert!(first.generated_password.is_none());
    let again = slipway::seed::seed_demo(&pool, "admin@slipway.local", None)
        .await
        .unwrap();
    assert!(
        again.generated_password.is_none(),
        "an existing admin keeps its password"
    );
    let services: i64 = sqlx::query_scalar("select count(*) from services")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(services, slipway::seed::EXAMPLES.len() as i64);
    let app = TestApp::spawn(pool).await;
    app.login_as("admin@slipway.local", "tidal-orbit-47-lantern")
        .await;
    let catalog = app.page("/").await;
    assert!(catalog.contains("/services/shop/shop-web"), "{catalog}");
    assert!(catalog.contains("/services/pricing/pricing-api"));
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_generated_admin_password_is_returned_once_and_works(pool: PgPool) {
    let seeded = slipway::seed::seed_demo(&pool, "admin@slipway.local", None)
        .await
        .unwrap();
    let pw = seeded.generated_password.expect("generated");
    let app = TestApp::spawn(pool).await;
    app.login_as("admin@slipway.local", &pw).await;
}

/// The demo teams are granted the hosts their examples route: every seeded
/// service can be requested in development and staging without a grant error
/// (and the examples do not claim each other's hosts).
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn every_seeded_example_passes_the_tenancy_grants(pool: PgPool) {
    let pw = SecretString::new("tidal-orbit-47-lantern");
    slipway::seed::seed_demo(&pool, "admin@slipway.local", Some(&pw))
        .await
        .unwrap();
    let admin = crate::harness::current_user(&pool, "admin@slipway.local").await;
    let names: Vec<(String, String)> = sqlx::query_as(
        "select t.name, s.name from services s join teams t on t.id = s.team_id order by s.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (team, name) in names {
        let service = slipway::store::services::find(&pool, &team, &name)
            .await
            .unwrap()
            .unwrap();
        for environment in ["development", "staging"] {
            crate::harness::try_request(
                &pool,
                &service,
                &crate::harness::actor(&admin),
                slipway::store::deploys::Trigger::User,
                environment,
                "registry.example.com/demo/app:1.0.0",
            )
            .await
            .unwrap_or_else(|e| panic!("{team}/{name} in {environment}: {e:?}"));
        }
    }
}
