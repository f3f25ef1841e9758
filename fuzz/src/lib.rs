//! What the fuzz targets share: the shipped policy set, read once from the source
//! tree (by an absolute path fixed at build time, so the binaries do not depend on
//! the working directory), and the moment every transfer happens at.

use privacy_gate::PolicySource;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The moment of every fuzzed transfer (the demo's): all shipped agreements are in force.
pub const AT: &str = "2026-03-02T10:00:00Z";

/// The moment of every fuzzed transfer, parsed.
pub fn at() -> chrono::DateTime<chrono::Utc> {
    AT.parse().unwrap_or_default()
}

/// The repository's `policies/` folder.
pub fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

/// The shipped schema and agreements, as `Registry::load_dir` reads them: every
/// `<province>/<name>.json` in name order (not `tests/`, not `*.schema.json`). Files are
/// named `policies/<province>/<name>.json`, whatever the machine's paths are.
pub fn sources() -> &'static (PolicySource, Vec<PolicySource>) {
    static SOURCES: OnceLock<(PolicySource, Vec<PolicySource>)> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let dir = policies_dir();
        let read = |path: &Path, name: String| PolicySource {
            file: name,
            text: std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
        };
        let schema = read(&dir.join("schema.json"), "policies/schema.json".into());
        let mut agreements = Vec::new();
        for province in sorted(&dir).into_iter().filter(|p| p.is_dir()) {
            let pname = province
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            for file in sorted(&province) {
                let name = file
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if file.is_file() && name.ends_with(".json") && !name.ends_with(".schema.json") {
                    agreements.push(read(&file, format!("policies/{pname}/{name}")));
                }
            }
        }
        assert!(
            !agreements.is_empty(),
            "no agreements under {}",
            dir.display()
        );
        (schema, agreements)
    })
}

fn sorted(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    entries
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks what the loader gives for a policy set in which `fuzzed` (a file name of
/// the set) holds fuzzed text:
/// - an error names at least one error, and every diagnostic has a file and a
///   message; one in the fuzzed file that has a line has a column, and the line is
///   within the file;
/// - on success, every compiled plan's action for each field is the join of the
///   sender's and the recipient's action, at least as strict as each of them; a side
///   without a clause blocks; a pseudonymised field's domain is among the plan's
///   domains; and the lints run.
pub fn check_load(
    result: Result<privacy_gate::Registry, privacy_gate::LoadError>,
    fuzzed: &str,
    text: &str,
) -> Option<privacy_gate::Registry> {
    use privacy_gate::{Action, Severity};
    let registry = match result {
        Err(error) => {
            let diags = &error.diagnostics;
            assert!(
                diags.error_count() > 0,
                "a failed load names no error: {diags}"
            );
            check_diagnostics(diags.iter(), fuzzed, text);
            return None;
        }
        Ok(registry) => registry,
    };
    check_diagnostics(registry.warnings().iter(), fuzzed, text);
    assert!(registry
        .warnings()
        .iter()
        .all(|d| d.severity == Severity::Warning));
    for plan in registry.plans() {
        for (id, field) in plan.fields().iter().enumerate() {
            let path = registry
                .schema()
                .field_by_id(id)
                .map(|f| f.path().to_owned());
            let joined = field.sender_action().join(field.recipient_action());
            assert_eq!(
                field.action(),
                &joined,
                "{path:?}: the action is not the join of both sides"
            );
            assert!(field
                .action()
                .is_at_least_as_strict_as(field.sender_action()));
            assert!(field
                .action()
                .is_at_least_as_strict_as(field.recipient_action()));
            if field.sender().is_none() {
                assert_eq!(
                    field.sender_action(),
                    &Action::Block,
                    "{path:?}: no sender clause, yet not blocked"
                );
            }
            if field.recipient().is_none() {
                assert_eq!(
                    field.recipient_action(),
                    &Action::Block,
                    "{path:?}: no recipient clause, yet not blocked"
                );
            }
            if let Action::Pseudonymise(domain) = field.action() {
                assert!(
                    plan.domains().contains(domain),
                    "{path:?}: domain {domain} not among the plan's"
                );
            }
        }
    }
    let today = at().date_naive();
    let lints = registry.lints(today);
    check_diagnostics(lints.iter(), fuzzed, text);
    Some(registry)
}

fn check_diagnostics<'a>(
    diags: impl Iterator<Item = &'a privacy_gate::Diagnostic>,
    fuzzed: &str,
    text: &str,
) {
    let lines = text.split('\n').count();
    for d in diags {
        assert!(
            !d.message.trim().is_empty(),
            "a diagnostic without a message: {d:?}"
        );
        assert!(!d.file.is_empty(), "a diagnostic without a file: {d:?}");
        assert_eq!(
            d.line.is_some(),
            d.column.is_some(),
            "line without column or the reverse: {d:?}"
        );
        if d.file == fuzzed {
            if let Some(line) = d.line {
                assert!(
                    line >= 1 && line <= lines,
                    "line {line} outside the file ({lines} lines): {d:?}"
                );
            }
        }
    }
}
