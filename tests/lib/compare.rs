//! Comparing a flow across provinces: the common ground is the join of what each
//! province's gate would release, and never more permissive than any of them.

use crate::fixtures::{self, RuleActions};
use crate::properties::rule_actions;
use chrono::{DateTime, Utc};
use privacy_gate::compare::{
    common_ground, compare_all, compare_flow, Aspect, Availability, FlowKind, Likeness,
};
use privacy_gate::{Action, Gate, PolicySource, Refusal, Registry, Transfer};
use proptest::prelude::*;
use serde_json::{json, Value};

const AT: &str = "2026-03-02T10:00:00Z";

fn at() -> DateTime<Utc> {
    AT.parse().unwrap()
}

/// Whether, and how, an agreement is in force on `AT`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Standing {
    InForce,
    Draft,
    Expired,
    NotYetValid,
}

fn standing() -> impl Strategy<Value = Standing> {
    prop_oneof![
        14 => Just(Standing::InForce),
        1 => Just(Standing::Draft),
        1 => Just(Standing::Expired),
        1 => Just(Standing::NotYetValid),
    ]
}

/// One province of a generated set: sender `P/s` (kind `sender`) and recipient `P/r`
/// (kind `recipient`), each with an optional rule for purpose `p`.
#[derive(Clone, Debug)]
pub(crate) struct Province {
    pub sender: Option<RuleActions>,
    pub recipient: Option<RuleActions>,
    pub sender_standing: Standing,
    pub recipient_standing: Standing,
    pub retention: &'static str,
}

pub(crate) fn province() -> impl Strategy<Value = Province> {
    (
        prop::option::weighted(0.95, rule_actions()),
        prop::option::weighted(0.95, rule_actions()),
        standing(),
        standing(),
        prop::sample::select(vec!["P1Y", "P18M", "P2Y", "P90D"]),
    )
        .prop_map(
            |(sender, recipient, sender_standing, recipient_standing, retention)| Province {
                sender,
                recipient,
                sender_standing,
                recipient_standing,
                retention,
            },
        )
}

pub(crate) const NAMES: [&str; 3] = ["pa", "pb", "pc"];

fn agreement(
    province: &str,
    name: &str,
    kind: &str,
    standing: Standing,
    outbound: Value,
    inbound: Value,
) -> PolicySource {
    let (status, from, until) = match standing {
        Standing::InForce => ("signed", "2025-01-01", "2027-12-31"),
        Standing::Draft => ("draft", "2025-01-01", "2027-12-31"),
        Standing::Expired => ("signed", "2020-01-01", "2025-12-31"),
        Standing::NotYetValid => ("signed", "2026-06-01", "2029-12-31"),
    };
    let mut agreement = json!({
        "organisation": format!("{province}/{name}"),
        "kind": kind,
        "version": "1",
        "status": status,
        "valid": {"from": from, "until": until},
        "regime": "avg",
        "purposes": {"p": {"legal_basis": ["law"]}},
        "outbound": outbound,
        "inbound": inbound,
    });
    // A domain belongs to one recipient: each province's recipient declares its own
    // pair, and the rules' fixture domains `x/one` and `x/two` become the province's.
    if kind == "recipient" {
        agreement["pseudonym_domains"] = json!({
            format!("{province}/one"): {"purpose": "p"},
            format!("{province}/two"): {"purpose": "p"},
        });
    }
    PolicySource {
        file: format!("t/{province}/{name}.json"),
        text: serde_json::to_string_pretty(&agreement)
            .unwrap()
            .replace("\"x/", &format!("\"{province}/")),
    }
}

pub(crate) fn sources(provinces: &[Province]) -> Vec<PolicySource> {
    let mut out = Vec::new();
    for (name, p) in NAMES.iter().zip(provinces) {
        let outbound = match &p.sender {
            Some(a) => json!([{
                "id": "out", "to": {"organisation": format!("{name}/r")}, "purpose": "p",
                "retention": p.retention,
                "categories": serde_json::to_value(&a.categories).unwrap(),
                "paths": serde_json::to_value(&a.paths).unwrap(),
            }]),
            None => json!([]),
        };
        let inbound = match &p.recipient {
            Some(a) => json!([{
                "id": "in", "from": {"organisation": format!("{name}/s")}, "purpose": "p",
                "categories": serde_json::to_value(&a.categories).unwrap(),
                "paths": serde_json::to_value(&a.paths).unwrap(),
            }]),
            None => json!([]),
        };
        out.push(agreement(
            name,
            "s",
            "sender",
            p.sender_standing,
            outbound,
            json!([]),
        ));
        out.push(agreement(
            name,
            "r",
            "recipient",
            p.recipient_standing,
            json!([]),
            inbound,
        ));
    }
    out
}

fn gate(provinces: &[Province]) -> Gate {
    let registry = match Registry::from_sources(&fixtures::schema_source(), &sources(provinces)) {
        Ok(r) => r,
        Err(e) => panic!("generated policies do not load:\n{e}"),
    };
    let keys = privacy_gate::danger::test_keys(&registry);
    Gate::new(registry, keys)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// For every field: the common ground is at least as strict as each province's
    /// effective action, and equals their join; each effective action is what the
    /// gate applies in that province at that moment (block when it refuses).
    #[test]
    fn common_ground_is_the_join_and_never_more_permissive(
        provinces in prop::collection::vec(province(), 1..=3),
    ) {
        let gate = gate(&provinces);
        let flow = FlowKind::new("sender", "recipient", "p");
        let names: Vec<&str> = NAMES.iter().take(provinces.len()).copied().collect();
        let c = compare_flow(gate.registry(), &flow, &names, at()).unwrap();
        prop_assert_eq!(c.provinces.len(), provinces.len());
        prop_assert_eq!(c.fields.len(), fixtures::FIELDS.len());

        // What the gate itself does, province by province.
        let mut gate_actions: Vec<Option<Vec<Action>>> = Vec::new();
        for (name, column) in names.iter().zip(&c.provinces) {
            let (from, to) = (format!("{name}/s"), format!("{name}/r"));
            let transfer = Transfer { from: &from, to: &to, purpose: "p", at: at() };
            match gate.flow(&transfer) {
                Ok(flow) => {
                    prop_assert!(column.availability.in_force(), "{name}: {}", column.availability);
                    gate_actions.push(Some(flow.plan().fields().iter().map(|f| f.action().clone()).collect()));
                }
                Err(refusal) => {
                    // The gate checks validity before rules; compare names a missing
                    // flow first, since nothing would cross even once in force.
                    let expected = matches!(
                        (&refusal, &column.availability),
                        (Refusal::NotInForce { .. }, Availability::Refused { .. })
                            | (Refusal::NoRule { .. } | Refusal::NotInForce { .. }, Availability::NoFlow { .. })
                    );
                    prop_assert!(expected, "{name}: gate {refusal}, compare {}", column.availability);
                    gate_actions.push(None);
                }
            }
        }

        for (i, field) in c.fields.iter().enumerate() {
            for (cell, gate_fields) in field.cells.iter().zip(&gate_actions) {
                let released = gate_fields.as_ref().map_or(Action::Block, |f| f[i].clone());
                prop_assert_eq!(&cell.effective, &released, "{}", field.path);
                prop_assert!(
                    field.common_ground.is_at_least_as_strict_as(&cell.effective),
                    "{}: common ground {} is more permissive than {}",
                    field.path, field.common_ground, cell.effective
                );
            }
            let join = field
                .cells
                .iter()
                .skip(1)
                .fold(field.cells[0].effective.clone(), |acc, cell| acc.join(&cell.effective));
            prop_assert_eq!(&field.common_ground, &join, "{}", field.path);
            prop_assert_eq!(common_ground(field.cells.iter().map(|c| &c.effective)), join);
            let all_same = field.cells.iter().all(|c| c.effective == field.cells[0].effective);
            prop_assert_eq!(field.likeness == Likeness::Same, all_same);
            if field.likeness == Likeness::DomainsOnly {
                prop_assert_eq!(&field.common_ground, &Action::Block);
            }
        }

        // A province not in force makes the common ground block everywhere.
        if c.provinces.iter().any(|p| !p.availability.in_force()) {
            prop_assert!(!c.common.all_in_force);
            prop_assert!(c.fields.iter().all(|f| f.common_ground == Action::Block));
        }
        // The common retention is the shortest of the flows that exist.
        let shortest = c.provinces.iter()
            .filter_map(|p| p.terms.as_ref().and_then(|t| t.retention.first()))
            .map(|r| r.period())
            .min_by_key(|r| r.max_days());
        prop_assert_eq!(c.common.retention.first().map(|r| r.period()), shortest);
    }

    /// The common ground is at least as strict as any single province, whatever the
    /// order in which the provinces are named.
    #[test]
    fn province_order_does_not_change_the_common_ground(
        provinces in prop::collection::vec(province(), 3..=3),
    ) {
        let gate = gate(&provinces);
        let flow = FlowKind::new("sender", "recipient", "p");
        let a = compare_flow(gate.registry(), &flow, &["pa", "pb", "pc"], at()).unwrap();
        let b = compare_flow(gate.registry(), &flow, &["pc", "pa", "pb"], at()).unwrap();
        for (fa, fb) in a.fields.iter().zip(&b.fields) {
            prop_assert_eq!(&fa.common_ground, &fb.common_ground);
            prop_assert_eq!(fa.likeness, fb.likeness);
        }
        prop_assert_eq!(&a.aspects, &b.aspects);
    }
}

fn shipped() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
        Registry::load_dir(dir.as_ref()).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Every flow of the shipped set: the common ground never releases what one province
/// does not, and the summary counts add up.
#[test]
fn shipped_flows_common_ground_is_never_more_permissive() {
    for when in [AT, "2025-06-30T10:00:00Z", "2027-01-15T10:00:00Z"] {
        let all = compare_all(shipped(), &[], when.parse().unwrap()).unwrap();
        // 20 flows of the five kinds every province has, and one per signaller kind
        // (the labour inspectorate, COA, Wmo supervisors, care providers) to the ZVH.
        assert_eq!(all.len(), 24, "{when}");
        for c in &all {
            let s = c.summary();
            assert_eq!(s.same + s.domains_only + s.different, s.fields);
            for f in &c.fields {
                for cell in &f.cells {
                    assert!(
                        f.common_ground.is_at_least_as_strict_as(&cell.effective),
                        "{} {}",
                        c.flow,
                        f.path
                    );
                }
            }
        }
        // Worst first.
        let differ: Vec<usize> = all.iter().map(|c| c.summary().different).collect();
        assert!(differ.windows(2).all(|w| w[0] >= w[1]), "{differ:?}");
    }
}

/// The differences the issue names: one province's draft, another's expiry.
#[test]
fn shipped_draft_and_expiry_are_reported() {
    let registry = shipped();
    // Friesland's municipality is a draft.
    let c = compare_flow(
        registry,
        &FlowKind::new("gemeente", "zvh", "signal-assessment"),
        &["drenthe", "groningen", "friesland"],
        at(),
    )
    .unwrap();
    let friesland = &c.provinces[2];
    assert_eq!(friesland.availability.label(), "refused: draft");
    assert!(c.fields.iter().all(|f| f.common_ground == Action::Block));
    // As written, Friesland's draft takes only postcode and city, and Groningen
    // passes `notes` as a placeholder.
    let as_written: Vec<&str> = c
        .fields
        .iter()
        .filter(|f| f.as_written == Likeness::Different)
        .map(|f| &*f.path)
        .collect();
    assert_eq!(
        as_written,
        [
            "notes",
            "subject.address.house_number",
            "subject.address.postcode",
            "subject.address.street",
            "subject.shelter_location"
        ]
    );

    // The regional OM's one agreement expires on 2026-12-31 (as Drenthe's did before
    // the merger): the same last day in every province, so validity no longer differs.
    let flow = FlowKind::new("zvh", "om", "signal-assessment");
    let before = compare_flow(registry, &flow, &[], at()).unwrap();
    assert!(before.common.all_in_force);
    assert!(before.provinces.iter().all(|p| p
        .recipient
        .as_ref()
        .is_some_and(|r| &*r.id == "noord-nederland/om")));
    assert!(!before
        .aspects
        .contains(&privacy_gate::compare::Aspect::Validity));
    let after = compare_flow(
        registry,
        &flow,
        &[],
        "2027-01-15T10:00:00Z".parse().unwrap(),
    )
    .unwrap();
    let labels: Vec<(&str, &str)> = after
        .provinces
        .iter()
        .map(|p| (&*p.province, p.availability.label()))
        .collect();
    assert_eq!(
        labels,
        [
            ("drenthe", "refused: expired"),
            ("friesland", "refused: expired"),
            ("groningen", "refused: expired")
        ]
    );
    assert!(after.fields.iter().all(|f| !f.common_ground.releases()));
}

/// Where every province pseudonymises the BSN, each in its own domain, the provinces
/// are alike but the common ground is block (pseudonyms of different domains are
/// unlinkable, and the lattice joins them to block).
#[test]
fn own_domains_are_alike_but_join_to_block() {
    let c = compare_flow(
        shipped(),
        &FlowKind::new("ggd", "zvh", "signal-assessment"),
        &[],
        at(),
    )
    .unwrap();
    let bsn = c.field("subject.bsn").unwrap();
    assert_eq!(bsn.likeness, Likeness::DomainsOnly);
    assert_eq!(bsn.common_ground, Action::Block);
    let domains: Vec<String> = bsn.cells.iter().map(|c| c.effective.to_string()).collect();
    assert_eq!(
        domains,
        [
            "pseudonymise(drenthe/zvh-signalen)",
            "pseudonymise(friesland/zvh-signalen)",
            "pseudonymise(groningen/zvh-signalen)"
        ]
    );
}

/// A province with two organisations of the sender's kind gets a column per pair,
/// named after both organisations; the common ground joins every column.
#[test]
fn several_organisations_of_a_kind_get_a_column_each() {
    let rule = |id: &str, side: &str, other: &str, action: Value| {
        json!([{ "id": id, side: {"organisation": other}, "purpose": "p", "retention": "P1Y",
                 "categories": {"c1": action, "c2": "pass"} }])
    };
    let sources = vec![
        agreement(
            "pa",
            "s",
            "sender",
            Standing::InForce,
            rule("out", "to", "pa/r", json!("pass")),
            json!([]),
        ),
        agreement(
            "pa",
            "s2",
            "sender",
            Standing::InForce,
            rule("out", "to", "pa/r", json!("block")),
            json!([]),
        ),
        agreement(
            "pa",
            "r",
            "recipient",
            Standing::InForce,
            json!([]),
            json!([
                { "id": "in", "from": {"kind": "sender", "province": "pa"}, "purpose": "p",
                  "categories": {"c1": "pass", "c2": "pass"} }
            ]),
        ),
        agreement(
            "pb",
            "r",
            "recipient",
            Standing::InForce,
            json!([]),
            json!([]),
        ),
    ];
    let registry = Registry::from_sources(&fixtures::schema_source(), &sources)
        .unwrap_or_else(|e| panic!("{e}"));
    let c = compare_flow(
        &registry,
        &FlowKind::new("sender", "recipient", "p"),
        &[],
        at(),
    )
    .unwrap();
    let labels: Vec<&str> = c.provinces.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["pa: pa/s -> pa/r", "pa: pa/s2 -> pa/r", "pb"]);
    assert!(matches!(
        &c.provinces[2].availability,
        Availability::NoFlow { .. }
    ));
    assert!(c.provinces[2]
        .availability
        .to_string()
        .contains("no sender has an agreement here"));
    let a_s = c.field("a.s").unwrap();
    assert_eq!(a_s.cells[0].effective, Action::Pass);
    assert_eq!(a_s.cells[1].effective, Action::Block);
    assert_eq!(a_s.common_ground, Action::Block);
    // Without the province that lacks the flow, the pair of senders still agrees on c2.
    let c = compare_flow(
        &registry,
        &FlowKind::new("sender", "recipient", "p"),
        &["pa"],
        at(),
    )
    .unwrap();
    assert_eq!(c.field("a.p").unwrap().common_ground, Action::Pass);
    assert_eq!(c.field("a.s").unwrap().common_ground.to_string(), "block");
}

/// Statistics cross as counts only; Groningen's GGD asks a larger threshold than the
/// others, so the release differs, and a joint agreement needs the largest.
#[test]
fn the_release_of_statistics_differs_by_threshold_and_the_largest_is_common() {
    let c = compare_flow(
        shipped(),
        &FlowKind::new("zvh", "ggd", "statistics"),
        &[],
        at(),
    )
    .unwrap();
    let thresholds: Vec<(&str, Option<u32>)> = c
        .provinces
        .iter()
        .map(|p| {
            (
                p.province.as_str(),
                p.terms.as_ref().and_then(|t| t.aggregate_min_count),
            )
        })
        .collect();
    assert!(
        thresholds.contains(&("groningen", Some(15))),
        "{thresholds:?}"
    );
    assert!(
        thresholds.contains(&("drenthe", Some(10))),
        "{thresholds:?}"
    );
    assert!(c.aspects.contains(&Aspect::Release));
    assert_eq!(c.common.aggregate_min_count, Some(15));

    let records = compare_flow(
        shipped(),
        &FlowKind::new("ggd", "politie", "criminal-investigation"),
        &[],
        at(),
    )
    .unwrap();
    assert!(records
        .provinces
        .iter()
        .filter_map(|p| p.terms.as_ref())
        .all(|t| t.aggregate_min_count.is_none()));
    assert!(!records.aspects.contains(&Aspect::Release));
    assert_eq!(records.common.aggregate_min_count, None);
}
