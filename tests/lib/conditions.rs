//! Conditions and retention from an event, on a small synthetic set: conditions on a
//! path entry remove only their field, both sides' conditions bind, the streaming
//! path writes what `apply` releases, retention starts at the event the record
//! marks; and every mistake in a condition or a retention is a typed error at its
//! place in the file, with a hint, and no registry is built.

use crate::fixtures::schema_source;
use crate::util::Memory;
use privacy_gate::audit::{self, Archive, AuditLog, SteppingClock};
use privacy_gate::compare::{compare_flow, FlowKind, Likeness};
use privacy_gate::{
    Action, Gate, KeyRing, Outcome, PolicySource, Refusal, Registry, RemovalReason, Severity,
    Transfer, Written,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// The fixture schema plus an enumerated status, a date that marks an event, and
/// the event.
fn schema() -> PolicySource {
    let mut schema: Value = serde_json::from_str(&schema_source().text).unwrap();
    schema["fields"]["a.e"] =
        json!({"category": "c1", "type": "string", "enum": ["open", "closed"]});
    schema["fields"]["a.closed"] = json!({"category": "c1", "type": "date"});
    schema["events"] = json!({"a-closed": {"title": "closed", "field": "a.closed"}});
    PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&schema).unwrap(),
    }
}

/// The fixture agreement with a maximum retention of three years.
fn agreement(id: &str, kind: &str, body: Value) -> PolicySource {
    let mut with_max = json!({"max_retention": "P3Y"});
    for (k, v) in body.as_object().into_iter().flatten() {
        with_max[k] = v.clone();
    }
    crate::fixtures::agreement(id, kind, with_max)
}

/// Sender `x/s` with `outbound` rules (each completed with counterparty and
/// purpose), recipient `x/r` with one inbound rule passing `c1` and `paths`.
fn pair(outbound: Value, inbound_paths: Value) -> Vec<PolicySource> {
    let rules: Vec<Value> = outbound
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r["to"] = json!({"organisation": "x/r"});
            r["purpose"] = json!("p");
            r
        })
        .collect();
    vec![
        agreement("x/s", "ggd", json!({"outbound": rules})),
        agreement(
            "x/r",
            "zvh",
            json!({"inbound": [{"id": "in", "from": {"kind": "ggd"}, "purpose": "p",
                                "categories": {"c1": "pass"}, "paths": inbound_paths}]}),
        ),
    ]
}

fn gate(sources: &[PolicySource]) -> Gate {
    Gate::new(
        Registry::from_sources(&schema(), sources).unwrap(),
        KeyRing::empty(),
    )
}

fn transfer() -> Transfer<'static> {
    Transfer {
        from: "x/s",
        to: "x/r",
        purpose: "p",
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
    }
}

fn released(gate: &Gate, record: Value) -> privacy_gate::Released {
    match gate.apply(&transfer(), record).unwrap() {
        Outcome::Released(r) => r,
        Outcome::Refused(why) => panic!("refused: {why}"),
    }
}

/// The sender passes `c1` (`a.s`, `a.d`, `flag`, ...) and `a.s` only while `a.e` is
/// open.
fn conditioned_sender() -> Value {
    json!([{"id": "out", "retention": "P1Y", "categories": {"c1": "pass"},
            "paths": {"a.s": {"action": "pass", "when": {"path": "a.e", "in": ["open"]}}}}])
}

#[test]
fn a_field_condition_removes_only_its_field_and_cites_its_clause() {
    let gate = gate(&pair(conditioned_sender(), json!({})));
    let open = released(
        &gate,
        json!({"a": {"e": "open", "s": "kept", "d": "2026-01-01"}}),
    );
    assert_eq!(open.record["a"]["s"], "kept");
    assert!(open.decision.removed().is_empty());

    for a in [
        json!({"e": "closed", "s": "secret", "d": "2026-01-01"}),
        // Missing, wrong-typed and out-of-bounds values decide nothing: removed too.
        json!({"s": "secret", "d": "2026-01-01"}),
        json!({"e": 1, "s": "secret", "d": "2026-01-01"}),
        json!({"e": "OPEN", "s": "secret", "d": "2026-01-01"}),
    ] {
        let r = released(&gate, json!({ "a": a }));
        assert!(r.record["a"].get("s").is_none(), "{a}");
        assert_eq!(
            r.record["a"]["d"], "2026-01-01",
            "the rest of the record flows"
        );
        let removal = r
            .decision
            .removed()
            .iter()
            .find(|x| x.reason == RemovalReason::ConditionNotMet)
            .unwrap_or_else(|| panic!("{a}: {:?}", r.decision.removed()));
        assert_eq!(removal.pointer, "/a/s");
        assert_eq!(removal.path.as_deref(), Some("a.s"));
        let clause = removal.clause.as_ref().unwrap();
        assert_eq!((clause.agreement(), clause.rule()), ("x/s", "out"));
        // The decision says why, and quotes no value.
        let json = r.decision.to_json().to_string();
        assert!(json.contains("condition-not-met"), "{json}");
        assert!(json.contains("a.e in [open]"), "{json}");
        assert!(!json.contains("secret"), "{json}");
    }
}

#[test]
fn both_sides_field_conditions_must_hold() {
    let gate = gate(&pair(
        conditioned_sender(),
        json!({"a.s": {"action": "pass", "when": {"path": "flag", "is": true}}}),
    ));
    let plan = gate.registry().plan_for("x/s", "x/r", "p").unwrap();
    let field = gate.registry().schema().field("a.s").unwrap();
    let rules: Vec<&str> = plan.fields()[field]
        .conditions()
        .iter()
        .map(|c| c.rule())
        .collect();
    assert_eq!(rules, ["out", "in"]);
    for (e, flag, crosses, rule) in [
        ("open", true, true, None),
        ("open", false, false, Some("in")),
        ("closed", true, false, Some("out")),
        ("closed", false, false, Some("out")),
    ] {
        let r = released(&gate, json!({"a": {"e": e, "s": "v"}, "flag": flag}));
        assert_eq!(r.record["a"].get("s").is_some(), crosses, "{e} {flag}");
        let by = r.decision.removed().first().and_then(|x| x.clause.as_ref());
        assert_eq!(by.map(|c| c.rule()), rule, "{e} {flag}");
    }
}

/// The streaming path (`write_json`, which `gate_json_lines` uses) writes exactly
/// the record `apply` releases, terms included.
#[test]
fn the_streaming_path_writes_what_apply_releases() {
    let mut outbound = conditioned_sender();
    outbound[0]["retention"] = json!(["P2Y", {"period": "P1Y", "after": "a-closed"}]);
    let gate = gate(&pair(outbound, json!({})));
    let flow = gate.flow(&transfer()).unwrap();
    for record in [
        json!({"a": {"e": "open", "s": "x", "closed": "2026-01-10"}}),
        json!({"a": {"e": "closed", "s": "x"}}),
        json!({"a": {"s": "x", "closed": "bad"}, "flag": true}),
        json!({"a": {"s": "x", "closed": "2020-01-01"}}),
    ] {
        let bytes = record.to_string();
        let mut out = Vec::new();
        match (
            flow.apply(record.clone()).unwrap(),
            flow.write_json(bytes.as_bytes(), &mut out).unwrap(),
        ) {
            (Outcome::Released(r), Written::Released(d)) => {
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(&r.record).unwrap()
                );
                assert_eq!(d.removed(), r.decision.removed());
                assert_eq!(d.retain_until(), r.decision.retain_until());
            }
            (Outcome::Refused(a), Written::Refused(b)) => assert_eq!(a, b),
            (a, b) => panic!("{record}: apply {a:?}, write_json {b:?}"),
        }
    }
}

#[test]
fn retention_starts_at_the_event_the_record_marks() {
    let gate = gate(&pair(
        json!([{"id": "out", "retention": {"period": "P1Y", "after": "a-closed"}, "categories": {"c1": "pass"}}]),
        json!({}),
    ));
    let closed = released(&gate, json!({"a": {"s": "x", "closed": "2026-01-10"}}));
    assert_eq!(closed.record["_transfer"]["retain_until"], "2027-01-10");
    assert!(closed.record["_transfer"].get("retain").is_none());
    assert_eq!(
        closed.decision.retain_until().unwrap().to_string(),
        "2027-01-10"
    );

    // Not closed yet (or the day is unusable): the terms say the period is pending,
    // never an open-ended silence.
    for a in [json!({"s": "x"}), json!({"s": "x", "closed": "10-01-2026"})] {
        let open = released(&gate, json!({ "a": a }));
        assert_eq!(open.record["_transfer"]["retain_until"], Value::Null);
        assert_eq!(
            open.record["_transfer"]["retain"],
            json!([{"period": "P1Y", "after": "a-closed"}])
        );
        assert_eq!(open.decision.retain_pending().len(), 1);
        assert_eq!(
            open.decision.to_json()["retain"],
            json!(["P1Y after a-closed"])
        );
    }

    // Closed so long ago that the period ended before the transfer: nothing crosses.
    match gate
        .apply(
            &transfer(),
            json!({"a": {"s": "x", "closed": "2025-03-01"}}),
        )
        .unwrap()
    {
        Outcome::Refused(refusal @ Refusal::RetentionExpired { .. }) => {
            assert_eq!(
                refusal,
                Refusal::RetentionExpired {
                    event: "a-closed".into()
                }
            );
            // The refusal names no day: it would reveal the record's.
            assert!(
                !refusal.to_string().contains("2025") && !refusal.to_string().contains("2026"),
                "{refusal}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The last day itself is still in time.
    let last = released(&gate, json!({"a": {"closed": "2025-03-02"}}));
    assert_eq!(last.record["_transfer"]["retain_until"], "2026-03-02");
}

/// Two rules of the flow, one from the transfer and one from the event: the earlier
/// deadline binds, and a pending event still shows in the terms.
#[test]
fn with_retention_from_the_transfer_and_from_an_event_the_earlier_deadline_binds() {
    let gate = gate(&pair(
        json!([
            {"id": "a", "retention": "P2Y", "categories": {"c1": "pass"}},
            {"id": "b", "retention": {"period": "P6M", "after": ["a-closed"]}, "paths": {"a.d": "pass"}}
        ]),
        json!({}),
    ));
    let plan = gate.registry().plan_for("x/s", "x/r", "p").unwrap();
    let texts: Vec<String> = plan.retention().iter().map(ToString::to_string).collect();
    assert_eq!(texts, ["P2Y", "P6M after a-closed"]);
    let open = released(&gate, json!({"a": {"s": "x"}}));
    assert_eq!(open.record["_transfer"]["retain_until"], "2028-03-02");
    assert_eq!(open.record["_transfer"]["retain"][0]["after"], "a-closed");
    let closed = released(&gate, json!({"a": {"closed": "2026-02-01"}}));
    assert_eq!(closed.record["_transfer"]["retain_until"], "2026-08-01");
    let long_open = released(&gate, json!({"a": {"closed": "2029-01-01"}}));
    assert_eq!(long_open.record["_transfer"]["retain_until"], "2028-03-02");
}

/// An audited gate logs the flow's deadline from the transfer day, never one counted
/// from an event's day (that would reveal the record's day); the log verifies.
#[test]
fn the_audit_log_holds_no_day_counted_from_the_record() {
    let keys = || {
        let text = json!({"domains": {},
                   "audit_writer": {"name": "test.example/audit", "secret": "a6".repeat(32)},
                   "audit_records": {"active": "a1", "keys": {"a1": "a5".repeat(32)}},
                   "audit_subject": {"active": "s1", "keys": {"s1": "a7".repeat(32)}}});
        KeyRing::from_json("t", text.to_string().as_bytes()).unwrap()
    };
    let memory = Memory::default();
    let archive = std::env::temp_dir().join(format!("pg-cond-audit-{}", std::process::id()));
    let at = transfer().at;
    let log = AuditLog::with_storage(
        std::path::Path::new("audit.log"),
        Box::new(memory.clone()),
        &keys(),
        Arc::new(SteppingClock::new(at, chrono::Duration::milliseconds(1))),
    )
    .unwrap();
    let registry = Registry::from_sources(
        &schema(),
        &pair(
            json!([{"id": "out", "retention": ["P2Y", {"period": "P1Y", "after": "a-closed"}],
                    "categories": {"c1": "pass"},
                    "paths": {"a.s": {"action": "pass", "when": {"not": {"path": "a.e", "in": ["closed"]}}}}}]),
            json!({}),
        ),
    )
    .unwrap();
    let gate = Gate::new(registry, keys())
        .with_audit(Arc::new(log), &Archive::new(&archive))
        .unwrap();
    let flow = gate.flow(&transfer()).unwrap();
    let records = [
        r#"{"a":{"s":"x","closed":"2026-01-10"}}"#,
        r#"{"a":{"s":"x","e":"closed"}}"#,
        r#"{"a":{"s":"x","closed":"2024-01-01"}}"#,
    ];
    for record in records {
        flow.write_json(record.as_bytes(), &mut Vec::new()).unwrap();
    }
    flow.apply(serde_json::from_str(records[0]).unwrap())
        .unwrap();
    let bytes = memory.0.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(&archive);
    let public = audit::VerifierKey::of(keys().audit_writer().unwrap(), audit::note::ED25519);
    audit::verify(&bytes, &public).unwrap();
    let entries: Vec<Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .filter(|e: &Value| e["kind"] == "transfer")
        .collect();
    assert_eq!(entries.len(), 4);
    for i in [0, 1, 3] {
        assert_eq!(entries[i]["retain_until"], "2028-03-02", "{}", entries[i]);
    }
    assert_eq!(entries[1]["removed"][0]["reason"], "condition-not-met");
    assert_eq!(
        entries[2]["reason"],
        json!({"reason": "retention-expired", "event": "a-closed"})
    );
    let text = String::from_utf8(bytes).unwrap();
    for day in ["2026-01-10", "2027-01-10", "2024-01-01", "2025-01-01"] {
        assert!(!text.contains(day), "the log holds {day}");
    }
}

/// `compare` does not take a conditioned pass for the pass without the condition:
/// the provinces differ on the field, and the common ground keeps the condition.
#[test]
fn compare_treats_a_conditioned_pass_as_different_and_keeps_the_condition() {
    let province = |p: &str, when: Option<Value>| {
        let entry = match when {
            Some(w) => json!({"action": "pass", "when": w}),
            None => json!("pass"),
        };
        [
            agreement(
                &format!("{p}/s"),
                "ggd",
                json!({"outbound": [{"id": "out", "to": {"kind": "zvh", "province": p}, "purpose": "p",
                                     "retention": "P1Y", "categories": {"c1": "pass"}, "paths": {"a.s": entry}}]}),
            ),
            agreement(
                &format!("{p}/r"),
                "zvh",
                json!({"inbound": [{"id": "in", "from": {"kind": "ggd", "province": p}, "purpose": "p",
                                    "categories": {"c1": "pass"}}]}),
            ),
        ]
    };
    let consent = json!({"path": "a.e", "in": ["open"]});
    let mut sources = Vec::new();
    sources.extend(province("pa", None));
    sources.extend(province("pb", Some(consent.clone())));
    let registry = Registry::from_sources(&schema(), &sources).unwrap();
    let c = compare_flow(
        &registry,
        &FlowKind::new("ggd", "zvh", "p"),
        &[],
        transfer().at,
    )
    .unwrap();
    let field = c.field("a.s").unwrap();
    assert_eq!(field.likeness, Likeness::Different);
    assert_eq!(field.cells[0].effective, Action::Pass);
    assert_eq!(field.cells[1].effective, Action::Pass);
    assert_eq!(field.cells[1].conditions, ["a.e in [open]"]);
    assert_eq!(field.common_ground, Action::Pass);
    assert_eq!(field.common_conditions, ["a.e in [open]"]);
    // Fields without conditions are alike as before.
    assert_eq!(c.field("a.d").unwrap().likeness, Likeness::Same);
}

// --- bad input --------------------------------------------------------------------

/// The errors of a set that must not load, each with its pointer and place.
fn errors_of(sources: &[PolicySource]) -> Vec<privacy_gate::Diagnostic> {
    let err = Registry::from_sources(&schema(), sources).expect_err("the set must not load");
    err.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect()
}

/// One outbound rule with `when`, and whether loading it gives exactly `expected`
/// (message part) at `pointer`, with line and column.
fn assert_condition_error(when: Value, pointer: &str, expected: &str) {
    let sources = pair(
        json!([{"id": "out", "retention": "P1Y", "categories": {"c1": "pass"}, "when": when}]),
        json!({}),
    );
    let errors = errors_of(&sources);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!(e.pointer.as_deref(), Some(pointer), "{e}");
    assert!(e.line.is_some() && e.column.is_some(), "{e}");
    assert_eq!(e.file, "t/x/s.json");
    assert_eq!(e.agreement.as_deref(), Some("x/s"));
    assert!(
        e.message.contains(expected),
        "expected `{expected}` in: {e}"
    );
}

#[test]
fn a_condition_on_an_unknown_path_names_the_place_and_the_closest_path() {
    assert_condition_error(
        json!({"path": "a.ee", "in": ["open"]}),
        "/outbound/0/when/path",
        "unknown field path `a.ee` (did you mean `a.e`?)",
    );
    // Deep inside, the pointer follows the nesting.
    assert_condition_error(
        json!({"any": [{"path": "a.e", "in": ["open"]}, {"not": {"path": "flg", "is": true}}]}),
        "/outbound/0/when/any/1/not/path",
        "unknown field path `flg` (did you mean `flag`?)",
    );
    // The display of the diagnostic: file, line, column, agreement, pointer, hint.
    let sources = pair(
        json!([{"id": "out", "retention": "P1Y", "categories": {"c1": "pass"}, "when": {"path": "a.ee", "in": ["open"]}}]),
        json!({}),
    );
    let shown = errors_of(&sources)[0].to_string();
    assert!(
        shown.starts_with("error: t/x/s.json:")
            && shown.contains(": x/s at `/outbound/0/when/path`: unknown field path `a.ee`"),
        "{shown}"
    );
}

#[test]
fn comparisons_that_do_not_fit_the_field_type_are_errors_with_a_fix() {
    assert_condition_error(
        json!({"path": "a.s", "before": "2025-01-01"}),
        "/outbound/0/when/before",
        "`before` compares a date field, and `a.s` is of type `string`: use `in`",
    );
    assert_condition_error(
        json!({"path": "a.d", "is": true}),
        "/outbound/0/when/is",
        "`is` compares a boolean field, and `a.d` is of type `date`: use `before`, `after`, `on_or_before`, `on_or_after` or `within`",
    );
    assert_condition_error(
        json!({"path": "flag", "within": "P1Y"}),
        "/outbound/0/when/within",
        "`within` compares a date field, and `flag` is of type `boolean`: use `is`",
    );
    assert_condition_error(
        json!({"path": "a.d", "in": ["2025-01-01"]}),
        "/outbound/0/when/in",
        "`in` compares a string, boolean or number field, and `a.d` is of type `date`",
    );
    assert_condition_error(
        json!({"path": "a.d", "after": "2025-13-01"}),
        "/outbound/0/when/after",
        "`after` takes a day `YYYY-MM-DD`",
    );
    assert_condition_error(
        json!({"path": "a.d", "within": "1 year"}),
        "/outbound/0/when/within",
        "`within` takes an ISO 8601 period",
    );
    assert_condition_error(
        json!({"path": "flag", "in": [true]}),
        "/outbound/0/when/in/0",
        "for a boolean field write `{\"path\": \"flag\", \"is\": true}`",
    );
}

#[test]
fn a_value_outside_the_fields_enumeration_is_an_error() {
    assert_condition_error(
        json!({"path": "a.e", "in": ["open", "closd"]}),
        "/outbound/0/when/in/1",
        "`closd` is not a value of field `a.e` (did you mean `closed`?); its values: closed, open",
    );
    assert_condition_error(
        json!({"path": "num", "in": ["twelve"]}),
        "/outbound/0/when/in/0",
        "`twelve` is not a number",
    );
}

#[test]
fn a_path_inside_an_array_empty_combinators_and_odd_shapes_are_errors() {
    assert_condition_error(
        json!({"path": "list[].d", "before": "2025-01-01"}),
        "/outbound/0/when/path",
        "`list[].d` is inside an array, and a condition reads one value per record",
    );
    assert_condition_error(
        json!({"all": []}),
        "/outbound/0/when/all",
        "`all` needs at least one condition: an empty `all` would always hold",
    );
    assert_condition_error(
        json!({"not": {"any": []}}),
        "/outbound/0/when/not/any",
        "`any` needs at least one condition: an empty `any` would never hold",
    );
    assert_condition_error(
        json!({"path": "a.e", "inn": ["open"]}),
        "/outbound/0/when/inn",
        "unknown member `inn` in a condition (did you mean `in`?)",
    );
    assert_condition_error(
        json!({"path": "a.e", "in": ["open"], "is": true}),
        "/outbound/0/when",
        "a test makes one comparison, and this one has `in` and `is`",
    );
    assert_condition_error(
        json!({"all": [{"path": "a.e", "in": ["open"]}], "path": "a.e"}),
        "/outbound/0/when",
        "`all` stands alone in its object",
    );
    assert_condition_error(
        json!("a.e = open"),
        "/outbound/0/when",
        "expected an object",
    );
}

#[test]
fn conditions_nest_at_most_the_bound_deep() {
    let test = json!({"path": "flag", "is": true});
    let nest = |depth: usize| {
        let mut c = test.clone();
        for _ in 1..depth {
            c = json!({"not": c});
        }
        c
    };
    let ok = pair(
        json!([{"id": "out", "retention": "P1Y", "categories": {"c1": "pass"},
                "when": nest(privacy_gate::MAX_CONDITION_DEPTH)}]),
        json!({}),
    );
    assert!(Registry::from_sources(&schema(), &ok).is_ok());
    let pointer = format!(
        "/outbound/0/when{}",
        "/not".repeat(privacy_gate::MAX_CONDITION_DEPTH)
    );
    assert_condition_error(
        nest(privacy_gate::MAX_CONDITION_DEPTH + 1),
        &pointer,
        "conditions nest at most 8 deep",
    );
}

#[test]
fn mistakes_in_field_conditions_are_errors_at_the_path_entry() {
    let errors = errors_of(&pair(
        json!([{"id": "out", "retention": "P1Y", "categories": {"c1": "pass"},
                "paths": {"a.s": {"action": "pass", "when": {"path": "a.x", "is": true}},
                          "a.d": {"action": "block", "when": {"path": "flag", "is": true}}}}]),
        json!({}),
    ));
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{text:#?}");
    assert!(
        text.iter()
            .any(|e| e.contains("at `/outbound/0/paths/a.s/when/path`: unknown field path `a.x`")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|e| e.contains(
            "at `/outbound/0/paths/a.d/when`: a condition on a `block` entry changes nothing"
        )),
        "{text:#?}"
    );
    // A path entry with a misspelt member is refused by the reader, with its place.
    let errors = errors_of(&pair(
        json!([{"id": "out", "retention": "P1Y", "paths": {"a.s": {"action": "pass", "wehn": {"path": "flag", "is": true}}}}]),
        json!({}),
    ));
    assert!(
        errors[0].message.contains("unknown field `wehn`"),
        "{}",
        errors[0]
    );
    assert!(errors[0].line.is_some(), "{}", errors[0]);
}

#[test]
fn two_rules_giving_a_field_different_conditions_are_an_error() {
    let errors = errors_of(&pair(
        json!([
            {"id": "one", "retention": "P1Y", "paths": {"a.s": {"action": "pass", "when": {"path": "flag", "is": true}}}},
            {"id": "two", "retention": "P1Y", "paths": {"a.s": "pass"}}
        ]),
        json!({}),
    ));
    assert!(
        errors[0].message.contains("rules `one` and `two` both apply to the same flow and give field `a.s` different conditions"),
        "{}",
        errors[0]
    );
}

#[test]
fn retention_mistakes_are_errors_and_so_is_a_long_one() {
    let errors_for = |retention: Value| {
        errors_of(&pair(
            json!([{"id": "out", "retention": retention, "categories": {"c1": "pass"}}]),
            json!({}),
        ))
    };
    let e = &errors_for(json!({"period": "P1Y", "after": "a-closd"}))[0];
    assert_eq!(e.pointer.as_deref(), Some("/outbound/0/retention/after"));
    assert!(e.line.is_some());
    assert!(
        e.message.contains("unknown event `a-closd` (did you mean `a-closed`?); events of `policies/schema.json`: a-closed"),
        "{e}"
    );
    let e = &errors_for(json!([{"period": "P1Y", "after": ["a-closed", "opened"]}]))[0];
    assert_eq!(
        e.pointer.as_deref(),
        Some("/outbound/0/retention/0/after/1")
    );
    let e = &errors_for(json!({"period": "P1Y"}))[0];
    assert!(e.message.contains("needs `after`"), "{e}");
    let e = &errors_for(json!({"period": "soon", "after": "a-closed"}))[0];
    assert_eq!(e.pointer.as_deref(), Some("/outbound/0/retention/period"));
    assert!(e.message.contains("invalid period `soon`"), "{e}");

    // Over the agreement's maximum (P3Y): an error, as for a period from the transfer.
    let e = &errors_for(json!({"period": "P4Y", "after": "a-closed"}))[0];
    assert_eq!(e.pointer.as_deref(), Some("/outbound/0/retention/period"));
    assert!(e.line.is_some());
    assert!(
        e.message
            .starts_with("retention P4Y is longer than the agreement's maximum P3Y"),
        "{e}"
    );
}

#[test]
fn an_event_must_be_marked_by_a_date_field_outside_arrays() {
    let mut bad: Value = serde_json::from_str(&schema().text).unwrap();
    bad["events"] = json!({
        "by-text": {"title": "t", "field": "a.s"},
        "in-list": {"title": "t", "field": "list[].d"},
        "nowhere": {"title": "t", "field": "a.closd"},
    });
    let bad = PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&bad).unwrap(),
    };
    let text = Registry::from_sources(&bad, &[]).unwrap_err().to_string();
    assert!(
        text.contains(
            "at `/events/by-text/field`: event `by-text` needs a `date` field outside arrays"
        ),
        "{text}"
    );
    assert!(
        text.contains("at `/events/in-list/field`: event `in-list` needs a `date` field"),
        "{text}"
    );
    assert!(
        text.contains(
            "at `/events/nowhere/field`: unknown field path `a.closd` (did you mean `a.closed`?)"
        ),
        "{text}"
    );
}
