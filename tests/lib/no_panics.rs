//! No panics by construction: the lints that forbid the panicking shorthands hold for
//! the library and the binary, every exception is a reasoned `#[expect]`, and the
//! panics no lint sees (chrono's date arithmetic operators) are not reachable from
//! the moments a caller can pass.

use crate::fixtures::{self, RuleActions, CATEGORIES};
use crate::util::root;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use privacy_gate::audit::{Clock, SteppingClock};
use privacy_gate::compare::{compare_all, compare_flow, FlowKind};
use privacy_gate::{Action, Gate, KeyRing, Method, Outcome, PolicySource, Registry, Transfer};
use serde_json::json;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of each attribute (`#[...]` or `#![...]`, brackets balanced) in `source`.
fn attributes(source: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find('#') {
        let after = &rest[at + 1..];
        let open = if after.starts_with("![") {
            2
        } else if after.starts_with('[') {
            1
        } else {
            rest = after;
            continue;
        };
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in after.char_indices().skip(open - 1) {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            rest = after;
            continue;
        };
        found.push(&after[..=end]);
        rest = &after[end + 1..];
    }
    found
}

#[test]
fn the_panic_lints_cover_library_and_binary_and_exceptions_are_reasoned_expectations() {
    // The lint table in Cargo.toml applies to every target of the package: the
    // library and src/bin/privacy-gate alike.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let clippy = manifest
        .split("[lints.clippy]")
        .nth(1)
        .expect("Cargo.toml has a [lints.clippy] table")
        .split("\n[")
        .next()
        .unwrap();
    for lint in ["unwrap_used", "expect_used", "panic", "indexing_slicing"] {
        assert!(
            clippy
                .lines()
                .any(|l| l.replace(' ', "") == format!("{lint}=\"deny\"")),
            "Cargo.toml [lints.clippy] must deny {lint}"
        );
    }
    assert!(
        manifest.contains("unsafe_code = \"forbid\""),
        "unsafe code must stay forbidden"
    );
    assert!(
        !manifest.contains("[workspace.lints") && !manifest.contains("lints.workspace"),
        "the lints are the package's own"
    );

    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    assert!(files
        .iter()
        .any(|f| f.ends_with("src/bin/privacy-gate/main.rs")));
    let mut wrong = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let name = file.strip_prefix(root()).unwrap().display().to_string();
        for attribute in attributes(&source) {
            let compact: String = attribute.split_whitespace().collect();
            // Unit tests (`cfg(test)`) may unwrap; nothing else may switch a lint off.
            if compact.contains("allow(") && !compact.starts_with("![cfg_attr(test,allow(") {
                wrong.push(format!(
                    "{name}: `#{attribute}`: use #[expect(..., reason = \"...\")]"
                ));
            }
            if compact.contains("expect(") && !compact.contains("reason=\"") {
                wrong.push(format!("{name}: `#{attribute}` gives no reason"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Neither the library nor the binary prints with the panicking macros (`println!`
    // panics when stdout is closed): both crate roots deny them.
    for root_file in ["src/lib.rs", "src/bin/privacy-gate/main.rs"] {
        let source = std::fs::read_to_string(root().join(root_file)).unwrap();
        let compact: String = source.split_whitespace().collect();
        assert!(
            compact.contains("#![deny(clippy::print_stdout,clippy::print_stderr)]"),
            "{root_file} must deny clippy::print_stdout and clippy::print_stderr"
        );
    }
}

/// Sender `x/s` generalises dates to an age band and keeps retention; the agreements
/// are valid across chrono's whole range of dates.
fn timeless_registry() -> Registry {
    let mut sender = RuleActions::default();
    for c in CATEGORIES {
        sender.categories.insert((*c).into(), Action::Pass);
    }
    sender
        .paths
        .insert("a.d".into(), Action::Generalise(Method::AgeBand));
    sender
        .paths
        .insert("list[].d".into(), Action::Generalise(Method::YearMonth));
    let mut recipient = RuleActions::default();
    for c in CATEGORIES {
        recipient.categories.insert((*c).into(), Action::Pass);
    }
    let valid = json!({"from": NaiveDate::MIN.to_string(), "until": NaiveDate::MAX.to_string()});
    let sources: Vec<PolicySource> = fixtures::pair_sources(&sender, &recipient)
        .into_iter()
        .map(|mut source| {
            let mut value: serde_json::Value = serde_json::from_str(&source.text).unwrap();
            value["valid"] = valid.clone();
            source.text = value.to_string();
            source
        })
        .collect();
    Registry::from_sources(&fixtures::schema_source(), &sources).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn moments_at_the_ends_of_time_do_not_panic() {
    let moments = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MIN_UTC + Duration::hours(1),
        DateTime::<Utc>::MAX_UTC - Duration::hours(1),
        DateTime::<Utc>::MAX_UTC,
        DateTime::UNIX_EPOCH,
    ];
    for at in moments {
        // Days in Amsterdam.
        let _ = privacy_gate::amsterdam_date(at);
        // A flow in force at every moment, with an age band and a retention period.
        let gate = Gate::new(timeless_registry(), fixtures::keys());
        let transfer = Transfer {
            from: "x/s",
            to: "x/r",
            purpose: "p",
            at,
        };
        let record = json!({"a": {"d": "1990-07-15", "s": "x"}, "list": [{"d": "2020-01-01"}]});
        match gate.apply(&transfer, record.clone()) {
            Ok(Outcome::Released(released)) => {
                let _ = released.decision.to_json();
            }
            Ok(Outcome::Refused(why)) => panic!("{at}: refused: {why}"),
            Err(e) => panic!("{at}: {e}"),
        }
        let bytes = serde_json::to_vec(&record).unwrap();
        gate.apply_json(&transfer, &bytes).unwrap();
        // The shipped policies: refused as not in force, never a panic.
        let shipped =
            Registry::load_dir(&root().join("policies")).unwrap_or_else(|e| panic!("{e}"));
        let _ = shipped.lints(privacy_gate::amsterdam_date(at));
        let _ = compare_all(&shipped, &[], at).unwrap();
        let _ = compare_flow(
            &shipped,
            &FlowKind::new("ggd", "politie", "criminal-investigation"),
            &[],
            at,
        )
        .unwrap();
        let gate = Gate::new(shipped, KeyRing::empty());
        let transfer = Transfer {
            from: "drenthe/ggd",
            to: "noord-nederland/politie",
            purpose: "criminal-investigation",
            at,
        };
        assert!(matches!(
            gate.apply(&transfer, json!({})).unwrap(),
            Outcome::Refused(_)
        ));
    }
    let registry = timeless_registry();
    let _ = registry.lints(NaiveDate::MIN);
    let _ = registry.lints(NaiveDate::MAX);
    // The stepping clock saturates instead of overflowing.
    let clock = SteppingClock::new(DateTime::<Utc>::MAX_UTC, Duration::days(1));
    assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
}
