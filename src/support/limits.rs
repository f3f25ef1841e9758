//! Limits on what the gate reads from other organisations and from policy authors.
//! Every limit fails closed: input beyond it is refused (a record, a line) or stops
//! the load (a policy file), with an error that names the limit, never the content.

/// Default longest JSON Lines line: 1 MiB.
pub(crate) const DEFAULT_MAX_LINE_BYTES: usize = 1024 * 1024;

/// Default most values in one record: 10,000.
pub(crate) const DEFAULT_MAX_VALUES: usize = 10_000;

/// Default largest agreement, schema or case file: 4 MiB.
pub(crate) const DEFAULT_MAX_POLICY_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The limits a [`Gate`](crate::Gate) applies to records and a
/// [`Registry`](crate::Registry) to policy files. `Limits::default()` holds the
/// documented defaults; set fields to change them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest line of a JSON Lines stream, in bytes, without its line ending.
    /// A longer line is reported and skipped, and never held in memory whole.
    pub max_line_bytes: usize,
    /// The deepest nesting of objects and arrays in a record.
    pub max_depth: usize,
    /// The most values in one record: every object member and array element at
    /// every level counts once. Bounds the memory a small but dense line can take.
    pub max_values: usize,
    /// The largest agreement, schema or case file, in bytes.
    pub max_policy_file_bytes: u64,
}

impl Limits {
    /// The documented defaults: lines of 1 MiB, nesting 32 deep, 10,000 values per
    /// record, policy files of 4 MiB.
    pub const DEFAULT: Limits = Limits {
        max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        max_depth: crate::support::json::DEFAULT_MAX_DEPTH,
        max_values: DEFAULT_MAX_VALUES,
        max_policy_file_bytes: DEFAULT_MAX_POLICY_FILE_BYTES,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}
