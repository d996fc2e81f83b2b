//! What rendered manifests say about images, Secret references and sidecars,
//! and how those changed against the deploy running now (the security
//! review's "highlight new Secret references, sidecars and images").

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A container's image in a pod template.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ImageUse {
    /// `Kind/name` of the workload.
    pub workload: String,
    /// Container name.
    pub container: String,
    /// Image reference.
    pub image: String,
    /// An init container.
    pub init: bool,
}

/// A reference to a Secret (or one of its keys) in a pod template.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SecretRef {
    /// Secret name.
    pub name: String,
    /// The key, or `None` for the whole Secret (`envFrom`, volumes).
    pub key: Option<String>,
    /// Marked optional: the pod starts without it.
    pub optional: bool,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}/{key}", self.name)?,
            None => f.write_str(&self.name)?,
        }
        if self.optional {
            f.write_str(" (optional)")?;
        }
        Ok(())
    }
}

/// Images, Secret references and containers of a set of manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestFacts {
    /// Every container image, sorted.
    pub images: Vec<ImageUse>,
    /// Every Secret reference, sorted, without duplicates.
    pub secret_refs: BTreeSet<SecretRef>,
}

impl ManifestFacts {
    /// Reads the facts from rendered objects.
    pub fn of(manifests: &[Value]) -> Self {
        let mut facts = ManifestFacts::default();
        for object in manifests {
            let workload = format!(
                "{}/{}",
                object.get("kind").and_then(Value::as_str).unwrap_or("?"),
                object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            );
            collect_containers(object, &workload, &mut facts.images);
            collect_secret_refs(object, &mut facts.secret_refs);
        }
        facts.images.sort();
        facts
    }

    /// `workload/container` of every container (init containers included).
    fn containers(&self) -> BTreeSet<String> {
        self.images
            .iter()
            .map(|i| format!("{}/{}", i.workload, i.container))
            .collect()
    }
}

fn collect_containers(value: &Value, workload: &str, out: &mut Vec<ImageUse>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let init = key == "initContainers";
                if (key == "containers" || init)
                    && let Some(list) = child.as_array()
                {
                    for container in list {
                        if let Some(image) = container.get("image").and_then(Value::as_str) {
                            out.push(ImageUse {
                                workload: workload.to_owned(),
                                container: container
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("?")
                                    .to_owned(),
                                image: image.to_owned(),
                                init,
                            });
                        }
                    }
                } else {
                    collect_containers(child, workload, out);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_containers(v, workload, out)),
        _ => {}
    }
}

fn is_optional(v: &Value) -> bool {
    v.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

/// Every `secretKeyRef` (env), `secretRef` (envFrom) and `secret` volume.
pub(crate) fn collect_secret_refs(value: &Value, out: &mut BTreeSet<SecretRef>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let found = match key.as_str() {
                    "secretKeyRef" => v.get("name").and_then(Value::as_str).map(|name| SecretRef {
                        name: name.to_owned(),
                        key: v.get("key").and_then(Value::as_str).map(str::to_owned),
                        optional: is_optional(v),
                    }),
                    "secretRef" => v.get("name").and_then(Value::as_str).map(|name| SecretRef {
                        name: name.to_owned(),
                        key: None,
                        optional: is_optional(v),
                    }),
                    "secret" => v
                        .get("secretName")
                        .and_then(Value::as_str)
                        .map(|name| SecretRef {
                            name: name.to_owned(),
                            key: None,
                            optional: is_optional(v),
                        }),
                    _ => None,
                };
                match found {
                    Some(r) => {
                        out.insert(r);
                    }
                    None => collect_secret_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_secret_refs(v, out)),
        _ => {}
    }
}

/// What is new in the requested manifests against the ones running now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Every image of the request, each with the image the same container runs now.
    pub images: Vec<ImageChange>,
    /// Secret references not in the running deploy.
    pub new_secret_refs: Vec<String>,
    /// Secret references the running deploy has and the request drops.
    pub dropped_secret_refs: Vec<String>,
    /// Containers (`workload/container`) beside the first of each workload that
    /// the running deploy does not have: new sidecars and init containers.
    pub new_sidecars: Vec<String>,
    /// Nothing runs yet: everything is new.
    pub first_deploy: bool,
}

/// One image of the request beside what runs now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageChange {
    /// `workload/container`.
    pub container: String,
    /// The requested image.
    pub image: String,
    /// The image running now in that container (`None`: a new container).
    pub running: Option<String>,
}

impl ImageChange {
    /// The image differs from what the container runs now.
    pub fn is_changed(&self) -> bool {
        self.running.as_deref() != Some(self.image.as_str())
    }
}

impl Changes {
    /// Compares the requested manifests' facts with the running ones (`None`: nothing runs).
    pub fn between(running: Option<&ManifestFacts>, requested: &ManifestFacts) -> Self {
        let empty = ManifestFacts::default();
        let before = running.unwrap_or(&empty);
        let images = requested
            .images
            .iter()
            .map(|i| {
                let container = format!("{}/{}", i.workload, i.container);
                ImageChange {
                    running: before
                        .images
                        .iter()
                        .find(|b| b.workload == i.workload && b.container == i.container)
                        .map(|b| b.image.clone()),
                    container,
                    image: i.image.clone(),
                }
            })
            .collect();
        let new_secret_refs = requested
            .secret_refs
            .difference(&before.secret_refs)
            .map(ToString::to_string)
            .collect();
        let dropped_secret_refs = before
            .secret_refs
            .difference(&requested.secret_refs)
            .map(ToString::to_string)
            .collect();
        let main: BTreeSet<String> = first_containers(requested);
        let new_sidecars = requested
            .containers()
            .difference(&before.containers())
            .filter(|c| !main.contains(*c))
            .cloned()
            .collect();
        Changes {
            images,
            new_secret_refs,
            dropped_secret_refs,
            new_sidecars,
            first_deploy: running.is_none(),
        }
    }

    /// True when an approver should look twice: new Secret references, new
    /// sidecars, or an image another container did not run before.
    pub fn needs_attention(&self) -> bool {
        !self.new_secret_refs.is_empty()
            || !self.new_sidecars.is_empty()
            || self.images.iter().any(|i| i.running.is_none())
    }
}

/// The first regular container of each workload: the service itself.
fn first_containers(facts: &ManifestFacts) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut out = BTreeSet::new();
    for image in facts.images.iter().filter(|i| !i.init) {
        if seen.insert(image.workload.clone()) {
            out.insert(format!("{}/{}", image.workload, image.container));
        }
    }
    out
}
