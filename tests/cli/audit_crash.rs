//! The gate process killed (SIGKILL) at random moments, many times over, writing one
//! audit log: every record it output is in the log, at most the last line is torn,
//! and after recovery the log verifies.
use crate::util::{bin, hex, Scratch};
use privacy_gate::audit::{self, AuditLog, SystemClock};
use privacy_gate::danger::{key_from_secret, raw_tag};
use privacy_gate::KeyRing;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Kills, all on the same log.
const RUNS: u64 = 30;
/// Lines the stream gates, logs and outputs at a time.
const BATCH: usize = 256;

const AUDIT_ID: &str = "a1";

/// A small deterministic generator (no `rand` crate): 64-bit LCG, high bits out.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn audit_secret() -> Vec<u8> {
    (0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5c).collect()
}

fn key_file() -> String {
    json!({
        "domains": {"drenthe/zvh-signalen": {"active": "d1", "keys": {"d1": "d1".repeat(32)}}},
        "audit_writer": {"name": "test.example/audit", "secret": "77".repeat(32)},
        "audit_records": {"active": AUDIT_ID, "keys": {AUDIT_ID: hex(&audit_secret())}},
        "audit_subject": {"active": "s1", "keys": {"s1": "66".repeat(32)}},
    })
    .to_string()
}

/// The members of an entry this test looks at.
#[derive(serde::Deserialize)]
struct Head {
    seq: u64,
    kind: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    output: Option<String>,
}

/// `lines` records from the examples, trimmed to what crosses (smaller entries keep
/// the verifications of a growing log quick), each with a case id of its own.
fn input(run: u64, lines: usize) -> Vec<u8> {
    let examples = include_str!("../../examples/ggd-reports.jsonl");
    let records: Vec<Value> = examples
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut out = Vec::new();
    for i in 0..lines {
        let example = &records[i % records.len()];
        let record = json!({
            "case": {"id": format!("crash-{run}-{i}"), "status": example["case"]["status"],
                     "routing": example["case"]["routing"],
                     "disclosure_basis": example["case"]["disclosure_basis"]},
            "subject": {"name": example["subject"]["name"], "bsn": example["subject"]["bsn"]},
        });
        serde_json::to_writer(&mut out, &record).unwrap();
        out.push(b'\n');
    }
    out
}

/// When to kill.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// This long after the start.
    At(Duration),
    /// This long after the first output arrived and the rest of the input was sent.
    AfterOutput(Duration),
}

/// What became of one run.
struct Run {
    /// Killed, rather than ended on its own.
    killed: bool,
    /// Everything it wrote to stdout before it died.
    stdout: Vec<u8>,
    /// How long after its start its first output arrived, if any did.
    first_output: Option<Duration>,
    /// Its stderr.
    stderr: String,
}

/// Runs the gate, writes `first` to its stdin and keeps stdin open; once the first
/// output arrives (with [`Kill::AfterOutput`]), writes `rest` and closes stdin. Kills
/// the gate (SIGKILL) when `kill` says.
fn run(args: &[&str], first: Vec<u8>, rest: Vec<u8>, kill: Kill) -> Run {
    let start = Instant::now();
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (send_rest, rest_wanted) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        // Writing fails with a broken pipe once the gate is dead.
        if stdin.write_all(&first).is_ok() && rest_wanted.recv().is_ok() {
            let _ = stdin.write_all(&rest);
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let (first_tx, first_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut received = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match stdout.read(&mut chunk) {
                Ok(0) | Err(_) => return received,
                Ok(n) => {
                    if received.is_empty() {
                        let _ = first_tx.send(start.elapsed());
                    }
                    received.extend_from_slice(&chunk[..n]);
                }
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut first_output = None;
    match kill {
        Kill::At(delay) => std::thread::sleep(delay.saturating_sub(start.elapsed())),
        Kill::AfterOutput(delay) => {
            first_output = first_rx.recv_timeout(Duration::from_secs(60)).ok();
            let _ = send_rest.send(());
            std::thread::sleep(delay);
        }
    }
    let _ = child.kill(); // does nothing if it has ended already
    let status = child.wait().unwrap();
    drop(send_rest);
    writer.join().unwrap();
    let stdout = reader.join().unwrap();
    let stderr = errors.join().unwrap();
    let killed = status.signal() == Some(9); // SIGKILL
    if !killed {
        assert!(status.success(), "ended on its own with {status}: {stderr}");
    }
    Run {
        killed,
        stdout,
        first_output: first_output.or_else(|| first_rx.try_recv().ok()),
        stderr,
    }
}

fn complete_lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .filter_map(|l| l.strip_suffix(b"\n"))
        .collect()
}

/// The gate is run again and again on one log and killed each time: a third of the
/// runs at any moment up to when their first output is due (loading, opening and
/// verifying the log, archiving, gating), a third around that moment (appending and
/// syncing the first batch, writing its output), a third just after their first
/// output, while the second (last) batch is gated, appended, synced and written, or
/// the gate exits. After each kill: what was in the log before is untouched, the new
/// part is whole entries in sequence and at most one torn line, every record output
/// (acknowledged) is in the log, and a torn line is moved aside on reopening, after
/// which the log verifies. Every run opens (and so verifies) the whole log first; the
/// test verifies it itself every tenth run and at the end.
#[test]
fn a_gate_killed_at_random_moments_loses_no_acknowledged_entry() {
    let dir = Scratch::new("audit-crash");
    let log = dir.path("audit.log");
    let keys = dir.path("keys.json");
    std::fs::write(&keys, key_file()).unwrap();
    let ring = KeyRing::from_json("keys", key_file().as_bytes()).unwrap();
    let audit_keys = &audit::VerifierKey::of(ring.audit_writer().unwrap(), audit::note::ED25519);
    let digest_key = key_from_secret(AUDIT_ID, &audit_secret()).unwrap();
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let log_arg = log.to_str().unwrap();
    let keys_arg = keys.to_str().unwrap();

    let mut rng = Lcg(0x9e37_79b9_7f4a_7c15);
    // When the first output comes: it grows with the log, which every start verifies.
    let mut first_output = Duration::from_millis(150);
    let mut before = Vec::new(); // the log after the previous run and recovery
    let mut next_seq = 0;
    let (mut mid_stream, mut early, mut completed, mut torn_lines, mut acknowledged) =
        (0, 0, 0, 0, 0);
    let mut unacknowledged = 0; // runs killed between logging records and outputting them
    for run_no in 0..RUNS {
        // A moment of its own per run, so that outputs differ from run to run.
        let at = format!("2026-03-02T10:{:02}:{:02}Z", run_no / 60, run_no % 60);
        let args = [
            "gate",
            "--from",
            "drenthe/ggd",
            "--to",
            "noord-nederland/politie",
            "--purpose",
            "criminal-investigation",
            "--at",
            &at,
            "--policies",
            policies,
            "--keys",
            keys_arg,
            "--audit",
            log_arg,
            "--threads",
            "2",
        ];
        let second = 1 + rng.below(64) as usize;
        let all = input(run_no, BATCH + second);
        let cut = complete_lines(&all)[..BATCH]
            .iter()
            .map(|l| l.len() + 1)
            .sum();
        let (first, rest) = (all[..cut].to_vec(), all[cut..].to_vec());
        let micros = u64::try_from(first_output.as_micros()).unwrap();
        let kill = match run_no % 3 {
            0 => Kill::At(Duration::from_micros(rng.below(micros * 11 / 10))),
            1 => Kill::At(Duration::from_micros(
                micros * 9 / 10 + rng.below(micros / 5),
            )),
            _ => Kill::AfterOutput(Duration::from_micros(rng.below(8_000))),
        };
        let result = run(&args, first, rest, kill);
        if let Some(t) = result.first_output {
            first_output = t;
        }
        let acked = complete_lines(&result.stdout);
        acknowledged += acked.len();
        match (result.killed, acked.is_empty()) {
            (false, _) => {
                completed += 1;
                assert_eq!(acked.len(), BATCH + second, "run {run_no}: output missing");
            }
            (true, true) => early += 1,
            (true, false) => mid_stream += 1,
        }

        // As the kill left it: what was there before is untouched; after it come
        // whole entries, in sequence, and at most one torn line.
        let bytes = std::fs::read(&log).unwrap_or_default();
        assert!(
            bytes.starts_with(&before),
            "run {run_no}: earlier entries changed"
        );
        let new = &bytes[before.len()..];
        let whole = new.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut logged = HashSet::new();
        let mut released = 0;
        for line in complete_lines(&new[..whole]) {
            let head: Head = serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!(
                    "run {run_no}: a whole line that is not an entry ({e})\n{}",
                    result.stderr
                )
            });
            assert_eq!(head.seq, next_seq, "run {run_no}: out of sequence");
            next_seq += 1;
            if head.kind == "transfer"
                && head.at.as_deref() == Some(at.as_str())
                && head.outcome.as_deref() == Some("released")
            {
                released += 1;
                logged.insert(head.output.unwrap());
            }
        }
        if result.killed && released > acked.len() {
            unacknowledged += 1;
        }
        // Every record output is in the log: a released entry of this run holds the
        // digest of exactly those bytes.
        assert!(
            released >= acked.len(),
            "run {run_no}: {} records output, {released} logged",
            acked.len()
        );
        for (i, line) in acked.iter().enumerate() {
            let digest = format!(
                "{AUDIT_ID}:{}",
                hex(&raw_tag(
                    &digest_key,
                    b"pg-audit-output",
                    &[&crate::util::without_receipt(line)]
                ))
            );
            assert!(
                logged.contains(&digest),
                "run {run_no}: output line {} is not in the log",
                i + 1
            );
        }

        // A torn line is moved aside and recorded on reopening; then the log verifies.
        let torn = whole < new.len();
        if torn || run_no % 10 == 9 {
            let (reopened, report) = AuditLog::open(&log, &ring, Arc::new(SystemClock))
                .unwrap_or_else(|e| panic!("run {run_no}: the log does not reopen: {e}"));
            drop(reopened);
            assert_eq!(report.torn_moved_to.is_some(), torn, "run {run_no}");
            if let Some(aside) = &report.torn_moved_to {
                torn_lines += 1;
                assert_eq!(std::fs::read(aside).unwrap(), new[whole..]);
            }
            let after = std::fs::read(&log).unwrap();
            let kept = before.len() + whole;
            assert_eq!(after[..kept], bytes[..kept]);
            // Reopening adds a recovery entry for a torn line (and an open entry to a
            // log that had none), nothing else.
            let mut recorded = false;
            for line in complete_lines(&after[kept..]) {
                let head: Head = serde_json::from_slice(line).unwrap();
                assert_eq!(head.seq, next_seq);
                next_seq += 1;
                recorded |= head.kind == "recovery";
                assert!(matches!(head.kind.as_str(), "recovery" | "open"));
            }
            assert_eq!(recorded, torn, "run {run_no}: recovery entry");
            let summary = audit::verify(&after, audit_keys)
                .unwrap_or_else(|d| panic!("run {run_no}: the reopened log does not verify: {d}"));
            assert_eq!(summary.entries, next_seq);
            before = after;
        } else {
            before = bytes;
        }
    }
    let (_, report) = AuditLog::open(&log, &ring, Arc::new(SystemClock)).unwrap();
    assert!(report.torn_moved_to.is_none());
    let summary = audit::verify(&std::fs::read(&log).unwrap(), audit_keys).unwrap();
    assert_eq!(summary.entries, next_seq);
    eprintln!(
        "{RUNS} runs: {mid_stream} killed after output, {early} killed before any output, \
         {completed} completed; {acknowledged} records acknowledged; {unacknowledged} \
         run(s) killed between logging records and writing them; {torn_lines} torn line(s) \
         recovered; {} entries",
        summary.entries
    );
    // The kill moments adapt to how fast this machine is; on a loaded one fewer runs
    // land after their first output, but some must, or the test proved too little.
    assert!(mid_stream >= RUNS / 10, "too few kills after output");
    assert!(early >= 2, "too few kills before any output");
}
