//! Values that must never be printed: passwords, tokens, Secret values, the
//! database URL and the key that encrypts secrets at rest. Their `Debug`
//! redacts; code that needs the value calls `expose()`, which is what review
//! looks for.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

/// A string that must never be printed: `Debug` redacts it, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call sites that use it are the ones to review.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// Read from a request body (a Secret value written through the portal or the API).
impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

impl FromStr for SecretString {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The 32-byte key that encrypts webhook secrets at rest (`SLIPWAY_SECRET_KEY`, base64).
#[derive(Clone)]
pub struct SecretKey(pub [u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl FromStr for SecretKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| "must be base64".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must decode to exactly 32 bytes".to_owned())?;
        Ok(Self(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_string_debug_is_redacted() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?}"), "SecretString(***)");
    }

    #[test]
    fn secret_key_must_be_32_bytes() {
        assert!("aGVsbG8=".parse::<SecretKey>().is_err());
        let ok = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert!(ok.parse::<SecretKey>().is_ok());
        assert!("not base64!".parse::<SecretKey>().is_err());
    }
}
