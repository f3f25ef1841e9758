//! What a joint draft is: the flows kept and left out, per province what it gives up
//! and gains, and the drafted agreement files.

use crate::compare::FlowKind;
use crate::plan::registry::{LoadError, PolicySource, Registry};
use crate::policy::action::Action;
use crate::policy::agreement::Retention;
use crate::support::diag::Diagnostics;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// The domain a joint field action names when it pseudonymises: "the domain the
/// recipient declares for the purpose", made concrete per recipient in the drafted
/// agreements.
pub const RECIPIENT_DOMAIN: &str = "recipient/own-domain";

/// A draft that cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JointError {
    /// No organisation has the region as its area, or none serves a province.
    #[error("unknown region `{region}`: no organisation of that area serves a province; areas with organisations that serve provinces: {}", known.join(", "))]
    UnknownRegion {
        /// The region given.
        region: String,
        /// The areas of organisations that serve provinces.
        known: Vec<String>,
    },
    /// The drafted agreements do not load (a bug of the drafting: fail closed).
    #[error("the drafted agreements do not load:\n{0}")]
    DoesNotLoad(LoadError),
    /// The policies the draft is compared with do not load.
    #[error("the policies do not load:\n{0}")]
    Policies(LoadError),
    /// The provinces' test cases cannot be read.
    #[error("the test cases cannot be loaded:\n{0}")]
    Cases(Diagnostics),
}

/// One field of a joint flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JointField {
    /// The field path.
    pub path: Arc<str>,
    /// The joint action; [`RECIPIENT_DOMAIN`] for pseudonymisation in the recipient's
    /// own domain.
    pub action: Action,
    /// The field's conditions, all of which must hold (from every province).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// Why the field is blocked although every province lets it cross, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_because: Option<String>,
}

/// A flow kept in the draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JointFlow {
    /// The flow kind.
    pub flow: FlowKind,
    /// The organisation pairs (sender, recipient) the drafted rules connect.
    pub pairs: Vec<(Arc<str>, Arc<str>)>,
    /// Every schema field, in schema order.
    pub fields: Vec<JointField>,
    /// The retention: per start the shortest of the provinces'.
    #[serde(serialize_with = "retention_text")]
    pub retention: Vec<Retention>,
    /// Every condition on records, from every province (all must hold).
    pub conditions: Vec<String>,
    /// The bases every province's sender rules share.
    pub sender_legal_basis: Vec<Arc<str>>,
    /// The bases every province's recipient rules share.
    pub recipient_legal_basis: Vec<Arc<str>>,
    /// For aggregates only: the largest threshold.
    pub aggregate_min_count: Option<u32>,
}

/// A flow left out of the draft, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// The flow kind, or for a flow between provinces its pair's kinds.
    pub flow: FlowKind,
    /// The organisation pairs that had it, as written.
    pub pairs: Vec<(Arc<str>, Arc<str>)>,
    /// Why it is left out.
    pub reason: String,
}

/// A field a province's flow releases less precisely in the draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stricter {
    /// The flow kind.
    pub flow: FlowKind,
    /// Sender and recipient.
    pub pair: (Arc<str>, Arc<str>),
    /// The field path.
    pub path: Arc<str>,
    /// The province's action as written.
    pub before: Action,
    /// The draft's action.
    pub after: Action,
    /// Conditions the draft adds to the field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions_added: Vec<String>,
}

/// A flow-level term of a province's flow that the draft makes stricter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TermChange {
    /// The flow kind.
    pub flow: FlowKind,
    /// What changes, in words.
    pub change: String,
}

/// What one province gives up and gains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProvinceReport {
    /// The province.
    pub province: String,
    /// Fields released less precisely (or under added conditions).
    pub stricter: Vec<Stricter>,
    /// Flows the province had (as written) that the draft leaves out.
    pub flows_lost: Vec<LeftOut>,
    /// Retention shortened, conditions added, thresholds raised.
    pub terms: Vec<TermChange>,
    /// Flows not in force in the province at the moment drafted (an unsigned draft, an
    /// expired agreement) that the draft has: in force once it is signed.
    pub gains: Vec<TermChange>,
}

/// One drafted agreement file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftFile {
    /// The organisation id.
    pub organisation: String,
    /// Its path in a policy folder: `<area>/<name>.json`.
    pub path: String,
    /// The file's text (`status: draft`).
    pub text: String,
}

/// The joint draft of a region.
#[derive(Clone, Debug)]
pub struct JointDraft {
    /// The region.
    pub region: String,
    /// Its provinces (those its organisations serve), in name order.
    pub provinces: Vec<String>,
    /// The moment drafted.
    pub at: DateTime<Utc>,
    /// The flows kept.
    pub flows: Vec<JointFlow>,
    /// The flows left out, with reasons.
    pub left_out: Vec<LeftOut>,
    /// What each province gives up and gains.
    pub reports: Vec<ProvinceReport>,
    /// The drafted agreements, one per organisation of the region.
    pub files: Vec<DraftFile>,
    /// The schema the drafts are written against (unchanged).
    pub schema: PolicySource,
}

impl JointDraft {
    /// Loads the drafted agreements. With `as_signed`, each is loaded as if signed
    /// (`status` set to `signed` in memory), so that their flows are in force in their
    /// validity period: how the provinces' test cases are re-run against the draft.
    ///
    /// # Errors
    ///
    /// The loader's errors ([`JointError::DoesNotLoad`]).
    pub fn registry(&self, as_signed: bool) -> Result<Registry, JointError> {
        let sources: Vec<PolicySource> = self
            .files
            .iter()
            .map(|f| PolicySource {
                file: format!("joint/{}", f.path),
                text: if as_signed {
                    f.text
                        .replacen("\"status\": \"draft\"", "\"status\": \"signed\"", 1)
                } else {
                    f.text.clone()
                },
            })
            .collect();
        Registry::from_sources(&self.schema, &sources).map_err(JointError::DoesNotLoad)
    }
}

fn retention_text<S: serde::Serializer>(r: &[Retention], s: S) -> Result<S::Ok, S::Error> {
    let texts: Vec<String> = r.iter().map(ToString::to_string).collect();
    s.collect_str(&texts.join("; "))
}
