//! A small synthetic policy set, built in code, for property tests and error tests.

use privacy_gate::{Action, PolicySource, Registry};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// (path, category, type) of the synthetic schema.
pub const FIELDS: &[(&str, &str, &str)] = &[
    ("a.s", "c1", "string"),
    ("a.d", "c1", "date"),
    ("a.p", "c2", "postcode"),
    ("a.n", "c2", "name"),
    ("b.bsn", "id", "bsn"),
    ("b.t", "c3", "text"),
    ("list[].x", "c3", "string"),
    ("list[].d", "c1", "date"),
    ("flag", "c1", "boolean"),
    ("num", "c2", "number"),
];

pub const CATEGORIES: &[&str] = &["c1", "c2", "c3", "id"];

pub fn schema_source() -> PolicySource {
    let fields: serde_json::Map<String, Value> = FIELDS
        .iter()
        .map(|(p, c, t)| {
            // Every string-like field needs a bound; a generous one keeps the
            // synthetic set about actions, not values.
            let field = if matches!(*t, "string" | "text" | "name") {
                json!({"category": c, "type": t, "max_length": 10_000})
            } else {
                json!({"category": c, "type": t})
            };
            ((*p).to_owned(), field)
        })
        .collect();
    let categories: serde_json::Map<String, Value> = CATEGORIES
        .iter()
        .map(|c| ((*c).to_owned(), json!({"title": c})))
        .collect();
    let schema = json!({
        "version": "test",
        "purposes": {"p": {"title": "test purpose"}, "q": {"title": "other purpose"}},
        "legal_bases": {"law": {"title": "a law", "grants": ["lawfulness"]}},
        "categories": categories,
        "fields": fields,
    });
    PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&schema).unwrap(),
    }
}

/// An agreement of `id` for the synthetic schema: in force, regime `avg`, purpose `p`
/// on basis `law`, with `body`'s members added or replacing these.
pub fn agreement(id: &str, kind: &str, body: Value) -> PolicySource {
    let mut doc = json!({
        "organisation": id,
        "kind": kind,
        "version": "1",
        "status": "signed",
        "valid": {"from": "2025-01-01", "until": "2027-12-31"},
        "regime": "avg",
        "purposes": {"p": {"legal_basis": ["law"]}},
    });
    for (k, v) in body.as_object().into_iter().flatten() {
        doc[k] = v.clone();
    }
    PolicySource {
        file: format!("t/{id}.json"),
        text: serde_json::to_string_pretty(&doc).unwrap(),
    }
}

/// Actions of one rule: per category and per path.
#[derive(Clone, Debug, Default)]
pub struct RuleActions {
    pub categories: BTreeMap<String, Action>,
    pub paths: BTreeMap<String, Action>,
}

impl RuleActions {
    fn to_json(&self) -> (Value, Value) {
        (
            serde_json::to_value(&self.categories).unwrap(),
            serde_json::to_value(&self.paths).unwrap(),
        )
    }
}

/// Sender `x/s` with one outbound rule to `x/r`, recipient `x/r` with one inbound rule.
pub fn pair_sources(sender: &RuleActions, recipient: &RuleActions) -> Vec<PolicySource> {
    let (out_c, out_p) = sender.to_json();
    let (in_c, in_p) = recipient.to_json();
    let agreement = |id: &str, kind: &str, outbound: Value, inbound: Value| PolicySource {
        file: format!("t/{id}.json"),
        text: serde_json::to_string_pretty(&json!({
            "organisation": id,
            "kind": kind,
            "version": "1",
            "status": "signed",
            "valid": {"from": "2025-01-01", "until": "2027-12-31"},
            "regime": "avg",
            "purposes": {"p": {"legal_basis": ["law"]}},
            "outbound": outbound,
            "inbound": inbound,
        }))
        .unwrap(),
    };
    vec![
        agreement(
            "x/s",
            "sender",
            json!([{"id": "out", "to": {"organisation": "x/r"}, "purpose": "p", "retention": "P1Y",
                    "categories": out_c, "paths": out_p}]),
            json!([]),
        ),
        agreement(
            "x/r",
            "recipient",
            json!([]),
            json!([{"id": "in", "from": {"organisation": "x/s"}, "purpose": "p",
                    "categories": in_c, "paths": in_p}]),
        ),
    ]
    .into_iter()
    .map(|mut source| {
        // The recipient receives pseudonyms in both fixture domains.
        if source.file == "t/x/r.json" {
            let mut value: Value = serde_json::from_str(&source.text).unwrap();
            value["pseudonym_domains"] =
                json!({"x/one": {"purpose": "p"}, "x/two": {"purpose": "p"}});
            source.text = serde_json::to_string_pretty(&value).unwrap();
        }
        source
    })
    .collect()
}

pub fn registry(sender: &RuleActions, recipient: &RuleActions) -> Registry {
    match Registry::from_sources(&schema_source(), &pair_sources(sender, recipient)) {
        Ok(r) => r,
        Err(e) => panic!("fixture policies do not load:\n{e}"),
    }
}

/// A key file with keys for the fixture domains `x/one` and `x/two`.
pub fn keys() -> privacy_gate::KeyRing {
    let text = json!({"domains": {
        "x/one": {"active": "k1", "keys": {"k1": "11".repeat(32)}},
        "x/two": {"active": "k1", "keys": {"k1": "22".repeat(32)}},
    }})
    .to_string();
    privacy_gate::KeyRing::from_json("fixture keys", text.as_bytes()).unwrap()
}
