//! Replaying a log: deciding every logged transfer again, with the agreement versions
//! it recorded (to show nothing has changed) or with other agreements (to show what a
//! new version would change on real past traffic).

use super::format::{decode_hex32, digest, plan_body, INPUT, OUTPUT};
use super::note::VerifierKey;
use super::{Archive, Damage};
use crate::decision::Transfer;
use crate::gate::Gate;
use crate::plan::registry::Registry;
use crate::pseudonym::KeyRing;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// What to replay against.
pub struct ReplayOptions<'a> {
    /// Where the recorded agreement versions are kept.
    pub archive: &'a Archive,
    /// Decide under these agreements instead of the recorded ones (what-if).
    pub against: Option<Registry>,
    /// The original records (JSON Lines), matched to entries by their digests.
    pub records: Option<&'a [u8]>,
    /// The writer's public key, to verify the log first.
    pub public_key: &'a VerifierKey,
    /// The record-digest keys (to match records and released records by digest), and
    /// any pseudonymisation keys (to compare released records byte for byte).
    pub keys: &'a KeyRing,
}

/// One change a replay found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The field path, or `outcome`, `conditions`, `record`.
    pub what: String,
    /// What the log says.
    pub old: String,
    /// What the replay decided.
    pub new: String,
}

/// The replay of one transfer entry.
#[derive(Clone, Debug, Serialize)]
pub struct EntryReplay {
    /// The entry's sequence number.
    pub seq: u64,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Purpose.
    pub purpose: String,
    /// Moment of the transfer.
    pub at: String,
    /// What differs; empty when the decision is identical.
    pub changes: Vec<Change>,
    /// Why the entry could not be replayed, if it could not.
    pub unavailable: Option<String>,
    /// Whether the original record was found and re-gated.
    pub record_checked: bool,
}

impl EntryReplay {
    /// Whether the replay decided exactly as the log says.
    pub fn identical(&self) -> bool {
        self.changes.is_empty() && self.unavailable.is_none()
    }
}

/// Why a replay could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Records to match were given, but no record-digest key.
    #[error("matching records needs the record-digest key (`audit_records`)")]
    NoAuditKey,
    /// The log is damaged.
    #[error("the log is damaged")]
    Damaged(#[from] Damage),
}

/// The gate a replay decides with, and which domains got throw-away keys.
struct ReplayGate {
    gate: Gate,
    placeholders: Vec<crate::DomainId>,
}

/// Replays every transfer entry of `log`.
///
/// # Errors
///
/// No audit key, or a damaged log (it is verified first).
pub fn replay(log: &[u8], mut options: ReplayOptions<'_>) -> Result<Vec<EntryReplay>, ReplayError> {
    let audit_keys = options.keys.audit_records();
    if options.records.is_some() && audit_keys.is_none() {
        return Err(ReplayError::NoAuditKey);
    }
    super::verify(log, options.public_key)?;
    let lines: Vec<&[u8]> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut plans: HashMap<[u8; 32], Value> = HashMap::new();
    let mut entries = Vec::new();
    for line in &lines {
        let Ok(value) = crate::support::json::parse_strict(line, 16) else {
            continue;
        };
        match value.get("kind").and_then(Value::as_str) {
            Some("plan") => {
                if let Some(body) = super::verify::body_bytes(line) {
                    plans.insert(super::format::line_hash(body), value);
                }
            }
            Some("transfer") => {
                // The record-digest key's id starts the digests.
                let key_id = value
                    .get("input")
                    .and_then(Value::as_str)
                    .and_then(|d| d.split_once(':'))
                    .map(|(id, _)| id.to_owned())
                    .unwrap_or_default();
                entries.push((value, key_id));
            }
            _ => {}
        }
    }
    let records = index_records(&options, &entries);
    let against = options
        .against
        .take()
        .map(|registry| replay_gate(registry, options.keys));
    let mut archived: HashMap<String, Result<Arc<ReplayGate>, Unavailable>> = HashMap::new();
    let mut out = Vec::new();
    for (entry, key_id) in &entries {
        let text = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut result = EntryReplay {
            seq: entry.get("seq").and_then(Value::as_u64).unwrap_or(0),
            from: text("from"),
            to: text("to"),
            purpose: text("purpose"),
            at: text("at"),
            changes: Vec::new(),
            unavailable: None,
            record_checked: false,
        };
        let gate = match &against {
            Some(gate) => Ok(gate),
            None => {
                let set = text("policy_set");
                archived
                    .entry(set.clone())
                    .or_insert_with(|| load_archived(&options, &set))
                    .as_ref()
                    .map(|g| &**g)
                    .map_err(Clone::clone)
            }
        };
        match gate {
            Ok(gate) => {
                let output_key = audit_keys.and_then(|k| k.get(key_id)).map(|k| &**k);
                replay_entry(gate, entry, &plans, &records, output_key, &mut result);
            }
            Err(why) => result.unavailable = Some(why.to_string()),
        }
        out.push(result);
    }
    Ok(out)
}

fn replay_gate(registry: Registry, keys: &KeyRing) -> ReplayGate {
    let domains: Vec<crate::DomainId> = registry
        .plans()
        .flat_map(|p| p.domains.iter().cloned())
        .collect();
    let (ring, placeholders) = keys.filled(domains.iter());
    ReplayGate {
        gate: Gate::new(registry, ring),
        placeholders,
    }
}

/// Why the policy set an entry names cannot be replayed.
#[derive(Clone, Debug, thiserror::Error)]
enum Unavailable {
    #[error("policy set {set} is not in the archive {archive}: {cause}")]
    NotArchived {
        set: String,
        archive: String,
        cause: String,
    },
    #[error("the archived policy set {set} no longer loads: {cause}")]
    NoLongerLoads { set: String, cause: String },
}

fn load_archived(options: &ReplayOptions<'_>, set: &str) -> Result<Arc<ReplayGate>, Unavailable> {
    let (schema, agreements) = options
        .archive
        .load(set)
        .map_err(|e| Unavailable::NotArchived {
            set: set.to_owned(),
            archive: options.archive.dir().display().to_string(),
            cause: e.to_string(),
        })?;
    let registry =
        Registry::from_sources(&schema, &agreements).map_err(|e| Unavailable::NoLongerLoads {
            set: set.to_owned(),
            cause: e.to_string(),
        })?;
    Ok(Arc::new(replay_gate(registry, options.keys)))
}

/// Records by their input digest under each audit key that sealed an entry.
fn index_records(
    options: &ReplayOptions<'_>,
    entries: &[(Value, String)],
) -> HashMap<String, Vec<u8>> {
    let mut index = HashMap::new();
    let (Some(records), Some(audit)) = (options.records, options.keys.audit_records()) else {
        return index;
    };
    let mut key_ids: Vec<&str> = entries.iter().map(|(_, k)| k.as_str()).collect();
    key_ids.sort_unstable();
    key_ids.dedup();
    for line in records.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        for id in &key_ids {
            if let Some(key) = audit.get(id) {
                index.insert(digest(key, INPUT, line), line.to_vec());
            }
        }
    }
    index
}

fn replay_entry(
    replay: &ReplayGate,
    entry: &Value,
    plans: &HashMap<[u8; 32], Value>,
    records: &HashMap<String, Vec<u8>>,
    output_key: Option<&crate::pseudonym::ActiveKey>,
    result: &mut EntryReplay,
) {
    let Some(at) = entry
        .get("at")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
    else {
        result.unavailable = Some("the entry has no valid `at`".into());
        return;
    };
    let transfer = Transfer {
        from: &result.from,
        to: &result.to,
        purpose: &result.purpose,
        at,
    };
    let logged_reason = entry.get("reason");
    // Refusals decided on the record (a condition, a retention from an event that
    // already ended), not on the flow: the flow itself resolves.
    let condition_refusal = matches!(
        logged_reason
            .and_then(|r| r.get("reason"))
            .and_then(Value::as_str),
        Some("condition-not-met" | "retention-expired")
    );
    let flow = match replay.gate.flow(&transfer) {
        Ok(flow) => flow,
        Err(refusal) => {
            let now = serde_json::to_value(&refusal).unwrap_or_default();
            if logged_reason != Some(&now) || condition_refusal {
                result.changes.push(Change {
                    what: "outcome".into(),
                    old: describe(entry),
                    new: format!("refused: {refusal}"),
                });
            }
            return;
        }
    };
    if logged_reason.is_some() && !condition_refusal {
        result.changes.push(Change {
            what: "outcome".into(),
            old: describe(entry),
            new: "the transfer is allowed".into(),
        });
        return;
    }
    let (_, new_plan_id) = plan_body(flow.plan());
    let old_plan_id = entry
        .get("plan")
        .and_then(Value::as_str)
        .and_then(decode_hex32);
    if old_plan_id != Some(new_plan_id) {
        compare_plans(
            entry,
            old_plan_id.and_then(|id| plans.get(&id)),
            flow.plan(),
            result,
        );
    }
    let Some(record) = entry
        .get("input")
        .and_then(Value::as_str)
        .and_then(|d| records.get(d))
    else {
        return;
    };
    result.record_checked = true;
    let uses_placeholder = flow
        .plan()
        .domains
        .iter()
        .any(|d| replay.placeholders.contains(d));
    let mut out = Vec::new();
    match flow.write_json(record, &mut out) {
        Ok(crate::Written::Released(decision)) => {
            if condition_refusal {
                result.changes.push(Change {
                    what: "outcome".into(),
                    old: describe(entry),
                    new: "released".into(),
                });
                return;
            }
            let present: Vec<Value> = decision
                .counts_by_field()
                .map(|(i, (n, r))| serde_json::json!([i, n, r]))
                .collect();
            let logged_present = entry
                .get("present")
                .cloned()
                .unwrap_or(Value::Array(Vec::new()));
            if old_plan_id == Some(new_plan_id) && Value::Array(present) != logged_present {
                result.changes.push(Change {
                    what: "record".into(),
                    old: "fields as logged".into(),
                    new: "other fields present or released".into(),
                });
            }
            // With a throw-away pseudonymisation key the bytes differ by design.
            if let (false, Some(old), Some(key)) = (
                uses_placeholder,
                entry.get("output").and_then(Value::as_str),
                output_key,
            ) {
                if digest(key, OUTPUT, &out) != old {
                    result.changes.push(Change {
                        what: "released record".into(),
                        old: "as logged".into(),
                        new: "different bytes".into(),
                    });
                }
            }
        }
        Ok(crate::Written::Refused(refusal)) => {
            if !condition_refusal
                || Some(&serde_json::to_value(&refusal).unwrap_or_default()) != logged_reason
            {
                result.changes.push(Change {
                    what: "outcome".into(),
                    old: describe(entry),
                    new: format!("refused: {refusal}"),
                });
            }
        }
        Err(e) => result.changes.push(Change {
            what: "record".into(),
            old: "gated".into(),
            new: e.to_string(),
        }),
    }
}

fn describe(entry: &Value) -> String {
    match entry.get("reason") {
        Some(reason) => format!(
            "refused: {}",
            reason.get("reason").and_then(Value::as_str).unwrap_or("?")
        ),
        None => "released".into(),
    }
}

fn compare_plans(
    entry: &Value,
    old_plan: Option<&Value>,
    new_plan: &crate::FlowPlan,
    result: &mut EntryReplay,
) {
    let Some(old_plan) = old_plan else {
        result.changes.push(Change {
            what: "plan".into(),
            old: "missing from the log".into(),
            new: "recompiled".into(),
        });
        return;
    };
    let old_fields = old_plan
        .get("fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let schema = new_plan.schema();
    let present = entry
        .get("present")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for triple in &present {
        let Some(index) = triple.get(0).and_then(Value::as_u64) else {
            continue;
        };
        let Some(old) = usize::try_from(index).ok().and_then(|i| old_fields.get(i)) else {
            continue;
        };
        let path = old.get("path").and_then(Value::as_str).unwrap_or_default();
        let old_action = action_text(old.get("action"));
        let new_field = schema.field(path).and_then(|id| new_plan.fields.get(id));
        let new_action = new_field.map_or_else(
            || "block (no longer in the schema)".to_owned(),
            |f| f.action.to_string(),
        );
        let old_clauses = clause_text(old);
        let new_clauses = new_field.map(|f| {
            format!(
                "{} / {}",
                f.sender.as_ref().map_or("-", |c| &*c.rule),
                f.recipient.as_ref().map_or("-", |c| &*c.rule)
            )
        });
        if old_action != new_action {
            result.changes.push(Change {
                what: path.to_owned(),
                old: old_action,
                new: new_action,
            });
        } else if Some(&old_clauses) != new_clauses.as_ref() {
            result.changes.push(Change {
                what: format!("{path} (clauses)"),
                old: old_clauses,
                new: new_clauses.unwrap_or_default(),
            });
        }
    }
    let old_conditions = old_plan.get("conditions").cloned().unwrap_or_default();
    let new_conditions: Vec<Value> = new_plan
        .conditions
        .iter()
        .map(|c| serde_json::to_value(super::format::plan_condition(c)).unwrap_or_default())
        .collect();
    if old_conditions != Value::Array(new_conditions.clone()) {
        result.changes.push(Change {
            what: "conditions".into(),
            old: old_conditions.to_string(),
            new: Value::Array(new_conditions).to_string(),
        });
    }
}

fn action_text(action: Option<&Value>) -> String {
    match action {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(m)) => match (m.get("generalise"), m.get("pseudonymise")) {
            (Some(method), _) => format!("generalise({})", method.as_str().unwrap_or("?")),
            (_, Some(p)) => format!(
                "pseudonymise({})",
                p.get("domain").and_then(Value::as_str).unwrap_or("?")
            ),
            _ => "?".into(),
        },
        _ => "?".into(),
    }
}

fn clause_text(field: &Value) -> String {
    let rule = |side: &str| {
        field
            .get(side)
            .and_then(|c| c.get("rule"))
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    format!("{} / {}", rule("sender"), rule("recipient"))
}
