//! Kubernetes: the only module that talks to the API server.

pub mod connection;

pub use connection::{ClusterState, Handle, KubeSource};
