//! The deploy engine: the pure state machine in [`state`] and the [`worker`]
//! that claims queued deploys, applies them and records what happened. The
//! business actions that create and decide deploys are in `domain::deploys`.

pub mod state;
pub mod worker;

use sha2::{Digest, Sha256};

pub use state::{DeployEvent, DeployState, TransitionError, next};
pub use worker::{Worker, WorkerConfig};

/// sha256 hex of a text.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
