//! Lints over a whole policy set: rules that take part in no flow, rules shadowed by
//! others, category entries that never decide a field, agreements about to expire.

use super::registry::Registry;
use crate::support::diag::{Diagnostic, Diagnostics};
use std::collections::{BTreeMap, BTreeSet, HashMap};

impl Registry {
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
}
