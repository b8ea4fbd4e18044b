//! An in-process Raft network with fault injection (feature `test-utils`), and
//! a cluster harness on top of it.
//!
//! [`MemoryRouter`] holds the [`Raft`] handle of every node and delivers a
//! request by calling the target's handle directly. Tests steer its faults:
//! isolate a node, partition the nodes into two groups, lose every n-th
//! message, delay a link. A lost or cut message answers
//! [`TransportError::Unreachable`], as a real transport would after a failed
//! dial. [`MemoryTransport`] is one node's view of the router (the sender is
//! implicit in [`RaftTransport`]).
//!
//! [`MemoryCluster`] starts N nodes on it, each with a [`RocksLogStore`] in a
//! temporary directory and a [`MemoryStateMachine`], and offers bounded waits
//! for a leader and for application, and a `client_write` that finds the leader.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use gemtrail_ledger::codec::BoundedVec;
use gemtrail_ledger::model::BlockProposal;
use openraft::error::{ClientWriteError, Fatal, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, ClientWriteResponse, SnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{Config, Raft, ServerState, Snapshot};
use tempfile::TempDir;

use crate::log_store::RocksLogStore;
use crate::network::{RaftTransport, TransportError, TransportNetwork, TransportResult};
use crate::testing::{MemoryState, MemoryStateMachine};
use crate::types::{NodeInfo, RaftNodeId, RaftVote, TypeConfig};

/// What the router decided to do with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Deliver it after this delay.
    Deliver { delay_ms: u64 },
    /// Lose it before it reaches the target.
    DropRequest,
    /// Deliver it but lose the answer.
    DropResponse { delay_ms: u64 },
}

#[derive(Default)]
struct RouterState {
    nodes: BTreeMap<RaftNodeId, Raft<TypeConfig>>,
    isolated: BTreeSet<RaftNodeId>,
    /// Directed links that are cut, as (from, to).
    cut_links: BTreeSet<(RaftNodeId, RaftNodeId)>,
    link_delays_ms: BTreeMap<(RaftNodeId, RaftNodeId), u64>,
    drop_every: Option<u64>,
    messages_sent: u64,
    messages_dropped: u64,
}

impl std::fmt::Debug for RouterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Raft` is not `Debug`: show which nodes are registered.
        f.debug_struct("RouterState")
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .field("isolated", &self.isolated)
            .field("cut_links", &self.cut_links)
            .field("link_delays_ms", &self.link_delays_ms)
            .field("drop_every", &self.drop_every)
            .field("messages_sent", &self.messages_sent)
            .field("messages_dropped", &self.messages_dropped)
            .finish()
    }
}

impl RouterState {
    fn is_cut(&self, from: RaftNodeId, to: RaftNodeId) -> bool {
        self.isolated.contains(&from)
            || self.isolated.contains(&to)
            || self.cut_links.contains(&(from, to))
    }

    /// Counts the message and decides its fate. Every n-th message is lost,
    /// alternately before delivery and after it, so both a lost request and
    /// a lost answer (the target did act) are exercised, deterministically.
    fn fate(&mut self, from: RaftNodeId, to: RaftNodeId) -> Fate {
        self.messages_sent += 1;
        let delay_ms = self.link_delays_ms.get(&(from, to)).copied().unwrap_or(0);
        match self.drop_every {
            Some(every) if every > 0 && self.messages_sent.is_multiple_of(every) => {
                self.messages_dropped += 1;
                if (self.messages_sent / every) % 2 == 1 {
                    Fate::DropRequest
                } else {
                    Fate::DropResponse { delay_ms }
                }
            }
            _ => Fate::Deliver { delay_ms },
        }
    }
}

/// The in-process network shared by all nodes of a test cluster. Clones share
/// the same routing table and faults.
#[derive(Clone, Debug, Default)]
pub struct MemoryRouter {
    state: Arc<Mutex<RouterState>>,
}

impl MemoryRouter {
    /// An empty router without faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `raft` reachable as node `id` (replacing any earlier handle).
    pub fn register(&self, id: RaftNodeId, raft: Raft<TypeConfig>) {
        self.lock().nodes.insert(id, raft);
    }

    /// Forgets every node, breaking the cycle router → Raft → network → router.
    pub fn clear(&self) {
        self.lock().nodes.clear();
    }

    /// The transport node `local` sends through.
    pub fn transport(&self, local: RaftNodeId) -> MemoryTransport {
        MemoryTransport {
            router: self.clone(),
            local,
        }
    }

    /// Cuts node `id` off from every other node, both ways.
    pub fn isolate(&self, id: RaftNodeId) {
        self.lock().isolated.insert(id);
    }

    /// Cuts every link between a node of `group_a` and a node of `group_b`,
    /// both ways; links inside each group stay up.
    pub fn partition(&self, group_a: &[RaftNodeId], group_b: &[RaftNodeId]) {
        let mut state = self.lock();
        for a in group_a {
            for b in group_b {
                state.cut_links.insert((*a, *b));
                state.cut_links.insert((*b, *a));
            }
        }
    }

    /// Restores every isolated node and cut link (drops and delays stay).
    pub fn heal(&self) {
        let mut state = self.lock();
        state.isolated.clear();
        state.cut_links.clear();
    }

    /// Loses every `every`-th message from now on (counted over all links);
    /// `None` or `Some(0)` loses none.
    pub fn set_drop_every(&self, every: Option<u64>) {
        self.lock().drop_every = every;
    }

    /// Delays every message from `from` to `to` by `delay_ms` (0 removes it).
    pub fn set_link_delay_ms(&self, from: RaftNodeId, to: RaftNodeId, delay_ms: u64) {
        let mut state = self.lock();
        if delay_ms == 0 {
            state.link_delays_ms.remove(&(from, to));
        } else {
            state.link_delays_ms.insert((from, to), delay_ms);
        }
    }

    /// How many messages were sent (or attempted) and how many of them the
    /// drop rule lost, since the router was made.
    pub fn message_counts(&self) -> (u64, u64) {
        let state = self.lock();
        (state.messages_sent, state.messages_dropped)
    }

    fn lock(&self) -> MutexGuard<'_, RouterState> {
        // Only a failing test panics while holding the lock; the state is
        // consistent between statements.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides the fate of a message and finds the target's handle. The lock
    /// is released before anything is awaited.
    fn route(&self, from: RaftNodeId, to: RaftNodeId) -> TransportResult<(Fate, Raft<TypeConfig>)> {
        let mut state = self.lock();
        let unreachable = |reason: &str| TransportError::Unreachable {
            target: to,
            reason: reason.to_owned(),
        };
        if state.is_cut(from, to) {
            return Err(unreachable("link is cut"));
        }
        let raft = state
            .nodes
            .get(&to)
            .cloned()
            .ok_or_else(|| unreachable("no such node"))?;
        match state.fate(from, to) {
            Fate::DropRequest => Err(unreachable("request lost")),
            fate => Ok((fate, raft)),
        }
    }
}

/// One node's sending side of a [`MemoryRouter`].
#[derive(Clone, Debug)]
pub struct MemoryTransport {
    router: MemoryRouter,
    local: RaftNodeId,
}

impl MemoryTransport {
    /// Routes one request to `target`, running `call` on its Raft handle.
    async fn send<R, F>(
        &self,
        target: RaftNodeId,
        call: impl FnOnce(Raft<TypeConfig>) -> F,
    ) -> TransportResult<R>
    where
        F: std::future::Future<Output = Result<R, Fatal<RaftNodeId>>>,
    {
        let (fate, raft) = self.router.route(self.local, target)?;
        let delay_ms = match fate {
            Fate::Deliver { delay_ms } | Fate::DropResponse { delay_ms } => delay_ms,
            Fate::DropRequest => 0,
        };
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let answer = call(raft).await.map_err(|fatal| TransportError::Remote {
            target,
            fatal: Box::new(fatal),
        })?;
        if fate == (Fate::DropResponse { delay_ms }) {
            return Err(TransportError::Unreachable {
                target,
                reason: "response lost".to_owned(),
            });
        }
        Ok(answer)
    }
}

/// The fatal part of a Raft error whose API error cannot happen.
fn fatal_of(error: RaftError<RaftNodeId>) -> Fatal<RaftNodeId> {
    match error {
        RaftError::Fatal(fatal) => fatal,
        RaftError::APIError(never) => match never {},
    }
}

impl RaftTransport for MemoryTransport {
    async fn append_entries(
        &self,
        target: RaftNodeId,
        _node: &NodeInfo,
        request: AppendEntriesRequest<TypeConfig>,
    ) -> TransportResult<AppendEntriesResponse<RaftNodeId>> {
        self.send(target, |raft| async move {
            raft.append_entries(request).await.map_err(fatal_of)
        })
        .await
    }

    async fn vote(
        &self,
        target: RaftNodeId,
        _node: &NodeInfo,
        request: VoteRequest<RaftNodeId>,
    ) -> TransportResult<VoteResponse<RaftNodeId>> {
        self.send(target, |raft| async move {
            raft.vote(request).await.map_err(fatal_of)
        })
        .await
    }

    async fn full_snapshot(
        &self,
        target: RaftNodeId,
        _node: &NodeInfo,
        vote: RaftVote,
        snapshot: Snapshot<TypeConfig>,
    ) -> TransportResult<SnapshotResponse<RaftNodeId>> {
        self.send(target, |raft| async move {
            raft.install_full_snapshot(vote, snapshot).await
        })
        .await
    }
}

/// Heartbeat of test clusters: short, so tests run fast.
pub const TEST_HEARTBEAT_MS: u64 = 50;
/// Shortest election timeout of test clusters (three heartbeats).
pub const TEST_ELECTION_TIMEOUT_MIN_MS: u64 = 150;
/// Longest election timeout of test clusters.
pub const TEST_ELECTION_TIMEOUT_MAX_MS: u64 = 300;
/// How long a test node backs off from an unreachable peer: a dropped
/// message must not stall replication for openraft's default half second.
pub const TEST_UNREACHABLE_BACKOFF_MS: u64 = 50;
/// How often the harness polls metrics while waiting.
const POLL_INTERVAL_MS: u64 = 10;
/// How long one write attempt on a presumed leader may take before the
/// harness looks for another leader.
const WRITE_ATTEMPT_TIMEOUT_MS: u64 = 1_000;

/// A test-cluster failure a test would report.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A node could not be set up (temporary directory, log store, config,
    /// Raft start or initialisation).
    #[error("node {node} could not be set up: {reason}")]
    Setup {
        /// The node.
        node: RaftNodeId,
        /// What failed.
        reason: String,
    },
    /// The cluster has no node with this id.
    #[error("no node {node} in the cluster")]
    UnknownNode {
        /// The id asked for.
        node: RaftNodeId,
    },
    /// The observers did not agree on a leader in time.
    #[error("no leader agreed on by {observers:?} within {waited_ms} ms")]
    NoLeader {
        /// The nodes asked.
        observers: Vec<RaftNodeId>,
        /// How long the harness waited.
        waited_ms: u64,
    },
    /// A write was not committed and applied in time.
    #[error("write on node {node} not applied within {waited_ms} ms")]
    WriteTimeout {
        /// The node written to (0 when no leader was found).
        node: RaftNodeId,
        /// How long the harness waited.
        waited_ms: u64,
    },
    /// A node refused the write (not the leader, or stopped).
    #[error("write on node {node} failed: {error}")]
    Write {
        /// The node written to.
        node: RaftNodeId,
        /// Its answer (boxed: openraft's errors are large).
        error: Box<RaftError<RaftNodeId, ClientWriteError<RaftNodeId, NodeInfo>>>,
    },
    /// A node did not apply up to an index in time.
    #[error("node {node} did not apply index {index} within {waited_ms} ms")]
    NotApplied {
        /// The node.
        node: RaftNodeId,
        /// The index waited for.
        index: u64,
        /// How long the harness waited.
        waited_ms: u64,
    },
}

/// One node of a [`MemoryCluster`].
struct ClusterNode {
    raft: Raft<TypeConfig>,
    state_machine: MemoryStateMachine,
    /// Holds the log store's directory until the node is shut down.
    _dir: TempDir,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("metrics", &*self.raft.metrics().borrow())
            .field("state", &self.state_machine.state())
            .finish_non_exhaustive()
    }
}

/// N in-process Raft nodes on one [`MemoryRouter`], with RocksDB log stores
/// in temporary directories. Call [`MemoryCluster::shutdown`] at the end.
#[derive(Debug)]
pub struct MemoryCluster {
    router: MemoryRouter,
    nodes: BTreeMap<RaftNodeId, ClusterNode>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A node description for test node `id` (nothing listens there).
pub fn test_node_info(id: RaftNodeId) -> NodeInfo {
    NodeInfo {
        peer_id: crate::types::PeerIdText::new(format!("memory-node-{id}")).unwrap_or_default(),
        listen_addr: crate::types::AddressText::new(format!("memory://{id}")).unwrap_or_default(),
        api_addr: crate::types::AddressText::default(),
    }
}

/// A block proposal without transactions, enough to exercise Raft.
pub fn empty_proposal(timestamp_ms: u64) -> BlockProposal {
    BlockProposal {
        timestamp_ms,
        transactions: BoundedVec::empty(),
    }
}

/// The Raft configuration of test clusters (short timeouts). An invalid
/// configuration is reported as a setup failure of node 0, i.e. of every node.
pub fn test_config() -> Result<Config, ClusterError> {
    Config {
        cluster_name: "gemtrail-memory".to_owned(),
        heartbeat_interval: TEST_HEARTBEAT_MS,
        election_timeout_min: TEST_ELECTION_TIMEOUT_MIN_MS,
        election_timeout_max: TEST_ELECTION_TIMEOUT_MAX_MS,
        ..Config::default()
    }
    .validate()
    .map_err(|error| ClusterError::Setup {
        node: 0,
        reason: error.to_string(),
    })
}

impl MemoryCluster {
    /// Starts nodes 1 to `node_count`, initialises the membership {1..N} on
    /// node 1 and returns without waiting for a leader.
    pub async fn start(node_count: u64) -> Result<Self, ClusterError> {
        Self::start_with_config(node_count, test_config()?).await
    }

    /// Like [`MemoryCluster::start`], with a configuration of the test's own
    /// (e.g. [`test_config`] with an eager snapshot policy).
    pub async fn start_with_config(node_count: u64, config: Config) -> Result<Self, ClusterError> {
        let router = MemoryRouter::new();
        let config = Arc::new(config);
        let mut nodes = BTreeMap::new();
        for id in 1..=node_count {
            let node = Self::start_node(&router, &config, id).await?;
            router.register(id, node.raft.clone());
            nodes.insert(id, node);
        }
        let cluster = Self { router, nodes };
        let members = (1..=node_count)
            .map(|id| (id, test_node_info(id)))
            .collect::<BTreeMap<_, _>>();
        cluster
            .raft(1)?
            .initialize(members)
            .await
            .map_err(|error| ClusterError::Setup {
                node: 1,
                reason: error.to_string(),
            })?;
        Ok(cluster)
    }

    async fn start_node(
        router: &MemoryRouter,
        config: &Arc<Config>,
        id: RaftNodeId,
    ) -> Result<ClusterNode, ClusterError> {
        let setup = |reason: String| ClusterError::Setup { node: id, reason };
        let dir = TempDir::new().map_err(|error| setup(error.to_string()))?;
        let log_store =
            RocksLogStore::open(dir.path()).map_err(|error| setup(error.to_string()))?;
        let state_machine = MemoryStateMachine::new();
        let network = TransportNetwork::new(id, router.transport(id))
            .with_unreachable_backoff(Duration::from_millis(TEST_UNREACHABLE_BACKOFF_MS));
        let raft = Raft::new(
            id,
            Arc::clone(config),
            network,
            log_store,
            state_machine.clone(),
        )
        .await
        .map_err(|error| setup(error.to_string()))?;
        Ok(ClusterNode {
            raft,
            state_machine,
            _dir: dir,
        })
    }

    /// The router, to inject faults.
    pub fn router(&self) -> &MemoryRouter {
        &self.router
    }

    /// The ids of all nodes, ascending.
    pub fn node_ids(&self) -> Vec<RaftNodeId> {
        self.nodes.keys().copied().collect()
    }

    /// The Raft handle of node `id`.
    pub fn raft(&self, id: RaftNodeId) -> Result<&Raft<TypeConfig>, ClusterError> {
        self.node(id).map(|node| &node.raft)
    }

    /// What node `id`'s state machine holds now.
    pub fn state(&self, id: RaftNodeId) -> Result<MemoryState, ClusterError> {
        self.node(id).map(|node| node.state_machine.state())
    }

    fn node(&self, id: RaftNodeId) -> Result<&ClusterNode, ClusterError> {
        self.nodes
            .get(&id)
            .ok_or(ClusterError::UnknownNode { node: id })
    }

    /// Waits until every node of `observers` names the same leader, that
    /// leader is one of them and considers itself leader; returns its id.
    pub async fn wait_for_leader(
        &self,
        observers: &[RaftNodeId],
        timeout: Duration,
    ) -> Result<RaftNodeId, ClusterError> {
        let poll = async {
            loop {
                if let Some(leader) = self.agreed_leader(observers)? {
                    return Ok(leader);
                }
                tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
            }
        };
        match tokio::time::timeout(timeout, poll).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ClusterError::NoLeader {
                observers: observers.to_vec(),
                waited_ms: millis(timeout),
            }),
        }
    }

    fn agreed_leader(&self, observers: &[RaftNodeId]) -> Result<Option<RaftNodeId>, ClusterError> {
        let mut leaders = BTreeSet::new();
        for id in observers {
            leaders.insert(self.raft(*id)?.metrics().borrow().current_leader);
        }
        let Some(Some(leader)) = leaders.first().copied() else {
            return Ok(None);
        };
        let is_leader = self.raft(leader)?.metrics().borrow().state == ServerState::Leader;
        Ok((leaders.len() == 1 && observers.contains(&leader) && is_leader).then_some(leader))
    }

    /// The node that believes it leads with the highest term (an isolated
    /// old leader may still believe it leads, in an older term).
    fn presumed_leader(&self) -> Option<RaftNodeId> {
        self.nodes
            .iter()
            .filter_map(|(id, node)| {
                let metrics = node.raft.metrics().borrow().clone();
                (metrics.state == ServerState::Leader).then_some((metrics.current_term, *id))
            })
            .max()
            .map(|(_term, id)| id)
    }

    /// Writes `proposal` through whichever node leads, retrying on another
    /// presumed leader until `timeout`.
    pub async fn client_write(
        &self,
        proposal: BlockProposal,
        timeout: Duration,
    ) -> Result<ClientWriteResponse<TypeConfig>, ClusterError> {
        let attempts = async {
            loop {
                if let Some(leader) = self.presumed_leader() {
                    let attempt = Duration::from_millis(WRITE_ATTEMPT_TIMEOUT_MS);
                    match self
                        .client_write_on(leader, proposal.clone(), attempt)
                        .await
                    {
                        Ok(response) => return Ok(response),
                        Err(ClusterError::Write { .. } | ClusterError::WriteTimeout { .. }) => {}
                        Err(other) => return Err(other),
                    }
                }
                tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
            }
        };
        match tokio::time::timeout(timeout, attempts).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ClusterError::WriteTimeout {
                node: 0,
                waited_ms: millis(timeout),
            }),
        }
    }

    /// Writes `proposal` through node `id`, whether or not it leads, waiting
    /// at most `timeout` for it to be committed and applied.
    pub async fn client_write_on(
        &self,
        id: RaftNodeId,
        proposal: BlockProposal,
        timeout: Duration,
    ) -> Result<ClientWriteResponse<TypeConfig>, ClusterError> {
        let raft = self.raft(id)?;
        match tokio::time::timeout(timeout, raft.client_write(proposal)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(ClusterError::Write {
                node: id,
                error: Box::new(error),
            }),
            Err(_elapsed) => Err(ClusterError::WriteTimeout {
                node: id,
                waited_ms: millis(timeout),
            }),
        }
    }

    /// Waits until every node of `nodes` has applied `index`.
    pub async fn wait_applied(
        &self,
        nodes: &[RaftNodeId],
        index: u64,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        for id in nodes {
            self.raft(*id)?
                .wait(Some(timeout))
                .applied_index_at_least(Some(index), format!("node {id} applies {index}"))
                .await
                .map_err(|_error| ClusterError::NotApplied {
                    node: *id,
                    index,
                    waited_ms: millis(timeout),
                })?;
        }
        Ok(())
    }

    /// Stops every node and forgets them in the router; the temporary
    /// directories go when the cluster drops.
    pub async fn shutdown(self) {
        for node in self.nodes.values() {
            // A node that already stopped has nothing left to shut down.
            let _stopped = node.raft.shutdown().await;
        }
        self.router.clear();
    }
}
