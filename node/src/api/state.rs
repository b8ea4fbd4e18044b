//! [`ApiState`]: what the API's handlers read and call. The API is the one
//! part of the node that reports on everything (status, metrics), so it holds
//! handles to most parts, but it changes nothing except through the door.

use std::sync::Arc;
use std::time::Duration;

use gemtrail_consensus::LedgerStateMachine;
use gemtrail_genesis::ValidGenesis;

use crate::admission::Door;
use crate::commits::CommitWatch;
use crate::directory::Directory;
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::p2p::swarm::P2pHandle;
use crate::raft::RaftHandle;

/// The handlers' shared state.
#[derive(Debug)]
pub(crate) struct ApiState {
    /// The chain's genesis (its id, hash and limits).
    pub(crate) genesis: ValidGenesis,
    /// Raft, for the status.
    pub(crate) raft: RaftHandle,
    /// The ledger, for every read.
    pub(crate) ledger: LedgerStateMachine,
    /// The mempool's door, for submissions.
    pub(crate) door: Door,
    /// The mempool, for its size.
    pub(crate) mempool: Arc<Mempool>,
    /// Where submissions with `wait` wait for their commit.
    pub(crate) commits: Arc<CommitWatch>,
    /// The node's metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// The swarm, for who is connected.
    pub(crate) p2p: P2pHandle,
    /// The consortium's nodes.
    pub(crate) directory: Directory,
    /// How long a request may take.
    pub(crate) request_timeout: Duration,
}

impl ApiState {
    /// Runs `read` on the ledger store.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&gemtrail_ledger::store::LedgerStore) -> T,
    ) -> T {
        self.ledger.read(read)
    }
}
