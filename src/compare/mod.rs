//! Comparing one flow across provinces: where the agreements differ, field by field,
//! and the common ground all of them allow at once.
//!
//! A flow is named by kinds, not organisations: `ggd → politie` for purpose
//! `criminal-investigation`. In each province the comparison finds the organisations
//! of those kinds and the flow the [`Registry`] compiled between them, and reads off
//! its [`FlowPlan`]: no record is gated. Only flows within one province are compared
//! (a sender in `drenthe` with a recipient in `drenthe`); the shipped agreements have
//! no flows between provinces.
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
//! let bsn = comparison.field("subject.bsn").expect("in the schema");
//! // Drenthe pseudonymises the BSN, Groningen and Friesland block it: nothing in common.
//! assert_eq!(bsn.common_ground, Action::Block);
//! assert!(bsn.differs());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::plan::registry::Registry;
use crate::plan::resolve::{self, Side};
use crate::plan::FlowPlan;
use crate::policy::action::Action;
use crate::policy::agreement::{Agreement, NotInForce, Regime, Rule, Status};
use crate::support::suggest::hint;
use crate::support::time::{amsterdam_date, Period};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// A flow named by the kinds of its organisations and its purpose.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FlowKind {
    /// The sender's kind, like `ggd`.
    pub from_kind: String,
    /// The recipient's kind, like `politie`.
    pub to_kind: String,
    /// The purpose, like `criminal-investigation`.
    pub purpose: String,
}

impl FlowKind {
    /// A flow from kind `from_kind` to kind `to_kind` for `purpose`.
    pub fn new(from_kind: &str, to_kind: &str, purpose: &str) -> FlowKind {
        FlowKind {
            from_kind: from_kind.to_owned(),
            to_kind: to_kind.to_owned(),
            purpose: purpose.to_owned(),
        }
    }
}

impl fmt::Display for FlowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} ({})",
            self.from_kind, self.to_kind, self.purpose
        )
    }
}

/// A comparison that cannot be made: a name the policy set does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// No organisation of this kind has an agreement.
    #[error("unknown organisation kind `{kind}`{hint}; known kinds: {}", known.join(", "))]
    UnknownKind {
        /// The kind given.
        kind: String,
        /// A "did you mean" hint, or empty.
        hint: String,
        /// Every kind with an agreement.
        known: Vec<String>,
    },
    /// The purpose is not in the schema.
    #[error("unknown purpose `{purpose}`{hint}; known purposes: {}", known.join(", "))]
    UnknownPurpose {
        /// The purpose given.
        purpose: String,
        /// A "did you mean" hint, or empty.
        hint: String,
        /// Every purpose of the schema.
        known: Vec<String>,
    },
    /// No agreement belongs to this province.
    #[error("unknown province `{province}`{hint}; known provinces: {}", known.join(", "))]
    UnknownProvince {
        /// The province given.
        province: String,
        /// A "did you mean" hint, or empty.
        hint: String,
        /// Every province with an agreement.
        known: Vec<String>,
    },
}

/// One side's agreement, as far as the comparison needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgreementInfo {
    /// The organisation id, like `drenthe/ggd`.
    pub id: Arc<str>,
    /// The organisation's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The agreement's version.
    pub version: Arc<str>,
    /// Signed or draft.
    pub status: Status,
    /// First day in force.
    pub valid_from: NaiveDate,
    /// Last day in force.
    pub valid_until: NaiveDate,
}

impl AgreementInfo {
    fn of(agreement: &Agreement) -> AgreementInfo {
        AgreementInfo {
            id: agreement.id.clone(),
            name: agreement.name.clone(),
            version: agreement.version.clone(),
            status: agreement.status,
            valid_from: agreement.valid_from,
            valid_until: agreement.valid_until,
        }
    }
}

/// Why a province has no flow of the compared kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
#[non_exhaustive]
pub enum NoFlow {
    /// No organisation of the kind has an agreement in the province.
    NoOrganisation {
        /// Which side is missing.
        side: Side,
        /// The kind.
        kind: String,
    },
    /// One side's agreement does not declare the purpose.
    PurposeNotAgreed {
        /// Which side.
        side: Side,
        /// Its agreement.
        agreement: Arc<str>,
    },
    /// No rule of one side covers the counterparty and purpose.
    NoRule {
        /// Which side.
        side: Side,
        /// Its agreement.
        agreement: Arc<str>,
    },
}

impl fmt::Display for NoFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoFlow::NoOrganisation { side, kind } => {
                write!(f, "no {kind} has an agreement here (the {side})")
            }
            NoFlow::PurposeNotAgreed { side, agreement } => {
                write!(
                    f,
                    "the {side}'s agreement `{agreement}` does not cover the purpose"
                )
            }
            NoFlow::NoRule {
                side: Side::Sender,
                agreement,
            } => write!(f, "no outbound rule of `{agreement}` covers it"),
            NoFlow::NoRule {
                side: Side::Recipient,
                agreement,
            } => write!(f, "no inbound rule of `{agreement}` covers it"),
        }
    }
}

/// Whether a province's flow applies at the moment compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
#[non_exhaustive]
pub enum Availability {
    /// Both agreements are in force: the gate applies the plan.
    InForce,
    /// The flow is compiled, but one side's agreement is not in force at the moment,
    /// so the gate refuses every transfer whole. The sender is checked first, as the
    /// gate does.
    Refused {
        /// Which side.
        side: Side,
        /// Its agreement.
        agreement: Arc<str>,
        /// Why it is not in force.
        #[serde(flatten)]
        why: NotInForce,
    },
    /// The province has no such flow.
    NoFlow {
        /// Why.
        #[serde(flatten)]
        reason: NoFlow,
    },
}

impl Availability {
    /// Whether the gate applies the flow's plan at the moment compared.
    pub fn in_force(&self) -> bool {
        matches!(self, Availability::InForce)
    }

    /// A short label: `in force`, `refused: draft`, `refused: expired`,
    /// `refused: not yet valid` or `no flow`.
    pub fn label(&self) -> &'static str {
        match self {
            Availability::InForce => "in force",
            Availability::Refused { why, .. } => match why {
                NotInForce::Draft => "refused: draft",
                NotInForce::NotYetValid { .. } => "refused: not yet valid",
                NotInForce::Expired { .. } => "refused: expired",
            },
            Availability::NoFlow { .. } => "no flow",
        }
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::InForce => f.write_str("in force"),
            Availability::Refused {
                side,
                agreement,
                why,
            } => write!(
                f,
                "refused: the {side}'s agreement `{agreement}` is not in force: {why}"
            ),
            Availability::NoFlow { reason } => write!(f, "no flow: {reason}"),
        }
    }
}

/// The days both agreements are in force (ignoring whether they are signed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub until: NaiveDate,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.from, self.until)
    }
}

/// A condition a rule puts on records (e.g. consent given).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ConditionTerm {
    /// The field the condition reads.
    pub path: Arc<str>,
    /// The values that satisfy it.
    pub allowed: Vec<String>,
    /// The agreement whose rule sets it.
    pub agreement: Arc<str>,
    /// The rule.
    pub rule: Arc<str>,
}

impl fmt::Display for ConditionTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in [{}]", self.path, self.allowed.join(", "))
    }
}

/// A compiled flow's terms beyond field actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowTerms {
    /// The sender's matching outbound rules.
    pub sender_rules: Vec<Arc<str>>,
    /// The recipient's matching inbound rules.
    pub recipient_rules: Vec<Arc<str>>,
    /// How long the recipient may keep the data (the shortest of the sender's rules).
    #[serde(serialize_with = "serialize_period")]
    pub retention: Option<Period>,
    /// The regime of the sender's rules (else the sender's agreement).
    pub regime_out: Regime,
    /// The regime of the recipient's rules (else the recipient's agreement).
    pub regime_in: Regime,
    /// The legal bases of the sender's rules.
    pub sender_legal_basis: Vec<Arc<str>>,
    /// The legal bases of the recipient's rules.
    pub recipient_legal_basis: Vec<Arc<str>>,
    /// Conditions records must meet, from rules on either side.
    pub conditions: Vec<ConditionTerm>,
}

impl FlowTerms {
    fn of(plan: &FlowPlan) -> FlowTerms {
        fn matching<'a>(rules: &'a [Rule], ids: &[Arc<str>]) -> Vec<&'a Rule> {
            rules.iter().filter(|r| ids.contains(&r.id)).collect()
        }
        let outbound = matching(&plan.sender.outbound, &plan.sender_rules);
        let inbound = matching(&plan.recipient.inbound, &plan.recipient_rules);
        let bases = |rules: &[&Rule]| {
            let mut out: Vec<Arc<str>> = Vec::new();
            for basis in rules.iter().flat_map(|r| &r.legal_basis) {
                if !out.contains(basis) {
                    out.push(basis.clone());
                }
            }
            out
        };
        let mut conditions: Vec<ConditionTerm> = plan
            .conditions
            .iter()
            .map(|c| ConditionTerm {
                path: c.condition.path.clone(),
                allowed: c.condition.allowed.clone(),
                agreement: c.agreement.clone(),
                rule: c.rule.clone(),
            })
            .collect();
        conditions.sort();
        FlowTerms {
            sender_rules: plan.sender_rules.clone(),
            recipient_rules: plan.recipient_rules.clone(),
            retention: plan.retention,
            regime_out: plan.regime,
            regime_in: inbound
                .iter()
                .find_map(|r| r.regime)
                .unwrap_or(plan.recipient.regime),
            sender_legal_basis: bases(&outbound),
            recipient_legal_basis: bases(&inbound),
            conditions,
        }
    }

    /// The conditions without the rules that set them, sorted, for comparing provinces.
    fn condition_set(&self) -> BTreeSet<(&str, &[String])> {
        self.conditions
            .iter()
            .map(|c| (&*c.path, c.allowed.as_slice()))
            .collect()
    }

    /// Each side's bases as a sorted set, for comparing provinces.
    fn basis_sets(&self) -> (BTreeSet<&str>, BTreeSet<&str>) {
        fn set(bases: &[Arc<str>]) -> BTreeSet<&str> {
            bases.iter().map(|b| &**b).collect()
        }
        (
            set(&self.sender_legal_basis),
            set(&self.recipient_legal_basis),
        )
    }
}

fn serialize_period<S: Serializer>(period: &Option<Period>, s: S) -> Result<S::Ok, S::Error> {
    match period {
        Some(p) => s.collect_str(p),
        None => s.serialize_none(),
    }
}

/// One province's side of the comparison: a column of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProvinceFlow {
    /// The province.
    pub province: String,
    /// The column's name: the province, or, where a province has several
    /// organisations of a kind, `province: sender -> recipient`.
    pub label: String,
    /// The sender's agreement, if the province has an organisation of the kind.
    pub sender: Option<AgreementInfo>,
    /// The recipient's agreement, if the province has an organisation of the kind.
    pub recipient: Option<AgreementInfo>,
    /// Whether the flow applies at the moment compared, and if not, why.
    pub availability: Availability,
    /// The days both agreements are in force, if both exist and overlap.
    pub window: Option<Window>,
    /// The compiled flow's terms, if there is a flow.
    pub terms: Option<FlowTerms>,
}

/// What one province does with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldCell {
    /// What the province's compiled plan does with the field, whether or not it is in
    /// force; `None` when the province has no such flow.
    pub planned: Option<Action>,
    /// What the gate releases at the moment compared: `planned` when the flow is in
    /// force, `block` otherwise.
    pub effective: Action,
}

/// How the provinces' effective actions on a field relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Likeness {
    /// Every province does the same.
    Same,
    /// Every province pseudonymises, but not all in the same domain: alike in
    /// treatment, unlinkable across provinces. Their join is `block`.
    DomainsOnly,
    /// The provinces treat the field differently.
    Different,
}

/// One schema field across the provinces: a row of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldComparison {
    /// The field path, like `subject.bsn`.
    pub path: Arc<str>,
    /// Its data category.
    pub category: Arc<str>,
    /// One cell per province, in the order of [`Comparison::provinces`].
    pub cells: Vec<FieldCell>,
    /// How the effective actions relate: what the gate does at the moment compared.
    pub likeness: Likeness,
    /// How the actions the agreements give relate, as written, whether or not they
    /// are in force (a province without the flow counts as `block`). It differs from
    /// [`FieldComparison::likeness`] only where a province's flow is refused at the
    /// moment: then it shows what the agreements would differ on once in force.
    pub as_written: Likeness,
    /// The join of every province's effective action: what all of them allow at once.
    pub common_ground: Action,
}

impl FieldComparison {
    /// Whether the provinces' effective actions are not all equal (including
    /// differences of pseudonymisation domain only).
    pub fn differs(&self) -> bool {
        self.likeness != Likeness::Same
    }
}

/// A flow-level term on which the provinces differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Aspect {
    /// Whether the flow exists and is in force at the moment (one province's draft,
    /// another's expiry, a third without the flow).
    Availability,
    /// The days both agreements are in force, from the moment compared on: one
    /// province's flow expires earlier or starts later than another's. (Start dates
    /// already past at that moment do not count.)
    Validity,
    /// The retention period.
    Retention,
    /// The regime of either side's rules.
    Regime,
    /// The legal bases of either side's rules.
    LegalBasis,
    /// Conditions on records.
    Conditions,
}

impl Aspect {
    /// Every aspect, in report order.
    pub const ALL: [Aspect; 6] = [
        Aspect::Availability,
        Aspect::Validity,
        Aspect::Retention,
        Aspect::Regime,
        Aspect::LegalBasis,
        Aspect::Conditions,
    ];

    /// A short name: `availability`, `validity`, `retention`, `regime`,
    /// `legal basis`, `conditions`.
    pub fn name(self) -> &'static str {
        match self {
            Aspect::Availability => "availability",
            Aspect::Validity => "validity",
            Aspect::Retention => "retention",
            Aspect::Regime => "regime",
            Aspect::LegalBasis => "legal basis",
            Aspect::Conditions => "conditions",
        }
    }
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flow-level terms a joint agreement would need so that no province releases
/// more than it does today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommonTerms {
    /// Whether every province has the flow in force; if not, the common ground is
    /// `block` for every field.
    pub all_in_force: bool,
    /// The shortest retention among the provinces (those whose rules set one).
    #[serde(serialize_with = "serialize_period")]
    pub retention: Option<Period>,
    /// Every condition any province puts on records (path and values, once each).
    pub conditions: Vec<ConditionTerm>,
}

/// A flow compared across provinces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The flow.
    pub flow: FlowKind,
    /// The moment compared.
    pub at: DateTime<Utc>,
    /// Its calendar day in Europe/Amsterdam, which decides validity.
    pub day: NaiveDate,
    /// The provinces (columns), in the order asked for.
    pub provinces: Vec<ProvinceFlow>,
    /// Every schema field (rows), in schema order.
    pub fields: Vec<FieldComparison>,
    /// Flow-level terms on which the provinces differ.
    pub aspects: Vec<Aspect>,
    /// The common ground's flow-level terms.
    pub common: CommonTerms,
}

impl Comparison {
    /// The row of a field path.
    pub fn field(&self, path: &str) -> Option<&FieldComparison> {
        self.fields.iter().find(|f| &*f.path == path)
    }

    /// Counts for an overview.
    pub fn summary(&self) -> FlowSummary {
        let count = |l: Likeness| self.fields.iter().filter(|f| f.likeness == l).count();
        FlowSummary {
            flow: self.flow.clone(),
            fields: self.fields.len(),
            same: count(Likeness::Same),
            domains_only: count(Likeness::DomainsOnly),
            different: count(Likeness::Different),
            different_as_written: self
                .fields
                .iter()
                .filter(|f| f.as_written == Likeness::Different)
                .count(),
            common_ground_releases: self
                .fields
                .iter()
                .filter(|f| f.common_ground.releases())
                .count(),
            provinces: self.provinces.len(),
            in_force: self
                .provinces
                .iter()
                .filter(|p| p.availability.in_force())
                .count(),
            aspects: self.aspects.clone(),
        }
    }
}

/// A flow's comparison in numbers, for an overview of every flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowSummary {
    /// The flow.
    pub flow: FlowKind,
    /// Schema fields compared.
    pub fields: usize,
    /// Fields every province treats the same.
    pub same: usize,
    /// Fields every province pseudonymises, in different domains.
    pub domains_only: usize,
    /// Fields the provinces treat differently.
    pub different: usize,
    /// Fields the provinces' agreements treat differently as written, whether or
    /// not in force ([`FieldComparison::as_written`]).
    pub different_as_written: usize,
    /// Fields the common ground lets cross in some form.
    pub common_ground_releases: usize,
    /// Provinces compared.
    pub provinces: usize,
    /// Provinces whose flow is in force at the moment.
    pub in_force: usize,
    /// Flow-level terms on which the provinces differ.
    pub aspects: Vec<Aspect>,
}

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
            p.sender.province == p.recipient.province
                && provinces.iter().any(|q| *q == p.sender.province)
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
    let known: BTreeSet<&str> = registry.agreements().map(|a| a.province.as_str()).collect();
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
                .filter(|a| a.province == *province && a.kind == kind)
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
                    FieldCell { planned, effective }
                })
                .collect();
            let common_ground = common_ground(cells.iter().map(|c| &c.effective));
            FieldComparison {
                path: field.path.clone(),
                category: field.category.clone(),
                likeness: likeness(cells.iter().map(|c| &c.effective)),
                as_written: likeness(
                    cells
                        .iter()
                        .map(|c| c.planned.as_ref().unwrap_or(&Action::Block)),
                ),
                common_ground,
                cells,
            }
        })
        .collect();

    let columns: Vec<ProvinceFlow> = columns.into_iter().map(|(c, _)| c).collect();
    let aspects = differing_aspects(&columns, day);
    let with_terms = || columns.iter().filter_map(|c| c.terms.as_ref());
    let mut conditions: Vec<ConditionTerm> = Vec::new();
    for condition in with_terms().flat_map(|t| &t.conditions) {
        let seen = conditions
            .iter()
            .any(|c| c.path == condition.path && c.allowed == condition.allowed);
        if !seen {
            conditions.push(condition.clone());
        }
    }
    let common = CommonTerms {
        all_in_force: !columns.is_empty() && columns.iter().all(|c| c.availability.in_force()),
        retention: with_terms()
            .filter_map(|t| t.retention)
            .min_by_key(|p| p.max_days()),
        conditions,
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
                Aspect::Retention => all_equal(terms().map(|t| t.retention)),
                Aspect::Regime => all_equal(terms().map(|t| (t.regime_out, t.regime_in))),
                Aspect::LegalBasis => all_equal(terms().map(FlowTerms::basis_sets)),
                Aspect::Conditions => all_equal(terms().map(FlowTerms::condition_set)),
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
        assert!(err.contains("gemeente, ggd, om, politie, zvh"), "{err}");
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
