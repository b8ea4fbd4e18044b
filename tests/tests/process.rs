//! Nodes as separate processes: kill -9 of the leader during commits loses no
//! acknowledged transaction, and the killed node, restarted from its data
//! directory, catches up to the same chain; a node whose disk refuses its
//! writes exits non-zero instead of serving stale state.

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

/// Registrations of `count` new stones, in one batch, signed by the miner.
fn parcel(
    cluster: &Cluster,
    first: u64,
    count: u64,
) -> Vec<gemtrail_ledger::model::SignedTransaction> {
    (first..first + count)
        .map(|nonce| {
            cluster.tx(
                "miner",
                nonce,
                gemtrail_tests::register(&format!("GT-DISK-{nonce:06}")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_whose_disk_refuses_writes_exits_non_zero_instead_of_serving_stale_state() {
    init_logs();
    let binary = Path::new(env!("CARGO_BIN_EXE_gemtrail-test-node"));
    let options = ClusterOptions {
        request_body_bytes_max: 1024 * 1024,
        ..ClusterOptions::default()
    };
    let mut cluster = Cluster::found_exclusive(options).await.unwrap();
    let victim = 3;
    for id in cluster.node_ids() {
        if id == victim {
            // No file of node 3 may grow past 1 MiB: its logs fill first.
            cluster
                .spawn_process_with_file_limit(id, binary, 1024)
                .unwrap();
        } else {
            cluster.spawn_process(id, binary).unwrap();
        }
    }
    cluster.wait_for_leader().await.unwrap();
    // Parcels of 256 stones (about 85 kB each) through node 1 until node 3's
    // writes fail; 60 parcels would be five times its limit.
    let mut status = None;
    for round in 0..60 {
        let batch = parcel(&cluster, round * 256, 256);
        let answer = cluster.client(1).submit_batch(&batch, true).await.unwrap();
        assert!(
            answer.items.iter().all(|item| item.error.is_none()),
            "{answer:?}"
        );
        status = cluster.exit_status(victim);
        if status.is_some() {
            break;
        }
    }
    // It may take a moment to notice after its last failed write.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while status.is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = cluster.exit_status(victim);
    }
    let status = status.expect("node 3 kept running on a disk that refuses its writes");
    assert!(!status.success(), "node 3 exited with {status}");
    let log = std::fs::read_to_string(cluster.node_dir(victim).join("node.log")).unwrap();
    assert!(log.contains("Raft stopped"), "{log}");
    // The other two go on.
    let more = parcel(&cluster, 1_000_000, 1);
    let answer = cluster.client(1).submit_batch(&more, true).await.unwrap();
    assert!(answer.items[0].receipt.is_some(), "{answer:?}");
    cluster.shutdown().await;
}
