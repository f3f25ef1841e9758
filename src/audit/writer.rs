//! The log writer: appends entries durably, several per sync when many threads append
//! at once, ends every write in a signed checkpoint of the tree, holds the log's lock,
//! and fails closed after any I/O error.

use super::format::{self, Body, BodyRef, DigestKeys};
use super::merkle::Frontier;
use super::note::{self, Checkpoint, VerifierKey};
use super::verify::{self, Damage, DamageKind};
use super::Clock;
use crate::pseudonym::{KeyRing, SigningKey};
use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, Write};
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
    /// The key files lack an audit key the log needs.
    #[error("no `{0}` key: an audited gate needs the writer's signing key, the record-digest key and the subject-digest key (privacy-gate keygen --audit-writer NAME, --audit-records, --audit-subject)")]
    NoAuditKey(&'static str),
    /// Another writer holds the log.
    #[error("audit log `{path}` is in use by another writer (it is locked); a log has one writer at a time, so nothing was released")]
    Locked {
        /// The log.
        path: String,
    },
    /// The log could not be read or written.
    #[error("audit log `{path}`: {message}")]
    Io {
        /// The log.
        path: String,
        /// What failed.
        message: String,
    },
    /// The log is damaged where the writer would resume; nothing is appended to it.
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
    /// The tree over every entry written so far.
    frontier: Frontier,
    /// Entries covered by the last checkpoint entry written (it included).
    covered: u64,
    written: u64,
    synced: u64,
    syncing: bool,
    poisoned: Option<String>,
    /// A sync failed: nothing not yet durable can be trusted to become so.
    sync_failed: bool,
    plans: HashSet<[u8; 32]>,
    policy_sets: BTreeSet<String>,
    buffer: Vec<u8>,
    /// The note of the last checkpoint entry written, until it is durable.
    pending_note: Option<(u64, String)>,
}

/// An audit log in a file: a Merkle tree of entries (RFC 9162), every write ending
/// in a checkpoint signed by the writer's key.
pub struct AuditLog {
    path: PathBuf,
    storage: Box<dyn Storage>,
    writer: Arc<SigningKey>,
    digests: DigestKeys,
    origin: String,
    /// Where the latest durable checkpoint is kept next to the log (a file log only).
    sidecar: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    synced: Condvar,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// What [`AuditLog::open`] found.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    /// Entries already in the log.
    pub entries: u64,
    /// Entries read to resume: those after the last checkpoint (not the whole log).
    pub entries_read: u64,
    /// Where a torn last line was moved, if there was one.
    pub torn_moved_to: Option<PathBuf>,
}

/// The roles' keys a writer needs, taken from the ring.
fn writer_keys(keys: &KeyRing) -> Result<(Arc<SigningKey>, DigestKeys), AuditError> {
    let writer = keys
        .audit_writer()
        .ok_or(AuditError::NoAuditKey("audit_writer"))?
        .clone();
    let records = keys
        .audit_records()
        .ok_or(AuditError::NoAuditKey("audit_records"))?
        .active()
        .clone();
    let subject = keys
        .audit_subject()
        .ok_or(AuditError::NoAuditKey("audit_subject"))?
        .active()
        .clone();
    Ok((writer, DigestKeys { records, subject }))
}

/// The file next to `log` whose name is the log's with `suffix` added.
pub(crate) fn beside(log: &Path, suffix: &str) -> PathBuf {
    let mut name = log
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    log.with_file_name(name)
}

/// Opens a file for the log without following a symbolic link at its last
/// component, created with mode 0600: a log names who received what about whom.
fn open_file(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

impl AuditLog {
    /// Opens (or creates) the log at `path` and takes its lock: one writer at a time.
    /// An existing log is resumed from its last checkpoint (the writer's signature
    /// checked, the tree's peaks taken from it) and the entries after it, so opening
    /// costs the same for any size of log. A torn last line (a crash mid-append) is
    /// moved aside to a file next to the log and recorded in a recovery entry.
    ///
    /// # Errors
    ///
    /// A key missing, another writer holds the log, an unreadable file or a link,
    /// damage after the last checkpoint, a checkpoint that does not verify, or a log
    /// shorter than the checkpoint kept next to it (truncated or rolled back).
    pub fn open(
        path: &Path,
        keys: &KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Result<(AuditLog, OpenReport), AuditError> {
        let (writer, digests) = writer_keys(keys)?;
        let io_error = |e: io::Error| AuditError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let damaged = |damage: Damage| AuditError::Damaged {
            path: path.display().to_string(),
            damage,
        };
        // Only a regular file keeps entries: `/dev/null` would swallow them and a FIFO
        // or device would block or never end when read. Checked before opening, and
        // again on what was opened.
        let not_a_file = || AuditError::Io {
            path: path.display().to_string(),
            message: "not a regular file; an audit log must be a file".into(),
        };
        if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(not_a_file());
        }
        let mut file = open_file(
            path,
            OpenOptions::new().read(true).append(true).create(true),
        )
        .map_err(io_error)?;
        if !file.metadata().map_err(io_error)?.is_file() {
            return Err(not_a_file());
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AuditError::Locked {
                    path: path.display().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
        }
        let public = VerifierKey::of(&writer, note::ED25519);
        let resumed = verify::resume(&mut file, &public).map_err(|e| match e {
            verify::ResumeError::Io(e) => io_error(e),
            verify::ResumeError::Damaged(d) => damaged(d),
        })?;
        let sidecar = beside(path, ".checkpoint");
        check_sidecar(&sidecar, &public, &resumed).map_err(damaged)?;
        let mut report = OpenReport {
            entries: resumed.frontier.size(),
            entries_read: resumed.entries_read,
            torn_moved_to: None,
        };
        let mut recovery = None;
        if let Some((cut, torn_bytes)) = &resumed.torn {
            let aside = torn_path(path, resumed.frontier.size());
            let mut out = open_file(&aside, OpenOptions::new().write(true).create_new(true))
                .map_err(io_error)?;
            out.write_all(torn_bytes)
                .and_then(|()| out.sync_all())
                .map_err(io_error)?;
            file.set_len(*cut)
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
        let log_id = match &resumed.log_id {
            Some(id) => id.clone(),
            None => {
                let mut id = [0u8; 16];
                getrandom::fill(&mut id).map_err(|e| io_error(io::Error::other(e.to_string())))?;
                crate::support::hex::hex(&id)
            }
        };
        let fresh = resumed.frontier.size() == 0;
        let log = AuditLog {
            path: path.to_path_buf(),
            storage: Box::new(file),
            origin: format!("{}/{log_id}", writer.name()),
            writer,
            digests,
            sidecar: Some(sidecar),
            clock,
            state: Mutex::new(State {
                written: resumed.frontier.size(),
                synced: resumed.frontier.size(),
                covered: resumed.covered,
                frontier: resumed.frontier,
                syncing: false,
                poisoned: None,
                sync_failed: false,
                plans: resumed.plans,
                policy_sets: resumed.policy_sets,
                buffer: Vec::new(),
                pending_note: None,
            }),
            synced: Condvar::new(),
        };
        if fresh || recovery.is_some() {
            // A new log file, or a moved-aside tail: make the directory entries durable.
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                File::open(parent)
                    .and_then(|dir| dir.sync_all())
                    .map_err(io_error)?;
            }
        }
        if fresh {
            log.append(&[format::open_body(&log_id)])?;
        }
        if let Some(body) = recovery {
            log.append(&[body])?;
        }
        Ok((log, report))
    }

    /// A log on any storage (for tests and fault injection), starting empty, with log
    /// id `in-memory`.
    ///
    /// # Errors
    ///
    /// A key is missing, or the first entry could not be written.
    pub fn with_storage(
        path: &Path,
        storage: Box<dyn Storage>,
        keys: &KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Result<AuditLog, AuditError> {
        let (writer, digests) = writer_keys(keys)?;
        let log = AuditLog {
            path: path.to_path_buf(),
            storage,
            origin: format!("{}/in-memory", writer.name()),
            writer,
            digests,
            sidecar: None,
            clock,
            state: Mutex::new(State {
                frontier: Frontier::new(),
                covered: 0,
                written: 0,
                synced: 0,
                syncing: false,
                poisoned: None,
                sync_failed: false,
                plans: HashSet::new(),
                policy_sets: BTreeSet::new(),
                buffer: Vec::new(),
                pending_note: None,
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

    /// The log's origin (the first line of its checkpoints): the writer key's name,
    /// `/`, and the log id.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The keys of the transfer entries' digests.
    pub(crate) fn digest_keys(&self) -> &DigestKeys {
        &self.digests
    }

    /// The public key that verifies this log's checkpoints.
    pub fn public_key(&self) -> VerifierKey {
        VerifierKey::of(&self.writer, note::ED25519)
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

    /// Appends `bodies` as consecutive entries and returns once they are durable and
    /// covered by a signed checkpoint.
    /// Plan and policy bodies are remembered so they are written once.
    ///
    /// # Errors
    ///
    /// The log is poisoned, or writing or syncing failed (which poisons it).
    pub fn append(&self, bodies: &[Body]) -> Result<u64, AuditError> {
        let refs: Vec<BodyRef<'_>> = bodies.iter().map(Body::as_ref).collect();
        let mark = self.write(&refs, None)?;
        self.wait_durable(mark)?;
        Ok(mark)
    }

    /// Appends `bodies` as consecutive entries without waiting for them to be
    /// durable, and returns the mark to pass to [`AuditLog::wait_durable`]: the
    /// caller releases nothing they cover before that returns. Lets a stream sync
    /// one batch while it gates the next. When `receipts` is given, each body's
    /// entry index and leaf hash are pushed to it (nothing for a plan or policy
    /// body already in the log).
    ///
    /// # Errors
    ///
    /// The log is poisoned, or writing failed (which poisons it).
    pub(crate) fn write(
        &self,
        bodies: &[BodyRef<'_>],
        mut receipts: Option<&mut Vec<(u64, [u8; 32])>>,
    ) -> Result<u64, AuditError> {
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
        let mut frontier = state.frontier.clone();
        let mut plans = Vec::new();
        let mut sets = Vec::new();
        for &body in bodies {
            // Checked and recorded under the lock, so racing threads log a plan once.
            if body.members().starts_with(b"\"kind\":\"plan\"") {
                let id = format::line_hash(body.members());
                if state.plans.contains(&id) || plans.contains(&id) {
                    continue;
                }
                plans.push(id);
            }
            if let Some(set) = body
                .members()
                .strip_prefix(POLICY_PREFIX)
                .and_then(|rest| rest.get(..64))
            {
                let set = String::from_utf8_lossy(set).into_owned();
                if state.policy_sets.contains(&set) || sets.contains(&set) {
                    continue;
                }
                sets.push(set);
            }
            let seq = frontier.size();
            let leaf = format::frame(seq, self.clock.now(), body, &mut buffer);
            buffer.push(b'\n');
            frontier.push(leaf);
            if let Some(receipts) = receipts.as_deref_mut() {
                receipts.push((seq, leaf));
            }
        }
        // Every write ends in a checkpoint of the tree so far, in the same write: an
        // entry is never durable without the writer's signature over it.
        let mut note = None;
        if frontier.size() > state.frontier.size() {
            let checkpoint = Checkpoint {
                origin: self.origin.clone(),
                size: frontier.size(),
                root: frontier.root(),
            };
            let text = checkpoint.sign(&self.writer);
            let body = format::checkpoint_body(&text, frontier.peaks());
            let leaf = format::frame(
                checkpoint.size,
                self.clock.now(),
                body.as_ref(),
                &mut buffer,
            );
            buffer.push(b'\n');
            frontier.push(leaf);
            note = Some(text);
        }
        let result = self.storage.append(&buffer);
        state.buffer = buffer;
        if let Err(e) = result {
            let cause = format!("write failed: {e}");
            state.poisoned = Some(cause.clone());
            self.synced.notify_all();
            return Err(self.poisoned(&cause));
        }
        state.frontier = frontier;
        if let Some(note) = note {
            state.covered = state.frontier.size();
            state.pending_note = Some((state.frontier.size(), note));
        }
        state.plans.extend(plans);
        state.policy_sets.extend(sets);
        state.written = state.frontier.size();
        Ok(state.written)
    }

    /// Whether every entry up to `mark` (from [`AuditLog::write`]) is durable.
    pub(crate) fn is_durable(&self, mark: u64) -> bool {
        self.lock().is_ok_and(|s| s.synced >= mark)
    }

    /// Returns once every entry up to `mark` is durable, with the signed checkpoint
    /// its write ended in. Group commit: one thread syncs for everyone written so
    /// far; the others wait. Entries written in full before
    /// a later write failed are still synced: their batch may go out.
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
            let note = state.pending_note.take();
            drop(state);
            let result = self.storage.sync();
            if let (Ok(()), Some(sidecar), Some((_, note))) = (&result, &self.sidecar, &note) {
                // Best effort: the entries and their signed checkpoint are durable in
                // the log itself; a stale copy next to it is only older, which a
                // reopening writer accepts (a newer one would refuse a rolled-back log).
                let _ = write_sidecar(sidecar, note);
            }
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

impl Drop for AuditLog {
    /// Covers entries written but never waited for with a last checkpoint, so a log
    /// closed cleanly ends signed. Best effort: a failure here releases nothing.
    fn drop(&mut self) {
        let written = self.lock().map(|s| s.written).unwrap_or(0);
        let _ = self.wait_durable(written);
    }
}

/// Replaces the checkpoint kept next to the log (write, sync, rename): the newest
/// checkpoint the writer signed, against which a reopened log must not be shorter.
fn write_sidecar(path: &Path, note: &str) -> io::Result<()> {
    let temp = beside(path, ".tmp");
    let _ = std::fs::remove_file(&temp);
    let mut file = open_file(&temp, OpenOptions::new().write(true).create_new(true))?;
    file.write_all(note.as_bytes())?;
    file.sync_data()?;
    std::fs::rename(&temp, path)
}

/// Checks the log against the checkpoint kept next to it: it must verify, and the
/// log must not have lost entries it covers (a log rolled back, or a tail dropped).
fn check_sidecar(
    path: &Path,
    public: &VerifierKey,
    resumed: &verify::Resumed,
) -> Result<(), Damage> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(sidecar_damage(
                resumed,
                format!("cannot read the checkpoint kept next to the log: {e}"),
            ))
        }
    };
    let text = String::from_utf8(text).unwrap_or_default();
    let opened = note::open(&text, public, &[]).map_err(|e| {
        sidecar_damage(
            resumed,
            format!("the checkpoint kept next to the log is refused: {e}"),
        )
    })?;
    let kept = opened.checkpoint;
    let last = resumed.last_checkpoint.as_ref();
    let fine = match last {
        // The kept checkpoint is the log's last one, or an older one (its rename was
        // lost in a crash); a newer or different one means the log lost entries.
        Some(last) => kept.size < last.size || (kept.size == last.size && kept.root == last.root),
        None => false,
    };
    if fine || (kept.size == 0 && last.is_none()) {
        return Ok(());
    }
    Err(Damage {
        entry: resumed.frontier.size() + 1,
        offset: resumed.bytes,
        kind: DamageKind::Truncated,
        detail: format!(
            "the writer signed a checkpoint of {} entries (kept next to the log), which the log no longer holds: truncated or rolled back",
            kept.size
        ),
    })
}

fn sidecar_damage(resumed: &verify::Resumed, detail: String) -> Damage {
    Damage {
        entry: resumed.frontier.size() + 1,
        offset: resumed.bytes,
        kind: DamageKind::WrongKey,
        detail,
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
                r#"{{"audit_writer": {{"name": "t.example/log", "secret": "{0}"}},
                    "audit_records": {{"active": "r", "keys": {{"r": "{0}"}}}},
                    "audit_subject": {{"active": "s", "keys": {{"s": "{0}"}}}}}}"#,
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
        assert!(verify::verify(text.as_bytes(), &log.public_key()).is_ok());
    }
}
