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
