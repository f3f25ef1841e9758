//! Every file of JSONTestSuite (`tests/fixtures/JSONTestSuite/`, a copy of Nicolas
//! Seriot's suite, MIT licence) through the strict parser, the gate and the policy
//! loader:
//!
//! - `n_` files (must be rejected): the gate refuses each as a malformed record and the
//!   loader refuses each as an agreement, with an error naming the file; never a panic.
//! - `y_` files (must be accepted): the parser accepts each; the gate releases each
//!   object (unknown members removed) and refuses everything else as not an object.
//! - `i_` files (implementation-defined) and `test_transform/` files: what the parser,
//!   the gate and the loader do with each is computed and compared with the committed
//!   tables `tests/fixtures/json-test-suite-i.txt` and
//!   `tests/fixtures/json-test-suite-transform.txt`, so that a change is noticed.
//!   Duplicate keys are always rejected.
//!
//! The folder is walked, so a file added to it is covered without code. A missing or
//! empty folder fails the tests. The summary `docs/json-test-suite.md` is generated
//! from the same results and checked for staleness. To regenerate the tables and the
//! summary after a deliberate change, run
//!
//! ```sh
//! UPDATE_JSON_SUITE=1 cargo test --test lib json_test_suite
//! ```
//!
//! and review the diff.

use crate::util::{chain, root, Memory, TempDir};
use privacy_gate::audit::{Archive, AuditLog, SteppingClock};
use privacy_gate::json::parse_strict;
use privacy_gate::json::{JsonErrorKind, DEFAULT_MAX_DEPTH};
use privacy_gate::{
    Flow, Gate, GateError, KeyRing, Outcome, RecordError, Registry, Transfer, Written,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

const UPDATE: &str = "UPDATE_JSON_SUITE";

fn suite() -> PathBuf {
    root().join("tests/fixtures/JSONTestSuite")
}

/// The files of one folder of the suite, sorted by name. Panics when the folder is
/// missing or empty: a test that silently checks nothing is worse than none.
fn files(folder: &str) -> Vec<(String, Vec<u8>)> {
    let dir = suite().join(folder);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the JSONTestSuite copy is missing (see tests/fixtures/JSONTestSuite/ORIGIN.md)",
            dir.display()
        )
    });
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, bytes)
        })
        .filter(|(name, _)| name.ends_with(".json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no test files", dir.display());
    files
}

// ---------------------------------------------------------------------------------
// What the crate does with one file
// ---------------------------------------------------------------------------------

/// The parser's verdict, in words.
fn parser_text(result: &Result<Value, privacy_gate::json::JsonError>) -> String {
    match result {
        // What the gate would write back: the value as serde_json serialises it.
        Ok(value) => match serde_json::to_string(value) {
            Ok(text) if text.len() <= 60 => format!("accepted as {text}"),
            _ => format!("accepted ({})", kind_of(value)),
        },
        Err(e) => format!("rejected ({})", json_error_text(&e.kind)),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn json_error_text(kind: &JsonErrorKind) -> String {
    match kind {
        JsonErrorKind::Syntax(message) => format!("syntax: {message}"),
        JsonErrorKind::DuplicateKey => "duplicate key".to_owned(),
        JsonErrorKind::TooDeep(limit) => format!("deeper than {limit}"),
        JsonErrorKind::TooManyValues(limit) => format!("more than {limit} values"),
        other => panic!("unexpected {other:?}"),
    }
}

/// How the gate ended for one record.
#[derive(Clone, Debug, PartialEq, Eq)]
enum GateResult {
    /// Released; the number of values removed on their own (unknown fields...).
    Released(usize),
    /// Refused (not expected along the suite's flow, which has no conditions).
    Refused(String),
    /// Valid JSON, not an object.
    NotAnObject,
    /// Not a record: the JSON error.
    Malformed(JsonErrorKind),
    /// Any other error (an audit failure: never expected here).
    Other(String),
}

impl GateResult {
    fn text(&self) -> String {
        match self {
            GateResult::Released(0) => "released".to_owned(),
            GateResult::Released(n) => format!("released, {n} value(s) removed"),
            GateResult::Refused(why) => format!("refused: {why}"),
            GateResult::NotAnObject => "not an object".to_owned(),
            GateResult::Malformed(kind) => format!("malformed ({})", json_error_text(kind)),
            GateResult::Other(e) => format!("error: {e}"),
        }
    }

    /// The column of the summary table this result counts in.
    fn column(&self) -> &'static str {
        match self {
            GateResult::Released(_) => "released",
            GateResult::Refused(_) => "refused",
            GateResult::NotAnObject => "not an object",
            GateResult::Malformed(_) => "malformed",
            GateResult::Other(_) => "other error",
        }
    }
}

fn gate_result(result: Result<Outcome, GateError>) -> (GateResult, Option<Vec<u8>>) {
    match result {
        Ok(Outcome::Released(r)) => (
            GateResult::Released(r.decision.removed().len()),
            Some(serde_json::to_vec(&r.record).unwrap()),
        ),
        Ok(Outcome::Refused(why)) => (GateResult::Refused(why.to_string()), None),
        Err(GateError::Record(RecordError::NotAnObject)) => (GateResult::NotAnObject, None),
        Err(GateError::Record(RecordError::Json(e))) => {
            let text = chain(&RecordError::Json(e.clone()));
            assert!(
                text.starts_with("malformed record: ") && text.len() > "malformed record: ".len(),
                "an unclear error: {text:?}"
            );
            (GateResult::Malformed(e.kind), None)
        }
        Err(e) => (GateResult::Other(chain(&e)), None),
    }
}

/// The loader's verdict on the file as the only agreement of a policy folder.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LoadResult {
    /// Built a registry (never expected: no suite file is an agreement).
    Loaded,
    /// Refused; the first error about the file, and whether any error names it.
    Rejected { first: String, names_file: bool },
}

impl LoadResult {
    fn text(&self) -> String {
        match self {
            LoadResult::Loaded => "loaded".to_owned(),
            LoadResult::Rejected { first, .. } => format!("rejected ({first})"),
        }
    }
}

/// Everything the crate did with one file.
#[derive(Clone, Debug)]
struct Outcomes {
    parser: Result<Value, privacy_gate::json::JsonError>,
    gate: GateResult,
    loader: LoadResult,
    /// The nesting depth, when the file is JSON serde_json reads with its own limit.
    depth: Option<usize>,
}

/// The shipped policies, keys for Drenthe's domain, and an audit key.
fn keys() -> KeyRing {
    let text = serde_json::json!({
        "domains": {"drenthe/zvh-signalen": {"active": "d1", "keys": {"d1": "d1".repeat(32)}}},
        "audit_writer": {"name": "test.example/audit", "secret": "a6".repeat(32)},
        "audit_records": {"active": "a1", "keys": {"a1": "a5".repeat(32)}},
        "audit_subject": {"active": "s1", "keys": {"s1": "a7".repeat(32)}},
    })
    .to_string();
    KeyRing::from_json("test keys", text.as_bytes()).unwrap()
}

fn registry() -> Registry {
    Registry::load_dir(&root().join("policies")).unwrap_or_else(|e| panic!("{e}"))
}

/// Drenthe police to the OM: no condition on the record, so every object is released.
fn transfer() -> Transfer<'static> {
    Transfer {
        from: "noord-nederland/politie",
        to: "noord-nederland/om",
        purpose: "criminal-investigation",
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
    }
}

struct Gates {
    plain: Gate,
    audited: Gate,
}

fn gates() -> &'static Gates {
    static GATES: OnceLock<Gates> = OnceLock::new();
    GATES.get_or_init(|| {
        // A static is never dropped: the archive (content-addressed, so reusable) goes
        // under Cargo's temporary folder for tests, by a fixed name.
        let archive = Path::new(env!("CARGO_TARGET_TMPDIR")).join("json-test-suite-archive");
        let log = AuditLog::with_storage(
            &archive.join("memory.log"),
            Box::new(Memory::default()),
            &keys(),
            Arc::new(SteppingClock::new(
                "2026-03-02T10:00:00Z".parse().unwrap(),
                chrono::Duration::milliseconds(1),
            )),
        )
        .unwrap();
        let audited = Gate::new(registry(), keys())
            .with_audit(Arc::new(log), &Archive::new(&archive))
            .unwrap();
        Gates {
            plain: Gate::new(registry(), keys()),
            audited,
        }
    })
}

/// Loads a policy folder with the shipped schema and `bytes` as its one agreement,
/// `suite/case.json`, read from disk as `privacy-gate check` and `gate` read it.
fn load_as_agreement(dir: &Path, bytes: &[u8]) -> LoadResult {
    let file = dir.join("suite/case.json");
    std::fs::write(&file, bytes).unwrap();
    match Registry::load_dir(dir) {
        Ok(_) => LoadResult::Loaded,
        Err(e) => {
            let errors: Vec<_> = e
                .diagnostics
                .iter()
                .filter(|d| d.severity == privacy_gate::Severity::Error)
                .collect();
            let name = file.display().to_string();
            let first = errors
                .iter()
                .find(|d| d.file == name)
                .or(errors.first())
                .map(|d| d.message.clone())
                .unwrap_or_default();
            LoadResult::Rejected {
                first,
                names_file: errors.iter().any(|d| d.file == name),
            }
        }
    }
}

/// The nesting depth of `bytes` as serde_json reads it (which has a limit of its own).
fn depth(bytes: &[u8]) -> Option<usize> {
    fn of(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(of).max().unwrap_or(0),
            Value::Object(members) => 1 + members.values().map(of).max().unwrap_or(0),
            _ => 0,
        }
    }
    serde_json::from_slice::<Value>(bytes).ok().map(|v| of(&v))
}

/// Runs one file through the parser, the gate (by three paths, which must agree) and
/// the loader.
fn outcomes(name: &str, bytes: &[u8], policy_dir: &Path) -> Outcomes {
    let parser = parse_strict(bytes, DEFAULT_MAX_DEPTH);
    let gates = gates();
    let plain = gates.plain.flow(&transfer()).unwrap();
    let (gate, released) = gate_result(plain.apply_json(bytes));
    // The streaming path writes the same bytes, or nothing.
    let mut out = Vec::new();
    let streamed = written(&plain, bytes, &mut out);
    assert_eq!(streamed, gate, "{name}: write_json and apply_json disagree");
    if let Some(released) = &released {
        assert_eq!(&out, released, "{name}: write_json wrote other bytes");
    } else {
        assert!(out.is_empty(), "{name}: write_json wrote output");
    }
    // So does a gate that logs every transfer.
    let audited = gates.audited.flow(&transfer()).unwrap();
    let (logged, logged_bytes) = gate_result(audited.apply_json(bytes));
    assert_eq!(logged, gate, "{name}: the audited gate decides otherwise");
    // The same bytes, but for the receipt the audited gate adds to `_transfer`.
    let logged_bytes = logged_bytes.map(|b| {
        let (without, receipt) = crate::util::strip_receipt(&b);
        assert!(receipt.is_some(), "{name}: no receipt");
        without
    });
    assert_eq!(
        logged_bytes, released,
        "{name}: the audited gate releases otherwise"
    );
    Outcomes {
        parser,
        gate,
        loader: load_as_agreement(policy_dir, bytes),
        depth: depth(bytes),
    }
}

fn written(flow: &Flow<'_>, bytes: &[u8], out: &mut Vec<u8>) -> GateResult {
    match flow.write_json(bytes, out) {
        Ok(Written::Released(d)) => GateResult::Released(d.removed().len()),
        Ok(Written::Refused(why)) => GateResult::Refused(why.to_string()),
        Err(e) => gate_result(Err(e)).0,
    }
}

/// Every file of the suite, by folder (`test_parsing`, `test_transform`) and name,
/// each run once; a panic is recorded, not propagated, so that every file is tried.
fn results() -> &'static BTreeMap<(String, String), Result<Outcomes, String>> {
    static RESULTS: OnceLock<BTreeMap<(String, String), Result<Outcomes, String>>> =
        OnceLock::new();
    RESULTS.get_or_init(|| {
        let policies = TempDir::new("policies");
        std::fs::copy(
            root().join("policies/schema.json"),
            policies.0.join("schema.json"),
        )
        .unwrap();
        std::fs::create_dir(policies.0.join("suite")).unwrap();
        let mut results = BTreeMap::new();
        for folder in ["test_parsing", "test_transform"] {
            for (name, bytes) in files(folder) {
                let outcome =
                    catch_unwind(AssertUnwindSafe(|| outcomes(&name, &bytes, &policies.0)))
                        .map_err(|panic| {
                            panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                                .unwrap_or_else(|| "panicked".to_owned())
                        });
                results.insert((folder.to_owned(), name), outcome);
            }
        }
        results
    })
}

/// The outcomes of one folder's files whose names start with `prefix`; fails on any panic.
fn with_prefix(folder: &str, prefix: &str) -> Vec<(&'static str, &'static Outcomes)> {
    let mut panics = Vec::new();
    let mut found = Vec::new();
    for ((f, name), outcome) in results() {
        if f != folder || !name.starts_with(prefix) {
            continue;
        }
        match outcome {
            Ok(o) => found.push((name.as_str(), o)),
            Err(panic) => panics.push(format!("{name}: {panic}")),
        }
    }
    assert!(panics.is_empty(), "panicked:\n{}", panics.join("\n"));
    assert!(!found.is_empty(), "no {folder}/{prefix} files");
    found
}

// ---------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------

#[test]
fn the_suite_copy_is_complete_with_its_licence_and_origin() {
    let licence = std::fs::read_to_string(suite().join("LICENSE")).unwrap();
    assert!(licence.contains("MIT License") && licence.contains("Nicolas Seriot"));
    let origin = std::fs::read_to_string(suite().join("ORIGIN.md")).unwrap();
    assert!(origin.contains("JSONTestSuite"));
    let parsing = files("test_parsing");
    for prefix in ["y_", "n_", "i_"] {
        let count = parsing
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .count();
        assert!(count > 0, "no {prefix} files");
    }
    assert!(
        parsing
            .iter()
            .all(|(n, _)| ["y_", "n_", "i_"].iter().any(|p| n.starts_with(p))),
        "a test_parsing file without a y_, n_ or i_ prefix"
    );
    assert!(!files("test_transform").is_empty());
}

#[test]
fn every_n_file_is_refused_by_the_gate_and_the_loader_naming_the_problem() {
    let mut wrong = Vec::new();
    for (name, o) in with_prefix("test_parsing", "n_") {
        if o.parser.is_ok() {
            wrong.push(format!("{name}: the parser accepts it"));
        }
        if !matches!(o.gate, GateResult::Malformed(_)) {
            wrong.push(format!(
                "{name}: the gate: {} (expected a malformed record)",
                o.gate.text()
            ));
        }
        match &o.loader {
            LoadResult::Rejected { first, names_file } if *names_file && !first.is_empty() => {}
            other => wrong.push(format!("{name}: the loader: {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_y_file_is_parsed_and_released_if_it_is_an_object() {
    let mut wrong = Vec::new();
    for (name, o) in with_prefix("test_parsing", "y_") {
        // No y_ file is nested deeper than the record limit (the summary lists any
        // that would be; they would be refused as too deep, by design).
        let too_deep = o.depth.is_some_and(|d| d > DEFAULT_MAX_DEPTH);
        match (&o.parser, too_deep) {
            (Ok(_), false) => {}
            (Err(e), true) if matches!(e.kind, JsonErrorKind::TooDeep(_)) => continue,
            // The one deliberate deviation: RFC 8259 lets an object repeat a name (it
            // only SHOULD be unique), and the suite's `y_object_duplicated_key*` files
            // do. The gate refuses them: which of two values would it release?
            (Err(e), false) if e.kind == JsonErrorKind::DuplicateKey => {
                if o.gate != GateResult::Malformed(JsonErrorKind::DuplicateKey) {
                    wrong.push(format!("{name}: the gate: {}", o.gate.text()));
                }
                continue;
            }
            (other, _) => {
                wrong.push(format!("{name}: the parser: {}", parser_text(other)));
                continue;
            }
        }
        let is_object = matches!(o.parser, Ok(Value::Object(_)));
        match (&o.gate, is_object) {
            (GateResult::Released(_), true) | (GateResult::NotAnObject, false) => {}
            (other, _) => wrong.push(format!(
                "{name}: the gate: {} for a JSON {}",
                other.text(),
                o.parser.as_ref().map_or("?", kind_of)
            )),
        }
        // Not an agreement: refused, naming the file, without a panic.
        match &o.loader {
            LoadResult::Rejected {
                names_file: true, ..
            } => {}
            other => wrong.push(format!("{name}: the loader: {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn duplicate_keys_are_rejected_everywhere() {
    let transform = with_prefix("test_transform", "");
    let duplicates: Vec<_> = transform
        .iter()
        .filter(|(name, _)| name.starts_with("object_same_key"))
        .collect();
    assert!(duplicates.len() >= 3, "the duplicate-key files are missing");
    for (name, o) in duplicates {
        assert!(
            matches!(&o.parser, Err(e) if e.kind == JsonErrorKind::DuplicateKey),
            "{name}: {}",
            parser_text(&o.parser)
        );
        assert_eq!(
            o.gate,
            GateResult::Malformed(JsonErrorKind::DuplicateKey),
            "{name}"
        );
        assert!(
            matches!(&o.loader, LoadResult::Rejected { first, names_file: true } if first.contains("duplicate key")),
            "{name}: {:?}",
            o.loader
        );
    }
}

/// One line per file: name, the parser's, the gate's and the loader's verdicts.
fn table(folder: &str, prefix: &str, title: &str) -> String {
    let mut out = format!(
        "# {title}\n# Generated by tests/lib/json_test_suite.rs; regenerate with {UPDATE}=1.\n\
         # file\tparser\tgate\tloader\n"
    );
    for (name, o) in with_prefix(folder, prefix) {
        let _ = writeln!(
            out,
            "{name}\t{}\t{}\t{}",
            parser_text(&o.parser),
            o.gate.text(),
            o.loader.text()
        );
    }
    out
}

/// Writes `actual` to `path` under `UPDATE_JSON_SUITE`, else fails unless the
/// committed file holds exactly `actual`.
fn pinned(path: &str, actual: &str) {
    let file = root().join(path);
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(&file, actual).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!("{path}: {e}; run {UPDATE}=1 cargo test --test lib json_test_suite")
    });
    if committed != actual {
        let first = committed
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(actual.lines().count()));
        panic!(
            "{path} differs from what the crate does now, from line {}:\n  committed: {:?}\n  now:       {:?}\n\
             If the change is deliberate, run {UPDATE}=1 cargo test --test lib json_test_suite and review the diff.",
            first + 1,
            committed.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn i_file_outcomes_match_the_committed_table() {
    pinned(
        "tests/fixtures/json-test-suite-i.txt",
        &table(
            "test_parsing",
            "i_",
            "JSONTestSuite i_ files (implementation-defined): what privacy-gate does with each.",
        ),
    );
}

#[test]
fn transform_outcomes_match_the_committed_table() {
    pinned(
        "tests/fixtures/json-test-suite-transform.txt",
        &table(
            "test_transform",
            "",
            "JSONTestSuite test_transform files: what privacy-gate does with each.",
        ),
    );
}

#[test]
fn the_summary_in_the_docs_is_current() {
    pinned("docs/json-test-suite.md", &summary());
}

/// `docs/json-test-suite.md`: counts per prefix and outcome, the deepest `y_` file, and
/// every `i_` and transform file with its outcome.
fn summary() -> String {
    let mut out = String::new();
    out.push_str(
        "# JSONTestSuite results\n\n\
         <!-- Generated by tests/lib/json_test_suite.rs: UPDATE_JSON_SUITE=1 cargo test --test lib json_test_suite -->\n\n\
         Every file of [JSONTestSuite](https://github.com/nst/JSONTestSuite) (a copy with its\n\
         MIT licence is in `tests/fixtures/JSONTestSuite/`) is read three ways:\n\n\
         - by the strict parser, `privacy_gate::json::parse_strict` with the record depth\n  \
           limit of 32 (duplicate keys are errors);\n\
         - by the gate as one record (the whole file's bytes, `Flow::apply_json`, along\n  \
           `noord-nederland/politie` to `noord-nederland/om` for `criminal-investigation`, which has no\n  \
           condition on the record), and also by `Flow::write_json` and an audited gate,\n  \
           which must agree;\n\
         - by the policy loader, as the only agreement of a policy folder with the\n  \
           shipped schema (`Registry::load_dir`, which reads files as UTF-8 text: a file\n  \
           that is not UTF-8 is refused as unreadable, naming it).\n\n\
         `n_` files must be rejected, `y_` files accepted, `i_` files are the\n\
         implementation's choice. `tests/lib/json_test_suite.rs` fails if a `n_` file is\n\
         accepted, a `y_` file is rejected (or a `y_` object is not released), any file\n\
         makes the crate panic, or an `i_` or transform outcome differs from the tables\n\
         in `tests/fixtures/`. An accepted value is shown as the gate writes it back\n\
         (serde_json's serialisation), which shows what happens to numbers beyond 64-bit\n\
         integers: they are read as the nearest double.\n\n\
         One deliberate deviation: `y_object_duplicated_key.json` and\n\
         `y_object_duplicated_key_and_value.json` repeat a member name, which RFC 8259\n\
         allows (names only SHOULD be unique). The gate refuses every record with a\n\
         duplicate key, since the sender's and the recipient's software may each take a\n\
         different one of the values; the loader refuses such agreements for the same\n\
         reason.\n\n",
    );
    out.push_str("## Counts\n\n");
    out.push_str(
        "| files | count | parser accepts | parser rejects | gate releases | gate: not an object | gate: malformed | loader rejects |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let groups = [
        ("test_parsing", "y_", "`y_` (must accept)"),
        ("test_parsing", "n_", "`n_` (must reject)"),
        ("test_parsing", "i_", "`i_` (either)"),
        ("test_transform", "", "`test_transform`"),
    ];
    for (folder, prefix, label) in groups {
        let group = with_prefix(folder, prefix);
        let count = |f: &dyn Fn(&Outcomes) -> bool| group.iter().filter(|(_, o)| f(o)).count();
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            group.len(),
            count(&|o| o.parser.is_ok()),
            count(&|o| o.parser.is_err()),
            count(&|o| o.gate.column() == "released"),
            count(&|o| o.gate.column() == "not an object"),
            count(&|o| o.gate.column() == "malformed"),
            count(&|o| matches!(o.loader, LoadResult::Rejected { .. })),
        );
    }
    out.push_str(
        "\nWhy the parser rejects, per group:\n\n| files | reason | count |\n|---|---|---:|\n",
    );
    for (folder, prefix, label) in groups {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for (_, o) in with_prefix(folder, prefix) {
            if let Err(e) = &o.parser {
                let reason = match &e.kind {
                    JsonErrorKind::Syntax(message) => format!("syntax: {message}"),
                    other => json_error_text(other),
                };
                *reasons.entry(reason).or_default() += 1;
            }
        }
        for (reason, n) in reasons {
            let _ = writeln!(out, "| {label} | {} | {n} |", reason.replace('|', "\\|"));
        }
    }
    let deepest = with_prefix("test_parsing", "y_")
        .into_iter()
        .filter_map(|(name, o)| o.depth.map(|d| (d, name)))
        .max();
    if let Some((depth, name)) = deepest {
        let _ = write!(
            out,
            "\nThe deepest `y_` file, `{name}`, nests {depth} level(s); the record limit is \
             {DEFAULT_MAX_DEPTH}, so no `y_` file is refused for its depth.\n"
        );
        assert!(
            depth <= DEFAULT_MAX_DEPTH,
            "a y_ file is deeper than the limit: say so here"
        );
    }
    for (folder, prefix, title) in [
        ("test_parsing", "i_", "`i_` files"),
        ("test_transform", "", "`test_transform` files"),
    ] {
        let _ = write!(
            out,
            "\n## {title}\n\n| file | parser | gate | loader |\n|---|---|---|---|\n"
        );
        for (name, o) in with_prefix(folder, prefix) {
            let _ = writeln!(
                out,
                "| `{name}` | {} | {} | {} |",
                parser_text(&o.parser).replace('|', "\\|"),
                o.gate.text().replace('|', "\\|"),
                o.loader.text().replace('|', "\\|").replace('`', "'")
            );
        }
    }
    out
}
