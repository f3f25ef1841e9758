//! Diagnostics for policy files: every problem at once, each with its place.

use serde::de::DeserializeOwned;
use std::fmt;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The policy set cannot be used.
    Error,
    /// Worth a look; the policy set still works.
    Warning,
}

/// One problem in a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as given to the loader.
    pub file: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// 1-based column, where known.
    pub column: Option<usize>,
    /// JSON pointer to the offending value, where it applies.
    pub pointer: Option<String>,
    /// The agreement the file holds, where known.
    pub agreement: Option<String>,
    /// What is wrong (lowercase, names in backticks, with a hint where one helps).
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn error(file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line: None,
            column: None,
            pointer: None,
            agreement: None,
            message: visible(message.into()),
        }
    }

    pub(crate) fn warning(file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, message)
        }
    }

    /// Places the diagnostic at `pointer` in `source`, with line and column when found.
    pub(crate) fn at_pointer(mut self, source: &str, pointer: &str) -> Diagnostic {
        if let Some((line, column)) = crate::support::json::locate(source, pointer) {
            self.line = Some(line);
            self.column = Some(column);
        }
        self.pointer = Some(visible(pointer.to_owned()));
        self
    }

    /// Sets the pointer; the loader fills in line and column from the file later.
    pub(crate) fn with_pointer(mut self, pointer: &str) -> Diagnostic {
        self.pointer = Some(visible(pointer.to_owned()));
        self
    }

    pub(crate) fn at_line(mut self, line: usize, column: usize) -> Diagnostic {
        if line > 0 {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    pub(crate) fn in_agreement(mut self, agreement: Option<&str>) -> Diagnostic {
        self.agreement = agreement.map(str::to_owned);
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}", self.file)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        match (&self.agreement, &self.pointer) {
            (Some(a), Some(p)) => write!(f, ": {a} at `{p}`")?,
            (Some(a), None) => write!(f, ": {a}")?,
            (None, Some(p)) => write!(f, ": at `{p}`")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// All diagnostics of a load, errors and warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Every diagnostic, errors first, then by file and line.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// The number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// Whether there is no diagnostic at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Fills in line and column from the file text for diagnostics that only have a pointer.
    pub(crate) fn locate_pointers(&mut self, source_of: impl Fn(&str) -> Option<String>) {
        for d in &mut self.items {
            if d.line.is_none() {
                if let (Some(pointer), Some(text)) = (&d.pointer, source_of(&d.file)) {
                    if let Some((line, column)) = crate::support::json::locate(&text, pointer) {
                        d.line = Some(line);
                        d.column = Some(column);
                    }
                }
            }
        }
    }

    pub(crate) fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (a.severity, &a.file, a.line, a.column, &a.message)
                .cmp(&(b.severity, &b.file, b.line, b.column, &b.message))
        });
        self.items.dedup();
    }
}

impl std::error::Error for Diagnostics {}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            writeln!(f, "{d}")?;
        }
        write!(
            f,
            "{} error(s), {} warning(s)",
            self.error_count(),
            self.warning_count()
        )
    }
}

/// Reads a policy file strictly (no duplicate keys) into `T` (which denies unknown
/// fields), reporting a failure with line and column.
pub(crate) fn parse_file<T: DeserializeOwned>(
    file: &str,
    text: &str,
    agreement: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<T> {
    if let Err(e) =
        crate::support::json::parse_strict(text.as_bytes(), crate::support::json::POLICY_MAX_DEPTH)
    {
        diags.push(
            Diagnostic::error(file, e.kind.to_string())
                .at_line(e.line, e.column)
                .in_agreement(agreement),
        );
        return None;
    }
    match serde_json::from_str::<T>(text) {
        Ok(value) => Some(value),
        Err(e) => {
            let text = e.to_string();
            let message = text
                .rfind(" at line ")
                .and_then(|cut| text.get(..cut))
                .unwrap_or(&text);
            diags.push(
                Diagnostic::error(file, message)
                    .at_line(e.line(), e.column())
                    .in_agreement(agreement),
            );
            None
        }
    }
}

/// Control characters quoted from a policy file (in a key, a path, a name) are shown
/// escaped, so that a message cannot rewrite the terminal or forge a line of output.
fn visible(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An error and its causes, each printed once, joined by `: `: how the crate shows
/// an error it did not make itself inside a report of its own.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
