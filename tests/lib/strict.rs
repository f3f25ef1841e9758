//! Strict by default (issue 13, item 4): retention over either side's maximum is an
//! error, hints propose the correct spelling rather than a misspelt declaration, and
//! an art. 9 / art. 10 error names the bases that would qualify.

use crate::fixtures::{agreement, schema_source};
use privacy_gate::{PolicySource, Registry, Severity};
use serde_json::{json, Value};

fn recipient(body: Value) -> PolicySource {
    let mut doc = json!({"inbound": [{"id": "in", "from": {"kind": "ggd"}, "purpose": "p", "categories": {"c1": "pass"}}]});
    for (k, v) in body.as_object().unwrap() {
        doc[k] = v.clone();
    }
    agreement("x/recipient", "zvh", doc)
}

/// The schema of the fixtures with a purpose whose name is long enough to misspell,
/// and special categories with their bases.
fn schema() -> PolicySource {
    let mut schema: Value = serde_json::from_str(&schema_source().text).unwrap();
    schema["purposes"]["criminal-investigation"] = json!({"title": "investigation"});
    schema["categories"]["health"] = json!({"title": "health", "requires": "art9"});
    schema["categories"]["criminal"] = json!({"title": "criminal", "requires": "art10"});
    schema["fields"]["h.summary"] =
        json!({"category": "health", "type": "text", "max_length": 100});
    schema["fields"]["k.record"] =
        json!({"category": "criminal", "type": "text", "max_length": 100});
    let bases = &mut schema["legal_bases"];
    bases["avg-9-2-a"] = json!({"title": "consent", "grants": ["art9"]});
    bases["avg-9-2-g"] = json!({"title": "public interest", "grants": ["art9"]});
    bases["uavg-22"] = json!({"title": "uavg 22", "grants": ["art9"]});
    bases["wpg-18"] = json!({"title": "wpg 18", "grants": ["lawfulness", "art10"]});
    PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&schema).unwrap(),
    }
}

fn diagnostics(schema: &PolicySource, sources: &[PolicySource]) -> Vec<String> {
    match Registry::from_sources(schema, sources) {
        Ok(registry) => registry
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect(),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn errors(schema: &PolicySource, sources: &[PolicySource]) -> Vec<String> {
    let err = Registry::from_sources(schema, sources).expect_err("the set must not load");
    err.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

/// A purpose declared with a typo and used correctly by a rule: the hint at the rule
/// names the misspelt declaration as the thing to fix, never proposes the typo.
#[test]
fn a_misspelt_purpose_declaration_is_named_not_proposed() {
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({
            "purposes": {"criminal-investigaton": {"legal_basis": ["law"]}},
            "outbound": [{"id": "out", "to": {"kind": "zvh"}, "purpose": "criminal-investigation",
                          "retention": "P1Y", "categories": {"c1": "pass"}}],
        }),
    );
    let all = errors(&schema(), &[sender, recipient(json!({}))]);
    let text = all.join("\n");
    assert!(
        !text.contains("did you mean `criminal-investigaton`"),
        "the typo must never be proposed:\n{text}"
    );
    assert!(
        text.contains("x/sender at `/purposes/criminal-investigaton`: unknown purpose `criminal-investigaton` (did you mean `criminal-investigation`?)"),
        "{text}"
    );
    let at_rule = all
        .iter()
        .find(|e| e.contains("`/outbound/0/purpose`"))
        .expect("an error at the rule's purpose");
    assert!(at_rule.starts_with("error: t/x/sender.json:"), "{at_rule}");
    assert!(
        at_rule.ends_with("purpose `criminal-investigation` is not among this agreement's purposes: the agreement declares `criminal-investigaton` at `/purposes/criminal-investigaton`, a misspelling of it; rename that declaration to `criminal-investigation`"),
        "{at_rule}"
    );
}

/// An agreement whose `organisation` is misspelt (and so does not match its file):
/// a rule naming the right organisation is told the declaration is misspelt.
#[test]
fn a_misspelt_organisation_declaration_is_named_not_proposed() {
    let mut misspelt = recipient(json!({}));
    misspelt.text = misspelt.text.replace("\"x/recipient\"", "\"x/recipeint\"");
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"outbound": [{"id": "out", "to": {"organisation": "x/recipient"}, "purpose": "p",
                             "retention": "P1Y", "categories": {"c1": "pass"}}]}),
    );
    let all = errors(&schema(), &[sender, misspelt]);
    let text = all.join("\n");
    assert!(!text.contains("did you mean `x/recipeint`"), "{text}");
    assert!(
        text.contains("x/sender at `/outbound/0/to/organisation`: unknown organisation `x/recipient`: the agreement in `t/x/recipient.json` declares `x/recipeint`, which does not match its file; is that declaration misspelt?"),
        "{text}"
    );
    assert!(
        text.contains("the agreement of `x/recipeint` must be in `x/recipeint.json`"),
        "{text}"
    );
}

/// A misspelt use is still told the right name.
#[test]
fn a_misspelt_use_still_gets_the_declared_name() {
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({
            "purposes": {"criminal-investigation": {"legal_basis": ["law"]}},
            "outbound": [{"id": "out", "to": {"kind": "zvh"}, "purpose": "criminal-investigaton",
                          "retention": "P1Y", "categories": {"c1": "pass"}}],
        }),
    );
    let text = errors(&schema(), &[sender, recipient(json!({}))]).join("\n");
    assert!(
        text.contains("purpose `criminal-investigaton` is not among this agreement's purposes (did you mean `criminal-investigation`?)"),
        "{text}"
    );
}

/// Every period over the sender's maximum is an error at the period, wherever it
/// starts; a set with one does not load.
#[test]
fn a_retention_over_the_senders_maximum_is_an_error_at_each_period() {
    let mut schema: Value = serde_json::from_str(&schema().text).unwrap();
    schema["fields"]["a.closed"] = json!({"category": "c1", "type": "date"});
    schema["events"] = json!({"closed": {"title": "closed", "field": "a.closed"}});
    let schema = PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&schema).unwrap(),
    };
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"max_retention": "P2Y", "outbound": [
            {"id": "too-long", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P30M", "categories": {"c1": "pass"}},
            {"id": "list", "to": {"organisation": "x/recipient"}, "purpose": "p",
             "retention": ["P1Y", {"period": "P3Y", "after": "closed"}], "categories": {"c1": "pass"}},
            {"id": "fine", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P2Y", "categories": {"c1": "pass"}}
        ]}),
    );
    let all = errors(&schema, &[sender, recipient(json!({}))]);
    assert_eq!(all.len(), 2, "{all:#?}");
    let line_of = |pointer: &str| -> String {
        all.iter()
            .find(|e| e.contains(&format!("at `{pointer}`")))
            .cloned()
            .unwrap_or_else(|| panic!("no error at {pointer}: {all:#?}"))
    };
    let first = line_of("/outbound/0/retention");
    assert!(first.starts_with("error: t/x/sender.json:"), "{first}");
    assert!(
        first.ends_with("x/sender at `/outbound/0/retention`: retention P2Y6M is longer than the agreement's maximum P2Y (`/max_retention`): shorten it to at most P2Y, or raise `max_retention` if the covenant allows the longer period"),
        "{first}"
    );
    let second = line_of("/outbound/1/retention/1/period");
    assert!(
        second.contains("retention P3Y is longer than the agreement's maximum P2Y"),
        "{second}"
    );
    // Line and column point at the period itself, the second one further down.
    let position = |e: &str| -> (usize, usize) {
        let place = e.split(": ").nth(1).unwrap();
        let mut parts = place.rsplitn(3, ':');
        let column = parts.next().unwrap().parse().unwrap();
        let line = parts.next().unwrap().parse().unwrap();
        (line, column)
    };
    assert!(position(&first).0 > 0 && position(&second).0 > position(&first).0);
}

/// The recipient's maximum bounds what it may receive: a flow whose retention (the
/// shortest per start over the sender's rules) exceeds it is an error at the sender's
/// rule, naming the recipient's maximum.
#[test]
fn a_retention_over_the_recipients_maximum_is_an_error_at_the_senders_rule() {
    let sender = |retention: Value| {
        agreement(
            "x/sender",
            "ggd",
            json!({"max_retention": "P5Y", "outbound": [
                {"id": "out", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": retention, "categories": {"c1": "pass"}}
            ]}),
        )
    };
    let strict_recipient = recipient(json!({"max_retention": "P1Y"}));
    let all = errors(&schema(), &[sender(json!("P2Y")), strict_recipient.clone()]);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].starts_with("error: t/x/sender.json:"), "{}", all[0]);
    assert!(
        all[0].ends_with("x/sender at `/outbound/0/retention`: retention P2Y of rule `out` is longer than the recipient `x/recipient` may keep data (P1Y, its `max_retention` in `t/x/recipient.json`): shorten it to at most P1Y, in a rule of its own for `x/recipient` if other recipients may keep data longer"),
        "{}",
        all[0]
    );
    // Within the maximum, the set loads and the flow keeps the sender's retention.
    let ok = Registry::from_sources(&schema(), &[sender(json!("P1Y")), strict_recipient.clone()])
        .unwrap();
    assert_eq!(
        ok.plans()
            .next()
            .unwrap()
            .transfer_retention()
            .unwrap()
            .to_string(),
        "P1Y"
    );
    // The flow's retention, not each rule's, is what the recipient gets: a second rule
    // of the same flow with a shorter period makes the flow fit.
    let two_rules = agreement(
        "x/sender",
        "ggd",
        json!({"outbound": [
            {"id": "long", "to": {"kind": "zvh"}, "purpose": "p", "retention": "P3Y", "categories": {"c1": "pass"}},
            {"id": "short", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P6M", "paths": {"a.s": "pass"}}
        ]}),
    );
    let ok = Registry::from_sources(&schema(), &[two_rules, strict_recipient]).unwrap();
    assert_eq!(
        ok.plans()
            .next()
            .unwrap()
            .transfer_retention()
            .unwrap()
            .to_string(),
        "P6M"
    );
}

/// An art. 9 / art. 10 error lists the schema's bases that would grant the category,
/// or, when the rule narrowed its bases, those of its purpose it left out.
#[test]
fn a_missing_special_basis_lists_the_bases_that_would_qualify() {
    let sender = |purpose_bases: Value, rule_bases: Option<Value>, category: &str| {
        let mut rule = json!({"id": "out", "to": {"kind": "zvh"}, "purpose": "p", "retention": "P1Y",
                              "categories": {category: "pass"}});
        if let Some(b) = rule_bases {
            rule["legal_basis"] = b;
        }
        agreement(
            "x/sender",
            "ggd",
            json!({"purposes": {"p": {"legal_basis": purpose_bases}}, "outbound": [rule]}),
        )
    };
    let all = errors(
        &schema(),
        &[sender(json!(["law"]), None, "health"), recipient(json!({}))],
    );
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].starts_with("error: t/x/sender.json:"), "{}", all[0]);
    assert!(
        all[0].ends_with("x/sender at `/outbound/0/categories/health`: category `health` may cross only with an AVG art. 9 exception, and purpose `p` names none; bases that would qualify: `avg-9-2-a`, `avg-9-2-g`, `uavg-22`; add the one that applies to `/purposes/p/legal_basis`"),
        "{}",
        all[0]
    );
    let all = errors(
        &schema(),
        &[
            sender(json!(["law"]), None, "criminal"),
            recipient(json!({})),
        ],
    );
    assert!(
        all[0].ends_with("category `criminal` may cross only with an AVG art. 10 basis (or Wpg/Wjsg), and purpose `p` names none; bases that would qualify: `wpg-18`; add the one that applies to `/purposes/p/legal_basis`"),
        "{}",
        all[0]
    );
    // The purpose names one, the rule's narrowed bases leave it out.
    let all = errors(
        &schema(),
        &[
            sender(json!(["law", "uavg-22"]), Some(json!(["law"])), "health"),
            recipient(json!({})),
        ],
    );
    assert!(
        all[0].ends_with("category `health` may cross only with an AVG art. 9 exception, and this rule's `legal_basis` leaves out `uavg-22`, which purpose `p` names: add the one that applies to the rule's `legal_basis`"),
        "{}",
        all[0]
    );
    // With a qualifying basis, no error and no warning about bases.
    let fine = diagnostics(
        &schema(),
        &[
            sender(json!(["law", "avg-9-2-g"]), None, "health"),
            recipient(json!({})),
        ],
    );
    assert!(fine.iter().all(|d| !d.contains("art. 9")), "{fine:#?}");
}
