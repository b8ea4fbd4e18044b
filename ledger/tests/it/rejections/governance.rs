//! Governance: members, keys and nodes. Authorisation passed, so every refusal
//! here burns the transaction id.

use gemtrail_ledger::crypto::PublicKey;
use gemtrail_ledger::ids::NodeId;
use gemtrail_ledger::model::{
    Outcome, RejectReason, Role, RoleSet, SignedTransaction, MEMBERS_MAX, NODES_MAX,
};
use gemtrail_ledger::testkit::{key_for, node_record, org, text, TestChain, MEMBERS};

use super::*;

/// The compressed identity point (y = 1): a valid point of small order.
fn weak_key() -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    PublicKey(bytes)
}

/// y = 2: no point of the curve has it.
fn non_point() -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 2;
    PublicKey(bytes)
}

fn fresh_key(name: &str) -> PublicKey {
    key_for(&format!("fresh {name}")).public_key()
}

fn update(name: &str, roles: &[Role]) -> Governance {
    Governance::UpdateMember {
        org: org(name),
        name: text(&format!("{name} ltd")),
        roles: roles.iter().copied().collect::<RoleSet>(),
    }
}

/// Governance changes approved by `mine` and `auditor`, all in one block, each
/// with its own nonce; asserts they all applied.
fn apply_all(chain: &mut TestChain, changes: Vec<Governance>) {
    let base = nonce(chain, 0);
    let txs: Vec<SignedTransaction> = changes
        .into_iter()
        .zip(base..)
        .map(|(change, nonce)| {
            chain
                .consortium
                .governance(&["mine", "auditor"], nonce, change)
        })
        .collect();
    let block = chain.apply(txs);
    assert!(block.receipts.iter().all(|r| r.outcome.is_applied()));
}

fn admins(chain: &TestChain) -> usize {
    chain.state.membership().admin_count()
}

// --- members ---

#[test]
fn adding_a_member_that_exists_is_refused_with_member_exists() {
    let mut chain = TestChain::new();
    let again = member_with_keys("cutter", &[Role::Trader], vec![fresh_key("cutter")]);
    let reason = RejectReason::MemberExists { org: org("cutter") };
    assert_governance_refused(&mut chain, Governance::AddMember(again), reason);
}

#[test]
fn an_existing_member_is_reported_as_existing_before_its_missing_keys() {
    let mut chain = TestChain::new();
    let again = member_with_keys("cutter", &[Role::Trader], vec![]);
    let reason = RejectReason::MemberExists { org: org("cutter") };
    assert_governance_refused(&mut chain, Governance::AddMember(again), reason);
}

#[test]
fn changing_a_member_that_does_not_exist_is_refused_with_unknown_member() {
    let mut chain = TestChain::new();
    let reason = || RejectReason::UnknownMember { org: org("ghost") };
    let changes = [
        update("ghost", &[Role::Trader]),
        // Unknown comes before the empty role set.
        update("ghost", &[]),
        Governance::RemoveMember { org: org("ghost") },
        Governance::RotateKey {
            org: org("ghost"),
            old: fresh_key("ghost-old"),
            new: fresh_key("ghost-new"),
        },
        Governance::AddNode(node_record(9, "ghost")),
    ];
    for change in changes {
        assert_governance_refused(&mut chain, change, reason());
    }
}

#[test]
fn a_member_without_keys_or_roles_is_refused_with_incomplete_member() {
    let mut chain = TestChain::new();
    let reason = || RejectReason::IncompleteMember { org: org("newlab") };
    let keyless = member_with_keys("newlab", &[Role::Lab], vec![]);
    let roleless = member_with_keys("newlab", &[], vec![fresh_key("newlab")]);
    for member in [keyless, roleless] {
        assert_governance_refused(&mut chain, Governance::AddMember(member), reason());
    }
}

#[test]
fn taking_every_role_from_a_member_is_refused_with_incomplete_member() {
    let mut chain = TestChain::new();
    let reason = RejectReason::IncompleteMember { org: org("lab") };
    assert_governance_refused(&mut chain, update("lab", &[]), reason);
}

#[test]
fn adding_a_member_beyond_members_max_is_refused_with_too_many_members() {
    let mut chain = TestChain::new();
    let room = MEMBERS_MAX - MEMBERS.len();
    let fill = (0..room)
        .map(|i| {
            let name = format!("member-{i:04}");
            Governance::AddMember(new_member(&name, &[Role::Trader]))
        })
        .collect();
    apply_all(&mut chain, fill);
    assert_eq!(chain.state.membership().members.len(), MEMBERS_MAX);

    let reason = || RejectReason::TooManyMembers {
        max: MEMBERS_MAX as u32,
    };
    let one_more = new_member("one-more", &[Role::Trader]);
    assert_governance_refused(&mut chain, Governance::AddMember(one_more), reason());
    // The limit is checked first: even an existing member gets "full".
    let existing = new_member("cutter", &[Role::Trader]);
    assert_governance_refused(&mut chain, Governance::AddMember(existing), reason());
}

// --- keys ---

#[test]
fn registering_a_weak_key_is_refused_with_weak_key() {
    let mut chain = TestChain::new();
    let reason = || RejectReason::WeakKey { key: weak_key() };
    let member = member_with_keys("newlab", &[Role::Lab], vec![weak_key()]);
    assert_governance_refused(&mut chain, Governance::AddMember(member), reason());

    let rotate = Governance::RotateKey {
        org: org("lab"),
        old: public_key("lab"),
        new: weak_key(),
    };
    assert_governance_refused(&mut chain, rotate, reason());
}

#[test]
fn registering_bytes_that_are_not_a_curve_point_is_refused_with_malformed_key() {
    let mut chain = TestChain::new();
    let reason = || RejectReason::MalformedKey { key: non_point() };
    // The bad key comes second: every key is checked, not only the first.
    let keys = vec![fresh_key("newlab"), non_point()];
    let member = member_with_keys("newlab", &[Role::Lab], keys);
    assert_governance_refused(&mut chain, Governance::AddMember(member), reason());

    let rotate = Governance::RotateKey {
        org: org("lab"),
        old: public_key("lab"),
        new: non_point(),
    };
    assert_governance_refused(&mut chain, rotate, reason());
}

#[test]
fn registering_a_key_another_member_holds_is_refused_with_key_in_use() {
    let mut chain = TestChain::new();
    let reason = || RejectReason::KeyInUse {
        key: public_key("mine"),
        org: org("mine"),
    };
    let member = member_with_keys("newlab", &[Role::Lab], vec![public_key("mine")]);
    assert_governance_refused(&mut chain, Governance::AddMember(member), reason());

    let rotate = Governance::RotateKey {
        org: org("lab"),
        old: public_key("lab"),
        new: public_key("mine"),
    };
    assert_governance_refused(&mut chain, rotate, reason());
}

#[test]
fn listing_one_key_twice_for_a_new_member_is_refused_with_key_in_use() {
    let mut chain = TestChain::new();
    let key = fresh_key("newlab");
    let member = member_with_keys("newlab", &[Role::Lab], vec![key, key]);
    let reason = RejectReason::KeyInUse {
        key,
        org: org("newlab"),
    };
    assert_governance_refused(&mut chain, Governance::AddMember(member), reason);
}

#[test]
fn rotating_a_key_to_itself_is_refused_with_key_in_use() {
    let mut chain = TestChain::new();
    let rotate = Governance::RotateKey {
        org: org("lab"),
        old: public_key("lab"),
        new: public_key("lab"),
    };
    let reason = RejectReason::KeyInUse {
        key: public_key("lab"),
        org: org("lab"),
    };
    assert_governance_refused(&mut chain, rotate, reason);
}

#[test]
fn rotating_a_key_the_member_does_not_hold_is_refused_with_key_not_of_member() {
    // Unlike a signature by the wrong key, this refusal comes from the rule, so
    // the id is burned.
    let mut chain = TestChain::new();
    let rotate = Governance::RotateKey {
        org: org("lab"),
        old: public_key("cutter"),
        new: fresh_key("lab"),
    };
    let reason = RejectReason::KeyNotOfMember {
        org: org("lab"),
        key: public_key("cutter"),
    };
    assert_governance_refused(&mut chain, rotate, reason);
}

// --- admins ---

#[test]
fn demoting_the_last_admin_is_refused_with_last_admin() {
    let mut chain = TestChain::new();
    // Three admins; two demotions leave `mine` alone (the majority shrinks to 1).
    apply_all(&mut chain, vec![update("registry", &[Role::Trader])]);
    apply_all(&mut chain, vec![update("auditor", &[Role::Auditor])]);
    assert_eq!(admins(&chain), 1);

    let demote = by_admins(&chain, &["mine"], update("mine", &[Role::Producer]));
    assert_refused(&mut chain, demote, RejectReason::LastAdmin);
    assert_eq!(admins(&chain), 1);
}

#[test]
fn removing_the_last_admin_is_refused_with_last_admin() {
    let mut chain = TestChain::new();
    apply_all(&mut chain, vec![update("mine", &[Role::Producer])]);
    let demote_auditor = by_admins(
        &chain,
        &["auditor", "registry"],
        update("auditor", &[Role::Auditor]),
    );
    assert_eq!(chain.submit(demote_auditor), Outcome::Applied);
    assert_eq!(admins(&chain), 1);

    let remove = Governance::RemoveMember {
        org: org("registry"),
    };
    let signed = by_admins(&chain, &["registry"], remove);
    assert_refused(&mut chain, signed, RejectReason::LastAdmin);
}

#[test]
fn removing_a_member_that_runs_a_node_is_refused_with_member_runs_node() {
    let mut chain = TestChain::new();
    let remove = Governance::RemoveMember { org: org("cutter") };
    let reason = RejectReason::MemberRunsNode {
        org: org("cutter"),
        node: NodeId(2),
    };
    assert_governance_refused(&mut chain, remove.clone(), reason);

    // Once its node is gone, the member may go.
    apply_all(&mut chain, vec![Governance::RemoveNode { node: NodeId(2) }]);
    apply_all(&mut chain, vec![remove]);
    assert!(chain.state.membership().member(&org("cutter")).is_none());
}

// --- nodes ---

#[test]
fn adding_a_node_whose_id_or_peer_id_is_taken_is_refused_with_node_exists() {
    let mut chain = TestChain::new();
    let same_id = node_record(2, "lab");
    let reason = RejectReason::NodeExists { node: NodeId(2) };
    assert_governance_refused(&mut chain, Governance::AddNode(same_id), reason);

    let mut same_peer = node_record(9, "lab");
    same_peer.peer_id = node_record(1, "mine").peer_id;
    let reason = RejectReason::NodeExists { node: NodeId(9) };
    assert_governance_refused(&mut chain, Governance::AddNode(same_peer), reason);
}

#[test]
fn removing_a_node_that_does_not_exist_is_refused_with_unknown_node() {
    let mut chain = TestChain::new();
    let remove = Governance::RemoveNode { node: NodeId(9) };
    let reason = RejectReason::UnknownNode { node: NodeId(9) };
    assert_governance_refused(&mut chain, remove, reason);
}

#[test]
fn removing_the_last_node_is_refused_with_node_count_out_of_range() {
    let mut chain = TestChain::new();
    apply_all(
        &mut chain,
        vec![
            Governance::RemoveNode { node: NodeId(2) },
            Governance::RemoveNode { node: NodeId(3) },
        ],
    );
    let remove = Governance::RemoveNode { node: NodeId(1) };
    let reason = RejectReason::NodeCountOutOfRange {
        max: NODES_MAX as u32,
    };
    assert_governance_refused(&mut chain, remove, reason);
    assert_eq!(chain.state.membership().nodes.len(), 1);
}

#[test]
fn adding_a_node_beyond_nodes_max_is_refused_with_node_count_out_of_range() {
    let mut chain = TestChain::new();
    let fill = (4..=NODES_MAX as u64)
        .map(|id| Governance::AddNode(node_record(id, "lab")))
        .collect();
    apply_all(&mut chain, fill);
    assert_eq!(chain.state.membership().nodes.len(), NODES_MAX);

    let reason = || RejectReason::NodeCountOutOfRange {
        max: NODES_MAX as u32,
    };
    let one_more = node_record(NODES_MAX as u64 + 1, "lab");
    assert_governance_refused(&mut chain, Governance::AddNode(one_more), reason());
    // The count is checked first: even a taken id gets "out of range".
    let taken = node_record(2, "lab");
    assert_governance_refused(&mut chain, Governance::AddNode(taken), reason());
}

#[test]
fn a_swap_at_nodes_max_applies_as_remove_then_add_and_never_exceeds_it() {
    let mut chain = TestChain::new();
    let fill = (4..=NODES_MAX as u64)
        .map(|id| Governance::AddNode(node_record(id, "lab")))
        .collect();
    apply_all(&mut chain, fill);
    let newcomer = node_record(NODES_MAX as u64 + 1, "lab");
    // Added first, the newcomer would make 65: refused, and nothing changes.
    let reason = RejectReason::NodeCountOutOfRange {
        max: NODES_MAX as u32,
    };
    assert_governance_refused(&mut chain, Governance::AddNode(newcomer.clone()), reason);
    // Removed first, in the same block, the swap fits.
    let swap = vec![
        Governance::RemoveNode { node: NodeId(7) },
        Governance::AddNode(newcomer.clone()),
    ];
    apply_all(&mut chain, swap);
    let nodes = &chain.state.membership().nodes;
    assert_eq!(nodes.len(), NODES_MAX);
    assert!(!nodes.contains_key(&NodeId(7)));
    assert_eq!(nodes.get(&newcomer.id), Some(&newcomer));
}

#[test]
fn adding_a_removed_members_id_again_is_refused_with_member_retired() {
    let mut chain = TestChain::new();
    apply_all(
        &mut chain,
        vec![Governance::RemoveMember { org: org("lab") }],
    );
    assert!(chain.state.membership().retired.contains(&org("lab")));
    // Same id, a fresh key and another trade: still refused.
    let comeback = member_with_keys("lab", &[Role::Trader], vec![fresh_key("lab")]);
    let reason = RejectReason::MemberRetired { org: org("lab") };
    assert_governance_refused(&mut chain, Governance::AddMember(comeback), reason);
    assert!(chain.state.membership().member(&org("lab")).is_none());
}
