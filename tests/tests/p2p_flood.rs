//! Silent TCP connects to the nodes' peer ports, from one host, while a node
//! restarts: the host can hold only a few handshake slots per node, so the
//! restarted node gets back in and the cluster commits through it (issue 18).

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gemtrail_node::api::views::SubmitStatus;
use gemtrail_tests::{init_logs, register, Cluster, ClusterOptions};
use tokio::net::{TcpSocket, TcpStream};

/// Silent connections each node is sent, all from one loopback address.
const SILENT_PER_NODE: usize = 200;
/// The flooding host: another loopback address than the nodes' own.
const FLOOD_SOURCE: &str = "127.0.0.2:0";
/// Most connects one flooder makes in the whole test.
const CONNECTS_MAX: usize = 20 * SILENT_PER_NODE;

/// The peer port of every genesis node.
fn peer_addrs(cluster: &Cluster) -> Vec<SocketAddr> {
    cluster
        .genesis()
        .membership()
        .nodes
        .values()
        .map(|node| {
            let text = node.listen_addr.as_str();
            let port = text.rsplit('/').next().unwrap();
            format!("127.0.0.1:{port}").parse().unwrap()
        })
        .collect()
}

async fn silent_connect(target: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(FLOOD_SOURCE.parse().unwrap()).ok()?;
    socket.connect(target).await.ok()
}

/// Keeps up to `SILENT_PER_NODE` silent connections open to `target`,
/// replacing those the node closes every 200 ms, until `stop`.
async fn flood(target: SocketAddr, stop: Arc<AtomicBool>) -> usize {
    let mut held: Vec<TcpStream> = Vec::new();
    let mut connects = 0;
    while !stop.load(Ordering::Relaxed) && connects < CONNECTS_MAX {
        held.retain(|stream| {
            let mut probe = [0u8; 1];
            // Open and silent: the read would block.
            matches!(stream.try_read(&mut probe), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
        });
        while held.len() < SILENT_PER_NODE && connects < CONNECTS_MAX {
            connects += 1;
            if let Some(stream) = silent_connect(target).await {
                held.push(stream);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    connects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_peer_connects_from_one_host_do_not_keep_a_restarting_node_out() {
    init_logs();
    let mut cluster = Cluster::start(ClusterOptions::default()).await.unwrap();
    let leader = cluster.wait_for_leader().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = peer_addrs(&cluster)
        .into_iter()
        .map(|target| tokio::spawn(flood(target, Arc::clone(&stop))))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A follower restarts while every node is being flooded.
    let restarting = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap();
    cluster.stop(restarting).await;
    cluster.start_in_process(restarting).await.unwrap();

    // It gets back in: a transaction submitted through it commits.
    let tx = cluster.tx("miner", 1, register("GT-FLOODED"));
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        cluster.client(restarting).submit(&tx, true),
    )
    .await
    .expect("the restarted node committed nothing within 30 s")
    .unwrap();
    assert_eq!(answer.status, SubmitStatus::Committed);
    let status = cluster.client(restarting).status().await.unwrap();
    assert!(
        status.peers.iter().all(|peer| peer.connected),
        "{:?}",
        status.peers
    );

    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        let connects = flooder.await.unwrap();
        assert!(
            connects >= SILENT_PER_NODE,
            "the flood never ran: {connects}"
        );
    }
    cluster.shutdown().await;
}
