//! Creating services and saving revisions: shared by the portal and the JSON API,
//! so both apply the same validation, policy and audit.

use serde_json::json;
use sqlx::PgPool;

use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::error::{AppError, FieldMessage, ResultExt as _};
use crate::spec::{self, ServiceSpec};
use crate::store::services::{NewRevision, Revision, SaveError, Service};
use crate::store::{self, audit::Actor};

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
        kind_name(&self.spec)
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

/// The workload kind's name (`web`, `worker`, `cron`, `stateful`).
pub fn kind_name(spec: &ServiceSpec) -> String {
    serde_json::to_value(spec.workload_kind())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "web".into())
}

fn to_field_messages(errors: Vec<spec::FieldError>) -> Vec<FieldMessage> {
    errors
        .into_iter()
        .map(|e| FieldMessage {
            path: if e.path.is_empty() {
                "spec".into()
            } else {
                e.path
            },
            message: e.message,
        })
        .collect()
}

/// Parses YAML (or JSON) text from the editor.
pub fn prepare_text(text: &str) -> Result<PreparedSpec, Vec<FieldMessage>> {
    let spec = spec::parse(text).map_err(to_field_messages)?;
    Ok(finish(spec, Some(text)))
}

/// Reads the API's `spec` JSON object. Problems carry the document's own paths
/// (`metadata.name`, `spec.env[3].secret.key`), as in the editor and the CLI.
pub fn prepare_json(value: serde_json::Value) -> Result<PreparedSpec, Vec<FieldMessage>> {
    let spec = spec::from_json_value(value).map_err(to_field_messages)?;
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
        problems.push(FieldMessage {
            path: "metadata.name".into(),
            message: format!(
                "is `{}`, but this is service `{name}`; renaming is not supported",
                prepared.spec.metadata.name
            ),
        });
    }
    if let Some(spec_team) = &prepared.spec.metadata.team
        && spec_team != team
    {
        problems.push(FieldMessage {
            path: "metadata.team".into(),
            message: format!("is `{spec_team}`, but the service belongs to team `{team}`"),
        });
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
        "service.create",
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
        "service.revise",
        &target,
        json!({"revision": revision.number, "hash": revision.hash}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(service = %target, revision = revision.number, "revision saved");
    Ok(revision)
}
