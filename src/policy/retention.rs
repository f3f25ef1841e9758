//! Checking a rule's retention: periods (ISO 8601 durations), events of the schema,
//! and the agreement's maximum, which no period may exceed wherever it starts.

use super::agreement::{Retention, RetentionFile};
use super::schema::Schema;
use crate::support::json::escape_pointer_segment as esc;
use crate::support::suggest::hint;
use crate::support::time::Period;

/// Where a problem is (a JSON pointer) and what it is.
pub(crate) type Report<'a> = &'a mut dyn FnMut(&str, String);

/// Parses a period, reporting an invalid one at `pointer`.
pub(crate) fn period(pointer: &str, text: &str, error: Report<'_>) -> Option<Period> {
    let period = Period::parse(text);
    if period.is_none() {
        error(
            pointer,
            format!("invalid period `{text}`: expected an ISO 8601 duration of years, months and days, like `P2Y` or `P1Y6M`"),
        );
    }
    period
}

/// Checks a rule's retention: a period from the transfer, `{"period": P, "after":
/// EVENT or [EVENT, ...]}`, or a list of these (the earliest deadline binds); one
/// [`Retention`] per start. A period longer than `max_retention` is an error: the
/// agreement's maximum bounds every period, wherever it starts.
pub(crate) fn check(
    schema: &Schema,
    pointer: &str,
    file: &RetentionFile,
    max_retention: Option<Period>,
    error: Report<'_>,
) -> Vec<Retention> {
    if let serde_json::Value::Array(items) = &file.0 {
        if items.is_empty() {
            error(pointer, "an empty list of retentions sets none: write a period, like `\"P1Y\"`, or leave `retention` out".into());
        }
        let mut out: Vec<Retention> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            if item.is_array() {
                error(&at, "a list of retentions holds periods and `{\"period\": ..., \"after\": ...}` objects, not lists".into());
                continue;
            }
            for r in check(
                schema,
                &at,
                &RetentionFile(item.clone()),
                max_retention,
                error,
            ) {
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        return out;
    }
    let (period_at, period_text, after) = match &file.0 {
        serde_json::Value::String(text) => (pointer.to_owned(), Some(text.as_str()), None),
        serde_json::Value::Object(map) => {
            for key in map.keys().filter(|k| *k != "period" && *k != "after") {
                error(
                    &format!("{pointer}/{}", esc(key)),
                    format!(
                        "unknown member `{key}` in a retention{}; write `{{\"period\": \"P1Y\", \"after\": \"case-closed\"}}`",
                        hint(key, ["period", "after"])
                    ),
                );
            }
            let period = map.get("period").and_then(|p| p.as_str());
            if period.is_none() {
                error(
                    pointer,
                    "a retention from an event needs a `period`, like `\"P1Y\"`".into(),
                );
            }
            let after = map.get("after");
            if after.is_none() {
                error(pointer, "a retention written as an object needs `after`, the event it starts at; for a period from the transfer write just the period, like `\"P1Y\"`".into());
            }
            (format!("{pointer}/period"), period, after)
        }
        _ => {
            error(pointer, "a retention is a period, like `\"P2Y\"`, or `{\"period\": \"P1Y\", \"after\": \"case-closed\"}`".into());
            return Vec::new();
        }
    };
    let period = period_text.and_then(|text| period(&period_at, text, error));
    if let (Some(r), Some(max)) = (period, max_retention) {
        if r.max_days() > max.max_days() {
            error(
                &period_at,
                format!("retention {r} is longer than the agreement's maximum {max} (`/max_retention`): shorten it to at most {max}, or raise `max_retention` if the covenant allows the longer period"),
            );
        }
    }
    let mut events = Vec::new();
    match after {
        None => events.push(None),
        Some(serde_json::Value::String(name)) => {
            events.push(Some((format!("{pointer}/after"), name.as_str())));
        }
        Some(serde_json::Value::Array(names)) if !names.is_empty() => {
            for (i, name) in names.iter().enumerate() {
                let at = format!("{pointer}/after/{i}");
                match name.as_str() {
                    Some(name) => events.push(Some((at, name))),
                    None => error(&at, "an event is named by its id, like `\"case-closed\"`".into()),
                }
            }
        }
        Some(_) => error(
            &format!("{pointer}/after"),
            "`after` names an event of `policies/schema.json`, like `\"case-closed\"`, or a list of them (the first to happen starts the period)".into(),
        ),
    }
    let Some(period) = period else {
        return Vec::new();
    };
    let mut out: Vec<Retention> = Vec::new();
    for event in events {
        let after = match event {
            None => None,
            Some((at, name)) => match schema.events.get(name) {
                Some(event) => Some(event.clone()),
                None => {
                    let known: Vec<&str> = schema.events.keys().map(String::as_str).collect();
                    let listed = if known.is_empty() {
                        "the schema names no events".to_owned()
                    } else {
                        format!("events of `policies/schema.json`: {}", known.join(", "))
                    };
                    error(
                        &at,
                        format!("unknown event `{name}`{}; {listed}", hint(name, &known)),
                    );
                    continue;
                }
            },
        };
        let retention = Retention { period, after };
        if !out.contains(&retention) {
            out.push(retention);
        }
    }
    out
}
