//! Membership changes between real node processes that must never cost the
//! cluster its majority: removing two of three nodes one after the other, and
//! removing a node while an added one never started.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use gemtrail_ledger::ids::{NodeId, OrgId};
use gemtrail_ledger::model::{Action, Governance};
use gemtrail_node::api::views::SubmitStatus;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};

/// The longest a membership change may take to show in Raft's voters.
const CHANGE_DEADLINE: Duration = Duration::from_secs(30);

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_gemtrail-test-node"))
}

/// Commits `change`, approved by two of the three admins, through `via`.
async fn govern(cluster: &Cluster, via: u64, nonce: u64, change: Governance) {
    let cutter = OrgId::parse("cutter").unwrap();
    let tx = cluster
        .tx("miner", nonce, Action::Governance(change))
        .approve(
            cutter.clone(),
            cluster.sample().member_key(&cutter).unwrap(),
        )
        .unwrap();
    let answer = cluster.client(via).submit(&tx, true).await.unwrap();
    let receipt = answer.receipt.unwrap();
    assert!(receipt.outcome.is_applied(), "{:?}", receipt.outcome);
}

/// Waits until node `via` reports exactly `voters` (in any order).
async fn wait_for_voters(cluster: &Cluster, via: u64, voters: &[u64]) {
    let mut voters = voters.to_vec();
    voters.sort_unstable();
    let deadline = Instant::now() + CHANGE_DEADLINE;
    loop {
        let status = cluster.client(via).status().await;
        if status.as_ref().is_ok_and(|status| status.voters == voters) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "voters are not {voters:?} after {CHANGE_DEADLINE:?}: {:?}",
            status.map(|status| status.voters)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits a registration through `via` and asserts that it commits.
async fn commits(cluster: &Cluster, via: u64, nonce: u64, stone: &str) {
    let tx = cluster.tx("miner", nonce, register(stone));
    let answer = cluster.client(via).submit(&tx, true).await.unwrap();
    assert_eq!(answer.status, SubmitStatus::Committed, "{stone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_two_of_three_nodes_one_after_the_other_leaves_a_cluster_that_commits() {
    init_logs();
    let mut cluster = Cluster::found_exclusive(ClusterOptions::default())
        .await
        .unwrap();
    for id in cluster.node_ids() {
        cluster.spawn_process(id, binary()).unwrap();
    }
    let leader = cluster.wait_for_leader().await.unwrap();
    let followers: Vec<u64> = cluster
        .node_ids()
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    commits(&cluster, leader, 10, "RM-BEFORE").await;

    govern(
        &cluster,
        leader,
        1,
        Governance::RemoveNode {
            node: NodeId(followers[1]),
        },
    )
    .await;
    wait_for_voters(&cluster, leader, &[leader, followers[0]]).await;
    // The second removal's joint change needs the node it removes: it must
    // still be reachable although the ledger no longer lists it.
    govern(
        &cluster,
        leader,
        2,
        Governance::RemoveNode {
            node: NodeId(followers[0]),
        },
    )
    .await;
    wait_for_voters(&cluster, leader, &[leader]).await;

    commits(&cluster, leader, 11, "RM-AFTER").await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_added_that_never_starts_does_not_block_removing_another() {
    init_logs();
    let mut cluster = Cluster::found_exclusive(ClusterOptions::default())
        .await
        .unwrap();
    for id in cluster.node_ids() {
        cluster.spawn_process(id, binary()).unwrap();
    }
    let leader = cluster.wait_for_leader().await.unwrap();
    let removed = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    let staying: Vec<u64> = cluster
        .node_ids()
        .into_iter()
        .filter(|id| *id != removed)
        .collect();
    // Node 4 is admitted, and never started.
    let never_started = cluster.prepare_joining_node(4).unwrap();
    govern(
        &cluster,
        leader,
        1,
        Governance::AddNode(never_started.record),
    )
    .await;
    govern(
        &cluster,
        leader,
        2,
        Governance::RemoveNode {
            node: NodeId(removed),
        },
    )
    .await;
    wait_for_voters(&cluster, leader, &staying).await;
    commits(&cluster, leader, 10, "NS-AFTER").await;
    cluster.shutdown().await;
}
