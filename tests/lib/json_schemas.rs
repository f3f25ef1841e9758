//! The JSON Schemas for authors (`policies/*.schema.json`): the committed files are
//! what the Rust types generate, they accept every shipped agreement, schema and case
//! file, and they reject the deliberately bad files in
//! `tests/fixtures/bad-schema-files/`, as the loader does.
//!
//! To regenerate the committed schemas after changing a file-form type or its doc
//! comments, run
//!
//! ```sh
//! UPDATE_SCHEMAS=1 cargo test --test lib json_schemas
//! ```
//!
//! and commit the rewritten `policies/*.schema.json`.
//!
//! The validator below is deliberately small: it implements exactly the keywords the
//! generated schemas use, and `the_schemas_use_only_keywords_the_validator_checks`
//! fails if a schema ever uses another one, so that no constraint is silently skipped.

use crate::util::root;
use privacy_gate::authoring::authoring_schemas;
use privacy_gate::authoring::load_cases;
use privacy_gate::{Action, PolicySource, Registry};
use regex::Regex;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn policies() -> PathBuf {
    root().join("policies")
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/bad-schema-files")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The committed schema of this name (`agreement`, `schema` or `cases`).
fn committed(kind: &str) -> Value {
    json(&policies().join(format!("{kind}.schema.json")))
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn provinces() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(policies())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

// ---------------------------------------------------------------------------------
// The committed files are current.

#[test]
fn the_committed_schemas_are_what_the_rust_types_generate() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, generated) in authoring_schemas() {
        let path = policies().join(name);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == generated {
            continue;
        }
        if update {
            // Write beside it and rename, so that tests reading it meanwhile see a
            // whole file.
            let fresh = path.with_extension("json.new");
            std::fs::write(&fresh, &generated).unwrap();
            std::fs::rename(&fresh, &path).unwrap();
            eprintln!("rewrote {}", path.display());
            continue;
        }
        let line = current
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| current.lines().count().min(generated.lines().count()))
            + 1;
        stale.push(format!(
            "policies/{name} differs from what the Rust types generate; first at line {line}:\n  \
             committed: {}\n  generated: {}",
            current.lines().nth(line - 1).unwrap_or("<end of file>"),
            generated.lines().nth(line - 1).unwrap_or("<end of file>"),
        ));
    }
    assert!(
        stale.is_empty(),
        "{}\n\nThe committed JSON Schemas are stale. Regenerate them with\n\n    \
         UPDATE_SCHEMAS=1 cargo test --test lib json_schemas\n\nand commit policies/*.schema.json.",
        stale.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// A validator for the keywords the generated schemas use.

/// Keywords that constrain, and that [`Validator`] checks.
const ASSERTIONS: &[&str] = &[
    "$ref",
    "type",
    "const",
    "enum",
    "pattern",
    "format",
    "properties",
    "additionalProperties",
    "required",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "items",
    "minItems",
    "minimum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// Keywords that only annotate or hold definitions.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$defs",
    "title",
    "description",
    "default",
    "examples",
];

/// Values of `format` the validator checks.
/// Formats of strings, and `uint` (a whole number of at least 0, as schemars writes
/// for `usize`) of numbers.
const FORMATS: &[&str] = &["date", "date-time", "uint"];

struct Validator<'a> {
    root: &'a Value,
}

/// A failed check: the JSON pointer of the offending value, and what is wrong.
type Failure = (String, String);

fn pointer_segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        other => panic!("unknown type `{other}` in a schema"),
    }
}

fn format_matches(format: &str, text: &str) -> bool {
    match format {
        // RFC 3339 full-date: four-digit year, and a day that exists.
        "date" => {
            Regex::new("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
                .unwrap()
                .is_match(text)
                && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
        }
        "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        other => panic!("unknown format `{other}` in a schema"),
    }
}

impl Validator<'_> {
    fn check(&self, schema: &Value) -> impl Fn(&Value) -> Vec<Failure> + '_ {
        let schema = schema.clone();
        move |instance| {
            let mut failures = Vec::new();
            self.validate(&schema, instance, "", &mut failures);
            failures
        }
    }

    fn validate(&self, schema: &Value, instance: &Value, at: &str, out: &mut Vec<Failure>) {
        let fail = |out: &mut Vec<Failure>, message: String| out.push((at.to_owned(), message));
        let keywords = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return fail(out, "is not allowed here".into()),
            Value::Object(keywords) => keywords,
            other => panic!("not a schema: {other}"),
        };
        for (keyword, value) in keywords {
            match keyword.as_str() {
                "$ref" => {
                    let target = value
                        .as_str()
                        .and_then(|r| r.strip_prefix('#'))
                        .and_then(|p| self.root.pointer(p))
                        .unwrap_or_else(|| panic!("unresolvable $ref {value}"));
                    self.validate(target, instance, at, out);
                }
                "type" => {
                    let names: Vec<&str> = match value {
                        Value::String(name) => vec![name.as_str()],
                        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                        other => panic!("bad type {other}"),
                    };
                    if !names.iter().any(|n| type_matches(n, instance)) {
                        fail(out, format!("is not of type {}", names.join(" or ")));
                    }
                }
                "const" => {
                    if instance != value {
                        fail(out, format!("is not {value}"));
                    }
                }
                "enum" => {
                    if !value.as_array().unwrap().contains(instance) {
                        fail(out, format!("is not one of {value}"));
                    }
                }
                "pattern" => {
                    let pattern = Regex::new(value.as_str().unwrap()).unwrap();
                    if let Some(text) = instance.as_str() {
                        if !pattern.is_match(text) {
                            fail(out, format!("`{text}` does not match {value}"));
                        }
                    }
                }
                "format" if value == "uint" => {
                    if instance.is_number() && instance.as_u64().is_none() {
                        fail(
                            out,
                            format!("{instance} is not a whole number of at least 0"),
                        );
                    }
                }
                "format" => {
                    if let Some(text) = instance.as_str() {
                        if !format_matches(value.as_str().unwrap(), text) {
                            fail(out, format!("`{text}` is not a valid {value}"));
                        }
                    }
                }
                "minimum" => {
                    if let (Some(n), Some(limit)) = (instance.as_f64(), value.as_f64()) {
                        if n < limit {
                            fail(out, format!("{instance} is less than {value}"));
                        }
                    }
                }
                "properties" => {
                    if let Some(object) = instance.as_object() {
                        for (name, subschema) in value.as_object().unwrap() {
                            if let Some(member) = object.get(name) {
                                let at = format!("{at}/{}", pointer_segment(name));
                                self.validate(subschema, member, &at, out);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    let declared = keywords.get("properties").and_then(Value::as_object);
                    if let Some(object) = instance.as_object() {
                        for (name, member) in object {
                            if declared.is_some_and(|d| d.contains_key(name)) {
                                continue;
                            }
                            let at = format!("{at}/{}", pointer_segment(name));
                            if value == &Value::Bool(false) {
                                out.push((at, format!("unknown member `{name}`")));
                            } else {
                                self.validate(value, member, &at, out);
                            }
                        }
                    }
                }
                "required" => {
                    if let Some(object) = instance.as_object() {
                        for name in value.as_array().unwrap() {
                            let name = name.as_str().unwrap();
                            if !object.contains_key(name) {
                                fail(out, format!("lacks required member `{name}`"));
                            }
                        }
                    }
                }
                "propertyNames" => {
                    if let Some(object) = instance.as_object() {
                        for name in object.keys() {
                            let at = format!("{at}/{}", pointer_segment(name));
                            self.validate(value, &Value::String(name.clone()), &at, out);
                        }
                    }
                }
                "minProperties" | "maxProperties" => {
                    if let Some(object) = instance.as_object() {
                        let limit = usize::try_from(value.as_u64().unwrap()).unwrap();
                        let ok = if keyword == "minProperties" {
                            object.len() >= limit
                        } else {
                            object.len() <= limit
                        };
                        if !ok {
                            fail(
                                out,
                                format!("has {} members ({keyword} {limit})", object.len()),
                            );
                        }
                    }
                }
                "items" => {
                    if let Some(array) = instance.as_array() {
                        for (i, item) in array.iter().enumerate() {
                            self.validate(value, item, &format!("{at}/{i}"), out);
                        }
                    }
                }
                "minItems" => {
                    if let Some(array) = instance.as_array() {
                        let limit = usize::try_from(value.as_u64().unwrap()).unwrap();
                        if array.len() < limit {
                            fail(out, format!("has {} items (minItems {limit})", array.len()));
                        }
                    }
                }
                "allOf" => {
                    for subschema in value.as_array().unwrap() {
                        self.validate(subschema, instance, at, out);
                    }
                }
                "anyOf" | "oneOf" => {
                    let results: Vec<Vec<Failure>> = value
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|subschema| {
                            let mut sub = Vec::new();
                            self.validate(subschema, instance, at, &mut sub);
                            sub
                        })
                        .collect();
                    let passed = results.iter().filter(|r| r.is_empty()).count();
                    if passed == 0 {
                        // The alternative that came closest explains it best.
                        let closest = results.iter().min_by_key(|r| r.len()).unwrap();
                        let why: Vec<String> = closest
                            .iter()
                            .map(|(at, message)| format!("{at}: {message}"))
                            .collect();
                        fail(
                            out,
                            format!("matches none of the alternatives ({})", why.join("; ")),
                        );
                    } else if keyword == "oneOf" && passed > 1 {
                        fail(out, format!("matches {passed} alternatives of oneOf"));
                    }
                }
                "not" => {
                    let mut sub = Vec::new();
                    self.validate(value, instance, at, &mut sub);
                    if sub.is_empty() {
                        fail(out, format!("matches the excluded schema {value}"));
                    }
                }
                annotation if ANNOTATIONS.contains(&annotation) => {}
                other => panic!("the validator does not implement `{other}`"),
            }
        }
    }
}

/// Validates `instance` against the whole schema `root`.
fn validate(root: &Value, instance: &Value) -> Vec<Failure> {
    Validator { root }.check(root)(instance)
}

/// Every subschema of `schema` (itself included), with its JSON pointer.
fn subschemas<'a>(schema: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    out.push((at.clone(), schema));
    let Some(keywords) = schema.as_object() else {
        return;
    };
    for (keyword, value) in keywords {
        let at = format!("{at}/{}", pointer_segment(keyword));
        match keyword.as_str() {
            "additionalProperties" | "propertyNames" | "items" | "not" => {
                subschemas(value, at, out)
            }
            "properties" | "$defs" => {
                for (name, sub) in value.as_object().unwrap() {
                    subschemas(sub, format!("{at}/{}", pointer_segment(name)), out);
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                for (i, sub) in value.as_array().unwrap().iter().enumerate() {
                    subschemas(sub, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn the_schemas_use_only_keywords_the_validator_checks() {
    for (name, text) in authoring_schemas() {
        let schema: Value = serde_json::from_str(&text).unwrap();
        let mut all = Vec::new();
        subschemas(&schema, String::new(), &mut all);
        assert!(all.len() > 20, "{name}: only {} subschemas", all.len());
        for (at, sub) in all {
            let Some(keywords) = sub.as_object() else {
                assert!(sub.is_boolean(), "{name}{at}: not a schema");
                continue;
            };
            for (keyword, value) in keywords {
                assert!(
                    ASSERTIONS.contains(&keyword.as_str())
                        || ANNOTATIONS.contains(&keyword.as_str()),
                    "{name}{at}: keyword `{keyword}` is not one the test validator checks; \
                     implement it in tests/lib/json_schemas.rs"
                );
                match keyword.as_str() {
                    "format" => assert!(
                        FORMATS.contains(&value.as_str().unwrap()),
                        "{name}{at}: format {value} is not one the test validator checks"
                    ),
                    // Patterns must mean the same to editors (ECMA-262) and here: no
                    // Unicode classes (`\d`, `\w`), which the regex crate built without
                    // its Unicode tables rejects.
                    "pattern" => {
                        let pattern = value.as_str().unwrap();
                        Regex::new(pattern).unwrap_or_else(|e| panic!("{name}{at}: {e}"));
                        for class in [r"\d", r"\w", r"\s", r"\D", r"\W", r"\S"] {
                            assert!(
                                !pattern.contains(class),
                                "{name}{at}: pattern {pattern} uses {class}, which differs between ECMA-262 and Rust"
                            );
                        }
                        assert!(
                            pattern.starts_with('^') && pattern.ends_with('$'),
                            "{name}{at}: pattern {pattern} is not anchored"
                        );
                    }
                    "$ref" => {
                        let target = value.as_str().unwrap().strip_prefix('#').unwrap();
                        assert!(
                            schema.pointer(target).is_some(),
                            "{name}{at}: $ref {value} does not resolve"
                        );
                    }
                    "type" => {
                        let names: Vec<&Value> = match value {
                            Value::Array(names) => names.iter().collect(),
                            one => vec![one],
                        };
                        for n in names {
                            let n = n.as_str().unwrap();
                            type_matches(n, &Value::Null); // panics on an unknown type
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The validator itself: each keyword accepts and rejects what it should.
#[test]
fn the_validator_checks_each_keyword() {
    let schema = serde_json::json!({
        "$defs": { "Name": { "type": "string", "pattern": "^[a-z]+$" } },
        "type": "object",
        "properties": {
            "name": { "$ref": "#/$defs/Name" },
            "day": { "type": "string", "format": "date" },
            "at": { "type": "string", "format": "date-time" },
            "list": { "type": "array", "items": { "const": 1 }, "minItems": 1 },
            "count": { "type": "integer", "format": "uint", "minimum": 1 },
            "either": { "oneOf": [{ "enum": ["a", "b"] }, { "type": "integer" }] },
            "any": { "anyOf": [{ "type": "string" }, { "type": "boolean" }] },
            "both": { "allOf": [{ "type": "string" }, { "not": { "const": "no" } }] },
            "map": {
                "type": "object",
                "propertyNames": { "pattern": "^[a-z]+$" },
                "additionalProperties": { "type": "boolean" },
                "minProperties": 1,
                "maxProperties": 2
            },
            "never": false
        },
        "required": ["name"],
        "additionalProperties": false
    });
    let ok = serde_json::json!({
        "name": "anna", "day": "2024-02-29", "at": "2026-03-02T10:00:00Z", "list": [1, 1],
        "count": 3,
        "either": 3, "any": true, "both": "yes", "map": { "a": true }
    });
    assert_eq!(validate(&schema, &ok), vec![]);
    let bad = [
        (serde_json::json!({}), ""),
        (serde_json::json!({"name": "Anna"}), "/name"),
        (serde_json::json!({"name": 1}), "/name"),
        (serde_json::json!({"name": "a", "x": 1}), "/x"),
        (
            serde_json::json!({"name": "a", "day": "2025-02-29"}),
            "/day",
        ),
        (serde_json::json!({"name": "a", "day": "2025-2-1"}), "/day"),
        (
            serde_json::json!({"name": "a", "at": "2026-03-02 10:00"}),
            "/at",
        ),
        (serde_json::json!({"name": "a", "list": []}), "/list"),
        (serde_json::json!({"name": "a", "list": [2]}), "/list/0"),
        (serde_json::json!({"name": "a", "count": 0}), "/count"),
        (serde_json::json!({"name": "a", "count": -1}), "/count"),
        (serde_json::json!({"name": "a", "either": "c"}), "/either"),
        (serde_json::json!({"name": "a", "either": 1.5}), "/either"),
        (serde_json::json!({"name": "a", "any": 1}), "/any"),
        (serde_json::json!({"name": "a", "both": "no"}), "/both"),
        (serde_json::json!({"name": "a", "map": {}}), "/map"),
        (
            serde_json::json!({"name": "a", "map": {"a": true, "b": true, "c": true}}),
            "/map",
        ),
        (
            serde_json::json!({"name": "a", "map": {"A": true}}),
            "/map/A",
        ),
        (serde_json::json!({"name": "a", "map": {"a": 1}}), "/map/a"),
        (serde_json::json!({"name": "a", "never": 1}), "/never"),
    ];
    for (instance, at) in bad {
        let failures = validate(&schema, &instance);
        assert!(
            failures.iter().any(|(p, _)| p == at),
            "{instance}: expected a failure at `{at}`, got {failures:?}"
        );
    }
    // oneOf fails when more than one alternative matches.
    let two = serde_json::json!({ "oneOf": [{ "type": "integer" }, { "type": "number" }] });
    assert_eq!(validate(&two, &serde_json::json!(1)).len(), 1);
}

// ---------------------------------------------------------------------------------
// The shipped files: the committed schemas and the loader accept every one.

fn assert_valid(schema: &Value, path: &Path) {
    let failures = validate(schema, &json(path));
    assert!(
        failures.is_empty(),
        "{} does not validate against its JSON Schema:\n  {}",
        path.display(),
        failures
            .iter()
            .map(|(at, message)| format!("{at}: {message}"))
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

#[test]
fn every_shipped_file_validates_and_loads() {
    let (agreement, schema_file, cases) = (
        committed("agreement"),
        committed("schema"),
        committed("cases"),
    );
    assert_valid(&schema_file, &policies().join("schema.json"));
    let (mut agreements, mut case_files) = (0, 0);
    for province in provinces() {
        for file in json_files(&province) {
            assert_valid(&agreement, &file);
            agreements += 1;
        }
        let tests = province.join("tests");
        if tests.is_dir() {
            for file in json_files(&tests) {
                assert_valid(&cases, &file);
                case_files += 1;
            }
        }
    }
    assert!(
        agreements >= 15 && case_files >= 3,
        "{agreements} agreements, {case_files} case files"
    );

    let registry = Registry::load_dir(&policies()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(registry.agreements().count(), agreements);
    load_cases(&policies(), &registry).unwrap_or_else(|e| panic!("{e}"));
}

/// Every shipped file names its schema, so editors pick it up without settings.
#[test]
fn every_shipped_file_names_its_schema() {
    let names = |path: &Path, expected: &str| {
        assert_eq!(
            json(path)["$schema"].as_str(),
            Some(expected),
            "{}: add \"$schema\": \"{expected}\" as its first member",
            path.display()
        );
    };
    names(&policies().join("schema.json"), "./schema.schema.json");
    for province in provinces() {
        for file in json_files(&province) {
            names(&file, "../agreement.schema.json");
        }
        if province.join("tests").is_dir() {
            for file in json_files(&province.join("tests")) {
                names(&file, "../../cases.schema.json");
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The bad files: the schema and the loader both reject each, for the same reason.

/// Each bad file, where the schema must report it (a JSON pointer), and what the
/// loader must say. Each is `base/<kind>.json` with one deliberate defect.
const BAD_FILES: &[(&str, &str, &str)] = &[
    (
        "agreement-unknown-member.json",
        "/outbound/0/covenent",
        "unknown field `covenent`",
    ),
    (
        "agreement-wrong-type.json",
        "/purposes/signal-assessment/legal_basis",
        "invalid type: string \"avg-6-1-e\", expected a sequence",
    ),
    (
        "agreement-misspelt-action.json",
        "/outbound/0/categories/health",
        "unknown action `pas` (did you mean `pass`?)",
    ),
    (
        "agreement-bad-method.json",
        "/outbound/0/paths/subject.birth_date",
        "unknown generalisation method `yaer`",
    ),
    (
        "agreement-bad-domain.json",
        "/outbound/0/paths/subject.bsn",
        "invalid pseudonymisation domain `Drenthe mensenhandel`",
    ),
    (
        "agreement-bad-status.json",
        "/status",
        "unknown variant `singed`",
    ),
    (
        "agreement-missing-member.json",
        "",
        "missing field `regime`",
    ),
    (
        "agreement-bad-date.json",
        "/valid/until",
        "input is out of range",
    ),
    (
        "agreement-bad-retention.json",
        "/outbound/0/retention",
        "invalid period `2 years`",
    ),
    (
        "agreement-outbound-from.json",
        "/outbound/0",
        "an outbound rule names its counterparty with `to`, not `from`",
    ),
    (
        "agreement-bad-selector.json",
        "/outbound/0/to",
        "a counterparty is `{\"organisation\": ID}` or `{\"kind\": KIND}`",
    ),
    (
        "agreement-bad-rule-id.json",
        "/outbound/0/id",
        "invalid rule id `Signal to ZVH`",
    ),
    (
        "schema-bad-grant.json",
        "/legal_bases/avg-6-1-e/grants/0",
        "unknown variant `art6`",
    ),
    (
        "schema-bad-field-path.json",
        "/fields/Subject.BSN",
        "invalid field path `Subject.BSN`",
    ),
    (
        "cases-bad-time.json",
        "/cases/0/transfer/at",
        "input contains invalid characters",
    ),
    (
        "cases-refused-and-fields.json",
        "/cases/0/expect",
        "expects a refusal and released fields at once",
    ),
];

/// What the loader says of `file` (the fixture, or the base of `kind`), as text; empty
/// if it accepts it.
fn loader_errors(kind: &str, file: &Path) -> String {
    let text = read(file);
    let schema = || PolicySource {
        file: "policies/schema.json".into(),
        text: read(&policies().join("schema.json")),
    };
    let shipped = || -> Vec<PolicySource> {
        provinces()
            .iter()
            .flat_map(|p| json_files(p))
            .map(|f| PolicySource {
                file: f.display().to_string(),
                text: read(&f),
            })
            .collect()
    };
    match kind {
        // A bad agreement joins the shipped ones as drenthe/fixture.
        "agreement" => {
            let mut agreements = shipped();
            agreements.push(PolicySource {
                file: "policies/drenthe/fixture.json".into(),
                text,
            });
            match Registry::from_sources(&schema(), &agreements) {
                Ok(_) => String::new(),
                Err(e) => e.to_string(),
            }
        }
        // A bad schema file is checked on its own.
        "schema" => {
            let source = PolicySource {
                file: "policies/schema.json".into(),
                text,
            };
            match Registry::from_sources(&source, &[]) {
                Ok(_) => String::new(),
                Err(e) => e.to_string(),
            }
        }
        // A bad case file is the only case file of a policy folder of its own.
        "cases" => {
            let registry = Registry::load_dir(&policies()).unwrap();
            let dir = std::env::temp_dir().join(format!(
                "privacy-gate-json-schemas-{}-{}",
                std::process::id(),
                file.file_stem().unwrap().to_string_lossy()
            ));
            std::fs::create_dir_all(dir.join("drenthe/tests")).unwrap();
            std::fs::write(dir.join("drenthe/tests/case.json"), text).unwrap();
            let result = load_cases(&dir, &registry);
            std::fs::remove_dir_all(&dir).unwrap();
            match result {
                Ok(_) => String::new(),
                Err(e) => e.to_string(),
            }
        }
        other => panic!("unknown fixture kind `{other}`"),
    }
}

/// The bases the bad files vary are fine by both the schema and the loader, so each
/// bad file is bad only by its defect.
#[test]
fn the_bases_of_the_bad_files_validate_and_load() {
    for kind in ["agreement", "schema", "cases"] {
        let base = fixtures().join("base").join(format!("{kind}.json"));
        assert_valid(&committed(kind), &base);
        let errors = loader_errors(kind, &base);
        assert!(errors.is_empty(), "{}: {errors}", base.display());
    }
}

#[test]
fn the_schemas_and_the_loader_reject_every_bad_file() {
    let mut listed: Vec<&str> = BAD_FILES.iter().map(|(file, _, _)| *file).collect();
    let present: Vec<String> = json_files(&fixtures())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        present,
        "BAD_FILES must list every file in {}",
        fixtures().display()
    );

    let mut problems = Vec::new();
    for (name, pointer, loader_says) in BAD_FILES {
        let kind = name.split('-').next().unwrap();
        let path = fixtures().join(name);
        let failures = validate(&committed(kind), &json(&path));
        if !failures.iter().any(|(at, _)| at == pointer) {
            problems.push(format!(
                "{name}: the {kind} schema should reject it at `{pointer}`; it says {failures:?}"
            ));
        }
        let errors = loader_errors(kind, &path);
        if !errors.contains(loader_says) {
            problems.push(format!(
                "{name}: the loader should say `{loader_says}`; it says:\n{errors}"
            ));
        }
        // Bad by its defect alone: no error lands anywhere but in it.
        let stand_in = match kind {
            "agreement" => "policies/drenthe/fixture.json:",
            "schema" => "policies/schema.json:",
            _ => "drenthe/tests/case.json:",
        };
        if let Some(other) = errors
            .lines()
            .find(|l| l.starts_with("error:") && !l.contains(stand_in))
        {
            problems.push(format!("{name}: an error elsewhere: {other}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ---------------------------------------------------------------------------------
// Actions: the hand-written schema and the hand-written Deserialize agree.

#[test]
fn the_action_schema_accepts_exactly_what_the_loader_reads() {
    let root = committed("agreement");
    let action = root["$defs"]["Action"].clone();
    let validator = Validator { root: &root };
    let check = validator.check(&action);
    for text in [
        r#""pass""#,
        r#""block""#,
        r#"{"generalise": "year"}"#,
        r#"{"generalise": "year-month"}"#,
        r#"{"generalise": "age-band"}"#,
        r#"{"generalise": "postcode4"}"#,
        r#"{"generalise": "placeholder"}"#,
        r#"{"pseudonymise": {"domain": "drenthe/zvh-signalen"}}"#,
        r#"{"pseudonymise": {"domain": "a-1/b-2"}}"#,
        r#""Pass""#,
        r#""generalise""#,
        r#""pseudonymise""#,
        r#""allow""#,
        "true",
        "1",
        "null",
        "[]",
        "{}",
        r#"{"generalise": "yaer"}"#,
        r#"{"generalise": "year", "pseudonymise": {"domain": "a/b"}}"#,
        r#"{"generalise": 1}"#,
        r#"{"generalize": "year"}"#,
        r#"{"pseudonymise": "drenthe/zvh-signalen"}"#,
        r#"{"pseudonymise": {}}"#,
        r#"{"pseudonymise": {"domain": "drenthe/zvh-signalen", "key": "k1"}}"#,
        r#"{"pseudonymise": {"domain": "drenthe"}}"#,
        r#"{"pseudonymise": {"domain": "Drenthe/x"}}"#,
        r#"{"pseudonymise": {"domain": "a/b/c"}}"#,
        r#"{"pseudonymise": {"domain": "a/"}}"#,
    ] {
        let value: Value = serde_json::from_str(text).unwrap();
        let schema_accepts = check(&value).is_empty();
        let loader_accepts = serde_json::from_str::<Action>(text).is_ok();
        assert_eq!(
            schema_accepts,
            loader_accepts,
            "{text}: the schema {} it, the loader {} it",
            if schema_accepts { "accepts" } else { "rejects" },
            if loader_accepts { "accepts" } else { "rejects" },
        );
    }
}
