//! A content-addressed copy of every agreement version a gate used, so that replay
//! works after the files in `policies/` have changed.

use crate::plan::registry::{sha256_hex, PolicySet, PolicySource};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A folder of `<sha256>.json` files (schema and agreements, byte for byte) and
/// `<policy-set-id>.manifest.json` files naming a whole policy set.
#[derive(Clone, Debug)]
pub struct Archive {
    dir: PathBuf,
}

impl Archive {
    /// The archive in `dir`.
    pub fn new(dir: &Path) -> Archive {
        Archive {
            dir: dir.to_path_buf(),
        }
    }

    /// The default archive of a log: `<log>.agreements/` next to it.
    pub fn next_to(log: &Path) -> Archive {
        let mut name = log
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".agreements");
        Archive {
            dir: log.with_file_name(name),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores every file of `set` that is not there yet, durably.
    ///
    /// # Errors
    ///
    /// The folder or a file could not be written.
    pub fn store(&self, set: &PolicySet) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        self.put(
            &format!("{}.json", sha256_hex(set.schema.text.as_bytes())),
            set.schema.text.as_bytes(),
        )?;
        for (_, src) in &set.agreements {
            self.put(
                &format!("{}.json", sha256_hex(src.text.as_bytes())),
                src.text.as_bytes(),
            )?;
        }
        self.put(&format!("{}.manifest.json", set.id_hex()), &set.manifest)?;
        if let Ok(dir) = fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Stores `bytes` as `name` unless the file there already holds exactly them. A
    /// file there with other bytes (damaged, edited, or not a regular file, such as
    /// a link) is never trusted: it is replaced, or, when that fails, storing fails.
    fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.dir.join(name);
        if holds(&path, bytes) {
            return Ok(());
        }
        let temp = self.dir.join(format!(".{name}.tmp"));
        // A leftover (or planted) temporary file is removed, and the new one created
        // exclusively: a link there is not followed.
        match fs::remove_file(&temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        // Renaming replaces whatever is at `path` (a link itself, not its target).
        fs::rename(&temp, &path)?;
        if holds(&path, bytes) {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "{name} does not hold what was stored"
            )))
        }
    }

    /// The schema and agreement files of a policy set, checked against their SHA-256.
    ///
    /// # Errors
    ///
    /// A file is missing, unreadable, or does not match its name's SHA-256.
    pub fn load(&self, policy_set: &str) -> io::Result<(PolicySource, Vec<PolicySource>)> {
        let manifest_bytes =
            self.read_checked(&format!("{policy_set}.manifest.json"), policy_set)?;
        let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| io::Error::other(format!("manifest: {e}")))?;
        let schema_sha = manifest
            .get("schema")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let schema_text = self.text(schema_sha)?;
        let schema = PolicySource {
            file: format!("{}/{schema_sha}/schema.json", self.dir.display()),
            text: schema_text,
        };
        let mut agreements = Vec::new();
        if let Some(serde_json::Value::Object(list)) = manifest.get("agreements") {
            for (id, sha) in list {
                let sha = sha.as_str().unwrap_or_default();
                agreements.push(PolicySource {
                    // The loader checks that `<province>/<name>.json` ends the name.
                    file: format!("{}/{sha}/{id}.json", self.dir.display()),
                    text: self.text(sha)?,
                });
            }
        }
        Ok((schema, agreements))
    }

    fn text(&self, sha: &str) -> io::Result<String> {
        let bytes = self.read_checked(&format!("{sha}.json"), sha)?;
        String::from_utf8(bytes).map_err(|_| io::Error::other(format!("{sha}.json is not UTF-8")))
    }

    fn read_checked(&self, name: &str, sha: &str) -> io::Result<Vec<u8>> {
        let bytes = fs::read(self.dir.join(name))
            .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
        if sha256_hex(&bytes) != sha {
            return Err(io::Error::other(format!(
                "{name} does not match its SHA-256"
            )));
        }
        Ok(bytes)
    }
}

/// Whether `path` is a regular file (not a link) holding exactly `bytes`.
fn holds(path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() != bytes.len() as u64 {
        return false;
    }
    let mut found = Vec::with_capacity(bytes.len());
    fs::File::open(path)
        .and_then(|f| f.take(bytes.len() as u64 + 1).read_to_end(&mut found))
        .is_ok_and(|_| found == bytes)
}
