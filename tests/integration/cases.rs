//! The runner for policy authors' test cases: a wrong case fails with a report in the
//! author's terms; a bad case file is an error naming the case.

use privacy_gate::cases::{load_cases, run_case, test_keys};
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
    let report = run_case(&gate, &cases[0]).unwrap_err();
    let file = fixture("wrong-cases/drenthe/tests/wrong.json");
    assert_eq!(
        report,
        format!(
            "drenthe/wrong/police-get-the-plain-bsn ({}) failed:\n  \
             subject.bsn: expected pass, actual pseudonymise(drenthe/mensenhandel); \
             sender: drenthe/ggd rule `dr-ggd-out-politie-crim` (pseudonymise(drenthe/mensenhandel)); \
             recipient: drenthe/politie rule `dr-politie-in-ggd-crim` (pass)\n  \
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
