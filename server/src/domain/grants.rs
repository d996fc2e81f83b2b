//! Tenancy grants as business actions (`docs/exposure.md`): administrators
//! grant host suffixes and exposure types to teams, keep the Ingress annotation
//! allow-list and the internal DNS zones; every spec is checked against them
//! when a revision is saved (for any environment the service could deploy to)
//! and again, authoritatively, inside the deploy request's transaction, where
//! the service's (host, path) claims are written under a per-host lock.
//!
//! The rules themselves are pure (`spec::tenancy::check`); this module loads
//! the grants and claims and writes the audit entries.

use serde::{Deserialize, Deserializer};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::error::{AppError, FieldError, ResultExt as _};
use crate::spec::tenancy::{self, AnnotationRule, Grants, Scope};
use crate::spec::{ServiceSpec, names};
use crate::store::audit::Actor;
use crate::store::environments::Environment;
use crate::store::grants::{self, AnnotationRuleRow, ExposureGrantRow, HostGrantRow};
use crate::store::services::Service;
use crate::store::{self};

/// Audit actions written here.
pub mod actions {
    /// A host grant was added.
    pub const HOST_GRANT_ADD: &str = "grant.host.add";
    /// A host grant was removed.
    pub const HOST_GRANT_REMOVE: &str = "grant.host.remove";
    /// An exposure grant was added.
    pub const EXPOSURE_GRANT_ADD: &str = "grant.exposure.add";
    /// An exposure grant was removed.
    pub const EXPOSURE_GRANT_REMOVE: &str = "grant.exposure.remove";
    /// An annotation allow-list entry was added.
    pub const ANNOTATION_RULE_ADD: &str = "annotation_rule.add";
    /// An annotation allow-list entry was removed.
    pub const ANNOTATION_RULE_REMOVE: &str = "annotation_rule.remove";
    /// An internal zone was added.
    pub const INTERNAL_ZONE_ADD: &str = "internal_zone.add";
    /// An internal zone was removed.
    pub const INTERNAL_ZONE_REMOVE: &str = "internal_zone.remove";
}

/// A checkbox (`on`) or a JSON boolean. Unknown fields are refused (a misspelt
/// `wildcard` would otherwise silently grant less), as everywhere in the API.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Text(s) => matches!(s.as_str(), "on" | "true" | "1" | "yes"),
    })
}

/// A host grant to add (form or JSON).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostGrantInput {
    /// The portal form's CSRF field: checked by the CSRF layer, dropped here
    /// unread (so `Debug` never shows it).
    #[serde(default, rename = "csrf_token")]
    pub csrf_field: serde::de::IgnoredAny,
    /// Team name.
    #[serde(default)]
    pub team: String,
    /// Environment name; empty for every environment.
    #[serde(default)]
    pub environment: String,
    /// DNS suffix, e.g. `shop.example.com`.
    #[serde(default)]
    pub suffix: String,
    /// Whether `*.` hosts are allowed too.
    #[serde(default, deserialize_with = "flag")]
    pub wildcard: bool,
}

/// An exposure grant to add.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureGrantInput {
    /// The portal form's CSRF field: checked by the CSRF layer, dropped here
    /// unread (so `Debug` never shows it).
    #[serde(default, rename = "csrf_token")]
    pub csrf_field: serde::de::IgnoredAny,
    /// Team name.
    #[serde(default)]
    pub team: String,
    /// Environment name.
    #[serde(default)]
    pub environment: String,
    /// `NodePort` or `LoadBalancer`.
    #[serde(default)]
    pub service_type: String,
    /// Whether fixed node ports are allowed.
    #[serde(default, deserialize_with = "flag")]
    pub fixed_node_ports: bool,
}

/// An annotation allow-list entry to add.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationRuleInput {
    /// The portal form's CSRF field: checked by the CSRF layer, dropped here
    /// unread (so `Debug` never shows it).
    #[serde(default, rename = "csrf_token")]
    pub csrf_field: serde::de::IgnoredAny,
    /// Key, or key prefix when `prefix`.
    #[serde(default)]
    pub key: String,
    /// Whether `key` is a prefix.
    #[serde(default, deserialize_with = "flag")]
    pub prefix: bool,
    /// Regular expression the whole value must match.
    #[serde(default)]
    pub value_pattern: String,
}

/// An internal zone to add.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalZoneInput {
    /// The portal form's CSRF field: checked by the CSRF layer, dropped here
    /// unread (so `Debug` never shows it).
    #[serde(default, rename = "csrf_token")]
    pub csrf_field: serde::de::IgnoredAny,
    /// The zone, e.g. `corp.example.com`.
    #[serde(default)]
    pub zone: String,
}

/// Everything the admin page and `GET /api/v1/admin/tenancy` show.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Overview {
    /// Host grants.
    pub host_grants: Vec<HostGrantRow>,
    /// Exposure grants.
    pub exposure_grants: Vec<ExposureGrantRow>,
    /// The annotation allow-list.
    pub annotation_rules: Vec<AnnotationRuleRow>,
    /// Internal zones.
    pub internal_zones: Vec<grants::InternalZoneRow>,
}

/// The current grants, lists and zones.
pub async fn overview(db: &PgPool) -> Result<Overview, AppError> {
    Ok(Overview {
        host_grants: grants::list_host_grants(db).await?,
        exposure_grants: grants::list_exposure_grants(db).await?,
        annotation_rules: grants::list_annotation_rules(db).await?,
        internal_zones: grants::list_internal_zones(db).await?,
    })
}

// ---------------------------------------------------------------- checking specs

/// The grants of team `team_id` with the claims other services hold on `hosts`.
async fn load(
    conn: &mut PgConnection,
    team_id: i64,
    service_id: Option<i64>,
    hosts: &[String],
) -> Result<Grants, AppError> {
    let mut annotations = Vec::new();
    for rule in grants::list_annotation_rules(&mut *conn).await? {
        let compiled = AnnotationRule::new(&rule.key, rule.is_prefix, &rule.value_pattern)
            .map_err(|e| {
                AppError::Internal(anyhow::anyhow!(
                    "stored annotation rule {} does not compile: {e}",
                    rule.id
                ))
            })?;
        annotations.push(compiled);
    }
    Ok(Grants {
        hosts: grants::host_grants_of(&mut *conn, team_id).await?,
        exposure: grants::exposure_grants_of(&mut *conn, team_id).await?,
        annotations,
        internal_zones: grants::list_internal_zones(&mut *conn)
            .await?
            .into_iter()
            .map(|z| z.zone)
            .collect(),
        claims: grants::claims_of_others(&mut *conn, service_id, hosts).await?,
    })
}

/// Every host `spec` serves in `scope`, lower case (wildcards as written).
fn hosts_of(spec: &ServiceSpec, scope: Scope<'_>) -> Vec<String> {
    let mut hosts: Vec<String> = tenancy::hosts_in(spec, scope)
        .into_iter()
        .flat_map(|(_, list, _)| list.iter().map(|h| h.to_ascii_lowercase()))
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Save-time check: `spec` of a service of `team` (`service_id` when it
/// exists) against the team's grants in any environment it could deploy to,
/// and against the claims of other services. Problems name the field.
pub async fn check_save(
    db: &PgPool,
    team: &str,
    service_id: Option<i64>,
    spec: &ServiceSpec,
) -> Result<(), AppError> {
    let team = store::teams::find_by_name(db, team)
        .await?
        .ok_or(AppError::NotFound)?;
    let hosts = hosts_of(spec, Scope::AnyEnvironment);
    let mut conn = db.acquire().await?;
    let grants = load(&mut conn, team.id, service_id, &hosts).await?;
    let errors = tenancy::check(spec, &grants, Scope::AnyEnvironment);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::invalid_fields(errors, "spec"))
    }
}

/// Deploy-time check and claim, inside the deploy request's transaction:
/// `spec` against the team's grants in `environment`, then (under a lock per
/// host, so two racing requests cannot both claim a pair) against the claims
/// of other services; on success the service's claims in the environment
/// become exactly the (host, path) pairs it routes there.
pub async fn claim_hosts_in(
    conn: &mut PgConnection,
    service: &Service,
    environment: &Environment,
    deploy_id: i64,
    spec: &ServiceSpec,
) -> Result<(), AppError> {
    let scope = Scope::Environment(&environment.name);
    let hosts = hosts_of(spec, scope);
    grants::lock_hosts(&mut *conn, &hosts).await?;
    let grants = load(&mut *conn, service.team_id, Some(service.id), &hosts).await?;
    let errors = tenancy::check(spec, &grants, scope);
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors, "revision"));
    }
    let paths = tenancy::paths_of(spec);
    let pairs: Vec<(String, String)> = hosts
        .iter()
        .flat_map(|h| paths.iter().map(move |p| (h.clone(), p.clone())))
        .collect();
    grants::replace_claims(&mut *conn, service.id, environment.id, deploy_id, &pairs).await?;
    Ok(())
}

// ---------------------------------------------------------------- admin actions

async fn team_id(db: &PgPool, team: &str) -> Result<i64, AppError> {
    store::teams::find_by_name(db, team.trim())
        .await?
        .map(|t| t.id)
        .ok_or_else(|| AppError::invalid("team", "no such team"))
}

async fn environment_id(db: &PgPool, environment: &str) -> Result<i64, AppError> {
    store::environments::find_by_name(db, environment.trim())
        .await?
        .map(|e| e.id)
        .ok_or_else(|| AppError::invalid("environment", "no such environment"))
}

/// A DNS suffix as typed, normalised (lower case, no leading dot), or why not.
fn parse_suffix(field: &str, typed: &str) -> Result<String, AppError> {
    let suffix = typed.trim().trim_start_matches('.').to_ascii_lowercase();
    if suffix.starts_with("*.") {
        return Err(AppError::invalid(
            field,
            "write the domain without `*.`; tick “wildcard” to allow wildcard hosts",
        ));
    }
    names::dns_subdomain(&suffix).map_err(|why| AppError::invalid(field, why))?;
    Ok(suffix)
}

/// Grants `input.suffix` to a team (in one environment, or all); audited.
pub async fn add_host_grant(
    db: &PgPool,
    actor: &Actor,
    input: &HostGrantInput,
) -> Result<i64, AppError> {
    let team = team_id(db, &input.team).await?;
    let environment = match input.environment.trim() {
        "" => None,
        name => Some(environment_id(db, name).await?),
    };
    let suffix = parse_suffix("suffix", &input.suffix)?;
    if !suffix.contains('.') {
        return Err(AppError::invalid(
            "suffix",
            "grant a registered domain or below it, not a top-level domain",
        ));
    }
    if let Some(why) = tenancy::internal_name(&suffix) {
        return Err(AppError::invalid("suffix", format!("is {why}")));
    }
    let mut tx = db.begin().await?;
    let id = grants::insert_host_grant(
        &mut *tx,
        team,
        environment,
        &suffix,
        input.wildcard,
        &actor.name,
    )
    .await
    .on_constraint("host_grants_key", || {
        AppError::invalid("suffix", "is already granted to this team there")
    })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::HOST_GRANT_ADD,
        input.team.trim(),
        json!({"id": id, "suffix": suffix, "wildcard": input.wildcard,
               "environment": input.environment.trim()}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes host grant `id`; audited. Existing claims stay until the next
/// deploy of their service, which the grant then no longer allows.
pub async fn remove_host_grant(db: &PgPool, actor: &Actor, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let row = grants::delete_host_grant(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::HOST_GRANT_REMOVE,
        &row.team,
        json!({"id": id, "suffix": row.suffix, "wildcard": row.wildcard,
               "environment": row.environment}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Grants a Service type beyond ClusterIP to a team in an environment; audited.
pub async fn add_exposure_grant(
    db: &PgPool,
    actor: &Actor,
    input: &ExposureGrantInput,
) -> Result<i64, AppError> {
    let team = team_id(db, &input.team).await?;
    let environment = environment_id(db, &input.environment).await?;
    let service_type = match input.service_type.trim() {
        kind @ ("NodePort" | "LoadBalancer") => kind,
        _ => {
            return Err(AppError::invalid(
                "service_type",
                "must be NodePort or LoadBalancer",
            ));
        }
    };
    let mut tx = db.begin().await?;
    let id = grants::insert_exposure_grant(
        &mut *tx,
        team,
        environment,
        service_type,
        input.fixed_node_ports,
        &actor.name,
    )
    .await
    .on_constraint("exposure_grants_key", || {
        AppError::invalid(
            "service_type",
            "is already granted to this team in this environment",
        )
    })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::EXPOSURE_GRANT_ADD,
        input.team.trim(),
        json!({"id": id, "service_type": service_type, "environment": input.environment.trim(),
               "fixed_node_ports": input.fixed_node_ports}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes exposure grant `id`; audited.
pub async fn remove_exposure_grant(db: &PgPool, actor: &Actor, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let row = grants::delete_exposure_grant(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::EXPOSURE_GRANT_REMOVE,
        &row.team,
        json!({"id": id, "service_type": row.service_type, "environment": row.environment}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a key (or key prefix) and value pattern to the annotation allow-list;
/// audited. Keys that are never allowed cannot be listed, and neither can a
/// prefix that only covers such keys.
pub async fn add_annotation_rule(
    db: &PgPool,
    actor: &Actor,
    input: &AnnotationRuleInput,
) -> Result<i64, AppError> {
    let key = input.key.trim();
    let mut problems = Vec::new();
    if key.is_empty() {
        problems.push(FieldError::new("key", "required"));
    } else if !input.prefix
        && let Err(why) = names::qualified_name(key)
    {
        problems.push(FieldError::new("key", why));
    } else if let Some(why) = tenancy::forbidden_annotation(key) {
        problems.push(FieldError::new(
            "key",
            format!("is never allowed from a spec: {why}"),
        ));
    } else if input.prefix && !key.contains('/') && !key.ends_with('.') {
        problems.push(FieldError::new(
            "key",
            "a prefix names a whole domain, ending in `/` (e.g. `nginx.ingress.kubernetes.io/`)",
        ));
    }
    let pattern = input.value_pattern.trim();
    if pattern.is_empty() {
        problems.push(FieldError::new(
            "value_pattern",
            "required; write `.*` to allow any value",
        ));
    } else if let Err(why) = AnnotationRule::new(key, input.prefix, pattern) {
        problems.push(FieldError::new("value_pattern", why));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let mut tx = db.begin().await?;
    let id = grants::insert_annotation_rule(&mut *tx, key, input.prefix, pattern, &actor.name)
        .await
        .on_constraint("annotation_rules_key", || {
            AppError::invalid("key", "is already on the allow-list")
        })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::ANNOTATION_RULE_ADD,
        key,
        json!({"id": id, "prefix": input.prefix, "value_pattern": pattern}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes allow-list entry `id`; audited.
pub async fn remove_annotation_rule(db: &PgPool, actor: &Actor, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let row = grants::delete_annotation_rule(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::ANNOTATION_RULE_REMOVE,
        &row.key,
        json!({"id": id, "prefix": row.is_prefix, "value_pattern": row.value_pattern}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Lists a DNS zone as internal (ExternalName may not point into it); audited.
pub async fn add_internal_zone(
    db: &PgPool,
    actor: &Actor,
    input: &InternalZoneInput,
) -> Result<i64, AppError> {
    let zone = parse_suffix("zone", &input.zone)?;
    let mut tx = db.begin().await?;
    let id = grants::insert_internal_zone(&mut *tx, &zone, &actor.name)
        .await
        .on_constraint("internal_zones_zone_key", || {
            AppError::invalid("zone", "is already listed")
        })?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::INTERNAL_ZONE_ADD,
        &zone,
        json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes internal zone `id`; audited.
pub async fn remove_internal_zone(db: &PgPool, actor: &Actor, id: i64) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let row = grants::delete_internal_zone(&mut *tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    store::audit::record(
        &mut *tx,
        actor,
        actions::INTERNAL_ZONE_REMOVE,
        &row.zone,
        json!({"id": id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
