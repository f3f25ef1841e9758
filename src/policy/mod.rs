//! What policy authors write and what checking makes of it: the record schema, the
//! action vocabulary, agreements in their file form and their checked form, the
//! reading of policy files and the checks that turn one form into the other.

pub(crate) mod action;
pub(crate) mod agreement;
pub(crate) mod condition;
pub(crate) mod retention;
pub(crate) mod schema;
pub(crate) mod source;
pub(crate) mod validate;
