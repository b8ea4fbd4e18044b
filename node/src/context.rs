//! The state every task of a running node shares: its identity, Raft, the
//! ledger, the mempool, commit waiters, the swarm handle and the metrics.
//!
//! [`NodeContext`] also holds the operations the API and the peer handler
//! both need: admitting a transaction, reading the ledger, and knowing which
//! node leads and which peer is which node.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use gemtrail_consensus::types::{NodeInfo, RaftNodeId, TypeConfig};
use gemtrail_consensus::LedgerStateMachine;
use gemtrail_genesis::ValidGenesis;
use gemtrail_ledger::ids::TxId;
use gemtrail_ledger::model::{NodeRecord, SignedTransaction};
use gemtrail_ledger::signature_batch::SignatureCheck;
use gemtrail_ledger::store::LedgerStore;
use libp2p::{Multiaddr, PeerId};
use openraft::{Raft, ServerState};

use crate::admission::{self, SubmitError};
use crate::commits::CommitWatch;
use crate::mempool::{Inserted, Mempool};
use crate::metrics::Metrics;
use crate::p2p::swarm::P2pHandle;
use crate::shutdown::Shutdown;
use crate::signatures::SignatureVerifier;

/// Batching settings in force on this node (genesis values, local overrides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    /// Propose once this many transactions wait.
    pub max_txs: usize,
    /// ... or once the oldest has waited this long.
    pub timeout: Duration,
    /// Most encoded transaction bytes in one proposal (so it fits in one
    /// peer message with room to spare).
    pub max_bytes: u64,
    /// Most proposals in flight at once.
    pub pipeline_max: usize,
}

/// The consortium's nodes as this node knows them from its ledger.
#[derive(Clone, Debug, Default)]
pub struct NodeDirectory {
    /// Node records by Raft id.
    pub nodes: BTreeMap<RaftNodeId, NodeRecord>,
    /// Raft id by peer id.
    pub by_peer: BTreeMap<PeerId, RaftNodeId>,
}

impl NodeDirectory {
    /// The directory of `nodes`; records whose peer id does not parse are
    /// left out of the peer map (genesis validation and the governance
    /// rules keep them well-formed).
    pub fn new(nodes: &BTreeMap<gemtrail_ledger::ids::NodeId, NodeRecord>) -> Self {
        let mut directory = Self::default();
        for (id, record) in nodes {
            directory.nodes.insert(id.0, record.clone());
            if let Ok(peer) = record.peer_id.as_str().parse::<PeerId>() {
                directory.by_peer.insert(peer, id.0);
            }
        }
        directory
    }

    /// The swarm's allow-list: peer id to listen address.
    pub fn allow_list(&self) -> BTreeMap<PeerId, Multiaddr> {
        self.nodes
            .values()
            .filter_map(|record| {
                let peer = record.peer_id.as_str().parse().ok()?;
                let addr = record.listen_addr.as_str().parse().ok()?;
                Some((peer, addr))
            })
            .collect()
    }

    /// The Raft node description of every node.
    pub fn raft_nodes(&self) -> BTreeMap<RaftNodeId, NodeInfo> {
        self.nodes
            .iter()
            .filter_map(|(id, record)| Some((*id, node_info(record)?)))
            .collect()
    }
}

/// The Raft description of a ledger node record.
pub fn node_info(record: &NodeRecord) -> Option<NodeInfo> {
    NodeInfo::new(
        record.peer_id.as_str(),
        record.listen_addr.as_str(),
        record.api_addr.as_str(),
    )
    .ok()
}

/// Everything a running node's tasks share.
pub struct NodeContext {
    /// This node's Raft id.
    pub id: RaftNodeId,
    /// The chain's genesis.
    pub genesis: ValidGenesis,
    /// Raft.
    pub raft: Raft<TypeConfig>,
    /// The ledger (the Raft state machine's read handle).
    pub ledger: LedgerStateMachine,
    /// Admitted transactions.
    pub mempool: Mempool,
    /// The door's batched signature checks.
    pub signatures: SignatureVerifier,
    /// Clients waiting for commits.
    pub commits: CommitWatch,
    /// The swarm.
    pub p2p: P2pHandle,
    /// Metrics.
    pub metrics: Metrics,
    /// The consortium's nodes, from the ledger.
    pub directory: RwLock<NodeDirectory>,
    /// Batching settings.
    pub batching: Batching,
    /// How long an API or peer request may take.
    pub request_timeout: Duration,
    /// Cleared when a graceful shutdown starts: no new submissions.
    pub accepting: AtomicBool,
    /// Fires when the node stops.
    pub shutdown: Shutdown,
}

impl NodeContext {
    /// Runs `read` on the ledger store.
    pub fn read<T>(&self, read: impl FnOnce(&LedgerStore) -> T) -> T {
        self.ledger.read(read)
    }

    /// The leader this node knows of, if any.
    pub fn leader(&self) -> Option<RaftNodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// True while this node leads.
    pub fn is_leader(&self) -> bool {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        metrics.state == ServerState::Leader && metrics.current_leader == Some(self.id)
    }

    /// The Raft id of the node with `peer`, if it is a consortium node.
    pub fn node_of_peer(&self, peer: &PeerId) -> Option<RaftNodeId> {
        self.directory
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_peer
            .get(peer)
            .copied()
    }

    /// The peer id of node `id`.
    pub fn peer_of_node(&self, id: RaftNodeId) -> Option<PeerId> {
        let directory = self
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        directory.nodes.get(&id)?.peer_id.as_str().parse().ok()
    }

    /// Admits a transaction whose id the caller computed (`tx_id` is
    /// `tx.id()`) into this node's mempool (see [`admission`]).
    pub async fn admit(
        &self,
        tx: SignedTransaction,
        tx_id: TxId,
    ) -> Result<(TxId, Inserted), SubmitError> {
        self.admit_identified(vec![(tx, tx_id)])
            .await
            .pop()
            .unwrap_or_else(|| {
                Err(SubmitError::Internal {
                    reason: "admission gave no outcome".to_owned(),
                })
            })
    }

    /// Admits transactions in order, one outcome each; their signatures are
    /// checked together, in the batch of whatever else is arriving.
    pub async fn admit_many(
        &self,
        txs: Vec<SignedTransaction>,
    ) -> Vec<Result<(TxId, Inserted), SubmitError>> {
        let identified = txs
            .into_iter()
            .map(|tx| {
                let tx_id = tx.id();
                (tx, tx_id)
            })
            .collect();
        self.admit_identified(identified).await
    }

    /// [`Self::admit_many`] for transactions paired with their ids (an id
    /// hashes the whole transaction, so it is computed once per door).
    async fn admit_identified(
        &self,
        txs: Vec<(SignedTransaction, TxId)>,
    ) -> Vec<Result<(TxId, Inserted), SubmitError>> {
        if !self.accepting.load(Ordering::Acquire) {
            return txs.iter().map(|_| Err(SubmitError::ShuttingDown)).collect();
        }
        let chain_id = self.genesis.chain_id();
        let shaped: Vec<Result<(), SubmitError>> = txs
            .iter()
            .map(|(tx, _)| admission::check_shape(tx, chain_id))
            .collect();
        let checks: Vec<SignatureCheck> = txs
            .iter()
            .zip(&shaped)
            .filter(|(_, shape)| shape.is_ok())
            .flat_map(|((tx, tx_id), _)| SignatureCheck::of_approvals(tx, *tx_id))
            .collect();
        let mut verdicts = self.signatures.verify(checks).await.into_iter();
        txs.into_iter()
            .zip(shaped)
            .map(|((tx, tx_id), shape)| {
                shape?;
                let mine: Vec<bool> = verdicts.by_ref().take(tx.approvals.len()).collect();
                admission::check_signatures(&tx, tx_id, &mine)?;
                let inserted =
                    self.read(|store| admission::check_and_queue(tx, tx_id, store, &self.mempool))?;
                Ok((tx_id, inserted))
            })
            .collect()
    }
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Raft` is not `Debug`; the id and the chain say which node this is.
        f.debug_struct("NodeContext")
            .field("id", &self.id)
            .field("chain_id", self.genesis.chain_id())
            .finish_non_exhaustive()
    }
}
