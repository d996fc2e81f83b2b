//! Freeze windows: periods in which deploys to an environment must not run.
//! The rules of the calendar are in the pure [`calendar`] module.

pub mod calendar;
