//! `privacy-gate aggregate`: suppressed counts per cell on stdout, what was not
//! counted on stderr by line number only; `gate` along the same flow releases nothing.
use crate::util::{bin, output, run, text, AT};
use serde_json::Value;

fn args(from: &str, to: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "aggregate",
        "--from",
        from,
        "--to",
        to,
        "--purpose",
        "statistics",
        "--at",
        AT,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[test]
fn aggregate_over_the_example_records_gives_suppressed_counts() {
    let out = output(bin().args(args(
        "drenthe/zvh",
        "drenthe/ggd",
        &["examples/records.jsonl"],
    )));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let release: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(release["min_count"], 10);
    assert_eq!(release["cells"], serde_json::json!([]));
    assert!(release["suppressed_cells"].as_u64().unwrap() > 0);
    assert!(release.get("total").is_none());
    // Nothing of a record: no BSN, no name, no case id, no full date.
    let stdout = text(&out.stdout);
    for raw in ["999998523", "Popescu", "zvh-dr-2025-0012", "2025-04-03"] {
        assert!(!stdout.contains(raw), "{raw} in {stdout}");
    }
}

#[test]
fn aggregate_shows_cells_at_the_threshold_and_suppresses_the_rest() {
    let out = output(bin().args(args(
        "drenthe/zvh",
        "drenthe/ggd",
        &["examples/statistics.jsonl"],
    )));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let release: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cells = release["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    assert!(cells.iter().all(|c| c["count"].as_u64().unwrap() >= 10));
    assert!(release["suppressed_cells"].as_u64().unwrap() > 0);
    assert_eq!(
        cells[0]["values"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        [
            "case.exploitation_type",
            "case.opened_on",
            "case.province",
            "case.routing",
            "subject.is_minor"
        ]
    );
    // The readable table says the same, and why there is no total.
    let out = output(bin().args(args(
        "drenthe/zvh",
        "drenthe/ggd",
        &["--format", "text", "examples/statistics.jsonl"],
    )));
    let table = text(&out.stdout);
    assert!(
        table.starts_with("case.exploitation_type  case.opened_on"),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "{} cell(s) shown; {} cell(s) of fewer than 10 records suppressed; no total is given",
            cells.len(),
            release["suppressed_cells"]
        )),
        "{table}"
    );
}

#[test]
fn lines_not_counted_are_reported_by_number_without_content() {
    let input = b"{\"case\": {\"exploitation_type\": \"labour\"}}\n{\"case\": \"Jan Jansen 999998523\n[1]\n";
    let out = run(bin().args(args("drenthe/zvh", "drenthe/ggd", &[])), input);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(
        stderr.contains("line 3: not counted: a record must be a JSON object"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not counted: 0 refused, 2 malformed, 0 too long"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("999998523") && !stderr.contains("Jansen"),
        "{stderr}"
    );
    // The release itself says nothing of what was left out.
    let release: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(release["suppressed_cells"], 1);
    assert!(!text(&out.stdout).contains("malformed"));
}

#[test]
fn gate_along_a_flow_of_aggregates_releases_nothing_and_points_to_aggregate() {
    let out = output(bin().args([
        "gate",
        "--from",
        "drenthe/zvh",
        "--to",
        "drenthe/ggd",
        "--purpose",
        "statistics",
        "--at",
        AT,
        "examples/records.jsonl",
    ]));
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("releases aggregates only"), "{stderr}");
    assert!(stderr.contains("use `privacy-gate aggregate`"), "{stderr}");
}

#[test]
fn aggregate_along_a_flow_of_records_or_a_draft_is_refused() {
    let mut rows = args(
        "groningen/ggd",
        "noord-nederland/politie",
        &["examples/records.jsonl"],
    );
    rows[6] = "criminal-investigation".into();
    let out = output(bin().args(rows));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("use `privacy-gate gate`"));
    let out = output(bin().args(args(
        "friesland/gemeente",
        "friesland/ggd",
        &["examples/records.jsonl"],
    )));
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("unsigned draft"),
        "{}",
        text(&out.stderr)
    );
}
