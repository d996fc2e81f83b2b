//! Notification targets (outgoing webhooks), the messages queued for them and
//! every attempt to post one. The bodies are built by `domain::notifications`;
//! `notify` (the sender) claims, posts and records through here.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::deploy_model::{NotificationEvent, UnknownName};

/// The body a target is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationFormat {
    /// Slipway's own JSON body (`docs/notifications.md`).
    Json,
    /// A Slack-compatible incoming-webhook body, `{"text": …}` in mrkdwn.
    Slack,
}

impl NotificationFormat {
    /// Every format, as offered in the form.
    pub const ALL: [NotificationFormat; 2] = [NotificationFormat::Json, NotificationFormat::Slack];

    /// The name stored and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationFormat::Json => "json",
            NotificationFormat::Slack => "slack",
        }
    }
}

impl std::str::FromStr for NotificationFormat {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "notification format",
                value: s.to_owned(),
            })
    }
}

impl std::fmt::Display for NotificationFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target as stored (its secret sealed, see `secret::SecretKey::seal`).
#[derive(Clone, Debug)]
pub struct Target {
    /// Its id (random; the sealing context of its secret).
    pub id: Uuid,
    /// A name for people, unique.
    pub name: String,
    /// Where messages are posted (may be a credential itself: never log it).
    pub url: String,
    /// The body it is sent.
    pub format: NotificationFormat,
    /// Only deploys to this environment; `None`: every environment.
    pub environment_id: Option<i64>,
    /// That environment's name.
    pub environment: Option<String>,
    /// The events it wants.
    pub events: Vec<NotificationEvent>,
    /// The signing secret, sealed.
    pub secret_sealed: Vec<u8>,
    /// Whether it gets messages.
    pub enabled: bool,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: Uuid,
    name: String,
    url: String,
    format: String,
    environment_id: Option<i64>,
    environment: Option<String>,
    events: Vec<String>,
    secret_sealed: Vec<u8>,
    enabled: bool,
    created_by: String,
    created_at: OffsetDateTime,
}

fn decode(e: UnknownName) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

impl TryFrom<TargetRow> for Target {
    type Error = sqlx::Error;
    fn try_from(row: TargetRow) -> Result<Self, Self::Error> {
        Ok(Target {
            id: row.id,
            name: row.name,
            url: row.url,
            format: row.format.parse().map_err(decode)?,
            environment_id: row.environment_id,
            environment: row.environment,
            events: row
                .events
                .iter()
                .map(|e| e.parse())
                .collect::<Result<_, _>>()
                .map_err(decode)?,
            secret_sealed: row.secret_sealed,
            enabled: row.enabled,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }
}

const TARGET_SELECT: &str = "select t.id, t.name, t.url, t.format, t.environment_id,
        e.name as environment, t.events, t.secret_sealed, t.enabled, t.created_by, t.created_at
     from notification_targets t
     left join environments e on e.id = t.environment_id";

/// What a new target records.
#[derive(Clone, Debug)]
pub struct NewTarget<'a> {
    /// Its id (random).
    pub id: Uuid,
    /// Its name.
    pub name: &'a str,
    /// Its URL (checked by the caller: http or https).
    pub url: &'a str,
    /// Its body format.
    pub format: NotificationFormat,
    /// Its environment, or every one.
    pub environment_id: Option<i64>,
    /// The events it wants (never `test`).
    pub events: &'a [NotificationEvent],
    /// The sealed secret.
    pub secret_sealed: &'a [u8],
    /// Who makes it.
    pub created_by: &'a str,
}

/// Stores a target (enabled). The name is unique: `notification_targets_name_key`.
pub async fn insert_target(
    db: impl PgExecutor<'_>,
    new: &NewTarget<'_>,
) -> Result<(), sqlx::Error> {
    let events: Vec<&str> = new.events.iter().map(|e| e.as_str()).collect();
    sqlx::query(
        "insert into notification_targets (id, name, url, format, environment_id, events,
             secret_sealed, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.id)
    .bind(new.name)
    .bind(new.url)
    .bind(new.format.as_str())
    .bind(new.environment_id)
    .bind(&events)
    .bind(new.secret_sealed)
    .bind(new.created_by)
    .execute(db)
    .await?;
    Ok(())
}

/// One target.
pub async fn find_target(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Target>, sqlx::Error> {
    sqlx::query_as::<_, TargetRow>(sqlx::AssertSqlSafe(format!(
        "{TARGET_SELECT} where t.id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .map(Target::try_from)
    .transpose()
}

/// Every target, by name.
pub async fn list_targets(db: impl PgExecutor<'_>) -> Result<Vec<Target>, sqlx::Error> {
    sqlx::query_as::<_, TargetRow>(sqlx::AssertSqlSafe(format!(
        "{TARGET_SELECT} order by t.name, t.id"
    )))
    .fetch_all(db)
    .await?
    .into_iter()
    .map(Target::try_from)
    .collect()
}

/// Whether any target exists (the sender then needs SLIPWAY_SECRET_KEY).
pub async fn any_target(db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from notification_targets)")
        .fetch_one(db)
        .await
}

/// Enables or disables a target; false when it does not exist.
pub async fn set_enabled(
    db: impl PgExecutor<'_>,
    id: Uuid,
    enabled: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("update notification_targets set enabled = $2 where id = $1")
        .bind(id)
        .bind(enabled)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a target with its messages and their attempts.
pub async fn delete_target(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from notification_targets where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------- messages

/// The bodies of one event, one per format, built before the insert.
#[derive(Clone, Copy, Debug)]
pub struct EventBodies<'a> {
    /// For `json` targets.
    pub json: &'a [u8],
    /// For `slack` targets.
    pub slack: &'a [u8],
}

/// Queues one pending message of `event` for each enabled target that wants
/// it and whose environment is `environment_id` (or every environment), in the
/// caller's transaction; due at `at`. One `insert … select`: this runs inside
/// deploy transitions and must stay cheap. Returns how many were queued.
pub async fn enqueue_matching(
    conn: &mut PgConnection,
    event: NotificationEvent,
    deploy_id: i64,
    environment_id: i64,
    bodies: EventBodies<'_>,
    at: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "insert into notification_messages (target_id, event, deploy_id, body, next_attempt_at,
             created_at)
         select t.id, $1, $2, case t.format when 'slack' then $5 else $4 end, $6, $6
         from notification_targets t
         where t.enabled and $1 = any (t.events)
           and (t.environment_id is null or t.environment_id = $3)",
    )
    .bind(event.as_str())
    .bind(deploy_id)
    .bind(environment_id)
    .bind(bodies.json)
    .bind(bodies.slack)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Queues one message for one target (a test event), due at `at`.
pub async fn insert_message(
    db: impl PgExecutor<'_>,
    target_id: Uuid,
    event: NotificationEvent,
    body: &[u8],
    at: OffsetDateTime,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into notification_messages (target_id, event, body, next_attempt_at, created_at)
         values ($1, $2, $3, $4, $4)
         returning id",
    )
    .bind(target_id)
    .bind(event.as_str())
    .bind(body)
    .bind(at)
    .fetch_one(db)
    .await
}

/// A message as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Message {
    /// Its id: the `X-Slipway-Delivery` header.
    pub id: i64,
    /// The target.
    pub target_id: Uuid,
    /// The event.
    #[sqlx(try_from = "String")]
    pub event: NotificationEvent,
    /// The deploy, while it exists (none for a test).
    pub deploy_id: Option<i64>,
    /// The exact bytes posted.
    pub body: Vec<u8>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When the sender may take it next.
    pub next_attempt_at: OffsetDateTime,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// When a 2xx answered it.
    pub delivered_at: Option<OffsetDateTime>,
}

/// A target's newest messages.
pub async fn messages_of_target(
    db: impl PgExecutor<'_>,
    target_id: Uuid,
    limit: i64,
) -> Result<Vec<Message>, sqlx::Error> {
    sqlx::query_as::<_, Message>(
        "select id, target_id, event, deploy_id, body, state, attempts, next_attempt_at,
             created_at, delivered_at
         from notification_messages where target_id = $1
         order by id desc limit $2",
    )
    .bind(target_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(db)
    .await
}

/// One message.
pub async fn find_message(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<Message>, sqlx::Error> {
    sqlx::query_as::<_, Message>(
        "select id, target_id, event, deploy_id, body, state, attempts, next_attempt_at,
             created_at, delivered_at
         from notification_messages where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// One attempt to post a message.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Attempt {
    /// The message.
    pub message_id: i64,
    /// 1 for the first.
    pub attempt: i32,
    /// The HTTP status answered, if any.
    pub status: Option<i32>,
    /// What went wrong, empty when it was delivered.
    pub error: String,
    /// How long the post took.
    pub duration_ms: i32,
    /// When it was made.
    pub at: OffsetDateTime,
}

/// The attempts of `message_ids`, in one query, by message then attempt.
pub async fn attempts_of(
    db: impl PgExecutor<'_>,
    message_ids: &[i64],
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as::<_, Attempt>(
        "select message_id, attempt, status, error, duration_ms, at
         from notification_attempts where message_id = any ($1)
         order by message_id, attempt",
    )
    .bind(message_ids)
    .fetch_all(db)
    .await
}

// ---------------------------------------------------------------- the sender

/// A message claimed by a sender, with what it needs to post it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    /// The message id.
    pub id: i64,
    /// The target.
    pub target_id: Uuid,
    /// The event (the `X-Slipway-Event` header).
    #[sqlx(try_from = "String")]
    pub event: NotificationEvent,
    /// The exact bytes to post.
    pub body: Vec<u8>,
    /// Attempts before this one.
    pub attempts: i32,
    /// The target's URL.
    pub url: String,
    /// The target's sealed secret.
    pub secret_sealed: Vec<u8>,
}

/// Claims up to `limit` pending messages due at `now` of enabled targets, and
/// holds each until `hold_until` by moving its due time there, so a sender
/// that dies mid-post leaves it to be sent again then. `for update skip
/// locked`: replicas claiming at once take different messages, never one twice.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    now: OffsetDateTime,
    hold_until: OffsetDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as::<_, Claimed>(
        "with due as (
             select m.id from notification_messages m
             join notification_targets t on t.id = m.target_id
             where m.state = 'pending' and m.next_attempt_at <= $1 and t.enabled
             order by m.next_attempt_at, m.id
             limit $3
             for update of m skip locked
         )
         update notification_messages m set next_attempt_at = $2
         from due, notification_targets t
         where m.id = due.id and t.id = m.target_id
         returning m.id, m.target_id, m.event, m.body, m.attempts, t.url, t.secret_sealed",
    )
    .bind(now)
    .bind(hold_until)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// What becomes of a message after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAttempt {
    /// A 2xx answered: done.
    Delivered,
    /// Try again at this time.
    RetryAt(OffsetDateTime),
    /// No more attempts.
    Failed,
}

/// One attempt's result.
#[derive(Clone, Debug)]
pub struct AttemptResult<'a> {
    /// The message.
    pub message_id: i64,
    /// This attempt's number (attempts before it + 1).
    pub attempt: i32,
    /// The HTTP status, if one answered.
    pub status: Option<i32>,
    /// What went wrong (empty on success).
    pub error: &'a str,
    /// How long it took.
    pub duration_ms: i32,
    /// When it was made.
    pub at: OffsetDateTime,
    /// What becomes of the message.
    pub after: AfterAttempt,
}

/// Records an attempt and moves the message on, in one statement. A
/// compare-and-set on the attempt count: when another sender recorded this
/// attempt first (this one's hold ran out mid-post), nothing is written and
/// the answer is false.
pub async fn record_attempt(
    db: impl PgExecutor<'_>,
    result: &AttemptResult<'_>,
) -> Result<bool, sqlx::Error> {
    let (state, next, delivered_at) = match result.after {
        AfterAttempt::Delivered => ("delivered", result.at, Some(result.at)),
        AfterAttempt::RetryAt(at) => ("pending", at, None),
        AfterAttempt::Failed => ("failed", result.at, None),
    };
    let done = sqlx::query(
        "with moved as (
             update notification_messages
             set attempts = $2, state = $3, next_attempt_at = $4, delivered_at = $5
             where id = $1 and state = 'pending' and attempts = $2 - 1
             returning id
         )
         insert into notification_attempts (message_id, attempt, status, error, duration_ms, at)
         select id, $2, $6, $7, $8, $9 from moved",
    )
    .bind(result.message_id)
    .bind(result.attempt)
    .bind(state)
    .bind(next)
    .bind(delivered_at)
    .bind(result.status)
    .bind(result.error)
    .bind(result.duration_ms)
    .bind(result.at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
