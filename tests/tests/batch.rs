//! Batch submissions on a three-node cluster: a parcel sent in one request
//! commits with a receipt per stone; in a mixed batch each refused
//! transaction gets the code a single submission would have got, and the
//! rest still commit; a batch that is empty, too long or unreadable is
//! refused whole, and nothing of it is written.

// Test scenarios read best whole; the 70-line rule is for non-test code.
#![allow(clippy::too_many_lines)]
// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gemtrail_ledger::codec::encode;
use gemtrail_ledger::ids::StoneId;
use gemtrail_node::api::views::{BatchItemView, SubmitStatus};
use gemtrail_node::api::SUBMIT_BATCH_TXS_MAX;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};

fn code(item: &BatchItemView) -> Option<&str> {
    item.error.as_ref().map(|error| error.code.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parcel_in_one_batch_commits_and_each_refusal_gets_its_own_code() {
    init_logs();
    let cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let follower = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    let client = cluster.client(follower);

    // A sorted parcel of 40 stones, registered in one request.
    let parcel: Vec<_> = (0..40)
        .map(|index| cluster.tx("miner", index, register(&format!("GT-PARCEL-{index:02}"))))
        .collect();
    let answer = client.submit_batch(&parcel, true).await.unwrap();
    assert_eq!(answer.items.len(), parcel.len());
    for (item, tx) in answer.items.iter().zip(&parcel) {
        assert_eq!(item.tx_id, tx.id());
        assert_eq!(item.status, Some(SubmitStatus::Committed), "{item:?}");
        assert!(
            item.receipt.as_ref().unwrap().outcome.is_applied(),
            "{item:?}"
        );
    }

    // A mixed batch: good, replayed, forged, unsigned, a stranger's, and a
    // good one sent twice.
    let good = cluster.tx("miner", 100, register("GT-MIXED-GOOD"));
    // The miner's own key, but its signature is over another transaction.
    let mut forged = cluster.tx("miner", 101, register("GT-MIXED-FORGED"));
    forged.approvals = cluster
        .tx("miner", 999, register("GT-MIXED-FORGED"))
        .approvals;
    let mut unsigned = cluster.tx("miner", 102, register("GT-MIXED-UNSIGNED"));
    unsigned.approvals = Default::default();
    let stranger = gemtrail_ledger::crypto::SecretKey::generate().unwrap();
    let impostor = cluster
        .tx("miner", 103, register("GT-MIXED-IMPOSTOR"))
        .tx
        .sign(&stranger);
    let mixed = vec![
        good.clone(),
        parcel[0].clone(),
        forged,
        unsigned,
        impostor,
        good.clone(),
    ];
    let answer = client.submit_batch(&mixed, true).await.unwrap();
    let codes: Vec<Option<&str>> = answer.items.iter().map(code).collect();
    assert_eq!(
        codes,
        [
            None,
            Some("replay"),
            Some("bad_signature"),
            Some("unsigned"),
            Some("key_not_of_member"),
            None
        ],
        "{answer:?}"
    );
    assert_eq!(answer.items[0].status, Some(SubmitStatus::Committed));
    assert!(!answer.items[0].duplicate);
    assert!(answer.items[5].duplicate, "{:?}", answer.items[5]);
    assert_eq!(answer.items[5].status, Some(SubmitStatus::Committed));
    assert!(answer.items[2].status.is_none() && answer.items[2].receipt.is_none());

    // Refused whole: empty, one over the cap, unreadable, trailing bytes.
    let (height_before, tip_before) = cluster.wait_converged(1).await.unwrap();
    let mut too_long = u32::try_from(SUBMIT_BATCH_TXS_MAX + 1)
        .unwrap()
        .to_le_bytes()
        .to_vec();
    too_long.extend(encode(&good));
    let mut trailing = encode(&vec![cluster.tx("miner", 104, register("GT-TRAILING"))]);
    trailing.push(0);
    for (body, expected) in [
        (encode(&Vec::<u8>::new()), "invalid_batch"),
        (too_long, "invalid_batch"),
        (b"no".to_vec(), "malformed_transaction"),
        // Text read as borsh announces some 544 million transactions.
        (b"not a batch at all".to_vec(), "invalid_batch"),
        (trailing, "malformed_transaction"),
    ] {
        let error = client.submit_batch_raw(body, true).await.unwrap_err();
        assert_eq!(error.code(), Some(expected), "{error}");
        assert!(error.to_string().contains("HTTP 400"), "{error}");
    }
    // The JSON form: an empty array, and something that is not an array.
    gemtrail_node::tls::install_default_provider();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/transactions/batch", client.base());
    for (body, expected) in [("[]", "invalid_batch"), ("{}", "malformed_transaction")] {
        let response = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let text = response.text().await.unwrap();
        assert!(text.contains(&format!("\"code\":\"{expected}\"")), "{text}");
    }
    let (height_after, tip_after) = cluster.wait_converged(1).await.unwrap();
    assert_eq!((height_after, tip_after), (height_before, tip_before));
    let trailing_stone = StoneId::parse("GT-TRAILING").unwrap();
    assert!(client.stone(&trailing_stone).await.is_err());
    cluster.shutdown().await;
}
