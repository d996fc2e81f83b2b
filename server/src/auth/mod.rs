//! Who is asking and what they may do: passwords, single sign-on, sessions, API tokens, CSRF and the policy.

pub mod activity;
pub mod client;
pub mod csrf;
pub mod extract;
pub mod oidc;
pub mod password;
pub mod policy;
pub mod purge;
pub mod throttle;
pub mod tokens;

pub use extract::{ApiUser, CurrentUser, MaybeUser};
