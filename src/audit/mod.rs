//! The audit log: one entry per transfer in a Merkle tree (RFC 9162), with
//! checkpoints the writer signs (C2SP signed notes, Ed25519), which auditors verify
//! with the writer's public key, prove single entries from, and replay. The format is
//! specified in `docs/audit-log.md`.

mod archive;
pub(crate) mod format;
pub mod merkle;
pub mod note;
mod proof;
mod replay;
mod verify;
mod wire;
mod writer;

pub use archive::Archive;
pub use format::{Body, SEMANTICS};
pub use note::{Checkpoint, VerifierKey};
pub use proof::{
    check, check_consistency, consistency, prove, subject_entries, Bundle, Checked, ProofError,
    ProvenEntry, Receipt, BUNDLE_FORMAT,
};
pub use replay::{replay, Change, EntryReplay, ReplayError, ReplayOptions};
pub use verify::{
    plan_id, subject_digest, torn_tail, verify, verify_against, Damage, DamageKind, Summary,
};
pub use writer::{AuditError, AuditLog, OpenReport, Storage};

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// Where entry times come from; injectable so tests and replays are deterministic.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a fixed time and moves one step further at every reading.
#[derive(Debug)]
pub struct SteppingClock {
    start: DateTime<Utc>,
    step_micros: i64,
    readings: AtomicI64,
}

impl SteppingClock {
    /// Starts at `start`, `step` apart.
    pub fn new(start: DateTime<Utc>, step: Duration) -> SteppingClock {
        SteppingClock {
            start,
            step_micros: step.num_microseconds().unwrap_or(1),
            readings: AtomicI64::new(0),
        }
    }
}

impl Clock for SteppingClock {
    fn now(&self) -> DateTime<Utc> {
        let n = self.readings.fetch_add(1, Ordering::Relaxed);
        // Saturates at the end of chrono's range rather than panicking.
        self.start
            .checked_add_signed(Duration::microseconds(n.saturating_mul(self.step_micros)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}
