//! `privacy-gate demo`: the shipped example records along characteristic flows.

use crate::explain::clause;
use crate::{load, load_keys, Failure};
use chrono::{DateTime, Utc};
use privacy_gate::{Action, Gate, KeyRing, Outcome, RemovalReason, Transfer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// (sender kind, recipient kind, purpose), shown for every province.
const FLOWS: [(&str, &str, &str); 4] = [
    ("ggd", "politie", "criminal-investigation"),
    ("gemeente", "zvh", "signal-assessment"),
    ("zvh", "gemeente", "care-coordination"),
    ("zvh", "ggd", "statistics"),
];

const PROVINCES: [&str; 3] = ["drenthe", "groningen", "friesland"];

pub(crate) fn run(
    policies: &Path,
    records: &Path,
    keys: &[std::path::PathBuf],
    at: Option<DateTime<Utc>>,
) -> Result<ExitCode, Failure> {
    let registry = load(policies)?;
    let keys = match keys {
        [_, ..] => load_keys(keys)?,
        [] => {
            let mut domains: Vec<_> = registry
                .plans()
                .flat_map(|p| p.domains().iter().cloned())
                .collect();
            domains.sort();
            domains.dedup();
            let text = KeyRing::generate_file(&domains)
                .map_err(|e| Failure(format!("no random source: {e}")))?;
            KeyRing::from_json("throw-away demo keys", text.as_bytes())?
        }
    };
    let text = std::fs::read_to_string(records)
        .map_err(|e| Failure(format!("cannot read `{}`: {e}", records.display())))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let gate = Gate::new(registry, keys);
    let at = at.unwrap_or_else(Utc::now);
    let mut out = crate::stdout();
    writeln!(
        out,
        "privacy-gate demo: {} agreements, {} example records, transfers at {}\n",
        gate.registry().agreements().count(),
        lines.len(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )?;
    for province in PROVINCES {
        for (from_kind, to_kind, purpose) in FLOWS {
            let from = organisation(&gate, province, from_kind);
            let to = organisation(&gate, province, to_kind);
            write!(
                out,
                "{}",
                flow_report(
                    &gate,
                    &Transfer {
                        from: &from,
                        to: &to,
                        purpose,
                        at
                    },
                    province,
                    &lines
                )
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The organisation of `kind` that works in `province`: one located there, else one
/// serving it (the regional police and OM); `<province>/<kind>` when there is none, so
/// the transfer is refused naming it.
fn organisation(gate: &Gate, province: &str, kind: &str) -> String {
    let of_kind = || gate.registry().agreements().filter(|a| a.kind() == kind);
    of_kind()
        .find(|a| a.province() == province)
        .or_else(|| of_kind().find(|a| a.works_in(province)))
        .map_or_else(|| format!("{province}/{kind}"), |a| a.id().to_owned())
}

fn record_province(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    value.pointer("/case/province")?.as_str().map(str::to_owned)
}

/// A flow of aggregates only: the province's example records counted per cell.
fn aggregate_report(
    gate: &Gate,
    transfer: &Transfer<'_>,
    province: &str,
    lines: &[&str],
    out: &mut String,
) {
    let mut aggregation = match gate.aggregation(transfer) {
        Ok(aggregation) => aggregation,
        Err(e) => {
            let _ = writeln!(out, "   REFUSED: {}\n", crate::chain(&e));
            return;
        }
    };
    let mine: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| record_province(l).as_deref() == Some(province))
        .collect();
    for line in &mine {
        // A record not counted shows in no cell; the demo names only the totals.
        let _ = aggregation.add_json(line.as_bytes());
    }
    let report = aggregation.finish();
    let _ = writeln!(
        out,
        "   aggregates only, no record crosses: counts per cell of {}, cells under {} suppressed",
        report.dimensions().join(", "),
        report.min_count()
    );
    let _ = writeln!(
        out,
        "   {} example records of {province}: {} cell(s) shown, {} suppressed",
        mine.len(),
        report.cells().len(),
        report.suppressed_cells()
    );
    for cell in report.cells() {
        let values: Vec<String> = cell.values().iter().map(Value::to_string).collect();
        let _ = writeln!(
            out,
            "   cell           {} -> {}",
            values.join(", "),
            cell.count()
        );
    }
    out.push('\n');
}

fn flow_report(gate: &Gate, transfer: &Transfer<'_>, province: &str, lines: &[&str]) -> String {
    let mut out = format!(
        "== {} -> {} for {} ==\n",
        transfer.from, transfer.to, transfer.purpose
    );
    let flow = match gate.flow(transfer) {
        Ok(flow) => flow,
        Err(privacy_gate::Refusal::AggregatesOnly { .. }) => {
            aggregate_report(gate, transfer, province, lines, &mut out);
            return out;
        }
        Err(refusal) => {
            let _ = writeln!(out, "   REFUSED: {refusal}\n");
            return out;
        }
    };
    let plan = flow.plan();
    let _ = writeln!(
        out,
        "   regime {}; {} {} and {} {}; sender rules {}; recipient rules {}",
        plan.regime(),
        plan.sender().id(),
        plan.sender().version(),
        plan.recipient().id(),
        plan.recipient().version(),
        plan.sender_rules().join(", "),
        plan.recipient_rules().join(", "),
    );
    let mine: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| record_province(l).as_deref() == Some(province))
        .collect();
    let mut by_action: BTreeMap<u8, BTreeMap<String, String>> = BTreeMap::new();
    let mut dropped: BTreeMap<String, u32> = BTreeMap::new();
    let (mut released, mut refused) = (0, Vec::new());
    let mut example = None;
    for line in &mine {
        match flow.apply_json(line.as_bytes()) {
            Ok(Outcome::Released(r)) => {
                released += 1;
                for f in r.decision.fields() {
                    let (rank, label) = match f.action {
                        Action::Pass => (0, String::new()),
                        Action::Generalise(m) => (1, format!(" to {m}")),
                        Action::Pseudonymise(d) => (2, format!(" in {d}")),
                        _ => (
                            3,
                            format!(
                                " [sender: {}; recipient: {}]",
                                clause(f.sender_clause, f.sender_action),
                                clause(f.recipient_clause, f.recipient_action)
                            ),
                        ),
                    };
                    by_action
                        .entry(rank)
                        .or_default()
                        .insert(f.path.to_owned(), label);
                }
                for removal in r.decision.removed() {
                    let what = match removal.reason {
                        RemovalReason::UnknownField => format!("unknown field {}", removal.pointer),
                        reason => format!(
                            "{reason} at {}",
                            removal.path.as_deref().unwrap_or(&removal.pointer)
                        ),
                    };
                    *dropped.entry(what).or_default() += 1;
                }
                if example.is_none() {
                    example = serde_json::to_string(&r.record).ok();
                }
            }
            Ok(Outcome::Refused(why)) => refused.push(why.to_string()),
            Err(e) => refused.push(crate::chain(&e)),
        }
    }
    let _ = writeln!(
        out,
        "   {} example records of {province}: {released} released, {} refused; the recipient keeps them until {}",
        mine.len(),
        refused.len(),
        flow.retain_until().map_or_else(|| "no set date".to_owned(), |d| d.to_string()),
    );
    let headings = ["plain", "generalised", "pseudonymised", "removed"];
    for (rank, heading) in headings.iter().enumerate() {
        let Some(fields) = by_action.get(&u8::try_from(rank).unwrap_or(0)) else {
            continue;
        };
        if rank == 0 || rank == 3 && fields.values().all(String::is_empty) {
            let _ = writeln!(
                out,
                "   {heading:<14} {}",
                fields.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        } else {
            for (path, label) in fields {
                let _ = writeln!(out, "   {heading:<14} {path}{label}");
            }
        }
    }
    for (what, count) in &dropped {
        let _ = writeln!(out, "   dropped        {what} (x{count})");
    }
    for why in refused {
        let _ = writeln!(out, "   refused record: {why}");
    }
    if let Some(example) = example {
        let _ = writeln!(out, "   first released record: {example}");
    }
    out.push('\n');
    out
}
