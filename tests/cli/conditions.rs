//! Field conditions and retention from an event, as the command line shows them.
use crate::util::{bin, run, text, Scratch, AT};

const NO_CONSENT: &str = r#"{"case":{"id":"zvh-dr-c02","province":"drenthe","status":"open","consent":"refused"},"subject":{"name":{"family":"Jansen"}},"health":{"care_need":true}}"#;

fn explain(extra: &[&str]) -> std::process::Output {
    let mut cmd = bin();
    cmd.args([
        "explain",
        "--from",
        "drenthe/zvh",
        "--to",
        "drenthe/gemeente",
        "--purpose",
        "care-coordination",
        "--at",
        AT,
    ])
    .args(extra);
    run(&mut cmd, NO_CONSENT.as_bytes())
}

#[test]
fn explain_shows_a_field_condition_and_the_removal_it_caused() {
    let out = explain(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("health.care_need"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        row.contains("pass (1 of 1 removed) if case.consent in [given]"),
        "{row}"
    );
    assert!(
        stdout.contains("removed values:\n  /health/care_need: condition not met (the condition of drenthe/zvh dr-zvh-out-gemeente-care)"),
        "{stdout}"
    );
    // The rest of the record crosses.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("subject.name.family") && l.contains(" pass ")),
        "{stdout}"
    );

    let out = explain(&["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let field = decision["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "health.care_need")
        .unwrap();
    assert_eq!(
        field["conditions"],
        serde_json::json!([{"agreement": "drenthe/zvh", "rule": "dr-zvh-out-gemeente-care", "when": "case.consent in [given]"}])
    );
    assert_eq!(field["released"], 0);
    let removed = &decision["removed"][0];
    assert_eq!(removed["reason"], "condition-not-met");
    assert_eq!(removed["clause"]["rule"], "dr-zvh-out-gemeente-care");
}

#[test]
fn gate_states_a_retention_that_waits_for_its_event() {
    let dir = Scratch::new("cond");
    let keys = dir.path("keys.json");
    let out = run(
        bin()
            .args(["keygen", "--domain", "drenthe/zvh-signalen", "--out"])
            .arg(&keys),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let input = concat!(
        r#"{"case":{"id":"zvh-dr-c03","status":"open"}}"#,
        "\n",
        r#"{"case":{"id":"zvh-dr-c04","status":"closed","closed_on":"2026-01-10"}}"#,
        "\n",
        r#"{"case":{"id":"zvh-dr-c05","status":"closed","signal_unfounded_on":"2024-06-01"}}"#,
        "\n"
    );
    let out = run(
        bin()
            .args([
                "gate",
                "--from",
                "drenthe/gemeente",
                "--to",
                "drenthe/zvh",
                "--purpose",
                "signal-assessment",
                "--at",
                AT,
                "--keys",
            ])
            .arg(&keys),
        input.as_bytes(),
    );
    // The third signal was found unfounded too long ago: refused, so exit code 3.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["_transfer"]["retain_until"], "2031-03-02");
    assert_eq!(
        lines[0]["_transfer"]["retain"],
        serde_json::json!([
            {"period": "P1Y", "after": "case-closed"},
            {"period": "P1Y", "after": "signal-unfounded"}
        ])
    );
    assert_eq!(lines[1]["_transfer"]["retain_until"], "2027-01-10");
    assert!(
        text(&out.stderr)
            .contains("retention period after event `signal-unfounded` ended before the transfer"),
        "{}",
        text(&out.stderr)
    );
}
