//! Integration tests of the library: one test binary, modules by subject.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod audit;
mod cases;
mod compare;
mod concurrency;
mod diagnostics;
mod faults;
mod fixtures;
mod limits;
mod no_panics;
mod properties;
mod provinces;
mod records;
mod replay;
mod secrets;
