//! Gating a JSON Lines stream: one record per line, output in input order.

use crate::gate::{Flow, RecordError, Refusal, Written};
use std::io::{self, BufRead, Write};

/// What happened to a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Records released (one output line each).
    pub released: u64,
    /// Records refused (e.g. a condition such as consent did not hold).
    pub refused: u64,
    /// Lines that were not a record (malformed JSON, duplicate keys, not an object).
    pub malformed: u64,
}

/// A line that released nothing, by its 1-based number. Holds none of its content.
#[derive(Debug)]
pub enum LineProblem<'a> {
    /// The record was refused.
    Refused(u64, &'a Refusal),
    /// The line was not a record.
    Malformed(u64, &'a RecordError),
}

/// Gates each line of `input` through `flow` and writes each released record as one
/// line to `output`. Blank lines are skipped. Problem lines release nothing and are
/// passed to `on_problem`; the stream goes on.
///
/// # Errors
///
/// Reading or writing failed. A closed output (`BrokenPipe`) ends the stream early
/// without an error.
pub fn gate_json_lines(
    flow: &Flow<'_>,
    mut input: impl BufRead,
    output: &mut impl Write,
    mut on_problem: impl FnMut(LineProblem<'_>),
) -> io::Result<LineStats> {
    let mut stats = LineStats::default();
    let mut line = Vec::new();
    let mut buffer = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The line ending is not part of the record (and would shift error positions).
        let record = line.strip_suffix(b"\n").unwrap_or(&line);
        let record = record.strip_suffix(b"\r").unwrap_or(record);
        buffer.clear();
        match flow.write_json(record, &mut buffer) {
            Ok(Written::Released(_)) => {
                buffer.push(b'\n');
                match output.write_all(&buffer) {
                    Ok(()) => stats.released += 1,
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(stats),
                    Err(e) => return Err(e),
                }
            }
            Ok(Written::Refused(refusal)) => {
                stats.refused += 1;
                on_problem(LineProblem::Refused(number, &refusal));
            }
            Err(e) => {
                stats.malformed += 1;
                on_problem(LineProblem::Malformed(number, &e));
            }
        }
    }
    Ok(stats)
}
