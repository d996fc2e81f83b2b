//! Webhooks of services and the deliveries they received.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

/// A hook as stored (its secret sealed, see `secret::SecretKey::seal`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Hook {
    /// Its id: the path of `POST /hooks/{id}`.
    pub id: Uuid,
    /// The service it deploys.
    pub service_id: i64,
    /// The service's name.
    pub service: String,
    /// The owning team's name.
    pub team: String,
    /// The environment it deploys to.
    pub environment_id: i64,
    /// The environment's name.
    pub environment: String,
    /// A pattern over full refs.
    pub ref_pattern: String,
    /// The image template.
    pub image_template: String,
    /// Path prefixes a push must touch; empty: any.
    pub paths: Vec<String>,
    /// The signing secret, sealed.
    pub secret_sealed: Vec<u8>,
    /// The secret before the last rotation, sealed, while it is still valid.
    pub previous_sealed: Option<Vec<u8>>,
    /// Until when the previous secret is accepted.
    pub previous_valid_until: Option<OffsetDateTime>,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

const SELECT: &str = "select h.id, h.service_id, s.name as service, t.name as team,
        h.environment_id, e.name as environment, h.ref_pattern, h.image_template, h.paths,
        h.secret_sealed, h.previous_sealed, h.previous_valid_until, h.created_by, h.created_at
     from hooks h
     join services s on s.id = h.service_id
     join teams t on t.id = s.team_id
     join environments e on e.id = h.environment_id";

/// What a new hook records.
#[derive(Clone, Debug)]
pub struct NewHook<'a> {
    /// Its id (random).
    pub id: Uuid,
    /// The service.
    pub service_id: i64,
    /// The environment.
    pub environment_id: i64,
    /// Ref pattern.
    pub ref_pattern: &'a str,
    /// Image template.
    pub image_template: &'a str,
    /// Path prefixes.
    pub paths: &'a [String],
    /// The sealed secret.
    pub secret_sealed: &'a [u8],
    /// Who makes it.
    pub created_by: &'a str,
}

/// Stores a hook.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewHook<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into hooks (id, service_id, environment_id, ref_pattern, image_template, paths,
             secret_sealed, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.id)
    .bind(new.service_id)
    .bind(new.environment_id)
    .bind(new.ref_pattern)
    .bind(new.image_template)
    .bind(new.paths)
    .bind(new.secret_sealed)
    .bind(new.created_by)
    .execute(db)
    .await?;
    Ok(())
}

/// One hook.
pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Hook>, sqlx::Error> {
    sqlx::query_as::<_, Hook>(sqlx::AssertSqlSafe(format!("{SELECT} where h.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The hooks of a service, oldest first.
pub async fn for_service(
    db: impl PgExecutor<'_>,
    service_id: i64,
) -> Result<Vec<Hook>, sqlx::Error> {
    sqlx::query_as::<_, Hook>(sqlx::AssertSqlSafe(format!(
        "{SELECT} where h.service_id = $1 order by h.created_at, h.id"
    )))
    .bind(service_id)
    .fetch_all(db)
    .await
}

/// Whether any hook exists (`serve` then needs SLIPWAY_SECRET_KEY).
pub async fn any(db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from hooks)")
        .fetch_one(db)
        .await
}

/// Replaces a hook's secret, keeping the old one valid until `grace_until`.
pub async fn rotate(
    db: impl PgExecutor<'_>,
    id: Uuid,
    secret_sealed: &[u8],
    grace_until: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update hooks set previous_sealed = secret_sealed, previous_valid_until = $3,
             secret_sealed = $2
         where id = $1",
    )
    .bind(id)
    .bind(secret_sealed)
    .bind(grace_until)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a hook (and its deliveries).
pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from hooks where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A delivery as recorded.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// The hook.
    pub hook_id: Uuid,
    /// `github`, `gitlab` or `gitea`.
    pub provider: String,
    /// The provider's delivery id.
    pub delivery_id: String,
    /// The event as sent.
    pub event: String,
    /// The pushed ref.
    pub git_ref: String,
    /// The pushed sha.
    pub sha: String,
    /// The sha the ref pointed to before the push (empty when unknown).
    pub before_sha: String,
    /// Who pushed.
    pub pusher: String,
    /// `deployed`, `ignored`, `refused` or `failed`.
    pub result: String,
    /// Why.
    pub reason: String,
    /// The deploy it made.
    pub deploy_id: Option<i64>,
    /// When it arrived.
    pub created_at: OffsetDateTime,
    /// Whether its push body is kept (it can be delivered again).
    pub has_payload: bool,
}

const DELIVERY_COLUMNS: &str = "id, hook_id, provider, delivery_id, event, ref as git_ref, sha, \
     before_sha, pusher, result, reason, deploy_id, created_at, payload is not null as has_payload";

/// What a delivery records.
#[derive(Clone, Debug)]
pub struct NewDelivery<'a> {
    /// The hook.
    pub hook_id: Uuid,
    /// Provider name.
    pub provider: &'a str,
    /// The provider's delivery id.
    pub delivery_id: &'a str,
    /// The event.
    pub event: &'a str,
    /// The verified body of a push (kept for redelivery); `None` for other events.
    pub payload: Option<&'a [u8]>,
}

/// Locks `hook_id` for one delivery, until the caller's transaction ends:
/// deliveries of a hook are judged one at a time, so a push that arrives while
/// a newer one of the same ref is being handled sees it committed and is
/// ordered by the chain (`webhook::chain`) instead of racing it, and row ids
/// follow the order they were judged in. `for no key update`, not `for update`:
/// the `key share` locks that inserting deliveries takes on their hook (the
/// foreign key) must not wait on it. False when the hook is gone.
pub async fn lock_for_delivery(
    conn: &mut PgConnection,
    hook_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let locked: Option<i32> =
        sqlx::query_scalar("select 1 from hooks where id = $1 for no key update")
            .bind(hook_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(locked.is_some())
}

/// A recorded push of one ref, as `webhook::chain` orders them.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RecordedPush {
    /// Row id (arrival order).
    pub id: i64,
    /// The sha the ref pointed to before.
    pub before_sha: String,
    /// The pushed sha.
    pub sha: String,
    /// `deployed`, `ignored`, `refused` or `failed`.
    pub result: String,
    /// The deploy it made.
    pub deploy_id: Option<i64>,
}

/// The newest `limit` recorded pushes of `git_ref` to `hook_id`, oldest first.
pub async fn recorded_pushes(
    db: impl PgExecutor<'_>,
    hook_id: Uuid,
    git_ref: &str,
    limit: i64,
) -> Result<Vec<RecordedPush>, sqlx::Error> {
    sqlx::query_as::<_, RecordedPush>(
        "select * from (
             select id, before_sha, sha, result, deploy_id from hook_deliveries
             where hook_id = $1 and ref = $2 and sha <> ''
             order by id desc limit $3
         ) newest
         order by id",
    )
    .bind(hook_id)
    .bind(git_ref)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Claims `(hook, delivery id)` inside the caller's transaction: `Some(row id)`
/// for a first delivery, `None` for a redelivery. A concurrent duplicate waits
/// on the unique key until this transaction ends, then sees it as a redelivery.
pub async fn claim_delivery(
    conn: &mut PgConnection,
    new: &NewDelivery<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into hook_deliveries (hook_id, provider, delivery_id, event, result, payload)
         values ($1, $2, $3, $4, 'ignored', $5)
         on conflict (hook_id, delivery_id) do nothing
         returning id",
    )
    .bind(new.hook_id)
    .bind(new.provider)
    .bind(new.delivery_id)
    .bind(new.event)
    .bind(new.payload)
    .fetch_optional(&mut *conn)
    .await
}

/// What became of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// The pushed ref.
    pub git_ref: &'a str,
    /// The pushed sha.
    pub sha: &'a str,
    /// The sha the ref pointed to before the push.
    pub before_sha: &'a str,
    /// Who pushed.
    pub pusher: &'a str,
    /// `deployed`, `ignored`, `refused` or `failed`.
    pub result: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The deploy it made.
    pub deploy_id: Option<i64>,
}

/// Records the outcome of a claimed delivery.
pub async fn record_outcome(
    db: impl PgExecutor<'_>,
    id: i64,
    outcome: &Outcome<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update hook_deliveries set ref = $2, sha = $3, pusher = $4, result = $5, reason = $6,
             deploy_id = $7, before_sha = $8
         where id = $1",
    )
    .bind(id)
    .bind(outcome.git_ref)
    .bind(outcome.sha)
    .bind(outcome.pusher)
    .bind(outcome.result)
    .bind(outcome.reason)
    .bind(outcome.deploy_id)
    .bind(outcome.before_sha)
    .execute(db)
    .await?;
    Ok(())
}

/// One delivery by hook and provider delivery id.
pub async fn find_delivery(
    db: impl PgExecutor<'_>,
    hook_id: Uuid,
    delivery_id: &str,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from hook_deliveries where hook_id = $1 and delivery_id = $2"
    )))
    .bind(hook_id)
    .bind(delivery_id)
    .fetch_optional(db)
    .await
}

/// What a stored delivery needs to be delivered again.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredPush {
    /// `github`, `gitlab` or `gitea`.
    pub provider: String,
    /// The provider's delivery id.
    pub delivery_id: String,
    /// The event as sent.
    pub event: String,
    /// The verified body.
    pub payload: Vec<u8>,
}

/// The stored push of delivery row `id` of `hook_id`, if it kept one.
pub async fn stored_push(
    db: impl PgExecutor<'_>,
    hook_id: Uuid,
    id: i64,
) -> Result<Option<StoredPush>, sqlx::Error> {
    sqlx::query_as::<_, StoredPush>(
        "select provider, delivery_id, event, payload from hook_deliveries
         where hook_id = $1 and id = $2 and payload is not null",
    )
    .bind(hook_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The newest delivery of each hook of a service, in one query.
pub async fn last_delivery_per_hook(
    db: impl PgExecutor<'_>,
    service_id: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "select distinct on (hook_id) {DELIVERY_COLUMNS} from hook_deliveries
         where hook_id in (select id from hooks where service_id = $1)
         order by hook_id, id desc"
    )))
    .bind(service_id)
    .fetch_all(db)
    .await
}

/// The newest delivery to any hook of a service.
pub async fn last_delivery_of_service(
    db: impl PgExecutor<'_>,
    service_id: i64,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from hook_deliveries
         where hook_id in (select id from hooks where service_id = $1)
         order by id desc limit 1"
    )))
    .bind(service_id)
    .fetch_optional(db)
    .await
}

/// A hook's deliveries, newest first.
pub async fn deliveries(
    db: impl PgExecutor<'_>,
    hook_id: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from hook_deliveries where hook_id = $1
         order by id desc limit $2"
    )))
    .bind(hook_id)
    .bind(limit.clamp(1, 500))
    .fetch_all(db)
    .await
}
