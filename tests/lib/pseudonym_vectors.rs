//! Checks the crate's `pg2` pseudonyms against `docs/pseudonym-vectors.json`, which an
//! independent Python implementation (`docs/gen_pseudonym_vectors.py`) generated from
//! the specification in `docs/pseudonymisation.md`.

use crate::util::{hex, unhex};
use hmac::{Hmac, Mac};
use privacy_gate::danger::key_from_secret;
use privacy_gate::pseudonym::{normalise, normalise_bsn, normalise_name, ValueProblem};
use privacy_gate::{ActiveKey, DomainId, KeyRing, ValueType};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/pseudonym-vectors.json");
    let text = std::fs::read_to_string(path).expect("read docs/pseudonym-vectors.json");
    serde_json::from_str(&text).expect("parse docs/pseudonym-vectors.json")
}

fn list<'a>(doc: &'a Value, name: &str) -> &'a [Value] {
    doc[name]
        .as_array()
        .unwrap_or_else(|| panic!("`{name}` is an array"))
}

fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` is a string in {v}"))
}

fn value_type(name: &str) -> ValueType {
    serde_json::from_value(Value::String(name.to_owned()))
        .unwrap_or_else(|e| panic!("type `{name}`: {e}"))
}

fn key(v: &Value) -> ActiveKey {
    key_from_secret(text(v, "key_id"), &unhex(text(v, "secret_hex"))).expect("usable key")
}

#[test]
fn scheme_is_pg2() {
    let doc = vectors();
    assert_eq!(doc["scheme"], "pg2");
    assert_eq!(privacy_gate::pseudonym::SCHEME, "pg2");
}

#[test]
fn rfc4231_hmac_sha256() {
    let doc = vectors();
    let cases = list(&doc, "hmac_sha256");
    assert_eq!(cases.len(), 7, "RFC 4231 test cases 1-7");
    for case in cases {
        let mut mac = Hmac::<Sha256>::new_from_slice(&unhex(text(case, "key"))).unwrap();
        mac.update(&unhex(text(case, "data")));
        let tag = mac.finalize().into_bytes();
        let len = case
            .get("truncate_bytes")
            .map_or(32, |n| usize::try_from(n.as_u64().unwrap()).unwrap());
        assert_eq!(
            hex(&tag[..len]),
            text(case, "expected"),
            "{}",
            text(case, "description")
        );
    }
    assert_eq!(
        cases
            .iter()
            .filter(|c| c.get("truncate_bytes").is_some())
            .count(),
        1
    );
}

#[test]
fn pseudonym_vectors_match() {
    let doc = vectors();
    let cases = list(&doc, "pseudonyms");
    assert!(!cases.is_empty());
    for case in cases {
        let description = text(case, "description");
        let ty = value_type(text(case, "type"));
        assert_eq!(ty.name(), text(case, "type"));
        let normalised =
            normalise(ty, &case["input"]).unwrap_or_else(|p| panic!("{description}: {p}"));
        assert_eq!(
            normalised,
            text(case, "normalised"),
            "{description}: normalised"
        );
        let domain = DomainId::new(text(case, "domain")).expect("a domain id");
        let pseudonym = key(case).pseudonym(&domain, ty, &normalised);
        assert_eq!(
            pseudonym,
            text(case, "pseudonym"),
            "{description}: pseudonym"
        );
        // Output format: `pg2:` + key id + `:` + 64 lowercase hex digits.
        let rest = pseudonym.strip_prefix("pg2:").unwrap();
        let (id, tag) = rest.split_once(':').unwrap();
        assert_eq!(id, text(case, "key_id"));
        assert!(
            tag.len() == 64
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}

#[test]
fn every_value_type_is_covered() {
    let doc = vectors();
    let all = [
        "bsn", "name", "date", "postcode", "string", "text", "boolean", "number",
    ];
    for ty in all {
        assert!(
            list(&doc, "pseudonyms").iter().any(|c| c["type"] == ty),
            "no pseudonym vector for `{ty}`"
        );
        assert!(
            list(&doc, "invalid").iter().any(|c| c["type"] == ty),
            "no invalid vector for `{ty}`"
        );
    }
}

#[test]
fn invalid_vectors_are_refused() {
    let doc = vectors();
    let cases = list(&doc, "invalid");
    assert!(!cases.is_empty());
    for case in cases {
        let description = text(case, "description");
        let ty = value_type(text(case, "type"));
        let problem = normalise(ty, &case["input"]).expect_err(description);
        assert_eq!(
            serde_json::to_value(problem).unwrap(),
            case["problem"],
            "{description}"
        );
        let expected = match text(case, "problem") {
            "invalid-bsn" => ValueProblem::InvalidBsn,
            "wrong-type" => ValueProblem::WrongType,
            other => panic!("{description}: unknown problem `{other}`"),
        };
        assert_eq!(problem, expected, "{description}");
    }
}

#[test]
fn pseudonyms_link_exactly_within_one_key() {
    let doc = vectors();
    let cases = list(&doc, "pseudonyms");
    // Equal pseudonyms exactly when domain, type, normalised value, key id and secret
    // are equal.
    let mut by_pseudonym: BTreeMap<&str, (&str, &str, &str, &str, &str)> = BTreeMap::new();
    for case in cases {
        let ident = (
            text(case, "domain"),
            text(case, "type"),
            text(case, "normalised"),
            text(case, "key_id"),
            text(case, "secret_hex"),
        );
        let earlier = by_pseudonym.entry(text(case, "pseudonym")).or_insert(ident);
        assert_eq!(*earlier, ident, "{}", text(case, "description"));
    }
    // The same value under different secrets (another key of the domain, or another
    // domain's key even with the same key id) never gives the same pseudonym.
    let mut groups: BTreeMap<(&str, &str), Vec<&Value>> = BTreeMap::new();
    for case in cases {
        groups
            .entry((text(case, "type"), text(case, "normalised")))
            .or_default()
            .push(case);
    }
    let mut cross_key_pairs = 0;
    let mut same_id_other_secret = 0;
    for group in groups.values() {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if a["secret_hex"] != b["secret_hex"] {
                    cross_key_pairs += 1;
                    assert_ne!(a["pseudonym"], b["pseudonym"]);
                    if a["key_id"] == b["key_id"] {
                        same_id_other_secret += 1;
                        // Only the tag differs: the key id alone does not tell domains apart.
                        assert_eq!(text(a, "pseudonym")[..7], text(b, "pseudonym")[..7]);
                    }
                }
            }
        }
    }
    assert!(
        cross_key_pairs >= 3,
        "vectors should show one value under several keys"
    );
    assert!(
        same_id_other_secret >= 1,
        "vectors should show two domains' secrets under one key id"
    );
    // The domain is part of the message: one secret and key id in two domains (a
    // misconfiguration) still gives unlinkable pseudonyms.
    let mut same_secret_other_domain = 0;
    for group in groups.values() {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                if a["secret_hex"] == b["secret_hex"]
                    && a["key_id"] == b["key_id"]
                    && a["domain"] != b["domain"]
                {
                    same_secret_other_domain += 1;
                    assert_ne!(a["pseudonym"], b["pseudonym"]);
                }
            }
        }
    }
    assert!(
        same_secret_other_domain >= 1,
        "vectors should show one secret in two domains"
    );

    // The type name is part of the message: the same text as `string` and as `bsn` differ.
    let k = key_from_secret("k1", &[7u8; 32]).unwrap();
    let d = DomainId::new("drenthe/zvh-signalen").unwrap();
    assert_ne!(
        k.pseudonym(&d, ValueType::String, "999998523"),
        k.pseudonym(&d, ValueType::Bsn, "999998523")
    );
    assert_ne!(
        k.pseudonym(&d, ValueType::String, "x"),
        k.pseudonym(&d, ValueType::Text, "x")
    );
}

#[test]
fn key_file_rotation_reproduces_vectors() {
    let doc = vectors();
    let cases = list(&doc, "pseudonyms");
    let find = |key_id: &str, secret_prefix: &str| {
        cases
            .iter()
            .find(|c| {
                c["type"] == "bsn"
                    && c["normalised"] == "999998523"
                    && c["key_id"] == key_id
                    && text(c, "secret_hex").starts_with(secret_prefix)
            })
            .unwrap_or_else(|| panic!("vector for {key_id}/{secret_prefix}"))
    };
    let drenthe_k1 = find("k1", "0001");
    let drenthe_k2 = find("k2", "4041");
    let groningen_k1 = find("k1", "2021");
    let file = serde_json::json!({
        "domains": {
            "drenthe/zvh-signalen": {
                "active": "k2",
                "keys": { "k1": text(drenthe_k1, "secret_hex"), "k2": text(drenthe_k2, "secret_hex") }
            },
            "groningen/zvh-signalen": {
                "active": "k1",
                "keys": { "k1": text(groningen_k1, "secret_hex").to_uppercase() }
            }
        }
    })
    .to_string();
    let ring = KeyRing::from_json("vectors.json", file.as_bytes()).unwrap();
    let drenthe = ring
        .domain(&DomainId::new("drenthe/zvh-signalen").unwrap())
        .unwrap();
    let groningen = ring
        .domain(&DomainId::new("groningen/zvh-signalen").unwrap())
        .unwrap();
    assert_eq!(drenthe.active().id(), "k2");
    let p = |k: &ActiveKey, d: &str| {
        k.pseudonym(&DomainId::new(d).unwrap(), ValueType::Bsn, "999998523")
    };
    let (dr, gr) = ("drenthe/zvh-signalen", "groningen/zvh-signalen");
    assert_eq!(p(drenthe.active(), dr), text(drenthe_k2, "pseudonym"));
    assert_eq!(
        p(drenthe.get("k1").unwrap(), dr),
        text(drenthe_k1, "pseudonym")
    );
    assert_eq!(p(groningen.active(), gr), text(groningen_k1, "pseudonym"));
    assert!(drenthe.get("k3").is_none());
    assert!(ring.audit_writer().is_none() && ring.audit_records().is_none());
}

#[test]
fn key_file_validation() {
    let good = "00".repeat(32);
    let load = |json: String| KeyRing::from_json("k.json", json.as_bytes());
    let set = |active: &str, secret: &str| {
        format!(r#"{{"active": "{active}", "keys": {{"k1": "{secret}"}}}}"#)
    };
    assert!(load(format!(
        r#"{{"domains": {{"a/b": {}}}, "audit_records": {}}}"#,
        set("k1", &good),
        set("k1", &good)
    ))
    .is_ok());
    // Short (31 bytes), odd-length and non-hex secrets.
    for secret in [
        "00".repeat(31),
        "0".repeat(65),
        format!("{}zz", "00".repeat(32)),
        format!("{good} "),
    ] {
        let e = load(format!(
            r#"{{"domains": {{"a/b": {}}}}}"#,
            set("k1", &secret)
        ))
        .unwrap_err();
        assert!(!e.to_string().contains(&secret), "{e}");
    }
    // The active id must be among the keys.
    assert!(load(format!(r#"{{"domains": {{"a/b": {}}}}}"#, set("k2", &good))).is_err());
    // Unknown fields at either level, bad key ids, bad domain names, duplicate keys.
    assert!(load(format!(
        r#"{{"domains": {{"a/b": {}}}, "extra": 1}}"#,
        set("k1", &good)
    ))
    .is_err());
    let extra_member = format!(
        r#"{{"domains": {{"a/b": {{"active": "k1", "keys": {{"k1": "{good}"}}, "note": ""}}}}}}"#
    );
    assert!(load(extra_member).is_err());
    let bad_id =
        format!(r#"{{"domains": {{"a/b": {{"active": "k.1", "keys": {{"k.1": "{good}"}}}}}}}}"#);
    assert!(load(bad_id).is_err());
    assert!(load(format!(
        r#"{{"domains": {{"Drenthe": {}}}}}"#,
        set("k1", &good)
    ))
    .is_err());
    let duplicate = format!(
        r#"{{"domains": {{"a/b": {}, "a/b": {}}}}}"#,
        set("k1", &good),
        set("k1", &good)
    );
    assert!(load(duplicate).is_err());
}

#[test]
fn from_secret_rules() {
    assert!(key_from_secret("k1", &[0u8; 32]).is_some());
    assert!(key_from_secret("2025-q1_A", &[0u8; 200]).is_some());
    assert!(key_from_secret("k1", &[0u8; 31]).is_none());
    for id in ["", "k 1", "k:1", "k/1", "sleutel\u{e9}", "k.1"] {
        assert!(key_from_secret(id, &[0u8; 32]).is_none(), "{id:?}");
    }
    // The secret never shows in debug output.
    let k = key_from_secret("k1", &[0xabu8; 32]).unwrap();
    assert!(!format!("{k:?}").to_lowercase().contains("abab"));
}

/// The 11-proof, written out from the specification.
fn eleven_proof(digits: &str) -> bool {
    let weights = [9i64, 8, 7, 6, 5, 4, 3, 2, -1];
    let sum: i64 = digits
        .bytes()
        .zip(weights)
        .map(|(d, w)| i64::from(d - b'0') * w)
        .sum();
    sum != 0 && sum % 11 == 0
}

#[test]
fn eleven_proof_edge_cases() {
    for valid in [
        "999998523",
        "999998535",
        "999996708",
        "999992934",
        "999995844",
    ] {
        assert_eq!(normalise_bsn(valid).as_deref(), Ok(valid));
        assert!(eleven_proof(valid));
    }
    assert_eq!(normalise_bsn(" 9999.98.523 ").as_deref(), Ok("999998523"));
    assert_eq!(normalise_bsn("12345672").as_deref(), Ok("012345672"));
    assert_eq!(normalise_bsn("1234.5672").as_deref(), Ok("012345672"));
    for invalid in [
        "999998620",  // fails the 11-proof
        "000000000",  // weighted sum 0
        "000000012",  // weighted sum 0 (2·1 − 2), divisible by 11
        "00000000",   // padded to 000000000
        "00000012",   // padded to 000000012
        "12345673",   // 8 digits failing after padding
        "1234567",    // 7 digits
        "9999985230", // 10 digits
        "99999852a",
        "999-998-523",
        "999\t998523",
        "999\u{a0}998523",
        "\u{ff19}\u{ff19}\u{ff19}\u{ff19}\u{ff19}\u{ff18}\u{ff15}\u{ff12}\u{ff13}",
        "",
        " . ",
    ] {
        assert_eq!(
            normalise_bsn(invalid),
            Err(ValueProblem::InvalidBsn),
            "{invalid:?}"
        );
    }
    // Every check digit of one base: exactly one passes when the base's weighted sum
    // allows it, and the implementation agrees with the specification's formula.
    for base in ["99999852", "99999670", "01234567", "00000000", "00000001"] {
        let passing: Vec<String> = (0..10)
            .map(|d| format!("{base}{d}"))
            .filter(|bsn| normalise_bsn(bsn).is_ok())
            .collect();
        assert!(passing.len() <= 1, "{base}: {passing:?}");
        for d in 0..10 {
            let bsn = format!("{base}{d}");
            assert_eq!(normalise_bsn(&bsn).is_ok(), eleven_proof(&bsn), "{bsn}");
        }
    }
    // A sweep of 9-digit and 8-digit numbers against the written-out formula.
    for n in (0u32..1_000_000_000).step_by(9_973) {
        let nine = format!("{n:09}");
        assert_eq!(normalise_bsn(&nine).is_ok(), eleven_proof(&nine), "{nine}");
        let eight = format!("{:08}", n % 100_000_000);
        assert_eq!(
            normalise_bsn(&eight).is_ok(),
            eleven_proof(&format!("0{eight}")),
            "{eight}"
        );
    }
}

#[test]
fn normalisation_spot_checks() {
    assert_eq!(
        normalise_name("  Zoe\u{308}\t\tDE  Vries\n"),
        "zo\u{eb} de vries"
    );
    assert_eq!(normalise_name("Jan\u{a0}de\u{3000}Vries"), "jan de vries");
    assert_eq!(normalise_name("\u{1f}Jan"), "\u{1f}jan");
    // Final sigma: U+03A3 at the end of a word lowercases to U+03C2, elsewhere to U+03C3.
    assert_eq!(
        normalise_name("\u{39f}\u{3a3}\u{39f}\u{3a3}"),
        "\u{3bf}\u{3c3}\u{3bf}\u{3c2}"
    );
    let n = |ty: ValueType, v: Value| normalise(ty, &v).map(|c| c.into_owned());
    assert_eq!(
        n(ValueType::Postcode, Value::from("9401 ab")).as_deref(),
        Ok("9401AB")
    );
    assert_eq!(
        n(ValueType::Boolean, Value::Bool(true)).as_deref(),
        Ok("true")
    );
    assert_eq!(
        n(ValueType::Number, serde_json::json!(42)).as_deref(),
        Ok("42")
    );
    assert_eq!(
        n(ValueType::Number, serde_json::json!(-7)).as_deref(),
        Ok("-7")
    );
    assert_eq!(
        n(ValueType::Date, Value::from("2024-02-29")).as_deref(),
        Ok("2024-02-29")
    );
    assert_eq!(
        n(ValueType::Date, Value::from("2023-02-29")),
        Err(ValueProblem::WrongType)
    );
    assert_eq!(
        n(ValueType::Bsn, serde_json::json!(999_998_523)),
        Err(ValueProblem::WrongType)
    );
}

#[test]
fn worked_example_message_bytes() {
    // The worked example of docs/pseudonymisation.md:
    // message = "pg2" 0x00 "drenthe/zvh-signalen" 0x00 "bsn" 0x00 "999998523".
    let message = [
        b"pg2".as_slice(),
        &[0],
        b"drenthe/zvh-signalen",
        &[0],
        b"bsn",
        &[0],
        b"999998523",
    ]
    .concat();
    assert_eq!(
        hex(&message),
        "706732006472656e7468652f7a76682d7369676e616c656e0062736e00393939393938353233"
    );
    let secret: Vec<u8> = (0u8..32).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(&message);
    let tag = hex(&mac.finalize().into_bytes());
    let key = key_from_secret("k1", &secret).unwrap();
    let domain = DomainId::new("drenthe/zvh-signalen").unwrap();
    assert_eq!(
        key.pseudonym(&domain, ValueType::Bsn, "999998523"),
        format!("pg2:k1:{tag}")
    );
    assert_eq!(
        tag,
        "1206e83a8cfb9510688a6a84ab8e996574b75d45bcf4a7a396deb18b32a0ff76"
    );
}
