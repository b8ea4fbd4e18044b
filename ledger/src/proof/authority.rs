//! Who could act at each point of a proof: governance replayed through the real
//! rules to rebuild the membership, and stone-event signatures checked against it.
//!
//! Governance is replayed with [`rules::apply_transaction`] over a view that holds
//! only the membership, so the verifier and the nodes share one definition of a
//! valid governance change (majority of admins, strict signatures, sound result).

use super::error::ProofError;
use super::ProvenEvent;
use crate::codec::BoundedVec;
use crate::error::StoreResult;
use crate::history::HistoryPeaks;
use crate::ids::{BlockHash, ChainId, ProposalId, StoneId, TxId};
use crate::model::{Action, Membership, Proposal, RejectReason, Stone};
use crate::rules::{self, Stop};
use crate::state::{ChainTip, LedgerView, Overlay};

/// A ledger view holding nothing but a membership: enough for governance,
/// which reads neither stones nor proposals. Replays cannot be detected here and
/// need not be: the transaction's inclusion in the chain is proven separately.
struct MembershipView<'m> {
    chain_id: &'m ChainId,
    membership: &'m Membership,
}

impl LedgerView for MembershipView<'_> {
    fn chain_id(&self) -> &ChainId {
        self.chain_id
    }
    fn tip(&self) -> ChainTip {
        // Governance rules do not read the tip.
        ChainTip {
            height: 0,
            hash: BlockHash::default(),
            timestamp_ms: 0,
        }
    }
    fn membership(&self) -> &Membership {
        self.membership
    }
    fn stone(&self, _id: &StoneId) -> StoreResult<Option<Stone>> {
        Ok(None)
    }
    fn proposal(&self, _id: &ProposalId) -> StoreResult<Option<Proposal>> {
        Ok(None)
    }
    fn contains_tx(&self, _id: &TxId) -> StoreResult<bool> {
        Ok(false)
    }
    fn history(&self) -> &HistoryPeaks {
        // Governance rules do not read the history either.
        static EMPTY: HistoryPeaks = HistoryPeaks {
            leaf_count: 0,
            peaks: BoundedVec::EMPTY,
        };
        &EMPTY
    }
}

/// The membership after the governance transaction `event`, applied by the real
/// rules to `membership` (the one in force before it).
pub(super) fn apply_governance(
    chain_id: &ChainId,
    membership: &Membership,
    event: &ProvenEvent,
) -> Result<Membership, ProofError> {
    let height = event.location.height;
    let tx_index = event.location.tx_index;
    if !matches!(event.transaction.tx.action, Action::Governance(_)) {
        return Err(ProofError::NotGovernance { height, tx_index });
    }
    let view = MembershipView {
        chain_id,
        membership,
    };
    let mut overlay = Overlay::new(&view);
    let id = event.transaction.id();
    match rules::apply_transaction(&mut overlay, &event.transaction, id, tx_index, height) {
        Ok(()) => Ok(overlay
            .into_changes()
            .membership
            .unwrap_or_else(|| membership.clone())),
        Err(Stop::Reject(reason)) => Err(rejection(height, tx_index, reason)),
        // The view above never fails; should it ever, the change is unproven.
        Err(Stop::Store(_)) => Err(ProofError::GovernanceNotReplayable { height, tx_index }),
    }
}

/// The proof error for a governance change the rules refuse.
fn rejection(height: u64, tx_index: u32, reason: RejectReason) -> ProofError {
    match reason {
        RejectReason::BadSignature { org } => ProofError::BadSignature {
            height,
            tx_index,
            org,
        },
        RejectReason::KeyNotOfMember { org, .. } => ProofError::KeyNotOfMember {
            height,
            tx_index,
            org,
        },
        RejectReason::UnknownSigner { org } | RejectReason::UnknownApprover { org } => {
            ProofError::SignerNotMember {
                height,
                tx_index,
                org,
            }
        }
        RejectReason::MissingRole { org, role } => ProofError::MissingRole {
            height,
            tx_index,
            org,
            role,
        },
        RejectReason::NotEnoughAdminApprovals {
            approvals,
            required,
        } => ProofError::NotEnoughAdminApprovals {
            height,
            tx_index,
            approvals,
            required,
        },
        reason => ProofError::GovernanceRejected {
            height,
            tx_index,
            reason,
        },
    }
}

/// Checks a stone event's signature: for this chain, exactly one approval, by
/// the signer, with a key the signer held then, verifying strictly over the id.
pub(super) fn check_stone_signature(
    chain_id: &ChainId,
    membership: &Membership,
    event: &ProvenEvent,
) -> Result<(), ProofError> {
    let height = event.location.height;
    let tx_index = event.location.tx_index;
    let tx = &event.transaction.tx;
    if &tx.chain_id != chain_id {
        return Err(ProofError::TxForOtherChain {
            height,
            tx_index,
            found: tx.chain_id.clone(),
        });
    }
    let [approval] = event.transaction.approvals.as_slice() else {
        return Err(ProofError::UnexpectedApprovals {
            height,
            tx_index,
            count: event.transaction.approvals.len() as u32,
        });
    };
    let org = tx.signer.clone();
    if approval.org != org {
        return Err(ProofError::SignerDidNotSign {
            height,
            tx_index,
            signer: org,
        });
    }
    let Some(member) = membership.member(&org) else {
        return Err(ProofError::SignerNotMember {
            height,
            tx_index,
            org,
        });
    };
    if !member.keys.iter().any(|key| key == &approval.key) {
        return Err(ProofError::KeyNotOfMember {
            height,
            tx_index,
            org,
        });
    }
    if !approval.key.verify(tx.id().as_bytes(), &approval.signature) {
        return Err(ProofError::BadSignature {
            height,
            tx_index,
            org,
        });
    }
    Ok(())
}
