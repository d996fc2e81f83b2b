//! Fixtures: service specs, users, services, revisions, deploys, API tokens and
//! freeze windows.
//!
//! Every call into the library's editing and deploy functions goes through here,
//! so a rename in the library touches one place.

use serde_json::{Value, json};
use slipway::auth::{CurrentUser, password, tokens};
use slipway::domain::deploys::{self as deployer, DeployRequest};
use slipway::domain::freeze::{self, WindowInput};
use slipway::domain::services as editing;
use slipway::error::AppError;
use slipway::store;
use slipway::store::audit::Actor;
use slipway::store::deploys::{Deploy, Trigger};
use slipway::store::freeze_windows::FreezeWindow;
use slipway::store::services::Service;
use sqlx::PgPool;
use uuid::Uuid;

use super::PASSWORD;

/// The domain every team made by [`create_user`] is granted (all environments).
pub const EXAMPLE_DOMAIN: &str = "example.com";

// ---------------------------------------------------------------- specs

/// What a [`SpecBuilder`] starts from.
#[derive(Clone, Debug)]
enum Base {
    /// A small web service: tiny requests (fits kwok nodes many times over).
    Web(String),
    /// The cheapest service: a worker Deployment with one small replica.
    Worker(String),
    /// The shortest valid spec: a Flask preset.
    Minimal(String),
    /// A file of `examples/` by stem.
    Example(String),
}

/// Builds the service specs the tests use:
/// `SpecBuilder::web("api").team(&team).replicas(2).to_yaml()`,
/// `SpecBuilder::example("django").team(&team).without_autoscaling().to_yaml()`,
/// `SpecBuilder::example("flask").name("catalog-api").to_json()`.
#[derive(Clone, Debug)]
#[must_use]
pub struct SpecBuilder {
    base: Base,
    team: String,
    name: Option<String>,
    replicas: Option<u32>,
    cpu: Option<String>,
    autoscaling: bool,
    production_ready: bool,
}

impl SpecBuilder {
    fn new(base: Base) -> Self {
        Self {
            base,
            team: "shop".into(),
            name: None,
            replicas: None,
            cpu: None,
            autoscaling: true,
            production_ready: false,
        }
    }

    /// A service that passes the production readiness checklist (which
    /// production requires by default): for a web spec two replicas, probes, a
    /// memory limit and JSON logs; for the minimal spec (the Flask preset
    /// brings probes and replicas) resources with a memory limit and JSON logs.
    pub fn production_ready(mut self) -> Self {
        assert!(
            matches!(self.base, Base::Web(_) | Base::Minimal(_)),
            "production_ready() is for web and minimal specs"
        );
        self.production_ready = true;
        self
    }

    /// A web service `name` with one replica, requesting 10m CPU and 16Mi.
    pub fn web(name: &str) -> Self {
        Self::new(Base::Web(name.into()))
    }

    /// A worker `name` with one replica, requesting 10m CPU and 16Mi.
    pub fn worker(name: &str) -> Self {
        Self::new(Base::Worker(name.into()))
    }

    /// The shortest valid spec of `name`: the Flask preset and an image.
    pub fn minimal(name: &str) -> Self {
        Self::new(Base::Minimal(name.into()))
    }

    /// `examples/{stem}.yaml` (its team is `shop` until [`Self::team`]).
    pub fn example(stem: &str) -> Self {
        Self::new(Base::Example(stem.into()))
    }

    /// The owning team (default `shop`).
    pub fn team(mut self, team: &str) -> Self {
        self.team = team.into();
        self
    }

    /// Renames an example (applies to [`Self::to_json`]).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A fixed replica count (web and worker: instead of 1; an example of kind
    /// web: added after `kind: web`).
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// The CPU request of a web or worker service (YAML scalar, e.g. `"\"500\""`).
    pub fn cpu(mut self, cpu: &str) -> Self {
        self.cpu = Some(cpu.into());
        self
    }

    /// Drops every `autoscaling` block of an example.
    pub fn without_autoscaling(mut self) -> Self {
        self.autoscaling = false;
        self
    }

    /// The spec as the portal's YAML text.
    pub fn to_yaml(&self) -> String {
        let team = &self.team;
        let cpu = self.cpu.as_deref().unwrap_or("10m");
        let replicas = self
            .replicas
            .unwrap_or(if self.production_ready { 2 } else { 1 });
        let yaml = match &self.base {
            Base::Web(name) if self.production_ready => format!(
                "apiVersion: slipway.dev/v1
kind: Service
metadata: {{name: {name}, team: {team}}}
spec:
  kind: web
  image: registry.example.com/{team}/{name}:1.0.0
  command: [gunicorn, app:app]
  ports: [{{name: http, port: 8000}}]
  resources: {{requests: {{cpu: {cpu}, memory: 16Mi}}, limits: {{memory: 64Mi}}}}
  replicas: {replicas}
  probes:
    liveness: {{http: {{path: /healthz, port: http}}}}
    readiness: {{http: {{path: /ready, port: http}}}}
  logging: {{format: json}}
"
            ),
            Base::Web(name) => format!(
                "apiVersion: slipway.dev/v1
kind: Service
metadata: {{name: {name}, team: {team}}}
spec:
  kind: web
  image: registry.example.com/{team}/{name}:1.0.0
  command: [gunicorn, app:app]
  ports: [{{name: http, port: 8000}}]
  resources: {{requests: {{cpu: {cpu}, memory: 16Mi}}}}
  replicas: {replicas}
"
            ),
            Base::Worker(name) => format!(
                "apiVersion: slipway.dev/v1
kind: Service
metadata: {{name: {name}, team: {team}}}
spec:
  kind: worker
  image: registry.example.com/{team}/{name}:1.0.0
  command: [python, -m, worker]
  resources: {{requests: {{cpu: {cpu}, memory: 16Mi}}}}
  replicas: {replicas}
"
            ),
            Base::Minimal(name) => format!(
                "apiVersion: slipway.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n  team: {team}\nspec:\n  framework: flask\n  appModule: app:app\n  image: registry.example.com/{team}/{name}:1.0.0\n{}",
                if self.production_ready {
                    "  resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 128Mi}}\n  logging: {format: json}\n"
                } else {
                    ""
                }
            ),
            Base::Example(stem) => {
                assert!(self.cpu.is_none(), "cpu() is for web and worker specs");
                let path = format!("{}/../examples/{stem}.yaml", env!("CARGO_MANIFEST_DIR"));
                let mut text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{path}: {e}"))
                    .replace("  team: shop\n", &format!("  team: {team}\n"));
                if !self.autoscaling {
                    text = without_autoscaling(&text);
                }
                if let Some(n) = self.replicas {
                    assert!(text.contains("  kind: web\n"), "{stem} is not of kind web");
                    text =
                        text.replace("  kind: web\n", &format!("  kind: web\n  replicas: {n}\n"));
                }
                text
            }
        };
        if let (Some(name), Base::Example(_)) = (&self.name, &self.base) {
            panic!("name({name}) of an example applies to to_json only");
        }
        yaml
    }

    /// The spec as the API's JSON (`metadata.name` and `metadata.team` set).
    pub fn to_json(&self) -> Value {
        let mut yaml_of = self.clone();
        let name = yaml_of.name.take();
        let mut spec: Value = serde_saphyr::from_str(&yaml_of.to_yaml()).unwrap();
        if let Some(name) = name {
            spec["metadata"]["name"] = json!(name);
        }
        spec["metadata"]["team"] = json!(self.team);
        spec
    }
}

/// YAML without any `autoscaling` (block or flow form).
fn without_autoscaling(yaml: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in yaml.lines() {
        if line == "  autoscaling:" {
            skipping = true;
            continue;
        }
        if skipping && line.starts_with("    ") {
            continue;
        }
        skipping = false;
        if line.trim_start().starts_with("autoscaling: {") {
            continue;
        }
        out.push(line);
    }
    out.join("\n") + "\n"
}

// ---------------------------------------------------------------- users and tokens

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
            None => {
                let t = store::teams::insert(pool, team, team).await.unwrap();
                // Test teams may serve hosts under example.com, as the examples do;
                // tests/it/tenancy.rs takes grants away to attack.
                store::grants::ensure_host_grant(pool, t.id, EXAMPLE_DOMAIN, "fixture")
                    .await
                    .unwrap();
                t
            }
        };
        store::teams::add_member(pool, t.id, user.id).await.unwrap();
    }
    user
}

/// The signed-in view of a stored user, loaded as the session extractor loads it.
pub async fn current_user(pool: &PgPool, email: &str) -> CurrentUser {
    let user = store::users::find_by_email(pool, email)
        .await
        .unwrap()
        .expect("user exists");
    CurrentUser::load(pool, user.id)
        .await
        .unwrap()
        .expect("user exists")
}

/// The audit actor of a user acting outside any request (no client address).
pub fn actor(user: &CurrentUser) -> Actor {
    Actor {
        user_id: Some(user.id),
        name: user.email.clone(),
        client_addr: None,
    }
}

/// A fresh team name: namespaces derived from it are unique to the test.
pub fn unique_team() -> String {
    format!("t{}", &Uuid::new_v4().simple().to_string()[..10])
}

/// An API token for `user_id`, stored like the portal stores it.
pub async fn api_token(pool: &PgPool, user_id: i64, name: &str) -> String {
    let token = tokens::generate();
    store::tokens::insert(pool, user_id, name, &tokens::hash(&token))
        .await
        .unwrap();
    token
}

/// A request with a bearer token.
pub fn with_token(req: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    req.header("authorization", format!("Bearer {token}"))
}

// ---------------------------------------------------------------- services

/// Creates a service from YAML as `user`, recorded under `actor` with `message`.
pub async fn create_service_by(
    pool: &PgPool,
    user: &CurrentUser,
    actor: &Actor,
    team: &str,
    yaml: &str,
    message: &str,
) -> Service {
    let prepared = editing::prepare_text(yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let (service, _) = editing::create_service(pool, user, actor, team, &prepared, message)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    service
}

/// Creates a service from YAML as `email` (a member of `team`).
pub async fn create_service(pool: &PgPool, email: &str, team: &str, yaml: &str) -> Service {
    let user = current_user(pool, email).await;
    create_service_by(pool, &user, &actor(&user), team, yaml, "create").await
}

/// Saves a new revision of a service from YAML; returns the service as stored after.
pub async fn save_revision(pool: &PgPool, email: &str, service: &Service, yaml: &str) -> Service {
    let user = current_user(pool, email).await;
    let prepared = editing::prepare_text(yaml).unwrap_or_else(|e| panic!("{e:?}"));
    editing::save_revision(
        pool,
        &user,
        &actor(&user),
        service,
        None,
        &prepared,
        "change",
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    store::services::find(pool, &service.team, &service.name)
        .await
        .unwrap()
        .unwrap()
}

// ---------------------------------------------------------------- deploys

/// Requests a deploy of the current revision as `actor`, with `trigger`.
pub async fn try_request(
    pool: &PgPool,
    service: &Service,
    actor: &Actor,
    trigger: Trigger,
    environment: &str,
    image: &str,
) -> Result<Deploy, AppError> {
    deployer::request(
        pool,
        &slipway::cluster::Fleet::single(slipway::cluster::Handle::disabled()),
        service,
        actor,
        trigger,
        &DeployRequest::of(environment, image),
    )
    .await
}

/// Requests a deploy as `email`; panics when it is refused.
pub async fn request(
    pool: &PgPool,
    email: &str,
    service: &Service,
    environment: &str,
    image: &str,
) -> Deploy {
    let user = current_user(pool, email).await;
    try_request(
        pool,
        service,
        &actor(&user),
        Trigger::User,
        environment,
        image,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"))
}

/// Rolls back to `target` as `email`; panics when it is refused.
pub async fn rollback(pool: &PgPool, email: &str, target: &Deploy) -> Deploy {
    let user = current_user(pool, email).await;
    deployer::rollback(
        pool,
        &slipway::cluster::Fleet::single(slipway::cluster::Handle::disabled()),
        target,
        &actor(&user),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"))
}

/// Marks deploy `id` succeeded without any worker (for pages and policies that
/// only need a deploy that went well).
pub async fn mark_succeeded(pool: &PgPool, id: i64) {
    let done = sqlx::query(
        "update deploys set state = 'succeeded', started_at = coalesce(started_at, now()),
             finished_at = now(), lease_owner = null, lease_expires_at = null
         where id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "deploy {id} exists");
}

/// The deploy as stored now.
pub async fn find_deploy(pool: &PgPool, id: i64) -> Deploy {
    store::deploys::find(pool, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("deploy {id} exists"))
}

/// The most common setup of the portal tests: `dev@shop.io`, a member of
/// `shop`, owns the web service `shop/api` and is signed in.
pub async fn shop_member_with_api(pool: &PgPool) -> super::TestApp {
    create_user(pool, "dev@shop.io", false, &["shop"]).await;
    create_service(
        pool,
        "dev@shop.io",
        "shop",
        &SpecBuilder::web("api").to_yaml(),
    )
    .await;
    super::TestApp::signed_in(pool, "dev@shop.io").await
}

// ---------------------------------------------------------------- approval policy

/// Sets environment `name`'s approvals: how many, and which teams may give them.
pub async fn set_approval_policy(pool: &PgPool, name: &str, required: i32, teams: &[&str]) {
    let teams: Vec<String> = teams.iter().map(|t| (*t).to_owned()).collect();
    let done = sqlx::query(
        "update environments set approvals_required = $2, approver_teams = $3 where name = $1",
    )
    .bind(name)
    .bind(required)
    .bind(&teams)
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "environment {name} exists");
}

/// Decides deploy `id` as `email` through the domain action, as the portal does.
pub async fn try_decide(
    pool: &PgPool,
    email: &str,
    id: i64,
    decision: slipway::deploy_model::Decision,
) -> Result<Deploy, AppError> {
    let user = current_user(pool, email).await;
    deployer::decide(
        pool,
        id,
        &user,
        &actor(&user),
        decision,
        "",
        &deployer::Seen::default(),
    )
    .await
}

// ---------------------------------------------------------------- freeze windows

/// A one-off freeze window: local `starts_at` → `ends_at` (`2026-12-24T00:00`) in `zone`.
pub fn once_window(starts_at: &str, ends_at: &str, zone: &str, reason: &str) -> WindowInput {
    WindowInput {
        kind: "once".into(),
        starts_at: starts_at.into(),
        ends_at: ends_at.into(),
        time_zone: zone.into(),
        reason: reason.into(),
        ..WindowInput::default()
    }
}

/// A weekly freeze window `(day, HH:MM)` → `(day, HH:MM)` in `zone`; day `daily`: every day.
pub fn weekly_window(
    (start_day, start_time): (&str, &str),
    (end_day, end_time): (&str, &str),
    zone: &str,
    reason: &str,
) -> WindowInput {
    WindowInput {
        kind: "weekly".into(),
        start_day: start_day.into(),
        start_time: start_time.into(),
        end_day: end_day.into(),
        end_time: end_time.into(),
        time_zone: zone.into(),
        reason: reason.into(),
        ..WindowInput::default()
    }
}

/// Adds a freeze window to `environment` as the system (no form, no token).
pub async fn add_freeze_window(
    pool: &PgPool,
    environment: &str,
    input: &WindowInput,
) -> FreezeWindow {
    freeze::add_window(pool, &Actor::system(), environment, input)
        .await
        .unwrap()
}

// ---------------------------------------------------------------- notifications

/// The key the test config seals secrets with (`Config::for_database`).
pub fn test_secret_key() -> slipway::secret::SecretKey {
    slipway::secret::SecretKey([7; 32])
}

/// Queues notifications of `event` about `deploy` in a transaction of its own,
/// as a deploy transition does inside its own.
pub async fn enqueue_notification(
    pool: &PgPool,
    event: slipway::domain::notifications::NotificationEvent,
    deploy: &Deploy,
    actor: &str,
    message: &str,
) {
    let mut tx = pool.begin().await.unwrap();
    slipway::domain::notifications::enqueue_in(
        &mut tx,
        event,
        deploy,
        actor,
        message,
        "http://127.0.0.1:8080",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// One pass of the notification sender at `now`; returns how many messages it posted.
pub async fn deliver_notifications(pool: &PgPool, now: time::OffsetDateTime) -> usize {
    slipway::notify::deliver_due(
        pool,
        &test_secret_key(),
        &slipway::notify::http_client(),
        now,
    )
    .await
    .unwrap()
}

// ---------------------------------------------------------------- single sign-on

/// Maps identity-provider `group` to `team` (created when missing) and/or the
/// administrator role, as an administrator would.
pub async fn map_group(pool: &PgPool, group: &str, team: Option<&str>, admin: bool) {
    if let Some(team) = team
        && store::teams::find_by_name(pool, team)
            .await
            .unwrap()
            .is_none()
    {
        store::teams::insert(pool, team, team).await.unwrap();
    }
    slipway::domain::sso::add_mapping(
        pool,
        &Actor::system(),
        &slipway::domain::sso::MappingInput {
            group: group.into(),
            team: team.unwrap_or_default().into(),
            admin,
            approves: String::new(),
        },
    )
    .await
    .unwrap();
}
