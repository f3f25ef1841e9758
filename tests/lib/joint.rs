//! The joint draft: never less strict than any province for any field, loads, leaves
//! out (and lists) flows without a shared legal basis, and the re-run cases list
//! exactly the expectations that change.

use crate::compare::{province, sources, Province, NAMES};
use crate::fixtures;
use chrono::{DateTime, Utc};
use privacy_gate::authoring::joint::{draft, rerun_cases, JointDraft};
use privacy_gate::authoring::{load_cases, run_case};
use privacy_gate::{danger, Action, Gate, PolicySource, Registry};
use proptest::prelude::*;
use serde_json::json;

fn at() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn shipped() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        Registry::load_dir(crate::util::root().join("policies").as_path())
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

fn shipped_draft() -> &'static JointDraft {
    static D: std::sync::OnceLock<JointDraft> = std::sync::OnceLock::new();
    D.get_or_init(|| draft(shipped(), "noord-nederland", at()).unwrap_or_else(|e| panic!("{e}")))
}

/// For every flow of `original` whose organisations are both in the draft: the
/// draft's flow, if any, is at least as strict for every field; and the draft has no
/// flow `original` did not have.
fn assert_never_less_strict(original: &Registry, drafted: &Registry) {
    for plan in drafted.plans() {
        let (s, r, p) = (plan.sender().id(), plan.recipient().id(), plan.purpose());
        let Some(before) = original.plan_for(s, r, p) else {
            panic!("the draft has a flow {s} -> {r} ({p}) the provinces did not have");
        };
        for ((after, before), field) in plan
            .fields()
            .iter()
            .zip(before.fields())
            .zip(drafted.schema().fields())
        {
            assert!(
                after.action().is_at_least_as_strict_as(before.action()),
                "{s} -> {r} ({p}) {}: draft {} is less strict than {}",
                field.path(),
                after.action(),
                before.action()
            );
            if after.action().releases() {
                // Every condition the province put on the field still holds.
                for c in before.conditions() {
                    assert!(
                        after
                            .conditions()
                            .iter()
                            .any(|a| a.condition() == c.condition()),
                        "{s} -> {r} ({p}) {}: condition {} dropped",
                        field.path(),
                        c.condition()
                    );
                }
            }
        }
        for c in before.conditions() {
            assert!(
                plan.conditions()
                    .iter()
                    .any(|a| a.condition() == c.condition()),
                "{s} -> {r} ({p}): rule condition {} dropped",
                c.condition()
            );
        }
    }
}

#[test]
fn the_shipped_draft_loads_and_is_never_less_strict_than_any_province() {
    let d = shipped_draft();
    assert_eq!(d.provinces, ["drenthe", "friesland", "groningen"]);
    assert_eq!(d.files.len(), shipped().agreements().count());
    for f in &d.files {
        assert!(f.text.contains("\"status\": \"draft\""), "{}", f.path);
    }
    // As drafted: every agreement is a draft, so nothing is in force.
    let as_drafted = d.registry(false).unwrap();
    assert!(as_drafted
        .agreements()
        .all(|a| a.status() == privacy_gate::Status::Draft));
    let signed = d.registry(true).unwrap();
    assert_never_less_strict(shipped(), &signed);
    // The common ground of each kept flow is at least as strict as each province's
    // action for each field (with pseudonymisation counted as one treatment).
    assert!(d.flows.len() >= 10, "{} flows kept", d.flows.len());
    for flow in &d.flows {
        for (s, r) in &flow.pairs {
            let before = shipped().plan_for(s, r, &flow.flow.purpose).unwrap();
            let after = signed.plan_for(s, r, &flow.flow.purpose).unwrap();
            assert_eq!(after.retention().len(), flow.retention.len());
            for (f, b) in flow.fields.iter().zip(before.fields()) {
                let treatment = |a: &Action| match a {
                    Action::Pseudonymise(_) => "pseudo".to_owned(),
                    other => other.to_string(),
                };
                assert!(
                    !f.action.releases() || b.action().releases(),
                    "{}: {} releases where {s} -> {r} did not",
                    flow.flow,
                    f.path
                );
                if f.action == Action::Pass {
                    assert_eq!(treatment(b.action()), "pass", "{} {}", flow.flow, f.path);
                }
            }
            // Retention: never longer than the province's own, per start.
            for r in after.retention() {
                let own = before
                    .retention()
                    .iter()
                    .find(|o| o.after().map(|e| e.id()) == r.after().map(|e| e.id()));
                if let Some(own) = own {
                    assert!(r.period().max_days() <= own.period().max_days());
                }
            }
        }
    }
}

#[test]
fn flows_without_a_shared_basis_or_a_common_ground_are_left_out_with_the_reason() {
    let d = shipped_draft();
    let reason = |from: &str, to: &str, purpose: &str| {
        d.left_out
            .iter()
            .find(|l| l.flow.from_kind == from && l.flow.to_kind == to && l.flow.purpose == purpose)
            .map(|l| l.reason.clone())
            .unwrap_or_else(|| panic!("{from} -> {to} ({purpose}) is not left out"))
    };
    // The police's signal rules name each province's own Wpg article.
    let why = reason("politie", "zvh", "signal-assessment");
    assert!(why.contains("grant no lawfulness"), "{why}");
    assert!(why.contains("drenthe: wgs-2"), "{why}");
    // A flow one province lacks, and the one flow between provinces.
    assert!(reason("coa", "zvh", "signal-assessment").contains("no coa has an agreement"));
    assert!(reason("zvh", "zvh", "care-coordination").contains("crosses provinces"));
    // Each province's report lists the flows it loses.
    let drenthe = d.reports.iter().find(|r| r.province == "drenthe").unwrap();
    assert!(drenthe
        .flows_lost
        .iter()
        .any(|l| l.flow.from_kind == "coa" && l.pairs[0].0.as_ref() == "drenthe/coa-azc-assen"));
    // Friesland gains the flows its unsigned municipality blocked today.
    let friesland = d
        .reports
        .iter()
        .find(|r| r.province == "friesland")
        .unwrap();
    assert!(friesland
        .gains
        .iter()
        .any(|g| g.flow.from_kind == "gemeente" && g.change.contains("draft")));
    // Drenthe gives up the municipality's phone and e-mail to the police.
    assert!(drenthe
        .stricter
        .iter()
        .any(|s| s.path.as_ref() == "subject.phone"
            && s.flow.to_kind == "politie"
            && s.before == Action::Pass
            && s.after == Action::Block));
}

#[test]
fn the_rerun_lists_exactly_the_expectations_that_change() {
    let policies = crate::util::root().join("policies");
    let rerun = rerun_cases(&policies, shipped_draft()).unwrap();
    assert!(
        rerun.failing_before.is_empty(),
        "{:?}",
        rerun.failing_before
    );
    assert_eq!(rerun.unchanged + rerun.changed.len(), rerun.run);
    // Independently: a case changes exactly when it fails against the draft.
    let cases = load_cases(&policies, shipped()).unwrap();
    let signed = shipped_draft().registry(true).unwrap();
    let keys = danger::test_keys(&signed);
    let gate = Gate::new(signed, keys);
    for case in &cases {
        let listed = rerun.changed.iter().find(|c| c.case == case.id);
        match run_case(&gate, case) {
            Ok(()) => assert!(listed.is_none(), "{} listed but unchanged", case.id),
            Err(failure) => {
                let listed = listed.unwrap_or_else(|| panic!("{} changes, not listed", case.id));
                let lines = failure.to_string().lines().count() - 1;
                assert_eq!(listed.changes.len(), lines, "{}", case.id);
                assert!(!listed.changes.is_empty());
            }
        }
    }
    let phone = rerun
        .changed
        .iter()
        .find(|c| {
            c.case
                == "drenthe/police/municipality-report-to-police-gives-identity-contact-and-pgb-in-plain"
        })
        .expect("Drenthe's municipality no longer gives the police phone numbers");
    assert!(
        phone
            .changes
            .iter()
            .any(|l| l.starts_with("subject.phone: expected pass, actual block")),
        "{:?}",
        phone.changes
    );
}

#[test]
fn an_unknown_region_is_an_error_naming_the_known_ones() {
    let err = draft(shipped(), "noord-nl", at()).unwrap_err().to_string();
    assert!(err.contains("unknown region `noord-nl`"), "{err}");
    assert!(err.contains("noord-nederland"), "{err}");
}

/// A region office serving the generated provinces, so that they form a region.
fn region_office() -> PolicySource {
    PolicySource {
        file: "t/rg/office.json".into(),
        text: json!({
            "organisation": "rg/office", "kind": "office", "version": "1", "status": "signed",
            "serves": NAMES,
            "valid": {"from": "2025-01-01", "until": "2027-12-31"}, "regime": "avg",
            "purposes": {"p": {"legal_basis": ["law"]}},
        })
        .to_string(),
    }
}

fn generated(provinces: &[Province]) -> Registry {
    let mut s = sources(provinces);
    s.push(region_office());
    Registry::from_sources(&fixtures::schema_source(), &s)
        .unwrap_or_else(|e| panic!("generated policies do not load:\n{e}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Over generated sets of three provinces: the draft loads, and no drafted flow
    /// releases any field less strictly than the province's own flow did.
    #[test]
    fn the_draft_is_never_less_strict_than_any_province(
        provinces in prop::collection::vec(province(), 3..=3),
    ) {
        let registry = generated(&provinces);
        let d = draft(&registry, "rg", at()).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(&d.provinces, &NAMES.to_vec());
        let signed = d.registry(true).unwrap_or_else(|e| panic!("{e}"));
        assert_never_less_strict(&registry, &signed);
        // A flow is kept only when every province has it.
        let all_have = NAMES.iter().all(|n| {
            registry.plan_for(&format!("{n}/s"), &format!("{n}/r"), "p").is_some()
        });
        if !all_have {
            prop_assert!(d.flows.is_empty());
            prop_assert!(signed.plans().next().is_none());
        }
    }
}

#[test]
fn a_flow_with_no_shared_basis_is_left_out_and_listed() {
    let rules = || fixtures::RuleActions {
        categories: [("c1".to_owned(), Action::Pass)].into(),
        paths: Default::default(),
    };
    let provinces: Vec<Province> = (0..3)
        .map(|_| Province {
            sender: Some(rules()),
            recipient: Some(rules()),
            sender_standing: crate::compare::Standing::InForce,
            recipient_standing: crate::compare::Standing::InForce,
            retention: "P1Y",
        })
        .collect();
    let mut s = sources(&provinces);
    s.push(region_office());
    // Province pb's sender rests its purpose on another law.
    for src in &mut s {
        if src.file == "t/pb/s.json" {
            let mut v: serde_json::Value = serde_json::from_str(&src.text).unwrap();
            v["purposes"]["p"]["legal_basis"] = json!(["law2"]);
            src.text = v.to_string();
        }
    }
    let mut schema = fixtures::schema_source();
    schema.text = schema.text.replace(
        "\"law\": {",
        "\"law2\": {\"title\": \"another law\", \"grants\": [\"lawfulness\"]}, \"law\": {",
    );
    let registry = Registry::from_sources(&schema, &s).unwrap_or_else(|e| panic!("{e}"));
    assert!(registry.plan_for("pb/s", "pb/r", "p").is_some());
    let d = draft(&registry, "rg", at()).unwrap();
    assert!(d.flows.is_empty());
    assert_eq!(d.left_out.len(), 1);
    let why = &d.left_out[0].reason;
    assert!(
        why.contains("no legal basis all provinces share on the sender's side"),
        "{why}"
    );
    assert!(why.contains("pb: law2"), "{why}");
    for report in &d.reports {
        assert_eq!(report.flows_lost.len(), 1, "{}", report.province);
    }
    // Without the flow the draft still loads.
    assert!(d.registry(true).unwrap().plans().next().is_none());
}
