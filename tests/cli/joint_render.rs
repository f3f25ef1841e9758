//! `privacy-gate render` and `privacy-gate joint`, run as real processes: every
//! shipped agreement renders in both formats and languages and ends with its hash,
//! hostile text is escaped, and the joint draft is written, loads and is reported.
//! (Rendering the pages in a browser is `scripts/check-joint-html`'s job.)
//!
//! Regenerate the snapshot after a deliberate change with
//! `UPDATE_SNAPSHOTS=1 cargo test --test cli render`.
use crate::util::{bin, copy_dir, output, root, Scratch, AT};
use sha2::{Digest, Sha256};
use std::process::Output;

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn render(args: &[&str]) -> Output {
    output(bin().arg("render").args(args))
}

fn agreement_files() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for area in std::fs::read_dir(root().join("policies")).unwrap() {
        let area = area.unwrap().path();
        if !area.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&area).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "json") {
                out.push(file);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn render_every_shipped_agreement_in_both_formats_and_languages_with_its_hash() {
    let files = agreement_files();
    assert!(files.len() >= 15);
    for file in &files {
        let hash = crate::util::hex(&Sha256::digest(std::fs::read(file).unwrap()));
        let path = file.to_str().unwrap();
        for (format, lang) in [
            ("markdown", "nl"),
            ("markdown", "en"),
            ("html", "nl"),
            ("html", "en"),
        ] {
            let page = ok(&render(&[path, "--format", format, "--lang", lang]));
            assert!(page.contains(&hash), "{path} {format} {lang}: no hash");
            let heading = if lang == "nl" {
                "Wat een handtekening dekt"
            } else {
                "What a signature covers"
            };
            assert!(page.contains(heading), "{path} {format} {lang}");
            if format == "html" {
                assert!(page.starts_with("<!DOCTYPE html>"));
                assert!(page.contains(&format!("<html lang=\"{lang}\">")));
                assert!(page.contains("default-src 'none'; style-src 'unsafe-inline'"));
                assert!(!page.contains("<script"));
            }
        }
    }
}

#[test]
fn render_defaults_to_dutch_markdown_and_accepts_an_organisation_id() {
    let by_id = ok(&render(&["drenthe/ggd"]));
    let by_file = ok(&render(&["policies/drenthe/ggd.json"]));
    assert_eq!(by_id, by_file);
    assert!(by_id.starts_with("# Gegevensdelingsovereenkomst GGD Drenthe"));
    assert!(by_id.contains("AVG art. 9 lid 2 onder g"));
    let en = ok(&render(&["drenthe/ggd", "--lang", "en"]));
    assert!(en.contains("AVG art. 9(2)(g): substantial public interest"));
    // A domain the agreement receives, with its stated linkage.
    let zvh = ok(&render(&["groningen/zvh", "--lang", "en"]));
    assert!(zvh.contains("`groningen/zvh-signalen`"));
    assert!(zvh.contains("Stated linkage with: Coordinating shelter"));
    // An unknown agreement is a usage error with a hint.
    let out = render(&["drenthe/ggf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `drenthe/ggd`"));
}

#[test]
fn render_snapshot_of_the_drenthe_ggd_in_dutch() {
    let page = ok(&render(&["drenthe/ggd"]));
    let path = root().join("tests/snapshots/render-drenthe-ggd-nl.md");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_SNAPSHOTS=1 cargo test --test cli render",
            path.display()
        )
    });
    assert!(
        expected == page,
        "{} differs; if deliberate, run UPDATE_SNAPSHOTS=1 cargo test --test cli render\n--- actual ---\n{page}",
        path.display()
    );
}

#[test]
fn render_escapes_hostile_notes_covenants_and_names() {
    let scratch = Scratch::new("render-hostile");
    let policies = scratch.path("policies");
    copy_dir(&root().join("policies"), &policies);
    let file = policies.join("drenthe/ggd.json");
    let hostile = "<script>alert(1)</script> [click](javascript:alert(1)) ![x](http://e/x.png) `code` | # heading & <b>bold</b>";
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    v["name"] = serde_json::json!(format!("GGD {hostile}"));
    v["outbound"][0]["note"] = serde_json::json!(format!("line one\n# {hostile}"));
    v["outbound"][0]["covenant"] = serde_json::json!(hostile);
    std::fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let path = file.to_str().unwrap();
    let html = ok(&render(&[path, "--format", "html"]));
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let md = ok(&render(&[path]));
    // No link, image or tag can start: every bracket, `<` and `!` of the hostile
    // text is escaped, wherever it appears.
    let hostile_lines: Vec<&str> = md.lines().filter(|l| l.contains("alert(1)")).collect();
    assert!(hostile_lines.len() >= 3, "{md}");
    for line in hostile_lines {
        for (i, c) in line.char_indices() {
            if matches!(c, '[' | '<' | '!') {
                assert_eq!(&line[i.saturating_sub(1)..i], "\\", "unescaped {c}: {line}");
            }
        }
    }
    assert!(
        !md.lines()
            .any(|l| l.starts_with("# <") || l.starts_with("# \\<")),
        "{md}"
    );
    assert!(md.contains("\\<script\\>"), "{md}");
    // The edited file has another hash, and the page says which.
    let hash = crate::util::hex(&Sha256::digest(std::fs::read(&file).unwrap()));
    assert!(md.contains(&hash));
}

#[test]
fn joint_writes_loadable_drafts_reports_and_rerun_cases() {
    let scratch = Scratch::new("joint");
    let out_dir = scratch.path("draft");
    let out = output(bin().args([
        "joint",
        "--region",
        "noord-nederland",
        "--out",
        out_dir.to_str().unwrap(),
        "--at",
        AT,
    ]));
    let summary = ok(&out);
    assert!(
        summary.starts_with("drafted 15 agreements (status draft)"),
        "{summary}"
    );
    assert!(summary.contains("flows kept"), "{summary}");
    let policies = out_dir.join("policies");
    for file in agreement_files() {
        let relative = file.strip_prefix(root().join("policies")).unwrap();
        let drafted = std::fs::read_to_string(policies.join(relative)).unwrap();
        assert!(
            drafted.contains("\"status\": \"draft\""),
            "{}",
            relative.display()
        );
    }
    // The drafted folder loads on its own (`check` exits 0).
    let check = output(bin().args(["check", "--policies", policies.to_str().unwrap()]));
    let text = ok(&check);
    assert!(text.contains("ok: 15 agreements"), "{text}");
    // A drafted agreement renders too.
    let page = ok(&render(&[policies
        .join("drenthe/ggd.json")
        .to_str()
        .unwrap()]));
    assert!(page.contains("concept: niet ondertekend"));
    // Reports.
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("default-src 'none'; style-src 'unsafe-inline'"));
    assert!(!html.contains("<script"));
    for province in ["drenthe", "groningen", "friesland"] {
        assert!(html.contains(&format!("Province {province}")), "{province}");
    }
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("## Flows left out"));
    assert!(md.contains("test cases whose expectations change"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("joint.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["provinces"],
        serde_json::json!(["drenthe", "friesland", "groningen"])
    );
    assert!(json["cases"]["run"].as_u64().unwrap() > 100);
    // The folder is never overwritten.
    let again = output(bin().args([
        "joint",
        "--region",
        "noord-nederland",
        "--out",
        out_dir.to_str().unwrap(),
        "--at",
        AT,
    ]));
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}

#[test]
fn joint_refuses_an_unknown_region() {
    let scratch = Scratch::new("joint-region");
    let out = output(bin().args([
        "joint",
        "--region",
        "noord",
        "--out",
        scratch.path("x").to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown region `noord`"), "{err}");
    assert!(!scratch.path("x").exists());
}
