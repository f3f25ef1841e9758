//! The provinces' test cases re-run against a joint draft: which expectations change.

use crate::authoring::cases::{load_cases, run_case};
use crate::authoring::joint::types::{JointDraft, JointError};
use crate::gate::Gate;
use crate::plan::registry::Registry;
use serde::Serialize;
use std::path::Path;

/// A case whose expectations no longer hold under the draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseChange {
    /// The case, `province/file/name`.
    pub case: String,
    /// The province folder it belongs to.
    pub province: String,
    /// Each expectation that changes, as the case runner reports it (`subject.bsn:
    /// expected pass, actual block; ...`, `expected refused (not-in-force), but the
    /// record was released`).
    pub changes: Vec<String>,
}

/// The result of re-running every case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaseRerun {
    /// Cases run.
    pub run: usize,
    /// Cases whose expectations all still hold.
    pub unchanged: usize,
    /// Cases with expectations that change, in case order.
    pub changed: Vec<CaseChange>,
    /// Cases that already fail against the policies they were written for (not
    /// counted as changes).
    pub failing_before: Vec<String>,
}

/// Loads the test cases of `policies/<province>/tests/` and runs each against the
/// policies in `policies` and against `draft`, loaded as if signed
/// ([`JointDraft::registry`]): drafts are never in force, and the question is what
/// would change once they are. Both gates use the fixed test keys
/// ([`crate::danger::test_keys`]), as `privacy-gate test` does.
///
/// # Errors
///
/// [`JointError::Policies`] when `policies` does not load, [`JointError::Cases`]
/// for unreadable case files, [`JointError::DoesNotLoad`] for a draft that does not.
pub fn rerun_cases(policies: &Path, draft: &JointDraft) -> Result<CaseRerun, JointError> {
    let original = Registry::load_dir(policies).map_err(JointError::Policies)?;
    let cases = load_cases(policies, &original).map_err(JointError::Cases)?;
    let keys = crate::danger::test_keys(&original);
    let before = Gate::new(original, keys);
    let joint = draft.registry(true)?;
    let keys = crate::danger::test_keys(&joint);
    let after = Gate::new(joint, keys);
    let mut out = CaseRerun {
        run: cases.len(),
        ..CaseRerun::default()
    };
    for case in &cases {
        if run_case(&before, case).is_err() {
            out.failing_before.push(case.id.clone());
            continue;
        }
        match run_case(&after, case) {
            Ok(()) => out.unchanged += 1,
            Err(failure) => out.changed.push(CaseChange {
                case: case.id.clone(),
                province: case.id.split('/').next().unwrap_or_default().to_owned(),
                // The report's first line names the case and file; each further
                // line is one expectation that does not hold.
                changes: failure
                    .to_string()
                    .lines()
                    .skip(1)
                    .map(|l| l.trim().to_owned())
                    .collect(),
            }),
        }
    }
    Ok(out)
}
