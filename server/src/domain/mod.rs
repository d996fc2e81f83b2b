//! The business actions of Slipway, one module per aggregate. The portal, the
//! JSON API, the CLI and git push webhooks call these and nothing else changes
//! state: a handler extracts, authorizes (`auth::policy`), calls one function
//! here and renders its answer.
//!
//! Every action checks its input before it opens a transaction, and writes its
//! change and its audit entry (the action names are the `actions` constants of
//! each module) in that one transaction. Errors are [`crate::error::AppError`]s
//! named by what the caller should see; the CLI prints them, the web renders them.

pub mod accounts;
pub mod approvals;
pub mod catalog_cache;
pub mod clusters;
pub mod deploys;
pub mod drift;
pub mod environments;
pub mod freeze;
pub mod grants;
pub mod hook_cache;
pub mod hook_judge;
pub mod hooks;
pub mod logs;
pub mod namespaces;
pub mod notifications;
pub mod plans;
pub mod quotas;
pub mod scaling;
pub mod secrets;
pub mod services;
pub mod shared_reads;
pub mod sso;
pub mod tenancy;
pub mod waiting;
