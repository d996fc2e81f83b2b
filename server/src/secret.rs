//! Values that must never be printed: passwords, tokens, Secret values, the
//! database URL and the key that encrypts secrets at rest. Their `Debug`
//! redacts; code that needs the value calls `expose()`, which is what review
//! looks for.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

/// A string that must never be printed: `Debug` redacts it, and there is no `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
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

/// Length of the key id at the start of a sealed value.
const KEY_ID_LEN: usize = 8;
/// Length of an XChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 24;

/// Why a sealed value cannot be opened.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// It was sealed with another key (SLIPWAY_SECRET_KEY changed).
    #[error("sealed with another SLIPWAY_SECRET_KEY (key id {0})")]
    OtherKey(String),
    /// It was altered, cut short, or sealed for another record.
    #[error("the sealed value is damaged or belongs to another record")]
    Damaged,
}

impl SecretKey {
    /// The key's id: the first 8 bytes of its SHA-256, stored with every sealed
    /// value so a value sealed under an older key is recognised as such.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        let digest = <sha2::Sha256 as sha2::Digest>::digest(self.0);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }

    /// Encrypts `plain` with XChaCha20-Poly1305 under this key and a random
    /// nonce, bound to `context` (e.g. the owning row's id, so a sealed value
    /// copied to another row does not open). Layout: key id, nonce, ciphertext.
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use rand::RngCore as _;
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0.into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plain,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message under 256 GiB");
        let mut out = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&self.id());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`Self::seal`] made for the same `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        if sealed.len() < KEY_ID_LEN + NONCE_LEN {
            return Err(OpenError::Damaged);
        }
        let (id, rest) = sealed.split_at(KEY_ID_LEN);
        if id != self.id() {
            return Err(OpenError::OtherKey(hex::encode(id)));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Damaged)?;
        let cipher = chacha20poly1305::XChaCha20Poly1305::new(&self.0.into());
        cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| OpenError::Damaged)
    }
}

#[cfg(test)]
mod sealing_tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let key = SecretKey([7u8; 32]);
        let sealed = key.seal(b"whsec_123", b"hook-1");
        assert!(
            !sealed.windows(9).any(|w| w == b"whsec_123"),
            "no clear text"
        );
        assert_eq!(key.open(&sealed, b"hook-1").unwrap(), b"whsec_123");
        assert_eq!(key.open(&sealed, b"hook-2"), Err(OpenError::Damaged));
        let other = SecretKey([8u8; 32]);
        assert!(matches!(
            other.open(&sealed, b"hook-1"),
            Err(OpenError::OtherKey(_))
        ));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(key.open(&tampered, b"hook-1"), Err(OpenError::Damaged));
        assert_eq!(key.open(&sealed[..10], b"hook-1"), Err(OpenError::Damaged));
        assert_ne!(
            key.seal(b"x", b"c"),
            key.seal(b"x", b"c"),
            "a fresh nonce each time"
        );
    }
}
