//! The chaos suite: three node processes under load from several clients,
//! while faults are injected cycle after cycle: kill -9 of a random node
//! (leader or follower), kill -9 of every node at once, and SIGSTOP/SIGCONT
//! of a node. At the end a checker asserts that every acknowledged
//! transaction is applied exactly once on every node, that all nodes have
//! the same tip, and that no transaction was refused as a replay without
//! having been applied.
//!
//! The test command runs the short form (`CHAOS_CYCLES`, default 8, about 20
//! seconds). The long form is run by hand and recorded in docs/reliability.md:
//! `CHAOS_CYCLES=1000 cargo test -p gemtrail-tests --test chaos -- --nocapture`.
//! `CHAOS_SEED` replays a run's choice of faults. Network partitions are not
//! injected yet.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::{ChainId, OrgId, TxId};
use gemtrail_ledger::model::{Outcome, SignedTransaction, Transaction};
use gemtrail_node::api::views::SubmitStatus;
use gemtrail_node::client::NodeClient;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};

const CYCLES_DEFAULT: u64 = 8;
const CLIENTS: u64 = 4;
/// Transactions each client has (under the next client's nonces), enough
/// to outlast a 1,000-cycle run; it stops earlier when the faults end.
const TXS_PER_CLIENT: u64 = 999_999;
/// Attempts a client makes for one transaction before it gives up on it.
const ATTEMPTS_MAX: usize = 50;
/// The longest a cluster may take to commit again after a fault.
const RECOVERY_MAX: Duration = Duration::from_secs(30);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// A small deterministic stream of choices (xorshift64).
struct Choices(u64);

impl Choices {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// What the clients were told.
#[derive(Debug, Default)]
struct Seen {
    acknowledged: BTreeSet<TxId>,
    refused_as_replay: BTreeSet<TxId>,
    violations: Vec<String>,
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Signs the miner's registrations of client `worker`, one at a time.
struct Registrations {
    chain_id: ChainId,
    key: SecretKey,
    worker: u64,
}

impl Registrations {
    fn nth(&self, n: u64) -> SignedTransaction {
        Transaction {
            chain_id: self.chain_id.clone(),
            signer: OrgId::parse("miner").unwrap(),
            nonce: self.worker * 1_000_000 + n,
            action: register(&format!("CHAOS-{}-{n}", self.worker)),
        }
        .sign(&self.key)
    }
}

/// Submits registrations one after another, each until it is committed,
/// refused as a replay, or out of attempts, rotating over the nodes on
/// failure.
async fn client(
    nodes: Vec<NodeClient>,
    txs: Registrations,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
) {
    let mut turn = 0;
    for n in 0..TXS_PER_CLIENT {
        let tx = txs.nth(n);
        for _ in 0..ATTEMPTS_MAX {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let node = &nodes[turn % nodes.len()];
            let answer =
                tokio::time::timeout(Duration::from_secs(12), node.submit(&tx, true)).await;
            match answer {
                Ok(Ok(answer)) if answer.status == SubmitStatus::Committed => {
                    let outcome = answer.receipt.map(|receipt| receipt.outcome);
                    let mut seen = lock(&seen);
                    if outcome == Some(Outcome::Applied) {
                        seen.acknowledged.insert(tx.id());
                    } else {
                        seen.violations
                            .push(format!("{} committed as {outcome:?}", tx.id()));
                    }
                    break;
                }
                Ok(Err(error)) if error.code() == Some("replay") => {
                    lock(&seen).refused_as_replay.insert(tx.id());
                    break;
                }
                _ => {
                    turn += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

/// One fault, and how long until the cluster committed again after it.
async fn inject(
    cluster: &mut Cluster,
    choices: &mut Choices,
    binary: &Path,
    probe: &mut u64,
) -> (String, Duration) {
    let ids = cluster.node_ids();
    let victim = ids[choices.next(ids.len() as u64) as usize];
    let fault = match choices.next(10) {
        0 => {
            for id in &ids {
                cluster.crash(*id).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            for id in &ids {
                cluster.spawn_process(*id, binary).unwrap();
            }
            "kill -9 of every node".to_owned()
        }
        1..=3 => {
            assert!(cluster.signal(victim, "STOP"));
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(cluster.signal(victim, "CONT"));
            format!("SIGSTOP of node {victim} for 2 s")
        }
        _ => {
            cluster.crash(victim).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            cluster.spawn_process(victim, binary).unwrap();
            format!("kill -9 of node {victim}")
        }
    };
    let started = Instant::now();
    *probe += 1;
    let tx = cluster.tx(
        "miner",
        900_000_000 + *probe,
        register(&format!("CHAOS-PROBE-{probe}")),
    );
    loop {
        for id in cluster.node_ids() {
            let answer =
                tokio::time::timeout(Duration::from_secs(3), cluster.client(id).submit(&tx, true))
                    .await;
            let committed =
                matches!(&answer, Ok(Ok(answer)) if answer.status == SubmitStatus::Committed);
            let replayed = matches!(&answer, Ok(Err(error)) if error.code() == Some("replay"));
            if committed || replayed {
                return (fault, started.elapsed());
            }
        }
        assert!(
            started.elapsed() < RECOVERY_MAX,
            "no commit within {RECOVERY_MAX:?} after {fault}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many times each transaction is applied in node `id`'s ledger, up to
/// `tip`.
async fn applied_counts(cluster: &Cluster, id: u64, tip: u64) -> BTreeMap<TxId, u32> {
    let client = cluster.client(id);
    let mut counts = BTreeMap::new();
    for height in 1..=tip {
        let block = client.block(height).await.unwrap();
        for receipt in block
            .receipts
            .iter()
            .filter(|receipt| receipt.outcome.is_applied())
        {
            *counts.entry(receipt.tx_id).or_insert(0u32) += 1;
        }
    }
    counts
}

/// The checker: every acknowledged transaction applied exactly once on
/// every node, one tip, and no replay refusal of a transaction never
/// applied; then the run's figures.
async fn check(cluster: &Cluster, seen: &Seen, cycles: u64, mut recoveries: Vec<Duration>) {
    let (tip, _) = cluster.wait_converged(1).await.unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert!(!seen.acknowledged.is_empty(), "nothing was acknowledged");
    let mut lost = 0;
    for id in cluster.node_ids() {
        let counts = applied_counts(cluster, id, tip).await;
        assert!(
            counts.values().all(|count| *count == 1),
            "node {id} applied a transaction twice"
        );
        lost += seen
            .acknowledged
            .iter()
            .filter(|tx| !counts.contains_key(tx))
            .count();
        for tx in &seen.refused_as_replay {
            assert!(
                counts.contains_key(tx),
                "node {id}: {tx} refused as a replay but never applied"
            );
        }
    }
    recoveries.sort();
    println!(
        "chaos: {cycles} cycles, {} acknowledged, {} refused as replays, {lost} lost, 0 forks (tip {tip} on every node), recovery p50 {:?} p99 {:?}",
        seen.acknowledged.len(),
        seen.refused_as_replay.len(),
        percentile(&recoveries, 50),
        percentile(&recoveries, 99),
    );
    assert_eq!(
        lost, 0,
        "acknowledged transactions missing from a node's ledger"
    );
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * percent / 100).min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_kills_and_pauses_every_acknowledged_transaction_is_applied_once_everywhere() {
    init_logs();
    let binary = Path::new(env!("CARGO_BIN_EXE_gemtrail-test-node"));
    let cycles = env_u64("CHAOS_CYCLES").unwrap_or(CYCLES_DEFAULT);
    let seed = env_u64("CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1
    });
    println!("chaos: {cycles} cycles, CHAOS_SEED={seed}");
    let mut choices = Choices(seed);
    let mut cluster = Cluster::found_exclusive(ClusterOptions::default())
        .await
        .unwrap();
    for id in cluster.node_ids() {
        cluster.spawn_process(id, binary).unwrap();
    }
    cluster.wait_for_leader().await.unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let nodes: Vec<NodeClient> = cluster
        .node_ids()
        .into_iter()
        .map(|id| cluster.client(id))
        .collect();
    let miner = OrgId::parse("miner").unwrap();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|worker| {
            let txs = Registrations {
                chain_id: cluster.genesis().chain_id().clone(),
                key: cluster.sample().member_key(&miner).unwrap().clone(),
                worker,
            };
            let mut rotated = nodes.clone();
            rotated.rotate_left(worker as usize % nodes.len());
            tokio::spawn(client(rotated, txs, Arc::clone(&seen), Arc::clone(&stop)))
        })
        .collect();

    let mut recoveries = Vec::new();
    let mut probe = 0;
    for cycle in 0..cycles {
        tokio::time::sleep(Duration::from_millis(500 + choices.next(1000))).await;
        let (fault, recovery) = inject(&mut cluster, &mut choices, binary, &mut probe).await;
        println!("cycle {cycle}: {fault}, committing again after {recovery:?}");
        recoveries.push(recovery);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let seen = std::mem::take(&mut *lock(&seen));
    check(&cluster, &seen, cycles, recoveries).await;
    cluster.shutdown().await;
}
