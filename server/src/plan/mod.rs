//! The plan of a deploy: everything an approver must see before deciding, and
//! the digest their approval is bound to. Pure: the parts that need the cluster
//! (the server-side dry run, the wiring lookup) are computed elsewhere and
//! handed in; this module only compares, summarises and hashes.
//!
//! - [`content_digest`]: sha256 over the canonical rendered manifests, their
//!   images, the namespace and the Secret references. Approvals store it; the
//!   worker recomputes it from what it is about to send.
//! - [`ManifestFacts`]: images, Secret references and sidecars read from the
//!   rendered objects, and [`Changes`] of those against what runs now.
//! - [`Plan`]: what is stored with the deploy (as JSON) and shown wherever a
//!   decision is made.

mod facts;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use similar::TextDiff;
use time::OffsetDateTime;

pub use facts::{Changes, ImageUse, ManifestFacts, SecretRef};

/// The version of the digest's input layout; bumping it voids old approvals.
const DIGEST_VERSION: &str = "slipway.dev/approval-digest/v1";

/// The digest approvals are bound to: sha256 (hex) of a canonical JSON document
/// holding the namespace, the sorted images, the sorted Secret references and
/// every manifest with its keys sorted. Objects are taken exactly as they will
/// be sent (after the namespace is pinned), so any change to what is applied
/// changes the digest.
pub fn content_digest(namespace: &str, manifests: &[Value]) -> String {
    let facts = ManifestFacts::of(manifests);
    let images: Vec<&str> = facts.images.iter().map(|i| i.image.as_str()).collect();
    let secrets: Vec<String> = facts.secret_refs.iter().map(ToString::to_string).collect();
    let document = serde_json::json!({
        "version": DIGEST_VERSION,
        "namespace": namespace,
        "images": images,
        "secret_refs": secrets,
        "manifests": manifests,
    });
    let mut canonical = String::new();
    write_canonical(&document, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// JSON with object keys sorted at every level and no insignificant
/// whitespace, independent of how the map type orders keys.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The first 12 characters of a digest, for people.
pub fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// True when `image` is pinned by digest (`name@sha256:<64 hex>`).
pub fn is_pinned_by_digest(image: &str) -> bool {
    image.rsplit_once("@sha256:").is_some_and(|(name, hex)| {
        !name.is_empty() && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// How one object changes, from the server-side dry run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectChange {
    /// Does not exist yet.
    Create,
    /// Exists and changes.
    Update,
    /// Exists and stays as it is.
    Unchanged,
    /// The API server refused the dry run (immutable field, invalid, forbidden).
    Error,
}

/// One rendered object in the dry run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPlan {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// What happens to it.
    pub change: ObjectChange,
    /// Unified diff of its fields (empty when unchanged).
    #[serde(default)]
    pub diff: String,
    /// Another field manager owns fields Slipway sets (server-side apply would
    /// refuse without forcing): the API server's words.
    #[serde(default)]
    pub conflict: Option<String>,
    /// Why the API server refused it (e.g. an immutable field).
    #[serde(default)]
    pub error: Option<String>,
}

/// The server-side dry run against the live cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DryRun {
    /// Every object was dry-run.
    Done {
        /// Each rendered object.
        objects: Vec<ObjectPlan>,
        /// `Kind/name` of objects that would be pruned.
        prune: Vec<String>,
        /// The namespace does not exist yet and will be created.
        namespace_created: bool,
    },
    /// It could not run; the reason says why (Slipway retries while the
    /// deploy waits). With no cluster configured it never runs.
    Unavailable {
        /// Why.
        reason: String,
        /// No cluster is configured at all (nothing could ever be compared).
        no_cluster: bool,
    },
}

impl DryRun {
    /// Objects with a conflict.
    pub fn conflicts(&self) -> Vec<&ObjectPlan> {
        self.objects()
            .iter()
            .filter(|o| o.conflict.is_some())
            .collect()
    }

    /// Objects the API server refused.
    pub fn errors(&self) -> Vec<&ObjectPlan> {
        self.objects()
            .iter()
            .filter(|o| o.change == ObjectChange::Error)
            .collect()
    }

    /// The dry-run objects (none when it did not run).
    pub fn objects(&self) -> &[ObjectPlan] {
        match self {
            DryRun::Done { objects, .. } => objects,
            DryRun::Unavailable { .. } => &[],
        }
    }
}

/// The secrets-wiring state of the deploy's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WiringState {
    /// References checked against the cluster.
    pub checked: bool,
    /// `Secret/key` (or `Secret`) references missing in the namespace.
    pub missing: Vec<String>,
    /// Why it could not be checked.
    #[serde(default)]
    pub problem: Option<String>,
}

/// One readiness check as the plan stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCheck {
    /// Stable id.
    pub id: String,
    /// `PASS`, `WARN`, `FAIL`.
    pub level: String,
    /// Why.
    pub message: String,
}

/// The readiness checklist at request time, and an override of its failures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistState {
    /// Every check.
    pub items: Vec<PlanCheck>,
    /// 0–100.
    pub score: u8,
    /// An administrator's reason for requesting despite failures.
    #[serde(default)]
    pub override_reason: Option<String>,
    /// Who overrode.
    #[serde(default)]
    pub overridden_by: Option<String>,
}

impl ChecklistState {
    /// From the renderer's checklist.
    pub fn of(list: &crate::render::checklist::Checklist) -> Self {
        ChecklistState {
            items: list
                .items
                .iter()
                .map(|i| PlanCheck {
                    id: i.id.to_owned(),
                    level: i.level.as_str().to_owned(),
                    message: i.message.clone(),
                })
                .collect(),
            score: list.score,
            override_reason: None,
            overridden_by: None,
        }
    }

    /// The failing checks.
    pub fn failures(&self) -> Vec<&PlanCheck> {
        self.items.iter().filter(|i| i.level == "FAIL").collect()
    }
}

/// Everything an approver sees, stored with the deploy as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// When computed.
    #[serde(with = "time::serde::rfc3339")]
    pub computed_at: OffsetDateTime,
    /// The deploy running now (the latest that succeeded), compared against.
    pub base_deploy: Option<i64>,
    /// The digest approvals are bound to.
    pub digest: String,
    /// The target namespace.
    pub namespace: String,
    /// The server-side dry run.
    pub dry_run: DryRun,
    /// Unified diff of the spec against the revision running now (empty: same).
    pub spec_diff: String,
    /// Images, Secret references and sidecars against what runs now.
    pub changes: Changes,
    /// Missing Secret keys.
    pub wiring: WiringState,
    /// The readiness checklist.
    pub checklist: ChecklistState,
}

impl Plan {
    /// True when the plan is complete enough to decide on: the dry run ran (or
    /// no cluster is configured at all, so there is nothing to run it against).
    pub fn is_decidable(&self) -> Result<(), String> {
        match &self.dry_run {
            DryRun::Done { .. } => Ok(()),
            DryRun::Unavailable {
                no_cluster: true, ..
            } => Ok(()),
            DryRun::Unavailable { reason, .. } => Err(format!(
                "the plan's dry run could not run ({reason}); Slipway retries while the deploy waits"
            )),
        }
    }

    /// Objects that change (created or updated) and are pruned, in words.
    pub fn summary(&self) -> String {
        match &self.dry_run {
            DryRun::Done { objects, prune, .. } => {
                let count = |c| objects.iter().filter(|o| o.change == c).count();
                format!(
                    "{} to create, {} to change, {} unchanged, {} to prune{}{}",
                    count(ObjectChange::Create),
                    count(ObjectChange::Update),
                    count(ObjectChange::Unchanged),
                    prune.len(),
                    match self.dry_run.conflicts().len() {
                        0 => String::new(),
                        n => format!(", {n} with conflicts"),
                    },
                    match count(ObjectChange::Error) {
                        0 => String::new(),
                        n => format!(", {n} refused"),
                    }
                )
            }
            DryRun::Unavailable { reason, .. } => format!("dry run not available: {reason}"),
        }
    }
}

/// A unified diff of two spec documents as YAML (empty when equal).
pub fn spec_diff(before: Option<&Value>, after: &Value) -> String {
    let show = |v: &Value| serde_saphyr::to_string(v).unwrap_or_else(|e| format!("# {e}\n"));
    let old = before.map(show).unwrap_or_default();
    let new = show(after);
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(
            if before.is_some() {
                "running spec"
            } else {
                "(nothing deployed)"
            },
            "requested spec",
        )
        .to_string()
}

#[cfg(test)]
mod tests;
