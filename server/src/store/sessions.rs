//! A PostgreSQL `SessionStore` for tower-sessions 0.15.
//!
//! `tower-sessions-sqlx-store` targets tower-sessions 0.14 / sqlx 0.8 and cannot be
//! combined with our versions (see CRATES.md), so Slipway keeps its own: four small
//! queries on the `sessions` table of our migrations.
//!
//! Loading a signed-in session also reads its person (`users`, their teams and
//! approver environments) in the same statement and hands it to
//! `auth::extract` under [`PERSON_KEY`]: a page view then needs one round trip
//! to know who is asking. The key is never written back. What was loaded is
//! kept for a few seconds in `store::identity`, which forgets it the moment the
//! database says it changed (a disabled user, a demotion or a removed
//! membership counts at once, on every replica) and serves nothing while it
//! cannot be sure to hear that.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// Hours after which a session ends whatever its activity (the absolute timeout).
pub const ABSOLUTE_TIMEOUT_HOURS: i32 = 12;

/// The session data key the signed-in person is handed over under on load:
/// a [`Person`], or `null` when the session's user is gone or disabled. Absent
/// when the session has no user (or was saved before sessions recorded one).
pub const PERSON_KEY: &str = "slipway.person";

/// The session data key of the signed-in user's id (`auth::extract::SESSION_USER_ID`
/// is this key): the store copies it into the `user_id` column.
pub const USER_ID_KEY: &str = "user_id";

/// The session's person as the store read it with the session.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// User id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Global administrator.
    pub is_admin: bool,
    /// The user's session epoch now (a session of an older one has ended).
    pub session_epoch: i32,
    /// Team names, sorted.
    pub teams: Vec<String>,
    /// Environments a provider group makes them an approver of, sorted.
    pub approves: Vec<String>,
}

/// Sessions in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
    identity: Arc<super::identity::IdentityCache>,
}

impl PgSessionStore {
    /// A store on this pool, keeping what it loads in `identity`.
    pub fn new(pool: PgPool, identity: Arc<super::identity::IdentityCache>) -> Self {
        Self { pool, identity }
    }
}

/// The absolute timeout as a duration.
const ABSOLUTE_TIMEOUT: time::Duration = time::Duration::hours(ABSOLUTE_TIMEOUT_HOURS as i64);

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// The record as stored: without the person handed over on load.
fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    let result = if record.data.contains_key(PERSON_KEY) {
        let mut stored = record.clone();
        stored.data.remove(PERSON_KEY);
        rmp_serde::to_vec(&stored)
    } else {
        rmp_serde::to_vec(record)
    };
    result.map_err(|e| session_store::Error::Encode(e.to_string()))
}

/// Whose session it is, for the `user_id` column.
fn user_of(record: &Record) -> Option<i64> {
    record
        .data
        .get(USER_ID_KEY)
        .and_then(serde_json::Value::as_i64)
}

/// The session with its person's columns, built once.
static LOAD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "select s.data, s.user_id, s.created_at, u.id, u.email, u.is_admin, u.session_epoch,
                {}
         from sessions s
         left join users u on u.id = s.user_id and u.disabled_at is null
         where s.id = $1 and s.expiry_date > now()
           and s.created_at > now() - make_interval(hours => $2)",
        super::users::STANDING_COLUMNS
    )
});

/// A session row with its person's columns (all null when the user is gone or disabled).
#[derive(sqlx::FromRow)]
struct Loaded {
    data: Vec<u8>,
    user_id: Option<i64>,
    created_at: OffsetDateTime,
    id: Option<i64>,
    email: Option<String>,
    is_admin: Option<bool>,
    session_epoch: Option<i32>,
    teams: Vec<String>,
    approves: Vec<String>,
}

impl Loaded {
    fn person(self) -> Option<Person> {
        Some(Person {
            id: self.id?,
            email: self.email?,
            is_admin: self.is_admin?,
            session_epoch: self.session_epoch?,
            teams: self.teams,
            approves: self.approves,
        })
    }
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; a collision is astronomically unlikely, but a
        // fresh id on conflict costs nothing and never overwrites someone's session.
        loop {
            let data = encode(record)?;
            let inserted = sqlx::query(
                "insert into sessions (id, data, expiry_date, user_id) values ($1, $2, $3, $4)
                 on conflict (id) do nothing",
            )
            .bind(record.id.to_string())
            .bind(data)
            .bind(record.expiry_date)
            .bind(user_of(record))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Update only: a session is inserted by `create` and nowhere else. A request
    /// still in flight when its session is deleted (logout, a purge) would
    /// otherwise write the row back, with a fresh `created_at` restarting the
    /// absolute timeout; now its save finds no row and does nothing.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        sqlx::query("update sessions set data = $2, expiry_date = $3, user_id = $4 where id = $1")
            .bind(record.id.to_string())
            .bind(encode(record)?)
            .bind(record.expiry_date)
            .bind(user_of(record))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.identity.forget_session(&record.id);
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.identity.get(id, ABSOLUTE_TIMEOUT) {
            return Ok(Some(record));
        }
        let ticket = self.identity.begin_read();
        let loaded: Option<Loaded> = sqlx::query_as(sqlx::AssertSqlSafe(LOAD.as_str()))
            .bind(id.to_string())
            .bind(ABSOLUTE_TIMEOUT_HOURS)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(loaded) = loaded else {
            return Ok(None);
        };
        let mut record: Record = rmp_serde::from_slice(&loaded.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        // Only signed-in sessions recorded as whose they are are kept: the
        // notices name users, so no other session could be forgotten in time.
        if let Some(user_id) = loaded.user_id {
            let created_at = loaded.created_at;
            let person = serde_json::to_value(loaded.person())
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
            record.data.insert(PERSON_KEY.to_owned(), person);
            // The store hands the record out under its key `id`.
            record.id = *id;
            self.identity.keep(ticket, &record, user_id, created_at);
        }
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("delete from sessions where id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.identity.forget_session(id);
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for PgSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query(
            "delete from sessions
             where expiry_date < now() or created_at < now() - make_interval(hours => $1)",
        )
        .bind(ABSOLUTE_TIMEOUT_HOURS)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

/// Number of live sessions (tests and the admin page).
pub async fn count_live(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from sessions where expiry_date > $1")
        .bind(OffsetDateTime::now_utc())
        .fetch_one(pool)
        .await
}
