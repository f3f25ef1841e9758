//! A transfer resolved to its plan, applied to records: the Flow API.

use super::audited::{Entries, GateAudit, ReleasedTemplate, RECEIPT_MEMBER};
use super::condition::{lookup_path, Context};
use super::walk::Walker;
use super::{GateError, GateFlow};
use crate::decision::{
    Decision, FieldCount, Outcome, RecordError, Refusal, Released, Written, TRANSFER_MEMBER,
};
use crate::plan::{ClauseRef, FlowPlan};
use crate::policy::agreement::Retention;
use crate::policy::schema::FieldId;
use crate::pseudonym::{parse_date, ActiveKey};
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
        let retain_until = plan.transfer_retention().and_then(|p| p.deadline(today));
        let terms = transfer_terms(plan, at, retain_until, &[]);
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

    /// The last day the recipient may keep what crosses, counted from the transfer
    /// day, if the sender's rule sets such a period. A record's own deadline
    /// ([`Decision::retain_until`]) is earlier when a period from an event it
    /// carries ends first.
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
            Outcome::Released(mut released) => {
                let output = serde_json::to_vec(&released.record).unwrap_or_default();
                let receipt = self.log(
                    audit,
                    Ok(&released.decision),
                    input,
                    Some(&output),
                    subject.as_deref(),
                )?;
                // After the digest: the output digest covers the record without it.
                if let (Some(receipt), Some(Value::Object(terms))) =
                    (receipt, released.record.get_mut(TRANSFER_MEMBER))
                {
                    terms.insert(RECEIPT_MEMBER.to_owned(), receipt);
                }
                Ok(Outcome::Released(released))
            }
        }
    }

    /// Whether entries are logged for this flow.
    pub fn is_audited(&self) -> bool {
        self.audit.is_some()
    }

    /// Checks the conditions and the retention, and gates a record, without logging.
    pub(super) fn apply_map(&self, mut input: Map<String, Value>) -> Outcome {
        let keep = match self.admit(&input) {
            Ok(keep) => keep,
            Err(refusal) => return Outcome::Refused(refusal),
        };
        let mut walker = self.walker(self.unmet_field_conditions(&input));
        walker.record_in_place(&mut input);
        let terms = match &keep {
            Some(keep) => self.record_terms(keep),
            None => self.terms.clone(),
        };
        input.insert(TRANSFER_MEMBER.to_owned(), terms);
        Outcome::Released(Released {
            record: Value::Object(input),
            decision: self.decision(walker, keep),
        })
    }

    /// Checks the rules' conditions and the record's retention: the refusal, or
    /// the record's own retention when a period starts at an event (`None`: the
    /// flow's terms hold as they are).
    fn admit(&self, input: &Map<String, Value>) -> Result<Option<Keep>, Refusal> {
        if let Some(refusal) = self.unmet_condition(input) {
            return Err(refusal);
        }
        if !self.plan.retention_after_events() {
            return Ok(None);
        }
        let keep = self.keep(input);
        if let (Some(until), Some(event)) = (keep.until, &keep.set_by) {
            if until < self.today {
                return Err(Refusal::RetentionExpired {
                    event: event.clone(),
                });
            }
        }
        Ok(Some(keep))
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
            .write_batch(&entries, out)
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
        let keep = match self.admit(&input) {
            Ok(keep) => keep,
            Err(refusal) => {
                if let Some(audit) = self.audit {
                    entries.push(&self.body(audit, Err(&refusal), bytes, None, subject.as_deref()));
                }
                return Ok(Written::Refused(refusal));
            }
        };
        let start = out.len();
        let mut walker = self.walker(self.unmet_field_conditions(&input));
        let own_terms;
        let terms = match &keep {
            Some(keep) => {
                own_terms = serde_json::to_vec(&self.record_terms(keep)).unwrap_or_default();
                &own_terms
            }
            None => &self.terms_json,
        };
        walker.record_to_json(&input, out, terms);
        let terms_at = walker.terms_at;
        let decision = self.decision(walker, keep);
        if let Some(audit) = self.audit {
            // A receipt goes where `receipt` sorts among the terms' members: after
            // `purpose`, before `retain`/`retain_until` (always there), as in a
            // record built as a value.
            let slot = terms_at
                + terms
                    .windows(9)
                    .position(|w| w == b",\"retain")
                    .unwrap_or(terms.len().saturating_sub(1));
            let output = out.get(start..).unwrap_or_default();
            self.push_release(
                audit,
                &decision,
                bytes,
                output,
                subject.as_deref(),
                entries,
                slot,
            );
        }
        Ok(Written::Released(decision))
    }

    fn walker(&self, unmet: Vec<(FieldId, Option<ClauseRef>)>) -> Walker<'_> {
        Walker {
            terms_at: 0,
            plan: self.plan,
            keys: self.keys,
            today: self.today,
            counts: vec![FieldCount::default(); self.plan.fields.len()],
            removed: Vec::new(),
            unmet,
        }
    }

    fn decision(&self, walker: Walker<'_>, keep: Option<Keep>) -> Decision {
        let (retain_until, retain_pending) = match keep {
            Some(keep) => (keep.until, keep.pending),
            None => (self.retain_until, Vec::new()),
        };
        Decision {
            plan: self.plan.clone(),
            at: self.at,
            retain_until,
            flow_retain_until: self.retain_until,
            retain_pending,
            counts: walker.counts,
            removed: walker.removed,
        }
    }

    fn context(&self) -> Context<'_> {
        Context {
            schema: &self.plan.schema,
            today: self.today,
        }
    }

    /// The first rule condition the record does not meet, as a refusal.
    fn unmet_condition(&self, input: &Map<String, Value>) -> Option<Refusal> {
        let cx = self.context();
        let planned = self
            .plan
            .conditions
            .iter()
            .find(|planned| !cx.holds(&planned.condition, input))?;
        Some(Refusal::ConditionNotMet {
            agreement: planned.agreement.clone(),
            rule: planned.rule.clone(),
            path: cx.culprit(&planned.condition, input),
        })
    }

    /// The fields whose conditions do not hold for this record, each with the clause
    /// whose condition failed first. Decided before the walk, on the record as sent,
    /// since the walk changes the record as it goes.
    fn unmet_field_conditions(
        &self,
        input: &Map<String, Value>,
    ) -> Vec<(FieldId, Option<ClauseRef>)> {
        let cx = self.context();
        let mut unmet = Vec::new();
        for &field in &self.plan.conditioned_fields {
            let Some(plan) = self.plan.fields.get(field) else {
                continue;
            };
            if let Some(failed) = plan
                .conditions
                .iter()
                .find(|c| !cx.holds(&c.condition, input))
            {
                let clause = [&plan.sender, &plan.recipient]
                    .into_iter()
                    .flatten()
                    .find(|c| c.agreement == failed.agreement && c.rule == failed.rule)
                    .cloned();
                unmet.push((field, clause));
            }
        }
        unmet
    }

    /// The record's retention: the earliest deadline among the transfer's and those
    /// of events the record carries a day for, and the periods still waiting for
    /// their event.
    fn keep(&self, input: &Map<String, Value>) -> Keep {
        let mut keep = Keep {
            until: self.retain_until,
            set_by: None,
            pending: Vec::new(),
        };
        for retention in &self.plan.retention {
            let Some(event) = &retention.after else {
                continue;
            };
            // A day that is missing or unusable is an event not (knowably) reached:
            // its period stays pending, stated in the terms, never dropped.
            let deadline = lookup_path(input, &event.path)
                .and_then(Value::as_str)
                .and_then(parse_date)
                .and_then(|day| retention.period.deadline(day));
            match deadline {
                Some(day) if keep.until.is_none_or(|until| day < until) => {
                    keep.until = Some(day);
                    keep.set_by = Some(event.id.clone());
                }
                Some(_) => {}
                None => keep.pending.push(retention.clone()),
            }
        }
        keep
    }

    /// The `_transfer` member for a record whose retention is its own.
    fn record_terms(&self, keep: &Keep) -> Value {
        transfer_terms(self.plan, self.at, keep.until, &keep.pending)
    }
}

/// A record's retention when a period starts at an event.
struct Keep {
    /// The earliest deadline known.
    until: Option<NaiveDate>,
    /// The event whose period gave `until`, if one did.
    set_by: Option<Arc<str>>,
    /// Periods whose event the record does not mark (yet).
    pending: Vec<Retention>,
}

/// The `_transfer` member of released records: with `retain` when periods wait for
/// an event the record does not mark yet, so that an open-ended retention is stated,
/// never silent.
fn transfer_terms(
    plan: &FlowPlan,
    at: DateTime<Utc>,
    retain_until: Option<NaiveDate>,
    pending: &[Retention],
) -> Value {
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
    if !pending.is_empty() {
        let retain = pending
            .iter()
            .filter_map(|r| {
                let event = r.after.as_ref()?;
                Some(serde_json::json!({"period": r.period.to_string(), "after": &*event.id}))
            })
            .collect();
        terms.insert("retain".into(), Value::Array(retain));
    }
    Value::Object(terms)
}
