//! Aggregate releases: along a flow that releases aggregates only, records are
//! counted per cell and never cross. A cell is the tuple of a record's values at the
//! flow's dimensions, each exactly as the row path would have released it
//! (generalised, out-of-bounds values removed). Cells counting fewer records than
//! the flow's threshold are suppressed: left out, and only their number given. No
//! total and no margin is given, so no suppressed count can be had by subtracting
//! shown counts from it (see docs/aggregates.md).

use super::stream::{read_line_bounded, LineRead};
use super::{Flow, Gate, LineProblem};
use crate::decision::{Outcome, RecordError, Refusal, Released, Transfer};
use crate::plan::FlowPlan;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead};
use std::sync::Arc;

/// Why records could not be counted along a transfer at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AggregateError {
    /// The transfer is not allowed (an agreement not in force, no rule, ...).
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The flow releases records, not aggregates: it has no agreed threshold and
    /// dimensions to count by. Gate its records with [`Gate::flow`] instead.
    #[error("the flow from `{from}` to `{to}` for `{purpose}` releases records, not aggregates: no agreement on either side states aggregate terms for it")]
    NotAggregate {
        /// The sender.
        from: String,
        /// The recipient.
        to: String,
        /// The purpose.
        purpose: String,
    },
    /// Reading the input failed.
    #[error("cannot read the records")]
    Io(#[from] io::Error),
}

/// A record that was not counted. Holds none of its content.
#[derive(Debug)]
#[non_exhaustive]
pub enum Skip {
    /// A rule's condition does not hold for the record, so it does not count.
    Refused(Refusal),
    /// The record is not a record.
    Malformed(RecordError),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Refused(refusal) => write!(f, "not counted: {refusal}"),
            Skip::Malformed(error) => write!(f, "not counted: {error}"),
        }
    }
}

/// How many records were left out of the count, by reason. For the sender's
/// operator only: not part of the release, since together with the number of
/// records sent it would give the total the release withholds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// Records a rule's condition refused.
    pub refused: u64,
    /// Lines or values that were not a record (malformed JSON, duplicate keys, too
    /// deep, not an object).
    pub malformed: u64,
    /// Lines longer than the limit, skipped unread.
    pub too_long: u64,
}

/// A cell value: what a record released at one dimension. Dimensions are booleans,
/// strings of an enumeration and generalised dates and postcodes (checked when the
/// flow is compiled), so a value is one of these.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dim {
    /// The record had no value there, or its value did not cross (wrong type, out
    /// of bounds).
    Absent,
    Bool(bool),
    Text(String),
}

impl Dim {
    fn of(value: Option<&Value>) -> Dim {
        match value {
            Some(Value::Bool(b)) => Dim::Bool(*b),
            Some(Value::String(s)) => Dim::Text(s.clone()),
            _ => Dim::Absent,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Dim::Absent => Value::Null,
            Dim::Bool(b) => Value::Bool(b),
            Dim::Text(s) => Value::String(s),
        }
    }
}

/// Records being counted along one aggregate transfer. Made by
/// [`Gate::aggregation`]; add records, then [`finish`](Aggregation::finish).
pub struct Aggregation<'g> {
    flow: Flow<'g>,
    min_count: u32,
    /// Per dimension: its path's segments, to read it from a gated record.
    dimensions: Vec<Vec<Box<str>>>,
    cells: BTreeMap<Vec<Dim>, u64>,
    skipped: Skipped,
}

impl fmt::Debug for Aggregation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cells below the threshold are not for anyone's eyes, a debug print included.
        f.debug_struct("Aggregation")
            .field("flow", &self.flow)
            .field("min_count", &self.min_count)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// Resolves a transfer along a flow that releases aggregates only, to count
    /// records in. Nothing is logged: no record crosses, and what does is a count
    /// per cell of at least the flow's threshold.
    ///
    /// # Errors
    ///
    /// [`AggregateError::Refused`] when the transfer is not allowed at all,
    /// [`AggregateError::NotAggregate`] when its flow releases records.
    pub fn aggregation(&self, transfer: &Transfer<'_>) -> Result<Aggregation<'_>, AggregateError> {
        let flow = self.resolve(transfer).map_err(AggregateError::Refused)?;
        let Some(terms) = flow.plan.aggregate() else {
            return Err(AggregateError::NotAggregate {
                from: transfer.from.to_owned(),
                to: transfer.to.to_owned(),
                purpose: transfer.purpose.to_owned(),
            });
        };
        let schema = &flow.plan.schema;
        let dimensions = terms
            .dimensions()
            .iter()
            .filter_map(|id| schema.field_by_id(*id))
            .map(|field| field.path.split('.').map(Box::from).collect())
            .collect();
        Ok(Aggregation {
            min_count: terms.min_count(),
            flow,
            dimensions,
            cells: BTreeMap::new(),
            skipped: Skipped::default(),
        })
    }

    /// Counts `records` along an aggregate transfer: the suppressed counts per cell.
    ///
    /// # Errors
    ///
    /// As [`Gate::aggregation`]. Records that are refused by a condition or are not
    /// objects are skipped and counted in [`AggregateReport::skipped`].
    ///
    /// # Example
    ///
    /// ```
    /// use privacy_gate::{Gate, KeyRing, Registry, Transfer};
    /// let gate = Gate::new(Registry::load_dir("policies".as_ref())?, KeyRing::empty());
    /// let transfer = Transfer {
    ///     from: "drenthe/zvh",
    ///     to: "drenthe/ggd",
    ///     purpose: "statistics",
    ///     at: "2026-03-02T10:00:00Z".parse()?,
    /// };
    /// let record = serde_json::json!({"case": {"opened_on": "2025-04-03", "exploitation_type": "labour"}});
    /// let report = gate.aggregate(&transfer, vec![record; 12])?;
    /// assert_eq!(report.cells()[0].count(), 12);
    /// // One record alone would be a cell below the threshold: suppressed.
    /// let one = serde_json::json!({"case": {"opened_on": "2025-04-03", "exploitation_type": "organ-removal"}});
    /// let report = gate.aggregate(&transfer, [one])?;
    /// assert!(report.cells().is_empty());
    /// assert_eq!(report.suppressed_cells(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn aggregate(
        &self,
        transfer: &Transfer<'_>,
        records: impl IntoIterator<Item = Value>,
    ) -> Result<AggregateReport, AggregateError> {
        let mut aggregation = self.aggregation(transfer)?;
        for record in records {
            // A skipped record is counted in the report's `skipped`.
            let _ = aggregation.add(record);
        }
        Ok(aggregation.finish())
    }
}

impl Aggregation<'_> {
    /// The fewest records a released cell counts.
    pub fn min_count(&self) -> u32 {
        self.min_count
    }

    /// The compiled plan of the flow.
    pub fn plan(&self) -> &Arc<FlowPlan> {
        self.flow.plan
    }

    /// Counts one record in its cell.
    ///
    /// # Errors
    ///
    /// Why the record was not counted (also counted in [`Skipped`]).
    pub fn add(&mut self, record: Value) -> Result<(), Skip> {
        let Value::Object(map) = record else {
            self.skipped.malformed += 1;
            return Err(Skip::Malformed(RecordError::NotAnObject));
        };
        self.add_map(map)
    }

    /// Parses `bytes` strictly, within the gate's limits, and counts the record.
    ///
    /// # Errors
    ///
    /// As [`Aggregation::add`], and for bytes that are not one JSON record.
    pub fn add_json(&mut self, bytes: &[u8]) -> Result<(), Skip> {
        match self.flow.parse(bytes) {
            Ok(record) => self.add(record),
            Err(e) => {
                self.skipped.malformed += 1;
                Err(Skip::Malformed(RecordError::Json(e)))
            }
        }
    }

    fn add_map(&mut self, map: Map<String, Value>) -> Result<(), Skip> {
        match self.cell(map) {
            Ok((cell, _)) => {
                *self.cells.entry(cell).or_insert(0) += 1;
                Ok(())
            }
            Err(refusal) => {
                self.skipped.refused += 1;
                Err(Skip::Refused(refusal))
            }
        }
    }

    /// The cell a record counts in, with the record as the row path's walk left it.
    fn cell(&self, map: Map<String, Value>) -> Result<(Vec<Dim>, Released), Refusal> {
        // The row path's own walk: each value exactly as it would have crossed.
        let released = match self.flow.apply_map(map) {
            Outcome::Released(released) => released,
            Outcome::Refused(refusal) => return Err(refusal),
        };
        let cell = self
            .dimensions
            .iter()
            .map(|segments| {
                let value = segments
                    .iter()
                    .try_fold(&released.record, |at, segment| at.get(&**segment));
                Dim::of(value)
            })
            .collect();
        Ok((cell, released))
    }

    /// The cell one record would count in, one value per dimension, and the decision
    /// of the walk. For policy test cases only, which check a rule's dimensions on
    /// one record: a single record's cell is the row this flow must not release, so
    /// this is never public.
    pub(crate) fn cell_of(&self, record: Value) -> Result<(Vec<Value>, Released), Skip> {
        let Value::Object(map) = record else {
            return Err(Skip::Malformed(RecordError::NotAnObject));
        };
        let (cell, released) = self.cell(map).map_err(Skip::Refused)?;
        Ok((cell.into_iter().map(Dim::into_value).collect(), released))
    }

    /// The field paths of the dimensions, in schema order.
    pub(crate) fn dimension_paths(&self) -> Vec<Arc<str>> {
        let schema = &self.flow.plan.schema;
        self.flow
            .plan
            .aggregate()
            .map(|t| t.dimensions())
            .unwrap_or_default()
            .iter()
            .filter_map(|id| schema.field_by_id(*id).map(|f| f.path.clone()))
            .collect()
    }

    /// Counts every line of `input` (JSON Lines; blank lines are skipped). Lines
    /// that are not counted go to `on_problem` by number, without their content.
    ///
    /// # Errors
    ///
    /// Reading failed.
    pub fn add_json_lines(
        &mut self,
        mut input: impl BufRead,
        mut on_problem: impl FnMut(LineProblem<'_>),
    ) -> io::Result<()> {
        let max_line = self.flow.limits().max_line_bytes;
        let mut line = Vec::new();
        for number in 1u64.. {
            line.clear();
            match read_line_bounded(&mut input, &mut line, max_line)? {
                LineRead::End => break,
                LineRead::TooLong { .. } => {
                    self.skipped.too_long += 1;
                    on_problem(LineProblem::TooLong(number, max_line));
                }
                LineRead::Line { .. } => {
                    let record = line.strip_suffix(b"\n").unwrap_or(&line);
                    let record = record.strip_suffix(b"\r").unwrap_or(record);
                    if record.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match self.add_json(record) {
                        Ok(()) => {}
                        Err(Skip::Refused(r)) => on_problem(LineProblem::Refused(number, &r)),
                        Err(Skip::Malformed(e)) => on_problem(LineProblem::Malformed(number, &e)),
                    }
                }
            }
        }
        Ok(())
    }

    /// The release: every cell of at least the threshold with its count; of the
    /// others, only how many there were.
    pub fn finish(self) -> AggregateReport {
        let plan = self.flow.plan;
        let dimensions = self.dimension_paths();
        let mut cells = Vec::new();
        let mut suppressed_cells = 0u64;
        for (values, count) in self.cells {
            if count >= u64::from(self.min_count) {
                cells.push(Cell {
                    values: values.into_iter().map(Dim::into_value).collect(),
                    count,
                });
            } else {
                suppressed_cells += 1;
            }
        }
        AggregateReport {
            from: plan.sender.id.clone(),
            to: plan.recipient.id.clone(),
            purpose: plan.purpose.clone(),
            at: self.flow.at,
            retain_until: self.flow.retain_until,
            min_count: self.min_count,
            dimensions,
            cells,
            suppressed_cells,
            skipped: self.skipped,
        }
    }
}

/// One released cell: the values at the report's dimensions (in their order; `null`
/// where records had no value that crossed) and how many records it counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    values: Vec<Value>,
    count: u64,
}

impl Cell {
    /// The values, one per dimension of the report, in its order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// How many records the cell counts: at least the threshold.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// What an aggregate transfer releases: cells of at least the threshold with their
/// counts, and how many cells were suppressed. No total, no margins, no count of a
/// suppressed cell: any of these would let a reader subtract a suppressed count back.
#[derive(Clone, Debug)]
pub struct AggregateReport {
    from: Arc<str>,
    to: Arc<str>,
    purpose: Arc<str>,
    at: DateTime<Utc>,
    retain_until: Option<NaiveDate>,
    min_count: u32,
    dimensions: Vec<Arc<str>>,
    cells: Vec<Cell>,
    suppressed_cells: u64,
    skipped: Skipped,
}

impl AggregateReport {
    /// The fewest records a released cell counts.
    pub fn min_count(&self) -> u32 {
        self.min_count
    }

    /// The field paths that make up a cell, in schema order.
    pub fn dimensions(&self) -> &[Arc<str>] {
        &self.dimensions
    }

    /// The released cells, sorted by their values (so the report does not depend
    /// on the order of the records).
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// How many cells counted fewer records than the threshold, and were left out.
    pub fn suppressed_cells(&self) -> u64 {
        self.suppressed_cells
    }

    /// The last day the recipient may keep the release, if the sender's rule sets one.
    pub fn retain_until(&self) -> Option<NaiveDate> {
        self.retain_until
    }

    /// Records left out of the count, by reason. For the sender's operator: not in
    /// [`to_json`](AggregateReport::to_json), the release.
    pub fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// The release as JSON: the transfer's terms, the threshold, the dimensions, the
    /// released cells (each `{"values": {path: value, ...}, "count": n}`) and the
    /// number of suppressed cells.
    pub fn to_json(&self) -> Value {
        #[derive(Serialize)]
        struct View<'a> {
            from: &'a str,
            to: &'a str,
            purpose: &'a str,
            at: String,
            retain_until: Option<NaiveDate>,
            min_count: u32,
            dimensions: &'a [Arc<str>],
            cells: Vec<CellView>,
            suppressed_cells: u64,
        }
        #[derive(Serialize)]
        struct CellView {
            values: Map<String, Value>,
            count: u64,
        }
        let cells = self
            .cells
            .iter()
            .map(|cell| CellView {
                values: self
                    .dimensions
                    .iter()
                    .map(|d| d.to_string())
                    .zip(cell.values.iter().cloned())
                    .collect(),
                count: cell.count,
            })
            .collect();
        let view = View {
            from: &self.from,
            to: &self.to,
            purpose: &self.purpose,
            at: self.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            retain_until: self.retain_until,
            min_count: self.min_count,
            dimensions: &self.dimensions,
            cells,
            suppressed_cells: self.suppressed_cells,
        };
        serde_json::to_value(view).unwrap_or(Value::Null)
    }
}
