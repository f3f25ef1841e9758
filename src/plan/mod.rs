//! Flow plans: for one (sender, recipient, purpose), the action on every schema field,
//! compiled once from both agreements; and the registry, which holds every
//! checked agreement and every compiled flow.

pub(crate) mod aggregate;
mod linkage;
mod lints;
pub(crate) mod registry;
pub(crate) mod resolve;

use crate::policy::action::{Action, DomainId};
use crate::policy::agreement::{Agreement, Condition, Regime, Retention, Rule};
use crate::policy::schema::{Grant, Schema};
use crate::support::diag::Diagnostic;
use crate::support::time::Period;
use serde::Serialize;
use std::sync::Arc;

/// A reference to the clause that decided a field on one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClauseRef {
    /// The agreement (organisation id).
    pub(crate) agreement: Arc<str>,
    /// Its version.
    pub(crate) version: Arc<str>,
    /// The rule id.
    pub(crate) rule: Arc<str>,
    /// Whether the rule named the field's path (`path`) or its category (`category`).
    pub(crate) via: Via,
    /// The covenant article the rule implements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) covenant: Option<Arc<str>>,
}

impl ClauseRef {
    /// The agreement (organisation id).
    pub fn agreement(&self) -> &str {
        &self.agreement
    }

    /// Its version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The rule id.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Whether the rule named the field's path (`path`) or its category (`category`).
    pub fn via(&self) -> Via {
        self.via
    }

    /// The covenant article the rule implements.
    pub fn covenant(&self) -> Option<&str> {
        self.covenant.as_deref()
    }
}

/// How a rule reached a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Via {
    /// By the field's path.
    Path,
    /// By the field's data category.
    Category,
}

/// The plan for one field.
#[derive(Clone, Debug)]
pub struct FieldPlan {
    /// What crosses: the join of both sides.
    pub(crate) action: Action,
    /// The sender's outbound action (`Block` if no clause).
    pub(crate) sender_action: Action,
    /// The recipient's inbound action (`Block` if no clause).
    pub(crate) recipient_action: Action,
    /// The sender's clause, `None` when no rule names the field (default deny).
    pub(crate) sender: Option<ClauseRef>,
    /// The recipient's clause, `None` when no rule names the field (default deny).
    pub(crate) recipient: Option<ClauseRef>,
    /// Legal bases for the field: those of the deciding rule on the sender's side,
    /// then on the recipient's, that grant lawfulness or the category's special
    /// requirement (art. 9 or 10). Empty when no rule on either side names the field.
    pub(crate) legal_basis: Arc<[Arc<str>]>,
    /// Conditions of the deciding path entries on either side (sender first): the
    /// field crosses only for records for which all of them hold. Empty when the
    /// field does not cross at all.
    pub(crate) conditions: Vec<PlannedCondition>,
    /// Index into the plan's domains when pseudonymised.
    pub(crate) domain_slot: Option<usize>,
    /// The field's value type, kept here so the walk needs one lookup per leaf.
    pub(crate) value_type: crate::policy::schema::ValueType,
}

impl FieldPlan {
    /// What crosses: the join of both sides.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// The sender's outbound action (`Block` if no clause).
    pub fn sender_action(&self) -> &Action {
        &self.sender_action
    }

    /// The recipient's inbound action (`Block` if no clause).
    pub fn recipient_action(&self) -> &Action {
        &self.recipient_action
    }

    /// The sender's clause, `None` when no rule names the field (default deny).
    pub fn sender(&self) -> Option<&ClauseRef> {
        self.sender.as_ref()
    }

    /// The recipient's clause, `None` when no rule names the field (default deny).
    pub fn recipient(&self) -> Option<&ClauseRef> {
        self.recipient.as_ref()
    }

    /// Legal bases for the field: those of the deciding rule on the sender's side,
    /// then on the recipient's, that grant lawfulness or the category's special
    /// requirement (art. 9 or 10). Empty when no rule on either side names the field.
    pub fn legal_basis(&self) -> &[Arc<str>] {
        &self.legal_basis
    }

    /// Conditions of the deciding path entries on either side (sender first): the
    /// field crosses only for records for which all of them hold; otherwise it is
    /// removed with reason [`ConditionNotMet`](crate::RemovalReason::ConditionNotMet).
    /// Empty when the field crosses unconditionally or not at all.
    pub fn conditions(&self) -> &[PlannedCondition] {
        &self.conditions
    }
}

/// A condition of a rule on either side.
#[derive(Clone, Debug)]
pub struct PlannedCondition {
    /// The agreement whose rule sets it.
    pub(crate) agreement: Arc<str>,
    /// The rule.
    pub(crate) rule: Arc<str>,
    /// The condition.
    pub(crate) condition: Condition,
}

/// `{"agreement": ..., "rule": ..., "when": "case.consent in [given]"}`, for
/// explanations (the audit log has a wire form of its own).
impl Serialize for PlannedCondition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("PlannedCondition", 3)?;
        out.serialize_field("agreement", &*self.agreement)?;
        out.serialize_field("rule", &*self.rule)?;
        out.serialize_field("when", &self.condition.to_string())?;
        out.end()
    }
}

impl PlannedCondition {
    /// The agreement whose rule sets it.
    pub fn agreement(&self) -> &str {
        &self.agreement
    }

    /// The rule.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The condition.
    pub fn condition(&self) -> &Condition {
        &self.condition
    }
}

/// The compiled plan of one flow.
#[derive(Debug)]
pub struct FlowPlan {
    pub(crate) schema: Arc<Schema>,
    /// The sender's agreement.
    pub(crate) sender: Arc<Agreement>,
    /// The recipient's agreement.
    pub(crate) recipient: Arc<Agreement>,
    /// The purpose.
    pub(crate) purpose: Arc<str>,
    /// Per schema field, by field id.
    pub(crate) fields: Vec<FieldPlan>,
    /// The fields that cross only under conditions of their own, in field order.
    pub(crate) conditioned_fields: Vec<usize>,
    /// The retention of the sender's matching rules: per start (the transfer day, or
    /// an event), the shortest period; the earliest deadline binds.
    pub(crate) retention: Vec<Retention>,
    /// The regime of the transfer (the sender's rule, else the sender's agreement).
    pub(crate) regime: Regime,
    /// Conditions records must meet.
    pub(crate) conditions: Vec<PlannedCondition>,
    /// Pseudonymisation domains the plan needs keys for.
    pub(crate) domains: Vec<DomainId>,
    /// Sender's matching outbound rule ids.
    pub(crate) sender_rules: Vec<Arc<str>>,
    /// Recipient's matching inbound rule ids.
    pub(crate) recipient_rules: Vec<Arc<str>>,
    /// When the flow releases aggregates only: its threshold and dimensions.
    pub(crate) aggregate: Option<aggregate::AggregateTerms>,
}

impl FlowPlan {
    /// The sender's agreement.
    pub fn sender(&self) -> &Arc<Agreement> {
        &self.sender
    }

    /// The recipient's agreement.
    pub fn recipient(&self) -> &Arc<Agreement> {
        &self.recipient
    }

    /// The purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// Per schema field, by field id.
    pub fn fields(&self) -> &[FieldPlan] {
        &self.fields
    }

    /// The retention of the sender's matching rules: per start (the transfer day
    /// first, then events by id), the shortest period; the recipient keeps a record
    /// until the earliest of their deadlines. Empty when no rule sets one.
    pub fn retention(&self) -> &[Retention] {
        &self.retention
    }

    /// The shortest period from the transfer day, if a rule sets one.
    pub fn transfer_retention(&self) -> Option<Period> {
        self.retention
            .iter()
            .find(|r| r.after.is_none())
            .map(|r| r.period)
    }

    /// Whether a retention period starts at an event, so that each record may have a
    /// deadline of its own.
    pub fn retention_after_events(&self) -> bool {
        self.retention.iter().any(|r| r.after.is_some())
    }

    /// The regime of the transfer (the sender's rule, else the sender's agreement).
    pub fn regime(&self) -> Regime {
        self.regime
    }

    /// Conditions records must meet.
    pub fn conditions(&self) -> &[PlannedCondition] {
        &self.conditions
    }

    /// Pseudonymisation domains the plan needs keys for.
    pub fn domains(&self) -> &[DomainId] {
        &self.domains
    }

    /// Sender's matching outbound rule ids.
    pub fn sender_rules(&self) -> &[Arc<str>] {
        &self.sender_rules
    }

    /// Recipient's matching inbound rule ids.
    pub fn recipient_rules(&self) -> &[Arc<str>] {
        &self.recipient_rules
    }

    /// When the flow releases aggregates only (counts per cell, never a record): its
    /// threshold and the fields that make up a cell. `None` for a flow of records.
    pub fn aggregate(&self) -> Option<&aggregate::AggregateTerms> {
        self.aggregate.as_ref()
    }
}

impl FlowPlan {
    /// The schema the plan was compiled against.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The rules that make up the flow: the sender's outbound rules, then the
    /// recipient's inbound rules, each with its agreement.
    pub fn rules(&self) -> impl Iterator<Item = (&Agreement, &Rule)> {
        let outbound = self
            .sender
            .outbound
            .iter()
            .filter(|r| self.sender_rules.contains(&r.id))
            .map(|r| (&*self.sender, r));
        let inbound = self
            .recipient
            .inbound
            .iter()
            .filter(|r| self.recipient_rules.contains(&r.id))
            .map(|r| (&*self.recipient, r));
        outbound.chain(inbound)
    }
}

/// Compiles the plan for a flow from the matching rules on both sides. Conflicting
/// actions within one side are reported into `errors`.
pub(crate) fn compile(
    schema: &Arc<Schema>,
    sender: &Arc<Agreement>,
    recipient: &Arc<Agreement>,
    purpose: &str,
    outbound: &[&Rule],
    inbound: &[&Rule],
    errors: &mut Vec<Diagnostic>,
) -> FlowPlan {
    let mut domains: Vec<DomainId> = Vec::new();
    let mut fields = Vec::with_capacity(schema.fields().len());
    for (id, field) in schema.fields().iter().enumerate() {
        let (sender_action, sender_clause, sender_rule) =
            side_action(sender, outbound, id, &field.path, &field.category, errors);
        let (recipient_action, recipient_clause, recipient_rule) =
            side_action(recipient, inbound, id, &field.path, &field.category, errors);
        let action = sender_action.join(&recipient_action);
        // Both sides' field conditions bind: the field crosses when all of them hold.
        let conditions: Vec<PlannedCondition> = if action.releases() {
            [(sender, sender_rule), (recipient, recipient_rule)]
                .into_iter()
                .filter_map(|(agreement, rule)| {
                    let rule = rule?;
                    rule.field_condition(id).map(|condition| PlannedCondition {
                        agreement: agreement.id.clone(),
                        rule: rule.id.clone(),
                        condition: condition.clone(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let domain_slot = match &action {
            Action::Pseudonymise(domain) => Some(match domains.iter().position(|d| d == domain) {
                Some(slot) => slot,
                None => {
                    domains.push(domain.clone());
                    domains.len() - 1
                }
            }),
            _ => None,
        };
        let requirement = schema
            .categories
            .get(&*field.category)
            .and_then(|c| c.requires);
        let mut legal_basis: Vec<Arc<str>> = Vec::new();
        for rule in [sender_rule, recipient_rule].into_iter().flatten() {
            for basis in &rule.legal_basis {
                let relevant = schema.basis_grants(basis, Grant::Lawfulness)
                    || requirement.is_some_and(|g| schema.basis_grants(basis, g));
                if relevant && !legal_basis.contains(basis) {
                    legal_basis.push(basis.clone());
                }
            }
        }
        fields.push(FieldPlan {
            action,
            sender_action,
            recipient_action,
            sender: sender_clause,
            recipient: recipient_clause,
            legal_basis: legal_basis.into(),
            conditions,
            domain_slot,
            value_type: field.value_type,
        });
    }
    linkable_record_ids(schema, sender, outbound, &fields, errors);
    let aggregate = aggregate::terms(schema, purpose, sender, outbound, inbound, &fields, errors);
    let conditioned_fields = (0..fields.len())
        .filter(|&id| fields.get(id).is_some_and(|f| !f.conditions.is_empty()))
        .collect();
    let retention = shortest_per_start(outbound.iter().flat_map(|r| &r.retention));
    within_recipient_maximum(sender, recipient, outbound, &retention, errors);
    let regime = outbound
        .iter()
        .find_map(|r| r.regime)
        .unwrap_or(sender.regime);
    let conditions = outbound
        .iter()
        .map(|r| (sender, *r))
        .chain(inbound.iter().map(|r| (recipient, *r)))
        .filter_map(|(agreement, rule)| {
            rule.condition.as_ref().map(|condition| PlannedCondition {
                agreement: agreement.id.clone(),
                rule: rule.id.clone(),
                condition: condition.clone(),
            })
        })
        .collect();
    FlowPlan {
        schema: schema.clone(),
        sender: sender.clone(),
        recipient: recipient.clone(),
        purpose: Arc::from(purpose),
        fields,
        conditioned_fields,
        retention,
        regime,
        conditions,
        domains,
        sender_rules: outbound.iter().map(|r| r.id.clone()).collect(),
        recipient_rules: inbound.iter().map(|r| r.id.clone()).collect(),
        aggregate,
    }
}

/// Per start (the transfer day, or an event), the shortest of `retentions`; the
/// transfer first, then events by id. Keeping every start and binding the earliest
/// deadline is stricter than each, as no start is comparable with another in general.
pub(crate) fn shortest_per_start<'a>(
    retentions: impl IntoIterator<Item = &'a Retention>,
) -> Vec<Retention> {
    let mut out: Vec<Retention> = Vec::new();
    for r in retentions {
        let start = |x: &Retention| x.after.as_ref().map(|e| e.id.clone());
        match out.iter_mut().find(|x| start(x) == start(r)) {
            Some(kept) if r.period.max_days() < kept.period.max_days() => kept.period = r.period,
            Some(_) => {}
            None => out.push(r.clone()),
        }
    }
    out.sort_by(|a, b| {
        let key = |x: &Retention| x.after.as_ref().map(|e| e.id.clone());
        key(a).cmp(&key(b))
    });
    out
}

/// The recipient's `max_retention` bounds what it may receive: every period of the
/// flow's retention (the shortest per start, as the gate applies it) must be within
/// it. Reported at the sender's rule that sets the period, as the sender sets it.
fn within_recipient_maximum(
    sender: &Agreement,
    recipient: &Agreement,
    outbound: &[&Rule],
    retention: &[Retention],
    errors: &mut Vec<Diagnostic>,
) {
    let Some(max) = recipient.max_retention else {
        return;
    };
    for r in retention
        .iter()
        .filter(|r| r.period.max_days() > max.max_days())
    {
        let Some(rule) = outbound.iter().find(|rule| rule.retention.contains(r)) else {
            continue;
        };
        errors.push(
            Diagnostic::error(
                &sender.file,
                format!(
                    "retention {r} of rule `{}` is longer than the recipient `{}` may keep data ({max}, its `max_retention` in `{}`): shorten it to at most {max}, in a rule of its own for `{}` if other recipients may keep data longer",
                    rule.id, recipient.id, recipient.file, recipient.id
                ),
            )
            .in_agreement(Some(&sender.id))
            .with_pointer(&format!("{}/retention", rule.pointer)),
        );
    }
}

/// A flow that pseudonymises who a record is about must not pass the record's own
/// identifier (`case.id`) in plain form: the recipient would tie every pseudonym to a
/// case it knows by id, and the pseudonym would protect nothing.
fn linkable_record_ids(
    schema: &Schema,
    sender: &Agreement,
    outbound: &[&Rule],
    fields: &[FieldPlan],
    errors: &mut Vec<Diagnostic>,
) {
    let pseudonymised =
        schema.fields().iter().zip(fields).find(|(field, plan)| {
            field.identifying && matches!(plan.action, Action::Pseudonymise(_))
        });
    let Some((identity, _)) = pseudonymised else {
        return;
    };
    for (field, plan) in schema.fields().iter().zip(fields) {
        if !field.record_identifier || plan.action != Action::Pass {
            continue;
        }
        let rule = plan
            .sender
            .as_ref()
            .and_then(|clause| outbound.iter().find(|r| r.id == clause.rule));
        let mut diagnostic = Diagnostic::error(
            &sender.file,
            format!(
                "this flow pseudonymises `{}` but passes the record identifier `{}` in plain form, so the recipient could tie the pseudonym to the case: pseudonymise `{}` in the same domain, or block it",
                identity.path, field.path, field.path
            ),
        )
        .in_agreement(Some(&sender.id));
        if let Some(rule) = rule {
            diagnostic = diagnostic.with_pointer(&rule.pointer);
        }
        errors.push(diagnostic);
    }
}

fn side_action<'r>(
    agreement: &Agreement,
    rules: &[&'r Rule],
    field: usize,
    path: &str,
    category: &str,
    errors: &mut Vec<Diagnostic>,
) -> (Action, Option<ClauseRef>, Option<&'r Rule>) {
    let mut decided: Option<(&Action, &Rule, bool)> = None;
    for rule in rules {
        let Some((action, by_path)) = rule.action_for(field, category) else {
            continue;
        };
        match decided {
            None => decided = Some((action, rule, by_path)),
            Some((earlier, earlier_rule, _))
                if earlier == action
                    && earlier_rule.field_condition(field) != rule.field_condition(field) =>
            {
                errors.push(
                    Diagnostic::error(
                        &agreement.file,
                        format!(
                            "rules `{}` and `{}` both apply to the same flow and give field `{path}` different conditions: give it one condition, in one rule",
                            earlier_rule.id, rule.id
                        ),
                    )
                    .in_agreement(Some(&agreement.id))
                    .with_pointer(&rule.pointer),
                );
            }
            Some((earlier, earlier_rule, _)) if earlier != action => {
                errors.push(
                    Diagnostic::error(
                        &agreement.file,
                        format!(
                            "rules `{}` and `{}` both apply to the same flow and give field `{path}` different actions (`{earlier}` and `{action}`)",
                            earlier_rule.id, rule.id
                        ),
                    )
                    .in_agreement(Some(&agreement.id))
                    .with_pointer(&rule.pointer),
                );
            }
            Some(_) => {}
        }
    }
    match decided {
        None => (Action::Block, None, None),
        Some((action, rule, by_path)) => (
            action.clone(),
            Some(ClauseRef {
                agreement: agreement.id.clone(),
                version: agreement.version.clone(),
                rule: rule.id.clone(),
                via: if by_path { Via::Path } else { Via::Category },
                covenant: rule.covenant.clone(),
            }),
            Some(rule),
        ),
    }
}
