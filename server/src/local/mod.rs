//! The embedded default of `slipway run`: a private PostgreSQL and local files under `.slipway/`.

pub mod demo;
pub mod postgres;
pub mod state_dir;
