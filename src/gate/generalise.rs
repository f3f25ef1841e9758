//! Generalisations: the coarser forms a value may cross in (birth year, age band,
//! four-digit postcode, a placeholder).

use crate::policy::action::Method;
use crate::policy::schema::ValueType;
use crate::pseudonym::{check_type, normalise, parse_date, ValueProblem};
use chrono::{Datelike, NaiveDate};
use serde_json::Value;

/// The text a `placeholder` generalisation puts in place of a value.
pub const PLACEHOLDER: &str = "[withheld]";

/// Age bands for `age-band`: lower bounds and labels.
const AGE_BANDS: [(u32, &str); 9] = [
    (65, "65+"),
    (55, "55-64"),
    (45, "45-54"),
    (35, "35-44"),
    (25, "25-34"),
    (18, "18-24"),
    (16, "16-17"),
    (12, "12-15"),
    (0, "0-11"),
];

pub(super) fn generalise(
    method: Method,
    value_type: ValueType,
    value: &Value,
    today: NaiveDate,
) -> Result<Value, ValueProblem> {
    check_type(value_type, value)?;
    let text = value.as_str().ok_or(ValueProblem::WrongType)?;
    let out = match method {
        Method::Year => format!(
            "{:04}",
            parse_date(text).ok_or(ValueProblem::WrongType)?.year()
        ),
        Method::YearMonth => {
            let d = parse_date(text).ok_or(ValueProblem::WrongType)?;
            format!("{:04}-{:02}", d.year(), d.month())
        }
        Method::AgeBand => {
            let born = parse_date(text).ok_or(ValueProblem::WrongType)?;
            let age = today.years_since(born).ok_or(ValueProblem::InvalidValue)?;
            let label = AGE_BANDS
                .iter()
                .find(|(low, _)| age >= *low)
                .map_or("0-11", |(_, l)| l);
            label.to_owned()
        }
        Method::Postcode4 => {
            let compact = normalise(ValueType::Postcode, value)?;
            let b = compact.as_bytes();
            let valid = b.len() == 6
                && b.first().is_some_and(|c| (b'1'..=b'9').contains(c))
                && b.iter().take(4).all(u8::is_ascii_digit)
                && b.iter().skip(4).all(u8::is_ascii_uppercase);
            if !valid {
                return Err(ValueProblem::InvalidValue);
            }
            compact
                .get(..4)
                .ok_or(ValueProblem::InvalidValue)?
                .to_owned()
        }
        Method::Placeholder => PLACEHOLDER.to_owned(),
    };
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalisations() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let date = Value::String("1990-07-15".into());
        let g = |m, t, v: &Value| generalise(m, t, v, today);
        assert_eq!(
            g(Method::Year, ValueType::Date, &date),
            Ok(Value::String("1990".into()))
        );
        assert_eq!(
            g(Method::YearMonth, ValueType::Date, &date),
            Ok(Value::String("1990-07".into()))
        );
        assert_eq!(
            g(Method::AgeBand, ValueType::Date, &date),
            Ok(Value::String("35-44".into()))
        );
        let minor = Value::String("2010-06-02".into());
        assert_eq!(
            g(Method::AgeBand, ValueType::Date, &minor),
            Ok(Value::String("12-15".into()))
        );
        let future = Value::String("2030-01-01".into());
        assert_eq!(
            g(Method::AgeBand, ValueType::Date, &future),
            Err(ValueProblem::InvalidValue)
        );
        let pc = Value::String("9401 ab".into());
        assert_eq!(
            g(Method::Postcode4, ValueType::Postcode, &pc),
            Ok(Value::String("9401".into()))
        );
        let bad = Value::String("0401AB".into());
        assert_eq!(
            g(Method::Postcode4, ValueType::Postcode, &bad),
            Err(ValueProblem::InvalidValue)
        );
        assert_eq!(
            g(
                Method::Year,
                ValueType::Date,
                &Value::String("15-07-1990".into())
            ),
            Err(ValueProblem::WrongType)
        );
        assert_eq!(
            g(
                Method::Placeholder,
                ValueType::Text,
                &Value::String("secret".into())
            ),
            Ok(Value::String(PLACEHOLDER.into()))
        );
    }
}
