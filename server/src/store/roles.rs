//! The serving role of `slipway run`'s private PostgreSQL: a login role that is
//! a member of `slipway_app` only and owns nothing, so the portal it serves
//! cannot rewrite the audit log (`docs/access.md`). The instance's superuser
//! stays the schema owner and runs the migrations.

use sqlx::PgPool;

/// Creates login role `name` in `slipway_app` (the group role the access
/// migration creates), or sets its password when it exists. Role names and
/// passwords cannot be bound in DDL, so the server quotes them (`format`'s
/// `%I` and `%L`) before the statement runs.
pub async fn ensure_serving_role(
    db: &PgPool,
    name: &str,
    password: &str,
) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_roles where rolname = $1)")
            .bind(name)
            .fetch_one(db)
            .await?;
    let template = if exists {
        "alter role %I with login nosuperuser nocreatedb nocreaterole password %L"
    } else {
        "create role %I with login nosuperuser nocreatedb nocreaterole password %L in role slipway_app"
    };
    let statement: String = sqlx::query_scalar("select format($1, $2::text, $3::text)")
        .bind(template)
        .bind(name)
        .bind(password)
        .fetch_one(db)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(db)
        .await?;
    Ok(())
}
