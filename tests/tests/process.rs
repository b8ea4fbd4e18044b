//! Nodes as separate processes: kill -9 of the leader during commits loses no
//! acknowledged transaction, and the killed node, restarted from its data
//! directory, catches up to the same chain.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use gemtrail_tests::{init_logs, Cluster, ClusterOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_commits_loses_no_acknowledged_transaction() {
    init_logs();
    let binary = Path::new(env!("CARGO_BIN_EXE_gemtrail-test-node"));
    let mut cluster = Cluster::found_exclusive(ClusterOptions::default())
        .await
        .unwrap();
    for id in cluster.node_ids() {
        cluster.spawn_process(id, binary).unwrap();
    }
    let victim = cluster.wait_for_leader().await.unwrap();
    let survivors: Vec<u64> = cluster
        .node_ids()
        .into_iter()
        .filter(|id| *id != victim)
        .collect();
    let load = cluster.start_load(&survivors, 4, 500, "K9");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before_kill = load.acknowledged_count();
    cluster.crash(victim).await;
    let new_leader = cluster.wait_for_leader().await.unwrap();
    assert_ne!(new_leader, victim);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let acknowledged = load.stop().await.unwrap();
    assert!(before_kill > 0, "nothing committed before the kill");
    assert!(
        acknowledged.len() > before_kill,
        "nothing committed after the kill"
    );

    cluster.spawn_process(victim, binary).unwrap();
    let (tip, _) = cluster.wait_converged(1).await.unwrap();
    for id in cluster.node_ids() {
        let client = cluster.client(id);
        let mut seen = std::collections::BTreeMap::new();
        for height in 1..=tip {
            let view = client.block(height).await.unwrap();
            for receipt in view
                .receipts
                .iter()
                .filter(|receipt| receipt.outcome.is_applied())
            {
                *seen.entry(receipt.tx_id).or_insert(0u32) += 1;
            }
        }
        for tx_id in &acknowledged {
            assert_eq!(
                seen.get(tx_id),
                Some(&1),
                "node {id}: {tx_id} not exactly once"
            );
        }
    }
    // SIGTERM: the processes stop gracefully.
    cluster.shutdown().await;
}
