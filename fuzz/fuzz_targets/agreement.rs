//! An agreement file through the loader: the fuzzed text takes the place of one
//! shipped agreement of Drenthe (the one whose organisation it names, else
//! `drenthe/ggd`), with the shipped schema and the other agreements of Drenthe beside
//! it (one province only, to keep each run short: a province's agreements only
//! refer to each other). Properties: see `fuzz_common::check_load`.

#![no_main]

use fuzz_common::{check_load, sources};
use libfuzzer_sys::fuzz_target;
use privacy_gate::{PolicySource, Registry};

fuzz_target!(|data: &[u8]| {
    let (schema, shipped) = sources();
    let text = String::from_utf8_lossy(data).into_owned();
    let named = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("organisation")
                .and_then(|o| o.as_str())
                .map(str::to_owned)
        })
        .map(|org| format!("policies/{org}.json"));
    let target = named
        .filter(|n| n.starts_with("policies/drenthe/") && shipped.iter().any(|s| s.file == *n))
        .unwrap_or_else(|| "policies/drenthe/ggd.json".to_owned());
    let agreements: Vec<PolicySource> = shipped
        .iter()
        .filter(|s| s.file.starts_with("policies/drenthe/"))
        .map(|s| {
            if s.file == target {
                PolicySource {
                    file: s.file.clone(),
                    text: text.clone(),
                }
            } else {
                s.clone()
            }
        })
        .collect();
    check_load(Registry::from_sources(schema, &agreements), &target, &text);
});
