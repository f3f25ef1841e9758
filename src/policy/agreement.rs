//! Agreements: the JSON form authors write, and the checked form the gate compiles.

use crate::policy::action::{Action, DomainId};
pub use crate::policy::condition::Condition;
use crate::policy::condition::ConditionFile;
use crate::policy::schema::{Event, FieldId};
use crate::support::time::Period;
use chrono::NaiveDate;
use schemars::{json_schema, JsonSchema, SchemaGenerator};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Whether an agreement has been signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// Signed by all parties: can be in force.
    Signed,
    /// Not signed: never in force.
    Draft,
}

/// The legal regime a transfer rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Regime {
    /// The GDPR with the Dutch implementation act (AVG/UAVG).
    Avg,
    /// The act on data processing by partnerships (WGS), since 1 March 2025.
    Wgs,
    /// The Police Data Act (Wpg).
    Wpg,
    /// The Judicial Data Act (Wjsg).
    Wjsg,
}

impl fmt::Display for Regime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Regime::Avg => "avg",
            Regime::Wgs => "wgs",
            Regime::Wpg => "wpg",
            Regime::Wjsg => "wjsg",
        })
    }
}

/// An agreement of one organisation in the network: what it may release to and receive
/// from its partners, per purpose, data category and field. File:
/// `policies/<province>/<name>.json`; see docs/agreement-format.md.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Agreement", title = "privacy-gate agreement")]
pub(crate) struct AgreementFile {
    /// The JSON Schema of this file, for editors (`../agreement.schema.json`); the gate
    /// ignores it.
    #[serde(rename = "$schema", default)]
    pub _schema: Option<String>,
    /// The organisation this agreement binds, as `<province>/<name>`, like `drenthe/ggd`.
    /// The file must be `policies/<province>/<name>.json`.
    #[schemars(regex(pattern = crate::support::ident::ORGANISATION_PATTERN))]
    pub organisation: String,
    /// The kind of organisation, like `gemeente`, `politie`, `om`, `ggd` or `zvh`: lowercase
    /// letters, digits and `-`. Other agreements' rules select counterparties by kind.
    #[schemars(
        regex(pattern = crate::support::ident::NAME_PATTERN),
        extend("examples" = ["gemeente", "politie", "om", "ggd", "zvh"])
    )]
    pub kind: String,
    /// The organisation's name for people, like `GGD Drenthe`.
    #[serde(default)]
    pub name: Option<String>,
    /// For an organisation whose area is not a province (a region, like
    /// `noord-nederland/politie`, or the country, like `nl/arbeidsinspectie`): the
    /// provinces it works in, like `["drenthe", "groningen", "friesland"]`. A rule
    /// selecting `{"kind": ..., "province": P}` matches an organisation located in `P`
    /// or serving it. Each must be a province that has organisations of its own, not the
    /// organisation's own area, and named once.
    #[serde(default)]
    #[schemars(inner(regex(pattern = crate::support::ident::NAME_PATTERN)))]
    pub serves: Vec<String>,
    /// The agreement's version, like `2025.1`; every decision and audit entry cites it.
    pub version: String,
    /// Whether the agreement is signed; a draft is never in force.
    pub status: Status,
    /// The days the agreement is in force, both inclusive.
    pub valid: ValidityFile,
    /// The legal regime transfers rest on; a rule may override it.
    pub regime: Regime,
    /// The longest retention period any outbound rule may set, and the longest a
    /// sender may set for what this organisation receives (a longer one is an error):
    /// an ISO 8601 duration of years, months and days, like `P5Y` or `P1Y6M`.
    #[serde(default)]
    #[schemars(regex(pattern = crate::support::time::Period::PATTERN))]
    pub max_retention: Option<String>,
    /// The purposes (ids from `policies/schema.json`) this organisation shares data for,
    /// each with its legal bases.
    pub purposes: BTreeMap<String, PurposeFile>,
    /// The pseudonymisation domains this organisation receives pseudonyms in, each bound
    /// to one purpose: a rule that pseudonymises in a domain must send to the
    /// organisation that declares it, for that purpose (or a purpose its `linkage`
    /// states). Keys: domain ids, `<group>/<name>`, like `groningen/zvh-signalen`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": crate::policy::action::DomainId::PATTERN }))]
    pub pseudonym_domains: BTreeMap<String, DomainFile>,
    /// Rules for what this organisation may release, and to whom. Each names its
    /// recipients with `to`.
    #[serde(default)]
    #[schemars(schema_with = "outbound_rules")]
    pub outbound: Vec<RuleFile>,
    /// Rules for what this organisation may receive, and from whom. Each names its
    /// senders with `from`.
    #[serde(default)]
    #[schemars(schema_with = "inbound_rules")]
    pub inbound: Vec<RuleFile>,
}

/// The schema of a list of rules that must name their counterparty with `counterparty`
/// and may not have `stray`, as the loader requires. Outbound and inbound rules share
/// `RuleFile`, so the difference is added here.
fn rules_schema(
    generator: &mut schemars::SchemaGenerator,
    counterparty: &str,
    stray: &str,
) -> schemars::Schema {
    let rule = generator.subschema_for::<RuleFile>();
    schemars::json_schema!({
        "type": "array",
        "items": {
            "allOf": [
                rule,
                { "required": [counterparty], "properties": { stray: false } }
            ]
        }
    })
}

fn outbound_rules(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    rules_schema(generator, "to", "from")
}

fn inbound_rules(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    rules_schema(generator, "from", "to")
}

/// A pseudonymisation domain the organisation receives pseudonyms in.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PseudonymDomain")]
pub(crate) struct DomainFile {
    /// The one purpose, among the agreement's `purposes`, whose flows may pseudonymise
    /// in this domain.
    #[schemars(regex(pattern = crate::support::ident::NAME_PATTERN))]
    pub purpose: String,
    /// Why the domain exists, for the next reader.
    #[serde(default)]
    pub note: Option<String>,
    /// A stated exception: the organisation may link this domain's pseudonyms with what
    /// it receives for other purposes. Without it, pseudonyms of this domain come only
    /// from flows of `purpose`, and no field it pseudonymises reaches the organisation
    /// in plain form.
    #[serde(default)]
    pub linkage: Option<LinkageFile>,
}

/// A stated linkage purpose, with its legal basis.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Linkage")]
pub(crate) struct LinkageFile {
    /// The other purposes (among the agreement's) whose flows may carry this domain's
    /// pseudonyms, or the same fields in plain form.
    #[schemars(length(min = 1), inner(regex(pattern = crate::support::ident::NAME_PATTERN)))]
    pub purposes: Vec<String>,
    /// The legal bases (among the agreement's purposes') that allow the linkage.
    #[schemars(length(min = 1))]
    pub legal_basis: Vec<String>,
    /// Why the organisation must link, in words a signatory reads (not empty).
    pub reason: String,
}

/// The days an agreement is in force, both inclusive, as calendar days in
/// Europe/Amsterdam.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Validity")]
pub(crate) struct ValidityFile {
    /// The first day in force, `YYYY-MM-DD`.
    #[schemars(regex(pattern = crate::support::ident::DATE_PATTERN))]
    pub from: NaiveDate,
    /// The last day in force, `YYYY-MM-DD`; not before `from`.
    #[schemars(regex(pattern = crate::support::ident::DATE_PATTERN))]
    pub until: NaiveDate,
}

/// A purpose the agreement serves.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Purpose")]
pub(crate) struct PurposeFile {
    /// The legal bases (ids from `policies/schema.json`, like `avg-6-1-e`) for this
    /// purpose. At least one must grant lawfulness; categories that need an art. 9 or
    /// art. 10 basis cross only if one of these grants it.
    #[schemars(length(min = 1))]
    pub legal_basis: Vec<String>,
}

/// A rule: for one purpose and the counterparties it selects, the action per data
/// category and per field.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Rule")]
pub(crate) struct RuleFile {
    /// The rule's id, unique within the agreement: lowercase letters, digits and `-`.
    /// Decisions and audit entries cite it.
    #[schemars(regex(pattern = crate::support::ident::NAME_PATTERN))]
    pub id: String,
    /// The recipients of an outbound rule.
    #[serde(default)]
    pub to: Option<SelectorFile>,
    /// The senders of an inbound rule.
    #[serde(default)]
    pub from: Option<SelectorFile>,
    /// The purpose, one of the agreement's `purposes`.
    pub purpose: String,
    /// How long the recipient may keep the data. Expected on outbound rules.
    #[serde(default)]
    pub retention: Option<RetentionFile>,
    /// A legal regime overriding the agreement's for this rule.
    #[serde(default)]
    pub regime: Option<Regime>,
    /// The article of the signed covenant this rule implements, like
    /// `Convenant ZVH Drenthe 2025, art. 7.2`.
    #[serde(default)]
    pub covenant: Option<String>,
    /// Why the rule is as it is, for the next reader.
    #[serde(default)]
    pub note: Option<String>,
    /// The action per data category (ids from `policies/schema.json`). A field that
    /// neither `categories` nor `paths` names does not cross.
    #[serde(default)]
    pub categories: BTreeMap<String, Action>,
    /// The action per field path (from `policies/schema.json`, like `subject.bsn`),
    /// overriding its category's; optionally with a condition on the record, so that
    /// this one field crosses only when it holds:
    /// `{"action": "pass", "when": {"path": "case.consent", "in": ["given"]}}`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": crate::policy::schema::FIELD_PATH_PATTERN }))]
    pub paths: BTreeMap<String, PathEntryFile>,
    /// A condition on the record for the whole rule, like `{"path": "case.consent",
    /// "in": ["given"]}`; a record for which it does not hold is refused whole.
    #[serde(default)]
    pub when: Option<ConditionFile>,
    /// The legal bases, among its purpose's, this rule rests on. Without it the rule
    /// rests on all of its purpose's bases.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub legal_basis: Option<Vec<String>>,
    /// Aggregate terms: data crosses along this rule only as counts per cell, never as
    /// records, and a cell counting fewer records than `min_count` is suppressed.
    /// Required on every rule for a purpose the schema releases as `aggregates`.
    #[serde(default)]
    pub aggregate: Option<AggregateFile>,
}

/// The fewest records a released cell may count when an agreement names no
/// threshold: 10, the rule Statistics Netherlands (CBS) applies to counts of persons.
pub const DEFAULT_MIN_COUNT: u32 = 10;

/// The lowest threshold an agreement may set: a cell of fewer records is too easily
/// traced to a person, whatever the agreement says.
pub const MIN_COUNT_FLOOR: u32 = 5;

/// The terms of an aggregate release, like `{"min_count": 10}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Aggregate")]
pub(crate) struct AggregateFile {
    /// The fewest records a released cell may count; smaller cells are suppressed.
    /// At least 5; 10 when absent. A flow uses the larger of both sides' thresholds.
    #[serde(default)]
    #[schemars(range(min = 5))]
    pub min_count: Option<usize>,
}

/// The counterparties a rule selects: one organisation (`{"organisation":
/// "drenthe/zvh"}`), or every organisation of a kind (`{"kind": "zvh"}`), optionally in
/// one province (`{"kind": "zvh", "province": "drenthe"}`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "Selector",
    extend("oneOf" = [
        { "required": ["organisation"], "maxProperties": 1 },
        { "required": ["kind"], "not": { "required": ["organisation"] } }
    ])
)]
pub(crate) struct SelectorFile {
    /// One organisation by id, `<province>/<name>`; it must have an agreement.
    #[serde(default)]
    #[schemars(regex(pattern = crate::support::ident::ORGANISATION_PATTERN))]
    pub organisation: Option<String>,
    /// Every organisation of this kind, like `zvh`.
    #[serde(default)]
    #[schemars(
        regex(pattern = crate::support::ident::NAME_PATTERN),
        extend("examples" = ["gemeente", "politie", "om", "ggd", "zvh"])
    )]
    pub kind: Option<String>,
    /// With `kind`: only in this province, like `drenthe`. Without it, any province.
    #[serde(default)]
    #[schemars(regex(pattern = crate::support::ident::NAME_PATTERN))]
    pub province: Option<String>,
}

/// A path entry as written: an action, or `{"action": A, "when": C}`.
pub(crate) struct PathEntryFile {
    pub action: Action,
    pub when: Option<ConditionFile>,
}

impl<'de> Deserialize<'de> for PathEntryFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PathEntryFile, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Conditioned {
            action: Action,
            when: ConditionFile,
        }
        let value = Value::deserialize(d)?;
        let conditioned = match &value {
            Value::Object(map) => map.contains_key("action") || map.contains_key("when"),
            _ => false,
        };
        if conditioned {
            let c = Conditioned::deserialize(value).map_err(de::Error::custom)?;
            return Ok(PathEntryFile {
                action: c.action,
                when: Some(c.when),
            });
        }
        Action::deserialize(value)
            .map(|action| PathEntryFile { action, when: None })
            .map_err(de::Error::custom)
    }
}

impl JsonSchema for PathEntryFile {
    fn schema_name() -> Cow<'static, str> {
        "PathEntry".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> schemars::Schema {
        let action = generator.subschema_for::<Action>();
        let condition = generator.subschema_for::<ConditionFile>();
        json_schema!({
            "oneOf": [
                action,
                {
                    "type": "object",
                    "description": "An action that applies only to records for which the condition holds; otherwise the field is removed (reason `condition not met`) and the rest of the record crosses as the rules say.",
                    "properties": { "action": action, "when": condition },
                    "required": ["action", "when"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A rule's retention as written: a period from the transfer (`"P2Y"`), from an
/// event (`{"period": "P1Y", "after": "case-closed"}`), or a list of these.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct RetentionFile(pub Value);

impl JsonSchema for RetentionFile {
    fn schema_name() -> Cow<'static, str> {
        "Retention".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        let period = json!({"type": "string", "pattern": Period::PATTERN});
        let event = json!({"type": "string", "pattern": crate::support::ident::NAME_PATTERN});
        let from_event = json!({
            "type": "object",
            "properties": {
                "period": period,
                "after": {
                    "oneOf": [
                        event,
                        {"type": "array", "minItems": 1, "items": event}
                    ]
                }
            },
            "required": ["period", "after"],
            "additionalProperties": false
        });
        json_schema!({
            "description": "How long the recipient may keep the data: an ISO 8601 duration of years, months and days from the transfer day, like `P2Y` or `P90D`, at most the agreement's `max_retention` and the recipient's; or `{\"period\": \"P1Y\", \"after\": \"case-closed\"}`, the period from the day of an event of `policies/schema.json` (with a list of events, from the first of them to happen). A record without the event's date crosses with that retention pending, stated in its `_transfer` terms. A list of these binds the earliest deadline: `[\"P5Y\", {\"period\": \"P1Y\", \"after\": \"case-closed\"}]` is one year after the case closed, and at most five years after the transfer.",
            "oneOf": [
                period,
                from_event,
                {
                    "type": "array",
                    "minItems": 1,
                    "items": { "oneOf": [period, from_event] }
                }
            ]
        })
    }
}

/// Which counterparties a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selector {
    /// One organisation by id.
    Organisation(Arc<str>),
    /// Every organisation of a kind, in one province or in any.
    Kind {
        /// The kind, like `zvh`.
        kind: String,
        /// The province, or `None` for any.
        province: Option<String>,
    },
}

impl Selector {
    /// Whether the selector picks `agreement`'s organisation. A selector with a
    /// province picks organisations of its kind located in that province or serving it
    /// ([`Agreement::works_in`]).
    pub fn matches(&self, agreement: &Agreement) -> bool {
        match self {
            Selector::Organisation(id) => *id == agreement.id,
            Selector::Kind { kind, province } => {
                *kind == agreement.kind && province.as_ref().is_none_or(|p| agreement.works_in(p))
            }
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Organisation(id) => f.write_str(id),
            Selector::Kind {
                kind,
                province: Some(p),
            } => write!(f, "every {kind} in {p}"),
            Selector::Kind {
                kind,
                province: None,
            } => write!(f, "every {kind}"),
        }
    }
}

/// How long the recipient may keep what crosses: a period from the transfer day, or
/// from the day of an event the record marks (`P1Y after case-closed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    pub(crate) period: Period,
    pub(crate) after: Option<Event>,
}

impl Retention {
    /// The period.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The event it starts at, or `None` for the transfer day.
    pub fn after(&self) -> Option<&Event> {
        self.after.as_ref()
    }
}

/// `P2Y`, or `P1Y after case-closed`.
impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.after {
            None => write!(f, "{}", self.period),
            Some(event) => write!(f, "{} after {}", self.period, event.id),
        }
    }
}

/// A checked rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Stable id, unique within the agreement.
    pub(crate) id: Arc<str>,
    /// The counterparties it applies to.
    pub(crate) selector: Selector,
    /// The purpose it serves.
    pub(crate) purpose: String,
    /// How long the recipient may keep the data (outbound rules): one entry per start
    /// (the transfer, or each event listed), the earliest deadline binding.
    pub(crate) retention: Vec<Retention>,
    /// A regime overriding the agreement's.
    pub(crate) regime: Option<Regime>,
    /// The article of the signed covenant it implements.
    pub(crate) covenant: Option<Arc<str>>,
    /// Why the rule is as it is.
    pub(crate) note: Option<Arc<str>>,
    /// Action per data category.
    pub(crate) categories: BTreeMap<String, Action>,
    /// Action per field, overriding the category's.
    pub(crate) paths: BTreeMap<FieldId, Action>,
    /// A condition records must meet.
    pub(crate) condition: Option<Condition>,
    /// Conditions of path entries: the field crosses only when its condition holds.
    pub(crate) field_conditions: BTreeMap<FieldId, Condition>,
    /// The legal bases this rule rests on: a subset of its purpose's bases, or all of
    /// them when the rule names none.
    pub(crate) legal_basis: Vec<Arc<str>>,
    /// Where the rule stands in its file (JSON pointer).
    pub(crate) pointer: String,
    /// For an aggregate-only rule: the fewest records a released cell may count.
    pub(crate) min_count: Option<u32>,
}

impl Rule {
    /// Stable id, unique within the agreement.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The counterparties it applies to.
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The purpose it serves.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// How long the recipient may keep the data (outbound rules): one entry per start
    /// (the transfer day, or each event the rule lists), the earliest deadline
    /// binding; empty when the rule sets none.
    pub fn retention(&self) -> &[Retention] {
        &self.retention
    }

    /// A regime overriding the agreement's.
    pub fn regime(&self) -> Option<Regime> {
        self.regime
    }

    /// The article of the signed covenant it implements.
    pub fn covenant(&self) -> Option<&str> {
        self.covenant.as_deref()
    }

    /// Why the rule is as it is.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// Action per data category.
    pub fn categories(&self) -> &BTreeMap<String, Action> {
        &self.categories
    }

    /// Action per field, overriding the category's.
    pub fn paths(&self) -> &BTreeMap<FieldId, Action> {
        &self.paths
    }

    /// A condition records must meet.
    pub fn condition(&self) -> Option<&Condition> {
        self.condition.as_ref()
    }

    /// The condition of the path entry for `field`, if it has one: the field crosses
    /// only for records for which it holds.
    pub fn field_condition(&self, field: FieldId) -> Option<&Condition> {
        self.field_conditions.get(&field)
    }

    /// The legal bases this rule rests on: a subset of its purpose's bases, or all of
    /// them when the rule names none.
    pub fn legal_basis(&self) -> &[Arc<str>] {
        &self.legal_basis
    }

    /// Where the rule stands in its file (JSON pointer).
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// For a rule that lets data cross as aggregates only: the fewest records a
    /// released cell may count. `None` for a rule that lets records cross.
    pub fn min_count(&self) -> Option<u32> {
        self.min_count
    }
}

impl Rule {
    /// The rule's action for a field, and whether a path entry (rather than the
    /// category entry) gave it. `None` if the rule says nothing about the field.
    pub fn action_for(&self, field: FieldId, category: &str) -> Option<(&Action, bool)> {
        self.paths
            .get(&field)
            .map(|a| (a, true))
            .or_else(|| self.categories.get(category).map(|a| (a, false)))
    }
}

/// A checked agreement of one organisation.
#[derive(Debug)]
pub struct Agreement {
    /// `province/name`, e.g. `drenthe/ggd`.
    pub(crate) id: Arc<str>,
    /// The province part of the id.
    pub(crate) province: String,
    /// The provinces it serves besides its own area (`serves` in the file).
    pub(crate) serves: Vec<String>,
    /// The organisation's kind, e.g. `ggd`.
    pub(crate) kind: String,
    /// A human name.
    pub(crate) name: Option<String>,
    /// The agreement's version.
    pub(crate) version: Arc<str>,
    /// Signed or draft.
    pub(crate) status: Status,
    /// First day in force (Europe/Amsterdam).
    pub(crate) valid_from: NaiveDate,
    /// Last day in force (Europe/Amsterdam).
    pub(crate) valid_until: NaiveDate,
    /// The regime it rests on.
    pub(crate) regime: Regime,
    /// The longest retention any rule may set.
    pub(crate) max_retention: Option<Period>,
    /// Purposes with their legal-basis ids.
    pub(crate) purposes: BTreeMap<String, Vec<Arc<str>>>,
    /// The pseudonymisation domains it receives pseudonyms in.
    pub(crate) pseudonym_domains: Vec<PseudonymDomain>,
    /// What it may release.
    pub(crate) outbound: Vec<Rule>,
    /// What it may receive.
    pub(crate) inbound: Vec<Rule>,
    /// SHA-256 of the file's exact bytes.
    pub(crate) sha256: [u8; 32],
    /// The file it came from.
    pub(crate) file: String,
}

impl Agreement {
    /// `province/name`, e.g. `drenthe/ggd`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The province part of the id: where the organisation is located. For a
    /// regional or national organisation this is its area (`noord-nederland`, `nl`),
    /// and [`Agreement::serves`] names the provinces it works in.
    pub fn province(&self) -> &str {
        &self.province
    }

    /// The provinces the organisation serves besides its own area, as its agreement's
    /// `serves` lists them; empty for an organisation of one province.
    pub fn serves(&self) -> &[String] {
        &self.serves
    }

    /// Whether the organisation works in `province`: located there, or serving it.
    pub fn works_in(&self, province: &str) -> bool {
        self.province == province || self.serves.iter().any(|p| p == province)
    }

    /// The organisation's kind, e.g. `ggd`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// A human name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The agreement's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Signed or draft.
    pub fn status(&self) -> Status {
        self.status
    }

    /// First day in force (Europe/Amsterdam).
    pub fn valid_from(&self) -> NaiveDate {
        self.valid_from
    }

    /// Last day in force (Europe/Amsterdam).
    pub fn valid_until(&self) -> NaiveDate {
        self.valid_until
    }

    /// The regime it rests on.
    pub fn regime(&self) -> Regime {
        self.regime
    }

    /// The longest retention any rule may set.
    pub fn max_retention(&self) -> Option<Period> {
        self.max_retention
    }

    /// Purposes with their legal-basis ids.
    pub fn purposes(&self) -> &BTreeMap<String, Vec<Arc<str>>> {
        &self.purposes
    }

    /// The pseudonymisation domains it receives pseudonyms in (`pseudonym_domains`).
    pub fn pseudonym_domains(&self) -> &[PseudonymDomain] {
        &self.pseudonym_domains
    }

    /// What it may release.
    pub fn outbound(&self) -> &[Rule] {
        &self.outbound
    }

    /// What it may receive.
    pub fn inbound(&self) -> &[Rule] {
        &self.inbound
    }

    /// SHA-256 of the file's exact bytes.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The file it came from.
    pub fn file(&self) -> &str {
        &self.file
    }
}

/// A pseudonymisation domain bound to its recipient (the organisation whose agreement
/// declares it) and one purpose, with an optional stated linkage.
#[derive(Clone, Debug)]
pub struct PseudonymDomain {
    pub(crate) id: DomainId,
    pub(crate) recipient: Arc<str>,
    pub(crate) purpose: String,
    pub(crate) linked_purposes: Vec<String>,
    pub(crate) linkage_basis: Vec<Arc<str>>,
    pub(crate) linkage_reason: Option<String>,
    pub(crate) note: Option<String>,
    /// Where it is declared, for diagnostics.
    pub(crate) pointer: String,
}

impl PseudonymDomain {
    /// The domain id.
    pub fn id(&self) -> &DomainId {
        &self.id
    }

    /// The only organisation that receives pseudonyms of this domain.
    pub fn recipient(&self) -> &str {
        &self.recipient
    }

    /// The purpose whose flows pseudonymise in it.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// Other purposes the recipient may link this domain with, as its `linkage` states;
    /// empty without a stated linkage.
    pub fn linked_purposes(&self) -> &[String] {
        &self.linked_purposes
    }

    /// The legal bases of the stated linkage.
    pub fn linkage_basis(&self) -> &[Arc<str>] {
        &self.linkage_basis
    }

    /// Why the recipient links, as the linkage states it.
    pub fn linkage_reason(&self) -> Option<&str> {
        self.linkage_reason.as_deref()
    }

    /// Why the domain exists, as its declaration's `note` says.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// Whether a flow of `purpose` may carry this domain's pseudonyms (its own purpose
    /// or a stated linkage purpose).
    pub fn admits(&self, purpose: &str) -> bool {
        self.purpose == purpose || self.linked_purposes.iter().any(|p| p == purpose)
    }
}

/// Why an agreement is not in force on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "why")]
#[non_exhaustive]
pub enum NotInForce {
    /// The agreement is an unsigned draft.
    Draft,
    /// The day is before its first day.
    NotYetValid {
        /// Its first day.
        from: NaiveDate,
    },
    /// The day is after its last day.
    Expired {
        /// Its last day.
        until: NaiveDate,
    },
}

impl fmt::Display for NotInForce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotInForce::Draft => f.write_str("it is an unsigned draft"),
            NotInForce::NotYetValid { from } => write!(f, "it is in force only from {from}"),
            NotInForce::Expired { until } => write!(f, "it expired after {until}"),
        }
    }
}

impl Agreement {
    /// Whether the agreement is in force on `day` (Europe/Amsterdam).
    ///
    /// # Errors
    ///
    /// Why it is not: a draft, not yet valid, or expired.
    pub fn in_force(&self, day: NaiveDate) -> Result<(), NotInForce> {
        if self.status == Status::Draft {
            Err(NotInForce::Draft)
        } else if day < self.valid_from {
            Err(NotInForce::NotYetValid {
                from: self.valid_from,
            })
        } else if day > self.valid_until {
            Err(NotInForce::Expired {
                until: self.valid_until,
            })
        } else {
            Ok(())
        }
    }

    /// Lowercase hex SHA-256 of the agreement file.
    pub fn sha256_hex(&self) -> String {
        crate::support::hex::hex(&self.sha256)
    }
}
