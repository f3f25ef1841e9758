//! A key file through `KeyRing::from_json`. Properties:
//! - no panic;
//! - a secret never shows: neither the error (its `Display` and `Debug`) nor the
//!   ring's `Debug` contains the text of a secret from the input;
//! - a ring that loads has, for every domain and the audit set, an active key that
//!   `get` finds by its id, and pseudonyms of the `pg2:<id>:<64 hex>` form.
//!
//! The secrets are the string values under `keys` of each key set
//! (`/domains/*/keys/*`, `/audit/keys/*`) that are at least 16 characters long,
//! found with a lenient parse. A secret is skipped when its text also occurs in a
//! key name, a domain name, an `active` value or any other string of the input
//! that is not a secret, since those may rightly be named in an error. An input
//! that does not parse has no secrets the loader could have read: its error is a
//! syntax error, which must then hold no run of 16 or more hex digits from the
//! input at all.

#![no_main]

use libfuzzer_sys::fuzz_target;
use privacy_gate::{KeyRing, ValueType};
use serde_json::Value;

const FILE: &str = "fuzz.keys";

fuzz_target!(|data: &[u8]| {
    let result = KeyRing::from_json(FILE, data);
    let shown = match &result {
        Ok(ring) => format!("{ring:?}"),
        Err(e) => format!("{e} {e:?}"),
    };
    let forbidden: Vec<String> = match serde_json::from_slice::<Value>(data) {
        Ok(value) => secrets(&value),
        Err(_) => hex_runs(data),
    };
    for secret in &forbidden {
        assert!(
            !shown.contains(secret.as_str()),
            "secret text {secret:?} shown: {shown}"
        );
    }
    if let Ok(ring) = &result {
        let sets = ring
            .domains()
            .filter_map(|d| ring.domain(d))
            .chain(ring.audit_records())
            .chain(ring.audit_subject());
        for set in sets {
            let active = set.active();
            assert!(set
                .get(active.id())
                .is_some_and(|k| std::sync::Arc::ptr_eq(k, active)));
            let domain = privacy_gate::DomainId::new("x/y").expect("a domain id");
            let pseudonym = active.pseudonym(&domain, ValueType::Text, "x");
            let tag = pseudonym
                .strip_prefix(&format!("pg2:{}:", active.id()))
                .expect("pseudonym prefix");
            assert!(tag.len() == 64 && tag.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
});

/// Secret texts of a parsed key file, less those that also occur elsewhere in it.
fn secrets(value: &Value) -> Vec<String> {
    let mut secret = Vec::new();
    let mut other = Vec::new();
    let Value::Object(top) = value else {
        return Vec::new();
    };
    for (name, member) in top {
        other.push(name.clone());
        match (name.as_str(), member) {
            ("domains", Value::Object(domains)) => {
                for (domain, set) in domains {
                    other.push(domain.clone());
                    key_set(set, &mut secret, &mut other);
                }
            }
            ("audit", set) => key_set(set, &mut secret, &mut other),
            (_, v) => strings(v, &mut other),
        }
    }
    secret.retain(|s| s.len() >= 16 && !other.iter().any(|o| o.contains(s.as_str())));
    secret
}

fn key_set(set: &Value, secret: &mut Vec<String>, other: &mut Vec<String>) {
    let Value::Object(members) = set else {
        return strings(set, other);
    };
    for (name, member) in members {
        other.push(name.clone());
        match (name.as_str(), member) {
            ("keys", Value::Object(keys)) => {
                for (id, value) in keys {
                    other.push(id.clone());
                    match value {
                        Value::String(s) => secret.push(s.clone()),
                        v => strings(v, other),
                    }
                }
            }
            (_, v) => strings(v, other),
        }
    }
}

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings(v, out);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// Runs of 16 or more hex digits in raw input.
fn hex_runs(data: &[u8]) -> Vec<String> {
    data.split(|b| !b.is_ascii_hexdigit())
        .filter(|run| run.len() >= 16)
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}
