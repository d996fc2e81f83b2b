//! The plain data of a deploy that every layer shares: its state, what
//! triggered it and an approver's decision. `store/` decodes its columns into
//! these, `deployer/` moves states with its pure state machine, `web/` shows them.
//! No logic beyond names lives here, so `store/` never imports `deployer/`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A stored name that is not one of an enum's values.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownName {
    /// Which kind of name (`deploy state`, `trigger`, `decision`).
    pub what: &'static str,
    /// The name found.
    pub value: String,
}

/// Implements `as_str`, `Display`, `FromStr` and `TryFrom<String>` (for
/// `#[sqlx(try_from = "String")]`) from one table of stored names, so the names
/// are written once.
macro_rules! stored_names {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$variant),+];

            /// The name stored in PostgreSQL and used by the API.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName { what: $what, value: s.to_owned() })
            }
        }

        impl TryFrom<String> for $ty {
            type Error = UnknownName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// Where a deploy is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeployState {
    /// Stored and rendered; being routed to approval or the queue.
    Requested,
    /// Requested inside a freeze window; moves on when the window ends.
    Held,
    /// Waiting for an administrator's decision.
    AwaitingApproval,
    /// Waiting for a worker.
    Queued,
    /// A worker is applying the objects.
    Applying,
    /// Applied; waiting for the rollout to finish.
    Progressing,
    /// The rollout finished.
    Succeeded,
    /// Something went wrong; the reason says what.
    Failed,
    /// An approver said no, or nobody decided in time (reason `expired`).
    Rejected,
    /// A newer deploy of the same service and environment took its place.
    Superseded,
}

impl DeployState {
    /// A label for people ("awaiting approval").
    pub fn label(self) -> &'static str {
        match self {
            DeployState::AwaitingApproval => "awaiting approval",
            other => other.as_str(),
        }
    }

    /// True when nothing will change the deploy any more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            DeployState::Succeeded
                | DeployState::Failed
                | DeployState::Rejected
                | DeployState::Superseded
        )
    }

    /// True while a worker holds the deploy.
    pub fn is_running(self) -> bool {
        matches!(self, DeployState::Applying | DeployState::Progressing)
    }
}

stored_names!(DeployState, "deploy state", {
    Requested => "requested",
    Held => "held",
    AwaitingApproval => "awaiting_approval",
    Queued => "queued",
    Applying => "applying",
    Progressing => "progressing",
    Succeeded => "succeeded",
    Failed => "failed",
    Rejected => "rejected",
    Superseded => "superseded",
});

/// How a deploy came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A person, in the portal or through the API.
    User,
    /// A git push webhook.
    Webhook,
    /// A rollback to an earlier deploy.
    Rollback,
}

stored_names!(Trigger, "trigger", {
    User => "user",
    Webhook => "webhook",
    Rollback => "rollback",
});

/// An approver's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Let the deploy go to the queue.
    Approve,
    /// Stop it.
    Reject,
}

stored_names!(Decision, "decision", {
    Approve => "approve",
    Reject => "reject",
});

/// A deploy event that notification targets can ask for (`domain::notifications`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationEvent {
    /// A deploy waits for an administrator's decision.
    AwaitingApproval,
    /// An administrator let it go to the queue.
    Approved,
    /// An administrator said no.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// The rollout finished.
    Succeeded,
    /// The deploy failed; its reason says why.
    Failed,
    /// An administrator's "send a test event": never configurable, sent to one target.
    Test,
}

impl NotificationEvent {
    /// The events a target may subscribe to (every one but `test`).
    pub const CONFIGURABLE: [NotificationEvent; 6] = [
        NotificationEvent::AwaitingApproval,
        NotificationEvent::Approved,
        NotificationEvent::Rejected,
        NotificationEvent::Expired,
        NotificationEvent::Succeeded,
        NotificationEvent::Failed,
    ];
}

stored_names!(NotificationEvent, "notification event", {
    AwaitingApproval => "awaiting_approval",
    Approved => "approved",
    Rejected => "rejected",
    Expired => "expired",
    Succeeded => "succeeded",
    Failed => "failed",
    Test => "test",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_name_reads_back_as_its_value() {
        for state in DeployState::ALL {
            assert_eq!(state.as_str().parse::<DeployState>().unwrap(), state);
        }
        for trigger in Trigger::ALL {
            assert_eq!(Trigger::try_from(trigger.to_string()).unwrap(), trigger);
        }
        for decision in Decision::ALL {
            assert_eq!(decision.as_str().parse::<Decision>().unwrap(), decision);
        }
    }

    #[test]
    fn an_unknown_name_says_what_it_was() {
        let err = "paused".parse::<DeployState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown deploy state `paused`");
    }

    #[test]
    fn states_serialize_as_their_stored_names() {
        assert_eq!(
            serde_json::to_string(&DeployState::AwaitingApproval).unwrap(),
            "\"awaiting_approval\""
        );
    }
}
