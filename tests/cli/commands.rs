//! The command line, run as a real process.
use crate::util::{bin, copy_dir, pub_of, root, run, text, write_audit_keys, Scratch, AT};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A key file without an audit key, in `dir`.
fn keys(dir: &Scratch) -> PathBuf {
    let path = dir.path("keys.json");
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
        "error: tests/fixtures/bad-policies/drenthe/zvh.json:46:32: drenthe/zvh at `/outbound/0/when/not/path`: unknown field path `case.stauts` (did you mean `case.status`?); a condition reads a field of `policies/schema.json`",
        "5 error(s), 0 warning(s)",
    ];
    assert_eq!(stdout.trim_end().lines().collect::<Vec<_>>(), expected);
}

#[test]
fn gate_releases_every_example_record_in_order() {
    let dir = Scratch::new("cli");
    let keys = keys(&dir);
    let out = run(
        bin()
            .args(gate_args("drenthe/ggd", "drenthe/zvh", "signal-assessment"))
            .arg("--keys")
            .arg(&keys)
            .arg("examples/ggd-reports.jsonl"),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let input = std::fs::read_to_string(root().join("examples/ggd-reports.jsonl")).unwrap();
    let inputs: Vec<serde_json::Value> = input
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outputs: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(inputs.len(), outputs.len());
    // The case id is pseudonymised along with the BSN in the ZVH's signal domain (it
    // would tie the pseudonym to the case otherwise): one pseudonym per case, in the
    // input's order.
    let ids: std::collections::BTreeSet<String> = outputs
        .iter()
        .map(|o| o.pointer("/case/id").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), outputs.len());
    for (i, o) in inputs.iter().zip(&outputs) {
        let id = o.pointer("/case/id").and_then(|v| v.as_str()).unwrap();
        assert!(id.starts_with("pg2:k1:"), "{id}");
        assert_eq!(i.pointer("/case/opened_on"), o.pointer("/case/opened_on"));
        assert_eq!(
            i.pointer("/case/exploitation_type"),
            o.pointer("/case/exploitation_type")
        );
        // One year after the signal is found unfounded or the case closed, at most
        // five years from the transfer: these open cases wait for their event.
        assert_eq!(o["_transfer"]["retain_until"], "2031-03-02");
        assert!(o.pointer("/health/summary").is_none() && o.get("notes").is_none());
        if let Some(bsn) = o.pointer("/subject/bsn") {
            assert!(bsn.as_str().unwrap().starts_with("pg2:k1:"), "{bsn}");
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
            "noord-nederland/politie",
            "noord-nederland/om",
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
            gate_args(
                "drenthe/ggd",
                "noord-nederlnd/politie",
                "criminal-investigation",
            ),
            "did you mean `noord-nederland/politie`",
        ),
        (
            gate_args("noord-nederland/om", "drenthe/ggd", "care-coordination"),
            "does not cover purpose `care-coordination`",
        ),
        // Needs a pseudonym, and no key file is given.
        (
            gate_args("drenthe/ggd", "drenthe/zvh", "signal-assessment"),
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
    let dir = Scratch::new("cli");
    let keys = keys(&dir);
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
        text(&out.stderr).contains("line 2: refused: the condition of rule"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn explain_prints_a_table_with_clauses_and_legal_basis() {
    let dir = Scratch::new("cli");
    let keys = keys(&dir);
    let out = run(
        bin()
            .args([
                "explain",
                "--from",
                "drenthe/ggd",
                "--to",
                "noord-nederland/politie",
                "--purpose",
                "criminal-investigation",
                "--at",
                AT,
            ])
            .arg("--keys")
            .arg(&keys)
            .arg("examples/typical-ggd-report.json"),
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
        bsn.contains("block") && bsn.contains("dr-ggd-out-politie-crim"),
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
                "noord-nederland/politie",
                "--purpose",
                "criminal-investigation",
                "--at",
                AT,
            ])
            .arg("--keys")
            .arg(&keys),
        &std::fs::read(root().join("examples/typical-ggd-report.json")).unwrap(),
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
        "== drenthe/ggd -> noord-nederland/politie for criminal-investigation ==",
        "== groningen/ggd -> noord-nederland/politie for criminal-investigation ==",
        "== friesland/gemeente -> friesland/zvh for signal-assessment ==",
        "REFUSED: the sender's agreement `friesland/gemeente` (version 2025.1) is not in force: it is an unsigned draft",
        "pseudonymised  subject.bsn in drenthe/zvh-signalen",
        "== groningen/zvh -> groningen/ggd for statistics ==",
        "aggregates only, no record crosses: counts per cell of case.exploitation_type, case.opened_on, case.province, case.routing, subject.is_minor, cells under 15 suppressed",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
}

#[test]
fn keygen_writes_a_private_file_and_never_overwrites() {
    let dir = Scratch::new("cli");
    let path = dir.path("k.json");
    let out = run(
        bin()
            .args(["keygen", "--domain", "drenthe/zvh-signalen", "--out"])
            .arg(&path),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ring = privacy_gate::KeyRing::from_file(&path).unwrap();
    assert!(ring
        .domain(&privacy_gate::DomainId::new("drenthe/zvh-signalen").unwrap())
        .is_some());
    // Each audit role in a file of its own; the writer's public key next to its key.
    let writer = dir.path("writer.json");
    let out = run(
        bin()
            .args(["keygen", "--audit-writer", "test.example/audit", "--out"])
            .arg(&writer),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ring = privacy_gate::KeyRing::from_file(&writer).unwrap();
    assert!(ring.audit_writer().is_some() && ring.audit_records().is_none());
    let public = std::fs::read_to_string(pub_of(&writer)).unwrap();
    assert!(
        privacy_gate::audit::VerifierKey::parse(&public).is_ok(),
        "{public}"
    );
    assert!(!public.contains(&text(&std::fs::read(&writer).unwrap())[40..70]));
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

/// A key file with every audit role, `name` in `dir` (its public key at `<name>.pub`).
fn audit_keys(dir: &Scratch, name: &str) -> PathBuf {
    let path = dir.path(name);
    write_audit_keys(&path, name.len() as u8);
    path
}

fn gate_audited(keys: &Path, log: &Path, from: &str, to: &str, purpose: &str) -> Output {
    run(
        bin()
            .args(gate_args(from, to, purpose))
            .arg("--keys")
            .arg(keys)
            .arg("--audit")
            .arg(log)
            .arg("examples/ggd-reports.jsonl"),
        b"",
    )
}

#[test]
fn audited_gating_verifies_checkpoints_and_detects_truncation() {
    let dir = Scratch::new("cli");
    let keys = audit_keys(&dir, "audit-keys.json");
    let log = dir.path("audit.log");
    let out = gate_audited(
        &keys,
        &log,
        "drenthe/ggd",
        "drenthe/zvh",
        "signal-assessment",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let verify = |extra: &[&str]| {
        run(
            bin()
                .args(["audit", "verify"])
                .arg(&log)
                .arg("--public-key")
                .arg(pub_of(&keys))
                .args(extra),
            b"",
        )
    };
    let ok = verify(&[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    // open, policy, plan, 23 transfers
    // open, policy, plan, 23 transfers, and the checkpoints signed before each sync
    assert!(text(&ok.stdout).starts_with("ok: "), "{}", text(&ok.stdout));
    assert_eq!(
        std::fs::read_to_string(&log)
            .unwrap()
            .matches(r#""kind":"transfer""#)
            .count(),
        23
    );
    assert!(text(&ok.stdout).contains("drenthe/ggd@2025.1"));
    // Each transfer names the key its pseudonyms were made with.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        logged
            .matches(r#""keys":{"drenthe/zvh-signalen":"k1"}"#)
            .count(),
        23
    );

    let cp = run(
        bin()
            .args(["audit", "checkpoint"])
            .arg(&log)
            .arg("--public-key")
            .arg(pub_of(&keys)),
        b"",
    );
    let cp_path = log.with_extension("cp");
    std::fs::write(&cp_path, &cp.stdout).unwrap();
    // The log grows: still fine against the checkpoint.
    gate_audited(
        &keys,
        &log,
        "noord-nederland/politie",
        "noord-nederland/om",
        "criminal-investigation",
    );
    let cp_arg = cp_path.to_str().unwrap();
    assert_eq!(verify(&["--checkpoint", cp_arg]).status.code(), Some(0));
    // Cut whole entries off the end: the checkpoint the writer keeps next to the log
    // knows; without it the log alone looks intact, and the auditor's checkpoint knows.
    let bytes = std::fs::read(&log).unwrap();
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    std::fs::write(&log, lines[..20].concat()).unwrap();
    let by_sidecar = verify(&[]);
    assert_eq!(
        by_sidecar.status.code(),
        Some(1),
        "{}",
        text(&by_sidecar.stdout)
    );
    assert!(
        text(&by_sidecar.stdout).contains("truncated"),
        "{}",
        text(&by_sidecar.stdout)
    );
    let mut sidecar = log.as_os_str().to_owned();
    sidecar.push(".checkpoint");
    std::fs::remove_file(sidecar).unwrap();
    assert_eq!(verify(&[]).status.code(), Some(0));
    let cut = verify(&["--checkpoint", cp_arg]);
    assert_eq!(cut.status.code(), Some(1));
    assert!(
        text(&cut.stdout).contains("entry 21") && text(&cut.stdout).contains("truncated"),
        "{}",
        text(&cut.stdout)
    );
}

#[test]
fn a_torn_last_line_is_moved_aside_and_recorded() {
    let dir = Scratch::new("cli");
    let keys = audit_keys(&dir, "audit-keys.json");
    let log = dir.path("torn.log");
    gate_audited(
        &keys,
        &log,
        "noord-nederland/politie",
        "noord-nederland/om",
        "criminal-investigation",
    );
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(br#"{"v":2,"kind":"transfer","semantics":"#)
        .unwrap();
    drop(file);
    let damaged = run(
        bin()
            .args(["audit", "verify"])
            .arg(&log)
            .arg("--public-key")
            .arg(pub_of(&keys)),
        b"",
    );
    assert_eq!(damaged.status.code(), Some(1));
    assert!(
        text(&damaged.stdout).contains("torn last line"),
        "{}",
        text(&damaged.stdout)
    );
    let out = gate_audited(
        &keys,
        &log,
        "noord-nederland/politie",
        "noord-nederland/om",
        "criminal-investigation",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("torn line"),
        "{}",
        text(&out.stderr)
    );
    let ok = run(
        bin()
            .args(["audit", "verify"])
            .arg(&log)
            .arg("--public-key")
            .arg(pub_of(&keys)),
        b"",
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    let moved: Vec<_> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("torn.log.torn-")
        })
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        std::fs::read(moved[0].path()).unwrap(),
        br#"{"v":2,"kind":"transfer","semantics":"#
    );
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains(r#""kind":"recovery""#));
}

#[test]
fn show_lists_transfers_and_finds_a_subject_only_with_the_key() {
    let dir = Scratch::new("cli");
    let keys = audit_keys(&dir, "audit-keys.json");
    let log = dir.path("show.log");
    gate_audited(
        &keys,
        &log,
        "drenthe/ggd",
        "drenthe/zvh",
        "signal-assessment",
    );
    gate_audited(
        &keys,
        &log,
        "friesland/gemeente",
        "friesland/zvh",
        "signal-assessment",
    );
    let all = run(
        bin()
            .args(["audit", "show"])
            .arg(&log)
            .arg("--public-key")
            .arg(pub_of(&keys))
            .arg("--keys")
            .arg(&keys),
        b"",
    );
    let all_text = text(&all.stdout);
    assert!(all_text.ends_with("24 transfer(s)\n"), "{all_text}");
    assert!(
        all_text.contains(
            "friesland/gemeente -> friesland/zvh  signal-assessment  refused: not-in-force"
        ),
        "{all_text}"
    );
    let ours = run(
        bin()
            .args(["audit", "show"])
            .arg(&log)
            .arg("--public-key")
            .arg(pub_of(&keys))
            .arg("--keys")
            .arg(&keys)
            .args(["--subject", "999 998 523"]),
        b"",
    );
    let expected = std::fs::read_to_string(root().join("examples/ggd-reports.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.pointer("/subject/bsn")
                .and_then(|b| b.as_str())
                .map(|b| b.replace(['.', ' '], ""))
                == Some("999998523".into())
        })
        .count();
    assert!(expected > 0);
    assert!(
        text(&ours.stdout).ends_with(&format!("{expected} transfer(s)\n")),
        "{}",
        text(&ours.stdout)
    );
    // Another audit key links nothing.
    let other = audit_keys(&dir, "other-audit-keys.json");
    let none = run(
        bin()
            .args(["audit", "show"])
            .arg(&log)
            .arg("--public-key")
            .arg(pub_of(&keys))
            .arg("--keys")
            .arg(&other)
            .args(["--subject", "999998523"]),
        b"",
    );
    assert!(
        text(&none.stdout).ends_with("0 transfer(s)\n"),
        "{}",
        text(&none.stdout)
    );
    let json = run(
        bin()
            .args(["audit", "show", "--json", "--from", "drenthe/ggd"])
            .arg(&log)
            .arg("--public-key")
            .arg(pub_of(&keys))
            .arg("--keys")
            .arg(&keys),
        b"",
    );
    assert_eq!(text(&json.stdout).lines().count(), 23);
}

#[test]
fn replay_is_identical_and_what_if_lists_the_changed_fields() {
    let dir = Scratch::new("cli");
    let keys = audit_keys(&dir, "audit-keys.json");
    let log = dir.path("replay.log");
    gate_audited(
        &keys,
        &log,
        "groningen/zvh",
        "groningen/gemeente",
        "care-coordination",
    );
    let replay = |extra: &[&str]| {
        run(
            bin()
                .args(["audit", "replay"])
                .arg(&log)
                .arg("--public-key")
                .arg(pub_of(&keys))
                .arg("--keys")
                .arg(&keys)
                .args(extra),
            b"",
        )
    };
    let same = replay(&["--records", "examples/ggd-reports.jsonl"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stdout));
    assert!(
        text(&same.stdout).contains("23 transfers replayed: 23 identical, 0 differ"),
        "{}",
        text(&same.stdout)
    );
    assert!(text(&same.stdout).contains("(record checked)"));

    // A copy of the policies in which one rule generalises birth dates.
    let changed = dir.path("policies");
    copy_dir(&root().join("policies"), &changed);
    let zvh = changed.join("groningen/zvh.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&zvh).unwrap()).unwrap();
    for rule in doc["outbound"].as_array_mut().unwrap() {
        if rule["purpose"] == "care-coordination" && rule["to"]["kind"] == "gemeente" {
            rule["paths"]["subject.birth_date"] = serde_json::json!({"generalise": "year"});
        }
    }
    std::fs::write(&zvh, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let what_if = replay(&["--against", changed.to_str().unwrap()]);
    assert_eq!(what_if.status.code(), Some(0));
    let out = text(&what_if.stdout);
    let changes: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(": subject.birth_date: pass -> generalise(year)"))
        .collect();
    assert!(!changes.is_empty(), "{out}");
    assert!(
        out.lines()
            .filter(|l| l.starts_with("seq "))
            .all(|l| l.contains("subject.birth_date")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{} would change", changes.len())),
        "{out}"
    );
}

#[test]
fn gating_with_audit_needs_an_audit_key() {
    let dir = Scratch::new("cli");
    let keys = keys(&dir); // no audit entry
    let log = dir.path("nokey.log");
    let out = gate_audited(
        &keys,
        &log,
        "noord-nederland/politie",
        "noord-nederland/om",
        "criminal-investigation",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no `audit_writer` key"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn the_test_command_runs_every_shipped_case() {
    let out = run(bin().arg("test"), b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let listed = stdout.lines().filter(|l| l.starts_with("ok      ")).count();
    assert!(listed >= 10, "{stdout}");
    assert!(
        stdout.ends_with(&format!("{listed} case(s): {listed} passed, 0 failed\n")),
        "{stdout}"
    );
    assert!(stdout.contains("ok      drenthe/flows/ggd-to-police-gives-no-identity"));
}

#[test]
fn coverage_reports_untested_rules_and_entries_and_enforces_a_minimum() {
    let policies = "tests/fixtures/coverage";
    let out = run(
        bin().args(["test", "--policies", policies, "--coverage"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let expected = "ok      x/one/a-to-b-passes-the-case-id\n\
                    1 case(s): 1 passed, 0 failed\n\
                    x/a:\n  rule `to-b`: entries no case exercises: name\n  \
                    rule `to-c` (/outbound/1): no case exercises it\n\
                    x/b:\n  rule `from-a`: entries no case exercises: n\n\
                    x/c:\n  rule `from-a` (/inbound/0): no case exercises it\n\
                    coverage: 2/4 rules (50.0%), 2/6 rule entries\n";
    assert_eq!(text(&out.stdout), expected);
    let strict = run(
        bin().args(["test", "--policies", policies, "--min-coverage", "100"]),
        b"",
    );
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        text(&strict.stdout).ends_with("rule coverage 50.0% is below the minimum 100.0%\n"),
        "{}",
        text(&strict.stdout)
    );
    let lenient = run(
        bin().args(["test", "--policies", policies, "--min-coverage", "50"]),
        b"",
    );
    assert_eq!(lenient.status.code(), Some(0));
}
