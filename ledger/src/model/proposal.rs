//! Transfer proposals: custody moves only when the receiver accepts.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::PARCEL_STONES_MAX;
use crate::codec::BoundedVec;
use crate::ids::{Digest, OrgId, ProposalId, StoneId};

/// A proposal to move a parcel of stones from one member to another.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Proposal {
    /// Its id: the id of the transaction that opened it.
    pub id: ProposalId,
    /// The custodian offering the parcel.
    pub from: OrgId,
    /// The receiver.
    pub to: OrgId,
    /// The parcel.
    pub stones: BoundedVec<StoneId, PARCEL_STONES_MAX>,
    /// Commitment to the confidential terms.
    pub terms_commitment: Digest,
    /// Open, accepted, rejected or cancelled.
    pub status: ProposalStatus,
    /// Height of the block that opened it.
    pub opened_at: u64,
}

/// The status of a transfer proposal.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum ProposalStatus {
    /// Waiting for the receiver.
    Open,
    /// Accepted: custody moved.
    Accepted,
    /// Refused by the receiver.
    Rejected,
    /// Withdrawn by the proposer.
    Cancelled,
}

impl std::fmt::Display for ProposalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProposalStatus::Open => "open",
            ProposalStatus::Accepted => "accepted",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Cancelled => "cancelled",
        })
    }
}
