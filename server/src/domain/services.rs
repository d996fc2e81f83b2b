//! Services and their revisions: parsing a spec from the editor, the API or a
//! spec file, creating a service and saving a revision. The portal, the JSON API
//! and `slipway apply` share these, so all apply the same validation, policy and
//! audit.

use serde_json::json;
use sqlx::PgPool;

use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::domain::namespaces::Targets;
use crate::error::{AppError, FieldError, ResultExt as _};
use crate::spec::{self, ServiceSpec};
use crate::store::services::{NewRevision, Revision, SaveError, Service};
use crate::store::{self, audit::Actor};

/// Audit actions written here.
pub mod actions {
    /// A service was created (revision 1).
    pub const SERVICE_CREATE: &str = "service.create";
    /// A revision was saved.
    pub const SERVICE_REVISE: &str = "service.revise";
}

/// A spec that parsed and validated, ready to store.
#[derive(Debug)]
pub struct PreparedSpec {
    /// The spec.
    pub spec: ServiceSpec,
    /// The YAML to store (as written by the author, or canonical for JSON input).
    pub yaml: String,
    /// Canonical JSON.
    pub json: serde_json::Value,
    /// Content hash.
    pub hash: String,
}

impl PreparedSpec {
    fn kind(&self) -> String {
        self.spec.workload_kind().as_str().to_owned()
    }

    fn framework(&self) -> String {
        self.spec
            .spec
            .framework
            .map(|f| f.as_str().to_owned())
            .unwrap_or_default()
    }

    fn new_revision<'a>(
        &'a self,
        user: &'a CurrentUser,
        message: &'a str,
        kind: &'a str,
        framework: &'a str,
    ) -> NewRevision<'a> {
        NewRevision {
            spec_yaml: &self.yaml,
            spec: self.json.clone(),
            hash: &self.hash,
            kind,
            framework,
            author_id: Some(user.id),
            author: &user.email,
            message,
        }
    }
}

/// Parses YAML (or JSON) text from the editor.
pub fn prepare_text(text: &str) -> Result<PreparedSpec, AppError> {
    let spec = spec::parse(text).map_err(|errors| AppError::invalid_fields(errors, "spec"))?;
    Ok(finish(spec, Some(text)))
}

/// Reads the API's `spec` JSON object. Problems carry the document's own paths
/// (`metadata.name`, `spec.env[3].secret.key`), as in the editor and the CLI.
pub fn prepare_json(value: serde_json::Value) -> Result<PreparedSpec, AppError> {
    let spec =
        spec::from_json_value(value).map_err(|errors| AppError::invalid_fields(errors, "spec"))?;
    Ok(finish(spec, None))
}

fn finish(spec: ServiceSpec, text: Option<&str>) -> PreparedSpec {
    let yaml = text.map(str::to_owned).unwrap_or_else(|| spec.to_yaml());
    let json = serde_json::to_value(&spec).unwrap_or(serde_json::Value::Null);
    let hash = spec.content_hash();
    PreparedSpec {
        spec,
        yaml,
        json,
        hash,
    }
}

/// Checks that the spec belongs where it is being saved.
fn check_identity(prepared: &PreparedSpec, team: &str, name: Option<&str>) -> Result<(), AppError> {
    let mut problems = Vec::new();
    if let Some(name) = name
        && prepared.spec.metadata.name != name
    {
        problems.push(FieldError::new(
            "metadata.name",
            format!(
                "is `{}`, but this is service `{name}`; renaming is not supported",
                prepared.spec.metadata.name
            ),
        ));
    }
    if let Some(spec_team) = &prepared.spec.metadata.team
        && spec_team != team
    {
        problems.push(FieldError::new(
            "metadata.team",
            format!("is `{spec_team}`, but the service belongs to team `{team}`"),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems))
    }
}

/// Creates a service in `team` from a prepared spec (policy checked here too).
pub async fn create_service(
    db: &PgPool,
    user: &CurrentUser,
    actor: &Actor,
    team: &str,
    prepared: &PreparedSpec,
    message: &str,
) -> Result<(Service, Revision), AppError> {
    policy::can_create_service(user, team)?;
    check_identity(prepared, team, None)?;
    crate::domain::grants::check_save(db, team, None, &prepared.spec).await?;
    let team_row = store::teams::find_by_name(db, team)
        .await?
        .ok_or(AppError::NotFound)?;
    let kind = prepared.kind();
    let framework = prepared.framework();
    let message = if message.trim().is_empty() {
        "Create service"
    } else {
        message.trim()
    };
    let mut tx = db.begin().await?;
    let (service, revision) = store::services::create(
        &mut tx,
        team_row.id,
        &prepared.spec.metadata.name,
        &prepared.new_revision(user, message, &kind, &framework),
    )
    .await
    .on_constraint("services_team_id_name_key", || {
        AppError::invalid(
            "metadata.name",
            "a service with this name exists in the team",
        )
    })?;
    let target = format!("{team}/{}", service.name);
    store::audit::record(
        &mut *tx,
        actor,
        actions::SERVICE_CREATE,
        &target,
        json!({"revision": 1, "hash": revision.hash}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(service = %target, "service created");
    Ok((service, revision))
}

/// Saves a new revision of `service` (policy checked here too). `base` is the
/// revision the editor started from; a concurrent save makes this a conflict.
pub async fn save_revision(
    db: &PgPool,
    user: &CurrentUser,
    actor: &Actor,
    service: &Service,
    base: Option<i32>,
    prepared: &PreparedSpec,
    message: &str,
) -> Result<Revision, AppError> {
    policy::can_edit_service(user, &service.team)?;
    check_identity(prepared, &service.team, Some(&service.name))?;
    crate::domain::grants::check_save(db, &service.team, Some(service.id), &prepared.spec).await?;
    let kind = prepared.kind();
    let framework = prepared.framework();
    let message = if message.trim().is_empty() {
        "Update spec"
    } else {
        message.trim()
    };
    let mut tx = db.begin().await?;
    let revision = match store::services::save_revision(
        &mut tx,
        service.id,
        base,
        &prepared.new_revision(user, message, &kind, &framework),
    )
    .await
    {
        Ok(r) => r,
        Err(SaveError::Stale { base, current }) => {
            return Err(AppError::Conflict(format!(
                "Someone saved revision {current} while you were editing revision {base}. Your text is kept below; review revision {current} and save again."
            )));
        }
        Err(SaveError::Unchanged(current)) => {
            return Err(AppError::Conflict(format!(
                "Nothing changed since revision {current}."
            )));
        }
        Err(SaveError::Db(e)) => return Err(e.into()),
    };
    let target = format!("{}/{}", service.team, service.name);
    store::audit::record(
        &mut *tx,
        actor,
        actions::SERVICE_REVISE,
        &target,
        json!({"revision": revision.number, "hash": revision.hash}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(service = %target, revision = revision.number, "revision saved");
    Ok(revision)
}

/// Revision `number` of `service`; `NotFound` when there is none.
pub async fn revision(db: &PgPool, service: &Service, number: i32) -> Result<Revision, AppError> {
    store::services::revision(db, service.id, number)
        .await?
        .ok_or(AppError::NotFound)
}

/// The spec a stored revision holds. Revisions are validated before they are
/// stored, so one that no longer reads is an internal error, not the user's.
pub fn spec_of(revision: &Revision) -> Result<ServiceSpec, AppError> {
    serde_json::from_value(revision.spec.clone()).map_err(|e| {
        AppError::Internal(anyhow::anyhow!(
            "stored revision {} is unreadable: {e}",
            revision.number
        ))
    })
}

/// The current revision of `service` and its spec.
pub async fn current_spec(
    db: &PgPool,
    service: &Service,
) -> Result<(Revision, ServiceSpec), AppError> {
    let revision = revision(db, service, service.current_revision).await?;
    let spec = spec_of(&revision)?;
    Ok((revision, spec))
}

/// Every environment of `service` with the namespace it has there.
pub async fn targets(db: &PgPool, service: &Service) -> Result<Targets, AppError> {
    let environments = store::environments::list(db).await?;
    Ok(Targets::of(&environments, &service.team, &service.name))
}
