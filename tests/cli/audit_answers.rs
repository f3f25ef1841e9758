//! What the audit commands answer those around a log: a recipient's receipt leads to
//! a proof of its record's entry (and a receipt of another entry is refused), and
//! `audit show` lists per transfer who received what under which agreements.

use crate::util::{bin, run, text, write_audit_keys, Scratch, AT};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Gates the GGD's example reports to the ZVH into `log`.
fn gate_audited(keys: &Path, log: &Path) -> Output {
    run(
        bin()
            .args(["gate", "--from", "drenthe/ggd", "--to", "drenthe/zvh"])
            .args(["--purpose", "signal-assessment", "--at", AT, "--keys"])
            .arg(keys)
            .arg("--audit")
            .arg(log)
            .arg("examples/ggd-reports.jsonl"),
        b"",
    )
}

fn audit(args: &[&str], files: &[&Path]) -> Output {
    let mut cmd = bin();
    cmd.arg("audit").args(args);
    for f in files {
        cmd.arg(f);
    }
    run(&mut cmd, b"")
}

#[test]
fn a_recipients_receipt_leads_to_a_proof_and_a_wrong_receipt_is_refused() {
    let dir = Scratch::new("receipt");
    let keys = dir.path("keys.json");
    let public: PathBuf = write_audit_keys(&keys, 3);
    let log = dir.path("audit.log");
    let out = gate_audited(&keys, &log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let released = text(&out.stdout);
    let third = released.lines().nth(2).unwrap();
    let record: serde_json::Value = serde_json::from_str(third).unwrap();
    let receipt = &record["_transfer"]["receipt"];
    assert!(receipt["index"].as_u64().is_some(), "{record}");
    let record_file = dir.path("record.json");
    std::fs::write(&record_file, third).unwrap();

    // The recipient asks for the proof of its record's entry, and checks it.
    let bundle = dir.path("bundle.json");
    let prove = audit(
        &["prove", "--receipt"],
        &[
            &record_file,
            &log,
            Path::new("--public-key"),
            &public,
            Path::new("--out"),
            &bundle,
        ],
    );
    assert_eq!(prove.status.code(), Some(0), "{}", text(&prove.stderr));
    let check = audit(
        &["check-proof"],
        &[
            &bundle,
            Path::new("--public-key"),
            &public,
            Path::new("--receipt"),
            &record_file,
        ],
    );
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
    assert!(
        text(&check.stdout).starts_with("ok: "),
        "{}",
        text(&check.stdout)
    );

    // A receipt whose leaf hash is not the entry's, or that names another entry of
    // the bundle: not proven.
    let mut wrong = record.clone();
    let leaf = receipt["leaf"].as_str().unwrap();
    let flipped = if leaf.starts_with('A') { "B" } else { "A" };
    wrong["_transfer"]["receipt"]["leaf"] = format!("{flipped}{}", &leaf[1..]).into();
    let wrong_file = dir.path("wrong.json");
    std::fs::write(&wrong_file, wrong.to_string()).unwrap();
    let refused = audit(
        &["check-proof"],
        &[
            &bundle,
            Path::new("--public-key"),
            &public,
            Path::new("--receipt"),
            &wrong_file,
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stdout).contains("not proven: the receipt's leaf hash"),
        "{}",
        text(&refused.stdout)
    );
    let bundle_value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let plan = bundle_value["entries"][0]["index"].as_u64().unwrap();
    assert_ne!(Some(plan), receipt["index"].as_u64());
    let mut other = receipt.clone();
    other["index"] = plan.into();
    let other_file = dir.path("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let refused = audit(
        &["check-proof"],
        &[
            &bundle,
            Path::new("--public-key"),
            &public,
            Path::new("--receipt"),
            &other_file,
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
    // Not a receipt at all: an error that says so.
    let not_receipt = audit(
        &["check-proof"],
        &[
            &bundle,
            Path::new("--public-key"),
            &public,
            Path::new("--receipt"),
            &public,
        ],
    );
    assert_ne!(not_receipt.status.code(), Some(0));
    assert!(
        text(&not_receipt.stderr).contains("not JSON"),
        "{}",
        text(&not_receipt.stderr)
    );
}

#[test]
fn show_says_which_fields_crossed_how_and_fails_on_a_damaged_log() {
    let dir = Scratch::new("show-fields");
    let keys = dir.path("keys.json");
    let public = write_audit_keys(&keys, 4);
    let log = dir.path("audit.log");
    assert_eq!(gate_audited(&keys, &log).status.code(), Some(0));
    let show = |log: &Path| audit(&["show"], &[log, Path::new("--public-key"), &public]);
    let out = show(&log);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Per transfer: sender, recipient, purpose, outcome and both agreement versions,
    // then which fields crossed how.
    assert!(
        stdout.contains(
            "drenthe/ggd -> drenthe/zvh  signal-assessment  released; under drenthe/ggd 2025.1 and drenthe/zvh "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("pseudonymised (drenthe/zvh-signalen): case.id, subject.bsn; withheld: "),
        "{stdout}"
    );
    assert!(stdout.contains("as is: "), "{stdout}");
    assert!(stdout.contains("withheld: "), "{stdout}");
    let fields_lines = stdout
        .lines()
        .filter(|l| l.starts_with("            "))
        .count();
    assert_eq!(fields_lines, 23, "{stdout}");

    // One changed byte in a transfer entry: the listing is flagged and the exit is 1.
    let mut bytes = std::fs::read(&log).unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == b"\"released\"")
        .unwrap();
    bytes[at + 1] = b'R';
    let damaged = dir.path("damaged.log");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = show(&damaged);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("the log is damaged"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn replay_says_once_why_transfers_were_not_replayed_and_what_if_sums_up_per_field() {
    let dir = Scratch::new("replay-answers");
    let keys = dir.path("keys.json");
    let public = write_audit_keys(&keys, 5);
    let log = dir.path("audit.log");
    let gated = run(
        bin()
            .args([
                "gate",
                "--from",
                "groningen/zvh",
                "--to",
                "groningen/gemeente",
            ])
            .args(["--purpose", "care-coordination", "--at", AT, "--keys"])
            .arg(&keys)
            .arg("--audit")
            .arg(&log)
            .arg("examples/ggd-reports.jsonl"),
        b"",
    );
    assert!(
        text(&gated.stderr).contains("12 released, 11 refused"),
        "{}",
        text(&gated.stderr)
    );
    let replay = |extra: &[&str]| {
        run(
            bin()
                .args(["audit", "replay"])
                .arg(&log)
                .arg("--public-key")
                .arg(&public)
                .arg("--keys")
                .arg(&keys)
                .args(extra),
            b"",
        )
    };
    // The archive gone: every transfer is not replayed, for one reason, said once.
    std::fs::rename(dir.path("audit.log.agreements"), dir.path("gone")).unwrap();
    let out = replay(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let reasons: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("not replayed"))
        .collect();
    assert_eq!(reasons.len(), 1, "{stdout}");
    assert!(
        reasons[0].starts_with("not replayed (23 transfer(s): seq "),
        "{stdout}"
    );
    std::fs::rename(dir.path("gone"), dir.path("audit.log.agreements")).unwrap();

    // What if the ZVH generalised birth dates: a line per field that would change.
    let changed = dir.path("policies");
    crate::util::copy_dir(&crate::util::root().join("policies"), &changed);
    let zvh = changed.join("groningen/zvh.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&zvh).unwrap()).unwrap();
    for rule in doc["outbound"].as_array_mut().unwrap() {
        if rule["purpose"] == "care-coordination" && rule["to"]["kind"] == "gemeente" {
            rule["paths"]["subject.birth_date"] = serde_json::json!({"generalise": "year"});
        }
    }
    std::fs::write(&zvh, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = replay(&["--against", changed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let per_transfer = stdout
        .lines()
        .filter(|l| l.starts_with("seq ") && l.contains("subject.birth_date"))
        .count();
    assert!(per_transfer > 0, "{stdout}");
    assert!(
        stdout.contains("per field, what would change:\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "  subject.birth_date: pass -> generalise(year) in {per_transfer} transfer(s)\n"
        )),
        "{stdout}"
    );
}
