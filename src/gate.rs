//! The gate: applies a compiled flow plan to a record and explains the outcome.

use crate::action::{Action, Method};
use crate::agreement::{NotInForce, Regime};
use crate::audit::entry::BodyRef;
use crate::audit::{Archive, AuditError, AuditLog, Bodies, Body};
use crate::json::JsonError;
use crate::limits::Limits;
use crate::plan::{ClauseRef, FlowPlan};
use crate::pseudonym::{check_type, normalise, parse_date, ActiveKey, KeyRing, ValueProblem};
use crate::registry::{FlowKey, Registry};
use crate::schema::{FieldId, Node, ValueType};
use crate::time::amsterdam_date;
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The text a `placeholder` generalisation puts in place of a value.
pub const PLACEHOLDER: &str = "[withheld]";

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

/// Which side of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The sender.
    Sender,
    /// The recipient.
    Recipient,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Sender => "sender",
            Side::Recipient => "recipient",
        })
    }
}

/// Why nothing crossed. A refusal is a normal outcome, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
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
    /// A rule's condition on the record does not hold (e.g. no consent).
    ConditionNotMet {
        /// The agreement whose rule sets the condition.
        agreement: Arc<str>,
        /// The rule.
        rule: Arc<str>,
        /// The field the condition reads.
        path: Arc<str>,
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
                write!(f, "rule `{rule}` of `{agreement}` requires a value of `{path}` the record does not have")
            }
        }
    }
}

/// A record that cannot be gated at all. Never contains any of the record's content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not valid JSON, a duplicate key, or too deep.
    #[error("malformed record: {0}")]
    Json(JsonError),
    /// Valid JSON, but not an object.
    #[error("a record must be a JSON object")]
    NotAnObject,
}

/// Why a value was removed from a record although its field may cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemovalReason {
    /// The path is not in the schema.
    UnknownField,
    /// The value does not fit the field's type.
    WrongType,
    /// A BSN failing the 11-proof.
    InvalidBsn,
    /// A value a generalisation cannot use (a birth date in the future, a malformed postcode).
    InvalidValue,
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
}

#[derive(Clone, Copy, Debug, Default)]
struct FieldCount {
    seen: u32,
    released: u32,
}

/// What the gate did with one record, field by field, and why. Holds no value of the record.
#[derive(Clone)]
pub struct Decision {
    plan: Arc<FlowPlan>,
    at: DateTime<Utc>,
    retain_until: Option<NaiveDate>,
    counts: Vec<FieldCount>,
    removed: Vec<Removal>,
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

    /// The last day the recipient may keep the data, if the sender's rule sets one.
    pub fn retain_until(&self) -> Option<NaiveDate> {
        self.retain_until
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

    /// Values removed for reasons of their own: unknown fields, wrong types, invalid values.
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
            agreements: [Agreement<'a>; 2],
            fields: Vec<FieldDecision<'a>>,
            removed: &'a [Removal],
        }
        fn agreement(a: &crate::agreement::Agreement) -> Agreement<'_> {
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

/// The outcome of [`Flow::write_json`]: the record was written, or nothing was.
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

/// The outcome of a transfer.
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

struct GateFlow {
    plan: Arc<FlowPlan>,
    keys: Result<Vec<Arc<ActiveKey>>, String>,
    /// The plan's audit entry and its id.
    plan_entry: (Body, [u8; 32]),
}

/// Checks and shapes records crossing between organisations. Build once, share
/// between threads (`Send + Sync`), apply many times.
///
/// # Example
///
/// ```
/// use privacy_gate::{Gate, KeyRing, Registry, Transfer};
/// let registry = Registry::load_dir("policies".as_ref())?;
/// let gate = Gate::new(registry, KeyRing::empty());
/// let at = "2026-03-02T10:00:00Z".parse()?;
/// let transfer = Transfer { from: "groningen/ggd", to: "groningen/politie", purpose: "criminal-investigation", at };
/// let record = serde_json::json!({"case": {"id": "c-1"}, "subject": {"name": {"family": "Jansen"}}});
/// match gate.apply(&transfer, record)? {
///     privacy_gate::Outcome::Released(released) => {
///         for field in released.decision.fields() {
///             println!("{} {}", field.path, field.action);
///         }
///     }
///     privacy_gate::Outcome::Refused(why) => println!("refused: {why}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Gate {
    registry: Arc<Registry>,
    keys: Arc<KeyRing>,
    flows: HashMap<FlowKey, GateFlow>,
    limits: Limits,
    audit: Option<GateAudit>,
}

/// What a gate needs to write audit entries.
struct GateAudit {
    log: Arc<AuditLog>,
    policy_set: String,
    /// The schema path of the subject's BSN, as segments.
    subject: Option<Vec<Box<str>>>,
}

/// Why a record could not be gated, or its transfer not logged.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The record is not a record.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The audit entry could not be written, so nothing was released.
    #[error("nothing released: {0}")]
    Audit(#[from] AuditError),
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("agreements", &self.registry.agreements().count())
            .field("flows", &self.flows.len())
            .field("key_domains", &self.keys.domains().collect::<Vec<_>>())
            .finish()
    }
}

impl Gate {
    /// Builds a gate from a policy set and the pseudonymisation keys.
    pub fn new(registry: Registry, keys: KeyRing) -> Gate {
        let flows = registry
            .flows()
            .iter()
            .map(|(key, plan)| {
                let gate_keys = plan
                    .domains
                    .iter()
                    .map(|d| {
                        keys.domain(d)
                            .map(|set| set.active().clone())
                            .ok_or_else(|| d.to_string())
                    })
                    .collect();
                (
                    *key,
                    GateFlow {
                        plan: plan.clone(),
                        keys: gate_keys,
                        plan_entry: crate::audit::entry::plan_body(plan),
                    },
                )
            })
            .collect();
        Gate {
            registry: Arc::new(registry),
            keys: Arc::new(keys),
            flows,
            limits: Limits::default(),
            audit: None,
        }
    }

    /// Logs every transfer through this gate in `log`, before any record is handed
    /// back; when an entry cannot be written, nothing is released. Every agreement
    /// version is first copied into `archive` (content-addressed, for replay), and
    /// the policy set is named in the log if it is new to it.
    ///
    /// # Errors
    ///
    /// The archive or the log could not be written.
    pub fn with_audit(mut self, log: Arc<AuditLog>, archive: &Archive) -> Result<Gate, AuditError> {
        let set = self.registry.policy_set();
        archive.store(set).map_err(|e| AuditError::Io {
            path: archive.dir().display().to_string(),
            message: format!("cannot archive the agreements: {e}"),
        })?;
        let id = set.id_hex();
        if !log.has_policy_set(&id) {
            log.append(&[crate::audit::entry::policy_body(set, &self.registry)])?;
        }
        let schema = self.registry.schema();
        let subject = schema
            .field("subject.bsn")
            .or_else(|| {
                schema
                    .fields()
                    .iter()
                    .position(|f| f.value_type == ValueType::Bsn && !f.in_array)
            })
            .and_then(|id| schema.field_by_id(id))
            .map(|f| f.path.split('.').map(Box::from).collect());
        self.audit = Some(GateAudit {
            log,
            policy_set: id,
            subject,
        });
        Ok(self)
    }

    /// Applies `limits` to every record this gate reads (line length, nesting depth,
    /// values per record); [`Limits::default`] until set.
    pub fn with_limits(mut self, limits: Limits) -> Gate {
        self.limits = limits;
        self
    }

    /// The limits this gate applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The policy set.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Resolves a transfer to its flow, checking everything that does not depend on
    /// the record: both organisations known, both agreements in force at the moment,
    /// the purpose in both, rules on both sides, keys for every pseudonym.
    ///
    /// # Errors
    ///
    /// The [`Refusal`] when the transfer is not allowed at all.
    pub fn flow(&self, transfer: &Transfer<'_>) -> Result<Flow<'_>, Refusal> {
        let result = self.resolve(transfer);
        if let (Err(refusal), Some(audit)) = (&result, &self.audit) {
            // Nothing crosses either way; a failed append poisons the log, so every
            // later transfer fails closed.
            let facts = crate::audit::entry::TransferFacts {
                transfer: *transfer,
                policy_set: &audit.policy_set,
                plan: None,
                keys: &[],
                decision: None,
                refusal: Some(refusal),
                input: None,
                output: None,
                subject: None,
            };
            let _ = audit
                .log
                .append(&[crate::audit::entry::transfer_body(&facts, audit.log.key())]);
        }
        result
    }

    fn resolve(&self, transfer: &Transfer<'_>) -> Result<Flow<'_>, Refusal> {
        let registry = &self.registry;
        let side_index = |side: Side, id: &str| {
            registry
                .index_of(id)
                .ok_or_else(|| Refusal::UnknownOrganisation {
                    side,
                    organisation: id.to_owned(),
                    suggestion: registry.suggest_organisation(id),
                })
        };
        let si = side_index(Side::Sender, transfer.from)?;
        let ri = side_index(Side::Recipient, transfer.to)?;
        let pi =
            registry
                .purpose_index(transfer.purpose)
                .ok_or_else(|| Refusal::UnknownPurpose {
                    purpose: transfer.purpose.to_owned(),
                    suggestion: registry.suggest_purpose(transfer.purpose),
                })?;
        let day = amsterdam_date(transfer.at);
        let agreements = [
            (Side::Sender, registry.agreement(transfer.from)),
            (Side::Recipient, registry.agreement(transfer.to)),
        ];
        for (side, agreement) in agreements {
            let Some(agreement) = agreement else { continue };
            agreement.in_force(day).map_err(|why| Refusal::NotInForce {
                side,
                agreement: agreement.id.clone(),
                version: agreement.version.clone(),
                why,
            })?;
        }
        for (side, agreement) in agreements {
            let Some(agreement) = agreement else { continue };
            if !agreement.purposes.contains_key(transfer.purpose) {
                return Err(Refusal::PurposeNotAgreed {
                    side,
                    agreement: agreement.id.clone(),
                    purpose: transfer.purpose.to_owned(),
                });
            }
        }
        let Some(flow) = self.flows.get(&(si, ri, pi)) else {
            let (side, agreement) = match agreements {
                [(_, Some(sender)), (_, Some(recipient))] => {
                    let outbound = sender
                        .outbound
                        .iter()
                        .any(|r| r.purpose == transfer.purpose && r.selector.matches(recipient));
                    if outbound {
                        (Side::Recipient, recipient.id.clone())
                    } else {
                        (Side::Sender, sender.id.clone())
                    }
                }
                _ => (Side::Sender, Arc::from(transfer.from)),
            };
            return Err(Refusal::NoRule { side, agreement });
        };
        let keys = flow.keys.as_ref().map_err(|domain| Refusal::MissingKey {
            domain: domain.clone(),
        })?;
        let retain_until = flow.plan.retention.and_then(|p| p.deadline(day));
        let terms = transfer_terms(&flow.plan, transfer.at, retain_until);
        Ok(Flow {
            plan: &flow.plan,
            gate_flow: flow,
            audit: self.audit.as_ref(),
            keys,
            at: transfer.at,
            today: day,
            retain_until,
            limits: self.limits,
            terms_json: serde_json::to_vec(&terms).unwrap_or_default(),
            terms,
            released: std::sync::OnceLock::new(),
        })
    }

    /// Gates one parsed record.
    ///
    /// # Errors
    ///
    /// [`RecordError::NotAnObject`] when the record is not a JSON object. A refused
    /// transfer is an [`Outcome::Refused`], not an error.
    pub fn apply(&self, transfer: &Transfer<'_>, record: Value) -> Result<Outcome, GateError> {
        match self.flow(transfer) {
            Ok(flow) => flow.apply(record),
            Err(refusal) => Ok(Outcome::Refused(refusal)),
        }
    }

    /// Parses `bytes` strictly (duplicate keys and nesting deeper than the limit are
    /// errors) and gates the record.
    ///
    /// # Errors
    ///
    /// [`RecordError`] for malformed JSON, duplicate keys, excessive nesting, or a
    /// value that is not an object.
    pub fn apply_json(&self, transfer: &Transfer<'_>, bytes: &[u8]) -> Result<Outcome, GateError> {
        match self.flow(transfer) {
            Ok(flow) => flow.apply_json(bytes),
            Err(refusal) => Ok(Outcome::Refused(refusal)),
        }
    }
}

/// A transfer resolved to its plan: apply it to many records at one moment.
pub struct Flow<'g> {
    plan: &'g Arc<FlowPlan>,
    gate_flow: &'g GateFlow,
    audit: Option<&'g GateAudit>,
    keys: &'g [Arc<ActiveKey>],
    at: DateTime<Utc>,
    today: NaiveDate,
    retain_until: Option<NaiveDate>,
    limits: Limits,
    terms: Value,
    terms_json: Vec<u8>,
    /// The audit body members shared by every release along this flow, built on the
    /// first release that is logged.
    released: std::sync::OnceLock<crate::audit::entry::ReleasedTemplate>,
}

impl fmt::Debug for Flow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("from", &self.plan.sender.id)
            .field("to", &self.plan.recipient.id)
            .field("purpose", &self.plan.purpose)
            .field("at", &self.at)
            .finish()
    }
}

impl Flow<'_> {
    /// The compiled plan.
    pub fn plan(&self) -> &Arc<FlowPlan> {
        self.plan
    }

    /// The last day the recipient may keep what crosses, if the sender's rule sets one.
    pub fn retain_until(&self) -> Option<NaiveDate> {
        self.retain_until
    }

    /// The limits of the gate this flow belongs to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses a record strictly, within the limits.
    fn parse(&self, bytes: &[u8]) -> Result<Value, JsonError> {
        crate::json::parse_limited(bytes, self.limits.max_depth, self.limits.max_values)
    }

    /// Parses `bytes` strictly and gates the record.
    ///
    /// # Errors
    ///
    /// As [`Gate::apply_json`].
    pub fn apply_json(&self, bytes: &[u8]) -> Result<Outcome, GateError> {
        let record = self.parse(bytes).map_err(RecordError::Json)?;
        self.apply_logged(record, Some(bytes))
    }

    /// Gates one parsed record.
    ///
    /// # Errors
    ///
    /// [`RecordError::NotAnObject`] when the record is not a JSON object;
    /// [`GateError::Audit`] when the gate logs and the entry could not be written
    /// (then nothing is released).
    pub fn apply(&self, record: Value) -> Result<Outcome, GateError> {
        self.apply_logged(record, None)
    }

    fn apply_logged(&self, record: Value, input: Option<&[u8]>) -> Result<Outcome, GateError> {
        let Value::Object(map) = record else {
            return Err(RecordError::NotAnObject.into());
        };
        let Some(audit) = self.audit else {
            return Ok(self.apply_map(map));
        };
        let canonical;
        let input = match input {
            Some(bytes) => bytes,
            None => {
                canonical = serde_json::to_vec(&map).unwrap_or_default();
                &canonical
            }
        };
        let subject = self.subject(audit, &map);
        match self.apply_map(map) {
            Outcome::Refused(refusal) => {
                self.log(audit, Err(&refusal), input, None, subject.as_deref())?;
                Ok(Outcome::Refused(refusal))
            }
            Outcome::Released(released) => {
                let output = serde_json::to_vec(&released.record).unwrap_or_default();
                self.log(
                    audit,
                    Ok(&released.decision),
                    input,
                    Some(&output),
                    subject.as_deref(),
                )?;
                Ok(Outcome::Released(released))
            }
        }
    }

    /// Whether entries are logged for this flow.
    pub fn is_audited(&self) -> bool {
        self.audit.is_some()
    }

    fn apply_map(&self, mut input: Map<String, Value>) -> Outcome {
        if let Some(refusal) = self.unmet_condition(&input) {
            return Outcome::Refused(refusal);
        }
        let mut walker = self.walker();
        walker.object_in_place(self.root(), &mut input, None);
        input.insert(TRANSFER_MEMBER.to_owned(), self.terms.clone());
        Outcome::Released(Released {
            record: Value::Object(input),
            decision: self.decision(walker),
        })
    }

    /// Parses `bytes` strictly, gates the record and appends the released record as
    /// compact JSON to `out`, without building it as a [`Value`] first. The bytes
    /// are those `serde_json::to_vec(&released.record)` gives for [`Flow::apply_json`].
    /// Nothing is written when the record is refused or malformed, or when the gate
    /// logs and the entry could not be written.
    ///
    /// # Errors
    ///
    /// As [`Gate::apply_json`].
    pub fn write_json(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<Written, GateError> {
        let start = out.len();
        let mut entries = Bodies::default();
        let written = self.write_json_deferred(bytes, out, &mut entries)?;
        if let Err(e) = self
            .write_batch(&entries)
            .and_then(|mark| self.wait_durable(mark))
        {
            out.truncate(start);
            return Err(e.into());
        }
        Ok(written)
    }

    /// As [`Flow::write_json`], but adds the audit entry's body to `entries` instead
    /// of appending it: the caller appends a batch at once and releases the output
    /// only after that.
    pub(crate) fn write_json_deferred(
        &self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        entries: &mut Bodies,
    ) -> Result<Written, RecordError> {
        let record = self.parse(bytes).map_err(RecordError::Json)?;
        let Value::Object(input) = record else {
            return Err(RecordError::NotAnObject);
        };
        let subject = self.audit.and_then(|audit| self.subject(audit, &input));
        if let Some(refusal) = self.unmet_condition(&input) {
            if let Some(audit) = self.audit {
                entries.push(&self.body(audit, Err(&refusal), bytes, None, subject.as_deref()));
            }
            return Ok(Written::Refused(refusal));
        }
        let start = out.len();
        let mut walker = self.walker();
        walker.object_to_json(self.root(), &input, None, out, Some(&self.terms_json));
        let decision = self.decision(walker);
        if let Some(audit) = self.audit {
            let release = crate::audit::entry::Release {
                decision: &decision,
                input: bytes,
                output: out.get(start..).unwrap_or_default(),
                subject: subject.as_deref(),
            };
            self.released_template(audit)
                .push_body(&release, audit.log.key(), entries);
        }
        Ok(Written::Released(decision))
    }

    /// The subject's normalised BSN, when the record has a valid one.
    fn subject(&self, audit: &GateAudit, input: &Map<String, Value>) -> Option<String> {
        let (first, rest) = audit.subject.as_ref()?.split_first()?;
        let mut at = input.get(&**first)?;
        for segment in rest {
            at = at.get(&**segment)?;
        }
        crate::pseudonym::normalise_bsn(at.as_str()?).ok()
    }

    fn body(
        &self,
        audit: &GateAudit,
        outcome: Result<&Decision, &Refusal>,
        input: &[u8],
        output: Option<&[u8]>,
        subject: Option<&str>,
    ) -> Body {
        if let (Ok(decision), Some(output)) = (outcome, output) {
            let release = crate::audit::entry::Release {
                decision,
                input,
                output,
                subject,
            };
            return self
                .released_template(audit)
                .body(&release, audit.log.key());
        }
        self.reference_body(audit, outcome, input, output, subject)
    }

    /// The members every release along this flow shares, serialised once.
    fn released_template(&self, audit: &GateAudit) -> &crate::audit::entry::ReleasedTemplate {
        self.released.get_or_init(|| {
            crate::audit::entry::ReleasedTemplate::new(
                &audit.policy_set,
                self.plan,
                &self.gate_flow.plan_entry.1,
                self.keys,
                self.at,
                self.retain_until,
            )
        })
    }

    /// The body as the reference serialisation writes it; refusals take this path.
    fn reference_body(
        &self,
        audit: &GateAudit,
        outcome: Result<&Decision, &Refusal>,
        input: &[u8],
        output: Option<&[u8]>,
        subject: Option<&str>,
    ) -> Body {
        let facts = crate::audit::entry::TransferFacts {
            transfer: Transfer {
                from: &self.plan.sender.id,
                to: &self.plan.recipient.id,
                purpose: &self.plan.purpose,
                at: self.at,
            },
            policy_set: &audit.policy_set,
            plan: Some((self.plan, &self.gate_flow.plan_entry.1)),
            keys: self.keys,
            decision: outcome.ok(),
            refusal: outcome.err(),
            input: Some(input),
            output,
            subject,
        };
        crate::audit::entry::transfer_body(&facts, audit.log.key())
    }

    fn log(
        &self,
        audit: &GateAudit,
        outcome: Result<&Decision, &Refusal>,
        input: &[u8],
        output: Option<&[u8]>,
        subject: Option<&str>,
    ) -> Result<(), AuditError> {
        let body = self.body(audit, outcome, input, output, subject);
        let mark = self.write_entries(audit, std::iter::once(body.as_ref()))?;
        audit.log.wait_durable(mark)
    }

    /// Writes transfer entries, preceded by the plan's entry if the log lacks it, and
    /// returns the mark to wait on for their durability.
    fn write_entries<'s: 'b, 'b>(
        &'s self,
        audit: &GateAudit,
        bodies: impl Iterator<Item = BodyRef<'b>>,
    ) -> Result<u64, AuditError> {
        let (plan_body, plan_id) = &self.gate_flow.plan_entry;
        let plan = (!audit.log.has_plan(plan_id)).then(|| plan_body.as_ref());
        let refs: Vec<_> = plan.into_iter().chain(bodies).collect();
        audit.log.write(&refs)
    }

    /// Writes a batch of transfer entries (see [`Flow::write_json_deferred`]), preceded
    /// by the plan's entry if the log lacks it, without waiting for them to be
    /// durable: nothing they cover may be released before [`Flow::wait_durable`]
    /// with the returned mark succeeds. `None` when there is nothing to wait for.
    pub(crate) fn write_batch(&self, bodies: &Bodies) -> Result<Option<u64>, AuditError> {
        match self.audit {
            Some(audit) if !bodies.is_empty() => self.write_entries(audit, bodies.iter()).map(Some),
            _ => Ok(None),
        }
    }

    /// Returns once the entries up to `mark` (from [`Flow::write_batch`]) are durable.
    pub(crate) fn wait_durable(&self, mark: Option<u64>) -> Result<(), AuditError> {
        match (self.audit, mark) {
            (Some(audit), Some(mark)) => audit.log.wait_durable(mark),
            _ => Ok(()),
        }
    }

    /// Whether the entries up to `mark` (from [`Flow::write_batch`]) are durable.
    pub(crate) fn is_durable(&self, mark: Option<u64>) -> bool {
        match (self.audit, mark) {
            (Some(audit), Some(mark)) => audit.log.is_durable(mark),
            _ => true,
        }
    }

    fn root(&self) -> &[(Box<str>, Node)] {
        match &self.plan.schema.tree {
            Node::Object(root) => root,
            _ => &[],
        }
    }

    fn walker(&self) -> Walker<'_> {
        Walker {
            plan: self.plan,
            keys: self.keys,
            today: self.today,
            counts: vec![FieldCount::default(); self.plan.fields.len()],
            removed: Vec::new(),
        }
    }

    fn decision(&self, walker: Walker<'_>) -> Decision {
        Decision {
            plan: self.plan.clone(),
            at: self.at,
            retain_until: self.retain_until,
            counts: walker.counts,
            removed: walker.removed,
        }
    }

    /// The first rule condition the record does not meet, as a refusal.
    fn unmet_condition(&self, input: &Map<String, Value>) -> Option<Refusal> {
        let planned = self
            .plan
            .conditions
            .iter()
            .find(|planned| !self.condition_met(input, &planned.condition))?;
        Some(Refusal::ConditionNotMet {
            agreement: planned.agreement.clone(),
            rule: planned.rule.clone(),
            path: planned.condition.path.clone(),
        })
    }

    /// Whether the record holds one of the condition's values; a missing value does not.
    fn condition_met(
        &self,
        input: &Map<String, Value>,
        condition: &crate::agreement::Condition,
    ) -> bool {
        let mut at: Option<&Value> = None;
        for segment in &condition.segments {
            let map = match at {
                None => input,
                Some(Value::Object(m)) => m,
                Some(_) => return false,
            };
            match map.get(&**segment) {
                Some(value) => at = Some(value),
                None => return false,
            }
        }
        let field_type = self
            .plan
            .schema
            .field_by_id(condition.field)
            .map_or(ValueType::String, |f| f.value_type);
        match at {
            Some(v @ (Value::String(_) | Value::Bool(_) | Value::Number(_))) => {
                normalise(field_type, v)
                    .is_ok_and(|text| condition.allowed.iter().any(|allowed| *allowed == *text))
            }
            _ => false,
        }
    }
}

/// The `_transfer` member of released records.
fn transfer_terms(plan: &FlowPlan, at: DateTime<Utc>, retain_until: Option<NaiveDate>) -> Value {
    let mut terms = Map::new();
    terms.insert("from".into(), Value::String(plan.sender.id.to_string()));
    terms.insert("to".into(), Value::String(plan.recipient.id.to_string()));
    terms.insert("purpose".into(), Value::String(plan.purpose.to_string()));
    terms.insert(
        "at".into(),
        Value::String(at.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    terms.insert(
        "retain_until".into(),
        retain_until.map_or(Value::Null, |d| Value::String(d.to_string())),
    );
    Value::Object(terms)
}

/// A step on the way from the record's root to a value, for pointers on the error path only.
struct Crumb<'a> {
    parent: Option<&'a Crumb<'a>>,
    step: Step<'a>,
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl Crumb<'_> {
    fn pointer(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(crumb) = at {
            steps.push(&crumb.step);
            at = crumb.parent;
        }
        let mut out = String::new();
        for step in steps.iter().rev() {
            out.push('/');
            match step {
                Step::Key(k) if is_plain_key(k) => out.push_str(k),
                Step::Key(_) => out.push_str("<key>"),
                Step::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }
}

/// Keys shown in reports: short identifiers only; anything else may be personal data.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b))
}

struct Walker<'p> {
    plan: &'p FlowPlan,
    keys: &'p [Arc<ActiveKey>],
    today: NaiveDate,
    counts: Vec<FieldCount>,
    removed: Vec<Removal>,
}

/// What a leaf becomes.
enum Kept {
    /// The value crosses unchanged.
    Same,
    /// The value crosses in this form.
    Replaced(Value),
}

/// The schema member for `key`, trying the child after the previous match first:
/// records and schema children are both sorted by key.
fn child<'n>(children: &'n [(Box<str>, Node)], next: &mut usize, key: &str) -> Option<&'n Node> {
    let index = match children.get(*next) {
        Some((k, _)) if **k == *key => *next,
        _ => children.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?,
    };
    *next = index + 1;
    children.get(index).map(|(_, node)| node)
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
}

impl Walker<'_> {
    /// Gates `map` in place: what may not cross is removed, transformed values replaced.
    fn object_in_place(
        &mut self,
        children: &[(Box<str>, Node)],
        map: &mut Map<String, Value>,
        parent: Option<&Crumb<'_>>,
    ) {
        let mut next = 0;
        map.retain(|key, value| {
            let crumb = Crumb {
                parent,
                step: Step::Key(key),
            };
            match child(children, &mut next, key) {
                Some(node) => self.node_in_place(node, value, &crumb),
                None => {
                    self.remove(&crumb, None, RemovalReason::UnknownField);
                    false
                }
            }
        });
    }

    fn node_in_place(&mut self, node: &Node, value: &mut Value, crumb: &Crumb<'_>) -> bool {
        match (node, value) {
            (Node::Leaf(field), value) => match self.leaf(*field, value, crumb) {
                None => false,
                Some(Kept::Same) => true,
                Some(Kept::Replaced(new)) => {
                    *value = new;
                    true
                }
            },
            (Node::Object(children), Value::Object(map)) => {
                self.object_in_place(children, map, Some(crumb));
                !map.is_empty()
            }
            (Node::Array(element), Value::Array(items)) => {
                let mut index = 0;
                items.retain_mut(|item| {
                    let crumb = Crumb {
                        parent: Some(crumb),
                        step: Step::Index(index),
                    };
                    index += 1;
                    self.node_in_place(element, item, &crumb)
                });
                !items.is_empty()
            }
            _ => {
                self.remove(crumb, None, RemovalReason::WrongType);
                false
            }
        }
    }

    /// Writes the gated `map` as JSON to `out`; writes nothing and returns false when
    /// nothing in it may cross (except at the root, which is always written).
    /// `terms` is the serialised `_transfer` member, written at its sorted place.
    fn object_to_json(
        &mut self,
        children: &[(Box<str>, Node)],
        map: &Map<String, Value>,
        parent: Option<&Crumb<'_>>,
        out: &mut Vec<u8>,
        mut terms: Option<&[u8]>,
    ) -> bool {
        let start = out.len();
        out.push(b'{');
        let mut any = false;
        let mut next = 0;
        for (key, value) in map {
            if let Some(t) = terms.filter(|_| key.as_str() > TRANSFER_MEMBER) {
                if any {
                    out.push(b',');
                }
                write_key(out, TRANSFER_MEMBER);
                out.extend_from_slice(t);
                any = true;
                terms = None;
            }
            let crumb = Crumb {
                parent,
                step: Step::Key(key),
            };
            let mark = out.len();
            if any {
                out.push(b',');
            }
            write_key(out, key);
            let kept = match child(children, &mut next, key) {
                Some(node) => self.node_to_json(node, value, &crumb, out),
                None => {
                    self.remove(&crumb, None, RemovalReason::UnknownField);
                    false
                }
            };
            if kept {
                any = true;
            } else {
                out.truncate(mark);
            }
        }
        if let Some(t) = terms {
            if any {
                out.push(b',');
            }
            write_key(out, TRANSFER_MEMBER);
            out.extend_from_slice(t);
            any = true;
        }
        if !any && parent.is_some() {
            out.truncate(start);
            return false;
        }
        out.push(b'}');
        true
    }

    fn node_to_json(
        &mut self,
        node: &Node,
        value: &Value,
        crumb: &Crumb<'_>,
        out: &mut Vec<u8>,
    ) -> bool {
        match (node, value) {
            (Node::Leaf(field), value) => {
                let written = match self.leaf(*field, value, crumb) {
                    None => return false,
                    Some(Kept::Same) => serde_json::to_writer(&mut *out, value),
                    Some(Kept::Replaced(new)) => serde_json::to_writer(&mut *out, &new),
                };
                written.is_ok()
            }
            (Node::Object(children), Value::Object(map)) => {
                self.object_to_json(children, map, Some(crumb), out, None)
            }
            (Node::Array(element), Value::Array(items)) => {
                let start = out.len();
                out.push(b'[');
                let mut any = false;
                for (index, item) in items.iter().enumerate() {
                    let crumb = Crumb {
                        parent: Some(crumb),
                        step: Step::Index(index),
                    };
                    let mark = out.len();
                    if any {
                        out.push(b',');
                    }
                    if self.node_to_json(element, item, &crumb, out) {
                        any = true;
                    } else {
                        out.truncate(mark);
                    }
                }
                if !any {
                    out.truncate(start);
                    return false;
                }
                out.push(b']');
                true
            }
            _ => {
                self.remove(crumb, None, RemovalReason::WrongType);
                false
            }
        }
    }

    /// Decides one leaf: `None` when it does not cross.
    fn leaf(&mut self, field: FieldId, value: &Value, crumb: &Crumb<'_>) -> Option<Kept> {
        let plan = self.plan.fields.get(field)?;
        let value_type = plan.value_type;
        if let Some(count) = self.counts.get_mut(field) {
            count.seen += 1;
        }
        let result = match &plan.action {
            Action::Block => return None,
            Action::Pass => check_type(value_type, value).map(|()| Kept::Same),
            Action::Generalise(method) => {
                generalise(*method, value_type, value, self.today).map(Kept::Replaced)
            }
            Action::Pseudonymise(_) => {
                // A flow without all its keys is refused before any record, so the
                // key is always there; without it the value simply does not cross.
                let key = plan.domain_slot.and_then(|slot| self.keys.get(slot))?;
                normalise(value_type, value)
                    .map(|n| Kept::Replaced(Value::String(key.pseudonym(value_type, &n))))
            }
        };
        match result {
            Ok(kept) => {
                if let Some(count) = self.counts.get_mut(field) {
                    count.released += 1;
                }
                Some(kept)
            }
            Err(problem) => {
                let path = self.plan.schema.field_by_id(field).map(|f| f.path.clone());
                self.remove(crumb, path, problem.into());
                None
            }
        }
    }

    fn remove(&mut self, crumb: &Crumb<'_>, path: Option<Arc<str>>, reason: RemovalReason) {
        self.removed.push(Removal {
            pointer: crumb.pointer(),
            path,
            reason,
        });
    }
}

/// Age bands for `age-band`: lower bounds and labels.
const AGE_BANDS: [(u32, &str); 9] = [
    (65, "65+"),
    (55, "55-64"),
    (45, "45-54"),
    (35, "35-44"),
    (25, "25-34"),
    (18, "18-24"),
    (16, "16-17"),
    (12, "12-15"),
    (0, "0-11"),
];

fn generalise(
    method: Method,
    value_type: ValueType,
    value: &Value,
    today: NaiveDate,
) -> Result<Value, ValueProblem> {
    check_type(value_type, value)?;
    let text = value.as_str().ok_or(ValueProblem::WrongType)?;
    let out = match method {
        Method::Year => format!(
            "{:04}",
            parse_date(text).ok_or(ValueProblem::WrongType)?.year()
        ),
        Method::YearMonth => {
            let d = parse_date(text).ok_or(ValueProblem::WrongType)?;
            format!("{:04}-{:02}", d.year(), d.month())
        }
        Method::AgeBand => {
            let born = parse_date(text).ok_or(ValueProblem::WrongType)?;
            let age = today.years_since(born).ok_or(ValueProblem::InvalidValue)?;
            let label = AGE_BANDS
                .iter()
                .find(|(low, _)| age >= *low)
                .map_or("0-11", |(_, l)| l);
            label.to_owned()
        }
        Method::Postcode4 => {
            let compact = normalise(ValueType::Postcode, value)?;
            let b = compact.as_bytes();
            let valid = b.len() == 6
                && b.first().is_some_and(|c| (b'1'..=b'9').contains(c))
                && b.iter().take(4).all(u8::is_ascii_digit)
                && b.iter().skip(4).all(u8::is_ascii_uppercase);
            if !valid {
                return Err(ValueProblem::InvalidValue);
            }
            compact
                .get(..4)
                .ok_or(ValueProblem::InvalidValue)?
                .to_owned()
        }
        Method::Placeholder => PLACEHOLDER.to_owned(),
    };
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalisations() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let date = Value::String("1990-07-15".into());
        let g = |m, t, v: &Value| generalise(m, t, v, today);
        assert_eq!(
            g(Method::Year, ValueType::Date, &date),
            Ok(Value::String("1990".into()))
        );
        assert_eq!(
            g(Method::YearMonth, ValueType::Date, &date),
            Ok(Value::String("1990-07".into()))
        );
        assert_eq!(
            g(Method::AgeBand, ValueType::Date, &date),
            Ok(Value::String("35-44".into()))
        );
        let minor = Value::String("2010-06-02".into());
        assert_eq!(
            g(Method::AgeBand, ValueType::Date, &minor),
            Ok(Value::String("12-15".into()))
        );
        let future = Value::String("2030-01-01".into());
        assert_eq!(
            g(Method::AgeBand, ValueType::Date, &future),
            Err(ValueProblem::InvalidValue)
        );
        let pc = Value::String("9401 ab".into());
        assert_eq!(
            g(Method::Postcode4, ValueType::Postcode, &pc),
            Ok(Value::String("9401".into()))
        );
        let bad = Value::String("0401AB".into());
        assert_eq!(
            g(Method::Postcode4, ValueType::Postcode, &bad),
            Err(ValueProblem::InvalidValue)
        );
        assert_eq!(
            g(
                Method::Year,
                ValueType::Date,
                &Value::String("15-07-1990".into())
            ),
            Err(ValueProblem::WrongType)
        );
        assert_eq!(
            g(
                Method::Placeholder,
                ValueType::Text,
                &Value::String("secret".into())
            ),
            Ok(Value::String(PLACEHOLDER.into()))
        );
    }

    /// Every example record along every flow, at moments inside and outside
    /// retention and validity, plus hostile variants: the template writes exactly
    /// the bytes of the reference serialisation.
    #[test]
    fn released_bodies_from_the_template_equal_the_reference_serialisation() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let registry = Registry::load_dir(&root.join("policies")).unwrap();
        let mut domains = serde_json::Map::new();
        for plan in registry.plans() {
            for d in &plan.domains {
                domains.insert(
                    d.to_string(),
                    serde_json::json!({"active": "d1", "keys": {"d1": "ab".repeat(32)}}),
                );
            }
        }
        let keys = serde_json::json!({"domains": domains,
            "audit": {"active": "a1", "keys": {"a1": "cd".repeat(32)}}});
        let keys = KeyRing::from_json("test", keys.to_string().as_bytes()).unwrap();
        let dir = std::env::temp_dir().join(format!("pg-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log_path = dir.join("audit.log");
        let (log, _) =
            crate::audit::AuditLog::open(&log_path, &keys, Arc::new(crate::audit::SystemClock))
                .unwrap();
        let gate = Gate::new(registry, keys)
            .with_audit(Arc::new(log), &crate::audit::Archive::next_to(&log_path))
            .unwrap();
        let examples = std::fs::read_to_string(root.join("examples/records.jsonl")).unwrap();
        let mut records: Vec<String> = examples.lines().map(str::to_owned).collect();
        records.push(
            r#"{"subject":{"bsn":"123456789","odd key":1,"birth_date":7},"x":[1,{"y":2}]}"#.into(),
        );
        records
            .push(r#"{"contacts":[{"date":"2025-01-01","summary":"a"},3,{"date":"bad"}]}"#.into());
        records.push("{}".into());
        let plans: Vec<_> = gate.registry().plans().cloned().collect();
        let audit = gate.audit.as_ref().unwrap();
        let mut compared = 0;
        for at in ["2026-03-02T10:00:00Z", "2025-07-01T00:00:00Z"] {
            let at: DateTime<Utc> = at.parse().unwrap();
            for plan in &plans {
                let transfer = Transfer {
                    from: &plan.sender.id,
                    to: &plan.recipient.id,
                    purpose: &plan.purpose,
                    at,
                };
                let Ok(flow) = gate.resolve(&transfer) else {
                    continue;
                };
                for record in &records {
                    let mut out = Vec::new();
                    let mut entries = Bodies::default();
                    let Ok(Written::Released(decision)) =
                        flow.write_json_deferred(record.as_bytes(), &mut out, &mut entries)
                    else {
                        continue;
                    };
                    let body = entries.iter().next().unwrap();
                    let input = serde_json::from_str::<Value>(record).unwrap();
                    let subject = input.as_object().and_then(|m| flow.subject(audit, m));
                    let reference = flow.reference_body(
                        audit,
                        Ok(&decision),
                        record.as_bytes(),
                        Some(&out),
                        subject.as_deref(),
                    );
                    assert_eq!(
                        String::from_utf8_lossy(body.bytes),
                        String::from_utf8_lossy(&reference.bytes)
                    );
                    // Framed from the template's precomputed hash state, the line and
                    // its chain hash are those of the reference body hashed whole.
                    let (mut fast, mut slow) = (Vec::new(), Vec::new());
                    let prev = [compared as u8; 32];
                    let key = audit.log.key();
                    let fast_hash = crate::audit::entry::frame(7, at, &prev, body, key, &mut fast);
                    // The reference body has no precomputed state: framing hashes it whole.
                    let slow_hash = crate::audit::entry::frame(
                        7,
                        at,
                        &prev,
                        reference.as_ref(),
                        key,
                        &mut slow,
                    );
                    assert_eq!(fast, slow);
                    assert_eq!(fast_hash, slow_hash);
                    assert_eq!(fast_hash, crate::audit::entry::line_hash(&fast));
                    compared += 1;
                }
            }
        }
        assert!(compared > 500, "{compared}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pointers_hide_unusual_keys() {
        let root = Crumb {
            parent: None,
            step: Step::Key("subject"),
        };
        let odd = Crumb {
            parent: Some(&root),
            step: Step::Key("Jan Jansen"),
        };
        let idx = Crumb {
            parent: Some(&odd),
            step: Step::Index(2),
        };
        assert_eq!(idx.pointer(), "/subject/<key>/2");
        let dotted = Crumb {
            parent: None,
            step: Step::Key("subject.bsn"),
        };
        assert_eq!(dotted.pointer(), "/subject.bsn");
    }
}
