//! `privacy-gate compare`: one flow, or every flow, across provinces, as a terminal
//! table, JSON or a self-contained HTML page.

use crate::{load, Failure};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use privacy_gate::compare::{
    compare_all, compare_flow, Availability, Comparison, FieldComparison, FlowKind, FlowSummary,
    FlowTerms, Likeness, ProvinceFlow,
};
use privacy_gate::{Action, Registry};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for a usage error (what clap uses too).
const EXIT_USAGE: u8 = 2;

#[derive(Args)]
pub(crate) struct CompareArgs {
    /// Sender kind, like `ggd`.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    from_kind: Option<String>,
    /// Recipient kind, like `politie`.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    to_kind: Option<String>,
    /// Purpose, like `criminal-investigation`.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    purpose: Option<String>,
    /// Every flow (sender kind, recipient kind, purpose) at once, worst first.
    #[arg(long)]
    all: bool,
    /// Provinces to compare, comma-separated, in column order; default: every province.
    #[arg(long, value_delimiter = ',')]
    provinces: Vec<String>,
    /// Moment compared (RFC 3339); default now.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The policy folder.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A readable table.
    Text,
    /// JSON for tools.
    Json,
    /// One self-contained HTML page.
    Html,
}

pub(crate) fn run(args: &CompareArgs) -> Result<ExitCode, Failure> {
    let registry = load(&args.policies)?;
    let provinces: Vec<&str> = args.provinces.iter().map(String::as_str).collect();
    let at = args.at.unwrap_or_else(Utc::now);
    let single = match (&args.from_kind, &args.to_kind, &args.purpose) {
        (Some(from), Some(to), Some(purpose)) if !args.all => {
            Some(FlowKind::new(from, to, purpose))
        }
        _ => None,
    };
    let comparisons = match &single {
        Some(flow) => compare_flow(&registry, flow, &provinces, at).map(|c| vec![c]),
        None => compare_all(&registry, &provinces, at),
    };
    let comparisons = match comparisons {
        Ok(c) => c,
        Err(e) => {
            stderr!("privacy-gate: error: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if single.is_some()
        && comparisons
            .iter()
            .all(|c| c.provinces.iter().all(|p| p.terms.is_none()))
    {
        stderr!("privacy-gate: note: no province compared has this flow");
    }
    let page = match (args.format, single.is_some()) {
        (Format::Text, true) => comparisons.iter().map(text_flow).collect(),
        (Format::Text, false) => text_summary(&comparisons, at),
        (Format::Json, true) => match comparisons.first() {
            Some(c) => serde_json::to_string_pretty(c)? + "\n",
            None => String::new(),
        },
        (Format::Json, false) => {
            let summary: Vec<FlowSummary> = comparisons.iter().map(Comparison::summary).collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "at": at,
                "day": privacy_gate::amsterdam_date(at),
                "summary": summary,
                "flows": comparisons,
            }))? + "\n"
        }
        (Format::Html, single) => html_page(&registry, &comparisons, at, single),
    };
    write!(crate::stdout(), "{page}")?;
    Ok(ExitCode::SUCCESS)
}

/// Short text for an action in a cell: `pass`, `block`, the generalisation method,
/// or `pseudo:DOMAIN`.
fn short(action: &Action) -> String {
    match action {
        Action::Pass => "pass".to_owned(),
        Action::Block => "block".to_owned(),
        Action::Generalise(m) => m.name().to_owned(),
        Action::Pseudonymise(d) => format!("pseudo:{d}"),
        other => other.to_string(),
    }
}

/// A province's cell text: the action; in parentheses when the flow is refused at
/// the moment (the agreement's action, not applied); `-` without a flow.
fn cell_text(column: &ProvinceFlow, cell: &privacy_gate::compare::FieldCell) -> String {
    match (&cell.planned, column.availability.in_force()) {
        (Some(action), true) => with_conditions(short(action), action, &cell.conditions),
        (Some(action), false) => format!(
            "({})",
            with_conditions(short(action), action, &cell.conditions)
        ),
        (None, _) => "-".to_owned(),
    }
}

/// `pass if case.consent in [given]`: a field that crosses only under conditions.
fn with_conditions(text: String, action: &Action, conditions: &[String]) -> String {
    if conditions.is_empty() || !action.releases() {
        text
    } else {
        format!("{text} if {}", conditions.join(" and "))
    }
}

fn common_text(field: &FieldComparison) -> String {
    let text = with_conditions(
        short(&field.common_ground),
        &field.common_ground,
        &field.common_conditions,
    );
    if field.likeness == Likeness::DomainsOnly {
        format!("{text} (domains differ)")
    } else {
        text
    }
}

fn marker(likeness: Likeness) -> &'static str {
    match likeness {
        Likeness::Same => "",
        Likeness::DomainsOnly => "~",
        _ => "*",
    }
}

fn agreement_text(info: Option<&privacy_gate::compare::AgreementInfo>) -> String {
    match info {
        Some(a) if a.status == privacy_gate::Status::Draft => {
            format!("{} {} (draft)", a.id, a.version)
        }
        Some(a) => format!("{} {}", a.id, a.version),
        None => "-".to_owned(),
    }
}

fn list(items: &[impl AsRef<str>]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One row of the terms table: its name, whether the provinces differ on it, a cell
/// per province and the common ground's cell.
struct TermRow {
    name: &'static str,
    differs: bool,
    cells: Vec<String>,
    common: String,
}

fn term_rows(c: &Comparison) -> Vec<TermRow> {
    use privacy_gate::compare::Aspect;
    let differs = |a: Aspect| c.aspects.contains(&a);
    let per = |f: &dyn Fn(&ProvinceFlow) -> String| c.provinces.iter().map(f).collect();
    let terms = |f: &dyn Fn(&FlowTerms) -> String| {
        c.provinces
            .iter()
            .map(|p| p.terms.as_ref().map_or_else(|| "-".to_owned(), f))
            .collect()
    };
    let not_in_force: Vec<String> = c
        .provinces
        .iter()
        .filter(|p| !p.availability.in_force())
        .map(|p| p.label.clone())
        .collect();
    vec![
        TermRow {
            name: "sender",
            differs: false,
            cells: per(&|p| agreement_text(p.sender.as_ref())),
            common: String::new(),
        },
        TermRow {
            name: "recipient",
            differs: false,
            cells: per(&|p| agreement_text(p.recipient.as_ref())),
            common: String::new(),
        },
        TermRow {
            name: "both in force",
            differs: differs(Aspect::Validity),
            cells: per(&|p| p.window.map_or_else(|| "-".to_owned(), |w| w.to_string())),
            common: String::new(),
        },
        TermRow {
            name: "status",
            differs: differs(Aspect::Availability),
            cells: per(&|p| p.availability.label().to_owned()),
            common: if c.common.all_in_force {
                "all in force".to_owned()
            } else {
                format!("not in force in {}: block", not_in_force.join(", "))
            },
        },
        TermRow {
            name: "sender rules",
            differs: false,
            cells: terms(&|t| list(&t.sender_rules)),
            common: String::new(),
        },
        TermRow {
            name: "recipient rules",
            differs: false,
            cells: terms(&|t| list(&t.recipient_rules)),
            common: String::new(),
        },
        TermRow {
            name: "release",
            differs: differs(Aspect::Release),
            cells: terms(&|t| release_text(t.aggregate_min_count)),
            common: release_text(c.common.aggregate_min_count),
        },
        TermRow {
            name: "retention",
            differs: differs(Aspect::Retention),
            cells: terms(&|t| retention_text(&t.retention).unwrap_or_else(|| "none".to_owned())),
            common: retention_text(&c.common.retention)
                .map_or_else(|| "-".to_owned(), |r| format!("{r} (earliest)")),
        },
        TermRow {
            name: "regime out/in",
            differs: differs(Aspect::Regime),
            cells: terms(&|t| format!("{}/{}", t.regime_out, t.regime_in)),
            common: String::new(),
        },
        TermRow {
            name: "legal basis out",
            differs: bases_differ(c, |t| &t.sender_legal_basis),
            cells: terms(&|t| list(&t.sender_legal_basis)),
            common: String::new(),
        },
        TermRow {
            name: "legal basis in",
            differs: bases_differ(c, |t| &t.recipient_legal_basis),
            cells: terms(&|t| list(&t.recipient_legal_basis)),
            common: String::new(),
        },
        TermRow {
            name: "conditions",
            differs: differs(Aspect::Conditions),
            cells: terms(&|t| {
                let conditions: Vec<String> = t.conditions.iter().map(|c| c.to_string()).collect();
                list(&conditions)
            }),
            common: {
                let conditions: Vec<String> =
                    c.common.conditions.iter().map(|c| c.to_string()).collect();
                if conditions.is_empty() {
                    "-".to_owned()
                } else {
                    format!("all of: {}", conditions.join(", "))
                }
            },
        },
    ]
}

/// `records`, or `counts per cell of 10 or more` for a flow of aggregates only.
fn release_text(min_count: Option<u32>) -> String {
    min_count.map_or_else(
        || "records".to_owned(),
        |n| format!("counts per cell of {n} or more"),
    )
}

/// `P2Y`, or `P5Y; P1Y after case-closed` (the earliest deadline binds).
fn retention_text(retention: &[privacy_gate::Retention]) -> Option<String> {
    (!retention.is_empty()).then(|| {
        retention
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Whether the provinces with a flow name different sets of bases on one side.
fn bases_differ(c: &Comparison, side: impl Fn(&FlowTerms) -> &Vec<std::sync::Arc<str>>) -> bool {
    let mut sets = c
        .provinces
        .iter()
        .filter_map(|p| p.terms.as_ref())
        .map(|t| {
            let mut set: Vec<&str> = side(t).iter().map(|b| &**b).collect();
            set.sort_unstable();
            set
        });
    let first = sets.next();
    !sets.all(|s| Some(s) == first)
}

/// The counts line of a comparison.
fn verdict(s: &FlowSummary) -> String {
    format!(
        "{} fields: {} the same, {} differ only in pseudonymisation domain, {} differ; the common ground lets {} cross",
        s.fields, s.same, s.domains_only, s.different, s.common_ground_releases
    )
}

/// Where a province's flow is refused at the moment: the fields its agreements differ
/// on as written, once in force.
fn as_written(c: &Comparison) -> Option<String> {
    let refused: Vec<&str> = c
        .provinces
        .iter()
        .filter(|p| matches!(p.availability, Availability::Refused { .. }))
        .map(|p| p.label.as_str())
        .collect();
    if refused.is_empty() {
        return None;
    }
    let fields: Vec<&str> = c
        .fields
        .iter()
        .filter(|f| f.as_written == Likeness::Different)
        .map(|f| &*f.path)
        .collect();
    Some(format!(
        "as written, counting {} as if in force, the agreements differ on {} field(s){}{}",
        refused.join(" and "),
        fields.len(),
        if fields.is_empty() { "" } else { ": " },
        fields.join(", ")
    ))
}

fn text_flow(c: &Comparison) -> String {
    let mut out = format!(
        "{}, at {} (day {} in Europe/Amsterdam)\n\n",
        c.flow,
        c.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        c.day
    );
    let labels = || c.provinces.iter().map(|p| p.label.clone());
    let mut rows: Vec<Vec<String>> = vec![std::iter::once(String::new())
        .chain(std::iter::once("term".to_owned()))
        .chain(labels())
        .chain(std::iter::once("common ground".to_owned()))
        .collect()];
    for row in term_rows(c) {
        let mut line = vec![
            if row.differs { "*" } else { "" }.to_owned(),
            row.name.to_owned(),
        ];
        line.extend(row.cells);
        line.push(row.common);
        rows.push(line);
    }
    out.push_str(&crate::explain::table(&rows));
    out.push('\n');

    let mut rows: Vec<Vec<String>> = vec![std::iter::once(String::new())
        .chain(["field".to_owned(), "category".to_owned()])
        .chain(labels())
        .chain(std::iter::once("common ground".to_owned()))
        .collect()];
    for field in &c.fields {
        let mut line = vec![
            marker(field.likeness).to_owned(),
            field.path.to_string(),
            field.category.to_string(),
        ];
        line.extend(
            c.provinces
                .iter()
                .zip(&field.cells)
                .map(|(p, cell)| cell_text(p, cell)),
        );
        line.push(common_text(field));
        rows.push(line);
    }
    out.push_str(&crate::explain::table(&rows));
    out.push('\n');
    out.push_str(&verdict(&c.summary()));
    out.push('\n');
    for p in c.provinces.iter().filter(|p| !p.availability.in_force()) {
        let _ = writeln!(out, "{}: {}", p.label, p.availability);
    }
    if let Some(line) = as_written(c) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(LEGEND_TEXT);
    out
}

const LEGEND_TEXT: &str = "\
legend: * the provinces differ; ~ all pseudonymise, in different domains (their join is block:
  pseudonyms of different domains are unlinkable, and a joint domain would link across provinces);
  pass = crosses unchanged; year, year-month, age-band, postcode4, placeholder = generalised;
  pseudo:D = pseudonymised in domain D; block = does not cross; (x) = the agreement's action,
  not applied because the flow is refused at that moment; - = no such flow;
  A if C = the action applies only to records for which C holds (else the field is removed).
  common ground = the join over the provinces: what all of them allow at once.
";

fn text_summary(comparisons: &[Comparison], at: DateTime<Utc>) -> String {
    let provinces: Vec<&str> = comparisons
        .first()
        .map(|c| c.provinces.iter().map(|p| p.label.as_str()).collect())
        .unwrap_or_default();
    let mut out = format!(
        "{} flows across {}, at {} (day {} in Europe/Amsterdam), worst first\n\n",
        comparisons.len(),
        provinces.join(", "),
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        privacy_gate::amsterdam_date(at)
    );
    let mut rows = vec![vec![
        "flow".to_owned(),
        "differ".to_owned(),
        "as written".to_owned(),
        "domain only".to_owned(),
        "same".to_owned(),
        "in force".to_owned(),
        "common ground crosses".to_owned(),
        "terms that differ".to_owned(),
    ]];
    for c in comparisons {
        let s = c.summary();
        let aspects: Vec<&str> = s.aspects.iter().map(|a| a.name()).collect();
        rows.push(vec![
            s.flow.to_string(),
            s.different.to_string(),
            s.different_as_written.to_string(),
            s.domains_only.to_string(),
            s.same.to_string(),
            format!("{}/{}", s.in_force, s.provinces),
            format!("{}/{}", s.common_ground_releases, s.fields),
            list(&aspects),
        ]);
    }
    out.push_str(&crate::explain::table(&rows));
    out.push_str(
        "\ndiffer / domain only / same: fields on which the provinces' effective actions (what the\n\
         gate does at that moment) differ, differ only in pseudonymisation domain, or agree.\n\
         as written: fields on which the agreements differ, counting refused flows (a draft, an\n\
         expired or not yet valid agreement) as if in force; a missing flow counts as block.\n\
         One flow in detail: privacy-gate compare --from-kind K --to-kind K --purpose P\n",
    );
    out
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of an action.
fn action_class(action: &Action) -> &'static str {
    match action {
        Action::Pass => "pass",
        Action::Generalise(_) => "gen",
        Action::Pseudonymise(_) => "pseudo",
        _ => "block",
    }
}

/// An id for a flow's section: `flow-ggd-politie-criminal-investigation`.
fn anchor(flow: &FlowKind) -> String {
    let raw = format!("flow-{}-{}-{}", flow.from_kind, flow.to_kind, flow.purpose);
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn flow_title(flow: &FlowKind) -> String {
    format!(
        "{} &rarr; {} <span class=\"purpose\">{}</span>",
        esc(&flow.from_kind),
        esc(&flow.to_kind),
        esc(&flow.purpose)
    )
}

const CSS: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#111;background:#fff;margin:1.5rem}
h1{font-size:1.5rem;margin:0 0 .3rem}
h2{font-size:1.25rem;margin:2rem 0 .4rem;border-bottom:2px solid #333}
.purpose{font-weight:normal;color:#333}
.meta,.verdict{margin:.3rem 0}
table{border-collapse:collapse;margin:.6rem 0 1rem}
th,td{border:1px solid #999;padding:.15rem .45rem;text-align:left;vertical-align:top}
thead th{background:#333;color:#fff;position:sticky;top:0}
code{font-family:'DejaVu Sans Mono',monospace;font-size:.95em}
td.pass{background:#f5b77a}
td.gen{background:#f3e48f}
td.pseudo{background:#9fd0ef}
td.block{background:#dedede;color:#333}
td.refused{background:repeating-linear-gradient(45deg,#fff,#fff 5px,#eee 5px,#eee 10px);font-style:italic;color:#444}
td.none{background:#fff;color:#666}
td.common,th.common{border-left:4px solid #111}
tr.different th.field{border-left:6px solid #c2410c}
tr.domains th.field{border-left:6px solid #2563eb}
th.field{font-weight:normal;background:#fafafa}
tr.different th.field,tr.different td.mark{background:#fde9dc}
tr.domains th.field,tr.domains td.mark{background:#e3eefc}
td.mark{font-weight:bold;white-space:nowrap}
tr.different td.mark{color:#9a3412}
tr.domains td.mark{color:#1d4ed8}
tr.differs th{background:#fff3c4}
.legend span{display:inline-block;padding:.1rem .5rem;margin:.1rem .3rem .1rem 0;border:1px solid #999}
.legend span.pass{background:#f5b77a}.legend span.gen{background:#f3e48f}
.legend span.pseudo{background:#9fd0ef}.legend span.block{background:#dedede}
.legend span.refused{background:repeating-linear-gradient(45deg,#fff,#fff 5px,#eee 5px,#eee 10px);font-style:italic}
footer{margin-top:2rem;color:#555;font-size:.9em}
";

const LEGEND_HTML: &str = "<section class=\"legend\" aria-label=\"legend\"><p><strong>Legend.</strong> \
<span class=\"pass\">pass</span> crosses unchanged \
<span class=\"gen\">year, year-month, age-band, postcode4, placeholder</span> generalised with that method \
<span class=\"pseudo\">pseudo: domain</span> pseudonymised in that domain \
<span class=\"block\">block</span> does not cross \
<span class=\"refused\">(pass)</span> the agreement's action, not applied: the flow is refused at this moment \
<span>&ndash;</span> no such flow in the province.</p>\
<p>Rows marked <strong>&ne; differs</strong> are treated differently by the provinces; rows marked \
<strong>~ domains</strong> are pseudonymised everywhere, but in different domains: pseudonyms of different \
domains cannot be linked, and their join is block, since a joint domain would let the recipient link \
records across provinces. The <strong>common ground</strong> is the join over the provinces: the action \
every province allows at once, so a joint agreement could release that without any province releasing \
more than it does today. A province whose flow is missing or not in force releases nothing, so the \
common ground is then block.</p></section>";

fn html_page(
    registry: &Registry,
    comparisons: &[Comparison],
    at: DateTime<Utc>,
    single: bool,
) -> String {
    let title = match (single, comparisons.first()) {
        (true, Some(c)) => format!(
            "{} &rarr; {} ({})",
            esc(&c.flow.from_kind),
            esc(&c.flow.to_kind),
            esc(&c.flow.purpose)
        ),
        _ => "every flow".to_owned(),
    };
    let provinces: Vec<String> = comparisons
        .first()
        .map(|c| c.provinces.iter().map(|p| esc(&p.label)).collect())
        .unwrap_or_default();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Provinces compared: {title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <header><h1>Provinces compared: {title}</h1>\n\
         <p class=\"meta\">Provinces: {}. Moment: {} (day {} in Europe/Amsterdam).</p></header>\n{LEGEND_HTML}\n",
        provinces.join(", "),
        esc(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        privacy_gate::amsterdam_date(at),
    );
    if !single {
        out.push_str(&html_summary(comparisons));
    }
    for c in comparisons {
        out.push_str(&html_flow(c, single));
    }
    let _ = write!(
        out,
        "<footer>Made by privacy-gate {} from policy set <code>{}</code>, from the compiled flow plans; no record was gated.</footer>\n</body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION")),
        esc(&registry.policy_set().id_hex()),
    );
    out
}

fn html_summary(comparisons: &[Comparison]) -> String {
    let mut out = String::from(
        "<section id=\"summary\"><h2>Every flow, worst first</h2>\n<table>\n<thead><tr><th>flow</th><th>differ</th><th>as written</th><th>domain only</th><th>same</th><th>in force</th><th>common ground crosses</th><th>terms that differ</th></tr></thead>\n<tbody>\n",
    );
    for c in comparisons {
        let s = c.summary();
        let aspects: Vec<&str> = s.aspects.iter().map(|a| a.name()).collect();
        let _ = writeln!(
            out,
            "<tr><th><a href=\"#{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}/{}</td><td>{}</td></tr>",
            anchor(&s.flow),
            flow_title(&s.flow),
            s.different,
            s.different_as_written,
            s.domains_only,
            s.same,
            s.in_force,
            s.provinces,
            s.common_ground_releases,
            s.fields,
            esc(&list(&aspects)),
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    out
}

fn html_flow(c: &Comparison, single: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<section class=\"flow\" id=\"{}\">\n<h2>{}</h2>",
        anchor(&c.flow),
        flow_title(&c.flow)
    );
    let _ = writeln!(
        out,
        "<p class=\"verdict\">{}.</p>",
        esc(&verdict(&c.summary()))
    );
    for p in c.provinces.iter().filter(|p| !p.availability.in_force()) {
        let _ = writeln!(
            out,
            "<p class=\"verdict\"><strong>{}</strong>: {}.</p>",
            esc(&p.label),
            esc(&p.availability.to_string())
        );
    }
    if let Some(line) = as_written(c) {
        let _ = writeln!(out, "<p class=\"verdict\">{}.</p>", esc(&line));
    }
    let head: String = c
        .provinces
        .iter()
        .map(|p| format!("<th scope=\"col\">{}</th>", esc(&p.label)))
        .collect();

    // Terms.
    let _ = write!(
        out,
        "<table class=\"terms\">\n<thead><tr><th scope=\"col\">term</th>{head}<th scope=\"col\" class=\"common\">common ground</th></tr></thead>\n<tbody>\n"
    );
    for row in term_rows(c) {
        let cells: String = row
            .cells
            .iter()
            .map(|cell| format!("<td>{}</td>", esc(cell)))
            .collect();
        let name = if row.differs {
            format!("{} <strong>(differs)</strong>", esc(row.name))
        } else {
            esc(row.name)
        };
        let _ = writeln!(
            out,
            "<tr{}><th scope=\"row\">{name}</th>{cells}<td class=\"common\">{}</td></tr>",
            if row.differs {
                " class=\"differs\""
            } else {
                ""
            },
            esc(&row.common)
        );
    }
    out.push_str("</tbody>\n</table>\n");

    // Fields.
    let _ = write!(
        out,
        "<table class=\"matrix\">\n<thead><tr><th scope=\"col\">field</th><th scope=\"col\">category</th><th scope=\"col\">differs</th>{head}<th scope=\"col\" class=\"common\">common ground</th></tr></thead>\n<tbody>\n"
    );
    for field in &c.fields {
        let (row_class, mark) = match field.likeness {
            Likeness::Same => ("same", ""),
            Likeness::DomainsOnly => ("domains", "~ domains"),
            _ => ("different", "&ne; differs"),
        };
        let _ = write!(
            out,
            "<tr class=\"{row_class}\"><th scope=\"row\" class=\"field\"><code>{}</code></th><td>{}</td><td class=\"mark\">{mark}</td>",
            esc(&field.path),
            esc(&field.category)
        );
        for (p, cell) in c.provinces.iter().zip(&field.cells) {
            let (class, title) = match (&cell.planned, &p.availability) {
                (Some(a), Availability::InForce) => (action_class(a), a.to_string()),
                (Some(a), other) => ("refused", format!("{a}, not applied: {}", other.label())),
                (None, _) => ("none", "no such flow".to_owned()),
            };
            let _ = write!(
                out,
                "<td class=\"{class}\" title=\"{}\">{}</td>",
                esc(&title),
                esc(&cell_text(p, cell))
            );
        }
        let _ = writeln!(
            out,
            "<td class=\"common {}\" title=\"{}\">{}</td></tr>",
            action_class(&field.common_ground),
            esc(&field.common_ground.to_string()),
            esc(&common_text(field))
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if !single {
        out.push_str("<p><a href=\"#summary\">back to every flow</a></p>\n");
    }
    out.push_str("</section>\n");
    out
}
