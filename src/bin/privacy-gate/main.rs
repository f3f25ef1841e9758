//! `privacy-gate`: check agreements, gate records, explain decisions.
//!
//! Exit codes: 0 success, 1 problems found or the tool failed, 2 usage error,
//! 3 the transfer (or a record) was refused.
//!
//! Output goes through `stdout()` and `stderr!`, never `print!` and friends, which
//! panic when the stream is closed (`privacy-gate ... | head -1`).

#![deny(clippy::print_stdout, clippy::print_stderr)]

/// `eprintln!` that never panics: a message standard error cannot take is dropped
/// (there is nowhere left to report it).
macro_rules! stderr {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod aggregate;
mod audit;
mod check;
mod compare;
mod demo;
mod explain;
mod joint;
mod render;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use privacy_gate::audit::{Archive, AuditLog, SystemClock};
use privacy_gate::{
    gate_json_lines_parallel, DomainId, Gate, KeyRing, LineProblem, RecordError, Registry, Transfer,
};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code: the transfer, or a record, was refused.
const EXIT_REFUSED: u8 = 3;

/// Exit code: a usage error (what clap uses too).
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "privacy-gate",
    version,
    about = "Enforce data-sharing agreements field by field"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load and validate every agreement; print every problem at once.
    Check(check::CheckArgs),
    /// Gate records (JSON Lines) from INPUT or stdin; write released records to stdout.
    Gate {
        #[command(flatten)]
        flow: FlowArgs,
        /// Append an entry per transfer to this audit log (created if missing); the
        /// audit key comes from the key file's `audit` entry.
        #[arg(long)]
        audit: Option<PathBuf>,
        /// Where to keep copies of the agreement versions used (default: `<audit>.agreements/`).
        #[arg(long, requires = "audit")]
        archive: Option<PathBuf>,
        /// Threads gating in parallel (output keeps input order); default: one per core, at most 8.
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        limits: LimitArgs,
        /// JSON Lines input; stdin when absent.
        input: Option<PathBuf>,
    },
    /// Count records (JSON Lines) per cell along a flow that releases aggregates only;
    /// cells below the flow's threshold are suppressed, and no total is given.
    Aggregate(aggregate::AggregateArgs),
    /// Explain, field by field, what the gate does with one record.
    Explain {
        #[command(flatten)]
        flow: FlowArgs,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
        /// A file holding one JSON record; stdin when absent.
        input: Option<PathBuf>,
    },
    /// Gate the example records along characteristic flows of all three provinces.
    Demo {
        /// The policy folder.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// The example records.
        #[arg(long, default_value = "examples/records.jsonl")]
        records: PathBuf,
        /// Key file (repeatable); without one the demo makes throw-away keys.
        #[arg(long)]
        keys: Vec<PathBuf>,
        /// Moment of the transfers (RFC 3339); default now.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// Run every agreement test case under `<policies>/<province>/tests/`.
    Test {
        /// The policy folder.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// Report the rules and rule entries no case exercises.
        #[arg(long)]
        coverage: bool,
        /// Fail when fewer than this percentage of rules are exercised.
        #[arg(long, value_name = "PCT")]
        min_coverage: Option<f64>,
        /// Run only the cases of this province (or area, like `noord-nederland`);
        /// coverage then counts the rules of its agreements only.
        #[arg(long)]
        province: Option<String>,
    },
    /// Compare a flow across provinces: field actions side by side, what differs, and
    /// the common ground all of them allow at once.
    Compare(compare::CompareArgs),
    /// An agreement as a document a signatory reads (Markdown or HTML, Dutch or
    /// English), ending with the SHA-256 a signature covers.
    Render(render::RenderArgs),
    /// Draft a region's joint agreements from the common ground of its provinces'
    /// agreements, with a report per province and the test cases re-run.
    Joint(joint::JointArgs),
    /// Verify, checkpoint, replay or list an audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Write a key file with fresh random secrets: pseudonymisation keys, or one
    /// audit role's key (each role in a file of its own).
    Keygen {
        /// A pseudonymisation domain (repeatable); default: every domain the policies use.
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// The audit log writer's Ed25519 signing key, named NAME (like
        /// `example.org/audit/zvh`); its public key goes to `<out>.pub`.
        #[arg(long, value_name = "NAME", conflicts_with_all = ["domains", "audit_witness", "audit_records", "audit_subject"], requires = "out")]
        audit_writer: Option<String>,
        /// A witness's Ed25519 cosigning key, named NAME; its public key goes to `<out>.pub`.
        #[arg(long, value_name = "NAME", conflicts_with_all = ["domains", "audit_records", "audit_subject"], requires = "out")]
        audit_witness: Option<String>,
        /// The audit log's record-digest key.
        #[arg(long, conflicts_with_all = ["domains", "audit_subject"])]
        audit_records: bool,
        /// The audit log's subject-digest key (whoever holds it can find a person's
        /// transfers; an auditor checking integrity does not need it).
        #[arg(long, conflicts_with = "domains")]
        audit_subject: bool,
        /// The policy folder (to find domains when none is named).
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// Output file (created with mode 0600, never overwritten); stdout when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
struct LimitArgs {
    /// Skip (and report) lines longer than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = privacy_gate::Limits::DEFAULT.max_line_bytes)]
    max_line_bytes: usize,
    /// Refuse records nested deeper than this.
    #[arg(long, value_name = "LEVELS", default_value_t = privacy_gate::Limits::DEFAULT.max_depth)]
    max_depth: usize,
    /// Refuse records with more values (members and elements at every level) than this.
    #[arg(long, value_name = "COUNT", default_value_t = privacy_gate::Limits::DEFAULT.max_values)]
    max_values: usize,
}

#[derive(Args)]
struct FlowArgs {
    /// Sender organisation, like `drenthe/ggd`.
    #[arg(long)]
    from: String,
    /// Recipient organisation, like `noord-nederland/politie`.
    #[arg(long)]
    to: String,
    /// Purpose, like `criminal-investigation`.
    #[arg(long)]
    purpose: String,
    /// Moment of transfer (RFC 3339); default now.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    /// The policy folder.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// Key file (repeatable: each audit role has a file of its own); default: the
    /// paths in PRIVACY_GATE_KEYS (separated by `:`).
    #[arg(long)]
    keys: Vec<PathBuf>,
}

/// Standard output for reports and tables. When the reader goes away (`| head -1`),
/// the rest of the output is dropped quietly and the command runs to its end, so its
/// exit code still says how it went. Any other write error, such as a full disk, is
/// an error naming standard output.
pub(crate) struct Stdout {
    lock: io::StdoutLock<'static>,
    closed: bool,
}

/// The process's standard output, line-buffered as `println!` writes it.
pub(crate) fn stdout() -> Stdout {
    Stdout {
        lock: io::stdout().lock(),
        closed: false,
    }
}

impl Stdout {
    fn outcome<T>(&mut self, result: io::Result<T>, closed: T) -> io::Result<T> {
        match result.map_err(name_output) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(closed)
            }
            other => other,
        }
    }
}

/// Names standard output in a write error, keeping its kind (a reader that went
/// away stays a plain `BrokenPipe`).
fn name_output(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        e
    } else {
        io::Error::new(e.kind(), format!("cannot write to standard output: {e}"))
    }
}

/// A writer whose errors name standard output; for the gate's record stream, which
/// stops by itself when the reader goes away.
struct NamedOutput<W>(W);

impl<W: Write> Write for NamedOutput<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(name_output)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(name_output)
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.lock.write(buf);
        self.outcome(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.lock.flush();
        self.outcome(result, ())
    }
}

/// A failure of the tool itself (exit 1), with a message for stderr.
struct Failure(String);

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(chain(&e))
    }
}

/// An error and its causes, each printed once, joined by `: `.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Gate {
            flow,
            audit,
            archive,
            threads,
            limits,
            input,
        } => gate(
            &flow,
            audit.as_deref(),
            archive.as_deref(),
            threads,
            &limits,
            input.as_deref(),
        ),
        Command::Aggregate(args) => aggregate::run(&args),
        Command::Explain { flow, json, input } => explain::run(&flow, json, input.as_deref()),
        Command::Demo {
            policies,
            records,
            keys,
            at,
        } => demo::run(&policies, &records, &keys, at),
        Command::Audit { command } => audit::run(command),
        Command::Compare(args) => compare::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Joint(args) => joint::run(&args),
        Command::Test {
            policies,
            coverage,
            min_coverage,
            province,
        } => run_cases(&policies, coverage, min_coverage, province.as_deref()),
        Command::Keygen {
            domains,
            audit_writer,
            audit_witness,
            audit_records,
            audit_subject,
            policies,
            out,
        } => {
            use privacy_gate::pseudonym::AuditRole;
            let role = match (audit_writer, audit_witness, audit_records, audit_subject) {
                (Some(name), ..) => Some((AuditRole::Writer, name)),
                (_, Some(name), ..) => Some((AuditRole::Witness, name)),
                (_, _, true, _) => Some((AuditRole::Records, String::new())),
                (_, _, _, true) => Some((AuditRole::Subject, String::new())),
                _ => None,
            };
            keygen(&domains, role, &policies, out.as_deref())
        }
    };
    // Whatever a command left in the buffer goes out now, so that a failing write
    // is reported rather than lost when the process exits.
    let result = result.and_then(|code| {
        stdout().flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(Failure(message)) => {
            stderr!("privacy-gate: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the policy set, printing its diagnostics on failure.
fn load(policies: &Path) -> Result<Registry, Failure> {
    Registry::load_dir(policies).map_err(|e| {
        Failure(format!(
            "cannot load policies from `{}`:\n{e}",
            policies.display()
        ))
    })
}

/// Standard base64, as checkpoints spell hashes.
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Keys from every `--keys` file, else from the files in `PRIVACY_GATE_KEYS`
/// (separated by `:`), else none.
fn load_keys(keys: &[PathBuf]) -> Result<KeyRing, Failure> {
    // An empty variable means "not set", as shells make unsetting awkward.
    let from_env: Vec<PathBuf> = std::env::var_os("PRIVACY_GATE_KEYS")
        .filter(|v| !v.is_empty())
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    let paths = if keys.is_empty() { &from_env } else { keys };
    let mut ring = KeyRing::empty();
    for path in paths {
        ring = ring.merge(KeyRing::from_file(path)?).map_err(Failure)?;
    }
    Ok(ring)
}

/// Builds the gate for a flow's arguments.
fn build_gate(flow: &FlowArgs) -> Result<Gate, Failure> {
    let registry = load(&flow.policies)?;
    let keys = load_keys(&flow.keys)?;
    Ok(Gate::new(registry, keys))
}

fn gate(
    args: &FlowArgs,
    audit: Option<&Path>,
    archive: Option<&Path>,
    threads: Option<usize>,
    limits: &LimitArgs,
    input: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let mut gate = build_gate(args)?.with_limits(privacy_gate::Limits {
        max_line_bytes: limits.max_line_bytes,
        max_depth: limits.max_depth,
        max_values: limits.max_values,
        ..privacy_gate::Limits::default()
    });
    if let Some(path) = audit {
        let keys = load_keys(&args.keys)?;
        let (log, report) = AuditLog::open(path, &keys, Arc::new(SystemClock))?;
        if let Some(aside) = &report.torn_moved_to {
            stderr!(
                "privacy-gate: the audit log ended in a torn line (a crash mid-append); its bytes were moved to {} and a recovery entry records it",
                aside.display()
            );
        }
        let archive = archive.map_or_else(|| Archive::next_to(path), Archive::new);
        gate = gate.with_audit(Arc::new(log), &archive)?;
    }
    let transfer = Transfer {
        from: &args.from,
        to: &args.to,
        purpose: &args.purpose,
        at: args.at.unwrap_or_else(Utc::now),
    };
    let flow = match gate.flow(&transfer) {
        Ok(flow) => flow,
        Err(refusal) => {
            stderr!("privacy-gate: refused: {refusal}");
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    };
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)));
    let reader: Box<dyn BufRead + Send> = match input {
        Some(path) => Box::new(io::BufReader::new(
            std::fs::File::open(path)
                .map_err(|e| Failure(format!("cannot open `{}`: {e}", path.display())))?,
        )),
        None => Box::new(io::BufReader::with_capacity(256 * 1024, io::stdin())),
    };
    let stdout = NamedOutput(io::stdout().lock());
    let mut out = BufWriter::with_capacity(64 * 1024, stdout);
    let stats =
        gate_json_lines_parallel(&flow, reader, &mut out, threads, |problem| match problem {
            LineProblem::Refused(line, refusal) => {
                stderr!("privacy-gate: line {line}: refused: {refusal}")
            }
            LineProblem::Malformed(line, RecordError::Json(e)) if e.line <= 1 => {
                stderr!(
                    "privacy-gate: line {line}, column {}: malformed record: {}",
                    e.column,
                    e.kind
                );
            }
            LineProblem::Malformed(line, error) => {
                stderr!("privacy-gate: line {line}: {}", chain(error))
            }
            LineProblem::TooLong(line, limit) => {
                stderr!("privacy-gate: line {line}: longer than {limit} bytes; skipped")
            }
            other => stderr!("privacy-gate: line {}: nothing released", other.line()),
        })
        .map_err(|e| Failure(format!("gating stopped: {}", chain(&e))))?;
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other?,
    }
    let too_long = if stats.too_long > 0 {
        format!(", {} too long", stats.too_long)
    } else {
        String::new()
    };
    stderr!(
        "privacy-gate: {} released, {} refused, {} malformed{too_long}",
        stats.released,
        stats.refused,
        stats.malformed
    );
    Ok(if stats.malformed > 0 || stats.too_long > 0 {
        ExitCode::FAILURE
    } else if stats.refused > 0 {
        ExitCode::from(EXIT_REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_cases(
    policies: &Path,
    show_coverage: bool,
    min_coverage: Option<f64>,
    province: Option<&str>,
) -> Result<ExitCode, Failure> {
    use privacy_gate::authoring::{load_cases, run_case_covering, Coverage};
    use privacy_gate::danger::test_keys;
    let mut out = stdout();
    let registry = load(policies)?;
    if let Some(province) = province {
        // Provinces, and the areas of regional and national organisations, whose
        // folders may hold cases.
        let mut known = registry.provinces();
        known.extend(registry.agreements().map(|a| a.province()));
        if !known.contains(province) {
            let hint = registry
                .suggest_area(province)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            let listed: Vec<&str> = known.into_iter().collect();
            stderr!(
                "privacy-gate: error: unknown province `{province}`{hint}; known: {}",
                listed.join(", ")
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    let cases = match load_cases(policies, &registry) {
        Ok(cases) => cases,
        Err(diags) => {
            writeln!(out, "{diags}")?;
            return Ok(ExitCode::FAILURE);
        }
    };
    // A case's id starts with the folder it lives in: `province/file/case`.
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| province.is_none_or(|p| c.id.split('/').next() == Some(p)))
        .collect();
    if let (Some(province), true) = (province, cases.is_empty()) {
        writeln!(
            out,
            "no test cases for `{province}` under `{}`: a run that tests nothing proves nothing",
            policies.join(province).join("tests").display()
        )?;
        return Ok(ExitCode::FAILURE);
    }
    let keys = test_keys(&registry);
    let gate = Gate::new(registry, keys);
    let mut failed = 0;
    let mut coverage = Coverage::default();
    for case in &cases {
        match run_case_covering(&gate, case, &mut coverage) {
            Ok(()) => writeln!(out, "ok      {}", case.id)?,
            Err(report) => {
                failed += 1;
                writeln!(out, "FAILED  {report}")?;
            }
        }
    }
    writeln!(
        out,
        "{} case(s): {} passed, {failed} failed",
        cases.len(),
        cases.len() - failed
    )?;
    let report = coverage.report_for(gate.registry(), |a| {
        province.is_none_or(|p| a.province() == p)
    });
    if show_coverage || min_coverage.is_some() {
        writeln!(out, "{report}")?;
    }
    let below = min_coverage.filter(|min| report.rule_percent() < *min);
    if let Some(min) = below {
        writeln!(
            out,
            "rule coverage {:.1}% is below the minimum {min:.1}%",
            report.rule_percent()
        )?;
    }
    Ok(if failed == 0 && below.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn keygen(
    domains: &[String],
    role: Option<(privacy_gate::pseudonym::AuditRole, String)>,
    policies: &Path,
    out: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let create = |path: &Path, text: &[u8], mode: u32| -> Result<(), Failure> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        let mut file = options
            .open(path)
            .map_err(|e| Failure(format!("cannot create `{}`: {e}", path.display())))?;
        file.write_all(text)?;
        file.sync_all()?;
        Ok(())
    };
    if let Some((role, name)) = role {
        let (text, public) = KeyRing::generate_audit_role(role, &name).map_err(Failure)?;
        match out {
            None => stdout().write_all(text.as_bytes())?,
            Some(path) => {
                // The public key first: a secret is never left without its public half.
                if let Some(public) = &public {
                    let mut pub_path = path.as_os_str().to_owned();
                    pub_path.push(".pub");
                    create(
                        Path::new(&pub_path),
                        format!("{public}\n").as_bytes(),
                        0o644,
                    )?;
                    stderr!(
                        "privacy-gate: wrote the public key (all a verifier needs) to {}",
                        Path::new(&pub_path).display()
                    );
                }
                create(path, text.as_bytes(), 0o600)?;
                stderr!("privacy-gate: wrote the {role:?} key to {}", path.display());
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut ids = Vec::new();
    for d in domains {
        ids.push(DomainId::new(d).ok_or_else(|| {
            Failure(format!("invalid domain `{d}`: expected `<group>/<name>` of lowercase letters, digits and `-`"))
        })?);
    }
    if ids.is_empty() {
        let registry = load(policies)?;
        ids = registry
            .plans()
            .flat_map(|p| p.domains().iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();
    }
    let text =
        KeyRing::generate_file(&ids).map_err(|e| Failure(format!("no random source: {e}")))?;
    match out {
        None => stdout().write_all(text.as_bytes())?,
        Some(path) => {
            create(path, text.as_bytes(), 0o600)?;
            stderr!(
                "privacy-gate: wrote keys for {} domain(s) to {}",
                ids.len(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
