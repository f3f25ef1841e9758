//! The condition language of rules and path entries: the form authors write, its
//! type-checked form, and how a condition reads back (text and canonical JSON).
//! The gate evaluates checked conditions in three-valued logic (`gate/condition.rs`).
//!
//! A condition is a test of one field, or `all` / `any` / `not` over conditions:
//!
//! | form | holds when the record's value |
//! |---|---|
//! | `{"path": P, "in": ["a", "b"]}` | (string, boolean or number field) is one of the values, as text |
//! | `{"path": P, "is": true}` | (boolean field) is that boolean |
//! | `{"path": P, "before": "2025-01-01"}` | (date field) is before the day; also `after`, `on_or_before`, `on_or_after` |
//! | `{"path": P, "within": "P1Y"}` | (date field) lies in the period ending on the transfer day: not older than `P1Y` and not after that day |
//! | `{"all": [C, ...]}`, `{"any": [C, ...]}`, `{"not": C}` | every / some part holds; the part does not hold |

use crate::policy::schema::{FieldId, Schema, ValueType};
use crate::support::ident::DATE_PATTERN;
use crate::support::suggest::hint;
use crate::support::time::Period;
use chrono::NaiveDate;
use schemars::{json_schema, JsonSchema, SchemaGenerator};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// How deep conditions may nest (`{"not": {"all": [...]}}` is 2 deep; a single test 1).
/// Deeper conditions are refused at load: they are unreadable, and a bound keeps the
/// gate's work per record small.
pub const MAX_CONDITION_DEPTH: usize = 8;

/// The comparisons a test may make, by their member names.
const COMPARISONS: [&str; 7] = [
    "in",
    "is",
    "before",
    "after",
    "on_or_before",
    "on_or_after",
    "within",
];

/// A condition as written in an agreement. Kept as JSON and checked member by
/// member, so that each mistake gets its own message at its own JSON pointer.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct ConditionFile(pub(crate) Value);

/// The schema of the forms [`check`] accepts, written by hand as that is.
impl JsonSchema for ConditionFile {
    fn schema_name() -> Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> schemars::Schema {
        let condition = generator.subschema_for::<ConditionFile>();
        let path = json!({
            "description": "The field the test reads: a path of `policies/schema.json` outside arrays, like `case.status`.",
            "type": "string",
            "pattern": crate::policy::schema::FIELD_PATH_PATTERN
        });
        let test = |member: &str, description: &str, value: Value| {
            json!({
                "type": "object",
                "description": description,
                "properties": { "path": path, member: value },
                "required": ["path", member],
                "additionalProperties": false
            })
        };
        let date = json!({"type": "string", "pattern": DATE_PATTERN});
        let parts = |member: &str, description: &str| {
            json!({
                "type": "object",
                "description": description,
                "properties": { member: {"type": "array", "minItems": 1, "items": condition} },
                "required": [member],
                "additionalProperties": false
            })
        };
        json_schema!({
            "description": "A condition on the record. A missing value, or one of the wrong type, satisfies no test, and a test it cannot decide stays undecided through `not`, `all` and `any`: only a condition that holds lets data cross.",
            "oneOf": [
                test("in", "Holds when the field (string, boolean or number) holds one of the values, written as text (`\"given\"`, `\"true\"`).",
                     json!({"type": "array", "minItems": 1, "items": {"type": "string"}})),
                test("is", "Holds when the boolean field holds this value.", json!({"type": "boolean"})),
                test("before", "Holds when the date field is before this day, `YYYY-MM-DD`.", date.clone()),
                test("after", "Holds when the date field is after this day, `YYYY-MM-DD`.", date.clone()),
                test("on_or_before", "Holds when the date field is this day or before it, `YYYY-MM-DD`.", date.clone()),
                test("on_or_after", "Holds when the date field is this day or after it, `YYYY-MM-DD`.", date),
                test("within", "Holds when the date field lies in this period ending on the transfer day (Europe/Amsterdam): `P1Y` is not older than one year and not after the transfer day.",
                     json!({"type": "string", "pattern": Period::PATTERN})),
                parts("all", "Holds when every condition in the list holds."),
                parts("any", "Holds when at least one condition in the list holds."),
                {
                    "type": "object",
                    "description": "Holds when the condition does not hold (and is undecided when it is).",
                    "properties": { "not": condition },
                    "required": ["not"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A checked condition on a record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Condition {
    /// Holds when every part holds.
    All(Vec<Condition>),
    /// Holds when at least one part holds.
    Any(Vec<Condition>),
    /// Holds when the part does not hold; undecided when the part is.
    Not(Box<Condition>),
    /// A test of one field.
    Test(Test),
}

/// A test of one field of the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Test {
    pub(crate) field: FieldId,
    pub(crate) path: Arc<str>,
    pub(crate) segments: Box<[Box<str>]>,
    pub(crate) value_type: ValueType,
    pub(crate) comparison: Comparison,
}

impl Test {
    /// The schema field it reads.
    pub fn field(&self) -> FieldId {
        self.field
    }

    /// The field's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What it compares the value with.
    pub fn comparison(&self) -> &Comparison {
        &self.comparison
    }
}

/// What a test compares a field's value with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Comparison {
    /// One of these values, as normalised text (`given`, `true`, `12.5`).
    In(Vec<String>),
    /// This boolean.
    Is(bool),
    /// A day before this one.
    Before(NaiveDate),
    /// A day after this one.
    After(NaiveDate),
    /// This day or one before it.
    OnOrBefore(NaiveDate),
    /// This day or one after it.
    OnOrAfter(NaiveDate),
    /// A day in this period ending on the transfer day.
    Within(Period),
}

impl Condition {
    /// Every test in the condition, in the order written.
    pub fn tests(&self) -> Vec<&Test> {
        fn collect<'a>(c: &'a Condition, out: &mut Vec<&'a Test>) {
            match c {
                Condition::All(parts) | Condition::Any(parts) => {
                    parts.iter().for_each(|p| collect(p, out));
                }
                Condition::Not(part) => collect(part, out),
                Condition::Test(test) => out.push(test),
            }
        }
        let mut out = Vec::new();
        collect(self, &mut out);
        out
    }

    /// The fields it reads, each once, in the order written.
    pub fn paths(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for test in self.tests() {
            if !out.contains(&&*test.path) {
                out.push(&test.path);
            }
        }
        out
    }

    /// The condition's one test when it is the plain form `{"path": P, "in": [...]}`:
    /// its path and values.
    pub fn as_path_in(&self) -> Option<(&str, &[String])> {
        match self {
            Condition::Test(Test {
                path,
                comparison: Comparison::In(values),
                ..
            }) => Some((path, values)),
            _ => None,
        }
    }

    /// The condition in its canonical file form (values normalised, dates as
    /// `YYYY-MM-DD`, periods as [`Period`] writes them).
    pub fn to_json(&self) -> Value {
        match self {
            Condition::All(parts) => {
                json!({"all": parts.iter().map(Condition::to_json).collect::<Vec<_>>()})
            }
            Condition::Any(parts) => {
                json!({"any": parts.iter().map(Condition::to_json).collect::<Vec<_>>()})
            }
            Condition::Not(part) => json!({"not": part.to_json()}),
            Condition::Test(test) => {
                let (member, value) = match &test.comparison {
                    Comparison::In(values) => ("in", json!(values)),
                    Comparison::Is(b) => ("is", json!(b)),
                    Comparison::Before(d) => ("before", json!(d.to_string())),
                    Comparison::After(d) => ("after", json!(d.to_string())),
                    Comparison::OnOrBefore(d) => ("on_or_before", json!(d.to_string())),
                    Comparison::OnOrAfter(d) => ("on_or_after", json!(d.to_string())),
                    Comparison::Within(p) => ("within", json!(p.to_string())),
                };
                let mut map = Map::new();
                map.insert("path".into(), json!(&*test.path));
                map.insert(member.into(), value);
                Value::Object(map)
            }
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, nested: bool) -> fmt::Result {
        match self {
            Condition::All(parts) | Condition::Any(parts) => {
                let joiner = if matches!(self, Condition::All(_)) {
                    " and "
                } else {
                    " or "
                };
                if nested {
                    f.write_str("(")?;
                }
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(joiner)?;
                    }
                    part.write(f, true)?;
                }
                if nested {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Condition::Not(part) => {
                f.write_str("not ")?;
                match **part {
                    Condition::Test(_) => {
                        f.write_str("(")?;
                        part.write(f, false)?;
                        f.write_str(")")
                    }
                    _ => part.write(f, true),
                }
            }
            Condition::Test(test) => {
                let path = &test.path;
                match &test.comparison {
                    Comparison::In(values) => write!(f, "{path} in [{}]", values.join(", ")),
                    Comparison::Is(b) => write!(f, "{path} is {b}"),
                    Comparison::Before(d) => write!(f, "{path} before {d}"),
                    Comparison::After(d) => write!(f, "{path} after {d}"),
                    Comparison::OnOrBefore(d) => write!(f, "{path} on or before {d}"),
                    Comparison::OnOrAfter(d) => write!(f, "{path} on or after {d}"),
                    Comparison::Within(p) => write!(f, "{path} within {p} before the transfer"),
                }
            }
        }
    }
}

/// Reads like `case.status in [closed] and not (case.routing in [none])`.
impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, false)
    }
}

/// Checks a condition as written at `pointer` against `schema`. Every problem goes to
/// `report` (pointer, message); `None` when there was one.
pub(crate) fn check(
    schema: &Schema,
    value: &Value,
    pointer: &str,
    report: &mut dyn FnMut(&str, String),
) -> Option<Condition> {
    Checker { schema, report }.node(value, pointer, 1)
}

struct Checker<'a, 'r> {
    schema: &'a Schema,
    report: &'r mut dyn FnMut(&str, String),
}

const FORMS: &str = "a condition is `{\"path\": P, \"in\": [...]}`, a comparison of P with `is`, `before`, `after`, `on_or_before`, `on_or_after` or `within`, or `{\"all\": [...]}`, `{\"any\": [...]}`, `{\"not\": ...}`";

impl Checker<'_, '_> {
    fn error(&mut self, pointer: &str, message: String) {
        (self.report)(pointer, message);
    }

    fn node(&mut self, value: &Value, pointer: &str, depth: usize) -> Option<Condition> {
        let Value::Object(map) = value else {
            self.error(pointer, format!("expected an object: {FORMS}"));
            return None;
        };
        if depth > MAX_CONDITION_DEPTH {
            self.error(
                pointer,
                format!("conditions nest at most {MAX_CONDITION_DEPTH} deep; write this one flatter (`all` and `any` take any number of parts)"),
            );
            return None;
        }
        let known = ["path", "all", "any", "not"]
            .into_iter()
            .chain(COMPARISONS)
            .collect::<Vec<_>>();
        let mut ok = true;
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.error(
                    &member(pointer, key),
                    format!(
                        "unknown member `{key}` in a condition{}; {FORMS}",
                        hint(key, &known)
                    ),
                );
                ok = false;
            }
        }
        for combinator in ["all", "any", "not"] {
            if map.contains_key(combinator) && map.len() > 1 {
                self.error(
                    pointer,
                    format!("`{combinator}` stands alone in its object: move the other members into a condition of its own"),
                );
                return None;
            }
        }
        if !ok {
            return None;
        }
        if let Some(parts) = map.get("all").or_else(|| map.get("any")) {
            let name = if map.contains_key("all") {
                "all"
            } else {
                "any"
            };
            let at = member(pointer, name);
            let Value::Array(parts) = parts else {
                self.error(&at, format!("`{name}` takes a list of conditions"));
                return None;
            };
            if parts.is_empty() {
                let always = if name == "all" { "always" } else { "never" };
                self.error(
                    &at,
                    format!("`{name}` needs at least one condition: an empty `{name}` would {always} hold; remove it or list the conditions"),
                );
                return None;
            }
            let mut checked = Vec::with_capacity(parts.len());
            for (i, part) in parts.iter().enumerate() {
                checked.push(self.node(part, &format!("{at}/{i}"), depth + 1));
            }
            let checked: Option<Vec<Condition>> = checked.into_iter().collect();
            return checked.map(|parts| {
                if name == "all" {
                    Condition::All(parts)
                } else {
                    Condition::Any(parts)
                }
            });
        }
        if let Some(part) = map.get("not") {
            return self
                .node(part, &member(pointer, "not"), depth + 1)
                .map(|c| Condition::Not(Box::new(c)));
        }
        self.test(map, pointer)
    }

    fn test(&mut self, map: &Map<String, Value>, pointer: &str) -> Option<Condition> {
        let comparisons: Vec<&str> = COMPARISONS
            .into_iter()
            .filter(|c| map.contains_key(*c))
            .collect();
        let Some(Value::String(path)) = map.get("path") else {
            let message = if map.contains_key("path") {
                "`path` is a field path, like `case.status`".to_owned()
            } else {
                format!("missing `path`: {FORMS}")
            };
            self.error(pointer, message);
            return None;
        };
        let op = match comparisons.as_slice() {
            [one] => *one,
            [] => {
                self.error(
                    pointer,
                    format!("the test of `{path}` needs a comparison: `in`, `is`, `before`, `after`, `on_or_before`, `on_or_after` or `within`"),
                );
                return None;
            }
            [first, second, ..] => {
                self.error(
                    pointer,
                    format!("a test makes one comparison, and this one has `{first}` and `{second}`: join two tests with `all` or `any`"),
                );
                return None;
            }
        };
        let at_path = member(pointer, "path");
        let Some(field) = self.schema.field(path) else {
            let candidates = self.schema.fields().iter().map(|f| f.path.to_string());
            self.error(
                &at_path,
                format!(
                    "unknown field path `{path}`{}; a condition reads a field of `policies/schema.json`",
                    hint(path, candidates)
                ),
            );
            return None;
        };
        let def = self.schema.field_by_id(field)?;
        if def.in_array {
            self.error(
                &at_path,
                format!("`{path}` is inside an array, and a condition reads one value per record: test a field outside arrays"),
            );
            return None;
        }
        let value_type = def.value_type;
        let at = member(pointer, op);
        let operand = map.get(op).unwrap_or(&Value::Null);
        let comparison = match op {
            "in" => self.values(&at, path, field, operand).map(Comparison::In),
            "is" => {
                if value_type != ValueType::Boolean {
                    self.error(
                        &at,
                        format!("`is` compares a boolean field, and `{path}` is of type `{value_type}`{}", use_instead(value_type)),
                    );
                    return None;
                }
                match operand {
                    Value::Bool(b) => Some(Comparison::Is(*b)),
                    _ => {
                        self.error(&at, "`is` takes `true` or `false`".into());
                        None
                    }
                }
            }
            "within" => {
                self.needs_date(&at, op, path, value_type)?;
                let period = operand.as_str().and_then(Period::parse);
                if period.is_none() {
                    self.error(&at, "`within` takes an ISO 8601 period of years, months and days, like `P1Y` or `P90D`".into());
                }
                period.map(Comparison::Within)
            }
            _ => {
                self.needs_date(&at, op, path, value_type)?;
                let Some(day) = operand.as_str().and_then(parse_day) else {
                    self.error(
                        &at,
                        format!("`{op}` takes a day `YYYY-MM-DD`, like `2025-01-01`"),
                    );
                    return None;
                };
                Some(match op {
                    "before" => Comparison::Before(day),
                    "after" => Comparison::After(day),
                    "on_or_before" => Comparison::OnOrBefore(day),
                    _ => Comparison::OnOrAfter(day),
                })
            }
        }?;
        Some(Condition::Test(Test {
            field,
            path: def.path.clone(),
            segments: path.split('.').map(Box::from).collect(),
            value_type,
            comparison,
        }))
    }

    fn needs_date(&mut self, at: &str, op: &str, path: &str, value_type: ValueType) -> Option<()> {
        if value_type == ValueType::Date {
            return Some(());
        }
        self.error(
            at,
            format!(
                "`{op}` compares a date field, and `{path}` is of type `{value_type}`{}",
                use_instead(value_type)
            ),
        );
        None
    }

    /// The values of an `in` test, normalised as the gate normalises record values;
    /// each must be one the field can hold.
    fn values(
        &mut self,
        at: &str,
        path: &str,
        field: FieldId,
        operand: &Value,
    ) -> Option<Vec<String>> {
        let def = self.schema.field_by_id(field)?;
        let value_type = def.value_type;
        if !matches!(
            value_type,
            ValueType::String | ValueType::Boolean | ValueType::Number
        ) {
            self.error(
                at,
                format!(
                    "`in` compares a string, boolean or number field, and `{path}` is of type `{value_type}`{}",
                    use_instead(value_type)
                ),
            );
            return None;
        }
        let Value::Array(items) = operand else {
            self.error(
                at,
                "`in` takes a list of values, written as text, like `[\"given\"]`".into(),
            );
            return None;
        };
        if items.is_empty() {
            self.error(
                at,
                "`in` needs at least one value: with none the condition could never hold".into(),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let at = format!("{at}/{i}");
            let Value::String(text) = item else {
                let tip = if item.is_boolean() {
                    format!(
                        ": for a boolean field write `{{\"path\": \"{path}\", \"is\": {item}}}`"
                    )
                } else {
                    String::new()
                };
                self.error(
                    &at,
                    format!("the values of `in` are written as text, like `\"given\"`{tip}"),
                );
                ok = false;
                continue;
            };
            let normalised = match value_type {
                ValueType::Boolean => match text.as_str() {
                    "true" | "false" => Some(text.clone()),
                    _ => {
                        self.error(
                            &at,
                            format!("`{text}` is not a value of boolean field `{path}`: use `\"true\"` or `\"false\"`, or `is`"),
                        );
                        None
                    }
                },
                ValueType::Number => match serde_json::from_str::<serde_json::Number>(text) {
                    Ok(n) => Some(n.to_string()),
                    Err(_) => {
                        self.error(
                            &at,
                            format!("`{text}` is not a number, and `{path}` is a number field"),
                        );
                        None
                    }
                },
                _ => {
                    if def.bounds.admit(text) {
                        Some(text.clone())
                    } else {
                        let message = match def.bounds.allowed() {
                            Some(allowed) => format!(
                                "`{text}` is not a value of field `{path}`{}; its values: {}",
                                hint(text, allowed),
                                allowed.join(", ")
                            ),
                            None => format!("`{text}` is outside the bounds of field `{path}` (its `pattern` or `max_length`), so no record could hold it"),
                        };
                        self.error(&at, message);
                        None
                    }
                }
            };
            match normalised {
                Some(v) if !out.contains(&v) => out.push(v),
                Some(_) => {}
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// A fix hint for a comparison that does not fit a field's type.
fn use_instead(value_type: ValueType) -> &'static str {
    match value_type {
        ValueType::Date => ": use `before`, `after`, `on_or_before`, `on_or_after` or `within`",
        ValueType::Boolean => ": use `is`",
        ValueType::String | ValueType::Number => ": use `in`",
        _ => ": a condition reads string, boolean, number and date fields only",
    }
}

fn member(pointer: &str, key: &str) -> String {
    format!(
        "{pointer}/{}",
        crate::support::json::escape_pointer_segment(key)
    )
}

/// A strict `YYYY-MM-DD` day.
fn parse_day(text: &str) -> Option<NaiveDate> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}
