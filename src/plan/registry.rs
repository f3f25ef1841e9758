//! Loading, validating and compiling a policy set: the schema and every agreement.

use crate::plan::{compile, FlowPlan};
use crate::policy::action::{Action, Method};
use crate::policy::agreement::{
    Agreement, AgreementFile, Condition, Rule, RuleFile, Selector, SelectorFile,
};
use crate::policy::schema::{Grant, Schema, ValueType};
use crate::support::diag::{Diagnostic, Diagnostics};
use crate::support::ident::is_name;
use crate::support::json::escape_pointer_segment as esc;
use crate::support::suggest::hint;
use crate::support::time::Period;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One policy file's name and text.
#[derive(Clone, Debug)]
pub struct PolicySource {
    /// The file name, used in diagnostics and to check the organisation id
    /// (`.../<province>/<name>.json`).
    pub file: String,
    /// The file's text.
    pub text: String,
}

/// A policy set that could not be loaded: every problem found.
#[derive(Debug, thiserror::Error)]
#[error("{diagnostics}")]
pub struct LoadError {
    /// Errors (and warnings) with their places.
    pub diagnostics: Diagnostics,
}

pub(crate) type FlowKey = (usize, usize, usize);

/// A validated policy set with every flow compiled.
#[derive(Debug)]
pub struct Registry {
    schema: Arc<Schema>,
    agreements: Vec<Arc<Agreement>>,
    by_id: HashMap<Arc<str>, usize>,
    purposes: HashMap<String, usize>,
    flows: HashMap<FlowKey, Arc<FlowPlan>>,
    warnings: Diagnostics,
    policy_set: PolicySet,
}

/// The exact texts a registry was built from, and their identity: the SHA-256 of a
/// manifest naming the schema's and every agreement's SHA-256. Audit entries name a
/// policy set by this id, and replay rebuilds the registry from an archived copy.
#[derive(Clone, Debug)]
pub struct PolicySet {
    /// SHA-256 of [`PolicySet::manifest`].
    pub id: [u8; 32],
    /// `{"agreements": {ID: SHA, ...}, "schema": SHA}`, compact, keys sorted.
    pub manifest: Vec<u8>,
    /// The schema file.
    pub schema: PolicySource,
    /// Every agreement file, with its organisation id.
    pub agreements: Vec<(String, PolicySource)>,
}

impl PolicySet {
    /// Lowercase hex of the id.
    pub fn id_hex(&self) -> String {
        crate::support::hex::hex(&self.id)
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::support::hex::hex(&Sha256::digest(bytes))
}

impl Registry {
    /// Loads `dir/schema.json` and every `dir/<province>/<name>.json`.
    ///
    /// Sub-folders of a province folder (such as `tests/`) and files ending in
    /// `.schema.json` are not agreements and are skipped. Every other `.json` entry of
    /// a province folder is an agreement: one that cannot be read as a regular file
    /// (a dangling link, no permission, a folder, a FIFO or device, which are never
    /// opened) is an error, so that a set is never built from the rest. Names starting
    /// with `.` are skipped.
    ///
    /// # Errors
    ///
    /// Every problem in the set at once: unreadable or malformed files, unknown
    /// fields, duplicate ids, unknown organisations, purposes, categories, paths or
    /// legal bases, missing art. 9 / art. 10 bases, conflicting rules.
    pub fn load_dir(dir: &Path) -> Result<Registry, LoadError> {
        Registry::load_dir_with(dir, &crate::Limits::default())
    }

    /// As [`Registry::load_dir`], refusing policy files larger than
    /// `limits.max_policy_file_bytes`.
    ///
    /// # Errors
    ///
    /// As [`Registry::load_dir`].
    pub fn load_dir_with(dir: &Path, limits: &crate::Limits) -> Result<Registry, LoadError> {
        let mut diags = Diagnostics::default();
        let max_bytes = limits.max_policy_file_bytes;
        let read = |path: &Path, diags: &mut Diagnostics| -> Option<PolicySource> {
            let file = path.display().to_string();
            let result = regular_file(path).and_then(|()| read_bounded(path, max_bytes));
            match result {
                Ok(text) => Some(PolicySource { file, text }),
                Err(e) => {
                    diags.push(Diagnostic::error(
                        &file,
                        format!("cannot read policy file: {e}"),
                    ));
                    None
                }
            }
        };
        let schema = read(&dir.join("schema.json"), &mut diags);
        let mut agreements = Vec::new();
        match sorted_entries(dir) {
            Ok(entries) => {
                let mut provinces = Vec::new();
                for entry in entries {
                    // A folder (or a link to one) is a province; a link that leads
                    // nowhere might have been one, so it is an error, not skipped.
                    match std::fs::metadata(&entry) {
                        Ok(meta) if meta.is_dir() => provinces.push(entry),
                        Ok(_) => {}
                        Err(e) => diags.push(Diagnostic::error(
                            &entry.display().to_string(),
                            format!("cannot read policy folder entry: {e}"),
                        )),
                    }
                }
                for province in provinces {
                    match sorted_entries(&province) {
                        Ok(files) => {
                            for file in files {
                                let name = file
                                    .file_name()
                                    .map(|n| n.to_string_lossy())
                                    .unwrap_or_default();
                                if name.ends_with(".json") && !name.ends_with(".schema.json") {
                                    agreements.extend(read(&file, &mut diags));
                                }
                            }
                        }
                        Err(e) => diags.push(Diagnostic::error(
                            &province.display().to_string(),
                            format!("cannot read folder: {e}"),
                        )),
                    }
                }
            }
            Err(e) => diags.push(Diagnostic::error(
                &dir.display().to_string(),
                format!("cannot read policy folder: {e}"),
            )),
        }
        match schema {
            Some(schema) if diags.error_count() == 0 => {
                Registry::from_sources(&schema, &agreements)
            }
            _ => {
                diags.sort();
                Err(LoadError { diagnostics: diags })
            }
        }
    }

    /// Builds a registry from file texts (what [`Registry::load_dir`] does after reading).
    ///
    /// # Errors
    ///
    /// As [`Registry::load_dir`].
    pub fn from_sources(
        schema: &PolicySource,
        agreements: &[PolicySource],
    ) -> Result<Registry, LoadError> {
        let schema_source = schema;
        let mut diags = Diagnostics::default();
        let Some(schema) = Schema::parse(&schema.file, &schema.text, &mut diags) else {
            diags.sort();
            return Err(LoadError { diagnostics: diags });
        };
        let schema = Arc::new(schema);

        let parsed: Vec<(&PolicySource, AgreementFile)> = agreements
            .iter()
            .filter_map(|src| {
                crate::support::diag::parse_file::<AgreementFile>(
                    &src.file, &src.text, None, &mut diags,
                )
                .map(|a| (src, a))
            })
            .collect();
        // Names come from every file, even one that failed to parse, so that one
        // broken file does not make every reference to it an error too.
        let mut known = Known {
            ids: BTreeSet::new(),
            kinds: BTreeSet::new(),
            provinces: BTreeSet::new(),
        };
        for src in agreements {
            let Ok(serde_json::Value::Object(doc)) = serde_json::from_str(&src.text) else {
                continue;
            };
            if let Some(id) = doc.get("organisation").and_then(|v| v.as_str()) {
                known.ids.insert(id.to_owned());
                if let Some((province, _)) = id.split_once('/') {
                    known.provinces.insert(province.to_owned());
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
                schema: &schema,
                known: &known,
                src,
                agreement: file.organisation.clone(),
                diags: &mut diags,
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

        let purposes: HashMap<String, usize> = schema
            .purposes
            .keys()
            .enumerate()
            .map(|(i, p)| (p.clone(), i))
            .collect();
        let mut flows = HashMap::new();
        let mut conflicts = Vec::new();
        if diags.error_count() == 0 {
            for (si, sender) in checked.iter().enumerate() {
                for (ri, recipient) in checked.iter().enumerate() {
                    for (purpose, &pi) in &purposes {
                        if !sender.purposes.contains_key(purpose)
                            || !recipient.purposes.contains_key(purpose)
                        {
                            continue;
                        }
                        let outbound: Vec<&Rule> = sender
                            .outbound
                            .iter()
                            .filter(|r| r.purpose == *purpose && r.selector.matches(recipient))
                            .collect();
                        let inbound: Vec<&Rule> = recipient
                            .inbound
                            .iter()
                            .filter(|r| r.purpose == *purpose && r.selector.matches(sender))
                            .collect();
                        if outbound.is_empty() || inbound.is_empty() {
                            continue;
                        }
                        let plan = compile(
                            &schema,
                            sender,
                            recipient,
                            purpose,
                            &outbound,
                            &inbound,
                            &mut conflicts,
                        );
                        flows.insert((si, ri, pi), Arc::new(plan));
                    }
                }
            }
        }
        for conflict in conflicts {
            diags.push(conflict);
        }
        let sources: HashMap<&str, &str> = agreements
            .iter()
            .map(|s| (s.file.as_str(), s.text.as_str()))
            .collect();
        diags.locate_pointers(|file| sources.get(file).map(|t| (*t).to_owned()));
        diags.sort();
        if diags.error_count() > 0 {
            return Err(LoadError { diagnostics: diags });
        }
        let mut listed = std::collections::BTreeMap::new();
        let mut kept = Vec::new();
        for a in &checked {
            listed.insert(a.id.to_string(), a.sha256_hex());
            if let Some(src) = agreements.iter().find(|s| s.file == a.file) {
                kept.push((a.id.to_string(), src.clone()));
            }
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "agreements": listed,
            "schema": sha256_hex(schema_source.text.as_bytes()),
        }))
        .unwrap_or_default();
        let policy_set = PolicySet {
            id: Sha256::digest(&manifest).into(),
            manifest,
            schema: schema_source.clone(),
            agreements: kept,
        };
        Ok(Registry {
            schema,
            agreements: checked,
            by_id,
            purposes,
            flows,
            warnings: diags,
            policy_set,
        })
    }

    /// The texts this registry was built from, and their identity.
    pub fn policy_set(&self) -> &PolicySet {
        &self.policy_set
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Every agreement, in file order.
    pub fn agreements(&self) -> impl Iterator<Item = &Arc<Agreement>> {
        self.agreements.iter()
    }

    /// An agreement by organisation id.
    pub fn agreement(&self, id: &str) -> Option<&Arc<Agreement>> {
        self.by_id.get(id).and_then(|&i| self.agreements.get(i))
    }

    /// Warnings found while loading.
    pub fn warnings(&self) -> &Diagnostics {
        &self.warnings
    }

    /// Lints that depend on the whole set or on the day: rules that take part in no
    /// flow (an outbound rule no recipient's inbound rule matches, so its data would
    /// always be blocked, or the reverse), and agreements that expire within 90 days
    /// of `today` (Europe/Amsterdam).
    pub fn lints(&self, today: chrono::NaiveDate) -> Diagnostics {
        let mut lints = Diagnostics::default();
        let sources: HashMap<&str, &str> = self
            .policy_set
            .agreements
            .iter()
            .map(|(_, s)| (s.file.as_str(), s.text.as_str()))
            .collect();
        let mut used: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
        // A rule that takes part in flows but decides no field in any of them, and
        // sets no condition, changes nothing: other rules of its agreement already
        // decide every field it names. Keyed by (agreement, rule): the rules that
        // decide instead.
        let mut deciding: std::collections::HashSet<(&str, &str)> =
            std::collections::HashSet::new();
        let mut shadowed_by: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        for plan in self.flows.values() {
            used.extend(plan.sender_rules.iter().map(|r| (&*plan.sender.id, &**r)));
            used.extend(
                plan.recipient_rules
                    .iter()
                    .map(|r| (&*plan.recipient.id, &**r)),
            );
            for field in &plan.fields {
                for clause in [&field.sender, &field.recipient].into_iter().flatten() {
                    deciding.insert((&*clause.agreement, &*clause.rule));
                }
            }
            for (agreement, rule) in plan.rules() {
                let outbound =
                    std::ptr::eq(agreement, &*plan.sender) && plan.sender_rules.contains(&rule.id);
                let entry = shadowed_by.entry((&agreement.id, &rule.id)).or_default();
                for (id, (field, plan_field)) in
                    self.schema.fields().iter().zip(&plan.fields).enumerate()
                {
                    if rule.action_for(id, &field.category).is_none() {
                        continue;
                    }
                    let clause = if outbound {
                        &plan_field.sender
                    } else {
                        &plan_field.recipient
                    };
                    if let Some(clause) = clause.as_ref().filter(|c| c.rule != rule.id) {
                        entry.insert(&clause.rule);
                    }
                }
            }
        }
        for agreement in &self.agreements {
            let text = sources
                .get(agreement.file.as_str())
                .copied()
                .unwrap_or_default();
            let warn = |message: String, pointer: &str| {
                Diagnostic::warning(&agreement.file, message)
                    .at_pointer(text, pointer)
                    .in_agreement(Some(&agreement.id))
            };
            for (direction, rules) in [
                ("outbound", &agreement.outbound),
                ("inbound", &agreement.inbound),
            ] {
                for rule in rules
                    .iter()
                    .filter(|r| !used.contains(&(&*agreement.id, &*r.id)))
                {
                    let other = if direction == "outbound" {
                        "inbound rule of a recipient"
                    } else {
                        "outbound rule of a sender"
                    };
                    lints.push(warn(
                        format!("{direction} rule `{}` matches no {other} for purpose `{}`, so it never applies", rule.id, rule.purpose),
                        &rule.pointer,
                    ));
                }
            }
            for rule in agreement.outbound.iter().chain(&agreement.inbound) {
                // A `block` entry restates the default; one that releases but never
                // decides a field misleads the reader about what crosses.
                let releasing = rule.categories.iter().filter(|(_, a)| a.releases());
                for (category, _) in releasing {
                    let mut fields = self
                        .schema
                        .fields()
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| *f.category == **category)
                        .peekable();
                    let has_fields = fields.peek().is_some();
                    if has_fields && fields.all(|(id, _)| rule.paths.contains_key(&id)) {
                        lints.push(warn(
                            format!(
                                "category entry `{category}` of rule `{}` never decides a field: the rule names every field of the category by path, so it releases nothing",
                                rule.id
                            ),
                            &format!("{}/categories/{}", rule.pointer, crate::support::json::escape_pointer_segment(category)),
                        ));
                    }
                }
                let key = (&*agreement.id, &*rule.id);
                if rule.condition.is_some() || deciding.contains(&key) {
                    continue;
                }
                let Some(others) = shadowed_by.get(&key) else {
                    continue;
                };
                if others.is_empty() {
                    continue;
                }
                let names: Vec<String> = others.iter().map(|r| format!("`{r}`")).collect();
                let (noun, verb) = if names.len() == 1 {
                    ("rule", "decides")
                } else {
                    ("rules", "decide")
                };
                lints.push(warn(
                    format!(
                        "rule `{}` is shadowed: in every flow it applies to, {noun} {} already {verb} every field it names, so it changes no field's action",
                        rule.id,
                        names.join(", "),
                    ),
                    &rule.pointer,
                ));
            }
            let days_left = (agreement.valid_until - today).num_days();
            if (0..=90).contains(&days_left) && agreement.valid_from <= today {
                lints.push(warn(
                    format!(
                        "the agreement expires on {} ({days_left} days from {today})",
                        agreement.valid_until
                    ),
                    "/valid/until",
                ));
            }
        }
        lints.sort();
        lints
    }

    /// Every compiled flow plan.
    pub fn plans(&self) -> impl Iterator<Item = &Arc<FlowPlan>> {
        self.flows.values()
    }

    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn purpose_index(&self, purpose: &str) -> Option<usize> {
        self.purposes.get(purpose).copied()
    }

    /// The compiled plan for a sender, recipient and purpose, whether or not both
    /// agreements are in force at any given moment (the gate checks that).
    pub fn plan_for(&self, from: &str, to: &str, purpose: &str) -> Option<&Arc<FlowPlan>> {
        let key = (
            self.index_of(from)?,
            self.index_of(to)?,
            self.purpose_index(purpose)?,
        );
        self.flows.get(&key)
    }

    pub(crate) fn flows(&self) -> &HashMap<FlowKey, Arc<FlowPlan>> {
        &self.flows
    }

    /// The closest organisation id to a misspelt one.
    pub fn suggest_organisation(&self, id: &str) -> Option<String> {
        crate::support::suggest::closest(id, self.by_id.keys())
    }

    /// The closest purpose id to a misspelt one.
    pub fn suggest_purpose(&self, purpose: &str) -> Option<String> {
        crate::support::suggest::closest(purpose, self.purposes.keys())
    }
}

/// Reads a UTF-8 file of at most `max_bytes`, never reading more than one byte past
/// the limit (the file may grow while it is read).
pub(crate) fn read_bounded(path: &Path, max_bytes: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max_bytes.saturating_add(1))
        .read_to_string(&mut text)?;
    if text.len() as u64 > max_bytes {
        return Err(std::io::Error::other(format!(
            "file is larger than {max_bytes} bytes"
        )));
    }
    Ok(text)
}

/// `Ok` when `path` leads to a regular file. Anything else is refused without being
/// opened: opening a FIFO waits for a writer, and a device may never end.
fn regular_file(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        Ok(())
    } else if meta.is_dir() {
        Err(std::io::Error::other("it is a folder, not a file"))
    } else {
        Err(std::io::Error::other("it is not a regular file"))
    }
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden {
            entries.push(path);
        }
    }
    entries.sort();
    Ok(entries)
}

struct Known {
    ids: BTreeSet<String>,
    kinds: BTreeSet<String>,
    provinces: BTreeSet<String>,
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
        let text = text?;
        let period = Period::parse(text);
        if period.is_none() {
            self.error(
                pointer,
                format!("invalid period `{text}`: expected an ISO 8601 duration of years, months and days, like `P2Y` or `P1Y6M`"),
            );
        }
        period
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
            kind: file.kind,
            name: file.name,
            version: Arc::from(file.version.as_str()),
            status: file.status,
            valid_from: file.valid.from,
            valid_until: file.valid.until,
            regime: file.regime,
            max_retention,
            purposes,
            outbound,
            inbound,
            sha256: Sha256::digest(self.src.text.as_bytes()).into(),
            file: self.src.file.clone(),
        })
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
            let declared = purposes.keys().map(String::as_str);
            self.error(
                &format!("{pointer}/purpose"),
                format!(
                    "purpose `{}` is not among this agreement's purposes{}",
                    rule.purpose,
                    hint(&rule.purpose, declared)
                ),
            );
        }
        let retention = self.period(&format!("{pointer}/retention"), rule.retention.as_deref());
        if outbound && rule.retention.is_none() {
            self.warning(
                pointer,
                format!("outbound rule `{}` sets no retention period", rule.id),
            );
        }
        if let (Some(r), Some(max)) = (retention, max_retention) {
            if r.max_days() > max.max_days() {
                self.warning(
                    &format!("{pointer}/retention"),
                    format!("retention {r} is longer than the agreement's maximum {max}"),
                );
            }
        }
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
                self.basis_covers(&at, &action, &category, requires, bases, &rule.purpose);
            }
            categories.insert(category, action);
        }
        let mut paths = std::collections::BTreeMap::new();
        for (path, action) in rule.paths {
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
                self.basis_covers(&at, &action, &category, requires, bases, &rule.purpose);
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
            .and_then(|w| self.condition(&format!("{pointer}/when"), w.path, w.allowed));
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
            legal_basis: bases.unwrap_or_default(),
            pointer: pointer.to_owned(),
        })
    }

    fn selector(&mut self, pointer: &str, s: SelectorFile) -> Option<Selector> {
        match (s.organisation, s.kind, s.province) {
            (Some(id), None, None) => {
                if self.known.ids.contains(&id) {
                    Some(Selector::Organisation(Arc::from(id.as_str())))
                } else {
                    self.error(
                        &format!("{pointer}/organisation"),
                        format!("unknown organisation `{id}`{}", hint(&id, &self.known.ids)),
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

    fn basis_covers(
        &mut self,
        pointer: &str,
        action: &Action,
        category: &str,
        requires: Option<Grant>,
        bases: &[Arc<str>],
        purpose: &str,
    ) {
        let Some(grant) = requires else { return };
        if !action.releases() || bases.iter().any(|b| self.schema.basis_grants(b, grant)) {
            return;
        }
        let article = match grant {
            Grant::Art9 => "an AVG art. 9 exception",
            Grant::Art10 => "an AVG art. 10 basis (or Wpg/Wjsg)",
            Grant::Lawfulness => "a lawful basis",
        };
        self.error(
            pointer,
            format!("category `{category}` may cross only with {article}, and purpose `{purpose}` names none"),
        );
    }

    fn condition(
        &mut self,
        pointer: &str,
        path: String,
        allowed: Vec<String>,
    ) -> Option<Condition> {
        let Some(field) = self.schema.field(&path) else {
            let candidates = self.schema.fields().iter().map(|f| f.path.to_string());
            self.error(
                &format!("{pointer}/path"),
                format!("unknown field path `{path}`{}", hint(&path, candidates)),
            );
            return None;
        };
        let def = self.schema.field_by_id(field)?;
        if def.in_array
            || !matches!(
                def.value_type,
                ValueType::String | ValueType::Boolean | ValueType::Number
            )
        {
            self.error(
                &format!("{pointer}/path"),
                format!("a condition needs a string, boolean or number field outside arrays; `{path}` is not one"),
            );
            return None;
        }
        if allowed.is_empty() {
            self.error(
                &format!("{pointer}/in"),
                "a condition needs at least one allowed value".into(),
            );
            return None;
        }
        Some(Condition {
            field,
            segments: path.split('.').map(Box::from).collect(),
            path: def.path.clone(),
            allowed,
        })
    }
}
