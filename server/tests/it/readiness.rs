//! `/readyz` follows PostgreSQL going away and coming back, without a restart;
//! the private instance of `slipway run` initialises, restarts and keeps its data.

use slipway::local::postgres::LocalPostgres;
use slipway::local::state_dir::StateDir;
use slipway::store;

use crate::harness::{TestApp, eventually};

#[tokio::test]
async fn readyz_drops_to_503_when_postgres_stops_and_recovers_when_it_returns() {
    let base = std::env::temp_dir().join(format!("slipway-ready-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    let state = StateDir::new(&base).unwrap();
    let mut pg = LocalPostgres::prepare(&state).unwrap();
    pg.start().unwrap();
    let admin = store::connect_now(store::connect_options(&pg.maintenance_url()).unwrap())
        .await
        .unwrap();
    sqlx::query("create database slipway")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let pool = store::lazy_pool(store::connect_options(&pg.url()).unwrap());
    store::migrate(&pool).await.unwrap();
    let app = TestApp::spawn(pool).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    pg.stop();
    let down = eventually(5, || async { app.get("/readyz").await.status() == 503 }).await;
    assert!(
        down,
        "/readyz did not answer 503 within 5 s of PostgreSQL stopping"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);

    pg.start().unwrap();
    let back = eventually(10, || async { app.get("/readyz").await.status() == 200 }).await;
    assert!(back, "/readyz did not recover within 10 s");

    pg.stop();
    // A second prepare reuses the data (no initdb) and the same password file.
    let again = LocalPostgres::prepare(&state).unwrap();
    assert_eq!(again.data_dir(), pg.data_dir());
    let _ = std::fs::remove_dir_all(&base);
}
