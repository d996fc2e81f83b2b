//! The test harness: a real server on an ephemeral port and a cookie-keeping
//! client. Fixtures (specs, users, services, deploys) are in [`fixtures`], the
//! cluster side (kube client, worker, namespaces) in [`cluster`]. Test modules
//! import every helper from here, never from one another.

pub mod cluster;
pub mod dex;
pub mod fixtures;
pub mod oidc_op;
pub mod relay;
pub mod routes;
pub mod second_cluster;

pub use cluster::*;
pub use dex::*;
pub use fixtures::*;
pub use oidc_op::*;
pub use relay::*;
pub use second_cluster::*;

use std::net::SocketAddr;

use slipway::app::{self, AppState};
use slipway::cluster::Handle as ClusterHandle;
use slipway::config::Config;
use sqlx::PgPool;
use tokio::net::TcpListener;

/// A running Slipway and a browser-like client (cookies kept, redirects not followed).
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// Stops the server when dropped; `None` for [`TestApp::another_browser`]s.
    _shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server's shared reads, for tests that write behind its back.
    shared: slipway::web::layout::SharedReads,
}

/// A password every test user gets.
pub const PASSWORD: &str = "correct-horse-battery-42";

impl TestApp {
    /// Serves the real router over `pool` with no cluster.
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, ClusterHandle::disabled(), |_| {}).await
    }

    /// Serves with a cluster handle and a config tweak.
    pub async fn spawn_with(
        pool: PgPool,
        cluster: ClusterHandle,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_database("postgres://unused");
        tweak(&mut config);
        // Bound before serving, so the first request never races the server start.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_on(listener, pool, cluster, config)
    }

    /// Serves with single sign-on through a Dex started for this app's
    /// callback URL and knowing `users`; `tweak` adjusts the config after.
    pub async fn spawn_sso(
        pool: PgPool,
        users: &[DexUser],
        tweak: impl FnOnce(&mut Config),
    ) -> (Self, Dex) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dex = Dex::start(&format!("http://{addr}/auth/oidc/callback"), users).await;
        let mut config = Config::for_database("postgres://unused");
        config.public_url = format!("http://{addr}");
        config.oidc_issuer = Some(dex.issuer.clone());
        config.oidc_client_id = Some("slipway".into());
        config.oidc_client_secret = Some(slipway::config::SecretString::new(DEX_CLIENT_SECRET));
        config.oidc_name = "Dex".into();
        tweak(&mut config);
        (
            Self::serve_on(listener, pool, ClusterHandle::disabled(), config),
            dex,
        )
    }

    /// [`TestApp::spawn_sso`] against the second provider (zitadel/oidc's
    /// example OP, which has an end-session endpoint), with Slipway's login
    /// page registered there as the post-logout redirect URI.
    pub async fn spawn_with_op(pool: PgPool) -> (Self, OidcOp) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let op = OidcOp::start(
            &format!("http://{addr}/auth/oidc/callback"),
            &format!("http://{addr}/login"),
        )
        .await;
        let mut config = Config::for_database("postgres://unused");
        config.public_url = format!("http://{addr}");
        config.oidc_issuer = Some(op.issuer.clone());
        config.oidc_client_id = Some("slipway".into());
        config.oidc_client_secret = Some(slipway::config::SecretString::new(OP_CLIENT_SECRET));
        config.oidc_name = "Example OP".into();
        (
            Self::serve_on(listener, pool, ClusterHandle::disabled(), config),
            op,
        )
    }

    /// Serves with `tweak` applied to the config and `adjust` to the state
    /// (e.g. where it listens for revocations).
    pub async fn spawn_adjusted(
        pool: PgPool,
        tweak: impl FnOnce(&mut Config),
        adjust: impl FnOnce(&mut AppState),
    ) -> Self {
        let mut config = Config::for_database("postgres://unused");
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut state = AppState::new(pool, ClusterHandle::disabled(), config);
        adjust(&mut state);
        Self::serve_state(listener, state)
    }

    /// Serves the real router on `listener`.
    fn serve_on(
        listener: TcpListener,
        pool: PgPool,
        cluster: ClusterHandle,
        config: Config,
    ) -> Self {
        Self::serve_state(listener, AppState::new(pool, cluster, config))
    }

    /// Serves `state` on `listener`.
    fn serve_state(listener: TcpListener, state: AppState) -> Self {
        let addr = listener.local_addr().unwrap();
        let shared = slipway::web::layout::SharedReads::of(&state);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = app::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            addr,
            client: browser(),
            _shutdown: Some(tx),
            shared,
        }
    }

    /// Tells the server that the test wrote to the database behind its back
    /// (SQL straight to PostgreSQL), as a write through it would: what pages
    /// share for a second (`domain::catalog_cache`, the navigation bar's
    /// count) is read afresh. Tests of how the sharing behaves do not call it.
    pub fn wrote_behind_its_back(&self) {
        self.shared.invalidate();
    }

    /// The server's signed-in sessions as loaded (`store::identity`).
    pub fn identity(&self) -> &slipway::store::identity::IdentityCache {
        &self.shared.identity
    }

    /// Waits (at most 5 s) until the server has heard a revocation notice
    /// after the `since`-th (`identity().notices()` taken before the write):
    /// a write straight to PostgreSQL reaches the server through the
    /// database's notice alone, and this waits for it to arrive.
    pub async fn until_notice_after(&self, since: u64) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.identity().notices() <= since {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no revocation notice reached the server within 5 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Waits (bounded) until the server hears revocations, so that it keeps
    /// what it loads; panics if it does not within 15 s.
    pub async fn until_revocations_are_heard(&self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while !self.identity().is_live() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never heard its revocation channel"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// A second browser (its own cookies, no one signed in) on the same
    /// server, e.g. two people sharing one replica's caches. The server stops
    /// with `self`.
    pub fn another_browser(&self) -> Self {
        Self {
            addr: self.addr,
            client: browser(),
            _shutdown: None,
            shared: self.shared.clone(),
        }
    }

    /// Signs in through single sign-on in `browser` (a cookie-keeping client):
    /// Slipway's start, Dex's login form, then Slipway's callback. Returns the
    /// callback's response and the callback URL Dex sent the browser to.
    pub async fn sso_sign_in(
        &self,
        browser: &reqwest::Client,
        dex: &Dex,
        email: &str,
        password: &str,
    ) -> (reqwest::Response, String) {
        let callback = self.sso_callback_url(browser, dex, email, password).await;
        let res = browser.get(&callback).send().await.unwrap();
        (res, callback)
    }

    /// The first half of [`TestApp::sso_sign_in`]: the callback URL, not yet visited.
    pub async fn sso_callback_url(
        &self,
        browser: &reqwest::Client,
        dex: &Dex,
        email: &str,
        password: &str,
    ) -> String {
        let start = browser
            .get(self.url("/auth/oidc/start?next=/"))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 303, "{}", start.text().await.unwrap());
        let authorize = start.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            authorize.starts_with(&dex.issuer),
            "start redirects to the provider: {authorize}"
        );
        dex.log_in(&authorize, email, password).await
    }
}

/// A browser-like client: cookies kept, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    /// Serves the real router over `pool` (no cluster) with `email` signed in.
    pub async fn signed_in(pool: &PgPool, email: &str) -> Self {
        let app = Self::spawn(pool.clone()).await;
        app.login_as(email, PASSWORD).await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GETs `path` as htmx does (`HX-Request: true`): the fragment alone.
    pub async fn htmx_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("hx-request", "true")
            .send()
            .await
            .unwrap()
    }

    /// GETs a page, asserts 200 and returns its body.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The session's CSRF token, read from a page's hidden field like a browser would.
    pub async fn csrf_token(&self) -> String {
        let login = self.get("/login").await;
        // Signed-in users are sent on from /login; every portal page carries the token.
        let html = if login.status() == 303 {
            self.get("/").await.text().await.unwrap()
        } else {
            login.text().await.unwrap()
        };
        extract_csrf(&html).expect("the page has a csrf_token field")
    }

    /// POSTs a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    /// Signs in; panics unless the login redirects.
    pub async fn login_as(&self, email: &str, password: &str) {
        let res = self
            .post_form("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(
            res.status(),
            303,
            "login of {email} failed: {}",
            res.text().await.unwrap()
        );
    }

    /// The value of the session cookie, if set.
    pub fn session_cookie(&self, res: &reqwest::Response) -> Option<String> {
        res.cookies()
            .find(|c| c.name() == "slipway_session")
            .map(|c| c.value().to_owned())
    }
}

/// Pulls `value` of the `csrf_token` hidden input out of a page.
pub fn extract_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Polls `f` until it returns true or `secs` pass; returns whether it did.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    false
}

/// The URL of the test's own database (`#[sqlx::test]` makes one per test):
/// `DATABASE_URL` with the database name replaced, its `?query` kept.
pub async fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (make test sets it)");
    let name: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let (prefix, rest) = base.rsplit_once('/').expect("a database URL with a path");
    let query = rest
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{prefix}/{name}{query}")
}

/// The TCP port process `pid` listens on, read from `/proc` (Linux): the child
/// binds `127.0.0.1:0` itself, so no port is guessed and handed over.
/// `None` while it does not listen yet.
pub fn listening_port(pid: u32) -> Option<u16> {
    // Socket inodes of the process's descriptors.
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            let inode = target.strip_prefix("socket:[")?.strip_suffix(']')?;
            Some(inode.to_owned())
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).ok()?;
    // `sl local_address rem_address st ... inode`: st 0A is LISTEN.
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (cols.get(1)?, cols.get(3)?, cols.get(9)?);
        if *state != "0A" || !inodes.iter().any(|i| i == inode) {
            return None;
        }
        u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()
    })
}
