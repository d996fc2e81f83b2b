//! Kubernetes: the only module that talks to the API server.

pub mod apply;
pub mod connection;
pub mod credentials;
pub mod diff;
pub mod drift;
pub mod events;
pub mod fleet;
pub mod logs;
pub mod plan;
pub mod preflight;
pub mod reach;
pub mod requests;
pub mod retry;
pub mod rollout;
pub mod status;
pub mod tenant;
pub mod wiring;

pub use connection::{ClusterState, Handle, KubeSource};
pub use fleet::{Fleet, Member};
