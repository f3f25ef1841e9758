//! Aggregate terms of a flow: whether it releases counts per cell only, its
//! threshold, and the check that every field crossing it is a coarse dimension.
//!
//! A cell is the tuple of a record's released values; a pseudonym, a record
//! identifier, free text, a plain date or postcode or a number makes nearly every
//! cell unique, so such a field may not cross an aggregate flow at all.

use super::FieldPlan;
use crate::policy::action::{Action, Method};
use crate::policy::agreement::{Agreement, Rule, DEFAULT_MIN_COUNT};
use crate::policy::schema::{FieldId, Release, Schema, ValueType};
use crate::support::diag::Diagnostic;

/// The terms of a flow that releases aggregates only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateTerms {
    /// The fewest records a released cell counts: the largest threshold of the rules
    /// on both sides.
    pub(crate) min_count: u32,
    /// The fields that make up a cell, in schema order: those that cross.
    pub(crate) dimensions: Vec<FieldId>,
}

impl AggregateTerms {
    /// The fewest records a released cell counts; smaller cells are suppressed.
    pub fn min_count(&self) -> u32 {
        self.min_count
    }

    /// The fields that make up a cell, by schema field id, in schema order.
    pub fn dimensions(&self) -> &[FieldId] {
        &self.dimensions
    }
}

/// The aggregate terms of a flow, `None` when it releases records: a flow releases
/// aggregates only when the schema says so for its purpose, or a rule on either side
/// does. Fields that may not be dimensions are reported into `errors`.
pub(super) fn terms(
    schema: &Schema,
    purpose: &str,
    sender: &Agreement,
    outbound: &[&Rule],
    inbound: &[&Rule],
    fields: &[FieldPlan],
    errors: &mut Vec<Diagnostic>,
) -> Option<AggregateTerms> {
    let stated = outbound.iter().chain(inbound).filter_map(|r| r.min_count);
    let by_purpose = schema.release(purpose) == Release::Aggregates;
    let min_count = match stated.max() {
        Some(n) => n,
        None if by_purpose => DEFAULT_MIN_COUNT,
        None => return None,
    };
    let mut dimensions = Vec::new();
    for (id, (field, plan)) in schema.fields().iter().zip(fields).enumerate() {
        if plan.action == Action::Block {
            continue;
        }
        match coarse(field, &plan.action) {
            Ok(()) => dimensions.push(id),
            Err(why) => {
                let rule = plan
                    .sender
                    .as_ref()
                    .and_then(|clause| outbound.iter().find(|r| r.id == clause.rule));
                let mut diagnostic = Diagnostic::error(
                    &sender.file,
                    format!(
                        "this flow releases aggregates only, and `{}` ({}) would make nearly every cell unique: {why}",
                        field.path, plan.action
                    ),
                )
                .in_agreement(Some(&sender.id));
                if let Some(rule) = rule {
                    diagnostic = diagnostic.with_pointer(&rule.pointer);
                }
                errors.push(diagnostic);
            }
        }
    }
    Some(AggregateTerms {
        min_count,
        dimensions,
    })
}

/// Whether a field crossing with `action` is coarse enough to be a dimension; if
/// not, what to do instead.
fn coarse(field: &crate::policy::schema::Field, action: &Action) -> Result<(), &'static str> {
    if field.in_array {
        return Err("a field inside an array has any number of values per record; block it");
    }
    match action {
        Action::Pass if field.record_identifier => {
            Err("a record identifier is unique per record; block it")
        }
        Action::Pass => match field.value_type {
            ValueType::Boolean => Ok(()),
            ValueType::String if field.bounds.allowed.is_some() => Ok(()),
            ValueType::Date => {
                Err("generalise it to `year`, `year-month` or `age-band`, or block it")
            }
            ValueType::Postcode => Err("generalise it to `postcode4`, or block it"),
            _ => Err("only booleans and strings with an `enum` may pass into a cell; block it"),
        },
        Action::Generalise(Method::Placeholder) => {
            Err("a placeholder says nothing in a cell; block it")
        }
        Action::Generalise(_) => Ok(()),
        Action::Pseudonymise(_) => Err("a pseudonym is unique per person; block it"),
        _ => Err("block it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::action::DomainId;
    use crate::policy::schema::{Bounds, Field};
    use std::sync::Arc;

    fn field(value_type: ValueType, allowed: bool, record_identifier: bool) -> Field {
        Field {
            path: Arc::from("a.b"),
            category: Arc::from("case"),
            value_type,
            in_array: false,
            bounds: Bounds {
                allowed: allowed.then(|| vec![Box::from("x")]),
                ..Bounds::default()
            },
            identifying: false,
            record_identifier,
        }
    }

    #[test]
    fn only_coarse_fields_may_be_dimensions() {
        let pass = Action::Pass;
        assert!(coarse(&field(ValueType::Boolean, false, false), &pass).is_ok());
        assert!(coarse(&field(ValueType::String, true, false), &pass).is_ok());
        let year = Action::Generalise(Method::Year);
        assert!(coarse(&field(ValueType::Date, false, false), &year).is_ok());
        let pc4 = Action::Generalise(Method::Postcode4);
        assert!(coarse(&field(ValueType::Postcode, false, false), &pc4).is_ok());

        for (f, action) in [
            // Free-form strings, text, names, numbers, plain dates and postcodes.
            (field(ValueType::String, false, false), pass.clone()),
            (field(ValueType::Text, false, false), pass.clone()),
            (field(ValueType::Name, false, false), pass.clone()),
            (field(ValueType::Number, false, false), pass.clone()),
            (field(ValueType::Date, false, false), pass.clone()),
            (field(ValueType::Postcode, false, false), pass.clone()),
            // An enumerated record identifier is still unique per record.
            (field(ValueType::String, true, true), pass.clone()),
            (
                field(ValueType::Text, false, false),
                Action::Generalise(Method::Placeholder),
            ),
            (
                field(ValueType::Bsn, false, false),
                Action::Pseudonymise(DomainId::new("x/y").unwrap()),
            ),
        ] {
            assert!(coarse(&f, &action).is_err(), "{} {action}", f.value_type);
        }
        let mut listed = field(ValueType::Boolean, false, false);
        listed.in_array = true;
        assert!(coarse(&listed, &pass).is_err());
    }
}
