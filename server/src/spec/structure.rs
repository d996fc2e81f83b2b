//! The shape check: walks a JSON value against the spec's JSON Schema and
//! reports every unknown field, missing field and wrong type with its path.
//!
//! serde stops at the first problem; users fixing a spec want all of them, so
//! the document is checked against the schema schemars derives from the very
//! types serde will read it into. Only the schema features schemars emits for
//! our types are handled: `$ref`, `anyOf`/`oneOf`, `const`/`enum`, `type`,
//! `properties`/`required`/`additionalProperties`, `items` and numeric bounds.

use serde_json::{Map, Value};

use super::FieldError;
use super::suggest;

/// One shape problem, and how to repair the document so that the rest of it
/// can still be read and checked: remove the offending key, or fill a missing
/// field with a stand-in. Neither for a list item of the wrong shape.
#[derive(Debug, Clone)]
pub struct Problem {
    /// What the user sees.
    pub error: FieldError,
    /// The repair, when there is one.
    pub repair: Option<Repair>,
}

/// A change that makes one shape problem go away without changing anything
/// else in the document.
#[derive(Debug, Clone)]
pub enum Repair {
    /// Remove the key at this JSON pointer.
    Remove(String),
    /// Insert `value` under `key` in the mapping at the pointer `parent`.
    Fill {
        /// The mapping's JSON pointer.
        parent: String,
        /// The missing key.
        key: String,
        /// A stand-in of the field's shape (its rules may still reject it;
        /// the caller drops what they say about the stand-in).
        value: Value,
    },
}

/// Every shape problem of `value` (a whole spec document).
pub fn check(value: &Value, schema: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !value.is_object() {
        problems.push(Problem {
            error: FieldError::new(
                "",
                format!(
                    "expected a mapping with apiVersion, kind, metadata and spec, found {}",
                    describe(value)
                ),
            ),
            repair: None,
        });
        return problems;
    }
    Walker { root: schema }.walk(
        value,
        schema,
        &Loc {
            path: String::new(),
            pointer: String::new(),
            keyed: false,
        },
        &mut problems,
    );
    problems
}

/// Apply `repair` to `value`.
pub fn apply(value: &mut Value, repair: &Repair) {
    match repair {
        Repair::Remove(pointer) => {
            let Some((parent, key)) = pointer.rsplit_once('/') else {
                return;
            };
            let key = key.replace("~1", "/").replace("~0", "~");
            if let Some(map) = value.pointer_mut(parent).and_then(Value::as_object_mut) {
                map.remove(&key);
            }
        }
        Repair::Fill {
            parent,
            key,
            value: stand_in,
        } => {
            if let Some(map) = value.pointer_mut(parent).and_then(Value::as_object_mut) {
                map.entry(key.clone()).or_insert_with(|| stand_in.clone());
            }
        }
    }
}

/// Where the walker is: the user-facing path and the JSON pointer.
struct Loc {
    path: String,
    pointer: String,
    /// Whether the last step was a mapping key (so removing it is possible).
    keyed: bool,
}

impl Loc {
    fn key(&self, key: &str) -> Loc {
        Loc {
            path: join(&self.path, key),
            pointer: format!(
                "{}/{}",
                self.pointer,
                key.replace('~', "~0").replace('/', "~1")
            ),
            keyed: true,
        }
    }

    fn index(&self, i: usize) -> Loc {
        Loc {
            path: format!("{}[{i}]", self.path),
            pointer: format!("{}/{i}", self.pointer),
            keyed: false,
        }
    }

    fn problem(&self, message: impl Into<String>) -> Problem {
        Problem {
            error: FieldError::new(&self.path, message),
            repair: self.keyed.then(|| Repair::Remove(self.pointer.clone())),
        }
    }
}

/// `parent.key`, or `parent["odd key"]` when the key is not a plain word.
pub fn join(parent: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", Value::String(key.to_owned())),
    }
}

struct Walker<'a> {
    root: &'a Value,
}

impl<'a> Walker<'a> {
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        // Bounded: our schemas never chain more than a couple of references.
        for _ in 0..8 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let pointer = reference.trim_start_matches('#');
                    match self.root.pointer(pointer) {
                        Some(target) => schema = target,
                        None => return schema,
                    }
                }
                None => return schema,
            }
        }
        schema
    }

    fn walk(&self, value: &Value, schema: &'a Value, at: &Loc, errors: &mut Vec<Problem>) {
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            self.walk_branches(value, branches, at, errors);
            return;
        }
        if let Some(expected) = schema.get("const") {
            if value != expected {
                errors.push(at.problem(format!("must be {}", show(expected))));
            }
            return;
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
            if !choices.contains(value) {
                errors.push(at.problem(one_of(value, choices.iter())));
            }
            return;
        }
        if let Some(types) = schema.get("type")
            && !type_matches(value, types)
        {
            errors.push(at.problem(format!(
                "expected {}, found {}",
                expected_types(types),
                describe(value)
            )));
            return;
        }
        match value {
            Value::Object(map) => self.walk_object(map, schema, at, errors),
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item, item_schema, &at.index(i), errors);
                    }
                }
            }
            Value::Number(_) => check_bounds(value, schema, at, errors),
            _ => {}
        }
    }

    fn walk_branches(
        &self,
        value: &Value,
        branches: &'a [Value],
        at: &Loc,
        errors: &mut Vec<Problem>,
    ) {
        let consts: Vec<&Value> = branches
            .iter()
            .filter_map(|b| self.resolve(b).get("const"))
            .collect();
        if consts.len() == branches.len() {
            if !consts.contains(&value) {
                errors.push(at.problem(one_of(value, consts.into_iter())));
            }
            return;
        }
        let mut best: Option<Vec<Problem>> = None;
        for branch in branches {
            let branch = self.resolve(branch);
            let only_null = branch.get("type").and_then(Value::as_str) == Some("null");
            let mut found = Vec::new();
            self.walk(value, branch, at, &mut found);
            if found.is_empty() {
                return;
            }
            if only_null {
                continue;
            }
            if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                best = Some(found);
            }
        }
        errors.extend(best.unwrap_or_else(|| vec![at.problem("has the wrong shape")]));
    }

    fn walk_object(
        &self,
        map: &Map<String, Value>,
        schema: &'a Value,
        at: &Loc,
        errors: &mut Vec<Problem>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (key, item) in map {
            let item_at = at.key(key);
            if let Some(property) = properties.and_then(|p| p.get(key)) {
                self.walk(item, property, &item_at, errors);
            } else {
                match additional {
                    Some(Value::Bool(false)) => {
                        let known = properties
                            .map(|p| p.keys().map(String::as_str).collect::<Vec<_>>())
                            .unwrap_or_default();
                        let message = unknown_field(key, &known)
                            .or_else(|| self.elsewhere(key, &at.path))
                            .unwrap_or_else(|| listed(&known));
                        errors.push(item_at.problem(message));
                    }
                    Some(additional) if additional.is_object() => {
                        self.walk(item, additional, &item_at, errors);
                    }
                    _ => {}
                }
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    let stand_in = properties
                        .and_then(|p| p.get(name))
                        .and_then(|property| self.stand_in(property, 0));
                    errors.push(Problem {
                        error: FieldError::new(join(&at.path, name), "missing"),
                        repair: stand_in.map(|value| Repair::Fill {
                            parent: at.pointer.clone(),
                            key: name.to_owned(),
                            value,
                        }),
                    });
                }
            }
        }
    }

    /// A value of `schema`'s shape, the simplest one: the first choice of an
    /// enum, the minimum of a number, an empty string or list, a mapping of
    /// its required fields' stand-ins. None when there is no such value
    /// within a few levels.
    fn stand_in(&self, schema: &'a Value, depth: usize) -> Option<Value> {
        if depth > 6 {
            return None;
        }
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            return branches.iter().find_map(|b| {
                let b = self.resolve(b);
                (b.get("type").and_then(Value::as_str) != Some("null"))
                    .then(|| self.stand_in(b, depth + 1))
                    .flatten()
            });
        }
        if let Some(value) = schema.get("const") {
            return Some(value.clone());
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        {
            return Some(first.clone());
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ => return None,
        };
        match kind {
            "string" => Some(Value::String(String::new())),
            "boolean" => Some(Value::Bool(false)),
            "integer" | "number" => Some(
                schema
                    .get("minimum")
                    .cloned()
                    .unwrap_or_else(|| Value::from(0)),
            ),
            "array" => Some(Value::Array(Vec::new())),
            "object" => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let mut map = Map::new();
                for name in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let property = properties.and_then(|p| p.get(name))?;
                    map.insert(name.to_owned(), self.stand_in(property, depth + 1)?);
                }
                Some(Value::Object(map))
            }
            _ => None,
        }
    }

    /// "did you mean" at another depth: the path of a field of that name (or
    /// a near spelling) elsewhere in the spec, e.g. `spec.volumeClaims` →
    /// `spec.stateful.volumeClaims`. Fields nearest the unknown one's parent
    /// win; among them, exact names before near spellings.
    fn elsewhere(&self, key: &str, parent: &str) -> Option<String> {
        let mut fields = Vec::new();
        self.fields(self.root, "", 0, &mut fields);
        let names: Vec<&str> = fields.iter().map(|(_, name)| name.as_str()).collect();
        let near = suggest::closest(key, names.iter().copied())?;
        let mut matching: Vec<&String> = fields
            .iter()
            .filter(|(path, name)| name == near && path != &join(parent, name))
            .map(|(path, _)| path)
            .collect();
        // Under the same parent first, then the shallowest.
        matching.sort_by_key(|path| {
            (
                !path.starts_with(&format!("{parent}.")),
                path.matches('.').count(),
                path.len(),
            )
        });
        let path = matching.first()?;
        Some(format!(
            "unknown field here; did you mean `{path}`? (docs/spec.md lists the fields)"
        ))
    }

    /// Every field the schema defines, with its path (`spec.env[].name`).
    fn fields(&self, schema: &'a Value, path: &str, depth: usize, out: &mut Vec<(String, String)>) {
        if depth > 8 {
            return;
        }
        let schema = self.resolve(schema);
        for branch in schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.fields(branch, path, depth + 1, out);
        }
        if let Some(items) = schema.get("items") {
            self.fields(items, &format!("{path}[]"), depth + 1, out);
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let at = join(path, name);
                out.push((at.clone(), name.clone()));
                self.fields(property, &at, depth + 1, out);
            }
        }
    }
}

/// "did you mean" among the siblings.
fn unknown_field(key: &str, known: &[&str]) -> Option<String> {
    suggest::closest(key, known.iter().copied())
        .map(|near| format!("unknown field; did you mean `{near}`?"))
}

/// What an unknown field is told when no field of a near name exists anywhere.
fn listed(known: &[&str]) -> String {
    if known.len() <= 8 {
        format!(
            "unknown field; expected one of: {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        "unknown field (docs/spec.md lists the fields)".to_owned()
    }
}

fn one_of<'v>(value: &Value, choices: impl Iterator<Item = &'v Value>) -> String {
    let choices: Vec<String> = choices.map(show).collect();
    let near = value
        .as_str()
        .and_then(|s| suggest::closest(s, choices.iter().map(|c| c.trim_matches('`'))));
    match near {
        Some(near) => format!("{} is not allowed; did you mean `{near}`?", show(value)),
        None => format!("{} is not one of {}", show(value), choices.join(", ")),
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn type_matches(value: &Value, types: &Value) -> bool {
    let one = |t: &str| match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    };
    match types {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

fn expected_types(types: &Value) -> String {
    let name = |t: &str| match t {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "an integer".to_owned(),
        "number" => "a number".to_owned(),
        "boolean" => "true or false".to_owned(),
        "string" => "a string".to_owned(),
        other => other.to_owned(),
    };
    match types {
        Value::String(t) => name(t),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(name)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "something else".to_owned(),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string `{s}`"),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn check_bounds(value: &Value, schema: &Value, at: &Loc, errors: &mut Vec<Problem>) {
    let Some(number) = value.as_f64() else { return };
    let (format_min, format_max) = match schema.get("format").and_then(Value::as_str) {
        Some("uint8") => (Some(0.0), Some(f64::from(u8::MAX))),
        Some("uint16") => (Some(0.0), Some(f64::from(u16::MAX))),
        Some("uint32" | "uint") => (Some(0.0), Some(f64::from(u32::MAX))),
        Some("int32") => (Some(f64::from(i32::MIN)), Some(f64::from(i32::MAX))),
        Some("uint64") => (Some(0.0), None),
        _ => (None, None),
    };
    let minimum = schema.get("minimum").and_then(Value::as_f64).or(format_min);
    let maximum = schema.get("maximum").and_then(Value::as_f64).or(format_max);
    if let Some(min) = minimum
        && number < min
    {
        let message = if min == 0.0 {
            "must not be negative".to_owned()
        } else {
            format!("must be at least {min}")
        };
        errors.push(at.problem(message));
    } else if let Some(max) = maximum
        && number > max
    {
        errors.push(at.problem(format!("must be at most {max}")));
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        assert_eq!(join("spec", "env"), "spec.env");
        assert_eq!(join("", "spec"), "spec");
        assert_eq!(
            join("spec.configFiles.files", "settings.py"),
            r#"spec.configFiles.files["settings.py"]"#
        );
    }
}
