//! Eight threads gating one corpus through one shared gate produce exactly the bytes
//! a sequential run produces: released records, decisions, refusals and errors, along
//! several flows, with pseudonyms, generalisations, conditions and logging.
//!
//! Related tests elsewhere: `records.rs` has 4 threads on the example records along one
//! flow (`the_gate_is_send_and_sync_and_threads_agree_with_a_sequential_run`) and the
//! stream's own threads (`parallel_json_lines_keep_order_and_report_the_same_problems`);
//! `audit.rs` has 8 threads x 10,000 transfers into one log
//! (`eight_threads_share_one_gate_and_one_log`). This one is about the outputs.

use crate::util::{chain, root, Memory, TempDir};
use chrono::{DateTime, Utc};
use privacy_gate::audit::{self, Archive, AuditLog, SteppingClock};
use privacy_gate::{Flow, Gate, KeyRing, Registry, Transfer, Written};
use serde_json::{json, Value};
use std::sync::{Arc, Barrier};

const THREADS: usize = 8;

fn at() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn keys() -> KeyRing {
    let text = json!({
        "domains": {
            "drenthe/zvh-signalen": {"active": "d2", "keys": {"d1": "d1".repeat(32), "d2": "d2".repeat(32)}},
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

/// Flows that pseudonymise, generalise, block, depend on consent, or are refused.
const FLOWS: &[(&str, &str, &str)] = &[
    (
        "drenthe/ggd",
        "noord-nederland/politie",
        "criminal-investigation",
    ),
    (
        "groningen/ggd",
        "noord-nederland/politie",
        "criminal-investigation",
    ),
    (
        "friesland/ggd",
        "noord-nederland/politie",
        "criminal-investigation",
    ),
    (
        "noord-nederland/politie",
        "noord-nederland/om",
        "criminal-investigation",
    ),
    ("groningen/zvh", "groningen/gemeente", "care-coordination"),
    ("drenthe/zvh", "drenthe/gemeente", "care-coordination"),
    ("drenthe/gemeente", "drenthe/zvh", "signal-assessment"),
    ("groningen/zvh", "groningen/ggd", "statistics"),
    ("friesland/gemeente", "friesland/zvh", "signal-assessment"),
    ("drenthe/nobody", "drenthe/zvh", "signal-assessment"),
];

fn transfers() -> Vec<Transfer<'static>> {
    FLOWS
        .iter()
        .map(|(from, to, purpose)| Transfer {
            from,
            to,
            purpose,
            at: at(),
        })
        .collect()
}

/// A small deterministic generator (no `rand` here).
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

/// A BSN that passes the 11-proof, from eight random digits.
fn bsn(rng: &mut Lcg) -> String {
    loop {
        let digits: Vec<u64> = (0..8).map(|_| rng.below(10)).collect();
        let sum: u64 = digits.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum();
        let check = sum % 11;
        if check < 10 && sum > 0 {
            return digits.iter().map(u64::to_string).collect::<String>() + &check.to_string();
        }
    }
}

/// The example records, then variations of them with other people, dates, places
/// and consent, unknown members and wrong types, then lines that are not records.
fn corpus() -> Vec<String> {
    let examples: Vec<String> = std::fs::read_to_string(root().join("examples/ggd-reports.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let mut corpus = examples.clone();
    let mut rng = Lcg(0x5eed);
    let names = [
        "Jansen",
        "de Vries",
        "Çelik",
        "Zoë",
        "O'Brien",
        "Nguyễn",
        "van der Berg",
    ];
    for i in 0..64 {
        let mut record: Value = serde_json::from_str(&examples[i % examples.len()]).unwrap();
        record["case"]["id"] = json!(format!("gen-{i}"));
        record["case"]["consent"] = json!(["given", "refused", "withdrawn"][i % 3]);
        record["subject"]["bsn"] = json!(bsn(&mut rng));
        record["subject"]["name"]["family"] = json!(names[rng.below(names.len() as u64) as usize]);
        record["subject"]["birth_date"] = json!(format!(
            "{}-{:02}-{:02}",
            1940 + rng.below(85),
            1 + rng.below(12),
            1 + rng.below(28)
        ));
        record["subject"]["address"]["postcode"] = json!(format!(
            "{} {}",
            1000 + rng.below(9000),
            ["AB", "XZ", "KL"][i % 3]
        ));
        match i % 7 {
            0 => record["unknown_member"] = json!({"nested": [1, 2, 3]}),
            1 => record["subject"]["birth_date"] = json!(19_900_101),
            2 => record["subject"]["bsn"] = json!("123456789"),
            3 => record["contacts"] = json!([]),
            _ => {}
        }
        corpus.push(record.to_string());
    }
    corpus.extend(
        [
            "{\"case\": {\"id\": \"dup\", \"id\": \"dup\"}}",
            "[1, 2, 3]",
            "{\"case\": ",
            "\"just a string\"",
            "{}",
        ]
        .map(str::to_owned),
    );
    corpus
}

/// What gating one line gives, as bytes: the released record as written, the
/// decision, the removals; or the refusal; or the error.
fn gated(flow: Option<&Flow<'_>>, refusal: Option<&str>, line: &str) -> Vec<u8> {
    let Some(flow) = flow else {
        return format!("refused before reading: {}", refusal.unwrap_or("?")).into_bytes();
    };
    let mut out = Vec::new();
    match flow.write_json(line.as_bytes(), &mut out) {
        Ok(Written::Released(decision)) => {
            out.extend_from_slice(b"\n");
            out.extend_from_slice(decision.to_json().to_string().as_bytes());
            out
        }
        Ok(Written::Refused(why)) => format!("refused: {why}").into_bytes(),
        Err(e) => format!("error: {}", chain(&e)).into_bytes(),
    }
}

/// Every (flow, line) pair, in a fixed order.
fn jobs(flows: usize, lines: usize) -> Vec<(usize, usize)> {
    (0..flows)
        .flat_map(|f| (0..lines).map(move |l| (f, l)))
        .collect()
}

fn sequential(gate: &Gate, transfers: &[Transfer<'_>], corpus: &[String]) -> Vec<Vec<u8>> {
    jobs(transfers.len(), corpus.len())
        .into_iter()
        .map(|(f, l)| {
            let flow = gate.flow(&transfers[f]);
            let refusal = flow.as_ref().err().map(ToString::to_string);
            gated(flow.as_ref().ok(), refusal.as_deref(), &corpus[l])
        })
        .collect()
}

/// Each thread gates every job, in an order of its own, started all at once; flows
/// are resolved per job (`shared: false`) or once and shared by every thread.
fn parallel(
    gate: &Gate,
    transfers: &[Transfer<'_>],
    corpus: &[String],
    shared: bool,
) -> Vec<Vec<Vec<u8>>> {
    let all = jobs(transfers.len(), corpus.len());
    let flows: Vec<_> = transfers.iter().map(|t| gate.flow(t)).collect();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (all, flows, barrier) = (&all, &flows, &barrier);
                scope.spawn(move || {
                    let mut order: Vec<usize> = (0..all.len()).collect();
                    // Thread 0 in order, thread 1 backwards, the others shuffled.
                    match t {
                        0 => {}
                        1 => order.reverse(),
                        _ => {
                            let mut rng = Lcg(t as u64);
                            for i in (1..order.len()).rev() {
                                order.swap(i, rng.below(i as u64 + 1) as usize);
                            }
                        }
                    }
                    let mut results = vec![Vec::new(); all.len()];
                    barrier.wait();
                    for i in order {
                        let (f, l) = all[i];
                        results[i] = if shared {
                            let refusal = flows[f].as_ref().err().map(ToString::to_string);
                            gated(flows[f].as_ref().ok(), refusal.as_deref(), &corpus[l])
                        } else {
                            let flow = gate.flow(&transfers[f]);
                            let refusal = flow.as_ref().err().map(ToString::to_string);
                            gated(flow.as_ref().ok(), refusal.as_deref(), &corpus[l])
                        };
                    }
                    results
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn compare(what: &str, expected: &[Vec<u8>], runs: &[Vec<Vec<u8>>], corpus: &[String]) {
    for (t, run) in runs.iter().enumerate() {
        for (i, (got, want)) in run.iter().zip(expected).enumerate() {
            assert!(
                got == want,
                "{what}, thread {t}: flow {:?}, line {}: differs from the sequential run:\n  {}\n  {}",
                FLOWS[i / corpus.len()],
                i % corpus.len() + 1,
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(got)
            );
        }
        assert_eq!(run.len(), expected.len());
    }
}

#[test]
fn eight_threads_on_one_gate_produce_the_bytes_of_a_sequential_run() {
    let corpus = corpus();
    let transfers = transfers();
    let registry = || Registry::load_dir(&root().join("policies")).unwrap();

    // The expected bytes, from a fresh gate, one job at a time.
    let expected = sequential(&Gate::new(registry(), keys()), &transfers, &corpus);
    // The corpus exercises what it should: releases, refusals and errors.
    let count = |prefix: &[u8]| expected.iter().filter(|e| e.starts_with(prefix)).count();
    assert!(count(b"{") > 500, "releases: {}", count(b"{"));
    assert!(count(b"refused: ") > 10, "refusals on a condition");
    assert!(count(b"refused before reading") >= corpus.len());
    assert!(count(b"error: ") >= 5 * FLOWS.len() / 2);
    assert!(
        expected
            .iter()
            .any(|e| e.windows(7).any(|w| w == b"pg2:d2:")),
        "pseudonyms with the active key"
    );

    // One gate shared by eight threads, flows resolved per record or shared.
    let gate = Gate::new(registry(), keys());
    compare(
        "flow per record",
        &expected,
        &parallel(&gate, &transfers, &corpus, false),
        &corpus,
    );
    compare(
        "shared flows",
        &expected,
        &parallel(&gate, &transfers, &corpus, true),
        &corpus,
    );

    // The same with every transfer logged: the released bytes do not change, the
    // threads race to build each flow's audit template once, and the log verifies
    // with one entry per gated record (and per flow refused before reading).
    let dir = TempDir::new("concurrency");
    let memory = Memory::default();
    let log = AuditLog::with_storage(
        &dir.0.join("audit.log"),
        Box::new(memory.clone()),
        &keys(),
        Arc::new(SteppingClock::new(at(), chrono::Duration::microseconds(1))),
    )
    .unwrap();
    let audited = Gate::new(registry(), keys())
        .with_audit(Arc::new(log), &Archive::new(&dir.0))
        .unwrap();
    let runs = parallel(&audited, &transfers, &corpus, true);
    // Released records carry a receipt (each another entry); without it, the bytes
    // are those of the unaudited run.
    let mut receipts = Vec::new();
    let runs: Vec<Vec<Vec<u8>>> = runs
        .iter()
        .map(|run| {
            run.iter()
                .map(|out| {
                    let (without, receipt) = crate::util::strip_receipt(out);
                    receipts.extend(receipt);
                    without
                })
                .collect()
        })
        .collect();
    compare("audited, shared flows", &expected, &runs, &corpus);
    let bytes = memory.0.lock().unwrap().clone();
    let summary = audit::verify(&bytes, &crate::util::public_of(&keys())).unwrap();
    // Every receipt names a distinct transfer entry by its index and leaf hash.
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let mut indices = std::collections::BTreeSet::new();
    for receipt in &receipts {
        let index = receipt["index"].as_u64().unwrap();
        assert!(indices.insert(index), "two receipts name entry {index}");
        let line = lines[index as usize];
        assert_eq!(
            receipt["leaf"].as_str().unwrap(),
            crate::util::base64(&privacy_gate::audit::merkle::leaf_hash(line))
        );
        assert!(line.starts_with(br#"{"v":3,"kind":"transfer""#));
    }
    assert!(receipts.len() > 100, "{}", receipts.len());
    let transfers_logged = bytes
        .split(|b| *b == b'\n')
        .filter(|l| {
            let needle = br#""kind":"transfer""#;
            l.windows(needle.len()).any(|w| w == needle)
        })
        .count();
    // Every record that parsed as an object is logged, by every thread; the refused
    // flow once per resolution (here: once, shared); malformed lines are not.
    let objects = corpus
        .iter()
        .filter(|l| {
            matches!(
                privacy_gate::json::parse_strict(l.as_bytes(), 32),
                Ok(Value::Object(_))
            )
        })
        .count();
    let resolved = transfers.iter().filter(|t| gate.flow(t).is_ok()).count();
    assert!(resolved >= 7, "{resolved} flows resolve");
    assert_eq!(
        transfers_logged,
        (FLOWS.len() - resolved) + THREADS * resolved * objects,
        "{summary:?}"
    );
}
