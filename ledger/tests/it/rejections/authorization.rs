//! Authorisation: chain, replay, signer, approvals, keys, signatures, and the
//! admin majority of governance. None of these burns the transaction id.

use gemtrail_ledger::ids::ChainId;
use gemtrail_ledger::model::{
    Approval, Outcome, RejectReason, Role, SignedTransaction, Transaction,
};
use gemtrail_ledger::testkit::{self, key_for, org, stone};

use super::*;

/// Spoils the signature of the approval at `position`.
fn spoil(mut signed: SignedTransaction, position: usize) -> SignedTransaction {
    let mut approvals = signed.approvals.into_inner();
    approvals[position].signature.0[0] ^= 0x01;
    signed.approvals = approvals.try_into().unwrap();
    signed
}

/// The very transaction `tx` (same id), approved by `approvers` (the first is
/// the signer).
fn approved_by(chain: &TestChain, tx: &Transaction, approvers: &[&str]) -> SignedTransaction {
    let mut signed = tx.clone().sign(chain.consortium.key(approvers[0]));
    for approver in &approvers[1..] {
        signed = signed
            .approve(org(approver), chain.consortium.key(approver))
            .unwrap();
    }
    signed
}

fn has_stone(chain: &TestChain, id: &str) -> bool {
    chain.state.stone(&stone(id)).unwrap().is_some()
}

#[test]
fn a_transaction_for_another_chain_is_refused_with_wrong_chain() {
    let mut chain = TestChain::new();
    let other = ChainId::parse("gemtrail-other").unwrap();
    let mut tx = chain
        .consortium
        .unsigned("mine", 1, testkit::register("R-1", 100));
    tx.chain_id = other.clone();
    let signed = tx.sign(chain.consortium.key("mine"));

    let reason = RejectReason::WrongChain {
        expected: chain.consortium.chain_id(),
        found: other,
    };
    assert_refused_unburned(&mut chain, signed, reason);
    assert!(!has_stone(&chain, "R-1"));
}

#[test]
fn a_transaction_submitted_again_in_a_later_block_is_refused_with_replay() {
    let mut chain = TestChain::new();
    let signed = signed_by(&chain, "mine", testkit::register("R-1", 100));
    assert_eq!(chain.submit(signed.clone()), Outcome::Applied);
    let before = observe(&chain);

    let tx_id = signed.id();
    assert_eq!(
        chain.submit(signed),
        rejected(RejectReason::Replay { tx_id })
    );
    assert_eq!(observe(&chain), before);
}

#[test]
fn the_same_transaction_twice_in_one_block_applies_once_then_is_refused_with_replay() {
    let mut chain = TestChain::new();
    let signed = signed_by(&chain, "mine", testkit::register("R-1", 100));
    let tx_id = signed.id();

    let block = chain.apply(vec![signed.clone(), signed]);
    let outcomes: Vec<_> = block.receipts.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        vec![Outcome::Applied, rejected(RejectReason::Replay { tx_id })]
    );
    // The stone was registered once: one creation event.
    assert_eq!(block.changes.events.len(), 1);
    assert!(has_stone(&chain, "R-1"));
}

#[test]
fn a_copy_of_an_applied_transaction_with_a_spoiled_signature_is_still_a_replay() {
    // Replay is checked before any signature: a burned id costs no curve arithmetic.
    let mut chain = TestChain::new();
    let signed = signed_by(&chain, "mine", testkit::register("R-1", 100));
    assert_eq!(chain.submit(signed.clone()), Outcome::Applied);

    let tx_id = signed.id();
    let before = observe(&chain);
    assert_eq!(
        chain.submit(spoil(signed, 0)),
        rejected(RejectReason::Replay { tx_id })
    );
    assert_eq!(observe(&chain), before);
}

#[test]
fn a_transaction_from_a_non_member_is_refused_with_unknown_signer_and_applies_once_admitted() {
    let mut chain = TestChain::new();
    let signed = chain
        .consortium
        .unsigned("newmine", 1, testkit::register("R-1", 100))
        .sign(&key_for("newmine"));

    let reason = RejectReason::UnknownSigner {
        org: org("newmine"),
    };
    assert_refused_unburned(&mut chain, signed.clone(), reason);

    // The id was not burned: once the admins admit the signer, the very same
    // transaction applies.
    let admit = governed(
        &chain,
        Governance::AddMember(new_member("newmine", &[Role::Producer])),
    );
    assert_eq!(chain.submit(admit), Outcome::Applied);
    assert_eq!(chain.submit(signed), Outcome::Applied);
    assert_eq!(custodian(&chain, "R-1"), org("newmine"));
}

#[test]
fn a_transaction_whose_first_approval_is_someone_elses_is_refused_with_signer_did_not_sign() {
    let mut chain = TestChain::new();
    let genuine = signed_by(&chain, "mine", testkit::register("R-1", 100));
    let mut forged = genuine.clone();
    forged.approvals = vec![Approval::new(
        &genuine.tx,
        org("auditor"),
        chain.consortium.key("auditor"),
    )]
    .try_into()
    .unwrap();

    let reason = RejectReason::SignerDidNotSign {
        signer: org("mine"),
    };
    assert_refused_unburned(&mut chain, forged, reason);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn a_transaction_with_no_approval_at_all_is_refused_with_signer_did_not_sign() {
    let mut chain = TestChain::new();
    let genuine = signed_by(&chain, "mine", testkit::register("R-1", 100));
    let mut unsigned = genuine.clone();
    unsigned.approvals = Vec::new().try_into().unwrap();

    let reason = RejectReason::SignerDidNotSign {
        signer: org("mine"),
    };
    assert_refused_unburned(&mut chain, unsigned, reason);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn a_governance_change_whose_first_approval_is_another_admins_is_refused_with_signer_did_not_sign()
{
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let mut signed = by_admins(&chain, &["auditor", "registry"], change);
    // The transaction names `mine` as its signer, but only the other admins approved.
    signed.tx.signer = org("mine");
    let approvals = ["auditor", "registry"]
        .iter()
        .map(|name| Approval::new(&signed.tx, org(name), chain.consortium.key(name)))
        .collect::<Vec<_>>();
    signed.approvals = approvals.try_into().unwrap();

    let reason = RejectReason::SignerDidNotSign {
        signer: org("mine"),
    };
    assert_refused_unburned(&mut chain, signed.clone(), reason);
    let genuine = approved_by(&chain, &signed.tx, &["mine", "registry"]);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn an_ordinary_action_with_two_signatures_is_refused_with_unexpected_approvals() {
    let mut chain = TestChain::new();
    let genuine = signed_by(&chain, "mine", testkit::register("R-1", 100));
    let cosigned = genuine
        .clone()
        .approve(org("auditor"), chain.consortium.key("auditor"))
        .unwrap();

    let reason = RejectReason::UnexpectedApprovals { count: 2 };
    assert_refused_unburned(&mut chain, cosigned, reason);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn an_extra_signature_is_refused_with_unexpected_approvals_before_its_validity_is_looked_at() {
    // The count is checked before any approver or signature: a spoiled second
    // signature by a non-member still reads as "one signature too many".
    let mut chain = TestChain::new();
    let signed = signed_by(&chain, "mine", testkit::register("R-1", 100))
        .approve(org("newcomer"), &key_for("newcomer"))
        .unwrap();

    let reason = RejectReason::UnexpectedApprovals { count: 2 };
    assert_refused_unburned(&mut chain, spoil(signed, 1), reason);
}

#[test]
fn a_governance_change_approved_twice_by_one_admin_is_refused_with_duplicate_approval() {
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let twice = by_admins(&chain, &["mine", "mine"], change);

    let reason = RejectReason::DuplicateApproval { org: org("mine") };
    assert_refused_unburned(&mut chain, twice.clone(), reason);

    // Same transaction (same nonce, same change), approved properly: same id, applies.
    let proper = approved_by(&chain, &twice.tx, &["mine", "auditor"]);
    assert_eq!(proper.id(), twice.id());
    assert_eq!(chain.submit(proper), Outcome::Applied);
    assert!(chain.state.membership().member(&org("trader")).is_none());
}

#[test]
fn a_governance_change_approved_by_a_non_member_is_refused_with_unknown_approver() {
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let signed = by_admins(&chain, &["mine"], change)
        .approve(org("newcomer"), &key_for("newcomer"))
        .unwrap();

    let reason = RejectReason::UnknownApprover {
        org: org("newcomer"),
    };
    assert_refused_unburned(&mut chain, signed.clone(), reason);
    let genuine = approved_by(&chain, &signed.tx, &["mine", "auditor"]);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn a_transaction_signed_with_another_members_key_is_refused_with_key_not_of_member() {
    let mut chain = TestChain::new();
    let genuine = signed_by(&chain, "mine", testkit::register("R-1", 100));
    let wrong_key = genuine.tx.clone().sign(chain.consortium.key("cutter"));

    let reason = RejectReason::KeyNotOfMember {
        org: org("mine"),
        key: public_key("cutter"),
    };
    assert_refused_unburned(&mut chain, wrong_key, reason);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn a_spoiled_signature_is_refused_with_bad_signature_and_the_genuine_one_still_applies() {
    let mut chain = TestChain::new();
    let genuine = signed_by(&chain, "mine", testkit::register("R-1", 100));
    let spoiled = spoil(genuine.clone(), 0);

    let reason = RejectReason::BadSignature { org: org("mine") };
    assert_refused_unburned(&mut chain, spoiled, reason);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn a_spoiled_copy_ahead_of_the_genuine_transaction_in_one_block_does_not_block_it() {
    // The attack the non-burning rule defends against: copy a pending
    // transaction, spoil its signature, get it ordered first.
    let mut chain = TestChain::new();
    let genuine = signed_by(&chain, "mine", testkit::register("R-1", 100));
    let spoiled = spoil(genuine.clone(), 0);

    let block = chain.apply(vec![spoiled, genuine]);
    let outcomes: Vec<_> = block.receipts.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        vec![
            rejected(RejectReason::BadSignature { org: org("mine") }),
            Outcome::Applied
        ]
    );
    assert!(has_stone(&chain, "R-1"));
}

#[test]
fn a_spoiled_co_signature_on_governance_is_refused_with_bad_signature() {
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let genuine = governed(&chain, change);
    let spoiled = spoil(genuine.clone(), 1);

    let reason = RejectReason::BadSignature {
        org: org("auditor"),
    };
    assert_refused_unburned(&mut chain, spoiled, reason);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn a_governance_change_with_one_of_three_admins_is_refused_with_not_enough_admin_approvals() {
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let alone = by_admins(&chain, &["mine"], change);

    let reason = RejectReason::NotEnoughAdminApprovals {
        approvals: 1,
        required: 2,
    };
    assert_refused_unburned(&mut chain, alone.clone(), reason);

    // A second admin approves the very same transaction: same id, and it applies.
    let approved = alone
        .approve(org("registry"), chain.consortium.key("registry"))
        .unwrap();
    assert_eq!(chain.submit(approved), Outcome::Applied);
}

#[test]
fn too_few_admins_is_found_before_a_spoiled_signature() {
    // Signatures are verified last, so a lone admin's spoiled signature is
    // reported as too few approvals.
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let alone = spoil(by_admins(&chain, &["mine"], change), 0);

    let reason = RejectReason::NotEnoughAdminApprovals {
        approvals: 1,
        required: 2,
    };
    assert_refused_unburned(&mut chain, alone, reason);
}

#[test]
fn a_governance_change_co_signed_by_a_non_admin_is_refused_with_missing_role_admin() {
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let signed = by_admins(&chain, &["mine", "cutter"], change);

    let reason = RejectReason::MissingRole {
        org: org("cutter"),
        role: Role::Admin,
    };
    assert_refused_unburned(&mut chain, signed.clone(), reason);
    let genuine = approved_by(&chain, &signed.tx, &["mine", "registry"]);
    assert_eq!(chain.submit(genuine), Outcome::Applied);
}

#[test]
fn a_governance_change_signed_by_a_non_admin_is_refused_with_missing_role_even_with_a_majority() {
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let signed = by_admins(&chain, &["cutter", "mine", "auditor"], change);

    let reason = RejectReason::MissingRole {
        org: org("cutter"),
        role: Role::Admin,
    };
    assert_refused_unburned(&mut chain, signed, reason);
}

#[test]
fn a_non_admin_proposing_governance_alone_is_refused_with_missing_role_not_too_few_approvals() {
    let mut chain = TestChain::new();
    let change = Governance::RemoveMember { org: org("trader") };
    let signed = by_admins(&chain, &["lab"], change);

    let reason = RejectReason::MissingRole {
        org: org("lab"),
        role: Role::Admin,
    };
    assert_refused_unburned(&mut chain, signed, reason);
}
