//! Keys and keyed pseudonyms (scheme `pg1`, specified in `docs/pseudonymisation.md`).
//!
//! pseudonym = `pg1:` + key id + `:` + hex(HMAC-SHA256(secret, type name ‖ 0x00 ‖ normalised value)).

use crate::action::DomainId;
use crate::schema::ValueType;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// The prefix of every pseudonym of this scheme.
pub const SCHEME: &str = "pg1";

/// Minimum secret length in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// A key ready for use: its id and the HMAC state keyed with its secret.
///
/// Neither `Debug` nor any other formatting shows the secret.
pub struct ActiveKey {
    id: Arc<str>,
    mac: Hmac<Sha256>,
}

impl ActiveKey {
    fn new(id: &str, secret: &[u8]) -> Option<ActiveKey> {
        Some(ActiveKey {
            id: Arc::from(id),
            mac: Hmac::<Sha256>::new_from_slice(secret).ok()?,
        })
    }

    /// A key from its id and secret, as a key file would give them; for independent
    /// checks of the scheme (test vectors). Production code loads a [`KeyRing`].
    ///
    /// # Errors
    ///
    /// `None` when the id is not ASCII letters, digits, `-` and `_`, or the secret is
    /// shorter than [`MIN_SECRET_BYTES`].
    pub fn from_secret(id: &str, secret: &[u8]) -> Option<ActiveKey> {
        if !valid_key_id(id) || secret.len() < MIN_SECRET_BYTES {
            return None;
        }
        ActiveKey::new(id, secret)
    }

    /// The key id written into pseudonyms.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pseudonym of an already normalised value of type `value_type`.
    pub fn pseudonym(&self, value_type: ValueType, normalised: &str) -> String {
        let tag = self.tag(value_type.name().as_bytes(), normalised.as_bytes());
        let mut out = String::with_capacity(SCHEME.len() + self.id.len() + 2 + 64);
        out.push_str(SCHEME);
        out.push(':');
        out.push_str(&self.id);
        out.push(':');
        push_hex(&mut out, &tag);
        out
    }

    /// HMAC-SHA256 over `prefix ‖ 0x00 ‖ message`.
    pub(crate) fn tag(&self, prefix: &[u8], message: &[u8]) -> [u8; 32] {
        self.tag_parts(prefix, &[message])
    }

    /// HMAC-SHA256 over `prefix ‖ 0x00 ‖ parts...` (domain-separated by `prefix`).
    pub fn tag_parts(&self, prefix: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        // Cloning the keyed state saves hashing the key pads for every value.
        let mut mac = self.mac.clone();
        mac.update(prefix);
        mac.update(&[0]);
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl ActiveKey {
    /// Overwrites the keyed HMAC state with one keyed by zeros. `hmac` 0.12 has no
    /// `zeroize` support (0.13 will), and this crate forbids `unsafe`, so the state is
    /// replaced by assignment, and `black_box` keeps the compiler from dropping the
    /// write as dead. Short-lived copies made while computing a tag are not covered.
    fn wipe(&mut self) {
        if let Ok(blank) = Hmac::<Sha256>::new_from_slice(&[0u8; MIN_SECRET_BYTES]) {
            self.mac = blank;
        }
        std::hint::black_box(&self.mac);
    }
}

impl Drop for ActiveKey {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl fmt::Debug for ActiveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Appends lowercase hex of `bytes` to `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(32) {
        let mut n = 0;
        for (b, pair) in chunk.iter().zip(buf.chunks_exact_mut(2)) {
            if let [hi, lo] = pair {
                *hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                *lo = DIGITS.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0');
            }
            n += 2;
        }
        out.push_str(std::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or_default());
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// The keys of one domain (or of the audit log): the active one and older ones kept
/// for verification.
#[derive(Clone)]
pub struct KeySet {
    active: Arc<ActiveKey>,
    others: BTreeMap<String, Arc<ActiveKey>>,
}

impl KeySet {
    /// Every key, the active one first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ActiveKey>> {
        std::iter::once(&self.active).chain(self.others.values())
    }

    /// The key new pseudonyms are made with.
    pub fn active(&self) -> &Arc<ActiveKey> {
        &self.active
    }

    /// A key by id (the active one or an older one).
    pub fn get(&self, id: &str) -> Option<&Arc<ActiveKey>> {
        if *self.active.id == *id {
            Some(&self.active)
        } else {
            self.others.get(id)
        }
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("active", &self.active.id)
            .field("others", &self.others.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// All keys of a key file: one [`KeySet`] per pseudonymisation domain, and optionally
/// the audit key set.
#[derive(Debug, Default)]
pub struct KeyRing {
    domains: BTreeMap<DomainId, KeySet>,
    audit: Option<KeySet>,
}

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
    /// An empty key ring: any flow that needs a pseudonym is refused.
    pub fn empty() -> KeyRing {
        KeyRing::default()
    }

    /// This ring's keys, plus a throw-away random key for each of `domains` it lacks
    /// (for replays that compare decisions, not pseudonyms). Returns the ring and the
    /// domains that got a throw-away key.
    pub(crate) fn filled<'a>(
        &self,
        domains: impl Iterator<Item = &'a DomainId>,
    ) -> (KeyRing, Vec<DomainId>) {
        let mut ring = KeyRing {
            domains: self.domains.clone(),
            audit: self.audit.clone(),
        };
        let mut placeholders = Vec::new();
        for domain in domains {
            if ring.domains.contains_key(domain) {
                continue;
            }
            let mut secret = Zeroizing::new([0u8; MIN_SECRET_BYTES]);
            if getrandom::fill(secret.as_mut()).is_err() {
                continue;
            }
            if let Some(key) = ActiveKey::new("replay", secret.as_ref()) {
                ring.domains.insert(
                    domain.clone(),
                    KeySet {
                        active: Arc::new(key),
                        others: BTreeMap::new(),
                    },
                );
                placeholders.push(domain.clone());
            }
        }
        (ring, placeholders)
    }

    /// The key set of a domain.
    pub fn domain(&self, domain: &DomainId) -> Option<&KeySet> {
        self.domains.get(domain)
    }

    /// The audit key set, if the key file has one.
    pub fn audit(&self) -> Option<&KeySet> {
        self.audit.as_ref()
    }

    /// The domains this ring has keys for.
    pub fn domains(&self) -> impl Iterator<Item = &DomainId> {
        self.domains.keys()
    }

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
            crate::json::parse_strict(bytes, 8)
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
                            crate::json::escape_pointer_segment(printable(domain))
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
                            printable(name)
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
            Ok(serde_json::json!({ "active": "k1", "keys": { "k1": hex(secret.as_ref()) } }))
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

/// Shows a name from a key file only if it is plainly an identifier and could not be
/// key material: a secret pasted where an id, a domain or a member name belongs (a
/// swapped id and secret, say) must not end up in an error message, so a name
/// holding a run of 32 or more hex digits (16 bytes or more) is never shown.
fn printable(name: &str) -> &str {
    let identifier = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_/.".contains(&b));
    let longest_hex_run = name
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if !identifier {
        "<unprintable>"
    } else if longest_hex_run >= 32 {
        "<not shown: it could be a secret>"
    } else {
        name
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
                        printable(other)
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
            crate::json::escape_pointer_segment(printable(id))
        );
        if !valid_key_id(id) {
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
            format!("active key `{}` is not among the keys", printable(active)),
        ));
    };
    Ok(KeySet {
        active: active_key,
        others: parsed,
    })
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if text.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 2));
    for pair in text.as_bytes().chunks_exact(2) {
        let (hi, lo) = (pair.first()?, pair.get(1)?);
        out.push(nibble(*hi)? << 4 | nibble(*lo)?);
    }
    Some(out)
}

/// Why a value cannot be used as a value of its field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueProblem {
    /// The JSON type does not fit the field's value type.
    WrongType,
    /// A BSN that is not 9 digits passing the 11-proof.
    InvalidBsn,
    /// A value of the right JSON type that a generalisation cannot use.
    InvalidValue,
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueProblem::WrongType => "wrong type",
            ValueProblem::InvalidBsn => "invalid bsn",
            ValueProblem::InvalidValue => "invalid value",
        })
    }
}

/// The normalised form of `value` as a value of type `value_type` (the scheme's
/// message body), or why it has none.
///
/// # Errors
///
/// [`ValueProblem::WrongType`] when the JSON type does not fit (a date not written
/// `YYYY-MM-DD` counts as wrong-typed), [`ValueProblem::InvalidBsn`] for a BSN that
/// fails the 11-proof.
pub fn normalise(value_type: ValueType, value: &Value) -> Result<Cow<'_, str>, ValueProblem> {
    match (value_type, value) {
        (ValueType::Bsn, Value::String(s)) => normalise_bsn(s).map(Cow::Owned),
        (ValueType::Name, Value::String(s)) => Ok(Cow::Owned(normalise_name(s))),
        (ValueType::Date, Value::String(s)) => {
            parse_date(s).ok_or(ValueProblem::WrongType)?;
            Ok(Cow::Borrowed(s))
        }
        (ValueType::Postcode, Value::String(s)) => Ok(Cow::Owned(
            s.chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_uppercase)
                .collect(),
        )),
        (ValueType::String | ValueType::Text, Value::String(s)) => Ok(Cow::Borrowed(s)),
        (ValueType::Boolean, Value::Bool(b)) => {
            Ok(Cow::Borrowed(if *b { "true" } else { "false" }))
        }
        (ValueType::Number, Value::Number(n)) => Ok(Cow::Owned(n.to_string())),
        _ => Err(ValueProblem::WrongType),
    }
}

/// Checks that `value` fits `value_type` without building the normalised form.
pub(crate) fn check_type(value_type: ValueType, value: &Value) -> Result<(), ValueProblem> {
    match (value_type, value) {
        (ValueType::Bsn, Value::String(s)) => normalise_bsn(s).map(drop),
        (ValueType::Date, Value::String(s)) => {
            parse_date(s).map(drop).ok_or(ValueProblem::WrongType)
        }
        (
            ValueType::Name | ValueType::Postcode | ValueType::String | ValueType::Text,
            Value::String(_),
        )
        | (ValueType::Boolean, Value::Bool(_))
        | (ValueType::Number, Value::Number(_)) => Ok(()),
        _ => Err(ValueProblem::WrongType),
    }
}

/// Parses a strict `YYYY-MM-DD` date.
pub(crate) fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b.get(r)
            .map(|d| d.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0')))
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

/// A BSN without spaces and dots, 8 digits padded to 9, checked by the 11-proof.
///
/// # Errors
///
/// [`ValueProblem::InvalidBsn`] when the result is not 9 digits, fails the 11-proof,
/// or has a weighted sum of 0.
pub fn normalise_bsn(raw: &str) -> Result<String, ValueProblem> {
    let mut digits: String = raw.chars().filter(|c| *c != ' ' && *c != '.').collect();
    if digits.len() == 8 {
        digits.insert(0, '0');
    }
    if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueProblem::InvalidBsn);
    }
    let sum: i64 = digits
        .bytes()
        .zip([9i64, 8, 7, 6, 5, 4, 3, 2, -1])
        .map(|(d, w)| i64::from(d - b'0') * w)
        .sum();
    if sum == 0 || sum % 11 != 0 {
        return Err(ValueProblem::InvalidBsn);
    }
    Ok(digits)
}

/// NFC, trimmed, white-space runs collapsed to one space, lowercased.
pub fn normalise_name(raw: &str) -> String {
    if raw.is_ascii() {
        // ASCII is already NFC, and its lowercase is ASCII lowercase.
        let mut out = String::with_capacity(raw.len());
        for word in raw.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        out.make_ascii_lowercase();
        return out;
    }
    let nfc: String = raw.nfc().collect();
    let collapsed = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_proof_edge_cases() {
        for valid in [
            "999998523",
            "999998535",
            "999996708",
            "999992934",
            "999995844",
            "9999.98.523",
            "999 998 523",
        ] {
            assert!(normalise_bsn(valid).is_ok(), "{valid}");
        }
        assert_eq!(normalise_bsn("9999.98.523").unwrap(), "999998523");
        for invalid in [
            "999998620",
            "000000000",
            "00000000",
            "12345678",
            "1234567890",
            "99999852a",
            "",
            "９９９９９８５２３",
        ] {
            assert_eq!(
                normalise_bsn(invalid),
                Err(ValueProblem::InvalidBsn),
                "{invalid}"
            );
        }
        // 8 digits get a leading zero before the 11-proof.
        assert_eq!(normalise_bsn("12345672").unwrap(), "012345672");
        assert_eq!(normalise_bsn("12345673"), Err(ValueProblem::InvalidBsn));
    }

    #[test]
    fn names_normalise() {
        assert_eq!(normalise_name("  Jan \t\n de   VRIES "), "jan de vries");
        assert_eq!(normalise_name("Zoe\u{0308}"), "zoë");
        assert_eq!(normalise_name("Zoë"), normalise_name("Zoe\u{0308}"));
    }

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
    fn a_wiped_key_holds_only_a_state_keyed_with_zeros() {
        let mut key = ActiveKey::from_secret("k1", &[7u8; 32]).unwrap();
        let zeros = ActiveKey::from_secret("k1", &[0u8; 32]).unwrap();
        assert_ne!(key.tag(b"t", b"m"), zeros.tag(b"t", b"m"));
        key.wipe();
        assert_eq!(key.tag(b"t", b"m"), zeros.tag(b"t", b"m"));
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
