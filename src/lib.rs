#![doc = include_str!("../README.md")]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
// The library never prints: `print!` and friends panic when the stream is closed,
// and what to show is the caller's choice.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod action;
pub mod agreement;
pub mod audit;
pub mod cases;
pub mod compare;
pub mod diag;
pub mod gate;
pub mod json;
pub mod json_schema;
pub mod limits;
pub mod lines;
pub mod plan;
pub mod pseudonym;
pub mod registry;
pub mod schema;
mod suggest;
pub mod time;

pub use action::{Action, DomainId, Method};
pub use agreement::{Agreement, NotInForce, Regime, Status};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use gate::{
    Decision, FieldDecision, Flow, Gate, GateError, Outcome, RecordError, Refusal, Released,
    Removal, RemovalReason, Side, Transfer, Written, PLACEHOLDER, TRANSFER_MEMBER,
};
pub use json::{JsonError, JsonErrorKind, DEFAULT_MAX_DEPTH};
pub use limits::Limits;
pub use lines::{gate_json_lines, gate_json_lines_parallel, LineProblem, LineStats, StreamError};
pub use plan::{ClauseRef, FieldPlan, FlowPlan, Via};
pub use pseudonym::{KeyFileError, KeyRing, ValueProblem};
pub use registry::{LoadError, PolicySet, PolicySource, Registry};
pub use schema::{Schema, ValueType};
