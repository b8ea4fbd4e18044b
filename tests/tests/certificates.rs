//! Quorum certificates on a real three-node cluster: every node ends up
//! serving the same certificate for a height; two nodes keep certifying
//! without the third; with two down nothing new is certified and an old
//! proof fails an age limit; and a node whose ledger files were altered
//! while it was stopped refuses to start, naming the height.

// Test scenarios read best whole; the 70-line rule is for non-test code.
#![allow(clippy::too_many_lines)]
// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gemtrail_ledger::certificate::{CertificateError, QuorumCertificate};
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::ids::{NodeId, StoneId};
use gemtrail_ledger::model::BlockHeader;
use gemtrail_ledger::store::schema;
use gemtrail_node::api::views::SubmitStatus;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};

/// How long a certificate may take to appear or grow.
const CERTIFY_WAIT: Duration = Duration::from_secs(15);

/// Registers `stone` through node `via` and returns the block it landed in.
async fn commit(cluster: &Cluster, via: u64, nonce: u64, stone: &str) -> u64 {
    let tx = cluster.tx("miner", nonce, register(stone));
    let answer = cluster.client(via).submit(&tx, true).await.unwrap();
    assert_eq!(answer.status, SubmitStatus::Committed);
    answer.receipt.unwrap().height
}

/// Waits until node `id` holds a certificate for `height` signed by exactly
/// `signers`.
async fn certificate_signed_by(
    cluster: &Cluster,
    id: u64,
    height: u64,
    signers: &[u64],
) -> QuorumCertificate {
    let wanted: Vec<NodeId> = signers.iter().copied().map(NodeId).collect();
    let deadline = Instant::now() + CERTIFY_WAIT;
    loop {
        let found = cluster.client(id).certificate(height).await;
        if let Ok(certificate) = &found {
            if certificate.signers() == wanted {
                return certificate.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "node {id} has no certificate of height {height} by {signers:?}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_node_serves_the_same_certificate_and_two_keep_certifying_without_the_third() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let height = commit(&cluster, leader, 1, "GT-CERT-1").await;
    let genesis = cluster.genesis().ledger_genesis();
    let mut served = Vec::new();
    for id in cluster.node_ids() {
        served.push(certificate_signed_by(&cluster, id, height, &[1, 2, 3]).await);
    }
    assert!(served.iter().all(|certificate| *certificate == served[0]));
    for id in cluster.node_ids() {
        let status = cluster.client(id).status().await.unwrap();
        assert!(status.certified_height >= Some(height), "{status:?}");
    }
    let block = cluster.client(leader).block(height).await.unwrap();
    let signers = served[0]
        .verify(
            &genesis.chain_id,
            block.hash,
            genesis.membership.nodes.values(),
        )
        .unwrap();
    assert_eq!(signers, vec![NodeId(1), NodeId(2), NodeId(3)]);

    // One node goes; the other two go on committing and certifying.
    let gone = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    cluster.crash(gone).await;
    let live: Vec<u64> = cluster.running_ids();
    let later = commit(&cluster, live[0], 2, "GT-CERT-2").await;
    assert!(later > height);
    for id in &live {
        let certificate = certificate_signed_by(&cluster, *id, later, &live).await;
        let block = cluster.client(*id).block(later).await.unwrap();
        certificate
            .verify(
                &genesis.chain_id,
                block.hash,
                genesis.membership.nodes.values(),
            )
            .unwrap();
    }
    let stone = StoneId::parse("GT-CERT-2").unwrap();
    let proof = cluster.client(live[1]).proof(&stone).await.unwrap();
    let journey = gemtrail_ledger::proof::verify_proof(&genesis, &proof)
        .unwrap()
        .into_journey();
    assert_eq!(
        journey.certified_by,
        live.iter().copied().map(NodeId).collect::<Vec<_>>()
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_two_nodes_down_nothing_new_is_certified_and_an_age_limit_fails() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let height = commit(&cluster, leader, 1, "GT-LONE-1").await;
    let stone = StoneId::parse("GT-LONE-1").unwrap();
    let proof = cluster.client(leader).proof(&stone).await.unwrap();
    assert_eq!(proof.certificate.checkpoint.height, height);

    let others: Vec<u64> = cluster
        .node_ids()
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    for id in &others {
        cluster.crash(*id).await;
    }
    // The lone node takes the transaction, but no block and no certificate
    // follow: neither needs fewer than two nodes.
    let tx = cluster.tx("miner", 2, register("GT-LONE-2"));
    let lone = cluster.client(leader);
    let _not_ordered = lone.submit(&tx, false).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let latest = lone.latest_certificate().await.unwrap();
    assert_eq!(latest.checkpoint.height, height);
    let missing = lone.certificate(height + 1).await.unwrap_err();
    assert_eq!(missing.code(), Some("certificate_not_found"), "{missing}");
    let status = lone.status().await.unwrap();
    assert_eq!(
        (status.height, status.certified_height),
        (height, Some(height))
    );

    // The last certified proof is now more than a second old.
    let age_limit_ms = 1_000;
    assert!(matches!(
        proof.certificate.check_age(now_ms(), age_limit_ms),
        Err(CertificateError::TooOld { .. })
    ));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_node_whose_ledger_was_altered_refuses_to_start_naming_the_height() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    commit(&cluster, leader, 1, "GT-EDIT-1").await;
    let height = commit(&cluster, leader, 2, "GT-EDIT-2").await;
    let victim = 3;
    // Any certificate of that height will do: the check at start compares
    // the stored block with it, whoever signed. (Waiting for all three
    // signatures could wait for one lost under load; a lost checkpoint
    // signature is not sent again.)
    let deadline = Instant::now() + CERTIFY_WAIT;
    while cluster.client(victim).certificate(height).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "node {victim} certified nothing at {height}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.stop(victim).await;

    // Behind the node's back: its block at the certified height gets a
    // different time, which changes the block's hash.
    let ledger = cluster.node_dir(victim).join("data").join("ledger");
    let mut options = rocksdb::Options::default();
    options.create_if_missing(false);
    let db = rocksdb::DB::open_cf(&options, &ledger, schema::COLUMNS).unwrap();
    let headers = db.cf_handle(schema::HEADERS).unwrap();
    let key = schema::height_key(height);
    let mut header: BlockHeader = decode(&db.get_cf(headers, key).unwrap().unwrap()).unwrap();
    header.timestamp_ms += 1;
    db.put_cf(headers, key, encode(&header)).unwrap();
    drop(db);

    let error = cluster.start_in_process(victim).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!("the stored block at height {height} is "))
            && text.contains("a majority of the nodes certified"),
        "{text}"
    );
    cluster.shutdown().await;
}
