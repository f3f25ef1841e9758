//! `privacy-gate explain`: a readable table of one record's decision.

use crate::{build_gate, Failure, FlowArgs, EXIT_REFUSED};
use chrono::Utc;
use privacy_gate::{ClauseRef, Decision, Outcome, Transfer};
use std::io::{Read, Write as _};
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(args: &FlowArgs, json: bool, input: Option<&Path>) -> Result<ExitCode, Failure> {
    let gate = build_gate(args)?;
    let bytes = match input {
        Some(path) => std::fs::read(path)
            .map_err(|e| Failure(format!("cannot read `{}`: {e}", path.display())))?,
        None => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            buf
        }
    };
    let transfer = Transfer {
        from: &args.from,
        to: &args.to,
        purpose: &args.purpose,
        at: args.at.unwrap_or_else(Utc::now),
    };
    let mut out = crate::stdout();
    match gate.apply_json(&transfer, &bytes) {
        Ok(Outcome::Released(released)) => {
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&released.decision.to_json())?
                )?;
            } else {
                write!(out, "{}", explain_text(&released.decision))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(Outcome::Refused(refusal)) => {
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "refused": refusal }))?
                )?;
            } else {
                writeln!(out, "refused: {refusal}")?;
            }
            Ok(ExitCode::from(EXIT_REFUSED))
        }
        Err(e) => Err(Failure::from(e)),
    }
}

/// `rule-id (action)` or the default-deny marker.
pub(crate) fn clause(c: Option<&ClauseRef>, action: &privacy_gate::Action) -> String {
    match c {
        Some(c) => format!("{} ({action})", c.rule()),
        None => "none: default deny".to_owned(),
    }
}

/// The heading, the per-field table and the removed values of a decision.
pub(crate) fn explain_text(decision: &Decision) -> String {
    let plan = decision.plan();
    let mut out = format!(
        "{} ({}) -> {} ({}), purpose {}, regime {}, at {}\n",
        plan.sender().id(),
        plan.sender().version(),
        plan.recipient().id(),
        plan.recipient().version(),
        plan.purpose(),
        decision.regime(),
        decision
            .at()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let pending: Vec<String> = decision
        .retain_pending()
        .iter()
        .map(ToString::to_string)
        .collect();
    match (decision.retain_until(), pending.is_empty()) {
        (Some(day), true) => out.push_str(&format!("the recipient may keep this until {day}\n\n")),
        (Some(day), false) => out.push_str(&format!(
            "the recipient may keep this until {day}, and no longer than {} (the record does not mark that event yet)\n\n",
            pending.join(", nor ")
        )),
        (None, false) => out.push_str(&format!(
            "the recipient may keep this no longer than {} (the record does not mark that event yet)\n\n",
            pending.join(", nor ")
        )),
        (None, true) => out.push_str("the sender's rule sets no retention period\n\n"),
    }
    let mut rows = vec![[
        "path".to_owned(),
        "category".to_owned(),
        "action".to_owned(),
        "sender clause".to_owned(),
        "recipient clause".to_owned(),
        "legal basis".to_owned(),
    ]];
    for f in decision.fields() {
        let mut action = f.action.to_string();
        if f.action.releases() && f.released < f.occurrences {
            action.push_str(&format!(
                " ({} of {} removed)",
                f.occurrences - f.released,
                f.occurrences
            ));
        } else if f.occurrences > 1 {
            action.push_str(&format!(" (x{})", f.occurrences));
        }
        if !f.conditions.is_empty() {
            let conditions: Vec<String> = f
                .conditions
                .iter()
                .map(|c| c.condition().to_string())
                .collect();
            action.push_str(&format!(" if {}", conditions.join(" and ")));
        }
        rows.push([
            f.path.to_owned(),
            f.category.to_owned(),
            action,
            clause(f.sender_clause, f.sender_action),
            clause(f.recipient_clause, f.recipient_action),
            if f.action.releases() {
                f.legal_basis.join(", ")
            } else {
                "-".to_owned()
            },
        ]);
    }
    out.push_str(&table(&rows));
    out.push_str("\nclauses:\n");
    for (agreement, rule) in plan.rules() {
        out.push_str(&format!("  {} {}", agreement.id(), rule.id()));
        if let Some(covenant) = &rule.covenant() {
            out.push_str(&format!(" ({covenant})"));
        }
        if let Some(note) = &rule.note() {
            out.push_str(&format!(": {note}"));
        }
        if let Some(condition) = rule.condition() {
            out.push_str(&format!(" [only when {condition}]"));
        }
        out.push('\n');
    }
    if !decision.removed().is_empty() {
        out.push_str("\nremoved values:\n");
        for r in decision.removed() {
            match &r.clause {
                Some(c) => out.push_str(&format!(
                    "  {}: {} (the condition of {} {})\n",
                    r.pointer,
                    r.reason,
                    c.agreement(),
                    c.rule()
                )),
                None => out.push_str(&format!("  {}: {}\n", r.pointer, r.reason)),
            }
        }
    }
    out
}

/// Left-aligned columns, two spaces apart, a rule under the header.
pub(crate) fn table<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .as_ref()
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(rule.join("  ").trim_end());
            out.push('\n');
        }
    }
    out
}
