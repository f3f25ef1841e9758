//! Tools for policy authors: test cases for agreements, run by `cargo test` and
//! `privacy-gate test`, and the JSON Schemas of the files authors write.

mod cases;
mod json_schema;

pub use cases::{
    load_cases, run_case, run_case_covering, Case, CaseFailure, Coverage, CoverageReport, Expect,
};
pub use json_schema::{agreement_schema, authoring_schemas, case_file_schema, schema_file_schema};
