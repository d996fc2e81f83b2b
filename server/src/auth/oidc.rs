//! OpenID Connect sign-in: the authorization code flow with PKCE, through the
//! `openidconnect` crate (discovery, JWKS, ID token signature, issuer,
//! audience, expiry and nonce checks are its own; Slipway keeps none of that
//! by hand).
//!
//! [`Provider::begin`] returns the provider's authorization URL and a
//! [`Pending`] sign-in that the caller keeps in the browser's session;
//! [`Provider::finish`] takes the provider's answer (`state`, `code`) and that
//! pending sign-in, exchanges the code and verifies the ID token into an
//! [`Identity`]. Every refusal is an [`OidcError`] whose `reason()` goes into
//! the audit log and whose message the login page shows.

use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
// Core metadata plus `end_session_endpoint` (RP-initiated logout), so
// sign-out can offer the provider's own when it has one.
use openidconnect::ProviderMetadataWithLogout as ProviderMetadata;
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::secret::SecretString;

/// Where the provider sends the browser back, under the public URL.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";
/// How long a started sign-in may take at the provider.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// How long discovered metadata (and so the signing keys) is trusted before it
/// is fetched again; a key the cached set lacks triggers a fetch at once.
const METADATA_TTL: Duration = Duration::from_secs(600);

/// The client as discovery leaves it: the authorization endpoint set; the
/// device, introspection and revocation endpoints unused; the token and
/// user-info endpoints as the provider's metadata says.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What `SLIPWAY_OIDC_*` configure.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The issuer URL, exactly as the provider names itself.
    pub issuer: String,
    /// Slipway's client id at the provider.
    pub client_id: String,
    /// Slipway's client secret at the provider.
    pub client_secret: SecretString,
    /// The provider's name on the login page ("Sign in with …").
    pub display_name: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The ID token claim that lists the user's groups.
    pub groups_claim: String,
    /// Slipway's public URL; the redirect URL is [`CALLBACK_PATH`] under it.
    pub public_url: String,
}

/// A sign-in started in this browser and not yet answered, kept in its session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    /// The `state` sent to the provider; the answer must carry it back.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier of the challenge sent.
    pub verifier: String,
    /// The local path to go to after signing in.
    pub next: String,
    /// When it started (Unix seconds).
    pub started: i64,
}

/// Who the provider says signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The provider's subject id.
    pub subject: String,
    /// The verified email, lower-cased.
    pub email: String,
    /// The groups of the configured claim (empty when the claim is absent).
    pub groups: Vec<String>,
}

/// Why a sign-in through the provider was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    /// Discovery failed or described another issuer.
    #[error("the identity provider could not be used: {0}")]
    Provider(String),
    /// No sign-in was started in this browser (or it was used or expired).
    #[error("no sign-in was started in this browser, or it expired; start again")]
    NoPending,
    /// The answer's `state` is not the one sent.
    #[error(
        "the answer from the identity provider does not belong to the sign-in started here; start again"
    )]
    BadState,
    /// The provider answered with an error instead of a code.
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    /// The token endpoint refused the code (used already, expired, wrong verifier).
    #[error("the identity provider refused the sign-in code (it may have been used already): {0}")]
    CodeRefused(String),
    /// The token answer had no ID token.
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    /// The ID token failed a check; `.0` names which.
    #[error("the ID token was refused ({0}): {1}")]
    IdToken(&'static str, String),
    /// The ID token has no email, or an unverified one.
    #[error("the identity provider did not vouch for an email address ({0})")]
    Email(String),
}

impl OidcError {
    /// A short stable reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            OidcError::Provider(_) => "provider",
            OidcError::NoPending => "no_pending_sign_in",
            OidcError::BadState => "bad_state",
            OidcError::Refused(_) => "provider_refused",
            OidcError::CodeRefused(_) => "code_refused",
            OidcError::NoIdToken => "no_id_token",
            OidcError::IdToken(what, _) => what,
            OidcError::Email(_) => "email_not_verified",
        }
    }
}

/// The configured provider, with its discovered metadata cached.
pub struct Provider {
    config: OidcConfig,
    http: reqwest::Client,
    discovered: RwLock<Option<(ProviderMetadata, Instant)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider for `config`; nothing is fetched until the first sign-in.
    pub fn new(config: OidcConfig) -> anyhow::Result<Self> {
        // No redirects: the token endpoint's answer must come from the
        // discovered URL itself (the crate's advice against SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            config,
            http,
            discovered: RwLock::new(None),
        })
    }

    /// The provider's name for the login page.
    pub fn display_name(&self) -> &str {
        &self.config.display_name
    }

    /// The issuer Slipway trusts.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Where the provider sends the browser after its own sign-out: the login
    /// page (to be registered at the provider as a post-logout redirect URI).
    pub fn post_logout_url(&self) -> String {
        format!("{}/login", self.config.public_url.trim_end_matches('/'))
    }

    /// The provider's end-session (RP-initiated logout) URL for Slipway's
    /// client, when its discovery document names an `end_session_endpoint`;
    /// `None` for a provider without one (Dex) or one that cannot be reached.
    pub async fn end_session_url(&self) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let back = PostLogoutRedirectUrl::new(self.post_logout_url()).ok()?;
        Some(
            LogoutRequest::from(endpoint)
                .set_client_id(ClientId::new(self.config.client_id.clone()))
                .set_post_logout_redirect_uri(back)
                .http_get_url()
                .to_string(),
        )
    }

    fn redirect_url(&self) -> String {
        format!(
            "{}{CALLBACK_PATH}",
            self.config.public_url.trim_end_matches('/')
        )
    }

    /// The discovered metadata: cached, fetched again when older than
    /// [`METADATA_TTL`] or when `refresh` (a signing key was missing).
    async fn metadata(&self, refresh: bool) -> Result<ProviderMetadata, OidcError> {
        if !refresh
            && let Some((metadata, at)) = self.discovered.read().await.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| OidcError::Provider(format!("issuer URL: {e}")))?;
        // The crate checks that the document names this very issuer.
        let metadata = ProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                OidcError::Provider(format!(
                    "discovery of {}: {}",
                    self.config.issuer,
                    chain(&e)
                ))
            })?;
        *self.discovered.write().await = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    fn client(&self, metadata: ProviderMetadata) -> Result<Client, OidcError> {
        let redirect = RedirectUrl::new(self.redirect_url())
            .map_err(|e| OidcError::Provider(format!("redirect URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the URL to send the browser to and what to keep.
    pub async fn begin(&self, next: &str, now: i64) -> Result<(String, Pending), OidcError> {
        let client = self.client(self.metadata(false).await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            Pending {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                next: next.to_owned(),
                started: now,
            },
        ))
    }

    /// Finishes a sign-in: checks `state` against `pending`, exchanges `code`
    /// and verifies the ID token as of `now` (the test clock can move it).
    pub async fn finish(
        &self,
        pending: Option<Pending>,
        state: &str,
        code: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Identity, OidcError> {
        let pending = pending
            .filter(|p| now.timestamp() - p.started <= PENDING_TTL.as_secs() as i64)
            .ok_or(OidcError::NoPending)?;
        if !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
            return Err(OidcError::BadState);
        }
        let client = self.client(self.metadata(false).await?)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::CodeRefused(chain(&e)))?;
        // The access token is never used: Slipway only needs who signed in.
        let _ = token.access_token();
        let id_token = token.id_token().ok_or(OidcError::NoIdToken)?.to_string();
        match self.verify(&client, &id_token, &pending.nonce, now) {
            // A key the cached set lacks: the provider rotated; fetch and retry once.
            Err(OidcError::IdToken("signature", _)) => {
                tracing::info!(issuer = %self.config.issuer, "ID token signature not verified with the cached keys; fetching the provider's keys again");
                let client = self.client(self.metadata(true).await?)?;
                self.verify(&client, &id_token, &pending.nonce, now)
            }
            other => other,
        }
    }

    /// Verifies a raw ID token (signature, issuer, audience, expiry, nonce)
    /// and reads the identity from it.
    fn verify(
        &self,
        client: &Client,
        raw: &str,
        nonce: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Identity, OidcError> {
        let token: openidconnect::core::CoreIdToken = raw
            .parse()
            .map_err(|e| OidcError::IdToken("malformed", format!("{e}")))?;
        let verifier = client.id_token_verifier().set_time_fn(move || now);
        let claims = token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| {
                let what = match &e {
                    ClaimsVerificationError::Expired(_) => "expired",
                    ClaimsVerificationError::InvalidAudience(_) => "audience",
                    ClaimsVerificationError::InvalidIssuer(_) => "issuer",
                    ClaimsVerificationError::InvalidNonce(_) => "nonce",
                    ClaimsVerificationError::SignatureVerification(_) => "signature",
                    _ => "claims",
                };
                OidcError::IdToken(what, e.to_string())
            })?;
        let email = claims
            .email()
            .map(|e| e.as_str().trim().to_lowercase())
            .ok_or_else(|| OidcError::Email("the ID token has no email claim".into()))?;
        if claims.email_verified() != Some(true) {
            return Err(OidcError::Email(format!("{email} is not verified")));
        }
        Ok(Identity {
            subject: claims.subject().as_str().to_owned(),
            email,
            groups: groups_of(raw, &self.config.groups_claim),
        })
    }

    /// [`Provider::verify`] of a raw token against this provider's current
    /// keys, for tests that hold a real token from the provider.
    pub async fn verify_raw(
        &self,
        raw: &str,
        nonce: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Identity, OidcError> {
        let client = self.client(self.metadata(false).await?)?;
        self.verify(&client, raw, nonce, now)
    }
}

/// The groups claim of an ID token whose signature was already verified: the
/// claim's name is configured, so it is read from the payload as JSON rather
/// than through a claims type fixed at compile time.
fn groups_of(raw: &str, claim: &str) -> Vec<String> {
    use base64::Engine;
    let Some(payload) = raw.split('.').nth(1) else {
        return Vec::new();
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    match value.get(claim) {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// An error and its sources in one line (reqwest hides the cause otherwise).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_read_from_the_configured_claim() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"groups":["shop-devs","admins"],"roles":"ops"}"#);
        let raw = format!("h.{payload}.s");
        assert_eq!(groups_of(&raw, "groups"), ["shop-devs", "admins"]);
        assert_eq!(groups_of(&raw, "roles"), ["ops"]);
        assert!(groups_of(&raw, "missing").is_empty());
        assert!(groups_of("not-a-jwt", "groups").is_empty());
    }

    #[test]
    fn every_refusal_has_an_audit_reason() {
        assert_eq!(OidcError::BadState.reason(), "bad_state");
        assert_eq!(
            OidcError::IdToken("expired", String::new()).reason(),
            "expired"
        );
        assert_eq!(
            OidcError::Email(String::new()).reason(),
            "email_not_verified"
        );
    }
}
