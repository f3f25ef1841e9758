//! Agreements: the JSON form authors write, and the checked form the gate compiles.

use crate::action::Action;
use crate::schema::FieldId;
use crate::time::Period;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Whether an agreement has been signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Signed by all parties: can be in force.
    Signed,
    /// Not signed: never in force.
    Draft,
}

/// The legal regime a transfer rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgreementFile {
    pub organisation: String,
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    pub version: String,
    pub status: Status,
    pub valid: ValidityFile,
    pub regime: Regime,
    #[serde(default)]
    pub max_retention: Option<String>,
    pub purposes: BTreeMap<String, PurposeFile>,
    #[serde(default)]
    pub outbound: Vec<RuleFile>,
    #[serde(default)]
    pub inbound: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidityFile {
    pub from: NaiveDate,
    pub until: NaiveDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurposeFile {
    pub legal_basis: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    pub id: String,
    #[serde(default)]
    pub to: Option<SelectorFile>,
    #[serde(default)]
    pub from: Option<SelectorFile>,
    pub purpose: String,
    #[serde(default)]
    pub retention: Option<String>,
    #[serde(default)]
    pub regime: Option<Regime>,
    #[serde(default)]
    pub covenant: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub categories: BTreeMap<String, Action>,
    #[serde(default)]
    pub paths: BTreeMap<String, Action>,
    #[serde(default)]
    pub when: Option<ConditionFile>,
    #[serde(default)]
    pub legal_basis: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SelectorFile {
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConditionFile {
    pub path: String,
    #[serde(rename = "in")]
    pub allowed: Vec<String>,
}

/// Which counterparties a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Whether the selector picks `agreement`'s organisation.
    pub fn matches(&self, agreement: &Agreement) -> bool {
        match self {
            Selector::Organisation(id) => *id == agreement.id,
            Selector::Kind { kind, province } => {
                *kind == agreement.kind
                    && province.as_ref().is_none_or(|p| *p == agreement.province)
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

/// A condition on a record value that a rule needs (e.g. consent given).
#[derive(Clone, Debug)]
pub struct Condition {
    /// The schema field.
    pub field: FieldId,
    /// Its path.
    pub path: Arc<str>,
    pub(crate) segments: Vec<Box<str>>,
    /// The values (normalised text) that satisfy it.
    pub allowed: Vec<String>,
}

/// A checked rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Stable id, unique within the agreement.
    pub id: Arc<str>,
    /// The counterparties it applies to.
    pub selector: Selector,
    /// The purpose it serves.
    pub purpose: String,
    /// How long the recipient may keep the data (outbound rules).
    pub retention: Option<Period>,
    /// A regime overriding the agreement's.
    pub regime: Option<Regime>,
    /// The article of the signed covenant it implements.
    pub covenant: Option<Arc<str>>,
    /// Why the rule is as it is.
    pub note: Option<Arc<str>>,
    /// Action per data category.
    pub categories: BTreeMap<String, Action>,
    /// Action per field, overriding the category's.
    pub paths: BTreeMap<FieldId, Action>,
    /// A condition records must meet.
    pub condition: Option<Condition>,
    /// The legal bases this rule rests on: a subset of its purpose's bases, or all of
    /// them when the rule names none.
    pub legal_basis: Vec<Arc<str>>,
    /// Where the rule stands in its file (JSON pointer).
    pub pointer: String,
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
    pub id: Arc<str>,
    /// The province part of the id.
    pub province: String,
    /// The organisation's kind, e.g. `ggd`.
    pub kind: String,
    /// A human name.
    pub name: Option<String>,
    /// The agreement's version.
    pub version: Arc<str>,
    /// Signed or draft.
    pub status: Status,
    /// First day in force (Europe/Amsterdam).
    pub valid_from: NaiveDate,
    /// Last day in force (Europe/Amsterdam).
    pub valid_until: NaiveDate,
    /// The regime it rests on.
    pub regime: Regime,
    /// The longest retention any rule may set.
    pub max_retention: Option<Period>,
    /// Purposes with their legal-basis ids.
    pub purposes: BTreeMap<String, Vec<Arc<str>>>,
    /// What it may release.
    pub outbound: Vec<Rule>,
    /// What it may receive.
    pub inbound: Vec<Rule>,
    /// SHA-256 of the file's exact bytes.
    pub sha256: [u8; 32],
    /// The file it came from.
    pub file: String,
}

/// Why an agreement is not in force on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "why")]
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
        crate::pseudonym::hex(&self.sha256)
    }
}
