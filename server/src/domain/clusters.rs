//! The cluster registry: administrators register, change and remove the
//! clusters environments target; every replica keeps its [`Fleet`] equal to the
//! registry (this one right after a change, the others within
//! `Config::cluster_registry_poll`).
//!
//! Credentials are checked (`cluster::credentials`: one context, inline
//! credentials, TLS verified), tested against the API server before anything
//! is stored, sealed with `SLIPWAY_SECRET_KEY` bound to the cluster's name, and
//! never shown again: pages, answers, audit entries and logs carry the name,
//! the source and the server URL only.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::cluster::fleet::{Changes, Registration};
use crate::cluster::{self, ClusterState, Fleet, KubeSource, credentials};
use crate::error::{AppError, FieldError, ResultExt as _};
use crate::secret::{SecretKey, SecretString};
use crate::spec::names;
use crate::store::audit::Actor;
use crate::store::clusters::{self as store_clusters, ClusterRow, NewCluster};
use crate::store::{self};

/// Audit actions written here.
pub mod actions {
    /// A cluster was registered.
    pub const REGISTER: &str = "cluster.register";
    /// A registered cluster's connection changed.
    pub const UPDATE: &str = "cluster.update";
    /// A registration was removed.
    pub const REMOVE: &str = "cluster.remove";
}

/// Longest cluster name.
pub const MAX_NAME: usize = 32;

/// A cluster name: a DNS label of at most 32 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    names::dns_label(name).map_err(|why| why.to_string())?;
    if name.len() > MAX_NAME {
        return Err(format!("must be at most {MAX_NAME} characters"));
    }
    Ok(())
}

/// How an administrator says to reach a cluster, as typed.
#[derive(Debug, Default)]
pub struct ConnectionInput {
    /// `kubeconfig`, `token` or `in_cluster`.
    pub source: String,
    /// A kubeconfig document (`kubeconfig`).
    pub kubeconfig: SecretString,
    /// The API server URL (`token`).
    pub server: String,
    /// A ServiceAccount token (`token`).
    pub token: SecretString,
    /// The cluster's CA certificate, PEM (`token`).
    pub ca: String,
}

/// A checked connection, ready to test and seal.
struct Checked {
    source: &'static str,
    server: Option<String>,
    document: Option<SecretString>,
}

impl Checked {
    /// The credentials sealed for cluster `name` (none for in-cluster).
    fn seal(&self, key: &SecretKey, name: &str) -> Option<Vec<u8>> {
        self.document
            .as_ref()
            .map(|d| key.seal(d.expose().as_bytes(), &context(name)))
    }

    /// What the audit entry of a registration or change records: never a credential.
    fn audit_detail(&self, version: &str) -> serde_json::Value {
        json!({"source": self.source, "server": self.server, "version": version})
    }

    fn kube_source(&self) -> KubeSource {
        match &self.document {
            Some(document) => KubeSource::Document(document.clone()),
            None => KubeSource::InCluster,
        }
    }
}

fn check_connection(input: &ConnectionInput) -> Result<Checked, Vec<FieldError>> {
    let one = |r: credentials::Refusal| FieldError::new(r.field, r.message);
    match input.source.trim() {
        "kubeconfig" => credentials::from_kubeconfig(input.kubeconfig.expose())
            .map(|c| Checked {
                source: "kubeconfig",
                server: Some(c.server),
                document: Some(c.document),
            })
            .map_err(|r| vec![one(r)]),
        "token" => credentials::from_token(&input.server, input.token.expose(), &input.ca)
            .map(|c| Checked {
                source: "token",
                server: Some(c.server),
                document: Some(c.document),
            })
            .map_err(|rs| rs.into_iter().map(one).collect()),
        "in_cluster" => Ok(Checked {
            source: "in_cluster",
            server: None,
            document: None,
        }),
        _ => Err(vec![FieldError::new(
            "source",
            "must be `kubeconfig`, `token` or `in_cluster`",
        )]),
    }
}

/// The field a failed connection test is reported on.
fn test_field(source: &str) -> &'static str {
    match source {
        "token" => "server",
        "kubeconfig" => "kubeconfig",
        _ => "source",
    }
}

/// The sealing context of a cluster's credentials: its name, so a sealed
/// value copied onto another cluster's row does not open.
fn context(name: &str) -> Vec<u8> {
    format!("cluster:{name}").into_bytes()
}

fn key_of(key: Option<&SecretKey>) -> Result<&SecretKey, AppError> {
    key.ok_or_else(|| {
        AppError::Unavailable(
            "Registering clusters (SLIPWAY_SECRET_KEY is not configured; credentials are sealed with it)"
                .into(),
        )
    })
}

/// Tests a checked connection against its API server; the error is shown on
/// the form's field.
async fn test(checked: &Checked) -> Result<String, AppError> {
    cluster::connection::probe(&checked.kube_source())
        .await
        .map(|p| p.version)
        .map_err(|why| {
            AppError::invalid(
                test_field(checked.source),
                format!("the connection test failed: {why}"),
            )
        })
}

/// Registers cluster `name` after a connection test; audited as
/// `cluster.register` (name, source and server only) and started at once.
pub async fn register(
    db: &PgPool,
    fleet: &Fleet,
    key: Option<&SecretKey>,
    actor: &Actor,
    name: &str,
    input: &ConnectionInput,
) -> Result<ClusterRow, AppError> {
    let key = key_of(key)?;
    let name = name.trim();
    let mut errors: Vec<FieldError> = check_name(name)
        .err()
        .map(|why| FieldError::new("name", why))
        .into_iter()
        .collect();
    if errors.is_empty() && store_clusters::find(db, name).await?.is_some() {
        errors.push(FieldError::new(
            "name",
            "a cluster with this name is registered",
        ));
    }
    let checked = check_connection(input).map_err(|mut more| {
        errors.append(&mut more);
        AppError::Invalid(std::mem::take(&mut errors))
    })?;
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let version = test(&checked).await?;
    let sealed = checked.seal(key, name);
    let mut tx = db.begin().await?;
    let row = store_clusters::insert(
        &mut *tx,
        &NewCluster {
            name,
            source: checked.source,
            server: checked.server.as_deref(),
            credentials_sealed: sealed.as_deref(),
            created_by: &actor.name,
        },
    )
    .await
    .on_constraint("clusters_pkey", || {
        AppError::invalid("name", "a cluster with this name is registered")
    })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::REGISTER,
        name,
        checked.audit_detail(&version),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(cluster = name, source = checked.source, %version, "cluster registered");
    sync(db, fleet, Some(key)).await?;
    settle(fleet, name).await;
    Ok(row)
}

/// Replaces how registered cluster `name` is reached, after a connection
/// test; audited as `cluster.update`. Its connection and watches are replaced
/// at once. The configured cluster cannot be changed here: `NotFound`.
pub async fn update(
    db: &PgPool,
    fleet: &Fleet,
    key: Option<&SecretKey>,
    actor: &Actor,
    name: &str,
    input: &ConnectionInput,
) -> Result<ClusterRow, AppError> {
    let key = key_of(key)?;
    let current = store_clusters::find(db, name)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.source == "configured" {
        return Err(AppError::Conflict(format!(
            "`{name}` is the cluster of Slipway's own configuration (SLIPWAY_KUBECONFIG); change it there"
        )));
    }
    let checked = check_connection(input).map_err(AppError::Invalid)?;
    let version = test(&checked).await?;
    let sealed = checked.seal(key, name);
    let mut tx = db.begin().await?;
    let row = store_clusters::update_connection(
        &mut *tx,
        &NewCluster {
            name,
            source: checked.source,
            server: checked.server.as_deref(),
            credentials_sealed: sealed.as_deref(),
            created_by: &actor.name,
        },
    )
    .await?
    .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::UPDATE,
        name,
        checked.audit_detail(&version),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(cluster = name, source = checked.source, %version, "cluster connection changed");
    sync(db, fleet, Some(key)).await?;
    settle(fleet, name).await;
    Ok(row)
}

/// How long a registration waits for its fresh connection before answering.
const SETTLE: Duration = Duration::from_secs(5);

/// Gives a just started connection (which the connection test showed works) a
/// moment to come up, so the answer shows it connected rather than connecting.
async fn settle(fleet: &Fleet, name: &str) {
    let _ = fleet.member(name).handle.wait_ready(SETTLE).await;
}

/// Removes registered cluster `name`; audited as `cluster.remove`. Refused
/// while an environment targets it. Its connection and watches stop at once.
/// What runs on the cluster is left as it is.
pub async fn remove(
    db: &PgPool,
    fleet: &Fleet,
    key: Option<&SecretKey>,
    actor: &Actor,
    name: &str,
) -> Result<(), AppError> {
    let current = store_clusters::find(db, name)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.source == "configured" {
        return Err(AppError::Conflict(format!(
            "`{name}` is the cluster of Slipway's own configuration; it cannot be removed here"
        )));
    }
    let mut tx = db.begin().await?;
    let targeted: Vec<String> = store::environments::list(&mut *tx)
        .await?
        .into_iter()
        .filter(|e| e.cluster == name)
        .map(|e| e.name)
        .collect();
    if !targeted.is_empty() {
        return Err(AppError::Conflict(format!(
            "`{name}` is the cluster of {}; point them at another cluster first",
            targeted.join(", ")
        )));
    }
    let removed = store_clusters::delete(&mut *tx, name).await.on_constraint(
        "environments_cluster_registered",
        || {
            AppError::Conflict(format!(
                "an environment targets `{name}`; point it at another cluster first"
            ))
        },
    )?;
    if !removed {
        return Err(AppError::NotFound);
    }
    store::audit::record(&mut *tx, actor, actions::REMOVE, name, json!({})).await?;
    tx.commit().await?;
    tracing::info!(cluster = name, "cluster registration removed");
    sync(db, fleet, key).await?;
    Ok(())
}

/// Makes `fleet` match the registry. A registration whose credentials do not
/// open (another `SLIPWAY_SECRET_KEY`) is kept as a cluster that says why it
/// cannot connect, rather than silently dropped.
pub async fn sync(
    db: &PgPool,
    fleet: &Fleet,
    key: Option<&SecretKey>,
) -> Result<Changes, AppError> {
    let rows = store_clusters::list(db).await?;
    let registrations = rows
        .into_iter()
        .filter(|row| row.source != "configured")
        .map(|row| registration(row, key))
        .collect();
    let changes = fleet.sync(registrations);
    if !changes.is_empty() {
        tracing::info!(
            started = ?changes.started,
            replaced = ?changes.replaced,
            stopped = ?changes.stopped,
            "clusters changed"
        );
    }
    Ok(changes)
}

fn registration(row: ClusterRow, key: Option<&SecretKey>) -> Registration {
    let mut fingerprint = row.source.clone().into_bytes();
    fingerprint.extend(row.server.clone().unwrap_or_default().into_bytes());
    if let Some(sealed) = &row.credentials_sealed {
        fingerprint.extend_from_slice(sealed);
    }
    let source = match (&row.credentials_sealed, row.source.as_str()) {
        (None, "in_cluster") => KubeSource::InCluster,
        (Some(sealed), _) => match key.map(|k| k.open(sealed, &context(&row.name))) {
            Some(Ok(plain)) => match String::from_utf8(plain) {
                Ok(document) => KubeSource::Document(SecretString::new(document)),
                Err(_) => KubeSource::Broken("its stored credentials are damaged".into()),
            },
            Some(Err(why)) => {
                KubeSource::Broken(format!("its credentials cannot be opened: {why}"))
            }
            None => KubeSource::Broken(
                "its credentials are sealed and SLIPWAY_SECRET_KEY is not set".into(),
            ),
        },
        _ => KubeSource::Broken(format!("unknown source `{}`", row.source)),
    };
    Registration {
        name: row.name,
        source,
        fingerprint,
    }
}

/// Registers the configured cluster under `SLIPWAY_CLUSTER_NAME`, renaming
/// the configured entry (its environments follow) when the name changed. The
/// fleet already calls it so (`AppState::new`).
pub async fn adopt_configured(db: &PgPool, name: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let adopted = store_clusters::adopt_configured(&mut tx, name).await?;
    match adopted {
        Ok(previous) => {
            tx.commit().await?;
            if let Some(previous) = previous {
                tracing::info!(from = %previous, to = name, "configured cluster renamed (SLIPWAY_CLUSTER_NAME)");
            }
            Ok(())
        }
        Err(why) => Err(AppError::Conflict(why)),
    }
}

/// Keeps `fleet` equal to the registry in the background: adopts the
/// configured cluster's name first (retrying while the database is not
/// ready), then re-reads the registry every `every`.
pub fn spawn_registry_watch(
    db: PgPool,
    fleet: Fleet,
    key: Option<SecretKey>,
    configured_name: String,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut adopted = false;
        let mut failing = false;
        loop {
            let result = async {
                if !adopted {
                    adopt_configured(&db, &configured_name).await?;
                    adopted = true;
                }
                sync(&db, &fleet, key.as_ref()).await
            }
            .await;
            match result {
                Ok(_) => failing = false,
                Err(error) if !failing => {
                    tracing::warn!(%error, "cannot read the cluster registry; retrying");
                    failing = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// A cluster as the portal and the API show it.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// Its name.
    pub name: String,
    /// `configured`, `kubeconfig`, `token` or `in_cluster`.
    pub source: String,
    /// The API server's URL, when known.
    pub server: Option<String>,
    /// `connected`, `waiting`, `unreachable` or `disabled`.
    pub state: &'static str,
    /// The connection in words.
    pub detail: String,
    /// The API server's version when connected.
    pub version: Option<String>,
    /// Since when its watches have failed, while they do.
    pub stale_since: Option<String>,
    /// Objects in its watch cache.
    pub cached_objects: usize,
    /// Environments that target it.
    pub environments: Vec<String>,
    /// Who registered it.
    pub created_by: String,
}

/// Every registered cluster with what this replica knows of its connection.
pub async fn list(db: &PgPool, fleet: &Fleet) -> Result<Vec<ClusterView>, AppError> {
    let rows = store_clusters::list_with_environments(db).await?;
    Ok(rows
        .into_iter()
        .map(|listing| {
            let row = listing.cluster;
            let member = fleet.member(&row.name);
            let state = member.handle.state();
            let (label, version) = match &state {
                ClusterState::Ready { version, .. } => ("connected", Some(version.clone())),
                ClusterState::Waiting(_) => ("waiting", None),
                ClusterState::Unreachable(_) => ("unreachable", None),
                ClusterState::Disabled => ("disabled", None),
            };
            ClusterView {
                server: row.server.or_else(|| member.handle.server()),
                name: row.name,
                source: row.source,
                state: label,
                detail: state.describe(),
                version,
                stale_since: member.status.stale_since(),
                cached_objects: member.status.sizes().iter().map(|(_, n, _)| n).sum(),
                environments: listing.environments,
                created_by: row.created_by,
            }
        })
        .collect())
}
