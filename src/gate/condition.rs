//! Evaluating checked conditions (`policy/condition.rs`) on a record, in three-valued
//! logic: a test of a value that is missing, `null`, of the wrong type or outside its
//! field's bounds is *unknown*, `not` keeps unknown unknown, and `all` / `any` follow
//! Kleene's tables. Only a condition that is true admits data, so an unknown value
//! never does, not even under `not`.

use crate::policy::condition::{Comparison, Condition, Test};
use crate::policy::schema::{Schema, ValueType};
use crate::pseudonym::{normalise, parse_date};
use chrono::NaiveDate;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The value of a condition on one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Truth {
    /// It holds.
    True,
    /// It does not hold.
    False,
    /// A value it needs is missing or unusable, so it cannot be decided.
    Unknown,
}

impl Truth {
    fn of(holds: bool) -> Truth {
        if holds {
            Truth::True
        } else {
            Truth::False
        }
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

/// What a condition reads a record with: the schema (for field bounds) and the
/// transfer day (for `within`).
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) schema: &'a Schema,
    pub(crate) today: NaiveDate,
}

impl Context<'_> {
    /// The condition's value on `record`.
    pub(crate) fn evaluate(&self, condition: &Condition, record: &Map<String, Value>) -> Truth {
        match condition {
            // Kleene: false wins `all`, true wins `any`, else unknown if any part is.
            Condition::All(parts) => {
                let mut out = Truth::True;
                for part in parts {
                    match self.evaluate(part, record) {
                        Truth::False => return Truth::False,
                        Truth::Unknown => out = Truth::Unknown,
                        Truth::True => {}
                    }
                }
                out
            }
            Condition::Any(parts) => {
                let mut out = Truth::False;
                for part in parts {
                    match self.evaluate(part, record) {
                        Truth::True => return Truth::True,
                        Truth::Unknown => out = Truth::Unknown,
                        Truth::False => {}
                    }
                }
                out
            }
            Condition::Not(part) => self.evaluate(part, record).not(),
            Condition::Test(test) => self.test(test, record),
        }
    }

    /// Whether the condition holds: true, not merely not false.
    pub(crate) fn holds(&self, condition: &Condition, record: &Map<String, Value>) -> bool {
        self.evaluate(condition, record) == Truth::True
    }

    /// The field to name when `condition` does not hold: the first it reads whose
    /// value is missing or unusable, else the first it reads.
    pub(crate) fn culprit(&self, condition: &Condition, record: &Map<String, Value>) -> Arc<str> {
        let tests = condition.tests();
        tests
            .iter()
            .find(|t| self.test(t, record) == Truth::Unknown)
            .or(tests.first())
            .map_or_else(|| Arc::from(""), |t| t.path.clone())
    }

    fn test(&self, test: &Test, record: &Map<String, Value>) -> Truth {
        let Some(value) = lookup(record, &test.segments) else {
            return Truth::Unknown;
        };
        match &test.comparison {
            Comparison::In(values) => {
                let Ok(text) = normalise(test.value_type, value) else {
                    return Truth::Unknown;
                };
                let in_bounds = test.value_type != ValueType::String
                    || self
                        .schema
                        .field_by_id(test.field)
                        .is_some_and(|f| f.bounds.admit(&text));
                if !in_bounds {
                    return Truth::Unknown;
                }
                Truth::of(values.iter().any(|v| *v == *text))
            }
            Comparison::Is(expected) => match value {
                Value::Bool(b) => Truth::of(b == expected),
                _ => Truth::Unknown,
            },
            comparison => {
                let Some(day) = value.as_str().and_then(parse_date) else {
                    return Truth::Unknown;
                };
                match comparison {
                    Comparison::Before(d) => Truth::of(day < *d),
                    Comparison::After(d) => Truth::of(day > *d),
                    Comparison::OnOrBefore(d) => Truth::of(day <= *d),
                    Comparison::OnOrAfter(d) => Truth::of(day >= *d),
                    Comparison::Within(period) => match period.back_from(self.today) {
                        Some(start) => Truth::of(start <= day && day <= self.today),
                        None => Truth::Unknown,
                    },
                    // `In` and `Is` are handled above; a comparison added later
                    // decides nothing until it is taught here.
                    _ => Truth::Unknown,
                }
            }
        }
    }
}

/// The value at `segments` of `record`, if there is one that is not `null`.
pub(crate) fn lookup<'r>(
    record: &'r Map<String, Value>,
    segments: &[Box<str>],
) -> Option<&'r Value> {
    let (first, rest) = segments.split_first()?;
    let mut at = record.get(&**first)?;
    for segment in rest {
        at = at.as_object()?.get(&**segment)?;
    }
    (!at.is_null()).then_some(at)
}

/// The value at the schema path `path` (`case.closed_on`) of `record`, if there is one
/// that is not `null`.
pub(crate) fn lookup_path<'r>(record: &'r Map<String, Value>, path: &str) -> Option<&'r Value> {
    let mut segments = path.split('.');
    let mut at = record.get(segments.next()?)?;
    for segment in segments {
        at = at.as_object()?.get(segment)?;
    }
    (!at.is_null()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::diag::Diagnostics;
    use proptest::prelude::*;
    use serde_json::json;

    fn schema() -> Schema {
        let text = json!({
            "version": "t",
            "purposes": {},
            "legal_bases": {},
            "categories": {"c": {"title": "c"}},
            "fields": {
                "a.flag": {"category": "c", "type": "boolean"},
                "a.status": {"category": "c", "type": "string", "enum": ["open", "closed"]},
                "a.day": {"category": "c", "type": "date"},
                "a.num": {"category": "c", "type": "number"}
            }
        })
        .to_string();
        Schema::parse("t.json", &text, &mut Diagnostics::default()).unwrap()
    }

    fn condition(schema: &Schema, value: &Value) -> Condition {
        crate::policy::condition::check(schema, value, "", &mut |at, message| {
            panic!("{at}: {message}")
        })
        .unwrap()
    }

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    fn eval(schema: &Schema, c: &Value, r: &Value) -> Truth {
        let cx = Context {
            schema,
            today: today(),
        };
        cx.evaluate(&condition(schema, c), &record(r.clone()))
    }

    use Truth::{False as F, True as T, Unknown as U};

    #[test]
    fn tests_are_unknown_on_missing_null_wrong_typed_and_out_of_bounds_values() {
        let s = schema();
        let is_open = json!({"path": "a.status", "in": ["open"]});
        for (r, expected) in [
            (json!({"a": {"status": "open"}}), T),
            (json!({"a": {"status": "closed"}}), F),
            (json!({}), U),
            (json!({"a": null}), U),
            (json!({"a": {"status": null}}), U),
            (json!({"a": {"status": 1}}), U),
            (json!({"a": "open"}), U),
            // Outside the field's enum: the gate would remove it, so it decides nothing.
            (json!({"a": {"status": "OPEN"}}), U),
        ] {
            assert_eq!(eval(&s, &is_open, &r), expected, "{r}");
        }
        let flag = json!({"path": "a.flag", "is": true});
        assert_eq!(eval(&s, &flag, &json!({"a": {"flag": true}})), T);
        assert_eq!(eval(&s, &flag, &json!({"a": {"flag": false}})), F);
        assert_eq!(eval(&s, &flag, &json!({"a": {"flag": "true"}})), U);
        let num = json!({"path": "a.num", "in": ["12.5", "3"]});
        assert_eq!(eval(&s, &num, &json!({"a": {"num": 3}})), T);
        assert_eq!(eval(&s, &num, &json!({"a": {"num": 12.5}})), T);
        assert_eq!(eval(&s, &num, &json!({"a": {"num": "3"}})), U);
    }

    #[test]
    fn date_comparisons_and_within_count_days() {
        let s = schema();
        let r = |d: &str| json!({"a": {"day": d}});
        let cases = [
            ("before", "2025-06-01", "2025-05-31", T),
            ("before", "2025-06-01", "2025-06-01", F),
            ("after", "2025-06-01", "2025-06-02", T),
            ("after", "2025-06-01", "2025-06-01", F),
            ("on_or_before", "2025-06-01", "2025-06-01", T),
            ("on_or_before", "2025-06-01", "2025-06-02", F),
            ("on_or_after", "2025-06-01", "2025-06-01", T),
            ("on_or_after", "2025-06-01", "2025-05-31", F),
            ("before", "2025-06-01", "2025-6-1", U),
            ("before", "2025-06-01", "2025-02-30", U),
        ];
        for (op, limit, day, expected) in cases {
            let c = json!({"path": "a.day", op: limit});
            assert_eq!(eval(&s, &c, &r(day)), expected, "{day} {op} {limit}");
        }
        // Transfer on 2026-03-02: P1Y covers 2025-03-02 up to and including that day.
        let within = json!({"path": "a.day", "within": "P1Y"});
        for (day, expected) in [
            ("2025-03-02", T),
            ("2025-03-01", F),
            ("2026-03-02", T),
            ("2026-03-03", F),
            ("garbage", U),
        ] {
            assert_eq!(eval(&s, &within, &r(day)), expected, "{day}");
        }
        assert_eq!(eval(&s, &within, &json!({})), U);
    }

    /// Kleene's tables, with a part of each value: `not`, `all` and `any`.
    #[test]
    fn combinators_follow_the_three_valued_truth_tables() {
        let s = schema();
        // The truth of this test is chosen by the record: open, closed, missing.
        let part = json!({"path": "a.status", "in": ["open"]});
        let other = json!({"path": "a.flag", "is": true});
        let status = |t: Truth| match t {
            T => json!("open"),
            F => json!("closed"),
            U => Value::Null,
        };
        let flag = |t: Truth| match t {
            T => json!(true),
            F => json!(false),
            U => Value::Null,
        };
        let and = |a: Truth, b: Truth| match (a, b) {
            (F, _) | (_, F) => F,
            (T, T) => T,
            _ => U,
        };
        let or = |a: Truth, b: Truth| match (a, b) {
            (T, _) | (_, T) => T,
            (F, F) => F,
            _ => U,
        };
        for a in [T, F, U] {
            assert_eq!(
                eval(
                    &s,
                    &json!({"not": part}),
                    &json!({"a": {"status": status(a)}})
                ),
                a.not()
            );
            for b in [T, F, U] {
                let r = json!({"a": {"status": status(a), "flag": flag(b)}});
                assert_eq!(eval(&s, &json!({"all": [part, other]}), &r), and(a, b));
                assert_eq!(eval(&s, &json!({"any": [part, other]}), &r), or(a, b));
            }
        }
        // A missing value admits nothing, under any number of `not`s.
        let cx = Context {
            schema: &s,
            today: today(),
        };
        let not_not = condition(&s, &json!({"not": {"not": part}}));
        assert!(!cx.holds(&condition(&s, &json!({"not": part})), &Map::new()));
        assert!(!cx.holds(&not_not, &Map::new()));
        assert_eq!(cx.culprit(&not_not, &Map::new()).as_ref(), "a.status");
    }

    /// Conditions over the four fields, nested up to four deep.
    fn any_condition() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            prop::sample::select(vec!["open", "closed"])
                .prop_map(|v| json!({"path": "a.status", "in": [v]})),
            any::<bool>().prop_map(|b| json!({"path": "a.flag", "is": b})),
            (
                prop::sample::select(vec!["before", "after", "on_or_before", "on_or_after"]),
                0u32..60
            )
                .prop_map(|(op, d)| json!({"path": "a.day", op: day(d)})),
            (1u32..40).prop_map(|n| json!({"path": "a.day", "within": format!("P{n}D")})),
            (0u32..4).prop_map(|n| json!({"path": "a.num", "in": [n.to_string()]})),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({"all": v})),
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({"any": v})),
                inner.prop_map(|c| json!({"not": c})),
            ]
        })
    }

    /// Days around the transfer day, 2026-03-02.
    fn day(offset: u32) -> String {
        (today() - chrono::Days::new(u64::from(offset)) + chrono::Days::new(10)).to_string()
    }

    /// Records with each field missing, present, or of the wrong type.
    fn any_record() -> impl Strategy<Value = Value> {
        let status = prop_oneof![
            Just(Value::Null),
            Just(json!("open")),
            Just(json!("closed")),
            Just(json!("shut")),
            Just(json!(7))
        ];
        let flag = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            Just(json!("yes"))
        ];
        let date = prop_oneof![
            Just(Value::Null),
            (0u32..60).prop_map(|d| json!(day(d))),
            Just(json!("01-02-2026"))
        ];
        let num = prop_oneof![
            Just(Value::Null),
            (0u32..4).prop_map(|n| json!(n)),
            Just(json!("2"))
        ];
        (status, flag, date, num).prop_map(|(status, flag, day, num)| {
            let mut a = Map::new();
            for (k, v) in [
                ("status", status),
                ("flag", flag),
                ("day", day),
                ("num", num),
            ] {
                if !v.is_null() {
                    a.insert(k.into(), v);
                }
            }
            json!({ "a": a })
        })
    }

    proptest! {
        /// `not (not c)` is `c`, and De Morgan's laws hold, on any record: Kleene's
        /// logic keeps both, unknown included.
        #[test]
        fn double_negation_and_de_morgan_hold(
            a in any_condition(),
            b in any_condition(),
            r in any_record(),
        ) {
            let s = schema();
            let ea = eval(&s, &a, &r);
            prop_assert_eq!(eval(&s, &json!({"not": {"not": a}}), &r), ea);
            prop_assert_eq!(
                eval(&s, &json!({"not": {"all": [a, b]}}), &r),
                eval(&s, &json!({"any": [{"not": a}, {"not": b}]}), &r)
            );
            prop_assert_eq!(
                eval(&s, &json!({"not": {"any": [a, b]}}), &r),
                eval(&s, &json!({"all": [{"not": a}, {"not": b}]}), &r)
            );
        }

        /// Forgetting a value never makes a condition hold (or fail) that did not:
        /// the result stays or becomes unknown. So with every value it reads
        /// missing, no condition admits data.
        #[test]
        fn a_missing_value_never_admits(
            c in any_condition(),
            r in any_record(),
            forget in prop::sample::select(vec!["status", "flag", "day", "num"]),
        ) {
            let s = schema();
            let before = eval(&s, &c, &r);
            let mut fewer = r.clone();
            fewer["a"].as_object_mut().unwrap().remove(forget);
            let after = eval(&s, &c, &fewer);
            prop_assert!(after == before || after == Truth::Unknown, "{before:?} -> {after:?}");
            prop_assert_eq!(eval(&s, &c, &json!({})), Truth::Unknown);
            prop_assert_eq!(eval(&s, &c, &json!({"a": {}})), Truth::Unknown);
        }
    }
}
