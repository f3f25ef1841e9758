//! Sharp tools, kept in one loud place: fixed test keys, keys made from raw bytes
//! and raw HMAC tags. They exist for policy tests, test vectors and independent
//! re-implementations of the schemes; production code loads a [`KeyRing`] from a
//! key file and never needs them.

use crate::plan::registry::Registry;
use crate::pseudonym::{ActiveKey, KeyRing};
use serde_json::Value;

/// A key ring with a fixed, public test key for every domain the registry uses, so
/// that cases run without real keys (and pseudonyms in cases are reproducible).
pub fn test_keys(registry: &Registry) -> KeyRing {
    let mut domains: Vec<String> = registry
        .plans()
        .flat_map(|p| p.domains.iter().map(ToString::to_string))
        .collect();
    domains.sort();
    domains.dedup();
    let secret = "7465".repeat(16); // "te" x 32: a test key, never a real one
    let map: serde_json::Map<String, Value> = domains
        .into_iter()
        .map(|d| {
            (
                d,
                serde_json::json!({"active": "test", "keys": {"test": secret}}),
            )
        })
        .collect();
    let text = serde_json::json!({ "domains": map }).to_string();
    KeyRing::from_json("test keys", text.as_bytes()).unwrap_or_default()
}

/// A key from its id and secret, as a key file would give them; for independent
/// checks of the pseudonymisation scheme (test vectors).
///
/// `None` when the id is not ASCII letters, digits, `-` and `_`, or the secret is
/// shorter than [`MIN_SECRET_BYTES`](crate::pseudonym::MIN_SECRET_BYTES).
pub fn key_from_secret(id: &str, secret: &[u8]) -> Option<ActiveKey> {
    ActiveKey::from_secret(id, secret)
}

/// The raw HMAC-SHA256 of `key` over `prefix ‖ 0x00 ‖ parts...`: what pseudonyms
/// and audit digests are made of, for checking them independently.
pub fn raw_tag(key: &ActiveKey, prefix: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    key.tag_parts(prefix, parts)
}
