//! The walk of a record along the schema tree: every leaf passed, generalised,
//! pseudonymised or removed as the flow plan says, in place or straight to JSON.

use super::detect::identifier_in;
use super::generalise::generalise;
use crate::decision::{FieldCount, Removal, RemovalReason, TRANSFER_MEMBER};
use crate::plan::{ClauseRef, FlowPlan};
use crate::policy::action::Action;
use crate::policy::schema::{Field, FieldId, Node, ValueType};
use crate::pseudonym::{check_type, normalise, ActiveKey};
use crate::support::ident::is_plain_key;
use chrono::NaiveDate;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A step on the way from the record's root to a value, for pointers on the error path only.
struct Crumb<'a> {
    parent: Option<&'a Crumb<'a>>,
    step: Step<'a>,
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl Crumb<'_> {
    fn pointer(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(crumb) = at {
            steps.push(&crumb.step);
            at = crumb.parent;
        }
        let mut out = String::new();
        for step in steps.iter().rev() {
            out.push('/');
            match step {
                Step::Key(k) if is_plain_key(k) => out.push_str(k),
                Step::Key(_) => out.push_str("<key>"),
                Step::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }
}

pub(super) struct Walker<'p> {
    pub(super) plan: &'p FlowPlan,
    pub(super) keys: &'p [Arc<ActiveKey>],
    pub(super) today: NaiveDate,
    pub(super) counts: Vec<FieldCount>,
    pub(super) removed: Vec<Removal>,
    /// Fields whose own conditions do not hold for this record, with the clause
    /// whose condition failed: removed wherever they occur.
    pub(super) unmet: Vec<(FieldId, Option<ClauseRef>)>,
    /// Where in the output the `_transfer` member's value starts (set by
    /// [`Walker::record_to_json`]).
    pub(super) terms_at: usize,
}

/// What a leaf becomes.
enum Kept {
    /// The value crosses unchanged.
    Same,
    /// The value crosses in this form.
    Replaced(Value),
}

/// The schema member for `key`, trying the child after the previous match first:
/// records and schema children are both sorted by key.
fn child<'n>(children: &'n [(Box<str>, Node)], next: &mut usize, key: &str) -> Option<&'n Node> {
    let index = match children.get(*next) {
        Some((k, _)) if **k == *key => *next,
        _ => children.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?,
    };
    *next = index + 1;
    children.get(index).map(|(_, node)| node)
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
}

impl<'p> Walker<'p> {
    /// Gates a record in place: what may not cross is removed, transformed values
    /// replaced.
    pub(super) fn record_in_place(&mut self, record: &mut Map<String, Value>) {
        self.object_in_place(self.root(), record, None);
    }

    /// Writes the gated record as JSON to `out`, with `terms` as its `_transfer`
    /// member, without building it as a value first.
    pub(super) fn record_to_json(
        &mut self,
        record: &Map<String, Value>,
        out: &mut Vec<u8>,
        terms: &[u8],
    ) {
        self.object_to_json(self.root(), record, None, out, Some(terms));
    }

    fn root(&self) -> &'p [(Box<str>, Node)] {
        match &self.plan.schema.tree {
            Node::Object(root) => root,
            _ => &[],
        }
    }

    /// Gates `map` in place: what may not cross is removed, transformed values replaced.
    fn object_in_place(
        &mut self,
        children: &[(Box<str>, Node)],
        map: &mut Map<String, Value>,
        parent: Option<&Crumb<'_>>,
    ) {
        let mut next = 0;
        map.retain(|key, value| {
            let crumb = Crumb {
                parent,
                step: Step::Key(key),
            };
            match child(children, &mut next, key) {
                Some(node) => self.node_in_place(node, value, &crumb),
                None => {
                    self.remove(&crumb, None, RemovalReason::UnknownField);
                    false
                }
            }
        });
    }

    fn node_in_place(&mut self, node: &Node, value: &mut Value, crumb: &Crumb<'_>) -> bool {
        match (node, value) {
            (Node::Leaf(field), value) => match self.leaf(*field, value, crumb) {
                None => false,
                Some(Kept::Same) => true,
                Some(Kept::Replaced(new)) => {
                    *value = new;
                    true
                }
            },
            (Node::Object(children), Value::Object(map)) => {
                self.object_in_place(children, map, Some(crumb));
                !map.is_empty()
            }
            (Node::Array(element), Value::Array(items)) => {
                let mut index = 0;
                items.retain_mut(|item| {
                    let crumb = Crumb {
                        parent: Some(crumb),
                        step: Step::Index(index),
                    };
                    index += 1;
                    self.node_in_place(element, item, &crumb)
                });
                !items.is_empty()
            }
            _ => {
                self.remove(crumb, None, RemovalReason::WrongType);
                false
            }
        }
    }

    /// Writes the gated `map` as JSON to `out`; writes nothing and returns false when
    /// nothing in it may cross (except at the root, which is always written).
    /// `terms` is the serialised `_transfer` member, written at its sorted place.
    fn object_to_json(
        &mut self,
        children: &[(Box<str>, Node)],
        map: &Map<String, Value>,
        parent: Option<&Crumb<'_>>,
        out: &mut Vec<u8>,
        mut terms: Option<&[u8]>,
    ) -> bool {
        let start = out.len();
        out.push(b'{');
        let mut any = false;
        let mut next = 0;
        for (key, value) in map {
            if let Some(t) = terms.filter(|_| key.as_str() > TRANSFER_MEMBER) {
                if any {
                    out.push(b',');
                }
                write_key(out, TRANSFER_MEMBER);
                self.terms_at = out.len();
                out.extend_from_slice(t);
                any = true;
                terms = None;
            }
            let crumb = Crumb {
                parent,
                step: Step::Key(key),
            };
            let mark = out.len();
            if any {
                out.push(b',');
            }
            write_key(out, key);
            let kept = match child(children, &mut next, key) {
                Some(node) => self.node_to_json(node, value, &crumb, out),
                None => {
                    self.remove(&crumb, None, RemovalReason::UnknownField);
                    false
                }
            };
            if kept {
                any = true;
            } else {
                out.truncate(mark);
            }
        }
        if let Some(t) = terms {
            if any {
                out.push(b',');
            }
            write_key(out, TRANSFER_MEMBER);
            self.terms_at = out.len();
            out.extend_from_slice(t);
            any = true;
        }
        if !any && parent.is_some() {
            out.truncate(start);
            return false;
        }
        out.push(b'}');
        true
    }

    fn node_to_json(
        &mut self,
        node: &Node,
        value: &Value,
        crumb: &Crumb<'_>,
        out: &mut Vec<u8>,
    ) -> bool {
        match (node, value) {
            (Node::Leaf(field), value) => {
                let written = match self.leaf(*field, value, crumb) {
                    None => return false,
                    Some(Kept::Same) => serde_json::to_writer(&mut *out, value),
                    Some(Kept::Replaced(new)) => serde_json::to_writer(&mut *out, &new),
                };
                written.is_ok()
            }
            (Node::Object(children), Value::Object(map)) => {
                self.object_to_json(children, map, Some(crumb), out, None)
            }
            (Node::Array(element), Value::Array(items)) => {
                let start = out.len();
                out.push(b'[');
                let mut any = false;
                for (index, item) in items.iter().enumerate() {
                    let crumb = Crumb {
                        parent: Some(crumb),
                        step: Step::Index(index),
                    };
                    let mark = out.len();
                    if any {
                        out.push(b',');
                    }
                    if self.node_to_json(element, item, &crumb, out) {
                        any = true;
                    } else {
                        out.truncate(mark);
                    }
                }
                if !any {
                    out.truncate(start);
                    return false;
                }
                out.push(b']');
                true
            }
            _ => {
                self.remove(crumb, None, RemovalReason::WrongType);
                false
            }
        }
    }

    /// Decides one leaf: `None` when it does not cross.
    fn leaf(&mut self, field: FieldId, value: &Value, crumb: &Crumb<'_>) -> Option<Kept> {
        let plan = self.plan.fields.get(field)?;
        let value_type = plan.value_type;
        if let Some(count) = self.counts.get_mut(field) {
            count.seen += 1;
        }
        if plan.action == Action::Block {
            return None;
        }
        let schema_field = self.plan.schema.field_by_id(field)?;
        if let Some((_, clause)) = self.unmet.iter().find(|(f, _)| *f == field) {
            let clause = clause.clone();
            self.removed.push(Removal {
                pointer: crumb.pointer(),
                path: Some(schema_field.path.clone()),
                reason: RemovalReason::ConditionNotMet,
                clause,
            });
            return None;
        }
        // A flow without all its keys is refused before any record, so the key is
        // always there; without it the value simply does not cross.
        let key = match plan.action {
            Action::Pseudonymise(_) => Some(plan.domain_slot.and_then(|slot| self.keys.get(slot))?),
            _ => None,
        };
        let result = within_bounds(schema_field, value).and_then(|()| match &plan.action {
            Action::Pass => check_type(value_type, value)
                .map_err(RemovalReason::from)
                .and_then(|()| no_identifier(schema_field, value))
                .map(|()| Kept::Same),
            Action::Generalise(method) => generalise(*method, value_type, value, self.today)
                .map(Kept::Replaced)
                .map_err(RemovalReason::from),
            Action::Pseudonymise(domain) => match key {
                Some(key) => normalise(value_type, value)
                    .map(|n| Kept::Replaced(Value::String(key.pseudonym(domain, value_type, &n))))
                    .map_err(RemovalReason::from),
                None => Err(RemovalReason::InvalidValue),
            },
            // Blocked values returned above; a future action crosses in no form.
            _ => Err(RemovalReason::InvalidValue),
        });
        match result {
            Ok(kept) => {
                if let Some(count) = self.counts.get_mut(field) {
                    count.released += 1;
                }
                Some(kept)
            }
            Err(reason) => {
                self.remove(crumb, Some(schema_field.path.clone()), reason);
                None
            }
        }
    }

    fn remove(&mut self, crumb: &Crumb<'_>, path: Option<Arc<str>>, reason: RemovalReason) {
        self.removed.push(Removal {
            pointer: crumb.pointer(),
            path,
            reason,
            clause: None,
        });
    }
}

/// A string value outside its field's bounds (`enum`, `pattern`, `max_length`) does
/// not cross in any form. Values of other JSON types are left to the type check.
fn within_bounds(field: &Field, value: &Value) -> Result<(), RemovalReason> {
    match value {
        Value::String(text) if !field.bounds.admit(text) => Err(RemovalReason::OutOfBounds),
        _ => Ok(()),
    }
}

/// A value that passes in plain form may not carry an identifier its field is not
/// meant for (see `detect.rs`); fields of an identifying category are meant to.
fn no_identifier(field: &Field, value: &Value) -> Result<(), RemovalReason> {
    // Dates, postcodes, BSNs, names and booleans are checked by their type: a date
    // holds digits by design, and nothing else fits its shape.
    let free_form = matches!(
        field.value_type,
        ValueType::String | ValueType::Text | ValueType::Number
    );
    if field.identifying || !free_form {
        return Ok(());
    }
    let found = match value {
        Value::String(text) => identifier_in(text),
        Value::Number(number) => identifier_in(&number.to_string()),
        _ => None,
    };
    match found {
        Some(_) => Err(RemovalReason::IdentifierInPassingField),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_hide_unusual_keys() {
        let root = Crumb {
            parent: None,
            step: Step::Key("subject"),
        };
        let odd = Crumb {
            parent: Some(&root),
            step: Step::Key("Jan Jansen"),
        };
        let idx = Crumb {
            parent: Some(&odd),
            step: Step::Index(2),
        };
        assert_eq!(idx.pointer(), "/subject/<key>/2");
        let dotted = Crumb {
            parent: None,
            step: Step::Key("subject.bsn"),
        };
        assert_eq!(dotted.pointer(), "/subject.bsn");
    }
}
