//! Verifying a log: every seal, the hash chain and the sequence, naming the first bad
//! entry and what is wrong with it.

use super::format::{line_hash, read_seal, seal_of_digest};
use crate::pseudonym::KeySet;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::fmt;

/// What is wrong with the first bad entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DamageKind {
    /// Its bytes were changed (or it is not an entry at all).
    Edited,
    /// Entries before it are missing.
    Removed,
    /// It does not belong here: it does not chain to the entry before it.
    Inserted,
    /// It is a copy of an earlier entry.
    Duplicated,
    /// It is out of order.
    Reordered,
    /// Its bytes are intact but its seal was made with another key.
    WrongKey,
    /// The file ends in an incomplete line (a crash mid-append).
    TornLastLine,
    /// Fewer entries than a checkpoint counted, or other entries where it was taken:
    /// the log was truncated or rolled back.
    Truncated,
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DamageKind::Edited => "edited",
            DamageKind::Removed => "entries removed",
            DamageKind::Inserted => "inserted",
            DamageKind::Duplicated => "duplicated",
            DamageKind::Reordered => "reordered",
            DamageKind::WrongKey => "sealed with the wrong key",
            DamageKind::TornLastLine => "torn last line",
            DamageKind::Truncated => "truncated or rolled back since the checkpoint",
        })
    }
}

/// The first bad entry of a log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("entry {entry} (byte offset {offset}): {kind}: {detail}")]
pub struct Damage {
    /// 1-based position of the entry (its line number).
    pub entry: u64,
    /// Byte offset of the line in the file.
    pub offset: u64,
    /// What is wrong.
    pub kind: DamageKind,
    /// Details, without any content of the log.
    pub detail: String,
}

/// What an intact log holds.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Number of entries.
    pub entries: u64,
    /// Time of the first entry.
    pub first_time: Option<String>,
    /// Time of the last entry.
    pub last_time: Option<String>,
    /// Agreement versions named by the log (`id@version`).
    pub versions: BTreeSet<String>,
    /// Sequence number of the last entry.
    pub last_seq: Option<u64>,
    /// Chain hash of the last entry (zeros for an empty log).
    pub head: [u8; 32],
    /// Ids of the plans the log holds.
    pub plans: HashSet<[u8; 32]>,
    /// Ids of the policy sets the log names.
    pub policy_sets: BTreeSet<String>,
    /// Length of the intact part of the file in bytes.
    pub bytes: u64,
}

/// The chain hash and byte offset of one entry.
type Captured = ([u8; 32], u64);

/// The framing members of an entry; the body is checked by the seal, not parsed
/// (except for the few kinds whose content the summary needs).
#[derive(serde::Deserialize)]
struct Frame<'a> {
    v: u32,
    seq: u64,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    prev: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
}

fn frame_of(line: &[u8]) -> Option<Frame<'_>> {
    // An entry is an object starting with its version (serde would take an array too).
    if !line.starts_with(b"{\"v\":") {
        return None;
    }
    serde_json::from_slice(line).ok()
}

fn prev_of(line: &[u8]) -> Option<[u8; 32]> {
    super::format::decode_hex32(&frame_of(line)?.prev)
}

/// The byte offset after which an incomplete last line starts, if the log has one.
pub fn torn_tail(bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return None;
    }
    Some(bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1))
}

/// Checks every entry of `bytes` (a whole log) with the audit keys.
///
/// # Errors
///
/// The first bad entry, with its position and what is wrong.
pub fn verify(bytes: &[u8], keys: &KeySet) -> Result<Summary, Damage> {
    verify_capturing(bytes, keys, None).map(|(summary, _)| summary)
}

/// As [`verify`], also returning the chain hash of the entry at 1-based position
/// `capture`, if the log has it.
fn verify_capturing(
    bytes: &[u8],
    keys: &KeySet,
    capture: Option<u64>,
) -> Result<(Summary, Option<Captured>), Damage> {
    let complete = match torn_tail(bytes) {
        Some(cut) => bytes.get(..cut).unwrap_or_default(),
        None => bytes,
    };
    // Offsets and slices only: entries are parsed one at a time, so memory stays flat.
    let mut lines = Vec::new();
    let mut offset = 0u64;
    for raw in complete.split_inclusive(|b| *b == b'\n') {
        lines.push((offset, raw.strip_suffix(b"\n").unwrap_or(raw)));
        offset += raw.len() as u64;
    }
    let mut summary = Summary::default();
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    let mut prev_hash = [0u8; 32];
    let mut expected = 0u64;
    let mut captured: Option<Captured> = None;
    for (i, &(offset, line)) in lines.iter().enumerate() {
        let entry = i as u64 + 1;
        let damage = |kind, detail: String| Damage {
            entry,
            offset,
            kind,
            detail,
        };
        let sealed = read_seal(line);
        let hash = sealed.as_ref().map_or_else(|| line_hash(line), |s| s.chain);
        let next_prev = || lines.get(i + 1).and_then(|(_, l)| prev_of(l));
        let Some(frame) = frame_of(line) else {
            return Err(damage(
                DamageKind::Edited,
                "not a valid entry (malformed JSON or missing members)".into(),
            ));
        };
        let Some(prev) = super::format::decode_hex32(&frame.prev) else {
            return Err(damage(DamageKind::Edited, "malformed `prev`".into()));
        };
        let seq = frame.seq;
        if frame.v != super::format::FORMAT {
            return Err(damage(DamageKind::Edited, "unknown format version".into()));
        }
        let Some(sealed) = sealed else {
            return Err(damage(
                DamageKind::Edited,
                "missing or malformed seal".into(),
            ));
        };
        if seen.contains(&hash) {
            return Err(damage(
                DamageKind::Duplicated,
                format!("a copy of an earlier entry (seq {seq})"),
            ));
        }
        let key_id = sealed.key_id;
        let key = keys.get(key_id);
        let seal_ok = key.is_some_and(|k| seal_of_digest(k, &sealed.sealed_digest) == sealed.tag);
        if !seal_ok {
            let next_prev = next_prev();
            let (kind, detail) = if next_prev == Some(hash) {
                let detail = match key {
                    None => format!(
                        "sealed with key `{}`, which is not among the audit keys",
                        crate::support::ident::printable_key_id(key_id)
                    ),
                    Some(_) => {
                        "the seal does not match, but the next entry chains to these exact bytes"
                            .into()
                    }
                };
                (DamageKind::WrongKey, detail)
            } else if next_prev.is_some() && next_prev == Some(prev_hash) {
                (
                    DamageKind::Inserted,
                    "the next entry chains to the entry before this one".into(),
                )
            } else {
                (
                    DamageKind::Edited,
                    "the seal does not match its bytes".into(),
                )
            };
            return Err(damage(kind, detail));
        }
        if seq != expected {
            if seq > expected {
                let later = lines
                    .iter()
                    .skip(i + 1)
                    .any(|(_, l)| frame_of(l).is_some_and(|f| f.seq == expected));
                // Moved within this log, an entry still chains to one of its entries;
                // one from elsewhere does not.
                let chains_here = seen.contains(&prev)
                    || (seq == 0 && prev == [0; 32])
                    || lines.iter().skip(i + 1).any(|(_, l)| line_hash(l) == prev);
                return Err(if later && !chains_here {
                    damage(
                        DamageKind::Inserted,
                        format!("seq {seq} does not chain to any entry of this log; seq {expected} comes later"),
                    )
                } else if later {
                    damage(
                        DamageKind::Reordered,
                        format!("expected seq {expected}, found {seq}; seq {expected} comes later"),
                    )
                } else {
                    damage(
                        DamageKind::Removed,
                        format!(
                            "expected seq {expected}, found {seq}: {} entr(y/ies) missing",
                            seq - expected
                        ),
                    )
                });
            }
            // A moved entry is caught where it is missing (seq too high, found later),
            // so an unseen entry reusing a seq already passed was put in from elsewhere.
            return Err(damage(
                DamageKind::Inserted,
                format!("expected seq {expected}, found {seq}, which an earlier entry already has"),
            ));
        }
        if prev != prev_hash {
            return Err(damage(
                DamageKind::Inserted,
                "does not chain to the entry before it".into(),
            ));
        }
        seen.insert(hash);
        if capture == Some(entry) {
            captured = Some((hash, offset));
        }
        record(&mut summary, &frame, line);
        summary.entries += 1;
        summary.last_seq = Some(seq);
        summary.bytes = offset + line.len() as u64 + 1;
        prev_hash = hash;
        expected = seq + 1;
    }
    summary.head = prev_hash;
    if let Some(cut) = torn_tail(bytes) {
        return Err(Damage {
            entry: lines.len() as u64 + 1,
            offset: cut as u64,
            kind: DamageKind::TornLastLine,
            detail: format!("{} bytes after the last complete entry", bytes.len() - cut),
        });
    }
    Ok((summary, captured))
}

/// A sealed record of a log's length and head, kept apart from the log so that
/// truncation (which the log alone cannot show) is detected later.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Entries in the log when the checkpoint was made.
    pub entries: u64,
    /// Chain hash (hex) of the last of them.
    pub head: String,
    /// `<key id>:<hex HMAC>` over the JSON `{"entries":N,"head":"..."}`.
    pub seal: String,
}

#[derive(serde::Serialize)]
struct CheckpointBody<'a> {
    entries: u64,
    head: &'a str,
}

fn checkpoint_tag(key: &crate::pseudonym::ActiveKey, entries: u64, head: &str) -> [u8; 32] {
    let body = serde_json::to_vec(&CheckpointBody { entries, head }).unwrap_or_default();
    key.tag(super::format::CHECKPOINT, &body)
}

/// Verifies the log and makes a checkpoint of it, sealed with the active audit key.
///
/// # Errors
///
/// The log is damaged.
pub fn checkpoint(bytes: &[u8], keys: &KeySet) -> Result<Checkpoint, Damage> {
    let summary = verify(bytes, keys)?;
    let head = crate::support::hex::hex(&summary.head);
    let key = keys.active();
    let tag = checkpoint_tag(key, summary.entries, &head);
    Ok(Checkpoint {
        entries: summary.entries,
        seal: format!("{}:{}", key.id(), crate::support::hex::hex(&tag)),
        head,
    })
}

/// Verifies the log and that it still holds what the checkpoint saw: at least as many
/// entries, and the same entry where the checkpoint's head was. A log that has grown
/// since passes.
///
/// # Errors
///
/// The log is damaged, or truncated or rolled back since the checkpoint; an
/// invalid checkpoint is reported as damage at entry 0.
pub fn verify_against(
    bytes: &[u8],
    keys: &KeySet,
    checkpoint: &Checkpoint,
) -> Result<Summary, Damage> {
    let bad_checkpoint = |detail: &str| Damage {
        entry: 0,
        offset: 0,
        kind: DamageKind::Edited,
        detail: format!("checkpoint: {detail}"),
    };
    let (key_id, tag_hex) = checkpoint
        .seal
        .split_once(':')
        .ok_or_else(|| bad_checkpoint("malformed seal"))?;
    let key = keys
        .get(key_id)
        .ok_or_else(|| bad_checkpoint("sealed with a key that is not among the audit keys"))?;
    let tag =
        super::format::decode_hex32(tag_hex).ok_or_else(|| bad_checkpoint("malformed seal"))?;
    if checkpoint_tag(key, checkpoint.entries, &checkpoint.head) != tag {
        return Err(bad_checkpoint(
            "its seal does not match (edited, or made with another key)",
        ));
    }
    let (summary, captured) = verify_capturing(bytes, keys, Some(checkpoint.entries))?;
    if summary.entries < checkpoint.entries {
        return Err(Damage {
            entry: summary.entries + 1,
            offset: summary.bytes,
            kind: DamageKind::Truncated,
            detail: format!(
                "the checkpoint counted {} entries, the log has {}",
                checkpoint.entries, summary.entries
            ),
        });
    }
    let expected = super::format::decode_hex32(&checkpoint.head);
    if checkpoint.entries > 0 && captured.map(|(hash, _)| hash) != expected {
        return Err(Damage {
            entry: checkpoint.entries,
            offset: captured.map_or(0, |(_, offset)| offset),
            kind: DamageKind::Truncated,
            detail: "the entry where the checkpoint was taken is not the one it sealed: the log was rolled back and rewritten".into(),
        });
    }
    Ok(summary)
}

fn record(summary: &mut Summary, frame: &Frame<'_>, line: &[u8]) {
    if summary.first_time.is_none() {
        summary.first_time = Some(frame.time.to_string());
    }
    summary.last_time = Some(frame.time.to_string());
    match &*frame.kind {
        "plan" => {
            if let Some(body) = body_bytes(line) {
                summary.plans.insert(line_hash(body));
            }
        }
        "policy" => {
            let Ok(value) = serde_json::from_slice::<Value>(line) else {
                return;
            };
            if let Some(set) = value.get("policy_set").and_then(Value::as_str) {
                summary.policy_sets.insert(set.to_owned());
            }
            if let Some(Value::Object(versions)) = value.get("versions") {
                for (id, version) in versions {
                    summary
                        .versions
                        .insert(format!("{id}@{}", version.as_str().unwrap_or("?")));
                }
            }
        }
        _ => {}
    }
}

/// The body of a framed line: from `"kind"` up to the framing members that follow
/// it (a plan's id is the SHA-256 of these bytes).
pub(crate) fn body_bytes(line: &[u8]) -> Option<&[u8]> {
    let start = line.windows(7).position(|w| w == b"\"kind\":")?;
    let end = line
        .windows(super::format::SEQ_MEMBER.len())
        .rposition(|w| w == super::format::SEQ_MEMBER)?;
    line.get(start..end)
}

/// The id of the plan a `plan` entry line records (lowercase hex): what transfer
/// entries name in their `plan` member. `None` when the line is not framed.
pub fn plan_id(line: &[u8]) -> Option<String> {
    body_bytes(line).map(|body| crate::support::hex::hex(&line_hash(body)))
}

/// The `subject` digest transfer entries carry for the data subject with this BSN
/// (already normalised, see [`normalise_bsn`](crate::pseudonym::normalise_bsn)), under
/// one audit key: what an auditor looks for to find one person's transfers.
pub fn subject_digest(key: &crate::ActiveKey, normalised_bsn: &str) -> String {
    crate::support::hex::hex(&key.tag(super::format::SUBJECT, normalised_bsn.as_bytes()))
}
