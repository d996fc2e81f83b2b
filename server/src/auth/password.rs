//! Password hashing (argon2id, the crate's defaults: m=19456 KiB, t=2, p=1) and the strength floor.

use argon2::{Argon2, PasswordHash, PasswordHasher as _, PasswordVerifier as _};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// Passwords too common to allow even when long enough.
const COMMON: &[&str] = &[
    "password1234",
    "123456789012",
    "qwertyuiopas",
    "letmein12345",
    "administrator",
    "passwordpassword",
    "correcthorsebatterystaple",
    "iloveyou1234",
    "welcome12345",
];

/// Why a password is refused, as a message for the `password` field.
pub fn strength_problem(password: &str, email: &str) -> Option<&'static str> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_LENGTH {
        return Some("must be at least 12 characters");
    }
    if chars.len() > 256 {
        return Some("must be at most 256 characters");
    }
    let distinct: std::collections::HashSet<char> = chars.iter().copied().collect();
    if distinct.len() < 5 {
        return Some("is too repetitive");
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Some("is too common");
    }
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if !local.is_empty() && lower.contains(&local) && local.len() >= 4 {
        return Some("must not contain your email name");
    }
    None
}

/// Hashes a password into a PHC string with a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches the PHC string (constant time in the hash comparison).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so a login for an
/// unknown email costs as much time as one for a known email.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("dummy-password-for-timing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify_round_trips() {
        let h = hash("a long enough passphrase").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("a long enough passphrase", &h));
        assert!(!verify("a long enough passphrasE", &h));
    }

    #[test]
    fn garbage_hash_never_verifies() {
        assert!(!verify("anything", "not-a-phc-string"));
    }

    #[test]
    fn short_password_is_refused() {
        assert_eq!(
            strength_problem("short", "a@b.c"),
            Some("must be at least 12 characters")
        );
    }

    #[test]
    fn repetitive_password_is_refused() {
        assert_eq!(
            strength_problem("aaaaaaaaaaaaab", "a@b.c"),
            Some("is too repetitive")
        );
    }

    #[test]
    fn password_containing_email_name_is_refused() {
        assert_eq!(
            strength_problem("alice-secret-2026", "alice@example.com"),
            Some("must not contain your email name")
        );
    }

    #[test]
    fn decent_password_is_accepted() {
        assert_eq!(
            strength_problem("tidal-orbit-47-lantern", "alice@example.com"),
            None
        );
    }
}
