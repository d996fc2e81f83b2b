//! The CI client: `slipway deploy`, `apply`, `status` and `history` talk to a
//! Slipway server's JSON API with a personal token, so a pipeline deploys with
//! the same policy, approvals and history as the portal (instead of the
//! article's `kubectl set image` + `kubectl rollout status`).
//!
//! Exit codes are the contract pipelines rely on: 0 done (for `deploy --wait`:
//! the rollout succeeded), 1 the rollout failed (reason printed), 2 refused
//! (invalid input, policy, or still awaiting approval or held by a freeze
//! window at the timeout).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::secret::SecretString;
use crate::spec;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The rollout failed.
pub const EXIT_FAILED: u8 = 1;
/// Refused: invalid, forbidden, conflicting, or not decided in time.
pub const EXIT_REFUSED: u8 = 2;

/// Where the server is and who is asking.
#[derive(Clone, Debug)]
pub struct Remote {
    /// The server's base URL, e.g. `https://slipway.example.com`.
    pub server: String,
    /// A personal API token (`Debug` hides it).
    pub token: SecretString,
}

/// An API answer that is not a success, as the CLI prints it.
struct Refusal {
    status: u16,
    message: String,
    fields: Vec<(String, String)>,
}

impl Remote {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }

    fn client() -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("slipway-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Result<Value, Refusal>> {
        let mut request = Self::client()?
            .request(method, self.url(path))
            .bearer_auth(self.token.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching {}", self.server))?;
        let status = response.status().as_u16();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(Ok(value));
        }
        let error = &value["error"];
        Ok(Err(Refusal {
            status,
            message: error["message"]
                .as_str()
                .unwrap_or("the server refused the request")
                .to_owned(),
            fields: error["fields"]
                .as_array()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|f| {
                            (
                                f["path"].as_str().unwrap_or_default().to_owned(),
                                f["message"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }
}

fn say(out: &mut dyn Write, line: impl std::fmt::Display) {
    let _ = writeln!(out, "{line}");
}

fn refused(err: &mut dyn Write, refusal: &Refusal) -> u8 {
    if refusal.status == 401 {
        // The server says why (unknown, expired, owner disabled): a CI log then tells what to fix.
        say(
            err,
            format!(
                "slipway: the token was refused (401): {} Check SLIPWAY_TOKEN (or --token).",
                refusal.message
            ),
        );
        return EXIT_REFUSED;
    }
    say(
        err,
        format!("slipway: refused ({}): {}", refusal.status, refusal.message),
    );
    for (path, message) in &refusal.fields {
        say(err, format!("  {path}: {message}"));
    }
    if refusal.status >= 500 {
        EXIT_FAILED
    } else {
        EXIT_REFUSED
    }
}

/// What `slipway deploy` asks for.
#[derive(Clone, Debug)]
pub struct DeployArgs {
    /// Team.
    pub team: String,
    /// Service.
    pub service: String,
    /// Environment.
    pub environment: String,
    /// Image.
    pub image: String,
    /// Wait until the deploy finishes.
    pub wait: bool,
    /// How long to wait.
    pub timeout: Duration,
    /// How often to ask.
    pub poll: Duration,
}

/// `slipway deploy`: requests a deploy and, with `--wait`, follows it.
pub async fn deploy(
    remote: &Remote,
    args: &DeployArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let path = format!(
        "/api/v1/teams/{}/services/{}/deploys",
        args.team, args.service
    );
    let body = json!({"environment": args.environment, "image": args.image});
    let deploy = match remote
        .call(reqwest::Method::POST, &path, Some(&body))
        .await?
    {
        Ok(deploy) => deploy,
        Err(refusal) => return Ok(refused(err, &refusal)),
    };
    let id = deploy["id"]
        .as_i64()
        .context("the server answered no deploy id")?;
    say(
        out,
        format!(
            "deploy #{id} of {} to {}: {}",
            args.image,
            args.environment,
            deploy["state"].as_str().unwrap_or("?")
        ),
    );
    if !args.wait {
        return Ok(EXIT_OK);
    }
    follow(remote, id, args, out, err).await
}

async fn follow(
    remote: &Remote,
    id: i64,
    args: &DeployArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let started = Instant::now();
    let mut seen_events = 0;
    loop {
        let events = match remote
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/deploys/{id}/events"),
                None,
            )
            .await?
        {
            Ok(events) => events.as_array().cloned().unwrap_or_default(),
            Err(refusal) => return Ok(refused(err, &refusal)),
        };
        for event in events.iter().skip(seen_events) {
            say(
                out,
                format!(
                    "  {} {}",
                    event["to"].as_str().unwrap_or("?"),
                    event["message"].as_str().unwrap_or_default()
                ),
            );
        }
        seen_events = events.len();
        let deploy = match remote
            .call(reqwest::Method::GET, &format!("/api/v1/deploys/{id}"), None)
            .await?
        {
            Ok(deploy) => deploy,
            Err(refusal) => return Ok(refused(err, &refusal)),
        };
        let state = deploy["state"].as_str().unwrap_or_default();
        let reason = deploy["reason"].as_str().unwrap_or_default();
        match state {
            "succeeded" => {
                say(out, format!("deploy #{id} succeeded"));
                return Ok(EXIT_OK);
            }
            "failed" | "superseded" => {
                say(err, format!("deploy #{id} {state}: {reason}"));
                return Ok(EXIT_FAILED);
            }
            "rejected" => {
                say(err, format!("deploy #{id} was rejected: {reason}"));
                return Ok(EXIT_REFUSED);
            }
            _ => {}
        }
        if started.elapsed() >= args.timeout {
            let why = match state {
                "awaiting_approval" => "is still awaiting approval",
                "held" => "is still held by a freeze window",
                _ => "has not finished",
            };
            say(
                err,
                format!(
                    "deploy #{id} {why} after {}s (state {state})",
                    args.timeout.as_secs()
                ),
            );
            return Ok(if matches!(state, "awaiting_approval" | "held") {
                EXIT_REFUSED
            } else {
                EXIT_FAILED
            });
        }
        tokio::time::sleep(args.poll).await;
    }
}

/// `slipway apply -f FILE`: creates the service or adds a revision when the
/// spec's content changed; invalid specs print `FILE: field.path: message`.
pub async fn apply(
    remote: &Remote,
    file: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            say(err, format!("{shown}: cannot read: {e}"));
            return Ok(EXIT_REFUSED);
        }
    };
    let parsed = match spec::parse(&text) {
        Ok(parsed) => parsed,
        Err(problems) => {
            for p in problems {
                let path = if p.path.is_empty() {
                    "spec"
                } else {
                    p.path.as_str()
                };
                say(err, format!("{shown}: {path}: {}{}", p.message, p.at()));
            }
            return Ok(EXIT_REFUSED);
        }
    };
    let Some(team) = parsed.metadata.team.clone() else {
        say(
            err,
            format!("{shown}: metadata.team: required to apply a spec to a server"),
        );
        return Ok(EXIT_REFUSED);
    };
    let name = parsed.metadata.name.clone();
    let spec_json = serde_json::to_value(&parsed).context("the spec as JSON")?;
    let service_path = format!("/api/v1/teams/{team}/services/{name}");
    let message = format!("Applied from {shown}");
    let answer = match remote
        .call(reqwest::Method::GET, &service_path, None)
        .await?
    {
        Ok(current) => {
            if current["hash"].as_str() == Some(parsed.content_hash().as_str()) {
                say(
                    out,
                    format!(
                        "{team}/{name}: unchanged (revision {})",
                        current["revision"]
                    ),
                );
                return Ok(EXIT_OK);
            }
            let body = json!({"spec": spec_json, "message": message,
                              "base_revision": current["revision"]});
            remote
                .call(reqwest::Method::PUT, &service_path, Some(&body))
                .await?
        }
        Err(refusal) if refusal.status == 404 => {
            let body = json!({"spec": spec_json, "message": message});
            let path = format!("/api/v1/teams/{team}/services");
            remote
                .call(reqwest::Method::POST, &path, Some(&body))
                .await?
        }
        Err(refusal) => return Ok(refused(err, &refusal)),
    };
    match answer {
        Ok(saved) => {
            say(
                out,
                format!("{team}/{name}: revision {}", saved["revision"]),
            );
            Ok(EXIT_OK)
        }
        Err(refusal) if refusal.status == 422 && !refusal.fields.is_empty() => {
            for (path, message) in &refusal.fields {
                say(err, format!("{shown}: {path}: {message}"));
            }
            Ok(EXIT_REFUSED)
        }
        Err(refusal) => Ok(refused(err, &refusal)),
    }
}

/// `slipway status`: the live scaling status of a service in an environment.
pub async fn status(
    remote: &Remote,
    team: &str,
    service: &str,
    environment: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let path = format!("/api/v1/teams/{team}/services/{service}/status?environment={environment}");
    let status = match remote.call(reqwest::Method::GET, &path, None).await? {
        Ok(status) => status,
        Err(refusal) => return Ok(refused(err, &refusal)),
    };
    let r = &status["replicas"];
    say(
        out,
        format!(
            "{team}/{service} in {environment}: {} desired, {} updated, {} ready, {} available{}",
            r["desired"],
            r["updated"],
            r["ready"],
            r["available"],
            if status["stale"] == true {
                " (stale: the cluster is not answering)"
            } else {
                ""
            }
        ),
    );
    for pod in status["pods"].as_array().into_iter().flatten() {
        say(
            out,
            format!(
                "  {} {} ready={} node={}",
                pod["name"].as_str().unwrap_or("?"),
                pod["phase"].as_str().unwrap_or("?"),
                pod["ready"],
                pod["node"].as_str().unwrap_or("-")
            ),
        );
    }
    Ok(EXIT_OK)
}

/// `slipway history`: the service's deploys, newest first.
pub async fn history(
    remote: &Remote,
    team: &str,
    service: &str,
    environment: Option<&str>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let mut path = format!("/api/v1/teams/{team}/services/{service}/deploys?limit=20");
    if let Some(environment) = environment {
        path.push_str(&format!("&environment={environment}"));
    }
    let deploys = match remote.call(reqwest::Method::GET, &path, None).await? {
        Ok(deploys) => deploys,
        Err(refusal) => return Ok(refused(err, &refusal)),
    };
    for d in deploys.as_array().into_iter().flatten() {
        let sha = d["commit"]["sha"].as_str().unwrap_or_default();
        say(
            out,
            format!(
                "#{} {} {} {} {}{}",
                d["id"],
                d["environment"].as_str().unwrap_or("?"),
                d["state"].as_str().unwrap_or("?"),
                d["image"].as_str().unwrap_or("?"),
                d["requested_by"].as_str().unwrap_or("?"),
                if sha.is_empty() {
                    String::new()
                } else {
                    format!(" (push {})", &sha[..sha.len().min(12)])
                }
            ),
        );
    }
    Ok(EXIT_OK)
}
