//! A three-node cluster on loopback: submissions to any node commit, every
//! node ends with the same chain and the same stones, and the API refuses bad
//! input with its documented codes without writing anything.

// Test scenarios read best whole; the 70-line rule is for non-test code.
#![allow(clippy::too_many_lines)]
// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gemtrail_ledger::codec::encode;
use gemtrail_ledger::ids::StoneId;
use gemtrail_node::api::views::SubmitStatus;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submissions_to_any_node_commit_and_every_node_agrees() {
    init_logs();
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let mut stones = Vec::new();
    for (round, id) in cluster.node_ids().into_iter().cycle().take(9).enumerate() {
        let stone = format!("GT-{round:03}");
        let tx = cluster.tx("miner", round as u64, register(&stone));
        let answer = cluster.client(id).submit(&tx, true).await.unwrap();
        assert_eq!(
            answer.status,
            SubmitStatus::Committed,
            "via node {id} (leader {leader})"
        );
        let receipt = answer.receipt.unwrap();
        assert!(receipt.outcome.is_applied(), "{receipt:?}");
        assert_eq!(receipt.tx_id, tx.id());
        stones.push(StoneId::parse(&stone).unwrap());
    }
    let (height, _) = cluster.wait_converged(1).await.unwrap();
    assert!(height >= 1);
    for stone in &stones {
        let states: Vec<_> = futures_join(&cluster, stone).await;
        assert!(states.iter().all(|state| state == &states[0]), "{states:?}");
        assert_eq!(states[0].custodian.as_str(), "miner");
    }
    // The history and proof endpoints serve what was committed.
    let history = cluster.client(leader).history(&stones[0]).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, "register_stone");
    let proof = cluster.client(leader).proof(&stones[0]).await.unwrap();
    let genesis = cluster.genesis().ledger_genesis();
    let journey = gemtrail_ledger::proof::verify_proof(&genesis, &proof).unwrap();
    assert_eq!(journey.journey().stone, stones[0]);
    cluster.shutdown().await;
}

async fn futures_join(cluster: &Cluster, stone: &StoneId) -> Vec<gemtrail_ledger::model::Stone> {
    let mut states = Vec::new();
    for id in cluster.node_ids() {
        states.push(cluster.client(id).stone(stone).await.unwrap());
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_its_code_and_writes_nothing() {
    init_logs();
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let follower = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    let committed = cluster.tx("miner", 1, register("GT-OK"));
    cluster
        .client(follower)
        .submit(&committed, true)
        .await
        .unwrap();
    let (height, tip) = cluster.wait_converged(1).await.unwrap();

    for id in [leader, follower] {
        let client = cluster.client(id);
        // Malformed: not a transaction at all.
        let error = client
            .submit_raw(b"not a transaction".to_vec(), true)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("malformed_transaction"), "{error}");
        // Malformed: a valid transaction with a trailing byte.
        let mut trailing = encode(&committed);
        trailing.push(0);
        let error = client.submit_raw(trailing, true).await.unwrap_err();
        assert_eq!(error.code(), Some("malformed_transaction"), "{error}");
        // A bad signature: the miner's key, signing another transaction.
        let mut forged = cluster.tx("miner", 2, register("GT-FORGED"));
        let other = cluster.tx("miner", 9, register("GT-FORGED"));
        forged.approvals = other.approvals.clone();
        let error = client.submit(&forged, true).await.unwrap_err();
        assert_eq!(error.code(), Some("bad_signature"), "{error}");
        // The retailer's approval on the miner's transaction: the ledger
        // could only refuse it, so the door does.
        let mut misattributed = cluster.tx("miner", 4, register("GT-MISATTRIBUTED"));
        misattributed.approvals = cluster
            .tx("retailer", 4, register("GT-MISATTRIBUTED"))
            .approvals;
        let error = client.submit(&misattributed, true).await.unwrap_err();
        assert_eq!(error.code(), Some("signer_did_not_sign"), "{error}");
        // A valid signature, but by a key that is not the miner's.
        let stranger = gemtrail_ledger::crypto::SecretKey::generate().unwrap();
        let mut impostor = cluster.tx("miner", 3, register("GT-IMPOSTOR"));
        impostor = impostor.tx.clone().sign(&stranger);
        let error = client.submit(&impostor, true).await.unwrap_err();
        assert_eq!(error.code(), Some("key_not_of_member"), "{error}");
        assert!(error.to_string().contains("HTTP 403"), "{error}");
        // No signature at all.
        let mut unsigned = cluster.tx("miner", 4, register("GT-UNSIGNED"));
        unsigned.approvals = Default::default();
        let error = client.submit(&unsigned, true).await.unwrap_err();
        assert_eq!(error.code(), Some("unsigned"), "{error}");
        // A replay of a committed transaction.
        let error = client.submit(&committed, true).await.unwrap_err();
        assert_eq!(error.code(), Some("replay"), "{error}");
        assert!(error.to_string().contains("HTTP 409"), "{error}");
        // An oversized body.
        let error = client
            .submit_raw(vec![0u8; 70 * 1024], true)
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("body_too_large"), "{error}");
        assert!(error.to_string().contains("HTTP 413"), "{error}");
        // Another chain's transaction.
        let mut foreign = committed.clone();
        foreign.tx.chain_id = gemtrail_ledger::ids::ChainId::parse("other-chain").unwrap();
        let error = client.submit(&foreign, true).await.unwrap_err();
        assert_eq!(error.code(), Some("wrong_chain"), "{error}");
    }
    // Requests the API cannot route or parse get JSON errors too.
    gemtrail_node::tls::install_default_provider();
    let http = reqwest::Client::new();
    let base = format!(
        "http://{}",
        cluster.client(leader).base().trim_start_matches("http://")
    );
    for (request, status, code) in [
        (
            http.get(format!("{base}/v1/nowhere")),
            404,
            "no_such_endpoint",
        ),
        (
            http.delete(format!("{base}/v1/status")),
            405,
            "method_not_allowed",
        ),
        (
            http.get(format!("{base}/v1/blocks/not-a-height")),
            400,
            "invalid_parameter",
        ),
        (
            http.post(format!("{base}/v1/transactions?wait=perhaps")),
            400,
            "invalid_parameter",
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    // The API describes itself.
    let document: serde_json::Value = http
        .get(format!("{base}/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.1.0", "{document}");
    assert!(document["paths"]["/v1/transactions"]["post"].is_object());
    // Nothing was written: give a batch time to form, then compare tips.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in cluster.node_ids() {
        let status = cluster.client(id).status().await.unwrap();
        assert_eq!((status.height, status.tip_hash), (height, tip), "node {id}");
        assert_eq!(status.mempool_txs, 0, "node {id}");
    }
    let error = cluster
        .client(leader)
        .stone(&StoneId::parse("GT-FORGED").unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("stone_not_found"));
    cluster.shutdown().await;
}
