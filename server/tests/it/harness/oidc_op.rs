//! A second real identity provider, for what Dex does not do: zitadel/oidc's
//! example OP (built from its pinned Go module by `e2e/oidc-op/build.sh`,
//! cached), which has an end-session endpoint (RP-initiated logout). Started
//! per test on a free port with Slipway as its web client and one person.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Slipway's client secret at the test OP.
pub const OP_CLIENT_SECRET: &str = "slipway-op-test-secret-5b2e";
/// The person the OP knows: username (also the email) and password.
pub const OP_USER: (&str, &str) = ("lin@example.com", "lin-op-password-1");

/// A running OP; stopped when dropped.
pub struct OidcOp {
    pub issuer: String,
    base: String,
    dir: PathBuf,
    child: Child,
}

fn op_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e/oidc-op/build.sh");
        let out = Command::new(&script)
            .stderr(Stdio::inherit())
            .output()
            .expect("e2e/oidc-op/build.sh runs");
        assert!(out.status.success(), "e2e/oidc-op/build.sh failed");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("oidc-op")
    })
    .clone()
}

impl OidcOp {
    /// Starts the OP with Slipway's callback `redirect_uri` and the one
    /// post-logout redirect URI it accepts, `post_logout_uri`.
    pub async fn start(redirect_uri: &str, post_logout_uri: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = std::env::temp_dir().join(format!("slipway-op-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("op folder");
        let users = serde_json::json!({"lin": {
            "ID": "lin", "Username": OP_USER.0, "Password": OP_USER.1,
            "FirstName": "Lin", "LastName": "Op", "Email": OP_USER.0,
            "EmailVerified": true, "PreferredLanguage": "en"
        }});
        std::fs::write(dir.join("users.json"), users.to_string()).expect("users file");
        let log = std::fs::File::create(dir.join("op.log")).expect("op log");
        let child = Command::new(op_binary())
            .env("OP_PORT", port.to_string())
            .env("OP_CLIENT_ID", "slipway")
            .env("OP_CLIENT_SECRET", OP_CLIENT_SECRET)
            .env("OP_REDIRECT_URI", redirect_uri)
            .env("OP_POST_LOGOUT_URI", post_logout_uri)
            .env("OP_USERS_FILE", dir.join("users.json"))
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("the OP starts");
        let base = format!("http://127.0.0.1:{port}");
        let op = Self {
            issuer: format!("{base}/"),
            base,
            dir,
            child,
        };
        let discovery = format!("{}.well-known/openid-configuration", op.issuer);
        for _ in 0..100 {
            if reqwest::get(&discovery)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return op;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the OP did not answer {discovery} within 10 s; its log:\n{}",
            op.log()
        );
    }

    /// The OP's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("op.log")).unwrap_or_default()
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        }
    }

    /// Signs the OP's person in on its own login form, starting at the
    /// authorization URL Slipway redirected to, with `browser` (which keeps
    /// the OP's cookies); returns where the OP sends the browser back to
    /// (Slipway's callback with `code` and `state`).
    pub async fn log_in(&self, browser: &reqwest::Client, authorize_url: &str) -> String {
        let mut url = authorize_url.to_owned();
        let form = loop {
            let res = browser.get(&url).send().await.expect("the OP answers");
            if res.status().is_redirection() {
                url = self.absolute(res.headers()["location"].to_str().expect("location"));
                continue;
            }
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            assert_eq!(status, 200, "the OP's login page: {body}\n{}", self.log());
            break body;
        };
        let id = form
            .split("name=\"id\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the OP's login form carries the request id")
            .to_owned();
        let res = browser
            .post(format!("{}/login/username", self.base))
            .form(&[
                ("username", OP_USER.0),
                ("password", OP_USER.1),
                ("id", &id),
            ])
            .send()
            .await
            .expect("the OP takes the form");
        assert!(
            res.status().is_redirection(),
            "the OP did not accept the password: {} {}",
            res.status(),
            self.log()
        );
        let mut location = self.absolute(res.headers()["location"].to_str().expect("location"));
        while location.starts_with(&self.base) {
            let res = browser.get(&location).send().await.expect("the OP answers");
            assert!(
                res.status().is_redirection(),
                "the OP stopped at {location}: {}",
                self.log()
            );
            location = self.absolute(res.headers()["location"].to_str().expect("location"));
        }
        location
    }
}

impl Drop for OidcOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
