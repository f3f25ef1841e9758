//! Benchmarks for the gate against two floors measured in the same run.
//!
//! Reproduce (modest settings, fit for a noisy 2-core machine):
//!
//! ```sh
//! cargo bench --bench gate -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Groups:
//!
//! - `record`: one typical record (`examples/typical-record.json`).
//!   - `floor/parse+serialise`: `serde_json::from_slice::<Value>` + `serde_json::to_vec`.
//!   - `floor/6-hmacs`: the six pseudonyms alone (already normalised values).
//!   - `gate/parsed`: `Flow::apply` on a parsed record (the input clone is not timed).
//!   - `gate/bytes`: `Flow::apply_json` + `serde_json::to_vec` of the released record.
//! - `stream`: about 20,000 lines built by repeating `examples/records.jsonl`.
//!   - `floor/parse+serialise-lines`: per line, parse to `Value` and write it back.
//!   - `gate/json-lines`: `gate_json_lines`, one thread.
//!   - `gate/json-lines-N-threads`: `gate_json_lines_parallel` with one thread per core
//!     (at most 8), what `privacy-gate gate` runs.
//! - `load`: `Registry::load_dir("policies")` + `Gate::new` (all 15 agreements).
//! - `compare`: `compare::compare_all` over the shipped policies (20 flows, 3
//!   provinces), on a loaded registry, and with the load included (what
//!   `privacy-gate compare --all` does before printing).
//! - `audit`: the `stream` input with and without an audit log (entries synced once
//!   per batch of up to 1,024 lines, on a background thread while the next batch is
//!   gated; file in the temp folder), on one thread and on one per core; the hashing
//!   floor every entry needs; and `verify` over a log of one pass. Target: the log
//!   adds at most 25%; `verify` checks at least 100,000 entries per second.
//!
//! Targets: `gate/parsed` <= 0.5 x `floor/parse+serialise`; `gate/json-lines` rate >=
//! 1/1.5 of the floor's rate; `load` < 10 ms.
//!
//! The flow: no shipped flow pseudonymises 6 leaves of the typical record (the most is
//! 4, in `drenthe/ggd -> drenthe/politie`, criminal-investigation: BSN and three
//! names). So the `record` and `stream` groups use a bench-only policy set in
//! `benches/fixtures/policies/`: `schema.json` as shipped, and `drenthe/ggd.json` and
//! `drenthe/politie.json` cut down to that one flow (GGD outbound rule
//! `dr-ggd-out-politie-crim`, police inbound rule `dr-politie-in-ggd-crim`), with the
//! GGD's rule also pseudonymising `contact` (`subject.phone`) and `case.id`. The
//! typical record then has 6 pseudonymised leaves: `case.id`, `case.reporter.name`,
//! `subject.bsn`, `subject.name.given`, `subject.name.family`, `subject.phone`.
//! The `load` group loads the shipped `policies/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput,
};
use privacy_gate::audit::{verify, Archive, AuditLog, SystemClock};
use privacy_gate::danger::{key_from_secret, raw_tag};
use privacy_gate::pseudonym::normalise;
use privacy_gate::{
    gate_json_lines, gate_json_lines_parallel, Action, Flow, Gate, KeyRing, Outcome, Registry,
    Transfer,
};
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Fixed fake secrets (32 bytes each): for benchmarks only.
const SECRET_HEX: &str = "62656e63682d6f6e6c792d6e6f742d612d7265616c2d7365637265742d303031";
const KEY_ID: &str = "bench1";

const FROM: &str = "drenthe/ggd";
const TO: &str = "drenthe/politie";
const PURPOSE: &str = "criminal-investigation";
const AT: &str = "2026-03-02T10:00:00Z";

/// About this many lines in the `stream` input.
const STREAM_LINES: usize = 20_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn key_ring() -> KeyRing {
    let set = serde_json::json!({ "active": KEY_ID, "keys": { KEY_ID: SECRET_HEX } });
    let file = serde_json::json!({ "domains": {
        "drenthe/mensenhandel": set,
        "groningen/mensenhandel": set,
        "friesland/mensenhandel": set,
    }, "audit_writer": {"name": "bench.example/audit", "secret": SECRET_HEX},
        "audit_records": set, "audit_subject": set});
    KeyRing::from_json("<bench keys>", &serde_json::to_vec(&file).unwrap()).unwrap()
}

fn fixture_gate() -> Gate {
    let registry = Registry::load_dir(&root().join("benches/fixtures/policies")).unwrap();
    Gate::new(registry, key_ring())
}

fn transfer() -> Transfer<'static> {
    Transfer {
        from: FROM,
        to: TO,
        purpose: PURPOSE,
        at: AT.parse().unwrap(),
    }
}

fn flow(gate: &Gate) -> Flow<'_> {
    gate.flow(&transfer()).unwrap()
}

/// Every scalar of `value` with its schema-style path (`a.b`, arrays as `a[].b`).
fn leaves<'v>(value: &'v Value, path: &str, out: &mut Vec<(String, &'v Value)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, &join(k), out);
            }
        }
        Value::Array(items) => {
            let path = format!("{path}[]");
            for v in items {
                leaves(v, &path, out);
            }
        }
        scalar => out.push((path.to_owned(), scalar)),
    }
}

/// The six (type, normalised value) pairs the gate pseudonymises in `record`, after
/// printing the facts that make the record "typical".
fn describe(
    gate: &Gate,
    flow: &Flow<'_>,
    bytes: &[u8],
    record: &Value,
) -> Vec<(privacy_gate::ValueType, String)> {
    let schema = gate.registry().schema();
    let mut all = Vec::new();
    leaves(record, "", &mut all);
    let Outcome::Released(released) = flow.apply(record.clone()).unwrap() else {
        panic!("the bench flow refused the typical record");
    };
    let decision = &released.decision;
    assert!(
        decision.removed().is_empty(),
        "the typical record has values the gate removes on their own"
    );
    let fields: Vec<_> = decision.fields().collect();
    let leaf_count: u32 = fields.iter().map(|f| f.occurrences).sum();
    assert_eq!(leaf_count as usize, all.len());
    let pseudonymised: Vec<&str> = fields
        .iter()
        .filter(|f| matches!(f.action, Action::Pseudonymise(_)))
        .flat_map(|f| std::iter::repeat_n(f.path, f.released as usize))
        .collect();
    eprintln!(
        "typical record: {} bytes, {} schema paths present, {} leaves, {} pseudonymised leaves ({})",
        bytes.len(),
        fields.len(),
        all.len(),
        pseudonymised.len(),
        pseudonymised.join(", ")
    );
    assert_eq!(
        pseudonymised.len(),
        6,
        "the bench flow must pseudonymise 6 leaves"
    );
    all.iter()
        .filter(|(path, _)| pseudonymised.contains(&path.as_str()))
        .map(|(path, value)| {
            let field = schema.field_by_id(schema.field(path).unwrap()).unwrap();
            let normalised = normalise(field.value_type(), value).unwrap().into_owned();
            (field.value_type(), normalised)
        })
        .collect()
}

fn record(c: &mut Criterion) {
    let gate = fixture_gate();
    let flow = flow(&gate);
    let bytes = std::fs::read(root().join("examples/typical-record.json")).unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    let to_pseudonymise = describe(&gate, &flow, &bytes, &value);
    let secret: Vec<u8> = (0..SECRET_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&SECRET_HEX[i..i + 2], 16).unwrap())
        .collect();
    let key = key_from_secret(KEY_ID, &secret).unwrap();
    let domain = privacy_gate::DomainId::new("drenthe/mensenhandel").unwrap();

    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("floor/parse+serialise", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_slice(black_box(&bytes)).unwrap();
            serde_json::to_vec(&v).unwrap()
        });
    });
    group.bench_function("floor/6-hmacs", |b| {
        b.iter(|| {
            for (value_type, normalised) in &to_pseudonymise {
                black_box(key.pseudonym(&domain, *value_type, black_box(normalised)));
            }
        });
    });
    group.bench_function("gate/parsed", |b| {
        b.iter_batched(
            || value.clone(),
            |v| flow.apply(v).unwrap(),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("gate/bytes", |b| {
        b.iter(|| match flow.apply_json(black_box(&bytes)).unwrap() {
            Outcome::Released(released) => serde_json::to_vec(&released.record).unwrap(),
            Outcome::Refused(why) => panic!("refused: {why}"),
        });
    });
    group.finish();
}

/// `examples/records.jsonl` repeated to about [`STREAM_LINES`] lines; one copy when
/// not benchmarking (`cargo test --all-targets` runs each benchmark once, unoptimised).
fn stream_input() -> (Vec<u8>, u64) {
    let wanted = if std::env::args().any(|a| a == "--bench") {
        STREAM_LINES
    } else {
        1
    };
    let mut one = std::fs::read(root().join("examples/records.jsonl")).unwrap();
    if !one.ends_with(b"\n") {
        one.push(b'\n');
    }
    let per_copy = one.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    let copies = wanted.div_ceil(per_copy);
    (one.repeat(copies), (copies * per_copy) as u64)
}

/// Parse and serialise each line, with the same line reading as `gate_json_lines`.
fn parse_serialise_lines(mut input: impl BufRead, output: &mut impl Write) -> u64 {
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        let record = line.strip_suffix(b"\n").unwrap_or(&line);
        let v: Value = serde_json::from_slice(record).unwrap();
        serde_json::to_writer(&mut *output, &v).unwrap();
        output.write_all(b"\n").unwrap();
        n += 1;
    }
    n
}

fn stream(c: &mut Criterion) {
    let gate = fixture_gate();
    let flow = flow(&gate);
    let (input, lines) = stream_input();
    eprintln!("stream input: {lines} lines, {} bytes", input.len());
    // Every line must be released, or the gate would do less work than the floor.
    let stats = gate_json_lines(&flow, &input[..], &mut std::io::sink(), |_| {}).unwrap();
    assert_eq!(stats.released, lines);

    let mut group = c.benchmark_group("stream");
    group.sample_size(10);
    // One iteration is ~0.1-0.2 s: flat sampling keeps the run within --measurement-time.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(lines));
    group.bench_function("floor/parse+serialise-lines", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len());
            parse_serialise_lines(&input[..], &mut out);
            out
        });
    });
    group.bench_function("gate/json-lines", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len());
            gate_json_lines(&flow, &input[..], &mut out, |_| {}).unwrap();
            out
        });
    });
    // What `privacy-gate gate` runs: one thread per core (here 2), output in order.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    group.bench_function(format!("gate/json-lines-{threads}-threads"), |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len());
            gate_json_lines_parallel(&flow, &input[..], &mut out, threads, |_| {}).unwrap();
            out
        });
    });
    group.finish();
}

fn load(c: &mut Criterion) {
    let policies = root().join("policies");
    let count = Registry::load_dir(&policies).unwrap().agreements().count();
    eprintln!("load: {count} agreements in {}", policies.display());
    let mut group = c.benchmark_group("load");
    group.bench_function("load_dir+compile", |b| {
        b.iter_batched(
            key_ring,
            |keys| Gate::new(Registry::load_dir(Path::new(&policies)).unwrap(), keys),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// `compare_all` over the shipped policies: every flow across the three provinces,
/// from the compiled plans (the registry is loaded once, outside the timing).
fn compare(c: &mut Criterion) {
    let registry = Registry::load_dir(&root().join("policies")).unwrap();
    let at = AT.parse().unwrap();
    let flows = privacy_gate::compare::compare_all(&registry, &[], at)
        .unwrap()
        .len();
    eprintln!("compare: {flows} flows");
    let mut group = c.benchmark_group("compare");
    group.bench_function("compare_all", |b| {
        b.iter(|| privacy_gate::compare::compare_all(black_box(&registry), &[], at).unwrap());
    });
    group.bench_function("load+compare_all", |b| {
        b.iter(|| {
            let registry = Registry::load_dir(&root().join("policies")).unwrap();
            privacy_gate::compare::compare_all(&registry, &[], at).unwrap()
        });
    });
    group.finish();
}

/// A fresh audit log file (and its archive) in the temp folder.
fn audit_log_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "privacy-gate-bench-{}-{name}.log",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(Archive::next_to(&path).dir());
    path
}

fn audited_gate(name: &str) -> (Gate, PathBuf) {
    let path = audit_log_path(name);
    let keys = key_ring();
    let (log, _) = AuditLog::open(&path, &keys, Arc::new(SystemClock)).unwrap();
    let gate = fixture_gate()
        .with_audit(Arc::new(log), &Archive::next_to(&path))
        .unwrap();
    (gate, path)
}

/// The audit log's cost: the same JSON Lines with and without entries (synced once per
/// batch of lines, in a file in the temp folder), and verification speed.
fn audit(c: &mut Criterion) {
    let (input, lines) = stream_input();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let (gate, path) = audited_gate("stream");
    let audited = flow(&gate);
    let plain_gate = fixture_gate();
    let plain = flow(&plain_gate);
    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(lines));
    group.bench_function("json-lines/without-log", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len());
            gate_json_lines(&plain, &input[..], &mut out, |_| {}).unwrap();
            out
        });
    });
    group.bench_function("json-lines/with-log", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len());
            gate_json_lines(&audited, &input[..], &mut out, |_| {}).unwrap();
            out
        });
    });
    group.bench_function(format!("json-lines-{threads}-threads/without-log"), |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len());
            gate_json_lines_parallel(&plain, &input[..], &mut out, threads, |_| {}).unwrap();
            out
        });
    });
    group.bench_function(format!("json-lines-{threads}-threads/with-log"), |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(input.len());
            gate_json_lines_parallel(&audited, &input[..], &mut out, threads, |_| {}).unwrap();
            out
        });
    });
    // The log's floor: keyed digests of the input and the released record, and one
    // leaf hash (RFC 9162: SHA-256 of 0x00 and the entry) of an entry-sized line.
    let mut released = Vec::new();
    gate_json_lines(&plain, &input[..], &mut released, |_| {}).unwrap();
    let pairs: Vec<(&[u8], &[u8])> = input
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .zip(released.split(|b| *b == b'\n').filter(|l| !l.is_empty()))
        .collect();
    let entry_line = std::fs::read(&path)
        .ok()
        .and_then(|log| log.split(|b| *b == b'\n').nth(5).map(<[u8]>::to_vec))
        .unwrap_or_else(|| vec![b'x'; 1350]);
    let audit_key = key_ring().audit_records().unwrap().active().clone();
    group.bench_function("floor/digests+leaf-hash", |b| {
        b.iter(|| {
            for (input, output) in &pairs {
                black_box(raw_tag(&audit_key, b"pg-audit-input", &[input]));
                black_box(raw_tag(&audit_key, b"pg-audit-output", &[output]));
                black_box(privacy_gate::audit::merkle::leaf_hash(&entry_line));
            }
        })
    });
    drop(audited);
    drop(gate);
    let _ = std::fs::remove_file(&path);
    // Verification: a fresh log of one pass over the input.
    let (gate, path) = audited_gate("verify");
    gate_json_lines(&flow(&gate), &input[..], &mut std::io::sink(), |_| {}).unwrap();
    drop(gate);
    let log = std::fs::read(&path).unwrap();
    let keys = key_ring();
    let public = privacy_gate::audit::VerifierKey::of(
        keys.audit_writer().unwrap(),
        privacy_gate::audit::note::ED25519,
    );
    let entries = verify(&log, &public).unwrap().entries;
    eprintln!("audit log: {entries} entries, {} bytes", log.len());
    group.throughput(Throughput::Elements(entries));
    group.bench_function("verify", |b| {
        b.iter(|| verify(black_box(&log), &public).unwrap())
    });
    // Opening resumes from the last checkpoint, whatever the log's size.
    group.throughput(Throughput::Elements(1));
    group.bench_function("open", |b| {
        b.iter(|| AuditLog::open(&path, &keys, Arc::new(SystemClock)).unwrap())
    });
    // A proof bundle for one entry (the log read, verified and hashed whole).
    group.bench_function("prove-one", |b| {
        b.iter(|| privacy_gate::audit::prove(black_box(&log), &public, &[entries / 2]).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(Archive::next_to(&path).dir());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = record, stream, load, audit, compare
}
criterion_main!(benches);
