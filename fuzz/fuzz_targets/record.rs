//! A JSON Lines stream through the gate, as the CLI reads it (`gate_json_lines`),
//! along three shipped flows: one that pseudonymises and blocks, one that
//! generalises (care coordination: free text to a placeholder), one more (a signal
//! assessment) in another province. (Statistics release no rows at all.)
//!
//! Properties, for every released line (the streamed output paired with its input
//! line by line number):
//! 1. The streamed bytes equal `serde_json::to_vec` of `Flow::apply_json`'s record
//!    (the in-place and the streaming walk agree), and the line is a JSON object.
//! 2. Shape: every output key is a schema key (or `_transfer` at the root); no empty
//!    object or array below the root; `_transfer` is exactly the flow's terms.
//! 3. Per output leaf, by its field's planned action: `block` never appears;
//!    `pseudonymise` is `pg2:<key id>:<64 hex>`; a generalisation has the method's
//!    form; `pass` equals a value the input had at the same path.
//! 4. The decision explains the output: per field, `released` equals the number of
//!    values at its path in the output, and never exceeds `occurrences`.
//! 5. No leak: no raw text of a blocked or pseudonymised field, nor of anything that
//!    is not a schema field at all, occurs in any string, number or key of the output.
//!
//! Property 5 is checked per JSON token of the parsed output, not on the raw bytes,
//! so that a value cannot "match" across `","` punctuation or inside an escape. It
//! skips texts that may appear for a legitimate reason (see `legit`):
//! - shorter than 6 characters (years, "true", small numbers, age bands);
//! - a substring of any text the input had under a field that passes or
//!   generalises (the same value may be sent in a passed field too);
//! - a substring of a schema key segment or `_transfer` (keys cross by design);
//! - a substring of the `_transfer` member's strings (organisation ids, purpose, dates);
//! - a substring of a generalised or pseudonymised output value (a blocked
//!   "1990-07" may coincide with a year-month; a hex run may occur in an HMAC).
//!   Properties 2 and 3 already pin those values to their fixed forms.

#![no_main]

use fuzz_common::{at, sources};
use libfuzzer_sys::fuzz_target;
use privacy_gate::{
    danger::test_keys, gate_json_lines, Action, Flow, Gate, Method, Outcome, Registry, Transfer,
    TRANSFER_MEMBER,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const FLOWS: [(&str, &str, &str); 3] = [
    ("drenthe/ggd", "noord-nederland/politie", "criminal-investigation"),
    ("drenthe/gemeente", "drenthe/ggd", "care-coordination"),
    ("groningen/zvh", "groningen/gemeente", "signal-assessment"),
];

struct Fixture {
    gate: Gate,
    /// Every key segment of every schema path (without `[]`).
    schema_keys: BTreeSet<String>,
    /// Paths of schema fields and of every object/array on the way to one.
    inner_paths: BTreeSet<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (schema, agreements) = sources();
        let registry = Registry::from_sources(schema, agreements).expect("shipped policies load");
        let keys = test_keys(&registry);
        let gate = Gate::new(registry, keys);
        let mut schema_keys = BTreeSet::new();
        let mut inner_paths = BTreeSet::new();
        for field in gate.registry().schema().fields() {
            let mut prefix = String::new();
            for segment in field.path().split('.') {
                schema_keys.insert(segment.trim_end_matches("[]").to_owned());
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                if let Some(array) = segment.strip_suffix("[]") {
                    inner_paths.insert(format!("{prefix}{array}"));
                }
                prefix.push_str(segment);
                inner_paths.insert(prefix.clone());
            }
        }
        for (from, to, purpose) in FLOWS {
            let transfer = Transfer {
                from,
                to,
                purpose,
                at: at(),
            };
            gate.flow(&transfer)
                .unwrap_or_else(|r| panic!("{from} -> {to} {purpose}: {r}"));
        }
        Fixture {
            gate,
            schema_keys,
            inner_paths,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    for (from, to, purpose) in FLOWS {
        let transfer = Transfer {
            from,
            to,
            purpose,
            at: at(),
        };
        let Ok(flow) = fx.gate.flow(&transfer) else {
            panic!("the flow resolved at start-up");
        };
        let mut out = Vec::new();
        let mut skipped = BTreeSet::new();
        let stats = gate_json_lines(&flow, data, &mut out, |problem| {
            skipped.insert(problem.line());
        })
        .expect("an in-memory stream cannot fail");
        let mut out_lines = out.split_inclusive(|b| *b == b'\n');
        let mut released = 0;
        for (number, line) in (1u64..).zip(data.split_inclusive(|b| *b == b'\n')) {
            let record = line.strip_suffix(b"\n").unwrap_or(line);
            let record = record.strip_suffix(b"\r").unwrap_or(record);
            if record.iter().all(u8::is_ascii_whitespace) || skipped.contains(&number) {
                continue;
            }
            let Some(output) = out_lines.next() else {
                panic!("line {number} was released but there is no output line for it");
            };
            let output = output
                .strip_suffix(b"\n")
                .expect("every output line ends in \\n");
            check(fx, &flow, record, output);
            released += 1;
        }
        assert!(
            out_lines.next().is_none(),
            "more output lines than released records"
        );
        assert_eq!(stats.released, released);
    }
});

fn check(fx: &Fixture, flow: &Flow<'_>, input: &[u8], output: &[u8]) {
    // 1. The in-place walk gives the same bytes.
    let Ok(Outcome::Released(released)) = flow.apply_json(input) else {
        panic!("streamed as released, but apply_json does not release it");
    };
    let reference = serde_json::to_vec(&released.record).expect("serialises");
    assert!(
        reference == output,
        "streamed and in-place outputs differ:\n{}\n{}",
        String::from_utf8_lossy(output),
        String::from_utf8_lossy(&reference)
    );
    let input: Value = serde_json::from_slice(input).expect("the gate parsed it");
    let out: Value = serde_json::from_slice(output).expect("output is JSON");
    let Value::Object(out_map) = &out else {
        panic!("output is not an object")
    };

    // 2. `_transfer` is the flow's terms.
    let plan = flow.plan();
    let terms = serde_json::json!({
        "from": &*plan.sender().id(),
        "to": &*plan.recipient().id(),
        "purpose": &*plan.purpose(),
        "at": fuzz_common::AT,
        "retain_until": flow.retain_until().map(|d| d.to_string()),
    });
    assert_eq!(out_map.get(TRANSFER_MEMBER), Some(&terms));

    let schema = plan.schema();
    let action = |path: &str| {
        schema
            .field(path)
            .and_then(|id| plan.fields().get(id))
            .map(|f| f.action())
    };

    // Input texts by where they are.
    let mut input_at: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut allowed_texts: Vec<String> = Vec::new();
    let mut sensitive: Vec<String> = Vec::new();
    walk(&input, "", &mut |path, value, is_leaf| {
        let crossing = matches!(action(path), Some(Action::Pass | Action::Generalise(_)));
        if is_leaf {
            input_at.entry(path.to_owned()).or_default().push(value);
        }
        let bucket = if crossing {
            &mut allowed_texts
        } else {
            &mut sensitive
        };
        // Below an object or array of the schema the walk goes on; anything else
        // there (a field, an unknown member, a scalar where an object belongs) is
        // taken whole.
        let inner = fx.inner_paths.contains(path) && (value.is_object() || value.is_array());
        if is_leaf || !inner {
            texts(value, bucket);
        }
        is_leaf || !inner
    });

    // 2 and 3: shape and per-leaf forms; collect the output's texts.
    let mut legit: Vec<String> = allowed_texts;
    legit.extend(fx.schema_keys.iter().cloned());
    legit.push(TRANSFER_MEMBER.to_owned());
    if let Some(terms) = out_map.get(TRANSFER_MEMBER) {
        texts(terms, &mut legit);
    }
    let mut out_counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut out_tokens: Vec<String> = Vec::new();
    for (key, value) in out_map {
        if key == TRANSFER_MEMBER {
            continue;
        }
        check_output(
            fx,
            &action,
            &input_at,
            value,
            key,
            &mut out_counts,
            &mut legit,
            &mut out_tokens,
        );
    }
    out_tokens.extend(out_map.keys().cloned());

    // 4. The decision explains the output.
    for field in released.decision.fields() {
        assert!(
            field.released <= field.occurrences,
            "{}: released > occurrences",
            field.path
        );
        let written = out_counts.get(field.path).copied().unwrap_or(0);
        assert_eq!(
            field.released, written,
            "{}: decision counts {} released, output has {}",
            field.path, field.released, written
        );
    }
    for (path, n) in &out_counts {
        let decided = released.decision.fields().find(|f| f.path == path.as_str());
        assert_eq!(
            decided.map(|f| f.released),
            Some(*n),
            "{path}: output values without a decision"
        );
    }

    // 5. No leak.
    // Joined with NUL for speed: a match across a separator in `legit` only skips a
    // check; in the tokens, texts holding a NUL are checked token by token.
    let legit = legit.join("\0");
    let joined_tokens = out_tokens.join("\0");
    for secret in sensitive {
        if secret.chars().count() < 6 || legit.contains(&secret) {
            continue;
        }
        if !secret.contains('\0') && !joined_tokens.contains(&secret) {
            continue;
        }
        for token in &out_tokens {
            assert!(
                !token.contains(&secret),
                "a blocked, pseudonymised or unknown value crossed: {secret:?} in {token:?}"
            );
        }
    }
}

/// Walks a record depth first with schema-style paths (`a.b`, `a[]`); `visit` gets
/// (path, value, whether the path is a schema field) and returns whether to stop
/// descending.
fn walk<'v>(value: &'v Value, path: &str, visit: &mut dyn FnMut(&str, &'v Value, bool) -> bool) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                visit_node(child, &p, visit);
            }
        }
        Value::Array(items) => {
            let p = format!("{path}[]");
            for child in items {
                visit_node(child, &p, visit);
            }
        }
        _ => {}
    }
}

fn visit_node<'v>(
    value: &'v Value,
    path: &str,
    visit: &mut dyn FnMut(&str, &'v Value, bool) -> bool,
) {
    let is_leaf = fixture().gate.registry().schema().field(path).is_some();
    if !visit(path, value, is_leaf) {
        walk(value, path, visit);
    }
}

/// Every string, number and key in `value`.
fn texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Bool(_) | Value::Null => {}
        Value::Array(items) => items.iter().for_each(|v| texts(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                texts(v, out);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_output<'a>(
    fx: &Fixture,
    action: &dyn Fn(&str) -> Option<&'a Action>,
    input_at: &BTreeMap<String, Vec<&Value>>,
    value: &Value,
    path: &str,
    counts: &mut BTreeMap<String, u32>,
    legit: &mut Vec<String>,
    tokens: &mut Vec<String>,
) {
    if let Some(act) = action(path) {
        *counts.entry(path.to_owned()).or_default() += 1;
        match act {
            Action::Block => panic!("{path} is blocked, yet a value crossed"),
            Action::Pass => {
                let had = input_at.get(path).is_some_and(|vs| vs.contains(&value));
                assert!(
                    had,
                    "{path} passes, but its output value is not one the input had there"
                );
                texts(value, tokens);
            }
            Action::Pseudonymise(_) => {
                let Value::String(s) = value else {
                    panic!("{path}: a pseudonym is a string")
                };
                assert!(is_pseudonym(s), "{path}: not a pseudonym: {s:?}");
                legit.push(s.clone());
            }
            Action::Generalise(method) => {
                let Value::String(s) = value else {
                    panic!("{path}: a generalisation is a string")
                };
                assert!(
                    has_form(*method, s),
                    "{path}: {s:?} is not of the form of {method}"
                );
                legit.push(s.clone());
            }
            other => panic!("{path}: unexpected action {other:?}"),
        }
        return;
    }
    assert!(
        fx.inner_paths.contains(path),
        "output path {path} is not in the schema"
    );
    match value {
        Value::Object(map) => {
            assert!(!map.is_empty(), "{path}: an empty object crossed");
            for (key, child) in map {
                assert!(
                    fx.schema_keys.contains(key),
                    "{path}: key {key:?} is not a schema key"
                );
                tokens.push(key.clone());
                check_output(
                    fx,
                    action,
                    input_at,
                    child,
                    &format!("{path}.{key}"),
                    counts,
                    legit,
                    tokens,
                );
            }
        }
        Value::Array(items) => {
            assert!(!items.is_empty(), "{path}: an empty array crossed");
            for child in items {
                check_output(
                    fx,
                    action,
                    input_at,
                    child,
                    &format!("{path}[]"),
                    counts,
                    legit,
                    tokens,
                );
            }
        }
        other => panic!("{path} is an object or array in the schema, yet {other} crossed there"),
    }
}

fn is_pseudonym(s: &str) -> bool {
    let mut parts = s.splitn(3, ':');
    let (Some("pg2"), Some(id), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && tag.len() == 64
        && tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn has_form(method: Method, s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match method {
        Method::Year => s.len() == 4 && digits(s),
        Method::YearMonth => match s.split_once('-') {
            Some((year, month)) => {
                year.len() == 4
                    && digits(year)
                    && month.len() == 2
                    && matches!(month.parse::<u32>(), Ok(1..=12))
            }
            None => false,
        },
        Method::AgeBand => [
            "65+", "55-64", "45-54", "35-44", "25-34", "18-24", "16-17", "12-15", "0-11",
        ]
        .contains(&s),
        Method::Postcode4 => s.len() == 4 && digits(s) && !s.starts_with('0'),
        Method::Placeholder => s == privacy_gate::PLACEHOLDER,
        other => panic!("unexpected {other:?}"),
    }
}
