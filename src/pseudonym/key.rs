//! Keys: one active key per pseudonymisation domain (and per audit digest role), older
//! ones kept for verification, and the Ed25519 keys that sign and cosign the audit
//! log. No key ever shows its secret.

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

/// An Ed25519 signing key with its name (a C2SP signed-note key name): the audit
/// log's writer key, or a witness's cosigning key.
///
/// Neither `Debug` nor any other formatting shows the secret; the secret is zeroed
/// when the key is dropped (ed25519-dalek's `zeroize` feature).
pub struct SigningKey {
    name: Arc<str>,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A key from its name and 32-byte secret seed; `None` when the name is not a
    /// note key name (non-empty printable ASCII without spaces or `+`).
    pub(crate) fn from_seed(name: &str, seed: &[u8; 32]) -> Option<SigningKey> {
        if !is_note_name(name) {
            return None;
        }
        Some(SigningKey {
            name: Arc::from(name),
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The Ed25519 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Whether `name` can name a key in a C2SP signed note: non-empty, printable ASCII,
/// no space and no `+` (which separates a verifier key's parts).
pub fn is_note_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && name.bytes().all(|b| b.is_ascii_graphic() && b != b'+')
}

/// All keys of one or more key files: one [`KeySet`] per pseudonymisation domain, and
/// the audit log's keys by role. Each role has its own key, so that whoever holds one
/// cannot do another's job: the writer's signing key seals the log (an auditor needs
/// only its public key), the record-digest keys key the digests of input and released
/// records, and the subject-digest keys the digests of subjects' BSNs (whose holder
/// can find one person's transfers).
#[derive(Debug, Default)]
pub struct KeyRing {
    pub(super) domains: BTreeMap<DomainId, KeySet>,
    pub(super) audit_writer: Option<Arc<SigningKey>>,
    pub(super) audit_witness: Option<Arc<SigningKey>>,
    pub(super) audit_records: Option<KeySet>,
    pub(super) audit_subject: Option<KeySet>,
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
            audit_writer: self.audit_writer.clone(),
            audit_witness: self.audit_witness.clone(),
            audit_records: self.audit_records.clone(),
            audit_subject: self.audit_subject.clone(),
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

    /// The audit log writer's signing key, if the ring has one.
    pub fn audit_writer(&self) -> Option<&Arc<SigningKey>> {
        self.audit_writer.as_ref()
    }

    /// A witness's cosigning key, if the ring has one.
    pub fn audit_witness(&self) -> Option<&Arc<SigningKey>> {
        self.audit_witness.as_ref()
    }

    /// The keys of the audit log's record digests (input and released record).
    pub fn audit_records(&self) -> Option<&KeySet> {
        self.audit_records.as_ref()
    }

    /// The keys of the audit log's subject digests (a BSN's digest).
    pub fn audit_subject(&self) -> Option<&KeySet> {
        self.audit_subject.as_ref()
    }

    /// This ring with `other`'s keys added: each role and each domain from one file
    /// only, so that two files never silently disagree about a key.
    ///
    /// # Errors
    ///
    /// Both rings hold keys for the same domain or the same audit role (named).
    pub fn merge(mut self, other: KeyRing) -> Result<KeyRing, String> {
        for (domain, set) in other.domains {
            if self.domains.contains_key(&domain) {
                return Err(format!("two key files hold keys for domain `{domain}`"));
            }
            self.domains.insert(domain, set);
        }
        fn one<T>(mine: &mut Option<T>, theirs: Option<T>, role: &str) -> Result<(), String> {
            if theirs.is_some() {
                if mine.is_some() {
                    return Err(format!("two key files hold the `{role}` key"));
                }
                *mine = theirs;
            }
            Ok(())
        }
        one(&mut self.audit_writer, other.audit_writer, "audit_writer")?;
        one(
            &mut self.audit_witness,
            other.audit_witness,
            "audit_witness",
        )?;
        one(
            &mut self.audit_records,
            other.audit_records,
            "audit_records",
        )?;
        one(
            &mut self.audit_subject,
            other.audit_subject,
            "audit_subject",
        )?;
        Ok(self)
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
