//! Verifying a log with the writer's public key: the sequence, the tree, and every
//! checkpoint's signature and root, naming the first bad entry and what is wrong
//! with it; and resuming a log from its last checkpoint.

use super::format::line_hash;
use super::merkle::{leaf_hash, Frontier};
use super::note::{self, Checkpoint, Cosigned, VerifierKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
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
    /// It does not belong here (a sequence number already passed, or a checkpoint
    /// of another log or another place).
    Inserted,
    /// It is a copy of an earlier entry.
    Duplicated,
    /// It is out of order.
    Reordered,
    /// A checkpoint's signature does not verify with the writer's public key (or the
    /// checkpoint is of another writer's log).
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
            DamageKind::WrongKey => "not signed by the writer's key",
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
    /// The root hash of the tree over every entry.
    pub root: [u8; 32],
    /// Entries covered by the log's last checkpoint entry (it included): the signed
    /// part. Entries after it were written but not yet signed (a writer that stopped
    /// before its next sync); the next writer covers them.
    pub signed: u64,
    /// Checkpoint entries in the log.
    pub checkpoints: u64,
    /// The note of the last checkpoint entry.
    pub latest_note: Option<String>,
    /// The log's origin, from its checkpoints.
    pub origin: Option<String>,
    /// Ids of the plans the log holds.
    pub plans: HashSet<[u8; 32]>,
    /// Ids of the policy sets the log names.
    pub policy_sets: BTreeSet<String>,
    /// Length of the intact part of the file in bytes.
    pub bytes: u64,
    /// Cosignatures of the given checkpoints that verified.
    pub cosigned: Vec<Cosigned>,
}

impl Summary {
    /// Entries after the last checkpoint entry: not (yet) signed.
    pub fn unsigned(&self) -> u64 {
        self.entries - self.signed
    }
}

/// The framing members of an entry; the rest of the body is covered by the tree,
/// not parsed (except for the few kinds whose content the summary needs).
#[derive(serde::Deserialize)]
pub(crate) struct Frame<'a> {
    pub(crate) v: u32,
    pub(crate) seq: u64,
    #[serde(borrow)]
    pub(crate) time: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) kind: std::borrow::Cow<'a, str>,
}

pub(crate) fn frame_of(line: &[u8]) -> Option<Frame<'_>> {
    // An entry is an object starting with its version (serde would take an array too).
    if !line.starts_with(b"{\"v\":") {
        return None;
    }
    serde_json::from_slice(line).ok()
}

/// A checkpoint entry's members.
#[derive(serde::Deserialize)]
struct CheckpointEntry {
    note: String,
    peaks: Vec<String>,
}

/// A checkpoint entry read: its checkpoint, peaks and note text.
type ReadCheckpoint = (Checkpoint, Vec<[u8; 32]>, String);

/// A checkpoint entry's note (writer signature checked) and peaks.
fn read_checkpoint(
    line: &[u8],
    public: &VerifierKey,
) -> Result<ReadCheckpoint, (DamageKind, String)> {
    let entry: CheckpointEntry = serde_json::from_slice(line).map_err(|_| {
        (
            DamageKind::Edited,
            "a malformed checkpoint entry".to_owned(),
        )
    })?;
    let opened = note::open(&entry.note, public, &[])
        .map_err(|e| (DamageKind::WrongKey, format!("checkpoint: {e}")))?;
    let mut peaks = Vec::with_capacity(entry.peaks.len());
    for p in &entry.peaks {
        let peak = B64
            .decode(p)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or((
                DamageKind::Edited,
                "a malformed peak in a checkpoint entry".to_owned(),
            ))?;
        peaks.push(peak);
    }
    Ok((opened.checkpoint, peaks, entry.note))
}

/// The byte offset after which an incomplete last line starts, if the log has one.
pub fn torn_tail(bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return None;
    }
    Some(bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1))
}

/// Checks every entry of `bytes` (a whole log) with the writer's public key: the
/// framing and sequence of every entry, and at every checkpoint entry the writer's
/// signature and that the entries before it hash to the root it signed.
///
/// # Errors
///
/// The first bad entry, with its position and what is wrong.
pub fn verify(bytes: &[u8], public: &VerifierKey) -> Result<Summary, Damage> {
    verify_against(bytes, public, &[], &[])
}

/// As [`verify`], and checks the log against checkpoints kept apart from it (signed
/// notes, such as `privacy-gate audit checkpoint` printed): each must be signed by
/// the writer, be of this log, and the log must still hold the tree it signed (a log
/// that grew since passes). Cosignatures by `witnesses` on those checkpoints are
/// verified and reported in [`Summary::cosigned`].
///
/// # Errors
///
/// The log is damaged, or truncated, rolled back or forked since a checkpoint; a
/// checkpoint that does not verify is reported as damage at entry 0.
pub fn verify_against(
    bytes: &[u8],
    public: &VerifierKey,
    witnesses: &[VerifierKey],
    checkpoints: &[&str],
) -> Result<Summary, Damage> {
    let bad_checkpoint = |detail: String| Damage {
        entry: 0,
        offset: 0,
        kind: DamageKind::WrongKey,
        detail: format!("checkpoint: {detail}"),
    };
    let mut kept = Vec::new();
    let mut cosigned = Vec::new();
    for text in checkpoints {
        let opened = note::open(text, public, witnesses).map_err(|e| bad_checkpoint(e.0))?;
        cosigned.extend(opened.cosigned);
        kept.push(opened.checkpoint);
    }
    let sizes: Vec<u64> = kept.iter().map(|c| c.size).collect();
    let (mut summary, roots) = walk(bytes, public, &sizes)?;
    summary.cosigned = cosigned;
    for (checkpoint, root) in kept.iter().zip(roots) {
        if summary
            .origin
            .as_ref()
            .is_some_and(|o| *o != checkpoint.origin)
        {
            return Err(bad_checkpoint(
                "it is a checkpoint of another log (its origin differs)".into(),
            ));
        }
        match root {
            None => {
                return Err(Damage {
                    entry: summary.entries + 1,
                    offset: summary.bytes,
                    kind: DamageKind::Truncated,
                    detail: format!(
                        "the checkpoint counted {} entries, the log has {}",
                        checkpoint.size, summary.entries
                    ),
                })
            }
            Some((root, entry, offset)) if root != checkpoint.root => {
                return Err(Damage {
                    entry,
                    offset,
                    kind: DamageKind::Truncated,
                    detail: format!(
                        "the first {} entries do not hash to the root of the checkpoint: the log was rolled back and rewritten, or forked",
                        checkpoint.size
                    ),
                })
            }
            Some(_) => {}
        }
    }
    Ok(summary)
}

/// The root of the tree at one size, and the entry and offset where that size ends.
type RootAt = Option<([u8; 32], u64, u64)>;

/// The pass over the log, also capturing the tree's root at each of `sizes`.
fn walk(
    bytes: &[u8],
    public: &VerifierKey,
    sizes: &[u64],
) -> Result<(Summary, Vec<RootAt>), Damage> {
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
    let mut roots: Vec<RootAt> = vec![None; sizes.len()];
    let mut capture = |frontier: &Frontier, entry: u64, offset: u64| {
        for (size, root) in sizes.iter().zip(roots.iter_mut()) {
            if *size == frontier.size() {
                *root = Some((frontier.root(), entry, offset));
            }
        }
    };
    let mut frontier = Frontier::new();
    capture(&frontier, 0, 0);
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    // Where the entries since the last checkpoint start (entry number, offset).
    let mut since = (1u64, 0u64);
    for (i, &(offset, line)) in lines.iter().enumerate() {
        let entry = i as u64 + 1;
        let expected = i as u64;
        let damage = |kind, detail: String| Damage {
            entry,
            offset,
            kind,
            detail,
        };
        let Some(frame) = frame_of(line) else {
            return Err(damage(
                DamageKind::Edited,
                "not a valid entry (malformed JSON or missing members)".into(),
            ));
        };
        if frame.v != super::format::FORMAT {
            return Err(damage(DamageKind::Edited, "unknown format version".into()));
        }
        let leaf = leaf_hash(line);
        let seq = frame.seq;
        if seq != expected {
            if seq > expected {
                let later = lines
                    .iter()
                    .skip(i + 1)
                    .any(|(_, l)| frame_of(l).is_some_and(|f| f.seq == expected));
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
            return Err(if seen.contains(&leaf) {
                damage(
                    DamageKind::Duplicated,
                    format!("a copy of an earlier entry (seq {seq})"),
                )
            } else {
                damage(
                    DamageKind::Inserted,
                    format!(
                        "expected seq {expected}, found {seq}, which an earlier entry already has"
                    ),
                )
            });
        }
        if frame.kind == "checkpoint" {
            let (checkpoint, peaks, text) =
                read_checkpoint(line, public).map_err(|(kind, detail)| damage(kind, detail))?;
            if let Some(origin) = &summary.origin {
                if *origin != checkpoint.origin {
                    return Err(damage(
                        DamageKind::Inserted,
                        "a checkpoint of another log".into(),
                    ));
                }
            }
            if checkpoint.size != seq {
                return Err(damage(
                    DamageKind::Inserted,
                    format!(
                        "a checkpoint of {} entries at entry {entry}",
                        checkpoint.size
                    ),
                ));
            }
            if checkpoint.root != frontier.root() {
                let (first, first_offset) = since;
                return Err(Damage {
                    entry: first,
                    offset: first_offset,
                    kind: DamageKind::Edited,
                    detail: format!(
                        "entries {first} to {} do not hash to the root the writer signed in the checkpoint at entry {entry}: one of them was changed, inserted or removed",
                        entry - 1
                    ),
                });
            }
            if peaks != frontier.peaks() {
                return Err(damage(
                    DamageKind::Edited,
                    "the checkpoint's peaks do not match the tree it signed".into(),
                ));
            }
            summary.origin = Some(checkpoint.origin);
            summary.latest_note = Some(text);
            summary.checkpoints += 1;
            summary.signed = entry;
            since = (entry + 1, offset + line.len() as u64 + 1);
        }
        seen.insert(leaf);
        frontier.push(leaf);
        capture(&frontier, entry, offset);
        record(&mut summary, &frame, line);
        summary.entries += 1;
        summary.bytes = offset + line.len() as u64 + 1;
    }
    summary.root = frontier.root();
    if let Some(cut) = torn_tail(bytes) {
        return Err(Damage {
            entry: lines.len() as u64 + 1,
            offset: cut as u64,
            kind: DamageKind::TornLastLine,
            detail: format!("{} bytes after the last complete entry", bytes.len() - cut),
        });
    }
    Ok((summary, roots))
}

/// Where a writer resumes a log: the tree from the last checkpoint entry (signature
/// and peaks checked) and the entries after it.
pub(crate) struct Resumed {
    pub(crate) frontier: Frontier,
    /// Entries covered by the last checkpoint entry (it included).
    pub(crate) covered: u64,
    pub(crate) last_checkpoint: Option<Checkpoint>,
    pub(crate) log_id: Option<String>,
    pub(crate) plans: HashSet<[u8; 32]>,
    pub(crate) policy_sets: BTreeSet<String>,
    /// Where a torn last line starts, and its bytes.
    pub(crate) torn: Option<(u64, Vec<u8>)>,
    /// Entries read (the last checkpoint's and those after it).
    pub(crate) entries_read: u64,
    /// Length of the complete part of the file.
    pub(crate) bytes: u64,
}

/// Why a log could not be resumed.
pub(crate) enum ResumeError {
    Io(std::io::Error),
    Damaged(Damage),
}

/// Finds the start of the last complete checkpoint line in `file`, reading windows
/// from the end that grow until one holds it (or the whole file was read).
fn last_checkpoint_offset(file: &mut std::fs::File, len: u64) -> std::io::Result<Option<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    let pattern = [b"\n", super::format::CHECKPOINT_START].concat();
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.by_ref().take(len - start).read_to_end(&mut bytes)?;
        let mut end = bytes.len();
        while let Some(at) = bytes.get(..end).and_then(|b| {
            b.windows(pattern.len())
                .rposition(|w| w == pattern.as_slice())
        }) {
            // Complete only when a newline ends it.
            if bytes
                .get(at + 1..)
                .is_some_and(|rest| rest.contains(&b'\n'))
            {
                return Ok(Some(start + at as u64 + 1));
            }
            end = at;
        }
        if start == 0 {
            return Ok(None);
        }
        window = window.saturating_mul(8);
    }
}

/// Resumes the log in `file`: from its last checkpoint entry when it has one (the
/// whole file otherwise, which is then one that never reached its first sync).
pub(crate) fn resume(
    file: &mut std::fs::File,
    public: &VerifierKey,
) -> Result<Resumed, ResumeError> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata().map_err(ResumeError::Io)?.len();
    let start = last_checkpoint_offset(file, len)
        .map_err(ResumeError::Io)?
        .unwrap_or(0);
    file.seek(SeekFrom::Start(start)).map_err(ResumeError::Io)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(ResumeError::Io)?;
    let cut = torn_tail(&bytes);
    let complete = bytes.get(..cut.unwrap_or(bytes.len())).unwrap_or_default();
    let mut resumed = Resumed {
        frontier: Frontier::new(),
        covered: 0,
        last_checkpoint: None,
        log_id: None,
        plans: HashSet::new(),
        policy_sets: BTreeSet::new(),
        torn: cut.map(|c| {
            (
                start + c as u64,
                bytes.get(c..).unwrap_or_default().to_vec(),
            )
        }),
        entries_read: 0,
        bytes: start + complete.len() as u64,
    };
    let mut offset = start;
    for raw in complete.split_inclusive(|b| *b == b'\n') {
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let expected = resumed.frontier.size();
        let damage = |kind, detail: String| {
            ResumeError::Damaged(Damage {
                entry: expected + 1,
                offset,
                kind,
                detail,
            })
        };
        let frame = frame_of(line)
            .filter(|f| f.v == super::format::FORMAT)
            .ok_or_else(|| damage(DamageKind::Edited, "not a valid entry of format 3".into()))?;
        if resumed.entries_read == 0 && start > 0 {
            // The last checkpoint: the tree before it comes from its signed peaks.
            let (checkpoint, peaks, _) =
                read_checkpoint(line, public).map_err(|(kind, detail)| damage(kind, detail))?;
            let frontier = Frontier::from_parts(checkpoint.size, peaks)
                .filter(|f| f.root() == checkpoint.root && checkpoint.size == frame.seq)
                .ok_or_else(|| {
                    damage(
                        DamageKind::Edited,
                        "the last checkpoint's peaks do not give its signed root".into(),
                    )
                })?;
            resumed.frontier = frontier;
            resumed.covered = checkpoint.size + 1;
            resumed.log_id = checkpoint
                .origin
                .strip_prefix(public.name())
                .and_then(|r| r.strip_prefix('/'))
                .map(str::to_owned);
            resumed.last_checkpoint = Some(checkpoint);
        } else if frame.seq != expected {
            return Err(damage(
                if frame.seq > expected {
                    DamageKind::Removed
                } else {
                    DamageKind::Inserted
                },
                format!("expected seq {expected}, found {}", frame.seq),
            ));
        } else if expected == 0 && frame.kind == "open" {
            resumed.log_id = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| v.get("log").and_then(Value::as_str).map(str::to_owned))
                .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        } else if frame.kind == "checkpoint" {
            // Not the last checkpoint, yet found after it: the search missed nothing,
            // so this cannot be a complete checkpoint line.
            return Err(damage(
                DamageKind::Edited,
                "a malformed checkpoint entry".into(),
            ));
        }
        let mut summary = Summary::default();
        record(&mut summary, &frame, line);
        resumed.plans.extend(summary.plans);
        resumed.policy_sets.extend(summary.policy_sets);
        resumed.frontier.push(leaf_hash(line));
        resumed.entries_read += 1;
        offset += raw.len() as u64;
    }
    Ok(resumed)
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
/// one subject-digest key, as it stands in an entry (`<key id>:<hex>`): what whoever
/// answers a data subject's request looks for to find that person's transfers.
pub fn subject_digest(key: &crate::ActiveKey, normalised_bsn: &str) -> String {
    super::format::digest(key, super::format::SUBJECT, normalised_bsn.as_bytes())
}
