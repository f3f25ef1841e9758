//! The joint draft's report for people: flows kept and left out, and per province
//! what it gives up and gains, with the test cases whose expectations change.

use crate::authoring::document::{code, strong, text, Block, Document, Span};
use crate::authoring::joint::rerun::CaseRerun;
use crate::authoring::joint::types::{JointDraft, LeftOut, RECIPIENT_DOMAIN};
use crate::policy::action::Action;
use std::sync::Arc;

/// The report of `draft` (and of its re-run cases, if given), as Markdown, or with
/// `html` as one self-contained HTML page (no script, nothing loaded from elsewhere,
/// every value escaped).
pub fn report(draft: &JointDraft, cases: Option<&CaseRerun>, html: bool) -> String {
    let doc = document(draft, cases);
    if html {
        doc.html()
    } else {
        doc.markdown()
    }
}

fn pair(p: &(Arc<str>, Arc<str>)) -> Vec<Span> {
    vec![code(&*p.0), text(" → "), code(&*p.1)]
}

fn pairs(ps: &[(Arc<str>, Arc<str>)]) -> Vec<Span> {
    let mut out = Vec::new();
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            out.push(text(", "));
        }
        out.extend(pair(p));
    }
    out
}

fn action(a: &Action) -> String {
    match a {
        Action::Pseudonymise(d) if d.as_str() == RECIPIENT_DOMAIN => {
            "pseudonymise (in the recipient's own domain)".to_owned()
        }
        other => other.to_string(),
    }
}

fn left_out_table(rows: &[LeftOut]) -> Block {
    Block::Table {
        head: vec!["flow".into(), "organisations".into(), "why".into()],
        rows: rows
            .iter()
            .map(|l| {
                vec![
                    vec![text(l.flow.to_string())],
                    pairs(&l.pairs),
                    vec![text(&l.reason)],
                ]
            })
            .collect(),
    }
}

fn document(d: &JointDraft, cases: Option<&CaseRerun>) -> Document {
    let mut doc = Document {
        title: format!("Joint draft for {}", d.region),
        lang: "en",
        blocks: Vec::new(),
    };
    doc.push(Block::Heading(1, vec![text(doc.title.clone())]));
    doc.push(Block::Para(vec![text(format!(
        "Drafted from the common ground of the agreements of {} at {} (day {} in Europe/Amsterdam): per flow the join of the provinces' field actions as written, the shortest retention, every province's conditions and the legal bases all provinces share. {} agreements drafted (status draft), {} flows kept, {} left out. How the draft is made and what it does not decide: docs/joint.md.",
        d.provinces.join(", "),
        d.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        crate::support::time::amsterdam_date(d.at),
        d.files.len(),
        d.flows.len(),
        d.left_out.len(),
    ))]));

    doc.push(Block::Heading(2, vec![text("Flows kept")]));
    doc.push(Block::Table {
        head: [
            "flow",
            "organisations",
            "retention",
            "conditions",
            "legal basis (sender / recipient)",
            "fields that cross",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        rows: d
            .flows
            .iter()
            .map(|f| {
                let crossing: Vec<String> = f
                    .fields
                    .iter()
                    .filter(|x| x.action.releases())
                    .map(|x| format!("{} {}", x.path, action(&x.action)))
                    .collect();
                let retention: Vec<String> = f.retention.iter().map(ToString::to_string).collect();
                let join = |b: &[Arc<str>]| b.iter().map(|x| &**x).collect::<Vec<_>>().join(", ");
                vec![
                    vec![text(f.flow.to_string())],
                    pairs(&f.pairs),
                    vec![text(retention.join("; "))],
                    vec![text(if f.conditions.is_empty() {
                        "—".to_owned()
                    } else {
                        f.conditions.join("; and ")
                    })],
                    vec![text(format!(
                        "{} / {}",
                        join(&f.sender_legal_basis),
                        join(&f.recipient_legal_basis)
                    ))],
                    vec![text(match f.aggregate_min_count {
                        Some(m) => format!(
                            "aggregates only, cells under {m} suppressed: {}",
                            crossing.join(", ")
                        ),
                        None => crossing.join(", "),
                    })],
                ]
            })
            .collect(),
    });
    doc.push(Block::Heading(2, vec![text("Flows left out")]));
    doc.push(left_out_table(&d.left_out));

    for p in &d.reports {
        doc.push(Block::Heading(
            2,
            vec![text(format!("Province {}", p.province))],
        ));
        doc.push(Block::Para(vec![strong(format!(
            "{} fields made stricter, {} flows lost, {} terms made stricter, {} gains.",
            p.stricter.len(),
            p.flows_lost.len(),
            p.terms.len(),
            p.gains.len()
        ))]));
        doc.push(Block::Heading(
            3,
            vec![text(format!(
                "{} gives up: fields made stricter",
                p.province
            ))],
        ));
        if p.stricter.is_empty() {
            doc.push(Block::Para(vec![text("None.")]));
        } else {
            doc.push(Block::Table {
                head: [
                    "field",
                    "flow",
                    "organisations",
                    "before",
                    "after",
                    "conditions added",
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
                rows: p
                    .stricter
                    .iter()
                    .map(|s| {
                        vec![
                            vec![code(&*s.path)],
                            vec![text(s.flow.to_string())],
                            pair(&s.pair),
                            vec![text(s.before.to_string())],
                            vec![text(s.after.to_string())],
                            vec![text(s.conditions_added.join("; "))],
                        ]
                    })
                    .collect(),
            });
        }
        doc.push(Block::Heading(
            3,
            vec![text(format!("{} gives up: flows lost", p.province))],
        ));
        if p.flows_lost.is_empty() {
            doc.push(Block::Para(vec![text("None.")]));
        } else {
            doc.push(left_out_table(&p.flows_lost));
        }
        doc.push(Block::Heading(
            3,
            vec![text(format!(
                "{} gives up: terms made stricter",
                p.province
            ))],
        ));
        doc.push(list_or_none(
            p.terms
                .iter()
                .map(|t| vec![text(format!("{}: {}", t.flow, t.change))])
                .collect(),
        ));
        doc.push(Block::Heading(
            3,
            vec![text(format!("{} gains", p.province))],
        ));
        let mut gains: Vec<Vec<Span>> = p
            .gains
            .iter()
            .map(|t| vec![text(format!("{}: {}", t.flow, t.change))])
            .collect();
        gains.push(vec![text(
            "No flow between provinces: every drafted rule names its counterparty, within the province (or the regional organisation serving it).",
        )]);
        doc.push(Block::List(gains));
        if let Some(cases) = cases {
            let changed: Vec<_> = cases
                .changed
                .iter()
                .filter(|c| c.province == p.province)
                .collect();
            doc.push(Block::Heading(
                3,
                vec![text(format!(
                    "{} test cases whose expectations change ({})",
                    p.province,
                    changed.len()
                ))],
            ));
            if changed.is_empty() {
                doc.push(Block::Para(vec![text("None.")]));
            } else {
                doc.push(Block::Table {
                    head: vec!["case".into(), "expectations that change".into()],
                    rows: changed
                        .iter()
                        .map(|c| vec![vec![code(&c.case)], vec![text(c.changes.join(" | "))]])
                        .collect(),
                });
            }
        }
    }
    if let Some(cases) = cases {
        doc.push(Block::Heading(2, vec![text("Test cases")]));
        doc.push(Block::Para(vec![text(format!(
            "{} cases re-run against the draft loaded as if signed: {} unchanged, {} with expectations that change, {} already failing before.",
            cases.run,
            cases.unchanged,
            cases.changed.len(),
            cases.failing_before.len()
        ))]));
    }
    doc
}

fn list_or_none(items: Vec<Vec<Span>>) -> Block {
    if items.is_empty() {
        Block::Para(vec![text("None.")])
    } else {
        Block::List(items)
    }
}
