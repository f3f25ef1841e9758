//! Key files: reading (strictly, never echoing a secret) and generating them.

use super::key::{ActiveKey, KeyRing, KeySet, MIN_SECRET_BYTES};
use crate::policy::action::DomainId;
use crate::support::hex::Case;
use crate::support::ident::{is_key_id, printable_key_file_name};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Why a key file could not be used. Never contains secret material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {place}{message}")]
pub struct KeyFileError {
    /// The file.
    pub file: String,
    place: String,
    /// What is wrong.
    pub message: String,
}

impl KeyRing {
    /// Reads a key file.
    ///
    /// # Errors
    ///
    /// The file cannot be read, is not valid JSON, has unknown fields, a key id with
    /// characters other than ASCII letters, digits, `-` and `_`, a secret that is not
    /// hex or shorter than 32 bytes, or an active id that is not among its keys.
    pub fn from_file(path: &Path) -> Result<KeyRing, KeyFileError> {
        let file = path.display().to_string();
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| KeyFileError {
            file: file.clone(),
            place: String::new(),
            message: format!("cannot read key file: {e}"),
        })?);
        KeyRing::from_json(&file, &bytes)
    }

    /// Reads a key file's content; `file` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`KeyRing::from_file`].
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<KeyRing, KeyFileError> {
        let fail = |pointer: &str, message: String| KeyFileError {
            file: file.to_owned(),
            place: if pointer.is_empty() {
                String::new()
            } else {
                format!("at `{pointer}`: ")
            },
            message,
        };
        // Every string of the file, secrets among them, is zeroed when this goes,
        // whether the file is used or refused.
        let value = Scrubbed(
            crate::support::json::parse_strict(bytes, 8)
                .map_err(|e| fail("", format!("not a valid key file: {e}")))?,
        );
        let Value::Object(top) = &value.0 else {
            return Err(fail("", "a key file is a JSON object".into()));
        };
        let mut ring = KeyRing::default();
        for (name, member) in top {
            match name.as_str() {
                "domains" => {
                    let Value::Object(domains) = member else {
                        return Err(fail("/domains", "expected an object of domains".into()));
                    };
                    for (domain, set) in domains {
                        let pointer = format!(
                            "/domains/{}",
                            crate::support::json::escape_pointer_segment(printable_key_file_name(
                                domain
                            ))
                        );
                        let id = DomainId::new(domain).ok_or_else(|| {
                            fail(&pointer, "invalid domain name: expected `<group>/<name>` of lowercase letters, digits and `-`".into())
                        })?;
                        ring.domains
                            .insert(id, parse_key_set(&pointer, set, &fail)?);
                    }
                }
                "audit" => ring.audit = Some(parse_key_set("/audit", member, &fail)?),
                _ => {
                    return Err(fail(
                        "",
                        format!(
                            "unknown field `{}`: expected `domains` or `audit`",
                            printable_key_file_name(name)
                        ),
                    ))
                }
            }
        }
        Ok(ring)
    }

    /// A key file with a fresh 32-byte secret (from the operating system) for each domain.
    ///
    /// # Errors
    ///
    /// The operating system's random source failed.
    pub fn generate_file(
        domains: &[DomainId],
        audit: bool,
    ) -> Result<Zeroizing<String>, getrandom::Error> {
        let fresh = || -> Result<Value, getrandom::Error> {
            let mut secret = Zeroizing::new([0u8; MIN_SECRET_BYTES]);
            getrandom::fill(secret.as_mut())?;
            Ok(
                serde_json::json!({ "active": "k1", "keys": { "k1": crate::support::hex::hex(secret.as_ref()) } }),
            )
        };
        // The secrets' text lives in `file`, which zeroes it when dropped (also when a
        // later secret cannot be made), and is written into a buffer of exactly the
        // right size, so that no growing buffer leaves a copy behind.
        let mut file = Scrubbed(serde_json::json!({ "domains": {} }));
        for d in domains {
            let set = fresh()?;
            if let Some(Value::Object(map)) = file.0.get_mut("domains") {
                map.insert(d.as_str().to_owned(), set);
            }
        }
        if audit {
            let set = fresh()?;
            if let Value::Object(top) = &mut file.0 {
                top.insert("audit".into(), set);
            }
        }
        let mut size = ByteCount(0);
        let _ = serde_json::to_writer_pretty(&mut size, &file.0);
        let mut bytes = Zeroizing::new(Vec::with_capacity(size.0 + 1));
        let _ = serde_json::to_writer_pretty(&mut *bytes, &file.0);
        bytes.push(b'\n');
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(e) => {
                // Not reachable (serde_json writes UTF-8); zeroed all the same.
                drop(Zeroizing::new(e.into_bytes()));
                Ok(Zeroizing::new(String::new()))
            }
        }
    }
}

/// A writer that only counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A parsed key file: every string in it (and every member name) is zeroed when it
/// is dropped, since secrets are among them.
struct Scrubbed(Value);

impl Drop for Scrubbed {
    fn drop(&mut self) {
        scrub(&mut self.0);
    }
}

/// Zeroes every string and member name in `value` (and empties it).
fn scrub(value: &mut Value) {
    use zeroize::Zeroize;
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(members) => {
            for (mut name, mut member) in std::mem::take(members) {
                name.zeroize();
                scrub(&mut member);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn parse_key_set(
    pointer: &str,
    value: &Value,
    fail: &dyn Fn(&str, String) -> KeyFileError,
) -> Result<KeySet, KeyFileError> {
    let Value::Object(members) = value else {
        return Err(fail(
            pointer,
            "expected an object with `active` and `keys`".into(),
        ));
    };
    let mut active = None;
    let mut keys = None;
    for (name, member) in members {
        match (name.as_str(), member) {
            ("active", Value::String(id)) => active = Some(id.as_str()),
            ("active", _) => return Err(fail(pointer, "`active` must be a key id string".into())),
            ("keys", Value::Object(map)) => keys = Some(map),
            ("keys", _) => {
                return Err(fail(
                    pointer,
                    "`keys` must be an object of key ids to hex secrets".into(),
                ))
            }
            (other, _) => {
                return Err(fail(
                    pointer,
                    format!(
                        "unknown field `{}`: expected `active` or `keys`",
                        printable_key_file_name(other)
                    ),
                ))
            }
        }
    }
    let active = active.ok_or_else(|| fail(pointer, "missing field `active`".into()))?;
    let keys = keys.ok_or_else(|| fail(pointer, "missing field `keys`".into()))?;
    let mut parsed = BTreeMap::new();
    for (id, secret) in keys {
        let key_pointer = format!(
            "{pointer}/keys/{}",
            crate::support::json::escape_pointer_segment(printable_key_file_name(id))
        );
        if !is_key_id(id) {
            return Err(fail(
                &key_pointer,
                "invalid key id: use ASCII letters, digits, `-` and `_`".into(),
            ));
        }
        let Value::String(text) = secret else {
            return Err(fail(&key_pointer, "a secret must be a hex string".into()));
        };
        let bytes =
            decode_hex(text).ok_or_else(|| fail(&key_pointer, "secret is not valid hex".into()))?;
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(fail(
                &key_pointer,
                format!(
                    "secret is {} bytes; at least {MIN_SECRET_BYTES} are required",
                    bytes.len()
                ),
            ));
        }
        let key = ActiveKey::new(id, &bytes)
            .ok_or_else(|| fail(&key_pointer, "unusable secret".into()))?;
        parsed.insert(id.clone(), Arc::new(key));
    }
    let Some(active_key) = parsed.remove(active) else {
        return Err(fail(
            &format!("{pointer}/active"),
            format!(
                "active key `{}` is not among the keys",
                printable_key_file_name(active)
            ),
        ));
    };
    Ok(KeySet {
        active: active_key,
        others: parsed,
    })
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; text.len() / 2]);
    crate::support::hex::decode_into(text, &mut out, Case::Any)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_reject_bad_secrets_without_showing_them() {
        let secret = "ab".repeat(32);
        let good = format!(
            r#"{{"domains": {{"drenthe/mensenhandel": {{"active": "k2", "keys": {{"k1": "{secret}", "k2": "{secret}"}}}}}}}}"#
        );
        let ring = KeyRing::from_json("k.json", good.as_bytes()).unwrap();
        let d = DomainId::new("drenthe/mensenhandel").unwrap();
        assert_eq!(ring.domain(&d).unwrap().active().id(), "k2");
        assert!(!format!("{ring:?}").contains(&secret));

        let short = r#"{"domains": {"a/b": {"active": "k1", "keys": {"k1": "abcd"}}}}"#;
        let e = KeyRing::from_json("k.json", short.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("at least 32"), "{e}");
        assert!(!e.to_string().contains("abcd"));
        let nonhex = format!(
            r#"{{"domains": {{"a/b": {{"active": "k1", "keys": {{"k1": "{}zz"}}}}}}}}"#,
            "ab".repeat(32)
        );
        let e = KeyRing::from_json("k.json", nonhex.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("not valid hex"), "{e}");
        assert!(!e.to_string().contains("abab"));
        let missing = format!(
            r#"{{"domains": {{"a/b": {{"active": "k9", "keys": {{"k1": "{secret}"}}}}}}}}"#
        );
        assert!(KeyRing::from_json("k.json", missing.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("not among"));
        let unknown = r#"{"domains": {}, "extra": 1}"#;
        assert!(KeyRing::from_json("k.json", unknown.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
        let numeric =
            r#"{"domains": {"a/b": {"active": "k1", "keys": {"k1": 12345678901234567890}}}}"#;
        let e = KeyRing::from_json("k.json", numeric.as_bytes()).unwrap_err();
        assert!(!e.to_string().contains("12345678901234567890"));
    }

    #[test]
    fn scrubbing_zeroes_every_string_and_name() {
        let mut value = serde_json::json!({
            "domains": {"a/b": {"active": "k1", "keys": {"k1": "ab".repeat(32)}}},
            "list": ["x", 1, true, null, {"y": "z"}],
        });
        scrub(&mut value);
        assert_eq!(value, serde_json::json!({}));
        let mut value = serde_json::json!(["secret", ["nested"]]);
        scrub(&mut value);
        assert_eq!(value, serde_json::json!(["", [""]]));
    }

    #[test]
    fn generated_key_files_load() {
        let d = DomainId::new("groningen/mensenhandel").unwrap();
        let text = KeyRing::generate_file(std::slice::from_ref(&d), true).unwrap();
        let ring = KeyRing::from_json("gen", text.as_bytes()).unwrap();
        assert!(ring.domain(&d).is_some());
        assert!(ring.audit().is_some());
        let again = KeyRing::generate_file(std::slice::from_ref(&d), false).unwrap();
        assert_ne!(*text, *again);
    }
}
