//! Records that are odd or hostile: what is removed, what is reported, what is refused.

use crate::util::chain;
use privacy_gate::json::JsonErrorKind;
use privacy_gate::{
    Gate, GateError, KeyRing, Outcome, RecordError, Registry, RemovalReason, Transfer,
};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
        let keys = json!({"domains": {"drenthe/zvh-signalen": {"active": "d1", "keys": {"d1": "d1".repeat(32)}}}});
        Gate::new(
            Registry::load_dir(dir.as_ref()).unwrap(),
            KeyRing::from_json("k", keys.to_string().as_bytes()).unwrap(),
        )
    })
}

/// Drenthe police to OM: identity plain, BSN plain.
fn transfer() -> Transfer<'static> {
    Transfer {
        from: "noord-nederland/politie",
        to: "noord-nederland/om",
        purpose: "criminal-investigation",
        at: "2026-03-02T10:00:00Z".parse().unwrap(),
    }
}

fn release(record: Value) -> privacy_gate::Released {
    match gate().apply(&transfer(), record).unwrap() {
        Outcome::Released(r) => r,
        Outcome::Refused(why) => panic!("refused: {why}"),
    }
}

fn removals(r: &privacy_gate::Released) -> Vec<(String, RemovalReason)> {
    r.decision
        .removed()
        .iter()
        .map(|x| (x.pointer.clone(), x.reason))
        .collect()
}

#[test]
fn unknown_fields_are_removed_and_reported_and_dotted_keys_are_not_paths() {
    let r = release(json!({
        "case": {"id": "c-1", "shoe_size": 44},
        "subject.bsn": "999998523",
        "contacts[]": [{"date": "2025-01-01"}],
        "subject": {"name.family": "Jansen", "bsn": "999998535"},
        "Jan Jansen": "key that is personal data",
    }));
    let rec = &r.record;
    assert_eq!(rec.pointer("/case/id"), Some(&json!("c-1")));
    assert_eq!(rec.pointer("/subject/bsn"), Some(&json!("999998535")));
    assert!(rec.get("subject.bsn").is_none() && rec.get("contacts[]").is_none());
    assert!(rec.pointer("/subject/name.family").is_none());
    let mut got = removals(&r);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("/<key>".to_owned(), RemovalReason::UnknownField),
            ("/case/shoe_size".to_owned(), RemovalReason::UnknownField),
            ("/contacts[]".to_owned(), RemovalReason::UnknownField),
            ("/subject.bsn".to_owned(), RemovalReason::UnknownField),
            (
                "/subject/name.family".to_owned(),
                RemovalReason::UnknownField
            ),
        ]
    );
    assert!(!format!("{:?}", r.decision).contains("Jan Jansen"));
}

#[test]
fn wrong_types_and_invalid_bsns_are_removed_with_their_reason() {
    let r = release(json!({
        "subject": {"bsn": "999998620", "birth_date": "03/04/1990", "is_minor": "no", "sex": null,
                    "name": "Anna Jansen", "address": {"city": "Assen"}},
        "contacts": {"date": "2025-01-01"},
    }));
    let mut got = removals(&r);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("/contacts".to_owned(), RemovalReason::WrongType),
            ("/subject/birth_date".to_owned(), RemovalReason::WrongType),
            ("/subject/bsn".to_owned(), RemovalReason::InvalidBsn),
            ("/subject/is_minor".to_owned(), RemovalReason::WrongType),
            ("/subject/name".to_owned(), RemovalReason::WrongType),
            ("/subject/sex".to_owned(), RemovalReason::WrongType),
        ]
    );
    assert_eq!(r.record["subject"], json!({"address": {"city": "Assen"}}));
    let bsn = r
        .decision
        .fields()
        .find(|f| f.path == "subject.bsn")
        .unwrap();
    assert_eq!((bsn.occurrences, bsn.released), (1, 0));
    let text = serde_json::to_string(&r.decision.to_json()).unwrap();
    assert!(!text.contains("999998620") && !text.contains("03/04/1990"));
}

#[test]
fn arrays_keep_their_order_and_each_element_is_gated() {
    let r = release(json!({"contacts": [
        {"date": "2025-01-01", "organisation": "ggd", "summary": "a"},
        {"date": "not a date", "organisation": "zvh"},
        {"date": "2025-01-03", "organisation": "politie", "extra": 1},
    ]}));
    assert_eq!(
        r.record["contacts"],
        json!([
            {"date": "2025-01-01", "organisation": "ggd"},
            {"organisation": "zvh"},
            {"date": "2025-01-03", "organisation": "politie"},
        ])
    );
    let mut got = removals(&r);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("/contacts/1/date".to_owned(), RemovalReason::WrongType),
            ("/contacts/2/extra".to_owned(), RemovalReason::UnknownField),
        ]
    );
}

#[test]
fn malformed_records_are_errors_that_quote_nothing() {
    type Check = fn(&RecordError) -> bool;
    let cases: [(&[u8], Check); 5] = [
        (
            br#"{"subject": {"bsn": "999998523", "bsn": "999998535"}}"#,
            |e| matches!(e, RecordError::Json(j) if j.kind == JsonErrorKind::DuplicateKey),
        ),
        (br#"["999998523"]"#, |e| *e == RecordError::NotAnObject),
        (br#""999998523""#, |e| *e == RecordError::NotAnObject),
        (br#"{"subject": {"bsn": "999998523"}"#, |e| {
            matches!(e, RecordError::Json(_))
        }),
        (br#"{"name": "Jansen" "x": 1}"#, |e| {
            matches!(e, RecordError::Json(_))
        }),
    ];
    for (bytes, expected) in cases {
        let GateError::Record(err) = gate().apply_json(&transfer(), bytes).unwrap_err() else {
            panic!("not a record error");
        };
        assert!(expected(&err), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("999998") && !text.contains("Jansen"),
            "{text}"
        );
    }
    let deep = format!(
        "{}{}",
        "{\"a\":".repeat(40),
        "1".to_owned() + &"}".repeat(40)
    );
    let GateError::Record(err) = gate().apply_json(&transfer(), deep.as_bytes()).unwrap_err()
    else {
        panic!("not a record error");
    };
    assert!(
        matches!(err, RecordError::Json(ref j) if j.kind == JsonErrorKind::TooDeep(32)),
        "{err}"
    );
}

#[test]
fn the_gate_is_send_and_sync_and_threads_agree_with_a_sequential_run() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gate>();
    let lines: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/records.jsonl"
    ))
    .unwrap()
    .lines()
    .map(str::to_owned)
    .collect();
    let run = |line: &str| match gate().apply_json(&transfer(), line.as_bytes()) {
        Ok(Outcome::Released(r)) => r.record.to_string(),
        Ok(Outcome::Refused(why)) => format!("refused: {why}"),
        Err(e) => format!("error: {}", chain(&e)),
    };
    let sequential: Vec<String> = lines.iter().map(|l| run(l)).collect();
    let lines = Arc::new(lines);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || lines.iter().map(|l| run(l)).collect::<Vec<_>>())
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), sequential);
    }
}

#[test]
fn parallel_json_lines_keep_order_and_report_the_same_problems() {
    let examples = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/records.jsonl"
    ))
    .unwrap();
    let mut input = String::new();
    for round in 0..40 {
        for (i, line) in examples.lines().enumerate() {
            input.push_str(line);
            input.push('\n');
            if (round + i) % 7 == 0 {
                input.push_str("{\"broken\": \n");
            }
            if (round + i) % 11 == 0 {
                input.push_str("\n[1, 2]\r\n");
            }
        }
    }
    let transfers = [
        transfer(),
        Transfer {
            from: "groningen/zvh",
            to: "groningen/gemeente",
            purpose: "care-coordination",
            at: "2026-03-02T10:00:00Z".parse().unwrap(),
        },
    ];
    for t in transfers {
        let flow = gate().flow(&t).unwrap();
        let run = |threads: usize| {
            let mut out = Vec::new();
            let mut problems = Vec::new();
            let stats = privacy_gate::gate_json_lines_parallel(
                &flow,
                input.as_bytes(),
                &mut out,
                threads,
                |p| problems.push(format!("{p:?}")),
            )
            .unwrap();
            (out, problems, stats)
        };
        let sequential = run(1);
        assert!(sequential.2.malformed > 0 && sequential.2.released > 0);
        for threads in [2, 3, 8] {
            assert_eq!(run(threads), sequential, "{threads} threads");
        }
    }
}
