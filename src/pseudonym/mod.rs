//! Keyed pseudonyms, scheme `pg2`, specified in `docs/pseudonymisation.md`:
//!
//! pseudonym = `pg2:` + key id + `:` + hex(HMAC-SHA256(secret, `pg2` ‖ 0x00 ‖ domain ‖ 0x00 ‖
//! type name ‖ 0x00 ‖ normalised value)).
//!
//! This module holds what an independent implementation needs to reproduce the
//! scheme: the normalisation of each value type and the scheme's constants. The keys
//! themselves are loaded from key files into a [`crate::KeyRing`].

pub(crate) mod key;
pub(crate) mod keyfile;
mod normalise;

pub use key::{is_note_name, SigningKey};
pub(crate) use key::{ActiveKey, KeyRing};
pub use key::{MIN_SECRET_BYTES, SCHEME};
pub use keyfile::{verifier_key_line, AuditRole};
pub(crate) use normalise::{check_type, parse_date};
pub use normalise::{normalise, normalise_bsn, normalise_name, ValueProblem};
