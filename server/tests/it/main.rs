//! Slipway's integration tests: one binary, a module per area. They run against a
//! real PostgreSQL (`DATABASE_URL`, a fresh database per test via `#[sqlx::test]`)
//! and, for cluster tests, the local control plane (`SLIPWAY_TEST_KUBECONFIG`).
#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot go on should stop right there, naming what failed"
)]

mod harness;

mod access;
mod admin;
mod anonymous_exposure;
mod api;
mod approvals;
mod approvals_cluster;
mod audit_roles;
mod auth_sessions;
mod authz_matrix;
mod cli;
mod cli_client;
mod clusters;
mod csrf_all_routes;
mod deploy_worker;
mod deploys;
mod drift;
mod emulated_failures;
mod foundation;
mod freeze;
mod grants;
mod hooks;
mod identity_cache;
mod logging;
mod login_hardening;
mod mixed_load;
mod notifications;
mod pod_logs;
mod readiness;
mod real_node;
mod render_cluster;
mod runs_and_rollouts;
mod scaling_status;
mod security_headers;
mod seed;
mod services;
mod session_hardening;
mod sso;
mod status_cache;
mod tenancy;
mod wiring;
