//! The shared record schema: field paths, their data categories and value types,
//! and the catalogues of purposes and legal bases agreements refer to.

use crate::support::diag::{Diagnostic, Diagnostics};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// The value type of a field; it decides how a value is checked and normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ValueType {
    /// A citizen service number: 9 digits passing the 11-proof.
    Bsn,
    /// A person's name.
    Name,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// A Dutch postcode (`9401 AB`).
    Postcode,
    /// A short string.
    String,
    /// Free text.
    Text,
    /// `true` or `false`.
    Boolean,
    /// A JSON number.
    Number,
}

impl ValueType {
    /// The name used in the schema and in the pseudonym message.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Bsn => "bsn",
            ValueType::Name => "name",
            ValueType::Date => "date",
            ValueType::Postcode => "postcode",
            ValueType::String => "string",
            ValueType::Text => "text",
            ValueType::Boolean => "boolean",
            ValueType::Number => "number",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a legal basis grants.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Grant {
    /// A lawful basis for processing (AVG art. 6, or a sector law).
    Lawfulness,
    /// An exception to the prohibition on special categories (AVG art. 9).
    Art9,
    /// A basis for criminal-offence data (AVG art. 10, Wpg, Wjsg).
    Art10,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grant::Lawfulness => "lawfulness",
            Grant::Art9 => "art9",
            Grant::Art10 => "art10",
        })
    }
}

/// The shared vocabulary of every agreement: purposes, legal bases, data categories
/// and the record's fields. File: `policies/schema.json`; see docs/agreement-format.md.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Schema", title = "privacy-gate record schema")]
pub(crate) struct SchemaFile {
    /// The JSON Schema of this file, for editors (`./schema.schema.json`); the gate
    /// ignores it.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    /// The schema's version, like `2025.1`.
    version: String,
    /// The purposes data may be shared for, by id (like `signal-assessment`).
    purposes: BTreeMap<String, PurposeFile>,
    /// The catalogue of legal bases agreements may cite, by id (like `avg-6-1-e`).
    legal_bases: BTreeMap<String, LegalBasisFile>,
    /// The data categories, by id (like `identifying.bsn` or `health`); every field
    /// belongs to one, and rules give actions per category.
    categories: BTreeMap<String, CategoryFile>,
    /// The record's fields by path: segments of lowercase letters, digits and `_` joined
    /// by `.`, an array of objects written `name[]` (`contacts[].date`). A path may not
    /// be a prefix of another.
    #[schemars(extend("propertyNames" = { "pattern": FIELD_PATH_PATTERN }))]
    fields: BTreeMap<String, FieldFile>,
    /// Events a retention period may start at, by id (like `case-closed`), each marked
    /// in the record by a date field: a rule's `"retention": {"period": "P1Y", "after":
    /// "case-closed"}` keeps data one year after the day in that field.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": crate::support::ident::NAME_PATTERN }))]
    events: BTreeMap<String, EventFile>,
}

/// An event in a case's life that a retention period may start at.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Event")]
struct EventFile {
    /// What the event is, for people.
    title: String,
    /// The `date` field (outside arrays) that holds the day the event happened; a
    /// record without it has not reached the event yet.
    #[schemars(regex(pattern = FIELD_PATH_PATTERN))]
    field: String,
}

/// A purpose data may be shared for.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Purpose")]
struct PurposeFile {
    /// What the purpose is, for people.
    title: String,
    /// How data crosses for this purpose: `rows` (records, field by field; the
    /// default) or `aggregates` (only counts per cell, small cells suppressed, through
    /// `privacy-gate aggregate`; every rule for the purpose then states its
    /// `aggregate` terms).
    #[serde(default)]
    release: Release,
}

/// How data crosses for a purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Release {
    /// Records, each field passed, generalised, pseudonymised or removed.
    #[default]
    Rows,
    /// Counts of records per cell only, cells below a threshold suppressed; no record
    /// crosses.
    Aggregates,
}

/// A legal basis agreements may cite.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LegalBasis")]
struct LegalBasisFile {
    /// The article, for people, like `AVG art. 6(1)(e): public task`; decisions cite it.
    title: String,
    /// What the basis grants: at least one of `lawfulness`, `art9`, `art10`.
    #[schemars(length(min = 1))]
    grants: Vec<Grant>,
}

/// A data category.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Category")]
struct CategoryFile {
    /// What the category holds, for people.
    title: String,
    /// The extra basis a rule's purpose needs for this category to cross (in any form
    /// but `block`): `art9` for special categories, `art10` for criminal-offence data.
    #[serde(default)]
    requires: Option<Grant>,
    /// Whether the category's values identify a person or reach them (names, BSN,
    /// address, phone, e-mail). Fields of other categories that pass in plain form are
    /// searched for smuggled identifiers (a BSN, an e-mail address, a phone number, an
    /// IBAN); those of an identifying category are not, as carrying one is their job.
    #[serde(default)]
    identifying: bool,
}

/// A field of the record.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Field")]
struct FieldFile {
    /// The field's data category, an id from `categories`.
    category: String,
    /// The value type: how values are checked, normalised and generalised.
    #[serde(rename = "type")]
    value_type: ValueType,
    /// For `string` fields: every value the field may hold. A value not listed is
    /// removed from the record (reason `out of bounds`).
    #[serde(rename = "enum", default)]
    #[schemars(length(min = 1))]
    allowed: Option<Vec<String>>,
    /// For `string` fields: a regular expression every value must match whole (Rust
    /// `regex` syntax, anchored at both ends).
    #[serde(default)]
    pattern: Option<String>,
    /// For `string`, `text` and `name` fields: the most characters a value may have.
    #[serde(default)]
    #[schemars(range(min = 1))]
    max_length: Option<usize>,
    /// Whether the field identifies the record (like `case.id`): a flow that
    /// pseudonymises a field of an identifying category may not pass it in plain form,
    /// or the recipient could tie each pseudonym to a case it also knows by id.
    #[serde(default)]
    record_identifier: bool,
}

/// Index of a field in the schema.
pub type FieldId = usize;

/// What values of a `string`, `text` or `name` field may be, besides their type:
/// the schema gives every such field at least one bound, so that no field carries
/// anything at all.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    /// The only values allowed, sorted.
    pub(crate) allowed: Option<Vec<Box<str>>>,
    /// A pattern every value matches whole.
    pub(crate) pattern: Option<regex::Regex>,
    /// The most characters.
    pub(crate) max_length: Option<usize>,
}

impl Bounds {
    /// The values allowed, when the field has an enumeration.
    pub fn allowed(&self) -> Option<&[Box<str>]> {
        self.allowed.as_deref()
    }

    /// The pattern values must match whole, as written in the schema.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(|p| {
            // Stored anchored as `^(?:PATTERN)$`.
            let text = p.as_str();
            text.strip_prefix("^(?:")
                .and_then(|t| t.strip_suffix(")$"))
                .unwrap_or(text)
        })
    }

    /// The most characters a value may have.
    pub fn max_length(&self) -> Option<usize> {
        self.max_length
    }

    /// Whether `text` keeps within the bounds.
    pub(crate) fn admit(&self, text: &str) -> bool {
        self.max_length
            .is_none_or(|max| text.len() <= max || text.chars().count() <= max)
            && self
                .allowed
                .as_ref()
                .is_none_or(|allowed| allowed.binary_search_by(|a| (**a).cmp(text)).is_ok())
            && self.pattern.as_ref().is_none_or(|p| p.is_match(text))
    }

    fn is_empty(&self) -> bool {
        self.allowed.is_none() && self.pattern.is_none() && self.max_length.is_none()
    }
}

/// One field of the schema.
#[derive(Debug, Clone)]
pub struct Field {
    /// The path, like `subject.address.postcode` or `contacts[].date`.
    pub(crate) path: Arc<str>,
    /// The data category, like `identifying.address`.
    pub(crate) category: Arc<str>,
    /// The value type.
    pub(crate) value_type: ValueType,
    /// Whether the path goes through an array.
    pub(crate) in_array: bool,
    /// The bounds on its values.
    pub(crate) bounds: Bounds,
    /// Whether its category identifies a person.
    pub(crate) identifying: bool,
    /// Whether it identifies the record.
    pub(crate) record_identifier: bool,
}

impl Field {
    /// The path, like `subject.address.postcode` or `contacts[].date`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The data category, like `identifying.address`.
    pub fn category(&self) -> &str {
        &self.category
    }

    /// The value type.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// Whether the path goes through an array.
    pub fn in_array(&self) -> bool {
        self.in_array
    }

    /// The bounds on its values (`enum`, `pattern`, `max_length` in the schema).
    pub fn bounds(&self) -> &Bounds {
        &self.bounds
    }

    /// Whether its category identifies a person, so that the field is not searched
    /// for smuggled identifiers when it passes.
    pub fn identifying(&self) -> bool {
        self.identifying
    }

    /// Whether it identifies the record (like `case.id`), so that no flow may pass it
    /// in plain form while it pseudonymises who the record is about.
    pub fn record_identifier(&self) -> bool {
        self.record_identifier
    }
}

/// A data category.
#[derive(Debug, Clone)]
pub struct Category {
    /// A human title.
    pub(crate) title: String,
    /// The extra basis a rule needs to let this category cross, if any.
    pub(crate) requires: Option<Grant>,
    /// Whether its values identify a person.
    pub(crate) identifying: bool,
}

impl Category {
    /// A human title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The extra basis a rule needs to let this category cross, if any.
    pub fn requires(&self) -> Option<Grant> {
        self.requires
    }

    /// Whether its values identify a person or reach them, so that its fields are
    /// not searched for smuggled identifiers.
    pub fn identifying(&self) -> bool {
        self.identifying
    }
}

/// A legal basis from the catalogue.
#[derive(Debug, Clone)]
pub struct LegalBasis {
    /// A human title, like "AVG art. 6(1)(e): public task".
    pub(crate) title: String,
    /// What it grants.
    pub(crate) grants: Vec<Grant>,
}

impl LegalBasis {
    /// A human title, like "AVG art. 6(1)(e): public task".
    pub fn title(&self) -> &str {
        &self.title
    }

    /// What it grants.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }
}

/// An event a retention period may start at, marked by a date field of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's id, like `case-closed`.
    pub(crate) id: Arc<str>,
    /// A human title.
    pub(crate) title: String,
    /// The date field that marks it.
    pub(crate) field: FieldId,
    /// That field's path.
    pub(crate) path: Arc<str>,
}

impl Event {
    /// The event's id, like `case-closed`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A human title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The date field that marks it.
    pub fn field(&self) -> FieldId {
        self.field
    }

    /// That field's path, like `case.closed_on`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The compiled schema.
#[derive(Debug)]
pub struct Schema {
    /// The schema's version text.
    pub(crate) version: String,
    /// Purpose ids and titles, in id order.
    pub(crate) purposes: BTreeMap<String, String>,
    /// The purposes released as aggregates only.
    pub(crate) aggregate_purposes: Vec<String>,
    /// The legal-basis catalogue.
    pub(crate) legal_bases: BTreeMap<String, LegalBasis>,
    /// The categories.
    pub(crate) categories: BTreeMap<String, Category>,
    fields: Vec<Field>,
    by_path: HashMap<Arc<str>, FieldId>,
    pub(crate) tree: Node,
    /// The events retention may start at, by id.
    pub(crate) events: BTreeMap<String, Event>,
}

impl Schema {
    /// The schema's version text.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Purpose ids and titles, in id order.
    pub fn purposes(&self) -> &BTreeMap<String, String> {
        &self.purposes
    }

    /// How data crosses for `purpose`: [`Release::Aggregates`] when the schema says
    /// so, else [`Release::Rows`].
    pub fn release(&self, purpose: &str) -> Release {
        if self.aggregate_purposes.iter().any(|p| p == purpose) {
            Release::Aggregates
        } else {
            Release::Rows
        }
    }

    /// The legal-basis catalogue.
    pub fn legal_bases(&self) -> &BTreeMap<String, LegalBasis> {
        &self.legal_bases
    }

    /// The categories.
    pub fn categories(&self) -> &BTreeMap<String, Category> {
        &self.categories
    }

    /// The events retention may start at, by id.
    pub fn events(&self) -> &BTreeMap<String, Event> {
        &self.events
    }
}

/// The record shape, for walking a record once.
#[derive(Debug)]
pub(crate) enum Node {
    Leaf(FieldId),
    /// Members sorted by key, for binary search.
    Object(Vec<(Box<str>, Node)>),
    Array(Box<Node>),
}

impl Schema {
    /// Every field, in path order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The field at `path`.
    pub fn field(&self, path: &str) -> Option<FieldId> {
        self.by_path.get(path).copied()
    }

    /// The field with this id.
    pub fn field_by_id(&self, id: FieldId) -> Option<&Field> {
        self.fields.get(id)
    }

    /// Fields of a category.
    pub fn fields_of<'a>(
        &'a self,
        category: &'a str,
    ) -> impl Iterator<Item = (FieldId, &'a Field)> + 'a {
        self.fields
            .iter()
            .enumerate()
            .filter(move |(_, f)| &*f.category == category)
    }

    /// Whether `basis` (an id from the catalogue) grants `grant`.
    pub fn basis_grants(&self, basis: &str, grant: Grant) -> bool {
        self.legal_bases
            .get(basis)
            .is_some_and(|b| b.grants.contains(&grant))
    }

    /// Parses and checks a schema file's text. `file` names it in diagnostics.
    pub(crate) fn parse(file: &str, text: &str, diags: &mut Diagnostics) -> Option<Schema> {
        let raw: SchemaFile = crate::support::diag::parse_file(file, text, None, diags)?;
        let errors_before = diags.error_count();
        let mut error = |pointer: String, message: String| {
            diags.push(Diagnostic::error(file, message).at_pointer(text, &pointer));
        };

        for (id, basis) in &raw.legal_bases {
            if basis.grants.is_empty() {
                error(
                    format!(
                        "/legal_bases/{}/grants",
                        crate::support::json::escape_pointer_segment(id)
                    ),
                    format!("legal basis `{id}` grants nothing"),
                );
            }
        }
        let mut fields = Vec::new();
        for (path, field) in &raw.fields {
            let pointer = format!(
                "/fields/{}",
                crate::support::json::escape_pointer_segment(path)
            );
            if !valid_path(path) {
                error(
                    pointer.clone(),
                    format!("invalid field path `{path}`: segments of `[a-z0-9_]` joined by `.`, arrays written `name[]`, not starting with `_`"),
                );
                continue;
            }
            if !raw.categories.contains_key(&field.category) {
                error(
                    format!("{pointer}/category"),
                    format!(
                        "unknown category `{}`{}",
                        field.category,
                        crate::support::suggest::hint(&field.category, raw.categories.keys())
                    ),
                );
                continue;
            }
            let Some(bounds) = bounds(&pointer, path, field, &mut error) else {
                continue;
            };
            fields.push(Field {
                path: Arc::from(path.as_str()),
                category: Arc::from(field.category.as_str()),
                value_type: field.value_type,
                in_array: path.contains("[]"),
                bounds,
                identifying: raw
                    .categories
                    .get(&field.category)
                    .is_some_and(|c| c.identifying),
                record_identifier: field.record_identifier,
            });
        }
        let mut tree = Node::Object(Vec::new());
        for (id, field) in fields.iter().enumerate() {
            let segments: Vec<&str> = field.path.split('.').collect();
            if let Err(PathClash) = insert(&mut tree, &segments, id) {
                error(
                    format!(
                        "/fields/{}",
                        crate::support::json::escape_pointer_segment(&field.path)
                    ),
                    format!(
                        "field path `{}` clashes with another field's path",
                        field.path
                    ),
                );
            }
        }
        let by_path: HashMap<Arc<str>, FieldId> = fields
            .iter()
            .enumerate()
            .map(|(id, f)| (f.path.clone(), id))
            .collect();
        let mut events = BTreeMap::new();
        for (id, event) in &raw.events {
            let pointer = format!(
                "/events/{}",
                crate::support::json::escape_pointer_segment(id)
            );
            if !crate::support::ident::is_name(id) {
                error(
                    pointer.clone(),
                    format!("invalid event id `{id}`: use lowercase letters, digits and `-`"),
                );
            }
            let path = &event.field;
            match by_path.get(path.as_str()).and_then(|&f| fields.get(f).map(|d| (f, d))) {
                None => error(
                    format!("{pointer}/field"),
                    format!(
                        "unknown field path `{path}`{}",
                        crate::support::suggest::hint(path, by_path.keys())
                    ),
                ),
                Some((_, def)) if def.value_type != ValueType::Date || def.in_array => error(
                    format!("{pointer}/field"),
                    format!("event `{id}` needs a `date` field outside arrays to mark the day it happened, and `{path}` is not one"),
                ),
                Some((field, def)) => {
                    events.insert(
                        id.clone(),
                        Event {
                            id: Arc::from(id.as_str()),
                            title: event.title.clone(),
                            field,
                            path: def.path.clone(),
                        },
                    );
                }
            }
        }
        if diags.error_count() > errors_before {
            return None;
        }
        sort_tree(&mut tree);
        let aggregate_purposes = raw
            .purposes
            .iter()
            .filter(|(_, p)| p.release == Release::Aggregates)
            .map(|(id, _)| id.clone())
            .collect();
        Some(Schema {
            version: raw.version,
            aggregate_purposes,
            purposes: raw
                .purposes
                .into_iter()
                .map(|(id, p)| (id, p.title))
                .collect(),
            legal_bases: raw
                .legal_bases
                .into_iter()
                .map(|(id, b)| {
                    (
                        id,
                        LegalBasis {
                            title: b.title,
                            grants: b.grants,
                        },
                    )
                })
                .collect(),
            categories: raw
                .categories
                .into_iter()
                .map(|(id, c)| {
                    (
                        id,
                        Category {
                            title: c.title,
                            requires: c.requires,
                            identifying: c.identifying,
                        },
                    )
                })
                .collect(),
            fields,
            by_path,
            tree,
            events,
        })
    }
}

/// What `valid_path` accepts, as a regular expression (for the JSON Schemas).
pub(crate) const FIELD_PATH_PATTERN: &str =
    "^[a-z0-9][a-z0-9_]*(\\[\\])?(\\.[a-z0-9_]+(\\[\\])?)*$";

fn valid_path(path: &str) -> bool {
    !path.starts_with('_')
        && path.split('.').all(|segment| {
            let name = segment.strip_suffix("[]").unwrap_or(segment);
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// The checked bounds of a field, or `None` after reporting what is wrong with them.
fn bounds(
    pointer: &str,
    path: &str,
    field: &FieldFile,
    error: &mut impl FnMut(String, String),
) -> Option<Bounds> {
    let value_type = field.value_type;
    let string_like = matches!(
        value_type,
        ValueType::String | ValueType::Text | ValueType::Name
    );
    let has_any = field.allowed.is_some() || field.pattern.is_some() || field.max_length.is_some();
    if !string_like && has_any {
        error(
            pointer.to_owned(),
            format!("field `{path}` of type `{value_type}` takes no `enum`, `pattern` or `max_length`: its type bounds its values"),
        );
        return None;
    }
    let mut ok = true;
    if value_type != ValueType::String && (field.allowed.is_some() || field.pattern.is_some()) {
        error(
            pointer.to_owned(),
            format!("field `{path}` of type `{value_type}` is bounded by `max_length` only; `enum` and `pattern` are for `string` fields"),
        );
        ok = false;
    }
    if field.max_length == Some(0) {
        error(
            format!("{pointer}/max_length"),
            format!("`max_length` of field `{path}` must be at least 1"),
        );
        ok = false;
    }
    let mut bounds = Bounds {
        max_length: field.max_length,
        ..Bounds::default()
    };
    if let Some(pattern) = &field.pattern {
        match regex::Regex::new(&format!("^(?:{pattern})$")) {
            Ok(re) => bounds.pattern = Some(re),
            Err(e) => {
                // The last line of the regex error says what is wrong, without the pattern.
                let reason = e.to_string().lines().last().unwrap_or_default().to_owned();
                error(
                    format!("{pointer}/pattern"),
                    format!("the `pattern` of field `{path}` is not a valid regular expression: {reason}"),
                );
                ok = false;
            }
        }
    }
    if let Some(allowed) = &field.allowed {
        let mut sorted: Vec<Box<str>> = allowed.iter().map(|v| Box::from(v.as_str())).collect();
        sorted.sort();
        let listed = sorted.len();
        sorted.dedup();
        if sorted.is_empty() || sorted.len() != listed {
            error(
                format!("{pointer}/enum"),
                format!("the `enum` of field `{path}` must list distinct values, at least one"),
            );
            ok = false;
        }
        if let Some(outside) = sorted.iter().find(|v| !bounds.admit(v)) {
            error(
                format!("{pointer}/enum"),
                format!("the `enum` of field `{path}` lists `{outside}`, which its `pattern` or `max_length` does not allow"),
            );
            ok = false;
        }
        bounds.allowed = Some(sorted);
    }
    if ok && string_like && bounds.is_empty() {
        let add = if value_type == ValueType::String {
            "`enum`, `pattern` or `max_length`"
        } else {
            "`max_length`"
        };
        error(
            pointer.to_owned(),
            format!("field `{path}` of type `{value_type}` needs a bound on its values, so that it cannot carry anything at all: add {add}"),
        );
        ok = false;
    }
    ok.then_some(bounds)
}

/// A field path that is a prefix of another, or the same as another.
struct PathClash;

fn insert(node: &mut Node, segments: &[&str], id: FieldId) -> Result<(), PathClash> {
    let clash = || PathClash;
    let Some((segment, rest)) = segments.split_first() else {
        return Err(clash());
    };
    let (name, is_array) = match segment.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (*segment, false),
    };
    let Node::Object(children) = node else {
        return Err(clash());
    };
    let last = rest.is_empty();
    let position = match children.iter().position(|(k, _)| &**k == name) {
        Some(_) if last => return Err(clash()),
        Some(position) => position,
        None => {
            let fresh = match (is_array, last) {
                (false, true) => Node::Leaf(id),
                (false, false) => Node::Object(Vec::new()),
                (true, true) => Node::Array(Box::new(Node::Leaf(id))),
                (true, false) => Node::Array(Box::new(Node::Object(Vec::new()))),
            };
            children.push((Box::from(name), fresh));
            if last {
                return Ok(());
            }
            children.len() - 1
        }
    };
    let Some((_, child)) = children.get_mut(position) else {
        return Err(clash());
    };
    let next = if is_array {
        match child {
            Node::Array(inner) => inner.as_mut(),
            _ => return Err(clash()),
        }
    } else if matches!(child, Node::Object(_)) {
        child
    } else {
        return Err(clash());
    };
    insert(next, rest, id)
}

fn sort_tree(node: &mut Node) {
    match node {
        Node::Leaf(_) => {}
        Node::Array(inner) => sort_tree(inner),
        Node::Object(children) => {
            children.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, child) in children {
                sort_tree(child);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to 6 characters over the path alphabet: the pattern in the
    /// JSON Schemas accepts exactly the paths `valid_path` accepts.
    #[test]
    fn field_path_pattern_agrees_with_valid_path() {
        let pattern = regex::Regex::new(FIELD_PATH_PATTERN).unwrap();
        let alphabet = ['a', '1', '_', '.', '[', ']', 'A', '-'];
        let mut strings = crate::support::strings_over(&alphabet, 6);
        strings.extend(["contacts[].date", "subject.address.postcode"].map(String::from));
        for s in strings {
            assert_eq!(
                pattern.is_match(&s),
                valid_path(&s),
                "pattern and valid_path disagree on `{s}`"
            );
        }
    }
}
