//! The action lattice: what happens to a field when it crosses.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// How a field is generalised.
// The JSON Schema's names come from `rename_all`; a test checks they are `Method::name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
#[schemars(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Method {
    /// A date to its year (`1990`). For `date` fields.
    Year,
    /// A date to its year and month (`1990-04`). For `date` fields.
    YearMonth,
    /// A birth date to the age band at the transfer date: 0-11, 12-15, 16-17, 18-24,
    /// 25-34, 35-44, 45-54, 55-64 or 65+. For `date` fields.
    AgeBand,
    /// A Dutch postcode to its four digits (`9401`). For `postcode` fields.
    Postcode4,
    /// Any text to the fixed placeholder [`PLACEHOLDER`](crate::PLACEHOLDER).
    #[schemars(
        description = "Any text to the fixed placeholder `[withheld]`. For `string`, `text` and `name` fields."
    )]
    Placeholder,
}

impl Method {
    /// Every method, for validation and hints.
    pub const ALL: [Method; 5] = [
        Method::Year,
        Method::YearMonth,
        Method::AgeBand,
        Method::Postcode4,
        Method::Placeholder,
    ];

    /// The name used in agreement files.
    pub fn name(self) -> &'static str {
        match self {
            Method::Year => "year",
            Method::YearMonth => "year-month",
            Method::AgeBand => "age-band",
            Method::Postcode4 => "postcode4",
            Method::Placeholder => "placeholder",
        }
    }

    fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether `self` reveals at least as much as `other` (`year-month` refines `year`).
    fn refines(self, other: Method) -> bool {
        self == other || (self == Method::YearMonth && other == Method::Year)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to a field: `Pass` < `Generalise` / `Pseudonymise` < `Block`.
///
/// Two actions combine with [`Action::join`], the least action at least as strict as
/// both. The order: `Pass` is below everything, `Block` above everything,
/// `Generalise(YearMonth)` below `Generalise(Year)`, and all other pairs of
/// transforms are incomparable, so they join to `Block`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// The value crosses unchanged.
    Pass,
    /// The value crosses in a coarser form.
    Generalise(Method),
    /// The value crosses as a keyed pseudonym of the named domain.
    Pseudonymise(DomainId),
    /// The value does not cross.
    Block,
}

/// The name of a pseudonymisation domain, like `drenthe/zvh-signalen`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainId(pub(crate) Arc<str>);

impl DomainId {
    /// What [`DomainId::new`] accepts, as a regular expression (for the JSON Schemas).
    pub const PATTERN: &'static str = "^[a-z0-9-]+/[a-z0-9-]+$";

    /// Makes a domain id; it must look like `<group>/<name>` of `[a-z0-9-]`.
    pub fn new(id: &str) -> Option<DomainId> {
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let (a, b) = id.split_once('/')?;
        (valid_part(a) && valid_part(b)).then(|| DomainId(Arc::from(id)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Action {
    /// Whether `self` releases at most what `other` releases (`self` is at least as strict).
    pub fn is_at_least_as_strict_as(&self, other: &Action) -> bool {
        match (other, self) {
            (_, Action::Block) | (Action::Pass, _) => true,
            (Action::Block, _) | (_, Action::Pass) => false,
            (Action::Generalise(weaker), Action::Generalise(stricter)) => weaker.refines(*stricter),
            (Action::Pseudonymise(a), Action::Pseudonymise(b)) => a == b,
            _ => false,
        }
    }

    /// The least action at least as strict as both (the lattice join).
    pub fn join(&self, other: &Action) -> Action {
        if self.is_at_least_as_strict_as(other) {
            self.clone()
        } else if other.is_at_least_as_strict_as(self) {
            other.clone()
        } else {
            Action::Block
        }
    }

    /// Whether the field crosses in any form.
    pub fn releases(&self) -> bool {
        !matches!(self, Action::Block)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Pass => f.write_str("pass"),
            Action::Generalise(m) => write!(f, "generalise({m})"),
            Action::Pseudonymise(d) => write!(f, "pseudonymise({d})"),
            Action::Block => f.write_str("block"),
        }
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Action::Pass => s.serialize_str("pass"),
            Action::Block => s.serialize_str("block"),
            Action::Generalise(m) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("generalise", m.name())?;
                map.end()
            }
            Action::Pseudonymise(d) => {
                #[derive(Serialize)]
                struct Domain<'a> {
                    domain: &'a str,
                }
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("pseudonymise", &Domain { domain: d.as_str() })?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        d.deserialize_any(ActionVisitor)
    }
}

/// The schema of the forms [`Action`]'s `Deserialize` accepts, written by hand as that
/// is: `"pass"`, `"block"`, `{"generalise": METHOD}`, `{"pseudonymise": {"domain": D}}`.
impl JsonSchema for Action {
    fn schema_name() -> Cow<'static, str> {
        "Action".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let method = generator.subschema_for::<Method>();
        json_schema!({
            "description": "What happens to the field when it crosses. The sender's and the recipient's actions combine to the stricter: `pass` < `generalise` / `pseudonymise` < `block`; `year-month` < `year`; two different transforms make `block`.",
            "oneOf": [
                {
                    "type": "string",
                    "const": "pass",
                    "description": "The value crosses unchanged."
                },
                {
                    "type": "string",
                    "const": "block",
                    "description": "The value does not cross."
                },
                {
                    "type": "object",
                    "description": "The value crosses in a coarser form: `{\"generalise\": \"year\"}`.",
                    "properties": { "generalise": method },
                    "required": ["generalise"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "description": "The value crosses as a keyed pseudonym: `{\"pseudonymise\": {\"domain\": \"drenthe/zvh-signalen\"}}`. Within one domain (and key) a value always gives the same pseudonym; across domains, pseudonyms do not link.",
                    "properties": {
                        "pseudonymise": {
                            "type": "object",
                            "properties": {
                                "domain": {
                                    "type": "string",
                                    "description": "The pseudonymisation domain, `<group>/<name>` of lowercase letters, digits and `-`, like `drenthe/zvh-signalen`; its key comes from the key file.",
                                    "pattern": DomainId::PATTERN
                                }
                            },
                            "required": ["domain"],
                            "additionalProperties": false
                        }
                    },
                    "required": ["pseudonymise"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

struct ActionVisitor;

const ACTION_FORMS: &str =
    r#""pass", "block", {"generalise": METHOD} or {"pseudonymise": {"domain": DOMAIN}}"#;

impl<'de> Visitor<'de> for ActionVisitor {
    type Value = Action;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an action: {ACTION_FORMS}")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Action, E> {
        match v {
            "pass" => Ok(Action::Pass),
            "block" => Ok(Action::Block),
            "generalise" | "pseudonymise" => Err(E::custom(format_args!(
                "`{v}` needs a parameter: write {ACTION_FORMS}"
            ))),
            other => Err(E::custom(format_args!(
                "unknown action `{other}`{}: expected {ACTION_FORMS}",
                crate::support::suggest::hint(
                    other,
                    ["pass", "block", "generalise", "pseudonymise"]
                )
            ))),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Action, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format_args!(
                "empty action: expected {ACTION_FORMS}"
            )));
        };
        let action = match key.as_str() {
            "generalise" => {
                let name: String = map.next_value()?;
                let method = Method::from_name(&name).ok_or_else(|| {
                    de::Error::custom(format_args!(
                        "unknown generalisation method `{name}`{}: expected one of {}",
                        crate::support::suggest::hint(&name, Method::ALL.map(Method::name)),
                        Method::ALL.map(|m| format!("`{m}`")).join(", ")
                    ))
                })?;
                Action::Generalise(method)
            }
            "pseudonymise" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Params {
                    domain: String,
                }
                let params: Params = map.next_value()?;
                let domain = DomainId::new(&params.domain).ok_or_else(|| {
                    de::Error::custom(format_args!(
                        "invalid pseudonymisation domain `{}`: expected `<group>/<name>` of lowercase letters, digits and `-`",
                        params.domain
                    ))
                })?;
                Action::Pseudonymise(domain)
            }
            other => {
                return Err(de::Error::custom(format_args!(
                    "unknown action `{other}`{}: expected {ACTION_FORMS}",
                    crate::support::suggest::hint(other, ["generalise", "pseudonymise"])
                )))
            }
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("an action object has exactly one member"));
        }
        Ok(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Action, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn actions_round_trip_through_json() {
        for text in [
            r#""pass""#,
            r#""block""#,
            r#"{"generalise":"year-month"}"#,
            r#"{"pseudonymise":{"domain":"drenthe/mensenhandel"}}"#,
        ] {
            let action = parse(text).unwrap();
            assert_eq!(serde_json::to_string(&action).unwrap(), text);
        }
    }

    #[test]
    fn misspelt_actions_get_hints() {
        let err = parse(r#""pas""#).unwrap_err().to_string();
        assert!(err.contains("did you mean `pass`"), "{err}");
        let err = parse(r#"{"generalise":"yaer"}"#).unwrap_err().to_string();
        assert!(err.contains("did you mean `year`"), "{err}");
        assert!(parse(r#"{"pseudonymise":{"domain":"Nope"}}"#).is_err());
        assert!(parse(r#"{"generalise":"year","x":1}"#).is_err());
    }

    /// Every string of up to 6 characters over the domain alphabet: the pattern in the
    /// JSON Schemas accepts exactly what `DomainId::new` accepts.
    #[test]
    fn domain_pattern_agrees_with_new() {
        let pattern = regex::Regex::new(DomainId::PATTERN).unwrap();
        let alphabet = ['a', '1', '-', '/', 'A', '_'];
        let strings = crate::support::strings_over(&alphabet, 6);
        for s in strings {
            assert_eq!(
                pattern.is_match(&s),
                DomainId::new(&s).is_some(),
                "pattern and DomainId::new disagree on `{s}`"
            );
        }
    }

    #[test]
    fn join_examples() {
        let ym = Action::Generalise(Method::YearMonth);
        let y = Action::Generalise(Method::Year);
        let p = Action::Pseudonymise(DomainId::new("a/b").unwrap());
        assert_eq!(ym.join(&y), y);
        assert_eq!(Action::Pass.join(&p), p);
        assert_eq!(y.join(&p), Action::Block);
        assert_eq!(
            p.join(&Action::Pseudonymise(DomainId::new("a/c").unwrap())),
            Action::Block
        );
    }
}
