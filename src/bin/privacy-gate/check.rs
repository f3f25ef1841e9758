//! `privacy-gate check`: load and validate every agreement, print every problem at
//! once; optionally list the compiled flows, and fail on warnings too.

use crate::{stdout, Failure};
use chrono::{NaiveDate, Utc};
use clap::Args;
use privacy_gate::{FlowPlan, Registry};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The policy folder.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// Exit 1 when there are warnings, as when there are errors.
    #[arg(long)]
    deny_warnings: bool,
    /// List every compiled flow: sender -> recipient, purpose, what crosses, the
    /// retention and the conditions records must meet.
    #[arg(long)]
    flows: bool,
}

pub(crate) fn run(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let mut out = stdout();
    let registry = match Registry::load_dir(&args.policies) {
        Ok(registry) => registry,
        Err(e) => {
            writeln!(out, "{}", e.diagnostics)?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let today = privacy_gate::amsterdam_date(Utc::now());
    if args.flows {
        for line in flow_lines(&registry, today) {
            writeln!(out, "{line}")?;
        }
    }
    let lints = registry.lints(today);
    for warning in registry.warnings().iter().chain(lints.iter()) {
        writeln!(out, "{warning}")?;
    }
    let warnings = registry.warnings().warning_count() + lints.warning_count();
    let summary = format!(
        "{} agreements, {} flows compiled, {warnings} warning(s)",
        registry.agreements().count(),
        registry.plans().count(),
    );
    if args.deny_warnings && warnings > 0 {
        writeln!(
            out,
            "failed: {summary}, which --deny-warnings counts as errors"
        )?;
        return Ok(ExitCode::FAILURE);
    }
    writeln!(out, "ok: {summary}")?;
    Ok(ExitCode::SUCCESS)
}

/// One entry per compiled flow, by sender, recipient and purpose: a line with what
/// crosses and for how long, then one indented line per condition.
fn flow_lines(registry: &Registry, today: NaiveDate) -> Vec<String> {
    let mut plans: Vec<&FlowPlan> = registry.plans().map(|p| &**p).collect();
    plans.sort_by(|a, b| {
        (a.sender().id(), a.recipient().id(), a.purpose()).cmp(&(
            b.sender().id(),
            b.recipient().id(),
            b.purpose(),
        ))
    });
    let mut lines = vec![format!("{} flow(s):", plans.len())];
    for plan in plans {
        let crossing = plan.fields().iter().filter(|f| f.action().releases());
        let (fields, conditioned) = crossing.fold((0, 0), |(n, c), f| {
            (n + 1, c + usize::from(!f.conditions().is_empty()))
        });
        let release = match plan.aggregate() {
            Some(terms) => format!("aggregates only (cells of at least {})", terms.min_count()),
            None => "records".to_owned(),
        };
        let retention = if plan.retention().is_empty() {
            "none set".to_owned()
        } else {
            let periods: Vec<String> = plan.retention().iter().map(ToString::to_string).collect();
            periods.join(", ")
        };
        let conditioned = if conditioned > 0 {
            format!(" ({conditioned} under conditions of their own)")
        } else {
            String::new()
        };
        let not_in_force: Vec<String> = [plan.sender(), plan.recipient()]
            .into_iter()
            .filter_map(|a| {
                a.in_force(today)
                    .err()
                    .map(|why| format!("{}: {why}", a.id()))
            })
            .collect();
        let in_force = if not_in_force.is_empty() {
            String::new()
        } else {
            format!("; not in force today ({})", not_in_force.join("; "))
        };
        lines.push(format!(
            "{} -> {} for {}: {release}, {fields} of {} field(s) cross{conditioned}, retention {retention}{in_force}",
            plan.sender().id(),
            plan.recipient().id(),
            plan.purpose(),
            plan.fields().len(),
        ));
        for condition in plan.conditions() {
            lines.push(format!(
                "    when {} (rule `{}` of {})",
                condition.condition(),
                condition.rule(),
                condition.agreement()
            ));
        }
    }
    lines
}
