//! Helpers every module of this test binary shares: the crate root, temporary
//! folders, an in-memory audit log, hex, and error chains.

use privacy_gate::audit::Storage;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The crate's root folder.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lower-case or upper-case hex `text`; panics on anything else.
pub fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// An error and its causes (`source()`), joined by ": ", as the command line shows
/// them.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Copies the folder `from` (and everything below it) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A log in memory: every append lands in a shared buffer; syncing is free.
#[derive(Clone, Default)]
pub struct Memory(pub Arc<Mutex<Vec<u8>>>);

impl Memory {
    /// What was appended so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl Storage for Memory {
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

/// A folder of its own under the temp folder (or `under` another), removed when
/// dropped, after giving back any permissions a test took away.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), tag)
    }

    pub fn under(base: &Path, tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = base.join(format!(
            "privacy-gate-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Names of the files in the folder that start with `prefix`, sorted.
    pub fn files_starting_with(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for path in walk(&self.0) {
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700));
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every path below `dir`, not following links.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// The public key of a ring's audit writer: what a verifier holds.
pub fn public_of(ring: &privacy_gate::KeyRing) -> privacy_gate::audit::VerifierKey {
    privacy_gate::audit::VerifierKey::of(
        ring.audit_writer().expect("an audit writer key"),
        privacy_gate::audit::note::ED25519,
    )
}

/// Standard base64 with padding, as checkpoints and proofs spell hashes.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Splits a released record's bytes into the record without the receipt in its
/// `_transfer` (the bytes the entry's output digest covers, and what an unaudited gate
/// releases) and the receipt, if it has one.
pub fn strip_receipt(bytes: &[u8]) -> (Vec<u8>, Option<serde_json::Value>) {
    let needle = b",\"receipt\":{";
    let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) else {
        return (bytes.to_vec(), None);
    };
    let end = at + bytes[at..].iter().position(|b| *b == b'}').unwrap() + 1;
    let receipt = serde_json::from_slice(&bytes[at + needle.len() - 1..end]).unwrap();
    ([&bytes[..at], &bytes[end..]].concat(), Some(receipt))
}
