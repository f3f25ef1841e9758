//! The audit log: tampering is detected at the first bad entry, a torn last line is
//! recovered and anything else refuses to open, many writers share one log, a failing
//! log releases nothing, and neither values nor pseudonyms ever reach the log.

use crate::fixtures::{self, RuleActions, CATEGORIES};
use crate::util::{chain, hex, unhex, Memory, TempDir};
use chrono::{DateTime, Duration, Utc};
use privacy_gate::audit::{
    self, Archive, AuditError, AuditLog, Damage, DamageKind, SteppingClock, Storage, Summary,
    SystemClock, VerifierKey,
};
use privacy_gate::danger::{key_from_secret, raw_tag};
use privacy_gate::{
    gate_json_lines, gate_json_lines_parallel, Action, DomainId, Gate, GateError, KeyRing, Method,
    Outcome, Registry, StreamError, Transfer,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

const AUDIT_ID: &str = "a1";

fn audit_secret() -> String {
    "a5".repeat(32)
}

/// Keys for the fixture domains, the shipped policies' domains and the audit roles:
/// the record-digest key `id` with `secret_hex`, and a writer key derived from it.
pub(crate) fn ring_with_audit(id: &str, secret_hex: &str) -> KeyRing {
    let text = json!({
        "domains": {
            "x/one": {"active": "k1", "keys": {"k1": "11".repeat(32)}},
            "x/two": {"active": "k1", "keys": {"k1": "22".repeat(32)}},
            "drenthe/zvh-signalen": {"active": "d1", "keys": {"d1": "d1".repeat(32)}},
            "groningen/zvh-signalen": {"active": "g1", "keys": {"g1": "a1".repeat(32)}},
            "friesland/zvh-signalen": {"active": "f1", "keys": {"f1": "f1".repeat(32)}},
            "friesland/ggd-advies": {"active": "f2", "keys": {"f2": "f2".repeat(32)}},
            "groningen/ggd-advies": {"active": "g2", "keys": {"g2": "a2".repeat(32)}},
        },
        "audit_writer": {"name": "test.example/audit", "secret": hex(&Sha256::digest(secret_hex.as_bytes()))},
        "audit_records": {"active": id, "keys": {id: secret_hex}},
        "audit_subject": {"active": "s1", "keys": {"s1": "5b".repeat(32)}},
    })
    .to_string();
    KeyRing::from_json("test keys", text.as_bytes()).unwrap()
}

pub(crate) fn ring() -> KeyRing {
    ring_with_audit(AUDIT_ID, &audit_secret())
}

/// The public key of [`ring`]'s writer: all a verifier holds.
pub(crate) fn public_key() -> VerifierKey {
    VerifierKey::of(ring().audit_writer().unwrap(), audit::note::ED25519)
}

pub(crate) fn check(bytes: &[u8]) -> Result<Summary, Damage> {
    audit::verify(bytes, &public_key())
}

pub(crate) fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

pub(crate) fn stepping(start: DateTime<Utc>) -> Arc<SteppingClock> {
    Arc::new(SteppingClock::new(start, Duration::milliseconds(7)))
}

/// The synthetic policy set (small plans, so that every-byte tampering stays fast).
pub(crate) fn fixture_registry() -> Registry {
    let mut sender = RuleActions::default();
    for c in ["c1", "c2", "c3"] {
        sender.categories.insert(c.into(), Action::Pass);
    }
    sender.categories.insert(
        "id".into(),
        Action::Pseudonymise(DomainId::new("x/one").unwrap()),
    );
    sender.paths.insert(
        "a.n".into(),
        Action::Pseudonymise(DomainId::new("x/two").unwrap()),
    );
    sender
        .paths
        .insert("a.d".into(), Action::Generalise(Method::Year));
    let mut recipient = RuleActions::default();
    for c in CATEGORIES {
        recipient.categories.insert((*c).into(), Action::Pass);
    }
    fixtures::registry(&sender, &recipient)
}

fn shipped_registry() -> Registry {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    Registry::load_dir(dir.as_ref()).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn fixture_transfer() -> Transfer<'static> {
    Transfer {
        from: "x/s",
        to: "x/r",
        purpose: "p",
        at: t0(),
    }
}

/// A transfer the gate refuses before it sees a record (and still logs).
fn unknown_transfer() -> Transfer<'static> {
    Transfer {
        from: "x/nobody",
        to: "x/r",
        purpose: "p",
        at: t0(),
    }
}

pub(crate) fn fixture_record(i: u64) -> Value {
    json!({
        "a": {"s": format!("s-{i}"), "d": "2001-02-03", "p": "1234 AB", "n": format!("Naam {i}")},
        "b": {"bsn": "999998523", "t": format!("tekst {i}")},
        "list": [{"x": format!("x-{i}"), "d": "2020-01-01"}],
        "flag": i.is_multiple_of(2),
        "num": i,
    })
}

/// Storage that fails every append from the `fail_append_from`-th call (0-based) on,
/// and every sync from the `fail_sync_from`-th call on. `durable` is how many bytes
/// the last successful sync covered.
struct FaultyStorage {
    bytes: Memory,
    durable: Arc<AtomicUsize>,
    appends: AtomicUsize,
    syncs: AtomicUsize,
    fail_append_from: usize,
    fail_sync_from: usize,
}

impl FaultyStorage {
    fn new(fail_append_from: usize, fail_sync_from: usize) -> (FaultyStorage, Memory) {
        let bytes = Memory::default();
        (
            FaultyStorage {
                bytes: bytes.clone(),
                durable: Arc::default(),
                appends: AtomicUsize::new(0),
                syncs: AtomicUsize::new(0),
                fail_append_from,
                fail_sync_from,
            },
            bytes,
        )
    }
}

impl Storage for FaultyStorage {
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        if self.appends.fetch_add(1, Ordering::SeqCst) >= self.fail_append_from {
            return Err(io::Error::other("injected write failure"));
        }
        self.bytes.append(bytes)
    }
    fn sync(&self) -> io::Result<()> {
        // What was appended before the sync started is what it makes durable.
        let covered = self.bytes.0.lock().unwrap().len();
        if self.syncs.fetch_add(1, Ordering::SeqCst) >= self.fail_sync_from {
            return Err(io::Error::other("injected sync failure"));
        }
        self.durable.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }
}

/// A gate over the fixture policies that logs into `storage`, with a stepping clock;
/// the agreements are archived in `archive`.
fn fixture_gate_on(storage: Box<dyn Storage>, start: DateTime<Utc>, archive: &TempDir) -> Gate {
    let path = archive.path("memory.log");
    let log = AuditLog::with_storage(&path, storage, &ring(), stepping(start)).unwrap();
    Gate::new(fixture_registry(), ring())
        .with_audit(Arc::new(log), &Archive::next_to(&path))
        .unwrap()
}

/// A valid, deterministic log: open, policy, plan, then `transfers` transfer entries
/// (the fourth transfer is refused before any record is seen).
fn build_log(transfers: u64, start: DateTime<Utc>) -> Vec<u8> {
    let dir = TempDir::new("build");
    let mem = Memory::default();
    let gate = fixture_gate_on(Box::new(mem.clone()), start, &dir);
    for i in 0..transfers {
        let outcome = if i == 3 {
            gate.apply(&unknown_transfer(), fixture_record(i))
        } else {
            gate.apply(&fixture_transfer(), fixture_record(i))
        };
        match (i, outcome.unwrap()) {
            (3, Outcome::Refused(_)) | (_, Outcome::Released(_)) => {}
            (_, other) => panic!("transfer {i}: unexpected {other:?}"),
        }
    }
    mem.bytes()
}

/// The complete lines of a log, each with its newline.
fn lines_of(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|b| *b == b'\n').collect()
}

fn concat(lines: &[&[u8]]) -> Vec<u8> {
    lines.concat()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn entries(bytes: &[u8]) -> Vec<Value> {
    lines_of(bytes)
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// The kinds of a log's entries, without the checkpoint every write ends in.
fn kinds(bytes: &[u8]) -> Vec<String> {
    entries(bytes)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .filter(|k| k != "checkpoint")
        .collect()
}

/// The two logs the tamper tests start from: the log under test and another valid
/// log, sealed with the same key, to splice entries from.
fn logs() -> &'static (Vec<u8>, Vec<u8>) {
    static LOGS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    LOGS.get_or_init(|| {
        let log = build_log(8, t0());
        let other = build_log(14, t0() + Duration::days(3));
        (log, other)
    })
}

#[track_caller]
fn assert_damage(bytes: &[u8], entry: usize, kind: DamageKind, what: &str) -> Damage {
    match check(bytes) {
        Ok(s) => panic!(
            "{what}: not detected (verify passed, {} entries)",
            s.entries
        ),
        Err(d) => {
            assert_eq!(
                (d.entry, d.kind),
                (entry as u64, kind),
                "{what}: wrong first bad entry or kind: {d}"
            );
            d
        }
    }
}

// ---------------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------------

pub(crate) fn file_log(path: &Path, transfers: u64) -> u64 {
    let (log, report) = AuditLog::open(path, &ring(), stepping(t0())).unwrap();
    let gate = Gate::new(fixture_registry(), ring())
        .with_audit(Arc::new(log), &Archive::next_to(path))
        .unwrap();
    for i in 0..transfers {
        assert!(gate
            .apply(&fixture_transfer(), fixture_record(i))
            .unwrap()
            .released()
            .is_some());
    }
    report.entries
}

#[test]
fn a_torn_last_line_is_moved_aside_and_recorded_on_open() {
    let dir = TempDir::new("torn");
    let path = dir.path("audit.log");
    file_log(&path, 4);
    let intact = std::fs::read(&path).unwrap();
    let entries = check(&intact).unwrap().entries;
    assert_eq!(kinds(&intact).len(), 7);
    // A crash mid-append: part of a line, no newline.
    let last = *lines_of(&intact).last().unwrap();
    let torn = [&last[..last.len() / 3], b"\xff\x00garbage".as_slice()].concat();
    let mut bytes = intact.clone();
    bytes.extend_from_slice(&torn);
    std::fs::write(&path, &bytes).unwrap();
    assert_damage(
        &bytes,
        entries as usize + 1,
        DamageKind::TornLastLine,
        "torn",
    );

    let (log, report) = AuditLog::open(&path, &ring(), stepping(t0())).unwrap();
    assert_eq!(report.entries, entries);
    let aside = report
        .torn_moved_to
        .clone()
        .expect("the torn tail is moved aside");
    let name = aside.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("audit.log.torn-"),
        "moved to `{name}`, not `<log>.torn-*`"
    );
    assert_eq!(aside.parent(), path.parent());
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        torn,
        "the torn bytes, exactly"
    );
    assert_eq!(
        dir.files_starting_with("audit.log.torn-"),
        std::slice::from_ref(&name)
    );

    let after = std::fs::read(&path).unwrap();
    assert!(
        after.starts_with(&intact),
        "the intact entries are kept as they were"
    );
    let summary = check(&after).unwrap();
    // The recovery entry and the checkpoint its write ends in.
    assert_eq!(summary.entries, entries + 2);
    let recovery = entries_of_kind(&after, "recovery");
    assert_eq!(recovery.len(), 1);
    let recovery = &recovery[0];
    assert_eq!(recovery["seq"], json!(entries));
    assert_eq!(recovery["torn_bytes"], json!(torn.len()));
    assert_eq!(recovery["torn_sha256"], json!(hex(&Sha256::digest(&torn))));
    assert_eq!(recovery["moved_to"], json!(name));

    // The log goes on after recovery.
    let gate = Gate::new(fixture_registry(), ring())
        .with_audit(Arc::new(log), &Archive::next_to(&path))
        .unwrap();
    gate.apply(&fixture_transfer(), fixture_record(99)).unwrap();
    drop(gate);
    let after = std::fs::read(&path).unwrap();
    let summary = check(&after).unwrap();
    // The writer resumed without reading the log before its last checkpoint, so it
    // names the policy set and the plan again (verifiers accept repeats).
    assert_eq!(
        entries_of_kind(&after, "transfer").len(),
        entries_of_kind(&intact, "transfer").len() + 1
    );
    assert_contiguous(&after);

    // Reopening an intact log changes nothing and moves nothing.
    let (_, report) = AuditLog::open(&path, &ring(), stepping(t0())).unwrap();
    assert_eq!(report.entries, summary.entries);
    assert!(report.torn_moved_to.is_none());
    assert_eq!(std::fs::read(&path).unwrap(), after);
}

#[test]
fn a_log_that_is_only_a_torn_line_opens_as_a_new_log() {
    let dir = TempDir::new("torn-only");
    let path = dir.path("audit.log");
    std::fs::write(&path, b"{\"v\":2,\"kind\":\"tra").unwrap();
    let (_, report) = AuditLog::open(&path, &ring(), stepping(t0())).unwrap();
    assert_eq!(report.entries, 0);
    assert!(report.torn_moved_to.is_some());
    let after = std::fs::read(&path).unwrap();
    check(&after).unwrap();
    assert_eq!(kinds(&after), ["open", "recovery"]);
}

fn entries_of_kind(bytes: &[u8], kind: &str) -> Vec<Value> {
    entries(bytes)
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

fn assert_contiguous(bytes: &[u8]) {
    for (i, e) in entries(bytes).iter().enumerate() {
        assert_eq!(e["seq"], json!(i), "sequence numbers are contiguous");
    }
}

#[test]
fn damage_before_the_last_checkpoint_stays_visible_and_damage_after_it_refuses_to_open() {
    let dir = TempDir::new("damaged");
    let path = dir.path("audit.log");
    file_log(&path, 4);
    let intact = std::fs::read(&path).unwrap();
    let lines = lines_of(&intact);
    let third = lines[..2].concat().len();

    // An edit under a signed checkpoint: the writer resumes from the last checkpoint's
    // signed peaks, so it neither reads nor signs the edited bytes, and verify keeps
    // naming the damage after more entries are appended.
    let mut edited = intact.clone();
    edited[third + 20] ^= 0x01; // inside entry 3
    std::fs::write(&path, &edited).unwrap();
    file_log(&path, 1);
    let damage = check(&std::fs::read(&path).unwrap()).unwrap_err();
    assert_eq!(damage.kind, DamageKind::Edited, "{damage}");

    // Entries after the last checkpoint that do not follow it: refused, left alone.
    std::fs::write(&path, &intact).unwrap();
    let next = check(&intact).unwrap().entries;
    for (what, line) in [
        (
            "a gap",
            format!(
                "{{\"v\":3,\"kind\":\"open\",\"seq\":{},\"time\":\"x\"}}\n",
                next + 1
            ),
        ),
        ("not an entry", "{\"v\":3,\"ki\n".to_owned()),
    ] {
        let bytes = [intact.as_slice(), line.as_bytes()].concat();
        std::fs::write(&path, &bytes).unwrap();
        match AuditLog::open(&path, &ring(), stepping(t0())) {
            Err(AuditError::Damaged { damage, .. }) => {
                assert_eq!(damage.entry, next + 1, "{what}: {damage}");
            }
            Err(e) => panic!("{what}: wrong error {e}"),
            Ok(_) => panic!("{what}: a damaged log opened"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: file changed");
        assert!(
            dir.files_starting_with("audit.log.torn-").is_empty(),
            "{what}: nothing moved aside"
        );
    }
    std::fs::write(&path, &intact).unwrap();

    // Signed by another writer key: refused too.
    let other = ring_with_audit(AUDIT_ID, &"5a".repeat(32));
    match AuditLog::open(&path, &other, stepping(t0())) {
        Err(AuditError::Damaged { damage, .. }) => {
            assert_eq!(damage.kind, DamageKind::WrongKey, "{damage}");
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("a log signed with another key opened"),
    }
    // No audit key at all.
    let no_audit = KeyRing::from_json("k", br#"{"domains": {}}"#).unwrap();
    assert!(matches!(
        AuditLog::open(&path, &no_audit, stepping(t0())),
        Err(AuditError::NoAuditKey(_))
    ));
    assert_eq!(std::fs::read(&path).unwrap(), intact);
}

// ---------------------------------------------------------------------------------
// Failing closed
// ---------------------------------------------------------------------------------

fn is_poisoned(e: &GateError) -> bool {
    matches!(e, GateError::Audit(AuditError::Poisoned { .. }))
}

#[test]
fn a_failing_write_or_sync_releases_nothing_and_poisons_the_log() {
    // Appends: 0 open, 1 policy, 2 the first transfer (with its plan). Syncs likewise.
    for (what, fail_append, fail_sync) in [("write", 2, usize::MAX), ("sync", usize::MAX, 2)] {
        let dir = TempDir::new("fail");
        let (storage, bytes) = FaultyStorage::new(fail_append, fail_sync);
        let gate = fixture_gate_on(Box::new(storage), t0(), &dir);
        let before = bytes.bytes();
        assert_eq!(kinds(&before), ["open", "policy"]);

        match gate.apply(&fixture_transfer(), fixture_record(1)) {
            Err(GateError::Audit(e)) => {
                assert!(chain(&e).contains(what), "{what}: {e}");
            }
            Err(e) => panic!("{what}: wrong error {e}"),
            Ok(outcome) => panic!("{what}: released despite the failed log: {outcome:?}"),
        }
        // Every later transfer fails too, by every path, releasing nothing.
        let e = gate
            .apply(&fixture_transfer(), fixture_record(2))
            .unwrap_err();
        assert!(is_poisoned(&e), "{what}: {e}");
        let bytes_in = serde_json::to_vec(&fixture_record(3)).unwrap();
        let e = gate.apply_json(&fixture_transfer(), &bytes_in).unwrap_err();
        assert!(is_poisoned(&e), "{what}: {e}");
        let flow = gate.flow(&fixture_transfer()).unwrap();
        let e = flow.apply(fixture_record(4)).unwrap_err();
        assert!(is_poisoned(&e), "{what}: {e}");
        let mut out = b"earlier output\n".to_vec();
        let e = flow.write_json(&bytes_in, &mut out).unwrap_err();
        assert!(is_poisoned(&e), "{what}: {e}");
        assert_eq!(out, b"earlier output\n", "{what}: write_json wrote output");
        // A refusal still refuses (nothing crosses either way).
        assert!(matches!(
            gate.apply(&unknown_transfer(), fixture_record(5)).unwrap(),
            Outcome::Refused(_)
        ));
        if what == "write" {
            assert_eq!(bytes.bytes(), before, "nothing more reached the storage");
        }
    }
}

#[test]
fn a_failure_while_logging_a_refusal_poisons_the_log_too() {
    let dir = TempDir::new("fail-refusal");
    let (storage, _) = FaultyStorage::new(2, usize::MAX);
    let gate = fixture_gate_on(Box::new(storage), t0(), &dir);
    assert!(matches!(
        gate.apply(&unknown_transfer(), fixture_record(0)).unwrap(),
        Outcome::Refused(_)
    ));
    let e = gate
        .apply(&fixture_transfer(), fixture_record(1))
        .unwrap_err();
    assert!(is_poisoned(&e), "{e}");
}

/// Input that hands over what the test sends, and waits (like a pipe whose producer
/// is slow) until the test sends more or hangs up.
struct PipeInput {
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

/// `Read` for the test inputs below, through their `BufRead`.
fn read_buffered(input: &mut impl io::BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let available = input.fill_buf()?;
    let n = available.len().min(buf.len());
    buf[..n].copy_from_slice(&available[..n]);
    input.consume(n);
    Ok(n)
}

impl io::Read for PipeInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

impl io::BufRead for PipeInput {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at == self.chunk.len() {
            self.chunk = self.chunks.recv().unwrap_or_default();
            self.at = 0;
        }
        Ok(&self.chunk[self.at..])
    }
    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

/// Output that passes every write on to the test.
struct PipeOutput(std::sync::mpsc::Sender<Vec<u8>>);

impl io::Write for PipeOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_audited_stream_releases_each_record_before_it_waits_for_the_next() {
    // A case system feeding records one at a time must get each one back (logged and
    // synced) without sending the next: the stream syncs one batch while it gates
    // the next only when more input is already there.
    let dir = TempDir::new("pipe");
    let gate = fixture_gate_on(Box::new(Memory::default()), t0(), &dir);
    let flow = gate.flow(&fixture_transfer()).unwrap();
    for threads in [1, 2] {
        let (send_input, chunks) = std::sync::mpsc::channel();
        let (output, received) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let flow = &flow;
            let gating = scope.spawn(move || {
                let input = PipeInput {
                    chunks,
                    chunk: Vec::new(),
                    at: 0,
                };
                gate_json_lines_parallel(flow, input, &mut PipeOutput(output), threads, |_| {})
            });
            for i in 0..5 {
                send_input.send(fixture_lines_from(i, 1)).unwrap();
                // Generous: this checks that the record comes back at all while the
                // producer waits, not how fast.
                let line = received
                    .recv_timeout(std::time::Duration::from_secs(60))
                    .unwrap_or_else(|_| {
                        panic!("{threads} thread(s): record {i} held back until more input")
                    });
                assert_eq!(lines_of(&line).len(), 1, "{threads} thread(s)");
            }
            drop(send_input);
            let stats = gating.join().unwrap().unwrap();
            assert_eq!(stats.released, 5, "{threads} thread(s)");
        });
    }
}

/// Input that yields `bytes` and then fails, as a broken pipe or disk might.
struct FailingInput {
    bytes: Vec<u8>,
    at: usize,
}

impl io::Read for FailingInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

impl io::BufRead for FailingInput {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at == self.bytes.len() {
            return Err(io::Error::other("injected read failure"));
        }
        Ok(&self.bytes[self.at..])
    }
    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

#[test]
fn a_read_error_stops_an_audited_stream_after_every_logged_record_is_out() {
    // Two and a half batches and half a line, then the input fails while the third
    // batch is read, with the second batch's sync in flight: whatever the log says
    // was released must have gone out.
    let batch = privacy_gate::AUDITED_BATCH_LINES as u64;
    let mut input = fixture_lines(2 * batch + batch / 2);
    input.extend_from_slice(br#"{"case":{"id":"#);
    let dir = TempDir::new("read-error");
    for threads in [1, 2] {
        let mem = Memory::default();
        let gate = fixture_gate_on(Box::new(mem.clone()), t0(), &dir);
        let flow = gate.flow(&fixture_transfer()).unwrap();
        let mut out = Vec::new();
        let reader = FailingInput {
            bytes: input.clone(),
            at: 0,
        };
        let result = gate_json_lines_parallel(&flow, reader, &mut out, threads, |_| {});
        assert!(
            matches!(&result, Err(StreamError::Io(e)) if e.to_string().contains("injected")),
            "{threads} thread(s): {result:?}"
        );
        let logged = String::from_utf8(mem.bytes())
            .unwrap()
            .matches(r#""outcome":"released""#)
            .count();
        let released = lines_of(&out).len();
        assert_eq!(
            released, logged,
            "{threads} thread(s): {released} records out, {logged} logged as released"
        );
        if threads == 1 {
            // One thread reads in order: both whole batches were gated and logged;
            // the third failed while it was read, so none of it was gated.
            assert_eq!(released as u64, 2 * batch, "one thread");
        }
    }
}

fn fixture_lines_from(first: u64, n: u64) -> Vec<u8> {
    let mut input = Vec::new();
    for i in first..first + n {
        serde_json::to_writer(&mut input, &fixture_record(i)).unwrap();
        input.push(b'\n');
    }
    input
}

pub(crate) fn fixture_lines(n: u64) -> Vec<u8> {
    fixture_lines_from(0, n)
}

#[test]
fn a_failing_log_stops_a_stream_before_the_failing_batch_is_output() {
    // Three batches: two full ones and a rest.
    let batch = privacy_gate::AUDITED_BATCH_LINES;
    let total = 2 * batch + batch / 3;
    let input = fixture_lines(total as u64);
    // The output of a healthy log, to compare with.
    let dir = TempDir::new("stream");
    let healthy = fixture_gate_on(Box::new(Memory::default()), t0(), &dir);
    let flow = healthy.flow(&fixture_transfer()).unwrap();
    let mut expected = Vec::new();
    gate_json_lines(&flow, input.as_slice(), &mut expected, |_| {}).unwrap();
    assert_eq!(lines_of(&expected).len(), total);
    let first_batch = concat(&lines_of(&expected)[..batch]);

    // Appends: 0 open, 1 policy, 2 the first batch (with the plan), 3 the second.
    // Syncs: 0 open, 1 policy, then at least one per batch; one sync may cover
    // several batches, as the stream syncs one batch while it gates the next.
    for threads in [1, 2] {
        for (what, fail_append, fail_sync) in [("write", 3, usize::MAX), ("sync", usize::MAX, 3)] {
            let (storage, bytes) = FaultyStorage::new(fail_append, fail_sync);
            let durable = storage.durable.clone();
            let gate = fixture_gate_on(Box::new(storage), t0(), &dir);
            let flow = gate.flow(&fixture_transfer()).unwrap();
            let mut out = Vec::new();
            let result =
                gate_json_lines_parallel(&flow, input.as_slice(), &mut out, threads, |_| {});
            assert!(
                matches!(result, Err(StreamError::Audit(_))),
                "{what}, {threads} thread(s): {result:?}"
            );
            let released = lines_of(&out).len();
            if what == "write" {
                // The first batch was written in full before the second failed: it
                // is synced and goes out; nothing after it does.
                assert!(
                    out == first_batch,
                    "{what}, {threads} thread(s): {released} lines out, expected the first batch's {batch}"
                );
            } else {
                // Whole batches, in order, and only those whose entries were durable.
                assert!(
                    expected.starts_with(&out)
                        && released.is_multiple_of(batch)
                        && released < total,
                    "{what}, {threads} thread(s): {released} lines out"
                );
            }
            let logged = bytes.bytes();
            let durable_transfers =
                String::from_utf8_lossy(&logged[..durable.load(Ordering::SeqCst)])
                    .matches(r#""kind":"transfer""#)
                    .count();
            assert!(
                released <= durable_transfers,
                "{what}, {threads} thread(s): {released} records out, {durable_transfers} entries durable"
            );
            // The log stays poisoned: the next stream outputs nothing.
            let mut out = Vec::new();
            let result = gate_json_lines(&flow, input.as_slice(), &mut out, |_| {});
            assert!(
                matches!(
                    &result,
                    Err(StreamError::Audit(AuditError::Poisoned { .. }))
                ),
                "{what}: {result:?}"
            );
            assert!(out.is_empty(), "{what}: output after the log failed");
        }
    }
}

// ---------------------------------------------------------------------------------
// Many writers
// ---------------------------------------------------------------------------------

/// The members of an entry that the tests below count by.
#[derive(serde::Deserialize)]
struct Head {
    seq: u64,
    kind: String,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    input: Option<String>,
}

fn heads(bytes: &[u8]) -> Vec<Head> {
    lines_of(bytes)
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// The audit key's digest of a record's bytes, as a transfer entry's `input` holds it.
fn input_digest(bytes: &[u8]) -> String {
    let key = key_from_secret(AUDIT_ID, &unhex(&audit_secret())).unwrap();
    format!(
        "{AUDIT_ID}:{}",
        hex(&raw_tag(&key, b"pg-audit-input", &[bytes]))
    )
}

/// 8 threads x 10,000 transfers through one gate into one log file, each transfer
/// durable (fdatasync, grouped) before it returns; one in a hundred is refused
/// before any record is seen (and logged too).
#[test]
fn eight_threads_share_one_gate_and_one_log() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 10_000;
    // Most of the time goes into hashing (a debug build's SHA-256), not the disk: on
    // the disk this was measured on, the test takes as long as on /dev/shm. But on a
    // slow disk, the 10,000 or more grouped fdatasyncs could add minutes, so the log
    // goes to /dev/shm (tmpfs) when there is one: this test is about the locking,
    // grouping and chaining; the crash test covers durability on a real file system.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        TempDir::under(shm, "threads")
    } else {
        TempDir::new("threads")
    };
    let path = dir.path("audit.log");
    let (log, _) = AuditLog::open(&path, &ring(), Arc::new(SystemClock)).unwrap();
    let gate = Gate::new(fixture_registry(), ring())
        .with_audit(Arc::new(log), &Archive::next_to(&path))
        .unwrap();
    let record = |n: u64| json!({"a": {"s": format!("s-{n}")}, "num": n});
    let released: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let gate = &gate;
                scope.spawn(move || {
                    let mut released = 0;
                    for i in 0..PER_THREAD {
                        let n = t * PER_THREAD + i;
                        let outcome = if i % 100 == 99 {
                            gate.apply(&unknown_transfer(), record(n))
                        } else {
                            gate.apply(&fixture_transfer(), record(n))
                        };
                        match outcome.unwrap() {
                            Outcome::Released(_) => released += 1,
                            Outcome::Refused(_) => assert_eq!(i % 100, 99),
                        }
                    }
                    released
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    drop(gate);
    let total = THREADS * PER_THREAD;
    assert_eq!(released, total / 100 * 99);

    let bytes = std::fs::read(&path).unwrap();
    let summary = check(&bytes).unwrap();
    let heads = heads(&bytes);
    assert_eq!(summary.entries, heads.len() as u64);
    for (i, head) in heads.iter().enumerate() {
        assert_eq!(head.seq, i as u64, "sequence numbers are contiguous");
    }
    let count = |kind: &str, outcome: Option<&str>| {
        heads
            .iter()
            .filter(|h| h.kind == kind && (outcome.is_none() || h.outcome.as_deref() == outcome))
            .count() as u64
    };
    assert_eq!(count("transfer", None), total, "one entry per transfer");
    assert_eq!(count("transfer", Some("released")), released);
    assert_eq!(count("transfer", Some("refused")), total - released);
    let plans = count("plan", None);
    assert_eq!(
        plans, 1,
        "the plan is logged once, however many threads race to"
    );
    assert_eq!(count("open", None) + count("policy", None), 2);
    let checkpoints = count("checkpoint", None);
    assert!(checkpoints >= 1 && checkpoints <= 2 + plans + total);
    assert_eq!(
        heads.len() as u64,
        2 + plans + total + checkpoints,
        "nothing else"
    );
    // Each released record is logged exactly once.
    let logged: BTreeSet<&str> = heads.iter().filter_map(|h| h.input.as_deref()).collect();
    assert_eq!(logged.len() as u64, released);
    for n in (0..total).filter(|n| n % 100 != 99).step_by(7) {
        let digest = input_digest(&serde_json::to_vec(&record(n)).unwrap());
        assert!(logged.contains(digest.as_str()), "transfer {n} missing");
    }
}

// ---------------------------------------------------------------------------------
// Log injection
// ---------------------------------------------------------------------------------

/// Hostile text: line breaks of every kind, NUL, escape sequences, other controls.
fn hostile(forged: &str) -> Vec<String> {
    vec![
        "a\nb".into(),
        "a\r\nb\rc".into(),
        "nul\0nul".into(),
        "ls\u{2028}ps\u{2029}nel\u{85}".into(),
        "\u{1b}[2J\u{7}\u{8}\u{7f}\u{b}\u{c}\u{1c}\u{1d}\u{1e}".into(),
        format!("x\n{forged}\ny"),
        format!("x\u{2028}{forged}\u{2028}"),
        format!("\"}}\n{forged}"),
    ]
}

/// A forged entry: a real entry's text, as someone would try to smuggle it in.
fn forged_line() -> String {
    let (log, _) = logs();
    String::from_utf8(lines_of(log)[5].strip_suffix(b"\n").unwrap().to_vec()).unwrap()
}

/// Builds a log by sending hostile values and hostile transfer names through a gate.
/// Returns the log and how many transfer entries it should hold.
fn hostile_log() -> (Vec<u8>, usize, Vec<String>) {
    let dir = TempDir::new("inject");
    let mem = Memory::default();
    let gate = fixture_gate_on(Box::new(mem.clone()), t0(), &dir);
    let values = hostile(&forged_line());
    let mut transfers = 0;
    for v in &values {
        // In values and in keys, through every path into the gate.
        let record = json!({
            "a": {"s": v, "n": v, "p": v, "d": v},
            "b": {"t": v, "bsn": v},
            "list": [{"x": v}, v],
            (v.clone()): v,
            "a2": {(v.clone()): [v]},
        });
        gate.apply(&fixture_transfer(), record.clone()).unwrap();
        let bytes = serde_json::to_vec(&record).unwrap();
        gate.apply_json(&fixture_transfer(), &bytes).unwrap();
        let flow = gate.flow(&fixture_transfer()).unwrap();
        let mut out = Vec::new();
        let mut line = bytes.clone();
        line.push(b'\n');
        let stats = gate_json_lines(&flow, line.as_slice(), &mut out, |_| {}).unwrap();
        assert_eq!(stats.released, 1);
        transfers += 3;
        // In the names of the transfer itself (refused, and logged).
        for (from, to, purpose) in [(v.as_str(), "x/r", "p"), ("x/s", v, "p"), ("x/s", "x/r", v)] {
            let transfer = Transfer {
                from,
                to,
                purpose,
                at: t0(),
            };
            assert!(matches!(
                gate.apply(&transfer, fixture_record(0)).unwrap(),
                Outcome::Refused(_)
            ));
            transfers += 1;
        }
    }
    drop(gate);
    (mem.bytes(), transfers, values)
}

#[test]
fn hostile_values_cannot_split_or_forge_entries() {
    let (bytes, transfers, values) = hostile_log();
    let summary = check(&bytes).unwrap();
    let all = entries(&bytes);
    assert_eq!(summary.entries, all.len() as u64);
    assert_contiguous(&bytes);
    assert_eq!(
        all.iter().filter(|e| e["kind"] == "transfer").count(),
        transfers
    );
    assert_eq!(
        kinds(&bytes).len(),
        3 + transfers,
        "open, policy, plan and the transfers"
    );
    // No raw line break or NUL inside an entry: each line is exactly one entry.
    for line in lines_of(&bytes) {
        let body = line.strip_suffix(b"\n").unwrap();
        assert!(!body.iter().any(|b| matches!(b, b'\n' | b'\r' | 0)));
    }
    // Transfer names that are not identifiers are logged as a placeholder; no hostile
    // text (nor the forged entry) is in the log, raw or escaped.
    for member in ["from", "to", "purpose"] {
        let placeholders = all
            .iter()
            .filter(|e| e[member] == "<not an identifier>")
            .count();
        assert_eq!(placeholders, values.len(), "`{member}`");
    }
    for v in &values {
        assert!(!contains(&bytes, v.as_bytes()), "{v:?} is in the log");
        let escaped = ascii_json(v);
        assert!(
            !contains(&bytes, escaped.as_bytes()),
            "{escaped} is in the log"
        );
    }
    let forged = forged_line();
    assert!(!contains(&bytes, forged.as_bytes()));
    assert!(!contains(&bytes, ascii_json(&forged).as_bytes()));
}

/// `text` as a JSON string's content, escaped as the log escapes it (all non-ASCII as
/// `\uXXXX`), without the quotes.
fn ascii_json(text: &str) -> String {
    let json = serde_json::to_string(text).unwrap();
    let mut out = String::new();
    for c in json[1..json.len() - 1].chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Readers other than `verify` split lines on more than `\n`: U+2028 and U+2029 end a
/// line in JavaScript before ES2019 and in many editors, and NEL, VT, FF and the
/// separators U+001C..U+001E end a line for Python's `str.splitlines`. An entry holds
/// none of them, nor any other control character, raw.
#[test]
fn entries_hold_no_raw_unicode_line_breaks_or_control_characters() {
    let (bytes, _, _) = hostile_log();
    let text = std::str::from_utf8(&bytes).unwrap();
    let mut found = Vec::new();
    for (i, line) in text.split_terminator('\n').enumerate() {
        let bad: BTreeSet<String> = line
            .chars()
            .filter(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        if !bad.is_empty() {
            let kind = &entries(line.as_bytes())[0]["reason"]["reason"];
            found.push(format!("entry {} ({kind}): raw {bad:?}", i + 1));
        }
    }
    assert!(
        found.is_empty(),
        "{} of {} entries hold raw line breaks or control characters:\n{}",
        found.len(),
        text.lines().count(),
        found.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// No personal data in the log
// ---------------------------------------------------------------------------------

/// A valid BSN (eleven-test) from `n`.
fn bsn(n: u64) -> String {
    let mut digits: Vec<u64> = format!("{:08}", n % 100_000_000)
        .bytes()
        .map(|b| u64::from(b - b'0'))
        .collect();
    loop {
        let sum: u64 = digits.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum();
        let last = sum % 11;
        if last < 10 {
            digits.push(last);
            return digits.iter().map(|d| d.to_string()).collect();
        }
        // Make the check digit fit by changing the last of the eight.
        digits[7] = (digits[7] + 1) % 10;
    }
}

/// A record full of values that cannot occur in a log by chance.
fn distinctive_record(i: u64, consent: &str) -> Value {
    json!({
        "case": {
            "id": format!("QZcase-{i:04}-Ypsilon"), "opened_on": "2019-12-29", "province": "drenthe",
            "status": "open", "exploitation_type": "labour", "sector": format!("QZsector-{i}-Hortus"),
            "routing": "both", "consent": consent, "disclosure_basis": "conflict-of-duties",
            "reporter": {"organisation": format!("QZorganisatie-{i}-Noord"), "name": format!("Quirinus Zebedeus-{i}")},
        },
        "subject": {
            "bsn": bsn(31_415_926 + i * 7919),
            "name": {"given": format!("Xanthippe-{i}-QZ"), "family": format!("Wolkenkrabber-{i}-QZ")},
            "birth_date": "1937-08-19", "is_minor": false, "sex": "female",
            "nationality": format!("QZland-{i}-Utopia"), "residence_status": format!("QZstatus-{i}-Verblijf"),
            "address": {"street": format!("Zuiderzeestraatweg-{i}-QZ"), "house_number": format!("{i}-QZbis"),
                        "postcode": "7531 QZ", "city": format!("Quokkadorp-{i}-QZ")},
            "shelter_location": format!("QZopvang-{i}-Geheim"), "phone": format!("+31-QZ-{i:07}"),
            "email": format!("qz.person.{i}@example.invalid"),
        },
        "health": {"summary": format!("QZgezondheid-{i}: diagnose tekst"), "care_need": true},
        "police": {"reference": format!("QZPL-{i:05}-Referentie"), "known": true},
        "prosecution": {"decision": format!("QZbeslissing-{i}-Sepot")},
        "wmo": {"pgb_amount": 4321.5, "provider": format!("QZzorgaanbieder-{i}")},
        "notes": format!("QZnotities-{i}: vrije tekst"),
        "contacts": [{"date": "2018-06-07", "organisation": format!("QZcontactorg-{i}"),
                      "summary": format!("QZcontact-{i}: eerste gesprek")}],
        format!("QZonbekend-{i}-Sleutel"): format!("QZonbekende-waarde-{i}"),
    })
}

/// Every string in `value` and every key that is not a schema name (those hold
/// `QZ`), except under `skip` members.
fn strings(value: &Value, skip: &[&str], out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, skip, out)),
        Value::Object(map) => {
            for (k, v) in map {
                if skip.contains(&k.as_str()) {
                    continue;
                }
                if k.contains("QZ") {
                    out.push(k.clone());
                }
                strings(v, skip, out);
            }
        }
        _ => {}
    }
}

#[test]
fn no_value_and_no_pseudonym_reaches_the_log() {
    let dir = TempDir::new("privacy");
    let mem = Memory::default();
    let log = AuditLog::with_storage(
        &dir.path("audit.log"),
        Box::new(mem.clone()),
        &ring(),
        stepping(t0()),
    )
    .unwrap();
    let gate = Gate::new(shipped_registry(), ring())
        .with_audit(Arc::new(log), &Archive::next_to(&dir.path("audit.log")))
        .unwrap();
    let flows = [
        // BSN and case id pseudonymised in the ZVH's signal domain, names plain.
        ("drenthe/ggd", "drenthe/zvh", "signal-assessment"),
        // Nearly everything passes, with consent; refused without it.
        ("groningen/ggd", "groningen/zvh", "care-coordination"),
    ];
    let mut inputs = Vec::new();
    let mut released = Vec::new();
    let mut transfers = 0;
    let mut refused = 0;
    for (f, (from, to, purpose)) in flows.into_iter().enumerate() {
        let transfer = Transfer {
            from,
            to,
            purpose,
            at: t0(),
        };
        let flow = gate.flow(&transfer).unwrap();
        let mut lines = Vec::new();
        for j in 0..6u64 {
            let i = f as u64 * 100 + j;
            let consent = if j % 3 == 2 { "refused" } else { "given" };
            let record = distinctive_record(i, consent);
            inputs.push(record.clone());
            let outcome = match j % 3 {
                0 => gate.apply(&transfer, record).unwrap(),
                _ => gate
                    .apply_json(&transfer, &serde_json::to_vec(&record).unwrap())
                    .unwrap(),
            };
            transfers += 1;
            match outcome {
                Outcome::Released(r) => released.push(r.record),
                Outcome::Refused(_) => refused += 1,
            }
            let record = distinctive_record(i + 50, consent);
            serde_json::to_writer(&mut lines, &record).unwrap();
            lines.push(b'\n');
            inputs.push(record);
        }
        let mut out = Vec::new();
        let stats = gate_json_lines(&flow, lines.as_slice(), &mut out, |_| {}).unwrap();
        transfers += 6;
        refused += stats.refused as usize;
        for line in lines_of(&out) {
            released.push(serde_json::from_slice(line).unwrap());
        }
    }
    drop(gate);
    assert!(refused >= 2, "the groningen flow refuses without consent");
    let bytes = mem.bytes();
    check(&bytes).unwrap();
    assert_eq!(entries_of_kind(&bytes, "transfer").len(), transfers);

    // The raw values, as given and as the gate normalises them.
    let mut secrets = Vec::new();
    let vocabulary = [
        "drenthe",
        "open",
        "labour",
        "both",
        "given",
        "refused",
        "female",
        // A condition's value, named in the plan's entry.
        "conflict-of-duties",
    ];
    for record in &inputs {
        let mut all = Vec::new();
        strings(record, &[], &mut all);
        for s in all {
            if vocabulary.contains(&s.as_str()) {
                continue;
            }
            secrets.push(s.to_lowercase());
            secrets.push(s.to_uppercase());
            secrets.push(s.replace(' ', ""));
            secrets.push(s);
        }
    }
    // What crossed: pseudonyms (and their tags alone), passed and generalised values.
    let mut pseudonyms = 0;
    for record in &released {
        let mut all = Vec::new();
        strings(record, &["_transfer"], &mut all);
        for s in all {
            if let Some(tag) = s.strip_prefix("pg2:").and_then(|r| r.split(':').nth(1)) {
                pseudonyms += 1;
                secrets.push(tag.to_owned());
            }
            if s.len() >= 7 && !vocabulary.contains(&s.as_str()) {
                secrets.push(s);
            }
        }
    }
    assert!(pseudonyms >= 12, "only {pseudonyms} pseudonyms released");
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        secrets.len() > 1000,
        "only {} values to look for",
        secrets.len()
    );
    assert!(
        text.contains("groningen/zvh"),
        "the search finds what is there"
    );
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "the log holds {secret:?}");
    }
}
