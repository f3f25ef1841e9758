//! Receipts: a record released through an audited gate carries, in its `_transfer`,
//! the log's origin, its entry's index and leaf hash, whichever way it was gated
//! (a value, JSON bytes, written to a buffer, a stream on one or more threads); the
//! receipt leads to a proof of that entry that checks without the log, and a receipt
//! that names another entry, leaf or log is refused. The entry's output digest covers
//! the record without its receipt. Unaudited gating adds nothing.

use crate::audit::{
    fixture_lines, fixture_record, fixture_registry, fixture_transfer, public_key, ring, stepping,
    t0,
};
use crate::util::{base64, hex, strip_receipt, TempDir};
use privacy_gate::audit::{self, merkle, Archive, AuditLog, Receipt};
use privacy_gate::danger::raw_tag;
use privacy_gate::{gate_json_lines, gate_json_lines_parallel, Gate, Written};
use serde_json::Value;
use std::sync::Arc;

/// Released records' bytes, gated every way the library offers, through one log.
fn released_every_way(gate: &Gate) -> Vec<Vec<u8>> {
    let flow = gate.flow(&fixture_transfer()).unwrap();
    let mut out = Vec::new();
    for i in 0..2 {
        let released = flow.apply(fixture_record(i)).unwrap().released().unwrap();
        out.push(serde_json::to_vec(&released.record).unwrap());
        let bytes = serde_json::to_vec(&fixture_record(i + 10)).unwrap();
        let released = flow.apply_json(&bytes).unwrap().released().unwrap();
        out.push(serde_json::to_vec(&released.record).unwrap());
        let mut written = Vec::new();
        let bytes = serde_json::to_vec(&fixture_record(i + 20)).unwrap();
        assert!(matches!(
            flow.write_json(&bytes, &mut written).unwrap(),
            Written::Released(_)
        ));
        out.push(written);
    }
    let mut streamed = Vec::new();
    gate_json_lines(&flow, &fixture_lines(40)[..], &mut streamed, |_| {}).unwrap();
    gate_json_lines_parallel(&flow, &fixture_lines(300)[..], &mut streamed, 2, |_| {}).unwrap();
    out.extend(
        streamed
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec),
    );
    out
}

#[test]
fn a_released_records_receipt_leads_to_a_proof_of_its_entry() {
    let dir = TempDir::new("receipts");
    let path = dir.path("audit.log");
    let (log, _) = AuditLog::open(&path, &ring(), stepping(t0())).unwrap();
    let origin = log.origin().to_owned();
    let gate = Gate::new(fixture_registry(), ring())
        .with_audit(Arc::new(log), &Archive::next_to(&path))
        .unwrap();
    let released = released_every_way(&gate);
    assert_eq!(released.len(), 6 + 340);
    let bytes = std::fs::read(&path).unwrap();
    assert!(audit::verify(&bytes, &public_key()).is_ok());
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let records_key = ring().audit_records().unwrap().active().clone();
    let mut indices = std::collections::BTreeSet::new();
    for (n, record) in released.iter().enumerate() {
        let value: Value = serde_json::from_slice(record).unwrap();
        let receipt = Receipt::from_json(&value).unwrap();
        assert_eq!(receipt.log, origin, "record {n}");
        assert!(indices.insert(receipt.index), "record {n}: a receipt twice");
        let line = lines[receipt.index as usize];
        assert_eq!(merkle::leaf_hash(line), receipt.leaf, "record {n}");
        // The entry's output digest is of the record without its receipt.
        let entry: Value = serde_json::from_slice(line).unwrap();
        let (without, _) = strip_receipt(record);
        let digest = raw_tag(&records_key, b"pg-audit-output", &[&without]);
        assert_eq!(
            entry["output"],
            format!("{}:{}", records_key.id(), hex(&digest)),
            "record {n}"
        );
    }
    // A few receipts all the way to a proof that checks without the log.
    for record in released.iter().step_by(37) {
        let receipt = Receipt::from_json(&serde_json::from_slice(record).unwrap()).unwrap();
        let bundle = audit::prove(&bytes, &public_key(), &[receipt.index]).unwrap();
        let checked =
            audit::check(&serde_json::to_vec(&bundle).unwrap(), &public_key(), &[]).unwrap();
        checked.confirms(&receipt).unwrap();
        // Another leaf hash, another entry of the bundle (its plan), another log:
        // refused.
        let mut other_leaf = receipt.clone();
        other_leaf.leaf[0] ^= 1;
        assert!(checked.confirms(&other_leaf).is_err());
        let plan = checked
            .entries
            .iter()
            .find(|(i, _)| *i != receipt.index)
            .unwrap()
            .0;
        let other_entry = Receipt {
            index: plan,
            ..receipt.clone()
        };
        assert!(checked.confirms(&other_entry).is_err());
        let other_log = Receipt {
            log: format!("{}x", receipt.log),
            ..receipt.clone()
        };
        assert!(checked.confirms(&other_log).is_err());
    }
    // The receipt of a record is where a value-built record has it: the bytes of
    // the written and the value paths differ only in the receipt.
    let (a, _) = strip_receipt(&released[0]);
    let flow = Gate::new(fixture_registry(), ring())
        .flow(&fixture_transfer())
        .unwrap()
        .apply(fixture_record(0))
        .unwrap();
    assert_eq!(
        a,
        serde_json::to_vec(&flow.released().unwrap().record).unwrap()
    );
}

#[test]
fn unaudited_gating_adds_no_receipt_and_malformed_receipts_are_errors() {
    let gate = Gate::new(fixture_registry(), ring());
    let flow = gate.flow(&fixture_transfer()).unwrap();
    let released = flow.apply(fixture_record(1)).unwrap();
    let record = &released.released().unwrap().record;
    assert!(record["_transfer"].get("receipt").is_none(), "{record}");
    let mut written = Vec::new();
    flow.write_json(
        &serde_json::to_vec(&fixture_record(1)).unwrap(),
        &mut written,
    )
    .unwrap();
    assert_eq!(strip_receipt(&written).1, None);
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"index": 1, "leaf": "AA==", "log": "a/b"}),
        serde_json::json!({"index": -1, "leaf": base64(&[0; 32]), "log": "a/b"}),
        serde_json::json!({"_transfer": {"receipt": {"index": 1, "log": "a/b"}}}),
    ] {
        assert!(Receipt::from_json(&bad).is_err(), "{bad}");
    }
}
