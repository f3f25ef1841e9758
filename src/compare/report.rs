//! What a comparison reports: per province the flow's availability and terms, per
//! field each province's action and the common ground, and the aspects that differ.

use crate::plan::resolve::Side;
use crate::plan::FlowPlan;
use crate::policy::action::Action;
use crate::policy::agreement::{Agreement, NotInForce, Regime, Retention, Rule, Status};
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
        /// Every province of the policy set ([`Registry::provinces`](crate::Registry::provinces)).
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
    pub(super) fn of(agreement: &Agreement) -> AgreementInfo {
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
    /// No organisation of the kind that works in the province (located there or
    /// serving it) has an agreement.
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
    /// The condition as it reads, like `case.consent in [given]`.
    pub when: String,
    /// The fields it reads.
    pub paths: Vec<Arc<str>>,
    /// The agreement whose rule sets it.
    pub agreement: Arc<str>,
    /// The rule.
    pub rule: Arc<str>,
}

impl ConditionTerm {
    pub(super) fn of(c: &crate::plan::PlannedCondition) -> ConditionTerm {
        ConditionTerm {
            when: c.condition.to_string(),
            paths: c.condition.paths().into_iter().map(Arc::from).collect(),
            agreement: c.agreement.clone(),
            rule: c.rule.clone(),
        }
    }
}

impl fmt::Display for ConditionTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.when)
    }
}

/// A compiled flow's terms beyond field actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowTerms {
    /// The sender's matching outbound rules.
    pub sender_rules: Vec<Arc<str>>,
    /// The recipient's matching inbound rules.
    pub recipient_rules: Vec<Arc<str>>,
    /// How long the recipient may keep the data: per start (the transfer day, or an
    /// event) the shortest period of the sender's rules, the earliest deadline
    /// binding. In JSON one text, like `"P2Y"` or `"P5Y; P1Y after case-closed"`.
    #[serde(serialize_with = "serialize_retention")]
    pub retention: Vec<Retention>,
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
    /// For a flow of aggregates only: the fewest records a released cell counts;
    /// `None` for a flow of records.
    pub aggregate_min_count: Option<u32>,
}

impl FlowTerms {
    pub(super) fn of(plan: &FlowPlan) -> FlowTerms {
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
        let mut conditions: Vec<ConditionTerm> =
            plan.conditions.iter().map(ConditionTerm::of).collect();
        conditions.sort();
        FlowTerms {
            sender_rules: plan.sender_rules.clone(),
            recipient_rules: plan.recipient_rules.clone(),
            retention: plan.retention.clone(),
            regime_out: plan.regime,
            regime_in: inbound
                .iter()
                .find_map(|r| r.regime)
                .unwrap_or(plan.recipient.regime),
            sender_legal_basis: bases(&outbound),
            recipient_legal_basis: bases(&inbound),
            conditions,
            aggregate_min_count: plan.aggregate().map(|a| a.min_count()),
        }
    }

    /// The conditions without the rules that set them, sorted, for comparing provinces.
    pub(super) fn condition_set(&self) -> BTreeSet<&str> {
        self.conditions.iter().map(|c| c.when.as_str()).collect()
    }

    /// Each side's bases as a sorted set, for comparing provinces.
    pub(super) fn basis_sets(&self) -> (BTreeSet<&str>, BTreeSet<&str>) {
        fn set(bases: &[Arc<str>]) -> BTreeSet<&str> {
            bases.iter().map(|b| &**b).collect()
        }
        (
            set(&self.sender_legal_basis),
            set(&self.recipient_legal_basis),
        )
    }
}

/// Retention as one text, `P2Y` or `P5Y; P1Y after case-closed`; `null` when none.
fn serialize_retention<S: Serializer>(retention: &[Retention], s: S) -> Result<S::Ok, S::Error> {
    if retention.is_empty() {
        return s.serialize_none();
    }
    let texts: Vec<String> = retention.iter().map(ToString::to_string).collect();
    s.collect_str(&texts.join("; "))
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
    /// The field's own conditions in the province's plan (path entries with
    /// `when`, either side), as they read: the field crosses only when all hold.
    /// A conditioned action is stricter than the same action without conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
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
    /// When the common ground releases the field: the conditions it crosses under,
    /// every province's field conditions at once (a conditioned action joined with
    /// the same action unconditioned keeps the condition).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub common_conditions: Vec<String>,
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
    /// Records, or aggregates only (and with which threshold).
    Release,
}

impl Aspect {
    /// Every aspect, in report order.
    pub const ALL: [Aspect; 7] = [
        Aspect::Availability,
        Aspect::Validity,
        Aspect::Release,
        Aspect::Retention,
        Aspect::Regime,
        Aspect::LegalBasis,
        Aspect::Conditions,
    ];

    /// A short name: `availability`, `validity`, `release`, `retention`, `regime`,
    /// `legal basis`, `conditions`.
    pub fn name(self) -> &'static str {
        match self {
            Aspect::Availability => "availability",
            Aspect::Validity => "validity",
            Aspect::Retention => "retention",
            Aspect::Regime => "regime",
            Aspect::LegalBasis => "legal basis",
            Aspect::Conditions => "conditions",
            Aspect::Release => "release",
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
    /// Every province's retention at once: per start (the transfer day, or an
    /// event), the shortest period, the earliest deadline binding.
    #[serde(serialize_with = "serialize_retention")]
    pub retention: Vec<Retention>,
    /// Every condition any province puts on records (each once).
    pub conditions: Vec<ConditionTerm>,
    /// Aggregates only, with the largest threshold of any province, if any province
    /// releases aggregates only; `None` when every province releases records.
    pub aggregate_min_count: Option<u32>,
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
