//! Tools for policy authors: test cases for agreements, run by `cargo test` and
//! `privacy-gate test`, and the JSON Schemas of the files authors write; agreements
//! rendered as documents a signatory reads ([`render`]).

mod cases;
mod document;
pub mod joint;
mod json_schema;
pub mod render;
mod words;

pub use cases::{
    load_cases, run_case, run_case_covering, Case, CaseFailure, Coverage, CoverageReport, Expect,
};
pub use json_schema::{agreement_schema, authoring_schemas, case_file_schema, schema_file_schema};
pub use words::Lang;
