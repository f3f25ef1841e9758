//! Keys: one active key per pseudonymisation domain (and for the audit log), older
//! ones kept for verification. No key ever shows its secret.

use crate::policy::action::DomainId;
use crate::policy::schema::ValueType;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The prefix of every pseudonym of this scheme, and the first part of its HMAC
/// message.
pub const SCHEME: &str = "pg2";

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
    pub(super) fn new(id: &str, secret: &[u8]) -> Option<ActiveKey> {
        Some(ActiveKey {
            id: Arc::from(id),
            mac: Hmac::<Sha256>::new_from_slice(secret).ok()?,
        })
    }

    /// A key from its id and secret, as a key file would give them
    /// (what `danger::key_from_secret` gives out): `None` when the id is not ASCII
    /// letters, digits, `-` and `_`, or the secret is shorter than
    /// [`MIN_SECRET_BYTES`].
    pub(crate) fn from_secret(id: &str, secret: &[u8]) -> Option<ActiveKey> {
        if !crate::support::ident::is_key_id(id) || secret.len() < MIN_SECRET_BYTES {
            return None;
        }
        ActiveKey::new(id, secret)
    }

    /// The key id written into pseudonyms.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pseudonym, in `domain`, of an already normalised value of type `value_type`.
    ///
    /// The domain is part of the HMAC message, so pseudonyms of two domains never link,
    /// even where an operator gave both the same secret.
    pub fn pseudonym(&self, domain: &DomainId, value_type: ValueType, normalised: &str) -> String {
        let tag = self.tag_parts(
            SCHEME.as_bytes(),
            &[
                domain.as_str().as_bytes(),
                &[0],
                value_type.name().as_bytes(),
                &[0],
                normalised.as_bytes(),
            ],
        );
        let mut out = String::with_capacity(SCHEME.len() + self.id.len() + 2 + 64);
        out.push_str(SCHEME);
        out.push(':');
        out.push_str(&self.id);
        out.push(':');
        crate::support::hex::push_hex(&mut out, &tag);
        out
    }

    /// HMAC-SHA256 over `prefix ‖ 0x00 ‖ message`.
    pub(crate) fn tag(&self, prefix: &[u8], message: &[u8]) -> [u8; 32] {
        self.tag_parts(prefix, &[message])
    }

    /// HMAC-SHA256 over `prefix ‖ 0x00 ‖ parts...` (domain-separated by `prefix`).
    pub(crate) fn tag_parts(&self, prefix: &[u8], parts: &[&[u8]]) -> [u8; 32] {
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

/// The keys of one domain (or of the audit log): the active one and older ones kept
/// for verification.
#[derive(Clone)]
pub struct KeySet {
    pub(super) active: Arc<ActiveKey>,
    pub(super) others: BTreeMap<String, Arc<ActiveKey>>,
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
    pub(super) domains: BTreeMap<DomainId, KeySet>,
    pub(super) audit: Option<KeySet>,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wiped_key_holds_only_a_state_keyed_with_zeros() {
        let mut key = ActiveKey::from_secret("k1", &[7u8; 32]).unwrap();
        let zeros = ActiveKey::from_secret("k1", &[0u8; 32]).unwrap();
        assert_ne!(key.tag(b"t", b"m"), zeros.tag(b"t", b"m"));
        key.wipe();
        assert_eq!(key.tag(b"t", b"m"), zeros.tag(b"t", b"m"));
    }
}
