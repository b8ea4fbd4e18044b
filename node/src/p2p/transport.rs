//! The libp2p [`RaftTransport`]: Raft RPCs as request-response messages, and
//! snapshots streamed in bounded chunks.
//!
//! Snapshot chunks go one at a time, in order; the receiver answers each with
//! how many bytes it holds, and installs the snapshot when the last arrives.
//! A chunk is at most the genesis `snapshot_chunk_bytes_max`, and never more
//! than fits in one peer message.

use std::io::SeekFrom;
use std::time::Duration;

use gemtrail_consensus::network::{RaftTransport, TransportError, TransportResult};
use gemtrail_consensus::record::VoteRecord;
use gemtrail_consensus::types::{NodeInfo, RaftNodeId, RaftVote, TypeConfig};
use libp2p::PeerId;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::Snapshot;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use gemtrail_genesis::Limits;

use super::swarm::{OutboundError, P2pHandle};
use super::wire::{
    snapshot_response, AppendEntriesWire, PeerRequest, PeerResponse, SnapshotChunkWire,
    SnapshotMetaWire, VoteRequestWire,
};
use crate::directory::Directory;

/// Room left in a message for everything in a snapshot chunk but its bytes
/// (the metadata carries a membership of up to 64 nodes).
const CHUNK_OVERHEAD_BYTES: u64 = 64 * 1024;

/// Sends Raft RPCs through the swarm.
#[derive(Clone, Debug)]
pub(crate) struct P2pTransport {
    p2p: P2pHandle,
    directory: Directory,
    message_bytes_max: u64,
    chunk_bytes: u64,
    request_timeout: Duration,
}

impl P2pTransport {
    /// A transport over `p2p`, finding peers in `directory`, with the
    /// genesis message and chunk caps.
    pub(crate) fn new(
        p2p: P2pHandle,
        directory: Directory,
        limits: &Limits,
        request_timeout: Duration,
    ) -> Self {
        let message_bytes_max = limits.peer_message_bytes_max;
        let room = message_bytes_max
            .saturating_sub(CHUNK_OVERHEAD_BYTES)
            .max(1);
        Self {
            p2p,
            directory,
            message_bytes_max,
            chunk_bytes: limits.snapshot_chunk_bytes_max.min(room).max(1),
            request_timeout,
        }
    }

    async fn call(
        &self,
        target: RaftNodeId,
        node: &NodeInfo,
        request: PeerRequest,
    ) -> TransportResult<PeerResponse> {
        let peer = self.peer_of(target, node)?;
        let bytes =
            u64::try_from(borsh::object_length(&request).unwrap_or(usize::MAX)).unwrap_or(u64::MAX);
        if bytes > self.message_bytes_max {
            return Err(TransportError::TooLarge {
                target,
                bytes,
                bytes_max: self.message_bytes_max,
            });
        }
        match self.p2p.request(peer, request).await {
            Ok(PeerResponse::Refused(refusal)) => Err(TransportError::Unreachable {
                target,
                reason: format!("refused ({}): {}", refusal.code, refusal.reason),
            }),
            Ok(response) => Ok(response),
            Err(OutboundError::Timeout) => Err(TransportError::Timeout {
                target,
                timeout_ms: u64::try_from(self.request_timeout.as_millis()).unwrap_or(u64::MAX),
            }),
            Err(error) => Err(TransportError::Unreachable {
                target,
                reason: error.to_string(),
            }),
        }
    }
}

impl P2pTransport {
    /// The peer of Raft node `target`: from the directory, parsed once when
    /// the node set changed; from its Raft description only for a node the
    /// ledger no longer lists (a removed voter during a membership change).
    fn peer_of(&self, target: RaftNodeId, node: &NodeInfo) -> TransportResult<PeerId> {
        if let Some(peer) = self.directory.peer_of_node(target) {
            return Ok(peer);
        }
        node.peer_id
            .as_str()
            .parse()
            .map_err(|error| TransportError::Unreachable {
                target,
                reason: format!("node {target} has an invalid peer id: {error}"),
            })
    }
}

fn unexpected(target: RaftNodeId, response: &PeerResponse) -> TransportError {
    TransportError::Network {
        target,
        reason: format!("unexpected answer {response:?}"),
    }
}

impl RaftTransport for P2pTransport {
    async fn append_entries(
        &self,
        target: RaftNodeId,
        node: &NodeInfo,
        request: AppendEntriesRequest<TypeConfig>,
    ) -> TransportResult<AppendEntriesResponse<RaftNodeId>> {
        let entries = request.entries.len() as u64;
        let wire = AppendEntriesWire::from_raft(request).map_err(|error| {
            // Too many entries for one message, or a membership too large to
            // encode: report it as too large, so Raft retries with fewer.
            tracing::debug!(%error, "append entries could not be put on the wire");
            TransportError::TooLarge {
                target,
                bytes: entries,
                bytes_max: entries.saturating_sub(1),
            }
        })?;
        match self
            .call(target, node, PeerRequest::AppendEntries(wire))
            .await?
        {
            PeerResponse::AppendEntries(response) => Ok(response.into()),
            other => Err(unexpected(target, &other)),
        }
    }

    async fn vote(
        &self,
        target: RaftNodeId,
        node: &NodeInfo,
        request: VoteRequest<RaftNodeId>,
    ) -> TransportResult<VoteResponse<RaftNodeId>> {
        match self
            .call(
                target,
                node,
                PeerRequest::Vote(VoteRequestWire::from(&request)),
            )
            .await?
        {
            PeerResponse::Vote(response) => Ok(response.into()),
            other => Err(unexpected(target, &other)),
        }
    }

    async fn full_snapshot(
        &self,
        target: RaftNodeId,
        node: &NodeInfo,
        vote: RaftVote,
        snapshot: Snapshot<TypeConfig>,
    ) -> TransportResult<SnapshotResponse<RaftNodeId>> {
        let meta = SnapshotMetaWire::from_raft(&snapshot.meta).map_err(|error| {
            TransportError::Network {
                target,
                reason: error.to_string(),
            }
        })?;
        let file_error = |error: std::io::Error| TransportError::Network {
            target,
            reason: format!("cannot read the snapshot file: {error}"),
        };
        // A checkpoint is dumped to a scratch file only now that it is sent.
        let data = *snapshot.snapshot;
        let dumped = tokio::task::spawn_blocking(move || data.into_dump_file())
            .await
            .map_err(|error| TransportError::Network {
                target,
                reason: format!("the snapshot dump task failed: {error}"),
            })?
            .map_err(|error| TransportError::Network {
                target,
                reason: format!("cannot dump the snapshot: {error}"),
            })?;
        let mut file = tokio::fs::File::from_std(dumped);
        let total = file.metadata().await.map_err(file_error)?.len();
        let vote = VoteRecord::from(&vote);
        tracing::info!(
            target,
            total_bytes = total,
            chunk_bytes = self.chunk_bytes,
            "sending snapshot"
        );
        let mut offset = 0u64;
        loop {
            let end = offset.saturating_add(self.chunk_bytes).min(total);
            // Read chunk by chunk: the snapshot is never whole in memory.
            let mut data = vec![0; usize::try_from(end - offset).unwrap_or(0)];
            file.seek(SeekFrom::Start(offset))
                .await
                .map_err(file_error)?;
            file.read_exact(&mut data).await.map_err(file_error)?;
            let chunk = SnapshotChunkWire {
                vote,
                meta: meta.clone(),
                total_bytes: total,
                offset,
                data,
            };
            match self
                .call(target, node, PeerRequest::SnapshotChunk(chunk))
                .await?
            {
                PeerResponse::SnapshotInstalled { vote } => return Ok(snapshot_response(vote)),
                // The receiver says where to go on from; a restarted receiver
                // says 0 and the transfer starts over.
                PeerResponse::SnapshotChunkStored { received } if received < total => {
                    offset = received;
                }
                other => return Err(unexpected(target, &other)),
            }
        }
    }
}
