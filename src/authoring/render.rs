//! An agreement as a document a signatory reads: the parties, the purposes with their
//! legal bases in words, per rule what is shared and how, conditions, retention,
//! validity, covenant articles and notes, the pseudonymisation domains it receives,
//! and the SHA-256 that a signature covers, in Dutch or English, as Markdown or HTML.
//!
//! **What a signature covers.** The canonical bytes of an agreement are the exact
//! bytes of its file, as the loader read them: [`Agreement::sha256`], the hash every
//! audit entry cites for the agreement version it applied. Nothing is normalised
//! (no re-serialisation, no whitespace rules), so the hash a signatory sees at the
//! end of the document is the one `sha256sum` prints for the file, and any change to
//! the file, even of a note or of whitespace, changes it.
//!
//! ```
//! use privacy_gate::authoring::render::{render, Format};
//! use privacy_gate::authoring::Lang;
//! use privacy_gate::Registry;
//!
//! let registry = Registry::load_dir("policies".as_ref())?;
//! let ggd = registry.agreement("drenthe/ggd").expect("shipped");
//! let page = render(&registry, ggd, Format::Markdown, Lang::Nl);
//! assert!(page.contains("GGD Drenthe"));
//! assert!(page.contains(&ggd.sha256_hex()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::document::{code, strong, text, Block, Document, Span};
use super::words::{self, Lang};
use crate::plan::registry::Registry;
use crate::policy::agreement::{Agreement, Rule, Selector, Status};
use std::sync::Arc;

/// The output format of a rendered agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// CommonMark with tables; every value escaped.
    Markdown,
    /// One self-contained HTML page: no script, nothing loaded from elsewhere.
    Html,
}

/// Renders `agreement` (one of `registry`'s) as a document in `lang`.
///
/// The registry supplies the schema's titles and the counterparties' names. Values
/// from the agreement (names, notes, covenant articles) are escaped for the format,
/// never interpreted as markup.
pub fn render(registry: &Registry, agreement: &Agreement, format: Format, lang: Lang) -> String {
    let doc = document(registry, agreement, lang);
    match format {
        Format::Markdown => doc.markdown(),
        Format::Html => doc.html(),
    }
}

fn name_of(agreement: &Agreement) -> String {
    agreement
        .name()
        .map_or_else(|| agreement.id().to_owned(), str::to_owned)
}

fn document(registry: &Registry, a: &Agreement, lang: Lang) -> Document {
    let schema = registry.schema();
    let l = |nl: &str, en: &str| lang.pick(nl, en).to_owned();
    let name = name_of(a);
    let mut doc = Document {
        title: match lang {
            Lang::Nl => format!("Gegevensdelingsovereenkomst {name}"),
            Lang::En => format!("Data-sharing agreement of {name}"),
        },
        lang: lang.code(),
        blocks: Vec::new(),
    };
    doc.push(Block::Heading(1, vec![text(doc.title.clone())]));
    let status = match a.status() {
        Status::Signed => l("ondertekend", "signed"),
        _ => l(
            "concept: niet ondertekend, nooit van kracht",
            "draft: not signed, never in force",
        ),
    };
    doc.push(Block::List(vec![
        vec![
            text(l("Organisatie: ", "Organisation: ")),
            text(name.clone()),
            text(" ("),
            code(a.id()),
            text(")"),
        ],
        vec![
            text(l("Versie: ", "Version: ")),
            code(a.version()),
            text(format!(", {status}")),
        ],
        vec![text(match lang {
            Lang::Nl => format!(
                "Geldig van {} tot en met {} (kalenderdagen in Europe/Amsterdam)",
                a.valid_from(),
                a.valid_until()
            ),
            Lang::En => format!(
                "Valid from {} up to and including {} (calendar days in Europe/Amsterdam)",
                a.valid_from(),
                a.valid_until()
            ),
        })],
        vec![
            text(l("Regime: ", "Regime: ")),
            text(words::regime(lang, a.regime())),
        ],
        vec![text(match a.max_retention() {
            Some(p) => match lang {
                Lang::Nl => format!(
                    "Langste bewaartermijn die een regel mag stellen: {}",
                    words::period(lang, &p.to_string())
                ),
                Lang::En => format!(
                    "Longest retention any rule may set: {}",
                    words::period(lang, &p.to_string())
                ),
            },
            None => l(
                "Geen langste bewaartermijn vastgelegd",
                "No longest retention set",
            ),
        })],
    ]));

    // Parties.
    doc.push(Block::Heading(2, vec![text(l("Partijen", "Parties"))]));
    doc.push(Block::Para(vec![text(l(
        "Deze overeenkomst bindt de eerste organisatie. De andere zijn de organisaties waarmee haar regels gegevens uitwisselen, zoals de gegevensset ze nu kent.",
        "This agreement binds the first organisation. The others are the organisations its rules exchange data with, as the policy set knows them now.",
    ))]));
    let mut parties: Vec<&Arc<Agreement>> = Vec::new();
    if let Some(own) = registry.agreement(a.id()) {
        parties.push(own);
    }
    for rule in a.outbound().iter().chain(a.inbound()) {
        for other in registry.agreements().filter(|o| rule.selector().matches(o)) {
            if !parties.iter().any(|p| p.id() == other.id()) {
                parties.push(other);
            }
        }
    }
    let rows = parties
        .iter()
        .map(|p| {
            let serves = if p.serves().is_empty() {
                l("—", "—")
            } else {
                p.serves().join(", ")
            };
            vec![
                vec![text(name_of(p))],
                vec![code(p.id())],
                vec![text(p.kind())],
                vec![text(p.province())],
                vec![text(serves)],
            ]
        })
        .collect();
    doc.push(Block::Table {
        head: [
            "organisatie|organisation",
            "id|id",
            "soort|kind",
            "gebied|area",
            "werkt ook voor|serves",
        ]
        .iter()
        .map(|h| pick_pair(lang, h))
        .collect(),
        rows,
    });

    // Purposes.
    doc.push(Block::Heading(
        2,
        vec![text(l("Doelen en grondslagen", "Purposes and legal bases"))],
    ));
    for (purpose, bases) in a.purposes() {
        doc.push(Block::Heading(
            3,
            vec![
                text(words::purpose(schema, lang, purpose)),
                text(" ("),
                code(purpose.clone()),
                text(")"),
            ],
        ));
        doc.push(Block::List(
            bases
                .iter()
                .map(|b| {
                    vec![
                        text(words::legal_basis(schema, lang, b)),
                        text(" ("),
                        code(&**b),
                        text(")"),
                    ]
                })
                .collect(),
        ));
    }

    // Pseudonymisation domains.
    if !a.pseudonym_domains().is_empty() {
        doc.push(Block::Heading(
            2,
            vec![text(l(
                "Pseudonimiseringsdomeinen die deze organisatie ontvangt",
                "Pseudonymisation domains this organisation receives",
            ))],
        ));
        for d in a.pseudonym_domains() {
            let mut items = vec![vec![text(match lang {
                Lang::Nl => format!(
                    "Alleen {name} ontvangt codes van dit domein, en alleen van stromen voor het doel: {}.",
                    words::purpose(schema, lang, d.purpose())
                ),
                Lang::En => format!(
                    "Only {name} receives codes of this domain, and only from flows for the purpose: {}.",
                    words::purpose(schema, lang, d.purpose())
                ),
            })]];
            if let Some(note) = d.note() {
                items.push(vec![text(l("Toelichting: ", "Note: ")), text(note)]);
            }
            if let Some(reason) = d.linkage_reason() {
                let purposes: Vec<String> = d
                    .linked_purposes()
                    .iter()
                    .map(|p| words::purpose(schema, lang, p))
                    .collect();
                let bases: Vec<String> = d
                    .linkage_basis()
                    .iter()
                    .map(|b| words::legal_basis(schema, lang, b))
                    .collect();
                items.push(vec![text(match lang {
                    Lang::Nl => format!(
                        "Vastgelegde koppeling met: {}; grondslag: {}; reden: {reason}",
                        purposes.join("; "),
                        bases.join("; ")
                    ),
                    Lang::En => format!(
                        "Stated linkage with: {}; legal basis: {}; reason: {reason}",
                        purposes.join("; "),
                        bases.join("; ")
                    ),
                })]);
            } else {
                items.push(vec![text(l(
                    "Geen koppeling: deze codes komen alleen voor dit doel binnen, en geen veld dat erin gepseudonimiseerd wordt, komt bij deze organisatie onversleuteld binnen.",
                    "No linkage: these codes come in for this purpose only, and no field pseudonymised in it reaches this organisation in plain form.",
                ))]);
            }
            doc.push(Block::Heading(3, vec![code(d.id().as_str())]));
            doc.push(Block::List(items));
        }
    }

    // Rules.
    for (outbound, rules) in [(true, a.outbound()), (false, a.inbound())] {
        if rules.is_empty() {
            continue;
        }
        doc.push(Block::Heading(
            2,
            vec![text(if outbound {
                l(
                    "Wat deze organisatie verstrekt",
                    "What this organisation releases",
                )
            } else {
                l(
                    "Wat deze organisatie ontvangt (ten hoogste zo precies)",
                    "What this organisation receives (at most this precisely)",
                )
            })],
        ));
        doc.push(Block::Para(vec![text(l(
            "Een veld gaat over met de striktste van de behandeling van de verstrekker en die van de ontvanger. Een veld dat een regel niet noemt, gaat niet over.",
            "A field crosses with the stricter of the sender's and the recipient's treatment. A field a rule does not name does not cross.",
        ))]));
        for rule in rules {
            rule_blocks(registry, a, rule, outbound, lang, &mut doc);
        }
    }

    // The hash.
    doc.push(Block::Heading(
        2,
        vec![text(l(
            "Wat een handtekening dekt",
            "What a signature covers",
        ))],
    ));
    doc.push(Block::Para(vec![
        text(l("SHA-256 van het bestand ", "SHA-256 of the file ")),
        code(a.file()),
        text(": "),
        code(a.sha256_hex()),
    ]));
    doc.push(Block::Para(vec![text(l(
        "Dit is de hash van de exacte bytes van het bestand, zoals privacy-gate het inleest en zoals het auditlog de toegepaste versie noemt. Een handtekening onder deze overeenkomst geldt voor precies deze bytes; elke wijziging, ook van een toelichting of van witruimte, geeft een andere hash.",
        "This is the hash of the file's exact bytes, as privacy-gate reads them and as the audit log names the version it applied. A signature under this agreement covers exactly these bytes; any change, even to a note or to whitespace, gives another hash.",
    ))]));
    doc
}

fn pick_pair(lang: Lang, pair: &str) -> String {
    let (nl, en) = pair.split_once('|').unwrap_or((pair, pair));
    lang.pick(nl, en).to_owned()
}

fn selector_words(registry: &Registry, lang: Lang, selector: &Selector) -> Vec<Span> {
    match selector {
        Selector::Organisation(id) => {
            let name = registry
                .agreement(id)
                .map_or_else(|| id.to_string(), |a| name_of(a));
            vec![text(name), text(" ("), code(&**id), text(")")]
        }
        Selector::Kind {
            kind,
            province: Some(p),
        } => vec![text(match lang {
            Lang::Nl => {
                format!("elke organisatie van soort {kind} die in {p} gevestigd is of daar werkt")
            }
            Lang::En => format!("every organisation of kind {kind} located in or serving {p}"),
        })],
        Selector::Kind {
            kind,
            province: None,
        } => vec![text(match lang {
            Lang::Nl => format!("elke organisatie van soort {kind}"),
            Lang::En => format!("every organisation of kind {kind}"),
        })],
    }
}

fn rule_blocks(
    registry: &Registry,
    a: &Agreement,
    rule: &Rule,
    outbound: bool,
    lang: Lang,
    doc: &mut Document,
) {
    let schema = registry.schema();
    let l = |nl: &str, en: &str| lang.pick(nl, en).to_owned();
    let mut heading = vec![text(if outbound {
        l("Aan ", "To ")
    } else {
        l("Van ", "From ")
    })];
    heading.extend(selector_words(registry, lang, rule.selector()));
    heading.push(text(l(" — ", " — ")));
    heading.push(text(words::purpose(schema, lang, rule.purpose())));
    doc.push(Block::Heading(3, heading));
    let mut items: Vec<Vec<Span>> = vec![vec![text(l("Regel: ", "Rule: ")), code(rule.id())]];
    let bases: Vec<String> = rule
        .legal_basis()
        .iter()
        .map(|b| words::legal_basis(schema, lang, b))
        .collect();
    items.push(vec![
        text(l("Grondslag: ", "Legal basis: ")),
        text(bases.join("; ")),
    ]);
    items.push(vec![
        text(l("Regime: ", "Regime: ")),
        text(words::regime(lang, rule.regime().unwrap_or(a.regime()))),
    ]);
    if outbound {
        items.push(vec![
            text(l(
                "Bewaartermijn bij de ontvanger: ",
                "Retention by the recipient: ",
            )),
            text(words::retention(schema, lang, rule.retention())),
        ]);
    }
    match rule.condition() {
        Some(c) => items.push(vec![
            text(l(
                "Voorwaarde: alleen een dossier waarvoor geldt: ",
                "Condition: only a record for which holds: ",
            )),
            text(words::condition(lang, c)),
            text(l(
                ". Een dossier waarvoor dat niet vaststaat, gaat in zijn geheel niet over.",
                ". A record for which that is not established does not cross at all.",
            )),
        ]),
        None => items.push(vec![text(l(
            "Geen voorwaarde op het dossier.",
            "No condition on the record.",
        ))]),
    }
    if let Some(min) = rule.min_count() {
        items.push(vec![text(match lang {
            Lang::Nl => format!("Alleen als tellingen per cel, nooit als dossiers; een cel met minder dan {min} dossiers wordt weggelaten."),
            Lang::En => format!("Only as counts per cell, never as records; a cell of fewer than {min} records is suppressed."),
        })]);
    }
    if let Some(cov) = rule.covenant() {
        items.push(vec![text(l("Convenant: ", "Covenant: ")), text(cov)]);
    }
    if let Some(note) = rule.note() {
        items.push(vec![text(l("Toelichting: ", "Note: ")), text(note)]);
    }
    doc.push(Block::List(items));

    // Who can link a pseudonym: the recipient (the counterparty of an outbound rule,
    // this organisation for an inbound one).
    let recipient = if outbound {
        match rule.selector() {
            Selector::Organisation(id) => Some(
                registry
                    .agreement(id)
                    .map_or_else(|| id.to_string(), |r| name_of(r)),
            ),
            _ => None,
        }
    } else {
        Some(name_of(a))
    };
    let mut rows = Vec::new();
    let mut pseudonymised = false;
    for (id, field) in schema.fields().iter().enumerate() {
        let Some((action, _)) = rule.action_for(id, &field.category) else {
            continue;
        };
        pseudonymised |= matches!(action, crate::policy::action::Action::Pseudonymise(_));
        let mut how = vec![text(words::action(lang, action))];
        if let Some(c) = rule.field_condition(id) {
            how.push(text(match lang {
                Lang::Nl => format!(
                    "; alleen als {}, anders wordt dit veld weggelaten",
                    words::condition(lang, c)
                ),
                Lang::En => format!(
                    "; only if {}, otherwise this field is removed",
                    words::condition(lang, c)
                ),
            }));
        }
        rows.push(vec![
            vec![code(&*field.path)],
            vec![text(words::category(schema, lang, &field.category))],
            how,
        ]);
    }
    if rows.is_empty() {
        doc.push(Block::Para(vec![text(l(
            "Deze regel laat geen enkel veld over gaan.",
            "This rule lets no field cross.",
        ))]));
    } else {
        doc.push(Block::Table {
            head: ["veld|field", "categorie|category", "hoe|how"]
                .iter()
                .map(|h| pick_pair(lang, h))
                .collect(),
            rows,
        });
        doc.push(Block::Para(vec![strong(if outbound {
            l(
                "Alle andere velden: niet verstrekt.",
                "Every other field: withheld.",
            )
        } else {
            l(
                "Alle andere velden: niet aanvaard.",
                "Every other field: not accepted.",
            )
        })]));
        if pseudonymised {
            let who = recipient.unwrap_or_else(|| l("de ontvanger", "the recipient"));
            doc.push(Block::Para(vec![text(words::pseudonym_meaning(
                lang, &who,
            ))]));
        }
    }
}
