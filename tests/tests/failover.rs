//! Faults on a real cluster: the leader stops under load, a follower misses
//! more than a snapshot interval and catches up through a snapshot, and a
//! node restarted from its data directory resumes where it was.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use gemtrail_ledger::ids::TxId;
use gemtrail_ledger::model::Outcome;
use gemtrail_node::api::views::SubmitStatus;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};

/// Counts, over blocks 1..=tip of node `id`, how often each transaction id
/// was applied. (A copy sent again after a leader change may sit in a later
/// block as a rejected replay; it changes nothing, so it is not counted.)
async fn occurrences(cluster: &Cluster, id: u64, tip: u64) -> BTreeMap<TxId, usize> {
    let client = cluster.client(id);
    let mut counts = BTreeMap::new();
    for height in 1..=tip {
        let view = client.block(height).await.unwrap();
        for receipt in view
            .receipts
            .iter()
            .filter(|receipt| receipt.outcome.is_applied())
        {
            *counts.entry(receipt.tx_id).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_stops_under_load_and_no_acknowledged_transaction_is_lost_or_doubled() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let old_leader = cluster.wait_for_leader().await.unwrap();
    let survivors: Vec<u64> = cluster
        .node_ids()
        .into_iter()
        .filter(|id| *id != old_leader)
        .collect();
    let load = cluster.start_load(&survivors, 4, 400, "LD");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before_stop = load.acknowledged_count();
    cluster.crash(old_leader).await;
    let new_leader = cluster.wait_for_leader().await.unwrap();
    assert_ne!(new_leader, old_leader);
    // Keep submitting for a while under the new leader.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let acknowledged = load.stop().await.unwrap();
    assert!(before_stop > 0, "nothing committed before the stop");
    assert!(
        acknowledged.len() > before_stop,
        "nothing committed after the stop"
    );
    let (tip, _) = cluster.wait_converged(1).await.unwrap();
    for id in cluster.running_ids() {
        let counts = occurrences(&cluster, id, tip).await;
        for tx_id in &acknowledged {
            assert_eq!(
                counts.get(tx_id),
                Some(&1),
                "node {id}: acknowledged {tx_id} not exactly once"
            );
            let receipt = cluster.client(id).receipt(tx_id).await.unwrap();
            assert_eq!(receipt.outcome, Outcome::Applied, "node {id}: {tx_id}");
        }
        assert!(
            counts.values().all(|count| *count == 1),
            "node {id}: a transaction applied twice"
        );
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_that_missed_many_blocks_catches_up_through_a_snapshot() {
    init_logs();
    let options = ClusterOptions {
        snapshot_interval_blocks: 10,
        // Small chunks, so the snapshot must travel in several.
        snapshot_chunk_bytes_max: 4096,
        ..ClusterOptions::default()
    };
    let mut cluster = Cluster::start(options).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let follower = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    cluster.stop(follower).await;
    // One transaction per block: well over three snapshot intervals.
    let client = cluster.client(leader);
    for n in 0..45u64 {
        let tx = cluster.tx("miner", n, register(&format!("SN-{n}")));
        let answer = client.submit(&tx, true).await.unwrap();
        assert_eq!(answer.status, SubmitStatus::Committed);
    }
    let (tip, hash) = cluster.wait_converged(45).await.unwrap();
    cluster.start_in_process(follower).await.unwrap();
    let (caught_up, caught_up_hash) = cluster.wait_converged(tip).await.unwrap();
    assert_eq!((caught_up, caught_up_hash), (tip, hash));
    let metrics = cluster.client(follower).metrics().await.unwrap();
    let chunks: u64 = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix("gemtrail_peer_requests_total{kind=\"snapshot_chunk\"} ")
        })
        .unwrap_or_else(|| panic!("the follower received no snapshot chunk:\n{metrics}"))
        .parse()
        .unwrap();
    assert!(chunks >= 2, "the snapshot came in {chunks} chunk(s)");
    // And it goes on with the others.
    let tx = cluster.tx("miner", 1000, register("SN-AFTER"));
    cluster.client(follower).submit(&tx, true).await.unwrap();
    cluster.wait_converged(tip + 1).await.unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_restarted_from_its_data_dir_resumes_with_the_same_tip() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    for n in 0..5u64 {
        let tx = cluster.tx("miner", n, register(&format!("RS-{n}")));
        cluster.client(leader).submit(&tx, true).await.unwrap();
    }
    let (tip, hash) = cluster.wait_converged(1).await.unwrap();
    for id in cluster.node_ids() {
        cluster.stop(id).await;
    }
    for id in cluster.node_ids() {
        cluster.start_in_process(id).await.unwrap();
    }
    for id in cluster.node_ids() {
        let status = cluster.client(id).status().await.unwrap();
        assert_eq!(
            (status.height, status.tip_hash),
            (tip, hash),
            "node {id} right after restart"
        );
    }
    cluster.wait_for_leader().await.unwrap();
    let tx = cluster.tx("miner", 99, register("RS-AFTER"));
    let leader = cluster.wait_for_leader().await.unwrap();
    cluster.client(leader).submit(&tx, true).await.unwrap();
    cluster.wait_converged(tip + 1).await.unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_orders_every_accepted_transaction_first() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let follower = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    // Accepted (202), not waited for, then both nodes that took them stop.
    let mut accepted = Vec::new();
    for (n, target) in [leader, follower].into_iter().cycle().take(40).enumerate() {
        let tx = cluster.tx("miner", n as u64, register(&format!("GS-{n}")));
        let answer = cluster.client(target).submit(&tx, false).await.unwrap();
        assert_eq!(answer.status, SubmitStatus::Accepted);
        accepted.push(tx.id());
    }
    cluster.stop(follower).await;
    cluster.stop(leader).await;
    // Bring them back; every accepted transaction is in the ledger.
    cluster.start_in_process(follower).await.unwrap();
    cluster.start_in_process(leader).await.unwrap();
    cluster.wait_for_leader().await.unwrap();
    cluster.wait_converged(1).await.unwrap();
    let survivor = cluster.client(leader);
    for tx_id in &accepted {
        let receipt = survivor.receipt(tx_id).await.unwrap();
        assert_eq!(receipt.outcome, Outcome::Applied, "{tx_id}");
    }
    cluster.shutdown().await;
}
