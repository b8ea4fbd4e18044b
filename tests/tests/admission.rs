//! Who may talk to a node: a peer whose id is not a consortium node is
//! refused before any Raft message of its is handled; a consortium node may
//! not send Raft requests under another node's vote, nor snapshot chunks
//! under a vote older than the receiver's; a data directory of
//! another chain or node makes the node refuse to start.

// Test scenarios read best whole; the 70-line rule is for non-test code.
#![allow(clippy::too_many_lines)]
// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use gemtrail_consensus::record::StoredMembershipRecord;
use gemtrail_consensus::record::VoteRecord;
use gemtrail_consensus::types::RaftStoredMembership;
use gemtrail_node::codes::ErrorCode;
use gemtrail_node::p2p::codec::{WireCodec, PROTOCOL};
use gemtrail_node::p2p::wire::{
    PeerRequest, PeerResponse, SnapshotChunkWire, SnapshotMetaWire, VoteRequestWire,
};
use gemtrail_node::{Node, NodeConfig};
use gemtrail_tests::{init_logs, Cluster, ClusterOptions};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, request_response, tcp, yamux, Multiaddr};

const ROGUE_TERM: u64 = 1_000_000;

type PeerSwarm = libp2p::Swarm<request_response::Behaviour<WireCodec>>;

/// A swarm under `identity` that speaks the nodes' peer protocol.
fn peer_swarm(identity: libp2p::identity::Keypair) -> PeerSwarm {
    libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                WireCodec::new(1 << 20),
                [(PROTOCOL, request_response::ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(5)),
            )
        })
        .unwrap()
        .build()
}

/// Sends `request` to genesis node `target` from a swarm holding genesis
/// node `sender`'s key, and returns the answer.
async fn ask_as(cluster: &Cluster, sender: u64, target: u64, request: PeerRequest) -> PeerResponse {
    let key = cluster
        .sample()
        .node_keypairs()
        .get(&gemtrail_ledger::ids::NodeId(sender))
        .unwrap()
        .clone();
    let target = cluster
        .genesis()
        .node(gemtrail_ledger::ids::NodeId(target))
        .unwrap()
        .clone();
    let target_peer: libp2p::PeerId = target.peer_id.as_str().parse().unwrap();
    let target_addr: Multiaddr = target.listen_addr.as_str().parse().unwrap();
    let mut swarm = peer_swarm(key);
    swarm
        .behaviour_mut()
        .send_request_with_addresses(&target_peer, request, vec![target_addr]);
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) => return Ok(response),
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => return Err(error.to_string()),
                _ => {}
            }
        }
    })
    .await
    .expect("no answer to the request")
    .unwrap()
}

fn refusal_code(answer: &PeerResponse) -> ErrorCode {
    match answer {
        PeerResponse::Refused(refusal) => refusal.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_asks_for_votes_as_another_node_is_refused_not_senders_vote() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    cluster.wait_for_leader().await.unwrap();
    // Node 3 stops; someone holding its key asks node 2 to vote for node 1.
    cluster.stop(3).await;
    let request = PeerRequest::Vote(VoteRequestWire {
        vote: VoteRecord::from(&openraft::Vote::new(ROGUE_TERM, 1)),
        last_log_id: None,
    });
    let answer = ask_as(&cluster, 3, 2, request).await;
    assert_eq!(refusal_code(&answer), ErrorCode::NotSendersVote);
    let status = cluster.client(2).status().await.unwrap();
    assert!(
        status.term < ROGUE_TERM,
        "the impostor's vote reached Raft: term {}",
        status.term
    );

    // Under its own, older vote, it may not start a snapshot transfer.
    let membership = StoredMembershipRecord::try_from(&RaftStoredMembership::default()).unwrap();
    let chunk = PeerRequest::SnapshotChunk(SnapshotChunkWire {
        vote: VoteRecord {
            term: 0,
            node_id: 3,
            committed: true,
        },
        meta: SnapshotMetaWire {
            last_log_id: None,
            last_membership: membership,
            snapshot_id: gemtrail_ledger::codec::BoundedString::new("stale-0").unwrap(),
        },
        total_bytes: 100,
        offset: 0,
        data: vec![0; 10],
    });
    let answer = ask_as(&cluster, 3, 2, chunk).await;
    assert_eq!(refusal_code(&answer), ErrorCode::StaleVote);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_that_is_not_a_genesis_node_is_refused_and_never_reaches_raft() {
    init_logs();
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    cluster.wait_for_leader().await.unwrap();
    let target = cluster
        .genesis()
        .node(gemtrail_ledger::ids::NodeId(1))
        .unwrap()
        .clone();
    let target_peer: libp2p::PeerId = target.peer_id.as_str().parse().unwrap();
    let target_addr: Multiaddr = target.listen_addr.as_str().parse().unwrap();

    // A stranger with a fresh key speaks the node's own protocol.
    let mut rogue = peer_swarm(libp2p::identity::Keypair::generate_ed25519());
    // A vote request that, if handled, would push the node's term far up.
    let vote = openraft::Vote::new(ROGUE_TERM, 1);
    let request = PeerRequest::Vote(VoteRequestWire {
        vote: VoteRecord::from(&vote),
        last_log_id: None,
    });
    rogue
        .behaviour_mut()
        .send_request_with_addresses(&target_peer, request, vec![target_addr]);
    let failure = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match rogue.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => {
                    return Ok(error.to_string());
                }
                SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => {
                    return Err(format!("the node answered a stranger: {message:?}"));
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the rogue request neither failed nor got an answer");
    let failure = failure.unwrap();
    assert!(!failure.is_empty());

    let status = cluster.client(1).status().await.unwrap();
    assert!(
        status.term < ROGUE_TERM,
        "the rogue vote reached Raft: term {}",
        status.term
    );
    assert!(
        status.refused_connections >= 1,
        "no refused connection counted"
    );
    let metrics = cluster.client(1).metrics().await.unwrap();
    assert!(
        metrics.contains("gemtrail_peer_connections_refused"),
        "{metrics}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_another_chain_or_node_is_refused_at_start() {
    init_logs();
    let first = Cluster::found(ClusterOptions::default()).unwrap();
    let second = Cluster::found(ClusterOptions::default()).unwrap();
    // Node 1 of the first cluster runs once, so its data dir is claimed.
    let config = NodeConfig::load(&first.config_path(1)).unwrap();
    let node = Node::start(config.clone()).await.unwrap();
    node.halt().await;

    // The second chain's node 1, pointed at the first chain's data dir.
    let mut foreign = NodeConfig::load(&second.config_path(1)).unwrap();
    foreign.data_dir = config.data_dir.clone();
    let error = Node::start(foreign).await.unwrap_err().to_string();
    assert!(error.contains("belongs to node 1"), "{error}");
    assert!(
        error.contains("point `data_dir` at this node's own directory"),
        "{error}"
    );

    // Node 2 of the same chain, pointed at node 1's data dir.
    let mut other_node = NodeConfig::load(&first.config_path(2)).unwrap();
    other_node.data_dir = config.data_dir.clone();
    let error = Node::start(other_node).await.unwrap_err().to_string();
    assert!(error.contains("belongs to node 1"), "{error}");
    assert!(error.contains("not to node 2"), "{error}");
}
