//! Calendar rules: agreement dates are days in Europe/Amsterdam, retention is a
//! period of years, months and days.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc, Weekday};
use std::fmt;

/// The calendar day in Europe/Amsterdam at `at`.
///
/// Amsterdam is UTC+1, and UTC+2 from 01:00 UTC on the last Sunday of March to
/// 01:00 UTC on the last Sunday of October (the EU rule since 1996).
pub fn amsterdam_date(at: DateTime<Utc>) -> NaiveDate {
    let year = at.year();
    let summer = match (last_sunday_1am(year, 3), last_sunday_1am(year, 10)) {
        (Some(start), Some(end)) => at >= start && at < end,
        _ => false,
    };
    let offset = if summer { 2 } else { 1 };
    // At the very end of chrono's range the local day is past it: keep the UTC day.
    at.checked_add_signed(Duration::hours(offset))
        .unwrap_or(at)
        .date_naive()
}

fn last_sunday_1am(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last_day = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = last_day.weekday().num_days_from_sunday();
    let sunday = last_day.checked_sub_signed(Duration::days(i64::from(back)))?;
    debug_assert_eq!(sunday.weekday(), Weekday::Sun);
    Some(Utc.from_utc_datetime(&sunday.and_hms_opt(1, 0, 0)?))
}

/// A retention period: an ISO 8601 duration of years, months and days (`P2Y`, `P1Y6M`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    months: u32,
    days: u32,
}

impl Period {
    /// The form [`Period::parse`] accepts, as a regular expression (for the JSON
    /// Schemas); the parser also caps the period at 100 years (1200 months, 36600 days).
    pub const PATTERN: &'static str =
        "^P([0-9]{1,5}Y([0-9]{1,5}M)?([0-9]{1,5}D)?|[0-9]{1,5}M([0-9]{1,5}D)?|[0-9]{1,5}D)$";

    /// Parses `PnYnMnD` (each part optional, at least one present, at most 100 years).
    pub fn parse(text: &str) -> Option<Period> {
        let mut rest = text.strip_prefix('P')?;
        let (mut years, mut months, mut days) = (0u32, 0u32, 0u32);
        let mut seen_any = false;
        for (unit, slot) in [('Y', &mut years), ('M', &mut months), ('D', &mut days)] {
            if let Some(end) = rest.find(unit) {
                let digits = rest.get(..end)?;
                if digits.is_empty()
                    || digits.len() > 5
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                *slot = digits.parse().ok()?;
                rest = rest.get(end + 1..)?;
                seen_any = true;
            }
        }
        let months = years.checked_mul(12)?.checked_add(months)?;
        if !rest.is_empty() || !seen_any || months > 1200 || days > 36_600 {
            return None;
        }
        Some(Period { months, days })
    }

    /// The last day data received on `start` may be kept.
    pub fn deadline(self, start: NaiveDate) -> Option<NaiveDate> {
        start
            .checked_add_months(Months::new(self.months))?
            .checked_add_days(chrono::Days::new(u64::from(self.days)))
    }

    /// The first day of the period that ends on `end`: `end` minus the months, then
    /// minus the days (so `P1Y` back from 2026-03-02 is 2025-03-02).
    pub fn back_from(self, end: NaiveDate) -> Option<NaiveDate> {
        end.checked_sub_months(Months::new(self.months))?
            .checked_sub_days(chrono::Days::new(u64::from(self.days)))
    }

    /// An upper bound in days, for comparing periods.
    pub fn max_days(self) -> u64 {
        u64::from(self.months) * 31 + u64::from(self.days)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        let (years, months) = (self.months / 12, self.months % 12);
        if years > 0 {
            write!(f, "{years}Y")?;
        }
        if months > 0 {
            write!(f, "{months}M")?;
        }
        if self.days > 0 || self.months == 0 {
            write!(f, "{}D", self.days)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn amsterdam_dates_follow_dst() {
        // Winter: 23:30 UTC is already the next day in Amsterdam (UTC+1).
        assert_eq!(
            amsterdam_date(utc("2026-01-15T23:30:00Z")).to_string(),
            "2026-01-16"
        );
        assert_eq!(
            amsterdam_date(utc("2026-01-15T22:59:00Z")).to_string(),
            "2026-01-15"
        );
        // Summer: UTC+2.
        assert_eq!(
            amsterdam_date(utc("2026-07-15T22:00:00Z")).to_string(),
            "2026-07-16"
        );
        assert_eq!(
            amsterdam_date(utc("2026-07-15T21:59:59Z")).to_string(),
            "2026-07-15"
        );
        // 2026: DST from 29 March to 25 October, 01:00 UTC.
        assert_eq!(
            amsterdam_date(utc("2026-03-29T22:30:00Z")).to_string(),
            "2026-03-30"
        );
        assert_eq!(
            amsterdam_date(utc("2026-10-25T22:30:00Z")).to_string(),
            "2026-10-25"
        );
    }

    #[test]
    fn periods_parse_and_add() {
        let p = Period::parse("P1Y6M").unwrap();
        assert_eq!(p.to_string(), "P1Y6M");
        let start = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(
            Period::parse("P1Y")
                .unwrap()
                .deadline(start)
                .unwrap()
                .to_string(),
            "2025-02-28"
        );
        assert_eq!(
            Period::parse("P90D")
                .unwrap()
                .deadline(start)
                .unwrap()
                .to_string(),
            "2024-05-29"
        );
        for bad in [
            "", "P", "2Y", "P2", "PY", "P-1Y", "P1D1Y", "P1W", "P1000Y", "P1YT1H",
        ] {
            assert!(Period::parse(bad).is_none(), "{bad}");
        }
    }

    /// Every string of up to 5 characters over the period alphabet, and a few more: the
    /// pattern in the JSON Schemas accepts what the parser accepts, up to the parser's
    /// 100-year cap.
    #[test]
    fn pattern_agrees_with_the_parser() {
        let pattern = regex::Regex::new(Period::PATTERN).unwrap();
        let alphabet = ['P', 'Y', 'M', 'D', 'T', 'W', '1', '0', '-'];
        let mut strings = crate::support::strings_over(&alphabet, 5);
        let more = [
            "P36600D",
            "P36601D",
            "P123456D",
            "P100Y",
            "P1200M",
            "P1Y12M31D",
        ];
        strings.extend(more.map(String::from));
        let within_cap = |s: &str| {
            let (mut months, mut days, mut number) = (0u64, 0u64, 0u64);
            for c in s.chars() {
                match c {
                    '0'..='9' => number = number * 10 + u64::from(c.to_digit(10).unwrap()),
                    'Y' => (months, number) = (months + number * 12, 0),
                    'M' => (months, number) = (months + number, 0),
                    'D' => (days, number) = (days + number, 0),
                    _ => {}
                }
            }
            months <= 1200 && days <= 36_600
        };
        for s in strings {
            assert_eq!(
                pattern.is_match(&s) && within_cap(&s),
                Period::parse(&s).is_some(),
                "pattern and parser disagree on `{s}`"
            );
        }
    }
}
