//! Statistics as suppressed aggregates only: no row crosses a flow of aggregates,
//! cells under the threshold are suppressed, no total is given, every cell value is
//! what the row path would have released, and agreements that would make cells
//! unique do not load.

use crate::util::{chain, root};
use privacy_gate::audit::{AuditLog, SystemClock};
use privacy_gate::{
    AggregateError, AggregateReport, Gate, KeyRing, NotInForce, Outcome, PolicySource, Refusal,
    Registry, Severity, Skip, Transfer, DEFAULT_MIN_COUNT, MIN_COUNT_FLOOR,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

const AT: &str = "2026-03-02T10:00:00Z";

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let registry = Registry::load_dir(&root().join("policies")).unwrap();
        Gate::new(registry, KeyRing::empty())
    })
}

fn transfer<'a>(from: &'a str, to: &'a str, purpose: &'a str) -> Transfer<'a> {
    Transfer {
        from,
        to,
        purpose,
        at: AT.parse().unwrap(),
    }
}

fn drenthe() -> Transfer<'static> {
    transfer("drenthe/zvh", "drenthe/ggd", "statistics")
}

/// A case record with identity, in cell (`labour`, 2025, drenthe, `care`, adult).
fn record(kind: &str, opened_on: &str) -> Value {
    json!({
        "case": {"id": "zvh-dr-2025-0001", "opened_on": opened_on, "province": "drenthe",
                 "exploitation_type": kind, "sector": "agriculture", "routing": "care", "status": "open"},
        "subject": {"bsn": "999998523", "name": {"given": "Anna", "family": "Jansen"},
                    "birth_date": "1990-07-15", "is_minor": false, "sex": "f",
                    "address": {"postcode": "9401 AB", "city": "Assen"}},
        "notes": "free text about the case"
    })
}

fn copies(n: usize, kind: &str) -> Vec<Value> {
    vec![record(kind, "2025-04-03"); n]
}

fn count_of(report: &AggregateReport, kind: &str) -> Option<u64> {
    let at = report
        .dimensions()
        .iter()
        .position(|d| &**d == "case.exploitation_type")
        .unwrap();
    report
        .cells()
        .iter()
        .find(|c| c.values()[at] == json!(kind))
        .map(|c| c.count())
}

#[test]
fn a_cell_below_the_threshold_is_suppressed_and_one_at_it_is_shown() {
    let n = DEFAULT_MIN_COUNT as usize;
    let below = gate()
        .aggregate(&drenthe(), copies(n - 1, "labour"))
        .unwrap();
    assert_eq!(below.min_count(), DEFAULT_MIN_COUNT);
    assert!(below.cells().is_empty());
    assert_eq!(below.suppressed_cells(), 1);
    let at = gate().aggregate(&drenthe(), copies(n, "labour")).unwrap();
    assert_eq!(count_of(&at, "labour"), Some(n as u64));
    assert_eq!(at.suppressed_cells(), 0);
}

#[test]
fn the_stricter_threshold_of_both_sides_decides() {
    // The Groningen ZVH says 10, the Groningen GGD 15.
    let t = transfer("groningen/zvh", "groningen/ggd", "statistics");
    let mut records = vec![record("labour", "2025-04-03"); 14];
    for r in &mut records {
        r["case"]["province"] = json!("groningen");
    }
    let report = gate().aggregate(&t, records.clone()).unwrap();
    assert_eq!(report.min_count(), 15);
    assert!(report.cells().is_empty());
    records.push(records[0].clone());
    let report = gate().aggregate(&t, records).unwrap();
    assert_eq!(count_of(&report, "labour"), Some(15));
}

#[test]
fn cells_hold_the_generalised_values_and_nothing_identifying() {
    let report = gate().aggregate(&drenthe(), copies(12, "sexual")).unwrap();
    assert_eq!(
        report.dimensions().iter().map(|d| &**d).collect::<Vec<_>>(),
        [
            "case.exploitation_type",
            "case.opened_on",
            "case.province",
            "case.routing",
            "subject.is_minor"
        ]
    );
    let [cell] = report.cells() else {
        panic!("one cell expected")
    };
    assert_eq!(
        cell.values(),
        [
            json!("sexual"),
            json!("2025"),
            json!("drenthe"),
            json!("care"),
            json!(false)
        ]
    );
    let text = report.to_json().to_string();
    for raw in [
        "999998523",
        "Anna",
        "Jansen",
        "1990",
        "9401",
        "Assen",
        "free text",
        "agriculture",
        "2025-04",
        "zvh-dr-2025-0001",
    ] {
        assert!(!text.contains(raw), "{raw} in {text}");
    }
}

#[test]
fn the_release_has_no_total_and_no_count_of_what_was_left_out() {
    let mut aggregation = gate().aggregation(&drenthe()).unwrap();
    for r in copies(11, "labour")
        .into_iter()
        .chain(copies(3, "criminal"))
    {
        aggregation.add(r).unwrap();
    }
    assert!(matches!(
        aggregation.add_json(b"not json"),
        Err(Skip::Malformed(_))
    ));
    assert!(matches!(
        aggregation.add(json!([1])),
        Err(Skip::Malformed(_))
    ));
    let report = aggregation.finish();
    assert_eq!(report.skipped().malformed, 2);
    let release = report.to_json();
    let keys: Vec<&str> = release
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Exactly these members: nothing a reader could subtract shown counts from.
    assert_eq!(
        keys,
        [
            "at",
            "cells",
            "dimensions",
            "from",
            "min_count",
            "purpose",
            "retain_until",
            "suppressed_cells",
            "to"
        ]
    );
    assert_eq!(release["suppressed_cells"], 1);
    assert_eq!(release["cells"].as_array().unwrap().len(), 1);
    assert_eq!(release["cells"][0]["count"], 11);
    assert_eq!(
        release["cells"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["count", "values"]
    );
}

#[test]
fn no_row_crosses_a_flow_of_aggregates() {
    let gate = gate();
    let refusal = gate.flow(&drenthe()).unwrap_err();
    assert_eq!(
        refusal,
        Refusal::AggregatesOnly {
            min_count: DEFAULT_MIN_COUNT
        }
    );
    assert!(
        refusal.to_string().contains("privacy-gate aggregate"),
        "{refusal}"
    );
    for (from, to) in [
        ("drenthe/zvh", "drenthe/ggd"),
        ("drenthe/gemeente", "drenthe/ggd"),
        ("groningen/zvh", "groningen/ggd"),
        ("groningen/gemeente", "groningen/ggd"),
        ("friesland/zvh", "friesland/ggd"),
    ] {
        let t = transfer(from, to, "statistics");
        let outcome = gate.apply(&t, record("labour", "2025-04-03")).unwrap();
        assert!(
            matches!(outcome, Outcome::Refused(Refusal::AggregatesOnly { .. })),
            "{from} -> {to}: {outcome:?}"
        );
        let bytes = serde_json::to_vec(&record("labour", "2025-04-03")).unwrap();
        let outcome = gate.apply_json(&t, &bytes).unwrap();
        assert!(matches!(
            outcome,
            Outcome::Refused(Refusal::AggregatesOnly { .. })
        ));
    }
}

#[test]
fn an_audited_gate_logs_the_refused_row_path() {
    let dir = crate::util::TempDir::new("aggregates");
    let registry = Registry::load_dir(&root().join("policies")).unwrap();
    let keys = crate::audit::ring();
    let log_path = dir.path("audit.log");
    let (log, _) = AuditLog::open(&log_path, &keys, Arc::new(SystemClock)).unwrap();
    let archive = privacy_gate::audit::Archive::next_to(&log_path);
    let gate = Gate::new(registry, keys)
        .with_audit(Arc::new(log), &archive)
        .unwrap();
    assert!(gate.flow(&drenthe()).is_err());
    drop(gate);
    let text = std::fs::read_to_string(&log_path).unwrap();
    // Format 3 ends every write with a signed checkpoint; the refusal is before it.
    let refusals: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(r#""reason":{"reason":"aggregates-only","min_count":10}"#))
        .collect();
    assert_eq!(refusals.len(), 1, "{text}");
}

#[test]
fn aggregating_a_flow_of_records_or_a_refused_transfer_is_an_error() {
    let rows = transfer("drenthe/gemeente", "drenthe/ggd", "care-coordination");
    let err = gate().aggregate(&rows, copies(20, "labour")).unwrap_err();
    assert!(matches!(err, AggregateError::NotAggregate { .. }), "{err}");
    // The Friesland municipality's agreement is a draft.
    let draft = transfer("friesland/gemeente", "friesland/ggd", "statistics");
    let err = gate().aggregate(&draft, copies(20, "labour")).unwrap_err();
    assert!(
        matches!(
            err,
            AggregateError::Refused(Refusal::NotInForce {
                why: NotInForce::Draft,
                ..
            })
        ),
        "{}",
        chain(&err)
    );
}

/// Attack: a sender singles someone out by giving them a value nobody else has in a
/// dimension. Their cell counts one record, and is suppressed.
#[test]
fn a_unique_value_in_a_dimension_singles_no_one_out() {
    let mut records = copies(30, "labour");
    records.push(record("organ-removal", "2025-04-03"));
    let report = gate().aggregate(&drenthe(), records).unwrap();
    assert_eq!(count_of(&report, "labour"), Some(30));
    assert_eq!(count_of(&report, "organ-removal"), None);
    assert_eq!(report.suppressed_cells(), 1);
    assert!(!report.to_json().to_string().contains("organ-removal"));
}

/// Attack: identifying text put into a dimension field does not fit its enumeration,
/// so it is removed as on the row path and counts as "no value" there.
#[test]
fn text_smuggled_into_a_dimension_never_reaches_a_cell() {
    let mut records = copies(9, "labour");
    for r in records.iter_mut().take(3) {
        r["case"]["routing"] = json!("BSN 999998523 Jan Jansen");
    }
    records.extend(copies(10, "labour"));
    let report = gate().aggregate(&drenthe(), records).unwrap();
    let text = report.to_json().to_string();
    assert!(
        !text.contains("999998523") && !text.contains("Jansen"),
        "{text}"
    );
    // 16 in the `care` cell, 3 in a cell with no routing: suppressed.
    assert_eq!(count_of(&report, "labour"), Some(16));
    assert_eq!(report.suppressed_cells(), 1);
}

/// The shipped example records: 23 rows spread over three provinces give only
/// suppressed cells; 300 synthetic Drenthe records give both.
#[test]
fn the_example_records_give_suppressed_counts() {
    let count = |file: &str| {
        let mut aggregation = gate().aggregation(&drenthe()).unwrap();
        let input = std::fs::read(root().join(file)).unwrap();
        aggregation
            .add_json_lines(&input[..], |problem| panic!("line {}", problem.line()))
            .unwrap();
        aggregation.finish()
    };
    let small = count("examples/records.jsonl");
    assert!(small.cells().is_empty());
    assert!(small.suppressed_cells() > 0);
    let large = count("examples/statistics.jsonl");
    assert!(!large.cells().is_empty());
    assert!(large.suppressed_cells() > 0);
    assert!(large.cells().iter().all(|c| c.count() >= 10));
}

// --- agreements that would make cells unique do not load ---------------------------

/// The shipped policy set as sources, with `edit` applied to the text of `file`.
fn shipped_with(file: &str, edit: impl Fn(&str) -> String) -> Vec<PolicySource> {
    let policies = root().join("policies");
    let mut sources = Vec::new();
    for province in std::fs::read_dir(&policies).unwrap() {
        let province = province.unwrap().path();
        if !province.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&province).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "json") {
                let name = path.strip_prefix(root()).unwrap().display().to_string();
                let text = std::fs::read_to_string(&path).unwrap();
                let text = if name == file { edit(&text) } else { text };
                sources.push(PolicySource { file: name, text });
            }
        }
    }
    sources
}

fn load_errors(file: &str, edit: impl Fn(&str) -> String) -> Vec<String> {
    let schema = PolicySource {
        file: "policies/schema.json".into(),
        text: std::fs::read_to_string(root().join("policies/schema.json")).unwrap(),
    };
    let sources = shipped_with(file, edit);
    let err = Registry::from_sources(&schema, &sources).expect_err("must not load");
    err.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

const ZVH: &str = "policies/drenthe/zvh.json";

#[test]
fn a_statistics_rule_without_aggregate_terms_does_not_load() {
    let errors = load_errors(ZVH, |t| {
        t.replace(",\n      \"aggregate\": {\"min_count\": 10}", "")
    });
    let [error] = &errors[..] else {
        panic!("{errors:#?}")
    };
    assert!(
        error.starts_with("error: policies/drenthe/zvh.json:"),
        "{error}"
    );
    assert!(error.contains("at `/outbound/7`"), "{error}");
    assert!(
        error.contains("rule `dr-zvh-out-ggd-stats` serves purpose `statistics`, which the schema releases as aggregates only: add `\"aggregate\": {\"min_count\": 10}`"),
        "{error}"
    );
}

#[test]
fn a_threshold_below_the_floor_does_not_load() {
    let below = MIN_COUNT_FLOOR - 1;
    let errors = load_errors(ZVH, |t| {
        t.replace(
            "\"aggregate\": {\"min_count\": 10}",
            &format!("\"aggregate\": {{\"min_count\": {below}}}"),
        )
    });
    let [error] = &errors[..] else {
        panic!("{errors:#?}")
    };
    assert!(
        error.contains("at `/outbound/7/aggregate/min_count`"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "`min_count` {below} is below the floor of {MIN_COUNT_FLOOR}"
        )),
        "{error}"
    );
    // At the floor, the set loads.
    let schema = PolicySource {
        file: "policies/schema.json".into(),
        text: std::fs::read_to_string(root().join("policies/schema.json")).unwrap(),
    };
    let at_floor = shipped_with(ZVH, |t| {
        t.replace(
            "\"aggregate\": {\"min_count\": 10}",
            &format!("\"aggregate\": {{\"min_count\": {MIN_COUNT_FLOOR}}}"),
        )
    });
    let registry = Registry::from_sources(&schema, &at_floor).unwrap();
    let plan = registry
        .plan_for("drenthe/zvh", "drenthe/ggd", "statistics")
        .unwrap();
    // The GGD's inbound rule still says 10: the larger wins.
    assert_eq!(plan.aggregate().unwrap().min_count(), 10);
}

/// Pseudonyms, record identifiers, free text and plain dates make every cell unique:
/// a flow of aggregates may not let them cross, whatever both sides agree.
#[test]
fn fields_that_make_cells_unique_do_not_load() {
    let both = |path: &str, action: &str| {
        let (path, action) = (path.to_owned(), action.to_owned());
        move |t: &str| {
            t.replace(
                "\"subject.is_minor\": \"pass\"\n      },\n      \"aggregate\"",
                &format!("\"subject.is_minor\": \"pass\",\n        \"{path}\": {action}\n      }},\n      \"aggregate\""),
            )
        }
    };
    for (path, action, why) in [
        (
            "case.id",
            "\"pass\"",
            "a record identifier is unique per record",
        ),
        (
            "notes",
            "\"pass\"",
            "only booleans and strings with an `enum` may pass",
        ),
        (
            "subject.bsn",
            "{\"pseudonymise\": {\"domain\": \"drenthe/mensenhandel\"}}",
            "a pseudonym is unique per person",
        ),
        ("subject.birth_date", "\"pass\"", "generalise it to `year`"),
        (
            "contacts[].date",
            "{\"generalise\": \"year\"}",
            "inside an array",
        ),
    ] {
        // The sender's outbound rule and the GGD's inbound rule both let it cross.
        let schema = PolicySource {
            file: "policies/schema.json".into(),
            text: std::fs::read_to_string(root().join("policies/schema.json")).unwrap(),
        };
        let sender_edit = both(path, action);
        let mut sources = shipped_with(ZVH, &sender_edit);
        for source in &mut sources {
            if source.file == "policies/drenthe/ggd.json" {
                source.text = sender_edit(&source.text);
            }
        }
        let err = Registry::from_sources(&schema, &sources).expect_err(path);
        let text = err.diagnostics.to_string();
        assert!(
            text.contains(&format!("this flow releases aggregates only, and `{path}`"))
                && text.contains(why),
            "{path}: {text}"
        );
        assert!(text.contains("policies/drenthe/zvh.json:"), "{text}");
    }
}

// --- invariants ------------------------------------------------------------------

fn any_record() -> impl Strategy<Value = Value> {
    let kind = prop::sample::select(vec!["labour", "sexual", "criminal", "organ-removal", "?"]);
    let routing = prop::sample::select(vec!["care", "criminal", "both", "none"]);
    (
        kind,
        routing,
        2023u32..2026,
        1u32..13,
        any::<Option<bool>>(),
    )
        .prop_map(|(kind, routing, year, month, minor)| {
            let mut r = json!({
                "case": {"opened_on": format!("{year}-{month:02}-15"), "province": "drenthe",
                         "exploitation_type": kind, "routing": routing},
                "subject": {"bsn": "999998523", "name": {"family": "Jansen"}}
            });
            if let Some(minor) = minor {
                r["subject"]["is_minor"] = json!(minor);
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// No released cell counts fewer records than the threshold; every released cell
    /// has its true count; a cell is released or counted as suppressed, never both.
    #[test]
    fn no_cell_below_the_threshold_and_every_count_true(
        records in prop::collection::vec(any_record(), 0..120)
    ) {
        let report = gate().aggregate(&drenthe(), records.clone()).unwrap();
        let mut truth = std::collections::BTreeMap::<String, u64>::new();
        for r in &records {
            let kind = r["case"]["exploitation_type"].as_str().unwrap();
            let key = json!([
                if kind == "?" { Value::Null } else { json!(kind) },
                json!(&r["case"]["opened_on"].as_str().unwrap()[..4]),
                json!("drenthe"),
                r["case"]["routing"].clone(),
                r["subject"].get("is_minor").cloned().unwrap_or(Value::Null),
            ]);
            *truth.entry(key.to_string()).or_default() += 1;
        }
        for cell in report.cells() {
            prop_assert!(cell.count() >= u64::from(report.min_count()));
            let key = Value::Array(cell.values().to_vec()).to_string();
            prop_assert_eq!(truth.get(&key).copied(), Some(cell.count()));
        }
        let small = truth.values().filter(|n| **n < u64::from(report.min_count())).count();
        prop_assert_eq!(report.suppressed_cells(), small as u64);
        prop_assert_eq!(report.cells().len() + small, truth.len());
    }

    /// The release does not depend on the order of the records.
    #[test]
    fn the_release_is_independent_of_input_order(
        records in prop::collection::vec(any_record(), 0..80),
        seed in any::<u64>()
    ) {
        let mut shuffled = records.clone();
        // A deterministic Fisher-Yates from the seed (no `rand` here).
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = gate().aggregate(&drenthe(), records).unwrap().to_json();
        let b = gate().aggregate(&drenthe(), shuffled).unwrap().to_json();
        prop_assert_eq!(a, b);
    }

    /// Adding records never makes a released cell smaller or hides it: suppression
    /// is per cell, so one more record elsewhere changes nothing shown here.
    #[test]
    fn more_records_never_hide_a_released_cell(
        records in prop::collection::vec(any_record(), 0..80),
        more in prop::collection::vec(any_record(), 0..20)
    ) {
        let before = gate().aggregate(&drenthe(), records.clone()).unwrap();
        let after = gate()
            .aggregate(&drenthe(), records.into_iter().chain(more))
            .unwrap();
        for cell in before.cells() {
            let later = after.cells().iter().find(|c| c.values() == cell.values());
            prop_assert!(later.is_some_and(|c| c.count() >= cell.count()));
        }
    }
}
