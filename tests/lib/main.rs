//! Integration tests of the library: one test binary, modules by subject. The command
//! line, run as a process, is tested in `tests/cli/`; the policy test cases in
//! `tests/policy_cases.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod aggregates;
mod audit;
mod audit_attacks;
mod audit_doc;
mod audit_python;
mod audit_receipts;
mod cases;
mod compare;
mod concurrency;
mod conditions;
mod diagnostics;
mod faults;
mod fixtures;
mod house;
mod joint;
mod json_schemas;
mod json_test_suite;
mod lawful;
mod limits;
mod linkage;
mod no_panics;
mod properties;
mod provinces;
mod pseudonym_vectors;
mod records;
mod region;
mod replay;
mod secrets;
mod smuggling;
mod strict;
mod util;
