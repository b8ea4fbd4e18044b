//! Governance drives Raft membership: a committed transaction that removes a
//! node takes it out of the Raft voters, and the cluster goes on without it.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gemtrail_ledger::ids::{NodeId, OrgId};
use gemtrail_ledger::model::{Action, Governance};
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
        if status.voters == expected {
            assert!(status.peers.iter().all(|peer| peer.node_id != removed));
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
    assert_eq!(answer.status, "committed");
    cluster.shutdown().await;
}
