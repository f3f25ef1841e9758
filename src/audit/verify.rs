//! Verifying a log: every seal, the hash chain and the sequence, naming the first bad
//! entry and what is wrong with it.

use super::entry::{line_hash, split_seal, SEAL};
use crate::pseudonym::KeySet;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::fmt;

/// What is wrong with the first bad entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
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

/// One parsed line.
struct Line<'a> {
    bytes: &'a [u8],
    offset: u64,
    value: Option<Value>,
}

impl Line<'_> {
    fn seq(&self) -> Option<u64> {
        self.value.as_ref()?.get("seq")?.as_u64()
    }
    fn prev(&self) -> Option<[u8; 32]> {
        super::entry::decode_hex32(self.value.as_ref()?.get("prev")?.as_str()?)
    }
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
    let complete = match torn_tail(bytes) {
        Some(cut) => bytes.get(..cut).unwrap_or_default(),
        None => bytes,
    };
    let mut lines = Vec::new();
    let mut offset = 0u64;
    for raw in complete.split_inclusive(|b| *b == b'\n') {
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let value = crate::json::parse_strict(line, 16).ok();
        lines.push(Line {
            bytes: line,
            offset,
            value,
        });
        offset += raw.len() as u64;
    }
    let mut summary = Summary::default();
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    let mut prev_hash = [0u8; 32];
    let mut expected = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let entry = i as u64 + 1;
        let damage = |kind, detail: String| Damage {
            entry,
            offset: line.offset,
            kind,
            detail,
        };
        let hash = line_hash(line.bytes);
        let next_prev = lines.get(i + 1).and_then(Line::prev);
        let Some(value) = &line.value else {
            return Err(damage(
                DamageKind::Edited,
                "not a valid entry (malformed JSON)".into(),
            ));
        };
        let (Some(seq), Some(prev)) = (line.seq(), line.prev()) else {
            return Err(damage(
                DamageKind::Edited,
                "missing or malformed `seq` or `prev`".into(),
            ));
        };
        if value.get("v").and_then(Value::as_u64) != Some(u64::from(super::entry::FORMAT)) {
            return Err(damage(DamageKind::Edited, "unknown format version".into()));
        }
        let Some((sealed, key_id, tag)) = split_seal(line.bytes) else {
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
        let key = keys.get(key_id);
        let seal_ok = key.is_some_and(|k| k.tag(SEAL, &sealed) == tag);
        if !seal_ok {
            let (kind, detail) = if next_prev == Some(hash) {
                let detail = match key {
                    None => format!(
                        "sealed with key `{}`, which is not among the audit keys",
                        printable(key_id)
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
                let later = lines.iter().skip(i + 1).any(|l| l.seq() == Some(expected));
                return Err(if later {
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
            return Err(damage(
                DamageKind::Reordered,
                format!("expected seq {expected}, found {seq}"),
            ));
        }
        if prev != prev_hash {
            return Err(damage(
                DamageKind::Inserted,
                "does not chain to the entry before it".into(),
            ));
        }
        seen.insert(hash);
        record(&mut summary, value, line.bytes);
        summary.entries += 1;
        summary.last_seq = Some(seq);
        summary.bytes = line.offset + line.bytes.len() as u64 + 1;
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
    Ok(summary)
}

fn printable(id: &str) -> &str {
    if id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        id
    } else {
        "<unprintable>"
    }
}

fn record(summary: &mut Summary, value: &Value, line: &[u8]) {
    let time = value.get("time").and_then(Value::as_str).map(str::to_owned);
    if summary.first_time.is_none() {
        summary.first_time.clone_from(&time);
    }
    summary.last_time = time;
    match value.get("kind").and_then(Value::as_str) {
        Some("plan") => {
            if let Some(body) = body_bytes(line) {
                summary.plans.insert(line_hash(body));
            }
        }
        Some("policy") => {
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

/// The body of a framed line: from `"kind"` up to the seal member.
pub(crate) fn body_bytes(line: &[u8]) -> Option<&[u8]> {
    let start = line.windows(7).position(|w| w == b"\"kind\":")?;
    let end = line
        .windows(super::entry::SEAL_MEMBER.len())
        .rposition(|w| w == super::entry::SEAL_MEMBER)?;
    line.get(start..end)
}
