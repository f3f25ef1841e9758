//! Test cases for agreements, written by policy authors as JSON next to the
//! agreements (`policies/<province>/tests/*.json`) and run by `cargo test` and
//! `privacy-gate test`.
//!
//! ```json
//! {"cases": [{
//!   "name": "ggd-signal-pseudonymises-the-bsn",
//!   "transfer": {"from": "drenthe/ggd", "to": "drenthe/zvh",
//!                "purpose": "signal-assessment", "at": "2026-03-02T10:00:00Z"},
//!   "record": {"subject": {"bsn": "999998523", "birth_date": "1990-07-15"}},
//!   "expect": {"fields": {"subject.bsn": {"pseudonymise": {"domain": "drenthe/zvh-signalen"}},
//!                         "subject.birth_date": "pass"},
//!              "values": {"subject.birth_date": "1990-07-15"}}
//! }]}
//! ```
//!
//! `expect` holds either `refused` (the refusal's reason, like `not-in-force` or
//! `condition-not-met`) or `fields` (expected action per path; paths not named are
//! not checked), optionally `values` (the exact released value of passed or
//! generalised fields, at a path outside arrays) and `absent` (paths that must carry
//! no value in the released record, such as an invalid BSN), `removed` (the reason a
//! field's value was removed, like `condition-not-met`) and `retain_until` (the
//! day in the released record's `_transfer` terms, or `null`). Along a flow that
//! releases aggregates only, no record crosses: such a case expects `refused`
//! (`aggregates-only`), or `cell` (the record's value at every dimension of the flow,
//! the cell it would count in), optionally with `fields`.

use crate::decision::{Outcome, Transfer};
use crate::gate::Gate;
use crate::support::diag::{Diagnostic, Diagnostics};
use crate::{Action, Registry};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Test cases for the agreements: each gates one record and states the expected
/// refusal, or the expected action and value per field. File:
/// `policies/<province>/tests/*.json`; `cargo test` and `privacy-gate test` run them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CaseFile", title = "privacy-gate agreement test cases")]
pub(crate) struct CaseFile {
    /// The JSON Schema of this file, for editors (`../../cases.schema.json`); the gate
    /// ignores it.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    /// The cases; each runs as its own test, named `<province>/<file>/<name>`.
    cases: Vec<CaseSpec>,
}

/// One test case: a transfer of one record, and what must come out.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Case")]
struct CaseSpec {
    /// The case's name, like `ggd-signal-pseudonymises-the-bsn`; unique in its file.
    name: String,
    /// Who sends to whom, for which purpose, when.
    transfer: TransferSpec,
    /// The record as the sender would pass it to the gate.
    record: Value,
    /// What must come out: a refusal, or the actions and values of released fields.
    expect: Expect,
}

/// A transfer: who sends to whom, for which purpose, when.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Transfer")]
struct TransferSpec {
    /// The sender's organisation id, like `drenthe/ggd`.
    #[schemars(regex(pattern = crate::support::ident::ORGANISATION_PATTERN))]
    from: String,
    /// The recipient's organisation id, like `noord-nederland/politie`.
    #[schemars(regex(pattern = crate::support::ident::ORGANISATION_PATTERN))]
    to: String,
    /// The purpose, an id from `policies/schema.json`.
    purpose: String,
    /// The moment of transfer, RFC 3339 (`2026-03-02T10:00:00Z`); it decides which
    /// agreements are in force.
    #[schemars(regex(pattern = crate::support::ident::DATE_TIME_PATTERN))]
    at: DateTime<Utc>,
}

/// What a case expects: `refused`, or else `fields` and/or `values`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["refused"], "maxProperties": 1 },
    { "not": { "required": ["refused"] }, "minProperties": 1 }
]))]
pub struct Expect {
    /// That the record is refused whole, for this reason: `not-in-force` (an agreement
    /// is a draft, not yet valid or expired), `purpose-not-agreed`, `no-rule`,
    /// `condition-not-met`, `retention-expired` (a retention period from an event the
    /// record marks ended before the transfer) or `aggregates-only` (the flow releases
    /// counts, no record).
    #[serde(default)]
    #[schemars(extend(
        "examples" = ["not-in-force", "purpose-not-agreed", "no-rule", "condition-not-met", "retention-expired", "aggregates-only"]
    ))]
    pub refused: Option<String>,
    /// For a flow that releases aggregates only: the cell the record counts in, as the
    /// value at every dimension of the flow (`null` where no value crosses), like
    /// `{"case.opened_on": "2026", "subject.is_minor": false}`. The case also checks
    /// that no record crosses the flow. Goes with `fields`, not with `values` or
    /// `absent`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": crate::policy::schema::FIELD_PATH_PATTERN }))]
    pub cell: Option<BTreeMap<String, Value>>,
    /// The expected action per field path (paths not named are not checked).
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": crate::policy::schema::FIELD_PATH_PATTERN }))]
    pub fields: BTreeMap<String, Action>,
    /// The exact released value per field path, for passed or generalised fields outside
    /// arrays (like `"subject.birth_date": "1990"`).
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": crate::policy::schema::FIELD_PATH_PATTERN }))]
    pub values: BTreeMap<String, Value>,
    /// Field paths that must have no value in the released record, whatever their
    /// action: blocked, or removed because the value was invalid or of the wrong type
    /// (like an invalid BSN). Inside arrays (`contacts[].summary`), no element may
    /// have it.
    #[serde(default)]
    #[schemars(extend("items" = { "pattern": crate::policy::schema::FIELD_PATH_PATTERN }))]
    pub absent: Vec<String>,
    /// Per field path, the reason its value was removed although the field may cross:
    /// `condition-not-met` (its path entry's condition did not hold), `wrong-type`,
    /// `out-of-bounds`, `invalid-bsn`, `invalid-value` or
    /// `identifier-in-passing-field`.
    #[serde(default)]
    #[schemars(extend(
        "propertyNames" = { "pattern": crate::policy::schema::FIELD_PATH_PATTERN },
        "additionalProperties" = {
            "type": "string",
            "examples": ["condition-not-met", "wrong-type", "out-of-bounds", "invalid-bsn", "invalid-value", "identifier-in-passing-field"]
        }
    ))]
    pub removed: BTreeMap<String, String>,
    /// The last day the recipient may keep the record, as its `_transfer` terms say
    /// (`"2027-03-02"`), or `null` when no deadline can be counted yet (a retention
    /// that waits for an event the record does not mark).
    #[serde(default, deserialize_with = "present")]
    #[schemars(extend("oneOf" = [
        { "type": "string", "pattern": crate::support::ident::DATE_PATTERN },
        { "const": null }
    ]))]
    pub retain_until: Option<Value>,
}

/// A member that is present, even as `null`, is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Expect {
    /// Whether the case expects anything of a released record.
    fn expects_release(&self) -> bool {
        !(self.fields.is_empty()
            && self.values.is_empty()
            && self.absent.is_empty()
            && self.cell.is_none()
            && self.removed.is_empty()
            && self.retain_until.is_none())
    }
}

/// One case, ready to run.
#[derive(Clone, Debug)]
pub struct Case {
    /// `province/file/case`, the test's name.
    pub id: String,
    /// The case file.
    pub file: PathBuf,
    from: String,
    to: String,
    purpose: String,
    at: DateTime<Utc>,
    record: Value,
    /// What it expects.
    pub expect: Expect,
}

/// Finds and checks every case file under `policies/<province>/tests/`.
///
/// # Errors
///
/// Every malformed case file (with line and column) and every case that names an
/// unknown organisation, purpose or path, or expects nothing.
///
/// # Examples
///
/// ```
/// use privacy_gate::authoring::{load_cases, run_case};
/// use privacy_gate::{danger, Gate, Registry};
///
/// let policies = std::path::Path::new("policies");
/// let registry = Registry::load_dir(policies)?;
/// let cases = load_cases(policies, &registry)?;
/// // Cases run with fixed, public test keys: never with real ones.
/// let keys = danger::test_keys(&registry);
/// let gate = Gate::new(registry, keys);
/// for case in &cases {
///     run_case(&gate, case)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_cases(policies: &Path, registry: &Registry) -> Result<Vec<Case>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut cases = Vec::new();
    let mut files = Vec::new();
    if let Ok(provinces) = std::fs::read_dir(policies) {
        for province in provinces
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
        {
            if let Ok(entries) = std::fs::read_dir(province.join("tests")) {
                files.extend(
                    entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "json")),
                );
            }
        }
    }
    files.sort();
    for path in files {
        let file = path.display().to_string();
        let max_bytes = crate::support::limits::DEFAULT_MAX_POLICY_FILE_BYTES;
        let text = match crate::policy::source::read_bounded(&path, max_bytes) {
            Ok(text) => text,
            Err(e) => {
                diags.push(Diagnostic::error(
                    &file,
                    format!("cannot read case file: {e}"),
                ));
                continue;
            }
        };
        let Some(parsed) =
            crate::support::diag::parse_file::<CaseFile>(&file, &text, None, &mut diags)
        else {
            continue;
        };
        let province = path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, spec) in parsed.cases.into_iter().enumerate() {
            let pointer = format!("/cases/{i}");
            let mut problem = |message: String| {
                diags.push(
                    Diagnostic::error(&file, format!("case `{}`: {message}", spec.name))
                        .at_pointer(&text, &pointer),
                );
            };
            for org in [&spec.transfer.from, &spec.transfer.to] {
                if registry.agreement(org).is_none() {
                    let hint = registry
                        .suggest_organisation(org)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    problem(format!("unknown organisation `{org}`{hint}"));
                }
            }
            if !registry
                .schema()
                .purposes
                .contains_key(&spec.transfer.purpose)
            {
                let hint = registry
                    .suggest_purpose(&spec.transfer.purpose)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                problem(format!("unknown purpose `{}`{hint}", spec.transfer.purpose));
            }
            let expect = &spec.expect;
            let cell = expect.cell.iter().flat_map(BTreeMap::keys);
            for path in expect
                .fields
                .keys()
                .chain(expect.values.keys())
                .chain(&expect.absent)
                .chain(cell)
                .chain(expect.removed.keys())
            {
                if registry.schema().field(path).is_none() {
                    problem(format!("unknown field path `{path}`"));
                }
            }
            if expect.refused.is_none() && !expect.expects_release() {
                problem(
                    "expects nothing, so it could never fail: add `refused`, `fields`, `values`, `absent`, `removed` or `retain_until`"
                        .into(),
                );
            }
            // A day that is not `YYYY-MM-DD` could never equal the one the gate
            // writes, so the case could never pass: say so now.
            let day = |v: &Value| {
                v.as_str().is_some_and(|t| {
                    chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok() && t.len() == 10
                })
            };
            if let Some(v) = expect
                .retain_until
                .as_ref()
                .filter(|v| !v.is_null() && !day(v))
            {
                let shown = if v.is_string() {
                    "a text"
                } else {
                    "a non-text value"
                };
                problem(format!(
                    "`retain_until` is {shown} that is no day: write the last day the recipient may keep the record as `YYYY-MM-DD`, or `null` when no deadline can be counted yet"
                ));
            }
            if expect.refused.is_some() && expect.expects_release() {
                problem("expects a refusal and released fields at once".into());
            }
            if expect.cell.is_some() && !(expect.values.is_empty() && expect.absent.is_empty()) {
                problem(
                    "expects a cell and released values at once: along a flow of aggregates no record crosses, so `cell` goes with `fields` only"
                        .into(),
                );
            }
            cases.push(Case {
                id: format!("{province}/{stem}/{}", spec.name),
                file: path.clone(),
                from: spec.transfer.from,
                to: spec.transfer.to,
                purpose: spec.transfer.purpose,
                at: spec.transfer.at,
                record: spec.record,
                expect: spec.expect,
            });
        }
    }
    diags.sort();
    if diags.error_count() > 0 {
        Err(diags)
    } else {
        Ok(cases)
    }
}

/// A case whose outcome differs from its expectations: the report, in the author's
/// terms, is its `Display` (one line naming the case, then one indented line per
/// difference).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{report}")]
pub struct CaseFailure {
    report: String,
}

/// Runs one case; on failure, a report in the author's terms: per field that
/// differs, the path, the expected and the actual action, and the deciding clauses.
///
/// # Errors
///
/// The report of what differs.
pub fn run_case(gate: &Gate, case: &Case) -> Result<(), CaseFailure> {
    run_case_covering(gate, case, &mut Coverage::default())
}

/// As [`run_case`], also noting in `coverage` which rules and rule entries decided.
///
/// # Errors
///
/// The report of what differs.
pub fn run_case_covering(
    gate: &Gate,
    case: &Case,
    coverage: &mut Coverage,
) -> Result<(), CaseFailure> {
    let transfer = Transfer {
        from: &case.from,
        to: &case.to,
        purpose: &case.purpose,
        at: case.at,
    };
    if let Some(cell) = &case.expect.cell {
        return run_cell_case(gate, case, &transfer, cell, coverage);
    }
    let outcome = gate
        .apply(&transfer, case.record.clone())
        .map_err(|e| CaseFailure {
            report: format!(
                "{}: the record cannot be gated: {}",
                case.id,
                crate::support::diag::error_chain(&e)
            ),
        })?;
    coverage.note(gate, &transfer, &outcome);
    let mut problems = Vec::new();
    match (&case.expect.refused, outcome) {
        (Some(reason), Outcome::Refused(refusal)) => {
            let actual = serde_json::to_value(&refusal)
                .ok()
                .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned));
            if actual.as_deref() != Some(reason.as_str()) {
                problems.push(format!(
                    "expected refused ({reason}), but refused: {refusal}"
                ));
            }
        }
        (Some(reason), Outcome::Released(_)) => problems.push(format!(
            "expected refused ({reason}), but the record was released"
        )),
        (None, Outcome::Refused(refusal)) => {
            problems.push(format!("expected a release, but refused: {refusal}"))
        }
        (None, Outcome::Released(released)) => {
            let schema = gate.registry().schema();
            let decided: BTreeMap<&str, _> =
                released.decision.fields().map(|f| (f.path, f)).collect();
            for (path, expected) in &case.expect.fields {
                let Some(field) = decided.get(path.as_str()) else {
                    problems.push(format!(
                        "{path}: expected {expected}, but the record has no value there"
                    ));
                    continue;
                };
                if field.action != expected {
                    let clause = |c: Option<&crate::ClauseRef>, a: &Action| match c {
                        Some(c) => format!("{} rule `{}` ({a})", c.agreement, c.rule),
                        None => format!("no rule ({a}, default deny)"),
                    };
                    problems.push(format!(
                        "{path}: expected {expected}, actual {}; sender: {}; recipient: {}",
                        field.action,
                        clause(field.sender_clause, field.sender_action),
                        clause(field.recipient_clause, field.recipient_action)
                    ));
                }
            }
            for (path, expected) in &case.expect.values {
                let pointer = format!("/{}", path.replace('.', "/"));
                let actual = released.record.pointer(&pointer);
                if schema
                    .field(path)
                    .is_some_and(|id| schema.field_by_id(id).is_some_and(|f| f.in_array))
                {
                    problems.push(format!(
                        "{path}: `values` cannot name a path inside an array"
                    ));
                } else if actual != Some(expected) {
                    let shown = actual.map_or_else(|| "nothing".to_owned(), ToString::to_string);
                    problems.push(format!("{path}: expected value {expected}, actual {shown}"));
                }
            }
            for (path, reason) in &case.expect.removed {
                let actual: Vec<String> = released
                    .decision
                    .removed()
                    .iter()
                    .filter(|r| r.path.as_deref() == Some(path.as_str()))
                    .filter_map(|r| serde_json::to_value(r.reason).ok())
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                if !actual.iter().any(|a| a == reason) {
                    let shown = if actual.is_empty() {
                        "no value was removed there".to_owned()
                    } else {
                        format!("removed for {}", actual.join(", "))
                    };
                    problems.push(format!("{path}: expected removed ({reason}), but {shown}"));
                }
            }
            if let Some(expected) = &case.expect.retain_until {
                let actual = released
                    .record
                    .get(crate::TRANSFER_MEMBER)
                    .and_then(|t| t.get("retain_until"));
                if actual != Some(expected) {
                    let shown = actual.map_or_else(|| "nothing".to_owned(), ToString::to_string);
                    problems.push(format!("retain_until: expected {expected}, actual {shown}"));
                }
            }
            for path in &case.expect.absent {
                let present = values_at(&released.record, path);
                if present > 0 {
                    let decision = decided
                        .get(path.as_str())
                        .map_or_else(String::new, |f| format!(" (action {})", f.action));
                    problems.push(format!(
                        "{path}: expected no value, but {present} crossed{decision}"
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CaseFailure {
            report: format!(
                "{} ({}) failed:\n  {}",
                case.id,
                case.file.display(),
                problems.join("\n  ")
            ),
        })
    }
}

/// Runs a case that expects a cell: the row path must refuse the record, and the
/// record must count in exactly the expected cell.
fn run_cell_case(
    gate: &Gate,
    case: &Case,
    transfer: &Transfer<'_>,
    expected: &BTreeMap<String, Value>,
    coverage: &mut Coverage,
) -> Result<(), CaseFailure> {
    let mut problems = Vec::new();
    match gate.apply(transfer, case.record.clone()) {
        Ok(Outcome::Refused(crate::Refusal::AggregatesOnly { .. })) => {}
        Ok(Outcome::Refused(refusal)) => problems.push(format!(
            "expected a cell, but the transfer was refused: {refusal}"
        )),
        Ok(Outcome::Released(_)) => problems.push(
            "expected a cell, but the record crossed as a row: the flow does not release aggregates only"
                .into(),
        ),
        Err(e) => problems.push(format!(
            "the record cannot be gated: {}",
            crate::support::diag::error_chain(&e)
        )),
    }
    match gate.aggregation(transfer) {
        Err(e) => problems.push(format!("expected a cell, but {e}")),
        Ok(aggregation) => match aggregation.cell_of(case.record.clone()) {
            Err(skip) => problems.push(format!("expected a cell, but the record is {skip}")),
            Ok((values, released)) => {
                let paths = aggregation.dimension_paths();
                for (path, value) in paths.iter().zip(&values) {
                    match expected.get(&**path) {
                        None => problems.push(format!(
                            "{path}: a dimension of the flow, with value {value} here; name it in `cell`"
                        )),
                        Some(want) if want != value => problems.push(format!(
                            "{path}: expected value {want} in the cell, actual {value}"
                        )),
                        Some(_) => {}
                    }
                }
                for path in expected.keys() {
                    if !paths.iter().any(|p| **p == **path) {
                        problems.push(format!("{path}: not a dimension of this flow"));
                    }
                }
                let decided: BTreeMap<&str, _> =
                    released.decision.fields().map(|f| (f.path, f)).collect();
                for (path, want) in &case.expect.fields {
                    match decided.get(path.as_str()) {
                        None => problems.push(format!(
                            "{path}: expected {want}, but the record has no value there"
                        )),
                        Some(field) if field.action != want => problems
                            .push(format!("{path}: expected {want}, actual {}", field.action)),
                        Some(_) => {}
                    }
                }
                coverage.note(gate, transfer, &Outcome::Released(released));
            }
        },
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CaseFailure {
            report: format!(
                "{} ({}) failed:\n  {}",
                case.id,
                case.file.display(),
                problems.join("\n  ")
            ),
        })
    }
}

/// How many values `record` holds at the schema path `path` (`a.b`, `list[].c`).
fn values_at(record: &Value, path: &str) -> usize {
    fn walk(at: &Value, segments: &[&str]) -> usize {
        let Some((first, rest)) = segments.split_first() else {
            return 1;
        };
        let (name, is_array) = match first.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (*first, false),
        };
        match at.get(name) {
            None => 0,
            Some(Value::Array(items)) if is_array => {
                items.iter().map(|item| walk(item, rest)).sum()
            }
            Some(_) if is_array => 0,
            Some(inner) => walk(inner, rest),
        }
    }
    let segments: Vec<&str> = path.split('.').collect();
    walk(record, &segments)
}

/// Which rules, and which entries of rules (a category or a path), test cases made
/// decide something.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// (agreement, rule, entry); entry `None` for the rule as a whole.
    hits: std::collections::BTreeSet<(String, String, Option<String>)>,
}

/// What no case exercised, per agreement.
#[derive(Clone, Debug, Default)]
pub struct CoverageReport {
    /// Rules in all agreements.
    pub rules: usize,
    /// Rules some case exercised.
    pub rules_hit: usize,
    /// Rule entries (categories and paths) in all agreements.
    pub entries: usize,
    /// Entries some case exercised.
    pub entries_hit: usize,
    /// Per agreement: the rules not exercised, and per exercised rule its entries not exercised.
    pub missing: Vec<(String, Vec<String>)>,
}

impl CoverageReport {
    /// Rule coverage in percent.
    pub fn rule_percent(&self) -> f64 {
        if self.rules == 0 {
            100.0
        } else {
            self.rules_hit as f64 * 100.0 / self.rules as f64
        }
    }
}

impl std::fmt::Display for CoverageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (agreement, lines) in &self.missing {
            writeln!(f, "{agreement}:")?;
            for line in lines {
                writeln!(f, "  {line}")?;
            }
        }
        write!(
            f,
            "coverage: {}/{} rules ({:.1}%), {}/{} rule entries",
            self.rules_hit,
            self.rules,
            self.rule_percent(),
            self.entries_hit,
            self.entries
        )
    }
}

impl Coverage {
    fn hit(&mut self, agreement: &str, rule: &str, entry: Option<&str>) {
        self.hits
            .insert((agreement.to_owned(), rule.to_owned(), None));
        if let Some(entry) = entry {
            self.hits.insert((
                agreement.to_owned(),
                rule.to_owned(),
                Some(entry.to_owned()),
            ));
        }
    }

    fn note(&mut self, gate: &Gate, transfer: &Transfer<'_>, outcome: &Outcome) {
        match outcome {
            Outcome::Released(released) => {
                for field in released.decision.fields() {
                    for clause in [field.sender_clause, field.recipient_clause]
                        .into_iter()
                        .flatten()
                    {
                        let entry = match clause.via {
                            crate::Via::Path => field.path,
                            crate::Via::Category => field.category,
                        };
                        self.hit(&clause.agreement, &clause.rule, Some(entry));
                    }
                }
            }
            // The rules of a flow refused as a whole (a condition not met, an
            // agreement not in force, such as a draft, or a flow of aggregates only)
            // decided that refusal, though nothing crossed: the rules count as
            // exercised, their entries do not.
            Outcome::Refused(
                crate::Refusal::ConditionNotMet { .. }
                | crate::Refusal::RetentionExpired { .. }
                | crate::Refusal::NotInForce { .. }
                | crate::Refusal::AggregatesOnly { .. },
            ) => {
                let plan = gate
                    .registry()
                    .plan_for(transfer.from, transfer.to, transfer.purpose);
                for (agreement, rule) in plan.iter().flat_map(|p| p.rules()) {
                    self.hit(&agreement.id, &rule.id, None);
                }
            }
            Outcome::Refused(_) => {}
        }
    }

    /// What the cases left unexercised in `registry`'s agreements.
    pub fn report(&self, registry: &Registry) -> CoverageReport {
        self.report_for(registry, |_| true)
    }

    /// As [`Coverage::report`], over the agreements `include` keeps only (such as
    /// those of one province, when only its cases ran).
    pub fn report_for(
        &self,
        registry: &Registry,
        include: impl Fn(&crate::Agreement) -> bool,
    ) -> CoverageReport {
        let mut report = CoverageReport::default();
        let schema = registry.schema();
        for agreement in registry.agreements().filter(|a| include(a)) {
            let mut lines = Vec::new();
            for rule in agreement.outbound.iter().chain(&agreement.inbound) {
                report.rules += 1;
                let key =
                    |entry: Option<String>| (agreement.id.to_string(), rule.id.to_string(), entry);
                let entries: Vec<String> = rule
                    .categories
                    .keys()
                    .cloned()
                    .chain(
                        rule.paths
                            .keys()
                            .filter_map(|id| schema.field_by_id(*id).map(|f| f.path.to_string())),
                    )
                    .collect();
                report.entries += entries.len();
                if !self.hits.contains(&key(None)) {
                    lines.push(format!(
                        "rule `{}` ({}): no case exercises it",
                        rule.id, rule.pointer
                    ));
                    continue;
                }
                report.rules_hit += 1;
                let missed: Vec<&String> = entries
                    .iter()
                    .filter(|e| !self.hits.contains(&key(Some((*e).clone()))))
                    .collect();
                report.entries_hit += entries.len() - missed.len();
                if !missed.is_empty() {
                    let names: Vec<&str> = missed.iter().map(|e| e.as_str()).collect();
                    lines.push(format!(
                        "rule `{}`: entries no case exercises: {}",
                        rule.id,
                        names.join(", ")
                    ));
                }
            }
            if !lines.is_empty() {
                report.missing.push((agreement.id.to_string(), lines));
            }
        }
        report
    }
}
