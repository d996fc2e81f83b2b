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

/// Days a token lives when its creator does not say.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
/// The longest a token may live: a year, so every token is eventually renewed.
pub const MAX_EXPIRY_DAYS: i64 = 365;

/// What an API token may do. Every token reads what its owner may read;
/// `Deploy` and `Approve` add writes. Which scope each call needs is decided in
/// one place, [`crate::auth::policy::required_scope`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// GET calls: whatever the owner may see.
    Read,
    /// Every write but approval decisions: services, revisions, deploys,
    /// rollbacks, releases, Secret values, hooks, administration.
    Deploy,
    /// Approving and rejecting deploys.
    Approve,
}

impl Scope {
    /// Every scope, in the order pages and messages list them.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Deploy, Scope::Approve];

    /// The stored name (`api_tokens.scopes`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Deploy => "deploy",
            Scope::Approve => "approve",
        }
    }

    /// The scope of a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name.trim())
    }
}

/// Stored scope names as scopes; unknown names (none pass the table's check) are dropped.
pub fn parse_scopes(names: &[String]) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = names.iter().filter_map(|n| Scope::parse(n)).collect();
    scopes.sort();
    scopes.dedup();
    scopes
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
    fn scopes_round_trip_through_their_names() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("admin"), None);
        let names = [
            "approve".to_owned(),
            "read".into(),
            "read".into(),
            "x".into(),
        ];
        assert_eq!(parse_scopes(&names), [Scope::Read, Scope::Approve]);
    }

    #[test]
    fn hash_is_stable_hex() {
        assert_eq!(hash("x"), hash("x"));
        assert_eq!(hash("x").len(), 64);
        assert_ne!(hash("x"), hash("y"));
    }
}
