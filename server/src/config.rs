//! One `Config` for the whole process, read from the environment (and flags).
//!
//! Every variable of the README's configuration table is a field here; nothing else in Slipway reads
//! `std::env` for configuration. Secrets are wrapped in [`SecretString`] so a
//! `Debug` print of the config never shows them.

pub use crate::secret::{SecretKey, SecretString};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Log output format (`SLIPWAY_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Configuration shared by `serve` and `run`.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// PostgreSQL URL. `slipway run` uses its private instance when unset.
    #[arg(long, env = "SLIPWAY_DATABASE_URL")]
    pub database_url: Option<SecretString>,

    /// Address to bind.
    #[arg(long, env = "SLIPWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// External URL of the portal; session cookies are `Secure` when it is https.
    #[arg(
        long,
        env = "SLIPWAY_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,

    /// 32-byte key, base64; encrypts webhook secrets at rest. `run` generates one.
    #[arg(long, env = "SLIPWAY_SECRET_KEY")]
    pub secret_key: Option<SecretKey>,

    /// Kubeconfig of the cluster to manage (then `KUBECONFIG`, then in-cluster config).
    #[arg(long, env = "SLIPWAY_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// The namespace Slipway itself runs in; no environment pattern may give it
    /// to a team (added to the reserved namespaces at start).
    #[arg(long, env = "SLIPWAY_OWN_NAMESPACE", default_value = "slipway")]
    pub own_namespace: String,

    /// Email of the admin account that `run` seeds.
    #[arg(
        long,
        env = "SLIPWAY_ADMIN_EMAIL",
        default_value = "admin@slipway.local"
    )]
    pub admin_email: String,

    /// Password of the seeded admin; generated and printed once when unset.
    #[arg(long, env = "SLIPWAY_ADMIN_PASSWORD")]
    pub admin_password: Option<SecretString>,

    /// Tracing filter, e.g. `info` or `slipway=debug,tower_http=info`.
    #[arg(long, env = "SLIPWAY_LOG", default_value = "info")]
    pub log: String,

    /// Log format.
    #[arg(long, env = "SLIPWAY_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,

    /// Largest accepted request body in bytes; larger bodies get 413.
    #[arg(long, env = "SLIPWAY_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,

    /// Deliveries one webhook accepts per minute (per replica) before it answers 429.
    #[arg(
        long,
        env = "SLIPWAY_HOOK_DELIVERIES_PER_MINUTE",
        default_value_t = 120
    )]
    pub hook_deliveries_per_minute: u32,

    /// Seconds a request may take before it is answered with 408.
    #[arg(long, env = "SLIPWAY_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Folder of static assets (htmx, CSS); defaults to `static/` here or in the source checkout.
    #[arg(long, env = "SLIPWAY_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "SLIPWAY_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
}

impl Config {
    /// A configuration for tests and embedding: defaults everywhere, the given database.
    pub fn for_database(url: &str) -> Self {
        Self {
            database_url: Some(SecretString::new(url)),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: "http://127.0.0.1:8080".into(),
            secret_key: Some(SecretKey([7; 32])),
            kubeconfig: None,
            own_namespace: "slipway".into(),
            admin_email: "admin@slipway.local".into(),
            admin_password: None,
            log: "info".into(),
            log_format: LogFormat::Pretty,
            body_limit: 1024 * 1024,
            hook_deliveries_per_minute: 120,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            static_dir: None,
        }
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn cookies_secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The folder static files are served from.
    pub fn static_dir(&self) -> PathBuf {
        self.static_dir.clone().unwrap_or_else(default_static_dir)
    }

    /// Request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// Checks values clap cannot check on its own, naming the variable at fault.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            anyhow::bail!("SLIPWAY_LOG is not a valid filter: {err}");
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            anyhow::bail!("SLIPWAY_PUBLIC_URL must start with http:// or https://");
        }
        if self.hook_deliveries_per_minute == 0 {
            anyhow::bail!("SLIPWAY_HOOK_DELIVERIES_PER_MINUTE must be at least 1");
        }
        if self.body_limit < 1024 {
            anyhow::bail!("SLIPWAY_BODY_LIMIT must be at least 1024 bytes");
        }
        Ok(())
    }
}

/// Where static files live when `SLIPWAY_STATIC_DIR` is unset: `static/` in the
/// working directory, else the source checkout's (for `cargo run` and tests).
pub fn default_static_dir() -> PathBuf {
    let local = PathBuf::from("static");
    if local.join("app.css").exists() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../static"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let mut c = Config::for_database("postgres://x");
        assert!(!c.cookies_secure());
        c.public_url = "https://slipway.example.com".into();
        assert!(c.cookies_secure());
    }

    #[test]
    fn an_invalid_log_filter_is_refused_by_name() {
        let mut c = Config::for_database("postgres://x");
        c.log = "info,[".into();
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_LOG"), "{err}");
    }

    #[test]
    fn public_url_without_scheme_is_rejected() {
        let mut c = Config::for_database("postgres://x");
        c.public_url = "slipway.example.com".into();
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_PUBLIC_URL"), "{err}");
    }
}
