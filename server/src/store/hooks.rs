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
    /// `queued` (a push not judged yet), `deployed`, `ignored`, `refused` or `failed`.
    pub result: String,
    /// Why.
    pub reason: String,
    /// The deploy it made.
    pub deploy_id: Option<i64>,
    /// When it arrived.
    pub created_at: OffsetDateTime,
    /// When its result was decided (`None` while queued).
    pub judged_at: Option<OffsetDateTime>,
    /// Whether its push body is kept (it can be delivered again).
    pub has_payload: bool,
}

const DELIVERY_COLUMNS: &str = "id, hook_id, provider, delivery_id, event, ref as git_ref, sha, \
     before_sha, pusher, result, reason, deploy_id, created_at, judged_at, \
     payload is not null as has_payload";

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
    /// The verified body of a push (kept for redelivery and read by the
    /// judge); `None` for other events.
    pub payload: Option<&'a [u8]>,
    /// The pushed ref, sha and the sha before (empty for other events): known
    /// on arrival, so the deliveries list shows a queued push as what it is.
    pub git_ref: &'a str,
    /// The pushed sha.
    pub sha: &'a str,
    /// The sha the ref pointed to before.
    pub before_sha: &'a str,
    /// Who pushed.
    pub pusher: &'a str,
    /// `queued` for a push the judge will decide on; a final result (and
    /// `reason`) for what is decided on arrival.
    pub result: &'a str,
    /// Why.
    pub reason: &'a str,
}

/// Locks `hook_id` for judging, until the caller's transaction ends: a hook's
/// queued deliveries are judged one at a time and in arrival (row id) order,
/// so each push sees the outcome of the ones before it and is ordered by the
/// chain (`webhook::chain`) instead of racing them. `for no key update`, not `for update`:
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

/// The newest `limit` pushes of `git_ref` to `hook_id` that arrived before
/// row `before_row` (all judged: the judge goes in arrival order), oldest first.
pub async fn recorded_pushes(
    db: impl PgExecutor<'_>,
    hook_id: Uuid,
    git_ref: &str,
    before_row: i64,
    limit: i64,
) -> Result<Vec<RecordedPush>, sqlx::Error> {
    sqlx::query_as::<_, RecordedPush>(
        "select * from (
             select id, before_sha, sha, result, deploy_id from hook_deliveries
             where hook_id = $1 and ref = $2 and sha <> '' and id < $3
             order by id desc limit $4
         ) newest
         order by id",
    )
    .bind(hook_id)
    .bind(git_ref)
    .bind(before_row)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Records a verified delivery in one statement: `Some(row id)` for a first
/// delivery, `None` for a redelivery (same hook and provider delivery id). A
/// concurrent duplicate waits on the unique key until the first one's insert
/// commits, then sees it as a redelivery. `Err` with a foreign-key violation
/// when the hook was deleted since it was authenticated.
pub async fn record_delivery(
    db: impl PgExecutor<'_>,
    new: &NewDelivery<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into hook_deliveries (hook_id, provider, delivery_id, event, result, reason,
             payload, ref, sha, before_sha, pusher, judged_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
             case when $5 = 'queued' then null else now() end)
         on conflict (hook_id, delivery_id) do nothing
         returning id",
    )
    .bind(new.hook_id)
    .bind(new.provider)
    .bind(new.delivery_id)
    .bind(new.event)
    .bind(new.result)
    .bind(new.reason)
    .bind(new.payload)
    .bind(new.git_ref)
    .bind(new.sha)
    .bind(new.before_sha)
    .bind(new.pusher)
    .fetch_optional(db)
    .await
}

/// A queued delivery as the judge reads it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Queued {
    /// Row id.
    pub id: i64,
    /// `github`, `gitlab` or `gitea`.
    pub provider: String,
    /// The verified body.
    pub payload: Option<Vec<u8>>,
}

/// The hook of the oldest queued delivery whose hook no other judge holds,
/// locked (as [`lock_for_delivery`] does) until the caller's transaction ends.
/// `skip locked`: judges of several replicas work on different hooks at once.
pub async fn lock_next_queued_hook(conn: &mut PgConnection) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select h.id from hook_deliveries d join hooks h on h.id = d.hook_id
         where d.result = 'queued'
         order by d.id limit 1
         for no key update of h skip locked",
    )
    .fetch_optional(&mut *conn)
    .await
}

/// The oldest queued delivery of `hook_id`. Read under the hook's lock, in a
/// statement of its own: its fresh snapshot sees what a judge that held the
/// lock before committed, so no delivery is judged twice.
pub async fn oldest_queued(
    conn: &mut PgConnection,
    hook_id: Uuid,
) -> Result<Option<Queued>, sqlx::Error> {
    sqlx::query_as::<_, Queued>(
        "select id, provider, payload from hook_deliveries
         where hook_id = $1 and result = 'queued'
         order by id limit 1",
    )
    .bind(hook_id)
    .fetch_optional(&mut *conn)
    .await
}

/// The row, result, reason and deploy of delivery row `id`.
pub async fn delivery_by_row(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as::<_, Delivery>(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from hook_deliveries where id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Records what the judge decided on queued delivery row `id`: only while it
/// is still queued (false otherwise), so a late second verdict changes nothing.
pub async fn record_verdict(
    db: impl PgExecutor<'_>,
    id: i64,
    result: &str,
    reason: &str,
    deploy_id: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update hook_deliveries set result = $2, reason = $3, deploy_id = $4, judged_at = now()
         where id = $1 and result = 'queued'",
    )
    .bind(id)
    .bind(result)
    .bind(reason)
    .bind(deploy_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
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
