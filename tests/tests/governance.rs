//! Governance drives Raft membership: a committed transaction that removes a
//! node takes it out of the Raft voters, and the cluster goes on without it;
//! one that adds a node lets it in, and it catches up and votes.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gemtrail_ledger::ids::{NodeId, OrgId};
use gemtrail_ledger::model::{Action, Governance};
use gemtrail_node::api::views::SubmitStatus;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_a_node_by_governance_removes_it_from_raft() {
    init_logs();
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let removed = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    let status = cluster.client(leader).status().await.unwrap();
    assert_eq!(status.voters, vec![1, 2, 3]);

    // Two of the three admins (miner, cutter, auditor) approve.
    let cutter = OrgId::parse("cutter").unwrap();
    let change = Action::Governance(Governance::RemoveNode {
        node: NodeId(removed),
    });
    let tx = cluster
        .tx("miner", 1, change)
        .approve(
            cutter.clone(),
            cluster.sample().member_key(&cutter).unwrap(),
        )
        .unwrap();
    let answer = cluster.client(leader).submit(&tx, true).await.unwrap();
    assert!(answer.receipt.unwrap().outcome.is_applied());

    let deadline = Instant::now() + Duration::from_secs(20);
    let expected: Vec<u64> = cluster
        .node_ids()
        .into_iter()
        .filter(|id| *id != removed)
        .collect();
    loop {
        let status = cluster.client(leader).status().await.unwrap();
        // The removed node stays a (departing) peer until Raft let it go.
        if status.voters == expected && status.peers.iter().all(|peer| peer.node_id != removed) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "voters still {:?}",
            status.voters
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The two remaining nodes still commit.
    let tx = cluster.tx("miner", 2, register("GV-AFTER"));
    let answer = cluster.client(leader).submit(&tx, true).await.unwrap();
    assert_eq!(answer.status, SubmitStatus::Committed);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_a_node_by_governance_makes_it_a_voter_that_catches_up() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    for n in 0..3u64 {
        let tx = cluster.tx("miner", 100 + n, register(&format!("GA-{n}")));
        cluster.client(leader).submit(&tx, true).await.unwrap();
    }
    // A fourth node, not in the genesis, with a key of its own.
    let joiner = cluster.prepare_joining_node(4).unwrap();
    let cutter = OrgId::parse("cutter").unwrap();
    let change = Action::Governance(Governance::AddNode(joiner.record.clone()));
    let tx = cluster
        .tx("miner", 1, change)
        .approve(
            cutter.clone(),
            cluster.sample().member_key(&cutter).unwrap(),
        )
        .unwrap();
    let answer = cluster.client(leader).submit(&tx, true).await.unwrap();
    assert!(answer.receipt.unwrap().outcome.is_applied());
    cluster.start_in_process(4).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = cluster.client(leader).status().await.unwrap();
        if status.voters == vec![1, 2, 3, 4] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "voters still {:?}",
            status.voters
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tx = cluster.tx("miner", 2, register("GA-AFTER"));
    cluster.client(4).submit(&tx, true).await.unwrap();
    let (height, _) = cluster.wait_converged(5).await.unwrap();
    assert!(height >= 5);
    cluster.shutdown().await;
}
