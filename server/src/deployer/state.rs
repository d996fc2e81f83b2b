//! The deploy state machine: which event moves a deploy from which state to which.
//!
//! Pure: no clock, no I/O. Everything that changes a deploy's state asks [`next`]
//! first and stores the answer with a compare-and-set on the old state, so an
//! impossible move is an error here instead of a silent overwrite in PostgreSQL.
//!
//! ```text
//! requested ─┬─► awaiting_approval ─┬─► queued ─► applying ─► progressing ─► succeeded
//!            │         ▲            └─► rejected     ▲  │            │
//!            ├─► held ─┴─► queued  (freeze ended)    └──┴── reclaim ─┘   (a lease ran out)
//!            └─► queued
//! awaiting_approval ─► rejected (an approver said no, or expired)
//! held / queued / awaiting_approval ─► superseded (a newer deploy of the same service and environment)
//! requested / queued / applying / progressing ─► failed (with a reason)
//! ```

pub use crate::deploy_model::DeployState;

/// Something that happens to a deploy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployEvent {
    /// Rendered and stored; `needs_approval` comes from the environment's policy.
    Validated {
        /// The environment requires approvals.
        needs_approval: bool,
    },
    /// Requested inside a freeze window whose policy is to hold.
    Frozen,
    /// The freeze window ended (or an administrator released it).
    Released {
        /// The environment requires approvals.
        needs_approval: bool,
    },
    /// Enough eligible approvers approved it.
    Approved,
    /// An approver rejected it.
    Rejected,
    /// Nobody decided before its deadline.
    Expired,
    /// A newer deploy of the same service and environment was queued.
    Superseded,
    /// A worker took it (with a fresh lease).
    Claimed,
    /// Every object was applied and pruned.
    Applied,
    /// The rollout finished (or there is nothing to roll out, as for a CronJob).
    RolledOut,
    /// A worker's lease ran out and another worker takes the deploy over: it starts
    /// again at applying, which is safe because server-side apply is idempotent.
    Reclaimed,
    /// It cannot go on: render, apply or rollout failed, the cluster is unreachable,
    /// or its worker died too often.
    Failed,
}

impl DeployEvent {
    /// Every event, for the exhaustive table test.
    pub const ALL: [DeployEvent; 14] = [
        DeployEvent::Validated {
            needs_approval: false,
        },
        DeployEvent::Validated {
            needs_approval: true,
        },
        DeployEvent::Frozen,
        DeployEvent::Released {
            needs_approval: false,
        },
        DeployEvent::Released {
            needs_approval: true,
        },
        DeployEvent::Approved,
        DeployEvent::Rejected,
        DeployEvent::Expired,
        DeployEvent::Superseded,
        DeployEvent::Claimed,
        DeployEvent::Applied,
        DeployEvent::RolledOut,
        DeployEvent::Reclaimed,
        DeployEvent::Failed,
    ];
}

/// An event that cannot happen in the deploy's current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a deploy that is {from} cannot take the event {event:?}")]
pub struct TransitionError {
    /// The state the deploy is in.
    pub from: DeployState,
    /// The event that was refused.
    pub event: DeployEvent,
}

/// The state after `event` happens to a deploy in `state`, or why it cannot.
pub fn next(state: DeployState, event: DeployEvent) -> Result<DeployState, TransitionError> {
    use DeployEvent as E;
    use DeployState as S;
    let to = match (state, event) {
        (S::Requested, E::Validated { needs_approval })
        | (S::Held, E::Released { needs_approval }) => {
            if needs_approval {
                S::AwaitingApproval
            } else {
                S::Queued
            }
        }
        (S::Requested, E::Frozen) => S::Held,
        (S::AwaitingApproval, E::Approved) => S::Queued,
        (S::AwaitingApproval, E::Rejected | E::Expired) => S::Rejected,
        (S::Held | S::AwaitingApproval | S::Queued, E::Superseded) => S::Superseded,
        (S::Queued, E::Claimed) => S::Applying,
        (S::Applying, E::Applied) => S::Progressing,
        (S::Progressing, E::RolledOut) => S::Succeeded,
        (S::Applying | S::Progressing, E::Reclaimed) => S::Applying,
        (S::Requested | S::Queued | S::Applying | S::Progressing, E::Failed) => S::Failed,
        (from, event) => return Err(TransitionError { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeployEvent as E;
    use DeployState as S;

    /// Every allowed move; anything not listed must be refused.
    const ALLOWED: &[(DeployState, DeployEvent, DeployState)] = &[
        (
            S::Requested,
            E::Validated {
                needs_approval: false,
            },
            S::Queued,
        ),
        (
            S::Requested,
            E::Validated {
                needs_approval: true,
            },
            S::AwaitingApproval,
        ),
        (S::Requested, E::Failed, S::Failed),
        (S::Requested, E::Frozen, S::Held),
        (
            S::Held,
            E::Released {
                needs_approval: false,
            },
            S::Queued,
        ),
        (
            S::Held,
            E::Released {
                needs_approval: true,
            },
            S::AwaitingApproval,
        ),
        (S::Held, E::Superseded, S::Superseded),
        (S::AwaitingApproval, E::Approved, S::Queued),
        (S::AwaitingApproval, E::Rejected, S::Rejected),
        (S::AwaitingApproval, E::Expired, S::Rejected),
        (S::AwaitingApproval, E::Superseded, S::Superseded),
        (S::Queued, E::Superseded, S::Superseded),
        (S::Queued, E::Claimed, S::Applying),
        (S::Queued, E::Failed, S::Failed),
        (S::Applying, E::Applied, S::Progressing),
        (S::Applying, E::Reclaimed, S::Applying),
        (S::Applying, E::Failed, S::Failed),
        (S::Progressing, E::RolledOut, S::Succeeded),
        (S::Progressing, E::Reclaimed, S::Applying),
        (S::Progressing, E::Failed, S::Failed),
    ];

    #[test]
    fn every_state_and_event_pair_follows_the_table() {
        let mut checked = 0;
        for state in DeployState::ALL {
            for event in DeployEvent::ALL {
                let expected = ALLOWED
                    .iter()
                    .find(|(s, e, _)| *s == state && *e == event)
                    .map(|(_, _, to)| *to);
                match (next(state, event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{state} + {event:?}"),
                    (Err(err), None) => {
                        assert_eq!(err, TransitionError { from: state, event })
                    }
                    (got, want) => panic!("{state} + {event:?}: got {got:?}, want {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 10 * 14);
    }

    #[test]
    fn finished_deploys_take_no_event_at_all() {
        for state in DeployState::ALL.into_iter().filter(|s| s.is_finished()) {
            for event in DeployEvent::ALL {
                assert!(next(state, event).is_err(), "{state} + {event:?}");
            }
        }
    }

    #[test]
    fn an_approval_required_deploy_never_reaches_the_queue_without_approval() {
        let waiting = next(
            S::Requested,
            E::Validated {
                needs_approval: true,
            },
        )
        .unwrap();
        assert!(next(waiting, E::Claimed).is_err());
        assert_eq!(next(waiting, E::Approved).unwrap(), S::Queued);
    }

    #[test]
    fn a_held_deploy_reaches_the_queue_only_through_release_and_its_approvals() {
        let held = next(S::Requested, E::Frozen).unwrap();
        assert!(next(held, E::Claimed).is_err());
        assert!(next(held, E::Approved).is_err());
        assert_eq!(
            next(
                held,
                E::Released {
                    needs_approval: true
                }
            )
            .unwrap(),
            S::AwaitingApproval
        );
    }

    #[test]
    fn a_running_deploy_cannot_be_superseded() {
        assert!(next(S::Applying, E::Superseded).is_err());
        assert!(next(S::Progressing, E::Superseded).is_err());
    }

    #[test]
    fn state_names_round_trip() {
        for state in DeployState::ALL {
            assert_eq!(state.as_str().parse::<DeployState>().unwrap(), state);
        }
        assert!("running".parse::<DeployState>().is_err());
    }

    #[test]
    fn only_the_four_end_states_are_finished() {
        let finished: Vec<_> = DeployState::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(
            finished,
            [S::Succeeded, S::Failed, S::Rejected, S::Superseded]
        );
    }
}
