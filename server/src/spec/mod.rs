//! The service spec: what a team writes to describe a Python service, how it is
//! read (YAML or JSON), and every rule it must keep.
//!
//! Pure: no I/O, clock or environment. `parse` is the way in for text and
//! `from_json_value` for the JSON API; both return a spec that has passed
//! [`validate`], or every problem found, each with its field path.

mod cron;
pub mod defaults;
mod locate;
mod model;
pub mod names;
pub mod presets;
pub mod quantity;
mod resolve;
mod scalar;
mod structure;
mod suggest;
mod validate;
mod wiring;

use std::fmt;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

pub use locate::locate;
pub use model::*;
pub use resolve::merge_resources;
pub use scalar::{IntOrPercent, PortRef, Quantity, ScalarString};
pub(crate) use validate::validate_applied;
pub use validate::{MAX_RENDERED_OBJECTS, tenancy, validate, validate_with_environments};
pub use wiring::{
    EnvSource, EnvWiring, Presence, WiringState, referenced_objects, secret_refs, wiring_state,
};

/// The spec's `apiVersion`.
pub const API_VERSION: &str = "slipway.dev/v1";
/// The spec's `kind`.
pub const KIND: &str = "Service";
/// Environments a service has unless the portal defines others.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];
/// Largest spec text accepted, so a pasted log file fails fast instead of slowly.
pub const MAX_SPEC_BYTES: usize = 1024 * 1024;

/// One problem with a spec: where (`spec.env[3].secret.key`) and what (`missing`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct FieldError {
    /// Dotted path with `[i]` indices; empty for the document as a whole.
    pub path: String,
    /// A plain sentence fragment saying what is wrong.
    pub message: String,
    /// Where the field (or, when it is missing, its parent) is in the YAML
    /// text it was read from: line and column, from 1. None for JSON input
    /// and for problems of the document as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The column of [`FieldError::line`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl FieldError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// ` (line 13:9)` when the problem was located in YAML text, else nothing:
    /// what the CLI appends to `FILE: path: message`.
    pub fn at(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!(" (line {line}:{column})"),
            (Some(line), None) => format!(" (line {line})"),
            _ => String::new(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "(document): {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FieldError {}

/// Read a spec from YAML or JSON text, check its shape and rules, and return it
/// or every problem found.
pub fn parse(text: &str) -> Result<ServiceSpec, Vec<FieldError>> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(vec![FieldError::new(
            "",
            format!("the spec is larger than {MAX_SPEC_BYTES} bytes"),
        )]);
    }
    if text.trim_start().starts_with('{') {
        let value = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| vec![FieldError::new("", format!("not valid JSON: {e}"))])?;
        return from_json_value(value);
    }
    let value = serde_saphyr::from_str::<serde_json::Value>(text).map_err(|e| {
        vec![FieldError::new(
            "",
            format!("not valid YAML: {}", first_line(&e.to_string())),
        )]
    })?;
    from_json_value(value).map_err(|mut errors| {
        for e in errors.iter_mut().filter(|e| !e.path.is_empty()) {
            if let Some((line, column)) = locate(text, &e.path) {
                e.line = Some(line);
                e.column = Some(column);
            }
        }
        // In the order of the text, as someone reading it from the top meets
        // them; problems with no place in it (a missing field) come last.
        errors.sort_by_key(|e| (e.line.is_none(), e.line, e.column));
        errors
    })
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

/// Read a spec from a JSON value (the JSON API's `spec` field), check its shape
/// and rules, and return it or every problem found.
pub fn from_json_value(value: serde_json::Value) -> Result<ServiceSpec, Vec<FieldError>> {
    let problems = structure::check(&value, &SCHEMA);
    if problems.is_empty() {
        let spec: ServiceSpec = serde_json::from_value(value)
            .map_err(|e| vec![FieldError::new("", format!("cannot be read: {e}"))])?;
        let errors = validate(&spec);
        return if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        };
    }
    let mut errors: Vec<FieldError> = problems.iter().map(|p| p.error.clone()).collect();
    // Shape errors alone would hide every rule violation behind one typo or
    // one missing field: repair the document (drop unknown or mistyped keys,
    // fill missing fields with stand-ins) and, if the rest then reads, report
    // its rule violations too, except those about what was repaired.
    if let Some((repaired, filled)) = repaired(value, problems) {
        let shape_paths: Vec<String> = errors.iter().map(|e| e.path.clone()).collect();
        errors.extend(validate(&repaired).into_iter().filter(|e| {
            let about_repair = shape_paths.iter().any(|p| {
                e.path == *p
                    || e.path.starts_with(&format!("{p}."))
                    || e.path.starts_with(&format!("{p}["))
            });
            // A rule across fields (`minReplicas 2 is above maxReplicas 0`)
            // that names a stand-in speaks of the stand-in, not of the spec.
            let names_stand_in = filled.iter().any(|key| mentions(&e.message, key));
            !about_repair && !names_stand_in
        }));
    }
    Err(errors)
}

/// The document with every shape problem repaired, read as a spec; none when
/// a problem has no repair or the repaired document still does not read.
/// Repairs can uncover more problems (a filled mapping's own missing fields),
/// so the check runs again, a bounded number of times.
/// Also returns the names of the fields given stand-ins.
fn repaired(
    mut value: serde_json::Value,
    mut problems: Vec<structure::Problem>,
) -> Option<(ServiceSpec, Vec<String>)> {
    let mut filled = Vec::new();
    for _ in 0..4 {
        if problems.is_empty() {
            return serde_json::from_value(value)
                .ok()
                .map(|spec| (spec, filled));
        }
        for problem in &problems {
            let repair = problem.repair.as_ref()?;
            if let structure::Repair::Fill { key, .. } = repair {
                filled.push(key.clone());
            }
            structure::apply(&mut value, repair);
        }
        problems = structure::check(&value, &SCHEMA);
    }
    None
}

/// Whether `message` names `word` as a word of its own (not inside another).
fn mentions(message: &str, word: &str) -> bool {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == word)
}

/// The JSON Schema (draft 2020-12) of the spec, generated from the types.
pub fn json_schema() -> serde_json::Value {
    SCHEMA.clone()
}

static SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut schema = schemars::schema_for!(ServiceSpec).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".into(),
            "https://slipway.dev/schemas/service-v1.json".into(),
        );
        object.insert("title".into(), "Slipway Service".into());
    }
    schema
});

impl ServiceSpec {
    /// Canonical YAML: fields in declaration order, maps sorted, unset fields
    /// left out; parsing it gives back an equal spec. Stored with each revision.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .expect("a spec is plain data with string keys and always serialises")
    }

    /// Canonical JSON, the input of [`ServiceSpec::content_hash`].
    pub fn to_canonical_json(&self) -> String {
        serde_json::to_string(self)
            .expect("a spec is plain data with string keys and always serialises")
    }

    /// SHA-256 (hex) of the canonical JSON: equal specs hash equal, whatever
    /// comments or key order their YAML had.
    pub fn content_hash(&self) -> String {
        hex::encode(Sha256::digest(self.to_canonical_json().as_bytes()))
    }

    /// The workload kind, `web` when unset and no preset implies another.
    pub fn workload_kind(&self) -> WorkloadKind {
        self.spec
            .kind
            .or_else(|| self.spec.framework.map(presets::Framework::kind))
            .unwrap_or_default()
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}

#[cfg(test)]
mod tests;
