//! The vocabulary of readable agreements in Dutch and English: legal bases, purposes,
//! data categories, events, regimes, actions, periods and conditions in words.
//!
//! The schema's titles (`policies/schema.json`) are English. Dutch titles live here, in
//! code, keyed by the schema's ids, rather than in the schema: the schema's form is
//! shared with every loader and tool, and a translation table is easy to review in one
//! place. An id this table does not know (a schema that grew) is shown with the
//! schema's English title, so nothing is left out.

use crate::policy::action::{Action, Method};
use crate::policy::agreement::{Regime, Retention};
use crate::policy::condition::{Comparison, Condition};
use crate::policy::schema::Schema;

/// The language of a readable agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Lang {
    /// Dutch: the language the shipped agreements are signed in.
    #[default]
    Nl,
    /// English.
    En,
}

impl Lang {
    /// `nl` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// The text in this language.
    pub(crate) fn pick<'a>(self, nl: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Nl => nl,
            Lang::En => en,
        }
    }
}

/// Dutch titles of the schema's legal bases.
const LEGAL_BASES_NL: &[(&str, &str)] = &[
    ("avg-6-1-c", "AVG art. 6 lid 1 onder c: wettelijke verplichting"),
    ("avg-6-1-e", "AVG art. 6 lid 1 onder e: taak van algemeen belang of uitoefening van openbaar gezag"),
    ("avg-9-2-a", "AVG art. 9 lid 2 onder a: uitdrukkelijke toestemming van de betrokkene"),
    ("avg-9-2-g", "AVG art. 9 lid 2 onder g: zwaarwegend algemeen belang, op grond van Unierecht of lidstatelijk recht"),
    ("avg-9-2-h", "AVG art. 9 lid 2 onder h: gezondheidszorg of sociale zorg, behandeling of beheer van zorgdiensten"),
    ("avg-9-2-j", "AVG art. 9 lid 2 onder j: archivering, wetenschappelijk onderzoek of statistiek met waarborgen"),
    ("uavg-22", "UAVG art. 22 lid 2: algemene uitzonderingen op het verbod van art. 9 AVG (waaronder uitdrukkelijke toestemming)"),
    ("uavg-23", "UAVG art. 23: uitzonderingen vanwege een zwaarwegend algemeen belang"),
    ("uavg-24", "UAVG art. 24: uitzondering voor wetenschappelijk onderzoek en statistiek"),
    ("uavg-30", "UAVG art. 30: uitzonderingen voor gezondheidsgegevens (zorgverleners, instellingen, sociale diensten)"),
    ("uavg-32", "UAVG art. 32: algemene uitzonderingen voor strafrechtelijke gegevens"),
    ("uavg-33", "UAVG art. 33: specifieke uitzonderingen voor strafrechtelijke gegevens (organen met een publieke taak, ten behoeve van derden)"),
    ("wpg-5", "Wpg art. 5: bijzondere categorieën politiegegevens, alleen als onvermijdelijk voor het doel"),
    ("wpg-8", "Wpg art. 8: verwerking voor de dagelijkse politietaak"),
    ("wpg-9", "Wpg art. 9: verwerking voor het onderzoek in een bepaald geval"),
    ("wpg-16", "Wpg art. 16: verstrekking van politiegegevens aan het OM en andere aangewezen instanties"),
    ("wpg-18", "Wpg art. 18: verstrekking aan bij besluit aangewezen personen en instanties"),
    ("wpg-20", "Wpg art. 20: verstrekking aan een samenwerkingsverband, met instemming van de minister"),
    ("bpg-4-3", "Bpg art. 4:3: aangewezen ontvangers van politiegegevens voor een zwaarwegend algemeen belang"),
    ("wjsg-39b", "Wjsg art. 39b: verwerking van strafvorderlijke gegevens door het OM"),
    ("wjsg-39f", "Wjsg art. 39f: verstrekking van strafvorderlijke gegevens aan derden voor een zwaarwegend algemeen belang"),
    ("wgs-2", "WGS: gezamenlijke verwerking binnen het samenwerkingsverband Zorg- en Veiligheidshuis (in werking per 1 maart 2025)"),
    ("jeugdwet-7-4", "Jeugdwet art. 7.4.0: verwerking door de gemeente voor jeugdhulp, inclusief gezondheidsgegevens"),
    ("wmo-5-1", "Wmo 2015 art. 5.1.1: verwerking door de gemeente voor maatschappelijke ondersteuning, inclusief gezondheidsgegevens"),
];

/// Dutch titles of the schema's purposes.
const PURPOSES_NL: &[(&str, &str)] = &[
    ("signal-assessment", "Weging van een signaal van mensenhandel in het casusoverleg van het Zorg- en Veiligheidshuis (signaal, triage, routeringsbesluit)"),
    ("criminal-investigation", "Opsporing en vervolging van mensenhandel (art. 273f Sr) door politie en OM"),
    ("care-coordination", "Coördinatie van opvang, zorg en ondersteuning voor een (vermoedelijk) slachtoffer"),
    ("statistics", "Regionale monitoring en statistiek van signalen van mensenhandel, zonder identificatie"),
];

/// Dutch titles of the schema's data categories.
const CATEGORIES_NL: &[(&str, &str)] = &[
    (
        "case",
        "Casusadministratie (kenmerken, data, status, routering, contactmomenten)",
    ),
    ("identifying.name", "Namen van personen"),
    ("identifying.bsn", "Burgerservicenummer (BSN)"),
    ("identifying.birth_date", "Geboortedatum"),
    ("identifying.sex", "Geslacht"),
    (
        "identifying.address",
        "Adres, postcode, woonplaats en opvanglocatie",
    ),
    (
        "sensitive.origin",
        "Nationaliteit en verblijfsstatus (behandeld als gegevens over afkomst, art. 9 AVG)",
    ),
    ("contact", "Telefoonnummer en e-mailadres"),
    ("health", "Gezondheid (art. 9 AVG)"),
    ("criminal", "Strafrechtelijke gegevens (art. 10 AVG)"),
    (
        "financial",
        "Financiën, zoals een Wmo-persoonsgebonden budget (pgb)",
    ),
    ("free_text", "Vrije tekst van professionals"),
];

/// Dutch titles of the schema's events.
const EVENTS_NL: &[(&str, &str)] = &[
    ("case-closed", "de casus is gesloten (de dag in case.closed_on)"),
    ("signal-unfounded", "het casusoverleg vond het signaal ongegrond: geen aanwijzing voor mensenhandel (de dag in case.signal_unfounded_on)"),
];

fn lookup(table: &[(&str, &'static str)], id: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == id).map(|(_, v)| *v)
}

/// A legal basis in words: `AVG art. 6 lid 1 onder e: ...`.
pub(crate) fn legal_basis(schema: &Schema, lang: Lang, id: &str) -> String {
    let english = schema.legal_bases.get(id).map(|b| b.title.as_str());
    title(lang, lookup(LEGAL_BASES_NL, id), english, id)
}

/// A purpose in words.
pub(crate) fn purpose(schema: &Schema, lang: Lang, id: &str) -> String {
    let english = schema.purposes.get(id).map(String::as_str);
    title(lang, lookup(PURPOSES_NL, id), english, id)
}

/// A data category in words.
pub(crate) fn category(schema: &Schema, lang: Lang, id: &str) -> String {
    let english = schema.categories.get(id).map(|c| c.title.as_str());
    title(lang, lookup(CATEGORIES_NL, id), english, id)
}

/// An event in words.
pub(crate) fn event(schema: &Schema, lang: Lang, id: &str) -> String {
    let english = schema.events.get(id).map(|e| e.title.as_str());
    title(lang, lookup(EVENTS_NL, id), english, id)
}

fn title(lang: Lang, dutch: Option<&str>, english: Option<&str>, id: &str) -> String {
    match (lang, dutch, english) {
        (Lang::Nl, Some(nl), _) => nl.to_owned(),
        (_, _, Some(en)) => en.to_owned(),
        _ => id.to_owned(),
    }
}

/// A regime in words.
pub(crate) fn regime(lang: Lang, regime: Regime) -> &'static str {
    match regime {
        Regime::Avg => lang.pick(
            "AVG (Algemene verordening gegevensbescherming) met de UAVG",
            "the GDPR (AVG) with the Dutch implementation act (UAVG)",
        ),
        Regime::Wgs => lang.pick(
            "WGS (Wet gegevensverwerking door samenwerkingsverbanden)",
            "the WGS (act on data processing by partnerships)",
        ),
        Regime::Wpg => lang.pick("Wpg (Wet politiegegevens)", "the Wpg (Police Data Act)"),
        Regime::Wjsg => lang.pick(
            "Wjsg (Wet justitiële en strafvorderlijke gegevens)",
            "the Wjsg (Judicial and Criminal-Procedure Data Act)",
        ),
    }
}

/// What an action does to a field, in words.
pub(crate) fn action(lang: Lang, action: &Action) -> String {
    match action {
        Action::Pass => lang.pick("ongewijzigd", "as is").to_owned(),
        Action::Generalise(method) => match method {
            Method::Year => lang.pick("alleen het jaar", "the year only").to_owned(),
            Method::YearMonth => lang
                .pick("alleen jaar en maand", "the year and month only")
                .to_owned(),
            Method::AgeBand => lang
                .pick(
                    "alleen de leeftijdsgroep op de dag van verstrekking (0-11, 12-15, 16-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+)",
                    "the age band on the day of the transfer only (0-11, 12-15, 16-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+)",
                )
                .to_owned(),
            Method::Postcode4 => lang
                .pick("alleen de vier cijfers van de postcode", "the four digits of the postcode only")
                .to_owned(),
            Method::Placeholder => lang
                .pick(
                    "vervangen door de vaste tekst [withheld]: dat er iets staat, niet wat",
                    "replaced by the fixed text [withheld]: that there is something, not what",
                )
                .to_owned(),
        },
        Action::Pseudonymise(domain) => match lang {
            Lang::Nl => format!("gepseudonimiseerd in domein {domain}"),
            Lang::En => format!("pseudonymised in domain {domain}"),
        },
        Action::Block => lang.pick("niet verstrekt", "withheld").to_owned(),
    }
}

/// A period in words: `P1Y6M` as `1 jaar en 6 maanden`.
pub(crate) fn period(lang: Lang, text: &str) -> String {
    let mut parts = Vec::new();
    let mut number = String::new();
    for c in text.trim_start_matches('P').chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let one = number == "1";
        let unit = match (c, lang, one) {
            ('Y', Lang::Nl, _) => "jaar",
            ('M', Lang::Nl, true) => "maand",
            ('M', Lang::Nl, false) => "maanden",
            ('D', Lang::Nl, true) => "dag",
            ('D', Lang::Nl, false) => "dagen",
            ('Y', _, true) => "year",
            ('Y', _, false) => "years",
            ('M', _, true) => "month",
            ('M', _, false) => "months",
            ('D', _, true) => "day",
            ('D', _, false) => "days",
            _ => "?",
        };
        parts.push(format!("{number} {unit}"));
        number.clear();
    }
    if parts.is_empty() {
        return text.to_owned();
    }
    let and = lang.pick(" en ", " and ");
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}{and}{last}", rest.join(", ")),
        _ => parts.concat(),
    }
}

/// A retention (one entry per start) in words.
pub(crate) fn retention(schema: &Schema, lang: Lang, retention: &[Retention]) -> String {
    if retention.is_empty() {
        return lang
            .pick("geen bewaartermijn vastgelegd", "no retention period set")
            .to_owned();
    }
    let parts: Vec<String> = retention
        .iter()
        .map(|r| {
            let p = period(lang, &r.period().to_string());
            match r.after() {
                None => match lang {
                    Lang::Nl => format!("{p} na de dag van verstrekking"),
                    Lang::En => format!("{p} after the day of the transfer"),
                },
                Some(e) => {
                    let e = event(schema, lang, e.id());
                    match lang {
                        Lang::Nl => format!("{p} na: {e}"),
                        Lang::En => format!("{p} after: {e}"),
                    }
                }
            }
        })
        .collect();
    if parts.len() == 1 {
        return parts.concat();
    }
    match lang {
        Lang::Nl => format!(
            "tot de vroegste van deze termijnen verstreken is: {}",
            parts.join("; ")
        ),
        Lang::En => format!("until the earliest of these ends: {}", parts.join("; ")),
    }
}

/// A condition in words. Paths and values stay as written (they are the schema's
/// words), connected by words of the language.
pub(crate) fn condition(lang: Lang, condition: &Condition) -> String {
    fn go(lang: Lang, c: &Condition, nested: bool, out: &mut String) {
        match c {
            Condition::All(parts) | Condition::Any(parts) => {
                let joiner = match (matches!(c, Condition::All(_)), lang) {
                    (true, Lang::Nl) => " en ",
                    (true, _) => " and ",
                    (false, Lang::Nl) => " of ",
                    (false, _) => " or ",
                };
                if nested {
                    out.push('(');
                }
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joiner);
                    }
                    go(lang, part, true, out);
                }
                if nested {
                    out.push(')');
                }
            }
            Condition::Not(part) => {
                out.push_str(lang.pick("niet (", "not ("));
                go(lang, part, false, out);
                out.push(')');
            }
            Condition::Test(test) => {
                let path = test.path();
                let text = match (test.comparison(), lang) {
                    (Comparison::In(v), Lang::Nl) if v.len() == 1 => {
                        format!("{path} is {}", v.concat())
                    }
                    (Comparison::In(v), Lang::Nl) => format!("{path} is een van {}", v.join(", ")),
                    (Comparison::In(v), _) if v.len() == 1 => format!("{path} is {}", v.concat()),
                    (Comparison::In(v), _) => format!("{path} is one of {}", v.join(", ")),
                    (Comparison::Is(b), Lang::Nl) => {
                        format!("{path} is {}", if *b { "waar" } else { "onwaar" })
                    }
                    (Comparison::Is(b), _) => format!("{path} is {b}"),
                    (Comparison::Before(d), Lang::Nl) => format!("{path} ligt vóór {d}"),
                    (Comparison::Before(d), _) => format!("{path} is before {d}"),
                    (Comparison::After(d), Lang::Nl) => format!("{path} ligt na {d}"),
                    (Comparison::After(d), _) => format!("{path} is after {d}"),
                    (Comparison::OnOrBefore(d), Lang::Nl) => {
                        format!("{path} ligt op of vóór {d}")
                    }
                    (Comparison::OnOrBefore(d), _) => format!("{path} is on or before {d}"),
                    (Comparison::OnOrAfter(d), Lang::Nl) => format!("{path} ligt op of na {d}"),
                    (Comparison::OnOrAfter(d), _) => format!("{path} is on or after {d}"),
                    (Comparison::Within(p), Lang::Nl) => format!(
                        "{path} ligt binnen {} vóór de dag van verstrekking",
                        period(lang, &p.to_string())
                    ),
                    (Comparison::Within(p), _) => format!(
                        "{path} lies within {} before the day of the transfer",
                        period(lang, &p.to_string())
                    ),
                };
                out.push_str(&text);
            }
        }
    }
    let mut out = String::new();
    go(lang, condition, false, &mut out);
    out
}

/// What pseudonymisation in a domain means, once per rule that uses it; `who` names
/// the recipient that alone can link the domain's codes.
pub(crate) fn pseudonym_meaning(lang: Lang, who: &str) -> String {
    match lang {
        Lang::Nl => format!(
            "Gepseudonimiseerd: de waarde wordt vervangen door een code (HMAC-SHA256 met de geheime sleutel van het domein) waaruit de waarde niet terug te rekenen is. Alleen {who} ontvangt codes van dat domein; daarmee herkent de ontvanger dezelfde persoon in verschillende verstrekkingen, maar niet wie het is, en codes van verschillende domeinen zijn niet te koppelen."
        ),
        Lang::En => format!(
            "Pseudonymised: the value is replaced by a code (HMAC-SHA256 under the domain's secret key) from which the value cannot be computed back. Only {who} receives codes of that domain; with them the recipient recognises the same person across transfers, but not who it is, and codes of different domains cannot be linked."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_in_words() {
        assert_eq!(period(Lang::Nl, "P1Y6M"), "1 jaar en 6 maanden");
        assert_eq!(period(Lang::En, "P2Y"), "2 years");
        assert_eq!(period(Lang::En, "P1Y1M10D"), "1 year, 1 month and 10 days");
        assert_eq!(period(Lang::Nl, "P90D"), "90 dagen");
    }

    #[test]
    fn the_dutch_tables_cover_the_shipped_schema() {
        let registry =
            crate::Registry::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies").as_ref())
                .unwrap();
        let s = registry.schema();
        for id in s.legal_bases.keys() {
            assert!(lookup(LEGAL_BASES_NL, id).is_some(), "legal basis {id}");
        }
        for id in s.purposes.keys() {
            assert!(lookup(PURPOSES_NL, id).is_some(), "purpose {id}");
        }
        for id in s.categories.keys() {
            assert!(lookup(CATEGORIES_NL, id).is_some(), "category {id}");
        }
        for id in s.events.keys() {
            assert!(lookup(EVENTS_NL, id).is_some(), "event {id}");
        }
    }
}
