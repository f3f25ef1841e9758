//! An audit log through `verify`. One valid log is built at start-up (the shipped
//! policies, fixed keys, a stepping clock; released, refused and malformed
//! transfers). The fuzz input is a mutation of it:
//!
//! byte 0: operation (mod 7): 0 overwrite, 1 insert, 2 delete, 3 swap two lines,
//! 4 copy a line to another place, 5 truncate, 6 replace the whole log with the
//! payload (raw bytes through `verify`); bytes 1-2: offset or line (little endian,
//! taken modulo the log's size); byte 3: length or second line; the rest: payload.
//!
//! Properties:
//! - the unchanged log verifies, also against a checkpoint of itself;
//! - a changed log never verifies against that checkpoint;
//! - a changed log never verifies on its own either, unless it is the original cut
//!   after a complete entry (only a checkpoint shows truncation);
//! - the first damage reported is never before the line where the bytes first
//!   differ (everything before it is intact and chained).

#![no_main]

use fuzz_common::{at, sources};
use libfuzzer_sys::fuzz_target;
use privacy_gate::audit::{self, Archive, AuditLog, Checkpoint, SteppingClock, Storage};
use privacy_gate::KeySet;
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
    keys: KeyRing,
    checkpoint: Checkpoint,
}

fn audit_keys(keys: &KeyRing) -> &KeySet {
    keys.audit().expect("the fixture has audit keys")
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
    // Two audit keys, so that a seal by the older one is valid too.
    let text = serde_json::json!({
        "domains": domains,
        "audit": {"active": "a2", "keys": {"a1": "c1".repeat(32), "a2": "c2".repeat(32)}},
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
        let checkpoint =
            audit::checkpoint(&log, audit_keys(&keys)).expect("the fixture log verifies");
        assert!(
            log.split(|b| *b == b'\n').count() > 8,
            "the fixture log is too short"
        );
        Fixture {
            log,
            keys,
            checkpoint,
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
    let keys = audit_keys(&fx.keys);
    let mutated = mutate(&fx.log, data);
    let plain = audit::verify(&mutated, keys);
    let against = audit::verify_against(&mutated, keys, &fx.checkpoint);
    if mutated == fx.log {
        let summary = plain.expect("the unchanged log verifies");
        assert_eq!(summary.entries, fx.checkpoint.entries);
        against.expect("the unchanged log verifies against its checkpoint");
        return;
    }
    assert!(
        against.is_err(),
        "a changed log verifies against the checkpoint"
    );
    let cut_at_entry =
        fx.log.starts_with(&mutated) && (mutated.is_empty() || mutated.ends_with(b"\n"));
    match plain {
        Ok(summary) => {
            assert!(
                cut_at_entry,
                "a changed log verifies: {} entries",
                summary.entries
            );
            assert_eq!(summary.bytes, mutated.len() as u64);
        }
        Err(damage) => {
            assert!(
                !cut_at_entry,
                "a log cut after an entry is reported damaged: {damage}"
            );
            let first = fx
                .log
                .iter()
                .zip(&mutated)
                .position(|(a, b)| a != b)
                .unwrap_or(fx.log.len().min(mutated.len()));
            let line_start = mutated[..first]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            assert!(
                damage.offset >= line_start as u64,
                "damage reported at byte {} (entry {}), before the first changed line at byte {line_start}: {damage}",
                damage.offset,
                damage.entry
            );
            assert!(
                damage.offset <= mutated.len() as u64,
                "damage past the end: {damage}"
            );
        }
    }
});
