//! The command line, run as a real process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const AT: &str = "2026-03-02T10:00:00Z";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_privacy-gate"));
    cmd.current_dir(root()).env_remove("PRIVACY_GATE_KEYS");
    cmd
}

fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh folder under the system temp dir.
fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "privacy-gate-cli-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn keys() -> PathBuf {
    let path = scratch().join("keys.json");
    let out = run(bin().args(["keygen", "--out"]).arg(&path), b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}

fn gate_args(from: &str, to: &str, purpose: &str) -> Vec<String> {
    [
        "gate",
        "--from",
        from,
        "--to",
        to,
        "--purpose",
        purpose,
        "--at",
        AT,
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn check_accepts_the_shipped_policies() {
    let out = run(bin().arg("check"), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("ok: 15 agreements"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_reports_every_problem_with_place_and_hint() {
    let out = run(
        bin().args(["check", "--policies", "tests/fixtures/bad-policies"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let expected = [
        "error: tests/fixtures/bad-policies/drenthe/ggd.json:49:25: drenthe/ggd at `/outbound/0/to/organisation`: unknown organisation `drenthe/zhv` (did you mean `drenthe/zvh`?)",
        "error: tests/fixtures/bad-policies/drenthe/ggd.json:51:18: drenthe/ggd at `/outbound/0/purpose`: purpose `signal-assesment` is not among this agreement's purposes (did you mean `signal-assessment`?)",
        "error: tests/fixtures/bad-policies/drenthe/ggd.json:73:18: drenthe/ggd at `/outbound/0/categories/helth`: unknown category `helth` (did you mean `health`?)",
        "error: tests/fixtures/bad-policies/drenthe/ggd.json:78:31: drenthe/ggd at `/outbound/0/paths/subject.brith_date`: unknown field path `subject.brith_date` (did you mean `subject.birth_date`?)",
        "4 error(s), 0 warning(s)",
    ];
    assert_eq!(stdout.trim_end().lines().collect::<Vec<_>>(), expected);
}

#[test]
fn gate_releases_every_example_record_in_order() {
    let keys = keys();
    let out = run(
        bin()
            .args(gate_args(
                "drenthe/ggd",
                "drenthe/politie",
                "criminal-investigation",
            ))
            .arg("--keys")
            .arg(&keys)
            .arg("examples/records.jsonl"),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let input = std::fs::read_to_string(root().join("examples/records.jsonl")).unwrap();
    let inputs: Vec<serde_json::Value> = input
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outputs: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(inputs.len(), outputs.len());
    for (i, o) in inputs.iter().zip(&outputs) {
        assert_eq!(i.pointer("/case/id"), o.pointer("/case/id"));
        assert_eq!(o["_transfer"]["retain_until"], "2028-03-02");
        assert!(o.get("health").is_none() && o.get("notes").is_none());
        if let Some(bsn) = o.pointer("/subject/bsn") {
            assert!(bsn.as_str().unwrap().starts_with("pg1:k1:"), "{bsn}");
        }
    }
}

#[test]
fn malformed_lines_are_reported_by_number_without_content_and_the_run_goes_on() {
    let input = concat!(
        r#"{"case": {"id": "first"}}"#,
        "\n",
        r#"{"case": {"id": "Jansen-secret"}, "case": {}}"#,
        "\n",
        "\n",
        r#"{"case": {"id": "Pietersen-secret""#,
        "\n",
        r#"["not", "an", "object"]"#,
        "\n",
        r#"{"case": {"id": "last"}}"#,
        "\n",
    );
    let out = run(
        bin().args(gate_args(
            "drenthe/politie",
            "drenthe/om",
            "criminal-investigation",
        )),
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let ids: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["case"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["first", "last"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 2, column"), "{stderr}");
    assert!(stderr.contains("duplicate key in object"), "{stderr}");
    assert!(stderr.contains("line 4, column"), "{stderr}");
    assert!(
        stderr.contains("line 5: a record must be a JSON object"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 released, 0 refused, 3 malformed"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret") && !stderr.contains("not"),
        "{stderr}"
    );
}

#[test]
fn a_transfer_that_is_not_allowed_releases_nothing_and_exits_3() {
    let record = br#"{"case": {"id": "x"}}"#;
    let cases = [
        (
            gate_args("friesland/gemeente", "friesland/zvh", "signal-assessment"),
            "is an unsigned draft",
        ),
        (
            gate_args("drenthe/ggd", "drente/politie", "criminal-investigation"),
            "did you mean `drenthe/politie`",
        ),
        (
            gate_args("drenthe/om", "drenthe/ggd", "care-coordination"),
            "does not cover purpose `care-coordination`",
        ),
        // Needs a pseudonym, and no key file is given.
        (
            gate_args("drenthe/ggd", "drenthe/politie", "criminal-investigation"),
            "no key for it was loaded",
        ),
    ];
    for (args, reason) in cases {
        let out = run(bin().args(&args), record);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        assert!(
            text(&out.stderr).contains(reason),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn keys_come_from_the_environment_too_and_refused_records_exit_3() {
    let keys = keys();
    let input = concat!(
        r#"{"case": {"id": "a", "consent": "given"}}"#,
        "\n",
        r#"{"case": {"id": "b", "consent": "refused"}}"#,
        "\n",
    );
    let out = run(
        bin()
            .args(gate_args(
                "groningen/zvh",
                "groningen/gemeente",
                "care-coordination",
            ))
            .env("PRIVACY_GATE_KEYS", &keys),
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert!(
        text(&out.stderr).contains("line 2: refused: rule"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn explain_prints_a_table_with_clauses_and_legal_basis() {
    let keys = keys();
    let out = run(
        bin()
            .args([
                "explain",
                "--from",
                "drenthe/ggd",
                "--to",
                "drenthe/politie",
                "--purpose",
                "criminal-investigation",
                "--at",
                AT,
            ])
            .arg("--keys")
            .arg(&keys)
            .arg("examples/typical-record.json"),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().find(|l| l.starts_with("path")).unwrap();
    for column in [
        "category",
        "action",
        "sender clause",
        "recipient clause",
        "legal basis",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let bsn = stdout
        .lines()
        .find(|l| l.starts_with("subject.bsn "))
        .unwrap();
    assert!(
        bsn.contains("pseudonymise(drenthe/mensenhandel)")
            && bsn.contains("dr-ggd-out-politie-crim"),
        "{bsn}"
    );
    assert!(!stdout.contains("999998523"));
    let clauses = stdout.split("clauses:\n").nth(1).unwrap();
    assert!(
        clauses
            .lines()
            .any(|l| l.starts_with("  drenthe/ggd dr-ggd-out-politie-crim (")),
        "{clauses}"
    );

    let out = run(
        bin()
            .args([
                "explain",
                "--json",
                "--from",
                "drenthe/ggd",
                "--to",
                "drenthe/politie",
                "--purpose",
                "criminal-investigation",
                "--at",
                AT,
            ])
            .arg("--keys")
            .arg(&keys),
        &std::fs::read(root().join("examples/typical-record.json")).unwrap(),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["from"], "drenthe/ggd");
    assert_eq!(json["agreements"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn demo_shows_all_three_provinces() {
    let out = run(bin().args(["demo", "--at", AT]), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "== drenthe/ggd -> drenthe/politie for criminal-investigation ==",
        "== groningen/ggd -> groningen/politie for criminal-investigation ==",
        "== friesland/gemeente -> friesland/zvh for signal-assessment ==",
        "REFUSED: the sender's agreement `friesland/gemeente` (version 2025.1) is not in force: it is an unsigned draft",
        "pseudonymised  subject.bsn in drenthe/mensenhandel",
        "generalised    subject.birth_date to age-band",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
}

#[test]
fn keygen_writes_a_private_file_and_never_overwrites() {
    let path = scratch().join("k.json");
    let out = run(
        bin()
            .args([
                "keygen",
                "--domain",
                "drenthe/mensenhandel",
                "--audit",
                "--out",
            ])
            .arg(&path),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ring = privacy_gate::KeyRing::from_file(&path).unwrap();
    assert!(ring.audit().is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let before = std::fs::read(&path).unwrap();
    let again = run(
        bin()
            .args(["keygen", "--domain", "a/b", "--out"])
            .arg(&path),
        b"",
    );
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
