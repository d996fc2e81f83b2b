//! Small value types of the spec that accept more than one YAML shape.
//!
//! YAML writers type `cpu: 1`, `value: 30` or `port: http` without thinking about
//! types; these wrappers accept the forms Kubernetes users expect and always
//! serialise back to one canonical form, so stored revisions stay stable.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A scalar the user may write as a string, number or boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawScalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
}

impl RawScalar {
    fn into_string(self) -> String {
        match self {
            RawScalar::Text(s) => s,
            RawScalar::Unsigned(n) => n.to_string(),
            RawScalar::Signed(n) => n.to_string(),
            RawScalar::Float(n) => n.to_string(),
            RawScalar::Bool(b) => b.to_string(),
        }
    }
}

/// A Kubernetes resource quantity such as `250m`, `0.5`, `512Mi` or `1Gi`.
///
/// Written as a string or a plain number; kept as the text the user wrote so a
/// round trip never reformats it. Syntax is checked by validation, not here, so
/// every bad quantity is reported with its field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quantity(pub String);

impl Quantity {
    /// The quantity as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Quantity {
    fn from(s: &str) -> Self {
        Quantity(s.to_owned())
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match RawScalar::deserialize(deserializer)? {
            RawScalar::Bool(_) => Err(serde::de::Error::custom(
                "expected a quantity such as 250m or 512Mi",
            )),
            other => Ok(Quantity(other.into_string())),
        }
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A Kubernetes quantity: `250m`, `0.5`, `512Mi`, `1Gi`.",
            "type": ["string", "number"]
        })
    }
}

/// An environment value: Kubernetes wants strings, but `DEBUG: false` or
/// `TIMEOUT: 30` in YAML arrive as a boolean or number, so both are accepted
/// and stored as their text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScalarString(pub String);

impl ScalarString {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ScalarString {
    fn from(s: &str) -> Self {
        ScalarString(s.to_owned())
    }
}

impl Serialize for ScalarString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ScalarString(
            RawScalar::deserialize(deserializer)?.into_string(),
        ))
    }
}

impl JsonSchema for ScalarString {
    fn schema_name() -> Cow<'static, str> {
        "ScalarString".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A string; numbers and booleans are accepted and kept as their text.",
            "type": ["string", "number", "boolean"]
        })
    }
}

/// A reference to a declared container port, by name (`http`) or number (`8000`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PortRef {
    /// A port number, which must be among `spec.ports`.
    Number(u16),
    /// A port name, which must be among `spec.ports`.
    Name(String),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(s) => f.write_str(s),
        }
    }
}

impl JsonSchema for PortRef {
    fn schema_name() -> Cow<'static, str> {
        "PortRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A declared container port, by name or number.",
            "type": ["integer", "string"]
        })
    }
}

/// An absolute count or a percentage such as `25%` (rolling updates, PDBs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrPercent {
    /// An absolute number of pods.
    Int(u32),
    /// A percentage written `N%`; checked by validation.
    Percent(String),
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrPercent::Int(n) => write!(f, "{n}"),
            IntOrPercent::Percent(s) => f.write_str(s),
        }
    }
}

impl IntOrPercent {
    /// The percentage as a number when written `N%` with 0 ≤ N ≤ 100.
    pub fn percent(&self) -> Option<u32> {
        match self {
            IntOrPercent::Int(_) => None,
            IntOrPercent::Percent(s) => s
                .strip_suffix('%')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n <= 100),
        }
    }

    /// Whether the value is zero (`0` or `0%`).
    pub fn is_zero(&self) -> bool {
        match self {
            IntOrPercent::Int(n) => *n == 0,
            IntOrPercent::Percent(_) => self.percent() == Some(0),
        }
    }
}

impl JsonSchema for IntOrPercent {
    fn schema_name() -> Cow<'static, str> {
        "IntOrPercent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number of pods or a percentage such as `25%`.",
            "type": ["integer", "string"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_become_text_in_env_values() {
        let v: Vec<ScalarString> = serde_json::from_str(r#"["x", 30, false, 1.5, -2]"#).unwrap();
        let texts: Vec<&str> = v.iter().map(ScalarString::as_str).collect();
        assert_eq!(texts, ["x", "30", "false", "1.5", "-2"]);
    }

    #[test]
    fn a_quantity_may_be_written_as_a_number() {
        let q: Quantity = serde_json::from_str("0.5").unwrap();
        assert_eq!(q.as_str(), "0.5");
    }

    #[test]
    fn percentages_outside_zero_to_a_hundred_are_not_percentages() {
        assert_eq!(IntOrPercent::Percent("25%".into()).percent(), Some(25));
        assert_eq!(IntOrPercent::Percent("250%".into()).percent(), None);
        assert_eq!(IntOrPercent::Percent("x%".into()).percent(), None);
        assert!(IntOrPercent::Percent("0%".into()).is_zero());
    }
}
