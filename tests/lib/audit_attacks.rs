//! The attacks on the audit log of issue 14, each now detected or refused: forging
//! after deleting or renumbering entries, forks against one checkpoint, a tail
//! dropped after the last checkpoint, a second writer, and BSN enumeration from
//! subject digests; and proofs of single entries for those without the log.

use crate::audit::{
    check, file_log, fixture_registry, fixture_transfer, public_key, ring, stepping, t0,
};
use crate::util::TempDir;
use privacy_gate::audit::{self, note, Archive, AuditError, AuditLog, DamageKind};
use privacy_gate::danger::raw_tag;
use privacy_gate::{Gate, KeyRing};
use std::path::Path;
use std::sync::Arc;

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn seq_of(line: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(line).unwrap();
    v["seq"].as_u64().unwrap()
}

fn is_checkpoint(line: &[u8]) -> bool {
    line.starts_with(br#"{"v":3,"kind":"checkpoint""#)
}

/// A log of `n` transfers in a file, and the checkpoint the writer kept next to it.
fn log_with_checkpoint(dir: &TempDir, n: u64) -> (std::path::PathBuf, Vec<u8>, String) {
    let path = dir.path("audit.log");
    file_log(&path, n);
    let bytes = std::fs::read(&path).unwrap();
    let note = std::fs::read_to_string(dir.path("audit.log.checkpoint")).unwrap();
    (path, bytes, note)
}

#[test]
fn deleting_an_entry_and_renumbering_the_rest_is_detected() {
    let dir = TempDir::new("forge");
    let (_, bytes, note) = log_with_checkpoint(&dir, 6);
    assert!(check(&bytes).is_ok());
    // What the earlier attack did, without any key: delete transfer entry 5 and
    // renumber every later entry (no seals to redo in format 3).
    let mut forged = Vec::new();
    for (i, line) in lines(&bytes).into_iter().enumerate() {
        if i == 4 {
            continue;
        }
        let text = String::from_utf8(line).unwrap();
        let seq = seq_of(text.as_bytes());
        let fixed = if i > 4 {
            text.replace(
                &format!(",\"seq\":{seq},"),
                &format!(",\"seq\":{},", seq - 1),
            )
        } else {
            text
        };
        forged.extend_from_slice(fixed.as_bytes());
    }
    let damage = check(&forged).unwrap_err();
    assert!(
        matches!(damage.kind, DamageKind::Edited | DamageKind::Inserted),
        "{damage}"
    );
    // Dropping every checkpoint too leaves a log no signature covers; the checkpoint
    // an auditor kept (or the one next to the log) exposes it.
    let stripped: Vec<u8> = lines(&forged)
        .into_iter()
        .filter(|l| !is_checkpoint(l))
        .flatten()
        .collect();
    let kept = audit::verify_against(&stripped, &public_key(), &[], &[&note]);
    assert!(
        kept.is_err(),
        "a rewritten log passed the auditor's checkpoint"
    );
    // Minting a matching checkpoint needs the writer's secret key: one signed with
    // another key is refused.
    let other = KeyRing::from_json(
        "k",
        format!(
            r#"{{"audit_writer": {{"name": "test.example/audit", "secret": "{}"}}}}"#,
            "99".repeat(32)
        )
        .as_bytes(),
    )
    .unwrap();
    let mine = note::open(&note, &public_key(), &[]).unwrap().checkpoint;
    let minted = note::Checkpoint {
        root: [7; 32],
        ..mine
    }
    .sign(other.audit_writer().unwrap());
    let refused = audit::verify_against(&bytes, &public_key(), &[], &[&minted]).unwrap_err();
    assert_eq!(refused.kind, DamageKind::WrongKey);
}

#[test]
fn changing_any_byte_of_a_signed_entry_is_detected() {
    let dir = TempDir::new("flip");
    let (_, bytes, _) = log_with_checkpoint(&dir, 3);
    let summary = check(&bytes).unwrap();
    assert_eq!(summary.unsigned(), 0, "a log closed cleanly ends signed");
    // Every position of every entry a checkpoint covers (all but the last checkpoint
    // entry itself, which only its own signature and peaks vouch for), one bit at a
    // time in a few patterns.
    let last = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap();
    for at in (0..last).filter(|i| bytes[*i] != b'\n') {
        for bit in [0x01u8, 0x20] {
            let mut edited = bytes.clone();
            edited[at] ^= bit;
            if edited[at] == b'\n' {
                continue;
            }
            assert!(
                check(&edited).is_err(),
                "a change at byte {at} went unnoticed"
            );
        }
    }
}

#[test]
fn a_fork_fails_the_consistency_proof() {
    let dir = TempDir::new("fork");
    let (path, _, old) = log_with_checkpoint(&dir, 2);
    let base = std::fs::read(&path).unwrap();
    // The honest log grows; the writer's insider makes a fork of the same log from
    // the same start (both signed with the writer key).
    file_log(&path, 2);
    let grown = std::fs::read(&path).unwrap();
    let new = std::fs::read_to_string(dir.path("audit.log.checkpoint")).unwrap();
    let proof = audit::consistency(&grown, &public_key(), &old, &new).unwrap();
    assert!(audit::check_consistency(&public_key(), &old, &new, &proof).is_ok());

    let fork_dir = TempDir::new("fork-b");
    let fork_path = fork_dir.path("audit.log");
    // Same entries up to the old checkpoint, except one changed byte before it.
    let mut forked = base.clone();
    let at = forked.windows(8).position(|w| w == b"released").unwrap();
    forked[at] = b'R';
    std::fs::write(&fork_path, &forked).unwrap();
    std::fs::write(fork_dir.path("audit.log.checkpoint"), &old).unwrap();
    // The writer resumes from the last checkpoint's peaks, so its next checkpoint
    // still extends the honest tree: the edit stays visible to `verify`.
    let (log, _) = AuditLog::open(&fork_path, &ring(), stepping(t0())).unwrap();
    drop(log);
    assert!(check(&std::fs::read(&fork_path).unwrap()).is_err());
    // A fork signed by the writer: a checkpoint over other entries of the same size.
    let mine = note::open(&new, &public_key(), &[]).unwrap().checkpoint;
    let fork_note = note::Checkpoint {
        root: [1; 32],
        ..mine
    }
    .sign(ring().audit_writer().unwrap());
    assert!(audit::consistency(&grown, &public_key(), &old, &fork_note).is_err());
    assert!(audit::check_consistency(&public_key(), &old, &fork_note, &proof).is_err());
    // And the auditor holding the honest checkpoint sees the forked log differ.
    assert!(audit::verify_against(&grown, &public_key(), &[], &[&fork_note]).is_err());
}

#[test]
fn a_dropped_tail_is_detected_by_the_kept_checkpoint_and_refused_on_open() {
    let dir = TempDir::new("tail");
    let (path, bytes, note) = log_with_checkpoint(&dir, 5);
    // Cut the log back to an earlier checkpoint: intact by itself.
    let all = lines(&bytes);
    let cut = all
        .iter()
        .enumerate()
        .filter(|(i, l)| is_checkpoint(l) && *i + 1 < all.len())
        .map(|(i, _)| i)
        .next_back()
        .unwrap();
    let shorter: Vec<u8> = all[..=cut].concat();
    assert!(check(&shorter).is_ok());
    let damage = audit::verify_against(&shorter, &public_key(), &[], &[&note]).unwrap_err();
    assert_eq!(damage.kind, DamageKind::Truncated, "{damage}");
    // The writer refuses to resume it: it would sign a fork of what it signed.
    std::fs::write(&path, &shorter).unwrap();
    match AuditLog::open(&path, &ring(), stepping(t0())) {
        Err(AuditError::Damaged { damage, .. }) => {
            assert_eq!(damage.kind, DamageKind::Truncated, "{damage}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a log missing its signed tail was reopened"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), shorter, "nothing appended");
}

#[test]
fn a_second_writer_fails_at_once_and_releases_nothing() {
    let dir = TempDir::new("lock");
    let path = dir.path("audit.log");
    let (first, _) = AuditLog::open(&path, &ring(), stepping(t0())).unwrap();
    let before = std::fs::read(&path).unwrap();
    match AuditLog::open(&path, &ring(), stepping(t0())) {
        Err(e @ AuditError::Locked { .. }) => {
            assert!(e.to_string().contains("another writer"), "{e}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("two writers opened one log"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    drop(first);
    // Released when the first writer goes.
    assert!(AuditLog::open(&path, &ring(), stepping(t0())).is_ok());
}

#[cfg(unix)]
#[test]
fn log_files_are_private_and_links_are_not_followed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let (path, _, _) = log_with_checkpoint(&dir, 1);
    for file in [path.clone(), dir.path("audit.log.checkpoint")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    let link = dir.path("link.log");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(AuditLog::open(&link, &ring(), stepping(t0())).is_err());
}

#[test]
fn the_verifier_holds_no_key_that_finds_a_bsn() {
    let dir = TempDir::new("bsn");
    let (_, bytes, _) = log_with_checkpoint(&dir, 2);
    // An auditor verifies with the public key alone.
    assert!(audit::verify(&bytes, &public_key()).is_ok());
    let text = String::from_utf8(bytes.clone()).unwrap();
    let subject = audit::subject_digest(ring().audit_subject().unwrap().active(), "999998523");
    assert!(text.contains(&subject), "the subject key finds the subject");
    // The record-digest key (which a replaying auditor holds) does not: digests of the
    // BSN under it appear nowhere, so enumerating BSNs with it finds nobody.
    let records = ring().audit_records().unwrap().active().clone();
    let under_records = crate::util::hex(&raw_tag(&records, b"pg-audit-subject", &[b"999998523"]));
    assert!(!text.contains(&under_records));
    // Nor is any key in the log or the public key file.
    assert!(!public_key().to_line().contains(&"a5".repeat(8)));
}

#[test]
fn an_entry_is_proven_without_the_log_and_a_changed_bundle_is_not() {
    let dir = TempDir::new("prove");
    let (_, bytes, _) = log_with_checkpoint(&dir, 4);
    let transfer = lines(&bytes)
        .iter()
        .position(|l| l.starts_with(br#"{"v":3,"kind":"transfer""#))
        .unwrap() as u64;
    let bundle = audit::prove(&bytes, &public_key(), &[transfer]).unwrap();
    // The transfer and the plan it refers to.
    assert_eq!(bundle.entries.len(), 2);
    let text = serde_json::to_vec(&bundle).unwrap();
    let checked = audit::check(&text, &public_key(), &[]).unwrap();
    assert!(checked.entries.iter().any(|(i, _)| *i == transfer));
    // The subject's transfers, found with the subject key.
    let found = audit::subject_entries(&bytes, ring().audit_subject().unwrap(), "999998523");
    assert_eq!(found.len(), 4);
    // Change the entry, its index, or a proof hash: not proven.
    let mut edited = bundle.clone();
    edited.entries[1].entry = edited.entries[1].entry.replace("released", "refused");
    assert!(audit::check(&serde_json::to_vec(&edited).unwrap(), &public_key(), &[]).is_err());
    let mut moved = bundle.clone();
    moved.entries[1].index += 1;
    assert!(audit::check(&serde_json::to_vec(&moved).unwrap(), &public_key(), &[]).is_err());
    let mut bad = bundle.clone();
    bad.entries[1].proof[0] = "A".repeat(43) + "=";
    assert!(audit::check(&serde_json::to_vec(&bad).unwrap(), &public_key(), &[]).is_err());
    assert!(audit::check(b"{}", &public_key(), &[]).is_err());
}

#[test]
fn open_resumes_from_the_last_checkpoint_without_reading_the_log() {
    let dir = TempDir::new("resume");
    let path = dir.path("audit.log");
    file_log(&path, 20);
    let (log, report) = AuditLog::open(&path, &ring(), stepping(t0())).unwrap();
    // The last checkpoint's entry, nothing before it.
    assert_eq!(report.entries_read, 1, "{report:?}");
    assert!(report.entries > 40);
    let gate = Gate::new(fixture_registry(), ring())
        .with_audit(Arc::new(log), &Archive::next_to(Path::new(&path)))
        .unwrap();
    assert!(gate
        .apply(&fixture_transfer(), crate::audit::fixture_record(99))
        .unwrap()
        .released()
        .is_some());
    drop(gate);
    assert!(check(&std::fs::read(&path).unwrap()).is_ok());
}

#[cfg(unix)]
#[test]
fn an_archive_file_that_does_not_match_its_hash_is_replaced_or_refused_never_trusted() {
    let dir = TempDir::new("archive-trust");
    let path = dir.path("audit.log");
    let attach = || {
        let (log, _) = AuditLog::open(&path, &ring(), stepping(t0())).unwrap();
        Gate::new(fixture_registry(), ring()).with_audit(Arc::new(log), &Archive::next_to(&path))
    };
    drop(attach().unwrap());
    let archive = dir.path("audit.log.agreements");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let original: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let set = Archive::next_to(&path);
    let policy_set = files
        .iter()
        .find_map(|f| {
            f.file_name()?
                .to_str()?
                .strip_suffix(".manifest.json")
                .map(str::to_owned)
        })
        .unwrap();
    assert!(set.load(&policy_set).is_ok());

    // An edited file (same length, other bytes) and a link to a file elsewhere: a
    // reader refuses them; storing again puts the right bytes back, and the link's
    // target is untouched.
    let mut edited = original[0].clone();
    edited[0] ^= 1;
    std::fs::write(&files[0], &edited).unwrap();
    let outside = dir.path("outside.json");
    std::fs::write(&outside, b"{}").unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    std::os::unix::fs::symlink(&outside, &files[1]).unwrap();
    // A planted temporary file that links elsewhere is not written through either.
    let planted = archive.join(format!(
        ".{}.tmp",
        files[0].file_name().unwrap().to_str().unwrap()
    ));
    std::os::unix::fs::symlink(&outside, &planted).unwrap();
    assert!(set.load(&policy_set).is_err());
    drop(attach().unwrap());
    for (file, bytes) in files.iter().zip(&original) {
        assert!(!std::fs::symlink_metadata(file).unwrap().is_symlink());
        assert_eq!(&std::fs::read(file).unwrap(), bytes, "{}", file.display());
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"{}");
    assert!(set.load(&policy_set).is_ok());

    // What cannot be replaced is refused: the gate does not start on it.
    std::fs::remove_file(&files[0]).unwrap();
    std::fs::create_dir(&files[0]).unwrap();
    std::fs::write(files[0].join("x"), b"x").unwrap();
    let Err(refused) = attach() else {
        panic!("a folder in place of an archive file was accepted")
    };
    assert!(
        refused
            .to_string()
            .contains("cannot archive the agreements"),
        "{refused}"
    );
}
