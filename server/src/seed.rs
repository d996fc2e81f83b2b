//! Seeding of the embedded default: the admin account and the demo team.

use anyhow::Context as _;
use rand::RngCore as _;
use serde_json::json;
use sqlx::PgPool;

use crate::auth::password;
use crate::config::SecretString;
use crate::store;

/// Name of the demo team that `slipway run` creates.
pub const DEMO_TEAM: &str = "demo";

/// What seeding did, for the start-up message.
#[derive(Debug)]
pub struct Seeded {
    /// The admin's email.
    pub admin_email: String,
    /// A password generated now; shown once, never stored in clear.
    pub generated_password: Option<String>,
}

/// Creates the admin (password from config, else generated) and the demo team, once.
pub async fn seed_demo(
    pool: &PgPool,
    admin_email: &str,
    admin_password: Option<&SecretString>,
) -> anyhow::Result<Seeded> {
    let email = admin_email.trim().to_lowercase();
    let mut generated = None;
    let mut tx = pool.begin().await?;
    let admin = match store::users::find_by_email(&mut *tx, &email).await? {
        Some(user) => user,
        None => {
            let pw = match admin_password {
                Some(p) => p.expose().to_owned(),
                None => {
                    let mut bytes = [0u8; 12];
                    rand::rng().fill_bytes(&mut bytes);
                    let pw = hex::encode(bytes);
                    generated = Some(pw.clone());
                    pw
                }
            };
            if let Some(problem) = password::strength_problem(&pw, &email) {
                anyhow::bail!("SLIPWAY_ADMIN_PASSWORD {problem}");
            }
            let hash = password::hash(&pw)?;
            let user = store::users::insert(&mut *tx, &email, &hash, true).await?;
            store::audit::record(
                &mut *tx,
                &store::audit::Actor::system(),
                "user.create",
                &email,
                json!({"admin": true}),
            )
            .await?;
            user
        }
    };
    let team = match store::teams::find_by_name(&mut *tx, DEMO_TEAM).await? {
        Some(team) => team,
        None => {
            let team = store::teams::insert(&mut *tx, DEMO_TEAM, "Demo team").await?;
            store::audit::record(
                &mut *tx,
                &store::audit::Actor::system(),
                "team.create",
                DEMO_TEAM,
                json!({}),
            )
            .await?;
            team
        }
    };
    store::teams::add_member(&mut *tx, team.id, admin.id).await?;
    tx.commit().await.context("committing the demo seed")?;
    Ok(Seeded {
        admin_email: email,
        generated_password: generated,
    })
}
