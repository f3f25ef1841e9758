//! Checkpoints as C2SP signed notes: `tlog-checkpoint` bodies (origin, tree size,
//! base64 root hash), Ed25519 `signed-note` signatures by the log's writer, and
//! `tlog-cosignature` (`cosignature/v1`, timestamped) signatures by witnesses.
//! Verifying needs only public keys, given as C2SP verifier keys (`vkey`).

use super::merkle::Hash;
use crate::pseudonym::SigningKey;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Signature type of an Ed25519 note signature (the writer's).
pub const ED25519: u8 = 0x01;
/// Signature type of a timestamped Ed25519 cosignature (a witness's).
pub const COSIGNATURE_V1: u8 = 0x04;

/// What starts a signature line: an em dash and a space.
const DASH: &str = "\u{2014} ";

/// Longest note accepted (a checkpoint is a few hundred bytes).
const MAX_NOTE_BYTES: usize = 64 * 1024;

/// Why a note, a key or a checkpoint was not accepted. Messages hold no secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoteError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, NoteError> {
    Err(NoteError(message.into()))
}

/// The key id of a note key: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ type ‖ key).
pub fn key_id(name: &str, kind: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind]);
    h.update(public);
    let d = h.finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
    id
}

/// A public key that checks note signatures: a C2SP verifier key.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    kind: u8,
    id: [u8; 4],
    key: VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_line())
    }
}

impl VerifierKey {
    /// Parses `<name>+<8 hex digits key id>+<base64(type ‖ 32-byte Ed25519 key)>`
    /// (surrounding white space ignored). The type is `0x01` for a log's key and
    /// `0x04` for a witness's.
    ///
    /// # Errors
    ///
    /// Malformed, an unknown type, a key id that does not match, or not a valid
    /// Ed25519 public key.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let text = text.trim();
        // The base64 key may itself hold `+`: only the first two separate.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return fail("a public key is `<name>+<key id>+<base64 key>` on one line");
        };
        if !crate::pseudonym::is_note_name(name) {
            return fail("the public key's name is not a note key name");
        }
        let Ok(material) = B64.decode(material) else {
            return fail("the public key is not valid base64");
        };
        let (Some(&kind), Some(public)) = (material.first(), material.get(1..)) else {
            return fail("the public key is empty");
        };
        if kind != ED25519 && kind != COSIGNATURE_V1 {
            return fail(format!(
                "public key type {kind:#04x} is not supported (0x01 Ed25519, 0x04 cosignature/v1)"
            ));
        }
        let Ok(public) = <[u8; 32]>::try_from(public) else {
            return fail("an Ed25519 public key is 32 bytes");
        };
        let Ok(key) = VerifyingKey::from_bytes(&public) else {
            return fail("not a valid Ed25519 public key");
        };
        let id = key_id(name, kind, &public);
        if crate::support::hex::hex(&id) != id_hex {
            return fail("the public key's id does not match its name and key");
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            kind,
            id,
            key,
        })
    }

    /// The verifier key of a signing key: `kind` [`ED25519`] for a writer,
    /// [`COSIGNATURE_V1`] for a witness.
    pub fn of(key: &SigningKey, kind: u8) -> VerifierKey {
        let public = key.public_key();
        VerifierKey {
            name: key.name().to_owned(),
            kind,
            id: key_id(key.name(), kind, &public),
            // A signing key's public half is always a valid point.
            key: VerifyingKey::from_bytes(&public).unwrap_or_default(),
        }
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key line.
    pub fn to_line(&self) -> String {
        crate::pseudonym::verifier_key_line(&self.name, self.kind, self.key.as_bytes())
    }
}

/// A checkpoint: the tree of a log at one size (the body of a `tlog-checkpoint` note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin: `<writer key name>/<log id>`.
    pub origin: String,
    /// The number of entries (leaves).
    pub size: u64,
    /// The root hash of the tree over them.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: origin, size and base64 root hash, each line ending in `\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Signs the checkpoint: the note text with the writer's signature line.
    pub fn sign(&self, writer: &SigningKey) -> String {
        let body = self.body();
        let signature = writer.sign(body.as_bytes());
        let mut line = key_id(writer.name(), ED25519, &writer.public_key()).to_vec();
        line.extend_from_slice(&signature);
        format!("{body}\n{DASH}{} {}\n", writer.name(), B64.encode(line))
    }
}

/// One signature line of a note.
#[derive(Clone, Debug)]
struct SignatureLine {
    name: String,
    id: [u8; 4],
    rest: Vec<u8>,
}

/// A parsed note: its body text and signature lines.
struct Note {
    body: String,
    signatures: Vec<SignatureLine>,
}

fn parse_note(text: &str) -> Result<Note, NoteError> {
    if text.len() > MAX_NOTE_BYTES {
        return fail("a checkpoint note is at most 64 KiB");
    }
    let Some(at) = text.find("\n\n") else {
        return fail("a signed note has its text, a blank line, then signature lines");
    };
    let (body, signatures) = text.split_at(at + 1);
    let signatures = signatures.get(1..).unwrap_or_default();
    if !signatures.ends_with('\n') {
        return fail("every signature line ends with a newline");
    }
    let mut parsed = Vec::new();
    for line in signatures.lines() {
        let Some(rest) = line.strip_prefix(DASH) else {
            return fail("a signature line starts with `\u{2014} `");
        };
        let Some((name, sig)) = rest.split_once(' ') else {
            return fail("a signature line is `\u{2014} <name> <base64>`");
        };
        let Ok(bytes) = B64.decode(sig) else {
            return fail("a signature is not valid base64");
        };
        if bytes.len() < 5 {
            return fail("a signature is too short");
        }
        let (id, rest) = bytes.split_at(4);
        let mut key = [0u8; 4];
        key.copy_from_slice(id);
        parsed.push(SignatureLine {
            name: name.to_owned(),
            id: key,
            rest: rest.to_vec(),
        });
    }
    if parsed.is_empty() {
        return fail("the note has no signature");
    }
    Ok(Note {
        body: body.to_owned(),
        signatures: parsed,
    })
}

fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
    let mut lines = body.split_terminator('\n');
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return fail("a checkpoint has an origin, a size and a root hash line");
    };
    if origin.is_empty() || lines.any(str::is_empty) {
        return fail("a checkpoint's lines are not empty");
    }
    let size_ok = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && (size == "0" || !size.starts_with('0'));
    let Some(size) = size_ok.then(|| size.parse::<u64>().ok()).flatten() else {
        return fail("a checkpoint's size is a decimal number without leading zeros");
    };
    let root = B64
        .decode(root)
        .ok()
        .and_then(|r| <[u8; 32]>::try_from(r).ok());
    let Some(root) = root else {
        return fail("a checkpoint's root hash is 32 bytes in base64");
    };
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// A witness's cosignature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's name.
    pub witness: String,
    /// When it cosigned (seconds since the Unix epoch).
    pub time: u64,
}

/// A checkpoint whose writer signature verified, with the witnesses that cosigned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Cosignatures by the given witnesses that verified.
    pub cosigned: Vec<Cosigned>,
}

fn cosigned_message(body: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{body}")
}

/// Opens a checkpoint note: the writer's signature must verify, its origin must be
/// the writer's name followed by `/`, and every signature line that names one of
/// `witnesses` (by name and key id) must be a valid cosignature. Lines of other keys
/// are ignored, as the signed-note format says.
///
/// # Errors
///
/// Malformed, no valid writer signature, or a bad cosignature by a known witness.
pub fn open(
    text: &str,
    writer: &VerifierKey,
    witnesses: &[VerifierKey],
) -> Result<Verified, NoteError> {
    let note = parse_note(text)?;
    let checkpoint = parse_body(&note.body)?;
    if writer.kind != ED25519 {
        return fail("the log's public key is a witness key (type 0x04), not a log key");
    }
    let mut signed = false;
    let mut cosigned = Vec::new();
    for line in &note.signatures {
        if line.name == writer.name && line.id == writer.id {
            let Ok(sig) = Signature::from_slice(&line.rest) else {
                return fail("the writer's signature is malformed");
            };
            if writer.key.verify(note.body.as_bytes(), &sig).is_err() {
                return fail("the writer's signature does not verify: the checkpoint was changed or signed by another key");
            }
            signed = true;
        }
        for witness in witnesses {
            if line.name != witness.name || line.id != witness.id {
                continue;
            }
            let (Some(time), Some(sig)) = (line.rest.get(..8), line.rest.get(8..)) else {
                return fail(format!(
                    "the cosignature of `{}` is malformed",
                    witness.name
                ));
            };
            let mut t = [0u8; 8];
            t.copy_from_slice(time);
            let time = u64::from_be_bytes(t);
            let ok = Signature::from_slice(sig).is_ok_and(|sig| {
                witness
                    .key
                    .verify(cosigned_message(&note.body, time).as_bytes(), &sig)
                    .is_ok()
            });
            if !ok || time > i64::MAX as u64 {
                return fail(format!(
                    "the cosignature of `{}` does not verify",
                    witness.name
                ));
            }
            cosigned.push(Cosigned {
                witness: witness.name.clone(),
                time,
            });
        }
    }
    if !signed {
        return fail(format!(
            "the checkpoint has no signature by `{}` with this key",
            writer.name
        ));
    }
    if checkpoint
        .origin
        .strip_prefix(&writer.name)
        .is_none_or(|rest| !rest.starts_with('/'))
    {
        return fail("the checkpoint's origin is not a log of this writer");
    }
    Ok(Verified {
        checkpoint,
        cosigned,
    })
}

/// Adds a witness's timestamped cosignature (`cosignature/v1`) to a signed note. The
/// witness vouches that this is the largest consistent tree it has seen at `time`;
/// checking consistency with what it saw before is the witness's job.
///
/// # Errors
///
/// The note is malformed.
pub fn cosign(text: &str, witness: &SigningKey, time: u64) -> Result<String, NoteError> {
    let note = parse_note(text)?;
    parse_body(&note.body)?;
    let sig = witness.sign(cosigned_message(&note.body, time).as_bytes());
    let mut bytes = key_id(witness.name(), COSIGNATURE_V1, &witness.public_key()).to_vec();
    bytes.extend_from_slice(&time.to_be_bytes());
    bytes.extend_from_slice(&sig);
    Ok(format!(
        "{text}{DASH}{} {}\n",
        witness.name(),
        B64.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, seed: u8) -> SigningKey {
        SigningKey::from_seed(name, &[seed; 32]).unwrap()
    }

    #[test]
    fn a_signed_checkpoint_opens_with_the_public_key_only() {
        let writer = key("example.org/log", 1);
        let cp = Checkpoint {
            origin: "example.org/log/0001".into(),
            size: 7,
            root: [9; 32],
        };
        let note = cp.sign(&writer);
        assert!(note.starts_with("example.org/log/0001\n7\nCQkJ"), "{note}");
        let public = VerifierKey::parse(&VerifierKey::of(&writer, ED25519).to_line()).unwrap();
        // Keys whose base64 holds `+` parse too.
        for seed in 0..40u8 {
            let k = key("a.example/log", seed);
            let line = VerifierKey::of(&k, ED25519).to_line();
            assert_eq!(VerifierKey::parse(&line).unwrap().to_line(), line);
        }
        let opened = open(&note, &public, &[]).unwrap();
        assert_eq!(opened.checkpoint, cp);
        // Any change to the text, another key, or a witness key as the log key: refused.
        let edited = note.replacen("\n7\n", "\n6\n", 1);
        assert!(open(&edited, &public, &[]).is_err());
        let other = VerifierKey::of(&key("example.org/log", 2), ED25519);
        assert!(open(&note, &other, &[]).is_err());
        let as_witness = VerifierKey::of(&writer, COSIGNATURE_V1);
        assert!(open(&note, &as_witness, &[]).is_err());
        // The origin must be one of this writer's logs.
        let foreign = Checkpoint {
            origin: "example.org/logX/1".into(),
            ..cp.clone()
        };
        assert!(open(&foreign.sign(&writer), &public, &[]).is_err());
    }

    #[test]
    fn cosignatures_verify_and_a_bad_one_by_a_known_witness_is_refused() {
        let writer = key("example.org/log", 1);
        let witness = key("partner.example/w1", 3);
        let cp = Checkpoint {
            origin: "example.org/log/ab".into(),
            size: 1,
            root: [1; 32],
        };
        let note = cosign(&cp.sign(&writer), &witness, 1_700_000_000).unwrap();
        let w = VerifierKey::of(&witness, COSIGNATURE_V1);
        let log = VerifierKey::of(&writer, ED25519);
        let opened = open(&note, &log, std::slice::from_ref(&w)).unwrap();
        assert_eq!(
            opened.cosigned,
            vec![Cosigned {
                witness: "partner.example/w1".into(),
                time: 1_700_000_000
            }]
        );
        // Unknown witnesses are ignored; a tampered cosignature of a known one is not.
        assert!(open(&note, &log, &[]).unwrap().cosigned.is_empty());
        let last = note.trim_end().rsplit(' ').next().unwrap();
        let mut bytes = B64.decode(last).unwrap();
        bytes[11] ^= 1; // the timestamp's last byte
        let tampered = note.replace(last, &B64.encode(bytes));
        assert!(open(&tampered, &log, &[w]).is_err());
    }

    #[test]
    fn malformed_notes_and_keys_are_errors_not_panics() {
        for text in [
            "",
            "\n\n",
            "a\n1\nAAAA\n\n\u{2014} a AAAA\n",
            "a\n01\nAAAA\n\n",
            "a\n1\n\n\n",
        ] {
            let log = VerifierKey::of(&key("a", 1), ED25519);
            assert!(open(text, &log, &[]).is_err(), "{text:?}");
        }
        for key in ["", "a+b", "a+00000000+AQ==", "a b+00000000+AQ=="] {
            assert!(VerifierKey::parse(key).is_err(), "{key}");
        }
    }
}
