//! Key files: reading (strictly, never echoing a secret) and generating them.

use super::key::{is_note_name, ActiveKey, KeyRing, KeySet, SigningKey, MIN_SECRET_BYTES};
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
                "audit_records" => {
                    ring.audit_records = Some(parse_key_set("/audit_records", member, &fail)?)
                }
                "audit_subject" => {
                    ring.audit_subject = Some(parse_key_set("/audit_subject", member, &fail)?)
                }
                "audit_writer" => {
                    ring.audit_writer =
                        Some(Arc::new(parse_signing_key("/audit_writer", member, &fail)?))
                }
                "audit_witness" => {
                    ring.audit_witness = Some(Arc::new(parse_signing_key(
                        "/audit_witness",
                        member,
                        &fail,
                    )?))
                }
                "audit" => {
                    return Err(fail(
                        "/audit",
                        "the single audit key of log format 2 is replaced by a key per role \
                         (`audit_writer`, `audit_records`, `audit_subject`): make them with \
                         `privacy-gate keygen --audit-writer NAME`, `--audit-records` and \
                         `--audit-subject`"
                            .into(),
                    ))
                }
                _ => {
                    return Err(fail(
                        "",
                        format!(
                            "unknown field `{}`: expected `domains`, `audit_writer`, \
                             `audit_witness`, `audit_records` or `audit_subject`",
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
    pub fn generate_file(domains: &[DomainId]) -> Result<Zeroizing<String>, getrandom::Error> {
        // The secrets' text lives in `file`, which zeroes it when dropped (also when a
        // later secret cannot be made).
        let mut file = Scrubbed(serde_json::json!({ "domains": {} }));
        for d in domains {
            let set = fresh_key_set()?;
            if let Some(Value::Object(map)) = file.0.get_mut("domains") {
                map.insert(d.as_str().to_owned(), set);
            }
        }
        Ok(pretty(&file))
    }

    /// A key file holding one fresh audit key of `role`, and, for the signing roles,
    /// the verifier key line (C2SP `vkey`) that is all a verifier needs. `name` names
    /// a signing key (the log's origin for the writer, the witness's name); the
    /// digest roles ignore it.
    ///
    /// # Errors
    ///
    /// The name is not a note key name, or the random source failed.
    pub fn generate_audit_role(
        role: AuditRole,
        name: &str,
    ) -> Result<(Zeroizing<String>, Option<String>), String> {
        let random = |e: getrandom::Error| format!("no randomness from the system: {e}");
        let (member, value, public) = match role {
            AuditRole::Records | AuditRole::Subject => (
                if role == AuditRole::Records {
                    "audit_records"
                } else {
                    "audit_subject"
                },
                fresh_key_set().map_err(random)?,
                None,
            ),
            AuditRole::Writer | AuditRole::Witness => {
                if !is_note_name(name) {
                    return Err(format!(
                        "`{}` cannot name a signing key: use printable ASCII without spaces or `+`, like `example.org/audit/zvh`",
                        printable_key_file_name(name)
                    ));
                }
                let mut seed = Zeroizing::new([0u8; 32]);
                getrandom::fill(seed.as_mut()).map_err(random)?;
                let key = SigningKey::from_seed(name, &seed)
                    .ok_or_else(|| "unusable key name".to_owned())?;
                let (member, kind) = if role == AuditRole::Writer {
                    ("audit_writer", 0x01)
                } else {
                    ("audit_witness", 0x04)
                };
                (
                    member,
                    serde_json::json!({ "name": name, "secret": crate::support::hex::hex(seed.as_ref()) }),
                    Some(verifier_key_line(name, kind, &key.public_key())),
                )
            }
        };
        let mut file = Scrubbed(serde_json::json!({}));
        if let Value::Object(top) = &mut file.0 {
            top.insert(member.into(), value);
        }
        Ok((pretty(&file), public))
    }
}

/// The audit key roles, each in a file of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditRole {
    /// Signs the log's checkpoints (Ed25519); verifiers need only its public key.
    Writer,
    /// A partner's key that cosigns checkpoints it has seen (Ed25519).
    Witness,
    /// Keys the digests of input and released records (HMAC-SHA256).
    Records,
    /// Keys the digests of subjects' BSNs (HMAC-SHA256); whoever holds it can find
    /// one person's transfers, so it is not needed to verify the log.
    Subject,
}

/// A C2SP signed-note verifier key: `<name>+<hex key id>+<base64(type ‖ public key)>`,
/// the key id being the first 4 bytes of SHA-256(name ‖ 0x0A ‖ type ‖ public key).
pub fn verifier_key_line(name: &str, kind: u8, public: &[u8; 32]) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut id = sha2::Sha256::new();
    id.update(name.as_bytes());
    id.update([b'\n', kind]);
    id.update(public);
    let id = id.finalize();
    let mut material = vec![kind];
    material.extend_from_slice(public);
    format!(
        "{name}+{}+{}",
        crate::support::hex::hex(id.get(..4).unwrap_or_default()),
        base64::engine::general_purpose::STANDARD.encode(material)
    )
}

/// A fresh key set `{"active": "k1", "keys": {"k1": "<hex>"}}`.
fn fresh_key_set() -> Result<Value, getrandom::Error> {
    let mut secret = Zeroizing::new([0u8; MIN_SECRET_BYTES]);
    getrandom::fill(secret.as_mut())?;
    Ok(
        serde_json::json!({ "active": "k1", "keys": { "k1": crate::support::hex::hex(secret.as_ref()) } }),
    )
}

/// The pretty JSON text of a key file, written into a buffer of exactly the right
/// size so that no growing buffer leaves a copy of a secret behind.
fn pretty(file: &Scrubbed) -> Zeroizing<String> {
    let mut size = ByteCount(0);
    let _ = serde_json::to_writer_pretty(&mut size, &file.0);
    let mut bytes = Zeroizing::new(Vec::with_capacity(size.0 + 1));
    let _ = serde_json::to_writer_pretty(&mut *bytes, &file.0);
    bytes.push(b'\n');
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Zeroizing::new(text),
        Err(e) => {
            // Not reachable (serde_json writes UTF-8); zeroed all the same.
            drop(Zeroizing::new(e.into_bytes()));
            Zeroizing::new(String::new())
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

fn parse_signing_key(
    pointer: &str,
    value: &Value,
    fail: &dyn Fn(&str, String) -> KeyFileError,
) -> Result<SigningKey, KeyFileError> {
    let Value::Object(members) = value else {
        return Err(fail(
            pointer,
            "expected an object with `name` and `secret`".into(),
        ));
    };
    let mut name = None;
    let mut secret = None;
    for (member, value) in members {
        match (member.as_str(), value) {
            ("name", Value::String(text)) => name = Some(text.as_str()),
            ("secret", Value::String(text)) => secret = Some(text.as_str()),
            ("name" | "secret", _) => {
                return Err(fail(pointer, format!("`{member}` must be a string")))
            }
            (other, _) => {
                return Err(fail(
                    pointer,
                    format!(
                        "unknown field `{}`: expected `name` or `secret`",
                        printable_key_file_name(other)
                    ),
                ))
            }
        }
    }
    let name = name.ok_or_else(|| fail(pointer, "missing field `name`".into()))?;
    let secret = secret.ok_or_else(|| fail(pointer, "missing field `secret`".into()))?;
    let bytes = decode_hex(secret).ok_or_else(|| {
        fail(
            &format!("{pointer}/secret"),
            "secret is not valid hex".into(),
        )
    })?;
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
        fail(
            &format!("{pointer}/secret"),
            format!("an Ed25519 secret is 32 bytes, not {}", bytes.len()),
        )
    })?);
    SigningKey::from_seed(name, &seed).ok_or_else(|| {
        fail(
            &format!("{pointer}/name"),
            "a key name is printable ASCII without spaces or `+`".into(),
        )
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
        let text = KeyRing::generate_file(std::slice::from_ref(&d)).unwrap();
        let ring = KeyRing::from_json("gen", text.as_bytes()).unwrap();
        assert!(ring.domain(&d).is_some());
        let again = KeyRing::generate_file(std::slice::from_ref(&d)).unwrap();
        assert_ne!(*text, *again);
        for role in [
            AuditRole::Writer,
            AuditRole::Witness,
            AuditRole::Records,
            AuditRole::Subject,
        ] {
            let (file, public) = KeyRing::generate_audit_role(role, "example.org/log").unwrap();
            let ring = KeyRing::from_json("gen", file.as_bytes()).unwrap();
            let has = [
                ring.audit_writer().is_some(),
                ring.audit_witness().is_some(),
                ring.audit_records().is_some(),
                ring.audit_subject().is_some(),
            ];
            assert_eq!(
                has.iter().filter(|h| **h).count(),
                1,
                "{role:?}: one role per file"
            );
            let signing = matches!(role, AuditRole::Writer | AuditRole::Witness);
            assert_eq!(public.is_some(), signing);
            if let Some(key) = ring.audit_writer() {
                assert!(!format!("{ring:?}").contains(&crate::support::hex::hex(&key.public_key())));
                assert!(public.unwrap().starts_with("example.org/log+"));
            }
        }
        assert!(KeyRing::generate_audit_role(AuditRole::Writer, "has space").is_err());
        let old = format!(
            r#"{{"audit": {{"active": "k1", "keys": {{"k1": "{}"}}}}}}"#,
            "ab".repeat(32)
        );
        let e = KeyRing::from_json("k", old.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("keygen --audit-writer"), "{e}");
    }
}
