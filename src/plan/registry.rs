//! Loading, validating and compiling a policy set: the schema and every agreement.

use crate::plan::{compile, FlowPlan};
use crate::policy::agreement::{Agreement, Rule};
use crate::policy::schema::Schema;
pub use crate::policy::source::PolicySource;
use crate::support::diag::Diagnostics;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::policy::source::read_policy_dir;
use crate::policy::validate::check_agreements;

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
    pub(super) schema: Arc<Schema>,
    pub(super) agreements: Vec<Arc<Agreement>>,
    pub(super) by_id: HashMap<Arc<str>, usize>,
    pub(super) purposes: HashMap<String, usize>,
    pub(super) flows: HashMap<FlowKey, Arc<FlowPlan>>,
    pub(super) warnings: Diagnostics,
    pub(super) policy_set: PolicySet,
}

/// The exact texts a registry was built from, and their identity: the SHA-256 of a
/// manifest naming the schema's and every agreement's SHA-256. Audit entries name a
/// policy set by this id, and replay rebuilds the registry from an archived copy.
#[derive(Clone, Debug)]
pub struct PolicySet {
    /// SHA-256 of [`PolicySet::manifest`].
    pub(crate) id: [u8; 32],
    /// `{"agreements": {ID: SHA, ...}, "schema": SHA}`, compact, keys sorted.
    pub(crate) manifest: Vec<u8>,
    /// The schema file.
    pub(crate) schema: PolicySource,
    /// Every agreement file, with its organisation id.
    pub(crate) agreements: Vec<(String, PolicySource)>,
}

impl PolicySet {
    /// SHA-256 of [`PolicySet::manifest`].
    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }

    /// `{"agreements": {ID: SHA, ...}, "schema": SHA}`, compact, keys sorted.
    pub fn manifest(&self) -> &[u8] {
        &self.manifest
    }

    /// The schema file.
    pub fn schema(&self) -> &PolicySource {
        &self.schema
    }

    /// Every agreement file, with its organisation id.
    pub fn agreements(&self) -> &[(String, PolicySource)] {
        &self.agreements
    }
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
    /// legal bases, missing art. 9 / art. 10 bases, conflicting rules, retention
    /// periods over the sender's or the recipient's `max_retention`.
    ///
    /// # Examples
    ///
    /// ```
    /// use privacy_gate::Registry;
    ///
    /// let registry = Registry::load_dir("policies".as_ref())?;
    /// // Every flow is compiled once, at load time.
    /// let plan = registry
    ///     .plan_for("drenthe/zvh", "drenthe/ggd", "statistics")
    ///     .expect("the shipped agreements make this flow");
    /// let opened_on = registry.schema().field("case.opened_on").unwrap();
    /// assert_eq!(plan.fields()[opened_on].action().to_string(), "generalise(year)");
    /// // Statistics cross as counts per cell only, cells under 10 suppressed.
    /// assert_eq!(plan.aggregate().map(|terms| terms.min_count()), Some(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        let (schema, agreements) = read_policy_dir(dir, limits.max_policy_file_bytes, &mut diags);
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

        let (checked, by_id) = check_agreements(&schema, agreements, &mut diags);

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
        if !flows.is_empty() {
            super::linkage::check_linkage(&schema, &checked, &flows, &mut conflicts);
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

    /// The provinces of the set, in name order: the area of every organisation that
    /// serves no other province, and every province some organisation serves. The area
    /// of a regional or national organisation (`noord-nederland`, `nl`) is not one.
    pub fn provinces(&self) -> std::collections::BTreeSet<&str> {
        let mut out = std::collections::BTreeSet::new();
        for a in &self.agreements {
            if a.serves.is_empty() {
                out.insert(a.province.as_str());
            }
            out.extend(a.serves.iter().map(String::as_str));
        }
        out
    }

    /// An agreement by organisation id.
    pub fn agreement(&self, id: &str) -> Option<&Arc<Agreement>> {
        self.by_id.get(id).and_then(|&i| self.agreements.get(i))
    }

    /// Warnings found while loading.
    pub fn warnings(&self) -> &Diagnostics {
        &self.warnings
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

    /// The closest province, or area of a regional or national organisation
    /// (`noord-nederland`, `nl`), to a misspelt one.
    pub fn suggest_area(&self, name: &str) -> Option<String> {
        let mut known = self.provinces();
        known.extend(self.agreements.iter().map(|a| a.province.as_str()));
        crate::support::suggest::closest(name, known)
    }

    /// The closest purpose id to a misspelt one.
    pub fn suggest_purpose(&self, purpose: &str) -> Option<String> {
        crate::support::suggest::closest(purpose, self.purposes.keys())
    }
}
