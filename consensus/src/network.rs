//! The transport-agnostic Raft network contract.
//!
//! A transport ([`RaftTransport`]) only has to deliver three requests to a
//! target node and bring back its answer, or say why it could not
//! ([`TransportError`]). [`TransportNetwork`] adapts any transport to
//! openraft's [`RaftNetworkFactory`] / [`RaftNetwork`]: it bounds every call
//! by openraft's hard deadline and maps each failure to the openraft error
//! that makes Raft react correctly (back off from an unreachable node, retry a
//! network hiccup at once, split an oversized batch, give up on a stopped
//! peer). The in-memory transport of the tests and the libp2p transport of
//! the node both implement the same trait.

use std::future::Future;
use std::time::Duration;

use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, RPCTypes, RaftNetwork, RaftNetworkFactory, Snapshot};

use crate::types::{NodeInfo, RaftNodeId, RaftVote, TypeConfig};

/// How long openraft waits before retrying a node the transport reported
/// unreachable, unless [`TransportNetwork::with_unreachable_backoff`] says
/// otherwise. Long enough not to spin on a dead peer, short enough that a
/// healed peer catches up within a second.
pub const UNREACHABLE_BACKOFF: Duration = Duration::from_millis(500);

/// Why a transport could not bring back a peer's answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The peer cannot be reached now (no route, connection refused,
    /// partitioned, message lost). Raft backs off before retrying.
    #[error("node {target} is unreachable: {reason}")]
    Unreachable {
        /// The node the request was for.
        target: RaftNodeId,
        /// What the transport observed.
        reason: String,
    },
    /// A transient send failure worth retrying at once (e.g. a reset stream).
    #[error("sending to node {target} failed: {reason}")]
    Network {
        /// The node the request was for.
        target: RaftNodeId,
        /// What the transport observed.
        reason: String,
    },
    /// The peer did not answer in time.
    #[error("node {target} did not answer within {timeout_ms} ms")]
    Timeout {
        /// The node the request was for.
        target: RaftNodeId,
        /// The deadline that passed, in milliseconds.
        timeout_ms: u64,
    },
    /// The request is larger than the transport carries.
    #[error("request to node {target} is {bytes} bytes, more than the {bytes_max} allowed")]
    TooLarge {
        /// The node the request was for.
        target: RaftNodeId,
        /// The encoded size of the request.
        bytes: u64,
        /// The largest request the transport carries.
        bytes_max: u64,
    },
    /// The peer received the request but its Raft failed (stopped, panicked,
    /// or hit a storage error).
    #[error("node {target} failed to handle the request: {fatal}")]
    Remote {
        /// The node that failed.
        target: RaftNodeId,
        /// Its Raft's fatal error (boxed: openraft's storage errors are large).
        fatal: Box<Fatal<RaftNodeId>>,
    },
}

/// A result of a transport call.
pub type TransportResult<T> = Result<T, TransportError>;

/// Delivers Raft requests to other nodes. Implementations need not bound
/// their calls: [`TransportNetwork`] puts a deadline on each of them.
///
/// An instance belongs to one local node: the sender is implicit.
pub trait RaftTransport: Clone + Send + Sync + 'static {
    /// Delivers an AppendEntries request (log replication and heartbeat).
    fn append_entries(
        &self,
        target: RaftNodeId,
        node: &NodeInfo,
        request: AppendEntriesRequest<TypeConfig>,
    ) -> impl Future<Output = TransportResult<AppendEntriesResponse<RaftNodeId>>> + Send;

    /// Delivers a RequestVote request.
    fn vote(
        &self,
        target: RaftNodeId,
        node: &NodeInfo,
        request: VoteRequest<RaftNodeId>,
    ) -> impl Future<Output = TransportResult<VoteResponse<RaftNodeId>>> + Send;

    /// Delivers a whole snapshot, sent by the leader holding `vote`, as one
    /// transfer. Its data is a ledger checkpoint or a dump file
    /// ([`SnapshotData`](crate::snapshot_files::SnapshotData)), never a buffer in
    /// memory: the transport dumps it to a file if need be and streams that.
    fn full_snapshot(
        &self,
        target: RaftNodeId,
        node: &NodeInfo,
        vote: RaftVote,
        snapshot: Snapshot<TypeConfig>,
    ) -> impl Future<Output = TransportResult<SnapshotResponse<RaftNodeId>>> + Send;
}

/// The openraft [`RaftNetworkFactory`] of one local node over any
/// [`RaftTransport`].
#[derive(Clone, Debug)]
pub struct TransportNetwork<T> {
    local: RaftNodeId,
    transport: T,
    unreachable_backoff: Duration,
}

impl<T: RaftTransport> TransportNetwork<T> {
    /// The network of node `local`, sending through `transport`.
    pub fn new(local: RaftNodeId, transport: T) -> Self {
        Self {
            local,
            transport,
            unreachable_backoff: UNREACHABLE_BACKOFF,
        }
    }

    /// Replaces [`UNREACHABLE_BACKOFF`] (tests with lossy links want less).
    pub fn with_unreachable_backoff(mut self, backoff: Duration) -> Self {
        self.unreachable_backoff = backoff;
        self
    }
}

impl<T: RaftTransport> RaftNetworkFactory<TypeConfig> for TransportNetwork<T> {
    type Network = TransportConnection<T>;

    async fn new_client(&mut self, target: RaftNodeId, node: &NodeInfo) -> Self::Network {
        TransportConnection {
            local: self.local,
            target,
            node: node.clone(),
            transport: self.transport.clone(),
            unreachable_backoff: self.unreachable_backoff,
        }
    }
}

/// The openraft [`RaftNetwork`] from one local node to one target node.
#[derive(Clone, Debug)]
pub struct TransportConnection<T> {
    local: RaftNodeId,
    target: RaftNodeId,
    node: NodeInfo,
    transport: T,
    unreachable_backoff: Duration,
}

/// Why a chunked snapshot request was refused: this network sends whole
/// snapshots through [`RaftTransport::full_snapshot`] only.
#[derive(Debug, thiserror::Error)]
#[error("chunked snapshot transfer is not supported; snapshots are sent whole")]
pub struct ChunkedSnapshotUnsupported;

type RpcError<E = RaftError<RaftNodeId>> = RPCError<RaftNodeId, NodeInfo, E>;

impl<T: RaftTransport> TransportConnection<T> {
    /// Runs `call` under `deadline`, turning an expiry into [`TransportError::Timeout`].
    async fn bounded<R>(
        &self,
        deadline: Duration,
        call: impl Future<Output = TransportResult<R>>,
    ) -> TransportResult<R> {
        match tokio::time::timeout(deadline, call).await {
            Ok(result) => result,
            Err(_elapsed) => Err(TransportError::Timeout {
                target: self.target,
                timeout_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    fn timeout(&self, action: RPCTypes, timeout: Duration) -> Timeout<RaftNodeId> {
        Timeout {
            action,
            id: self.local,
            target: self.target,
            timeout,
        }
    }

    /// Maps a transport failure of an AppendEntries or Vote call to the
    /// openraft error that makes Raft react right.
    fn rpc_error(
        &self,
        error: TransportError,
        action: RPCTypes,
        deadline: Duration,
        entries: usize,
    ) -> RpcError {
        match error {
            TransportError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&error)),
            TransportError::Network { .. } => RPCError::Network(NetworkError::new(&error)),
            TransportError::Timeout { .. } => RPCError::Timeout(self.timeout(action, deadline)),
            // Halving the batch lets openraft converge on a size that fits;
            // anything but a batch cannot be split, so it is a plain failure.
            TransportError::TooLarge { .. } if entries > 1 => RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(u64::try_from(entries / 2).unwrap_or(1)),
            ),
            TransportError::TooLarge { .. } => RPCError::Unreachable(Unreachable::new(&error)),
            TransportError::Remote { target, fatal } => RPCError::RemoteError(
                RemoteError::new_with_node(target, self.node.clone(), RaftError::Fatal(*fatal)),
            ),
        }
    }

    /// Maps a transport failure of a snapshot transfer.
    fn streaming_error(
        &self,
        error: TransportError,
        deadline: Duration,
    ) -> StreamingError<TypeConfig, Fatal<RaftNodeId>> {
        match error {
            // A snapshot cannot be split, so retrying at once is pointless.
            TransportError::Unreachable { .. } | TransportError::TooLarge { .. } => {
                StreamingError::Unreachable(Unreachable::new(&error))
            }
            TransportError::Network { .. } => StreamingError::Network(NetworkError::new(&error)),
            TransportError::Timeout { .. } => {
                StreamingError::Timeout(self.timeout(RPCTypes::InstallSnapshot, deadline))
            }
            TransportError::Remote { target, fatal } => StreamingError::RemoteError(
                RemoteError::new_with_node(target, self.node.clone(), *fatal),
            ),
        }
    }
}

impl<T: RaftTransport> RaftNetwork<TypeConfig> for TransportConnection<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<RaftNodeId>, RpcError> {
        let deadline = option.hard_ttl();
        let entries = rpc.entries.len();
        let call = self.transport.append_entries(self.target, &self.node, rpc);
        self.bounded(deadline, call)
            .await
            .map_err(|error| self.rpc_error(error, RPCTypes::AppendEntries, deadline, entries))
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<RaftNodeId>,
        RpcError<RaftError<RaftNodeId, InstallSnapshotError>>,
    > {
        // openraft only calls this from the default `full_snapshot`, which is
        // overridden below; backing off is the safe answer should it ever come.
        Err(RPCError::Unreachable(Unreachable::new(
            &ChunkedSnapshotUnsupported,
        )))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<RaftNodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<RaftNodeId>, RpcError> {
        let deadline = option.hard_ttl();
        let call = self.transport.vote(self.target, &self.node, rpc);
        self.bounded(deadline, call)
            .await
            .map_err(|error| self.rpc_error(error, RPCTypes::Vote, deadline, 0))
    }

    async fn full_snapshot(
        &mut self,
        vote: RaftVote,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<RaftNodeId>, StreamingError<TypeConfig, Fatal<RaftNodeId>>> {
        let deadline = option.hard_ttl();
        let call = self
            .transport
            .full_snapshot(self.target, &self.node, vote, snapshot);
        // Replication may be closed (e.g. the leader stepped down) while the
        // snapshot is in flight; stop sending then.
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            result = self.bounded(deadline, call) => {
                result.map_err(|error| self.streaming_error(error, deadline))
            }
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.unreachable_backoff))
    }
}
