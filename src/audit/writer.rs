//! The log writer: appends sealed, chained entries durably, several per sync when
//! many threads append at once, and fails closed after any I/O error.

use super::format::{self, Body, BodyRef};
use super::verify::{self, Damage};
use super::Clock;
use crate::pseudonym::{ActiveKey, KeyRing, KeySet};
use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// Where entries go: appends happen one at a time (under the log's lock); `sync` may
/// run while another append is in progress.
pub trait Storage: Send + Sync {
    /// Appends `bytes` at the end.
    ///
    /// # Errors
    ///
    /// The bytes may not have been written.
    fn append(&self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable.
    ///
    /// # Errors
    ///
    /// Durability is not guaranteed.
    fn sync(&self) -> io::Result<()>;
}

impl Storage for File {
    fn append(&self, bytes: &[u8]) -> io::Result<()> {
        let mut file = self;
        file.write_all(bytes)
    }
    fn sync(&self) -> io::Result<()> {
        self.sync_data()
    }
}

/// Why the audit log refused to write, or to open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The key file has no `audit` entry.
    #[error("the key file has no `audit` key: add one (privacy-gate keygen --audit)")]
    NoAuditKey,
    /// The log could not be read or written.
    #[error("audit log `{path}`: {message}")]
    Io {
        /// The log.
        path: String,
        /// What failed.
        message: String,
    },
    /// The log is damaged before its end; nothing is appended to it.
    #[error("audit log `{path}` is damaged, so nothing is appended: {damage}")]
    Damaged {
        /// The log.
        path: String,
        /// The first bad entry.
        damage: Damage,
    },
    /// An earlier write or sync failed; the log refuses everything until reopened.
    #[error("audit log `{path}` failed ({cause}); nothing is released until it is reopened")]
    Poisoned {
        /// The log.
        path: String,
        /// The first failure.
        cause: String,
    },
}

/// How a policy entry's body starts; the policy set id follows.
const POLICY_PREFIX: &[u8] = b"\"kind\":\"policy\",\"policy_set\":\"";

struct State {
    next_seq: u64,
    prev: [u8; 32],
    written: u64,
    synced: u64,
    syncing: bool,
    poisoned: Option<String>,
    /// A sync failed: nothing not yet durable can be trusted to become so.
    sync_failed: bool,
    plans: HashSet<[u8; 32]>,
    policy_sets: BTreeSet<String>,
    buffer: Vec<u8>,
}

/// A sealed, hash-chained audit log in a file.
pub struct AuditLog {
    path: PathBuf,
    storage: Box<dyn Storage>,
    key: Arc<ActiveKey>,
    keys: KeySet,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    synced: Condvar,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("key", &self.key.id())
            .finish_non_exhaustive()
    }
}

/// What [`AuditLog::open`] found.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    /// Entries already in the log.
    pub entries: u64,
    /// Where a torn last line was moved, if there was one.
    pub torn_moved_to: Option<PathBuf>,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, sealing with the key file's active audit
    /// key. An existing log is verified first; a torn last line (a crash mid-append)
    /// is moved aside to a file next to the log and recorded in a recovery entry.
    ///
    /// # Errors
    ///
    /// No audit key, an unreadable file, or damage anywhere but a torn last line.
    pub fn open(
        path: &Path,
        keys: &KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Result<(AuditLog, OpenReport), AuditError> {
        let keys = keys.audit().ok_or(AuditError::NoAuditKey)?.clone();
        let io_error = |e: io::Error| AuditError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        // Only a regular file keeps entries: `/dev/null` would swallow them and a FIFO
        // or device would block or never end when read. Checked before opening, and
        // again on what was opened.
        let not_a_file = || AuditError::Io {
            path: path.display().to_string(),
            message: "not a regular file; an audit log must be a file".into(),
        };
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(not_a_file());
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_error)?;
        if !file.metadata().map_err(io_error)?.is_file() {
            return Err(not_a_file());
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_error)?;
        let mut report = OpenReport::default();
        let torn = verify::torn_tail(&bytes);
        let complete = bytes.get(..torn.unwrap_or(bytes.len())).unwrap_or_default();
        let summary = verify::verify(complete, &keys).map_err(|damage| AuditError::Damaged {
            path: path.display().to_string(),
            damage,
        })?;
        let mut recovery = None;
        if let Some(cut) = torn {
            let torn_bytes = bytes.get(cut..).unwrap_or_default();
            let aside = torn_path(path, summary.entries);
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&aside)
                .map_err(io_error)?;
            out.write_all(torn_bytes)
                .and_then(|()| out.sync_all())
                .map_err(io_error)?;
            file.set_len(cut as u64)
                .and_then(|()| file.sync_all())
                .map_err(io_error)?;
            file.seek(io::SeekFrom::End(0)).map_err(io_error)?;
            let name = aside
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            recovery = Some(format::recovery_body(torn_bytes, &name));
            report.torn_moved_to = Some(aside);
        }
        report.entries = summary.entries;
        let log = AuditLog {
            path: path.to_path_buf(),
            storage: Box::new(file),
            key: keys.active().clone(),
            keys,
            clock,
            state: Mutex::new(State {
                next_seq: summary.last_seq.map_or(0, |s| s + 1),
                prev: summary.head,
                written: 0,
                synced: 0,
                syncing: false,
                poisoned: None,
                sync_failed: false,
                plans: summary.plans,
                policy_sets: summary.policy_sets,
                buffer: Vec::new(),
            }),
            synced: Condvar::new(),
        };
        if summary.entries == 0 || recovery.is_some() {
            // A new log file, or a moved-aside tail: make the directory entries durable.
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(parent)
                    .and_then(|dir| dir.sync_all())
                    .map_err(io_error)?;
            }
        }
        if summary.entries == 0 {
            let mut id = [0u8; 16];
            getrandom::fill(&mut id).map_err(|e| io_error(io::Error::other(e.to_string())))?;
            log.append(&[format::open_body(&crate::support::hex::hex(&id))])?;
        }
        if let Some(body) = recovery {
            log.append(&[body])?;
        }
        Ok((log, report))
    }

    /// A log on any storage (for tests and fault injection), starting empty.
    pub fn with_storage(
        path: &Path,
        storage: Box<dyn Storage>,
        keys: &KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Result<AuditLog, AuditError> {
        let keys = keys.audit().ok_or(AuditError::NoAuditKey)?.clone();
        let log = AuditLog {
            path: path.to_path_buf(),
            storage,
            key: keys.active().clone(),
            keys,
            clock,
            state: Mutex::new(State {
                next_seq: 0,
                prev: [0; 32],
                written: 0,
                synced: 0,
                syncing: false,
                poisoned: None,
                sync_failed: false,
                plans: HashSet::new(),
                policy_sets: BTreeSet::new(),
                buffer: Vec::new(),
            }),
            synced: Condvar::new(),
        };
        log.append(&[format::open_body("in-memory")])?;
        Ok(log)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key that seals entries and keys the digests.
    pub(crate) fn key(&self) -> &Arc<ActiveKey> {
        &self.key
    }

    /// Every audit key (to recognise older entries).
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    fn poisoned(&self, cause: &str) -> AuditError {
        AuditError::Poisoned {
            path: self.path.display().to_string(),
            cause: cause.to_owned(),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, AuditError> {
        self.state
            .lock()
            .map_err(|_| self.poisoned("a writer thread panicked"))
    }

    /// Whether the log holds the plan with this id; plan entries are written once.
    pub(crate) fn has_plan(&self, id: &[u8; 32]) -> bool {
        self.lock().is_ok_and(|s| s.plans.contains(id))
    }

    /// Whether the log names this policy set.
    pub(crate) fn has_policy_set(&self, id: &str) -> bool {
        self.lock().is_ok_and(|s| s.policy_sets.contains(id))
    }

    /// Appends `bodies` as consecutive entries and returns once they are durable.
    /// Plan and policy bodies are remembered so they are written once.
    ///
    /// # Errors
    ///
    /// The log is poisoned, or writing or syncing failed (which poisons it).
    pub fn append(&self, bodies: &[Body]) -> Result<u64, AuditError> {
        let refs: Vec<BodyRef<'_>> = bodies.iter().map(Body::as_ref).collect();
        let mark = self.write(&refs)?;
        self.wait_durable(mark)?;
        Ok(mark)
    }

    /// Appends `bodies` as consecutive entries without waiting for them to be
    /// durable, and returns the mark to pass to [`AuditLog::wait_durable`]: the
    /// caller releases nothing they cover before that returns. Lets a stream sync
    /// one batch while it gates the next.
    ///
    /// # Errors
    ///
    /// The log is poisoned, or writing failed (which poisons it).
    pub(crate) fn write(&self, bodies: &[BodyRef<'_>]) -> Result<u64, AuditError> {
        {
            let mut state = self.lock()?;
            if let Some(cause) = &state.poisoned {
                return Err(self.poisoned(cause));
            }
            if bodies.iter().any(|b| b.members().is_empty()) {
                // Serialising into memory cannot fail; if it ever did, log nothing.
                return Err(AuditError::Io {
                    path: self.path.display().to_string(),
                    message: "an entry could not be serialised; nothing was written".into(),
                });
            }
            let mut buffer = std::mem::take(&mut state.buffer);
            buffer.clear();
            for &body in bodies {
                // Checked and recorded under the lock, so racing threads log a plan once.
                if body.members().starts_with(b"\"kind\":\"plan\"")
                    && !state.plans.insert(format::line_hash(body.members()))
                {
                    continue;
                }
                if let Some(set) = body
                    .members()
                    .strip_prefix(POLICY_PREFIX)
                    .and_then(|rest| rest.get(..64))
                {
                    if !state
                        .policy_sets
                        .insert(String::from_utf8_lossy(set).into_owned())
                    {
                        continue;
                    }
                }
                let seq = state.next_seq;
                state.prev = format::frame(
                    seq,
                    self.clock.now(),
                    &state.prev,
                    body,
                    &self.key,
                    &mut buffer,
                );
                buffer.push(b'\n');
                state.next_seq += 1;
            }
            let result = self.storage.append(&buffer);
            state.buffer = buffer;
            if let Err(e) = result {
                let cause = format!("write failed: {e}");
                state.poisoned = Some(cause.clone());
                self.synced.notify_all();
                return Err(self.poisoned(&cause));
            }
            state.written = state.next_seq;
            Ok(state.next_seq)
        }
    }

    /// Whether every entry up to `mark` (from [`AuditLog::write`]) is durable.
    pub(crate) fn is_durable(&self, mark: u64) -> bool {
        self.lock().is_ok_and(|s| s.synced >= mark)
    }

    /// Returns once every entry up to `mark` is durable. Group commit: one thread
    /// syncs for everyone written so far; the others wait. Entries written in full
    /// before a later write failed are still synced: their batch may go out.
    ///
    /// # Errors
    ///
    /// The entries were not all written, or syncing failed (which poisons the log).
    pub(crate) fn wait_durable(&self, mine: u64) -> Result<(), AuditError> {
        let mut state = self.lock()?;
        loop {
            if state.synced >= mine {
                return Ok(());
            }
            if let Some(cause) = &state.poisoned {
                if state.sync_failed || mine > state.written {
                    return Err(self.poisoned(cause));
                }
            }
            if state.syncing {
                state = self
                    .synced
                    .wait(state)
                    .map_err(|_| self.poisoned("a writer thread panicked"))?;
                continue;
            }
            state.syncing = true;
            let target = state.written;
            drop(state);
            let result = self.storage.sync();
            state = self.lock()?;
            state.syncing = false;
            match result {
                Ok(()) => state.synced = state.synced.max(target),
                Err(e) => {
                    state.sync_failed = true;
                    state.poisoned = Some(format!("sync failed: {e}"));
                }
            }
            self.synced.notify_all();
        }
    }
}

fn torn_path(path: &Path, entries: u64) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".torn-{entries}-{stamp}"));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Memory(Mutex<Vec<u8>>);

    impl Storage for Arc<Memory> {
        fn append(&self, bytes: &[u8]) -> io::Result<()> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(())
        }
        fn sync(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plan_and_policy_entries_are_written_once() {
        let keys = KeyRing::from_json(
            "k",
            format!(
                r#"{{"audit": {{"active": "a", "keys": {{"a": "{}"}}}}}}"#,
                "ab".repeat(32)
            )
            .as_bytes(),
        )
        .unwrap();
        let memory = Arc::new(Memory::default());
        let log = AuditLog::with_storage(
            Path::new("mem"),
            Box::new(memory.clone()),
            &keys,
            Arc::new(super::super::SystemClock),
        )
        .unwrap();
        let plan = Body::new(br#"{"kind":"plan","x":1}"#.to_vec());
        let policy = Body::new(
            format!(
                r#"{{"kind":"policy","policy_set":"{}","y":2}}"#,
                "0".repeat(64)
            )
            .into_bytes(),
        );
        for _ in 0..3 {
            log.append(&[plan.clone(), policy.clone()]).unwrap();
        }
        let text = String::from_utf8(memory.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches(r#""kind":"plan""#).count(), 1, "{text}");
        assert_eq!(text.matches(r#""kind":"policy""#).count(), 1, "{text}");
        assert!(verify::verify(text.as_bytes(), keys.audit().unwrap()).is_ok());
    }
}
