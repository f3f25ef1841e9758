//! What policy authors write and what checking makes of it: the record schema, the
//! action vocabulary, agreements in their file form and their checked form.

pub(crate) mod action;
pub(crate) mod agreement;
pub(crate) mod schema;
