//! Unlinkable by default: one subject's record sent along every flow of the region, and
//! what each recipient could join checked value by value; then the attacks on the
//! policy files that the loader must refuse.

use privacy_gate::{Action, Gate, Outcome, Registry, Transfer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One person, with every field the schema knows and every condition of the shipped
/// rules met (criminal and care route, consent, a recorded disclosure decision,
/// labour exploitation for the inspectorate, an open case).
fn subject() -> Value {
    json!({
        "case": {
            "id": "case-2026-0042",
            "opened_on": "2026-01-12",
            "province": "drenthe",
            "status": "open",
            "exploitation_type": "labour",
            "sector": "agriculture",
            "routing": "care-and-criminal",
            "consent": "given",
            "disclosure_basis": "consent",
            "reporter": {"organisation": "Wijkteam Assen", "name": "J. de Vries"}
        },
        "subject": {
            "bsn": "999998523",
            "name": {"given": "Anna", "family": "Jansen"},
            "birth_date": "1990-07-15",
            "is_minor": false,
            "sex": "f",
            "nationality": "Dutch",
            "residence_status": "Dutch citizen",
            "address": {"street": "Kerkstraat", "house_number": "12a", "postcode": "9401 AB", "city": "Assen"},
            "shelter_location": "Opvang Noord",
            "phone": "+31 6 12345678",
            "email": "anna@example.org"
        },
        "health": {"summary": "fictional", "care_need": true},
        "police": {"reference": "PL0100-2026-004711", "known": true},
        "prosecution": {"decision": "investigation opened"},
        "wmo": {"pgb_amount": 1250, "provider": "Zorgbureau Voorbeeld"},
        "notes": "fictional notes",
        "contacts": [{"date": "2026-01-12", "organisation": "gemeente", "summary": "intake"}]
    })
}

/// What one release lets its recipient join on: per field that identifies the person or
/// the record, or that crossed as a pseudonym, the value and the form it crossed in.
struct Release {
    flow: String,
    purpose: String,
    /// (field path, value as released, `None` for plain or `Some(domain)`)
    keys: Vec<(String, String, Option<String>)>,
}

fn value_at<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |v, segment| v.get(segment))
}

/// Every release of the subject along every compiled flow, by recipient.
fn releases(gate: &Gate) -> BTreeMap<String, Vec<Release>> {
    let registry = gate.registry();
    let schema = registry.schema();
    let at = "2026-03-02T10:00:00Z".parse().unwrap();
    let mut out: BTreeMap<String, Vec<Release>> = BTreeMap::new();
    for plan in registry.plans() {
        let transfer = Transfer {
            from: plan.sender().id(),
            to: plan.recipient().id(),
            purpose: plan.purpose(),
            at,
        };
        let Outcome::Released(released) = gate.apply(&transfer, subject()).unwrap() else {
            continue;
        };
        let mut keys = Vec::new();
        for (field, fp) in schema.fields().iter().zip(plan.fields()) {
            if field.in_array() {
                continue;
            }
            let Some(value) = value_at(&released.record, field.path()) else {
                continue;
            };
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match fp.action() {
                Action::Pseudonymise(domain) => {
                    keys.push((field.path().to_owned(), text, Some(domain.to_string())))
                }
                Action::Pass if field.identifying() || field.record_identifier() => {
                    keys.push((field.path().to_owned(), text, None))
                }
                _ => {}
            }
        }
        out.entry(plan.recipient().id().to_owned())
            .or_default()
            .push(Release {
                flow: format!(
                    "{} -> {} ({})",
                    plan.sender().id(),
                    plan.recipient().id(),
                    plan.purpose()
                ),
                purpose: plan.purpose().to_owned(),
                keys,
            });
    }
    out
}

/// The purposes a recipient's declaration of `domain` lets it link (its own purpose and
/// any stated linkage purposes); empty if the recipient does not declare it.
fn admitted(registry: &Registry, recipient: &str, domain: &str) -> BTreeSet<String> {
    registry
        .agreement(recipient)
        .into_iter()
        .flat_map(|a| a.pseudonym_domains())
        .filter(|d| d.id().as_str() == domain)
        .flat_map(|d| {
            std::iter::once(d.purpose().to_owned()).chain(d.linked_purposes().iter().cloned())
        })
        .collect()
}

#[test]
fn no_recipient_can_join_what_it_receives_beyond_what_its_agreements_state() {
    let registry = Registry::load_dir(crate::util::root().join("policies").as_path()).unwrap();
    let keys = privacy_gate::danger::test_keys(&registry);
    let gate = Gate::new(registry, keys);
    let registry = gate.registry();
    let by_recipient = releases(&gate);
    let released: usize = by_recipient.values().map(Vec::len).sum();
    assert!(released >= 30, "only {released} flows released the subject");

    let mut joins_in_a_domain = 0;
    let mut stated_linkages_used = 0;
    let mut pseudonym_owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (recipient, releases) in &by_recipient {
        for release in releases {
            for (path, value, domain) in &release.keys {
                let Some(domain) = domain else { continue };
                // A domain belongs to its recipient: the pseudonym appears nowhere else.
                assert!(
                    admitted(registry, recipient, domain).contains(&release.purpose),
                    "{}: `{path}` in domain `{domain}`, which `{recipient}` does not declare for `{}`",
                    release.flow,
                    release.purpose
                );
                let owner = pseudonym_owner.entry(value.as_str()).or_insert(recipient);
                assert_eq!(
                    *owner,
                    recipient.as_str(),
                    "a pseudonym of `{path}` reaches two recipients"
                );
            }
        }
        // Every pair of releases to one recipient: what value do they share?
        for (i, a) in releases.iter().enumerate() {
            for b in &releases[i + 1..] {
                for (path_a, value_a, domain_a) in &a.keys {
                    for (path_b, value_b, domain_b) in &b.keys {
                        if value_a != value_b {
                            continue;
                        }
                        match (domain_a, domain_b) {
                            // Both plain: the recipient receives the identity in plain
                            // form from both, as both agreements say.
                            (None, None) => {}
                            (Some(d), Some(e)) => {
                                assert_eq!(d, e, "{} and {} share a pseudonym across domains", a.flow, b.flow);
                                let admitted = admitted(registry, recipient, d);
                                assert!(
                                    admitted.contains(&a.purpose) && admitted.contains(&b.purpose),
                                    "{} and {} join on `{d}`",
                                    a.flow,
                                    b.flow
                                );
                                joins_in_a_domain += 1;
                                if a.purpose != b.purpose {
                                    stated_linkages_used += 1;
                                }
                            }
                            _ => panic!(
                                "{} (`{path_a}`) and {} (`{path_b}`) share a value, one as a pseudonym",
                                a.flow, b.flow
                            ),
                        }
                    }
                }
                // The bridge: a field plain in one release and pseudonymised in the
                // other lets the recipient tie the pseudonyms (through the other
                // fields both releases carry) unless a linkage is stated for it.
                for (path, _, domain) in &a.keys {
                    for (other_path, _, other_domain) in &b.keys {
                        if path != other_path {
                            continue;
                        }
                        let (pseudonymised, plain_purpose) = match (domain, other_domain) {
                            (Some(d), None) => (d, &b.purpose),
                            (None, Some(d)) => (d, &a.purpose),
                            _ => continue,
                        };
                        let stated = registry
                            .agreement(recipient)
                            .into_iter()
                            .flat_map(|r| r.pseudonym_domains())
                            .any(|dd| {
                                dd.id().as_str() == pseudonymised
                                    && dd.linked_purposes().contains(plain_purpose)
                            });
                        assert!(
                            stated,
                            "`{recipient}` holds `{path}` plain ({} or {}) and pseudonymised in `{pseudonymised}` without a stated linkage",
                            a.flow, b.flow
                        );
                        stated_linkages_used += 1;
                    }
                }
            }
        }
    }
    // The test is not vacuous: signals from several signallers meet in a ZVH's domain,
    // and Groningen's stated linkages are used.
    assert!(
        joins_in_a_domain >= 10,
        "{joins_in_a_domain} joins in a domain"
    );
    assert!(stated_linkages_used >= 1, "no stated linkage used");
}

/// A copy of the shipped policies with one file edited; the load error as text.
fn load_with(file: &str, edit: impl Fn(&str) -> String) -> String {
    load_with_edits(&[(file, &edit)])
}

/// An edit of one policy file: its path under `policies/` and what it does to the text.
type Edit<'a> = (&'a str, &'a dyn Fn(&str) -> String);

/// A copy of the shipped policies with each file edited as given; the load error as
/// text. Every edit must change its file.
fn load_with_edits(edits: &[Edit<'_>]) -> String {
    let dir = crate::util::TempDir::new("linkage");
    let policies = dir.path("policies");
    crate::util::copy_dir(&crate::util::root().join("policies"), &policies);
    for (file, edit) in edits {
        let path = policies.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = edit(&text);
        assert_ne!(text, edited, "the edit of {file} changed nothing");
        std::fs::write(&path, edited).unwrap();
    }
    match Registry::load_dir(&policies) {
        Ok(_) => panic!("the edited set loaded"),
        Err(e) => e.to_string(),
    }
}

/// The review's finding, re-created: Drenthe's GGD pseudonymises names and BSN for the
/// police in a domain the police declares, while the police holds both in plain form
/// from the ZVH and the municipality. The loader refuses it, at the GGD's rule.
#[test]
fn pseudonyms_next_to_the_same_fields_in_plain_form_do_not_load() {
    let declare = |t: &str| {
        t.replacen(
            "  \"outbound\": [",
            "  \"pseudonym_domains\": {\"noord-nederland/politie-opsporing\": {\"purpose\": \"criminal-investigation\"}},\n  \"outbound\": [",
            1,
        )
    };
    let pseudonymise = |t: &str| {
        let start = t.find("\"id\": \"dr-ggd-out-politie-crim\"").unwrap();
        let (head, rule) = t.split_at(start);
        let pseudonym = r#"{"pseudonymise": {"domain": "noord-nederland/politie-opsporing"}}"#;
        let rule = rule
            .replacen(
                r#""identifying.name": "block""#,
                &format!(r#""identifying.name": {pseudonym}"#),
                1,
            )
            .replacen(
                r#""identifying.bsn": "block""#,
                &format!(r#""identifying.bsn": {pseudonym}"#),
                1,
            )
            .replacen(
                r#""case.id": "pass""#,
                &format!(r#""case.id": {pseudonym}"#),
                1,
            );
        format!("{head}{rule}")
    };
    let err = load_with_edits(&[
        ("noord-nederland/politie.json", &declare),
        ("drenthe/ggd.json", &pseudonymise),
    ]);
    for path in ["subject.bsn", "subject.name.family", "case.id"] {
        assert!(
            err.contains(&format!(
                "`noord-nederland/politie` receives `{path}` pseudonymised in `noord-nederland/politie-opsporing` from `drenthe/ggd` (criminal-investigation) and in plain form from"
            )),
            "{path}: {err}"
        );
    }
    // File, line and column, the agreement, the pointer to the action, and the fixes.
    let line = err
        .lines()
        .find(|l| l.contains("`subject.bsn` pseudonymised"))
        .unwrap();
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains("drenthe/ggd.json:"), "{line}");
    assert!(
        line.contains("drenthe/ggd at `/outbound/1/categories/identifying.bsn`"),
        "{line}"
    );
    assert!(
        line.contains("pass it in both flows or block it in one"),
        "{line}"
    );
    assert!(
        line.contains("state in the declaration of `noord-nederland/politie-opsporing` a linkage"),
        "{line}"
    );
}

#[test]
fn a_domain_used_outside_its_recipient_or_purpose_or_undeclared_does_not_load() {
    // The inspectorate's signal to the Drenthe ZVH in the Friesland ZVH's domain.
    let err = load_with("nl/arbeidsinspectie.json", |t| {
        let start = t.find("\"id\": \"ai-out-zvh-drenthe-signal\"").unwrap();
        let (head, rest) = t.split_at(start);
        format!(
            "{head}{}",
            rest.replacen("drenthe/zvh-signalen", "friesland/zvh-signalen", 1)
        )
    });
    assert!(
        err.contains("pseudonymisation domain `friesland/zvh-signalen` belongs to `friesland/zvh`, but this flow goes to `drenthe/zvh`"),
        "{err}"
    );
    assert!(err.contains("use `drenthe/zvh-signalen`"), "{err}");
    assert!(err.contains("nl/arbeidsinspectie.json:"), "{err}");

    // The ZVH's signal domain on its care-coordination route.
    let err = load_with("groningen/gemeente.json", |t| {
        let start = t.find("\"id\": \"gr-gemeente-out-zvh-care\"").unwrap();
        let (head, rest) = t.split_at(start);
        format!(
            "{head}{}",
            rest.replacen(
                r#""identifying.bsn": "pass""#,
                r#""identifying.bsn": {"pseudonymise": {"domain": "drenthe/zvh-signalen"}}"#,
                1
            )
        )
    });
    assert!(
        err.contains("belongs to `drenthe/zvh`, but this flow goes to `groningen/zvh`"),
        "{err}"
    );

    // A domain nobody declared.
    let err = load_with("drenthe/coa-azc-assen.json", |t| {
        t.replace("drenthe/zvh-signalen", "drenthe/mensenhandel")
    });
    assert!(
        err.contains("pseudonymisation domain `drenthe/mensenhandel` is declared by no agreement"),
        "{err}"
    );
    assert!(
        err.contains("use `drenthe/zvh-signalen`"),
        "the hint names the recipient's domain for the purpose: {err}"
    );

    // The Friesland GGD's advice domain declared for another purpose: the ZVH's advice
    // requests, which pseudonymise in it, are refused.
    let err = load_with("friesland/ggd.json", |t| {
        t.replacen(
            "\"purpose\": \"signal-assessment\",\n      \"note\": \"Advice requests",
            "\"purpose\": \"statistics\",\n      \"note\": \"Advice requests",
            1,
        )
    });
    assert!(
        err.contains("pseudonymisation domain `friesland/ggd-advies` is bound to purpose `statistics`, but this flow is for `signal-assessment`"),
        "{err}"
    );
}

#[test]
fn a_stated_linkage_is_what_lets_groningen_link_and_it_must_be_complete() {
    // Without its linkage, the Groningen ZVH's signal domain meets the plain BSN of the
    // care flows: refused.
    let err = load_with("groningen/zvh.json", |t| {
        let start = t.find("      \"linkage\": {").unwrap();
        let end = t[start..].find("      }\n").unwrap() + start + "      }\n".len();
        // Drop the linkage and the comma before it.
        let head = t[..start].trim_end().trim_end_matches(',');
        format!("{head}\n{}", &t[end..])
    });
    assert!(
        err.contains(
            "`groningen/zvh` receives `subject.bsn` pseudonymised in `groningen/zvh-signalen`"
        ),
        "{err}"
    );

    // A linkage with an unknown purpose and a basis the agreement does not rest on,
    // each named at its pointer; then one without a reason.
    let err = load_with("groningen/zvh.json", |t| {
        t.replacen(
            "\"purposes\": [\"care-coordination\"]",
            "\"purposes\": [\"care-cordination\"]",
            1,
        )
        .replacen(
            "\"legal_basis\": [\"wgs-2\"],\n        \"reason\"",
            "\"legal_basis\": [\"avg-9-2-h\"],\n        \"reason\"",
            1,
        )
        .replacen(
            "\"reason\": \"Groningen: the ZVH is also",
            "\"reason\": \" \", \"note2\": \"",
            1,
        )
    });
    assert!(err.contains("unknown field `note2`"), "{err}");
    let err = load_with("groningen/zvh.json", |t| {
        t.replacen(
            "\"purposes\": [\"care-coordination\"]",
            "\"purposes\": [\"care-cordination\"]",
            1,
        )
        .replacen(
            "\"legal_basis\": [\"wgs-2\"],\n        \"reason\"",
            "\"legal_basis\": [\"avg-9-2-h\"],\n        \"reason\"",
            1,
        )
    });
    assert!(
        err.contains("at `/pseudonym_domains/groningen~1zvh-signalen/linkage/purposes/0`: purpose `care-cordination` is not among this agreement's purposes (did you mean `care-coordination`?)"),
        "{err}"
    );
    assert!(
        err.contains("at `/pseudonym_domains/groningen~1zvh-signalen/linkage/legal_basis/0`: legal basis `avg-9-2-h` is not among the bases of the purposes this linkage joins"),
        "{err}"
    );
    let err = load_with("groningen/zvh.json", |t| {
        let start = t.find("\"reason\": \"Groningen: the ZVH is also").unwrap();
        let end = t[start..].find("\"\n").unwrap() + start + 1;
        format!("{}\"reason\": \"  \"{}", &t[..start], &t[end..])
    });
    assert!(
        err.contains("a linkage states why the organisation must link"),
        "{err}"
    );
}

#[test]
fn a_domain_has_one_recipient() {
    let err = load_with("drenthe/ggd.json", |t| {
        t.replacen(
            "  \"outbound\": [",
            "  \"pseudonym_domains\": {\"drenthe/zvh-signalen\": {\"purpose\": \"signal-assessment\"}},\n  \"outbound\": [",
            1,
        )
    });
    let declared_twice = "pseudonymisation domain `drenthe/zvh-signalen` is declared by `drenthe/ggd` and `drenthe/zvh`: a domain belongs to one recipient";
    // Reported at both declarations, and nothing else: the rules that use the domain
    // are not blamed for a conflict they did not make.
    assert_eq!(err.matches(declared_twice).count(), 2, "{err}");
    assert!(err.contains("drenthe/ggd.json:"), "{err}");
    assert!(err.contains("drenthe/zvh.json:"), "{err}");
    assert!(
        err.ends_with("2 error(s), 0 warning(s)") || err.contains("\n2 error(s)"),
        "{err}"
    );
}
