//! A small document model for readable output (rendered agreements, joint-draft
//! reports) and its two writers, Markdown and HTML. Every text goes through the
//! writer's escaping, so no value from an agreement (a note, a covenant, a name) can
//! add markup: the builders never write markup themselves.

use std::fmt::Write as _;

/// A piece of running text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Span {
    /// Plain text.
    Text(String),
    /// An identifier or code (`drenthe/ggd`, `subject.bsn`, a hash).
    Code(String),
    /// Emphasised text.
    Strong(String),
}

/// Text from plain words.
pub(crate) fn text(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

/// An identifier.
pub(crate) fn code(s: impl Into<String>) -> Span {
    Span::Code(s.into())
}

/// Emphasised text.
pub(crate) fn strong(s: impl Into<String>) -> Span {
    Span::Strong(s.into())
}

/// A block of the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Block {
    /// A heading of level 1 to 3.
    Heading(u8, Vec<Span>),
    /// A paragraph.
    Para(Vec<Span>),
    /// A bulleted list.
    List(Vec<Vec<Span>>),
    /// A table with a header row; the first cell of each row heads the row.
    Table {
        /// Column titles.
        head: Vec<String>,
        /// Rows of cells.
        rows: Vec<Vec<Vec<Span>>>,
    },
}

/// A whole document: title, language and blocks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Document {
    pub title: String,
    /// `nl` or `en`, for the HTML `lang` attribute.
    pub lang: &'static str,
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    /// The document as Markdown (CommonMark with GFM tables).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Heading(level, spans) => {
                    let hashes = "#".repeat(usize::from((*level).clamp(1, 6)));
                    let _ = writeln!(out, "{hashes} {}\n", md_spans(spans));
                }
                Block::Para(spans) => {
                    let _ = writeln!(out, "{}\n", md_spans(spans));
                }
                Block::List(items) => {
                    for item in items {
                        let _ = writeln!(out, "- {}", md_spans(item));
                    }
                    out.push('\n');
                }
                Block::Table { head, rows } => {
                    let head: Vec<String> = head.iter().map(|h| md_text(h)).collect();
                    let _ = writeln!(out, "| {} |", head.join(" | "));
                    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                    for row in rows {
                        let cells: Vec<String> = row.iter().map(|c| md_spans(c)).collect();
                        let _ = writeln!(out, "| {} |", cells.join(" | "));
                    }
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The document as one self-contained HTML page: no script, no reference outside
    /// the page, a Content-Security-Policy that allows inline style only (as the
    /// `compare` page).
    pub fn html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
            esc(self.lang),
            esc(&self.title)
        );
        let mut in_section = false;
        for block in &self.blocks {
            match block {
                Block::Heading(level, spans) => {
                    let level = (*level).clamp(1, 6);
                    if level == 2 {
                        if in_section {
                            out.push_str("</section>\n");
                        }
                        out.push_str("<section>\n");
                        in_section = true;
                    }
                    let _ = writeln!(out, "<h{level}>{}</h{level}>", html_spans(spans));
                }
                Block::Para(spans) => {
                    let _ = writeln!(out, "<p>{}</p>", html_spans(spans));
                }
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for item in items {
                        let _ = writeln!(out, "<li>{}</li>", html_spans(item));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table { head, rows } => {
                    out.push_str("<table>\n<thead><tr>");
                    for h in head {
                        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
                    }
                    out.push_str("</tr></thead>\n<tbody>\n");
                    for row in rows {
                        out.push_str("<tr>");
                        for (i, cell) in row.iter().enumerate() {
                            if i == 0 {
                                let _ = write!(out, "<th scope=\"row\">{}</th>", html_spans(cell));
                            } else {
                                let _ = write!(out, "<td>{}</td>", html_spans(cell));
                            }
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody>\n</table>\n");
                }
            }
        }
        if in_section {
            out.push_str("</section>\n");
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

const CSS: &str = "
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#111;background:#fff;margin:1.5rem auto;max-width:62rem;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .5rem}
h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:2px solid #333}
h3{font-size:1.1rem;margin:1.4rem 0 .3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #999;padding:.2rem .5rem;text-align:left;vertical-align:top}
thead th{background:#333;color:#fff}
tbody th{font-weight:normal;background:#fafafa}
code{font-family:'DejaVu Sans Mono',monospace;font-size:.92em;overflow-wrap:anywhere}
";

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
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

fn html_spans(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) => out.push_str(&esc(t)),
            Span::Code(t) => {
                let _ = write!(out, "<code>{}</code>", esc(t));
            }
            Span::Strong(t) => {
                let _ = write!(out, "<strong>{}</strong>", esc(t));
            }
        }
    }
    out
}

/// Escapes text for Markdown: every character that could start markup (emphasis,
/// links, images, raw HTML, code, tables, headings, block quotes, entities) gets a
/// backslash, and line breaks become spaces, so that a value cannot start a block.
pub(crate) fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' | '~' | '&' | '{'
            | '}' => {
                out.push('\\');
                out.push(c);
            }
            // A list marker or a numbered item only at the start of a text.
            '-' | '+' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn md_spans(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) => out.push_str(&md_text(t)),
            // Identifiers never hold a backtick or a line break; anything else is
            // written as escaped text rather than trusted inside a code span.
            Span::Code(t) if !t.chars().any(|c| c == '`' || c.is_control()) && !t.is_empty() => {
                let _ = write!(out, "`{t}`");
            }
            Span::Code(t) => out.push_str(&md_text(t)),
            Span::Strong(t) => {
                let _ = write!(out, "**{}**", md_text(t));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_add_markup() {
        let hostile =
            "<script>alert(1)</script> [x](http://e) ![i](j) `c` | # h\n# heading & &amp;";
        let mut doc = Document {
            title: hostile.into(),
            lang: "en",
            blocks: Vec::new(),
        };
        doc.push(Block::Para(vec![text(hostile), code(hostile)]));
        doc.push(Block::Table {
            head: vec![hostile.into()],
            rows: vec![vec![vec![text(hostile)]]],
        });
        let html = doc.html();
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;script&gt;"));
        let md = doc.markdown();
        // Outside code spans, every `<`, `[`, `]` and `!` carries its backslash.
        let unescaped = md.replace("\\<", "").replace("\\[", "").replace("\\]", "");
        let outside_code: String = unescaped.split('`').step_by(2).collect();
        assert!(!outside_code.contains('<'), "{md}");
        assert!(!outside_code.contains("](http"), "{md}");
        assert!(!md.contains("\n# heading"), "{md}");
        assert!(md.contains("\\<script\\>"), "{md}");
    }
}
