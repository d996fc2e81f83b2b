//! Seeding of the embedded default: the admin account and the demo team.

use anyhow::Context as _;
use rand::RngCore as _;
use serde_json::json;
use sqlx::PgPool;

use crate::auth::password;
use crate::config::SecretString;
use crate::store::services::NewRevision;
use crate::{editing, store};

/// The example specs the demo teams start with (`examples/`), embedded so the
/// binary seeds them wherever it runs. Each names its team in `metadata.team`.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("django.yaml", include_str!("../../examples/django.yaml")),
    ("flask.yaml", include_str!("../../examples/flask.yaml")),
    ("fastapi.yaml", include_str!("../../examples/fastapi.yaml")),
    (
        "celery-worker.yaml",
        include_str!("../../examples/celery-worker.yaml"),
    ),
    ("cron.yaml", include_str!("../../examples/cron.yaml")),
    (
        "postgres-statefulset.yaml",
        include_str!("../../examples/postgres-statefulset.yaml"),
    ),
    (
        "external-database.yaml",
        include_str!("../../examples/external-database.yaml"),
    ),
    (
        "blue-green.yaml",
        include_str!("../../examples/blue-green.yaml"),
    ),
];

/// What seeding did, for the start-up message.
#[derive(Debug)]
pub struct Seeded {
    /// The admin's email.
    pub admin_email: String,
    /// A password generated now; shown once, never stored in clear.
    pub generated_password: Option<String>,
}

/// Creates the admin (password from config, else generated) and the demo teams
/// with the example services, once; later runs change nothing.
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
    for (file, text) in EXAMPLES {
        seed_example(&mut tx, &admin, file, text).await?;
    }
    tx.commit().await.context("committing the demo seed")?;
    Ok(Seeded {
        admin_email: email,
        generated_password: generated,
    })
}

async fn seed_example(
    tx: &mut sqlx::PgConnection,
    admin: &store::users::User,
    file: &str,
    text: &str,
) -> anyhow::Result<()> {
    let prepared = editing::prepare_text(text)
        .map_err(|errors| anyhow::anyhow!("examples/{file} is invalid: {errors:?}"))?;
    let team_name = prepared
        .spec
        .metadata
        .team
        .clone()
        .with_context(|| format!("examples/{file} names no metadata.team"))?;
    let system = store::audit::Actor::system();
    let team = match store::teams::find_by_name(&mut *tx, &team_name).await? {
        Some(team) => team,
        None => {
            let team =
                store::teams::insert(&mut *tx, &team_name, &format!("Demo team {team_name}"))
                    .await?;
            store::audit::record(
                &mut *tx,
                &system,
                "team.create",
                &team_name,
                json!({"seed": true}),
            )
            .await?;
            team
        }
    };
    store::teams::add_member(&mut *tx, team.id, admin.id).await?;
    let name = prepared.spec.metadata.name.clone();
    if store::services::find(&mut *tx, &team_name, &name)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let kind = editing::kind_name(&prepared.spec);
    let framework = prepared
        .spec
        .spec
        .framework
        .map(|f| f.as_str())
        .unwrap_or_default();
    let message = format!("Seeded from examples/{file}");
    let revision = NewRevision {
        spec_yaml: &prepared.yaml,
        spec: prepared.json.clone(),
        hash: &prepared.hash,
        kind: &kind,
        framework,
        author_id: Some(admin.id),
        author: &admin.email,
        message: &message,
    };
    store::services::create(&mut *tx, team.id, &name, &revision).await?;
    store::audit::record(
        &mut *tx,
        &system,
        "service.create",
        &format!("{team_name}/{name}"),
        json!({"seed": file}),
    )
    .await?;
    Ok(())
}
