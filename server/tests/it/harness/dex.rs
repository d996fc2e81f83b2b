//! A real identity provider for the single sign-on tests: Dex, built from its
//! pinned Go module by `e2e/dex/build.sh` (cached), started per test on a free
//! port with Slipway as a static client and static users in groups.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Slipway's client secret at the test Dex.
pub const DEX_CLIENT_SECRET: &str = "slipway-sso-test-secret-0f3a";

/// A person Dex knows. The bcrypt hashes were made once for these passwords
/// (Dex's static passwords take only hashes).
#[derive(Clone, Debug)]
pub struct DexUser {
    pub email: &'static str,
    pub password: &'static str,
    hash: &'static str,
    pub groups: Vec<&'static str>,
    pub email_verified: bool,
}

impl DexUser {
    /// Ada, a developer of the shop.
    pub fn ada(groups: &[&'static str]) -> Self {
        Self {
            email: "ada@example.com",
            password: "ada-sso-password-1",
            hash: "$2b$10$uvCBLbzffzsTcdRLrGrvZeldDVercGPSA5uz54GzRzoG6ze2u3Qnu",
            groups: groups.to_vec(),
            email_verified: true,
        }
    }
    /// Bob, a developer of payments.
    pub fn bob(groups: &[&'static str]) -> Self {
        Self {
            email: "bob@example.com",
            password: "bob-sso-password-2",
            hash: "$2b$10$Cbbn49nRkoxTZoaYMtypcuwK20mARjrDtL3y3VLtc16iujFh30zB.",
            groups: groups.to_vec(),
            email_verified: true,
        }
    }
    /// Eve, whose email the provider has not verified.
    pub fn eve_unverified() -> Self {
        Self {
            email: "eve@example.com",
            password: "eve-sso-password-3",
            hash: "$2b$10$U5sMcr5Xz1Yez.Zn5GQo8OERY4yMRPDpEvfjjxuTVX.he/TIJqc.K",
            groups: vec!["shop-devs"],
            email_verified: false,
        }
    }
}

/// A running Dex; stopped when dropped.
pub struct Dex {
    pub port: u16,
    pub issuer: String,
    redirect_uri: String,
    dir: tempfile_dir::Dir,
    child: Option<Child>,
}

mod tempfile_dir {
    /// A folder removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn dex_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(path) = std::env::var("SLIPWAY_TEST_DEX") {
            return PathBuf::from(path);
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e/dex/build.sh");
        let out = Command::new(&script)
            .stderr(Stdio::inherit())
            .output()
            .expect("e2e/dex/build.sh runs");
        assert!(out.status.success(), "e2e/dex/build.sh failed");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("dex")
    })
    .clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Dex {
    /// Starts Dex with `users`, Slipway's redirect URI `redirect_uri`, and a
    /// second client `other-app` that trusts Slipway (so Slipway can ask for a
    /// token addressed to it: the wrong-audience test).
    pub async fn start(redirect_uri: &str, users: &[DexUser]) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("slipway-dex-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dex folder");
        let mut dex = Self {
            port,
            issuer: format!("http://127.0.0.1:{port}/dex"),
            redirect_uri: redirect_uri.to_owned(),
            dir: tempfile_dir::Dir(dir),
            child: None,
        };
        dex.run(users).await;
        dex
    }

    /// Stops Dex and starts it again with `users` (a group change at the
    /// provider). Memory storage: its signing keys are new too.
    pub async fn restart_with(&mut self, users: &[DexUser]) {
        self.stop();
        self.run(users).await;
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn run(&mut self, users: &[DexUser]) {
        let passwords: Vec<serde_json::Value> = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                serde_json::json!({
                    "email": u.email,
                    "hash": u.hash,
                    "username": u.email.split('@').next().unwrap_or_default(),
                    "userID": format!("user-{i}-{}", u.email),
                    "groups": u.groups,
                    "emailVerified": u.email_verified,
                })
            })
            .collect();
        // JSON is YAML: no YAML writer needed.
        let config = serde_json::json!({
            "issuer": self.issuer,
            "storage": {"type": "memory"},
            "web": {"http": format!("127.0.0.1:{}", self.port)},
            "oauth2": {"skipApprovalScreen": true},
            "enablePasswordDB": true,
            "logger": {"level": "warn"},
            "staticClients": [
                {"id": "slipway", "name": "Slipway", "secret": DEX_CLIENT_SECRET,
                 "redirectURIs": [self.redirect_uri]},
                {"id": "other-app", "name": "Another app", "secret": "other-app-secret-9c1d",
                 "redirectURIs": ["http://127.0.0.1:9/callback"], "trustedPeers": ["slipway"]}
            ],
            "staticPasswords": passwords,
        });
        let path = self.dir.0.join("config.yaml");
        std::fs::write(&path, config.to_string()).expect("dex config");
        let log = std::fs::File::create(self.dir.0.join("dex.log")).expect("dex log");
        let child = Command::new(dex_binary())
            .arg("serve")
            .arg(&path)
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("dex starts");
        self.child = Some(child);
        let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
        let web = reqwest::Client::new();
        for _ in 0..100 {
            if web
                .get(&discovery)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.dir.0.join("dex.log")).unwrap_or_default();
        panic!("Dex did not answer {discovery} within 10 s; its log:\n{log}");
    }

    /// Signs `user` in on Dex's own login form, starting at the provider URL
    /// Slipway redirected to; returns the URL Dex sends the browser back to
    /// (Slipway's callback with `code` and `state`).
    pub async fn log_in(&self, authorize_url: &str, email: &str, password: &str) -> String {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let base = format!("http://127.0.0.1:{}", self.port);
        let absolute = |location: &str| {
            if location.starts_with("http") {
                location.to_owned()
            } else {
                format!("{base}{location}")
            }
        };
        let mut url = authorize_url.to_owned();
        // Redirects up to the login form (connector choice, then the form).
        let form = loop {
            let res = browser.get(&url).send().await.expect("Dex answers");
            if res.status().is_redirection() {
                let location = res.headers()["location"]
                    .to_str()
                    .expect("location")
                    .to_owned();
                url = absolute(&location);
                continue;
            }
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            assert_eq!(status, 200, "Dex's login page: {body}");
            break body;
        };
        let action = form
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("Dex's login form has an action")
            .replace("&amp;", "&");
        let res = browser
            .post(absolute(&action))
            .form(&[("login", email), ("password", password)])
            .send()
            .await
            .expect("Dex takes the form");
        assert!(
            res.status().is_redirection(),
            "Dex did not accept {email}'s password: {}",
            res.status()
        );
        let mut location = absolute(res.headers()["location"].to_str().expect("location"));
        // An approval page, should Dex show one, redirects on GET with skipApprovalScreen.
        while location.starts_with(&base) {
            let res = browser.get(&location).send().await.expect("Dex answers");
            assert!(res.status().is_redirection(), "Dex stopped at {location}");
            location = absolute(res.headers()["location"].to_str().expect("location"));
        }
        location
    }
}

impl Drop for Dex {
    fn drop(&mut self) {
        self.stop();
    }
}
