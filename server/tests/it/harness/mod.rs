//! The test harness: a real server on an ephemeral port and a cookie-keeping client.

use std::net::SocketAddr;

use slipway::app::{self, AppState};
use slipway::auth::password;
use slipway::cluster;
use slipway::config::Config;
use slipway::store;
use sqlx::PgPool;
use tokio::net::TcpListener;

/// A running Slipway and a browser-like client (cookies kept, redirects not followed).
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    #[allow(dead_code, reason = "kept for tests that inspect the database")]
    pub pool: PgPool,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A password every test user gets.
pub const PASSWORD: &str = "correct-horse-battery-42";

impl TestApp {
    /// Serves the real router over `pool` with no cluster.
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, cluster::Handle::disabled(), |_| {}).await
    }

    /// Serves with a cluster handle and a config tweak.
    pub async fn spawn_with(
        pool: PgPool,
        cluster: cluster::Handle,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_database("postgres://unused");
        tweak(&mut config);
        // Bound before serving, so the first request never races the server start.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(pool.clone(), cluster, config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = app::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            addr,
            client,
            pool,
            _shutdown: tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
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

/// Creates a user with [`PASSWORD`], optionally admin, member of `teams` (created when missing).
pub async fn create_user(
    pool: &PgPool,
    email: &str,
    admin: bool,
    teams: &[&str],
) -> store::users::User {
    let hash = password::hash(PASSWORD).unwrap();
    let user = store::users::insert(pool, email, &hash, admin)
        .await
        .unwrap();
    for team in teams {
        let t = match store::teams::find_by_name(pool, team).await.unwrap() {
            Some(t) => t,
            None => store::teams::insert(pool, team, team).await.unwrap(),
        };
        store::teams::add_member(pool, t.id, user.id).await.unwrap();
    }
    user
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
