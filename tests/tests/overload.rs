//! The API under sockets held open by a client: connections that send
//! nothing, or half a request's headers, are closed at the header deadline,
//! and no more than `limits.api_connections_max` are ever open, so honest
//! requests still get through; a body sent a byte at a time is cut at its
//! deadline (issue 18).

// Test scenarios read best whole; the 70-line rule is for non-test code.
#![allow(clippy::too_many_lines)]
// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gemtrail_node::api::views::SubmitStatus;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS_MAX: u64 = 4;
const HEADER_TIMEOUT: Duration = Duration::from_millis(1_000);

/// Reads until the server closes `stream`; how long that took, or `None`
/// if it was still open after `limit`.
async fn closed_within(mut stream: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 256];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// The `gemtrail_api_connections_open` value in a metrics text.
fn open_connections(metrics: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("gemtrail_api_connections_open "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the metrics have gemtrail_api_connections_open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_and_half_sent_sockets_are_closed_and_honest_requests_still_commit() {
    init_logs();
    let options = ClusterOptions {
        api_connections_max: CONNECTIONS_MAX,
        api_header_read_timeout_ms: u64::try_from(HEADER_TIMEOUT.as_millis()).unwrap(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await.unwrap();
    cluster.wait_for_leader().await.unwrap();
    let node = cluster.node_ids()[0];
    let client = cluster.client(node);
    let addr = client.base().trim_start_matches("http://").to_owned();

    // Three times the cap: a third silent, the rest half-sent headers.
    let mut held = Vec::new();
    for index in 0..3 * CONNECTIONS_MAX {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        if index % 3 != 0 {
            stream
                .write_all(b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-")
                .await
                .unwrap();
        }
        held.push(stream);
    }
    // An honest submission still commits, once the held sockets time out.
    let tx = cluster.tx("miner", 1, register("GT-UNDER-SIEGE"));
    let answer = tokio::time::timeout(Duration::from_secs(20), client.submit(&tx, true))
        .await
        .expect("the honest submission got no answer in 20 s")
        .unwrap();
    assert_eq!(answer.status, SubmitStatus::Committed);
    // Every held socket is closed by the server, none outlives a few
    // header deadlines (those past the cap wait their turn first).
    for stream in held {
        let closed = closed_within(stream, Duration::from_secs(15)).await;
        assert!(closed.is_some(), "a held socket stayed open");
    }
    let metrics = client.metrics().await.unwrap();
    let open = open_connections(&metrics);
    assert!(
        (1.0..=CONNECTIONS_MAX as f64).contains(&open),
        "{open} connections open"
    );

    // Past the cap, connections wait: with the cap's worth held silent, a
    // fresh metrics request sees at most the cap open.
    let mut silent = Vec::new();
    for _ in 0..2 * CONNECTIONS_MAX {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = cluster.client(node).metrics().await.unwrap();
    assert!(
        open_connections(&metrics) <= CONNECTIONS_MAX as f64,
        "{metrics}"
    );
    drop(silent);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_sent_a_byte_at_a_time_is_cut_at_its_deadline_with_body_timeout() {
    init_logs();
    let options = ClusterOptions {
        api_header_read_timeout_ms: u64::try_from(HEADER_TIMEOUT.as_millis()).unwrap(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).await.unwrap();
    cluster.wait_for_leader().await.unwrap();
    let client = cluster.client(cluster.node_ids()[0]);
    let addr = client.base().trim_start_matches("http://").to_owned();

    // 200 bytes declared: the deadline is the 1 s grace plus 3 ms of
    // length; the request timeout (10 s) is far off.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if writer.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(4), reader.read_to_end(&mut answer)).await;
    trickle.abort();
    assert!(read.is_ok(), "no answer within 4 s of the first byte");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"body_timeout\""), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4));

    // Honest requests are unaffected.
    let tx = cluster.tx("miner", 1, register("GT-AFTER-TRICKLE"));
    let answer = client.submit(&tx, true).await.unwrap();
    assert_eq!(answer.status, SubmitStatus::Committed);
    cluster.shutdown().await;
}
