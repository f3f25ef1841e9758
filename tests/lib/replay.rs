//! Replay round trip: a corpus gated along every flow replays identically, and a
//! changed rule shows up in what-if replay on exactly the fields it affects.

use chrono::Duration;
use privacy_gate::audit::{replay, Archive, AuditLog, ReplayOptions, SteppingClock};
use privacy_gate::{Gate, KeyRing, PolicySource, Registry, Transfer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

fn keys() -> KeyRing {
    let set = |hex: &str| json!({"active": "r1", "keys": {"r1": hex.repeat(32)}});
    let text = json!({
        "domains": {
            "drenthe/zvh-signalen": set("d1"),
            "groningen/zvh-signalen": set("a1"),
            "friesland/zvh-signalen": set("f1"),
            "friesland/ggd-advies": set("f2"),
            "groningen/ggd-advies": set("a2"),
        },
        "audit_writer": {"name": "test.example/audit", "secret": "ae".repeat(32)},
        "audit_records": set("ad"),
        "audit_subject": set("af"),
    });
    KeyRing::from_json("replay keys", text.to_string().as_bytes()).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("privacy-gate-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn policies() -> Registry {
    Registry::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies").as_ref()).unwrap()
}

/// Gates every example record along every compiled flow (and a few refused ones);
/// returns the log's bytes, its archive, and the number of transfers.
fn corpus_log(dir: &std::path::Path) -> (Vec<u8>, Archive, usize) {
    let path = dir.join("audit.log");
    let clock = Arc::new(SteppingClock::new(
        "2026-03-02T10:00:00Z".parse().unwrap(),
        Duration::milliseconds(1),
    ));
    let (log, _) = AuditLog::open(&path, &keys(), clock).unwrap();
    let archive = Archive::next_to(&path);
    let registry = policies();
    let mut flows: Vec<(String, String, String)> = registry
        .plans()
        .map(|p| {
            (
                p.sender().id().to_string(),
                p.recipient().id().to_string(),
                p.purpose().to_string(),
            )
        })
        .collect();
    flows.sort();
    flows.push((
        "friesland/gemeente".into(),
        "friesland/zvh".into(),
        "signal-assessment".into(),
    ));
    flows.push((
        "noord-nederland/om".into(),
        "drenthe/ggd".into(),
        "statistics".into(),
    ));
    let gate = Gate::new(registry, keys())
        .with_audit(Arc::new(log), &archive)
        .unwrap();
    let records = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/ggd-reports.jsonl"
    ))
    .unwrap();
    let mut transfers = 0;
    for (from, to, purpose) in &flows {
        let transfer = Transfer {
            from,
            to,
            purpose,
            at: "2026-03-02T10:00:00Z".parse().unwrap(),
        };
        for line in records.lines() {
            gate.apply_json(&transfer, line.as_bytes()).unwrap();
            transfers += 1;
        }
    }
    (std::fs::read(&path).unwrap(), archive, transfers)
}

#[test]
fn every_flow_replays_identically_and_a_changed_rule_shows_exactly_where_it_bites() {
    let dir = scratch("corpus");
    let (log, archive, transfers) = corpus_log(&dir);
    let keys = keys();
    let records = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/ggd-reports.jsonl"
    ))
    .unwrap();

    let same = replay(
        &log,
        ReplayOptions {
            archive: &archive,
            against: None,
            records: Some(&records),
            public_key: &crate::util::public_of(&keys),
            keys: &keys,
        },
    )
    .unwrap();
    assert_eq!(same.len(), transfers);
    let differing: Vec<_> = same.iter().filter(|r| !r.identical()).collect();
    assert!(differing.is_empty(), "{differing:#?}");
    assert!(same.iter().filter(|r| r.record_checked).count() > transfers / 2);

    // What-if: Drenthe's GGD no longer tells the police the subject's city.
    let registry = policies();
    let set = registry.policy_set();
    let mut agreements: Vec<PolicySource> =
        set.agreements().iter().map(|(_, s)| s.clone()).collect();
    let ggd = agreements
        .iter_mut()
        .find(|s| s.file.ends_with("drenthe/ggd.json"))
        .unwrap();
    let mut doc: Value = serde_json::from_str(&ggd.text).unwrap();
    let rule = doc["outbound"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == "dr-ggd-out-politie-crim")
        .unwrap();
    rule["paths"]["subject.address.city"] = json!("block");
    ggd.text = serde_json::to_string_pretty(&doc).unwrap();
    let changed = Registry::from_sources(set.schema(), &agreements).unwrap();
    let what_if = replay(
        &log,
        ReplayOptions {
            archive: &archive,
            against: Some(changed),
            records: None,
            public_key: &crate::util::public_of(&keys),
            keys: &keys,
        },
    )
    .unwrap();
    let records_with_city = records
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter(|l| {
            serde_json::from_slice::<Value>(l)
                .unwrap()
                .pointer("/subject/address/city")
                .is_some()
        })
        .count();
    let mut affected = 0;
    for r in &what_if {
        if r.identical() {
            continue;
        }
        affected += 1;
        assert_eq!(
            (r.from.as_str(), r.to.as_str(), r.purpose.as_str()),
            (
                "drenthe/ggd",
                "noord-nederland/politie",
                "criminal-investigation"
            )
        );
        assert_eq!(r.changes.len(), 1, "{r:?}");
        let change = &r.changes[0];
        assert_eq!(
            (
                change.what.as_str(),
                change.old.as_str(),
                change.new.as_str()
            ),
            ("subject.address.city", "pass", "block")
        );
    }
    assert_eq!(affected, records_with_city);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn replay_without_the_archive_says_why_each_entry_cannot_be_replayed() {
    let dir = scratch("no-archive");
    let (log, _, transfers) = corpus_log(&dir);
    let empty = Archive::new(&dir.join("empty"));
    let results = replay(
        &log,
        ReplayOptions {
            archive: &empty,
            against: None,
            records: None,
            public_key: &crate::util::public_of(&keys()),
            keys: &keys(),
        },
    )
    .unwrap();
    assert_eq!(results.len(), transfers);
    assert!(results.iter().all(|r| r
        .unavailable
        .as_deref()
        .is_some_and(|w| w.contains("not in the archive"))));
    let _ = std::fs::remove_dir_all(dir);
}
