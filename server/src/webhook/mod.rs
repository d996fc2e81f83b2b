//! Git push webhooks, the pure part: which provider sent a request, whether its
//! signature holds over the exact raw bytes, what the push says, and the rules
//! that turn a push into a deploy (ref patterns, image templates, path filters,
//! the order of pushes to one ref told by their before → after chain).
//! No I/O: `domain::hooks` records deliveries and requests deploys around it.

pub mod chain;
pub mod push;
pub mod rules;

#[cfg(test)]
mod fuzz;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

pub use push::{Commit, Push};

/// Which forge sent a delivery, told by its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// GitHub (`X-GitHub-Event`, `X-Hub-Signature-256`).
    GitHub,
    /// GitLab (`X-Gitlab-Event`, `X-Gitlab-Token`).
    GitLab,
    /// Gitea and Forgejo (`X-Gitea-Event`, `X-Gitea-Signature`).
    Gitea,
}

impl Provider {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Gitea => "gitea",
        }
    }

    /// The provider of a stored name ([`Self::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "github" => Some(Provider::GitHub),
            "gitlab" => Some(Provider::GitLab),
            "gitea" => Some(Provider::Gitea),
            _ => None,
        }
    }
}

/// What a delivery's headers say, read by the web layer (lower-case names).
#[derive(Clone, Debug, Default)]
pub struct Headers {
    /// `X-GitHub-Event`.
    pub github_event: Option<String>,
    /// `X-GitHub-Delivery`.
    pub github_delivery: Option<String>,
    /// `X-Hub-Signature-256`.
    pub github_signature: Option<String>,
    /// `X-Gitlab-Event`.
    pub gitlab_event: Option<String>,
    /// `X-Gitlab-Event-UUID` (one per delivery; `X-Gitlab-Webhook-UUID` names
    /// the webhook, not the delivery, so it is never used as the id).
    pub gitlab_delivery: Option<String>,
    /// `X-Gitlab-Token`.
    pub gitlab_token: Option<String>,
    /// `X-Gitea-Event` (Forgejo sends it too).
    pub gitea_event: Option<String>,
    /// `X-Gitea-Delivery`.
    pub gitea_delivery: Option<String>,
    /// `X-Gitea-Signature`.
    pub gitea_signature: Option<String>,
}

/// A delivery as its provider describes it, before any body is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Who sent it.
    pub provider: Provider,
    /// The event name as sent (`push`, `Push Hook`, `ping`, …).
    pub event: String,
    /// The provider's delivery id; a hash of the body when it sends none.
    pub delivery_id: String,
}

/// The kind of event, as far as Slipway cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A branch or tag push.
    Push,
    /// A connectivity test (`ping`).
    Ping,
    /// Anything else: recorded as ignored.
    Other,
}

impl Envelope {
    /// What kind of event this is.
    pub fn kind(&self) -> EventKind {
        match (self.provider, self.event.as_str()) {
            (Provider::GitHub, "push") | (Provider::Gitea, "push") => EventKind::Push,
            (Provider::GitLab, "Push Hook" | "Tag Push Hook") => EventKind::Push,
            (Provider::GitHub, "ping") => EventKind::Ping,
            _ => EventKind::Other,
        }
    }
}

/// Tells the provider from the headers; `None` when none of the three sent it.
/// Gitea (and Forgejo) also send GitHub's headers for compatibility, so its own
/// `X-Gitea-Event` is asked first; GitHub never sends Gitea's or GitLab's.
pub fn envelope(headers: &Headers, body: &[u8]) -> Option<Envelope> {
    let body_hash = || hex::encode(<Sha256 as sha2::Digest>::digest(body));
    let (provider, event, delivery) = if let Some(event) = &headers.gitea_event {
        (Provider::Gitea, event, &headers.gitea_delivery)
    } else if let Some(event) = &headers.gitlab_event {
        (Provider::GitLab, event, &headers.gitlab_delivery)
    } else if let Some(event) = &headers.github_event {
        (Provider::GitHub, event, &headers.github_delivery)
    } else {
        return None;
    };
    let delivery_id = delivery
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.len() <= 200)
        .map(str::to_owned)
        .unwrap_or_else(body_hash);
    Some(Envelope {
        provider,
        event: event.chars().take(100).collect(),
        delivery_id,
    })
}

/// HMAC-SHA256 of `body` under `secret`, hex.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the delivery is signed (GitHub, Gitea) or carries the token (GitLab)
/// of `secret`, over the exact raw `body`. Every comparison is constant time.
pub fn verify(provider: Provider, headers: &Headers, secret: &[u8], body: &[u8]) -> bool {
    let hmac_matches = |hex_sig: &str| {
        let Ok(expected) = hex::decode(hex_sig.trim()) else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .expect("HMAC takes a key of any length");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    };
    match provider {
        Provider::GitHub => headers
            .github_signature
            .as_deref()
            .and_then(|s| s.trim().strip_prefix("sha256="))
            .is_some_and(hmac_matches),
        Provider::Gitea => headers.gitea_signature.as_deref().is_some_and(hmac_matches),
        Provider::GitLab => headers
            .gitlab_token
            .as_deref()
            .is_some_and(|token| bool::from(token.as_bytes().ct_eq(secret))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";

    #[test]
    fn github_documents_this_signature() {
        // The example of GitHub's "Validating webhook deliveries" page.
        assert_eq!(
            sign(SECRET, b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    fn github(signature: &str) -> Headers {
        Headers {
            github_event: Some("push".into()),
            github_signature: Some(signature.into()),
            ..Headers::default()
        }
    }

    #[test]
    fn a_signature_holds_only_over_the_exact_bytes_and_secret() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let good = format!("sha256={}", sign(SECRET, body));
        assert!(verify(Provider::GitHub, &github(&good), SECRET, body));
        assert!(!verify(Provider::GitHub, &github(&good), b"another", body));
        assert!(!verify(
            Provider::GitHub,
            &github(&good),
            SECRET,
            br#"{"ref":"refs/heads/mainX"}"#
        ));
        assert!(
            !verify(Provider::GitHub, &github(&sign(SECRET, body)), SECRET, body),
            "prefix required"
        );
        assert!(!verify(
            Provider::GitHub,
            &github("sha256=zz"),
            SECRET,
            body
        ));
        assert!(!verify(Provider::GitHub, &Headers::default(), SECRET, body));
    }

    #[test]
    fn gitea_signs_without_a_prefix_and_gitlab_sends_the_token() {
        let body = b"{}";
        let gitea = Headers {
            gitea_signature: Some(sign(SECRET, body)),
            ..Headers::default()
        };
        assert!(verify(Provider::Gitea, &gitea, SECRET, body));
        let gitlab = |token: &str| Headers {
            gitlab_token: Some(token.into()),
            ..Headers::default()
        };
        assert!(verify(
            Provider::GitLab,
            &gitlab("It's a Secret to Everybody"),
            SECRET,
            body
        ));
        assert!(!verify(
            Provider::GitLab,
            &gitlab("It's a Secret"),
            SECRET,
            body
        ));
    }

    #[test]
    fn gitea_is_told_apart_although_it_also_sends_githubs_headers() {
        let headers = Headers {
            github_event: Some("push".into()),
            github_delivery: Some("d".into()),
            github_signature: Some("sha256=00".into()),
            gitea_event: Some("push".into()),
            gitea_delivery: Some("d".into()),
            ..Headers::default()
        };
        assert_eq!(envelope(&headers, b"{}").unwrap().provider, Provider::Gitea);
    }

    #[test]
    fn the_provider_is_told_by_its_event_header() {
        let headers = Headers {
            gitlab_event: Some("Tag Push Hook".into()),
            gitlab_delivery: Some("abc".into()),
            ..Headers::default()
        };
        let envelope = envelope(&headers, b"{}").unwrap();
        assert_eq!(envelope.provider, Provider::GitLab);
        assert_eq!(envelope.kind(), EventKind::Push);
        assert_eq!(envelope.delivery_id, "abc");
        assert!(super::envelope(&Headers::default(), b"{}").is_none());
        let ping = Headers {
            github_event: Some("ping".into()),
            ..Headers::default()
        };
        let ping = super::envelope(&ping, b"{}").unwrap();
        assert_eq!(ping.kind(), EventKind::Ping);
        assert_eq!(
            ping.delivery_id.len(),
            64,
            "a body hash stands in for a missing id"
        );
    }
}
