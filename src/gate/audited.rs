//! The gate's audit plumbing: the only place where the gate reaches the audit log.
//! Every entry body is built by `crate::audit`'s private wire format; this file only
//! decides when to write which, and waits for durability before anything is released.

use super::{Flow, Gate};
pub(crate) use crate::audit::format::ReleasedTemplate;
use crate::audit::format::{self, Bodies, Body, BodyRef};
pub use crate::audit::AuditError;
use crate::audit::{Archive, AuditLog, Receipt};
use crate::decision::{Decision, Refusal, Transfer};
use crate::plan::FlowPlan;
use crate::policy::schema::ValueType;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The member of `_transfer` that holds a released record's receipt.
pub(super) const RECEIPT_MEMBER: &str = Receipt::MEMBER;

/// What a gate needs to write audit entries.
pub(super) struct GateAudit {
    log: Arc<AuditLog>,
    /// The log's origin as a JSON string: the `log` of every receipt.
    origin_json: Vec<u8>,
    policy_set: String,
    /// The schema path of the subject's BSN, as segments.
    subject: Option<Vec<Box<str>>>,
}

/// A flow plan's audit entry and its id, made once when the gate is built.
pub(super) struct PlanEntry {
    body: Body,
    id: [u8; 32],
}

impl PlanEntry {
    /// The entry of `plan`.
    pub(super) fn of(plan: &FlowPlan) -> PlanEntry {
        let (body, id) = format::plan_body(plan);
        PlanEntry { body, id }
    }
}

/// The audit entries of a batch of records, and where in the batch's output each
/// released record's receipt goes (filled in once the entries are written and their
/// places in the log known).
#[derive(Default)]
pub(crate) struct Entries {
    bodies: Bodies,
    /// How many bodies it holds.
    len: usize,
    /// (body index, output offset) per released record.
    slots: Vec<(usize, usize)>,
}

impl Entries {
    /// Empties it, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.bodies.clear();
        self.len = 0;
        self.slots.clear();
    }

    /// Whether it holds no entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// Adds a body made elsewhere (a refusal: no receipt).
    pub(crate) fn push(&mut self, body: &Body) {
        self.bodies.push(body);
        self.len += 1;
    }

    /// The bodies, in the order they were added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = BodyRef<'_>> {
        self.bodies.iter()
    }
}

impl GateAudit {
    /// Logs a transfer refused before it reached a plan. A failed append poisons
    /// the log, so every later transfer fails closed: nothing to report here.
    pub(super) fn log_refusal(&self, transfer: &Transfer<'_>, refusal: &Refusal) {
        let facts = format::TransferFacts {
            transfer: *transfer,
            policy_set: &self.policy_set,
            plan: None,
            keys: &[],
            decision: None,
            refusal: Some(refusal),
            input: None,
            output: None,
            subject: None,
        };
        let _ = self
            .log
            .append(&[format::transfer_body(&facts, self.log.digest_keys())]);
    }
}

impl Gate {
    /// Logs every transfer through this gate in `log`, before any record is handed
    /// back; when an entry cannot be written, nothing is released. Every agreement
    /// version is first copied into `archive` (content-addressed, for replay), and
    /// the policy set is named in the log if it is new to it.
    ///
    /// # Errors
    ///
    /// The archive or the log could not be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use privacy_gate::audit::{self, Archive, AuditLog, SystemClock};
    /// use privacy_gate::{Gate, KeyRing, Outcome, Registry, Transfer};
    /// use std::sync::Arc;
    ///
    /// let dir = std::env::temp_dir().join(format!("pg-doc-audit-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let registry = Registry::load_dir("policies".as_ref())?;
    /// // Fresh keys: one per pseudonymisation domain, and one per audit role.
    /// use privacy_gate::pseudonym::AuditRole;
    /// let domains: Vec<_> = registry.plans().flat_map(|p| p.domains().to_vec()).collect();
    /// let mut keys = KeyRing::from_json("keys.json", KeyRing::generate_file(&domains)?.as_bytes())?;
    /// let mut public = String::new();
    /// for role in [AuditRole::Writer, AuditRole::Records, AuditRole::Subject] {
    ///     let (file, vkey) = KeyRing::generate_audit_role(role, "example.org/audit")?;
    ///     keys = keys.merge(KeyRing::from_json("role.json", file.as_bytes())?)?;
    ///     public.extend(vkey);
    /// }
    ///
    /// let log_path = dir.join("audit.log");
    /// let (log, _report) = AuditLog::open(&log_path, &keys, Arc::new(SystemClock))?;
    /// let gate = Gate::new(registry, keys).with_audit(Arc::new(log), &Archive::next_to(&log_path))?;
    /// let transfer = Transfer {
    ///     from: "drenthe/gemeente",
    ///     to: "drenthe/ggd",
    ///     purpose: "care-coordination",
    ///     at: "2026-03-02T10:00:00Z".parse()?,
    /// };
    /// let record = br#"{"subject": {"birth_date": "1990-07-15"}}"#;
    /// // The entry is durable before the record is handed back.
    /// assert!(matches!(gate.apply_json(&transfer, record)?, Outcome::Released(_)));
    ///
    /// // An auditor verifies the log with the writer's public key alone.
    /// let public = audit::VerifierKey::parse(&public)?;
    /// let summary = audit::verify(&std::fs::read(&log_path)?, &public)?;
    /// assert_eq!(summary.unsigned(), 0); // every write ends in a signed checkpoint
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_audit(mut self, log: Arc<AuditLog>, archive: &Archive) -> Result<Gate, AuditError> {
        let set = self.registry.policy_set();
        archive.store(set).map_err(|e| AuditError::Io {
            path: archive.dir().display().to_string(),
            message: format!("cannot archive the agreements: {e}"),
        })?;
        let id = set.id_hex();
        if !log.has_policy_set(&id) {
            log.append(&[format::policy_body(set, &self.registry)])?;
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
            origin_json: serde_json::to_vec(log.origin()).unwrap_or_default(),
            log,
            policy_set: id,
            subject,
        });
        Ok(self)
    }
}

impl Flow<'_> {
    /// Adds the entry of one release along this flow to `entries`; its receipt goes
    /// at offset `slot` of the output once the entry is written.
    #[expect(clippy::too_many_arguments, reason = "one per part of a release")]
    pub(super) fn push_release(
        &self,
        audit: &GateAudit,
        decision: &Decision,
        input: &[u8],
        output: &[u8],
        subject: Option<&str>,
        entries: &mut Entries,
        slot: usize,
    ) {
        let release = format::Release {
            decision,
            input,
            output,
            subject,
        };
        self.released_template(audit).push_body(
            &release,
            audit.log.digest_keys(),
            &mut entries.bodies,
        );
        entries.slots.push((entries.len, slot));
        entries.len += 1;
    }

    /// The subject's normalised BSN, when the record has a valid one.
    pub(super) fn subject(&self, audit: &GateAudit, input: &Map<String, Value>) -> Option<String> {
        let (first, rest) = audit.subject.as_ref()?.split_first()?;
        let mut at = input.get(&**first)?;
        for segment in rest {
            at = at.get(&**segment)?;
        }
        crate::pseudonym::normalise_bsn(at.as_str()?).ok()
    }

    pub(super) fn body(
        &self,
        audit: &GateAudit,
        outcome: Result<&Decision, &Refusal>,
        input: &[u8],
        output: Option<&[u8]>,
        subject: Option<&str>,
    ) -> Body {
        if let (Ok(decision), Some(output)) = (outcome, output) {
            let release = format::Release {
                decision,
                input,
                output,
                subject,
            };
            return self
                .released_template(audit)
                .body(&release, audit.log.digest_keys());
        }
        self.reference_body(audit, outcome, input, output, subject)
    }

    /// The members every release along this flow shares, serialised once.
    pub(super) fn released_template(&self, audit: &GateAudit) -> &format::ReleasedTemplate {
        self.released.get_or_init(|| {
            format::ReleasedTemplate::new(
                &audit.policy_set,
                self.plan,
                &self.gate_flow.plan_entry.id,
                self.keys,
                self.at,
                self.retain_until,
            )
        })
    }

    /// The body as the reference serialisation writes it; refusals take this path.
    pub(super) fn reference_body(
        &self,
        audit: &GateAudit,
        outcome: Result<&Decision, &Refusal>,
        input: &[u8],
        output: Option<&[u8]>,
        subject: Option<&str>,
    ) -> Body {
        let facts = format::TransferFacts {
            transfer: Transfer {
                from: &self.plan.sender.id,
                to: &self.plan.recipient.id,
                purpose: &self.plan.purpose,
                at: self.at,
            },
            policy_set: &audit.policy_set,
            plan: Some((self.plan, &self.gate_flow.plan_entry.id)),
            keys: self.keys,
            decision: outcome.ok(),
            refusal: outcome.err(),
            input: Some(input),
            output,
            subject,
        };
        format::transfer_body(&facts, audit.log.digest_keys())
    }

    /// Logs one transfer and returns once its entry is durable, with the receipt of
    /// a release (`None` for a refusal).
    pub(super) fn log(
        &self,
        audit: &GateAudit,
        outcome: Result<&Decision, &Refusal>,
        input: &[u8],
        output: Option<&[u8]>,
        subject: Option<&str>,
    ) -> Result<Option<Value>, AuditError> {
        let body = self.body(audit, outcome, input, output, subject);
        let mut placed = Vec::with_capacity(2);
        let mark = self.write_entries(audit, std::iter::once(body.as_ref()), &mut placed)?;
        audit.log.wait_durable(mark)?;
        let receipt = match (outcome, placed.last()) {
            (Ok(_), Some(&(index, leaf))) => Some(
                Receipt {
                    log: audit.log.origin().to_owned(),
                    index,
                    leaf,
                }
                .to_json(),
            ),
            _ => None,
        };
        Ok(receipt)
    }

    /// Writes transfer entries, preceded by the plan's entry if the log lacks it, and
    /// returns the mark to wait on for their durability; `placed` gets the index and
    /// leaf hash of every entry written, the transfers' last.
    fn write_entries<'s: 'b, 'b>(
        &'s self,
        audit: &GateAudit,
        bodies: impl Iterator<Item = BodyRef<'b>>,
        placed: &mut Vec<(u64, [u8; 32])>,
    ) -> Result<u64, AuditError> {
        let PlanEntry {
            body: plan_body,
            id: plan_id,
        } = &self.gate_flow.plan_entry;
        let plan = (!audit.log.has_plan(plan_id)).then(|| plan_body.as_ref());
        let refs: Vec<_> = plan.into_iter().chain(bodies).collect();
        audit.log.write(&refs, Some(placed))
    }

    /// Writes a batch of transfer entries (see [`Flow::write_json_deferred`]), preceded
    /// by the plan's entry if the log lacks it, without waiting for them to be
    /// durable: nothing they cover may be released before [`Flow::wait_durable`]
    /// with the returned mark succeeds. `None` when there is nothing to wait for.
    /// Each released record in `out` (the batch's output) gets its receipt.
    pub(crate) fn write_batch(
        &self,
        entries: &Entries,
        out: &mut Vec<u8>,
    ) -> Result<Option<u64>, AuditError> {
        let Some(audit) = self.audit.filter(|_| !entries.is_empty()) else {
            return Ok(None);
        };
        let mut placed = Vec::with_capacity(entries.slots.len() + 2);
        let mark = self.write_entries(audit, entries.iter(), &mut placed)?;
        // The transfers are the last entries written (a plan entry may precede them).
        let first = placed
            .len()
            .checked_sub(entries.len)
            .ok_or_else(|| AuditError::Io {
                path: audit.log.path().display().to_string(),
                message: "the log did not place every entry; nothing is released".into(),
            })?;
        if !entries.slots.is_empty() {
            let mut spliced = Vec::with_capacity(out.len() + entries.slots.len() * 160);
            let mut copied = 0;
            for &(body, at) in &entries.slots {
                let (Some(&(index, leaf)), Some(before)) =
                    (placed.get(first + body), out.get(copied..at))
                else {
                    continue;
                };
                spliced.extend_from_slice(before);
                spliced.extend_from_slice(b",\"receipt\":");
                Receipt::write(index, &leaf, &audit.origin_json, &mut spliced);
                copied = at;
            }
            spliced.extend_from_slice(out.get(copied..).unwrap_or_default());
            *out = spliced;
        }
        Ok(Some(mark))
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Written;
    use crate::plan::registry::Registry;
    use crate::pseudonym::KeyRing;
    use chrono::{DateTime, Utc};

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
            "audit_writer": {"name": "test.example/log", "secret": "ef".repeat(32)},
            "audit_records": {"active": "r1", "keys": {"r1": "cd".repeat(32)}},
            "audit_subject": {"active": "s1", "keys": {"s1": "12".repeat(32)}}});
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
                    let mut entries = Entries::default();
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
                    // its leaf hash are those of the reference body hashed whole.
                    let (mut fast, mut slow) = (Vec::new(), Vec::new());
                    let fast_hash = crate::audit::format::frame(7, at, body, &mut fast);
                    // The reference body has no precomputed state: framing hashes it whole.
                    let slow_hash =
                        crate::audit::format::frame(7, at, reference.as_ref(), &mut slow);
                    assert_eq!(fast, slow);
                    assert_eq!(fast_hash, slow_hash);
                    assert_eq!(fast_hash, crate::audit::merkle::leaf_hash(&fast));
                    compared += 1;
                }
            }
        }
        assert!(compared > 500, "{compared}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
