//! What a transfer is and what came of it: the transfer's terms, the per-field
//! decision, and the refusal when nothing crossed. Below both the gate, which makes
//! these, and the audit log, which records them.

pub use crate::plan::resolve::Side;
use crate::plan::{ClauseRef, FlowPlan, PlannedCondition};
use crate::policy::action::Action;
use crate::policy::agreement::{NotInForce, Regime, Retention};
use crate::pseudonym::ValueProblem;
use crate::support::json::JsonError;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The member of a released record that carries the transfer's terms.
pub const TRANSFER_MEMBER: &str = "_transfer";

/// One transfer: who sends to whom, for what, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer<'a> {
    /// The sender's organisation id, like `drenthe/ggd`.
    pub from: &'a str,
    /// The recipient's organisation id.
    pub to: &'a str,
    /// The purpose id.
    pub purpose: &'a str,
    /// The moment of transfer.
    pub at: DateTime<Utc>,
}

/// Why nothing crossed. A refusal is a normal outcome, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
#[non_exhaustive]
pub enum Refusal {
    /// No agreement for this organisation id.
    UnknownOrganisation {
        /// Which side.
        side: Side,
        /// The id given.
        organisation: String,
        /// A close known id.
        #[serde(skip_serializing_if = "Option::is_none")]
        suggestion: Option<String>,
    },
    /// The purpose is not in the schema.
    UnknownPurpose {
        /// The purpose given.
        purpose: String,
        /// A close known purpose.
        #[serde(skip_serializing_if = "Option::is_none")]
        suggestion: Option<String>,
    },
    /// One side's agreement is not in force at the moment of transfer.
    NotInForce {
        /// Which side.
        side: Side,
        /// Its agreement.
        agreement: Arc<str>,
        /// Its version.
        version: Arc<str>,
        /// Why.
        #[serde(flatten)]
        why: NotInForce,
    },
    /// One side's agreement does not declare the purpose.
    PurposeNotAgreed {
        /// Which side.
        side: Side,
        /// Its agreement.
        agreement: Arc<str>,
        /// The purpose.
        purpose: String,
    },
    /// No rule of one side covers this counterparty and purpose.
    NoRule {
        /// Which side.
        side: Side,
        /// Its agreement.
        agreement: Arc<str>,
    },
    /// The flow pseudonymises in a domain the key file has no key for.
    MissingKey {
        /// The domain.
        domain: String,
    },
    /// A rule's condition on the record does not hold (e.g. no consent), or cannot
    /// be decided because a value it reads is missing or unusable.
    ConditionNotMet {
        /// The agreement whose rule sets the condition.
        agreement: Arc<str>,
        /// The rule.
        rule: Arc<str>,
        /// A field the condition reads: the first whose value is missing or
        /// unusable, else the first it reads.
        path: Arc<str>,
    },
    /// The flow releases aggregates only (counts per cell, small cells suppressed), so
    /// no record crosses it: count the records with
    /// [`Gate::aggregate`](crate::Gate::aggregate) or `privacy-gate aggregate`.
    AggregatesOnly {
        /// The fewest records a released cell counts.
        min_count: u32,
    },
    /// A retention period that starts at an event ended before the transfer: the
    /// record marks the event (e.g. the case closed) so long ago that the recipient
    /// could not keep it at all. The day is not named: it comes from the record.
    RetentionExpired {
        /// The event whose period ended.
        event: Arc<str>,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownOrganisation {
                side,
                organisation,
                suggestion,
            } => {
                write!(
                    f,
                    "unknown {side} organisation `{organisation}`: no agreement of it is loaded"
                )?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean `{s}`?)")?;
                }
                Ok(())
            }
            Refusal::UnknownPurpose {
                purpose,
                suggestion,
            } => {
                write!(f, "unknown purpose `{purpose}`")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean `{s}`?)")?;
                }
                Ok(())
            }
            Refusal::NotInForce {
                side,
                agreement,
                version,
                why,
            } => {
                write!(f, "the {side}'s agreement `{agreement}` (version {version}) is not in force: {why}")
            }
            Refusal::PurposeNotAgreed {
                side,
                agreement,
                purpose,
            } => {
                write!(
                    f,
                    "the {side}'s agreement `{agreement}` does not cover purpose `{purpose}`"
                )
            }
            Refusal::NoRule {
                side: Side::Sender,
                agreement,
            } => {
                write!(
                    f,
                    "no outbound rule of `{agreement}` allows this recipient and purpose"
                )
            }
            Refusal::NoRule {
                side: Side::Recipient,
                agreement,
            } => {
                write!(
                    f,
                    "no inbound rule of `{agreement}` allows this sender and purpose"
                )
            }
            Refusal::MissingKey { domain } => {
                write!(
                    f,
                    "the flow pseudonymises in domain `{domain}`, and no key for it was loaded"
                )
            }
            Refusal::ConditionNotMet {
                agreement,
                rule,
                path,
            } => {
                write!(f, "the condition of rule `{rule}` of `{agreement}` does not hold for this record (it reads `{path}`)")
            }
            Refusal::RetentionExpired { event } => {
                write!(f, "the retention period after event `{event}` ended before the transfer: the recipient may not keep the record")
            }
            Refusal::AggregatesOnly { min_count } => {
                write!(f, "this flow releases aggregates only (counts per cell, cells of fewer than {min_count} records suppressed), never a record: use `privacy-gate aggregate` or `Gate::aggregate`")
            }
        }
    }
}

/// A record that cannot be gated at all. Never contains any of the record's content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not valid JSON, a duplicate key, or too deep.
    #[error("malformed record")]
    Json(#[source] JsonError),
    /// Valid JSON, but not an object.
    #[error("a record must be a JSON object")]
    NotAnObject,
}

/// Why a value was removed from a record although its field may cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RemovalReason {
    /// The path is not in the schema.
    UnknownField,
    /// The value does not fit the field's type.
    WrongType,
    /// A BSN failing the 11-proof.
    InvalidBsn,
    /// A value a generalisation cannot use (a birth date in the future, a malformed postcode).
    InvalidValue,
    /// A value outside its field's bounds: not in its enumeration, not matching its
    /// pattern, or longer than its maximum length.
    OutOfBounds,
    /// A value passing in plain form that holds an identifier (a BSN, an e-mail
    /// address, a Dutch phone number, an IBAN) in a field not meant for one.
    IdentifierInPassingField,
    /// The field's path entry sets a condition on the record that does not hold (or
    /// cannot be decided), so the field does not cross while the rest of the record
    /// may; [`Removal::clause`] cites the clause.
    ConditionNotMet,
}

impl From<ValueProblem> for RemovalReason {
    fn from(p: ValueProblem) -> RemovalReason {
        match p {
            ValueProblem::WrongType => RemovalReason::WrongType,
            ValueProblem::InvalidBsn => RemovalReason::InvalidBsn,
            ValueProblem::InvalidValue => RemovalReason::InvalidValue,
        }
    }
}

impl fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemovalReason::UnknownField => "unknown field",
            RemovalReason::WrongType => "wrong type",
            RemovalReason::InvalidBsn => "invalid bsn",
            RemovalReason::InvalidValue => "invalid value",
            RemovalReason::OutOfBounds => "out of bounds",
            RemovalReason::IdentifierInPassingField => "identifier in a field that passes",
            RemovalReason::ConditionNotMet => "condition not met",
        })
    }
}

/// One removed value: where it was and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// JSON pointer into the input record. A key that is not a plain identifier is
    /// shown as `<key>`, since keys can carry personal data too.
    pub pointer: String,
    /// The schema path, when the value was at one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Arc<str>>,
    /// Why.
    pub reason: RemovalReason,
    /// For [`RemovalReason::ConditionNotMet`]: the clause whose condition did not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clause: Option<ClauseRef>,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FieldCount {
    pub(crate) seen: u32,
    pub(crate) released: u32,
}

/// What the gate did with one record, field by field, and why. Holds no value of the record.
#[derive(Clone)]
pub struct Decision {
    pub(crate) plan: Arc<FlowPlan>,
    pub(crate) at: DateTime<Utc>,
    pub(crate) retain_until: Option<NaiveDate>,
    /// The flow's deadline from the transfer day alone: what the audit log records,
    /// as a deadline from an event would reveal the event's day.
    pub(crate) flow_retain_until: Option<NaiveDate>,
    pub(crate) retain_pending: Vec<Retention>,
    pub(crate) counts: Vec<FieldCount>,
    pub(crate) removed: Vec<Removal>,
}

/// The decision for one schema field present in the record.
#[derive(Clone, Debug, Serialize)]
pub struct FieldDecision<'a> {
    /// The schema path.
    pub path: &'a str,
    /// Its category.
    pub category: &'a str,
    /// The action taken (the join of both sides).
    pub action: &'a Action,
    /// The sender's outbound action.
    pub sender_action: &'a Action,
    /// The recipient's inbound action.
    pub recipient_action: &'a Action,
    /// The sender's deciding clause (`None`: no rule names it, default deny).
    pub sender_clause: Option<&'a ClauseRef>,
    /// The recipient's deciding clause (`None`: no rule names it, default deny).
    pub recipient_clause: Option<&'a ClauseRef>,
    /// The legal bases for the field on both sides.
    pub legal_basis: &'a [Arc<str>],
    /// The conditions of the deciding path entries on either side: the field crosses
    /// only when all of them hold.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub conditions: &'a [PlannedCondition],
    /// How many values the record had at this path.
    pub occurrences: u32,
    /// How many of them crossed (in the form of the action).
    pub released: u32,
}

impl Decision {
    /// The plan that decided.
    pub fn plan(&self) -> &Arc<FlowPlan> {
        &self.plan
    }

    /// The moment of transfer.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The last day the recipient may keep the data: the earliest deadline of the
    /// sender's retention periods that could be counted, from the transfer day or
    /// from the day of an event the record marks. `None` when none could: no period
    /// is set, or every one waits for its event ([`Decision::retain_pending`]).
    pub fn retain_until(&self) -> Option<NaiveDate> {
        self.retain_until
    }

    /// The deadline counted from the transfer day alone (the flow's), which the audit
    /// log records: a deadline from an event the record marks would reveal its day.
    pub(crate) fn flow_retain_until(&self) -> Option<NaiveDate> {
        self.flow_retain_until
    }

    /// Retention periods that start at an event the record does not mark yet (like
    /// `P1Y after case-closed` for an open case): the recipient keeps the record no
    /// longer than each period after its event, and no later than
    /// [`Decision::retain_until`] if that is set.
    pub fn retain_pending(&self) -> &[Retention] {
        &self.retain_pending
    }

    /// The regime of the transfer.
    pub fn regime(&self) -> Regime {
        self.plan.regime
    }

    /// Per schema field present in the record, in path order.
    pub fn fields(&self) -> impl Iterator<Item = FieldDecision<'_>> {
        let schema = &self.plan.schema;
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.seen > 0)
            .filter_map(move |(id, count)| {
                let field = schema.field_by_id(id)?;
                let plan = self.plan.fields.get(id)?;
                Some(FieldDecision {
                    path: &field.path,
                    category: &field.category,
                    action: &plan.action,
                    sender_action: &plan.sender_action,
                    recipient_action: &plan.recipient_action,
                    sender_clause: plan.sender.as_ref(),
                    recipient_clause: plan.recipient.as_ref(),
                    legal_basis: &plan.legal_basis,
                    conditions: &plan.conditions,
                    occurrences: count.seen,
                    released: count.released,
                })
            })
    }

    /// Per schema field present in the record, by field index: how many values it
    /// had and how many crossed.
    pub fn counts_by_field(&self) -> impl Iterator<Item = (usize, (u32, u32))> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.seen > 0)
            .map(|(i, c)| (i, (c.seen, c.released)))
    }

    /// Values removed for reasons of their own: unknown fields, wrong types, invalid
    /// values, and fields whose own condition did not hold.
    pub fn removed(&self) -> &[Removal] {
        &self.removed
    }

    /// The decision as JSON, for tools and logs (no record values in it).
    pub fn to_json(&self) -> Value {
        #[derive(Serialize)]
        struct Agreement<'a> {
            id: &'a str,
            version: &'a str,
            sha256: String,
        }
        #[derive(Serialize)]
        struct View<'a> {
            from: &'a str,
            to: &'a str,
            purpose: &'a str,
            at: String,
            regime: Regime,
            retain_until: Option<NaiveDate>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            retain: Vec<String>,
            agreements: [Agreement<'a>; 2],
            fields: Vec<FieldDecision<'a>>,
            removed: &'a [Removal],
        }
        fn agreement(a: &crate::policy::agreement::Agreement) -> Agreement<'_> {
            Agreement {
                id: &a.id,
                version: &a.version,
                sha256: a.sha256_hex(),
            }
        }
        let view = View {
            from: &self.plan.sender.id,
            to: &self.plan.recipient.id,
            purpose: &self.plan.purpose,
            at: self.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            regime: self.plan.regime,
            retain_until: self.retain_until,
            retain: self
                .retain_pending
                .iter()
                .map(ToString::to_string)
                .collect(),
            agreements: [
                agreement(&self.plan.sender),
                agreement(&self.plan.recipient),
            ],
            fields: self.fields().collect(),
            removed: &self.removed,
        };
        serde_json::to_value(view).unwrap_or(Value::Null)
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("from", &self.plan.sender.id)
            .field("to", &self.plan.recipient.id)
            .field("purpose", &self.plan.purpose)
            .field("fields", &self.fields().collect::<Vec<_>>())
            .field("removed", &self.removed)
            .finish()
    }
}

/// The outcome of [`Flow::write_json`](crate::Flow::write_json): the record was
/// written, or nothing was. Exhaustive for the reason [`Outcome`] is.
#[derive(Debug)]
pub enum Written {
    /// The released record was written; why each field crossed as it did.
    Released(Decision),
    /// Nothing was written.
    Refused(Refusal),
}

/// A released record and the decision that shaped it.
pub struct Released {
    /// The record as it may cross, with a `_transfer` member holding the transfer's
    /// terms (from, to, purpose, at, retain_until).
    pub record: Value,
    /// Why each field crossed as it did.
    pub decision: Decision,
}

impl fmt::Debug for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The record is personal data even after gating: never print it.
        f.debug_struct("Released")
            .field("record", &"<personal data, not shown>")
            .field("decision", &self.decision)
            .finish()
    }
}

/// The outcome of a transfer. Deliberately exhaustive: were a third outcome ever
/// added, every caller's `match` should stop compiling rather than let a
/// wildcard arm guess what to do with it.
#[derive(Debug)]
pub enum Outcome {
    /// The record crossed, as shaped by the decision.
    Released(Released),
    /// Nothing crossed.
    Refused(Refusal),
}

impl Outcome {
    /// The released record, if any.
    pub fn released(self) -> Option<Released> {
        match self {
            Outcome::Released(r) => Some(r),
            Outcome::Refused(_) => None,
        }
    }
}
