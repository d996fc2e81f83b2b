//! Git push webhooks as business actions: creating a hook (its secret shown
//! once, stored sealed), rotating its secret, and receiving a delivery: verify,
//! record, and request a deploy through the same path as the portal
//! (`deploys::create_in`: validation, the environment's policy, approval, pins).
//!
//! Receiving only records and enqueues: it never waits on the cluster.

use std::sync::Arc;
use std::time::Instant;

use rand::RngCore as _;
use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cluster;
use crate::domain::deploys::{self, CommitInfo, DeployRequest, Origin, Trigger};
use crate::domain::hook_cache::HookCache;
use crate::domain::hook_judge;
use crate::error::{AppError, FieldError};
use crate::secret::{SecretKey, SecretString};
use crate::store::audit::Actor;
use crate::store::hooks::{self as store_hooks, Hook, NewDelivery, NewHook};
use crate::store::services::Service;
use crate::store::{self};
use crate::webhook::{self, EventKind, Headers, Push, chain, rules};

/// Audit actions written here.
pub mod actions {
    /// A hook was created.
    pub const CREATE: &str = "hook.create";
    /// A hook's secret was rotated.
    pub const ROTATE: &str = "hook.rotate";
    /// A hook was deleted.
    pub const DELETE: &str = "hook.delete";
    /// An administrator delivered a stored push again.
    pub const REDELIVER: &str = "hook.redeliver";
}

/// How long the secret before a rotation stays valid, so a repository's
/// settings can be updated without a window of refused pushes.
pub const ROTATION_GRACE: time::Duration = time::Duration::hours(24);

/// A new hook as typed (portal form or API body). Unknown fields are refused:
/// a misspelt `paths` would otherwise drop the path filter without a word.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    /// The environment it deploys to.
    #[serde(default)]
    pub environment: String,
    /// A pattern over full refs.
    #[serde(default, rename = "ref")]
    pub ref_pattern: String,
    /// The image template.
    #[serde(default)]
    pub image: String,
    /// Path prefixes (monorepos); empty: every push.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// A hook just made or rotated: the only time its secret is shown.
#[derive(Clone)]
pub struct NewSecret {
    /// The hook.
    pub id: Uuid,
    /// The signing secret (`Debug` hides it).
    pub secret: SecretString,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .finish()
    }
}

/// The key or a clear error: hooks need `SLIPWAY_SECRET_KEY`.
fn key_of(key: Option<&SecretKey>) -> Result<&SecretKey, AppError> {
    key.ok_or_else(|| {
        AppError::Unavailable("Webhooks (SLIPWAY_SECRET_KEY is not configured)".into())
    })
}

fn fresh_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Creates a hook of `service`; the caller has checked `policy::can_manage_hooks`.
/// Audited as `hook.create` (never the secret).
pub async fn create_hook(
    db: &PgPool,
    key: Option<&SecretKey>,
    actor: &Actor,
    service: &Service,
    input: &HookInput,
) -> Result<NewSecret, AppError> {
    let key = key_of(key)?;
    let mut problems = Vec::new();
    let ref_pattern = input.ref_pattern.trim();
    if let Err(why) = rules::check_pattern(ref_pattern) {
        problems.push(FieldError::new("ref", why));
    }
    let image = input.image.trim();
    if let Err(why) = rules::check_template(image) {
        problems.push(FieldError::new("image", why));
    }
    let paths: Vec<String> = input
        .paths
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if let Err(why) = rules::check_paths(&paths) {
        problems.push(FieldError::new("paths", why));
    }
    let environment = store::environments::find_by_name(db, input.environment.trim()).await?;
    if environment.is_none() {
        problems.push(FieldError::new("environment", "no such environment"));
    }
    let Some(environment) = environment.filter(|_| problems.is_empty()) else {
        return Err(AppError::Invalid(problems));
    };
    let id = Uuid::new_v4();
    let secret = fresh_secret();
    let sealed = key.seal(secret.as_bytes(), id.as_bytes());
    let mut tx = db.begin().await?;
    store_hooks::insert(
        &mut *tx,
        &NewHook {
            id,
            service_id: service.id,
            environment_id: environment.id,
            ref_pattern,
            image_template: image,
            paths: &paths,
            secret_sealed: &sealed,
            created_by: &actor.name,
        },
    )
    .await?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::CREATE,
        &format!("{}/{}", service.team, service.name),
        json!({"hook": id, "environment": environment.name, "ref": ref_pattern, "image": image}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(hook = %id, "webhook created");
    Ok(NewSecret {
        id,
        secret: SecretString::new(secret),
    })
}

/// Gives a hook a new secret; the old one stays valid for [`ROTATION_GRACE`].
pub async fn rotate_secret(
    db: &PgPool,
    key: Option<&SecretKey>,
    actor: &Actor,
    hook: &Hook,
    now: OffsetDateTime,
) -> Result<NewSecret, AppError> {
    let key = key_of(key)?;
    let secret = fresh_secret();
    let sealed = key.seal(secret.as_bytes(), hook.id.as_bytes());
    let mut tx = db.begin().await?;
    if !store_hooks::rotate(&mut *tx, hook.id, &sealed, now + ROTATION_GRACE).await? {
        return Err(AppError::NotFound);
    }
    store::audit::record(
        &mut *tx,
        actor,
        actions::ROTATE,
        &format!("{}/{}", hook.team, hook.service),
        json!({"hook": hook.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(NewSecret {
        id: hook.id,
        secret: SecretString::new(secret),
    })
}

/// Deletes a hook; audited as `hook.delete`.
pub async fn delete_hook(db: &PgPool, actor: &Actor, hook: &Hook) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store_hooks::delete(&mut *tx, hook.id).await? {
        return Err(AppError::NotFound);
    }
    store::audit::record(
        &mut *tx,
        actor,
        actions::DELETE,
        &format!("{}/{}", hook.team, hook.service),
        json!({"hook": hook.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a delivery came to, as the endpoint answers it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    /// `queued` (a push, judged in the background), `deployed`, `ignored`,
    /// `refused`, `failed`, or `pong` for a ping.
    pub result: String,
    /// Why, in a sentence.
    pub reason: String,
    /// The deploy it made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_id: Option<i64>,
    /// The delivery's row (`GET /api/v1/hooks/ID/deliveries` lists it); none for a ping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<i64>,
    /// True when this answers an earlier delivery with the same id.
    pub redelivery: bool,
}

/// Why a delivery is refused before anything is recorded.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No such hook (answered after the same work as a bad signature).
    #[error("not found")]
    UnknownHook,
    /// Missing or wrong signature, or no provider headers.
    #[error("unauthenticated")]
    BadSignature,
    /// Signed, but the body is not JSON of a push.
    #[error("{0}")]
    Malformed(String),
}

/// A stand-in secret for unknown hooks, so they cost the same HMAC as real ones.
const DECOY_SECRET: &[u8] = b"whsec_decoy_for_unknown_hooks_0000000000000000000000000000000000";

/// Verifies a delivery to hook `hook_id` against its secret (and, within the
/// grace period, the one before it). Nothing is read from the body before this.
/// A hook authenticated within the last seconds comes from `cache` instead of
/// the database (see `domain::hook_cache` for why that is safe).
pub async fn authenticate(
    db: &PgPool,
    cache: &HookCache,
    key: Option<&SecretKey>,
    hook_id: Option<Uuid>,
    headers: &Headers,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(Arc<Hook>, webhook::Envelope), Result<Rejection, AppError>> {
    let envelope = webhook::envelope(headers, body);
    let read_at = Instant::now();
    let kept = hook_id.and_then(|id| cache.get(id, read_at));
    let from_cache = kept.is_some();
    let hook = match (kept, hook_id) {
        (Some(kept), _) => Some(kept),
        (None, Some(id)) => look_up(db, id).await?,
        (None, None) => None,
    };
    let Some(mut hook) = hook else {
        if let Some(envelope) = &envelope {
            let _ = webhook::verify(envelope.provider, headers, DECOY_SECRET, body);
        }
        return Err(Ok(Rejection::UnknownHook));
    };
    let Some(envelope) = envelope else {
        return Err(Ok(Rejection::BadSignature));
    };
    let key = key_of(key).map_err(Err)?;
    let mut verified = signed_by(key, &hook, &envelope, headers, body, now)?;
    if !verified && from_cache {
        // Rotated since it was kept, perhaps: read it again before refusing.
        cache.forget(hook.id);
        hook = look_up(db, hook.id)
            .await?
            .ok_or(Ok(Rejection::UnknownHook))?;
        verified = signed_by(key, &hook, &envelope, headers, body, now)?;
    }
    if !verified {
        return Err(Ok(Rejection::BadSignature));
    }
    if !from_cache {
        // Trusted for `hook_cache::TTL` from when it was read, not from its last use.
        cache.keep(hook.clone(), read_at);
    }
    Ok((hook, envelope))
}

/// Hook `id` as stored now.
async fn look_up(db: &PgPool, id: Uuid) -> Result<Option<Arc<Hook>>, Result<Rejection, AppError>> {
    store_hooks::find(db, id)
        .await
        .map(|found| found.map(Arc::new))
        .map_err(|e| Err(e.into()))
}

/// Whether the delivery is signed with `hook`'s secret, or with the one
/// before its last rotation while that is still valid at `now`.
fn signed_by(
    key: &SecretKey,
    hook: &Hook,
    envelope: &webhook::Envelope,
    headers: &Headers,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<bool, Result<Rejection, AppError>> {
    let mut secrets = vec![&hook.secret_sealed];
    if let (Some(previous), Some(until)) = (&hook.previous_sealed, hook.previous_valid_until)
        && until > now
    {
        secrets.push(previous);
    }
    let mut verified = false;
    for sealed in secrets {
        let secret = key.open(sealed, hook.id.as_bytes()).map_err(|e| {
            Err(AppError::Internal(anyhow::anyhow!(
                "hook {}: secret unreadable: {e}",
                hook.id
            )))
        })?;
        verified |= webhook::verify(envelope.provider, headers, &secret, body);
    }
    Ok(verified)
}

impl Receipt {
    /// What is recorded for delivery `d`; `redelivery` when it answers a later
    /// delivery with the same id.
    pub(super) fn recorded(d: store_hooks::Delivery, redelivery: bool) -> Self {
        Receipt {
            result: d.result,
            reason: d.reason,
            deploy_id: d.deploy_id,
            delivery: Some(d.id),
            redelivery,
        }
    }
}

pub(super) fn receipt(result: &str, reason: impl Into<String>, deploy_id: Option<i64>) -> Receipt {
    Receipt {
        result: result.to_owned(),
        reason: reason.into(),
        deploy_id,
        delivery: None,
        redelivery: false,
    }
}

/// What Slipway makes of a verified push to `hook`, before any deploy.
fn decide(
    hook: &Hook,
    environment: &store::environments::Environment,
    push: &Push,
) -> Result<String, Receipt> {
    if push.is_deletion() {
        return Err(receipt("ignored", "the ref was deleted", None));
    }
    if !rules::ref_matches(&hook.ref_pattern, &push.git_ref) {
        return Err(receipt(
            "ignored",
            format!("{} does not match {}", push.git_ref, hook.ref_pattern),
            None,
        ));
    }
    if !environment.webhook_refs.is_empty()
        && !environment
            .webhook_refs
            .iter()
            .any(|p| rules::ref_matches(p, &push.git_ref))
    {
        return Err(receipt(
            "refused",
            format!(
                "{} may deploy to {} from webhooks only from {}",
                push.git_ref,
                environment.name,
                environment.webhook_refs.join(", ")
            ),
            None,
        ));
    }
    if !rules::touches(push, &hook.paths) {
        return Err(receipt(
            "ignored",
            format!("no pushed commit touches {}", hook.paths.join(", ")),
            None,
        ));
    }
    rules::image_for(&hook.image_template, &rules::TemplateValues::of(push))
        .map_err(|why| receipt("failed", format!("the image template {why}"), None))
}

/// How many recorded pushes of a ref the chain is read from: a delivery late by
/// more pushes than that is not recognised as older (and deploys as before).
const CHAIN_DEPTH: i64 = 500;

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// `ignored` when `push` is older than a recorded push of its ref that deployed
/// (`webhook::chain`), naming the newest such one. Only deployed ones count: a
/// newer push that deployed nothing (a path filter miss, a pin) leaves the older
/// commit the one to run, as it would be had they arrived in order.
fn superseded(recorded: &[store_hooks::RecordedPush], push: &Push) -> Option<Receipt> {
    let links: Vec<chain::Link<'_>> = recorded
        .iter()
        .map(|r| chain::Link {
            before: &r.before_sha,
            after: &r.sha,
        })
        .collect();
    let newest = chain::newer_than(&links, &push.after)
        .into_iter()
        .map(|i| &recorded[i])
        .filter(|r| r.result == "deployed")
        .max_by_key(|r| r.id)?;
    let what = match newest.deploy_id {
        Some(deploy) => format!("deploy #{deploy}"),
        None => format!("delivery #{}", newest.id),
    };
    Some(receipt(
        "ignored",
        format!(
            "commit {} is older than {}, already delivered ({what})",
            short(&push.after),
            short(&newest.sha)
        ),
        None,
    ))
}

/// Records a verified delivery and answers at once; a push is recorded
/// `queued`, and the judge (`domain::hook_judge`) requests its deploy in the
/// background, one hook at a time and in arrival order. Nothing here renders,
/// takes a lock or waits on the cluster: one insert, so the endpoint answers in
/// milliseconds. A redelivery (same provider delivery id), also one that
/// arrives at the same instant as the first, answers the first's result (which
/// may still be `queued`) and records nothing. Other events are recorded as
/// ignored on arrival; a ping records nothing.
pub async fn receive(
    db: &PgPool,
    hook: &Hook,
    envelope: &webhook::Envelope,
    body: &[u8],
) -> Result<Receipt, Result<Rejection, AppError>> {
    let kind = envelope.kind();
    if kind == EventKind::Ping {
        return Ok(receipt("pong", "the hook is reachable and signed", None));
    }
    let push = match kind {
        EventKind::Push => Some(
            webhook::push::parse(envelope.provider, body)
                .map_err(|e| Ok(Rejection::Malformed(e.to_string())))?,
        ),
        _ => None,
    };
    let db_err = |e: sqlx::Error| Err(AppError::from(e));
    let ignored_event = format!("`{}` events do not deploy", envelope.event);
    let (result, reason) = match &push {
        Some(_) => ("queued", QUEUED_REASON),
        None => ("ignored", ignored_event.as_str()),
    };
    let (git_ref, sha, before_sha, pusher) = push
        .as_ref()
        .map(|p| (&*p.git_ref, &*p.after, &*p.before, &*p.pusher))
        .unwrap_or_default();
    let pusher: String = pusher.chars().take(200).collect();
    let recorded = store_hooks::record_delivery(
        db,
        &NewDelivery {
            hook_id: hook.id,
            provider: envelope.provider.as_str(),
            delivery_id: &envelope.delivery_id,
            event: &envelope.event,
            payload: push.as_ref().map(|_| body),
            git_ref,
            sha,
            before_sha,
            pusher: &pusher,
            result,
            reason,
        },
    )
    .await;
    let row = match recorded {
        Ok(Some(row)) => row,
        Ok(None) => {
            let first = store_hooks::find_delivery(db, hook.id, &envelope.delivery_id)
                .await
                .map_err(db_err)?
                .ok_or_else(|| Err(AppError::Conflict("the delivery is being recorded".into())))?;
            return Ok(Receipt::recorded(first, true));
        }
        // The hook was deleted since it was authenticated.
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(Ok(Rejection::UnknownHook));
        }
        Err(e) => return Err(db_err(e)),
    };
    tracing::info!(hook = %hook.id, delivery = row, result, "webhook delivery recorded");
    Ok(Receipt {
        delivery: Some(row),
        ..receipt(result, reason, None)
    })
}

/// The reason a queued push shows until the judge has decided on it.
pub const QUEUED_REASON: &str = "recorded; the deploy is requested in the background";

/// Delivers stored push `delivery` of `hook` again, as a new delivery
/// (`redeliver-<row>-<time>`) through the same rules: for instance after an
/// environment that held it was unpinned, and judged at once (the
/// administrator sees the outcome). The caller has checked
/// `policy::can_administer`; the payload was verified when it first arrived.
/// Audited as `hook.redeliver`.
pub async fn redeliver(
    db: &PgPool,
    clusters: &cluster::Fleet,
    actor: &Actor,
    hook: &Hook,
    delivery: i64,
    now: OffsetDateTime,
) -> Result<Receipt, AppError> {
    let stored = store_hooks::stored_push(db, hook.id, delivery)
        .await?
        .ok_or(AppError::NotFound)?;
    let provider = webhook::Provider::from_name(&stored.provider).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "delivery {delivery}: unknown provider {}",
            stored.provider
        ))
    })?;
    let envelope = webhook::Envelope {
        provider,
        event: stored.event,
        delivery_id: format!(
            "redeliver-{delivery}-{}",
            now.unix_timestamp_nanos() / 1_000_000
        ),
    };
    let queued = receive(db, hook, &envelope, &stored.payload)
        .await
        .map_err(|e| match e {
            Ok(rejection) => {
                AppError::Conflict(format!("the stored push is unusable: {rejection}"))
            }
            Err(error) => error,
        })?;
    // An administrator waits for the outcome: judge this hook's queue now
    // rather than in the background.
    let receipt = match queued.delivery {
        Some(row) if queued.result == "queued" => {
            hook_judge::judge_hook_until(db, clusters, hook.id, row).await?
        }
        _ => queued,
    };
    store::audit::record(
        db,
        actor,
        actions::REDELIVER,
        &format!("{}/{}", hook.team, hook.service),
        json!({"hook": hook.id, "delivery": stored.delivery_id, "result": receipt.result,
               "deploy": receipt.deploy_id}),
    )
    .await?;
    Ok(receipt)
}

/// What a push to `hook` comes to (the judge calls this under the hook's lock):
/// the hook's rules, the chain of its ref, then a deploy request through the
/// portal's path, inside `tx`.
pub(super) async fn deploy_push(
    tx: &mut sqlx::PgConnection,
    clusters: &cluster::Fleet,
    hook: &Hook,
    row: i64,
    push: &Push,
) -> Result<Receipt, AppError> {
    let environment = store::environments::find(&mut *tx, hook.environment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let image = match decide(hook, &environment, push) {
        Ok(image) => image,
        Err(answer) => return Ok(answer),
    };
    let recorded =
        store_hooks::recorded_pushes(&mut *tx, hook.id, &push.git_ref, row, CHAIN_DEPTH).await?;
    if let Some(answer) = superseded(&recorded, push) {
        return Ok(answer);
    }
    let service = store::services::find(&mut *tx, &hook.team, &hook.service)
        .await?
        .ok_or(AppError::NotFound)?;
    let head = push.head_commit();
    let commit = CommitInfo {
        sha: push.after.clone(),
        message: head.map(|c| c.message.clone()).unwrap_or_default(),
        author: head.map(|c| c.author.clone()).unwrap_or_default(),
        pusher: push.pusher.chars().take(200).collect(),
        pusher_email: push.pusher_email.chars().take(320).collect(),
        compare_url: push.compare_url.chars().take(1000).collect(),
    };
    let actor = Actor {
        user_id: None,
        name: format!("webhook:{}", hook.id),
        client_addr: None,
    };
    let origin = Origin {
        trigger: Trigger::Webhook,
        rollback_of: None,
        commit: Some(&commit),
    };
    // A savepoint: a refused deploy (pinned, invalid) rolls back only itself,
    // and the delivery is still recorded with the reason.
    let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
    let request = DeployRequest::of(&environment.name, &image);
    let context = deploys::Context::now(clusters);
    match deploys::create_in(
        &mut savepoint,
        &context,
        &service,
        &environment,
        &actor,
        &origin,
        &request,
    )
    .await
    {
        Ok(id) => {
            savepoint.commit().await?;
            Ok(receipt(
                "deployed",
                format!("deploy #{id} of {image}"),
                Some(id),
            ))
        }
        Err(AppError::Conflict(why)) => {
            savepoint.rollback().await?;
            Ok(receipt("ignored", why, None))
        }
        Err(AppError::Invalid(fields)) => {
            savepoint.rollback().await?;
            let why = fields
                .iter()
                .map(|f| format!("{}: {}", f.path, f.message))
                .collect::<Vec<_>>()
                .join("; ");
            Ok(receipt("failed", why, None))
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(pattern: &str, paths: &[&str]) -> Hook {
        Hook {
            id: Uuid::nil(),
            service_id: 1,
            service: "web".into(),
            team: "shop".into(),
            environment_id: 1,
            environment: "staging".into(),
            ref_pattern: pattern.into(),
            image_template: "shop/web:{short_sha}".into(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            secret_sealed: Vec::new(),
            previous_sealed: None,
            previous_valid_until: None,
            created_by: "ann".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn environment(refs: &[&str]) -> store::environments::Environment {
        store::environments::Environment {
            id: 1,
            name: "production".into(),
            position: 0,
            namespace_pattern: "{team}-{environment}".into(),
            approvals_required: 1,
            approver_teams: Vec::new(),
            approval_ttl_hours: 72,
            require_image_digest: false,
            checklist_must_pass: false,
            freeze_action: "hold".into(),
            block_on_missing_secrets: false,
            production_rules: true,
            webhook_refs: refs.iter().map(|r| (*r).to_owned()).collect(),
            cluster: "default".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn push(git_ref: &str, after: &str) -> Push {
        Push {
            git_ref: git_ref.into(),
            after: after.into(),
            ..Push::default()
        }
    }

    const SHA: &str = "89abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_matching_push_gives_its_templated_image() {
        let got = decide(
            &hook("refs/heads/main", &[]),
            &environment(&[]),
            &push("refs/heads/main", SHA),
        );
        assert_eq!(got, Ok("shop/web:89abcde".to_owned()));
    }

    #[test]
    fn deletions_other_refs_and_path_misses_are_ignored_with_a_reason() {
        let env = environment(&[]);
        let zeros = "0".repeat(40);
        let deleted = decide(
            &hook("refs/heads/*", &[]),
            &env,
            &push("refs/heads/old", &zeros),
        );
        assert_eq!(deleted.unwrap_err().reason, "the ref was deleted");
        let other = decide(
            &hook("refs/heads/main", &[]),
            &env,
            &push("refs/heads/dev", SHA),
        );
        assert_eq!(other.unwrap_err().result, "ignored");
        let mut docs = push("refs/heads/main", SHA);
        docs.commits = vec![webhook::Commit {
            paths: vec!["docs/a.md".into()],
            ..webhook::Commit::default()
        }];
        let miss = decide(&hook("refs/heads/main", &["services/web/"]), &env, &docs).unwrap_err();
        assert_eq!(miss.reason, "no pushed commit touches services/web/");
    }

    #[test]
    fn an_environment_allow_list_refuses_other_refs() {
        let env = environment(&["refs/tags/v*"]);
        let refused = decide(
            &hook("refs/heads/*", &[]),
            &env,
            &push("refs/heads/main", SHA),
        )
        .unwrap_err();
        assert_eq!(refused.result, "refused");
        assert!(
            refused.reason.contains("only from refs/tags/v*"),
            "{}",
            refused.reason
        );
        assert!(decide(&hook("refs/tags/*", &[]), &env, &push("refs/tags/v2", SHA)).is_ok());
    }

    fn recorded(
        id: i64,
        before: &str,
        sha: &str,
        deploy: Option<i64>,
    ) -> store_hooks::RecordedPush {
        store_hooks::RecordedPush {
            id,
            before_sha: before.into(),
            sha: sha.into(),
            result: if deploy.is_some() {
                "deployed"
            } else {
                "ignored"
            }
            .into(),
            deploy_id: deploy,
        }
    }

    fn pushed(before: &str, after: &str) -> Push {
        Push {
            before: before.into(),
            ..push("refs/heads/main", after)
        }
    }

    #[test]
    fn a_push_older_than_a_deployed_one_is_ignored_naming_the_newest() {
        let late = [
            recorded(1, "b1b1b1b1b1", "c1c1c1c1c1", Some(7)),
            recorded(2, "a1a1a1a1a1", "b1b1b1b1b1", None),
        ];
        let answer = superseded(&late, &pushed("a0a0a0a0a0", "a1a1a1a1a1")).unwrap();
        assert_eq!(answer.result, "ignored");
        assert_eq!(
            answer.reason,
            "commit a1a1a1a is older than c1c1c1c, already delivered (deploy #7)"
        );
        assert_eq!(answer.deploy_id, None);
    }

    #[test]
    fn a_push_older_only_than_pushes_that_deployed_nothing_still_deploys() {
        let path_miss = [recorded(1, "a1a1a1a1a1", "b1b1b1b1b1", None)];
        assert!(superseded(&path_miss, &pushed("a0a0a0a0a0", "a1a1a1a1a1")).is_none());
        let in_order = [recorded(1, "a0a0a0a0a0", "a1a1a1a1a1", Some(3))];
        assert!(superseded(&in_order, &pushed("a1a1a1a1a1", "b1b1b1b1b1")).is_none());
    }

    #[test]
    fn a_new_secret_never_shows_in_debug_output() {
        let secret = NewSecret {
            id: Uuid::nil(),
            secret: SecretString::new("whsec_abc"),
        };
        assert!(!format!("{secret:?}").contains("whsec_abc"));
    }
}
