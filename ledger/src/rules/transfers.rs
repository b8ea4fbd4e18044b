//! Custody transfers: propose, accept, reject, cancel.
//!
//! The custodian proposes a parcel; its stones are then locked in the proposal
//! (they cannot be proposed again, cut or sold). Custody of the whole parcel moves
//! atomically when the receiver accepts; rejecting or cancelling unlocks it.

use std::collections::BTreeSet;

use super::predicates::{
    check_answerer, check_movable, check_proposer_is_member, check_receiver_is_member,
    check_unflagged, Answer,
};
use super::{existing_stone, RuleResult, Stop, TxContext};
use crate::ids::ProposalId;
use crate::model::{Proposal, ProposalStatus, ProposeTransfer, RejectReason, StoneStatus};
use crate::state::{LedgerView, Overlay};

/// Opens a proposal for a parcel the signer holds.
pub(super) fn propose<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    propose: &ProposeTransfer,
) -> RuleResult {
    if propose.stones.is_empty() {
        return Err(RejectReason::EmptyParcel.into());
    }
    if &propose.to == context.signer {
        return Err(RejectReason::TransferToSelf.into());
    }
    check_receiver_is_member(overlay.membership(), &propose.to)?;
    let mut seen = BTreeSet::new();
    let mut parcel = Vec::with_capacity(propose.stones.len());
    for id in propose.stones.iter() {
        if !seen.insert(id) {
            return Err(RejectReason::DuplicateStone { stone: id.clone() }.into());
        }
        let stone = existing_stone(overlay, id)?;
        check_movable(&stone.facts(), context.signer)?;
        parcel.push(stone);
    }

    for mut stone in parcel {
        stone.open_proposal = Some(context.id);
        overlay.record_stone_event(stone);
    }
    overlay.put_proposal(Proposal {
        id: context.id,
        from: context.signer.clone(),
        to: propose.to.clone(),
        stones: propose.stones.clone(),
        terms_commitment: propose.terms_commitment,
        status: ProposalStatus::Open,
        opened_at: context.height,
    });
    Ok(())
}

fn open_proposal<V: LedgerView + ?Sized>(
    overlay: &Overlay<'_, V>,
    id: &ProposalId,
) -> RuleResult<Proposal> {
    let proposal = overlay
        .proposal(id)?
        .ok_or(Stop::Reject(RejectReason::UnknownProposal {
            proposal: *id,
        }))?;
    if proposal.status != ProposalStatus::Open {
        return Err(RejectReason::ProposalClosed {
            proposal: *id,
            status: proposal.status,
        }
        .into());
    }
    Ok(proposal)
}

/// Closes `proposal` with `status`, unlocking its stones; when accepted, custody
/// of every stone moves to the receiver.
fn close<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    mut proposal: Proposal,
    status: ProposalStatus,
) -> RuleResult {
    let mut parcel = Vec::with_capacity(proposal.stones.len());
    for id in proposal.stones.iter() {
        let stone = existing_stone(overlay, id)?;
        // A stone in an open proposal can neither move nor change status: a broken
        // lock means the state is corrupt, not that the transaction is wrong.
        if stone.open_proposal != Some(proposal.id)
            || stone.custodian != proposal.from
            || stone.status != StoneStatus::Active
        {
            return Err(Stop::Store(crate::error::StoreError::Inconsistent(
                format!("stone {id} lost its lock on open proposal {}", proposal.id),
            )));
        }
        if status == ProposalStatus::Accepted {
            check_unflagged(&stone.facts())?;
        }
        parcel.push(stone);
    }

    for mut stone in parcel {
        stone.open_proposal = None;
        if status == ProposalStatus::Accepted {
            stone.custodian = proposal.to.clone();
        }
        overlay.record_stone_event(stone);
    }
    proposal.status = status;
    overlay.put_proposal(proposal);
    Ok(())
}

/// The receiver accepts: the whole parcel moves to it, unless a stone was
/// flagged since the proposal or the proposer has been removed.
pub(super) fn accept<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    id: &ProposalId,
) -> RuleResult {
    let proposal = open_proposal(overlay, id)?;
    let (from, to) = (&proposal.from, &proposal.to);
    check_answerer(proposal.id, from, to, context.signer, Answer::Accept)?;
    check_proposer_is_member(overlay.membership(), proposal.id, from)?;
    close(overlay, proposal, ProposalStatus::Accepted)
}

/// The receiver refuses.
pub(super) fn reject<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    id: &ProposalId,
) -> RuleResult {
    let proposal = open_proposal(overlay, id)?;
    let (from, to) = (&proposal.from, &proposal.to);
    check_answerer(proposal.id, from, to, context.signer, Answer::Reject)?;
    close(overlay, proposal, ProposalStatus::Rejected)
}

/// The proposer withdraws.
pub(super) fn cancel<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    id: &ProposalId,
) -> RuleResult {
    let proposal = open_proposal(overlay, id)?;
    let (from, to) = (&proposal.from, &proposal.to);
    check_answerer(proposal.id, from, to, context.signer, Answer::Cancel)?;
    close(overlay, proposal, ProposalStatus::Cancelled)
}
