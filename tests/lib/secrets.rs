//! Key material never shows: every public type that holds a key, formatted with
//! `{:?}` (and `{}` where it has Display), and every error about a bad key file that
//! holds a secret somewhere, shows neither the secret's hex (either case), nor its
//! raw bytes, nor any base64 of it, nor any long piece of those. The audit log and
//! released records do not carry it either.

use crate::util::{hex, Memory, TempDir};
use privacy_gate::audit::{Archive, AuditLog, SteppingClock};
use privacy_gate::{DomainId, Gate, KeyRing, Outcome, Registry, Transfer, Written};
use serde_json::json;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Printable, so that a leak of the raw bytes shows as text too. 32 bytes, the
/// length `privacy-gate keygen` makes (64 hex digits, as long as a key id may be).
const SECRET: &[u8; 32] = b"ZQ-distinctive-secret-012345-QZ!";
/// A longer one for the audit key.
const AUDIT_SECRET: &[u8] = b"AQ-distinctive-audit-log-secret-9876543210-QA";

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Every form the secret could take in text, and every 16-character piece of each
/// (so that a partial leak shows too).
fn forms(secret: &[u8]) -> Vec<String> {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let lower = hex(secret);
    let whole = [
        lower.clone(),
        lower.to_uppercase(),
        String::from_utf8_lossy(secret).into_owned(),
        base64(secret, STANDARD),
        base64(secret, URL),
        // Debug of a byte slice: [90, 81, ...]
        format!("{secret:?}"),
    ];
    let mut forms = Vec::new();
    for form in whole {
        let chars: Vec<char> = form.chars().collect();
        for window in chars.windows(16.min(chars.len())) {
            forms.push(window.iter().collect());
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// The first form of a secret `text` shows, if any.
fn leak(text: &str) -> Option<String> {
    [SECRET.as_slice(), AUDIT_SECRET]
        .iter()
        .flat_map(|secret| forms(secret))
        .find(|form| text.contains(form.as_str()))
}

fn assert_hidden(what: &str, text: &str) {
    if let Some(form) = leak(text) {
        panic!("{what} shows key material ({form:?}):\n{text}");
    }
}

fn assert_debug_hidden(what: &str, value: &impl Debug) {
    assert_hidden(&format!("{what} ({{:?}})"), &format!("{value:?}"));
    assert_hidden(&format!("{what} ({{:#?}})"), &format!("{value:#?}"));
}

fn assert_display_hidden(what: &str, value: &(impl Debug + std::fmt::Display)) {
    assert_debug_hidden(what, value);
    assert_hidden(&format!("{what} ({{}})"), &value.to_string());
}

/// A key file for every shipped domain (all with the distinctive secret, the active
/// key and an older one) and the audit key.
fn key_file(dir: &Path) -> PathBuf {
    let set = |secret: &[u8]| json!({"active": "k2", "keys": {"k1": hex(secret), "k2": hex(secret).to_uppercase()}});
    let text = json!({
        "domains": {
            "drenthe/zvh-signalen": set(SECRET),
            "groningen/zvh-signalen": set(SECRET),
            "friesland/zvh-signalen": set(SECRET),
            "friesland/ggd-advies": set(SECRET),
            "groningen/ggd-advies": set(SECRET),
        },
        "audit_writer": {"name": "test.example/audit", "secret": hex(&AUDIT_SECRET[..32])},
        "audit_records": set(AUDIT_SECRET),
        "audit_subject": set(SECRET),
    });
    let path = dir.join("keys.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&text).unwrap()).unwrap();
    path
}

#[test]
fn no_type_that_holds_a_key_shows_it() {
    let dir = TempDir::new("secrets");
    let ring = KeyRing::from_file(&key_file(&dir.0)).unwrap();
    assert_debug_hidden("KeyRing", &ring);
    let domain = DomainId::new("drenthe/zvh-signalen").unwrap();
    let set = ring.domain(&domain).unwrap();
    assert_debug_hidden("KeySet", set);
    assert_debug_hidden("ActiveKey", set.active());
    for key in set.all() {
        assert_debug_hidden("ActiveKey (older)", key);
    }
    assert_debug_hidden("audit records KeySet", ring.audit_records().unwrap());
    assert_debug_hidden("audit writer SigningKey", ring.audit_writer().unwrap());
    let independent = privacy_gate::danger::key_from_secret("k1", SECRET.as_slice()).unwrap();
    assert_debug_hidden("ActiveKey::from_secret", &independent);

    // A gate that pseudonymises and logs, everything it hands out, and the log.
    let registry =
        Registry::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies").as_ref()).unwrap();
    let memory = Memory::default();
    let log = Arc::new(
        AuditLog::with_storage(
            &dir.0.join("audit.log"),
            Box::new(memory.clone()),
            &ring,
            Arc::new(SteppingClock::new(
                "2026-03-02T10:00:00Z".parse().unwrap(),
                chrono::Duration::milliseconds(1),
            )),
        )
        .unwrap(),
    );
    assert_debug_hidden("AuditLog", &*log);
    assert_debug_hidden("AuditLog::public_key", &log.public_key());
    let gate = Gate::new(registry, KeyRing::from_file(&key_file(&dir.0)).unwrap())
        .with_audit(log.clone(), &Archive::new(&dir.0.join("archive")))
        .unwrap();
    assert_debug_hidden("Gate", &gate);
    // Drenthe's GGD pseudonymises the BSN and case id for the ZVH's signal domain.
    let transfer = Transfer {
        from: "drenthe/ggd",
        to: "drenthe/zvh",
        purpose: "signal-assessment",
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
    };
    let flow = gate.flow(&transfer).unwrap();
    assert_debug_hidden("Flow", &flow);
    assert!(
        !flow.plan().domains().is_empty(),
        "the flow must pseudonymise"
    );
    assert_debug_hidden("FlowPlan", flow.plan());
    let record = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/typical-ggd-report.json"
    ))
    .unwrap();
    let outcome = gate.apply_json(&transfer, &record).unwrap();
    assert_debug_hidden("Outcome", &outcome);
    let Outcome::Released(released) = outcome else {
        panic!("refused")
    };
    assert!(
        released.record.to_string().contains("pg2:k2:"),
        "the record must carry pseudonyms"
    );
    assert_debug_hidden("Released", &released);
    assert_debug_hidden("Decision", &released.decision);
    assert_hidden(
        "Decision::to_json",
        &released.decision.to_json().to_string(),
    );
    assert_hidden("the released record", &released.record.to_string());
    let mut out = Vec::new();
    let written = flow.write_json(&record, &mut out).unwrap();
    assert!(matches!(written, Written::Released(_)));
    assert_debug_hidden("Written", &written);
    assert_hidden("the written record", &String::from_utf8_lossy(&out));
    // A refusal for a missing key, from a ring without it.
    let bare = Gate::new(
        Registry::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies").as_ref()).unwrap(),
        KeyRing::empty(),
    );
    let refusal = bare.flow(&transfer).unwrap_err();
    assert_display_hidden("Refusal", &refusal);
    drop(flow);
    drop(gate);
    assert_hidden(
        "the audit log",
        &String::from_utf8_lossy(&memory.0.lock().unwrap()),
    );
}

/// Key files that are wrong in a way that puts the secret where an error message
/// might quote it.
fn bad_key_files() -> Vec<(&'static str, String)> {
    let s = hex(SECRET);
    let upper = s.to_uppercase();
    let short = hex(&SECRET[..20]);
    let set = |body: serde_json::Value| json!({"domains": {"a/b": body}}).to_string();
    vec![
        (
            "active key missing",
            set(json!({"active": "k9", "keys": {"k1": s}})),
        ),
        (
            "id and secret swapped",
            set(json!({"active": "k1", "keys": {s.clone(): "k1"}})),
        ),
        (
            "uppercase id and secret swapped",
            set(json!({"active": "k1", "keys": {upper.clone(): "k1"}})),
        ),
        (
            "secret as the active id",
            set(json!({"active": s, "keys": {"k1": s}})),
        ),
        (
            "secret as a domain name",
            json!({"domains": {s.clone(): {"active": "k1", "keys": {"k1": s}}}}).to_string(),
        ),
        ("secret as a top-level member", json!({s.clone(): 1}).to_string()),
        (
            "secret as a key set member",
            set(json!({"active": "k1", "keys": {"k1": s}, (s.clone()): true})),
        ),
        (
            "secret with a non-hex digit",
            set(json!({"active": "k1", "keys": {"k1": format!("{s}zz")}})),
        ),
        (
            "secret of odd length",
            set(json!({"active": "k1", "keys": {"k1": format!("{s}0")}})),
        ),
        (
            "secret too short",
            set(json!({"active": "k1", "keys": {"k1": short}})),
        ),
        (
            "secret in an array",
            set(json!({"active": "k1", "keys": [s]})),
        ),
        (
            "secret as the keys member",
            set(json!({"active": "k1", "keys": s})),
        ),
        (
            "secret as the audit set",
            json!({"audit_records": s}).to_string(),
        ),
        (
            "secret as raw text in a string",
            set(
                json!({"active": "k1", "keys": {"k1": String::from_utf8_lossy(SECRET)}}),
            ),
        ),
        (
            "duplicate key after the secret",
            format!(r#"{{"domains": {{"a/b": {{"active": "k1", "keys": {{"k1": "{s}", "k1": "{s}"}}}}}}}}"#),
        ),
        (
            "cut after the secret",
            format!(r#"{{"domains": {{"a/b": {{"active": "k1", "keys": {{"k1": "{s}"#),
        ),
        (
            "secret without quotes",
            format!(r#"{{"domains": {{"a/b": {{"active": "k1", "keys": {{"k1": {s}}}}}}}}}"#),
        ),
        (
            "control character in the secret",
            format!("{{\"domains\": {{\"a/b\": {{\"active\": \"k1\", \"keys\": {{\"k1\": \"{s}\u{1}\"}}}}}}}}"),
        ),
        ("the secret alone", format!("\"{s}\"")),
        ("the raw secret alone", String::from_utf8_lossy(SECRET).into_owned()),
    ]
}

#[test]
fn no_error_about_a_bad_key_file_shows_the_secret() {
    let dir = TempDir::new("secrets");
    let mut leaks = Vec::new();
    for (what, text) in bad_key_files() {
        let error = match KeyRing::from_json("keys.json", text.as_bytes()) {
            Ok(ring) => panic!("{what}: accepted: {ring:?}"),
            Err(e) => e,
        };
        assert!(!error.to_string().is_empty());
        // Through the file path as well (which the command line takes).
        let path = dir.0.join("bad-keys.json");
        std::fs::write(&path, &text).unwrap();
        let from_file = KeyRing::from_file(&path).unwrap_err();
        for shown in [
            error.to_string(),
            format!("{error:?}"),
            from_file.to_string(),
            format!("{from_file:#?}"),
        ] {
            if let Some(form) = leak(&shown) {
                leaks.push(format!("{what}: {form:?} in {shown}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn the_checker_finds_every_form_of_the_secret() {
    // The helpers above must not be blind: each form of the secret, whole or in
    // part, is caught.
    let hex_lower = hex(SECRET);
    for leak in [
        hex_lower.clone(),
        hex_lower[10..30].to_owned(),
        hex_lower.to_uppercase(),
        String::from_utf8_lossy(&SECRET[5..25]).into_owned(),
        format!("{:?}", &SECRET[..8]),
    ] {
        let caught = std::panic::catch_unwind(|| assert_hidden("probe", &format!("x {leak} y")));
        assert!(caught.is_err(), "not caught: {leak}");
    }
    assert_eq!(
        base64(
            b"Man",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        ),
        "TWFu"
    );
    assert_eq!(
        base64(
            b"Ma",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        ),
        "TWE"
    );
}
