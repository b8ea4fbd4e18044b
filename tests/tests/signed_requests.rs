//! A cluster whose nodes require signed requests (`api_access = "members"`):
//! a member's signed reads and submissions go through; each refusal is 401
//! with its code (unsigned, a non-member, a wrong key or altered body, a
//! replayed nonce, a stale timestamp); the consumer's passport route and the
//! metrics stay open.

// Test scenarios read best whole; the 70-line rule is for non-test code.
#![allow(clippy::too_many_lines)]
// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::OrgId;
use gemtrail_node::config::ApiAccess;
use gemtrail_node::request_auth::{sign, RequestParts, WINDOW_SECS};
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A GET of `path` signed as `org` with `key`, made at `created` with `nonce`.
async fn signed_get(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    (org, key): (&str, &SecretKey),
    created: u64,
    nonce: &str,
) -> (u16, serde_json::Value) {
    let parts = RequestParts {
        method: "GET",
        path,
        query: None,
        body: b"",
    };
    let mut request = http.get(format!("{base}{path}"));
    for (name, value) in sign(&parts, &OrgId::parse(org).unwrap(), key, created, nonce) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_requests_signed_by_a_member_get_through_each_refusal_with_its_code() {
    init_logs();
    let options = ClusterOptions {
        api_access: ApiAccess::Members,
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    // A member's signed submission and read.
    let tx = cluster.tx("miner", 1, register("GT-SIGNED-1"));
    let answer = cluster.client(leader).submit(&tx, true).await.unwrap();
    assert!(answer.receipt.unwrap().outcome.is_applied());
    assert!(cluster.client(leader).status().await.unwrap().height >= 1);

    // Unsigned: refused, the same transaction too.
    let unsigned = cluster.unsigned_client(leader);
    let error = unsigned.status().await.unwrap_err();
    assert_eq!(error.code(), Some("unsigned_request"), "{error}");
    assert!(error.to_string().contains("HTTP 401"), "{error}");
    let error = unsigned.submit(&tx, false).await.unwrap_err();
    assert_eq!(error.code(), Some("unsigned_request"), "{error}");

    // A stranger's key in a member's name, and a non-member's name.
    let stranger = SecretKey::from_seed(&[42; 32]);
    let as_miner = unsigned
        .clone()
        .signing_as(OrgId::parse("miner").unwrap(), stranger.clone());
    assert_eq!(
        as_miner.status().await.unwrap_err().code(),
        Some("bad_request_signature")
    );
    let as_nobody = unsigned
        .clone()
        .signing_as(OrgId::parse("nobody").unwrap(), stranger);
    assert_eq!(
        as_nobody.status().await.unwrap_err().code(),
        Some("unknown_request_signer")
    );

    // Raw requests: a replay, a stale one, an altered body.
    gemtrail_node::tls::install_default_provider();
    let http = reqwest::Client::new();
    let base = unsigned.base().to_owned();
    let miner_key = cluster
        .sample()
        .member_key(&OrgId::parse("miner").unwrap())
        .unwrap()
        .clone();
    let miner = ("miner", &miner_key);
    let (status, _) = signed_get(
        &http,
        &base,
        "/v1/status",
        miner,
        now(),
        "00112233445566778899",
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = signed_get(
        &http,
        &base,
        "/v1/status",
        miner,
        now(),
        "00112233445566778899",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("replayed_request")),
        "{body}"
    );
    let stale = now() - WINDOW_SECS - 60;
    let (status, body) = signed_get(
        &http,
        &base,
        "/v1/status",
        miner,
        stale,
        "aabbccddeeff00112233",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("request_expired")),
        "{body}"
    );
    let parts = RequestParts {
        method: "POST",
        path: "/v1/transactions",
        query: None,
        body: b"signed",
    };
    let mut request = http.post(format!("{base}/v1/transactions")).body("altered");
    for (name, value) in sign(
        &parts,
        &OrgId::parse("miner").unwrap(),
        &miner_key,
        now(),
        "ffeeddccbbaa99887766",
    ) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request_signature", "{body}");

    // Open to anyone: the consumer's passport route, the metrics, the API's description.
    let page = http
        .get(format!("{base}/passport/GT-NOWHERE"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 404);
    assert!(page.text().await.unwrap().contains("<!DOCTYPE html>"));
    assert_eq!(
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    cluster.shutdown().await;
}
