//! A PostgreSQL `SessionStore` for tower-sessions 0.15.
//!
//! `tower-sessions-sqlx-store` targets tower-sessions 0.14 / sqlx 0.8 and cannot be
//! combined with our versions (see CRATES.md), so Slipway keeps its own: four small
//! queries on the `sessions` table of our migrations.

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

/// Hours after which a session ends whatever its activity (the absolute timeout).
pub const ABSOLUTE_TIMEOUT_HOURS: i32 = 12;

/// Sessions in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    /// A store on this pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; a collision is astronomically unlikely, but a
        // fresh id on conflict costs nothing and never overwrites someone's session.
        loop {
            let data = encode(record)?;
            let inserted = sqlx::query(
                "insert into sessions (id, data, expiry_date) values ($1, $2, $3)
                 on conflict (id) do nothing",
            )
            .bind(record.id.to_string())
            .bind(data)
            .bind(record.expiry_date)
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
        sqlx::query("update sessions set data = $2, expiry_date = $3 where id = $1")
            .bind(record.id.to_string())
            .bind(encode(record)?)
            .bind(record.expiry_date)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> = sqlx::query_scalar(
            "select data from sessions
             where id = $1 and expiry_date > now()
               and created_at > now() - make_interval(hours => $2)",
        )
        .bind(id.to_string())
        .bind(ABSOLUTE_TIMEOUT_HOURS)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        data.map(|bytes| {
            rmp_serde::from_slice(&bytes).map_err(|e| session_store::Error::Decode(e.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("delete from sessions where id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
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
