//! Property tests of the design's invariants.

use crate::fixtures::{self, RuleActions, CATEGORIES, FIELDS};
use chrono::{DateTime, Utc};
use privacy_gate::danger::key_from_secret;
use privacy_gate::pseudonym::normalise;
use privacy_gate::{Action, DomainId, Gate, Method, Outcome, Transfer, ValueType, Written};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

fn at() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn transfer() -> Transfer<'static> {
    Transfer {
        from: "x/s",
        to: "x/r",
        purpose: "p",
        at: at(),
    }
}

fn any_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Pass),
        Just(Action::Block),
        prop::sample::select(Method::ALL.to_vec()).prop_map(Action::Generalise),
        prop::sample::select(vec!["x/one", "x/two"])
            .prop_map(|d| Action::Pseudonymise(DomainId::new(d).unwrap())),
    ]
}

/// Actions that fit a value type (generalisations only where the method applies).
fn action_for_type(value_type: &'static str) -> BoxedStrategy<Action> {
    let methods: Vec<Method> = match value_type {
        "date" => vec![Method::Year, Method::YearMonth, Method::AgeBand],
        "postcode" => vec![Method::Postcode4],
        "string" | "text" | "name" => vec![Method::Placeholder],
        _ => vec![],
    };
    let base = prop_oneof![
        Just(Action::Pass),
        Just(Action::Block),
        prop::sample::select(vec!["x/one", "x/two"])
            .prop_map(|d| Action::Pseudonymise(DomainId::new(d).unwrap())),
    ];
    if methods.is_empty() {
        base.boxed()
    } else {
        prop_oneof![
            base,
            prop::sample::select(methods).prop_map(Action::Generalise)
        ]
        .boxed()
    }
}

/// Category actions never generalise (a category mixes value types).
fn category_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Pass),
        Just(Action::Block),
        prop::sample::select(vec!["x/one", "x/two"])
            .prop_map(|d| Action::Pseudonymise(DomainId::new(d).unwrap())),
    ]
}

pub(crate) fn rule_actions() -> impl Strategy<Value = RuleActions> {
    let categories = prop::collection::vec(prop::option::of(category_action()), CATEGORIES.len());
    let paths: Vec<BoxedStrategy<Option<Action>>> = FIELDS
        .iter()
        .map(|(_, _, t)| prop::option::of(action_for_type(t)).boxed())
        .collect();
    (categories, paths).prop_map(|(cats, paths)| RuleActions {
        categories: CATEGORIES
            .iter()
            .zip(cats)
            .filter_map(|(c, a)| a.map(|a| ((*c).to_owned(), a)))
            .collect(),
        paths: FIELDS
            .iter()
            .zip(paths)
            .filter_map(|((p, _, _), a)| a.map(|a| ((*p).to_owned(), a)))
            .collect(),
    })
}

/// The final action per field path of the fixture flow.
fn plan_actions(sender: &RuleActions, recipient: &RuleActions) -> Vec<(String, Action)> {
    let registry = fixtures::registry(sender, recipient);
    let plan = registry.plans().next().expect("one flow").clone();
    registry
        .schema()
        .fields()
        .iter()
        .zip(plan.fields())
        .map(|(f, p)| (f.path().to_string(), p.action().clone()))
        .collect()
}

fn generalisation_fits(action: &Action, is_path: bool, value_type: &str) -> bool {
    match action {
        Action::Generalise(m) => {
            is_path
                && match m {
                    Method::Year | Method::YearMonth | Method::AgeBand => value_type == "date",
                    Method::Postcode4 => value_type == "postcode",
                    Method::Placeholder => matches!(value_type, "string" | "text" | "name"),
                    other => panic!("unexpected {other:?}"),
                }
        }
        _ => true,
    }
}

/// A value of the right type for the field, unique per `tag`.
fn sample_value(value_type: &str, tag: usize) -> Value {
    match value_type {
        "date" => Value::String(format!(
            "19{:02}-0{}-1{}",
            50 + tag % 40,
            1 + tag % 9,
            tag % 10
        )),
        "postcode" => Value::String(format!(
            "{}{:03} Q{}",
            1 + tag % 9,
            tag % 1000,
            char::from(b'A' + (tag % 26) as u8)
        )),
        "bsn" => Value::String(
            [
                "999998523",
                "999998535",
                "999996708",
                "999992934",
                "999995844",
            ][tag % 5]
                .into(),
        ),
        "boolean" => Value::Bool(tag.is_multiple_of(2)),
        "number" => Value::from(100_000 + tag as u64),
        _ => Value::String(format!("marker-{tag:04}-zq")),
    }
}

/// A record with every fixture field set, `n` list elements.
fn full_record(n: usize) -> Value {
    let mut record = serde_json::json!({"a": {}, "b": {}, "list": []});
    let mut tag = 0;
    for (path, _, value_type) in FIELDS {
        tag += 1;
        match path.split_once("[].") {
            Some((list, member)) => {
                let items = record[list].as_array_mut().unwrap();
                while items.len() < n {
                    items.push(Value::Object(Map::new()));
                }
                for item in items.iter_mut() {
                    tag += 1;
                    item[member] = sample_value(value_type, tag);
                }
            }
            None => match path.split_once('.') {
                Some((outer, inner)) => record[outer][inner] = sample_value(value_type, tag),
                None => record[*path] = sample_value(value_type, tag),
            },
        }
    }
    record
}

/// Every scalar leaf as (schema path, value).
fn leaves(value: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                leaves(v, &format!("{path}[]"), out);
            }
        }
        scalar => out.push((path.to_owned(), scalar.clone())),
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "[a-z0-9 .\\[\\]-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["999998523", "1990-01-01", "9401 AB", "given"])
            .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(vec![
                "a", "b", "s", "d", "p", "n", "bsn", "t", "list", "x", "flag", "num", "a.s",
                "list[]"
            ])
            .prop_map(str::to_owned),
            "[a-z.\\[\\]]{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn join_is_commutative_associative_idempotent(a in any_action(), b in any_action(), c in any_action()) {
        prop_assert_eq!(a.join(&b), b.join(&a));
        prop_assert_eq!(a.join(&b).join(&c), a.join(&b.join(&c)));
        prop_assert_eq!(a.join(&a), a.clone());
        prop_assert_eq!(a.join(&Action::Pass), a.clone());
        prop_assert_eq!(a.join(&Action::Block), Action::Block);
    }

    #[test]
    fn join_is_the_least_upper_bound(a in any_action(), b in any_action(), c in any_action()) {
        let j = a.join(&b);
        prop_assert!(j.is_at_least_as_strict_as(&a) && j.is_at_least_as_strict_as(&b));
        if c.is_at_least_as_strict_as(&a) && c.is_at_least_as_strict_as(&b) {
            prop_assert!(c.is_at_least_as_strict_as(&j));
        }
    }

    #[test]
    fn join_is_monotone(a in any_action(), b in any_action(), stricter in any_action()) {
        let a2 = a.join(&stricter);
        prop_assert!(a2.join(&b).is_at_least_as_strict_as(&a.join(&b)));
    }

    /// Making any rule entry stricter (or removing a category entry) never releases more, through
    /// the real loader and compiler.
    #[test]
    fn stricter_rules_never_release_more(
        sender in rule_actions(),
        recipient in rule_actions(),
        change_sender in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        stricter in any_action(),
        remove in any::<bool>(),
    ) {
        let before = plan_actions(&sender, &recipient);
        let (mut s2, mut r2) = (sender.clone(), recipient.clone());
        let side = if change_sender { &mut s2 } else { &mut r2 };
        let entries: Vec<(bool, String)> = side.categories.keys().map(|k| (false, k.clone()))
            .chain(side.paths.keys().map(|k| (true, k.clone()))).collect();
        prop_assume!(!entries.is_empty());
        let (is_path, key) = pick.get(&entries).clone();
        let map = if is_path { &mut side.paths } else { &mut side.categories };
        // Removing a category entry sends its fields to default deny: stricter.
        // (Removing a path entry is not: the field then follows its category again.)
        if remove && !is_path {
            map.remove(&key);
        } else {
            let old = map[&key].clone();
            let new = old.join(&stricter);
            // Keep the file loadable: a generalisation must fit the field's type.
            let value_type = FIELDS.iter().find(|(p, _, _)| *p == key).map_or("", |(_, _, t)| *t);
            prop_assume!(new == old || generalisation_fits(&new, is_path, value_type));
            map.insert(key, new);
        }
        let after = plan_actions(&s2, &r2);
        for ((path, old), (_, new)) in before.iter().zip(&after) {
            prop_assert!(new.is_at_least_as_strict_as(old), "{path}: {old} became {new}");
        }
    }

    /// Default deny and no leaks: the output holds only schema fields whose action
    /// releases, and no raw value of a blocked or pseudonymised field appears in the
    /// output or the decision.
    #[test]
    fn blocked_and_pseudonymised_values_never_appear(
        sender in rule_actions(),
        recipient in rule_actions(),
        n in 1usize..4,
        junk in prop::collection::btree_map("[a-z]{1,5}", "[a-z]{8}", 0..3),
    ) {
        let gate = Gate::new(fixtures::registry(&sender, &recipient), fixtures::keys());
        let mut record = full_record(n);
        for (k, v) in &junk {
            record["a"][format!("junk_{k}")] = Value::String(format!("junkvalue-{v}"));
        }
        let input_leaves = { let mut l = Vec::new(); leaves(&record, "", &mut l); l };
        let plan = gate.registry().plans().next().unwrap().clone();
        let schema = gate.registry().schema().clone();
        let Outcome::Released(released) = gate.apply(&transfer(), record).unwrap() else {
            panic!("fixture flow refused");
        };
        let output = serde_json::to_string(&released.record).unwrap();
        let decision = serde_json::to_string(&released.decision.to_json()).unwrap();
        let debug = format!("{released:?}");
        for (path, value) in &input_leaves {
            let Some(id) = schema.field(path) else {
                let text = value.as_str().unwrap();
                prop_assert!(!output.contains(text) && !decision.contains(text), "unknown field {path} leaked");
                continue;
            };
            let action = &plan.fields()[id].action();
            if matches!(action, Action::Block | Action::Pseudonymise(_)) {
                let text = match value { Value::String(s) => s.clone(), other => other.to_string() };
                if text.len() >= 5 {
                    prop_assert!(!output.contains(&text), "{path} ({action}) leaked into the output");
                }
                prop_assert!(!decision.contains(&text), "{path} leaked into the decision");
                prop_assert!(!debug.contains(&text), "{path} leaked into Debug");
            }
        }
        let mut out_leaves = Vec::new();
        leaves(&released.record, "", &mut out_leaves);
        for (path, _) in out_leaves.iter().filter(|(p, _)| !p.starts_with("_transfer")) {
            let id = schema.field(path);
            prop_assert!(id.is_some(), "{path} is not in the schema");
            prop_assert!(plan.fields()[id.unwrap()].action().releases(), "{path} crossed without a rule");
        }
    }

    #[test]
    fn pseudonyms_are_deterministic_and_separated(
        secret in prop::collection::vec(any::<u8>(), 32..64),
        other in prop::collection::vec(any::<u8>(), 32..64),
        value in "\\PC{0,40}",
    ) {
        prop_assume!(secret != other);
        let key = key_from_secret("k1", &secret).unwrap();
        let same = key_from_secret("k1", &secret).unwrap();
        let different = key_from_secret("k1", &other).unwrap();
        let as_json = Value::String(value.clone());
        let normalised = normalise(ValueType::String, &as_json).unwrap();
        let domain = DomainId::new("x/one").unwrap();
        let p = key.pseudonym(&domain, ValueType::String, &normalised);
        prop_assert_eq!(&p, &same.pseudonym(&domain, ValueType::String, &normalised));
        prop_assert_ne!(&p, &different.pseudonym(&domain, ValueType::String, &normalised));
        // The type is part of the message: the same text as another type differs.
        prop_assert_ne!(&p, &key.pseudonym(&domain, ValueType::Text, &normalised));
        // So is the domain: one secret in two domains gives unlinkable pseudonyms.
        let other_domain = DomainId::new("x/two").unwrap();
        prop_assert_ne!(&p, &key.pseudonym(&other_domain, ValueType::String, &normalised));
        prop_assert!(p.starts_with("pg2:k1:") && p.len() == "pg2:k1:".len() + 64);
        if value.len() >= 4 {
            prop_assert!(!p.contains(&value));
        }
    }

    #[test]
    fn no_panic_on_arbitrary_records(record in arbitrary_json(), sender in rule_actions(), recipient in rule_actions()) {
        let gate = Gate::new(fixtures::registry(&sender, &recipient), fixtures::keys());
        let text = serde_json::to_vec(&record).unwrap();
        let parsed = gate.apply_json(&transfer(), &text);
        let direct = gate.apply(&transfer(), record.clone());
        prop_assert_eq!(parsed.is_ok(), direct.is_ok());
        if !record.is_object() {
            prop_assert!(direct.is_err());
        }
        if let Ok(Outcome::Released(r)) = direct {
            let keys: BTreeSet<&String> = r.record.as_object().unwrap().keys().collect();
            for key in keys {
                prop_assert!(["a", "b", "list", "flag", "num", "_transfer"].contains(&key.as_str()));
            }
        }
    }

    /// The streaming path (`write_json`) and the in-place path (`apply`) are two walks
    /// of one decision: they must release the same bytes and decide the same.
    #[test]
    fn streaming_and_in_place_gating_agree(
        record in prop_oneof![arbitrary_json(), (1usize..4).prop_map(full_record)],
        sender in rule_actions(), recipient in rule_actions()) {
        let gate = Gate::new(fixtures::registry(&sender, &recipient), fixtures::keys());
        let flow = gate.flow(&transfer()).unwrap();
        let text = serde_json::to_vec(&record).unwrap();
        let mut written = Vec::new();
        let streamed = flow.write_json(&text, &mut written);
        let applied = flow.apply_json(&text);
        match (streamed, applied) {
            (Ok(Written::Released(d1)), Ok(Outcome::Released(r))) => {
                prop_assert_eq!(&written, &serde_json::to_vec(&r.record).unwrap());
                prop_assert_eq!(d1.to_json(), r.decision.to_json());
            }
            (Err(e1), Err(e2)) => {
                prop_assert_eq!(format!("{e1:?}"), format!("{e2:?}"));
                prop_assert!(written.is_empty());
            }
            (Ok(Written::Refused(a)), Ok(Outcome::Refused(b))) => {
                prop_assert_eq!(a, b);
                prop_assert!(written.is_empty());
            }
            (a, b) => prop_assert!(false, "paths disagree: {:?} vs {:?}", a.is_ok(), b.is_ok()),
        }
    }

    #[test]
    fn no_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let gate = Gate::new(fixtures::registry(&RuleActions::default(), &RuleActions::default()), fixtures::keys());
        let _ = gate.apply_json(&transfer(), &bytes);
    }
}
