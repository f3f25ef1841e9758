//! Gating a JSON Lines stream: one record per line, output in input order.
//!
//! Lines are read in batches; each batch is gated into one output buffer. With more
//! than one thread, batches are gated in parallel and written in input order.

use super::audited::{AuditError, Entries};
use super::Flow;
use crate::decision::{RecordError, Refusal, Written};
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Mutex;

/// Lines per batch: large enough to amortise hand-over between threads, small enough
/// to keep memory and latency low.
const BATCH_LINES: usize = 256;

/// At most this many lines per batch when the flow logs: each batch costs one sync
/// of the audit log, so larger batches spread that cost over more records. A batch
/// is cut short when no more input is ready, so records are never held back waiting.
pub const AUDITED_BATCH_LINES: usize = 1024;

/// What happened to a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Records released (one output line each).
    pub released: u64,
    /// Records refused (e.g. a condition such as consent did not hold).
    pub refused: u64,
    /// Lines that were not a record (malformed JSON, duplicate keys, not an object).
    pub malformed: u64,
    /// Lines longer than the limit, skipped unread.
    pub too_long: u64,
}

impl LineStats {
    fn add(&mut self, other: LineStats) {
        self.released += other.released;
        self.refused += other.refused;
        self.malformed += other.malformed;
        self.too_long += other.too_long;
    }
}

/// Why a stream stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Reading the input or writing the output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The audit log could not be written; the records of that batch were not released.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// A line that released nothing, by its 1-based number. Holds none of its content.
#[derive(Debug)]
#[non_exhaustive]
pub enum LineProblem<'a> {
    /// The record was refused.
    Refused(u64, &'a Refusal),
    /// The line was not a record.
    Malformed(u64, &'a RecordError),
    /// The line was longer than the limit (the number), so it was skipped unread.
    TooLong(u64, usize),
}

impl LineProblem<'_> {
    /// The 1-based number of the line.
    pub fn line(&self) -> u64 {
        match self {
            LineProblem::Refused(line, _)
            | LineProblem::Malformed(line, _)
            | LineProblem::TooLong(line, _) => *line,
        }
    }
}

enum Problem {
    Refused(Refusal),
    Malformed(RecordError),
    TooLong(usize),
}

/// Input beyond this many bytes per batch starts a new batch, so that a stream of
/// long lines holds no more in memory than one of short ones.
const BATCH_BYTES: usize = 1024 * 1024;

/// How reading one line ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LineRead {
    /// No more input.
    End,
    /// A line (with its newline, if any) was appended; `drained` when the reader's
    /// buffer is empty after it, so that reading on could wait on the producer.
    Line { drained: bool },
    /// The line was longer than the limit: it was read past and nothing appended.
    TooLong { drained: bool },
}

/// Appends the next line of `input` to `out`, unless it is longer than `max` bytes
/// (without its `\n`): such a line is consumed piece by piece and dropped,
/// so it is never held whole.
pub(super) fn read_line_bounded(
    input: &mut impl BufRead,
    out: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineRead> {
    let start = out.len();
    let mut len = 0usize;
    let mut skipping = false;
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        };
        if available.is_empty() {
            return Ok(if skipping {
                LineRead::TooLong { drained: true }
            } else if len == 0 {
                LineRead::End
            } else {
                LineRead::Line { drained: true }
            });
        }
        match available.iter().position(|b| *b == b'\n') {
            Some(at) => {
                let drained = at + 1 == available.len();
                let too_long = skipping || len.saturating_add(at) > max;
                if !too_long {
                    out.extend_from_slice(available.get(..=at).unwrap_or_default());
                }
                input.consume(at + 1);
                return Ok(if too_long {
                    LineRead::TooLong { drained }
                } else {
                    LineRead::Line { drained }
                });
            }
            None => {
                let n = available.len();
                len = len.saturating_add(n);
                if !skipping && len > max {
                    skipping = true;
                    out.truncate(start);
                } else if !skipping {
                    out.extend_from_slice(available);
                }
                input.consume(n);
            }
        }
    }
}

/// Buffers passed around and reused, so that batches do not allocate afresh.
#[derive(Default)]
struct Buffers {
    data: Vec<u8>,
    out: Vec<u8>,
    /// Audit entries that must be durable before `out` is released.
    entries: Entries,
}

/// Complete lines read from the input, numbered from `first_line`.
struct Batch {
    index: u64,
    first_line: u64,
    buffers: Buffers,
    /// Lines skipped for their length; each stands as an empty line in the data.
    too_long: Vec<u64>,
}

/// A gated batch: the output bytes (in `buffers.out`), and the problem lines in order.
struct Gated {
    index: u64,
    buffers: Buffers,
    problems: Vec<(u64, Problem)>,
    stats: LineStats,
}

fn gate_batch(flow: &Flow<'_>, batch: Batch) -> Gated {
    let Batch {
        index,
        first_line,
        mut buffers,
        too_long,
    } = batch;
    buffers.out.clear();
    buffers.entries.clear();
    let mut problems = Vec::new();
    let mut stats = LineStats::default();
    let mut too_long = too_long.into_iter().peekable();
    let lines = buffers.data.split_inclusive(|b| *b == b'\n');
    for (number, line) in (first_line..).zip(lines) {
        if too_long.next_if_eq(&number).is_some() {
            stats.too_long += 1;
            problems.push((number, Problem::TooLong(flow.limits().max_line_bytes)));
            continue;
        }
        if let Some(problem) = gate_line(
            flow,
            line,
            &mut buffers.out,
            &mut stats,
            &mut buffers.entries,
        ) {
            problems.push((number, problem));
        }
    }
    Gated {
        index,
        buffers,
        problems,
        stats,
    }
}

/// Gates one line (with or without its line ending) and appends the released record,
/// with a newline, to `out`.
fn gate_line(
    flow: &Flow<'_>,
    line: &[u8],
    out: &mut Vec<u8>,
    stats: &mut LineStats,
    entries: &mut Entries,
) -> Option<Problem> {
    // The line ending is not part of the record (and would shift error positions).
    let record = line.strip_suffix(b"\n").unwrap_or(line);
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    if record.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match flow.write_json_deferred(record, out, entries) {
        Ok(Written::Released(_)) => {
            out.push(b'\n');
            stats.released += 1;
            None
        }
        Ok(Written::Refused(refusal)) => {
            stats.refused += 1;
            Some(Problem::Refused(refusal))
        }
        Err(e) => {
            stats.malformed += 1;
            Some(Problem::Malformed(e))
        }
    }
}

/// A batch read, with how many lines it has and whether the input had nothing more
/// buffered after it (so that reading on may wait for the producer).
struct Read {
    batch: Batch,
    lines: u64,
    drained: bool,
}

/// Reads up to `max_lines` lines (fewer once `BATCH_BYTES` are in) into `buffers`;
/// `None` at the end of input. A line longer than `max_line_bytes` is skipped and
/// noted; it stands as an empty line so that line numbers stay right.
fn read_batch(
    input: &mut impl BufRead,
    index: u64,
    first_line: u64,
    mut buffers: Buffers,
    max_lines: usize,
    max_line_bytes: usize,
) -> io::Result<Option<Read>> {
    buffers.data.clear();
    let mut too_long = Vec::new();
    let mut lines = 0u64;
    let mut drained = false;
    while lines < max_lines as u64 && buffers.data.len() < BATCH_BYTES {
        drained = match read_line_bounded(input, &mut buffers.data, max_line_bytes)? {
            LineRead::End => {
                drained = true;
                break;
            }
            LineRead::Line { drained } => drained,
            LineRead::TooLong { drained } => {
                too_long.push(first_line + lines);
                buffers.data.push(b'\n');
                drained
            }
        };
        lines += 1;
        // Take the lines already read in, and wait for more only when nothing is
        // there yet: a slow producer's records go out promptly.
        if drained {
            break;
        }
    }
    Ok((lines > 0).then_some(Read {
        batch: Batch {
            index,
            first_line,
            buffers,
            too_long,
        },
        lines,
        drained,
    }))
}

fn report(line: u64, problem: &Problem, on_problem: &mut impl FnMut(LineProblem<'_>)) {
    match problem {
        Problem::Refused(r) => on_problem(LineProblem::Refused(line, r)),
        Problem::Malformed(e) => on_problem(LineProblem::Malformed(line, e)),
        Problem::TooLong(limit) => on_problem(LineProblem::TooLong(line, *limit)),
    }
}

/// A gated batch whose audit entries are written, but perhaps not yet durable.
struct Staged {
    gated: Gated,
    mark: Option<u64>,
}

/// Writes a gated batch's audit entries and hands the marks to the syncer, which
/// makes them durable while the next batch is gated.
fn stage(
    flow: &Flow<'_>,
    mut gated: Gated,
    syncer: &mpsc::Sender<u64>,
) -> Result<Staged, StreamError> {
    let Buffers { entries, out, .. } = &mut gated.buffers;
    let mark = flow.write_batch(entries, out)?;
    if let Some(mark) = mark {
        // A syncer gone (its log failed) is noticed when the batch is released.
        let _ = syncer.send(mark);
    }
    Ok(Staged { gated, mark })
}

/// Makes written entries durable in the background: each mark received is synced
/// (together with everything written before it), so that the stream can gate the
/// next batch meanwhile. Ends when the sender hangs up or the log fails.
fn sync_in_background(flow: &Flow<'_>, marks: &Receiver<u64>) {
    while let Ok(mut mark) = marks.recv() {
        // One sync covers every mark already queued.
        while let Ok(later) = marks.try_recv() {
            mark = later;
        }
        if flow.wait_durable(Some(mark)).is_err() {
            return;
        }
    }
}

/// Writes a gated batch once its audit entries are durable, and reports its
/// problems; gives the buffers back, or `None` when the output is closed.
fn release(
    flow: &Flow<'_>,
    staged: Staged,
    output: &mut impl Write,
    stats: &mut LineStats,
    on_problem: &mut impl FnMut(LineProblem<'_>),
) -> Result<Option<Buffers>, StreamError> {
    let Staged { gated, mark } = staged;
    // Fail closed: no output before its entries are durable.
    flow.wait_durable(mark)?;
    // Flushed per batch: a record goes out as soon as its batch is durable.
    match output
        .write_all(&gated.buffers.out)
        .and_then(|()| output.flush())
    {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    for (line, problem) in &gated.problems {
        report(*line, problem, on_problem);
    }
    stats.add(gated.stats);
    Ok(Some(gated.buffers))
}

/// Gates each line of `input` through `flow` and writes each released record as one
/// line to `output`, in input order. Blank lines are skipped. Problem lines release
/// nothing and are passed to `on_problem`, in input order; the stream goes on.
///
/// # Errors
///
/// Reading or writing failed, or the audit log could not be written (then the
/// records of the batch in hand are not released). A closed output (`BrokenPipe`)
/// ends the stream early without an error.
///
/// # Examples
///
/// ```
/// use privacy_gate::{gate_json_lines, Gate, KeyRing, LineProblem, Registry, Transfer};
///
/// let gate = Gate::new(Registry::load_dir("policies".as_ref())?, KeyRing::empty());
/// let transfer = Transfer {
///     from: "drenthe/gemeente",
///     to: "drenthe/ggd",
///     purpose: "care-coordination",
///     at: "2026-03-02T10:00:00Z".parse()?,
/// };
/// // A transfer no agreement allows is refused here, before any record.
/// let flow = gate.flow(&transfer).map_err(|refusal| refusal.to_string())?;
/// let input = concat!(
///     r#"{"subject": {"birth_date": "1990-07-15"}, "notes": "free text"}"#, "\n",
///     "not json\n",
/// );
/// let mut output = Vec::new();
/// let mut problems = Vec::new();
/// let stats = gate_json_lines(&flow, input.as_bytes(), &mut output, |problem| {
///     problems.push(problem.line());
/// })?;
/// assert_eq!((stats.released, stats.malformed), (1, 1));
/// assert_eq!(problems, [2]);
/// let released: serde_json::Value = serde_json::from_slice(&output)?;
/// assert_eq!(released["notes"], privacy_gate::PLACEHOLDER);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gate_json_lines(
    flow: &Flow<'_>,
    mut input: impl BufRead,
    output: &mut impl Write,
    mut on_problem: impl FnMut(LineProblem<'_>),
) -> Result<LineStats, StreamError> {
    let mut stats = LineStats::default();
    let max_line = flow.limits().max_line_bytes;
    if flow.is_audited() {
        return std::thread::scope(|scope| {
            let (syncer, marks) = mpsc::channel();
            scope.spawn(move || sync_in_background(flow, &marks));
            gate_audited_batches(flow, input, output, &syncer, &mut on_problem)
        });
    }
    let (mut line, mut out, mut no_entries) = (Vec::new(), Vec::new(), Entries::default());
    for number in 1.. {
        line.clear();
        out.clear();
        let problem = match read_line_bounded(&mut input, &mut line, max_line)? {
            LineRead::End => break,
            LineRead::Line { .. } => gate_line(flow, &line, &mut out, &mut stats, &mut no_entries),
            LineRead::TooLong { .. } => {
                stats.too_long += 1;
                Some(Problem::TooLong(max_line))
            }
        };
        match output.write_all(&out) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e.into()),
        }
        if let Some(problem) = &problem {
            report(number, problem, &mut on_problem);
        }
    }
    Ok(stats)
}

/// The audited single-thread stream: entries are written a batch at a time, and a
/// batch's sync runs while the next batch is gated, as long as more input is ready.
fn gate_audited_batches(
    flow: &Flow<'_>,
    mut input: impl BufRead,
    output: &mut impl Write,
    syncer: &mpsc::Sender<u64>,
    on_problem: &mut impl FnMut(LineProblem<'_>),
) -> Result<LineStats, StreamError> {
    let mut stats = LineStats::default();
    let (mut index, mut next_line) = (0, 1);
    let mut spare = vec![Buffers::default(), Buffers::default()];
    let mut in_flight: Option<Staged> = None;
    loop {
        let buffers = spare.pop().unwrap_or_default();
        let max_line = flow.limits().max_line_bytes;
        let next = read_batch(
            &mut input,
            index,
            next_line,
            buffers,
            AUDITED_BATCH_LINES,
            max_line,
        )
        .map_err(StreamError::from)
        .and_then(|read| {
            read.map(
                |Read {
                     batch,
                     lines,
                     drained,
                 }| {
                    index += 1;
                    next_line += lines;
                    stage(flow, gate_batch(flow, batch), syncer).map(|staged| (staged, drained))
                },
            )
            .transpose()
        });
        let (staged, drained) = match next {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(e) => {
                // The batch in flight was logged in full: it goes out before the
                // stream stops, so that the log names no record that was held back.
                if let Some(earlier) = in_flight.take() {
                    release(flow, earlier, output, &mut stats, on_problem)?;
                }
                return Err(e);
            }
        };
        let earlier = in_flight.replace(staged);
        // When reading on may wait for the producer, this batch goes out now too.
        let now = if drained { in_flight.take() } else { None };
        for batch in earlier.into_iter().chain(now) {
            match release(flow, batch, output, &mut stats, on_problem)? {
                Some(back) => spare.push(back),
                None => return Ok(stats),
            }
        }
    }
    if let Some(last) = in_flight {
        release(flow, last, output, &mut stats, on_problem)?;
    }
    Ok(stats)
}

/// As [`gate_json_lines`], with `threads` threads gating batches of lines in
/// parallel; the output and the problem reports keep the input order. At most a few
/// batches per thread are in memory at once.
///
/// # Errors
///
/// As [`gate_json_lines`].
pub fn gate_json_lines_parallel(
    flow: &Flow<'_>,
    input: impl BufRead + Send,
    output: &mut impl Write,
    threads: usize,
    mut on_problem: impl FnMut(LineProblem<'_>),
) -> Result<LineStats, StreamError> {
    if threads <= 1 {
        return gate_json_lines(flow, input, output, on_problem);
    }
    let in_flight = threads * 4;
    // A token per batch in flight bounds memory: the reader takes one per batch, the
    // writer gives it back once the batch is written.
    let (token_tx, token_rx) = mpsc::sync_channel::<Buffers>(in_flight);
    for _ in 0..in_flight {
        let _ = token_tx.send(Buffers::default());
    }
    let (job_tx, job_rx) = mpsc::sync_channel::<Batch>(in_flight);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<Result<Gated, io::Error>>();
    std::thread::scope(|scope| {
        let reader_done = done_tx.clone();
        let batch_lines = if flow.is_audited() {
            AUDITED_BATCH_LINES
        } else {
            BATCH_LINES
        };
        let max_line = flow.limits().max_line_bytes;
        scope.spawn(move || {
            read_all(
                input,
                &token_rx,
                &job_tx,
                &reader_done,
                (batch_lines, max_line),
            )
        });
        for _ in 0..threads {
            let done = done_tx.clone();
            let jobs = &job_rx;
            scope.spawn(move || work(flow, jobs, &done));
        }
        drop(done_tx);
        let (syncer, marks) = mpsc::channel();
        if flow.is_audited() {
            scope.spawn(move || sync_in_background(flow, &marks));
        }
        write_in_order(flow, done_rx, token_tx, output, &syncer, &mut on_problem)
    })
}

fn read_all(
    mut input: impl BufRead,
    tokens: &Receiver<Buffers>,
    jobs: &SyncSender<Batch>,
    done: &mpsc::Sender<Result<Gated, io::Error>>,
    (batch_lines, max_line_bytes): (usize, usize),
) {
    let (mut index, mut next_line) = (0, 1);
    loop {
        let Ok(buffers) = tokens.recv() else {
            return; // the writer stopped
        };
        match read_batch(
            &mut input,
            index,
            next_line,
            buffers,
            batch_lines,
            max_line_bytes,
        ) {
            Ok(Some(Read { batch, lines, .. })) => {
                index += 1;
                next_line += lines;
                if jobs.send(batch).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = done.send(Err(e));
                return;
            }
        }
    }
}

fn work(
    flow: &Flow<'_>,
    jobs: &Mutex<Receiver<Batch>>,
    done: &mpsc::Sender<Result<Gated, io::Error>>,
) {
    loop {
        // A poisoned lock means another worker panicked: stop taking work.
        let batch = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(batch) = batch else { return };
        if done.send(Ok(gate_batch(flow, batch))).is_err() {
            return;
        }
    }
}

/// Takes gated batches as they come, writes their audit entries in input order and
/// releases each batch once its entries are durable. It waits for a sync only when no
/// gated batch is ready, so syncing overlaps gating.
fn write_in_order(
    flow: &Flow<'_>,
    done: Receiver<Result<Gated, io::Error>>,
    tokens: SyncSender<Buffers>,
    output: &mut impl Write,
    syncer: &mpsc::Sender<u64>,
    on_problem: &mut impl FnMut(LineProblem<'_>),
) -> Result<LineStats, StreamError> {
    let mut stats = LineStats::default();
    let mut pending = BTreeMap::new();
    let mut staged: VecDeque<Staged> = VecDeque::new();
    let mut next = 0u64;
    loop {
        while staged.front().is_some_and(|s| flow.is_durable(s.mark)) {
            if !release_front(flow, &mut staged, &tokens, output, &mut stats, on_problem)? {
                return Ok(stats);
            }
        }
        let message = match done.try_recv() {
            Ok(message) => message,
            Err(TryRecvError::Empty) if !staged.is_empty() => {
                // Nothing to gate meanwhile: wait for the oldest batch's sync.
                if !release_front(flow, &mut staged, &tokens, output, &mut stats, on_problem)? {
                    return Ok(stats);
                }
                continue;
            }
            // Ends when the reader and every worker have hung up.
            Err(TryRecvError::Empty) => match done.recv() {
                Ok(message) => message,
                Err(_) => break,
            },
            Err(TryRecvError::Disconnected) => break,
        };
        let gated = match message {
            Ok(gated) => gated,
            Err(e) => {
                // Batches already logged go out before the stream stops.
                release_all(flow, staged, &tokens, output, &mut stats, on_problem)?;
                return Err(e.into());
            }
        };
        pending.insert(gated.index, gated);
        while let Some(gated) = pending.remove(&next) {
            next += 1;
            match stage(flow, gated, syncer) {
                Ok(batch) => staged.push_back(batch),
                Err(e) => {
                    // The batches before were logged in full: they may still go out.
                    release_all(flow, staged, &tokens, output, &mut stats, on_problem)?;
                    return Err(e);
                }
            }
        }
    }
    release_all(flow, staged, &tokens, output, &mut stats, on_problem)?;
    Ok(stats)
}

/// Releases the oldest staged batch, once durable, and gives its buffers back;
/// `false` when there was none or the output is closed.
fn release_front(
    flow: &Flow<'_>,
    staged: &mut VecDeque<Staged>,
    tokens: &SyncSender<Buffers>,
    output: &mut impl Write,
    stats: &mut LineStats,
    on_problem: &mut impl FnMut(LineProblem<'_>),
) -> Result<bool, StreamError> {
    let Some(batch) = staged.pop_front() else {
        return Ok(false);
    };
    let Some(buffers) = release(flow, batch, output, stats, on_problem)? else {
        return Ok(false);
    };
    let _ = tokens.send(buffers);
    Ok(true)
}

/// Releases staged batches in order; stops early when the output is closed.
fn release_all(
    flow: &Flow<'_>,
    mut staged: VecDeque<Staged>,
    tokens: &SyncSender<Buffers>,
    output: &mut impl Write,
    stats: &mut LineStats,
    on_problem: &mut impl FnMut(LineProblem<'_>),
) -> Result<(), StreamError> {
    while release_front(flow, &mut staged, tokens, output, stats, on_problem)? {}
    Ok(())
}
