//! A transfer resolved to its plan, applied to records: the Flow API.

use super::audited::{Entries, GateAudit, ReleasedTemplate};
use super::walk::Walker;
use super::{GateError, GateFlow};
use crate::decision::{
    Decision, FieldCount, Outcome, RecordError, Refusal, Released, Written, TRANSFER_MEMBER,
};
use crate::plan::FlowPlan;
use crate::policy::schema::ValueType;
use crate::pseudonym::{normalise, ActiveKey};
use crate::support::json::JsonError;
use crate::support::limits::Limits;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A transfer resolved to its plan: apply it to many records at one moment.
pub struct Flow<'g> {
    pub(super) plan: &'g Arc<FlowPlan>,
    pub(super) gate_flow: &'g GateFlow,
    pub(super) audit: Option<&'g GateAudit>,
    pub(super) keys: &'g [Arc<ActiveKey>],
    pub(super) at: DateTime<Utc>,
    pub(super) today: NaiveDate,
    pub(super) retain_until: Option<NaiveDate>,
    pub(super) limits: Limits,
    pub(super) terms: Value,
    pub(super) terms_json: Vec<u8>,
    /// The audit body members shared by every release along this flow, built on the
    /// first release that is logged.
    pub(super) released: OnceLock<ReleasedTemplate>,
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

impl<'g> Flow<'g> {
    /// The flow of `gate_flow` at moment `at` (calendar day `today`), whose keys
    /// the gate has checked.
    pub(super) fn new(
        gate_flow: &'g GateFlow,
        audit: Option<&'g GateAudit>,
        keys: &'g [Arc<ActiveKey>],
        at: DateTime<Utc>,
        today: NaiveDate,
        limits: Limits,
    ) -> Flow<'g> {
        let plan = &gate_flow.plan;
        let retain_until = plan.retention.and_then(|p| p.deadline(today));
        let terms = transfer_terms(plan, at, retain_until);
        Flow {
            plan,
            gate_flow,
            audit,
            keys,
            at,
            today,
            retain_until,
            limits,
            terms_json: serde_json::to_vec(&terms).unwrap_or_default(),
            terms,
            released: OnceLock::new(),
        }
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
    pub(super) fn parse(&self, bytes: &[u8]) -> Result<Value, JsonError> {
        crate::support::json::parse_limited(bytes, self.limits.max_depth, self.limits.max_values)
    }

    /// Parses `bytes` strictly and gates the record.
    ///
    /// # Errors
    ///
    /// As [`Gate::apply_json`](crate::Gate::apply_json).
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

    /// Checks the conditions and gates a record, without logging.
    pub(super) fn apply_map(&self, mut input: Map<String, Value>) -> Outcome {
        if let Some(refusal) = self.unmet_condition(&input) {
            return Outcome::Refused(refusal);
        }
        let mut walker = self.walker();
        walker.record_in_place(&mut input);
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
    /// As [`Gate::apply_json`](crate::Gate::apply_json).
    pub fn write_json(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<Written, GateError> {
        let start = out.len();
        let mut entries = Entries::default();
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
        entries: &mut Entries,
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
        walker.record_to_json(&input, out, &self.terms_json);
        let decision = self.decision(walker);
        if let Some(audit) = self.audit {
            let output = out.get(start..).unwrap_or_default();
            self.push_release(audit, &decision, bytes, output, subject.as_deref(), entries);
        }
        Ok(Written::Released(decision))
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
        condition: &crate::policy::agreement::Condition,
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
