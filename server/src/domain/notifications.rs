//! Outgoing notifications of deploy events as business actions: administrators
//! create, disable, enable and delete targets (each with a signing secret shown
//! once and stored sealed), send a target a test event, and — the one entry
//! point the deploy transitions call — [`enqueue_in`] queues a message for
//! every matching target inside the transition's own transaction.
//!
//! The body is built at the event by the pure [`render_body`], so what is sent
//! is what was true then; the sender (`crate::notify`) only posts stored bytes.

use rand::RngCore as _;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::deploy_model::DeployState;
pub use crate::deploy_model::NotificationEvent;
use crate::error::{AppError, FieldError, ResultExt as _};
use crate::secret::{SecretKey, SecretString};
use crate::store::audit::Actor;
use crate::store::deploys::Deploy;
pub use crate::store::notifications::NotificationFormat;
use crate::store::notifications::{self as store_notifications, EventBodies, NewTarget, Target};
use crate::store::{self};

/// Audit actions written here.
pub mod actions {
    /// A target was created.
    pub const CREATE: &str = "notification.create";
    /// A target was enabled.
    pub const ENABLE: &str = "notification.enable";
    /// A target was disabled.
    pub const DISABLE: &str = "notification.disable";
    /// A target was deleted.
    pub const DELETE: &str = "notification.delete";
    /// An administrator queued a test event for a target.
    pub const TEST: &str = "notification.test";
}

/// Longest target name.
pub const NAME_MAX: usize = 100;
/// Longest target URL.
pub const URL_MAX: usize = 2000;

/// A new target as typed (portal form or API body). Unknown fields are refused:
/// a misspelt `environment` would otherwise send every environment's deploys.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    /// A name for people, unique.
    #[serde(default)]
    pub name: String,
    /// Where to post: `https://…` or `http://…`.
    #[serde(default)]
    pub url: String,
    /// `json` (the default) or `slack`.
    #[serde(default)]
    pub format: String,
    /// Only deploys to this environment; none or empty: every environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// The events it wants: names of [`NotificationEvent::CONFIGURABLE`].
    #[serde(default)]
    pub events: Vec<String>,
}

/// A target just made: the only time its secret is shown.
#[derive(Clone)]
pub struct NewTargetSecret {
    /// The target.
    pub id: Uuid,
    /// The signing secret (`Debug` hides it).
    pub secret: SecretString,
}

impl std::fmt::Debug for NewTargetSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTargetSecret")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The key or a clear error: target secrets are sealed with `SLIPWAY_SECRET_KEY`.
fn key_of(key: Option<&SecretKey>) -> Result<&SecretKey, AppError> {
    key.ok_or_else(|| {
        AppError::Unavailable("Notifications (SLIPWAY_SECRET_KEY is not configured)".into())
    })
}

fn fresh_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Why a URL cannot be a target's, or `None` when it can.
pub fn check_url(url: &str) -> Option<&'static str> {
    if url.is_empty() {
        return Some("is required");
    }
    if url.len() > URL_MAX {
        return Some("is longer than 2000 characters");
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some("is not a URL");
    };
    if !matches!(parsed.scheme(), "https" | "http") {
        return Some("must be an https:// or http:// URL");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("has no host");
    }
    None
}

/// A URL as pages and the API show it: its origin only, since the rest may be
/// a credential (a Slack incoming-webhook URL is one).
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.path() == "/" && parsed.query().is_none() => {
            parsed.origin().ascii_serialization()
        }
        Ok(parsed) => format!("{}/…", parsed.origin().ascii_serialization()),
        Err(_) => "(unreadable URL)".into(),
    }
}

/// The input, checked: every problem with its field.
struct Checked {
    name: String,
    url: String,
    format: NotificationFormat,
    environment: Option<store::environments::Environment>,
    events: Vec<NotificationEvent>,
}

async fn check_input(db: &PgPool, input: &TargetInput) -> Result<Checked, AppError> {
    let mut problems = Vec::new();
    let name = input.name.trim();
    if name.is_empty() {
        problems.push(FieldError::new("name", "is required"));
    } else if name.chars().count() > NAME_MAX {
        problems.push(FieldError::new("name", "is longer than 100 characters"));
    } else if name.chars().any(char::is_control) {
        problems.push(FieldError::new("name", "has control characters"));
    }
    let url = input.url.trim();
    if let Some(why) = check_url(url) {
        problems.push(FieldError::new("url", why));
    }
    let format = match input.format.trim() {
        "" => Some(NotificationFormat::Json),
        other => other.parse().ok(),
    };
    if format.is_none() {
        problems.push(FieldError::new("format", "must be `json` or `slack`"));
    }
    let mut events = Vec::new();
    for name in &input.events {
        match name.trim().parse::<NotificationEvent>() {
            Ok(event) if NotificationEvent::CONFIGURABLE.contains(&event) => {
                if !events.contains(&event) {
                    events.push(event);
                }
            }
            _ => problems.push(FieldError::new(
                "events",
                format!(
                    "unknown event `{}`; one of {}",
                    name.trim(),
                    NotificationEvent::CONFIGURABLE
                        .iter()
                        .map(|e| e.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
    if input.events.is_empty() {
        problems.push(FieldError::new("events", "choose at least one event"));
    }
    let environment = match input.environment.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            let found = store::environments::find_by_name(db, name).await?;
            if found.is_none() {
                problems.push(FieldError::new("environment", "no such environment"));
            }
            found
        }
    };
    match format {
        Some(format) if problems.is_empty() => Ok(Checked {
            name: name.to_owned(),
            url: url.to_owned(),
            format,
            environment,
            events,
        }),
        _ => Err(AppError::Invalid(problems)),
    }
}

/// Creates a target (enabled); the caller has checked
/// `policy::can_manage_notifications`. Audited as `notification.create`
/// (never the secret, nor the URL's path, which may be a credential).
pub async fn create_target(
    db: &PgPool,
    key: Option<&SecretKey>,
    actor: &Actor,
    input: &TargetInput,
) -> Result<NewTargetSecret, AppError> {
    let key = key_of(key)?;
    let checked = check_input(db, input).await?;
    let id = Uuid::new_v4();
    let secret = fresh_secret();
    let sealed = key.seal(secret.as_bytes(), id.as_bytes());
    let mut tx = db.begin().await?;
    store_notifications::insert_target(
        &mut *tx,
        &NewTarget {
            id,
            name: &checked.name,
            url: &checked.url,
            format: checked.format,
            environment_id: checked.environment.as_ref().map(|e| e.id),
            events: &checked.events,
            secret_sealed: &sealed,
            created_by: &actor.name,
        },
    )
    .await
    .on_constraint("notification_targets_name_key", || {
        AppError::invalid("name", "is taken by another target")
    })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::CREATE,
        &format!("notification:{}", checked.name),
        json!({
            "target": id,
            "url": redacted_url(&checked.url),
            "format": checked.format.as_str(),
            "environment": checked.environment.as_ref().map(|e| e.name.as_str()),
            "events": checked.events,
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(notification.target = %id, "notification target created");
    Ok(NewTargetSecret {
        id,
        secret: SecretString::new(secret),
    })
}

/// Enables or disables a target; audited as `notification.enable` /
/// `notification.disable`. A disabled target gets no new messages, and its
/// pending ones wait until it is enabled again.
pub async fn set_enabled(
    db: &PgPool,
    actor: &Actor,
    target: &Target,
    enabled: bool,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store_notifications::set_enabled(&mut *tx, target.id, enabled).await? {
        return Err(AppError::NotFound);
    }
    let action = if enabled {
        actions::ENABLE
    } else {
        actions::DISABLE
    };
    store::audit::record(
        &mut *tx,
        actor,
        action,
        &format!("notification:{}", target.name),
        json!({"target": target.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a target with its messages; audited as `notification.delete`.
pub async fn delete_target(db: &PgPool, actor: &Actor, target: &Target) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store_notifications::delete_target(&mut *tx, target.id).await? {
        return Err(AppError::NotFound);
    }
    store::audit::record(
        &mut *tx,
        actor,
        actions::DELETE,
        &format!("notification:{}", target.name),
        json!({"target": target.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Queues a `test` message for one enabled target (whatever events it wants);
/// audited as `notification.test`. Returns the message id.
pub async fn send_test(
    db: &PgPool,
    actor: &Actor,
    target: &Target,
    public_url: &str,
    now: OffsetDateTime,
) -> Result<i64, AppError> {
    if !target.enabled {
        return Err(AppError::Conflict(
            "The target is disabled; enable it to send a test event.".into(),
        ));
    }
    let facts = EventFacts {
        event: NotificationEvent::Test,
        at: now,
        actor: &actor.name,
        message: "A test notification from Slipway: this target is reachable and signed.",
        deploy: None,
        public_url,
    };
    let body = render_body(target.format, &facts);
    let mut tx = db.begin().await?;
    let id = store_notifications::insert_message(
        &mut *tx,
        target.id,
        NotificationEvent::Test,
        &body,
        now,
    )
    .await?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::TEST,
        &format!("notification:{}", target.name),
        json!({"target": target.id, "message": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Slipway's external URL for the deploy links of notifications, set once by
/// `serve` and `run` from `SLIPWAY_PUBLIC_URL` (deploy transitions happen deep
/// in the domain and the worker, far from the configuration).
static PUBLIC_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The URL notifications link to when nothing was configured.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Sets the URL the deploy links of notifications start with; the first call wins.
pub fn configure_public_url(url: &str) {
    let _ = PUBLIC_URL.set(url.trim_end_matches('/').to_owned());
}

/// [`enqueue_in`] with the configured public URL: what deploy transitions call.
pub async fn notify_in(
    conn: &mut PgConnection,
    event: NotificationEvent,
    deploy: &Deploy,
    actor: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    let url = PUBLIC_URL.get().map_or(DEFAULT_PUBLIC_URL, String::as_str);
    enqueue_in(conn, event, deploy, actor, message, url).await
}

/// Queues a message of `event` about `deploy` for every enabled target whose
/// environment (or all environments) and events match, inside the caller's
/// transaction: the message exists exactly when the transition does.
///
/// Pass the deploy as it is *after* the transition (its `state` and `reason`
/// are sent), the actor's readable name (an email, `webhook:<id>`, `worker …`,
/// `system`), a sentence for people (`message`: an approver's comment, a
/// failure's reason; may be empty) and `public_url`, Slipway's external URL
/// (`Config::public_url`), from which the deploy's link is made. The bodies are
/// built here, then one `insert … select` queues them: it never waits on a
/// receiver and never slows a deploy.
pub async fn enqueue_in(
    conn: &mut PgConnection,
    event: NotificationEvent,
    deploy: &Deploy,
    actor: &str,
    message: &str,
    public_url: &str,
) -> Result<(), sqlx::Error> {
    let at = OffsetDateTime::now_utc();
    let facts = EventFacts {
        event,
        at,
        actor,
        message,
        deploy: Some(DeployFacts::of(deploy)),
        public_url,
    };
    let json = render_body(NotificationFormat::Json, &facts);
    let slack = render_body(NotificationFormat::Slack, &facts);
    let queued = store_notifications::enqueue_matching(
        conn,
        event,
        deploy.id,
        deploy.environment_id,
        EventBodies {
            json: &json,
            slack: &slack,
        },
        at,
    )
    .await?;
    if queued > 0 {
        tracing::debug!(deploy.id = deploy.id, event = %event, queued, "notifications queued");
    }
    Ok(())
}

// ---------------------------------------------------------------- bodies (pure)

/// What a body says about a deploy.
#[derive(Clone, Copy, Debug)]
pub struct DeployFacts<'a> {
    /// Its number.
    pub id: i64,
    /// Owning team.
    pub team: &'a str,
    /// Service.
    pub service: &'a str,
    /// Environment.
    pub environment: &'a str,
    /// Image reference.
    pub image: &'a str,
    /// Revision number.
    pub revision: i32,
    /// Its state after the event.
    pub state: DeployState,
    /// Why it failed, was rejected or superseded (may be empty).
    pub reason: &'a str,
    /// Who asked for it.
    pub requested_by: &'a str,
}

impl<'a> DeployFacts<'a> {
    /// The facts of a stored deploy.
    pub fn of(deploy: &'a Deploy) -> Self {
        DeployFacts {
            id: deploy.id,
            team: &deploy.team,
            service: &deploy.service,
            environment: &deploy.environment,
            image: &deploy.image,
            revision: deploy.revision,
            state: deploy.state,
            reason: &deploy.reason,
            requested_by: &deploy.requested_by,
        }
    }
}

/// Everything a body is built from; time and URL are arguments (no clock here).
#[derive(Clone, Copy, Debug)]
pub struct EventFacts<'a> {
    /// What happened.
    pub event: NotificationEvent,
    /// When.
    pub at: OffsetDateTime,
    /// Who made it happen.
    pub actor: &'a str,
    /// A sentence for people (may be empty).
    pub message: &'a str,
    /// The deploy; `None` for a test.
    pub deploy: Option<DeployFacts<'a>>,
    /// Slipway's external URL.
    pub public_url: &'a str,
}

#[derive(Serialize)]
struct GenericBody<'a> {
    event: &'static str,
    at: String,
    actor: &'a str,
    message: &'a str,
    deploy: Option<GenericDeploy<'a>>,
}

#[derive(Serialize)]
struct GenericDeploy<'a> {
    id: i64,
    team: &'a str,
    service: &'a str,
    environment: &'a str,
    image: &'a str,
    revision: i32,
    state: &'static str,
    reason: &'a str,
    requested_by: &'a str,
    url: String,
}

/// The link to a deploy's page.
pub fn deploy_url(public_url: &str, id: i64) -> String {
    format!("{}/deploys/{id}", public_url.trim_end_matches('/'))
}

/// The exact bytes a target of `format` is sent about `facts`.
pub fn render_body(format: NotificationFormat, facts: &EventFacts<'_>) -> Vec<u8> {
    let serialized = match format {
        NotificationFormat::Json => serde_json::to_vec(&GenericBody {
            event: facts.event.as_str(),
            at: facts
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            actor: facts.actor,
            message: facts.message,
            deploy: facts.deploy.map(|d| GenericDeploy {
                id: d.id,
                team: d.team,
                service: d.service,
                environment: d.environment,
                image: d.image,
                revision: d.revision,
                state: d.state.as_str(),
                reason: d.reason,
                requested_by: d.requested_by,
                url: deploy_url(facts.public_url, d.id),
            }),
        }),
        NotificationFormat::Slack => serde_json::to_vec(&json!({ "text": slack_text(facts) })),
    };
    serialized.expect("a body of strings and numbers always serializes")
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` (its link and mention syntax).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The emoji and the words of an event, as a channel reads them.
fn slack_headline(event: NotificationEvent) -> (&'static str, &'static str) {
    match event {
        NotificationEvent::AwaitingApproval => (":hourglass_flowing_sand:", "awaits approval"),
        NotificationEvent::Approved => (":white_check_mark:", "was approved"),
        NotificationEvent::Rejected => (":no_entry:", "was rejected"),
        NotificationEvent::Expired => (":alarm_clock:", "expired without a decision"),
        NotificationEvent::Succeeded => (":rocket:", "succeeded"),
        NotificationEvent::Failed => (":x:", "failed"),
        NotificationEvent::Test => (":wave:", "test"),
    }
}

/// The `text` of a Slack body: a headline with the deploy's link, the image
/// and revision, then the message and reason quoted.
fn slack_text(facts: &EventFacts<'_>) -> String {
    let (emoji, words) = slack_headline(facts.event);
    let actor = slack_escape(facts.actor);
    let mut text = match &facts.deploy {
        None => format!("{emoji} *Test notification* from Slipway, sent by {actor}"),
        Some(d) => format!(
            "{emoji} <{url}|Deploy #{id}> of *{team}/{service}* to *{environment}* {words} ({actor})\nImage `{image}`, revision {revision}, requested by {requested_by}",
            url = deploy_url(facts.public_url, d.id),
            id = d.id,
            team = slack_escape(d.team),
            service = slack_escape(d.service),
            environment = slack_escape(d.environment),
            image = slack_escape(d.image),
            revision = d.revision,
            requested_by = slack_escape(d.requested_by),
        ),
    };
    let message = facts.message.trim();
    if !message.is_empty() {
        for line in message.lines() {
            text.push_str("\n>");
            text.push_str(&slack_escape(line));
        }
    }
    if let Some(d) = &facts.deploy {
        let reason = d.reason.trim();
        if !reason.is_empty() && reason != message {
            text.push_str("\nReason: ");
            text.push_str(&slack_escape(reason));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn facts(event: NotificationEvent, message: &'static str) -> EventFacts<'static> {
        EventFacts {
            event,
            at: time::macros::datetime!(2026-12-02 10:30:00 UTC),
            actor: "root@example.com",
            message,
            deploy: Some(DeployFacts {
                id: 42,
                team: "shop",
                service: "web",
                environment: "production",
                image: "registry.example.com/shop/web:1.0.1",
                revision: 3,
                state: DeployState::Queued,
                reason: "",
                requested_by: "ann@example.com",
            }),
            public_url: "https://slipway.example.com/",
        }
    }

    #[test]
    fn a_json_body_carries_the_event_the_deploy_and_its_link() {
        let body = render_body(
            NotificationFormat::Json,
            &facts(NotificationEvent::Approved, "looks good"),
        );
        let got: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            got,
            json!({
                "event": "approved",
                "at": "2026-12-02T10:30:00Z",
                "actor": "root@example.com",
                "message": "looks good",
                "deploy": {
                    "id": 42, "team": "shop", "service": "web", "environment": "production",
                    "image": "registry.example.com/shop/web:1.0.1", "revision": 3,
                    "state": "queued", "reason": "", "requested_by": "ann@example.com",
                    "url": "https://slipway.example.com/deploys/42"
                }
            })
        );
    }

    #[test]
    fn a_test_body_has_no_deploy() {
        let mut test = facts(NotificationEvent::Test, "hello");
        test.deploy = None;
        let got: Value =
            serde_json::from_slice(&render_body(NotificationFormat::Json, &test)).unwrap();
        assert_eq!(got["event"], "test");
        assert_eq!(got["deploy"], Value::Null);
        let slack: Value =
            serde_json::from_slice(&render_body(NotificationFormat::Slack, &test)).unwrap();
        assert!(
            slack["text"]
                .as_str()
                .unwrap()
                .contains("Test notification")
        );
    }

    #[test]
    fn a_slack_body_is_one_readable_text_with_the_link() {
        let mut failed = facts(NotificationEvent::Failed, "");
        if let Some(d) = failed.deploy.as_mut() {
            d.state = DeployState::Failed;
            d.reason = "rollout did not finish in 5m";
        }
        let got: Value =
            serde_json::from_slice(&render_body(NotificationFormat::Slack, &failed)).unwrap();
        let object = got.as_object().unwrap();
        assert_eq!(object.len(), 1, "only `text`: {got}");
        assert_eq!(
            object["text"],
            ":x: <https://slipway.example.com/deploys/42|Deploy #42> of *shop/web* to *production* failed (root@example.com)\nImage `registry.example.com/shop/web:1.0.1`, revision 3, requested by ann@example.com\nReason: rollout did not finish in 5m"
        );
    }

    #[test]
    fn slack_text_escapes_what_would_become_links_or_mentions() {
        let text = slack_text(&facts(
            NotificationEvent::Rejected,
            "not <!channel> & <https://evil|here>\nsecond line",
        ));
        assert!(
            text.ends_with("\n>not &lt;!channel&gt; &amp; &lt;https://evil|here&gt;\n>second line"),
            "{text}"
        );
    }

    #[test]
    fn every_event_has_its_own_slack_words() {
        let words: std::collections::HashSet<_> = NotificationEvent::ALL
            .into_iter()
            .map(|e| slack_headline(e).1)
            .collect();
        assert_eq!(words.len(), NotificationEvent::ALL.len());
    }

    #[test]
    fn target_urls_must_be_http_or_https_with_a_host() {
        assert_eq!(check_url("https://hooks.example.com/x"), None);
        assert_eq!(check_url("http://127.0.0.1:9000/in"), None);
        assert_eq!(
            check_url("ftp://example.com/x"),
            Some("must be an https:// or http:// URL")
        );
        assert_eq!(check_url("example.com/x"), Some("is not a URL"));
        assert_eq!(check_url(""), Some("is required"));
    }

    #[test]
    fn shown_urls_keep_only_their_origin() {
        assert_eq!(
            redacted_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redacted_url("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000"
        );
    }

    #[test]
    fn every_event_and_format_reads_back_from_its_stored_name() {
        for event in NotificationEvent::ALL {
            assert_eq!(event.as_str().parse::<NotificationEvent>().unwrap(), event);
        }
        for format in NotificationFormat::ALL {
            assert_eq!(
                format.as_str().parse::<NotificationFormat>().unwrap(),
                format
            );
        }
        assert!("deployed".parse::<NotificationEvent>().is_err());
    }

    #[test]
    fn test_is_not_a_configurable_event() {
        assert!(!NotificationEvent::CONFIGURABLE.contains(&NotificationEvent::Test));
        assert_eq!(
            NotificationEvent::CONFIGURABLE.len() + 1,
            NotificationEvent::ALL.len()
        );
    }

    #[test]
    fn a_new_secret_never_shows_in_debug_output() {
        let secret = NewTargetSecret {
            id: Uuid::nil(),
            secret: SecretString::new("whsec_abc"),
        };
        assert!(!format!("{secret:?}").contains("whsec_abc"));
    }
}
