//! The review's findings on lawful bases, as the gate enforces them: no standing
//! GGD -> police flow (medical secrecy), criminal-investigation flows only on the
//! criminal route, nothing about a closed case to the police for assessment.

use privacy_gate::{Gate, Outcome, Refusal, Registry, Transfer};
use serde_json::{json, Value};
use std::sync::OnceLock;

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let registry = Registry::load_dir(crate::util::root().join("policies").as_path()).unwrap();
        let keys = privacy_gate::danger::test_keys(&registry);
        Gate::new(registry, keys)
    })
}

/// Every compiled flow from an organisation of kind `from` to one of kind `to` for
/// `purpose`, as (sender, recipient).
fn flows(from: &str, to: &str, purpose: &str) -> Vec<(String, String)> {
    let mut flows: Vec<_> = gate()
        .registry()
        .plans()
        .filter(|p| {
            p.sender().kind() == from && p.recipient().kind() == to && p.purpose() == purpose
        })
        .map(|p| (p.sender().id().to_owned(), p.recipient().id().to_owned()))
        .collect();
    flows.sort();
    flows
}

fn apply(from: &str, to: &str, purpose: &str, record: Value) -> Outcome {
    let transfer = Transfer {
        from,
        to,
        purpose,
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
    };
    gate().apply(&transfer, record).unwrap()
}

fn unmet_condition(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Refused(Refusal::ConditionNotMet { path, .. }) => Some(path.to_string()),
        _ => None,
    }
}

fn ggd_record(disclosure: Option<&str>) -> Value {
    let mut record = json!({
        "case": {"id": "zvh-dr-2026-0001", "routing": "criminal", "exploitation_type": "sexual"},
        "subject": {"bsn": "999998523", "name": {"family": "Jansen"}, "birth_date": "1990-07-15"},
        "health": {"summary": "diagnosis", "care_need": true},
    });
    if let Some(basis) = disclosure {
        record["case"]["disclosure_basis"] = json!(basis);
    }
    record
}

#[test]
fn no_ggd_releases_anything_to_the_police_without_a_recorded_disclosure_decision() {
    let flows = flows("ggd", "politie", "criminal-investigation");
    assert_eq!(flows.len(), 3, "{flows:?}");
    for (from, to) in &flows {
        let outcome = apply(from, to, "criminal-investigation", ggd_record(None));
        assert_eq!(
            unmet_condition(&outcome).as_deref(),
            Some("case.disclosure_basis"),
            "{from}: {outcome:?}"
        );
        // A value outside the recorded decisions is no decision either.
        let outcome = apply(
            from,
            to,
            "criminal-investigation",
            ggd_record(Some("asked")),
        );
        assert!(unmet_condition(&outcome).is_some(), "{from}: {outcome:?}");
        for basis in ["consent", "conflict-of-duties"] {
            let outcome = apply(from, to, "criminal-investigation", ggd_record(Some(basis)));
            let Outcome::Released(released) = outcome else {
                panic!("{from} with {basis}: {outcome:?}");
            };
            // Even then, no health details reach the police.
            assert_eq!(released.record.pointer("/health/summary"), None, "{from}");
        }
    }
}

#[test]
fn criminal_investigation_flows_to_the_police_need_the_criminal_route() {
    for from_kind in ["ggd", "zvh", "gemeente"] {
        for (from, to) in flows(from_kind, "politie", "criminal-investigation") {
            for (routing, crosses) in [
                ("criminal", true),
                ("both", true),
                ("care-and-criminal", true),
                ("care", false),
                ("none", false),
            ] {
                let record = json!({
                    "case": {"id": "zvh-dr-2026-0002", "routing": routing, "consent": "given",
                             "status": "open", "disclosure_basis": "consent"},
                    "subject": {"bsn": "999998523"},
                });
                let outcome = apply(&from, &to, "criminal-investigation", record);
                // Friesland's municipality has only a draft: refused whatever the route.
                if matches!(outcome, Outcome::Refused(Refusal::NotInForce { .. })) {
                    continue;
                }
                assert_eq!(
                    matches!(outcome, Outcome::Released(_)),
                    crosses,
                    "{from} with routing {routing}: {outcome:?}"
                );
                if !crosses {
                    assert_eq!(unmet_condition(&outcome).as_deref(), Some("case.routing"));
                }
            }
        }
    }
}

#[test]
fn a_closed_case_no_longer_goes_from_the_zvh_to_the_police_for_assessment() {
    let flows = flows("zvh", "politie", "signal-assessment");
    assert_eq!(flows.len(), 3, "{flows:?}");
    for (from, to) in &flows {
        let record = |status: &str| {
            json!({"case": {"id": "zvh-dr-2026-0003", "status": status, "routing": "none",
                            "consent": "given"},
                   "subject": {"bsn": "999998523", "is_minor": true}})
        };
        let outcome = apply(from, to, "signal-assessment", record("closed"));
        assert_eq!(
            unmet_condition(&outcome).as_deref(),
            Some("case.status"),
            "{from}"
        );
        let outcome = apply(from, to, "signal-assessment", record("in-assessment"));
        assert!(
            matches!(outcome, Outcome::Released(_)),
            "{from}: {outcome:?}"
        );
    }
}

/// The review found `case.id` passing plainly next to a pseudonymised BSN, so the
/// pseudonym protected nothing: such a flow no longer loads, and says where and why.
#[test]
fn a_flow_that_pseudonymises_identity_but_passes_the_case_id_does_not_load() {
    let dir = crate::util::TempDir::new("record-identifier");
    let policies = dir.path("policies");
    crate::util::copy_dir(&crate::util::root().join("policies"), &policies);
    let ggd = policies.join("drenthe/ggd.json");
    let text = std::fs::read_to_string(&ggd).unwrap();
    let pseudonymised = r#""case.id": {"pseudonymise": {"domain": "drenthe/zvh-signalen"}}, "#;
    assert_eq!(text.matches(pseudonymised).count(), 1);
    std::fs::write(&ggd, text.replacen(pseudonymised, "", 1)).unwrap();
    let err = Registry::load_dir(&policies).unwrap_err().to_string();
    assert!(
        err.contains("drenthe/ggd at `/outbound/0`: this flow pseudonymises `subject.bsn` but passes the record identifier `case.id` in plain form"),
        "{err}"
    );
    assert!(
        err.contains("pseudonymise `case.id` in the same domain, or block it"),
        "{err}"
    );
    assert!(err.starts_with("error: "), "{err}");
}
