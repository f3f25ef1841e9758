//! The entry wire format: framing, leaf hashing and the bodies of each kind of entry.
//! `docs/audit-log.md` is the specification; these types serialise it.

use super::wire::{self, WireAction, WireClause, WireRefusal};
use crate::decision::{Decision, Refusal, RemovalReason};
use crate::plan::registry::PolicySet;
use crate::plan::FlowPlan;
use crate::pseudonym::ActiveKey;
pub(crate) use crate::support::hex::decode_hex32;
use crate::support::hex::{hex, push_hex_bytes};
use crate::support::ident::loggable_name;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The version of the entry format.
pub const FORMAT: u32 = 3;

/// How every line starts: the format version, then the body's members.
pub(crate) const LINE_START: &[u8] = b"{\"v\":3,";

/// The version of the decision semantics: how agreements turn into per-field actions.
/// It changes whenever the same agreements could decide differently.
pub const SEMANTICS: u32 = 2;

/// HMAC domain-separation prefixes (the message is `prefix ‖ 0x00 ‖ bytes`).
pub(crate) const INPUT: &[u8] = b"pg-audit-input";
pub(crate) const OUTPUT: &[u8] = b"pg-audit-output";
pub(crate) const SUBJECT: &[u8] = b"pg-audit-subject";

/// What starts the framing members after the body (`seq`, `time`).
pub(crate) const SEQ_MEMBER: &[u8] = b",\"seq\":";

/// How a checkpoint entry's line starts.
pub(crate) const CHECKPOINT_START: &[u8] = b"{\"v\":3,\"kind\":\"checkpoint\",";

/// The keys of the digests in transfer entries, one per role: the record-digest key
/// (input and released record) and the subject-digest key (the subject's BSN).
#[derive(Clone, Debug)]
pub(crate) struct DigestKeys {
    pub(crate) records: std::sync::Arc<ActiveKey>,
    pub(crate) subject: std::sync::Arc<ActiveKey>,
}

/// Appends a keyed digest as it stands in an entry: `<key id>:<64 hex digits>`.
fn push_digest(out: &mut Vec<u8>, key: &ActiveKey, prefix: &[u8], bytes: &[u8]) {
    out.extend_from_slice(key.id().as_bytes());
    out.push(b':');
    push_hex_bytes(out, &key.tag(prefix, bytes));
}

/// A keyed digest as it stands in an entry.
pub(crate) fn digest(key: &ActiveKey, prefix: &[u8], bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(key.id().len() + 65);
    push_digest(&mut out, key, prefix, bytes);
    String::from_utf8(out).unwrap_or_default()
}

/// An entry's content without the framing (`v`, `seq`, `time`): a JSON
/// object whose members, starting with `"kind"`, the writer frames.
#[derive(Clone)]
pub struct Body {
    pub(crate) bytes: Vec<u8>,
    /// SHA-256 state of the leaf hash after its first bytes (0x00, `{"v":3,` and the
    /// members), when the body's builder computed it: the writer, which frames
    /// entries one at a time under its lock, then hashes only the framing members.
    line_state: Option<Sha256>,
}

impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Body {}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Body")
            .field(&String::from_utf8_lossy(&self.bytes))
            .finish()
    }
}

/// Writes JSON with every non-ASCII character escaped (`\uXXXX`), so that an entry
/// is pure ASCII: no U+2028, U+0085 or other character that some viewer or tool
/// could take for a line break can appear in the log.
struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        let mut rest = fragment;
        while let Some(at) = rest.find(|c: char| !c.is_ascii()) {
            let (ascii, tail) = rest.split_at(at);
            writer.write_all(ascii.as_bytes())?;
            let mut chars = tail.chars();
            if let Some(c) = chars.next() {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
            rest = chars.as_str();
        }
        writer.write_all(rest.as_bytes())
    }
}

impl Body {
    /// A body of these JSON object bytes; the writer hashes it.
    pub(crate) fn new(bytes: Vec<u8>) -> Body {
        Body {
            bytes,
            line_state: None,
        }
    }

    fn of<T: Serialize>(value: &T) -> Body {
        let mut bytes = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, AsciiFormatter);
        if value.serialize(&mut serializer).is_err() {
            bytes.clear();
        }
        Body::new(bytes)
    }

    /// The object's members without its braces: what the writer frames, and what a
    /// plan's id is the SHA-256 of.
    pub(crate) fn members(&self) -> &[u8] {
        let inner = self.bytes.strip_prefix(b"{").unwrap_or(&self.bytes);
        inner.strip_suffix(b"}").unwrap_or(inner)
    }

    /// A view for the writer.
    pub(crate) fn as_ref(&self) -> BodyRef<'_> {
        BodyRef {
            bytes: &self.bytes,
            line_state: self.line_state.as_ref(),
        }
    }
}

/// A body as the writer frames it: borrowed from a [`Body`] or from [`Bodies`].
#[derive(Clone, Copy)]
pub(crate) struct BodyRef<'a> {
    pub(crate) bytes: &'a [u8],
    line_state: Option<&'a Sha256>,
}

impl BodyRef<'_> {
    /// As [`Body::members`].
    pub(crate) fn members(&self) -> &[u8] {
        let inner = self.bytes.strip_prefix(b"{").unwrap_or(self.bytes);
        inner.strip_suffix(b"}").unwrap_or(inner)
    }

    /// The leaf hash's SHA-256 state after 0x00 and the framed line's bytes up to the
    /// end of the members.
    fn line_state(&self) -> Sha256 {
        self.line_state.cloned().unwrap_or_else(|| {
            let mut state = leaf_state();
            state.update(self.members());
            state
        })
    }
}

/// Entry bodies of a batch of records, one after another in one buffer: a stream
/// reuses it from batch to batch, so that logging allocates nothing per record.
#[derive(Default)]
pub(crate) struct Bodies {
    bytes: Vec<u8>,
    spans: Vec<(std::ops::Range<usize>, Option<Sha256>)>,
}

impl Bodies {
    /// Empties it, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    /// Whether it holds no body.
    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Adds a body made elsewhere.
    pub(crate) fn push(&mut self, body: &Body) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&body.bytes);
        self.spans
            .push((start..self.bytes.len(), body.line_state.clone()));
    }

    /// The bodies, in the order they were added.
    pub(crate) fn iter(&self) -> impl Iterator<Item = BodyRef<'_>> {
        self.spans.iter().map(|(span, line_state)| BodyRef {
            bytes: self.bytes.get(span.clone()).unwrap_or_default(),
            line_state: line_state.as_ref(),
        })
    }
}

/// The leaf hash's SHA-256 state after 0x00 and `{"v":3,` (RFC 9162: a leaf hash is
/// SHA-256(0x00 ‖ entry)).
fn leaf_state() -> Sha256 {
    let mut state = Sha256::new();
    state.update([0u8]);
    state.update(LINE_START);
    state
}

/// Appends the framed line for `body` (without the newline) to `out`, and returns
/// its leaf hash.
///
/// The members that depend on the entry's place in the log (`seq`, `time`) come after
/// the body, so that everything before them can be hashed before that place is known
/// (see [`Body::line_state`]); here only they are hashed.
pub(crate) fn frame(
    seq: u64,
    time: DateTime<Utc>,
    body: BodyRef<'_>,
    out: &mut Vec<u8>,
) -> [u8; 32] {
    out.extend_from_slice(LINE_START);
    out.extend_from_slice(body.members());
    let framing = out.len();
    out.extend_from_slice(SEQ_MEMBER);
    push_decimal(out, seq);
    out.extend_from_slice(b",\"time\":\"");
    push_time(out, time);
    out.extend_from_slice(b"\"}");
    let mut leaf = body.line_state();
    leaf.update(out.get(framing..).unwrap_or_default());
    leaf.finalize().into()
}

/// Appends `time` as RFC 3339 with microseconds and `Z`, exactly as chrono's
/// `to_rfc3339_opts(SecondsFormat::Micros, true)` writes it, without its formatting
/// machinery (this runs once per entry).
pub(crate) fn push_time(out: &mut Vec<u8>, time: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let year = time.year();
    // Years beyond four digits and leap seconds: chrono's own spelling.
    if !(0..=9999).contains(&year) || time.nanosecond() >= 1_000_000_000 {
        out.extend_from_slice(time.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
        return;
    }
    // `YYYY-MM-DDTHH:MM:SS.ffffffZ`: each number right-aligned in its slot.
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    for (n, end) in [
        (year.unsigned_abs(), 4),
        (time.month(), 7),
        (time.day(), 10),
        (time.hour(), 13),
        (time.minute(), 16),
        (time.second(), 19),
        (time.nanosecond() / 1000, 26),
    ] {
        let mut n = n;
        let mut at = end;
        while n > 0 && at > 0 {
            at -= 1;
            if let Some(d) = text.get_mut(at) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
        }
    }
    out.extend_from_slice(&text);
}

/// The chain hash of a line (its bytes without the newline).
pub(crate) fn line_hash(line: &[u8]) -> [u8; 32] {
    Sha256::digest(line).into()
}

#[derive(Serialize)]
struct OpenBody<'a> {
    kind: &'static str,
    log: &'a str,
    format: u32,
    semantics: u32,
}

/// The first entry of a new log.
pub(crate) fn open_body(log_id: &str) -> Body {
    Body::of(&OpenBody {
        kind: "open",
        log: log_id,
        format: FORMAT,
        semantics: SEMANTICS,
    })
}

#[derive(Serialize)]
struct RecoveryBody<'a> {
    kind: &'static str,
    torn_bytes: usize,
    torn_sha256: String,
    moved_to: &'a str,
}

#[derive(Serialize)]
struct CheckpointBody<'a> {
    kind: &'static str,
    note: &'a str,
    peaks: Vec<String>,
}

/// A checkpoint entry: the signed note of the tree of every entry before it, and the
/// tree's peaks (its perfect subtrees' roots, base64), from which a writer resumes.
pub(crate) fn checkpoint_body(note: &str, peaks: &[[u8; 32]]) -> Body {
    use base64::Engine;
    Body::of(&CheckpointBody {
        kind: "checkpoint",
        note,
        peaks: peaks
            .iter()
            .map(|p| base64::engine::general_purpose::STANDARD.encode(p))
            .collect(),
    })
}

/// Records a torn last line found on open and where its bytes were moved.
pub(crate) fn recovery_body(torn: &[u8], moved_to: &str) -> Body {
    Body::of(&RecoveryBody {
        kind: "recovery",
        torn_bytes: torn.len(),
        torn_sha256: hex(&line_hash(torn)),
        moved_to,
    })
}

#[derive(Serialize)]
struct PolicyBody<'a> {
    kind: &'static str,
    policy_set: String,
    manifest: serde_json::Value,
    versions: BTreeMap<&'a str, &'a str>,
}

/// Names a policy set (every agreement version) the first time a log sees it.
pub(crate) fn policy_body(set: &PolicySet, registry: &crate::Registry) -> Body {
    Body::of(&PolicyBody {
        kind: "policy",
        policy_set: set.id_hex(),
        manifest: serde_json::from_slice(&set.manifest).unwrap_or_default(),
        versions: registry
            .agreements()
            .map(|a| (&*a.id, &*a.version))
            .collect(),
    })
}

#[derive(Serialize)]
struct PlanField<'a> {
    path: &'a str,
    category: &'a str,
    action: WireAction<'a>,
    sender: Option<WireClause<'a>>,
    sender_action: WireAction<'a>,
    recipient: Option<WireClause<'a>>,
    recipient_action: WireAction<'a>,
    basis: &'a [std::sync::Arc<str>],
    /// The field's own conditions (path entries with `when`); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    when: Vec<PlanCondition<'a>>,
}

/// A condition in a plan entry: `path` and `in` for the plain form, as before
/// conditions could combine; `when`, the canonical file form, for any other.
#[derive(Serialize)]
pub(crate) struct PlanCondition<'a> {
    agreement: &'a str,
    rule: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
    allowed: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    when: Option<serde_json::Value>,
}

/// The wire form of a planned condition (replay compares plans with it too).
pub(crate) fn plan_condition(c: &crate::PlannedCondition) -> PlanCondition<'_> {
    let plain = c.condition.as_path_in();
    PlanCondition {
        agreement: &c.agreement,
        rule: &c.rule,
        path: plain.map(|(path, _)| path),
        allowed: plain.map(|(_, values)| values),
        when: plain.is_none().then(|| c.condition.to_json()),
    }
}

/// The path a transfer entry names for a condition: its one field, or the first it
/// reads (the plan entry holds the whole condition).
fn condition_path(c: &crate::PlannedCondition) -> &str {
    c.condition.paths().first().copied().unwrap_or_default()
}

#[derive(Serialize)]
struct PlanBody<'a> {
    kind: &'static str,
    semantics: u32,
    from: &'a str,
    to: &'a str,
    purpose: &'a str,
    regime: &'static str,
    retention: Option<String>,
    agreements: [AgreementRef<'a>; 2],
    sender_rules: &'a [std::sync::Arc<str>],
    recipient_rules: &'a [std::sync::Arc<str>],
    conditions: Vec<PlanCondition<'a>>,
    fields: Vec<PlanField<'a>>,
}

#[derive(Serialize)]
struct AgreementRef<'a> {
    id: &'a str,
    version: &'a str,
    sha256: String,
}

fn agreement_ref(a: &crate::Agreement) -> AgreementRef<'_> {
    AgreementRef {
        id: &a.id,
        version: &a.version,
        sha256: a.sha256_hex(),
    }
}

/// A plan entry's body and its id (the SHA-256 of the body's bytes).
pub(crate) fn plan_body(plan: &FlowPlan) -> (Body, [u8; 32]) {
    let schema = plan.schema();
    let fields = schema
        .fields()
        .iter()
        .zip(&plan.fields)
        .map(|(field, p)| PlanField {
            path: &field.path,
            category: &field.category,
            action: WireAction(&p.action),
            sender: p.sender.as_ref().map(WireClause::of),
            sender_action: WireAction(&p.sender_action),
            recipient: p.recipient.as_ref().map(WireClause::of),
            recipient_action: WireAction(&p.recipient_action),
            basis: &p.legal_basis,
            when: p.conditions.iter().map(plan_condition).collect(),
        })
        .collect();
    let body = Body::of(&PlanBody {
        kind: "plan",
        semantics: SEMANTICS,
        from: &plan.sender.id,
        to: &plan.recipient.id,
        purpose: &plan.purpose,
        regime: wire::regime(plan.regime),
        // One start keeps the member's form (`"P2Y"`); several, or an event, are
        // listed with `; ` (`"P5Y; P1Y after case-closed"`).
        retention: (!plan.retention.is_empty()).then(|| {
            plan.retention
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }),
        agreements: [agreement_ref(&plan.sender), agreement_ref(&plan.recipient)],
        sender_rules: &plan.sender_rules,
        recipient_rules: &plan.recipient_rules,
        conditions: plan.conditions.iter().map(plan_condition).collect(),
        fields,
    });
    let id = line_hash(body.members());
    (body, id)
}

/// What a transfer entry says about one removed value. Only schema paths are named:
/// the keys of unknown fields may themselves be personal data, so those are counted.
#[derive(Serialize)]
struct RemovedRef<'a> {
    pointer: &'a str,
    path: &'a str,
    reason: &'static str,
}

#[derive(Serialize)]
struct ConditionOutcome<'a> {
    agreement: &'a str,
    rule: &'a str,
    path: &'a str,
    met: bool,
}

#[derive(Serialize)]
struct TransferBody<'a> {
    kind: &'static str,
    semantics: u32,
    policy_set: &'a str,
    from: &'a str,
    to: &'a str,
    purpose: &'a str,
    at: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<WireRefusal<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    regime: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    agreements: Vec<AgreementRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    present: Vec<[u64; 3]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    removed: Vec<RemovedRef<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    unknown_fields: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conditions: Vec<ConditionOutcome<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    keys: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retain_until: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The removals a transfer entry names, and the count of unknown fields, which it
/// only counts: the keys of unknown fields may themselves be personal data.
fn removed_refs(decision: &Decision) -> (Vec<RemovedRef<'_>>, u64) {
    let mut removed = Vec::new();
    let mut unknown_fields = 0;
    for r in decision.removed() {
        match &r.path {
            Some(path) => removed.push(RemovedRef {
                pointer: &r.pointer,
                path,
                reason: wire::removal_reason(r.reason),
            }),
            None if r.reason == RemovalReason::UnknownField => unknown_fields += 1,
            // A value of the wrong shape above the leaves: its pointer runs
            // through schema names and indices only, so it can be named.
            None => removed.push(RemovedRef {
                pointer: &r.pointer,
                path: "",
                reason: wire::removal_reason(r.reason),
            }),
        }
    }
    (removed, unknown_fields)
}

/// Everything about one transfer that goes into its entry.
pub(crate) struct TransferFacts<'a> {
    /// Who, to whom, for what, when.
    pub transfer: crate::Transfer<'a>,
    /// The policy set's id (hex).
    pub policy_set: &'a str,
    /// The plan, when the transfer resolved to one.
    pub plan: Option<(&'a FlowPlan, &'a [u8; 32])>,
    /// The keys of the plan's pseudonymisation domains, in the plan's domain order.
    pub keys: &'a [std::sync::Arc<crate::pseudonym::ActiveKey>],
    /// The decision, when released.
    pub decision: Option<&'a Decision>,
    /// The refusal, when refused.
    pub refusal: Option<&'a Refusal>,
    /// The record's JSON text as the gate read it.
    pub input: Option<&'a [u8]>,
    /// The released record's JSON text.
    pub output: Option<&'a [u8]>,
    /// The subject's normalised BSN, when the record has a valid one.
    pub subject: Option<&'a str>,
}

/// A transfer entry's body. Digests are keyed (records and subjects apart), so that
/// without the keys they reveal nothing.
pub(crate) fn transfer_body(facts: &TransferFacts<'_>, keys: &DigestKeys) -> Body {
    let plan = facts.plan.map(|(p, _)| p);
    let mut present = Vec::new();
    let mut removed = Vec::new();
    let mut unknown_fields = 0;
    if let Some(decision) = facts.decision {
        for (index, counts) in decision.counts_by_field() {
            present.push([index as u64, u64::from(counts.0), u64::from(counts.1)]);
        }
        (removed, unknown_fields) = removed_refs(decision);
    }
    let failed = match facts.refusal {
        Some(Refusal::ConditionNotMet {
            rule, agreement, ..
        }) => Some((agreement, rule)),
        _ => None,
    };
    let mut conditions = Vec::new();
    if let Some(plan) = plan {
        for c in &plan.conditions {
            let is_failed = failed.is_some_and(|(a, r)| *a == c.agreement && *r == c.rule);
            conditions.push(ConditionOutcome {
                agreement: &c.agreement,
                rule: &c.rule,
                path: condition_path(c),
                met: !is_failed,
            });
            if is_failed {
                break;
            }
        }
    }
    let records = &*keys.records;
    Body::of(&TransferBody {
        kind: "transfer",
        semantics: SEMANTICS,
        policy_set: facts.policy_set,
        from: loggable_name(facts.transfer.from),
        to: loggable_name(facts.transfer.to),
        purpose: loggable_name(facts.transfer.purpose),
        at: facts.transfer.at.to_rfc3339_opts(SecondsFormat::Secs, true),
        outcome: if facts.decision.is_some() {
            "released"
        } else {
            "refused"
        },
        reason: facts.refusal.map(WireRefusal::of),
        regime: plan.map(|p| wire::regime(p.regime)),
        agreements: plan
            .map(|p| vec![agreement_ref(&p.sender), agreement_ref(&p.recipient)])
            .unwrap_or_default(),
        plan: facts.plan.map(|(_, id)| hex(id)),
        present,
        removed,
        unknown_fields,
        conditions,
        keys: plan
            .map(|p| {
                p.domains
                    .iter()
                    .zip(facts.keys)
                    .map(|(d, k)| (d.as_str(), k.id()))
                    .collect()
            })
            .unwrap_or_default(),
        // The flow's deadline from the transfer day, never one counted from an
        // event's day, which comes from the record.
        retain_until: facts.decision.and_then(Decision::flow_retain_until),
        input: facts.input.map(|b| digest(records, INPUT, b)),
        output: facts.output.map(|b| digest(records, OUTPUT, b)),
        subject: facts
            .subject
            .map(|s| digest(&keys.subject, SUBJECT, s.as_bytes())),
    })
}

/// The members of a released transfer's body that are the same for every record of
/// one flow at one moment, serialised once. [`ReleasedTemplate::body`] then writes
/// only what varies per record, byte for byte as [`transfer_body`] would: that
/// function stays the reference, and a test holds the two equal.
pub(crate) struct ReleasedTemplate {
    /// `{"kind":"transfer", ... ,"plan":"..."`: everything before `present`.
    head: Vec<u8>,
    /// The SHA-256 state after a framed line's first bytes up to the end of `head`,
    /// so that each entry's line hash starts from there.
    head_state: Sha256,
    /// `,"conditions":...,"keys":...,"retain_until":...`: between `unknown_fields`
    /// and the digests (empty when all three are absent).
    tail: Vec<u8>,
}

#[derive(Serialize)]
struct ReleasedHead<'a> {
    kind: &'static str,
    semantics: u32,
    policy_set: &'a str,
    from: &'a str,
    to: &'a str,
    purpose: &'a str,
    at: String,
    outcome: &'static str,
    regime: &'static str,
    agreements: [AgreementRef<'a>; 2],
    plan: String,
}

#[derive(Serialize)]
struct ReleasedTail<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conditions: Vec<ConditionOutcome<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    keys: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retain_until: Option<chrono::NaiveDate>,
}

impl ReleasedTemplate {
    /// The template for releases along `plan` (with plan id `plan_id`) at `at`,
    /// keeping until `retain_until`.
    pub(crate) fn new(
        policy_set: &str,
        plan: &FlowPlan,
        plan_id: &[u8; 32],
        keys: &[std::sync::Arc<ActiveKey>],
        at: DateTime<Utc>,
        retain_until: Option<chrono::NaiveDate>,
    ) -> ReleasedTemplate {
        let mut head = Body::of(&ReleasedHead {
            kind: "transfer",
            semantics: SEMANTICS,
            policy_set,
            from: loggable_name(&plan.sender.id),
            to: loggable_name(&plan.recipient.id),
            purpose: loggable_name(&plan.purpose),
            at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
            outcome: "released",
            regime: wire::regime(plan.regime),
            agreements: [agreement_ref(&plan.sender), agreement_ref(&plan.recipient)],
            plan: hex(plan_id),
        })
        .bytes;
        head.pop();
        let mut head_state = leaf_state();
        head_state.update(head.get(1..).unwrap_or_default());
        let tail = Body::of(&ReleasedTail {
            conditions: plan
                .conditions
                .iter()
                .map(|c| ConditionOutcome {
                    agreement: &c.agreement,
                    rule: &c.rule,
                    path: condition_path(c),
                    met: true,
                })
                .collect(),
            keys: plan
                .domains
                .iter()
                .zip(keys)
                .map(|(d, k)| (d.as_str(), k.id()))
                .collect(),
            retain_until,
        });
        let members = tail.members();
        let mut tail_bytes = Vec::with_capacity(members.len() + 1);
        if !members.is_empty() {
            tail_bytes.push(b',');
            tail_bytes.extend_from_slice(members);
        }
        ReleasedTemplate {
            head,
            head_state,
            tail: tail_bytes,
        }
    }

    /// The body of one release: as [`transfer_body`] for the same facts.
    pub(crate) fn body(&self, release: &Release<'_>, keys: &DigestKeys) -> Body {
        let mut bytes = Vec::with_capacity(self.head.len() + self.tail.len() + 512);
        let line_state = self.write(release, keys, &mut bytes);
        Body { bytes, line_state }
    }

    /// As [`ReleasedTemplate::body`], added to `bodies` without allocating.
    pub(crate) fn push_body(&self, release: &Release<'_>, keys: &DigestKeys, bodies: &mut Bodies) {
        let start = bodies.bytes.len();
        let line_state = self.write(release, keys, &mut bodies.bytes);
        bodies.spans.push((start..bodies.bytes.len(), line_state));
    }

    /// Appends the body to `out` and returns the hash state for [`Body::line_state`];
    /// appends nothing and returns `None` if it cannot be serialised.
    fn write(&self, release: &Release<'_>, keys: &DigestKeys, out: &mut Vec<u8>) -> Option<Sha256> {
        let Release {
            decision,
            input,
            output,
            subject,
        } = *release;
        let start = out.len();
        let out_start = start + self.head.len();
        out.extend_from_slice(&self.head);
        let mut first = true;
        for (index, (seen, released)) in decision.counts_by_field() {
            if first {
                out.extend_from_slice(b",\"present\":[");
            } else {
                out.push(b',');
            }
            out.push(b'[');
            first = false;
            push_decimal(out, index as u64);
            out.push(b',');
            push_decimal(out, u64::from(seen));
            out.push(b',');
            push_decimal(out, u64::from(released));
            out.push(b']');
        }
        if !first {
            out.push(b']');
        }
        let (removed, unknown_fields) = removed_refs(decision);
        if !removed.is_empty() {
            out.extend_from_slice(b",\"removed\":");
            let mut serializer = serde_json::Serializer::with_formatter(&mut *out, AsciiFormatter);
            if removed.serialize(&mut serializer).is_err() {
                // Writing to a Vec cannot fail; an empty body would be refused by the writer.
                out.truncate(start);
                return None;
            }
        }
        if unknown_fields > 0 {
            out.extend_from_slice(b",\"unknown_fields\":");
            push_decimal(out, unknown_fields);
        }
        out.extend_from_slice(&self.tail);
        for (name, key, prefix, bytes) in [
            (&b",\"input\":\""[..], &keys.records, INPUT, Some(input)),
            (b",\"output\":\"", &keys.records, OUTPUT, Some(output)),
            (
                b",\"subject\":\"",
                &keys.subject,
                SUBJECT,
                subject.map(str::as_bytes),
            ),
        ] {
            if let Some(bytes) = bytes {
                out.extend_from_slice(name);
                push_digest(out, key, prefix, bytes);
                out.push(b'"');
            }
        }
        let mut line_state = self.head_state.clone();
        line_state.update(out.get(out_start..).unwrap_or_default());
        out.push(b'}');
        Some(line_state)
    }
}

/// What one release adds to its flow's [`ReleasedTemplate`].
#[derive(Clone, Copy)]
pub(crate) struct Release<'a> {
    /// The gate's decision.
    pub(crate) decision: &'a Decision,
    /// The record's text as read.
    pub(crate) input: &'a [u8],
    /// The released record's text.
    pub(crate) output: &'a [u8],
    /// The subject's normalised BSN, if valid.
    pub(crate) subject: Option<&'a str>,
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    // Most numbers in an entry (field indices and counts) have one or two digits:
    // pushed directly, they cost no copy call.
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    if n < 100 {
        out.push(b'0' + (n / 10) as u8);
        out.push(b'0' + (n % 10) as u8);
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_pure_ascii_with_escapes_that_round_trip() {
        #[derive(Serialize)]
        struct T<'a> {
            kind: &'a str,
            text: &'a str,
        }
        let text = "a\u{2028}b\u{85}c\u{1F600}d\"\n";
        let body = Body::of(&T { kind: "x", text });
        assert!(
            body.bytes.is_ascii(),
            "{}",
            String::from_utf8_lossy(&body.bytes)
        );
        assert!(body.members().starts_with(b"\"kind\""));
        let back: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(back["text"], text);
    }

    proptest::proptest! {
        #[test]
        fn entry_times_are_spelt_as_chrono_spells_them(
            secs in -70_000_000_000i64..300_000_000_000i64,
            nanos in 0u32..2_000_000_000,
        ) {
            if let Some(time) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                let mut out = Vec::new();
                push_time(&mut out, time);
                proptest::prop_assert_eq!(
                    String::from_utf8(out).unwrap(),
                    time.to_rfc3339_opts(SecondsFormat::Micros, true)
                );
            }
        }

        #[test]
        fn decimals_are_spelt_as_rust_spells_them(n: u64) {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn lines_start_with_the_format_version() {
        assert_eq!(LINE_START, format!("{{\"v\":{FORMAT},").as_bytes());
    }
}
