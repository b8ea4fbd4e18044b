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
pub(crate) struct ResultLabel {
    /// `accepted`, or the error code.
    pub(crate) result: String,
}

/// All the node's metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// Blocks this node applied.
    pub(crate) blocks_applied: Counter,
    /// Transactions this node applied (in blocks, whatever their outcome).
    pub(crate) txs_applied: Counter,
    /// Transactions applied with a rejection receipt.
    pub(crate) txs_rejected: Counter,
    /// Submissions through this node's API, by result.
    pub(crate) submissions: Family<ResultLabel, Counter>,
    /// Transactions per block this node proposed.
    pub(crate) batch_size: Histogram,
    /// Seconds from a block proposal to its commit, on the leader.
    pub(crate) propose_to_commit_seconds: Histogram,
    /// Seconds from submission to receipt, for submissions that waited.
    pub(crate) submit_to_receipt_seconds: Histogram,
    /// Transactions forwarded to the leader.
    pub(crate) txs_forwarded: Counter,
    /// Requests from peers handled, by kind.
    pub(crate) peer_requests: Family<KindLabel, Counter>,
    /// Connections refused because the peer is not a consortium node.
    pub(crate) peers_refused: Gauge,
    /// Current Raft term.
    pub(crate) raft_term: Gauge,
    /// Current Raft leader's node id (0 when none is known).
    pub(crate) raft_leader: Gauge,
    /// 1 while this node leads.
    pub(crate) raft_is_leader: Gauge,
    /// Peers with an established connection.
    pub(crate) peers_connected: Gauge,
    /// Transactions in the mempool.
    pub(crate) mempool_txs: Gauge,
    /// Height of the ledger's tip.
    pub(crate) ledger_height: Gauge,
    /// The highest height this node holds a quorum certificate for.
    pub(crate) certified_height: Gauge,
    /// Checkpoints this node refused to sign (a block time too far ahead of
    /// its clock).
    pub(crate) checkpoints_refused: Counter,
    /// Forks detected: a majority certified another block at a height this
    /// node applied.
    pub(crate) forks_detected: Counter,
    /// API connections open now.
    pub(crate) api_connections_open: Gauge,
}

/// Label of the peer request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub(crate) struct KindLabel {
    /// `append_entries`, `vote`, `snapshot_chunk` or `forward`.
    pub(crate) kind: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `gemtrail` prefix.
    pub(crate) fn new() -> Self {
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
            certified_height: Gauge::default(),
            checkpoints_refused: Counter::default(),
            forks_detected: Counter::default(),
            api_connections_open: Gauge::default(),
            registry: Registry::default(),
        };
        // In the order the text exposition has always listed them.
        metrics.register_ledger(&mut registry);
        metrics.register_flow(&mut registry);
        metrics.register_gauges(&mut registry);
        metrics.register_certification(&mut registry);
        registry.register(
            "api_connections_open",
            "API connections open now (at most limits.api_connections_max)",
            metrics.api_connections_open.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// What the ledger applied and what the API was sent.
    fn register_ledger(&self, registry: &mut Registry) {
        registry.register(
            "blocks_applied",
            "Blocks applied",
            self.blocks_applied.clone(),
        );
        registry.register(
            "txs_applied",
            "Transactions applied in blocks",
            self.txs_applied.clone(),
        );
        registry.register(
            "txs_rejected",
            "Transactions applied with a rejection receipt",
            self.txs_rejected.clone(),
        );
        registry.register(
            "submissions",
            "Submissions through the API, by result",
            self.submissions.clone(),
        );
    }

    /// How transactions flow: batches, latencies, forwarding, peer requests.
    fn register_flow(&self, registry: &mut Registry) {
        registry.register(
            "batch_size",
            "Transactions per proposed block",
            self.batch_size.clone(),
        );
        registry.register(
            "propose_to_commit_seconds",
            "Seconds from proposal to commit on the leader",
            self.propose_to_commit_seconds.clone(),
        );
        registry.register(
            "submit_to_receipt_seconds",
            "Seconds from submission to receipt",
            self.submit_to_receipt_seconds.clone(),
        );
        registry.register(
            "txs_forwarded",
            "Transactions forwarded to the leader",
            self.txs_forwarded.clone(),
        );
        registry.register(
            "peer_requests",
            "Requests from peers handled, by kind",
            self.peer_requests.clone(),
        );
    }

    /// The gauges the `/metrics` handler refreshes.
    fn register_gauges(&self, registry: &mut Registry) {
        registry.register(
            "peer_connections_refused",
            "Connections refused from peers that are not consortium nodes",
            self.peers_refused.clone(),
        );
        registry.register("raft_term", "Current Raft term", self.raft_term.clone());
        registry.register(
            "raft_leader",
            "Node id of the current Raft leader (0 if unknown)",
            self.raft_leader.clone(),
        );
        registry.register(
            "raft_is_leader",
            "1 while this node leads",
            self.raft_is_leader.clone(),
        );
        registry.register(
            "peers_connected",
            "Peers with an established connection",
            self.peers_connected.clone(),
        );
        registry.register(
            "mempool_txs",
            "Transactions in the mempool",
            self.mempool_txs.clone(),
        );
        registry.register(
            "ledger_height",
            "Height of the ledger tip",
            self.ledger_height.clone(),
        );
    }

    /// What certification reached and what it refused.
    fn register_certification(&self, registry: &mut Registry) {
        registry.register(
            "certified_height",
            "Highest height this node holds a quorum certificate for",
            self.certified_height.clone(),
        );
        registry.register(
            "checkpoints_refused",
            "Checkpoints this node refused to sign: the block time was too far ahead of its clock",
            self.checkpoints_refused.clone(),
        );
        registry.register(
            "forks_detected",
            "Heights where a majority certified another block than the one this node applied",
            self.forks_detected.clone(),
        );
    }

    /// Counts one peer request of `kind`.
    pub(crate) fn peer_request(&self, kind: &str) {
        self.peer_requests
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// Counts one submission with `result`.
    pub(crate) fn submission(&self, result: &str) {
        self.submissions
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }

    /// The text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _infallible = encode(&mut text, &self.registry);
        text
    }
}

/// Converts a count to a gauge value.
pub(crate) fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
