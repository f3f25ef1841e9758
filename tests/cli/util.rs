//! Helpers every module of this test binary shares: running the binary, reading its
//! output, scratch folders.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The moment the tests gate and compare at.
pub const AT: &str = "2026-03-02T10:00:00Z";

/// The crate's root folder, where the binary runs.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run in the crate's root, without keys from the environment.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_privacy-gate"));
    cmd.current_dir(root()).env_remove("PRIVACY_GATE_KEYS");
    cmd
}

/// Runs `cmd` with `stdin` as its input and collects its output.
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `cmd` without input and collects what it did not send elsewhere (standard
/// output can be redirected beforehand).
pub fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A folder of its own under the temp folder, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "privacy-gate-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

/// Writes a key file at `path` with every audit role (writer, record digests, subject
/// digests) and the shipped policies' domain keys, each secret from `seed`, and the
/// writer's public key at `<path>.pub`. Returns the public key file's path.
pub fn write_audit_keys(path: &std::path::Path, seed: u8) -> std::path::PathBuf {
    let secret = |n: u8| format!("{:02x}", seed ^ n).repeat(32);
    let text = serde_json::json!({
        "domains": {
            "drenthe/zvh-signalen": {"active": "k1", "keys": {"k1": secret(1)}},
            "groningen/zvh-signalen": {"active": "k1", "keys": {"k1": secret(2)}},
            "friesland/zvh-signalen": {"active": "k1", "keys": {"k1": secret(3)}},
            "friesland/ggd-advies": {"active": "k1", "keys": {"k1": secret(7)}},
            "groningen/ggd-advies": {"active": "k1", "keys": {"k1": secret(8)}},
        },
        "audit_writer": {"name": "test.example/audit", "secret": secret(4)},
        "audit_records": {"active": "r1", "keys": {"r1": secret(5)}},
        "audit_subject": {"active": "s1", "keys": {"s1": secret(6)}},
    })
    .to_string();
    std::fs::write(path, &text).unwrap();
    let ring = privacy_gate::KeyRing::from_json("keys", text.as_bytes()).unwrap();
    let public = privacy_gate::audit::VerifierKey::of(
        ring.audit_writer().unwrap(),
        privacy_gate::audit::note::ED25519,
    );
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = std::path::PathBuf::from(pub_path);
    std::fs::write(&pub_path, public.to_line() + "\n").unwrap();
    pub_path
}

/// The public key file next to a key file written by [`write_audit_keys`].
pub fn pub_of(keys: &std::path::Path) -> std::path::PathBuf {
    let mut pub_path = keys.as_os_str().to_owned();
    pub_path.push(".pub");
    pub_path.into()
}

/// A released record's bytes without the receipt in its `_transfer`: what the
/// entry's output digest covers (docs/audit-log.md §8).
pub fn without_receipt(bytes: &[u8]) -> Vec<u8> {
    let needle = b",\"receipt\":{";
    let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) else {
        return bytes.to_vec();
    };
    let end = at + bytes[at..].iter().position(|b| *b == b'}').unwrap() + 1;
    [&bytes[..at], &bytes[end..]].concat()
}
