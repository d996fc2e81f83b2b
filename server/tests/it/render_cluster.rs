//! Rendered examples against the real local control plane (`e2e/cluster`):
//! every example, in every default environment, is accepted by server-side
//! apply in dry-run; applied for real, its Deployments become available, its
//! StatefulSet gets Ready pods and Bound claims, and its CronJob exists.
//!
//! Needs `SLIPWAY_TEST_KUBECONFIG` (e.g. `.slipway/cluster/kubeconfig`); without
//! it these tests fail, because a skipped cluster test proves nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, Namespace, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeSpec,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use slipway::cluster::retry::RetryPolicy;
use slipway::render::{Manifests, Object, RenderContext, render};
use slipway::spec::{DEFAULT_ENVIRONMENTS, ServiceSpec, parse};

use crate::harness::{kube_client, prepare_namespaces};

/// How long an applied example may take to become available.
const READY_DEADLINE: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(500);

fn examples() -> Vec<(String, ServiceSpec)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let spec = parse(&std::fs::read_to_string(&p).expect("readable example"))
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            (name, spec)
        })
        .collect()
}

/// A namespace name unique to this run and case.
fn namespace_for(case: &str) -> String {
    let mut name = format!("it-{}-{case}", std::process::id());
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// A namespace with Pod Security `restricted` enforced, as Slipway creates
/// them: every example's pods must be admitted there.
async fn create_namespace(client: &Client, name: &str) {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([
                (
                    "pod-security.kubernetes.io/enforce".to_owned(),
                    "restricted".to_owned(),
                ),
                (
                    "pod-security.kubernetes.io/warn".to_owned(),
                    "restricted".to_owned(),
                ),
            ])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
}

async fn delete_namespace(client: &Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await;
}

/// Applies every object as a deploy does: the product's parse of the stored
/// manifests and its server-side apply (field manager `slipway`, never forced).
async fn apply(
    client: &Client,
    namespace: &str,
    manifests: &Manifests,
    dry_run: bool,
) -> Result<(), String> {
    let objects = slipway::cluster::apply::parse_manifests(&manifests.to_yaml(), namespace)
        .map_err(|e| format!("stored manifests: {e}"))?;
    for object in &objects {
        slipway::cluster::apply::apply_one(
            client,
            namespace,
            object,
            "slipway-tests",
            dry_run,
            RetryPolicy::none(),
        )
        .await
        .map_err(|e| format!("{}: {e}", object.describe()))?;
    }
    Ok(())
}

#[tokio::test]
async fn every_example_in_every_environment_is_accepted_by_server_side_apply_in_dry_run() {
    let client = kube_client().await;
    let mut failures = Vec::new();
    for (name, spec) in examples() {
        let namespace = namespace_for(&format!("dry-{name}"));
        create_namespace(&client, &namespace).await;
        for environment in DEFAULT_ENVIRONMENTS {
            let ctx = RenderContext::new(environment, &namespace, "it");
            let manifests =
                render(&spec, &ctx).unwrap_or_else(|e| panic!("{name} {environment}: {e}"));
            if let Err(error) = apply(&client, &namespace, &manifests, true).await {
                failures.push(format!("{name} ({environment}): {error}"));
            }
        }
        delete_namespace(&client, &namespace).await;
    }
    assert!(
        failures.is_empty(),
        "the API server refused:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_example_applied_for_real_becomes_available() {
    let client = kube_client().await;
    let runs = examples().into_iter().map(|(name, spec)| {
        let client = client.clone();
        async move {
            let namespace = namespace_for(&name);
            create_namespace(&client, &namespace).await;
            let mut volumes = Vec::new();
            let result = apply_and_wait(&client, &namespace, &spec, &mut volumes).await;
            delete_namespace(&client, &namespace).await;
            let persistent_volumes = Api::<PersistentVolume>::all(client.clone());
            for volume in volumes {
                let _ = persistent_volumes
                    .delete(&volume, &DeleteParams::default())
                    .await;
            }
            result.map_err(|e| format!("{name}: {e}"))
        }
    });
    let failures: Vec<String> = futures::future::join_all(runs)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn apply_and_wait(
    client: &Client,
    namespace: &str,
    spec: &ServiceSpec,
    volumes: &mut Vec<String>,
) -> Result<(), String> {
    let ctx = RenderContext {
        revision: Some(1),
        deploy_id: Some("it".into()),
        ..RenderContext::new("staging", namespace, "it")
    };
    let manifests = render(spec, &ctx).map_err(|e| e.to_string())?;
    prebind_volumes(client, namespace, &manifests, volumes).await?;
    apply(client, namespace, &manifests, false).await?;
    let deadline = Instant::now() + READY_DEADLINE;
    for (kind, name) in manifests.kinds_and_names() {
        match kind {
            "Deployment" => wait_for_deployment(client, namespace, &name, deadline).await?,
            "StatefulSet" => wait_for_stateful_set(client, namespace, &name, deadline).await?,
            "CronJob" => {
                Api::<CronJob>::namespaced(client.clone(), namespace)
                    .get_opt(&name)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("CronJob {name} does not exist after apply"))?;
            }
            _ => {}
        }
    }
    Ok(())
}

async fn wait_for_deployment(
    client: &Client,
    namespace: &str,
    name: &str,
    deadline: Instant,
) -> Result<(), String> {
    let api = Api::<Deployment>::namespaced(client.clone(), namespace);
    let mut last = String::from("never read");
    while Instant::now() < deadline {
        if let Some(deployment) = api.get_opt(name).await.map_err(|e| e.to_string())? {
            let wanted = deployment.spec.replicas.unwrap_or(1);
            let status = deployment.status.unwrap_or_default();
            let available = status.conditions.unwrap_or_default().iter().any(|c| {
                c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
            });
            let ready = status.available_replicas.unwrap_or(0);
            let updated = status.updated_replicas.unwrap_or(0);
            if available && ready >= wanted && updated >= wanted {
                return Ok(());
            }
            last = format!("Available={available}, available {ready}/{wanted}, updated {updated}");
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!(
        "Deployment {name} not available before the deadline ({last})"
    ))
}

/// Wait for Ready pods and Bound claims, each bound to the volume made for it.
async fn wait_for_stateful_set(
    client: &Client,
    namespace: &str,
    name: &str,
    deadline: Instant,
) -> Result<(), String> {
    let sets = Api::<StatefulSet>::namespaced(client.clone(), namespace);
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace);
    let selector = format!("app.kubernetes.io/name={name}");
    let mut last = String::from("never read");
    while Instant::now() < deadline {
        let listed = claims
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| e.to_string())?;
        if let Some(set) = sets.get_opt(name).await.map_err(|e| e.to_string())? {
            let wanted = set.spec.replicas.unwrap_or(1);
            let ready = set
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            let bound = listed
                .items
                .iter()
                .filter(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
                .filter(|c| {
                    let claim = c.metadata.name.clone().unwrap_or_default();
                    c.spec.as_ref().and_then(|s| s.volume_name.clone())
                        == Some(volume_name(namespace, &claim))
                })
                .count();
            let claim_templates = set.spec.volume_claim_templates.as_ref().map_or(0, Vec::len);
            let wanted_claims = usize::try_from(wanted).unwrap_or(0) * claim_templates;
            if ready >= wanted && bound >= wanted_claims {
                return Ok(());
            }
            last = format!(
                "ready {ready}/{wanted}, claims bound to their volumes {bound}/{wanted_claims}"
            );
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!(
        "StatefulSet {name} not ready before the deadline ({last})"
    ))
}

fn volume_name(namespace: &str, claim: &str) -> String {
    format!("{namespace}-{claim}")
}

/// The local cluster has no dynamic provisioner: make one PersistentVolume per
/// claim the StatefulSet will create (`<template>-<set>-<ordinal>`), pre-bound
/// to it, so the test never takes volumes from a pool other tests share.
async fn prebind_volumes(
    client: &Client,
    namespace: &str,
    manifests: &Manifests,
    volumes: &mut Vec<String>,
) -> Result<(), String> {
    let default_class = Api::<StorageClass>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| e.to_string())?
        .items
        .into_iter()
        .find(|c| {
            c.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
                .is_some_and(|v| v == "true")
        })
        .and_then(|c| c.metadata.name);
    let persistent_volumes = Api::<PersistentVolume>::all(client.clone());
    for object in manifests {
        let Object::StatefulSet(set) = object else {
            continue;
        };
        let set_name = set.metadata.name.clone().unwrap_or_default();
        for ordinal in 0..set.spec.replicas.unwrap_or(1) {
            for template in set.spec.volume_claim_templates.iter().flatten() {
                let claim = format!(
                    "{}-{set_name}-{ordinal}",
                    template.metadata.name.clone().unwrap_or_default()
                );
                let name = volume_name(namespace, &claim);
                let volume = volume_for(template, namespace, &claim, &name, default_class.clone());
                persistent_volumes
                    .create(&PostParams::default(), &volume)
                    .await
                    .map_err(|e| format!("PersistentVolume {name}: {e}"))?;
                volumes.push(name);
            }
        }
    }
    Ok(())
}

/// A hostPath volume pre-bound to `claim`, matching its template's class, size and modes.
fn volume_for(
    template: &PersistentVolumeClaim,
    namespace: &str,
    claim: &str,
    volume_name: &str,
    default_class: Option<String>,
) -> PersistentVolume {
    let spec = template.spec.clone().unwrap_or_default();
    let capacity: BTreeMap<_, _> = spec
        .resources
        .and_then(|r| r.requests)
        .and_then(|r| r.get("storage").cloned())
        .map(|q| BTreeMap::from([("storage".to_owned(), q)]))
        .unwrap_or_default();
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(volume_name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            capacity: Some(capacity),
            access_modes: spec.access_modes,
            storage_class_name: spec.storage_class_name.or(default_class),
            persistent_volume_reclaim_policy: Some("Retain".to_owned()),
            host_path: Some(HostPathVolumeSource {
                path: format!("/tmp/slipway-it/{volume_name}"),
                type_: None,
            }),
            claim_ref: Some(ObjectReference {
                namespace: Some(namespace.to_owned()),
                name: Some(claim.to_owned()),
                ..ObjectReference::default()
            }),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}

/// `slipway run` prepares the namespaces of the services it finds, labelled as
/// Slipway's, once: a second pass creates nothing.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_namespaces_of_every_service_are_prepared_once(pool: sqlx::PgPool) {
    let client = kube_client().await;
    let team = format!("it{}", std::process::id());
    sqlx::query("insert into teams (name) values ($1)")
        .bind(&team)
        .execute(&pool)
        .await
        .unwrap();
    for service in ["web", "worker"] {
        sqlx::query(
            "insert into services (team_id, name, kind) select id, $2, 'web' from teams where name = $1",
        )
        .bind(&team)
        .bind(service)
        .execute(&pool)
        .await
        .unwrap();
    }
    let expected: Vec<String> = ["development", "staging", "production"]
        .iter()
        .map(|env| format!("{team}-{env}"))
        .collect();

    let created = prepare_namespaces(&pool, &client).await;
    let again = prepare_namespaces(&pool, &client).await;
    let production = Api::<Namespace>::all(client.clone())
        .get(&expected[2])
        .await
        .unwrap();
    for name in &expected {
        delete_namespace(&client, name).await;
    }

    assert_eq!(created, expected, "one per environment, not per service");
    assert!(
        again.is_empty(),
        "existing namespaces are left alone: {again:?}"
    );
    let labels = production.metadata.labels.unwrap_or_default();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "slipway");
    assert_eq!(labels["slipway.dev/team"], team);
    assert_eq!(labels["slipway.dev/environment"], "production");
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    // Registered for their pair, as a deploy would have.
    let owner = slipway::store::namespaces::find(&pool, &expected[2])
        .await
        .unwrap()
        .expect("the demo namespace is registered");
    assert_eq!(
        (owner.team.as_str(), owner.environment.as_str()),
        (team.as_str(), "production")
    );
}
