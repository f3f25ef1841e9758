//! `privacy-gate aggregate`: counts per cell along a flow that releases aggregates
//! only, cells below the flow's threshold suppressed. The report on stdout is the
//! release; what was not counted goes to stderr, for the operator only.

use crate::{build_gate, chain, Failure, FlowArgs, LimitArgs, EXIT_REFUSED};
use chrono::Utc;
use clap::{Args, ValueEnum};
use privacy_gate::{AggregateError, AggregateReport, LineProblem, RecordError, Transfer};
use std::io::{self, BufRead, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code of a usage error, as clap gives it.
const EXIT_USAGE: u8 = 2;

#[derive(Args)]
pub(crate) struct AggregateArgs {
    #[command(flatten)]
    flow: FlowArgs,
    /// `json` (the release, for the recipient) or `text` (a table to read).
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    #[command(flatten)]
    limits: LimitArgs,
    /// JSON Lines input; stdin when absent.
    input: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The release as JSON.
    Json,
    /// A readable table.
    Text,
}

pub(crate) fn run(args: &AggregateArgs) -> Result<ExitCode, Failure> {
    let limits = &args.limits;
    let gate = build_gate(&args.flow)?.with_limits(privacy_gate::Limits {
        max_line_bytes: limits.max_line_bytes,
        max_depth: limits.max_depth,
        max_values: limits.max_values,
        ..privacy_gate::Limits::default()
    });
    let transfer = Transfer {
        from: &args.flow.from,
        to: &args.flow.to,
        purpose: &args.flow.purpose,
        at: args.flow.at.unwrap_or_else(Utc::now),
    };
    let mut aggregation = match gate.aggregation(&transfer) {
        Ok(aggregation) => aggregation,
        Err(AggregateError::Refused(refusal)) => {
            stderr!("privacy-gate: refused: {refusal}");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
        Err(e @ AggregateError::NotAggregate { .. }) => {
            stderr!("privacy-gate: {e}; use `privacy-gate gate`");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        Err(e) => return Err(Failure::from(e)),
    };
    let reader: Box<dyn BufRead> = match &args.input {
        Some(path) => Box::new(io::BufReader::new(
            std::fs::File::open(path)
                .map_err(|e| Failure(format!("cannot open `{}`: {e}", path.display())))?,
        )),
        None => Box::new(io::BufReader::new(io::stdin())),
    };
    aggregation
        .add_json_lines(reader, |problem| match problem {
            LineProblem::Refused(line, refusal) => {
                stderr!("privacy-gate: line {line}: not counted: {refusal}")
            }
            LineProblem::Malformed(line, RecordError::Json(e)) if e.line <= 1 => {
                stderr!(
                    "privacy-gate: line {line}, column {}: not counted: malformed record: {}",
                    e.column,
                    e.kind
                );
            }
            LineProblem::Malformed(line, error) => {
                stderr!("privacy-gate: line {line}: not counted: {}", chain(error))
            }
            LineProblem::TooLong(line, limit) => {
                stderr!("privacy-gate: line {line}: longer than {limit} bytes; not counted")
            }
            other => stderr!("privacy-gate: line {}: not counted", other.line()),
        })
        .map_err(|e| Failure(format!("counting stopped: {}", chain(&e))))?;
    let report = aggregation.finish();
    let mut out = crate::stdout();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report.to_json())?)?,
        Format::Text => write!(out, "{}", table(&report))?,
    }
    let skipped = report.skipped();
    if skipped.refused + skipped.malformed + skipped.too_long > 0 {
        stderr!(
            "privacy-gate: not counted: {} refused, {} malformed, {} too long",
            skipped.refused,
            skipped.malformed,
            skipped.too_long
        );
    }
    Ok(if skipped.malformed > 0 || skipped.too_long > 0 {
        ExitCode::FAILURE
    } else if skipped.refused > 0 {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The released cells as a table: a column per dimension, then the count.
fn table(report: &AggregateReport) -> String {
    let mut rows: Vec<Vec<String>> = vec![report
        .dimensions()
        .iter()
        .map(|d| d.to_string())
        .chain(std::iter::once("count".to_owned()))
        .collect()];
    for cell in report.cells() {
        rows.push(
            cell.values()
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".to_owned(),
                    other => other.to_string(),
                })
                .chain(std::iter::once(cell.count().to_string()))
                .collect(),
        );
    }
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text.push_str(&format!(
        "{} cell(s) shown; {} cell(s) of fewer than {} records suppressed; no total is given, so no suppressed count can be derived\n",
        report.cells().len(),
        report.suppressed_cells(),
        report.min_count()
    ));
    text
}
