//! The gate: resolves a transfer to its compiled flow plan, applies it to records
//! and explains the outcome.
//!
//! - `flow.rs`: the Flow API (one transfer, many records);
//! - `walk.rs`: the walk of a record along the schema; `generalise.rs`: coarser forms;
//! - `condition.rs`: rule and field conditions on a record, in three-valued logic;
//! - `stream.rs`: JSON Lines, one or more threads;
//! - `aggregate.rs`: counts per cell along flows that release aggregates only;
//! - `audited.rs`: the only path from the gate to the audit log.

mod aggregate;
mod audited;
mod condition;
mod detect;
mod flow;
mod generalise;
mod stream;
mod walk;

pub use aggregate::{AggregateError, AggregateReport, Aggregation, Cell, Skip, Skipped};
pub use audited::AuditError;
use audited::{GateAudit, PlanEntry};
pub use flow::Flow;
pub use generalise::PLACEHOLDER;
pub use stream::{
    gate_json_lines, gate_json_lines_parallel, LineProblem, LineStats, StreamError,
    AUDITED_BATCH_LINES,
};

use crate::decision::{Outcome, RecordError, Refusal, Side, Transfer};
use crate::plan::registry::{FlowKey, Registry};
use crate::plan::{resolve, FlowPlan};
use crate::policy::action::DomainId;
use crate::pseudonym::{ActiveKey, KeyRing};
use crate::support::limits::Limits;
use crate::support::time::amsterdam_date;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

struct GateFlow {
    plan: Arc<FlowPlan>,
    /// The active key of every domain the plan pseudonymises in, or the first
    /// domain the key ring has no key for.
    keys: Result<Vec<Arc<ActiveKey>>, DomainId>,
    /// The plan's audit entry and its id.
    plan_entry: PlanEntry,
}

/// Checks and shapes records crossing between organisations. Build once, share
/// between threads (`Send + Sync`), apply many times.
///
/// # Example
///
/// ```
/// use privacy_gate::{Gate, KeyRing, Registry, Transfer};
/// let registry = Registry::load_dir("policies".as_ref())?;
/// let gate = Gate::new(registry, KeyRing::empty());
/// let at = "2026-03-02T10:00:00Z".parse()?;
/// let transfer = Transfer { from: "groningen/ggd", to: "noord-nederland/politie", purpose: "criminal-investigation", at };
/// let record = serde_json::json!({"case": {"id": "c-1"}, "subject": {"name": {"family": "Jansen"}}});
/// match gate.apply(&transfer, record)? {
///     privacy_gate::Outcome::Released(released) => {
///         for field in released.decision.fields() {
///             println!("{} {}", field.path, field.action);
///         }
///     }
///     privacy_gate::Outcome::Refused(why) => println!("refused: {why}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Gate {
    registry: Arc<Registry>,
    keys: Arc<KeyRing>,
    flows: HashMap<FlowKey, GateFlow>,
    limits: Limits,
    audit: Option<GateAudit>,
}

/// Why a record could not be gated, or its transfer not logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The record is not a record.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The audit entry could not be written, so nothing was released.
    #[error("nothing released")]
    Audit(#[from] AuditError),
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("agreements", &self.registry.agreements().count())
            .field("flows", &self.flows.len())
            .field("key_domains", &self.keys.domains().collect::<Vec<_>>())
            .finish()
    }
}

impl Gate {
    /// Builds a gate from a policy set and the pseudonymisation keys.
    pub fn new(registry: Registry, keys: KeyRing) -> Gate {
        let flows = registry
            .flows()
            .iter()
            .map(|(key, plan)| {
                let gate_keys = plan
                    .domains
                    .iter()
                    .map(|d| {
                        keys.domain(d)
                            .map(|set| set.active().clone())
                            .ok_or_else(|| d.clone())
                    })
                    .collect();
                (
                    *key,
                    GateFlow {
                        plan: plan.clone(),
                        keys: gate_keys,
                        plan_entry: PlanEntry::of(plan),
                    },
                )
            })
            .collect();
        Gate {
            registry: Arc::new(registry),
            keys: Arc::new(keys),
            flows,
            limits: Limits::default(),
            audit: None,
        }
    }

    /// Applies `limits` to every record this gate reads (line length, nesting depth,
    /// values per record); [`Limits::default`] until set.
    pub fn with_limits(mut self, limits: Limits) -> Gate {
        self.limits = limits;
        self
    }

    /// The limits this gate applies.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The policy set.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Resolves a transfer to its flow, checking everything that does not depend on
    /// the record: both organisations known, both agreements in force at the moment,
    /// the purpose in both, rules on both sides, keys for every pseudonym, and a flow
    /// that releases records (one that releases aggregates only is refused with
    /// [`Refusal::AggregatesOnly`]: count its records with [`Gate::aggregate`]).
    ///
    /// # Errors
    ///
    /// The [`Refusal`] when the transfer is not allowed at all.
    pub fn flow(&self, transfer: &Transfer<'_>) -> Result<Flow<'_>, Refusal> {
        let result = self
            .resolve(transfer)
            .and_then(|flow| match flow.plan.aggregate() {
                // No row crosses a flow of aggregates, whatever the record.
                Some(terms) => Err(Refusal::AggregatesOnly {
                    min_count: terms.min_count(),
                }),
                None => Ok(flow),
            });
        if let (Err(refusal), Some(audit)) = (&result, &self.audit) {
            // Nothing crosses either way; a failed append poisons the log, so every
            // later transfer fails closed.
            audit.log_refusal(transfer, refusal);
        }
        result
    }

    fn resolve(&self, transfer: &Transfer<'_>) -> Result<Flow<'_>, Refusal> {
        let registry = &self.registry;
        let side_index = |side: Side, id: &str| {
            registry
                .index_of(id)
                .ok_or_else(|| Refusal::UnknownOrganisation {
                    side,
                    organisation: id.to_owned(),
                    suggestion: registry.suggest_organisation(id),
                })
        };
        let si = side_index(Side::Sender, transfer.from)?;
        let ri = side_index(Side::Recipient, transfer.to)?;
        let pi =
            registry
                .purpose_index(transfer.purpose)
                .ok_or_else(|| Refusal::UnknownPurpose {
                    purpose: transfer.purpose.to_owned(),
                    suggestion: registry.suggest_purpose(transfer.purpose),
                })?;
        let day = amsterdam_date(transfer.at);
        let (Some(sender), Some(recipient)) = (
            registry.agreement(transfer.from),
            registry.agreement(transfer.to),
        ) else {
            // Both ids were found above: a registry holds an agreement per index.
            return Err(Refusal::NoRule {
                side: Side::Sender,
                agreement: Arc::from(transfer.from),
            });
        };
        if let Some((side, agreement, why)) = resolve::not_in_force(sender, recipient, day) {
            return Err(Refusal::NotInForce {
                side,
                agreement: agreement.id.clone(),
                version: agreement.version.clone(),
                why,
            });
        }
        if let Some((side, agreement)) =
            resolve::purpose_not_agreed(sender, recipient, transfer.purpose)
        {
            return Err(Refusal::PurposeNotAgreed {
                side,
                agreement: agreement.id.clone(),
                purpose: transfer.purpose.to_owned(),
            });
        }
        let Some(flow) = self.flows.get(&(si, ri, pi)) else {
            let (side, agreement) = resolve::side_without_rule(sender, recipient, transfer.purpose);
            return Err(Refusal::NoRule {
                side,
                agreement: agreement.id.clone(),
            });
        };
        let keys = flow.keys.as_ref().map_err(|domain| Refusal::MissingKey {
            domain: domain.to_string(),
        })?;
        Ok(Flow::new(
            flow,
            self.audit.as_ref(),
            keys,
            transfer.at,
            day,
            self.limits,
        ))
    }

    /// Gates one parsed record.
    ///
    /// # Errors
    ///
    /// [`RecordError::NotAnObject`] when the record is not a JSON object. A refused
    /// transfer is an [`Outcome::Refused`], not an error.
    pub fn apply(&self, transfer: &Transfer<'_>, record: Value) -> Result<Outcome, GateError> {
        match self.flow(transfer) {
            Ok(flow) => flow.apply(record),
            Err(refusal) => Ok(Outcome::Refused(refusal)),
        }
    }

    /// Parses `bytes` strictly (duplicate keys and nesting deeper than the limit are
    /// errors) and gates the record.
    ///
    /// # Errors
    ///
    /// [`RecordError`] for malformed JSON, duplicate keys, excessive nesting, or a
    /// value that is not an object.
    pub fn apply_json(&self, transfer: &Transfer<'_>, bytes: &[u8]) -> Result<Outcome, GateError> {
        match self.flow(transfer) {
            Ok(flow) => flow.apply_json(bytes),
            Err(refusal) => Ok(Outcome::Refused(refusal)),
        }
    }
}
