//! Limits: over-long lines are reported and skipped without being held whole,
//! dense records and large policy files are refused, all with the limit named.

use privacy_gate::json::JsonErrorKind;
use privacy_gate::{
    gate_json_lines, gate_json_lines_parallel, Gate, GateError, KeyRing, Limits, LineProblem,
    Outcome, RecordError, Registry, Transfer,
};
use proptest::prelude::*;
use serde_json::json;
use std::io::BufReader;

fn gate(limits: Limits) -> Gate {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    Gate::new(Registry::load_dir(dir.as_ref()).unwrap(), KeyRing::empty()).with_limits(limits)
}

/// Drenthe police to OM: no pseudonyms, so no keys needed.
fn transfer() -> Transfer<'static> {
    Transfer {
        from: "noord-nederland/politie",
        to: "noord-nederland/om",
        purpose: "criminal-investigation",
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
    }
}

fn record(id: usize, padding: usize) -> String {
    json!({"case": {"id": format!("c{id}"), "status": "x".repeat(padding)}}).to_string()
}

/// What a stream did: released case ids, and problems as (line, kind).
fn run(
    gate: &Gate,
    input: &[u8],
    threads: usize,
    buffer: usize,
) -> (Vec<String>, Vec<(u64, String)>) {
    let flow = gate.flow(&transfer()).unwrap();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let on_problem = |p: LineProblem<'_>| {
        problems.push(match p {
            LineProblem::TooLong(line, limit) => (line, format!("too long ({limit})")),
            LineProblem::Malformed(line, _) => (line, "malformed".into()),
            LineProblem::Refused(line, _) => (line, "refused".into()),
            other => panic!("unexpected {other:?}"),
        })
    };
    let reader = BufReader::with_capacity(buffer, input);
    let stats = if threads == 1 {
        gate_json_lines(&flow, reader, &mut out, on_problem).unwrap()
    } else {
        gate_json_lines_parallel(&flow, reader, &mut out, threads, on_problem).unwrap()
    };
    let ids: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["case"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        stats.too_long as usize,
        problems
            .iter()
            .filter(|p| p.1.starts_with("too long"))
            .count()
    );
    (ids, problems)
}

#[test]
fn a_line_over_the_limit_is_reported_and_skipped_and_the_stream_goes_on() {
    let limits = Limits {
        max_line_bytes: 200,
        ..Limits::default()
    };
    let gate = gate(limits);
    let fits = record(1, 100);
    let over = record(2, 5000);
    let mut input = format!(
        "{fits}\n{over}\n{}\n\n{over}\r\n{}",
        record(3, 10),
        record(4, 10)
    );
    input.push('\n');
    input.push_str(&over); // a last line without newline, too long
    for threads in [1, 2] {
        for buffer in [16, 64, 8192] {
            let (ids, problems) = run(&gate, input.as_bytes(), threads, buffer);
            assert_eq!(
                ids,
                ["c1", "c3", "c4"],
                "threads {threads}, buffer {buffer}"
            );
            assert_eq!(
                problems,
                [
                    (2, "too long (200)".to_owned()),
                    (5, "too long (200)".to_owned()),
                    (7, "too long (200)".to_owned())
                ],
                "threads {threads}, buffer {buffer}"
            );
        }
    }
}

#[test]
fn the_line_limit_counts_bytes_without_the_newline() {
    let exact = record(1, 0);
    let limits = Limits {
        max_line_bytes: exact.len(),
        ..Limits::default()
    };
    let gate = gate(limits);
    let input = format!("{exact}\n{exact} \n{exact}");
    let (ids, problems) = run(&gate, input.as_bytes(), 1, 7);
    assert_eq!(ids, ["c1", "c1"]);
    assert_eq!(problems, [(2, format!("too long ({})", exact.len()))]);
}

#[test]
fn audited_streams_skip_over_long_lines_too() {
    use privacy_gate::audit::{Archive, AuditLog, SteppingClock};
    let dir = std::env::temp_dir().join(format!("pg-limits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keys = json!({"domains": {},
        "audit_writer": {"name": "t.example/log", "secret": "ab".repeat(32)},
        "audit_records": {"active": "a", "keys": {"a": "ab".repeat(32)}},
        "audit_subject": {"active": "s", "keys": {"s": "ac".repeat(32)}}});
    let keys = KeyRing::from_json("k", keys.to_string().as_bytes()).unwrap();
    let path = dir.join("audit.log");
    let (log, _) = AuditLog::open(
        &path,
        &keys,
        std::sync::Arc::new(SteppingClock::new(
            "2026-03-02T10:00:00Z".parse().unwrap(),
            chrono::Duration::milliseconds(1),
        )),
    )
    .unwrap();
    let gate = gate(Limits {
        max_line_bytes: 300,
        ..Limits::default()
    })
    .with_audit(std::sync::Arc::new(log), &Archive::next_to(&path))
    .unwrap();
    let input = format!(
        "{}\n{}\n{}\n",
        record(1, 10),
        record(2, 1000),
        record(3, 10)
    );
    for threads in [1, 2] {
        let (ids, problems) = run(&gate, input.as_bytes(), threads, 32);
        assert_eq!(ids, ["c1", "c3"]);
        assert_eq!(problems, [(2, "too long (300)".to_owned())]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn records_with_more_values_than_the_limit_are_refused_before_they_are_built() {
    let gate = gate(Limits {
        max_values: 5,
        ..Limits::default()
    });
    let flow = gate.flow(&transfer()).unwrap();
    // Members and elements at every level count: case, id, status, notes = 4.
    let fits = br#"{"case": {"id": "c1", "status": "open"}, "notes": "n"}"#;
    assert!(matches!(flow.apply_json(fits), Ok(Outcome::Released(_))));
    let five = br#"{"case": {"id": "c1", "status": "open"}, "notes": "n", "x": 1}"#;
    assert!(matches!(flow.apply_json(five), Ok(Outcome::Released(_))));
    for dense in [
        &br#"{"case": {"id": "c1", "status": "open"}, "notes": "n", "x": 1, "y": 2}"#[..],
        br#"{"x": [1, 2, 3, 4, 5]}"#,
        br#"{"x": [[[[[[]]]]]]}"#,
    ] {
        match flow.apply_json(dense) {
            Err(GateError::Record(RecordError::Json(e))) => {
                assert_eq!(e.kind, JsonErrorKind::TooManyValues(5));
                assert_eq!(
                    e.to_string().split(" at ").next(),
                    Some("more than 5 values")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn policy_files_over_the_size_limit_stop_the_load_naming_the_file_and_limit() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let limits = Limits {
        max_policy_file_bytes: 2000,
        ..Limits::default()
    };
    let err = Registry::load_dir_with(dir.as_ref(), &limits).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "policies/schema.json: cannot read policy file: file is larger than 2000 bytes"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "policies/drenthe/ggd.json: cannot read policy file: file is larger than 2000 bytes"
        ),
        "{text}"
    );
    assert!(Registry::load_dir_with(dir.as_ref(), &Limits::default()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any mix of line lengths, buffer sizes and thread counts: exactly the lines
    /// within the limit are gated, in order, and every other one is reported.
    #[test]
    fn exactly_the_lines_within_the_limit_are_gated(
        paddings in proptest::collection::vec(0usize..400, 1..30),
        limit in 40usize..400,
        buffer in 8usize..512,
        threads in 1usize..4,
    ) {
        let gate = gate(Limits { max_line_bytes: limit, ..Limits::default() });
        let lines: Vec<String> = paddings.iter().enumerate().map(|(i, p)| record(i, *p)).collect();
        let input = lines.join("\n");
        let (ids, problems) = run(&gate, input.as_bytes(), threads, buffer);
        let expected_ids: Vec<String> = lines.iter().enumerate().filter(|(_, l)| l.len() <= limit).map(|(i, _)| format!("c{i}")).collect();
        let expected_problems: Vec<(u64, String)> = lines.iter().enumerate().filter(|(_, l)| l.len() > limit).map(|(i, _)| (i as u64 + 1, format!("too long ({limit})"))).collect();
        prop_assert_eq!(ids, expected_ids);
        prop_assert_eq!(problems, expected_problems);
    }
}
