//! Unlinkable by default: every pseudonymisation domain belongs to one recipient and
//! one purpose, as the recipient's agreement declares it, and no recipient receives a
//! field in plain form in one flow and pseudonymised in another, unless the
//! declaration states that linkage with its basis. Checked over the whole set of
//! compiled flows, because a link is made across flows, never within one rule.

use super::registry::FlowKey;
use super::{ClauseRef, FlowPlan, Via};
use crate::policy::action::{Action, DomainId};
use crate::policy::agreement::{Agreement, PseudonymDomain};
use crate::policy::schema::Schema;
use crate::support::diag::Diagnostic;
use crate::support::json::escape_pointer_segment as esc;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A declared domain and the agreement that declares it.
struct Declared<'a> {
    domain: &'a PseudonymDomain,
    by: &'a Agreement,
}

/// Checks every domain use and every recipient's flows; problems go to `out`.
pub(crate) fn check_linkage(
    schema: &Schema,
    agreements: &[Arc<Agreement>],
    flows: &HashMap<FlowKey, Arc<FlowPlan>>,
    out: &mut Vec<Diagnostic>,
) {
    let (declared, contested) = declarations(agreements, out);
    // Deterministic order: diagnostics are sorted later, but which duplicate is
    // reported first should not depend on hashing.
    let mut plans: Vec<&FlowPlan> = flows.values().map(|p| &**p).collect();
    plans.sort_by(|a, b| {
        (&a.sender.id, &a.recipient.id, &a.purpose).cmp(&(
            &b.sender.id,
            &b.recipient.id,
            &b.purpose,
        ))
    });
    let mut reported = BTreeSet::new();
    let mut used = BTreeSet::new();
    for plan in &plans {
        for (field, fp) in schema.fields().iter().zip(&plan.fields) {
            for (agreement, clause, action) in [
                (&plan.sender, &fp.sender, &fp.sender_action),
                (&plan.recipient, &fp.recipient, &fp.recipient_action),
            ] {
                let (Action::Pseudonymise(domain), Some(clause)) = (action, clause) else {
                    continue;
                };
                used.insert(domain.clone());
                if contested.contains(domain) {
                    continue;
                }
                let Some(problem) = misuse(&declared, plan, domain) else {
                    continue;
                };
                if reported.insert((
                    clause.agreement.clone(),
                    clause.rule.clone(),
                    domain.clone(),
                )) {
                    out.push(at_action(
                        agreement,
                        clause,
                        field.path(),
                        field.category(),
                        problem,
                    ));
                }
            }
        }
    }
    plain_and_pseudonymised(schema, &declared, &plans, out);
    for d in declared.values() {
        if !used.contains(&d.domain.id) {
            out.push(
                Diagnostic::warning(
                    &d.by.file,
                    format!(
                        "pseudonymisation domain `{}` is declared but no flow pseudonymises in it",
                        d.domain.id
                    ),
                )
                .in_agreement(Some(&d.by.id))
                .with_pointer(&d.domain.pointer),
            );
        }
    }
}

/// Every declaration by domain id. A domain declared by two organisations is an error
/// at each declaration, and is left out of the map: which of them it belongs to is
/// unknown, so its uses are not judged against either (that would report every use).
fn declarations<'a>(
    agreements: &'a [Arc<Agreement>],
    out: &mut Vec<Diagnostic>,
) -> (BTreeMap<DomainId, Declared<'a>>, BTreeSet<DomainId>) {
    let mut all: BTreeMap<DomainId, Vec<Declared<'a>>> = BTreeMap::new();
    for agreement in agreements {
        for domain in &agreement.pseudonym_domains {
            all.entry(domain.id.clone()).or_default().push(Declared {
                domain,
                by: agreement,
            });
        }
    }
    let mut declared = BTreeMap::new();
    let mut contested = BTreeSet::new();
    for (id, mut declarers) in all {
        if declarers.len() == 1 {
            if let Some(only) = declarers.pop() {
                declared.insert(id, only);
            }
            continue;
        }
        let names: Vec<String> = declarers.iter().map(|d| format!("`{}`", d.by.id)).collect();
        for d in &declarers {
            out.push(
                Diagnostic::error(
                    &d.by.file,
                    format!(
                        "pseudonymisation domain `{id}` is declared by {}: a domain belongs to one recipient; give each its own, like `{id}-{}`",
                        names.join(" and "),
                        d.by.id.rsplit('/').next().unwrap_or_default()
                    ),
                )
                .in_agreement(Some(&d.by.id))
                .with_pointer(&d.domain.pointer),
            );
        }
        contested.insert(id);
    }
    (declared, contested)
}

/// Why `plan` may not pseudonymise in `domain`, if it may not.
fn misuse(
    declared: &BTreeMap<DomainId, Declared<'_>>,
    plan: &FlowPlan,
    domain: &DomainId,
) -> Option<String> {
    let recipient = &plan.recipient;
    let own_for_purpose = || {
        let own: Vec<String> = recipient
            .pseudonym_domains
            .iter()
            .filter(|d| d.admits(&plan.purpose))
            .map(|d| format!("`{}`", d.id))
            .collect();
        if own.is_empty() {
            format!(
                "declare one under `pseudonym_domains` in the agreement of `{}` with purpose `{}`",
                recipient.id, plan.purpose
            )
        } else {
            format!("use {}", own.join(" or "))
        }
    };
    let Some(d) = declared.get(domain) else {
        return Some(format!(
            "pseudonymisation domain `{domain}` is declared by no agreement; a domain is bound to one recipient and purpose: {}",
            own_for_purpose()
        ));
    };
    if d.domain.recipient != recipient.id {
        return Some(format!(
            "pseudonymisation domain `{domain}` belongs to `{}`, but this flow goes to `{}`: pseudonyms of one domain at two recipients let them join what they hold; {}",
            d.domain.recipient,
            recipient.id,
            own_for_purpose()
        ));
    }
    if !d.domain.admits(&plan.purpose) {
        return Some(format!(
            "pseudonymisation domain `{domain}` is bound to purpose `{}`, but this flow is for `{}`: pseudonyms of one domain from flows of different purposes let `{}` link them; {}, or state the linkage (purpose and basis) in the domain's declaration",
            d.domain.purpose,
            plan.purpose,
            recipient.id,
            own_for_purpose()
        ));
    }
    None
}

/// A recipient that holds a field in plain form from one flow and pseudonymised from
/// another can tie the pseudonyms to the values (through the records in which both
/// appear with the same other fields), so the pseudonym would protect nothing.
fn plain_and_pseudonymised(
    schema: &Schema,
    declared: &BTreeMap<DomainId, Declared<'_>>,
    plans: &[&FlowPlan],
    out: &mut Vec<Diagnostic>,
) {
    // (recipient, field) -> the flows passing it plainly, and those pseudonymising it.
    type Forms<'p> = (Vec<&'p FlowPlan>, Vec<(&'p FlowPlan, &'p DomainId)>);
    let mut forms: BTreeMap<(&str, usize), Forms<'_>> = BTreeMap::new();
    for plan in plans {
        for (i, fp) in plan.fields.iter().enumerate() {
            let entry = forms.entry((&plan.recipient.id, i)).or_default();
            match &fp.action {
                Action::Pass => entry.0.push(plan),
                Action::Pseudonymise(d) => entry.1.push((plan, d)),
                _ => {}
            }
        }
    }
    let mut reported = BTreeSet::new();
    for ((recipient, i), (plain, pseudonymised)) in &forms {
        let Some(field) = schema.fields().get(*i) else {
            continue;
        };
        for (plan, domain) in pseudonymised {
            let linked = |p: &FlowPlan| {
                declared
                    .get(*domain)
                    .is_some_and(|d| d.domain.linked_purposes.iter().any(|l| **l == *p.purpose))
            };
            let unstated: Vec<&&FlowPlan> = plain.iter().filter(|p| !linked(p)).collect();
            let Some(first) = unstated.first() else {
                continue;
            };
            let Some(fp) = plan.fields.get(*i) else {
                continue;
            };
            let (agreement, clause) = match (&fp.sender_action, &fp.sender, &fp.recipient) {
                (Action::Pseudonymise(_), Some(clause), _) => (&plan.sender, clause),
                (_, _, Some(clause)) => (&plan.recipient, clause),
                _ => continue,
            };
            if !reported.insert((clause.agreement.clone(), clause.rule.clone(), *i)) {
                continue;
            }
            let more = match unstated.len() {
                1 => String::new(),
                n => format!(
                    " (and {} other flow{})",
                    n - 1,
                    if n == 2 { "" } else { "s" }
                ),
            };
            out.push(at_action(
                agreement,
                clause,
                field.path(),
                field.category(),
                format!(
                    "`{recipient}` receives `{}` pseudonymised in `{domain}` from `{}` ({}) and in plain form from `{}` ({}){more}, so it could tie the pseudonyms to the values: give `{recipient}` the field in one form (pass it in both flows or block it in one), or state in the declaration of `{domain}` a linkage with purpose `{}` and its basis",
                    field.path(),
                    plan.sender.id,
                    plan.purpose,
                    first.sender.id,
                    first.purpose,
                    first.purpose,
                ),
            ));
        }
    }
}

/// An error at the action of `clause`'s rule that decided `path`.
fn at_action(
    agreement: &Agreement,
    clause: &ClauseRef,
    path: &str,
    category: &str,
    message: String,
) -> Diagnostic {
    let rule = agreement
        .outbound
        .iter()
        .chain(&agreement.inbound)
        .find(|r| r.id == clause.rule);
    let mut diagnostic =
        Diagnostic::error(&agreement.file, message).in_agreement(Some(&agreement.id));
    if let Some(rule) = rule {
        let pointer = match clause.via {
            Via::Path => format!("{}/paths/{}", rule.pointer, esc(path)),
            Via::Category => format!("{}/categories/{}", rule.pointer, esc(category)),
        };
        diagnostic = diagnostic.with_pointer(&pointer);
    }
    diagnostic
}
