//! Requests from peers: handed to Raft, to the snapshot assembler, or to the
//! mempool (transactions forwarded by followers).
//!
//! The sender must be a consortium node of the current ledger membership;
//! anything else is refused with `unknown_peer` and never reaches Raft (the
//! swarm's allow-list should already have closed its connection).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use gemtrail_consensus::record::VoteRecord;
use gemtrail_consensus::snapshot_files::SnapshotData;
use gemtrail_consensus::types::RaftNodeId;
use gemtrail_ledger::codec::BoundedVec;
use libp2p::PeerId;
use openraft::Snapshot;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::swarm::InboundHandler;
use super::wire::{
    AppendEntriesResponseWire, ForwardOutcome, PeerRequest, PeerResponse, Refusal,
    SnapshotChunkWire, VoteResponseWire,
};
use crate::context::NodeContext;

/// Largest snapshot a node accepts (the whole ledger dump, written to a
/// scratch file on the ledger's disk while it is received).
pub const SNAPSHOT_BYTES_MAX: u64 = 64 * 1024 * 1024 * 1024;

/// A snapshot being received from one leader.
#[derive(Debug)]
struct Incoming {
    snapshot_id: String,
    total_bytes: u64,
    /// How many bytes `file` holds.
    received: u64,
    file: tokio::fs::File,
}

/// The node's [`InboundHandler`]. It answers `starting` until the node's
/// context is set, since the swarm starts before Raft exists.
#[derive(Clone, Debug, Default)]
pub struct PeerService {
    context: Arc<OnceLock<Arc<NodeContext>>>,
    incoming: Arc<Mutex<HashMap<RaftNodeId, Incoming>>>,
}

impl PeerService {
    /// Sets the node context once it exists.
    pub fn set_context(&self, context: Arc<NodeContext>) {
        let _already_set = self.context.set(context);
    }

    async fn snapshot_chunk(
        &self,
        context: &NodeContext,
        from: RaftNodeId,
        chunk: SnapshotChunkWire,
    ) -> PeerResponse {
        if chunk.total_bytes > SNAPSHOT_BYTES_MAX {
            return refused(
                "snapshot_too_large",
                format!(
                    "a snapshot of {} bytes is more than the {SNAPSHOT_BYTES_MAX} accepted",
                    chunk.total_bytes
                ),
            );
        }
        let complete = {
            // Held across the chunk's write: chunks of a transfer come one at
            // a time anyway, and only one snapshot is received at once.
            let mut incoming = self.incoming.lock().await;
            let id = chunk.meta.snapshot_id.as_str();
            let same = incoming.get(&from).is_some_and(|current| {
                current.snapshot_id == id && current.total_bytes == chunk.total_bytes
            });
            if same && chunk.offset == 0 {
                // The sender started over (say, after a timeout): resume.
                let held = incoming.get(&from).map_or(0, |current| current.received);
                if held > 0 {
                    return PeerResponse::SnapshotChunkStored { received: held };
                }
            }
            if !same {
                if chunk.offset != 0 {
                    // We do not have its beginning (we restarted, or it is new).
                    return PeerResponse::SnapshotChunkStored { received: 0 };
                }
                // Only one snapshot can be installed: a transfer from an
                // earlier leader that stopped half-way is dropped.
                incoming.clear();
                let file = match context.ledger.scratch_file() {
                    Ok(file) => tokio::fs::File::from_std(file),
                    Err(error) => {
                        return refused("internal", format!("cannot receive a snapshot: {error}"))
                    }
                };
                incoming.insert(
                    from,
                    Incoming {
                        snapshot_id: id.to_owned(),
                        total_bytes: chunk.total_bytes,
                        received: 0,
                        file,
                    },
                );
            }
            let Some(current) = incoming.get_mut(&from) else {
                return refused("internal", "snapshot buffer vanished");
            };
            let held = current.received;
            if chunk.offset != held || chunk.total_bytes != current.total_bytes {
                return PeerResponse::SnapshotChunkStored { received: held };
            }
            let end = held.saturating_add(chunk.data.len() as u64);
            if end > current.total_bytes {
                incoming.remove(&from);
                return refused(
                    "snapshot_out_of_bounds",
                    "chunk runs past the snapshot's end",
                );
            }
            if let Err(error) = current.file.write_all(&chunk.data).await {
                incoming.remove(&from);
                return refused(
                    "internal",
                    format!("cannot store a snapshot chunk: {error}"),
                );
            }
            current.received = end;
            if end < current.total_bytes {
                return PeerResponse::SnapshotChunkStored { received: end };
            }
            incoming
                .remove(&from)
                .map(|done| (done.received, done.file))
        };
        let Some((bytes, mut file)) = complete else {
            return refused("internal", "snapshot buffer vanished");
        };
        let meta = match chunk.meta.into_raft() {
            Ok(meta) => meta,
            Err(error) => return refused("invalid_snapshot", error.to_string()),
        };
        tracing::info!(from, bytes, snapshot = %meta.snapshot_id, "installing snapshot");
        let file = match file.flush().await {
            Ok(()) => file.into_std().await,
            Err(error) => return refused("internal", format!("cannot store a snapshot: {error}")),
        };
        let snapshot = Snapshot {
            meta,
            snapshot: Box::new(SnapshotData::Dump(file)),
        };
        match context
            .raft
            .install_full_snapshot(chunk.vote.into(), snapshot)
            .await
        {
            Ok(response) => PeerResponse::SnapshotInstalled {
                vote: VoteRecord::from(&response.vote),
            },
            Err(error) => refused("raft_stopped", error.to_string()),
        }
    }

    async fn forward(
        &self,
        context: &NodeContext,
        txs: Vec<gemtrail_ledger::model::SignedTransaction>,
    ) -> PeerResponse {
        let outcomes: Vec<ForwardOutcome> = if context.is_leader() {
            // Verified again: a member's node is trusted to order, not to
            // vouch for other members' signatures. (The memo makes the
            // block's own check of them free on this node.)
            context
                .admit_many(txs)
                .await
                .into_iter()
                .map(|outcome| match outcome {
                    Ok((tx_id, _)) => ForwardOutcome::Admitted(tx_id),
                    Err(error) => {
                        ForwardOutcome::Refused(Refusal::new(error.code(), error.to_string()))
                    }
                })
                .collect()
        } else {
            txs.iter()
                .map(|_| {
                    ForwardOutcome::Refused(Refusal::new("not_leader", "this node no longer leads"))
                })
                .collect()
        };
        match BoundedVec::new(outcomes) {
            Ok(outcomes) => PeerResponse::Forwarded(outcomes),
            Err(_) => refused("too_many", "more outcomes than a message carries"),
        }
    }
}

fn refused(code: &str, reason: impl Into<String>) -> PeerResponse {
    PeerResponse::Refused(Refusal::new(code, reason))
}

impl InboundHandler for PeerService {
    async fn handle(&self, peer: PeerId, request: PeerRequest) -> PeerResponse {
        let Some(context) = self.context.get() else {
            return refused("starting", "the node is starting");
        };
        let Some(from) = context.node_of_peer(&peer) else {
            tracing::warn!(%peer, "refused a request from a peer that is not a consortium node");
            return refused("unknown_peer", format!("{peer} is not a consortium node"));
        };
        match request {
            PeerRequest::AppendEntries(append) => {
                context.metrics.peer_request("append_entries");
                let request = match append.into_raft() {
                    Ok(request) => request,
                    Err(error) => return refused("invalid_request", error.to_string()),
                };
                match context.raft.append_entries(request).await {
                    Ok(response) => {
                        PeerResponse::AppendEntries(AppendEntriesResponseWire::from(&response))
                    }
                    Err(error) => refused("raft_stopped", error.to_string()),
                }
            }
            PeerRequest::Vote(vote) => {
                context.metrics.peer_request("vote");
                match context.raft.vote(vote.into()).await {
                    Ok(response) => PeerResponse::Vote(VoteResponseWire::from(&response)),
                    Err(error) => refused("raft_stopped", error.to_string()),
                }
            }
            PeerRequest::SnapshotChunk(chunk) => {
                context.metrics.peer_request("snapshot_chunk");
                self.snapshot_chunk(context, from, chunk).await
            }
            PeerRequest::Forward(txs) => {
                context.metrics.peer_request("forward");
                self.forward(context, txs.into_inner()).await
            }
        }
    }
}
