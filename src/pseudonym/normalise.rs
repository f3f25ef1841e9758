//! Normalisation: the canonical text of a value of each type, the message body of
//! the pseudonymisation scheme, and type checks without building it.

use crate::policy::schema::ValueType;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Why a value cannot be used as a value of its field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ValueProblem {
    /// The JSON type does not fit the field's value type.
    WrongType,
    /// A BSN that is not 9 digits passing the 11-proof.
    InvalidBsn,
    /// A value of the right JSON type that a generalisation cannot use.
    InvalidValue,
}

impl std::error::Error for ValueProblem {}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueProblem::WrongType => "wrong type",
            ValueProblem::InvalidBsn => "invalid bsn",
            ValueProblem::InvalidValue => "invalid value",
        })
    }
}

/// The normalised form of `value` as a value of type `value_type` (the scheme's
/// message body), or why it has none.
///
/// # Errors
///
/// [`ValueProblem::WrongType`] when the JSON type does not fit (a date not written
/// `YYYY-MM-DD` counts as wrong-typed), [`ValueProblem::InvalidBsn`] for a BSN that
/// fails the 11-proof.
pub fn normalise(value_type: ValueType, value: &Value) -> Result<Cow<'_, str>, ValueProblem> {
    match (value_type, value) {
        (ValueType::Bsn, Value::String(s)) => normalise_bsn(s).map(Cow::Owned),
        (ValueType::Name, Value::String(s)) => Ok(Cow::Owned(normalise_name(s))),
        (ValueType::Date, Value::String(s)) => {
            parse_date(s).ok_or(ValueProblem::WrongType)?;
            Ok(Cow::Borrowed(s))
        }
        (ValueType::Postcode, Value::String(s)) => Ok(Cow::Owned(
            s.chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_uppercase)
                .collect(),
        )),
        (ValueType::String | ValueType::Text, Value::String(s)) => Ok(Cow::Borrowed(s)),
        (ValueType::Boolean, Value::Bool(b)) => {
            Ok(Cow::Borrowed(if *b { "true" } else { "false" }))
        }
        (ValueType::Number, Value::Number(n)) => Ok(Cow::Owned(n.to_string())),
        _ => Err(ValueProblem::WrongType),
    }
}

/// Checks that `value` fits `value_type` without building the normalised form.
pub(crate) fn check_type(value_type: ValueType, value: &Value) -> Result<(), ValueProblem> {
    match (value_type, value) {
        (ValueType::Bsn, Value::String(s)) => normalise_bsn(s).map(drop),
        (ValueType::Date, Value::String(s)) => {
            parse_date(s).map(drop).ok_or(ValueProblem::WrongType)
        }
        (
            ValueType::Name | ValueType::Postcode | ValueType::String | ValueType::Text,
            Value::String(_),
        )
        | (ValueType::Boolean, Value::Bool(_))
        | (ValueType::Number, Value::Number(_)) => Ok(()),
        _ => Err(ValueProblem::WrongType),
    }
}

/// Parses a strict `YYYY-MM-DD` date.
pub(crate) fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b.get(r)
            .map(|d| d.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0')))
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

/// A BSN without spaces and dots, 8 digits padded to 9, checked by the 11-proof.
///
/// # Errors
///
/// [`ValueProblem::InvalidBsn`] when the result is not 9 digits, fails the 11-proof,
/// or has a weighted sum of 0.
pub fn normalise_bsn(raw: &str) -> Result<String, ValueProblem> {
    let mut digits: String = raw.chars().filter(|c| *c != ' ' && *c != '.').collect();
    if digits.len() == 8 {
        digits.insert(0, '0');
    }
    if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueProblem::InvalidBsn);
    }
    let sum: i64 = digits
        .bytes()
        .zip([9i64, 8, 7, 6, 5, 4, 3, 2, -1])
        .map(|(d, w)| i64::from(d - b'0') * w)
        .sum();
    if sum == 0 || sum % 11 != 0 {
        return Err(ValueProblem::InvalidBsn);
    }
    Ok(digits)
}

/// NFC, trimmed, white-space runs collapsed to one space, lowercased.
pub fn normalise_name(raw: &str) -> String {
    if raw.is_ascii() {
        // ASCII is already NFC, and its lowercase is ASCII lowercase.
        let mut out = String::with_capacity(raw.len());
        for word in raw.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        out.make_ascii_lowercase();
        return out;
    }
    let nfc: String = raw.nfc().collect();
    let collapsed = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_proof_edge_cases() {
        for valid in [
            "999998523",
            "999998535",
            "999996708",
            "999992934",
            "999995844",
            "9999.98.523",
            "999 998 523",
        ] {
            assert!(normalise_bsn(valid).is_ok(), "{valid}");
        }
        assert_eq!(normalise_bsn("9999.98.523").unwrap(), "999998523");
        for invalid in [
            "999998620",
            "000000000",
            "00000000",
            "12345678",
            "1234567890",
            "99999852a",
            "",
            "９９９９９８５２３",
        ] {
            assert_eq!(
                normalise_bsn(invalid),
                Err(ValueProblem::InvalidBsn),
                "{invalid}"
            );
        }
        // 8 digits get a leading zero before the 11-proof.
        assert_eq!(normalise_bsn("12345672").unwrap(), "012345672");
        assert_eq!(normalise_bsn("12345673"), Err(ValueProblem::InvalidBsn));
    }

    #[test]
    fn names_normalise() {
        assert_eq!(normalise_name("  Jan \t\n de   VRIES "), "jan de vries");
        assert_eq!(normalise_name("Zoe\u{0308}"), "zoë");
        assert_eq!(normalise_name("Zoë"), normalise_name("Zoe\u{0308}"));
    }
}
