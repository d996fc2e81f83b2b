//! Slipway: a self-service deployment portal for Python services on Kubernetes.
//!
//! `main.rs` only parses the command line; everything lives here so tests and
//! subcommands reuse it. See ARCHITECTURE.md for who may use whom.

pub mod app;
pub mod auth;
pub mod cli;
pub mod cli_spec;
pub mod cluster;
pub mod config;
pub mod deployer;
pub mod editing;
pub mod error;
pub mod local;
pub mod render;
pub mod seed;
pub mod spec;
pub mod store;
pub mod telemetry;
pub mod web;
