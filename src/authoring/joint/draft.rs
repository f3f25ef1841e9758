//! The drafting algorithm (see the module docs of `authoring::joint`).

use crate::authoring::joint::types::{
    DraftFile, JointDraft, JointError, JointField, JointFlow, LeftOut, ProvinceReport, Stricter,
    TermChange, RECIPIENT_DOMAIN,
};
use crate::compare::{compare_flow, Availability, Comparison, FlowKind};
use crate::plan::registry::Registry;
use crate::plan::{FlowPlan, PlannedCondition};
use crate::policy::action::{Action, DomainId};
use crate::policy::agreement::{Agreement, Regime, Retention};
use crate::policy::condition::Condition;
use crate::policy::schema::Grant;
use crate::support::time::amsterdam_date;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Drafts the joint agreements of `region` (an area whose organisations serve
/// provinces, like `noord-nederland`) from `registry`, at moment `at`.
///
/// # Errors
///
/// [`JointError::UnknownRegion`]; [`JointError::DoesNotLoad`] if the drafted
/// agreements would not load (they are checked before they are returned).
pub fn draft(
    registry: &Registry,
    region: &str,
    at: DateTime<Utc>,
) -> Result<JointDraft, JointError> {
    let provinces: BTreeSet<String> = registry
        .agreements()
        .filter(|a| a.province() == region)
        .flat_map(|a| a.serves().iter().cloned())
        .collect();
    if provinces.is_empty() {
        let known: BTreeSet<String> = registry
            .agreements()
            .filter(|a| !a.serves().is_empty())
            .map(|a| a.province().to_owned())
            .collect();
        return Err(JointError::UnknownRegion {
            region: region.to_owned(),
            known: known.into_iter().collect(),
        });
    }
    let provinces: Vec<String> = provinces.into_iter().collect();
    let names: Vec<&str> = provinces.iter().map(String::as_str).collect();
    let day = amsterdam_date(at);
    let members: Vec<&Arc<Agreement>> = registry
        .agreements()
        .filter(|a| provinces.iter().any(|p| a.works_in(p)))
        .collect();

    // Every flow kind some province has within itself.
    let kinds: BTreeSet<FlowKind> = registry
        .plans()
        .filter(|p| {
            provinces
                .iter()
                .any(|q| p.sender.works_in(q) && p.recipient.works_in(q))
        })
        .map(|p| FlowKind::new(&p.sender.kind, &p.recipient.kind, &p.purpose))
        .collect();

    let mut drafter = Drafter {
        registry,
        rules: BTreeMap::new(),
        domains: BTreeMap::new(),
    };
    let mut flows = Vec::new();
    let mut left_out = Vec::new();
    let mut reports: BTreeMap<String, ProvinceReport> = provinces
        .iter()
        .map(|p| {
            (
                p.clone(),
                ProvinceReport {
                    province: p.clone(),
                    stricter: Vec::new(),
                    flows_lost: Vec::new(),
                    terms: Vec::new(),
                    gains: Vec::new(),
                },
            )
        })
        .collect();
    for kind in &kinds {
        // Names come from the registry's own plans, so compare cannot refuse them.
        let Ok(c) = compare_flow(registry, kind, &names, at) else {
            continue;
        };
        match drafter.joint_flow(&c) {
            Ok((flow, per_province)) => {
                for (province, mut stricter, terms) in per_province {
                    if let Some(r) = reports.get_mut(&province) {
                        r.stricter.append(&mut stricter);
                        r.terms.extend(terms);
                    }
                }
                for column in &c.provinces {
                    if matches!(column.availability, Availability::Refused { .. }) {
                        if let Some(r) = reports.get_mut(&column.province) {
                            r.gains.push(TermChange {
                                flow: kind.clone(),
                                change: format!(
                                    "{}; under the draft in force once signed",
                                    column.availability
                                ),
                            });
                        }
                    }
                }
                flows.push(flow);
            }
            Err(out) => {
                for column in c.provinces.iter().filter(|p| p.terms.is_some()) {
                    if let Some(r) = reports.get_mut(&column.province) {
                        let pairs = pairs_of(&c, |p| p.province == column.province);
                        r.flows_lost.push(LeftOut {
                            pairs,
                            ..out.clone()
                        });
                    }
                }
                left_out.push(out);
            }
        }
    }
    // Flows between organisations that share no province of the region.
    for plan in registry.plans() {
        let within = provinces
            .iter()
            .any(|q| plan.sender.works_in(q) && plan.recipient.works_in(q));
        let touches: Vec<&String> = provinces
            .iter()
            .filter(|q| plan.sender.works_in(q) || plan.recipient.works_in(q))
            .collect();
        if within || touches.is_empty() {
            continue;
        }
        let out = LeftOut {
            flow: FlowKind::new(&plan.sender.kind, &plan.recipient.kind, &plan.purpose),
            pairs: vec![(plan.sender.id.clone(), plan.recipient.id.clone())],
            reason: "it crosses provinces: the common ground is drawn per province, and no other province has such a flow".into(),
        };
        for q in touches {
            if let Some(r) = reports.get_mut(q) {
                r.flows_lost.push(out.clone());
            }
        }
        left_out.push(out);
    }

    let files = members
        .iter()
        .map(|a| drafter.file(a, day))
        .collect::<Vec<_>>();
    let out = JointDraft {
        region: region.to_owned(),
        provinces,
        at,
        flows,
        left_out,
        reports: reports.into_values().collect(),
        files,
        schema: registry.policy_set().schema().clone(),
    };
    // Fail closed: a draft that does not load is never handed out.
    out.registry(false)?;
    Ok(out)
}

/// The pairs (sender, recipient) of the columns `keep` selects that have a plan.
fn pairs_of(
    c: &Comparison,
    keep: impl Fn(&crate::compare::ProvinceFlow) -> bool,
) -> Vec<(Arc<str>, Arc<str>)> {
    let mut out: Vec<(Arc<str>, Arc<str>)> = Vec::new();
    for column in c.provinces.iter().filter(|p| keep(p) && p.terms.is_some()) {
        if let (Some(s), Some(r)) = (&column.sender, &column.recipient) {
            let pair = (s.id.clone(), r.id.clone());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// A drafted rule, by organisation and direction.
struct DraftRule {
    json: Value,
    purpose: String,
    bases: Vec<Arc<str>>,
}

struct Drafter<'a> {
    registry: &'a Registry,
    /// (organisation, outbound?) -> rules.
    rules: BTreeMap<(Arc<str>, bool), Vec<DraftRule>>,
    /// recipient -> domain -> declaration (purpose, the original declaration if any).
    domains: BTreeMap<Arc<str>, BTreeMap<DomainId, String>>,
}

type PerProvince = (String, Vec<Stricter>, Vec<TermChange>);

/// Intersection of the base lists, in the first list's order.
fn shared(lists: &[&Vec<Arc<str>>]) -> Vec<Arc<str>> {
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|b| rest.iter().all(|l| l.contains(b)))
        .cloned()
        .collect()
}

fn same_treatment(action: &Action) -> Action {
    match action {
        Action::Pseudonymise(_) => Action::Pseudonymise(DomainId(Arc::from(RECIPIENT_DOMAIN))),
        other => other.clone(),
    }
}

fn retention_json(retention: &[Retention]) -> Option<Value> {
    let one = |r: &Retention| match r.after() {
        None => json!(r.period().to_string()),
        Some(e) => json!({"period": r.period().to_string(), "after": e.id()}),
    };
    match retention {
        [] => None,
        [r] => Some(one(r)),
        many => Some(Value::Array(many.iter().map(one).collect())),
    }
}

fn all_of(conditions: &[&Condition]) -> Option<Value> {
    match conditions {
        [] => None,
        [one] => Some(one.to_json()),
        many => Some(json!({"all": many.iter().map(|c| c.to_json()).collect::<Vec<_>>()})),
    }
}

/// Conditions, each once (by how they read and which side set them): `true` for the
/// sender's side, as each province's own plan says.
fn distinct<'c>(
    conditions: impl Iterator<Item = (bool, &'c PlannedCondition)>,
) -> Vec<(bool, &'c PlannedCondition)> {
    let mut out: Vec<(bool, &PlannedCondition)> = Vec::new();
    for (side, c) in conditions {
        if !out
            .iter()
            .any(|(s, o)| *s == side && o.condition == c.condition)
        {
            out.push((side, c));
        }
    }
    out
}

/// A plan's rule conditions, tagged with their side.
fn rule_conditions_of(plan: &FlowPlan) -> impl Iterator<Item = (bool, &PlannedCondition)> {
    plan.conditions
        .iter()
        .map(move |c| (c.agreement == plan.sender.id, c))
}

/// A plan's conditions on field `id`, tagged with their side.
fn field_conditions_of(
    plan: &FlowPlan,
    id: usize,
) -> impl Iterator<Item = (bool, &PlannedCondition)> {
    plan.fields
        .get(id)
        .into_iter()
        .flat_map(|f| &f.conditions)
        .map(move |c| (c.agreement == plan.sender.id, c))
}

impl Drafter<'_> {
    /// The joint terms of one compared flow, the drafted rules of its pairs, and per
    /// province what becomes stricter; or why it is left out.
    fn joint_flow(&mut self, c: &Comparison) -> Result<(JointFlow, Vec<PerProvince>), LeftOut> {
        let registry = self.registry;
        let schema = registry.schema();
        let purpose = c.flow.purpose.as_str();
        let left_out = |reason: String| LeftOut {
            flow: c.flow.clone(),
            pairs: pairs_of(c, |_| true),
            reason,
        };
        if let Some(column) = c.provinces.iter().find(|p| p.terms.is_none()) {
            return Err(left_out(format!(
                "{}: {}",
                column.label, column.availability
            )));
        }
        // The plan of every column, as written.
        let mut plans: Vec<(&str, &Arc<FlowPlan>)> = Vec::new();
        for column in &c.provinces {
            let plan = column
                .sender
                .as_ref()
                .zip(column.recipient.as_ref())
                .and_then(|(s, r)| registry.plan_for(&s.id, &r.id, purpose));
            match plan {
                Some(p) => plans.push((column.province.as_str(), p)),
                None => return Err(left_out(format!("{}: no compiled flow", column.label))),
            }
        }
        let terms: Vec<&crate::compare::FlowTerms> = c
            .provinces
            .iter()
            .filter_map(|p| p.terms.as_ref())
            .collect();
        let sender_bases = shared(
            &terms
                .iter()
                .map(|t| &t.sender_legal_basis)
                .collect::<Vec<_>>(),
        );
        let recipient_bases = shared(
            &terms
                .iter()
                .map(|t| &t.recipient_legal_basis)
                .collect::<Vec<_>>(),
        );
        let lawful = |bases: &[Arc<str>]| {
            bases
                .iter()
                .any(|b| schema.basis_grants(b, Grant::Lawfulness))
        };
        for (side, bases, pick) in [
            ("sender", &sender_bases, 0),
            ("recipient", &recipient_bases, 1),
        ] {
            let per: Vec<String> = c
                .provinces
                .iter()
                .filter_map(|p| {
                    p.terms.as_ref().map(|t| {
                        let b = if pick == 0 {
                            &t.sender_legal_basis
                        } else {
                            &t.recipient_legal_basis
                        };
                        let b: Vec<&str> = b.iter().map(|x| &**x).collect();
                        format!("{}: {}", p.label, b.join(", "))
                    })
                })
                .collect();
            if bases.is_empty() {
                return Err(left_out(format!(
                    "no legal basis all provinces share on the {side}'s side ({})",
                    per.join("; ")
                )));
            }
            if !lawful(bases) {
                return Err(left_out(format!(
                    "the bases all provinces share on the {side}'s side grant no lawfulness ({})",
                    per.join("; ")
                )));
            }
        }

        // Per field: the join, counting pseudonymisation as one treatment.
        let mut fields = Vec::new();
        for (id, field) in schema.fields().iter().enumerate() {
            let actions: Vec<Action> = plans
                .iter()
                .map(|(_, p)| {
                    p.fields
                        .get(id)
                        .map_or(Action::Block, |f| same_treatment(&f.action))
                })
                .collect();
            let mut action = crate::compare::common_ground(actions.iter());
            let mut blocked_because = None;
            if action.releases() {
                if let Some(grant) = schema
                    .categories
                    .get(&*field.category)
                    .and_then(|c| c.requires)
                {
                    for (side, bases) in
                        [("sender", &sender_bases), ("recipient", &recipient_bases)]
                    {
                        if !bases.iter().any(|b| schema.basis_grants(b, grant))
                            && blocked_because.is_none()
                        {
                            blocked_because = Some(format!(
                                "no basis all provinces share on the {side}'s side grants {}",
                                match grant {
                                    Grant::Art9 => "art. 9",
                                    Grant::Art10 => "art. 10",
                                    Grant::Lawfulness => "lawfulness",
                                }
                            ));
                        }
                    }
                }
                if blocked_because.is_some() {
                    action = Action::Block;
                }
            }
            let conditions: Vec<String> = if action.releases() {
                let mut texts: Vec<String> = Vec::new();
                for (_, c) in distinct(plans.iter().flat_map(|(_, p)| field_conditions_of(p, id))) {
                    let t = c.condition.to_string();
                    if !texts.contains(&t) {
                        texts.push(t);
                    }
                }
                texts
            } else {
                Vec::new()
            };
            fields.push(JointField {
                path: field.path.clone(),
                action,
                conditions,
                blocked_because,
            });
        }
        if !fields.iter().any(|f| f.action.releases()) {
            return Err(left_out("no field every province lets cross".into()));
        }
        let retention = crate::plan::shortest_per_start(terms.iter().flat_map(|t| &t.retention));
        let min_count = terms.iter().filter_map(|t| t.aggregate_min_count).max();
        let rule_conditions = distinct(plans.iter().flat_map(|(_, p)| rule_conditions_of(p)));
        let same = |f: &dyn Fn(&crate::compare::FlowTerms) -> Regime| -> Option<Regime> {
            let first = terms.first().map(|t| f(t))?;
            terms.iter().all(|t| f(t) == first).then_some(first)
        };
        let regime_out = same(&|t| t.regime_out);
        let regime_in = same(&|t| t.regime_in);

        // The drafted rules, one per side and pair.
        let mut pairs: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        let mut per_province: Vec<PerProvince> = Vec::new();
        for (province, plan) in &plans {
            let pair = (plan.sender.id.clone(), plan.recipient.id.clone());
            let mut stricter = Vec::new();
            let concrete: Vec<Action> = fields
                .iter()
                .enumerate()
                .map(|(id, f)| self.concrete(&f.action, plan, id))
                .collect();
            for (id, (f, after)) in fields.iter().zip(&concrete).enumerate() {
                let Some(before) = plan.fields.get(id) else {
                    continue;
                };
                let own: Vec<String> = before
                    .conditions
                    .iter()
                    .map(|c| c.condition.to_string())
                    .collect();
                let added: Vec<String> = if after.releases() {
                    f.conditions
                        .iter()
                        .filter(|c| !own.contains(c))
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                if *after != before.action || !added.is_empty() {
                    stricter.push(Stricter {
                        flow: c.flow.clone(),
                        pair: pair.clone(),
                        path: f.path.clone(),
                        before: before.action.clone(),
                        after: after.clone(),
                        conditions_added: added,
                    });
                }
            }
            let mut changes = Vec::new();
            if plan.retention != retention {
                changes.push(TermChange {
                    flow: c.flow.clone(),
                    change: format!(
                        "retention {} becomes {}",
                        texts(&plan.retention),
                        texts(&retention)
                    ),
                });
            }
            let own: Vec<&Condition> = plan.conditions.iter().map(|c| &c.condition).collect();
            for (_, added) in rule_conditions
                .iter()
                .filter(|(_, c)| !own.contains(&&c.condition))
            {
                changes.push(TermChange {
                    flow: c.flow.clone(),
                    change: format!("records must also meet: {}", added.condition),
                });
            }
            let own_min = plan.aggregate().map(|a| a.min_count());
            if own_min != min_count {
                changes.push(TermChange {
                    flow: c.flow.clone(),
                    change: format!(
                        "threshold {} becomes {}",
                        own_min.map_or("none".into(), |m| m.to_string()),
                        min_count.map_or("none".into(), |m| m.to_string())
                    ),
                });
            }
            per_province.push(((*province).to_owned(), stricter, changes));
            if pairs.contains(&pair) {
                continue;
            }
            pairs.push(pair.clone());
            let note = format!(
                "Joint draft from the common ground of {} ({} -> {}, {purpose}).",
                c.provinces
                    .iter()
                    .map(|p| p.province.as_str())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", "),
                c.flow.from_kind,
                c.flow.to_kind
            );
            for outbound in [true, false] {
                let side_id = if outbound { &pair.0 } else { &pair.1 };
                let mut paths = Map::new();
                for ((id, f), action) in fields.iter().enumerate().zip(&concrete) {
                    if !action.releases() {
                        continue;
                    }
                    let conds: Vec<&Condition> =
                        distinct(plans.iter().flat_map(|(_, p)| field_conditions_of(p, id)))
                            .into_iter()
                            .filter(|(sender_side, _)| *sender_side == outbound)
                            .map(|(_, c)| &c.condition)
                            .collect();
                    let action_json = serde_json::to_value(action).unwrap_or(Value::Null);
                    let entry = match all_of(&conds) {
                        Some(when) => json!({"action": action_json, "when": when}),
                        None => action_json,
                    };
                    paths.insert(f.path.to_string(), entry);
                }
                let counterparty = if outbound { &pair.1 } else { &pair.0 };
                let mut rule = Map::new();
                let slug = counterparty.replace('/', "-");
                rule.insert(
                    "id".into(),
                    json!(format!(
                        "joint-{}-{slug}-{purpose}",
                        if outbound { "out" } else { "in" }
                    )),
                );
                rule.insert(
                    if outbound { "to" } else { "from" }.into(),
                    json!({"organisation": &**counterparty}),
                );
                rule.insert("purpose".into(), json!(purpose));
                if outbound {
                    if let Some(r) = retention_json(&retention) {
                        rule.insert("retention".into(), r);
                    }
                }
                if let Some(regime) = if outbound { regime_out } else { regime_in } {
                    rule.insert("regime".into(), json!(regime));
                }
                rule.insert("note".into(), json!(note));
                let bases = if outbound {
                    &sender_bases
                } else {
                    &recipient_bases
                };
                rule.insert(
                    "legal_basis".into(),
                    json!(bases.iter().map(|b| &**b).collect::<Vec<_>>()),
                );
                let conds: Vec<&Condition> = rule_conditions
                    .iter()
                    .filter(|(sender_side, _)| *sender_side == outbound)
                    .map(|(_, c)| &c.condition)
                    .collect();
                if let Some(when) = all_of(&conds) {
                    rule.insert("when".into(), when);
                }
                if let Some(m) = min_count {
                    rule.insert("aggregate".into(), json!({"min_count": m}));
                }
                rule.insert("paths".into(), Value::Object(paths));
                self.rules
                    .entry((side_id.clone(), outbound))
                    .or_default()
                    .push(DraftRule {
                        json: Value::Object(rule),
                        purpose: purpose.to_owned(),
                        bases: bases.clone(),
                    });
            }
        }
        Ok((
            JointFlow {
                flow: c.flow.clone(),
                pairs,
                fields,
                retention,
                conditions: rule_conditions
                    .iter()
                    .map(|(_, c)| c.condition.to_string())
                    .collect(),
                sender_legal_basis: sender_bases,
                recipient_legal_basis: recipient_bases,
                aggregate_min_count: min_count,
            },
            per_province,
        ))
    }

    /// The joint action made concrete for one pair: "the recipient's own domain"
    /// becomes the domain this province used for the field, else the one the
    /// recipient declares for the purpose, else a new one for it.
    fn concrete(&mut self, action: &Action, plan: &FlowPlan, id: usize) -> Action {
        if !matches!(action, Action::Pseudonymise(_)) {
            return action.clone();
        }
        let purpose = &*plan.purpose;
        let recipient = &plan.recipient;
        let domain = match plan.fields.get(id).map(|f| &f.action) {
            Some(Action::Pseudonymise(d)) => d.clone(),
            _ => recipient
                .pseudonym_domains()
                .iter()
                .find(|d| d.purpose() == purpose)
                .map(|d| d.id().clone())
                .or_else(|| {
                    let name = recipient
                        .id
                        .split_once('/')
                        .map_or(&*recipient.id, |(_, n)| n);
                    DomainId::new(&format!("{}/{name}-{purpose}", recipient.province))
                })
                .unwrap_or_else(|| DomainId(Arc::from(RECIPIENT_DOMAIN))),
        };
        self.domains
            .entry(recipient.id.clone())
            .or_default()
            .insert(domain.clone(), purpose.to_owned());
        Action::Pseudonymise(domain)
    }

    /// The drafted agreement file of one organisation.
    fn file(&self, a: &Agreement, day: NaiveDate) -> DraftFile {
        let outbound = self.rules.get(&(a.id.clone(), true));
        let inbound = self.rules.get(&(a.id.clone(), false));
        let all = outbound
            .into_iter()
            .flatten()
            .chain(inbound.into_iter().flatten());
        let mut purposes: BTreeMap<String, Vec<Arc<str>>> = BTreeMap::new();
        for rule in all {
            let bases = purposes.entry(rule.purpose.clone()).or_default();
            for b in &rule.bases {
                if !bases.contains(b) {
                    bases.push(b.clone());
                }
            }
        }
        let mut domains = Map::new();
        for (domain, purpose) in self.domains.get(&a.id).into_iter().flatten() {
            let original = a.pseudonym_domains().iter().find(|d| d.id() == domain);
            let mut decl = Map::new();
            decl.insert("purpose".into(), json!(purpose));
            match original.and_then(|d| d.note()) {
                Some(note) => decl.insert("note".into(), json!(note)),
                None => decl.insert(
                    "note".into(),
                    json!(
                        "Declared by the joint draft: the recipient's own domain for this purpose."
                    ),
                ),
            };
            if let Some(d) = original.filter(|d| d.linkage_reason().is_some()) {
                // The linkage stays only where its purposes and bases are still the
                // agreement's; otherwise the draft states none (stricter).
                let linked: Vec<&String> = d
                    .linked_purposes()
                    .iter()
                    .filter(|p| purposes.contains_key(*p))
                    .collect();
                let bases: Vec<&Arc<str>> = d
                    .linkage_basis()
                    .iter()
                    .filter(|b| {
                        linked
                            .iter()
                            .any(|p| purposes.get(*p).is_some_and(|l| l.contains(b)))
                    })
                    .collect();
                if !linked.is_empty() && !bases.is_empty() {
                    decl.insert(
                        "linkage".into(),
                        json!({
                            "purposes": linked,
                            "legal_basis": bases.iter().map(|b| &***b).collect::<Vec<_>>(),
                            "reason": d.linkage_reason(),
                        }),
                    );
                }
            }
            domains.insert(domain.to_string(), Value::Object(decl));
        }
        let rules = |r: Option<&Vec<DraftRule>>| {
            Value::Array(r.into_iter().flatten().map(|r| r.json.clone()).collect())
        };
        let mut file = Map::new();
        file.insert("organisation".into(), json!(&*a.id));
        file.insert("kind".into(), json!(a.kind));
        if let Some(name) = &a.name {
            file.insert("name".into(), json!(name));
        }
        if !a.serves.is_empty() {
            file.insert("serves".into(), json!(a.serves));
        }
        file.insert("version".into(), json!(format!("joint-{day}")));
        file.insert("status".into(), json!("draft"));
        file.insert(
            "valid".into(),
            json!({"from": a.valid_from.to_string(), "until": a.valid_until.to_string()}),
        );
        file.insert("regime".into(), json!(a.regime));
        if let Some(m) = a.max_retention {
            file.insert("max_retention".into(), json!(m.to_string()));
        }
        file.insert(
            "purposes".into(),
            Value::Object(
                purposes
                    .iter()
                    .map(|(p, b)| {
                        (
                            p.clone(),
                            json!({"legal_basis": b.iter().map(|x| &**x).collect::<Vec<_>>()}),
                        )
                    })
                    .collect(),
            ),
        );
        if !domains.is_empty() {
            file.insert("pseudonym_domains".into(), Value::Object(domains));
        }
        file.insert("outbound".into(), rules(outbound));
        file.insert("inbound".into(), rules(inbound));
        let text = serde_json::to_string_pretty(&Value::Object(file)).unwrap_or_default() + "\n";
        let (area, name) = a.id.split_once('/').unwrap_or(("", &a.id));
        DraftFile {
            organisation: a.id.to_string(),
            path: format!("{area}/{name}.json"),
            text,
        }
    }
}

fn texts(r: &[Retention]) -> String {
    if r.is_empty() {
        return "none".into();
    }
    r.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
