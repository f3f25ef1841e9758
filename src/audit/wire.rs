//! The wire forms of the decision vocabulary inside audit entries: refusals, removal
//! reasons, actions, clauses and regimes. The log's format is fixed here and only
//! here, by private types: renaming or adding a variant of a public type cannot
//! change a sealed log, because every conversion below matches exhaustively and
//! spells each wire name out.

use crate::decision::{Refusal, RemovalReason, Side};
use crate::plan::{ClauseRef, Via};
use crate::policy::action::{Action, Method};
use crate::policy::agreement::{NotInForce, Regime};
use crate::support::ident::loggable_name;
use chrono::NaiveDate;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// Why a transfer was refused, as an entry's `reason` member.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub(super) enum WireRefusal<'a> {
    UnknownOrganisation {
        side: WireSide,
        organisation: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        suggestion: Option<&'a str>,
    },
    UnknownPurpose {
        purpose: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        suggestion: Option<&'a str>,
    },
    NotInForce {
        side: WireSide,
        agreement: &'a str,
        version: &'a str,
        #[serde(flatten)]
        why: WireNotInForce,
    },
    PurposeNotAgreed {
        side: WireSide,
        agreement: &'a str,
        purpose: &'a str,
    },
    NoRule {
        side: WireSide,
        agreement: &'a str,
    },
    MissingKey {
        domain: &'a str,
    },
    ConditionNotMet {
        agreement: &'a str,
        rule: &'a str,
        path: &'a str,
    },
    AggregatesOnly {
        min_count: u32,
    },
    RetentionExpired {
        event: &'a str,
    },
}

impl<'a> WireRefusal<'a> {
    /// The wire form of `refusal`. Names the caller gave (an unknown organisation or
    /// purpose) are kept only when they look like identifiers: anything could have
    /// been typed there, personal data included.
    pub(super) fn of(refusal: &'a Refusal) -> WireRefusal<'a> {
        match refusal {
            Refusal::UnknownOrganisation {
                side,
                organisation,
                suggestion,
            } => WireRefusal::UnknownOrganisation {
                side: WireSide::of(*side),
                organisation: loggable_name(organisation),
                suggestion: suggestion.as_deref(),
            },
            Refusal::UnknownPurpose {
                purpose,
                suggestion,
            } => WireRefusal::UnknownPurpose {
                purpose: loggable_name(purpose),
                suggestion: suggestion.as_deref(),
            },
            Refusal::NotInForce {
                side,
                agreement,
                version,
                why,
            } => WireRefusal::NotInForce {
                side: WireSide::of(*side),
                agreement,
                version,
                why: WireNotInForce::of(*why),
            },
            Refusal::PurposeNotAgreed {
                side,
                agreement,
                purpose,
            } => WireRefusal::PurposeNotAgreed {
                side: WireSide::of(*side),
                agreement,
                purpose: loggable_name(purpose),
            },
            Refusal::NoRule { side, agreement } => WireRefusal::NoRule {
                side: WireSide::of(*side),
                agreement,
            },
            Refusal::MissingKey { domain } => WireRefusal::MissingKey { domain },
            Refusal::ConditionNotMet {
                agreement,
                rule,
                path,
            } => WireRefusal::ConditionNotMet {
                agreement,
                rule,
                path,
            },
            Refusal::AggregatesOnly { min_count } => WireRefusal::AggregatesOnly {
                min_count: *min_count,
            },
            Refusal::RetentionExpired { event } => WireRefusal::RetentionExpired { event },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum WireSide {
    Sender,
    Recipient,
}

impl WireSide {
    fn of(side: Side) -> WireSide {
        match side {
            Side::Sender => WireSide::Sender,
            Side::Recipient => WireSide::Recipient,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case", tag = "why")]
pub(super) enum WireNotInForce {
    Draft,
    NotYetValid { from: NaiveDate },
    Expired { until: NaiveDate },
}

impl WireNotInForce {
    fn of(why: NotInForce) -> WireNotInForce {
        match why {
            NotInForce::Draft => WireNotInForce::Draft,
            NotInForce::NotYetValid { from } => WireNotInForce::NotYetValid { from },
            NotInForce::Expired { until } => WireNotInForce::Expired { until },
        }
    }
}

/// A removal reason as an entry names it.
pub(super) fn removal_reason(reason: RemovalReason) -> &'static str {
    match reason {
        RemovalReason::UnknownField => "unknown-field",
        RemovalReason::WrongType => "wrong-type",
        RemovalReason::InvalidBsn => "invalid-bsn",
        RemovalReason::InvalidValue => "invalid-value",
        RemovalReason::OutOfBounds => "out-of-bounds",
        RemovalReason::IdentifierInPassingField => "identifier-in-passing-field",
        RemovalReason::ConditionNotMet => "condition-not-met",
    }
}

/// A regime as an entry names it.
pub(super) fn regime(regime: Regime) -> &'static str {
    match regime {
        Regime::Avg => "avg",
        Regime::Wgs => "wgs",
        Regime::Wpg => "wpg",
        Regime::Wjsg => "wjsg",
    }
}

fn method(method: Method) -> &'static str {
    match method {
        Method::Year => "year",
        Method::YearMonth => "year-month",
        Method::AgeBand => "age-band",
        Method::Postcode4 => "postcode4",
        Method::Placeholder => "placeholder",
    }
}

/// An action as a plan entry writes it: `"pass"`, `"block"`,
/// `{"generalise": METHOD}` or `{"pseudonymise": {"domain": DOMAIN}}`.
pub(super) struct WireAction<'a>(pub(super) &'a Action);

impl Serialize for WireAction<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Action::Pass => s.serialize_str("pass"),
            Action::Block => s.serialize_str("block"),
            Action::Generalise(m) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("generalise", method(*m))?;
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

/// The clause that decided a field on one side, as a plan entry names it.
#[derive(Serialize)]
pub(super) struct WireClause<'a> {
    agreement: &'a str,
    version: &'a str,
    rule: &'a str,
    via: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    covenant: Option<&'a str>,
}

impl<'a> WireClause<'a> {
    pub(super) fn of(clause: &'a ClauseRef) -> WireClause<'a> {
        WireClause {
            agreement: &clause.agreement,
            version: &clause.version,
            rule: &clause.rule,
            via: match clause.via {
                Via::Path => "path",
                Via::Category => "category",
            },
            covenant: clause.covenant.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire names are those of the public types' serde forms today; should the
    /// public forms ever change, the log keeps its own.
    #[test]
    fn wire_names_match_the_public_forms_they_were_taken_from() {
        for m in Method::ALL {
            assert_eq!(method(m), m.name());
            let a = Action::Generalise(m);
            assert_eq!(
                serde_json::to_string(&WireAction(&a)).unwrap(),
                serde_json::to_string(&a).unwrap()
            );
        }
        for r in [Regime::Avg, Regime::Wgs, Regime::Wpg, Regime::Wjsg] {
            assert_eq!(regime(r), r.to_string());
        }
        for r in [
            RemovalReason::UnknownField,
            RemovalReason::WrongType,
            RemovalReason::InvalidBsn,
            RemovalReason::InvalidValue,
            RemovalReason::OutOfBounds,
            RemovalReason::IdentifierInPassingField,
        ] {
            assert_eq!(
                serde_json::to_value(removal_reason(r)).unwrap(),
                serde_json::to_value(r).unwrap()
            );
        }
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let refusals = [
            Refusal::NotInForce {
                side: Side::Recipient,
                agreement: "drenthe/ggd".into(),
                version: "2025.1".into(),
                why: NotInForce::Expired { until: day },
            },
            Refusal::UnknownOrganisation {
                side: Side::Sender,
                organisation: "drenthe/gdd".into(),
                suggestion: Some("drenthe/ggd".into()),
            },
            Refusal::MissingKey {
                domain: "drenthe/mensenhandel".into(),
            },
        ];
        for refusal in &refusals {
            assert_eq!(
                serde_json::to_value(WireRefusal::of(refusal)).unwrap(),
                serde_json::to_value(refusal).unwrap()
            );
        }
    }

    #[test]
    fn refusals_log_caller_given_names_only_when_they_are_identifiers() {
        let refusal = Refusal::UnknownPurpose {
            purpose: "Jan Jansen 999998523".into(),
            suggestion: None,
        };
        let text = serde_json::to_string(&WireRefusal::of(&refusal)).unwrap();
        assert_eq!(
            text,
            r#"{"reason":"unknown-purpose","purpose":"<not an identifier>"}"#
        );
    }
}
