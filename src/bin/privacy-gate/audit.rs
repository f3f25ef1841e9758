//! `privacy-gate audit ...`: verify, checkpoint, prove, replay and show an audit log.

use crate::{load, load_keys, Failure};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use privacy_gate::audit::{self, Archive, Checkpoint, ReplayOptions, VerifierKey};
use privacy_gate::pseudonym::normalise_bsn;
use privacy_gate::KeyRing;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The writer's public key, and witnesses' keys: all a verifier needs.
#[derive(clap::Args)]
pub(crate) struct PublicKeys {
    /// The log writer's public key file (a C2SP verifier key line, from `keygen
    /// --audit-writer`'s `.pub` file).
    #[arg(long = "public-key", value_name = "FILE")]
    public_key: PathBuf,
    /// A witness's public key file (repeatable): its cosignatures are verified.
    #[arg(long = "witness", value_name = "FILE")]
    witnesses: Vec<PathBuf>,
}

impl PublicKeys {
    fn load(&self) -> Result<(VerifierKey, Vec<VerifierKey>), Failure> {
        let key = |path: &Path| -> Result<VerifierKey, Failure> {
            let text = String::from_utf8(read(path)?).unwrap_or_default();
            VerifierKey::parse(&text).map_err(|e| Failure(format!("`{}`: {e}", path.display())))
        };
        let writer = key(&self.public_key)?;
        let witnesses = self
            .witnesses
            .iter()
            .map(|p| key(p))
            .collect::<Result<_, _>>()?;
        Ok((writer, witnesses))
    }
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the log with the writer's public key: every entry's place, every
    /// checkpoint's signature and root, and checkpoints kept elsewhere.
    Verify {
        /// The log.
        file: PathBuf,
        #[command(flatten)]
        keys: PublicKeys,
        /// A checkpoint kept apart from the log (repeatable), to detect truncation,
        /// rollback and forks; `<log>.checkpoint` is checked too when it exists.
        #[arg(long)]
        checkpoint: Vec<PathBuf>,
    },
    /// Print the log's latest signed checkpoint (a C2SP signed note) to keep
    /// elsewhere or give to a witness. With the writer's key (`--keys`), signs a
    /// fresh one covering every entry.
    Checkpoint {
        /// The log.
        file: PathBuf,
        #[command(flatten)]
        keys: PublicKeys,
        /// The writer's key file, to sign a checkpoint of the whole log.
        #[arg(long)]
        keys_file: Vec<PathBuf>,
    },
    /// Prove that checkpoint NEW extends checkpoint OLD (RFC 9162 consistency proof):
    /// no entry the old one covered was changed or dropped, and there is no fork.
    Consistency {
        /// The log.
        file: PathBuf,
        /// The older checkpoint.
        old: PathBuf,
        /// The newer checkpoint.
        new: PathBuf,
        #[command(flatten)]
        keys: PublicKeys,
    },
    /// Write a self-contained proof bundle for one entry or one person's transfers:
    /// the entries, their inclusion proofs and the signed checkpoint.
    Prove {
        /// The log.
        file: PathBuf,
        #[command(flatten)]
        keys: PublicKeys,
        /// The entry with this sequence number.
        #[arg(long, conflicts_with_all = ["subject", "receipt"], required_unless_present_any = ["subject", "receipt"])]
        seq: Option<u64>,
        /// The entry a receipt names: a released record (its `_transfer.receipt`) or
        /// the receipt alone, as JSON.
        #[arg(long, conflicts_with = "subject")]
        receipt: Option<PathBuf>,
        /// Every transfer about the person with this BSN (needs the subject-digest key).
        #[arg(long)]
        subject: Option<String>,
        /// Key file with the subject-digest key (for `--subject`).
        #[arg(long = "keys")]
        keys_file: Vec<PathBuf>,
        /// Where to write the bundle (never overwritten); stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a proof bundle without the log, with the writer's public key.
    CheckProof {
        /// The bundle.
        bundle: PathBuf,
        #[command(flatten)]
        keys: PublicKeys,
        /// A receipt the bundle must prove: a released record (its
        /// `_transfer.receipt`) or the receipt alone, as JSON. Its log, index and leaf
        /// hash must be those of a proven entry.
        #[arg(long)]
        receipt: Option<PathBuf>,
    },
    /// As a witness: cosign a checkpoint (C2SP tlog-cosignature, cosignature/v1).
    Cosign {
        /// The checkpoint.
        checkpoint: PathBuf,
        /// The log writer's public key file (the checkpoint must verify with it).
        #[arg(long = "public-key", value_name = "FILE")]
        public_key: PathBuf,
        /// Key file with the witness's key (`keygen --audit-witness`).
        #[arg(long)]
        keys: Vec<PathBuf>,
    },
    /// Decide every logged transfer again and report whether each decision is identical.
    Replay {
        /// The log.
        file: PathBuf,
        #[command(flatten)]
        public: PublicKeys,
        /// Key files: the record-digest key (for `--records`), pseudonymisation keys.
        #[arg(long)]
        keys: Vec<PathBuf>,
        /// The archive of agreement versions (default: `<log>.agreements/`).
        #[arg(long)]
        archive: Option<PathBuf>,
        /// A policy folder to use for entries whose policy set it holds, when the
        /// archive lacks them.
        #[arg(long)]
        policies: Option<PathBuf>,
        /// What-if: decide under the agreements in this folder and list what changes.
        #[arg(long)]
        against: Option<PathBuf>,
        /// The original records (JSON Lines), re-gated and checked by their digests.
        #[arg(long)]
        records: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the logged transfers: per transfer the recipient, the agreement versions
    /// and which fields crossed how. Exits 1 on a damaged log.
    Show {
        /// The log.
        file: PathBuf,
        #[command(flatten)]
        public: PublicKeys,
        /// Key file with the subject-digest key (for `--subject`).
        #[arg(long)]
        keys: Vec<PathBuf>,
        /// Only transfers from this organisation.
        #[arg(long)]
        from: Option<String>,
        /// Only transfers to this organisation.
        #[arg(long)]
        to: Option<String>,
        /// Only transfers for this purpose.
        #[arg(long)]
        purpose: Option<String>,
        /// Only transfers at or after this moment.
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Only transfers at or before this moment.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// Only transfers about the person with this BSN (GDPR art. 15).
        #[arg(long)]
        subject: Option<String>,
        /// Print the entries as JSON Lines.
        #[arg(long)]
        json: bool,
    },
}

fn read(file: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(file).map_err(|e| Failure(format!("cannot read `{}`: {e}", file.display())))
}

fn read_text(file: &Path) -> Result<String, Failure> {
    String::from_utf8(read(file)?)
        .map_err(|_| Failure(format!("`{}` is not UTF-8 text", file.display())))
}

/// The checkpoint the writer keeps next to the log, when there is one.
fn sidecar(file: &Path) -> Option<String> {
    let mut name = file.as_os_str().to_owned();
    name.push(".checkpoint");
    std::fs::read_to_string(name).ok()
}

/// A receipt from a file: a released record with `_transfer.receipt`, or the
/// receipt object alone.
fn read_receipt(path: &Path) -> Result<audit::Receipt, Failure> {
    let value =
        privacy_gate::json::parse_strict(&read(path)?, privacy_gate::json::DEFAULT_MAX_DEPTH)
            .map_err(|e| Failure(format!("`{}`: not JSON: {e}", path.display())))?;
    audit::Receipt::from_json(&value).map_err(|e| Failure(format!("`{}`: {e}", path.display())))
}

fn subject_keys(keys: &[PathBuf]) -> Result<KeyRing, Failure> {
    let ring = load_keys(keys)?;
    if ring.audit_subject().is_none() {
        return Err(Failure(
            "finding a person's transfers needs the subject-digest key: pass --keys FILE with `audit_subject`".into(),
        ));
    }
    Ok(ring)
}

fn write_new(out: Option<&Path>, text: &str) -> Result<(), Failure> {
    match out {
        None => writeln!(crate::stdout(), "{text}")?,
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| Failure(format!("cannot create `{}`: {e}", path.display())))?;
            writeln!(file, "{text}")?;
            file.sync_all()?;
        }
    }
    Ok(())
}

pub(crate) fn run(command: AuditCommand) -> Result<ExitCode, Failure> {
    match command {
        AuditCommand::Verify {
            file,
            keys,
            checkpoint,
        } => verify(&file, &keys, &checkpoint),
        AuditCommand::Checkpoint {
            file,
            keys,
            keys_file,
        } => {
            let (public, _) = keys.load()?;
            let bytes = read(&file)?;
            let summary = match audit::verify(&bytes, &public) {
                Ok(summary) => summary,
                Err(damage) => {
                    writeln!(crate::stdout(), "damaged: {damage}")?;
                    return Ok(ExitCode::FAILURE);
                }
            };
            let note = if keys_file.is_empty() {
                summary.latest_note.ok_or_else(|| {
                    Failure("the log has no checkpoint yet; pass the writer's key (--keys-file) to sign one".into())
                })?
            } else {
                let ring = load_keys(&keys_file)?;
                let writer = ring.audit_writer().ok_or_else(|| {
                    Failure("signing a checkpoint needs the writer's key (`audit_writer`)".into())
                })?;
                if VerifierKey::of(writer, audit::note::ED25519) != public {
                    return Err(Failure(
                        "the writer's key does not match --public-key".into(),
                    ));
                }
                let origin = summary.origin.ok_or_else(|| {
                    Failure("the log has no checkpoint yet, so its origin is unknown".into())
                })?;
                Checkpoint {
                    origin,
                    size: summary.entries,
                    root: summary.root,
                }
                .sign(writer)
            };
            write!(crate::stdout(), "{note}")?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Consistency {
            file,
            old,
            new,
            keys,
        } => {
            let (public, _) = keys.load()?;
            let bytes = read(&file)?;
            let mut out = crate::stdout();
            match audit::consistency(&bytes, &public, &read_text(&old)?, &read_text(&new)?) {
                Ok(proof) => {
                    writeln!(out, "consistent: the new checkpoint extends the old one")?;
                    for hash in proof {
                        writeln!(out, "{hash}")?;
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    writeln!(out, "inconsistent: {e}")?;
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCommand::Prove {
            file,
            keys,
            seq,
            receipt,
            subject,
            keys_file,
            out,
        } => {
            let (public, _) = keys.load()?;
            let bytes = read(&file)?;
            let seq = match receipt {
                Some(path) => Some(read_receipt(&path)?.index),
                None => seq,
            };
            let indices = match (seq, subject) {
                (Some(seq), _) => vec![seq],
                (None, Some(bsn)) => {
                    let bsn = normalise_bsn(&bsn)
                        .map_err(|_| Failure("`--subject` is not a valid BSN".into()))?;
                    let ring = subject_keys(&keys_file)?;
                    let set = ring
                        .audit_subject()
                        .ok_or_else(|| Failure("no subject-digest key".into()))?;
                    audit::subject_entries(&bytes, set, &bsn)
                }
                (None, None) => Vec::new(),
            };
            let bundle = audit::prove(&bytes, &public, &indices).map_err(|e| Failure(e.0))?;
            stderr!(
                "privacy-gate: proved {} entr(y/ies) ({} asked) against the checkpoint of {}",
                bundle.entries.len(),
                indices.len(),
                bundle.checkpoint.lines().nth(1).unwrap_or("?")
            );
            write_new(out.as_deref(), &serde_json::to_string_pretty(&bundle)?)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::CheckProof {
            bundle,
            keys,
            receipt,
        } => {
            let (public, witnesses) = keys.load()?;
            let receipt = receipt.as_deref().map(read_receipt).transpose()?;
            let mut out = crate::stdout();
            let checked =
                audit::check(&read(&bundle)?, &public, &witnesses).and_then(
                    |checked| match &receipt {
                        Some(receipt) => checked.confirms(receipt).map(|()| checked),
                        None => Ok(checked),
                    },
                );
            match checked {
                Ok(checked) => {
                    writeln!(
                        out,
                        "ok: {} entr(y/ies) proven in log {} at {} entries{}",
                        checked.entries.len(),
                        checked.checkpoint.origin,
                        checked.checkpoint.size,
                        cosigned_text(&checked.cosigned)
                    )?;
                    for (index, entry) in &checked.entries {
                        writeln!(out, "seq {index}: {}", describe_entry(entry))?;
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    writeln!(out, "not proven: {e}")?;
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCommand::Cosign {
            checkpoint,
            public_key,
            keys,
        } => {
            let public = VerifierKey::parse(&read_text(&public_key)?)
                .map_err(|e| Failure(format!("`{}`: {e}", public_key.display())))?;
            let text = read_text(&checkpoint)?;
            audit::note::open(&text, &public, &[])
                .map_err(|e| Failure(format!("not cosigned: {e}")))?;
            let ring = load_keys(&keys)?;
            let witness = ring
                .audit_witness()
                .ok_or_else(|| Failure("cosigning needs a witness key (`audit_witness`)".into()))?;
            let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
            let cosigned = audit::note::cosign(&text, witness, now).map_err(|e| Failure(e.0))?;
            write!(crate::stdout(), "{cosigned}")?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Replay {
            file,
            public,
            keys,
            archive,
            policies,
            against,
            records,
            json,
        } => replay(
            &file,
            &public,
            &keys,
            archive.as_deref(),
            policies.as_deref(),
            against.as_deref(),
            records.as_deref(),
            json,
        ),
        AuditCommand::Show {
            file,
            public,
            keys,
            from,
            to,
            purpose,
            since,
            until,
            subject,
            json,
        } => {
            let filter = Filter {
                from,
                to,
                purpose,
                since,
                until,
            };
            show(&file, &public, &keys, &filter, subject.as_deref(), json)
        }
    }
}

fn cosigned_text(cosigned: &[audit::note::Cosigned]) -> String {
    if cosigned.is_empty() {
        return String::new();
    }
    let names: Vec<String> = cosigned
        .iter()
        .map(|c| {
            let at = DateTime::<Utc>::from_timestamp(i64::try_from(c.time).unwrap_or(0), 0)
                .map_or_else(|| c.time.to_string(), |t| t.to_rfc3339());
            format!("{} at {at}", c.witness)
        })
        .collect();
    format!(", cosigned by {}", names.join(", "))
}

/// One line about an entry: its kind, and for a transfer who sent what to whom.
fn describe_entry(line: &str) -> String {
    let Ok(entry) = serde_json::from_str::<Value>(line) else {
        return "?".into();
    };
    let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
    match text("kind") {
        "transfer" => format!(
            "transfer {} -> {} for {} at {}: {}",
            text("from"),
            text("to"),
            text("purpose"),
            text("at"),
            text("outcome")
        ),
        "plan" => format!(
            "plan of {} -> {} for {}",
            text("from"),
            text("to"),
            text("purpose")
        ),
        other => other.to_owned(),
    }
}

fn verify(file: &Path, keys: &PublicKeys, checkpoints: &[PathBuf]) -> Result<ExitCode, Failure> {
    let mut out = crate::stdout();
    let (public, witnesses) = keys.load()?;
    let bytes = read(file)?;
    let mut notes = Vec::new();
    for path in checkpoints {
        notes.push(read_text(path)?);
    }
    notes.extend(sidecar(file));
    let refs: Vec<&str> = notes.iter().map(String::as_str).collect();
    match audit::verify_against(&bytes, &public, &witnesses, &refs) {
        Ok(summary) => {
            let versions: Vec<&str> = summary.versions.iter().map(String::as_str).collect();
            writeln!(
                out,
                "ok: {} entries ({} signed in {} checkpoints), first {}, last {}; root {}{}; agreement versions: {}",
                summary.entries,
                summary.signed,
                summary.checkpoints,
                summary.first_time.as_deref().unwrap_or("-"),
                summary.last_time.as_deref().unwrap_or("-"),
                crate::base64(&summary.root),
                cosigned_text(&summary.cosigned),
                if versions.is_empty() {
                    "none".to_owned()
                } else {
                    versions.join(", ")
                }
            )?;
            if summary.unsigned() > 0 {
                writeln!(
                    out,
                    "note: the last {} entries are not covered by a checkpoint yet (a writer stopped before its sync; the next one covers them)",
                    summary.unsigned()
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(damage) => {
            writeln!(out, "damaged: {damage}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one argument per command-line option"
)]
fn replay(
    file: &Path,
    public: &PublicKeys,
    keys: &[PathBuf],
    archive: Option<&Path>,
    policies: Option<&Path>,
    against: Option<&Path>,
    records: Option<&Path>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let ring = load_keys(keys)?;
    let (public_key, _) = public.load()?;
    let bytes = read(file)?;
    let archive = archive.map_or_else(|| Archive::next_to(file), Archive::new);
    if let Some(dir) = policies {
        // A policy folder whose exact versions the log recorded fills gaps in the archive.
        let registry = load(dir)?;
        archive.store(registry.policy_set()).map_err(|e| {
            Failure(format!(
                "cannot add `{}` to the archive: {e}",
                dir.display()
            ))
        })?;
    }
    let against = against.map(load).transpose()?;
    let what_if = against.is_some();
    let record_bytes = records.map(read).transpose()?;
    let options = ReplayOptions {
        archive: &archive,
        against,
        records: record_bytes.as_deref(),
        public_key: &public_key,
        keys: &ring,
    };
    let results = audit::replay(&bytes, options)?;
    let mut out = crate::stdout();
    let mut changed = 0;
    // Why entries could not be replayed, said once per reason; and per field (or
    // other part of a decision) how often it changes which way.
    let mut unavailable: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    let mut per_field: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
    for r in &results {
        if json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
        if r.identical() {
            if !json && !what_if {
                writeln!(
                    out,
                    "seq {}: identical{}",
                    r.seq,
                    if r.record_checked {
                        " (record checked)"
                    } else {
                        ""
                    }
                )?;
            }
            continue;
        }
        changed += 1;
        if json {
            continue;
        }
        if let Some(why) = &r.unavailable {
            unavailable.entry(why).or_default().push(r.seq);
        }
        for c in &r.changes {
            *per_field.entry((&c.what, &c.old, &c.new)).or_default() += 1;
        }
        for c in &r.changes {
            writeln!(
                out,
                "seq {} {} -> {} {} at {}: {}: {} -> {}",
                r.seq, r.from, r.to, r.purpose, r.at, c.what, c.old, c.new
            )?;
        }
    }
    if !json {
        for (why, seqs) in &unavailable {
            let listed: Vec<String> = seqs.iter().take(10).map(u64::to_string).collect();
            writeln!(
                out,
                "not replayed ({} transfer(s): seq {}{}): {why}",
                seqs.len(),
                listed.join(", "),
                if seqs.len() > listed.len() {
                    ", …"
                } else {
                    ""
                }
            )?;
        }
        if !per_field.is_empty() {
            writeln!(
                out,
                "per field, {}:",
                if what_if {
                    "what would change"
                } else {
                    "what differs"
                }
            )?;
            for ((what, old, new), n) in &per_field {
                writeln!(out, "  {what}: {old} -> {new} in {n} transfer(s)")?;
            }
        }
        writeln!(
            out,
            "{} transfers replayed{}: {} identical, {} {}",
            results.len(),
            if what_if {
                " against the new agreements"
            } else {
                ""
            },
            results.len() - changed,
            changed,
            if what_if { "would change" } else { "differ" }
        )?;
    }
    Ok(if changed == 0 || what_if {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Filter {
    from: Option<String>,
    to: Option<String>,
    purpose: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

fn show(
    file: &Path,
    public: &PublicKeys,
    keys: &[PathBuf],
    filter: &Filter,
    subject: Option<&str>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let bytes = read(file)?;
    let (public_key, _) = public.load()?;
    let damaged = audit::verify(&bytes, &public_key).err();
    if let Some(damage) = &damaged {
        stderr!("privacy-gate: the log is damaged, so what it says cannot be trusted: {damage}");
    }
    // The subject's digest under each subject-digest key (entries name the key).
    let subject_refs: Option<Vec<String>> = match subject {
        None => None,
        Some(bsn) => {
            let bsn =
                normalise_bsn(bsn).map_err(|_| Failure("`--subject` is not a valid BSN".into()))?;
            let ring = subject_keys(keys)?;
            let set = ring
                .audit_subject()
                .ok_or_else(|| Failure("no subject-digest key".into()))?;
            Some(set.all().map(|k| audit::subject_digest(k, &bsn)).collect())
        }
    };
    let mut out = crate::stdout();
    let mut plans: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut shown = 0;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(entry) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
        if text("kind") == "plan" {
            if let Some(id) = audit::plan_id(line) {
                let actions = entry
                    .get("fields")
                    .and_then(Value::as_array)
                    .map(|fields| {
                        fields
                            .iter()
                            .map(|f| {
                                let path = f.get("path").and_then(Value::as_str).unwrap_or("?");
                                (path.to_owned(), action_kind(f.get("action")))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                plans.insert(id, actions);
            }
            continue;
        }
        if text("kind") != "transfer" {
            continue;
        }
        let at: Option<DateTime<Utc>> = text("at").parse().ok();
        let keep = filter.from.as_deref().is_none_or(|f| f == text("from"))
            && filter.to.as_deref().is_none_or(|t| t == text("to"))
            && filter
                .purpose
                .as_deref()
                .is_none_or(|p| p == text("purpose"))
            && filter.since.is_none_or(|s| at.is_some_and(|a| a >= s))
            && filter.until.is_none_or(|u| at.is_some_and(|a| a <= u));
        let about_subject = match &subject_refs {
            None => true,
            Some(refs) => refs.iter().any(|r| r == text("subject")),
        };
        if !keep || !about_subject {
            continue;
        }
        shown += 1;
        if json {
            writeln!(out, "{}", String::from_utf8_lossy(line))?;
            continue;
        }
        let summary = fields_crossed(&entry, plans.get(text("plan")));
        let outcome = match entry.get("reason") {
            Some(r) => format!(
                "refused: {}",
                r.get("reason").and_then(Value::as_str).unwrap_or("?")
            ),
            None => "released".to_owned(),
        };
        let versions: Vec<String> = entry
            .get("agreements")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|a| {
                        let t = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("?");
                        format!("{} {}", t("id"), t("version"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        writeln!(
            out,
            "seq {:>6}  {}  {} -> {}  {}  {}{}",
            entry.get("seq").and_then(Value::as_u64).unwrap_or(0),
            text("at"),
            text("from"),
            text("to"),
            text("purpose"),
            outcome,
            if versions.is_empty() {
                String::new()
            } else {
                format!("; under {}", versions.join(" and "))
            }
        )?;
        if !summary.is_empty() {
            writeln!(out, "            {summary}")?;
        }
    }
    if !json {
        writeln!(out, "{shown} transfer(s)")?;
    }
    Ok(if damaged.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How a field crossed, as `show` groups fields: `as is`, `generalised (year)`,
/// `pseudonymised (<domain>)`, `withheld`.
fn action_kind(action: Option<&Value>) -> String {
    match action {
        Some(Value::String(s)) if s == "pass" => "as is".into(),
        Some(Value::String(s)) if s == "block" => "withheld".into(),
        Some(Value::Object(m)) => match (m.get("generalise"), m.get("pseudonymise")) {
            (Some(method), _) => format!("generalised ({})", method.as_str().unwrap_or("?")),
            (_, Some(p)) => format!(
                "pseudonymised ({})",
                p.get("domain").and_then(Value::as_str).unwrap_or("?")
            ),
            _ => "?".into(),
        },
        _ => "?".into(),
    }
}

/// Which fields of a released transfer crossed how, grouped by how (`as is: a, b;
/// withheld: c`), from its `present` counts and its plan's fields; values removed
/// for a reason of their own and unknown fields are named apart. Empty for a
/// refusal, or when the plan is not in the log.
fn fields_crossed(entry: &Value, plan: Option<&Vec<(String, String)>>) -> String {
    let (Some(fields), Some(Value::Array(present))) = (plan, entry.get("present")) else {
        return String::new();
    };
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |how: &str, path: String| match groups.iter_mut().find(|(h, _)| h == how) {
        Some((_, paths)) => paths.push(path),
        None => groups.push((how.to_owned(), vec![path])),
    };
    for triple in present {
        let number = |i: usize| triple.get(i).and_then(Value::as_u64).unwrap_or(0);
        let field = usize::try_from(number(0)).ok().and_then(|i| fields.get(i));
        let Some((path, how)) = field else {
            add("?", format!("field {}", number(0)));
            continue;
        };
        let (seen, released) = (number(1), number(2));
        let times = |n: u64| {
            if n > 1 {
                format!(" \u{d7}{n}")
            } else {
                String::new()
            }
        };
        if how == "withheld" {
            add(how, format!("{path}{}", times(seen)));
            continue;
        }
        if released > 0 {
            add(how, format!("{path}{}", times(released)));
        }
        if seen > released {
            add("removed", format!("{path}{}", times(seen - released)));
        }
    }
    if let Some(n) = entry.get("unknown_fields").and_then(Value::as_u64) {
        add("removed", format!("{n} unknown field(s)"));
    }
    let rank = |how: &str| match how {
        "as is" => 0,
        h if h.starts_with("generalised") => 1,
        h if h.starts_with("pseudonymised") => 2,
        "withheld" => 3,
        "removed" => 4,
        _ => 5,
    };
    groups.sort_by_key(|(how, _)| rank(how));
    groups
        .iter()
        .map(|(how, paths)| format!("{how}: {}", paths.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
