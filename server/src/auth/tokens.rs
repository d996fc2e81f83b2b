//! API token generation and hashing.

use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Prefix that makes Slipway tokens recognisable (and greppable by secret scanners).
pub const PREFIX: &str = "slw_";

/// A new random token: `slw_` + 40 hex chars (160 bits).
pub fn generate() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a token: sha256 hex. Tokens carry 160 random bits, so a
/// fast hash is enough (no dictionary to defend against).
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_prefixed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 40);
    }

    #[test]
    fn hash_is_stable_hex() {
        assert_eq!(hash("x"), hash("x"));
        assert_eq!(hash("x").len(), 64);
        assert_ne!(hash("x"), hash("y"));
    }
}
