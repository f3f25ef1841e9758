//! `privacy-gate audit ...`: verify, checkpoint, replay and show an audit log.

use crate::{load, load_keys, Failure};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use privacy_gate::audit::{self, Archive, Checkpoint, ReplayOptions};
use privacy_gate::pseudonym::normalise_bsn;
use privacy_gate::KeyRing;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Check every seal and the chain; name the first bad entry.
    Verify {
        /// The log.
        file: PathBuf,
        /// Key file; default: the path in PRIVACY_GATE_KEYS.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// A file holding a checkpoint made earlier, to detect truncation and rollback.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print a sealed checkpoint (entry count and head hash) to keep elsewhere.
    Checkpoint {
        /// The log.
        file: PathBuf,
        /// Key file; default: the path in PRIVACY_GATE_KEYS.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
    /// Decide every logged transfer again and report whether each decision is identical.
    Replay {
        /// The log.
        file: PathBuf,
        /// Key file; default: the path in PRIVACY_GATE_KEYS.
        #[arg(long)]
        keys: Option<PathBuf>,
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
    /// List the logged transfers.
    Show {
        /// The log.
        file: PathBuf,
        /// Key file; default: the path in PRIVACY_GATE_KEYS (needed for --subject).
        #[arg(long)]
        keys: Option<PathBuf>,
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

fn audit_keys(keys: Option<&Path>) -> Result<KeyRing, Failure> {
    let ring = load_keys(keys)?;
    if ring.audit().is_none() {
        return Err(Failure(
            "no audit key: pass --keys FILE (or set PRIVACY_GATE_KEYS) with an `audit` entry"
                .into(),
        ));
    }
    Ok(ring)
}

fn read(file: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(file).map_err(|e| Failure(format!("cannot read `{}`: {e}", file.display())))
}

pub(crate) fn run(command: AuditCommand) -> Result<ExitCode, Failure> {
    match command {
        AuditCommand::Verify {
            file,
            keys,
            checkpoint,
        } => verify(&file, keys.as_deref(), checkpoint.as_deref()),
        AuditCommand::Checkpoint { file, keys } => {
            let mut out = crate::stdout();
            let ring = audit_keys(keys.as_deref())?;
            let bytes = read(&file)?;
            let keys = ring.audit().ok_or_else(|| Failure("no audit key".into()))?;
            match audit::checkpoint(&bytes, keys) {
                Ok(cp) => {
                    writeln!(out, "{}", serde_json::to_string(&cp)?)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(damage) => {
                    writeln!(out, "damaged: {damage}")?;
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCommand::Replay {
            file,
            keys,
            archive,
            policies,
            against,
            records,
            json,
        } => replay(
            &file,
            keys.as_deref(),
            archive.as_deref(),
            policies.as_deref(),
            against.as_deref(),
            records.as_deref(),
            json,
        ),
        AuditCommand::Show {
            file,
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
            show(&file, keys.as_deref(), &filter, subject.as_deref(), json)
        }
    }
}

fn verify(
    file: &Path,
    keys: Option<&Path>,
    checkpoint: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let mut out = crate::stdout();
    let ring = audit_keys(keys)?;
    let keys = ring.audit().ok_or_else(|| Failure("no audit key".into()))?;
    let bytes = read(file)?;
    let result = match checkpoint {
        Some(cp) => {
            let cp: Checkpoint = serde_json::from_slice(&read(cp)?)
                .map_err(|e| Failure(format!("`{}` is not a checkpoint: {e}", cp.display())))?;
            audit::verify_against(&bytes, keys, &cp)
        }
        None => audit::verify(&bytes, keys),
    };
    match result {
        Ok(summary) => {
            let versions: Vec<&str> = summary.versions.iter().map(String::as_str).collect();
            writeln!(
                out,
                "ok: {} entries, first {}, last {}; agreement versions: {}",
                summary.entries,
                summary.first_time.as_deref().unwrap_or("-"),
                summary.last_time.as_deref().unwrap_or("-"),
                if versions.is_empty() {
                    "none".to_owned()
                } else {
                    versions.join(", ")
                }
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(damage) => {
            writeln!(out, "damaged: {damage}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn replay(
    file: &Path,
    keys: Option<&Path>,
    archive: Option<&Path>,
    policies: Option<&Path>,
    against: Option<&Path>,
    records: Option<&Path>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let ring = audit_keys(keys)?;
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
        keys: &ring,
    };
    let results = audit::replay(&bytes, options)?;
    let mut out = crate::stdout();
    let mut changed = 0;
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
            writeln!(
                out,
                "seq {} {} -> {} {} at {}: not replayed: {why}",
                r.seq, r.from, r.to, r.purpose, r.at
            )?;
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
    keys: Option<&Path>,
    filter: &Filter,
    subject: Option<&str>,
    json: bool,
) -> Result<ExitCode, Failure> {
    let bytes = read(file)?;
    let ring = if keys.is_some() || subject.is_some() {
        Some(audit_keys(keys)?)
    } else {
        load_keys(keys).ok()
    };
    if let Some(audit) = ring.as_ref().and_then(KeyRing::audit) {
        if let Err(damage) = audit::verify(&bytes, audit) {
            stderr!("privacy-gate: warning: the log is damaged: {damage}");
        }
    }
    // The subject reference under each audit key (entries name the key that sealed them).
    let subject_refs: Option<HashMap<String, String>> = match subject {
        None => None,
        Some(bsn) => {
            let bsn =
                normalise_bsn(bsn).map_err(|_| Failure("`--subject` is not a valid BSN".into()))?;
            let audit = ring
                .as_ref()
                .and_then(KeyRing::audit)
                .ok_or_else(|| Failure("no audit key".into()))?;
            Some(
                audit
                    .all()
                    .map(|k| (k.id().to_owned(), audit::subject_digest(k, &bsn)))
                    .collect(),
            )
        }
    };
    let mut out = crate::stdout();
    let mut plans: HashMap<String, Vec<String>> = HashMap::new();
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
                            .map(|f| action_kind(f.get("action")))
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
            Some(refs) => {
                let key_id = text("seal").split_once(':').map_or("", |(k, _)| k);
                refs.get(key_id).is_some_and(|r| r == text("subject"))
            }
        };
        if !keep || !about_subject {
            continue;
        }
        shown += 1;
        if json {
            writeln!(out, "{}", String::from_utf8_lossy(line))?;
            continue;
        }
        let mut summary = String::new();
        if let (Some(actions), Some(Value::Array(present))) =
            (plans.get(text("plan")), entry.get("present"))
        {
            let mut counts: std::collections::BTreeMap<&str, u64> =
                std::collections::BTreeMap::new();
            for triple in present {
                let index = triple
                    .get(0)
                    .and_then(Value::as_u64)
                    .and_then(|i| usize::try_from(i).ok());
                let kind = index
                    .and_then(|i| actions.get(i))
                    .map_or("?", String::as_str);
                *counts.entry(kind).or_default() +=
                    triple.get(1).and_then(Value::as_u64).unwrap_or(0);
            }
            let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
            summary = format!(" ({})", parts.join(", "));
        }
        let outcome = match entry.get("reason") {
            Some(r) => format!(
                "refused: {}",
                r.get("reason").and_then(Value::as_str).unwrap_or("?")
            ),
            None => "released".to_owned(),
        };
        writeln!(
            out,
            "seq {:>6}  {}  {} -> {}  {}  {}{}",
            entry.get("seq").and_then(Value::as_u64).unwrap_or(0),
            text("at"),
            text("from"),
            text("to"),
            text("purpose"),
            outcome,
            summary
        )?;
    }
    if !json {
        writeln!(out, "{shown} transfer(s)")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn action_kind(action: Option<&Value>) -> String {
    match action {
        Some(Value::String(s)) if s == "pass" => "plain".into(),
        Some(Value::String(s)) if s == "block" => "blocked".into(),
        Some(Value::Object(m)) if m.contains_key("generalise") => "generalised".into(),
        Some(Value::Object(m)) if m.contains_key("pseudonymise") => "pseudonymised".into(),
        _ => "?".into(),
    }
}
