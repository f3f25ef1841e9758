//! Runs every agreement test case under `policies/` as its own named test
//! (`province/file/case`), so policy authors test agreements with `cargo test`.

use libtest_mimic::{Arguments, Failed, Trial};
use privacy_gate::authoring::{load_cases, run_case, run_case_covering, Case, Coverage};
use privacy_gate::danger::test_keys;
use privacy_gate::{Gate, Registry};
use std::path::Path;
use std::sync::Arc;

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let trials = match Registry::load_dir(&policies) {
        Err(e) => vec![Trial::test("policies load", move || {
            Err(Failed::from(e.to_string()))
        })],
        Ok(registry) => match load_cases(&policies, &registry) {
            Err(diags) => vec![Trial::test("case files load", move || {
                Err(Failed::from(diags.to_string()))
            })],
            Ok(cases) => {
                let keys = test_keys(&registry);
                let gate = Arc::new(Gate::new(registry, keys));
                let coverage = {
                    let (gate, cases) = (Arc::clone(&gate), cases.clone());
                    Trial::test(
                        "coverage: every rule is exercised by some case",
                        move || every_rule_exercised(&gate, &cases),
                    )
                };
                cases
                    .into_iter()
                    .map(|case| {
                        let gate = Arc::clone(&gate);
                        Trial::test(case.id.clone(), move || {
                            run_case(&gate, &case).map_err(Failed::from)
                        })
                    })
                    .chain(std::iter::once(coverage))
                    .collect()
            }
        },
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// The shipped agreements are held to full rule coverage, as `privacy-gate test
/// --min-coverage 100` would hold them; the report lists what is missing.
fn every_rule_exercised(gate: &Gate, cases: &[Case]) -> Result<(), Failed> {
    let mut coverage = Coverage::default();
    for case in cases {
        // Failures are reported by the case's own test.
        let _ = run_case_covering(gate, case, &mut coverage);
    }
    let report = coverage.report(gate.registry());
    if report.rules_hit == report.rules {
        Ok(())
    } else {
        Err(Failed::from(format!(
            "some rules are not exercised by any case:\n{report}"
        )))
    }
}
