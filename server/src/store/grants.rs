//! Tenancy grants and host claims (`docs/exposure.md`): host grants and
//! exposure grants per team, the Ingress annotation allow-list, internal DNS
//! zones, and the (host, path) pairs each service holds. `domain::grants`
//! decides with them; this only stores rows.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

use crate::spec::ServiceType;
use crate::spec::tenancy::{Claim, ExposureGrant, HostGrant};

/// A host grant as the admin page lists it.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct HostGrantRow {
    /// Row id.
    pub id: i64,
    /// The team.
    pub team: String,
    /// The environment it is limited to; every one when `None`.
    pub environment: Option<String>,
    /// The DNS suffix.
    pub suffix: String,
    /// Whether `*.` hosts are allowed too.
    pub wildcard: bool,
    /// Who granted it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An exposure grant as the admin page lists it.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct ExposureGrantRow {
    /// Row id.
    pub id: i64,
    /// The team.
    pub team: String,
    /// The environment.
    pub environment: String,
    /// `NodePort` or `LoadBalancer`.
    pub service_type: String,
    /// Whether fixed node ports are allowed.
    pub fixed_node_ports: bool,
    /// Who granted it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One entry of the annotation allow-list.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct AnnotationRuleRow {
    /// Row id.
    pub id: i64,
    /// Key, or key prefix.
    pub key: String,
    /// Whether `key` is a prefix.
    pub is_prefix: bool,
    /// The value pattern (anchored when applied).
    pub value_pattern: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An admin-listed internal DNS zone.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct InternalZoneRow {
    /// Row id.
    pub id: i64,
    /// The zone, e.g. `corp.example.com`.
    pub zone: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

// ---------------------------------------------------------------- host grants

/// Every host grant, by team, environment and suffix.
pub async fn list_host_grants(db: impl PgExecutor<'_>) -> Result<Vec<HostGrantRow>, sqlx::Error> {
    sqlx::query_as::<_, HostGrantRow>(
        "select g.id, t.name as team, e.name as environment, g.suffix, g.wildcard,
                g.created_by, g.created_at
         from host_grants g join teams t on t.id = g.team_id
         left join environments e on e.id = g.environment_id
         order by t.name, g.suffix, e.name nulls first",
    )
    .fetch_all(db)
    .await
}

/// The host grants of team `team_id` (every environment).
pub async fn host_grants_of(
    db: impl PgExecutor<'_>,
    team_id: i64,
) -> Result<Vec<HostGrant>, sqlx::Error> {
    let rows: Vec<(String, bool, Option<String>)> = sqlx::query_as(
        "select g.suffix, g.wildcard, e.name
         from host_grants g left join environments e on e.id = g.environment_id
         where g.team_id = $1 order by g.id",
    )
    .bind(team_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(suffix, wildcard, environment)| HostGrant {
            suffix,
            wildcard,
            environment,
        })
        .collect())
}

/// Adds a host grant; its id. A repeat violates `host_grants_key`.
pub async fn insert_host_grant(
    db: impl PgExecutor<'_>,
    team_id: i64,
    environment_id: Option<i64>,
    suffix: &str,
    wildcard: bool,
    created_by: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into host_grants (team_id, environment_id, suffix, wildcard, created_by)
         values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(team_id)
    .bind(environment_id)
    .bind(suffix)
    .bind(wildcard)
    .bind(created_by)
    .fetch_one(db)
    .await
}

/// Grants `suffix` to team `team_id` in every environment unless it already is
/// (the demo seed, which runs at every start).
pub async fn ensure_host_grant(
    db: impl PgExecutor<'_>,
    team_id: i64,
    suffix: &str,
    created_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into host_grants (team_id, environment_id, suffix, wildcard, created_by)
         values ($1, null, $2, false, $3) on conflict do nothing",
    )
    .bind(team_id)
    .bind(suffix)
    .bind(created_by)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes host grant `id`; the deleted row, `None` when there was none.
pub async fn delete_host_grant(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<HostGrantRow>, sqlx::Error> {
    // One statement: the deleted row, with its team's and environment's names.
    sqlx::query_as::<_, HostGrantRow>(
        "with g as (delete from host_grants where id = $1 returning *)
         select g.id, t.name as team, e.name as environment, g.suffix, g.wildcard,
                g.created_by, g.created_at
         from g join teams t on t.id = g.team_id
         left join environments e on e.id = g.environment_id",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

// ---------------------------------------------------------------- exposure grants

/// Every exposure grant.
pub async fn list_exposure_grants(
    db: impl PgExecutor<'_>,
) -> Result<Vec<ExposureGrantRow>, sqlx::Error> {
    sqlx::query_as::<_, ExposureGrantRow>(
        "select g.id, t.name as team, e.name as environment, g.service_type,
                g.fixed_node_ports, g.created_by, g.created_at
         from exposure_grants g join teams t on t.id = g.team_id
         join environments e on e.id = g.environment_id
         order by t.name, e.position, g.service_type",
    )
    .fetch_all(db)
    .await
}

/// The exposure grants of team `team_id` (every environment).
pub async fn exposure_grants_of(
    db: impl PgExecutor<'_>,
    team_id: i64,
) -> Result<Vec<ExposureGrant>, sqlx::Error> {
    let rows: Vec<(String, bool, String)> = sqlx::query_as(
        "select g.service_type, g.fixed_node_ports, e.name
         from exposure_grants g join environments e on e.id = g.environment_id
         where g.team_id = $1 order by g.id",
    )
    .bind(team_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, fixed_node_ports, environment)| {
            let service_type = match kind.as_str() {
                "NodePort" => ServiceType::NodePort,
                "LoadBalancer" => ServiceType::LoadBalancer,
                _ => return None,
            };
            Some(ExposureGrant {
                service_type,
                fixed_node_ports,
                environment,
            })
        })
        .collect())
}

/// Adds an exposure grant; its id. A repeat violates `exposure_grants_key`.
pub async fn insert_exposure_grant(
    db: impl PgExecutor<'_>,
    team_id: i64,
    environment_id: i64,
    service_type: &str,
    fixed_node_ports: bool,
    created_by: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into exposure_grants (team_id, environment_id, service_type, fixed_node_ports, created_by)
         values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(team_id)
    .bind(environment_id)
    .bind(service_type)
    .bind(fixed_node_ports)
    .bind(created_by)
    .fetch_one(db)
    .await
}

/// Deletes exposure grant `id`; the deleted row, `None` when there was none.
pub async fn delete_exposure_grant(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<ExposureGrantRow>, sqlx::Error> {
    // One statement: the deleted row, with its team's and environment's names.
    sqlx::query_as::<_, ExposureGrantRow>(
        "with g as (delete from exposure_grants where id = $1 returning *)
         select g.id, t.name as team, e.name as environment, g.service_type,
                g.fixed_node_ports, g.created_by, g.created_at
         from g join teams t on t.id = g.team_id
         join environments e on e.id = g.environment_id",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

// ---------------------------------------------------------------- annotation rules

/// The annotation allow-list, by key.
pub async fn list_annotation_rules(
    db: impl PgExecutor<'_>,
) -> Result<Vec<AnnotationRuleRow>, sqlx::Error> {
    sqlx::query_as::<_, AnnotationRuleRow>(
        "select id, key, is_prefix, value_pattern, created_by, created_at
         from annotation_rules order by key, is_prefix",
    )
    .fetch_all(db)
    .await
}

/// Adds an allow-list entry; its id. A repeat violates `annotation_rules_key`.
pub async fn insert_annotation_rule(
    db: impl PgExecutor<'_>,
    key: &str,
    is_prefix: bool,
    value_pattern: &str,
    created_by: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into annotation_rules (key, is_prefix, value_pattern, created_by)
         values ($1, $2, $3, $4) returning id",
    )
    .bind(key)
    .bind(is_prefix)
    .bind(value_pattern)
    .bind(created_by)
    .fetch_one(db)
    .await
}

/// Deletes allow-list entry `id`; the deleted row, `None` when there was none.
pub async fn delete_annotation_rule(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<AnnotationRuleRow>, sqlx::Error> {
    sqlx::query_as::<_, AnnotationRuleRow>(
        "delete from annotation_rules where id = $1
         returning id, key, is_prefix, value_pattern, created_by, created_at",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

// ---------------------------------------------------------------- internal zones

/// The admin-listed internal zones.
pub async fn list_internal_zones(
    db: impl PgExecutor<'_>,
) -> Result<Vec<InternalZoneRow>, sqlx::Error> {
    sqlx::query_as::<_, InternalZoneRow>(
        "select id, zone, created_by, created_at from internal_zones order by zone",
    )
    .fetch_all(db)
    .await
}

/// Adds an internal zone; its id. A repeat violates `internal_zones_zone_key`.
pub async fn insert_internal_zone(
    db: impl PgExecutor<'_>,
    zone: &str,
    created_by: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("insert into internal_zones (zone, created_by) values ($1, $2) returning id")
        .bind(zone)
        .bind(created_by)
        .fetch_one(db)
        .await
}

/// Deletes internal zone `id`; the deleted row, `None` when there was none.
pub async fn delete_internal_zone(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<InternalZoneRow>, sqlx::Error> {
    sqlx::query_as::<_, InternalZoneRow>(
        "delete from internal_zones where id = $1 returning id, zone, created_by, created_at",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

// ---------------------------------------------------------------- host claims

/// The claims on `hosts` held by services other than `service_id`.
pub async fn claims_of_others(
    db: impl PgExecutor<'_>,
    service_id: Option<i64>,
    hosts: &[String],
) -> Result<Vec<Claim>, sqlx::Error> {
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "select c.host, c.path, t.name, s.name, e.name
         from host_claims c
         join services s on s.id = c.service_id
         join teams t on t.id = s.team_id
         join environments e on e.id = c.environment_id
         where c.host = any($1) and c.service_id is distinct from $2
         order by c.id",
    )
    .bind(hosts)
    .bind(service_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(host, path, team, service, environment)| Claim {
            host,
            path,
            owner: format!("{team}/{service}"),
            environment,
        })
        .collect())
}

/// Serialises claim decisions on `hosts` until the transaction ends: two
/// requests for one host run their check-then-claim one after the other, so
/// both cannot see the pair free. Hosts are locked in sorted order (no deadlock).
pub async fn lock_hosts(conn: &mut PgConnection, hosts: &[String]) -> Result<(), sqlx::Error> {
    let mut sorted: Vec<&String> = hosts.iter().collect();
    sorted.sort();
    sorted.dedup();
    for host in sorted {
        sqlx::query("select pg_advisory_xact_lock(hashtextextended('slipway.host:' || $1, 0))")
            .bind(host)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Makes `pairs` the claims of `service_id` in `environment_id` (from deploy
/// `deploy_id`): pairs it no longer routes are released.
pub async fn replace_claims(
    conn: &mut PgConnection,
    service_id: i64,
    environment_id: i64,
    deploy_id: i64,
    pairs: &[(String, String)],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from host_claims where service_id = $1 and environment_id = $2")
        .bind(service_id)
        .bind(environment_id)
        .execute(&mut *conn)
        .await?;
    let hosts: Vec<&str> = pairs.iter().map(|(h, _)| h.as_str()).collect();
    let paths: Vec<&str> = pairs.iter().map(|(_, p)| p.as_str()).collect();
    sqlx::query(
        "insert into host_claims (host, path, service_id, environment_id, deploy_id)
         select h, p, $3, $4, $5 from unnest($1::text[], $2::text[]) as u(h, p)
         on conflict do nothing",
    )
    .bind(&hosts)
    .bind(&paths)
    .bind(service_id)
    .bind(environment_id)
    .bind(deploy_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
