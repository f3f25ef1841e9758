//! The independent verifier `docs/verify_audit_log.py` (Python, sharing no code with
//! the crate) and the crate's verifier agree on an intact log and on damaged copies of
//! it: flipped bytes, a deleted, duplicated or swapped entry, a torn or dropped tail,
//! forged checkpoints, and checkpoints kept apart (cosigned or not). Skipped with a note
//! when `python3` with `cryptography` is missing, unless `PRIVACY_GATE_REQUIRE_PYTHON`
//! is set (CI sets it, so that there it always runs).

use crate::audit::{check, file_log, public_key, ring};
use crate::util::{root, TempDir};
use privacy_gate::audit::{self, note, Checkpoint, Summary, VerifierKey};
use privacy_gate::KeyRing;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Whether the Python verifier can run here; panics when CI requires it and it cannot.
pub(crate) fn python_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("PRIVACY_GATE_REQUIRE_PYTHON").is_none(),
            "python3 with `cryptography` is required (PRIVACY_GATE_REQUIRE_PYTHON is set)"
        );
        println!(
            "note: python3 with `cryptography` is not available; the Python verifier is not run"
        );
    }
    ok
}

/// What `docs/verify_audit_log.py LOG PUB --json` says, with `extra` arguments.
fn python_verdict(log: &Path, public: &Path, extra: &[&Path]) -> Value {
    let mut command = Command::new("python3");
    command
        .arg(root().join("docs/verify_audit_log.py"))
        .arg(log)
        .arg(public)
        .arg("--json");
    for pair in extra.chunks(2) {
        command.args(pair);
    }
    let out = command.output().unwrap();
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verify_audit_log.py printed no JSON (status {:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let expected = if verdict["ok"] == true { 0 } else { 1 };
    assert_eq!(out.status.code(), Some(expected), "{verdict}");
    verdict
}

fn witness_ring() -> KeyRing {
    let text = serde_json::json!({
        "audit_witness": {"name": "partner.example/witness", "secret": "77".repeat(32)},
    });
    KeyRing::from_json("witness", text.to_string().as_bytes()).unwrap()
}

/// One case: a log's bytes and the checkpoints kept apart from it.
struct Case {
    what: String,
    bytes: Vec<u8>,
    kept: Vec<String>,
}

fn case(what: impl Into<String>, bytes: Vec<u8>) -> Case {
    Case {
        what: what.into(),
        bytes,
        kept: Vec::new(),
    }
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|b| *b == b'\n').collect()
}

/// Replaces the note of a checkpoint entry line (keeping everything else).
fn with_note(line: &[u8], note: &str) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(line).unwrap();
    let old = serde_json::to_string(&value["note"]).unwrap();
    value["note"] = note.into();
    let new = serde_json::to_string(&value["note"]).unwrap();
    let text = String::from_utf8(line.to_vec()).unwrap();
    text.replacen(&old, &new, 1).into_bytes()
}

fn cases(log: &[u8]) -> Vec<Case> {
    let all = lines(log);
    let mut cases = vec![case("intact", log.to_vec())];
    for pos in (0..60).map(|i| i * log.len() / 60) {
        let mut bytes = log.to_vec();
        bytes[pos] ^= 0x01;
        cases.push(case(format!("byte {pos} flipped"), bytes));
    }
    let transfer = all
        .iter()
        .rposition(|l| l.starts_with(br#"{"v":3,"kind":"transfer""#))
        .unwrap();
    let mut deleted = all.clone();
    deleted.remove(5);
    cases.push(case("entry 6 deleted", deleted.concat()));
    let mut deleted = all.clone();
    deleted.remove(transfer);
    cases.push(case("the last transfer deleted", deleted.concat()));
    let mut duplicated = all.clone();
    duplicated.insert(6, all[5]);
    cases.push(case("entry 6 duplicated", duplicated.concat()));
    let mut swapped = all.clone();
    swapped.swap(5, 6);
    cases.push(case("entries 6 and 7 swapped", swapped.concat()));
    cases.push(case("tail cut short", log[..log.len() - 30].to_vec()));
    // The last write (a transfer and its checkpoint) dropped: intact by itself, not
    // against the checkpoint of the whole log.
    let dropped = all[..all.len() - 2].concat();
    cases.push(case("last write dropped", dropped.clone()));
    let full_note = check(log).unwrap().latest_note.unwrap();
    cases.push(Case {
        what: "last write dropped, whole-log checkpoint kept".into(),
        bytes: dropped,
        kept: vec![full_note.clone()],
    });
    cases.push(Case {
        what: "intact, checkpoint kept".into(),
        bytes: log.to_vec(),
        kept: vec![full_note.clone()],
    });
    // Forged checkpoints: signed by another key of the same name, or the same key's
    // note with the size changed.
    let forger = KeyRing::from_json(
        "forger",
        serde_json::json!({"audit_writer": {"name": "test.example/audit", "secret": "66".repeat(32)}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let last = all.len() - 1;
    let summary = check(&all[..last].concat()).unwrap();
    let forged_note = Checkpoint {
        origin: summary.origin.clone().unwrap(),
        size: summary.entries,
        root: summary.root,
    }
    .sign(forger.audit_writer().unwrap());
    let mut forged = all[..last].concat();
    forged.extend(with_note(all[last], &forged_note));
    cases.push(case("last checkpoint signed by another key", forged));
    let mut resized = all[..last].concat();
    let bumped = full_note.replacen(
        &format!("\n{}\n", summary.entries),
        &format!("\n{}\n", summary.entries + 1),
        1,
    );
    resized.extend(with_note(all[last], &bumped));
    cases.push(case("last checkpoint's size edited", resized));
    cases.push(Case {
        what: "kept checkpoint forged".into(),
        bytes: log.to_vec(),
        kept: vec![forged_note],
    });
    // A checkpoint of another log by the same writer.
    let other = Checkpoint {
        origin: "test.example/audit/0123456789abcdef0123456789abcdef".into(),
        ..note::open(&full_note, &public_key(), &[])
            .unwrap()
            .checkpoint
    }
    .sign(ring().audit_writer().unwrap());
    cases.push(Case {
        what: "kept checkpoint of another log".into(),
        bytes: log.to_vec(),
        kept: vec![other],
    });
    // Cosigned by a witness, and with that cosignature tampered with.
    let witness = witness_ring();
    let cosigned =
        note::cosign(&full_note, witness.audit_witness().unwrap(), 1_767_225_600).unwrap();
    cases.push(Case {
        what: "kept checkpoint cosigned".into(),
        bytes: log.to_vec(),
        kept: vec![cosigned.clone()],
    });
    let last_sig = cosigned.trim_end().rsplit(' ').next().unwrap();
    let tampered = cosigned.replace(last_sig, &last_sig.replacen('A', "B", 1));
    if tampered != cosigned {
        cases.push(Case {
            what: "kept checkpoint with a tampered cosignature".into(),
            bytes: log.to_vec(),
            kept: vec![tampered],
        });
    }
    cases
}

fn compare(what: &str, rust: &Result<Summary, audit::Damage>, python: &Value) {
    match rust {
        Ok(summary) => {
            assert_eq!(python["ok"], true, "{what}: {python}");
            let expected = serde_json::json!({
                "entries": summary.entries,
                "signed": summary.signed,
                "checkpoints": summary.checkpoints,
                "root": crate::util::base64(&summary.root),
                "origin": summary.origin,
                "cosigned": summary.cosigned.iter().map(|c| serde_json::json!({"witness": c.witness, "time": c.time})).collect::<Vec<_>>(),
            });
            for (k, v) in expected.as_object().unwrap() {
                assert_eq!(&python[k], v, "{what}: {k}: {python}");
            }
        }
        Err(damage) => {
            assert_eq!(python["ok"], false, "{what}: the crate says {damage}");
            let rust = (
                damage.entry,
                damage.offset,
                serde_json::to_value(damage.kind).unwrap(),
            );
            let py = (
                python["entry"].as_u64().unwrap(),
                python["offset"].as_u64().unwrap(),
                python["kind"].clone(),
            );
            assert_eq!(
                py, rust,
                "{what}: the crate says {damage}; python: {python}"
            );
        }
    }
}

#[test]
fn the_python_verifier_and_the_crate_agree_on_intact_and_damaged_logs() {
    if !python_available() {
        return;
    }
    let dir = TempDir::new("py-verify");
    let path = dir.path("audit.log");
    file_log(&path, 9);
    let log = std::fs::read(&path).unwrap();
    assert!(lines(&log).len() > 20, "{}", lines(&log).len());
    let public_file = dir.path("writer.pub");
    std::fs::write(&public_file, public_key().to_line()).unwrap();
    let witness_key = VerifierKey::of(
        witness_ring().audit_witness().unwrap(),
        note::COSIGNATURE_V1,
    );
    let witness_file = dir.path("witness.pub");
    std::fs::write(&witness_file, witness_key.to_line()).unwrap();
    let copy = dir.path("copy.log");
    let mut kinds = std::collections::BTreeMap::new();
    let cases = cases(&log);
    for (n, case) in cases.iter().enumerate() {
        std::fs::write(&copy, &case.bytes).unwrap();
        let mut files = Vec::new();
        for (i, text) in case.kept.iter().enumerate() {
            let file = dir.path(&format!("kept-{n}-{i}"));
            std::fs::write(&file, text).unwrap();
            files.push(file);
        }
        let flag = Path::new("--checkpoint");
        let witness_flag = Path::new("--witness");
        let mut extra: Vec<&Path> = vec![witness_flag, &witness_file];
        for f in &files {
            extra.push(flag);
            extra.push(f);
        }
        let python = python_verdict(&copy, &public_file, &extra);
        let kept: Vec<&str> = case.kept.iter().map(String::as_str).collect();
        let rust = audit::verify_against(
            &case.bytes,
            &public_key(),
            std::slice::from_ref(&witness_key),
            &kept,
        );
        compare(&case.what, &rust, &python);
        let kind = rust.map_or_else(|d| d.kind.to_string(), |_| "intact".into());
        *kinds.entry(kind).or_insert(0) += 1;
    }
    // The damaged copies exercise every kind of damage the verifiers tell apart.
    for kind in [
        "intact",
        "edited",
        "entries removed",
        "duplicated",
        "reordered",
        "torn last line",
        "not signed by the writer's key",
        "truncated or rolled back since the checkpoint",
    ] {
        assert!(kinds.contains_key(kind), "no case of `{kind}`: {kinds:?}");
    }
    println!("{} cases: {kinds:?}", cases.len());
    assert!(cases.len() > 70, "{}", cases.len());
}
