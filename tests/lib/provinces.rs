//! The shipped agreements: each province's characteristic flows, pinned, so that a
//! change to a policy file that changes what crosses shows up here.

use privacy_gate::{
    Action, Gate, KeyRing, Method, NotInForce, Outcome, Refusal, Registry, Side, Transfer,
};
use serde_json::{json, Value};
use std::sync::OnceLock;

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
        let registry = Registry::load_dir(dir.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        let keys = json!({"domains": {
            "drenthe/zvh-signalen": {"active": "d1", "keys": {"d1": "d1".repeat(32)}},
            "groningen/zvh-signalen": {"active": "g1", "keys": {"g1": "a1".repeat(32)}},
            "friesland/zvh-signalen": {"active": "f1", "keys": {"f1": "f1".repeat(32)}},
            "friesland/ggd-advies": {"active": "f2", "keys": {"f2": "f2".repeat(32)}},
            "groningen/ggd-advies": {"active": "g2", "keys": {"g2": "a2".repeat(32)}},
        }})
        .to_string();
        Gate::new(
            registry,
            KeyRing::from_json("test keys", keys.as_bytes()).unwrap(),
        )
    })
}

const AT: &str = "2026-03-02T10:00:00Z";

fn record() -> Value {
    json!({
        "case": {"id": "zvh-2025-0001", "opened_on": "2025-04-03", "province": "drenthe", "status": "open",
                 "exploitation_type": "labour", "consent": "given", "routing": "both",
                 "disclosure_basis": "conflict-of-duties"},
        "subject": {"bsn": "999998523", "name": {"given": "Anna", "family": "Jansen"}, "birth_date": "1990-07-15",
                    "is_minor": false, "sex": "f", "nationality": "NL",
                    "address": {"street": "Kerkstraat", "house_number": "12", "postcode": "9401 AB", "city": "Assen"},
                    "phone": "0612345678", "email": "anna@example.org"},
        "health": {"summary": "diagnosis text", "care_need": true},
        "police": {"reference": "PL0100-2025-123", "known": true},
        "notes": "free text about the case",
        "contacts": [{"date": "2025-04-04", "organisation": "ggd", "summary": "first talk"},
                     {"date": "2025-04-10", "organisation": "zvh", "summary": "case meeting"}]
    })
}

fn released(
    from: &str,
    to: &str,
    purpose: &str,
    at: &str,
    record: Value,
) -> privacy_gate::Released {
    let transfer = Transfer {
        from,
        to,
        purpose,
        at: at.parse().unwrap(),
    };
    match gate().apply(&transfer, record).unwrap() {
        Outcome::Released(r) => r,
        Outcome::Refused(why) => panic!("{from} -> {to} ({purpose}) refused: {why}"),
    }
}

fn refused(from: &str, to: &str, purpose: &str, at: &str, record: Value) -> Refusal {
    let transfer = Transfer {
        from,
        to,
        purpose,
        at: at.parse().unwrap(),
    };
    match gate().apply(&transfer, record).unwrap() {
        Outcome::Released(_) => panic!("{from} -> {to} ({purpose}) should be refused"),
        Outcome::Refused(why) => why,
    }
}

fn action(r: &privacy_gate::Released, path: &str) -> Action {
    r.decision
        .fields()
        .find(|f| f.path == path)
        .map(|f| f.action.clone())
        .unwrap_or_else(|| panic!("{path} not in the decision"))
}

fn pointer<'a>(r: &'a privacy_gate::Released, p: &str) -> Option<&'a Value> {
    r.record.pointer(p)
}

/// Drenthe's GGD once pseudonymised names and BSN for the police, which also holds them
/// in plain form from its other partners: the pseudonym protected nothing. Now it sends
/// no identity at all, only the birth year and place; Groningen an age band; Friesland
/// nothing that identifies.
#[test]
fn ggd_to_police_gives_no_identity_in_drenthe_an_age_band_in_groningen_nothing_in_friesland() {
    let purpose = "criminal-investigation";
    let dr = released(
        "drenthe/ggd",
        "noord-nederland/politie",
        purpose,
        AT,
        record(),
    );
    assert_eq!(action(&dr, "subject.bsn"), Action::Block);
    assert_eq!(action(&dr, "subject.name.family"), Action::Block);
    assert_eq!(
        action(&dr, "subject.birth_date"),
        Action::Generalise(Method::Year)
    );
    assert_eq!(pointer(&dr, "/subject/bsn"), None);
    assert_eq!(pointer(&dr, "/subject/name"), None);
    assert!(!dr.record.to_string().contains("pg2:"), "no pseudonym");
    assert_eq!(pointer(&dr, "/subject/birth_date"), Some(&json!("1990")));
    assert_eq!(
        pointer(&dr, "/subject/address/postcode"),
        Some(&json!("9401"))
    );

    let gr = released(
        "groningen/ggd",
        "noord-nederland/politie",
        purpose,
        AT,
        record(),
    );
    assert_eq!(action(&gr, "subject.bsn"), Action::Block);
    assert_eq!(action(&gr, "subject.name.family"), Action::Block);
    assert_eq!(
        action(&gr, "subject.birth_date"),
        Action::Generalise(Method::AgeBand)
    );
    assert_eq!(pointer(&gr, "/subject/birth_date"), Some(&json!("35-44")));
    assert_eq!(pointer(&gr, "/subject/bsn"), None);

    let fr = released(
        "friesland/ggd",
        "noord-nederland/politie",
        purpose,
        AT,
        record(),
    );
    for path in [
        "subject.bsn",
        "subject.name.family",
        "subject.birth_date",
        "subject.address.postcode",
        "health.care_need",
    ] {
        assert_eq!(action(&fr, path), Action::Block, "{path}");
    }
    assert_eq!(pointer(&fr, "/case/id"), Some(&json!("zvh-2025-0001")));
    assert!(fr
        .record
        .get("subject")
        .is_none_or(|s| s.get("bsn").is_none() && s.get("name").is_none()));

    // Retention differs too.
    assert_eq!(
        dr.decision.retain_until().unwrap().to_string(),
        "2028-03-02"
    );
    assert_eq!(
        gr.decision.retain_until().unwrap().to_string(),
        "2027-03-02"
    );
}

#[test]
fn friesland_municipality_is_a_draft_so_every_flow_with_it_is_refused() {
    let why = refused(
        "friesland/gemeente",
        "friesland/zvh",
        "signal-assessment",
        AT,
        record(),
    );
    assert!(
        matches!(
            why,
            Refusal::NotInForce {
                side: Side::Sender,
                why: NotInForce::Draft,
                ..
            }
        ),
        "{why}"
    );
    let why = refused(
        "friesland/zvh",
        "friesland/gemeente",
        "care-coordination",
        AT,
        record(),
    );
    assert!(
        matches!(
            why,
            Refusal::NotInForce {
                side: Side::Recipient,
                why: NotInForce::Draft,
                ..
            }
        ),
        "{why}"
    );
    assert!(why.to_string().contains("unsigned draft"), "{why}");
}

#[test]
fn groningen_requires_consent_for_care_coordination_and_drenthe_does_not() {
    let mut no_consent = record();
    no_consent["case"]["consent"] = json!("refused");
    let why = refused(
        "groningen/zvh",
        "groningen/gemeente",
        "care-coordination",
        AT,
        no_consent.clone(),
    );
    assert!(
        matches!(&why, Refusal::ConditionNotMet { path, .. } if &**path == "case.consent"),
        "{why}"
    );
    // The refusal names the rule and path, never the value.
    assert!(!why.to_string().contains("refused\""));
    let mut missing = record();
    missing["case"].as_object_mut().unwrap().remove("consent");
    refused(
        "groningen/zvh",
        "groningen/gemeente",
        "care-coordination",
        AT,
        missing,
    );
    released(
        "groningen/zvh",
        "groningen/gemeente",
        "care-coordination",
        AT,
        record(),
    );
    released(
        "drenthe/zvh",
        "drenthe/gemeente",
        "care-coordination",
        AT,
        no_consent,
    );
}

#[test]
fn validity_periods_are_enforced_in_amsterdam_days() {
    // noord-nederland/om expires on 2026-12-31.
    released(
        "drenthe/zvh",
        "noord-nederland/om",
        "signal-assessment",
        "2026-12-31T22:59:59Z",
        record(),
    );
    let why = refused(
        "drenthe/zvh",
        "noord-nederland/om",
        "signal-assessment",
        "2026-12-31T23:00:00Z",
        record(),
    );
    assert!(
        matches!(
            why,
            Refusal::NotInForce {
                why: NotInForce::Expired { .. },
                ..
            }
        ),
        "{why}"
    );
    // groningen/ggd is in force only from 2025-07-01.
    let why = refused(
        "groningen/ggd",
        "noord-nederland/politie",
        "criminal-investigation",
        "2025-06-30T12:00:00Z",
        record(),
    );
    assert!(
        matches!(
            why,
            Refusal::NotInForce {
                why: NotInForce::NotYetValid { .. },
                ..
            }
        ),
        "{why}"
    );
    released(
        "groningen/ggd",
        "noord-nederland/politie",
        "criminal-investigation",
        "2025-07-01T12:00:00Z",
        record(),
    );
}

#[test]
fn the_zvh_inbound_rule_pseudonymises_a_bsn_the_municipality_sends_plain() {
    let r = released(
        "drenthe/gemeente",
        "drenthe/zvh",
        "signal-assessment",
        AT,
        record(),
    );
    let bsn = r
        .decision
        .fields()
        .find(|f| f.path == "subject.bsn")
        .unwrap();
    assert_eq!(*bsn.sender_action, Action::Pass);
    assert!(matches!(bsn.recipient_action, Action::Pseudonymise(_)));
    assert!(matches!(bsn.action, Action::Pseudonymise(_)));
    assert!(bsn.sender_clause.is_some() && bsn.recipient_clause.is_some());
    assert!(pointer(&r, "/subject/bsn")
        .unwrap()
        .as_str()
        .unwrap()
        .starts_with("pg2:"));
}

/// A domain belongs to one recipient and purpose: two signallers' pseudonyms of one
/// person meet at the ZVH (that is what its signal domain is for), but the same person
/// has other pseudonyms at another ZVH and at the GGD.
#[test]
fn pseudonyms_link_within_one_recipients_domain_and_not_across() {
    let from_municipality = released(
        "drenthe/gemeente",
        "drenthe/zvh",
        "signal-assessment",
        AT,
        record(),
    );
    let from_ggd = released(
        "drenthe/ggd",
        "drenthe/zvh",
        "signal-assessment",
        AT,
        record(),
    );
    let mut in_friesland = record();
    in_friesland["case"]["province"] = json!("friesland");
    let friesland_zvh = released(
        "friesland/ggd",
        "friesland/zvh",
        "signal-assessment",
        AT,
        in_friesland.clone(),
    );
    let friesland_ggd = released(
        "friesland/zvh",
        "friesland/ggd",
        "signal-assessment",
        AT,
        in_friesland,
    );
    let bsn = |r: &privacy_gate::Released| {
        pointer(r, "/subject/bsn")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    let tag = |r: &privacy_gate::Released| bsn(r).rsplit(':').next().unwrap().to_owned();
    assert_eq!(bsn(&from_municipality), bsn(&from_ggd));
    assert_ne!(tag(&from_ggd), tag(&friesland_zvh));
    assert_ne!(tag(&friesland_zvh), tag(&friesland_ggd));
}

#[test]
fn statistics_never_carry_identity() {
    for province in ["drenthe", "groningen", "friesland"] {
        let (from, to) = (format!("{province}/zvh"), format!("{province}/ggd"));
        // No row crosses, whatever the record.
        assert!(matches!(
            refused(&from, &to, "statistics", AT, record()),
            Refusal::AggregatesOnly { .. }
        ));
        let transfer = Transfer {
            from: &from,
            to: &to,
            purpose: "statistics",
            at: AT.parse().unwrap(),
        };
        let report = gate()
            .aggregate(&transfer, vec![record(); 20])
            .unwrap_or_else(|e| panic!("{province}: {e}"));
        let text = report.to_json().to_string();
        for raw in [
            "999998523",
            "Anna",
            "Jansen",
            "Kerkstraat",
            "9401",
            "1990",
            "0612345678",
            "diagnosis",
            "free text",
            "zvh-2025-0001",
        ] {
            assert!(!text.contains(raw), "{province}: {raw} in statistics");
        }
        let [cell] = report.cells() else {
            panic!("{province}: one cell expected in {text}")
        };
        assert_eq!(cell.count(), 20);
        let labour = report
            .dimensions()
            .iter()
            .position(|d| &**d == "case.exploitation_type")
            .unwrap();
        assert_eq!(cell.values()[labour], json!("labour"));
    }
}

#[test]
fn unknown_purpose_and_organisation_are_refused_with_hints() {
    let why = refused(
        "drenthe/ggd",
        "noord-nederland/politie",
        "criminal-investigaton",
        AT,
        record(),
    );
    assert_eq!(
        why.to_string(),
        "unknown purpose `criminal-investigaton` (did you mean `criminal-investigation`?)"
    );
    let why = refused(
        "drente/ggd",
        "noord-nederland/politie",
        "criminal-investigation",
        AT,
        record(),
    );
    assert!(
        why.to_string().contains("did you mean `drenthe/ggd`"),
        "{why}"
    );
    let why = refused(
        "noord-nederland/om",
        "drenthe/ggd",
        "statistics",
        AT,
        record(),
    );
    assert!(
        matches!(
            why,
            Refusal::PurposeNotAgreed { .. } | Refusal::NoRule { .. }
        ),
        "{why}"
    );
}
