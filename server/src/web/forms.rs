//! Form problems as templates look them up.

use crate::error::FieldError;

/// Field problems of a form, looked up by field name in templates.
#[derive(Clone, Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    /// The first message for `path`, if any.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.message.as_str())
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every problem on one line, `path: message; …`, for a flash message.
    pub fn one_line(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
