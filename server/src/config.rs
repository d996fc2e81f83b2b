//! One `Config` for the whole process, read from the environment (and flags).
//!
//! Every variable of the README's configuration table is a field here; nothing else in Slipway reads
//! `std::env` for configuration. Secrets are wrapped in [`SecretString`] so a
//! `Debug` print of the config never shows them, and they come only from the
//! environment or a file (`NAME_FILE`), never from a command-line flag: argv is
//! readable by every local user in `ps` and `/proc/PID/cmdline`.

pub use crate::secret::{SecretKey, SecretString};

use std::net::SocketAddr;
use std::num::NonZeroUsize;
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
    /// PostgreSQL URL (`SLIPWAY_DATABASE_URL` or `SLIPWAY_DATABASE_URL_FILE`;
    /// no flag, see [`Config::read_secrets`]). `slipway run` uses its private
    /// instance when unset.
    #[arg(skip)]
    pub database_url: Option<SecretString>,

    /// PostgreSQL URL of the schema owner, used only to apply migrations
    /// (`SLIPWAY_MIGRATION_DATABASE_URL` or `…_FILE`). When set, `serve` runs
    /// migrations with it and serves with `SLIPWAY_DATABASE_URL`, which can then
    /// be a role that owns nothing (docs/access.md).
    #[arg(skip)]
    pub migration_database_url: Option<SecretString>,

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

    /// 32-byte key, base64; encrypts webhook secrets at rest
    /// (`SLIPWAY_SECRET_KEY` or `SLIPWAY_SECRET_KEY_FILE`). `run` generates one.
    #[arg(skip)]
    pub secret_key: Option<SecretKey>,

    /// Kubeconfig of the cluster to manage (then `KUBECONFIG`, then in-cluster config).
    #[arg(long, env = "SLIPWAY_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// The name under which the cluster of this configuration (SLIPWAY_KUBECONFIG,
    /// `KUBECONFIG`, in-cluster, or `run`'s local control plane) is registered;
    /// environments target it by this name. Default `default`, and `local` for
    /// `run` on its local control plane.
    #[arg(long, env = "SLIPWAY_CLUSTER_NAME")]
    pub cluster_name: Option<String>,

    /// How often a replica re-reads the cluster registry to pick up clusters
    /// registered, changed or removed on another replica.
    #[arg(skip = std::time::Duration::from_secs(5))]
    pub cluster_registry_poll: std::time::Duration,

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

    /// Password of the seeded admin (`SLIPWAY_ADMIN_PASSWORD` or `…_FILE`);
    /// generated and printed once when unset.
    #[arg(skip)]
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

    /// How long a replica trusts a hook it has just authenticated
    /// (`domain::hook_cache`). Not a flag: tests lengthen it so that no
    /// assertion depends on how fast the machine is.
    #[arg(skip = crate::domain::hook_cache::TTL)]
    pub hook_cache_ttl: std::time::Duration,

    /// Seconds a replica reuses a signed-in session it has loaded, with its
    /// person (`store::identity`; revocations end it at once). 0 turns it off.
    #[arg(long, env = "SLIPWAY_IDENTITY_CACHE_SECONDS", default_value_t = 10)]
    pub identity_cache_secs: u64,

    /// Seconds a request may take before it is answered with 408.
    #[arg(long, env = "SLIPWAY_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Folder of static assets (htmx, CSS); defaults to `static/` here or in the source checkout.
    #[arg(long, env = "SLIPWAY_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "SLIPWAY_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// Proxies whose `X-Forwarded-For` is believed, as comma-separated CIDRs or addresses
    /// (e.g. `10.0.0.0/8,127.0.0.1`). Empty: the client address is the TCP peer.
    #[arg(
        long,
        env = "SLIPWAY_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Address of a separate listener for `/metrics`; when set, the main listener no
    /// longer serves it.
    #[arg(long, env = "SLIPWAY_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Password checks (argon2, ~19 MiB each) run at once; more wait briefly, then get 429.
    /// Default: the number of CPUs, at most 8.
    #[arg(long, env = "SLIPWAY_LOGIN_CONCURRENCY")]
    pub login_concurrency: Option<NonZeroUsize>,

    /// OpenID Connect issuer URL, exactly as the provider names itself; single
    /// sign-on is on when it is set (docs/sso.md).
    #[arg(long, env = "SLIPWAY_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// Slipway's client id at the identity provider.
    #[arg(long, env = "SLIPWAY_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// Slipway's client secret at the identity provider
    /// (`SLIPWAY_OIDC_CLIENT_SECRET` or `…_FILE`).
    #[arg(skip)]
    pub oidc_client_secret: Option<SecretString>,

    /// The provider's name on the login page ("Sign in with …").
    #[arg(long, env = "SLIPWAY_OIDC_NAME", default_value = "single sign-on")]
    pub oidc_name: String,

    /// Scopes asked for besides `openid`, separated by spaces.
    #[arg(
        long,
        env = "SLIPWAY_OIDC_SCOPES",
        default_value = "email profile groups",
        value_delimiter = ' '
    )]
    pub oidc_scopes: Vec<String>,

    /// The ID token claim that lists a user's groups.
    #[arg(long, env = "SLIPWAY_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,

    /// Hours a session started through single sign-on lasts before the person
    /// signs in through the provider again, so a group removed there reaches
    /// Slipway at most this late (1–720).
    #[arg(long, env = "SLIPWAY_OIDC_SESSION_HOURS", default_value_t = 12)]
    pub oidc_session_hours: u32,

    /// Who may sign in with a password: `everyone`, or `break-glass` (only
    /// `SLIPWAY_ADMIN_EMAIL`, for when the identity provider is down).
    #[arg(
        long,
        env = "SLIPWAY_PASSWORD_LOGIN",
        value_enum,
        default_value = "everyone"
    )]
    pub password_login: PasswordLogin,

    /// Seconds added to the clock ID tokens are checked against: tests move it
    /// to see an expired token refused. No variable sets it.
    #[arg(skip)]
    pub oidc_clock_offset_secs: i64,
}

/// Who may sign in with a password (`SLIPWAY_PASSWORD_LOGIN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PasswordLogin {
    /// Every user with a password.
    Everyone,
    /// Only the break-glass administrator (`SLIPWAY_ADMIN_EMAIL`).
    BreakGlass,
}

/// The most password checks the default of `SLIPWAY_LOGIN_CONCURRENCY` allows at once.
pub const DEFAULT_LOGIN_CONCURRENCY_MAX: usize = 8;

/// One entry of `SLIPWAY_TRUSTED_PROXIES`: a CIDR, or a bare address meaning just it.
fn parse_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("`{s}` is neither a CIDR (10.0.0.0/8) nor an IP address"))
}

/// A secret from the environment: variable `name`, or the contents of the
/// file that `name_FILE` names (one trailing newline dropped, as `echo` and
/// Kubernetes Secret volumes leave it). Both set is an error naming both, so
/// nobody wonders which one won; so is an unreadable file (named, never its
/// contents).
pub fn secret_from_env(name: &str) -> anyhow::Result<Option<SecretString>> {
    secret_from(name, |var| std::env::var(var).ok())
}

/// [`secret_from_env`] over any lookup of variables (tests pass a map).
fn secret_from(
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<SecretString>> {
    let file_var = format!("{name}_FILE");
    let direct = lookup(name).filter(|v| !v.is_empty());
    let file = lookup(&file_var).filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => anyhow::bail!("set {name} or {file_var}, not both"),
        (Some(value), None) => Ok(Some(SecretString::new(value))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|err| {
                anyhow::anyhow!(
                    "{file_var}: cannot read {}: {err}",
                    PathBuf::from(&path).display()
                )
            })?;
            let value = text
                .strip_suffix('\n')
                .map(|v| v.strip_suffix('\r').unwrap_or(v))
                .unwrap_or(&text);
            if value.is_empty() {
                anyhow::bail!("{file_var}: {} is empty", PathBuf::from(&path).display());
            }
            Ok(Some(SecretString::new(value)))
        }
        (None, None) => Ok(None),
    }
}

/// `SLIPWAY_DATABASE_URL` (or `…_FILE`), for the subcommands outside `Config`.
pub fn database_url_from_env() -> anyhow::Result<Option<SecretString>> {
    secret_from_env("SLIPWAY_DATABASE_URL")
}

/// The URL migrations run with: `SLIPWAY_MIGRATION_DATABASE_URL` (or
/// `…_FILE`), else `SLIPWAY_DATABASE_URL` (one role for everything).
pub fn migration_database_url_from_env() -> anyhow::Result<Option<SecretString>> {
    match secret_from_env("SLIPWAY_MIGRATION_DATABASE_URL")? {
        Some(url) => Ok(Some(url)),
        None => database_url_from_env(),
    }
}

impl Config {
    /// Fills the secret fields left unset (tests set them in code) from the
    /// environment or their `_FILE` variables: the database URLs, the secret
    /// key and the seeded admin's password.
    pub fn read_secrets(&mut self) -> anyhow::Result<()> {
        if self.database_url.is_none() {
            self.database_url = database_url_from_env()?;
        }
        if self.migration_database_url.is_none() {
            self.migration_database_url = secret_from_env("SLIPWAY_MIGRATION_DATABASE_URL")?;
        }
        if self.secret_key.is_none()
            && let Some(raw) = secret_from_env("SLIPWAY_SECRET_KEY")?
        {
            let key = raw
                .expose()
                .parse::<SecretKey>()
                .map_err(|why| anyhow::anyhow!("SLIPWAY_SECRET_KEY {why}"))?;
            self.secret_key = Some(key);
        }
        if self.admin_password.is_none() {
            self.admin_password = secret_from_env("SLIPWAY_ADMIN_PASSWORD")?;
        }
        if self.oidc_client_secret.is_none() {
            self.oidc_client_secret = secret_from_env("SLIPWAY_OIDC_CLIENT_SECRET")?;
        }
        Ok(())
    }

    /// A configuration for tests and embedding: defaults everywhere, the given database.
    pub fn for_database(url: &str) -> Self {
        Self {
            database_url: Some(SecretString::new(url)),
            migration_database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: "http://127.0.0.1:8080".into(),
            secret_key: Some(SecretKey([7; 32])),
            kubeconfig: None,
            own_namespace: "slipway".into(),
            cluster_name: None,
            cluster_registry_poll: std::time::Duration::from_secs(5),
            admin_email: "admin@slipway.local".into(),
            admin_password: None,
            log: "info".into(),
            log_format: LogFormat::Pretty,
            body_limit: 1024 * 1024,
            hook_deliveries_per_minute: 120,
            hook_cache_ttl: crate::domain::hook_cache::TTL,
            identity_cache_secs: 10,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            static_dir: None,
            trusted_proxies: Vec::new(),
            metrics_addr: None,
            login_concurrency: None,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_name: "single sign-on".into(),
            oidc_scopes: vec!["email".into(), "profile".into(), "groups".into()],
            oidc_groups_claim: "groups".into(),
            password_login: PasswordLogin::Everyone,
            oidc_session_hours: 12,
            oidc_clock_offset_secs: 0,
        }
    }

    /// The single sign-on settings, `None` when `SLIPWAY_OIDC_ISSUER` is unset;
    /// an error naming the variable when the issuer is set without the rest.
    pub fn oidc(&self) -> anyhow::Result<Option<crate::auth::oidc::OidcConfig>> {
        let Some(issuer) = self.oidc_issuer.clone().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let client_id = self
            .oidc_client_id
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!("SLIPWAY_OIDC_ISSUER is set, so SLIPWAY_OIDC_CLIENT_ID is needed")
            })?;
        let client_secret = self.oidc_client_secret.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "SLIPWAY_OIDC_ISSUER is set, so SLIPWAY_OIDC_CLIENT_SECRET (or …_FILE) is needed"
            )
        })?;
        Ok(Some(crate::auth::oidc::OidcConfig {
            issuer,
            client_id,
            client_secret,
            display_name: self.oidc_name.clone(),
            scopes: self
                .oidc_scopes
                .iter()
                .filter(|s| !s.is_empty() && s.as_str() != "openid")
                .cloned()
                .collect(),
            groups_claim: self.oidc_groups_claim.clone(),
            public_url: self.public_url.clone(),
        }))
    }

    /// Whether the portal is served over https (cookies `Secure` and `__Host-`, HSTS).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The session cookie's name. Over https it carries the `__Host-` prefix, so a
    /// sibling subdomain cannot plant or overwrite it; over plain http browsers refuse
    /// `__Host-` cookies (they require `Secure`), so the plain name stays.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.is_https() {
            "__Host-slipway_session"
        } else {
            "slipway_session"
        }
    }

    /// The name of the anonymous visitor's CSRF cookie (the login form), prefixed like
    /// the session cookie.
    pub fn csrf_cookie_name(&self) -> &'static str {
        if self.is_https() {
            "__Host-slipway_csrf"
        } else {
            "slipway_csrf"
        }
    }

    /// How many password checks may run at once. The default follows the CPUs but
    /// stops at [`DEFAULT_LOGIN_CONCURRENCY_MAX`]: on a 64-core node, 64 checks would
    /// need over a GiB.
    pub fn login_concurrency(&self) -> usize {
        match self.login_concurrency {
            Some(n) => n.get(),
            None => std::thread::available_parallelism()
                .map_or(2, NonZeroUsize::get)
                .min(DEFAULT_LOGIN_CONCURRENCY_MAX),
        }
    }

    /// Whether cookies must carry the `Secure` attribute.
    pub fn cookies_secure(&self) -> bool {
        self.is_https()
    }

    /// The folder static files are served from.
    pub fn static_dir(&self) -> PathBuf {
        self.static_dir.clone().unwrap_or_else(default_static_dir)
    }

    /// Request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// How long a loaded session is reused (`SLIPWAY_IDENTITY_CACHE_SECONDS`).
    pub fn identity_cache(&self) -> Duration {
        Duration::from_secs(self.identity_cache_secs)
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
        if self.metrics_addr == Some(self.listen) {
            anyhow::bail!(
                "SLIPWAY_METRICS_ADDR must differ from SLIPWAY_LISTEN: metrics get a listener of their own"
            );
        }
        if !(1..=720).contains(&self.oidc_session_hours) {
            anyhow::bail!("SLIPWAY_OIDC_SESSION_HOURS must be between 1 and 720");
        }
        if let Err(why) = crate::domain::clusters::check_name(self.cluster_name()) {
            anyhow::bail!("SLIPWAY_CLUSTER_NAME {why}");
        }
        Ok(())
    }

    /// The configured cluster's registered name (`SLIPWAY_CLUSTER_NAME`).
    pub fn cluster_name(&self) -> &str {
        self.cluster_name.as_deref().unwrap_or(DEFAULT_CLUSTER_NAME)
    }
}

/// The configured cluster's name when `SLIPWAY_CLUSTER_NAME` is unset.
pub const DEFAULT_CLUSTER_NAME: &str = "default";

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
    fn https_names_cookies_with_the_host_prefix() {
        let mut c = Config::for_database("postgres://x");
        assert_eq!(c.session_cookie_name(), "slipway_session");
        assert_eq!(c.csrf_cookie_name(), "slipway_csrf");
        c.public_url = "https://slipway.example.com".into();
        assert_eq!(c.session_cookie_name(), "__Host-slipway_session");
        assert_eq!(c.csrf_cookie_name(), "__Host-slipway_csrf");
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let cli =
            Cli::try_parse_from(["slipway", "--trusted-proxies", "10.1.2.3/8, 127.0.0.1,::1"])
                .unwrap();
        let nets: Vec<String> = cli
            .config
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
        let err = Cli::try_parse_from(["slipway", "--trusted-proxies", "proxy.local"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("neither a CIDR"), "{err}");
    }

    #[test]
    fn an_invalid_log_filter_is_refused_by_name() {
        let mut c = Config::for_database("postgres://x");
        c.log = "info,[".into();
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_LOG"), "{err}");
    }

    #[test]
    fn single_sign_on_needs_its_client_and_names_what_is_missing() {
        let mut c = Config::for_database("postgres://x");
        assert!(c.oidc().unwrap().is_none(), "off without an issuer");
        c.oidc_issuer = Some("https://id.example.com".into());
        let err = c.oidc().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_OIDC_CLIENT_ID"), "{err}");
        c.oidc_client_id = Some("slipway".into());
        let err = c.oidc().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_OIDC_CLIENT_SECRET"), "{err}");
        c.oidc_client_secret = Some(SecretString::new("s"));
        c.oidc_scopes = vec!["openid".into(), "email".into(), String::new()];
        let settings = c.oidc().unwrap().expect("on");
        assert_eq!(
            settings.scopes,
            ["email"],
            "openid is always asked for, once"
        );
        c.oidc_session_hours = 0;
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_OIDC_SESSION_HOURS"), "{err}");
    }

    #[test]
    fn a_secret_comes_from_its_variable_or_its_file_never_both() {
        let dir = std::env::temp_dir().join(format!("slipway-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, "s3cret\n").unwrap();
        let path = path.display().to_string();
        let env = |pairs: &'static [(&'static str, &'static str)], file: Option<String>| {
            move |var: &str| {
                if var == "X_FILE" {
                    return file.clone();
                }
                pairs
                    .iter()
                    .find(|(k, _)| *k == var)
                    .map(|(_, v)| v.to_string())
            }
        };
        let from_file = secret_from("X", env(&[], Some(path.clone()))).unwrap();
        assert_eq!(from_file.unwrap().expose(), "s3cret");
        let direct = secret_from("X", env(&[("X", "direct")], None)).unwrap();
        assert_eq!(direct.unwrap().expose(), "direct");
        let both = secret_from("X", env(&[("X", "direct")], Some(path))).unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        let missing = secret_from("X", env(&[], Some("/nonexistent/slipway".into()))).unwrap_err();
        assert!(
            missing.to_string().starts_with("X_FILE: cannot read"),
            "{missing}"
        );
        assert!(secret_from("X", env(&[], None)).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn metrics_cannot_share_the_main_listener() {
        let mut c = Config::for_database("postgres://x");
        c.listen = "0.0.0.0:8080".parse().unwrap();
        c.metrics_addr = Some(c.listen);
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_METRICS_ADDR"), "{err}");
        c.metrics_addr = Some("0.0.0.0:9090".parse().unwrap());
        assert!(c.check().is_ok());
    }

    #[test]
    fn public_url_without_scheme_is_rejected() {
        let mut c = Config::for_database("postgres://x");
        c.public_url = "slipway.example.com".into();
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("SLIPWAY_PUBLIC_URL"), "{err}");
    }
}
