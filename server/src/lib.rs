//! Slipway: a self-service deployment portal for Python services on Kubernetes.
//!
//! `main.rs` only parses the command line; everything lives here so tests and
//! subcommands reuse it. `docs/architecture.md` maps the modules and who may use whom.

pub mod app;
pub mod auth;
pub mod cli;
pub mod cli_client;
pub mod cli_spec;
pub mod cluster;
pub mod config;
pub mod deploy_model;
pub mod deployer;
pub mod domain;
pub mod error;
pub mod local;
pub mod notify;
pub mod plan;
pub mod render;
pub mod secret;
pub mod seed;
pub mod spec;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod webhook;
