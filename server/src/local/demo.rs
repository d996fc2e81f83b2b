//! The demo of `slipway run` on its local cluster: the example services run
//! for real on the cluster's real node (`e2e/cluster/up` starts one beside
//! the kwok nodes), with the demo images `e2e/images` builds.
//!
//! Two steps. [`adapt`] runs after the seed: each example service that still
//! has only its seeded revision gets a second one, *adapted for the local
//! cluster* (the demo image, placement on the real node, no sidecar whose
//! image cannot exist here), so its history says what changed and why. Then,
//! once the cluster answers, [`deploy`] creates the Secrets and ConfigMap the
//! demo needs — all but one, `catalog-db`/`url`, left missing on purpose so the
//! Secrets tab has something to show — and deploys the demo services to
//! development once. Where the real node is unavailable it says why and
//! deploys nothing: on kwok alone pods would be "Running" without running.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::auth::CurrentUser;
use crate::deploy_model::Trigger;
use crate::domain::deploys::{self as deploys, DeployRequest};
use crate::domain::secrets::{self, SecretWrite};
use crate::domain::services as editing;
use crate::secret::SecretString;
use crate::spec::{Placement, TaintEffect, Toleration};
use crate::store::audit::Actor;
use crate::{cluster, store};

/// The real node's label and taint (`e2e/cluster/up`).
pub const REAL_NODE_KEY: &str = "slipway.dev/node";
/// Their value.
pub const REAL_NODE_VALUE: &str = "real";

/// The environment the demo deploys to.
const ENVIRONMENT: &str = "development";

/// The message of the adapted revision.
const ADAPTED: &str =
    "Adapted for the local cluster: the demo image of e2e/images, placed on the real node";

/// `(team, service, local image)` of every example that runs here. The others
/// (`shop-postgres`, whose image cannot be built here) stay as seeded.
const LOCAL_IMAGES: &[(&str, &str, &str)] = &[
    ("shop", "shop-web", "localhost/slipway-demo/shop-web:1.4.2"),
    (
        "shop",
        "shop-worker",
        "localhost/slipway-demo/shop-web:1.4.2",
    ),
    (
        "shop",
        "nightly-report",
        "localhost/slipway-demo/shop-web:1.4.2",
    ),
    (
        "shop",
        "catalog-api",
        "localhost/slipway-demo/catalog-api:2.3.0",
    ),
    ("shop", "checkout", "localhost/slipway-demo/checkout:5.2.0"),
    (
        "pricing",
        "pricing-api",
        "localhost/slipway-demo/pricing-api:0.9.3",
    ),
    (
        "orders",
        "orders-api",
        "localhost/slipway-demo/orders-api:3.1.0",
    ),
    ("shop", "shop-redis", "localhost/slipway-demo/redis:7"),
];

/// Deployed to development by [`deploy`], in this order (the broker first).
const DEPLOYED: &[(&str, &str)] = &[
    ("shop", "shop-redis"),
    ("shop", "shop-web"),
    ("shop", "shop-worker"),
    ("pricing", "pricing-api"),
];

/// The scaling demo: this example's seeded revision (no placement on the
/// real node) deployed to this environment, where its autoscaled pods run on
/// kwok's nodes with emulated usage, so `e2e/cluster/load` can drive its
/// HorizontalPodAutoscaler (`e2e/cluster/README.md`).
const SCALING_DEMO: (&str, &str, &str) = ("pricing", "pricing-api", "staging");

/// The demo's Secret keys, by the service that references them; values are
/// demo values (the Django key is random). `catalog-db`/`url` is missing on
/// purpose.
const SECRET_KEYS: &[(&str, &str, &str, &str)] = &[
    ("shop", "shop-web", "shop-db-credentials", "url"),
    ("shop", "shop-web", "shop-django", "secret-key"),
    ("shop", "shop-worker", "shop-redis-credentials", "url"),
    ("pricing", "pricing-api", "pricing-db", "url"),
    ("pricing", "pricing-api", "pricing-api-keys", "KEY"),
];

/// The Redis the Celery worker uses as its broker; a demo service of its own,
/// seeded only here (it is the `shop-redis` the shop's network policies name).
const SHOP_REDIS: &str = include_str!("demo-shop-redis.yaml");

/// The Celery broker of the demo shop: shop-worker's Secret key and
/// shop-web's ConfigMap key both name it.
const SHOP_BROKER_URL: &str = "redis://shop-redis:6379/0";

/// The demo value of a Secret key.
fn demo_value(secret: &str, key: &str) -> String {
    match (secret, key) {
        ("shop-db-credentials", _) => "sqlite:////tmp/shop.sqlite3".to_owned(),
        ("shop-redis-credentials", _) => SHOP_BROKER_URL.to_owned(),
        ("pricing-db", _) => "sqlite:////tmp/pricing.sqlite3".to_owned(),
        _ => {
            use rand::RngCore as _;
            let mut bytes = [0u8; 24];
            rand::rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    }
}

/// What `up` recorded about the real node, beside the kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealNode {
    /// Its node name.
    Ready(String),
    /// Why there is none.
    Unavailable(String),
}

/// Reads `real-node.env` in `cluster_dir` (`SLIPWAY_REAL_NODE=name` or
/// `SLIPWAY_REAL_NODE_UNAVAILABLE=reason`).
pub fn real_node(cluster_dir: &Path) -> RealNode {
    let path = cluster_dir.join("real-node.env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return RealNode::Unavailable(format!(
            "{} is missing: the local cluster was started without a real node",
            path.display()
        ));
    };
    parse_real_node(&text)
}

fn parse_real_node(text: &str) -> RealNode {
    let value = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"').trim_matches('\'').to_owned())
    };
    match (
        value("SLIPWAY_REAL_NODE"),
        value("SLIPWAY_REAL_NODE_UNAVAILABLE"),
    ) {
        (Some(name), _) if !name.is_empty() => RealNode::Ready(name),
        (_, Some(reason)) if !reason.is_empty() => RealNode::Unavailable(reason),
        _ => RealNode::Unavailable("real-node.env names no node".to_owned()),
    }
}

/// The admin as a user of the domain layer (the seed's author).
async fn admin_user(db: &PgPool, email: &str) -> anyhow::Result<CurrentUser> {
    let admin = store::users::find_by_email(db, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the seeded admin {email} is missing"))?;
    Ok(CurrentUser {
        id: admin.id,
        email: admin.email,
        is_admin: true,
        teams: Vec::new(),
        approves: Vec::new(),
    })
}

/// The example's spec, adapted: the local image, on the real node, without
/// sidecars (their images, such as fluent-bit, cannot be built here).
pub fn adapted(spec: &crate::spec::ServiceSpec, image: &str) -> crate::spec::ServiceSpec {
    let mut spec = spec.clone();
    spec.spec.image = image.to_owned();
    spec.spec.sidecars.clear();
    let placement = spec.spec.placement.get_or_insert_with(Placement::default);
    placement
        .node_selector
        .insert(REAL_NODE_KEY.to_owned(), REAL_NODE_VALUE.to_owned());
    if !placement.tolerations.iter().any(|t| t.key == REAL_NODE_KEY) {
        placement.tolerations.push(Toleration {
            key: REAL_NODE_KEY.to_owned(),
            operator: None,
            value: Some(REAL_NODE_VALUE.to_owned()),
            effect: Some(TaintEffect::NoSchedule),
            toleration_seconds: None,
        });
    }
    spec
}

/// Seeds `shop-redis` and gives each example of [`LOCAL_IMAGES`] that has
/// only its seeded revision the adapted one. Idempotent: a service with more
/// revisions is left as its team made it.
pub async fn adapt(db: &PgPool, admin_email: &str) -> anyhow::Result<Vec<String>> {
    let user = admin_user(db, admin_email).await?;
    let system = Actor::system();
    if store::services::find(db, "shop", "shop-redis")
        .await?
        .is_none()
    {
        let prepared = editing::prepare_text(SHOP_REDIS)
            .map_err(|e| anyhow::anyhow!("demo-shop-redis.yaml is invalid: {e}"))?;
        editing::create_service(
            db,
            &user,
            &system,
            "shop",
            &prepared,
            "Demo broker for the local cluster",
        )
        .await
        .map_err(|e| anyhow::anyhow!("seeding shop-redis: {e}"))?;
    }
    let mut changed = Vec::new();
    for (team, name, image) in LOCAL_IMAGES {
        let Some(service) = store::services::find(db, team, name).await? else {
            continue;
        };
        let revisions = store::services::revisions(db, service.id).await?;
        let [only] = revisions.as_slice() else {
            continue;
        };
        let spec = editing::spec_of(only).map_err(|e| anyhow::anyhow!("{team}/{name}: {e}"))?;
        if spec.spec.image == *image {
            continue;
        }
        let prepared = editing::prepare_text(&adapted(&spec, image).to_yaml())
            .map_err(|e| anyhow::anyhow!("{team}/{name} adapted: {e}"))?;
        editing::save_revision(
            db,
            &user,
            &system,
            &service,
            Some(only.number),
            &prepared,
            ADAPTED,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{team}/{name}: {e}"))?;
        changed.push(format!("{team}/{name}"));
    }
    Ok(changed)
}

/// What [`deploy`] did, for the log.
#[derive(Debug, Default)]
pub struct Deployed {
    /// Deploys requested now, as `team/service #id`.
    pub requested: Vec<String>,
    /// Secret keys written now, as `namespace: secret/key`.
    pub secrets: Vec<String>,
    /// The deploys requested now: team, service, environment, deploy id.
    pub ids: Vec<(String, String, String, i64)>,
}

/// Writes the demo's Secret keys (when missing), the `shop-redis` ConfigMap,
/// and requests one deploy to development of each of [`DEPLOYED`] that was
/// never deployed there. The caller checked that the real node is ready.
pub async fn deploy(
    db: &PgPool,
    clusters: &cluster::Fleet,
    client: &kube::Client,
) -> anyhow::Result<Deployed> {
    let system = Actor::system();
    let mut done = Deployed::default();
    for (team, name, secret, key) in SECRET_KEYS {
        let Some(service) = store::services::find(db, team, name).await? else {
            continue;
        };
        let wiring = secrets::wiring(db, clusters, &service, Some(ENVIRONMENT))
            .await
            .map_err(|e| anyhow::anyhow!("{team}/{name} wiring: {e}"))?;
        // A key reference, or an `envFrom` of the whole Secret (no key).
        let present = wiring.entries.iter().any(|(entry, state)| {
            entry.secret.as_deref() == Some(*secret)
                && entry.key.as_deref().is_none_or(|k| k == *key)
                && *state == crate::spec::WiringState::Present
        });
        if present {
            continue;
        }
        let value = SecretString::new(demo_value(secret, key));
        secrets::write_value(
            db,
            clusters,
            &system,
            &service,
            &SecretWrite {
                environment: Some(ENVIRONMENT),
                secret,
                key,
                value: &value,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("writing {secret}/{key} for {team}/{name}: {e}"))?;
        done.secrets
            .push(format!("{}: {secret}/{key}", wiring.namespace));
    }
    // shop-web enqueues its Celery tasks through REDIS_URL (this ConfigMap
    // key), so it names the very database shop-worker consumes from.
    cluster::wiring::ensure_config_map_key(
        client,
        "shop-development",
        "shop-redis",
        "url",
        SHOP_BROKER_URL,
    )
    .await
    .map_err(|e| anyhow::anyhow!("ConfigMap shop-redis: {e}"))?;
    for (team, name) in DEPLOYED {
        let Some(service) = store::services::find(db, team, name).await? else {
            continue;
        };
        let deployed_before = store::deploys::latest_per_environment(db, service.id)
            .await?
            .iter()
            .any(|d| d.environment == ENVIRONMENT);
        if deployed_before {
            continue;
        }
        let (_, spec) = editing::current_spec(db, &service)
            .await
            .map_err(|e| anyhow::anyhow!("{team}/{name}: {e}"))?;
        let deploy = deploys::request(
            db,
            clusters,
            &service,
            &system,
            Trigger::User,
            &DeployRequest {
                environment: ENVIRONMENT.to_owned(),
                image: spec.spec.image.clone(),
                revision: None,
                override_reason: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("deploying {team}/{name}: {e}"))?;
        done.requested.push(format!("{team}/{name} #{}", deploy.id));
        done.ids.push((
            (*team).to_owned(),
            (*name).to_owned(),
            ENVIRONMENT.to_owned(),
            deploy.id,
        ));
    }
    if let Some(id) = deploy_scaling_demo(db, clusters, &system).await? {
        let (team, name, environment) = SCALING_DEMO;
        done.requested.push(format!(
            "{team}/{name} #{id} ({environment}, emulated nodes)"
        ));
        done.ids
            .push((team.to_owned(), name.to_owned(), environment.to_owned(), id));
    }
    Ok(done)
}

/// Requests the [`SCALING_DEMO`] deploy unless that environment had one;
/// the deploy's id when requested.
async fn deploy_scaling_demo(
    db: &PgPool,
    clusters: &cluster::Fleet,
    system: &Actor,
) -> anyhow::Result<Option<i64>> {
    let (team, name, environment) = SCALING_DEMO;
    let Some(service) = store::services::find(db, team, name).await? else {
        return Ok(None);
    };
    let deployed_before = store::deploys::latest_per_environment(db, service.id)
        .await?
        .iter()
        .any(|d| d.environment == environment);
    let Some(seeded) = store::services::revision(db, service.id, 1).await? else {
        return Ok(None);
    };
    if deployed_before {
        return Ok(None);
    }
    let image = seeded.spec["spec"]["image"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("{team}/{name} revision 1 has no image"))?
        .to_owned();
    let deploy = deploys::request(
        db,
        clusters,
        &service,
        system,
        Trigger::User,
        &DeployRequest {
            environment: environment.to_owned(),
            image,
            revision: Some(seeded.number),
            override_reason: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("deploying {team}/{name} to {environment}: {e}"))?;
    Ok(Some(deploy.id))
}

/// How long `slipway run` waits for the real node (a first `make run` builds
/// it), and how often it looks.
const NODE_WAIT: Duration = Duration::from_secs(45 * 60);
const NODE_POLL: Duration = Duration::from_secs(5);
/// How long an "unavailable" record is given to be replaced: `up` writes the
/// file after the control plane answers, so an old one may be read first.
const UNAVAILABLE_GRACE: Duration = Duration::from_secs(180);
/// How long the log waits for the demo's deploys to finish.
const DEPLOY_WAIT: Duration = Duration::from_secs(15 * 60);

/// Waits (bounded) until the real node is Ready, then runs [`deploy`] and
/// logs where each demo service answers, or why it does not. Never fails the
/// portal: problems are logged.
pub async fn run_when_node_ready(
    db: &PgPool,
    clusters: &cluster::Fleet,
    client: &kube::Client,
    cluster_dir: &Path,
) {
    let started = Instant::now();
    let node = loop {
        match real_node(cluster_dir) {
            RealNode::Ready(name) => {
                if cluster::reach::node_is_ready(client, &name)
                    .await
                    .unwrap_or(false)
                {
                    break name;
                }
            }
            RealNode::Unavailable(reason) if started.elapsed() >= UNAVAILABLE_GRACE => {
                tracing::warn!(%reason, "the local cluster has no real node, so the demo is not deployed (on kwok nodes alone no container would run)");
                return;
            }
            RealNode::Unavailable(_) => {}
        }
        if started.elapsed() >= NODE_WAIT {
            tracing::warn!(
                "the local cluster's real node was not Ready within {} minutes; the demo is not deployed",
                NODE_WAIT.as_secs() / 60
            );
            return;
        }
        tokio::time::sleep(NODE_POLL).await;
    };
    let done = match deploy(db, clusters, client).await {
        Ok(done) => done,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "could not deploy the demo");
            return;
        }
    };
    if !done.secrets.is_empty() {
        tracing::info!(keys = %done.secrets.join(", "), "wrote the demo's Secret keys");
    }
    if done.requested.is_empty() {
        return;
    }
    tracing::info!(node = %node, deploys = %done.requested.join(", "), "deploying the demo (development on the real node)");
    for (team, name, environment, id) in &done.ids {
        report(db, client, team, name, environment, *id).await;
    }
}

/// Logs how a demo deploy ended and, when it succeeded, where it answers.
async fn report(
    db: &PgPool,
    client: &kube::Client,
    team: &str,
    name: &str,
    environment: &str,
    id: i64,
) {
    let started = Instant::now();
    let deploy = loop {
        match store::deploys::find(db, id).await {
            Ok(Some(d)) if d.state.is_finished() => break d,
            Ok(Some(_)) if started.elapsed() < DEPLOY_WAIT => {}
            Ok(_) | Err(_) => return,
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    if deploy.state != crate::deployer::DeployState::Succeeded {
        tracing::warn!(service = %format!("{team}/{name}"), deploy = id, reason = %deploy.reason, "a demo deploy did not succeed");
        return;
    }
    let namespace = format!("{team}-{environment}");
    let service = format!("{team}/{name}");
    if environment != ENVIRONMENT {
        tracing::info!(
            service = %service,
            "runs on kwok's emulated nodes in {environment} and autoscales: raise its load with `e2e/cluster/load {namespace} {name} 500m` and watch its status page"
        );
        return;
    }
    match cluster::reach::service_address(client, &namespace, name).await {
        Ok(Some(address)) => match address.curl() {
            Some(curl) => tracing::info!(
                service = %service,
                "runs on the real node and answers at {} from this machine (its cluster IP, which the local kube-proxy routes), e.g. {curl}",
                address.url()
            ),
            None => tracing::info!(
                service = %service,
                "runs on the real node and listens at {} from this machine (its cluster IP, which the local kube-proxy routes)",
                address.url()
            ),
        },
        _ => tracing::info!(service = %service, "runs on the real node"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_node_env_names_the_node_or_the_reason() {
        assert_eq!(
            parse_real_node("SLIPWAY_REAL_NODE=vm\n"),
            RealNode::Ready("vm".into())
        );
        assert_eq!(
            parse_real_node("SLIPWAY_REAL_NODE_UNAVAILABLE=\"not root\"\n"),
            RealNode::Unavailable("not root".into())
        );
        assert!(matches!(parse_real_node(""), RealNode::Unavailable(_)));
    }

    #[test]
    fn an_adapted_example_runs_the_local_image_on_the_real_node_without_sidecars() {
        let spec = crate::spec::parse(include_str!("../../../examples/django.yaml")).unwrap();
        assert!(!spec.spec.sidecars.is_empty());
        let local = adapted(&spec, "localhost/slipway-demo/shop-web:1.4.2");
        assert_eq!(local.spec.image, "localhost/slipway-demo/shop-web:1.4.2");
        assert!(local.spec.sidecars.is_empty());
        let placement = local.spec.placement.as_ref().unwrap();
        assert_eq!(placement.node_selector[REAL_NODE_KEY], REAL_NODE_VALUE);
        assert_eq!(placement.tolerations.len(), 1);
        // Still a valid spec, and adapting twice changes nothing more.
        crate::spec::parse(&local.to_yaml()).expect("the adapted spec is valid");
        assert_eq!(adapted(&local, &local.spec.image), local);
    }

    #[test]
    fn the_demo_broker_spec_is_valid() {
        crate::spec::parse(SHOP_REDIS).expect("demo-shop-redis.yaml is valid");
    }
}
