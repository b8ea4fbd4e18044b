//! Prometheus metrics of the node, served at `GET /metrics` in the text
//! exposition format.
//!
//! Counters only grow; gauges are refreshed from Raft and the swarm when the
//! metrics are scraped (by the `/metrics` handler), so they cost nothing
//! between scrapes.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of the submission counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct ResultLabel {
    /// `accepted`, or the error code.
    pub result: String,
}

/// All the node's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Blocks this node applied.
    pub blocks_applied: Counter,
    /// Transactions this node applied (in blocks, whatever their outcome).
    pub txs_applied: Counter,
    /// Transactions applied with a rejection receipt.
    pub txs_rejected: Counter,
    /// Submissions through this node's API, by result.
    pub submissions: Family<ResultLabel, Counter>,
    /// Transactions per block this node proposed.
    pub batch_size: Histogram,
    /// Seconds from a block proposal to its commit, on the leader.
    pub propose_to_commit_seconds: Histogram,
    /// Seconds from submission to receipt, for submissions that waited.
    pub submit_to_receipt_seconds: Histogram,
    /// Transactions forwarded to the leader.
    pub txs_forwarded: Counter,
    /// Requests from peers handled, by kind.
    pub peer_requests: Family<KindLabel, Counter>,
    /// Connections refused because the peer is not a consortium node.
    pub peers_refused: Gauge,
    /// Current Raft term.
    pub raft_term: Gauge,
    /// Current Raft leader's node id (0 when none is known).
    pub raft_leader: Gauge,
    /// 1 while this node leads.
    pub raft_is_leader: Gauge,
    /// Peers with an established connection.
    pub peers_connected: Gauge,
    /// Transactions in the mempool.
    pub mempool_txs: Gauge,
    /// Height of the ledger's tip.
    pub ledger_height: Gauge,
}

/// Label of the peer request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct KindLabel {
    /// `append_entries`, `vote`, `snapshot_chunk` or `forward`.
    pub kind: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `gemtrail` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gemtrail");
        let metrics = Self {
            blocks_applied: Counter::default(),
            txs_applied: Counter::default(),
            txs_rejected: Counter::default(),
            submissions: Family::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            propose_to_commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            submit_to_receipt_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            txs_forwarded: Counter::default(),
            peer_requests: Family::default(),
            peers_refused: Gauge::default(),
            raft_term: Gauge::default(),
            raft_leader: Gauge::default(),
            raft_is_leader: Gauge::default(),
            peers_connected: Gauge::default(),
            mempool_txs: Gauge::default(),
            ledger_height: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "blocks_applied",
            "Blocks applied",
            metrics.blocks_applied.clone(),
        );
        r.register(
            "txs_applied",
            "Transactions applied in blocks",
            metrics.txs_applied.clone(),
        );
        r.register(
            "txs_rejected",
            "Transactions applied with a rejection receipt",
            metrics.txs_rejected.clone(),
        );
        r.register(
            "submissions",
            "Submissions through the API, by result",
            metrics.submissions.clone(),
        );
        r.register(
            "batch_size",
            "Transactions per proposed block",
            metrics.batch_size.clone(),
        );
        r.register(
            "propose_to_commit_seconds",
            "Seconds from proposal to commit on the leader",
            metrics.propose_to_commit_seconds.clone(),
        );
        r.register(
            "submit_to_receipt_seconds",
            "Seconds from submission to receipt",
            metrics.submit_to_receipt_seconds.clone(),
        );
        r.register(
            "txs_forwarded",
            "Transactions forwarded to the leader",
            metrics.txs_forwarded.clone(),
        );
        r.register(
            "peer_requests",
            "Requests from peers handled, by kind",
            metrics.peer_requests.clone(),
        );
        r.register(
            "peer_connections_refused",
            "Connections refused from peers that are not consortium nodes",
            metrics.peers_refused.clone(),
        );
        r.register("raft_term", "Current Raft term", metrics.raft_term.clone());
        r.register(
            "raft_leader",
            "Node id of the current Raft leader (0 if unknown)",
            metrics.raft_leader.clone(),
        );
        r.register(
            "raft_is_leader",
            "1 while this node leads",
            metrics.raft_is_leader.clone(),
        );
        r.register(
            "peers_connected",
            "Peers with an established connection",
            metrics.peers_connected.clone(),
        );
        r.register(
            "mempool_txs",
            "Transactions in the mempool",
            metrics.mempool_txs.clone(),
        );
        r.register(
            "ledger_height",
            "Height of the ledger tip",
            metrics.ledger_height.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts one peer request of `kind`.
    pub fn peer_request(&self, kind: &str) {
        self.peer_requests
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Counts one submission with `result`.
    pub fn submission(&self, result: &str) {
        self.submissions
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _infallible = encode(&mut text, &self.registry);
        text
    }
}

/// Converts a count to a gauge value.
pub fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
