//! One test per [`RejectReason`]: each drives the real state machine (through
//! `testkit::TestChain`) into that rejection, asserts the exact reason with its
//! fields, and checks that the rejected transaction changed no state.
//!
//! Two families of rejection differ in what they do to the transaction id:
//! - refused *at authorisation* (wrong chain, replay, signer and signature
//!   faults, admin majority): the id is **not** burned, so nobody can spoil a
//!   copy of a member's pending transaction to get the genuine one refused;
//!   [`assert_refused_unburned`] checks that;
//! - refused *by the action's rule*: the id **is** burned, and a copy is refused
//!   as a replay; [`assert_refused`] checks that.
//!
//! Submodules follow the rules' modules: `authorization`, `stones`, `transfers`,
//! `governance`; `reasons` covers the stable codes and the messages, and holds
//! the index of which test covers which reason.

mod authorization;
mod governance;
mod reasons;
mod stones;
mod transfers;

use std::collections::BTreeMap;

use gemtrail_ledger::crypto::PublicKey;
use gemtrail_ledger::ids::{OrgId, ProposalId, StoneId};
use gemtrail_ledger::model::{
    Action, Governance, Member, Membership, Outcome, Proposal, RejectReason, Role, RoleSet,
    SignedTransaction, Stone,
};
use gemtrail_ledger::state::{IndexedTx, LedgerView};
use gemtrail_ledger::testkit::{self, key_for, org, stone, text, TestChain};

/// Everything a transaction could change, to compare before and after.
#[derive(Debug, PartialEq)]
struct Observed {
    stones: BTreeMap<StoneId, Stone>,
    proposals: BTreeMap<ProposalId, Proposal>,
    membership: Membership,
}

fn observe(chain: &TestChain) -> Observed {
    Observed {
        stones: chain.state.stones().clone(),
        proposals: chain.state.proposals().clone(),
        membership: chain.state.membership().clone(),
    }
}

fn rejected(reason: RejectReason) -> Outcome {
    Outcome::Rejected { reason }
}

/// A nonce that `TestChain::act` (which uses `blocks * 1000 + 1`) never picks,
/// plus `offset` for several transactions built before the same block.
fn nonce(chain: &TestChain, offset: u64) -> u64 {
    chain.blocks.len() as u64 * 1_000 + 500 + offset
}

/// `signer` signs `action` with its own key.
fn signed_by(chain: &TestChain, signer: &str, action: Action) -> SignedTransaction {
    chain.consortium.tx(signer, nonce(chain, 0), action)
}

/// A governance change approved by `approvers` (the first is the signer).
fn by_admins(chain: &TestChain, approvers: &[&str], change: Governance) -> SignedTransaction {
    chain
        .consortium
        .governance(approvers, nonce(chain, 0), change)
}

/// The usual governance approval: two of the three admins.
fn governed(chain: &TestChain, change: Governance) -> SignedTransaction {
    by_admins(chain, &["mine", "auditor"], change)
}

/// Submits `signed` alone in a block and asserts that it is refused for exactly
/// `reason`, changed nothing, and burned its id: a copy is refused as a replay
/// (and changes nothing either).
fn assert_refused(chain: &mut TestChain, signed: SignedTransaction, reason: RejectReason) {
    let before = observe(chain);
    assert_eq!(chain.submit(signed.clone()), rejected(reason));
    assert_eq!(
        observe(chain),
        before,
        "a rejected transaction changed state"
    );
    assert!(chain.state.contains_tx(&signed.id()).unwrap());

    let tx_id = signed.id();
    assert_eq!(
        chain.submit(signed),
        rejected(RejectReason::Replay { tx_id })
    );
    assert_eq!(observe(chain), before, "a replay changed state");
}

/// `signer` does `action` and [`assert_refused`] it.
fn assert_act_refused(chain: &mut TestChain, signer: &str, action: Action, reason: RejectReason) {
    let signed = signed_by(chain, signer, action);
    assert_refused(chain, signed, reason);
}

/// A governance change by `mine` and `auditor`, [`assert_refused`].
fn assert_governance_refused(chain: &mut TestChain, change: Governance, reason: RejectReason) {
    let signed = governed(chain, change);
    assert_refused(chain, signed, reason);
}

/// Submits `signed` alone in a block and asserts that it is refused at
/// authorisation for exactly `reason`, changed nothing, and did **not** burn
/// its id (the block indexes it as not burned).
fn assert_refused_unburned(chain: &mut TestChain, signed: SignedTransaction, reason: RejectReason) {
    let before = observe(chain);
    let id = signed.id();
    let block = chain.apply(vec![signed]);
    assert_eq!(block.receipts[0].outcome, rejected(reason));
    assert_eq!(
        block.changes.indexed_txs,
        vec![IndexedTx {
            id,
            tx_index: 0,
            burned: false
        }]
    );
    assert_eq!(
        observe(chain),
        before,
        "a rejected transaction changed state"
    );
    assert!(!chain.state.contains_tx(&id).unwrap());
}

/// A chain where `mine` has registered each of `roughs` at 1000 points.
fn chain_with(roughs: &[&str]) -> TestChain {
    let mut chain = TestChain::new();
    for id in roughs {
        chain.must("mine", testkit::register(id, 1000));
    }
    chain
}

/// A chain where `holder` holds the 1000-point rough `id` (handed over by `mine`).
fn held_by(holder: &str, id: &str) -> TestChain {
    let mut chain = chain_with(&[id]);
    hand_over(&mut chain, "mine", id, holder);
    chain
}

/// `from` proposes `id` to `to`, who accepts.
fn hand_over(chain: &mut TestChain, from: &str, id: &str, to: &str) {
    let offer = chain.must(from, testkit::propose(&[id], to));
    chain.must(to, testkit::accept(offer));
}

/// The custodian of `id` now.
fn custodian(chain: &TestChain, id: &str) -> OrgId {
    chain.state.stone(&stone(id)).unwrap().unwrap().custodian
}

/// A member `name` with one fresh key and `roles`.
fn new_member(name: &str, roles: &[Role]) -> Member {
    member_with_keys(name, roles, vec![key_for(name).public_key()])
}

fn member_with_keys(name: &str, roles: &[Role], keys: Vec<PublicKey>) -> Member {
    Member {
        org: org(name),
        name: text(&format!("{name} ltd")),
        roles: roles.iter().copied().collect::<RoleSet>(),
        keys: keys.try_into().unwrap(),
    }
}

/// The public key of a test member.
fn public_key(name: &str) -> PublicKey {
    key_for(name).public_key()
}
