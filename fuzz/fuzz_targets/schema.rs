//! A schema file through the loader: the fuzzed text as `policies/schema.json`, with
//! every shipped agreement. Properties: see `fuzz_common::check_load`.

#![no_main]

use fuzz_common::{check_load, sources};
use libfuzzer_sys::fuzz_target;
use privacy_gate::{PolicySource, Registry};

fuzz_target!(|data: &[u8]| {
    let (schema, agreements) = sources();
    let text = String::from_utf8_lossy(data).into_owned();
    let fuzzed = PolicySource {
        file: schema.file.clone(),
        text: text.clone(),
    };
    check_load(
        Registry::from_sources(&fuzzed, agreements),
        &schema.file,
        &text,
    );
});
