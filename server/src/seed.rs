//! Seeding of the embedded default: the admin account, the demo teams and
//! their services, and (once the local cluster answers) their namespaces.

use anyhow::Context as _;
use rand::RngCore as _;
use serde_json::json;
use sqlx::PgPool;

use crate::auth::password;
use crate::domain::{namespaces, services as editing};
use crate::error::AppError;
use crate::secret::SecretString;
use crate::store::services::NewRevision;
use crate::{cluster, store};

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
    // The demo team may serve the hosts its example routes (docs/exposure.md):
    // each host is granted as its own suffix, in every environment.
    for (_, hosts, _) in
        crate::spec::tenancy::hosts_in(&prepared.spec, crate::spec::tenancy::Scope::AnyEnvironment)
    {
        for host in hosts {
            let suffix = host.trim_start_matches("*.").to_ascii_lowercase();
            store::grants::ensure_host_grant(&mut *tx, team.id, &suffix, &system.name).await?;
        }
    }
    let name = prepared.spec.metadata.name.clone();
    if store::services::find(&mut *tx, &team_name, &name)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let kind = prepared.spec.workload_kind().as_str();
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
        kind,
        framework,
        // The examples were written by nobody here: the system is their author,
        // so the admin is not barred from approving their deploys as an author
        // (they still may not approve deploys they requested themselves).
        author_id: None,
        author: "system",
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
/// The namespaces every service needs, one per (service, environment) as the
/// environments' patterns give them, without repeats: `(namespace, team, environment)`.
pub async fn service_namespaces(db: &PgPool) -> Result<Vec<(String, String, String)>, AppError> {
    let services = store::services::list_visible(db, None).await?;
    let environments = store::environments::list(db).await?;
    let mut namespaces: Vec<(String, String, String)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for service in &services {
        for environment in &environments {
            // A pattern that gives no valid name is reported when someone deploys.
            if let Ok(namespace) =
                namespaces::namespace_in(environment, &service.team, &service.name)
                && seen.insert(namespace.clone())
            {
                namespaces.push((namespace, service.team.clone(), environment.name.clone()));
            }
        }
    }
    Ok(namespaces)
}

/// Creates the namespaces of [`service_namespaces`] that do not exist, so that
/// on `slipway run`'s local cluster the demo services can be applied (or
/// dry-run with `kubectl`) before their first deploy. Returns those created.
pub async fn prepare_namespaces(
    db: &PgPool,
    client: &kube::Client,
) -> Result<Vec<String>, AppError> {
    let mut created = Vec::new();
    for (namespace, team, environment) in service_namespaces(db).await? {
        // Registered for its pair before it is created, like a deploy would;
        // a namespace another pair owns (or a reserved one) is refused.
        let Some(env) = store::environments::find_by_name(db, &environment).await? else {
            continue;
        };
        let mut tx = db.begin().await?;
        crate::domain::tenancy::claim_in(&mut tx, &namespace, &team, env.id, &environment).await?;
        tx.commit().await?;
        if cluster::apply::ensure_team_namespace(
            client,
            &namespace,
            &team,
            &environment,
            cluster::retry::RetryPolicy::default(),
        )
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("namespace {namespace}: {e}")))?
        {
            created.push(namespace);
        }
    }
    Ok(created)
}
