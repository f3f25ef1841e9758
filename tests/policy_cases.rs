//! Runs every agreement test case under `policies/` as its own named test
//! (`province/file/case`), so policy authors test agreements with `cargo test`.

use libtest_mimic::{Arguments, Failed, Trial};
use privacy_gate::cases::{load_cases, run_case, test_keys};
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
                cases
                    .into_iter()
                    .map(|case| {
                        let gate = Arc::clone(&gate);
                        Trial::test(case.id.clone(), move || {
                            run_case(&gate, &case).map_err(Failed::from)
                        })
                    })
                    .collect()
            }
        },
    };
    libtest_mimic::run(&args, trials).exit_code()
}
