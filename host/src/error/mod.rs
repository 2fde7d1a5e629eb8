//! The error a person can act on: what went wrong, what to do about it, and a stable reason
//! code for scripts (`--json` shows all three). Commands report it; the modules that decide what
//! to tell the operator (the leader's launcher, ownership) build it.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// An error a user can act on: what went wrong, what to do, and a stable reason code.
#[derive(Debug)]
pub struct Refusal {
    pub message: String,
    pub action: Option<String>,
    pub reason: Option<&'static str>,
    /// Extra fields for the JSON answer.
    pub details: Value,
}

impl Refusal {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            action: None,
            reason: None,
            details: Value::Null,
        }
    }

    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    pub fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn details(mut self, details: impl Serialize) -> Self {
        self.details = serde_json::to_value(details).unwrap_or(Value::Null);
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

impl From<crate::state::StateError> for Refusal {
    fn from(e: crate::state::StateError) -> Self {
        Self::new(e.to_string()).action("see `team-agent doctor`")
    }
}
