//! I/O faults: a full disk under the audit log releases nothing from then on and says
//! why; a policy folder with one unreadable or half-written agreement builds no
//! registry at all, naming the file.
//!
//! Failing writes and syncs in general (any error, by every path into the gate, and
//! in streams) are covered in `audit.rs`: `a_failing_write_or_sync_releases_nothing_and_poisons_the_log`,
//! `a_failure_while_logging_a_refusal_poisons_the_log_too` and
//! `a_failing_log_stops_a_stream_before_the_failing_batch_is_output`. This file adds
//! the disk that fills up mid-entry, as a real one does.

use crate::util::{chain, copy_dir, root, TempDir};
use chrono::{DateTime, Utc};
use privacy_gate::audit::{self, Archive, AuditError, AuditLog, SteppingClock, Storage};
use privacy_gate::{
    gate_json_lines, gate_json_lines_parallel, Gate, GateError, KeyRing, Outcome, Registry,
    StreamError, Transfer,
};
use serde_json::json;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Copies the shipped policy folder (schema, agreements, cases) to `to`.
fn copy_policies(to: &Path) {
    copy_dir(&root().join("policies"), to);
}

fn keys() -> KeyRing {
    let text = json!({
        "domains": {
            "drenthe/zvh-signalen": {"active": "d1", "keys": {"d1": "d1".repeat(32)}},
            "groningen/zvh-signalen": {"active": "g1", "keys": {"g1": "a1".repeat(32)}},
            "friesland/zvh-signalen": {"active": "f1", "keys": {"f1": "f1".repeat(32)}},
            "friesland/ggd-advies": {"active": "f2", "keys": {"f2": "f2".repeat(32)}},
            "groningen/ggd-advies": {"active": "g2", "keys": {"g2": "a2".repeat(32)}},
        },
        "audit_writer": {"name": "test.example/audit", "secret": "a6".repeat(32)},
        "audit_records": {"active": "a1", "keys": {"a1": "a5".repeat(32)}},
        "audit_subject": {"active": "s1", "keys": {"s1": "a7".repeat(32)}},
    })
    .to_string();
    KeyRing::from_json("test keys", text.as_bytes()).unwrap()
}

fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn transfer() -> Transfer<'static> {
    Transfer {
        from: "noord-nederland/politie",
        to: "noord-nederland/om",
        purpose: "criminal-investigation",
        at: t0(),
    }
}

/// Refused before any record is read (and logged as such).
fn unknown_transfer() -> Transfer<'static> {
    Transfer {
        from: "drenthe/nobody",
        ..transfer()
    }
}

fn examples() -> Vec<String> {
    std::fs::read_to_string(root().join("examples/records.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------
// A full disk under the audit log
// ---------------------------------------------------------------------------------

/// A disk of `capacity` bytes: an append that does not fit writes what fits, then
/// fails with ENOSPC, as `write(2)` on a full file system does.
#[derive(Clone, Default)]
struct SmallDisk {
    bytes: Arc<Mutex<Vec<u8>>>,
    capacity: Arc<AtomicUsize>,
    appends: Arc<AtomicUsize>,
}

impl SmallDisk {
    /// Leaves room for `room` more bytes.
    fn room_for(&self, room: usize) {
        let used = self.bytes.lock().unwrap().len();
        self.capacity.store(used + room, Ordering::SeqCst);
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }
}

impl Storage for SmallDisk {
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        self.appends.fetch_add(1, Ordering::SeqCst);
        let mut disk = self.bytes.lock().unwrap();
        let room = self
            .capacity
            .load(Ordering::SeqCst)
            .saturating_sub(disk.len());
        if bytes.len() > room {
            disk.extend_from_slice(&bytes[..room]);
            return Err(io::Error::from_raw_os_error(28));
        }
        disk.extend_from_slice(bytes);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

fn says_disk_full(e: &dyn std::error::Error) -> bool {
    let text = chain(e);
    // ENOSPC as the operating system words it (io::ErrorKind::StorageFull).
    let enospc = io::Error::from_raw_os_error(28).to_string();
    assert_eq!(
        io::Error::from_raw_os_error(28).kind(),
        io::ErrorKind::StorageFull
    );
    text.contains(&enospc) && text.contains("No space left on device")
}

#[test]
fn a_full_disk_under_the_audit_log_releases_nothing_from_then_on_and_says_why() {
    let archive = TempDir::new("archive");
    let disk = SmallDisk::default();
    disk.room_for(usize::MAX / 2);
    let log = AuditLog::with_storage(
        &archive.0.join("audit.log"),
        Box::new(disk.clone()),
        &keys(),
        Arc::new(SteppingClock::new(t0(), chrono::Duration::milliseconds(3))),
    )
    .unwrap();
    let registry = Registry::load_dir(&root().join("policies")).unwrap();
    let gate = Gate::new(registry, keys())
        .with_audit(Arc::new(log), &Archive::new(&archive.0))
        .unwrap();
    let records = examples();
    // The first transfer logs the flow's plan too; after it, room for a few dozen.
    let first = gate.apply_json(&transfer(), records[0].as_bytes());
    assert!(matches!(first, Ok(Outcome::Released(_))), "{first:?}");
    disk.room_for(16 * 1024);

    // Gate until the disk is full: every record before that is released and logged.
    let mut released = 1usize;
    let first_error = loop {
        let record = &records[released % records.len()];
        match gate.apply_json(&transfer(), record.as_bytes()) {
            Ok(Outcome::Released(_)) => released += 1,
            Ok(Outcome::Refused(why)) => panic!("refused: {why}"),
            Err(e) => break e,
        }
        assert!(released < 100_000, "the disk never filled");
    };
    assert!(
        released > 5,
        "the disk filled too early to test: {released}"
    );
    assert!(
        matches!(first_error, GateError::Audit(_)),
        "{first_error:?}"
    );
    assert!(
        says_disk_full(&first_error),
        "the error does not say the disk is full: {first_error}"
    );
    assert!(
        chain(&first_error).starts_with("nothing released: "),
        "{first_error}"
    );

    // What is on the disk: the entries of every released record, intact, then at most
    // the torn start of the entry that did not fit.
    let on_disk = disk.bytes();
    let cut = audit::torn_tail(&on_disk).unwrap_or(on_disk.len());
    let summary = audit::verify(&on_disk[..cut], &crate::util::public_of(&keys())).unwrap();
    // open, policy, plan, then one entry per released record; each write ends in a
    // checkpoint.
    assert_eq!(
        (summary.entries - summary.checkpoints) as usize,
        3 + released,
        "{summary:?}"
    );
    let appends = disk.appends.load(Ordering::SeqCst);

    // Every later transfer fails closed, by every path, and says why.
    let record = records[0].as_bytes();
    let check = |what: &str, e: &dyn std::error::Error| {
        assert!(says_disk_full(e), "{what}: {e}");
    };
    match gate.apply_json(&transfer(), record) {
        Err(e @ GateError::Audit(AuditError::Poisoned { .. })) => check("apply_json", &e),
        other => panic!("apply_json after the disk filled: {other:?}"),
    }
    match gate.apply(&transfer(), serde_json::from_slice(record).unwrap()) {
        Err(e @ GateError::Audit(AuditError::Poisoned { .. })) => check("apply", &e),
        other => panic!("apply after the disk filled: {other:?}"),
    }
    let flow = gate.flow(&transfer()).unwrap();
    let mut out = b"earlier\n".to_vec();
    match flow.write_json(record, &mut out) {
        Err(e @ GateError::Audit(AuditError::Poisoned { .. })) => check("write_json", &e),
        other => panic!("write_json after the disk filled: {other:?}"),
    }
    assert_eq!(out, b"earlier\n", "write_json wrote output");
    let input = records.join("\n");
    for threads in [1, 2] {
        let mut out = Vec::new();
        let result = gate_json_lines_parallel(&flow, input.as_bytes(), &mut out, threads, |_| {});
        match result {
            Err(StreamError::Audit(e)) => check("stream", &e),
            other => panic!("a stream after the disk filled, {threads} thread(s): {other:?}"),
        }
        assert!(
            out.is_empty(),
            "a stream output records after the disk filled"
        );
    }
    let mut out = Vec::new();
    assert!(gate_json_lines(&flow, input.as_bytes(), &mut out, |_| {}).is_err());
    assert!(out.is_empty());
    // A transfer refused before any record is read releases nothing either way.
    assert!(matches!(
        gate.apply(&unknown_transfer(), json!({})),
        Ok(Outcome::Refused(_))
    ));
    // Nothing more was even tried on the disk.
    assert_eq!(disk.appends.load(Ordering::SeqCst), appends);
    assert_eq!(disk.bytes(), on_disk);
}

#[test]
fn an_audit_log_that_is_not_a_regular_file_is_refused() {
    // `/dev/null` would take every entry and keep none; a folder cannot hold one.
    let dir = TempDir::new("not-a-file");
    let mut paths = vec![dir.0.clone()];
    if Path::new("/dev/null").exists() {
        paths.push(PathBuf::from("/dev/null"));
    }
    for path in paths {
        let clock = Arc::new(SteppingClock::new(t0(), chrono::Duration::milliseconds(1)));
        match AuditLog::open(&path, &keys(), clock) {
            Err(e @ AuditError::Io { .. }) => {
                assert!(e.to_string().contains("not a regular file"), "{e}");
            }
            Err(e) => panic!("{}: {e}", path.display()),
            Ok(_) => panic!("{}: opened as an audit log", path.display()),
        }
    }
}

// ---------------------------------------------------------------------------------
// An unreadable or half-written policy file
// ---------------------------------------------------------------------------------

/// Loads `dir` on another thread, so that a loader that blocks (on a FIFO) fails the
/// test instead of hanging it.
fn load_within_seconds(dir: &Path) -> Result<Registry, privacy_gate::LoadError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(Registry::load_dir(&dir));
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the loader blocked")
}

/// Asserts that loading `dir` fails with an error naming `file`, and returns its message.
fn refused_naming(dir: &Path, file: &Path, what: &str) -> String {
    let err = match load_within_seconds(dir) {
        Ok(registry) => panic!(
            "{what}: a registry was built from the rest ({} agreements)",
            registry.agreements().count()
        ),
        Err(e) => e,
    };
    let name = file.display().to_string();
    let errors: Vec<_> = err
        .diagnostics
        .iter()
        .filter(|d| d.severity == privacy_gate::Severity::Error)
        .collect();
    let Some(error) = errors.iter().find(|d| d.file == name) else {
        panic!("{what}: no error names {name}:\n{err}")
    };
    error.to_string()
}

#[test]
fn a_half_written_agreement_stops_the_load_naming_the_file() {
    let dir = TempDir::new("half-written");
    copy_policies(&dir.0);
    let file = dir.0.join("groningen/ggd.json");
    let text = std::fs::read(&file).unwrap();
    // Cut anywhere: at a third, in the middle, one byte short; each is refused.
    let end = text.trim_ascii_end().len();
    for cut in [end / 3, end / 2, end - 1] {
        std::fs::write(&file, &text[..cut]).unwrap();
        let message = refused_naming(&dir.0, &file, &format!("cut at {cut}"));
        assert!(message.contains("EOF while parsing"), "{message}");
    }
    // An empty file (created, nothing written yet) too.
    std::fs::write(&file, b"").unwrap();
    refused_naming(&dir.0, &file, "empty");
    std::fs::write(&file, &text).unwrap();
    assert!(Registry::load_dir(&dir.0).is_ok(), "the intact copy loads");
}

#[test]
fn an_unreadable_agreement_stops_the_load_naming_the_file() {
    let dir = TempDir::new("unreadable");
    copy_policies(&dir.0);
    assert!(Registry::load_dir(&dir.0).is_ok(), "the intact copy loads");
    let file = dir.0.join("noord-nederland/om.json");
    let text = std::fs::read(&file).unwrap();
    let restore = || {
        let _ = std::fs::remove_dir(&file);
        let _ = std::fs::remove_file(&file);
        std::fs::write(&file, &text).unwrap();
    };

    // Not UTF-8 (a file written in another encoding, or damaged): as unreadable.
    let mut latin1 = text.clone();
    latin1.extend_from_slice(b" \xe9\xff");
    std::fs::write(&file, &latin1).unwrap();
    let message = refused_naming(&dir.0, &file, "not UTF-8");
    assert!(message.contains("cannot read policy file"), "{message}");
    assert!(message.contains("valid UTF-8"), "{message}");
    restore();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // No permission to read it. Root (CAP_DAC_OVERRIDE) reads any file whatever
        // its mode; there the other cases below stand in for it.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read(&file).is_ok() {
            println!("note: this user reads files of mode 000 (root); that case is skipped");
        } else {
            let message = refused_naming(&dir.0, &file, "mode 000");
            assert!(message.contains("Permission denied"), "{message}");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();

        // A link to a file that is gone (an unmounted share, a removed release).
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(dir.0.join("gone/om.json"), &file).unwrap();
        let message = refused_naming(&dir.0, &file, "dangling link");
        assert!(message.contains("No such file or directory"), "{message}");
        restore();

        // A FIFO: never opened (that would wait for a writer forever).
        std::fs::remove_file(&file).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&file)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            let message = refused_naming(&dir.0, &file, "FIFO");
            assert!(message.contains("not a regular file"), "{message}");
        } else {
            println!("note: mkfifo is not available; the FIFO case is skipped");
        }
        restore();

        // A whole province folder behind a link that leads nowhere.
        let province = dir.0.join("friesland");
        let moved = dir.0.join("friesland-moved");
        std::fs::rename(&province, &moved).unwrap();
        std::os::unix::fs::symlink(dir.0.join("nowhere"), &province).unwrap();
        refused_naming(&dir.0, &province, "dangling province link");
        std::fs::remove_file(&province).unwrap();
        std::fs::rename(&moved, &province).unwrap();
    }

    // A folder where the file should be.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let message = refused_naming(&dir.0, &file, "a folder");
    assert!(message.contains("a folder"), "{message}");
    restore();

    assert!(
        Registry::load_dir(&dir.0).is_ok(),
        "the restored copy loads"
    );
}
