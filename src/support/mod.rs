//! Small tools every layer uses: the strict JSON reader, diagnostics, limits,
//! identifier checks, "did you mean" hints and calendar time. Nothing here knows
//! about agreements, records or the audit log.

pub(crate) mod diag;
pub(crate) mod hex;
pub(crate) mod ident;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod suggest;
pub(crate) mod time;
