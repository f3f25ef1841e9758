//! Checking agreements against the schema and each other: every problem of a set
//! reported at once, with file, line, column and JSON pointer, and a "did you mean"
//! hint for misspelt names. What passes becomes the checked form.

use super::action::{Action, DomainId, Method};
use super::agreement::{
    Agreement, AgreementFile, Condition, DomainFile, PseudonymDomain, Rule, RuleFile, Selector,
    SelectorFile, DEFAULT_MIN_COUNT, MIN_COUNT_FLOOR,
};
use super::condition::ConditionFile;
use super::schema::{Grant, Release, Schema, ValueType};
use super::source::PolicySource;
use crate::support::diag::{Diagnostic, Diagnostics};
use crate::support::ident::is_name;
use crate::support::json::escape_pointer_segment as esc;
use crate::support::suggest::{closest, hint};
use crate::support::time::Period;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Checks every agreement file in `agreements` against `schema` and the others;
/// returns the agreements that passed, with their index by organisation id.
/// Problems go to `diags`.
pub(crate) fn check_agreements(
    schema: &Schema,
    agreements: &[PolicySource],
    diags: &mut Diagnostics,
) -> (Vec<Arc<Agreement>>, HashMap<Arc<str>, usize>) {
    let parsed: Vec<(&PolicySource, AgreementFile)> = agreements
        .iter()
        .filter_map(|src| {
            crate::support::diag::parse_file::<AgreementFile>(&src.file, &src.text, None, diags)
                .map(|a| (src, a))
        })
        .collect();
    // Names come from every file, even one that failed to parse, so that one
    // broken file does not make every reference to it an error too.
    let mut known = Known {
        ids: BTreeSet::new(),
        kinds: BTreeSet::new(),
        provinces: BTreeSet::new(),
        home_provinces: BTreeSet::new(),
        placed: BTreeSet::new(),
        misplaced: std::collections::BTreeMap::new(),
    };
    for src in agreements {
        let Ok(serde_json::Value::Object(doc)) = serde_json::from_str(&src.text) else {
            continue;
        };
        if let Some(id) = doc.get("organisation").and_then(|v| v.as_str()) {
            known.ids.insert(id.to_owned());
            match id_from_path(&src.file) {
                Some(at) if at != id => {
                    known
                        .misplaced
                        .insert(at, (id.to_owned(), src.file.clone()));
                }
                _ => {
                    known.placed.insert(id.to_owned());
                }
            }
            if let Some((province, _)) = id.split_once('/') {
                known.provinces.insert(province.to_owned());
                // An organisation that serves other provinces has an area (a region,
                // the country) that is no province of its own.
                let serves_others = doc
                    .get("serves")
                    .and_then(|v| v.as_array())
                    .is_some_and(|a| !a.is_empty());
                if !serves_others {
                    known.home_provinces.insert(province.to_owned());
                }
            }
        }
        if let Some(kind) = doc.get("kind").and_then(|v| v.as_str()) {
            known.kinds.insert(kind.to_owned());
        }
    }

    let mut checked: Vec<Arc<Agreement>> = Vec::new();
    let mut by_id: HashMap<Arc<str>, usize> = HashMap::new();
    for (src, file) in parsed {
        let mut ctx = Checker {
            schema,
            known: &known,
            src,
            agreement: file.organisation.clone(),
            diags,
        };
        if let Some(agreement) = ctx.agreement(file) {
            if let Some(&first) = by_id.get(&agreement.id) {
                let other = checked
                    .get(first)
                    .map(|a| a.file.clone())
                    .unwrap_or_default();
                diags.push(
                    Diagnostic::error(
                        &src.file,
                        format!(
                            "organisation `{}` already has an agreement in `{other}`",
                            agreement.id
                        ),
                    )
                    .at_pointer(&src.text, "/organisation")
                    .in_agreement(Some(&agreement.id)),
                );
                continue;
            }
            by_id.insert(agreement.id.clone(), checked.len());
            checked.push(Arc::new(agreement));
        }
    }

    (checked, by_id)
}

/// A category and the special basis it needs, if any.
#[derive(Clone, Copy)]
struct Needed<'a> {
    category: &'a str,
    requires: Option<Grant>,
}

struct Known {
    ids: BTreeSet<String>,
    kinds: BTreeSet<String>,
    /// Every area an organisation id starts with, provinces and others.
    provinces: BTreeSet<String>,
    /// The areas of organisations that serve no other province: the provinces
    /// `serves` may name.
    home_provinces: BTreeSet<String>,
    /// The ids declared in files whose place matches them: the names hints propose.
    placed: BTreeSet<String>,
    /// By the id a file's place gives (`<folder>/<name>`), the id it declares instead
    /// and the file: a misspelt declaration, which hints name rather than propose.
    misplaced: std::collections::BTreeMap<String, (String, String)>,
}

/// The organisation id a file's place gives it: `<folder>/<file name>`.
fn id_from_path(file: &str) -> Option<String> {
    let path = Path::new(file);
    let name = path.file_stem()?.to_str()?;
    let folder = path.parent()?.file_name()?.to_str()?;
    Some(format!("{folder}/{name}"))
}

struct Checker<'a> {
    schema: &'a Schema,
    known: &'a Known,
    src: &'a PolicySource,
    agreement: String,
    diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    fn error(&mut self, pointer: &str, message: String) {
        self.diags.push(
            Diagnostic::error(&self.src.file, message)
                .at_pointer(&self.src.text, pointer)
                .in_agreement(Some(&self.agreement)),
        );
    }

    fn warning(&mut self, pointer: &str, message: String) {
        self.diags.push(
            Diagnostic::warning(&self.src.file, message)
                .at_pointer(&self.src.text, pointer)
                .in_agreement(Some(&self.agreement)),
        );
    }

    fn period(&mut self, pointer: &str, text: Option<&str>) -> Option<Period> {
        let mut problems = Vec::new();
        let period = super::retention::period(pointer, text?, &mut |at, m| {
            problems.push((at.to_owned(), m));
        });
        for (at, message) in problems {
            self.error(&at, message);
        }
        period
    }

    /// The hint for a purpose used but not declared. When the schema knows it and the
    /// agreement declares a near miss the schema does not know, the declaration is the
    /// typo: name it, never propose it. Otherwise the closest declared purpose that
    /// the schema knows.
    fn undeclared_purpose_hint(
        &self,
        used: &str,
        declared: &std::collections::BTreeMap<String, Vec<Arc<str>>>,
    ) -> String {
        let (known, unknown): (Vec<&str>, Vec<&str>) = declared
            .keys()
            .map(String::as_str)
            .partition(|p| self.schema.purposes.contains_key(*p));
        if self.schema.purposes.contains_key(used) {
            if let Some(typo) = closest(used, &unknown) {
                return format!(
                    ": the agreement declares `{typo}` at `/purposes/{}`, a misspelling of it; rename that declaration to `{used}`",
                    esc(&typo)
                );
            }
        }
        hint(used, known)
    }

    /// Checks `serves`: known provinces, not the organisation's own area, each once.
    fn serves(&mut self, area: &str, serves: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, province) in serves.iter().enumerate() {
            let pointer = format!("/serves/{i}");
            if province == area {
                self.error(
                    &pointer,
                    format!("`serves` names the organisation's own area `{province}`; list only the other provinces it works in"),
                );
            } else if out.contains(province) {
                self.error(
                    &pointer,
                    format!("province `{province}` is listed twice in `serves`"),
                );
            } else if !self.known.home_provinces.contains(province) {
                self.error(
                    &pointer,
                    format!(
                        "unknown province `{province}` in `serves`{}",
                        hint(province, &self.known.home_provinces)
                    ),
                );
            } else {
                out.push(province.clone());
            }
        }
        out
    }

    fn agreement(&mut self, file: AgreementFile) -> Option<Agreement> {
        let errors_before = self.diags.error_count();
        let (province, name) = match file.organisation.split_once('/') {
            Some((p, n)) if is_name(p) && is_name(n) => (p.to_owned(), n.to_owned()),
            _ => {
                self.error(
                    "/organisation",
                    format!(
                        "invalid organisation id `{}`: expected `<province>/<name>` of lowercase letters, digits and `-`",
                        file.organisation
                    ),
                );
                (String::new(), String::new())
            }
        };
        let path = Path::new(&self.src.file);
        let file_name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let folder = path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if !province.is_empty() && (file_name != name || folder != province) {
            self.error(
                "/organisation",
                format!(
                    "the agreement of `{}` must be in `{province}/{name}.json`",
                    file.organisation
                ),
            );
        }
        if !is_name(&file.kind) {
            self.error(
                "/kind",
                format!(
                    "invalid kind `{}`: use lowercase letters, digits and `-`",
                    file.kind
                ),
            );
        }
        if file.valid.from > file.valid.until {
            self.error(
                "/valid",
                format!(
                    "validity starts ({}) after it ends ({})",
                    file.valid.from, file.valid.until
                ),
            );
        }
        let max_retention = self.period("/max_retention", file.max_retention.as_deref());
        let serves = self.serves(&province, &file.serves);

        let mut purposes = std::collections::BTreeMap::new();
        for (purpose, spec) in &file.purposes {
            let pointer = format!("/purposes/{}", esc(purpose));
            if !self.schema.purposes.contains_key(purpose) {
                self.error(
                    &pointer,
                    format!(
                        "unknown purpose `{purpose}`{}",
                        hint(purpose, self.schema.purposes.keys())
                    ),
                );
            }
            let mut bases = Vec::new();
            for (i, basis) in spec.legal_basis.iter().enumerate() {
                if self.schema.legal_bases.contains_key(basis) {
                    bases.push(Arc::<str>::from(basis.as_str()));
                } else {
                    self.error(
                        &format!("{pointer}/legal_basis/{i}"),
                        format!(
                            "unknown legal basis `{basis}`{}",
                            hint(basis, self.schema.legal_bases.keys())
                        ),
                    );
                }
            }
            if !spec
                .legal_basis
                .iter()
                .any(|b| self.schema.basis_grants(b, Grant::Lawfulness))
            {
                self.error(
                    &format!("{pointer}/legal_basis"),
                    format!("purpose `{purpose}` has no legal basis that grants lawfulness (AVG art. 6 or a sector law)"),
                );
            }
            purposes.insert(purpose.clone(), bases);
        }

        let pseudonym_domains =
            self.pseudonym_domains(&file.organisation, &file.pseudonym_domains, &purposes);

        let mut ids = BTreeSet::new();
        let mut outbound = Vec::new();
        let mut inbound = Vec::new();
        for (direction, rules) in [("outbound", file.outbound), ("inbound", file.inbound)] {
            for (i, rule) in rules.into_iter().enumerate() {
                let pointer = format!("/{direction}/{i}");
                if !ids.insert(rule.id.clone()) {
                    self.error(
                        &format!("{pointer}/id"),
                        format!("duplicate rule id `{}`", rule.id),
                    );
                }
                if let Some(rule) = self.rule(
                    &pointer,
                    direction == "outbound",
                    rule,
                    &purposes,
                    max_retention,
                ) {
                    if direction == "outbound" {
                        outbound.push(rule);
                    } else {
                        inbound.push(rule);
                    }
                }
            }
        }
        if self.diags.error_count() > errors_before {
            return None;
        }
        Some(Agreement {
            id: Arc::from(file.organisation.as_str()),
            province,
            serves,
            kind: file.kind,
            name: file.name,
            version: Arc::from(file.version.as_str()),
            status: file.status,
            valid_from: file.valid.from,
            valid_until: file.valid.until,
            regime: file.regime,
            max_retention,
            purposes,
            pseudonym_domains,
            outbound,
            inbound,
            sha256: Sha256::digest(self.src.text.as_bytes()).into(),
            file: self.src.file.clone(),
        })
    }

    /// Checks `pseudonym_domains`: valid ids, purposes of this agreement, and a stated
    /// linkage that names other purposes, bases of this agreement and a reason.
    fn pseudonym_domains(
        &mut self,
        organisation: &str,
        declared: &std::collections::BTreeMap<String, DomainFile>,
        purposes: &std::collections::BTreeMap<String, Vec<Arc<str>>>,
    ) -> Vec<PseudonymDomain> {
        let mut out = Vec::new();
        for (id, spec) in declared {
            let pointer = format!("/pseudonym_domains/{}", esc(id));
            let Some(domain) = DomainId::new(id) else {
                self.error(
                    &pointer,
                    format!("invalid pseudonymisation domain `{id}`: expected `<group>/<name>` of lowercase letters, digits and `-`"),
                );
                continue;
            };
            let mut ok = true;
            let known_purpose = |this: &mut Self, at: &str, purpose: &str| {
                if purposes.contains_key(purpose) {
                    return true;
                }
                let hint = this.undeclared_purpose_hint(purpose, purposes);
                this.error(
                    at,
                    format!("purpose `{purpose}` is not among this agreement's purposes{hint}"),
                );
                false
            };
            ok &= known_purpose(self, &format!("{pointer}/purpose"), &spec.purpose);
            let (mut linked, mut basis, mut reason) = (Vec::new(), Vec::new(), None);
            if let Some(linkage) = &spec.linkage {
                let at = format!("{pointer}/linkage");
                if linkage.purposes.is_empty() {
                    self.error(
                        &format!("{at}/purposes"),
                        "a linkage names at least one other purpose".into(),
                    );
                    ok = false;
                }
                for (i, purpose) in linkage.purposes.iter().enumerate() {
                    let at = format!("{at}/purposes/{i}");
                    if *purpose == spec.purpose || linked.contains(purpose) {
                        self.error(
                            &at,
                            format!("purpose `{purpose}` is the domain's own or named twice; a linkage lists the other purposes"),
                        );
                        ok = false;
                    } else if known_purpose(self, &at, purpose) {
                        linked.push(purpose.clone());
                    } else {
                        ok = false;
                    }
                }
                // The bases must be ones the agreement already rests these purposes on:
                // a linkage cannot bring in a basis the signatories did not agree to.
                let available: Vec<&Arc<str>> = std::iter::once(&spec.purpose)
                    .chain(&linkage.purposes)
                    .filter_map(|p| purposes.get(p))
                    .flatten()
                    .collect();
                if linkage.legal_basis.is_empty() {
                    self.error(
                        &format!("{at}/legal_basis"),
                        "a linkage needs its legal basis".into(),
                    );
                    ok = false;
                }
                for (i, b) in linkage.legal_basis.iter().enumerate() {
                    match available.iter().find(|a| &****a == b.as_str()) {
                        Some(a) => basis.push(Arc::clone(a)),
                        None => {
                            self.error(
                                &format!("{at}/legal_basis/{i}"),
                                format!(
                                    "legal basis `{b}` is not among the bases of the purposes this linkage joins{}",
                                    hint(b, available.iter().map(|a| &***a))
                                ),
                            );
                            ok = false;
                        }
                    }
                }
                if linkage.reason.trim().is_empty() {
                    self.error(
                        &format!("{at}/reason"),
                        "a linkage states why the organisation must link".into(),
                    );
                    ok = false;
                }
                reason = Some(linkage.reason.clone());
            }
            if ok {
                out.push(PseudonymDomain {
                    id: domain,
                    recipient: Arc::from(organisation),
                    purpose: spec.purpose.clone(),
                    linked_purposes: linked,
                    linkage_basis: basis,
                    linkage_reason: reason,
                    note: spec.note.clone(),
                    pointer,
                });
            }
        }
        out
    }

    fn rule(
        &mut self,
        pointer: &str,
        outbound: bool,
        rule: RuleFile,
        purposes: &std::collections::BTreeMap<String, Vec<Arc<str>>>,
        max_retention: Option<Period>,
    ) -> Option<Rule> {
        let errors_before = self.diags.error_count();
        if !is_name(&rule.id) {
            self.error(
                &format!("{pointer}/id"),
                format!(
                    "invalid rule id `{}`: use lowercase letters, digits and `-`",
                    rule.id
                ),
            );
        }
        let (wanted, unwanted) = if outbound {
            ("to", "from")
        } else {
            ("from", "to")
        };
        let (selector_file, stray) = if outbound {
            (rule.to, rule.from)
        } else {
            (rule.from, rule.to)
        };
        if stray.is_some() {
            self.error(
                &format!("{pointer}/{unwanted}"),
                format!(
                    "an {} rule names its counterparty with `{wanted}`, not `{unwanted}`",
                    if outbound { "outbound" } else { "inbound" }
                ),
            );
        }
        let selector = match selector_file {
            Some(s) => self.selector(&format!("{pointer}/{wanted}"), s),
            None => {
                self.error(pointer, format!("missing field `{wanted}`"));
                None
            }
        };
        if !purposes.contains_key(&rule.purpose) {
            let hint = self.undeclared_purpose_hint(&rule.purpose, purposes);
            self.error(
                &format!("{pointer}/purpose"),
                format!(
                    "purpose `{}` is not among this agreement's purposes{hint}",
                    rule.purpose
                ),
            );
        }
        let retention = match &rule.retention {
            Some(file) => {
                let mut problems = Vec::new();
                let at = format!("{pointer}/retention");
                let checked =
                    super::retention::check(self.schema, &at, file, max_retention, &mut |at, m| {
                        problems.push((at.to_owned(), m));
                    });
                for (at, message) in problems {
                    self.error(&at, message);
                }
                checked
            }
            None => {
                if outbound {
                    self.warning(
                        pointer,
                        format!("outbound rule `{}` sets no retention period", rule.id),
                    );
                }
                Vec::new()
            }
        };
        // With an unknown purpose the bases are unknown too: skip the basis checks
        // rather than report a cascade of missing bases.
        let bases =
            purposes
                .get(&rule.purpose)
                .cloned()
                .map(|purpose_bases| match &rule.legal_basis {
                    None => purpose_bases,
                    Some(narrowed) => {
                        let mut kept = Vec::new();
                        for (i, basis) in narrowed.iter().enumerate() {
                            match purpose_bases.iter().find(|b| ***b == **basis) {
                                Some(b) => kept.push(b.clone()),
                                None => self.error(
                                    &format!("{pointer}/legal_basis/{i}"),
                                    format!(
                                "legal basis `{basis}` is not among the bases of purpose `{}`{}",
                                rule.purpose,
                                hint(basis, purpose_bases.iter().map(|b| &**b))
                            ),
                                ),
                            }
                        }
                        if !kept
                            .iter()
                            .any(|b| self.schema.basis_grants(b, Grant::Lawfulness))
                        {
                            self.error(
                                &format!("{pointer}/legal_basis"),
                                format!(
                                    "rule `{}` names no legal basis that grants lawfulness",
                                    rule.id
                                ),
                            );
                        }
                        kept
                    }
                });

        let mut categories = std::collections::BTreeMap::new();
        for (category, action) in rule.categories {
            let at = format!("{pointer}/categories/{}", esc(&category));
            let Some(def) = self.schema.categories.get(&category) else {
                self.error(
                    &at,
                    format!(
                        "unknown category `{category}`{}",
                        hint(&category, self.schema.categories.keys())
                    ),
                );
                continue;
            };
            let requires = def.requires;
            let field_types: Vec<(String, ValueType)> = self
                .schema
                .fields_of(&category)
                .map(|(_, f)| (f.path.to_string(), f.value_type))
                .collect();
            for (path, value_type) in field_types {
                self.action_fits(&at, &action, &path, value_type);
            }
            if let Some(bases) = &bases {
                let needed = Needed {
                    category: &category,
                    requires,
                };
                self.basis_covers(&at, &action, needed, bases, &rule.purpose, purposes);
            }
            categories.insert(category, action);
        }
        let mut paths = std::collections::BTreeMap::new();
        let mut field_conditions = std::collections::BTreeMap::new();
        for (path, entry) in rule.paths {
            let action = entry.action;
            let at = format!("{pointer}/paths/{}", esc(&path));
            let Some(id) = self.schema.field(&path) else {
                let candidates = self.schema.fields().iter().map(|f| f.path.to_string());
                self.error(
                    &at,
                    format!("unknown field path `{path}`{}", hint(&path, candidates)),
                );
                continue;
            };
            let Some(field) = self.schema.field_by_id(id) else {
                continue;
            };
            let (category, value_type) = (field.category.to_string(), field.value_type);
            let requires = self
                .schema
                .categories
                .get(&category)
                .and_then(|c| c.requires);
            self.action_fits(&at, &action, &path, value_type);
            if let Some(bases) = &bases {
                let needed = Needed {
                    category: &category,
                    requires,
                };
                self.basis_covers(&at, &action, needed, bases, &rule.purpose, purposes);
            }
            if let Some(when) = entry.when {
                if action.releases() {
                    if let Some(c) = self.condition(&format!("{at}/when"), &when) {
                        field_conditions.insert(id, c);
                    }
                } else {
                    self.error(
                        &format!("{at}/when"),
                        format!("a condition on a `block` entry changes nothing: `{path}` never crosses; remove the `when`, or give the entry the action it should have when the condition holds"),
                    );
                }
            }
            paths.insert(id, action);
        }
        if categories.is_empty() && paths.is_empty() {
            self.warning(
                pointer,
                format!(
                    "rule `{}` names no category and no path, so it lets nothing cross",
                    rule.id
                ),
            );
        }
        let condition = rule
            .when
            .and_then(|w| self.condition(&format!("{pointer}/when"), &w));
        let min_count = self.aggregate_terms(pointer, &rule.id, &rule.purpose, rule.aggregate);
        if self.diags.error_count() > errors_before {
            return None;
        }
        Some(Rule {
            id: Arc::from(rule.id.as_str()),
            selector: selector?,
            purpose: rule.purpose,
            retention,
            regime: rule.regime,
            covenant: rule.covenant.map(Arc::from),
            note: rule.note.map(Arc::from),
            categories,
            paths,
            condition,
            field_conditions,
            legal_basis: bases.unwrap_or_default(),
            pointer: pointer.to_owned(),
            min_count,
        })
    }

    /// Checks a rule's aggregate terms: present when the schema releases its purpose
    /// as aggregates only, and no threshold below the floor. Gives the rule's
    /// threshold, `None` for a rule that lets records cross.
    fn aggregate_terms(
        &mut self,
        pointer: &str,
        id: &str,
        purpose: &str,
        terms: Option<super::agreement::AggregateFile>,
    ) -> Option<u32> {
        let Some(terms) = terms else {
            if self.schema.release(purpose) == Release::Aggregates {
                self.error(
                    pointer,
                    format!(
                        "rule `{id}` serves purpose `{purpose}`, which the schema releases as aggregates only: add `\"aggregate\": {{\"min_count\": {DEFAULT_MIN_COUNT}}}` (at least {MIN_COUNT_FLOOR})"
                    ),
                );
            }
            return None;
        };
        let min_count = terms
            .min_count
            .map_or(DEFAULT_MIN_COUNT, |n| u32::try_from(n).unwrap_or(u32::MAX));
        if min_count < MIN_COUNT_FLOOR {
            self.error(
                &format!("{pointer}/aggregate/min_count"),
                format!(
                    "`min_count` {min_count} is below the floor of {MIN_COUNT_FLOOR}: cells that small are too easily traced to a person; use at least {MIN_COUNT_FLOOR} ({DEFAULT_MIN_COUNT} is the default)"
                ),
            );
        }
        Some(min_count)
    }

    fn selector(&mut self, pointer: &str, s: SelectorFile) -> Option<Selector> {
        match (s.organisation, s.kind, s.province) {
            (Some(id), None, None) => {
                if self.known.ids.contains(&id) {
                    Some(Selector::Organisation(Arc::from(id.as_str())))
                } else {
                    let hint = match self.known.misplaced.get(&id) {
                        Some((declared, file)) => format!(
                            ": the agreement in `{file}` declares `{declared}`, which does not match its file; is that declaration misspelt?"
                        ),
                        None => hint(&id, &self.known.placed),
                    };
                    self.error(
                        &format!("{pointer}/organisation"),
                        format!("unknown organisation `{id}`{hint}"),
                    );
                    None
                }
            }
            (None, Some(kind), province) => {
                let mut ok = true;
                if !self.known.kinds.contains(&kind) {
                    self.error(
                        &format!("{pointer}/kind"),
                        format!(
                            "no organisation of kind `{kind}` has an agreement{}",
                            hint(&kind, &self.known.kinds)
                        ),
                    );
                    ok = false;
                }
                if let Some(p) = &province {
                    if !self.known.provinces.contains(p) {
                        self.error(
                            &format!("{pointer}/province"),
                            format!("unknown province `{p}`{}", hint(p, &self.known.provinces)),
                        );
                        ok = false;
                    }
                }
                ok.then_some(Selector::Kind { kind, province })
            }
            _ => {
                self.error(
                    pointer,
                    "a counterparty is `{\"organisation\": ID}` or `{\"kind\": KIND}` with an optional `\"province\"`".into(),
                );
                None
            }
        }
    }

    fn action_fits(&mut self, pointer: &str, action: &Action, path: &str, value_type: ValueType) {
        let Action::Generalise(method) = action else {
            return;
        };
        let fits = match method {
            Method::Year | Method::YearMonth | Method::AgeBand => value_type == ValueType::Date,
            Method::Postcode4 => value_type == ValueType::Postcode,
            Method::Placeholder => matches!(
                value_type,
                ValueType::String | ValueType::Text | ValueType::Name
            ),
        };
        if !fits {
            self.error(
                pointer,
                format!("generalisation `{method}` does not apply to field `{path}` of type `{value_type}`"),
            );
        }
    }

    /// A category that needs an art. 9 or art. 10 basis crosses only under a rule that
    /// rests on one. The error names the schema's bases that would grant it: those
    /// the purpose names but the rule's `legal_basis` leaves out, else all of them.
    fn basis_covers(
        &mut self,
        pointer: &str,
        action: &Action,
        needed: Needed<'_>,
        bases: &[Arc<str>],
        purpose: &str,
        purposes: &std::collections::BTreeMap<String, Vec<Arc<str>>>,
    ) {
        let Some(grant) = needed.requires else { return };
        if !action.releases() || bases.iter().any(|b| self.schema.basis_grants(b, grant)) {
            return;
        }
        let article = match grant {
            Grant::Art9 => "an AVG art. 9 exception",
            Grant::Art10 => "an AVG art. 10 basis (or Wpg/Wjsg)",
            Grant::Lawfulness => "a lawful basis",
        };
        let quote = |names: &[&str]| {
            let quoted: Vec<String> = names.iter().map(|b| format!("`{b}`")).collect();
            quoted.join(", ")
        };
        let in_purpose: Vec<&str> = purposes
            .get(purpose)
            .into_iter()
            .flatten()
            .filter(|b| self.schema.basis_grants(b, grant))
            .map(|b| &**b)
            .collect();
        let category = needed.category;
        let message = if in_purpose.is_empty() {
            let qualifying: Vec<&str> = self
                .schema
                .legal_bases
                .keys()
                .map(String::as_str)
                .filter(|b| self.schema.basis_grants(b, grant))
                .collect();
            let fix = if qualifying.is_empty() {
                "the schema has no legal basis that grants it".to_owned()
            } else {
                format!(
                    "bases that would qualify: {}; add the one that applies to `/purposes/{}/legal_basis`",
                    quote(&qualifying),
                    esc(purpose)
                )
            };
            format!("category `{category}` may cross only with {article}, and purpose `{purpose}` names none; {fix}")
        } else {
            format!(
                "category `{category}` may cross only with {article}, and this rule's `legal_basis` leaves out {}, which purpose `{purpose}` names: add the one that applies to the rule's `legal_basis`",
                quote(&in_purpose)
            )
        };
        self.error(pointer, message);
    }

    fn condition(&mut self, pointer: &str, when: &ConditionFile) -> Option<Condition> {
        let schema = self.schema;
        let mut problems: Vec<(String, String)> = Vec::new();
        let checked = super::condition::check(schema, &when.0, pointer, &mut |at, message| {
            problems.push((at.to_owned(), message));
        });
        let clean = problems.is_empty();
        for (at, message) in problems {
            self.error(&at, message);
        }
        checked.filter(|_| clean)
    }
}
