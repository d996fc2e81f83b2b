//! The one web-facing error type, and the one place error statuses are chosen.
//!
//! Handlers return `Result<_, AppError>`. `IntoResponse` only records *what* went
//! wrong (an [`ErrorReport`] extension); the `render_errors` middleware in
//! `web::errors` turns it into an HTML page or the JSON shape of `docs/api.md`,
//! depending on the route, adds the request id and logs internal errors once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A field path and what is wrong with it, e.g. `spec.env[3].name: duplicate`:
/// the one field-error type from spec validation to the response.
pub use crate::spec::FieldError;

/// Errors as the user should see them.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist (or the caller may not know it does).
    #[error("not found")]
    NotFound,
    /// No valid session or token.
    #[error("sign in required")]
    Unauthenticated,
    /// A known API token that may no longer be used (expired, its owner
    /// disabled); the text says which, so a CI job's log tells what to fix.
    #[error("token refused: {0}")]
    TokenRefused(&'static str),
    /// Signed in, but the policy says no; the text says which rule.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Input failed validation; every problem with its field path.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The request cannot be read at all (a webhook body that is not JSON).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request conflicts with the current state (a stale revision, a taken name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many attempts; try again later.
    #[error("too many requests")]
    TooManyRequests,
    /// A dependency (database, cluster) is not reachable right now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else: logged with its cause, shown as "something went wrong".
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// One invalid field.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(path, message)])
    }

    /// Field problems of a document; one about the document as a whole (an
    /// empty path) is reported on `whole` (`spec`, `revision`, `environment`).
    pub fn invalid_fields(errors: impl IntoIterator<Item = FieldError>, whole: &str) -> Self {
        Self::Invalid(
            errors
                .into_iter()
                .map(|mut e| {
                    if e.path.is_empty() {
                        e.path = whole.to_owned();
                    }
                    e
                })
                .collect(),
        )
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthenticated | Self::TokenRefused(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the JSON error format.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Unauthenticated | Self::TokenRefused(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::Invalid(_) => "invalid",
            Self::BadRequest(_) => "bad_request",
            Self::Conflict(_) => "conflict",
            Self::TooManyRequests => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The message a user may see: never the internal cause.
    pub fn public_message(&self) -> String {
        match self {
            Self::NotFound => "Not found.".into(),
            Self::Unauthenticated => "Please sign in.".into(),
            Self::TokenRefused(why) => format!("{why}."),
            Self::Forbidden(rule) => format!("You may not do this: {rule}."),
            Self::Invalid(fields) if fields.len() == 1 => {
                format!("{}: {}", fields[0].path, fields[0].message)
            }
            Self::Invalid(fields) => format!("{} fields are invalid.", fields.len()),
            Self::BadRequest(msg) | Self::Conflict(msg) => msg.clone(),
            Self::TooManyRequests => "Too many attempts; wait a minute and try again.".into(),
            Self::Unavailable(what) => {
                format!("{what} is unavailable right now; try again shortly.")
            }
            Self::Internal(_) => "Something went wrong.".into(),
        }
    }
}

impl From<crate::render::RenderError> for AppError {
    /// A spec that does not render is a problem of the spec; a context that does
    /// not (a bad namespace or image) is a problem of the environment.
    fn from(err: crate::render::RenderError) -> Self {
        match err {
            crate::render::RenderError::InvalidSpec(errors) => Self::invalid_fields(errors, "spec"),
            crate::render::RenderError::InvalidContext(errors) => {
                Self::invalid_fields(errors, "environment")
            }
        }
    }
}

impl From<tower_sessions::session::Error> for AppError {
    /// The session store failed: nothing the user can fix.
    fn from(err: tower_sessions::session::Error) -> Self {
        Self::Internal(anyhow::anyhow!("session: {err}"))
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => {
                Self::Unavailable("The database".into())
            }
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

/// What the error-rendering middleware needs to know about a failed request.
#[derive(Clone, Debug)]
pub struct ErrorReport {
    /// Machine-readable code.
    pub code: &'static str,
    /// Message safe to show.
    pub message: String,
    /// Field problems, when the input was invalid.
    pub fields: Vec<FieldError>,
    /// The internal cause, for the log only.
    pub internal: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let report = ErrorReport {
            code: self.code(),
            message: self.public_message(),
            fields: match &self {
                Self::Invalid(fields) => fields.clone(),
                _ => Vec::new(),
            },
            internal: match &self {
                Self::Internal(err) => Some(format!("{err:#}")),
                _ => None,
            },
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(report);
        response
    }
}

/// Adds `.on_constraint(name, f)`: maps a unique/foreign-key violation by its name.
pub trait ResultExt<T> {
    /// If the error is a violation of `constraint`, map it with `f`; else convert as usual.
    fn on_constraint(self, constraint: &str, f: impl FnOnce() -> AppError) -> Result<T, AppError>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, constraint: &str, f: impl FnOnce() -> AppError) -> Result<T, AppError> {
        self.map_err(|err| match &err {
            sqlx::Error::Database(db) if db.constraint() == Some(constraint) => f(),
            _ => AppError::from(err),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_error_never_shows_its_cause() {
        let err = AppError::Internal(anyhow::anyhow!("password=hunter2 in connection string"));
        assert_eq!(err.public_message(), "Something went wrong.");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn row_not_found_becomes_not_found() {
        assert!(matches!(
            AppError::from(sqlx::Error::RowNotFound),
            AppError::NotFound
        ));
    }

    #[test]
    fn invalid_with_one_field_names_it() {
        let err = AppError::invalid("email", "required");
        assert_eq!(err.public_message(), "email: required");
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
