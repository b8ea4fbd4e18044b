//! Transfers: proposing a parcel, and accepting, rejecting or cancelling it.

use gemtrail_ledger::model::{FlagReason, ProposalStatus, RejectReason};
use gemtrail_ledger::testkit::{
    accept, cancel, flag, org, propose, register, reject, stone, TestChain,
};

use super::*;

fn status(chain: &TestChain, proposal: ProposalId) -> ProposalStatus {
    chain.state.proposals()[&proposal].status
}

#[test]
fn proposing_an_empty_parcel_is_refused_with_empty_parcel() {
    let mut chain = chain_with(&["R-1"]);
    let empty = propose(&[], "cutter");
    assert_act_refused(&mut chain, "mine", empty, RejectReason::EmptyParcel);
}

#[test]
fn an_empty_parcel_to_oneself_is_refused_with_empty_parcel_first() {
    let mut chain = TestChain::new();
    let empty = propose(&[], "mine");
    assert_act_refused(&mut chain, "mine", empty, RejectReason::EmptyParcel);
}

#[test]
fn proposing_a_transfer_to_oneself_is_refused_with_transfer_to_self() {
    let mut chain = chain_with(&["R-1"]);
    let to_self = propose(&["R-1"], "mine");
    assert_act_refused(&mut chain, "mine", to_self, RejectReason::TransferToSelf);
}

#[test]
fn proposing_to_a_non_member_is_refused_with_unknown_receiver() {
    let mut chain = chain_with(&["R-1"]);
    let reason = RejectReason::UnknownReceiver { org: org("fence") };
    assert_act_refused(&mut chain, "mine", propose(&["R-1"], "fence"), reason);
}

#[test]
fn a_stone_listed_twice_in_one_parcel_is_refused_with_duplicate_stone() {
    let mut chain = chain_with(&["R-1", "R-2"]);
    let reason = RejectReason::DuplicateStone {
        stone: stone("R-1"),
    };
    let parcel = propose(&["R-1", "R-2", "R-1"], "cutter");
    assert_act_refused(&mut chain, "mine", parcel, reason);
}

#[test]
fn a_parcel_with_a_stone_already_in_another_open_proposal_is_refused_with_stone_in_open_proposal() {
    let mut chain = chain_with(&["R-1", "R-2"]);
    let first = chain.must("mine", propose(&["R-1"], "cutter"));
    let reason = RejectReason::StoneInOpenProposal {
        stone: stone("R-1"),
        proposal: first,
    };
    // R-2 is free, but the whole parcel is refused and R-2 stays unlocked
    // (`assert_act_refused` checks no stone changed).
    let parcel = propose(&["R-2", "R-1"], "trader");
    assert_act_refused(&mut chain, "mine", parcel, reason);
    assert_eq!(status(&chain, first), ProposalStatus::Open);
}

#[test]
fn answering_a_proposal_that_does_not_exist_is_refused_with_unknown_proposal() {
    // A real transaction id, but not of a proposal.
    let mut chain = TestChain::new();
    let registration = chain.must("mine", register("R-1", 1000));
    let reason = || RejectReason::UnknownProposal {
        proposal: registration,
    };
    assert_act_refused(&mut chain, "cutter", accept(registration), reason());
    assert_act_refused(&mut chain, "cutter", reject(registration), reason());
    assert_act_refused(&mut chain, "mine", cancel(registration), reason());
}

#[test]
fn answering_an_accepted_proposal_is_refused_with_proposal_closed() {
    let mut chain = chain_with(&["R-1"]);
    let offer = chain.must("mine", propose(&["R-1"], "cutter"));
    chain.must("cutter", accept(offer));
    let closed = || RejectReason::ProposalClosed {
        proposal: offer,
        status: ProposalStatus::Accepted,
    };
    assert_act_refused(&mut chain, "cutter", accept(offer), closed());
    assert_act_refused(&mut chain, "cutter", reject(offer), closed());
    assert_act_refused(&mut chain, "mine", cancel(offer), closed());
    assert_eq!(custodian(&chain, "R-1"), org("cutter"));
}

#[test]
fn accepting_a_rejected_proposal_is_refused_with_proposal_closed() {
    let mut chain = chain_with(&["R-1"]);
    let offer = chain.must("mine", propose(&["R-1"], "cutter"));
    chain.must("cutter", reject(offer));
    let reason = RejectReason::ProposalClosed {
        proposal: offer,
        status: ProposalStatus::Rejected,
    };
    assert_act_refused(&mut chain, "cutter", accept(offer), reason);
    assert_eq!(custodian(&chain, "R-1"), org("mine"));
}

#[test]
fn accepting_a_cancelled_proposal_is_refused_with_proposal_closed() {
    let mut chain = chain_with(&["R-1"]);
    let offer = chain.must("mine", propose(&["R-1"], "cutter"));
    chain.must("mine", cancel(offer));
    let reason = RejectReason::ProposalClosed {
        proposal: offer,
        status: ProposalStatus::Cancelled,
    };
    assert_act_refused(&mut chain, "cutter", accept(offer), reason);
    assert_eq!(custodian(&chain, "R-1"), org("mine"));
}

#[test]
fn a_closed_proposal_is_reported_closed_even_to_a_stranger_to_it() {
    // Status is checked before the receiver.
    let mut chain = chain_with(&["R-1"]);
    let offer = chain.must("mine", propose(&["R-1"], "cutter"));
    chain.must("mine", cancel(offer));
    let reason = RejectReason::ProposalClosed {
        proposal: offer,
        status: ProposalStatus::Cancelled,
    };
    assert_act_refused(&mut chain, "trader", accept(offer), reason);
}

#[test]
fn answering_a_proposal_addressed_to_someone_else_is_refused_with_not_receiver() {
    let mut chain = chain_with(&["R-1"]);
    let offer = chain.must("mine", propose(&["R-1"], "cutter"));
    let reason = || RejectReason::NotReceiver {
        proposal: offer,
        receiver: org("cutter"),
    };
    assert_act_refused(&mut chain, "trader", accept(offer), reason());
    assert_act_refused(&mut chain, "trader", reject(offer), reason());
    // Not even the proposer may accept its own offer.
    assert_act_refused(&mut chain, "mine", accept(offer), reason());
    assert_eq!(status(&chain, offer), ProposalStatus::Open);
}

#[test]
fn cancelling_someone_elses_proposal_is_refused_with_not_proposer() {
    let mut chain = chain_with(&["R-1"]);
    let offer = chain.must("mine", propose(&["R-1"], "cutter"));
    let reason = || RejectReason::NotProposer {
        proposal: offer,
        proposer: org("mine"),
    };
    // Neither the receiver nor a bystander may withdraw it.
    assert_act_refused(&mut chain, "cutter", cancel(offer), reason());
    assert_act_refused(&mut chain, "trader", cancel(offer), reason());
    assert_eq!(status(&chain, offer), ProposalStatus::Open);
}

#[test]
fn accepting_after_a_stone_of_the_parcel_was_flagged_is_refused_and_custody_does_not_move() {
    let mut chain = chain_with(&["R-1", "R-2"]);
    let offer = chain.must("mine", propose(&["R-1", "R-2"], "cutter"));
    chain.must("auditor", flag("R-2", FlagReason::Disputed));

    let reason = RejectReason::StoneFlagged {
        stone: stone("R-2"),
        reason: FlagReason::Disputed,
    };
    assert_act_refused(&mut chain, "cutter", accept(offer), reason);
    // Neither stone moved: the parcel moves whole or not at all.
    assert_eq!(custodian(&chain, "R-1"), org("mine"));
    assert_eq!(custodian(&chain, "R-2"), org("mine"));
    assert_eq!(status(&chain, offer), ProposalStatus::Open);

    // The receiver may still refuse it, which unlocks both stones.
    chain.must("cutter", reject(offer));
    let r1 = chain.state.stones()[&stone("R-1")].open_proposal;
    assert_eq!(r1, None);
}

#[test]
fn accepting_an_offer_of_a_removed_member_is_refused_with_proposer_not_member() {
    let mut chain = held_by("trader", "R-1");
    let offer = chain.must("trader", propose(&["R-1"], "retailer"));
    let remove = governed(
        &chain,
        gemtrail_ledger::model::Governance::RemoveMember { org: org("trader") },
    );
    assert!(chain.submit(remove).is_applied());
    let reason = RejectReason::ProposerNotMember {
        proposal: offer,
        org: org("trader"),
    };
    assert_act_refused(&mut chain, "retailer", accept(offer), reason);
    assert_eq!(custodian(&chain, "R-1"), org("trader"));
    // The receiver may still close the dead offer.
    chain.must("retailer", reject(offer));
    assert_eq!(status(&chain, offer), ProposalStatus::Rejected);
}
