//! Bad policy files: every problem reported at once, with file, line, column,
//! pointer, agreement and a hint; no registry built from a set with errors.

use crate::fixtures::{agreement, schema_source};
use privacy_gate::{PolicySource, Registry, Severity};
use serde_json::{json, Value};

fn recipient() -> PolicySource {
    agreement(
        "x/recipient",
        "zvh",
        json!({"inbound": [{"id": "in", "from": {"kind": "ggd"}, "purpose": "p", "categories": {"c1": "pass"}}]}),
    )
}

fn errors(sources: &[PolicySource]) -> Vec<String> {
    let err = Registry::from_sources(&schema_source(), sources).expect_err("the set must not load");
    err.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

#[test]
fn misspelt_names_get_hints_and_all_problems_come_at_once() {
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"outbound": [{
            "id": "out", "to": {"organisation": "x/recipeint"}, "purpose": "pp", "retention": "P1Y",
            "categories": {"c11": "pass"}, "paths": {"a.ss": "pass"}
        }]}),
    );
    let all = errors(&[sender, recipient()]);
    let text = all.join("\n");
    assert!(
        text.contains("unknown organisation `x/recipeint` (did you mean `x/recipient`?)"),
        "{text}"
    );
    assert!(
        text.contains("purpose `pp` is not among this agreement's purposes (did you mean `p`?)"),
        "{text}"
    );
    assert!(
        text.contains("unknown category `c11` (did you mean `c1`?)"),
        "{text}"
    );
    assert!(
        text.contains("unknown field path `a.ss` (did you mean `a.s`?)"),
        "{text}"
    );
    assert_eq!(all.len(), 4, "{text}");
    // Each names the file, line and column, the agreement and the pointer.
    let org = all.iter().find(|e| e.contains("x/recipeint")).unwrap();
    assert_eq!(
        org,
        "error: t/x/sender.json:16:25: x/sender at `/outbound/0/to/organisation`: \
         unknown organisation `x/recipeint` (did you mean `x/recipient`?)"
    );
}

#[test]
fn unknown_fields_and_duplicate_keys_name_line_and_column() {
    let mut src = agreement("x/sender", "ggd", json!({}));
    src.text = src
        .text
        .replacen("\"kind\"", "\"knid\": \"ggd\",\n  \"kind\"", 1);
    let all = errors(&[src, recipient()]);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].starts_with("error: t/x/sender.json:2:8: "),
        "{}",
        all[0]
    );
    assert!(all[0].contains("unknown field `knid`"), "{}", all[0]);

    let mut dup = agreement("x/sender", "ggd", json!({}));
    dup.text = dup.text.replacen(
        "\"kind\": \"ggd\"",
        "\"kind\": \"ggd\", \"kind\": \"ggd\"",
        1,
    );
    let all = errors(&[dup, recipient()]);
    assert!(all[0].contains("duplicate key in object"), "{}", all[0]);
    assert!(all[0].starts_with("error: t/x/sender.json:"), "{}", all[0]);
}

#[test]
fn structural_mistakes_are_errors() {
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({
            "outbound": [
                {"id": "dup", "to": {"kind": "zvh"}, "purpose": "p", "retention": "P1Y", "paths": {"a.s": {"generalise": "year"}}},
                {"id": "dup", "from": {"kind": "zvh"}, "purpose": "p", "retention": "soon"}
            ],
        }),
    );
    let mut misplaced = agreement("x/wrong", "ggd", json!({}));
    misplaced.file = "t/y/other.json".into();
    let text = errors(&[sender, misplaced, recipient()]).join("\n");
    assert!(text.contains("duplicate rule id `dup`"), "{text}");
    assert!(
        text.contains("generalisation `year` does not apply to field `a.s` of type `string`"),
        "{text}"
    );
    assert!(
        text.contains("names its counterparty with `to`, not `from`"),
        "{text}"
    );
    assert!(text.contains("invalid period `soon`"), "{text}");
    assert!(
        text.contains("the agreement of `x/wrong` must be in `x/wrong.json`"),
        "{text}"
    );
}

#[test]
fn special_categories_need_their_legal_basis() {
    let mut schema: Value = serde_json::from_str(&schema_source().text).unwrap();
    schema["categories"]["health"] = json!({"title": "health", "requires": "art9"});
    schema["fields"]["h.summary"] =
        json!({"category": "health", "type": "text", "max_length": 100});
    schema["legal_bases"]["avg-9-2-g"] = json!({"title": "art 9", "grants": ["art9"]});
    let schema = PolicySource {
        file: "t/schema.json".into(),
        text: schema.to_string(),
    };
    let sender = |bases: Value| {
        agreement(
            "x/sender",
            "ggd",
            json!({
                "purposes": {"p": {"legal_basis": bases}},
                "outbound": [{"id": "out", "to": {"kind": "zvh"}, "purpose": "p", "retention": "P1Y",
                              "categories": {"health": "pass"}}],
            }),
        )
    };
    let err = Registry::from_sources(&schema, &[sender(json!(["law"])), recipient()]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("category `health` may cross only with an AVG art. 9 exception"),
        "{text}"
    );
    assert!(
        Registry::from_sources(&schema, &[sender(json!(["law", "avg-9-2-g"])), recipient()])
            .is_ok()
    );
    let err =
        Registry::from_sources(&schema, &[sender(json!(["avg-9-2-g"])), recipient()]).unwrap_err();
    assert!(
        err.to_string()
            .contains("no legal basis that grants lawfulness"),
        "{err}"
    );

    // A rule may narrow its purpose's bases; narrowed without art. 9, health may not cross.
    let narrowed = |bases: Value| {
        let mut src = sender(json!(["law", "avg-9-2-g"]));
        let mut doc: Value = serde_json::from_str(&src.text).unwrap();
        doc["outbound"][0]["legal_basis"] = bases;
        src.text = doc.to_string();
        src
    };
    let err =
        Registry::from_sources(&schema, &[narrowed(json!(["law"])), recipient()]).unwrap_err();
    assert!(
        err.to_string()
            .contains("category `health` may cross only with an AVG art. 9 exception"),
        "{err}"
    );
    let err = Registry::from_sources(
        &schema,
        &[narrowed(json!(["law", "avg-9-2-h"])), recipient()],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("legal basis `avg-9-2-h` is not among the bases of purpose `p` (did you mean `avg-9-2-g`?)"),
        "{err}"
    );
    let ok = Registry::from_sources(
        &schema,
        &[narrowed(json!(["law", "avg-9-2-g"])), recipient()],
    )
    .unwrap();
    let plan = ok.plans().next().unwrap();
    let health = ok.schema().field("h.summary").unwrap();
    // The sender's deciding rule names health, so the decision cites its art. 9 basis.
    assert!(plan.fields()[health]
        .legal_basis()
        .iter()
        .any(|b| &**b == "avg-9-2-g"));
}

#[test]
fn overlapping_rules_with_contradicting_actions_are_errors() {
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"outbound": [
            {"id": "by-kind", "to": {"kind": "zvh"}, "purpose": "p", "retention": "P1Y", "categories": {"c1": "pass"}},
            {"id": "by-id", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P1Y", "paths": {"a.s": "block"}}
        ]}),
    );
    let text = errors(&[sender, recipient()]).join("\n");
    assert!(
        text.contains("rules `by-kind` and `by-id` both apply to the same flow and give field `a.s` different actions (`pass` and `block`)"),
        "{text}"
    );
}

#[test]
fn a_bad_schema_stops_everything() {
    let mut schema: Value = serde_json::from_str(&schema_source().text).unwrap();
    schema["fields"]["a.s.deeper"] = json!({"category": "c1", "type": "string", "max_length": 10});
    schema["fields"]["Bad Path"] = json!({"category": "c1", "type": "string", "max_length": 10});
    schema["fields"]["a.x"] = json!({"category": "cc1", "type": "string", "max_length": 10});
    let schema = PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&schema).unwrap(),
    };
    let err = Registry::from_sources(&schema, &[recipient()]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("clashes with another field"), "{text}");
    assert!(text.contains("invalid field path `Bad Path`"), "{text}");
    assert!(
        text.contains("unknown category `cc1` (did you mean `c1`?)"),
        "{text}"
    );
}

/// Every string-like field is bounded, and bounds that contradict themselves or sit on
/// a type that bounds itself are errors, each at its place in the file.
#[test]
fn fields_without_bounds_or_with_bad_ones_stop_the_load() {
    let mut schema: Value = serde_json::from_str(&schema_source().text).unwrap();
    let fields = &mut schema["fields"];
    fields["z.free"] = json!({"category": "c1", "type": "string"});
    fields["z.note"] = json!({"category": "c1", "type": "text", "enum": ["a"]});
    fields["z.day"] = json!({"category": "c1", "type": "date", "max_length": 10});
    fields["z.code"] =
        json!({"category": "c1", "type": "string", "pattern": "[A-Z]{2}", "enum": ["NL", "nl"]});
    fields["z.twice"] = json!({"category": "c1", "type": "string", "enum": ["a", "a"]});
    fields["z.broken"] = json!({"category": "c1", "type": "string", "pattern": "(unclosed"});
    fields["z.none"] = json!({"category": "c1", "type": "name", "max_length": 0});
    let schema = PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&schema).unwrap(),
    };
    let err = Registry::from_sources(&schema, &[recipient()]).unwrap_err();
    let text = err.to_string();
    for expected in [
        "at `/fields/z.free`: field `z.free` of type `string` needs a bound on its values, so that it cannot carry anything at all: add `enum`, `pattern` or `max_length`",
        "at `/fields/z.note`: field `z.note` of type `text` is bounded by `max_length` only",
        "at `/fields/z.day`: field `z.day` of type `date` takes no `enum`, `pattern` or `max_length`",
        "at `/fields/z.code/enum`: the `enum` of field `z.code` lists `nl`, which its `pattern` or `max_length` does not allow",
        "at `/fields/z.twice/enum`: the `enum` of field `z.twice` must list distinct values",
        "at `/fields/z.broken/pattern`: the `pattern` of field `z.broken` is not a valid regular expression",
        "at `/fields/z.none/max_length`: `max_length` of field `z.none` must be at least 1",
    ] {
        assert!(text.contains(expected), "expected `{expected}` in:\n{text}");
    }
    // Each names the line and column of its field.
    for line in text.lines().filter(|l| l.contains("/fields/z.")) {
        assert!(line.starts_with("error: t/schema.json:"), "{line}");
    }
}

#[test]
fn an_unreadable_policy_folder_is_an_error() {
    let err = Registry::load_dir("does/not/exist".as_ref()).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn lints_name_rules_that_never_apply_and_agreements_about_to_expire() {
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"outbound": [
            {"id": "to-recipient", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P1Y", "categories": {"c1": "pass"}},
            {"id": "to-lonely", "to": {"organisation": "x/lonely"}, "purpose": "p", "retention": "P1Y", "categories": {"c1": "pass"}}
        ]}),
    );
    let lonely = agreement("x/lonely", "zvh", json!({}));
    let registry =
        Registry::from_sources(&schema_source(), &[sender, recipient(), lonely]).unwrap();
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let lints: Vec<String> = registry
        .lints(day("2027-11-01"))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        lints.iter().any(|l| l.contains("x/sender at `/outbound/1`: outbound rule `to-lonely` matches no inbound rule of a recipient for purpose `p`, so it never applies")),
        "{lints:#?}"
    );
    assert!(
        lints.iter().all(|l| !l.contains("to-recipient")),
        "{lints:#?}"
    );
    // All three agreements run until 2027-12-31.
    assert_eq!(
        lints
            .iter()
            .filter(|l| l.contains("the agreement expires on 2027-12-31 (60 days from 2027-11-01)"))
            .count(),
        3,
        "{lints:#?}"
    );
    assert!(registry
        .lints(day("2027-06-01"))
        .iter()
        .all(|d| !d.message.contains("expires")));
}

#[test]
fn lints_name_shadowed_rules_but_not_rules_that_decide_or_set_conditions() {
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"outbound": [
            {"id": "broad", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P1Y", "categories": {"c1": "pass", "c2": "block"}},
            // Names only fields `broad` already decides, with the same action.
            {"id": "repeat", "to": {"kind": "zvh"}, "purpose": "p", "retention": "P1Y", "paths": {"a.s": "pass", "a.n": "block"}},
            // Decides `b.t`, which nothing earlier names.
            {"id": "adds", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P1Y", "paths": {"a.s": "pass", "b.t": "pass"}},
            // Decides nothing, but its condition still gates the flow.
            {"id": "gated", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P1Y",
             "paths": {"a.d": "pass"}, "when": {"path": "a.s", "in": ["yes"]}}
        ]}),
    );
    let registry = Registry::from_sources(&schema_source(), &[sender, recipient()]).unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let lints: Vec<String> = registry
        .lints(day)
        .iter()
        .map(ToString::to_string)
        .collect();
    let shadowed: Vec<&String> = lints.iter().filter(|l| l.contains("shadowed")).collect();
    assert_eq!(shadowed.len(), 1, "{lints:#?}");
    assert!(
        shadowed[0].ends_with("x/sender at `/outbound/1`: rule `repeat` is shadowed: in every flow it applies to, rule `broad` already decides every field it names, so it changes no field's action"),
        "{lints:#?}"
    );
}

#[test]
fn lints_name_releasing_category_entries_that_paths_override_entirely() {
    // c2 holds `a.p`, `a.n` and `num`; all are named by path, so `c2: pass` never decides.
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"outbound": [
            {"id": "out", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P1Y",
             "categories": {"c1": "pass", "c2": "pass", "c3": "block"},
             "paths": {"a.p": "block", "a.n": "block", "num": "block", "b.t": "pass"}}
        ]}),
    );
    let registry = Registry::from_sources(&schema_source(), &[sender, recipient()]).unwrap();
    let lints: Vec<String> = registry
        .lints(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        .iter()
        .map(ToString::to_string)
        .collect();
    let entries: Vec<&String> = lints
        .iter()
        .filter(|l| l.contains("never decides"))
        .collect();
    assert_eq!(entries.len(), 1, "{lints:#?}");
    assert!(
        entries[0].ends_with("x/sender at `/outbound/0/categories/c2`: category entry `c2` of rule `out` never decides a field: the rule names every field of the category by path, so it releases nothing"),
        "{lints:#?}"
    );
}

#[test]
fn warnings_name_outbound_rules_without_retention() {
    // A retention over the maximum is an error (tests/lib/strict.rs); a missing one
    // is a warning.
    let sender = agreement(
        "x/sender",
        "ggd",
        json!({"max_retention": "P2Y", "outbound": [
            {"id": "keeps-forever", "to": {"organisation": "x/recipient"}, "purpose": "p", "categories": {"c1": "pass"}},
            {"id": "keeps-a-year", "to": {"organisation": "x/recipient"}, "purpose": "p", "retention": "P1Y", "categories": {"c1": "pass"}}
        ]}),
    );
    let registry = Registry::from_sources(&schema_source(), &[sender, recipient()]).unwrap();
    let warnings: Vec<String> = registry
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].ends_with(
            "x/sender at `/outbound/0`: outbound rule `keeps-forever` sets no retention period"
        ),
        "{warnings:#?}"
    );
}

#[test]
fn control_characters_quoted_from_a_policy_file_are_shown_escaped() {
    let mut schema: Value = serde_json::from_str(&schema_source().text).unwrap();
    schema["fields"]["a.\u{1b}[2Jb\nerror: forged"] =
        json!({"category": "c1", "type": "string", "max_length": 10});
    let schema = PolicySource {
        file: "t/schema.json".into(),
        text: serde_json::to_string_pretty(&schema).unwrap(),
    };
    let err = Registry::from_sources(&schema, &[recipient()]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(r"invalid field path `a.\u{1b}[2Jb\nerror: forged`"),
        "{text}"
    );
    assert!(
        text.contains(r"at `/fields/a.\u{1b}[2Jb\nerror: forged`"),
        "{text}"
    );
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("error: forged")),
        "{text}"
    );
}
