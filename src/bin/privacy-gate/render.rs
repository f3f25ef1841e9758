//! `privacy-gate render`: an agreement as a document a signatory reads, in Markdown
//! or HTML, Dutch or English (`privacy_gate::authoring::render`).

use crate::{load, Failure};
use clap::{Args, ValueEnum};
use privacy_gate::authoring::render::{render, Format};
use privacy_gate::authoring::Lang;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code for a usage error (what clap uses too).
const EXIT_USAGE: u8 = 2;

#[derive(Args)]
pub(crate) struct RenderArgs {
    /// The agreement: its file (`policies/drenthe/ggd.json`) or its organisation id
    /// (`drenthe/ggd`).
    agreement: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Markdown)]
    format: OutFormat,
    /// Language of the document.
    #[arg(long, value_enum, default_value_t = OutLang::Nl)]
    lang: OutLang,
    /// The policy folder the agreement belongs to (its schema and counterparties);
    /// default: the folder two levels above a file given, else `policies`.
    #[arg(long)]
    policies: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutFormat {
    /// CommonMark with tables.
    Markdown,
    /// One self-contained HTML page.
    Html,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutLang {
    /// Dutch.
    Nl,
    /// English.
    En,
}

pub(crate) fn run(args: &RenderArgs) -> Result<ExitCode, Failure> {
    let as_file = Path::new(&args.agreement);
    let is_file = args.agreement.ends_with(".json");
    let policies = match (&args.policies, is_file) {
        (Some(p), _) => p.clone(),
        (None, true) => as_file
            .parent()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("policies"), Path::to_path_buf),
        (None, false) => PathBuf::from("policies"),
    };
    let registry = load(&policies)?;
    let wanted = is_file
        .then(|| std::fs::canonicalize(as_file).ok())
        .flatten();
    let found = registry.agreements().find(|a| match &wanted {
        Some(path) => std::fs::canonicalize(a.file()).ok().as_ref() == Some(path),
        None => a.id() == args.agreement,
    });
    let Some(agreement) = found else {
        let hint = registry
            .suggest_organisation(&args.agreement)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        stderr!(
            "privacy-gate: error: no agreement `{}` in `{}`{hint}",
            args.agreement,
            policies.display()
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    };
    let format = match args.format {
        OutFormat::Markdown => Format::Markdown,
        OutFormat::Html => Format::Html,
    };
    let lang = match args.lang {
        OutLang::Nl => Lang::Nl,
        OutLang::En => Lang::En,
    };
    write!(
        crate::stdout(),
        "{}",
        render(&registry, agreement, format, lang)
    )?;
    Ok(ExitCode::SUCCESS)
}
