//! The command line, run as a real process: one test binary, modules by what they
//! guard. The process helpers are in `util.rs`, once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod aggregate;
mod audit_answers;
#[cfg(unix)]
mod audit_crash;
mod commands;
mod compare;
mod conditions;
mod faults;
mod joint_render;
mod strict;
mod util;
