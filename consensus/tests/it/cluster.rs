//! Three-node Raft clusters on the in-memory network: election and
//! replication, a minority partition that cannot commit, and lossy links.

use std::time::Duration;

use gemtrail_consensus::memory_network::{
    empty_proposal, test_config, test_node_info, ClusterError, MemoryCluster, MemoryRouter,
};
use gemtrail_consensus::network::{RaftTransport, TransportError, TransportNetwork};
use gemtrail_consensus::testing::MemoryState;
use gemtrail_consensus::types::{RaftNodeId, RaftVote};
use gemtrail_consensus::{BlockApplied, EntryApplied, TypeConfig};
use gemtrail_ledger::ids::BlockHash;
use openraft::error::RPCError;
use openraft::network::RPCOption;
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use openraft::{Config, RPCTypes, RaftNetwork, RaftNetworkFactory, SnapshotPolicy};

const ALL: [RaftNodeId; 3] = [1, 2, 3];
const LEADER_TIMEOUT: Duration = Duration::from_secs(3);
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);
const APPLY_TIMEOUT: Duration = Duration::from_secs(3);

/// Writes `count` empty proposals through the leader; returns the log index of the last.
async fn write_blocks(cluster: &MemoryCluster, first_height: u64, count: u64) -> u64 {
    let mut last_index = 0;
    for height in first_height..first_height + count {
        let response = cluster
            .client_write(empty_proposal(1_000 + height), WRITE_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(
            response.data,
            EntryApplied::Block(BlockApplied {
                height,
                hash: BlockHash::default(),
                receipts: Vec::new(),
            })
        );
        last_index = response.log_id.index;
    }
    last_index
}

/// Asserts that all nodes hold the same state with `blocks` blocks applied; returns it.
fn assert_converged(cluster: &MemoryCluster, blocks: u64) -> MemoryState {
    let first = cluster.state(1).unwrap();
    assert_eq!(first.blocks_applied, blocks);
    for id in ALL {
        assert_eq!(cluster.state(id).unwrap(), first, "node {id} diverges");
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_a_leader_and_replicate_twenty_blocks() {
    let cluster = MemoryCluster::start(3).await.unwrap();
    let leader = cluster.wait_for_leader(&ALL, LEADER_TIMEOUT).await.unwrap();
    assert!(ALL.contains(&leader));

    let last_index = write_blocks(&cluster, 1, 20).await;
    cluster
        .wait_applied(&ALL, last_index, APPLY_TIMEOUT)
        .await
        .unwrap();

    let state = assert_converged(&cluster, 20);
    assert_eq!(
        state.last_applied.map(|log_id| log_id.index),
        Some(last_index)
    );
    let voters = state
        .membership
        .membership()
        .voter_ids()
        .collect::<Vec<_>>();
    assert_eq!(voters, ALL.to_vec());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_cannot_commit_and_follows_after_healing() {
    let cluster = MemoryCluster::start(3).await.unwrap();
    let old_leader = cluster.wait_for_leader(&ALL, LEADER_TIMEOUT).await.unwrap();
    write_blocks(&cluster, 1, 3).await;

    cluster.router().isolate(old_leader);
    let lost = cluster
        .client_write_on(
            old_leader,
            empty_proposal(9_999),
            Duration::from_millis(700),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(lost, ClusterError::WriteTimeout { node, waited_ms: 700 } if node == old_leader),
        "{lost:?}"
    );

    let majority = ALL
        .into_iter()
        .filter(|id| *id != old_leader)
        .collect::<Vec<_>>();
    let new_leader = cluster
        .wait_for_leader(&majority, LEADER_TIMEOUT)
        .await
        .unwrap();
    assert_ne!(new_leader, old_leader);
    let majority_index = write_blocks(&cluster, 4, 3).await;
    cluster
        .wait_applied(&majority, majority_index, APPLY_TIMEOUT)
        .await
        .unwrap();
    // The isolated node applied none of the majority's blocks.
    assert_eq!(cluster.state(old_leader).unwrap().blocks_applied, 3);

    cluster.router().heal();
    let leader = cluster.wait_for_leader(&ALL, LEADER_TIMEOUT).await.unwrap();
    assert_ne!(leader, old_leader);
    // One more write after healing: every node applies it, and the old
    // leader's uncommitted proposal is discarded, not applied.
    let last_index = write_blocks(&cluster, 7, 1).await;
    cluster
        .wait_applied(&ALL, last_index, APPLY_TIMEOUT)
        .await
        .unwrap();
    let state = assert_converged(&cluster, 7);
    assert_eq!(
        state.last_applied.map(|log_id| log_id.index),
        Some(last_index)
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_losing_every_fifth_message_still_commits_everything() {
    let cluster = MemoryCluster::start(3).await.unwrap();
    cluster.router().set_drop_every(Some(5));
    cluster.wait_for_leader(&ALL, LEADER_TIMEOUT).await.unwrap();

    let last_index = write_blocks(&cluster, 1, 20).await;
    cluster
        .wait_applied(&ALL, last_index, APPLY_TIMEOUT)
        .await
        .unwrap();

    let state = assert_converged(&cluster, 20);
    assert_eq!(
        state.last_applied.map(|log_id| log_id.index),
        Some(last_index)
    );
    let (sent, dropped) = cluster.router().message_counts();
    assert!(dropped >= 5, "only {dropped} of {sent} messages were lost");
    assert_eq!(dropped, sent / 5);
    cluster.shutdown().await;
}

fn heartbeat() -> AppendEntriesRequest<TypeConfig> {
    AppendEntriesRequest {
        vote: RaftVote::new_committed(1, 1),
        prev_log_id: None,
        entries: Vec::new(),
        leader_commit: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_reports_a_cut_link_as_unreachable_and_a_slow_one_as_timeout() {
    let cluster = MemoryCluster::start(3).await.unwrap();
    let mut network = TransportNetwork::new(1, cluster.router().transport(1));
    let mut to_node_2 = network.new_client(2, &test_node_info(2)).await;
    let option = RPCOption::new(Duration::from_millis(100));

    cluster.router().isolate(2);
    let cut = to_node_2
        .append_entries(heartbeat(), option.clone())
        .await
        .unwrap_err();
    let RPCError::Unreachable(unreachable) = cut else {
        panic!("expected Unreachable, got {cut:?}");
    };
    assert!(
        unreachable
            .to_string()
            .contains("node 2 is unreachable: link is cut"),
        "{unreachable}"
    );

    cluster.router().heal();
    cluster.router().set_link_delay_ms(1, 2, 1_000);
    let slow = to_node_2
        .append_entries(heartbeat(), option.clone())
        .await
        .unwrap_err();
    let RPCError::Timeout(timeout) = slow else {
        panic!("expected Timeout, got {slow:?}");
    };
    assert_eq!(
        (timeout.action, timeout.id, timeout.target, timeout.timeout),
        (RPCTypes::AppendEntries, 1, 2, Duration::from_millis(100))
    );

    cluster.router().set_link_delay_ms(1, 2, 0);
    let answer = to_node_2.append_entries(heartbeat(), option).await;
    assert!(answer.is_ok(), "{answer:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_target_is_unreachable() {
    let router = MemoryRouter::new();
    let error = router
        .transport(1)
        .vote(
            4,
            &test_node_info(4),
            VoteRequest::new(RaftVote::new(1, 1), None),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        TransportError::Unreachable {
            target: 4,
            reason: "no such node".to_owned()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_purged_logs_catches_up_by_snapshot() {
    let config = Config {
        snapshot_policy: SnapshotPolicy::LogsSinceLast(5),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..test_config().unwrap()
    };
    let cluster = MemoryCluster::start_with_config(3, config).await.unwrap();
    let leader = cluster.wait_for_leader(&ALL, LEADER_TIMEOUT).await.unwrap();
    let behind = ALL.into_iter().find(|id| *id != leader).unwrap();

    cluster.router().isolate(behind);
    let last_index = write_blocks(&cluster, 1, 20).await;
    let leader_purged = cluster
        .raft(leader)
        .unwrap()
        .wait(Some(APPLY_TIMEOUT))
        .metrics(
            |metrics| metrics.purged.is_some_and(|purged| purged.index >= 10),
            "leader purges its log",
        )
        .await;
    assert!(leader_purged.is_ok(), "{leader_purged:?}");
    assert_eq!(cluster.state(behind).unwrap().blocks_applied, 0);

    cluster.router().heal();
    cluster
        .wait_applied(&ALL, last_index, APPLY_TIMEOUT)
        .await
        .unwrap();
    let state = assert_converged(&cluster, 20);
    assert_eq!(
        state.last_applied.map(|log_id| log_id.index),
        Some(last_index)
    );
    // The follower's state came from a snapshot: it has one at least as far
    // as the leader had purged.
    let snapshot = cluster.raft(behind).unwrap().metrics().borrow().snapshot;
    assert!(
        snapshot.is_some_and(|log_id| log_id.index >= 10),
        "{snapshot:?}"
    );
    cluster.shutdown().await;
}
