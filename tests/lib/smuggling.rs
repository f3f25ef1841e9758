//! A sender smuggling data through fields that pass: a sentence in an enumerated
//! field, a megabyte in an identifier, a BSN written as an amount, a phone number, an
//! e-mail address or an IBAN in a field not meant for one. Each is removed, named in
//! the decision, and never written to the output.

use crate::fixtures::{self, RuleActions};
use privacy_gate::{
    Action, DomainId, Gate, Method, Outcome, Registry, Released, RemovalReason, Transfer,
};
use serde_json::{json, Value};
use std::sync::OnceLock;

fn shipped() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let registry = Registry::load_dir(crate::util::root().join("policies").as_path()).unwrap();
        let keys = privacy_gate::danger::test_keys(&registry);
        Gate::new(registry, keys)
    })
}

/// Every shipped flow that passes `path` in plain form, as (from, to, purpose).
fn flows_passing(path: &str) -> Vec<(String, String, String)> {
    let registry = shipped().registry();
    let field = registry.schema().field(path).unwrap();
    let mut flows: Vec<_> = registry
        .plans()
        .filter(|p| p.fields()[field].action() == &Action::Pass)
        .map(|p| {
            (
                p.sender().id().to_owned(),
                p.recipient().id().to_owned(),
                p.purpose().to_owned(),
            )
        })
        .collect();
    flows.sort();
    flows
}

/// A record that meets every shipped rule's condition, with `extra` merged in.
fn record_with(extra: Value) -> Value {
    let mut record = json!({"case": {"consent": "given", "routing": "both", "status": "open"}});
    merge(&mut record, extra);
    record
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Gates `record` along every flow that passes `path`; the released records (at
/// least one: a test over no flow proves nothing).
fn along_every_flow_passing(path: &str, record: &Value) -> Vec<Released> {
    let flows = flows_passing(path);
    assert!(!flows.is_empty(), "no shipped flow passes `{path}`");
    let at = "2026-03-02T10:00:00Z".parse().unwrap();
    let mut released = Vec::new();
    for (from, to, purpose) in &flows {
        let transfer = Transfer {
            from,
            to,
            purpose,
            at,
        };
        if let Outcome::Released(r) = shipped().apply(&transfer, record.clone()).unwrap() {
            released.push(r);
        }
    }
    assert!(
        !released.is_empty(),
        "every flow passing `{path}` refused the record"
    );
    released
}

fn reasons_at(released: &Released, pointer: &str) -> Vec<RemovalReason> {
    released
        .decision
        .removed()
        .iter()
        .filter(|r| r.pointer == pointer)
        .map(|r| r.reason)
        .collect()
}

#[test]
fn a_sentence_in_an_enumerated_field_is_removed_as_out_of_bounds() {
    let smuggled = "BSN 999998523 Jan Jansen HIV+";
    let record = record_with(json!({"case": {"sector": smuggled, "exploitation_type": "labour"}}));
    for released in along_every_flow_passing("case.sector", &record) {
        assert_eq!(released.record.pointer("/case/sector"), None);
        assert_eq!(
            released.record.pointer("/case/exploitation_type"),
            Some(&json!("labour"))
        );
        assert_eq!(
            reasons_at(&released, "/case/sector"),
            [RemovalReason::OutOfBounds]
        );
        let text = released.record.to_string() + &released.decision.to_json().to_string();
        assert!(
            !text.contains("999998523") && !text.contains("Jansen"),
            "{text}"
        );
    }
}

#[test]
fn a_megabyte_case_id_is_removed_wherever_it_would_pass() {
    let record = record_with(json!({"case": {"id": "a".repeat(1_000_000)}}));
    for released in along_every_flow_passing("case.id", &record) {
        assert_eq!(released.record.pointer("/case/id"), None);
        assert_eq!(
            reasons_at(&released, "/case/id"),
            [RemovalReason::OutOfBounds]
        );
        assert!(released.record.to_string().len() < 1_000);
    }
    // A case id of its pattern still crosses.
    let record = record_with(json!({"case": {"id": "zvh-dr-2025-0012"}}));
    for released in along_every_flow_passing("case.id", &record) {
        assert_eq!(
            released.record.pointer("/case/id"),
            Some(&json!("zvh-dr-2025-0012"))
        );
    }
}

#[test]
fn a_phone_number_smuggled_into_a_reporter_organisation_is_removed_but_stays_in_the_phone_field() {
    let record = record_with(json!({
        "case": {"reporter": {"organisation": "Wmo-team, bel 06-1234 5678"}},
        "subject": {"phone": "06-1234 5678"},
    }));
    let mut phone_kept = 0;
    for released in along_every_flow_passing("case.reporter.organisation", &record) {
        assert_eq!(released.record.pointer("/case/reporter/organisation"), None);
        assert_eq!(
            reasons_at(&released, "/case/reporter/organisation"),
            [RemovalReason::IdentifierInPassingField]
        );
        // `subject.phone` is of an identifying category: carrying a number is its job.
        if released.record.pointer("/subject/phone") == Some(&json!("06-1234 5678")) {
            phone_kept += 1;
        }
    }
    assert!(phone_kept > 0, "no flow passes both fields");
}

/// The synthetic set: every category passes on both sides, except that the sender
/// gives the string and text fields `a.s`, `b.t` and `list[].x` the action `strings`.
fn synthetic(strings: Action) -> Gate {
    let pass_all = || RuleActions {
        categories: fixtures::CATEGORIES
            .iter()
            .map(|c| ((*c).to_owned(), Action::Pass))
            .collect(),
        paths: Default::default(),
    };
    let mut sender = pass_all();
    for path in ["a.s", "b.t", "list[].x"] {
        sender.paths.insert(path.to_owned(), strings.clone());
    }
    Gate::new(fixtures::registry(&sender, &pass_all()), fixtures::keys())
}

fn apply(gate: &Gate, record: Value) -> Released {
    let transfer = Transfer {
        from: "x/s",
        to: "x/r",
        purpose: "p",
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
    };
    match gate.apply(&transfer, record).unwrap() {
        Outcome::Released(r) => r,
        Outcome::Refused(why) => panic!("refused: {why}"),
    }
}

#[test]
fn identifiers_in_fields_that_pass_are_removed_whatever_their_type() {
    let gate = synthetic(Action::Pass);
    let released = apply(
        &gate,
        json!({
            "a": {"s": "call 06-1234 5678"},
            "num": 999998523,
            "b": {"t": "paid to NL91 ABNA 0417 1643 00 monthly"},
            "list": [{"x": "mail x.jansen@example.org"}, {"x": "fine"}],
            "flag": true,
        }),
    );
    for pointer in ["/a/s", "/num", "/b/t", "/list/0/x"] {
        assert_eq!(
            reasons_at(&released, pointer),
            [RemovalReason::IdentifierInPassingField],
            "{pointer}"
        );
    }
    assert_eq!(
        released.record,
        json!({"list": [{"x": "fine"}], "flag": true, "_transfer": released.record["_transfer"]})
    );
    // Amounts that are no BSN cross.
    let released = apply(&gate, json!({"num": 1250.5, "a": {"s": "meat-processing"}}));
    assert_eq!(released.record["num"], json!(1250.5));
    assert_eq!(released.record["a"]["s"], json!("meat-processing"));
    assert!(released.decision.removed().is_empty());
}

#[test]
fn a_transformed_value_is_not_searched_it_no_longer_is_the_value() {
    let domain = DomainId::new("x/one").unwrap();
    let gate = synthetic(Action::Pseudonymise(domain));
    let released = apply(&gate, json!({"a": {"s": "call 06-1234 5678"}}));
    let pseudonym = released.record["a"]["s"].as_str().unwrap();
    assert!(pseudonym.starts_with("pg2:k1:"), "{pseudonym}");
    assert!(released.decision.removed().is_empty());

    let gate = synthetic(Action::Generalise(Method::Placeholder));
    let released = apply(&gate, json!({"b": {"t": "BSN 999998523"}}));
    assert_eq!(released.record["b"]["t"], json!(privacy_gate::PLACEHOLDER));
}

#[test]
fn a_value_over_its_maximum_length_crosses_in_no_form() {
    for action in [
        Action::Pass,
        Action::Generalise(Method::Placeholder),
        Action::Pseudonymise(DomainId::new("x/one").unwrap()),
    ] {
        let gate = synthetic(action.clone());
        let released = apply(
            &gate,
            json!({"a": {"s": "x".repeat(10_001)}, "b": {"t": "short"}}),
        );
        assert_eq!(released.record.pointer("/a/s"), None, "{action}");
        assert_eq!(
            reasons_at(&released, "/a/s"),
            [RemovalReason::OutOfBounds],
            "{action}"
        );
        assert!(released.record.pointer("/b/t").is_some(), "{action}");
        // Counted in characters: 10,000 two-byte characters are within the bound.
        let released = apply(&gate, json!({"a": {"s": "é".repeat(10_000)}}));
        assert!(released.record.pointer("/a/s").is_some(), "{action}");
    }
}
