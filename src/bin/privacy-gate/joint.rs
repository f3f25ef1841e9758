//! `privacy-gate joint`: draft a region's joint agreements from the common ground of
//! its provinces' agreements (`privacy_gate::authoring::joint`), with a report per
//! province and the provinces' test cases re-run against the draft.

use crate::{load, Failure};
use chrono::{DateTime, Utc};
use clap::Args;
use privacy_gate::authoring::joint::{draft, report, rerun_cases};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code for a usage error (what clap uses too).
const EXIT_USAGE: u8 = 2;

#[derive(Args)]
pub(crate) struct JointArgs {
    /// The region: an area whose organisations serve provinces, like `noord-nederland`.
    #[arg(long)]
    region: String,
    /// The folder to write the draft into; it must not exist yet, or be empty.
    #[arg(long)]
    out: PathBuf,
    /// Moment drafted (RFC 3339); default now. Decides which flows are in force today.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    /// The policy folder (agreements and their test cases).
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
}

/// Writes `text` to a new file `path`, never overwriting one.
fn write_new(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure(format!("cannot create `{}`: {e}", parent.display())))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Failure(format!("cannot create `{}`: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure(format!("cannot write `{}`: {e}", path.display())))
}

pub(crate) fn run(args: &JointArgs) -> Result<ExitCode, Failure> {
    let registry = load(&args.policies)?;
    let at = args.at.unwrap_or_else(Utc::now);
    let joint = match draft(&registry, &args.region, at) {
        Ok(d) => d,
        Err(e @ privacy_gate::authoring::joint::JointError::UnknownRegion { .. }) => {
            stderr!("privacy-gate: error: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        Err(e) => return Err(Failure(e.to_string())),
    };
    let cases = rerun_cases(&args.policies, &joint).map_err(|e| Failure(e.to_string()))?;
    let occupied = std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        stderr!(
            "privacy-gate: error: `{}` is not empty; name a new folder",
            args.out.display()
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let policies = args.out.join("policies");
    write_new(&policies.join("schema.json"), &joint.schema.text)?;
    for file in &joint.files {
        write_new(&policies.join(&file.path), &file.text)?;
    }
    write_new(
        &args.out.join("report.md"),
        &report(&joint, Some(&cases), false),
    )?;
    write_new(
        &args.out.join("report.html"),
        &report(&joint, Some(&cases), true),
    )?;
    let json = serde_json::json!({
        "region": joint.region,
        "provinces": joint.provinces,
        "at": joint.at,
        "flows": joint.flows,
        "left_out": joint.left_out,
        "provinces_report": joint.reports,
        "cases": cases,
    });
    write_new(
        &args.out.join("joint.json"),
        &(serde_json::to_string_pretty(&json)? + "\n"),
    )?;
    let stricter: Vec<String> = joint
        .reports
        .iter()
        .map(|r| format!("{} {}", r.province, r.stricter.len()))
        .collect();
    writeln!(
        crate::stdout(),
        "drafted {} agreements (status draft) in {}: {} flows kept, {} left out; fields made stricter: {}; {} of {} test cases change (report.md, report.html, joint.json)",
        joint.files.len(),
        policies.display(),
        joint.flows.len(),
        joint.left_out.len(),
        stricter.join(", "),
        cases.changed.len(),
        cases.run,
    )?;
    Ok(ExitCode::SUCCESS)
}
