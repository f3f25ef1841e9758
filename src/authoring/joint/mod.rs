//! Drafting the agreements of a regional approach from the common ground of the
//! provinces' agreements (`privacy-gate joint`; see docs/joint.md).
//!
//! Per flow kind (sender kind, recipient kind, purpose) that some province of the
//! region has, [`compare_flow`](crate::compare::compare_flow) lines the provinces up; the draft takes:
//!
//! - per field, the join of the provinces' actions **as written** (a province whose
//!   flow is refused today, say because one side's agreement is an unsigned draft,
//!   counts with the terms it wrote; the joint agreement is signed anew by all);
//!   pseudonymisation counts as one treatment, "in the recipient's own domain", since
//!   recipients stay separate organisations (see below);
//! - the shortest retention per start, as `compare`'s common terms;
//! - every province's conditions, all of which must hold, each on the side that set it;
//! - per side, the legal bases every province's rules share; a flow with none in
//!   common (or none that grants lawfulness) is left out and listed with the reason,
//!   and a field whose category needs an art. 9 / art. 10 basis the shared bases do
//!   not grant is blocked;
//! - for aggregates-only flows, the largest threshold.
//!
//! A flow some province lacks (or that crosses provinces) has no common ground and is
//! left out, with the reason.
//!
//! **What is drafted.** One agreement per organisation of the region, re-issued
//! under the joint terms (`status: draft`), in the layout of `policies/`: each
//! organisation's privacy officer signs their own organisation's agreement, as today,
//! and the agreements of all organisations of a kind now read alike. Rules name their
//! counterparty by organisation, so no flow crosses a province that did not before.
//!
//! **Pseudonymisation domains.** `compare` joins two provinces' domains to `block`: one
//! joint domain would let a joint recipient link across provinces. The draft has no
//! joint recipient: each province's ZVH or GGD stays the recipient of its own flows.
//! So a field every province pseudonymises is pseudonymised in the draft too, in the
//! domain the recipient declares for the purpose (the domain the province used, when
//! it pseudonymised the field), and the recipient's declaration is carried over with
//! its stated linkage. No recipient can link more than it could before.

mod draft;
mod report;
mod rerun;
mod types;

pub use draft::draft;
pub use report::report;
pub use rerun::{rerun_cases, CaseChange, CaseRerun};
pub use types::{
    DraftFile, JointDraft, JointError, JointField, JointFlow, LeftOut, ProvinceReport, Stricter,
    TermChange, RECIPIENT_DOMAIN,
};
