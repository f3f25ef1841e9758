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

// The layers, bottom up; each file uses only files of its own layer or below
// (docs/architecture.md). Private modules are re-exported below, one path per item.
pub mod audit;
pub mod authoring;
pub mod compare;
pub mod danger;
mod decision;
mod gate;
mod plan;
mod policy;
pub mod pseudonym;
mod support;

/// The strict JSON reader the gate reads records with: duplicate keys, nesting
/// deeper than a limit and invalid UTF-8 are errors, and no error quotes the input.
pub mod json {
    pub use crate::support::json::{parse_strict, JsonError, JsonErrorKind, DEFAULT_MAX_DEPTH};
}

// For case systems: the gate, transfers and their outcomes.
pub use decision::{
    Decision, FieldDecision, Outcome, RecordError, Refusal, Released, Removal, RemovalReason, Side,
    Transfer, Written, TRANSFER_MEMBER,
};
pub use gate::{
    gate_json_lines, gate_json_lines_parallel, AggregateError, AggregateReport, Aggregation, Cell,
    Flow, Gate, GateError, LineProblem, LineStats, Skip, Skipped, StreamError, AUDITED_BATCH_LINES,
    PLACEHOLDER,
};
pub use pseudonym::key::{ActiveKey, KeyRing, KeySet};
pub use pseudonym::keyfile::KeyFileError;
pub use support::limits::Limits;

// For policy authors: loading, checking and reading agreements and plans.
pub use plan::aggregate::AggregateTerms;
pub use plan::registry::{LoadError, PolicySet, PolicySource, Registry};
pub use plan::{ClauseRef, FieldPlan, FlowPlan, PlannedCondition, Via};
pub use policy::action::{Action, DomainId, Method};
pub use policy::agreement::{
    Agreement, Condition, NotInForce, PseudonymDomain, Regime, Retention, Rule, Selector, Status,
    DEFAULT_MIN_COUNT, MIN_COUNT_FLOOR,
};
pub use policy::condition::{Comparison, Test, MAX_CONDITION_DEPTH};
pub use policy::schema::{
    Bounds, Category, Event, Field, FieldId, Grant, LegalBasis, Release, Schema, ValueType,
};
pub use support::diag::{Diagnostic, Diagnostics, Severity};
pub use support::time::{amsterdam_date, Period};
