//! An audit log through `verify`. One valid log is built at start-up (the shipped
//! policies, fixed keys, a stepping clock; released, refused and malformed
//! transfers). The fuzz input is a mutation of it:
//!
//! byte 0: operation (mod 7): 0 overwrite, 1 insert, 2 delete, 3 swap two lines,
//! 4 copy a line to another place, 5 truncate, 6 replace the whole log with the
//! payload (raw bytes through `verify`); bytes 1-2: offset or line (little endian,
//! taken modulo the log's size); byte 3: length or second line; the rest: payload.
//!
//! Properties (format 3: a Merkle tree with signed checkpoint entries):
//! - the unchanged log verifies, also against its latest checkpoint;
//! - a log changed anywhere its latest checkpoint covers (every line but the last,
//!   the checkpoint entry itself) never verifies against that checkpoint;
//! - such a log never verifies on its own either, unless it is the original cut
//!   after a complete entry (only a kept checkpoint shows truncation);
//! - damage is never reported past the end of the log.

#![no_main]

use fuzz_common::{at, sources};
use libfuzzer_sys::fuzz_target;
use privacy_gate::audit::{self, note, Archive, AuditLog, SteppingClock, Storage, VerifierKey};
use privacy_gate::{Gate, KeyRing, Registry, Transfer};
use std::sync::{Arc, Mutex, OnceLock};

struct Mem(Arc<Mutex<Vec<u8>>>);

impl Storage for Mem {
    fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(())
    }
    fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Fixture {
    log: Vec<u8>,
    public: VerifierKey,
    checkpoint: String,
    /// Bytes the checkpoint covers: every line but the last.
    covered: usize,
}

fn key_ring(registry: &Registry) -> KeyRing {
    let mut domains = serde_json::Map::new();
    for plan in registry.plans() {
        for d in plan.domains() {
            domains.insert(
                d.to_string(),
                serde_json::json!({"active": "d1", "keys": {"d1": "ab".repeat(32)}}),
            );
        }
    }
    // Two record-digest keys, so that digests by the older one occur too.
    let text = serde_json::json!({
        "domains": domains,
        "audit_writer": {"name": "fuzz.example/audit", "secret": "c3".repeat(32)},
        "audit_records": {"active": "a2", "keys": {"a1": "c1".repeat(32), "a2": "c2".repeat(32)}},
        "audit_subject": {"active": "s1", "keys": {"s1": "c4".repeat(32)}},
    });
    KeyRing::from_json("fuzz keys", text.to_string().as_bytes()).expect("valid key file")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (schema, agreements) = sources();
        let registry =
            || Registry::from_sources(schema, agreements).expect("shipped policies load");
        let keys = key_ring(&registry());
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let dir = std::env::temp_dir().join(format!("pg-fuzz-audit-{}", std::process::id()));
        let clock = SteppingClock::new(at(), chrono::Duration::milliseconds(7));
        let log = AuditLog::with_storage(
            &dir.join("audit.log"),
            Box::new(Mem(bytes.clone())),
            &keys,
            Arc::new(clock),
        )
        .expect("in-memory log");
        let gate = Gate::new(registry(), key_ring(&registry()))
            .with_audit(Arc::new(log), &Archive::new(&dir.join("archive")))
            .expect("audited gate");
        let record = include_bytes!("../../examples/typical-record.json");
        let transfers = [
            ("drenthe/ggd", "noord-nederland/politie", "criminal-investigation"),
            ("drenthe/gemeente", "drenthe/ggd", "care-coordination"),
            ("drenthe/gemeente", "drenthe/ggd", "statistics"),
            ("drenthe/ggd", "drenthe/nobody", "statistics"),
            ("drenthe/ggd", "noord-nederland/politie", "criminal-investigation"),
        ];
        for (from, to, purpose) in transfers {
            let transfer = Transfer {
                from,
                to,
                purpose,
                at: at(),
            };
            let _ = gate.apply_json(&transfer, record);
            let _ = gate.apply_json(&transfer, b"{\"subject\": {\"bsn\": \"999998523\"}}");
        }
        drop(gate);
        let _ = std::fs::remove_dir_all(&dir);
        let log = bytes.lock().expect("not poisoned").clone();
        let public = VerifierKey::of(keys.audit_writer().expect("writer key"), note::ED25519);
        let summary = audit::verify(&log, &public).expect("the fixture log verifies");
        let checkpoint = summary.latest_note.expect("the fixture log is signed");
        assert!(
            log.split(|b| *b == b'\n').count() > 8,
            "the fixture log is too short"
        );
        let covered = log[..log.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        Fixture {
            log,
            public,
            checkpoint,
            covered,
        }
    })
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|b| *b == b'\n').collect()
}

fn mutate(log: &[u8], data: &[u8]) -> Vec<u8> {
    let (Some(&op), Some(&lo), Some(&hi), Some(&len)) =
        (data.first(), data.get(1), data.get(2), data.get(3))
    else {
        return log.to_vec();
    };
    let payload = data.get(4..).unwrap_or_default();
    let n = usize::from(u16::from_le_bytes([lo, hi]));
    let len = usize::from(len);
    let offset = n % (log.len() + 1);
    let mut out = log.to_vec();
    match op % 7 {
        0 => {
            let end = (offset + payload.len()).min(out.len());
            let take = end - offset;
            out.splice(offset..end, payload.iter().take(take).copied());
        }
        1 => {
            out.splice(offset..offset, payload.iter().copied());
        }
        2 => {
            let end = (offset + len.max(1)).min(out.len());
            out.drain(offset..end);
        }
        3 | 4 => {
            let mut ls = lines(log);
            let (a, b) = (n % ls.len(), len % ls.len());
            if op % 7 == 3 {
                ls.swap(a, b);
            } else {
                let line = ls[a];
                ls.insert(b, line);
            }
            out = ls.concat();
        }
        5 => out.truncate(offset),
        _ => out = payload.to_vec(),
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let mutated = mutate(&fx.log, data);
    let plain = audit::verify(&mutated, &fx.public);
    let against = audit::verify_against(&mutated, &fx.public, &[], &[&fx.checkpoint]);
    if mutated == fx.log {
        plain.expect("the unchanged log verifies");
        against.expect("the unchanged log verifies against its checkpoint");
        return;
    }
    if let Err(damage) = &plain {
        assert!(
            damage.offset <= mutated.len() as u64,
            "damage past the end: {damage}"
        );
    }
    // Changes only in the last line (the latest checkpoint entry, which nothing
    // after it covers) may go unseen; anything in the covered prefix may not.
    if mutated.get(..fx.covered) == Some(&fx.log[..fx.covered]) {
        return;
    }
    assert!(
        against.is_err(),
        "a changed log verifies against the checkpoint"
    );
    let cut_at_entry =
        fx.log.starts_with(&mutated) && (mutated.is_empty() || mutated.ends_with(b"\n"));
    if let Ok(summary) = plain {
        assert!(
            cut_at_entry,
            "a changed log verifies: {} entries",
            summary.entries
        );
    }
});
