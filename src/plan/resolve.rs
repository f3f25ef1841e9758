//! The checks that decide whether two agreements make a flow at all, before any
//! record: both in force on the day, the purpose in both, a rule on each side. The
//! gate turns their answers into refusals, `compare` into its reasons for a missing
//! or unavailable flow; both ask here, so they cannot disagree.

use crate::policy::agreement::{Agreement, NotInForce};
use chrono::NaiveDate;
use serde::Serialize;
use std::fmt;

/// Which side of a transfer. There are two, and will only ever be two, so this
/// enum is exhaustive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The sender.
    Sender,
    /// The recipient.
    Recipient,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Sender => "sender",
            Side::Recipient => "recipient",
        })
    }
}

/// The first side whose agreement is not in force on `day`, and why: the sender's
/// is checked first.
pub(crate) fn not_in_force<'a>(
    sender: &'a Agreement,
    recipient: &'a Agreement,
    day: NaiveDate,
) -> Option<(Side, &'a Agreement, NotInForce)> {
    [(Side::Sender, sender), (Side::Recipient, recipient)]
        .into_iter()
        .find_map(|(side, agreement)| {
            agreement
                .in_force(day)
                .err()
                .map(|why| (side, agreement, why))
        })
}

/// The first side whose agreement does not declare `purpose`.
pub(crate) fn purpose_not_agreed<'a>(
    sender: &'a Agreement,
    recipient: &'a Agreement,
    purpose: &str,
) -> Option<(Side, &'a Agreement)> {
    [(Side::Sender, sender), (Side::Recipient, recipient)]
        .into_iter()
        .find(|(_, agreement)| !agreement.purposes.contains_key(purpose))
}

/// For two agreements that both declare `purpose` but make no flow: the side that
/// lacks a rule. When the sender has an outbound rule for the recipient, the
/// recipient lacks the inbound one; otherwise the sender lacks the outbound one.
pub(crate) fn side_without_rule<'a>(
    sender: &'a Agreement,
    recipient: &'a Agreement,
    purpose: &str,
) -> (Side, &'a Agreement) {
    let outbound = sender
        .outbound
        .iter()
        .any(|r| r.purpose == purpose && r.selector.matches(recipient));
    if outbound {
        (Side::Recipient, recipient)
    } else {
        (Side::Sender, sender)
    }
}
