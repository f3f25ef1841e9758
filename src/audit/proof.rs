//! Proofs from a log for those who do not hold it: a bundle of entries with their
//! inclusion proofs and the signed checkpoint they are proven against (what a data
//! subject's art. 15 request or a court needs), and consistency proofs between two
//! checkpoints (that the later tree extends the earlier one: no fork, no rewrite).

use super::merkle::{self, Hash};
use super::note::{self, Checkpoint, Cosigned, VerifierKey};
use super::verify::frame_of;
use crate::KeySet;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// What a bundle's `bundle` member says.
pub const BUNDLE_FORMAT: &str = "privacy-gate-proof/1";

/// Why a proof could not be made or did not verify. Messages hold no log content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, ProofError> {
    Err(ProofError(message.into()))
}

/// One proven entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProvenEntry {
    /// Its index in the log (its `seq`).
    pub index: u64,
    /// The entry, its line without the newline.
    pub entry: String,
    /// The inclusion proof (RFC 9162 §2.1.3), base64 hashes, leaf to root.
    pub proof: Vec<String>,
}

/// A self-contained proof that entries are in a log: checked with the writer's
/// public key alone.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// `privacy-gate-proof/1`.
    pub bundle: String,
    /// The signed checkpoint (a C2SP signed note) the proofs lead to.
    pub checkpoint: String,
    /// The entries, with the plan entries their transfers refer to.
    pub entries: Vec<ProvenEntry>,
}

/// The complete lines of a log and their leaf hashes.
fn leaves(log: &[u8]) -> (Vec<&[u8]>, Vec<Hash>) {
    let complete = match super::verify::torn_tail(log) {
        Some(cut) => log.get(..cut).unwrap_or_default(),
        None => log,
    };
    let lines: Vec<&[u8]> = complete
        .split_inclusive(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\n").unwrap_or(l))
        .collect();
    let hashes = lines.iter().map(|l| merkle::leaf_hash(l)).collect();
    (lines, hashes)
}

/// The last checkpoint entry of a log: its note and the size it signed.
fn last_checkpoint(lines: &[&[u8]]) -> Option<(String, u64)> {
    #[derive(Deserialize)]
    struct Entry {
        note: String,
        seq: u64,
    }
    lines.iter().rev().find_map(|line| {
        line.starts_with(super::format::CHECKPOINT_START)
            .then(|| serde_json::from_slice::<Entry>(line).ok())
            .flatten()
            .map(|e| (e.note, e.seq))
    })
}

/// Proves the entries at `indices` (with the plan entries their transfers refer to)
/// against the log's last checkpoint. The log is verified first.
///
/// # Errors
///
/// The log is damaged, an index is not covered by a checkpoint yet, or not in the log.
pub fn prove(log: &[u8], public: &VerifierKey, indices: &[u64]) -> Result<Bundle, ProofError> {
    super::verify(log, public).map_err(|d| ProofError(format!("the log is damaged: {d}")))?;
    let (lines, hashes) = leaves(log);
    let Some((note, size)) = last_checkpoint(&lines) else {
        return fail("the log has no checkpoint yet: nothing can be proven");
    };
    let tree = hashes.get(..size as usize).unwrap_or_default();
    let mut wanted: Vec<u64> = indices.to_vec();
    // The plan a transfer refers to says which fields crossed how: prove it too.
    let mut plans = std::collections::BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with(b"{\"v\":3,\"kind\":\"plan\"") {
            if let Some(id) = super::verify::plan_id(line) {
                plans.entry(id).or_insert(i as u64);
            }
        }
    }
    for &index in indices {
        let line = lines.get(index as usize).copied().unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
        if let Some(plan) = value.get("plan").and_then(|p| p.as_str()) {
            if let Some(&at) = plans.get(plan) {
                wanted.push(at);
            }
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut entries = Vec::new();
    for index in wanted {
        if index >= size {
            return fail(format!(
                "entry {index} is not covered by the last checkpoint ({size} entries) yet"
            ));
        }
        let (Some(line), Some(path)) = (
            lines.get(index as usize),
            merkle::inclusion_proof(tree, index as usize),
        ) else {
            return fail(format!("the log has no entry {index}"));
        };
        entries.push(ProvenEntry {
            index,
            entry: String::from_utf8_lossy(line).into_owned(),
            proof: path.iter().map(|h| B64.encode(h)).collect(),
        });
    }
    Ok(Bundle {
        bundle: BUNDLE_FORMAT.into(),
        checkpoint: note,
        entries,
    })
}

/// The indices of the transfer entries about the subject with this (normalised) BSN,
/// under any of the subject-digest keys.
pub fn subject_entries(log: &[u8], subject_keys: &KeySet, normalised_bsn: &str) -> Vec<u64> {
    let needles: Vec<Vec<u8>> = subject_keys
        .all()
        .map(|k| {
            format!(
                ",\"subject\":\"{}\"",
                super::subject_digest(k, normalised_bsn)
            )
            .into_bytes()
        })
        .collect();
    let (lines, _) = leaves(log);
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            needles
                .iter()
                .any(|n| line.windows(n.len()).any(|w| w == n.as_slice()))
        })
        .map(|(i, _)| i as u64)
        .collect()
}

/// A bundle that verified.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The checkpoint the entries are proven against.
    pub checkpoint: Checkpoint,
    /// Cosignatures of given witnesses on it.
    pub cosigned: Vec<Cosigned>,
    /// The proven entries: index and line.
    pub entries: Vec<(u64, String)>,
}

/// Checks a bundle with the writer's public key (and witnesses' keys): the
/// checkpoint's signature, and each entry's inclusion proof to its root.
///
/// # Errors
///
/// Not a bundle, a checkpoint that does not verify, or an entry that is not proven.
pub fn check(
    bundle: &[u8],
    public: &VerifierKey,
    witnesses: &[VerifierKey],
) -> Result<Checked, ProofError> {
    let value = crate::support::json::parse_strict(bundle, 8)
        .map_err(|e| ProofError(format!("not a proof bundle: {e}")))?;
    let bundle: Bundle = serde_json::from_value(value)
        .map_err(|e| ProofError(format!("not a proof bundle: {e}")))?;
    if bundle.bundle != BUNDLE_FORMAT {
        return fail(format!("not a `{BUNDLE_FORMAT}` bundle"));
    }
    let opened = note::open(&bundle.checkpoint, public, witnesses)
        .map_err(|e| ProofError(format!("checkpoint: {e}")))?;
    let mut entries = Vec::new();
    for proven in &bundle.entries {
        let mut path = Vec::with_capacity(proven.proof.len());
        for p in &proven.proof {
            let hash = B64
                .decode(p)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    ProofError(format!("entry {}: a malformed proof hash", proven.index))
                })?;
            path.push(hash);
        }
        let line = proven.entry.as_bytes();
        let framed = frame_of(line).is_some_and(|f| f.seq == proven.index);
        let leaf = merkle::leaf_hash(line);
        if !framed
            || !merkle::verify_inclusion(
                proven.index,
                opened.checkpoint.size,
                &leaf,
                &path,
                &opened.checkpoint.root,
            )
        {
            return fail(format!(
                "entry {} is not proven: it is not in the log the checkpoint signed (changed, or the proof does not fit)",
                proven.index
            ));
        }
        entries.push((proven.index, proven.entry.clone()));
    }
    Ok(Checked {
        checkpoint: opened.checkpoint,
        cosigned: opened.cosigned,
        entries,
    })
}

/// Where a released record's transfer entry is: the log's origin (`<writer key
/// name>/<log id>`), the entry's index and its leaf hash. An audited gate puts it in
/// the record's `_transfer` member as `receipt`, so that the recipient can later ask
/// for the entry's inclusion proof (`privacy-gate audit prove --seq <index>`) and check
/// that the proven entry is the one its record came with ([`Checked::confirms`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The log's origin, as its checkpoints name it.
    pub log: String,
    /// The entry's index (its `seq`).
    pub index: u64,
    /// The entry's leaf hash, SHA-256(0x00 ‖ line).
    pub leaf: Hash,
}

impl Receipt {
    /// The member name in `_transfer`.
    pub const MEMBER: &'static str = "receipt";

    /// The receipt as it stands in `_transfer`: `{"index":…,"leaf":"<base64>","log":…}`
    /// (members sorted, as serde_json writes a map).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"index": self.index, "leaf": B64.encode(self.leaf), "log": self.log})
    }

    /// Appends [`Receipt::to_json`]'s compact bytes, with `log_json` the origin
    /// already serialised as a JSON string (the same for every receipt of a log).
    pub(crate) fn write(index: u64, leaf: &Hash, log_json: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"index\":");
        super::format::push_decimal(out, index);
        out.extend_from_slice(b",\"leaf\":\"");
        let mut encoded = [0u8; 44];
        let n = B64.encode_slice(leaf, &mut encoded).unwrap_or(0);
        out.extend_from_slice(encoded.get(..n).unwrap_or_default());
        out.extend_from_slice(b"\",\"log\":");
        out.extend_from_slice(log_json);
        out.push(b'}');
    }

    /// The receipt of a released record (its `_transfer.receipt`), or a receipt
    /// object by itself.
    ///
    /// # Errors
    ///
    /// Neither holds a well-formed receipt.
    pub fn from_json(value: &serde_json::Value) -> Result<Receipt, ProofError> {
        let receipt = value
            .get("_transfer")
            .and_then(|t| t.get(Receipt::MEMBER))
            .unwrap_or(value);
        let log = receipt.get("log").and_then(serde_json::Value::as_str);
        let index = receipt.get("index").and_then(serde_json::Value::as_u64);
        let leaf = receipt
            .get("leaf")
            .and_then(serde_json::Value::as_str)
            .and_then(|l| B64.decode(l).ok())
            .and_then(|b| <Hash>::try_from(b).ok());
        match (log, index, leaf) {
            (Some(log), Some(index), Some(leaf)) => Ok(Receipt {
                log: log.to_owned(),
                index,
                leaf,
            }),
            _ => fail("not a receipt: `{\"index\": N, \"leaf\": \"<base64>\", \"log\": \"<origin>\"}`, or a released record whose `_transfer` holds one"),
        }
    }
}

impl Checked {
    /// Whether this checked bundle proves the entry `receipt` names: the same log, and
    /// an entry at its index whose leaf hash is the receipt's.
    ///
    /// # Errors
    ///
    /// Another log, no proven entry at that index, or one with another leaf hash.
    pub fn confirms(&self, receipt: &Receipt) -> Result<(), ProofError> {
        if self.checkpoint.origin != receipt.log {
            return fail("the receipt is of another log than the bundle's checkpoint");
        }
        let Some((_, entry)) = self.entries.iter().find(|(i, _)| *i == receipt.index) else {
            return fail(format!(
                "the bundle does not prove entry {}, which the receipt names",
                receipt.index
            ));
        };
        if merkle::leaf_hash(entry.as_bytes()) != receipt.leaf {
            return fail(format!(
                "the receipt's leaf hash is not that of entry {}: the receipt is not of this entry",
                receipt.index
            ));
        }
        Ok(())
    }
}

/// Proves that the log at checkpoint `new` extends the log at checkpoint `old` (RFC
/// 9162 consistency proof), from the log itself; both checkpoints are verified with
/// the writer's public key. Returns the proof (base64 hashes).
///
/// # Errors
///
/// A checkpoint does not verify, they are of different logs, the log does not hold
/// what a checkpoint signed, or the two are not consistent (a fork).
pub fn consistency(
    log: &[u8],
    public: &VerifierKey,
    old: &str,
    new: &str,
) -> Result<Vec<String>, ProofError> {
    let open = |text: &str, which: &str| {
        note::open(text, public, &[])
            .map(|v| v.checkpoint)
            .map_err(|e| ProofError(format!("{which} checkpoint: {e}")))
    };
    let (old, new) = (open(old, "old")?, open(new, "new")?);
    if old.origin != new.origin {
        return fail("the checkpoints are of different logs");
    }
    if old.size > new.size {
        return fail("the old checkpoint is larger than the new one");
    }
    let (_, hashes) = leaves(log);
    let tree = hashes
        .get(..new.size as usize)
        .ok_or_else(|| ProofError(format!("the log has fewer than {} entries", new.size)))?;
    if merkle::root(tree) != new.root {
        return fail("the log does not hold the tree the new checkpoint signed");
    }
    let path = if old.size == 0 {
        Vec::new()
    } else {
        merkle::consistency_proof(tree, old.size as usize).unwrap_or_default()
    };
    if !merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &path) {
        return fail(format!(
            "not consistent: the tree of {} entries the old checkpoint signed is not a prefix of the new one (a fork or a rewrite)",
            old.size
        ));
    }
    Ok(path.iter().map(|h| B64.encode(h)).collect())
}

/// Checks a consistency proof between two signed checkpoints without the log.
///
/// # Errors
///
/// A checkpoint does not verify, or the proof does not show consistency.
pub fn check_consistency(
    public: &VerifierKey,
    old: &str,
    new: &str,
    proof: &[String],
) -> Result<(), ProofError> {
    let open = |text: &str| {
        note::open(text, public, &[])
            .map(|v| v.checkpoint)
            .map_err(|e| ProofError(format!("checkpoint: {e}")))
    };
    let (old, new) = (open(old)?, open(new)?);
    let mut path = Vec::new();
    for p in proof {
        let hash = B64
            .decode(p)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| ProofError("a malformed proof hash".into()))?;
        path.push(hash);
    }
    if old.origin != new.origin
        || !merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &path)
    {
        return fail("not consistent");
    }
    Ok(())
}
