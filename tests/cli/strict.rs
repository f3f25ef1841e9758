//! Strict by default at the command line: `check --deny-warnings`, `check --flows`,
//! a retention over the recipient's maximum, and `test --province`.

use crate::util::{bin, copy_dir, root, run, text, Scratch};
use std::path::{Path, PathBuf};

/// A copy of the small coverage fixture, valid until far in the future so that no
/// expiry warning depends on the day the test runs.
fn small_set(scratch: &Scratch) -> PathBuf {
    let dir = scratch.path("policies");
    copy_dir(&root().join("tests/fixtures/coverage"), &dir);
    for name in ["a", "b", "c"] {
        edit(
            &dir,
            name,
            "\"until\": \"2027-12-31\"",
            "\"until\": \"2999-12-31\"",
        );
    }
    dir
}

fn edit(dir: &Path, name: &str, from: &str, to: &str) {
    let path = dir.join("x").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn check_deny_warnings_fails_on_warnings_and_says_so() {
    let scratch = Scratch::new("deny-warnings");
    let dir = small_set(&scratch);
    let check = |deny: bool| {
        let mut cmd = bin();
        cmd.arg("check").arg("--policies").arg(&dir);
        if deny {
            cmd.arg("--deny-warnings");
        }
        run(&mut cmd, b"")
    };
    let clean = check(true);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stdout));
    assert_eq!(
        text(&clean.stdout),
        "ok: 3 agreements, 2 flows compiled, 0 warning(s)\n"
    );

    // An outbound rule without retention is a warning: fine by default, an error
    // with --deny-warnings.
    edit(&dir, "a", "\"retention\": \"P1Y\",", "");
    let lenient = check(false);
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient.stdout));
    assert!(text(&lenient.stdout).ends_with("ok: 3 agreements, 2 flows compiled, 1 warning(s)\n"));
    let strict = check(true);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stdout));
    let stdout = text(&strict.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("warning: ")
            && lines[0]
                .ends_with("x/a at `/outbound/0`: outbound rule `to-b` sets no retention period"),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        "failed: 3 agreements, 2 flows compiled, 1 warning(s), which --deny-warnings counts as errors"
    );
}

#[test]
fn check_fails_when_a_flow_keeps_data_longer_than_the_recipient_may() {
    let scratch = Scratch::new("recipient-max");
    let dir = small_set(&scratch);
    edit(
        &dir,
        "b",
        "\"regime\": \"avg\",",
        "\"regime\": \"avg\", \"max_retention\": \"P6M\",",
    );
    let out = run(bin().arg("check").arg("--policies").arg(&dir), b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let file = dir.join("x/a.json").display().to_string();
    let b_file = dir.join("x/b.json").display().to_string();
    assert!(
        stdout.contains(&format!(
            "error: {file}:6:80: x/a at `/outbound/0/retention`: retention P1Y of rule `to-b` is longer than the recipient `x/b` may keep data (P6M, its `max_retention` in `{b_file}`): shorten it to at most P6M"
        )),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 error(s), 0 warning(s)\n"), "{stdout}");
}

#[test]
fn check_flows_lists_every_compiled_flow_in_order() {
    let scratch = Scratch::new("flows");
    let dir = small_set(&scratch);
    let out = run(
        bin().args(["check", "--flows", "--policies"]).arg(&dir),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "2 flow(s):\n\
         x/a -> x/b for p: records, 1 of 2 field(s) cross, retention P1Y\n\
         x/a -> x/c for p: records, 1 of 2 field(s) cross, retention P1Y\n\
         ok: 3 agreements, 2 flows compiled, 0 warning(s)\n"
    );

    // The shipped set: every flow once, sorted, with its terms and conditions; the
    // same output twice.
    let shipped = run(bin().args(["check", "--flows"]), b"");
    let again = run(bin().args(["check", "--flows"]), b"");
    assert_eq!(shipped.stdout, again.stdout);
    let stdout = text(&shipped.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "54 flow(s):", "{stdout}");
    let flows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains(" -> "))
        .collect();
    assert_eq!(flows.len(), 54, "{stdout}");
    let mut sorted = flows.clone();
    sorted.sort();
    assert_eq!(flows, sorted);
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix}:\n{stdout}"))
    };
    let police = at("drenthe/ggd -> noord-nederland/politie for criminal-investigation: ");
    assert!(
        lines[police].starts_with("drenthe/ggd -> noord-nederland/politie for criminal-investigation: records, 19 of 39 field(s) cross, retention P2Y"),
        "{}",
        lines[police]
    );
    assert_eq!(
        lines[police + 1],
        "    when case.disclosure_basis in [consent, conflict-of-duties] (rule `dr-ggd-out-politie-crim` of drenthe/ggd)"
    );
    assert!(
        lines[at("drenthe/zvh -> drenthe/ggd for statistics: ")].contains(
            ": aggregates only (cells of at least 10), 5 of 39 field(s) cross, retention P5Y"
        ),
        "{stdout}"
    );
    assert!(
        lines[at("drenthe/ggd -> drenthe/zvh for signal-assessment: ")]
            .contains(", retention P5Y, P1Y after case-closed, P1Y after signal-unfounded"),
        "{stdout}"
    );
    assert!(
        lines[at("friesland/gemeente -> friesland/zvh for signal-assessment: ")]
            .contains("not in force today (friesland/gemeente: it is an unsigned draft)"),
        "{stdout}"
    );
}

#[test]
fn test_province_runs_only_that_provinces_cases() {
    let all = text(&run(bin().arg("test"), b"").stdout);
    let drenthe_cases = all
        .lines()
        .filter(|l| l.starts_with("ok      drenthe/"))
        .count();
    assert!(drenthe_cases >= 10, "{all}");

    let out = run(bin().args(["test", "--province", "drenthe"]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let ran: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok ")).collect();
    assert_eq!(ran.len(), drenthe_cases, "{stdout}");
    assert!(
        ran.iter().all(|l| l.starts_with("ok      drenthe/")),
        "{stdout}"
    );
    assert!(stdout.ends_with(&format!(
        "{drenthe_cases} case(s): {drenthe_cases} passed, 0 failed\n"
    )));

    // Coverage counts the province's own agreements: Drenthe's cases cover them all.
    let covered = run(
        bin().args([
            "test",
            "--province",
            "drenthe",
            "--min-coverage",
            "100",
            "--coverage",
        ]),
        b"",
    );
    assert_eq!(covered.status.code(), Some(0), "{}", text(&covered.stdout));
    let stdout = text(&covered.stdout);
    assert!(!stdout.contains("groningen/"), "{stdout}");
    assert!(stdout.contains("rules (100.0%)"), "{stdout}");

    // A misspelt province is a usage error with a hint; nothing runs.
    let typo = run(bin().args(["test", "--province", "drente"]), b"");
    assert_eq!(typo.status.code(), Some(2));
    assert!(typo.stdout.is_empty());
    assert_eq!(
        text(&typo.stderr),
        "privacy-gate: error: unknown province `drente` (did you mean `drenthe`?); known: drenthe, friesland, groningen, nl, noord-nederland\n"
    );

    // A known area without cases: a run that tests nothing fails.
    let empty = run(bin().args(["test", "--province", "nl"]), b"");
    assert_eq!(empty.status.code(), Some(1));
    assert!(
        text(&empty.stdout).starts_with("no test cases for `nl` under `policies/nl/tests`"),
        "{}",
        text(&empty.stdout)
    );
}
