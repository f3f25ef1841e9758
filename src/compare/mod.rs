//! Comparing one flow across provinces: where the agreements differ, field by field,
//! and the common ground all of them allow at once.
//!
//! A flow is named by kinds, not organisations: `ggd → politie` for purpose
//! `criminal-investigation`. In each province the comparison finds the organisations
//! of those kinds that work there (located in the province, or serving it, like the
//! regional police `noord-nederland/politie`) and the flow the [`Registry`] compiled
//! between them, and reads off its [`FlowPlan`]: no record is gated. So `ggd ->
//! politie` shows, per province, what the regional police receives from that
//! province's GGD. Only flows within one province are compared: a flow between two
//! organisations that share no province (the ZVH Drenthe to the ZVH Groningen, for a
//! victim who moved) is in no column.
//!
//! Per field and province it reports two actions:
//!
//! - `planned`: what the province's compiled plan does with the field (the join of
//!   the sender's outbound and the recipient's inbound action), `None` when the
//!   province has no such flow at all;
//! - `effective`: what the gate releases at the moment compared. That is `planned`
//!   when both agreements are in force, and [`Action::Block`] otherwise: a province
//!   with no flow, or whose flow is refused at that moment (an unsigned draft, not
//!   yet valid, expired), releases nothing.
//!
//! The **common ground** of a field is the [`Action::join`] of the effective actions
//! of every province compared: the least strict action that is at least as strict as
//! each province's. It is what a joint agreement could release without any province
//! releasing more than it does today. So a province with no flow, or with a refused
//! one, makes the common ground `block` for every field; the comparison says which
//! province and why ([`Availability`]).
//!
//! Pseudonyms of two different domains are unlinkable by design (one secret per
//! domain), and the lattice of [`Action`] joins two different domains to `block`.
//! The comparison keeps that: when every province pseudonymises a field, each in its
//! own domain, the common ground is `block`. A joint agreement could pseudonymise in a
//! new joint domain, but that would let the recipient link a person's records across
//! provinces, which no province allows today: it releases more. Such fields are
//! reported as [`Likeness::DomainsOnly`], apart from fields that really differ, so a
//! meeting sees that the provinces treat them alike and that only the domain parts
//! them.
//!
//! ```
//! use privacy_gate::compare::{compare_flow, FlowKind};
//! use privacy_gate::{Action, Registry};
//!
//! let registry = Registry::load_dir("policies".as_ref())?;
//! let flow = FlowKind::new("ggd", "politie", "criminal-investigation");
//! let at = "2026-03-02T10:00:00Z".parse()?;
//! let comparison = compare_flow(&registry, &flow, &[], at)?;
//! let birth = comparison.field("subject.birth_date").expect("in the schema");
//! // Drenthe gives the birth year, Groningen an age band, Friesland nothing: nothing in
//! // common.
//! assert_eq!(birth.common_ground, Action::Block);
//! assert!(birth.differs());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod report;

pub use report::{
    AgreementInfo, Aspect, Availability, CommonTerms, CompareError, Comparison, ConditionTerm,
    FieldCell, FieldComparison, FlowKind, FlowSummary, FlowTerms, Likeness, NoFlow, ProvinceFlow,
    Window,
};

use crate::plan::registry::Registry;
use crate::plan::resolve::{self, Side};
use crate::plan::FlowPlan;
use crate::policy::action::Action;
use crate::policy::agreement::Agreement;
use crate::support::suggest::hint;
use crate::support::time::amsterdam_date;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Compares one flow across provinces at moment `at`.
///
/// `provinces` names the provinces to compare, in column order; empty means every
/// province with an agreement, in name order. A name given twice counts once.
///
/// # Errors
///
/// [`CompareError`] for a kind, purpose or province the policy set does not know.
///
/// # Examples
///
/// ```
/// use privacy_gate::compare::{compare_flow, FlowKind};
/// use privacy_gate::Registry;
///
/// let registry = Registry::load_dir("policies".as_ref())?;
/// let flow = FlowKind::new("ggd", "politie", "criminal-investigation");
/// let at = "2026-03-02T10:00:00Z".parse()?;
/// let comparison = compare_flow(&registry, &flow, &[], at)?;
/// for field in comparison.fields.iter().filter(|f| f.differs()) {
///     // Where the provinces differ, and the strictest action all of them allow.
///     println!("{}: common ground {}", field.path, field.common_ground);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compare_flow(
    registry: &Registry,
    flow: &FlowKind,
    provinces: &[&str],
    at: DateTime<Utc>,
) -> Result<Comparison, CompareError> {
    let provinces = checked_provinces(registry, provinces)?;
    let kinds: BTreeSet<&str> = registry.agreements().map(|a| a.kind.as_str()).collect();
    for kind in [&flow.from_kind, &flow.to_kind] {
        if !kinds.contains(kind.as_str()) {
            return Err(CompareError::UnknownKind {
                kind: kind.clone(),
                hint: hint(kind, &kinds),
                known: kinds.iter().map(|k| (*k).to_owned()).collect(),
            });
        }
    }
    let purposes = &registry.schema().purposes;
    if !purposes.contains_key(&flow.purpose) {
        return Err(CompareError::UnknownPurpose {
            purpose: flow.purpose.clone(),
            hint: hint(&flow.purpose, purposes.keys()),
            known: purposes.keys().cloned().collect(),
        });
    }
    Ok(compare_checked(registry, flow, &provinces, at))
}

/// Compares every flow (sender kind, recipient kind, purpose) that some compared
/// province has, worst first: most fields that differ, then most that differ only by
/// pseudonymisation domain, then most flow-level terms that differ, then by name.
///
/// # Errors
///
/// [`CompareError::UnknownProvince`] for a province the policy set does not know.
pub fn compare_all(
    registry: &Registry,
    provinces: &[&str],
    at: DateTime<Utc>,
) -> Result<Vec<Comparison>, CompareError> {
    let provinces = checked_provinces(registry, provinces)?;
    let flows: BTreeSet<FlowKind> = registry
        .plans()
        .filter(|p| {
            provinces
                .iter()
                .any(|q| p.sender.works_in(q) && p.recipient.works_in(q))
        })
        .map(|p| FlowKind::new(&p.sender.kind, &p.recipient.kind, &p.purpose))
        .collect();
    let mut out: Vec<Comparison> = flows
        .iter()
        .map(|flow| compare_checked(registry, flow, &provinces, at))
        .collect();
    out.sort_by_cached_key(|c| {
        let s = c.summary();
        (
            std::cmp::Reverse(s.different),
            std::cmp::Reverse(s.domains_only),
            std::cmp::Reverse(s.aspects.len()),
            s.flow,
        )
    });
    Ok(out)
}

/// The provinces to compare: as named (known, once each), or all in name order.
fn checked_provinces(registry: &Registry, asked: &[&str]) -> Result<Vec<String>, CompareError> {
    let known: BTreeSet<&str> = registry.provinces();
    if asked.is_empty() {
        return Ok(known.iter().map(|p| (*p).to_owned()).collect());
    }
    let mut out: Vec<String> = Vec::new();
    for province in asked {
        if !known.contains(province) {
            return Err(CompareError::UnknownProvince {
                province: (*province).to_owned(),
                hint: hint(province, &known),
                known: known.iter().map(|p| (*p).to_owned()).collect(),
            });
        }
        if !out.iter().any(|p| p == province) {
            out.push((*province).to_owned());
        }
    }
    Ok(out)
}

fn compare_checked(
    registry: &Registry,
    flow: &FlowKind,
    provinces: &[String],
    at: DateTime<Utc>,
) -> Comparison {
    let day = amsterdam_date(at);
    let purpose_index = registry.purpose_index(&flow.purpose);
    let mut columns: Vec<(ProvinceFlow, Option<&Arc<FlowPlan>>)> = Vec::new();
    for province in provinces {
        let of_kind = |kind: &str| -> Vec<&Arc<Agreement>> {
            registry
                .agreements()
                .filter(|a| a.works_in(province) && a.kind == kind)
                .collect()
        };
        let senders = of_kind(&flow.from_kind);
        let recipients = of_kind(&flow.to_kind);
        let missing = match (senders.is_empty(), recipients.is_empty()) {
            (true, _) => Some((Side::Sender, &flow.from_kind)),
            (false, true) => Some((Side::Recipient, &flow.to_kind)),
            (false, false) => None,
        };
        if let Some((side, kind)) = missing {
            columns.push((
                ProvinceFlow {
                    province: province.clone(),
                    label: province.clone(),
                    sender: senders.first().map(|a| AgreementInfo::of(a)),
                    recipient: recipients.first().map(|a| AgreementInfo::of(a)),
                    availability: Availability::NoFlow {
                        reason: NoFlow::NoOrganisation {
                            side,
                            kind: kind.clone(),
                        },
                    },
                    window: None,
                    terms: None,
                },
                None,
            ));
            continue;
        }
        let several = senders.len() > 1 || recipients.len() > 1;
        for sender in &senders {
            for recipient in &recipients {
                let plan = match (
                    registry.index_of(&sender.id),
                    registry.index_of(&recipient.id),
                    purpose_index,
                ) {
                    (Some(si), Some(ri), Some(pi)) => registry.flows().get(&(si, ri, pi)),
                    _ => None,
                };
                let availability = match plan {
                    Some(_) => in_force(sender, recipient, day),
                    None => Availability::NoFlow {
                        reason: no_flow_reason(sender, recipient, &flow.purpose),
                    },
                };
                let from = sender.valid_from.max(recipient.valid_from);
                let until = sender.valid_until.min(recipient.valid_until);
                let label = if several {
                    format!("{province}: {} -> {}", sender.id, recipient.id)
                } else {
                    province.clone()
                };
                columns.push((
                    ProvinceFlow {
                        province: province.clone(),
                        label,
                        sender: Some(AgreementInfo::of(sender)),
                        recipient: Some(AgreementInfo::of(recipient)),
                        availability,
                        window: (from <= until).then_some(Window { from, until }),
                        terms: plan.map(|p| FlowTerms::of(p)),
                    },
                    plan,
                ));
            }
        }
    }

    let schema = registry.schema();
    let fields = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(id, field)| {
            let cells: Vec<FieldCell> = columns
                .iter()
                .map(|(column, plan)| {
                    let planned = plan
                        .and_then(|p| p.fields.get(id))
                        .map(|f| f.action.clone());
                    let effective = match (&planned, column.availability.in_force()) {
                        (Some(action), true) => action.clone(),
                        _ => Action::Block,
                    };
                    let conditions = plan
                        .and_then(|p| p.fields.get(id))
                        .map(|f| {
                            f.conditions
                                .iter()
                                .map(|c| c.condition.to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                    FieldCell {
                        planned,
                        effective,
                        conditions,
                    }
                })
                .collect();
            let common_ground = common_ground(cells.iter().map(|c| &c.effective));
            let mut common_conditions: Vec<String> = Vec::new();
            if common_ground.releases() {
                for c in cells.iter().flat_map(|c| &c.conditions) {
                    if !common_conditions.contains(c) {
                        common_conditions.push(c.clone());
                    }
                }
            }
            // A conditioned action is not the same as the action without the
            // condition: only cells alike in both are alike.
            let conditions_of = |cell: &FieldCell, action: &Action| {
                if action.releases() {
                    let mut set = cell.conditions.clone();
                    set.sort();
                    set
                } else {
                    Vec::new()
                }
            };
            let effective_conditions_differ =
                !all_equal(cells.iter().map(|c| conditions_of(c, &c.effective)));
            let planned_conditions_differ = !all_equal(
                cells
                    .iter()
                    .map(|c| conditions_of(c, c.planned.as_ref().unwrap_or(&Action::Block))),
            );
            let with_conditions =
                |l: Likeness, differ: bool| if differ { Likeness::Different } else { l };
            FieldComparison {
                path: field.path.clone(),
                category: field.category.clone(),
                likeness: with_conditions(
                    likeness(cells.iter().map(|c| &c.effective)),
                    effective_conditions_differ,
                ),
                as_written: with_conditions(
                    likeness(
                        cells
                            .iter()
                            .map(|c| c.planned.as_ref().unwrap_or(&Action::Block)),
                    ),
                    planned_conditions_differ,
                ),
                common_ground,
                common_conditions,
                cells,
            }
        })
        .collect();

    let columns: Vec<ProvinceFlow> = columns.into_iter().map(|(c, _)| c).collect();
    let aspects = differing_aspects(&columns, day);
    let with_terms = || columns.iter().filter_map(|c| c.terms.as_ref());
    let mut conditions: Vec<ConditionTerm> = Vec::new();
    for condition in with_terms().flat_map(|t| &t.conditions) {
        let seen = conditions.iter().any(|c| c.when == condition.when);
        if !seen {
            conditions.push(condition.clone());
        }
    }
    let common = CommonTerms {
        all_in_force: !columns.is_empty() && columns.iter().all(|c| c.availability.in_force()),
        retention: crate::plan::shortest_per_start(with_terms().flat_map(|t| &t.retention)),
        conditions,
        aggregate_min_count: with_terms().filter_map(|t| t.aggregate_min_count).max(),
    };
    Comparison {
        flow: flow.clone(),
        at,
        day,
        provinces: columns,
        fields,
        aspects,
        common,
    }
}

/// The join of every province's effective action; `block` when there is none
/// (nothing to agree on releases nothing).
pub fn common_ground<'a>(actions: impl IntoIterator<Item = &'a Action>) -> Action {
    let mut actions = actions.into_iter();
    match actions.next() {
        None => Action::Block,
        Some(first) => actions.fold(first.clone(), |acc, a| acc.join(a)),
    }
}

fn likeness<'a>(actions: impl Iterator<Item = &'a Action> + Clone) -> Likeness {
    let mut all = actions.clone();
    let first = all.next();
    if all.all(|a| Some(a) == first) {
        Likeness::Same
    } else if actions
        .clone()
        .all(|a| matches!(a, Action::Pseudonymise(_)))
    {
        Likeness::DomainsOnly
    } else {
        Likeness::Different
    }
}

fn in_force(sender: &Agreement, recipient: &Agreement, day: NaiveDate) -> Availability {
    match resolve::not_in_force(sender, recipient, day) {
        Some((side, agreement, why)) => Availability::Refused {
            side,
            agreement: agreement.id.clone(),
            why,
        },
        None => Availability::InForce,
    }
}

fn no_flow_reason(sender: &Agreement, recipient: &Agreement, purpose: &str) -> NoFlow {
    if let Some((side, agreement)) = resolve::purpose_not_agreed(sender, recipient, purpose) {
        return NoFlow::PurposeNotAgreed {
            side,
            agreement: agreement.id.clone(),
        };
    }
    let (side, agreement) = resolve::side_without_rule(sender, recipient, purpose);
    NoFlow::NoRule {
        side,
        agreement: agreement.id.clone(),
    }
}

/// Whether all items are equal (true for none or one).
fn all_equal<T: PartialEq>(mut items: impl Iterator<Item = T>) -> bool {
    match items.next() {
        None => true,
        Some(first) => items.all(|x| x == first),
    }
}

/// Flow-level terms on which the columns differ. Availability compares every column;
/// validity the columns with both agreements, from `day` on; the other terms the
/// columns with a compiled flow (a missing flow is reported once, as availability).
fn differing_aspects(columns: &[ProvinceFlow], day: NaiveDate) -> Vec<Aspect> {
    let terms = || columns.iter().filter_map(|c| c.terms.as_ref());
    Aspect::ALL
        .into_iter()
        .filter(|aspect| {
            let same = match aspect {
                Aspect::Availability => all_equal(columns.iter().map(|c| c.availability.label())),
                Aspect::Validity => all_equal(
                    columns
                        .iter()
                        .filter(|c| c.sender.is_some() && c.recipient.is_some())
                        .map(|c| c.window.map(|w| (w.from.max(day), w.until))),
                ),
                Aspect::Retention => all_equal(terms().map(|t| &t.retention)),
                Aspect::Regime => all_equal(terms().map(|t| (t.regime_out, t.regime_in))),
                Aspect::LegalBasis => all_equal(terms().map(FlowTerms::basis_sets)),
                Aspect::Conditions => all_equal(terms().map(FlowTerms::condition_set)),
                Aspect::Release => all_equal(terms().map(|t| t.aggregate_min_count)),
            };
            !same
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::action::{DomainId, Method};

    fn registry() -> Registry {
        Registry::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies").as_ref()).unwrap()
    }

    fn at() -> DateTime<Utc> {
        "2026-03-02T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn likeness_separates_domains_from_real_differences() {
        let d = |s: &str| Action::Pseudonymise(DomainId::new(s).unwrap());
        let same = [Action::Pass, Action::Pass];
        assert_eq!(likeness(same.iter()), Likeness::Same);
        let domains = [d("a/x"), d("b/x"), d("a/x")];
        assert_eq!(likeness(domains.iter()), Likeness::DomainsOnly);
        assert_eq!(common_ground(domains.iter()), Action::Block);
        let mixed = [d("a/x"), Action::Pass];
        assert_eq!(likeness(mixed.iter()), Likeness::Different);
        assert_eq!(common_ground(mixed.iter()), d("a/x"));
        let dates = [
            Action::Generalise(Method::YearMonth),
            Action::Generalise(Method::Year),
        ];
        assert_eq!(
            common_ground(dates.iter()),
            Action::Generalise(Method::Year)
        );
        assert_eq!(common_ground(std::iter::empty()), Action::Block);
        assert_eq!(likeness(std::iter::empty()), Likeness::Same);
    }

    #[test]
    fn unknown_names_are_errors_naming_the_known_ones() {
        let r = registry();
        let err = compare_flow(
            &r,
            &FlowKind::new("gdg", "politie", "statistics"),
            &[],
            at(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("did you mean `ggd`"), "{err}");
        assert!(
            err.contains("arbeidsinspectie, coa, gemeente, ggd, om, politie, wmo-toezicht"),
            "{err}"
        );
        let err = compare_flow(&r, &FlowKind::new("ggd", "politie", "stats"), &[], at())
            .unwrap_err()
            .to_string();
        assert!(err.contains("known purposes: care-coordination"), "{err}");
        let err = compare_flow(
            &r,
            &FlowKind::new("ggd", "politie", "statistics"),
            &["drente"],
            at(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("did you mean `drenthe`"), "{err}");
        assert!(err.contains("drenthe, friesland, groningen"), "{err}");
    }

    #[test]
    fn a_draft_blocks_the_common_ground_and_is_named() {
        let r = registry();
        let c = compare_flow(
            &r,
            &FlowKind::new("gemeente", "politie", "criminal-investigation"),
            &["drenthe", "friesland"],
            at(),
        )
        .unwrap();
        assert_eq!(c.provinces[1].availability.label(), "refused: draft");
        assert!(!c.common.all_in_force);
        assert!(c.fields.iter().all(|f| f.common_ground == Action::Block));
        let bsn = c.field("subject.bsn").unwrap();
        assert_eq!(bsn.cells[1].planned, Some(Action::Pass));
        assert_eq!(bsn.cells[1].effective, Action::Block);
        assert!(c.aspects.contains(&Aspect::Availability));
    }

    #[test]
    fn a_province_without_the_flow_is_reported() {
        let r = registry();
        let c = compare_flow(
            &r,
            &FlowKind::new("ggd", "zvh", "care-coordination"),
            &[],
            at(),
        )
        .unwrap();
        let labels: Vec<&str> = c.provinces.iter().map(|p| p.availability.label()).collect();
        // Groningen hosts care coordination in the ZVH; Drenthe and Friesland have no
        // GGD -> ZVH care flow.
        assert_eq!(labels, ["no flow", "no flow", "in force"]);
        assert!(c.fields.iter().all(|f| !f.common_ground.releases()));
    }
}
