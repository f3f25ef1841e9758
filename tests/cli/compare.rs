//! `privacy-gate compare`, run as a real process: the terminal tables of the shipped
//! policies pinned as snapshots, the JSON, and the HTML page's well-formedness and
//! contents. (Rendering the page in a browser is `scripts/check-compare-html`'s job.)
//!
//! Regenerate the snapshots after a deliberate change with
//! `UPDATE_SNAPSHOTS=1 cargo test --test cli compare`, and check the diff against
//! `docs/provinces.md`.
use crate::util::{bin, copy_dir, output, root, Scratch, AT};
use serde_json::Value;
use std::process::Output;

fn compare(args: &[&str]) -> Output {
    output(bin().arg("compare").args(args))
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Compares `actual` with `tests/snapshots/NAME`, or writes it there when
/// `UPDATE_SNAPSHOTS` is set.
fn snapshot(name: &str, actual: &str) {
    let path = root().join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_SNAPSHOTS=1 cargo test --test cli compare",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             If the change is deliberate, run UPDATE_SNAPSHOTS=1 cargo test --test cli compare\n\
             and check the new table against docs/provinces.md.\n--- actual ---\n{actual}",
            path.display(),
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or(""),
        );
    }
}

fn flow_args<'a>(from: &'a str, to: &'a str, purpose: &'a str, at: &'a str) -> Vec<&'a str> {
    vec![
        "--from-kind",
        from,
        "--to-kind",
        to,
        "--purpose",
        purpose,
        "--provinces",
        "drenthe,groningen,friesland",
        "--at",
        at,
    ]
}

#[test]
fn ggd_to_police_table_is_pinned() {
    let out = compare(&flow_args("ggd", "politie", "criminal-investigation", AT));
    snapshot(
        "compare-ggd-politie-criminal-investigation.txt",
        &stdout(&out),
    );
}

#[test]
fn municipality_to_zvh_table_is_pinned() {
    let out = compare(&flow_args("gemeente", "zvh", "signal-assessment", AT));
    snapshot("compare-gemeente-zvh-signal-assessment.txt", &stdout(&out));
}

#[test]
fn zvh_to_ggd_statistics_table_is_pinned() {
    let out = compare(&flow_args("zvh", "ggd", "statistics", AT));
    snapshot("compare-zvh-ggd-statistics.txt", &stdout(&out));
}

#[test]
fn zvh_to_om_after_the_regional_om_agreement_expires_is_pinned() {
    let out = compare(&flow_args(
        "zvh",
        "om",
        "signal-assessment",
        "2027-01-15T10:00:00Z",
    ));
    snapshot("compare-zvh-om-signal-assessment-2027.txt", &stdout(&out));
}

#[test]
fn every_flow_summary_is_pinned() {
    let out = compare(&[
        "--all",
        "--provinces",
        "drenthe,groningen,friesland",
        "--at",
        AT,
    ]);
    snapshot("compare-all.txt", &stdout(&out));
}

fn schema_paths() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("policies/schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    schema["fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn json_has_every_field_and_province() {
    let out = compare(&[
        "--from-kind",
        "ggd",
        "--to-kind",
        "politie",
        "--purpose",
        "criminal-investigation",
        "--at",
        AT,
        "--format",
        "json",
    ]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let provinces: Vec<&str> = json["provinces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["province"].as_str().unwrap())
        .collect();
    assert_eq!(provinces, ["drenthe", "friesland", "groningen"]);
    let fields = json["fields"].as_array().unwrap();
    let mut paths: Vec<&str> = fields.iter().map(|f| f["path"].as_str().unwrap()).collect();
    paths.sort_unstable();
    let mut expected = schema_paths();
    expected.sort();
    assert_eq!(paths, expected);
    let birth = fields
        .iter()
        .find(|f| f["path"] == "subject.birth_date")
        .unwrap();
    assert_eq!(birth["likeness"], "different");
    assert_eq!(birth["common_ground"], "block");
    assert_eq!(
        birth["cells"][0]["effective"],
        serde_json::json!({"generalise": "year"})
    );
    let bsn = fields.iter().find(|f| f["path"] == "subject.bsn").unwrap();
    assert_eq!(bsn["likeness"], "same");
    assert_eq!(json["provinces"][0]["terms"]["retention"], "P2Y");
    assert_eq!(json["common"]["retention"], "P1Y");
    assert_eq!(json["aspects"], serde_json::json!(["retention"]));

    let out = compare(&["--all", "--at", AT, "--format", "json"]);
    let all: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(all["summary"].as_array().unwrap().len(), 24);
    assert_eq!(all["flows"].as_array().unwrap().len(), 24);
    assert_eq!(all["summary"][0]["flow"]["purpose"], "care-coordination");
}

/// Void elements of HTML: no closing tag.
const VOID: &[&str] = &["meta", "br", "hr", "img", "link", "input", "col", "wbr"];

/// A small well-formedness check: every tag is closed in order, attributes are
/// quoted, `&` starts an entity, no `<` or `>` appears in text. Returns the text
/// content (entities left as they are).
fn check_html(html: &str) -> Result<String, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut rest = html.strip_prefix("<!DOCTYPE html>").ok_or("no doctype")?;
    let mut in_style = false;
    while let Some(open) = rest.find('<') {
        let (content, after) = rest.split_at(open);
        if !in_style {
            if content.contains('>') {
                return Err(format!("stray `>` in text {content:?}"));
            }
            for (i, _) in content.match_indices('&') {
                let entity = &content[i..];
                let end = entity.find(';').ok_or(format!("bare & in {content:?}"))?;
                let name = &entity[1..end];
                let known = ["amp", "lt", "gt", "quot", "#39", "rarr", "ne", "ndash"];
                if !known.contains(&name) {
                    return Err(format!("unknown entity &{name};"));
                }
            }
            text.push_str(content);
            text.push(' ');
        }
        let close = after.find('>').ok_or("unclosed tag")?;
        let tag = &after[1..close];
        rest = &after[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if top != name {
                return Err(format!("</{name}> closes <{top}>"));
            }
            in_style = false;
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if name.is_empty() {
            return Err(format!("bad tag <{tag}>"));
        }
        if tag.matches('"').count() % 2 != 0 || tag.contains('<') {
            return Err(format!("bad attributes in <{tag}>"));
        }
        if in_style {
            return Err("a tag inside <style>".into());
        }
        in_style = name == "style";
        if !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the last tag: {rest:?}"));
    }
    if !stack.is_empty() {
        return Err(format!("unclosed: {stack:?}"));
    }
    Ok(text)
}

#[test]
fn the_checker_finds_broken_html() {
    assert!(check_html("<!DOCTYPE html><html><p>a</p></html>").is_ok());
    for bad in [
        "<html><p>a</p></html>",
        "<!DOCTYPE html><html><p>a</html>",
        "<!DOCTYPE html><html><p>a</b></p></html>",
        "<!DOCTYPE html><html><p>a & b</p></html>",
        "<!DOCTYPE html><html><p>a > b</p></html>",
        "<!DOCTYPE html><html><p title=\"x>y</p></html>",
    ] {
        assert!(check_html(bad).is_err(), "{bad}");
    }
}

fn html(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--format", "html"]);
    stdout(&compare(&all))
}

#[test]
fn html_page_is_well_formed_and_has_every_field_and_province() {
    let page = html(&flow_args("ggd", "politie", "criminal-investigation", AT));
    let text = check_html(&page).unwrap_or_else(|e| panic!("{e}"));
    for path in schema_paths() {
        assert!(
            page.contains(&format!("<code>{path}</code>")),
            "field {path} missing"
        );
    }
    for province in ["drenthe", "groningen", "friesland"] {
        assert!(
            page.contains(&format!("<th scope=\"col\">{province}</th>")),
            "{province} column missing"
        );
    }
    assert!(text.contains("common ground"));
    assert!(page.contains("age-band"));
    // Self-contained: nothing to fetch, no script.
    assert!(!page.contains("<script"));
    assert!(!page.contains("http:") && !page.contains("https:") && !page.contains("//"));
    assert!(page.contains("default-src 'none'"));
    // Colour never alone: every coloured cell also says its action in text.
    assert!(page.contains("<td class=\"pass\" title=\"pass\">pass</td>"));
    assert!(page.contains("&ne; differs"));
}

#[test]
fn html_of_every_flow_has_a_section_per_flow() {
    let page = html(&["--all", "--at", AT]);
    check_html(&page).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.matches("<section class=\"flow\"").count(), 24);
    assert!(page.contains("href=\"#flow-ggd-politie-criminal-investigation\""));
    assert!(page.contains("id=\"flow-ggd-politie-criminal-investigation\""));
}

/// A fresh copy of the shipped policies in a scratch folder.
fn policy_copy() -> Scratch {
    let dir = Scratch::new("compare");
    copy_dir(&root().join("policies"), &dir.0);
    dir
}

#[test]
fn html_escapes_text_from_the_agreements() {
    let copy = policy_copy();
    let dir = &copy.0;
    let file = dir.join("groningen/ggd.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.replacen(
        "\"version\": \"2025.2\"",
        "\"version\": \"2025.2<script>alert('x')</script>&\"",
        1,
    );
    assert!(text.contains("<script>"), "the version line moved");
    std::fs::write(&file, text).unwrap();
    let mut args = flow_args("ggd", "politie", "criminal-investigation", AT);
    let policies = dir.display().to_string();
    args.extend(["--policies", &policies]);
    let page = html(&args);
    check_html(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(!page.contains("<script"));
    assert!(page.contains("2025.2&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"));
}

#[test]
fn unknown_names_are_usage_errors_naming_the_known_ones() {
    let out = compare(&[
        "--from-kind",
        "ggd",
        "--to-kind",
        "polite",
        "--purpose",
        "criminal-investigation",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown organisation kind `polite` (did you mean `politie`?)"),
        "{err}"
    );
    assert!(
        err.contains("known kinds: arbeidsinspectie, coa, gemeente, ggd, om, politie, wmo-toezicht, zorgaanbieder, zvh"),
        "{err}"
    );

    let out = compare(&["--all", "--provinces", "drenthe,utrecht"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("known provinces: drenthe, friesland, groningen"),
        "{err}"
    );

    let out = compare(&[
        "--from-kind",
        "ggd",
        "--to-kind",
        "politie",
        "--purpose",
        "crime",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known purposes:"));

    // Neither a flow nor --all, or both: clap's usage errors.
    assert_eq!(compare(&[]).status.code(), Some(2));
    assert_eq!(
        compare(&["--all", "--from-kind", "ggd"]).status.code(),
        Some(2)
    );
    // Policies that do not load: the tool failed.
    assert_eq!(
        compare(&["--all", "--policies", "/nonexistent/policies"])
            .status
            .code(),
        Some(1)
    );
}
