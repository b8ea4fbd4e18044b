//! The ledger genesis a valid document founds.

use gemtrail_genesis::sample::SAMPLE_GENESIS_TIME_MS;
use gemtrail_ledger::ids::{NodeId, OrgId};
use gemtrail_ledger::model::{Role, RoleSet};
use gemtrail_ledger::state::{LedgerView, MemoryState};

use crate::example;

fn org(id: &str) -> OrgId {
    OrgId::parse(id).unwrap()
}

#[test]
fn ledger_genesis_carries_the_chain_hash_and_time() {
    let sample = example();
    let genesis = sample.genesis().ledger_genesis();
    assert_eq!(genesis.chain_id.as_str(), "gemtrail-demo");
    assert_eq!(genesis.genesis_hash, sample.genesis().hash());
    assert_eq!(genesis.timestamp_ms, SAMPLE_GENESIS_TIME_MS);
    let state = MemoryState::new(&genesis);
    assert_eq!(state.tip().height, 0);
    assert_eq!(state.tip().hash, sample.genesis().hash());
}

#[test]
fn ledger_genesis_has_every_member_with_roles_and_keys() {
    let sample = example();
    let membership = sample.genesis().ledger_genesis().membership;
    let ids: Vec<&str> = membership.members.keys().map(OrgId::as_str).collect();
    assert_eq!(ids, ["auditor", "cutter", "lab", "miner", "retailer"]);
    let roles = |id: &str| membership.members[&org(id)].roles;
    let set = |roles: &[Role]| roles.iter().copied().collect::<RoleSet>();
    assert_eq!(roles("miner"), set(&[Role::Producer, Role::Admin]));
    assert_eq!(roles("cutter"), set(&[Role::Manufacturer, Role::Admin]));
    assert_eq!(roles("lab"), set(&[Role::Lab]));
    assert_eq!(roles("retailer"), set(&[Role::Retailer]));
    assert_eq!(roles("auditor"), set(&[Role::Auditor, Role::Admin]));
    assert_eq!(membership.admin_count(), 3);
    assert_eq!(membership.admin_majority(), 2);
    assert_eq!(
        membership.members[&org("miner")].name.as_str(),
        "Kimberley Mining Co."
    );
    for (id, secret) in sample.member_keys() {
        let member = &membership.members[id];
        assert_eq!(member.keys.as_slice(), [secret.public_key()]);
        assert_eq!(membership.key_owner(&secret.public_key()), Some(id));
    }
}

#[test]
fn ledger_genesis_has_every_node_with_its_peer_id_and_addresses() {
    let sample = example();
    let membership = sample.genesis().ledger_genesis().membership;
    let nodes: Vec<(u64, &str, &str, &str)> = membership
        .nodes
        .values()
        .map(|node| {
            (
                node.id.0,
                node.owner.as_str(),
                node.listen_addr.as_str(),
                node.api_addr.as_str(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            (1, "miner", "/ip4/127.0.0.1/tcp/7000", "127.0.0.1:7001"),
            (2, "cutter", "/ip4/127.0.0.1/tcp/7002", "127.0.0.1:7003"),
            (3, "retailer", "/ip4/127.0.0.1/tcp/7004", "127.0.0.1:7005"),
        ]
    );
    for (id, keypair) in sample.node_keypairs() {
        let peer_id = keypair.public().to_peer_id();
        assert_eq!(membership.nodes[id].peer_id.as_str(), peer_id.to_string());
        assert_eq!(sample.genesis().peer_ids()[id], peer_id);
        let saved = keypair.to_protobuf_encoding().unwrap();
        let restored = libp2p_identity::Keypair::from_protobuf_encoding(&saved).unwrap();
        assert_eq!(restored.public().to_peer_id(), peer_id);
    }
    assert_eq!(sample.genesis().node(NodeId(4)), None);
}
