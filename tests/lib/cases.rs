//! The runner for policy authors' test cases: a wrong case fails with a report in the
//! author's terms; a bad case file is an error naming the case.

use privacy_gate::authoring::{load_cases, run_case, run_case_covering, Coverage};
use privacy_gate::danger::test_keys;
use privacy_gate::{Gate, Registry};
use std::path::Path;

fn registry() -> Registry {
    Registry::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap()
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn a_wrong_case_fails_naming_field_actions_and_clauses() {
    let registry = registry();
    let cases = load_cases(&fixture("wrong-cases"), &registry).unwrap();
    let keys = test_keys(&registry);
    let gate = Gate::new(registry, keys);
    let report = run_case(&gate, &cases[0]).unwrap_err().to_string();
    let file = fixture("wrong-cases/drenthe/tests/wrong.json");
    assert_eq!(
        report,
        format!(
            "drenthe/wrong/police-get-the-plain-bsn ({}) failed:\n  \
             subject.bsn: expected pass, actual block; \
             sender: drenthe/ggd rule `dr-ggd-out-politie-crim` (block); \
             recipient: noord-nederland/politie rule `dr-politie-in-ggd-crim` (pass)\n  \
             subject.birth_date: expected value \"1990-07\", actual \"1990\"",
            file.display()
        )
    );
}

#[test]
fn bad_case_files_are_errors_naming_the_case() {
    let err = load_cases(&fixture("bad-cases"), &registry())
        .unwrap_err()
        .to_string();
    assert!(err.contains("case `misspelt-names`: unknown organisation `drenthe/gdd` (did you mean `drenthe/ggd`?)"), "{err}");
    assert!(err.contains("case `misspelt-names`: unknown purpose `criminal-investigaton` (did you mean `criminal-investigation`?)"), "{err}");
    assert!(
        err.contains("case `misspelt-names`: unknown field path `subject.bssn`"),
        "{err}"
    );
    assert!(
        err.contains("case `expects-nothing`: expects nothing, so it could never fail"),
        "{err}"
    );
    assert!(err.contains("malformed.json:3:"), "{err}");
    assert!(err.contains("missing field `from`"), "{err}");
}

#[test]
fn the_shipped_cases_pass() {
    let registry = registry();
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let cases = load_cases(&policies, &registry).unwrap();
    assert!(cases.len() >= 10);
    let keys = test_keys(&registry);
    let gate = Gate::new(registry, keys);
    for case in &cases {
        run_case(&gate, case).unwrap_or_else(|report| panic!("{report}"));
    }
}

/// The JSON block of `policies/README.md` that starts with `start`.
fn readme_block(readme: &str, start: &str) -> String {
    let from = readme
        .find(&format!("```json\n{start}"))
        .expect("the guide has the block")
        + "```json\n".len();
    let len = readme[from..].find("```").unwrap();
    readme[from..from + len].to_owned()
}

#[test]
fn the_authoring_guide_examples_load_and_its_cases_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("policies/README.md")).unwrap();
    let dir = std::env::temp_dir().join(format!("pg-guide-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("groningen/tests")).unwrap();
    std::fs::copy(root.join("policies/schema.json"), dir.join("schema.json")).unwrap();
    for province in ["drenthe", "friesland", "groningen", "noord-nederland", "nl"] {
        std::fs::create_dir_all(dir.join(province)).unwrap();
        for entry in std::fs::read_dir(root.join("policies").join(province)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::copy(&path, dir.join(province).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    // The guide's agreement replaces the shipped one; its cases run against it.
    std::fs::write(
        dir.join("groningen/ggd.json"),
        readme_block(&readme, "{\n  \"organisation\""),
    )
    .unwrap();
    std::fs::write(
        dir.join("groningen/tests/guide.json"),
        readme_block(
            &readme,
            "{\n  \"$schema\": \"../../cases.schema.json\",\n  \"cases\"",
        ),
    )
    .unwrap();
    let registry = Registry::load_dir(&dir).unwrap();
    let cases = load_cases(&dir, &registry).unwrap();
    assert_eq!(cases.len(), 2);
    let keys = test_keys(&registry);
    let gate = Gate::new(registry, keys);
    for case in &cases {
        run_case(&gate, case).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flow_refused_as_not_in_force_counts_its_rules_but_not_their_entries() {
    let registry = registry();
    let dir = std::env::temp_dir().join(format!("pg-draft-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("friesland/tests")).unwrap();
    std::fs::write(
        dir.join("friesland/tests/draft.json"),
        r#"{"cases": [{
          "name": "draft-municipality-is-refused",
          "transfer": {"from": "friesland/gemeente", "to": "friesland/zvh",
                       "purpose": "signal-assessment", "at": "2026-03-02T10:00:00Z"},
          "record": {"case": {"id": "c1"}},
          "expect": {"refused": "not-in-force"}
        }]}"#,
    )
    .unwrap();
    let cases = load_cases(&dir, &registry).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let keys = test_keys(&registry);
    let gate = Gate::new(registry, keys);
    let mut coverage = Coverage::default();
    run_case_covering(&gate, &cases[0], &mut coverage).unwrap();
    let report = coverage.report(gate.registry());
    assert_eq!(report.rules_hit, 2, "{report}");
    assert_eq!(report.entries_hit, 0, "{report}");
    let text = report.to_string();
    for rule in ["fr-gemeente-out-zvh-signal", "fr-zvh-in-gemeente-signal"] {
        assert!(
            text.contains(&format!("rule `{rule}`: entries no case exercises:")),
            "{text}"
        );
        assert!(!text.contains(&format!("rule `{rule}` (")), "{text}");
    }
}

#[test]
fn absent_fields_must_carry_no_value_and_name_known_paths() {
    let registry = registry();
    let dir = std::env::temp_dir().join(format!("pg-absent-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("drenthe/tests")).unwrap();
    let case = |name: &str, absent: &str| {
        format!(
            r#"{{"name": "{name}",
              "transfer": {{"from": "noord-nederland/politie", "to": "noord-nederland/om",
                           "purpose": "criminal-investigation", "at": "2026-03-02T10:00:00Z"}},
              "record": {{"case": {{"id": "c1"}}, "subject": {{"bsn": "123456789"}},
                         "contacts": [{{"date": "2026-01-01"}}, {{"date": "bad"}}]}},
              "expect": {{"absent": {absent}}}}}"#
        )
    };
    std::fs::write(
        dir.join("drenthe/tests/absent.json"),
        format!(
            r#"{{"cases": [{}, {}, {}]}}"#,
            case(
                "invalid-bsn-is-dropped",
                r#"["subject.bsn", "subject.name.family"]"#
            ),
            case("case-id-is-absent", r#"["case.id", "contacts[].date"]"#),
            case("typo", r#"["subject.bns"]"#),
        ),
    )
    .unwrap();
    let diags = load_cases(&dir, &registry).unwrap_err().to_string();
    assert!(
        diags.contains("case `typo`: unknown field path `subject.bns`"),
        "{diags}"
    );
    let text = std::fs::read_to_string(dir.join("drenthe/tests/absent.json")).unwrap();
    std::fs::write(
        dir.join("drenthe/tests/absent.json"),
        text.replace(r#""subject.bns""#, r#""subject.bsn""#),
    )
    .unwrap();
    let cases = load_cases(&dir, &registry).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let keys = test_keys(&registry);
    let gate = Gate::new(registry, keys);
    run_case(&gate, &cases[0]).unwrap();
    let report = run_case(&gate, &cases[1]).unwrap_err().to_string();
    assert!(
        report.ends_with(
            "failed:\n  case.id: expected no value, but 1 crossed (action pass)\n  \
             contacts[].date: expected no value, but 1 crossed (action pass)"
        ),
        "{report}"
    );
}

/// `retain_until` asserts the day in the released record's `_transfer` terms: the
/// right day passes, another fails naming both, and a value that is no day (which
/// could never match) is an error when the cases load.
#[test]
fn retain_until_asserts_the_released_deadline() {
    let registry = registry();
    let dir = std::env::temp_dir().join(format!("pg-retain-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("noord-nederland/tests")).unwrap();
    let case = |name: &str, retain_until: &str| {
        format!(
            r#"{{"name": "{name}",
              "transfer": {{"from": "noord-nederland/politie", "to": "noord-nederland/om",
                           "purpose": "criminal-investigation", "at": "2026-03-02T10:00:00Z"}},
              "record": {{"case": {{"id": "c1"}}}},
              "expect": {{"retain_until": {retain_until}}}}}"#
        )
    };
    let file = dir.join("noord-nederland/tests/retain.json");
    let write = |cases: &[String]| {
        std::fs::write(&file, format!(r#"{{"cases": [{}]}}"#, cases.join(", "))).unwrap();
    };
    write(&[
        case("five-years", r#""2031-03-02""#),
        case("wrong-day", r#""2030-03-02""#),
        case("no-deadline", "null"),
    ]);
    let cases = load_cases(&dir, &registry).unwrap();
    write(&[case("not-a-day", r#""2031-3-2""#), case("a-number", "2031")]);
    let diags = load_cases(&dir, &registry).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        diags.contains("case `not-a-day`: `retain_until` is a text that is no day: write the last day the recipient may keep the record as `YYYY-MM-DD`, or `null`"),
        "{diags}"
    );
    assert!(
        diags.contains("case `a-number`: `retain_until` is a non-text value that is no day"),
        "{diags}"
    );
    let keys = test_keys(&registry);
    let gate = Gate::new(registry, keys);
    run_case(&gate, &cases[0]).unwrap();
    let report = run_case(&gate, &cases[1]).unwrap_err().to_string();
    assert!(
        report.ends_with("failed:\n  retain_until: expected \"2030-03-02\", actual \"2031-03-02\""),
        "{report}"
    );
    let report = run_case(&gate, &cases[2]).unwrap_err().to_string();
    assert!(
        report.ends_with("failed:\n  retain_until: expected null, actual \"2031-03-02\""),
        "{report}"
    );
}
