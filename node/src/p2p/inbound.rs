//! Requests from peers: handed to Raft, to the snapshot assembler, to the
//! door (transactions forwarded by followers), or to the certifier
//! (checkpoint signatures).
//!
//! The swarm starts before Raft exists (Raft needs the swarm to talk), so the
//! swarm's handler is an [`InboundQueue`]: requests wait in a bounded queue
//! until the node has built its [`PeerService`] and started serving it,
//! instead of being refused. A peer that floods the queue waits, like any
//! peer whose requests outrun the service.
//!
//! The sender must be a consortium node of the current ledger membership;
//! anything else is refused with `unknown_peer` and never reaches Raft (the
//! swarm's allow-list should already have closed its connection).

use std::collections::HashMap;
use std::sync::Arc;

use gemtrail_consensus::record::VoteRecord;
use gemtrail_consensus::snapshot_files::SnapshotData;
use gemtrail_consensus::types::{RaftNodeId, RaftVote};
use gemtrail_consensus::LedgerStateMachine;
use gemtrail_ledger::codec::BoundedVec;
use gemtrail_ledger::ids::NodeId;
use gemtrail_ledger::model::SignedTransaction;
use libp2p::PeerId;
use openraft::Snapshot;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::swarm::InboundHandler;
use super::wire::{
    AppendEntriesResponseWire, AppendEntriesWire, ForwardOutcome, PeerRequest, PeerResponse,
    Refusal, SnapshotChunkWire, VoteResponseWire,
};
use crate::admission::Door;
use crate::certify::Certifier;
use crate::codes::ErrorCode;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::raft::RaftHandle;
use crate::shutdown::Shutdown;

/// Largest snapshot a node accepts (the whole ledger dump, written to a
/// scratch file on the ledger's disk while it is received).
pub(crate) const SNAPSHOT_BYTES_MAX: u64 = 64 * 1024 * 1024 * 1024;

/// Peer requests that may wait for the service at once; senders wait when
/// it is full.
const QUEUE_REQUESTS_MAX: usize = 1024;

/// One peer request waiting for the service, with where its answer goes.
#[derive(Debug)]
pub(crate) struct InboundCall {
    peer: PeerId,
    request: PeerRequest,
    reply: oneshot::Sender<PeerResponse>,
}

/// The swarm's handler: it queues each request for the [`PeerService`].
#[derive(Clone, Debug)]
pub(crate) struct InboundQueue {
    calls: mpsc::Sender<InboundCall>,
}

/// The service's end of the queue.
#[derive(Debug)]
pub(crate) struct InboundCalls(mpsc::Receiver<InboundCall>);

/// A queue and its receiving end.
pub(crate) fn inbound_queue() -> (InboundQueue, InboundCalls) {
    let (calls, queue) = mpsc::channel(QUEUE_REQUESTS_MAX);
    (InboundQueue { calls }, InboundCalls(queue))
}

impl InboundHandler for InboundQueue {
    async fn handle(&self, peer: PeerId, request: PeerRequest) -> PeerResponse {
        let (reply, answer) = oneshot::channel();
        let call = InboundCall {
            peer,
            request,
            reply,
        };
        if self.calls.send(call).await.is_err() {
            return refused(ErrorCode::ShuttingDown, "the node is stopping");
        }
        answer
            .await
            .unwrap_or_else(|_| refused(ErrorCode::ShuttingDown, "the node is stopping"))
    }
}

/// A snapshot being received from one leader.
#[derive(Debug)]
struct Incoming {
    snapshot_id: String,
    total_bytes: u64,
    /// How many bytes `file` holds.
    received: u64,
    file: tokio::fs::File,
}

/// The handler of peer requests, with what it hands them to.
#[derive(Clone, Debug)]
pub(crate) struct PeerService {
    raft: RaftHandle,
    ledger: LedgerStateMachine,
    directory: Directory,
    door: Door,
    certifier: Certifier,
    metrics: Arc<Metrics>,
    incoming: Arc<Mutex<HashMap<RaftNodeId, Incoming>>>,
}

impl PeerService {
    /// A service handing requests to `raft`, `ledger`, `door` and
    /// `certifier`.
    pub(crate) fn new(
        raft: RaftHandle,
        ledger: LedgerStateMachine,
        directory: Directory,
        door: Door,
        certifier: Certifier,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            raft,
            ledger,
            directory,
            door,
            certifier,
            metrics,
            incoming: Arc::default(),
        }
    }

    /// Answers the queued requests, each in a task of its own (a snapshot
    /// chunk being written must not hold up a heartbeat), until the node
    /// shuts down.
    pub(crate) async fn serve(self, mut calls: InboundCalls, shutdown: Shutdown) {
        loop {
            let call = tokio::select! {
                call = calls.0.recv() => call,
                () = shutdown.wait() => break,
            };
            let Some(call) = call else { break };
            let service = self.clone();
            tokio::spawn(async move {
                let response = service.handle(call.peer, call.request).await;
                // A peer that hung up no longer needs its answer.
                let _ = call.reply.send(response);
            });
        }
    }

    /// Answers one request from `peer`.
    async fn handle(&self, peer: PeerId, request: PeerRequest) -> PeerResponse {
        let Some(from) = self.directory.node_of_peer(&peer) else {
            tracing::warn!(%peer, "refused a request from a peer that is not a consortium node");
            return refused(
                ErrorCode::UnknownPeer,
                format!("{peer} is not a consortium node"),
            );
        };
        if let Some(claimed) = claimed_voter(&request) {
            if claimed != from {
                tracing::warn!(%peer, from, claimed, "refused a Raft request carrying another node's vote");
                return refused(
                    ErrorCode::NotSendersVote,
                    format!("node {from} sent a Raft request under node {claimed}'s vote"),
                );
            }
        }
        match request {
            PeerRequest::AppendEntries(append) => {
                self.metrics.peer_request("append_entries");
                self.append_entries(append).await
            }
            PeerRequest::Vote(vote) => {
                self.metrics.peer_request("vote");
                match self.raft.raft.vote(vote.into()).await {
                    Ok(response) => PeerResponse::Vote(VoteResponseWire::from(&response)),
                    Err(error) => refused(ErrorCode::RaftStopped, error.to_string()),
                }
            }
            PeerRequest::SnapshotChunk(chunk) => {
                self.metrics.peer_request("snapshot_chunk");
                self.snapshot_chunk(from, chunk).await
            }
            PeerRequest::Forward(txs) => {
                self.metrics.peer_request("forward");
                self.forward(txs.into_inner()).await
            }
            PeerRequest::Checkpoint(vote) => {
                self.metrics.peer_request("checkpoint");
                PeerResponse::Checkpoint(self.certifier.on_vote(NodeId(from), vote).map(Box::new))
            }
        }
    }

    async fn append_entries(&self, append: AppendEntriesWire) -> PeerResponse {
        let request = match append.into_raft() {
            Ok(request) => request,
            Err(error) => return refused(ErrorCode::InvalidRequest, error.to_string()),
        };
        match self.raft.raft.append_entries(request).await {
            Ok(response) => PeerResponse::AppendEntries(AppendEntriesResponseWire::from(&response)),
            Err(error) => refused(ErrorCode::RaftStopped, error.to_string()),
        }
    }

    /// Stores one chunk of a snapshot from node `from`; installs the
    /// snapshot when its last chunk arrives.
    async fn snapshot_chunk(&self, from: RaftNodeId, chunk: SnapshotChunkWire) -> PeerResponse {
        if chunk.total_bytes > SNAPSHOT_BYTES_MAX {
            return refused(
                ErrorCode::SnapshotTooLarge,
                format!(
                    "a snapshot of {} bytes is more than the {SNAPSHOT_BYTES_MAX} accepted",
                    chunk.total_bytes
                ),
            );
        }
        // Only the leader this node follows (or a newer one) may start or
        // feed a transfer: checked before a byte reaches the disk, so a stale
        // or deposed leader cannot wipe the transfer under way.
        let current = self.raft.raft.metrics().borrow().vote;
        if RaftVote::from(chunk.vote) < current {
            return refused(
                ErrorCode::StaleVote,
                format!(
                    "a snapshot chunk under term {} from node {from}, older than this node's vote",
                    chunk.vote.term
                ),
            );
        }
        let complete = match self.store_chunk(from, &chunk).await {
            ChunkStored::Partly(answer) => return answer,
            ChunkStored::Complete(file) => file,
        };
        self.install(from, chunk, complete).await
    }

    /// Writes `chunk` where its transfer stands. Held across the write:
    /// chunks of a transfer come one at a time anyway, and only one snapshot
    /// is received at once.
    async fn store_chunk(&self, from: RaftNodeId, chunk: &SnapshotChunkWire) -> ChunkStored {
        let mut incoming = self.incoming.lock().await;
        let current = match self.transfer_for(&mut incoming, from, chunk) {
            Ok(current) => current,
            Err(answer) => return ChunkStored::Partly(answer),
        };
        let held = current.received;
        if chunk.offset != held || chunk.total_bytes != current.total_bytes {
            return ChunkStored::Partly(PeerResponse::SnapshotChunkStored { received: held });
        }
        let end = held.saturating_add(chunk.data.len() as u64);
        if end > current.total_bytes {
            incoming.remove(&from);
            return ChunkStored::Partly(refused(
                ErrorCode::SnapshotOutOfBounds,
                "chunk runs past the snapshot's end",
            ));
        }
        if let Err(error) = current.file.write_all(&chunk.data).await {
            incoming.remove(&from);
            return ChunkStored::Partly(refused(
                ErrorCode::Internal,
                format!("cannot store a snapshot chunk: {error}"),
            ));
        }
        current.received = end;
        if end < current.total_bytes {
            return ChunkStored::Partly(PeerResponse::SnapshotChunkStored { received: end });
        }
        match incoming.remove(&from) {
            Some(done) => ChunkStored::Complete(done.file),
            None => ChunkStored::Partly(refused(ErrorCode::Internal, "snapshot buffer vanished")),
        }
    }

    /// The transfer `chunk` belongs to: the one under way from `from`, or a
    /// new one when `chunk` starts one. `Err` is the answer to give instead.
    fn transfer_for<'a>(
        &self,
        incoming: &'a mut HashMap<RaftNodeId, Incoming>,
        from: RaftNodeId,
        chunk: &SnapshotChunkWire,
    ) -> Result<&'a mut Incoming, PeerResponse> {
        let id = chunk.meta.snapshot_id.as_str();
        let held = incoming
            .get(&from)
            .filter(|current| current.snapshot_id == id && current.total_bytes == chunk.total_bytes)
            .map(|current| current.received);
        match held {
            // The sender started over (say, after a timeout): resume.
            Some(held) if chunk.offset == 0 && held > 0 => {
                return Err(PeerResponse::SnapshotChunkStored { received: held })
            }
            Some(_) => {}
            // We do not have its beginning (we restarted, or it is new).
            None if chunk.offset != 0 => {
                return Err(PeerResponse::SnapshotChunkStored { received: 0 })
            }
            None => {
                // Only one snapshot can be installed: a transfer from an
                // earlier leader that stopped half-way is dropped.
                incoming.clear();
                let file = self.ledger.scratch_file().map_err(|error| {
                    refused(
                        ErrorCode::Internal,
                        format!("cannot receive a snapshot: {error}"),
                    )
                })?;
                incoming.insert(
                    from,
                    Incoming {
                        snapshot_id: id.to_owned(),
                        total_bytes: chunk.total_bytes,
                        received: 0,
                        file: tokio::fs::File::from_std(file),
                    },
                );
            }
        }
        incoming
            .get_mut(&from)
            .ok_or_else(|| refused(ErrorCode::Internal, "snapshot buffer vanished"))
    }

    /// Hands a wholly received snapshot to Raft.
    async fn install(
        &self,
        from: RaftNodeId,
        chunk: SnapshotChunkWire,
        mut file: tokio::fs::File,
    ) -> PeerResponse {
        let meta = match chunk.meta.into_raft() {
            Ok(meta) => meta,
            Err(error) => return refused(ErrorCode::InvalidSnapshot, error.to_string()),
        };
        tracing::info!(from, bytes = chunk.total_bytes, snapshot = %meta.snapshot_id, "installing snapshot");
        let file = match file.flush().await {
            Ok(()) => file.into_std().await,
            Err(error) => {
                return refused(
                    ErrorCode::Internal,
                    format!("cannot store a snapshot: {error}"),
                )
            }
        };
        let snapshot = Snapshot {
            meta,
            snapshot: Box::new(SnapshotData::Dump(file)),
        };
        match self
            .raft
            .raft
            .install_full_snapshot(chunk.vote.into(), snapshot)
            .await
        {
            Ok(response) => PeerResponse::SnapshotInstalled {
                vote: VoteRecord::from(&response.vote),
            },
            Err(error) => refused(ErrorCode::RaftStopped, error.to_string()),
        }
    }

    /// Admits transactions a follower forwarded, if this node leads.
    async fn forward(&self, txs: Vec<SignedTransaction>) -> PeerResponse {
        let outcomes: Vec<ForwardOutcome> = if self.raft.is_leader() {
            // Verified again: a member's node is trusted to order, not to
            // vouch for other members' signatures. (The memo makes the
            // block's own check of them free on this node.)
            self.door
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
            let not_leader = Refusal::new(ErrorCode::NotLeader, "this node no longer leads");
            txs.iter()
                .map(|_| ForwardOutcome::Refused(not_leader.clone()))
                .collect()
        };
        match BoundedVec::new(outcomes) {
            Ok(outcomes) => PeerResponse::Forwarded(outcomes),
            Err(_) => refused(ErrorCode::TooMany, "more outcomes than a message carries"),
        }
    }
}

/// Where a chunk left its transfer.
enum ChunkStored {
    /// Not finished (or refused): this is the answer.
    Partly(PeerResponse),
    /// The last chunk arrived: the whole snapshot is in this file.
    Complete(tokio::fs::File),
}

/// The node whose vote a Raft request carries: the leader of an append or a
/// snapshot chunk, the candidate of a vote request. Only that node may send
/// it, or one node could speak for another in an election or as leader.
fn claimed_voter(request: &PeerRequest) -> Option<RaftNodeId> {
    match request {
        PeerRequest::AppendEntries(append) => Some(append.vote.node_id),
        PeerRequest::Vote(vote) => Some(vote.vote.node_id),
        PeerRequest::SnapshotChunk(chunk) => Some(chunk.vote.node_id),
        PeerRequest::Forward(_) | PeerRequest::Checkpoint(_) => None,
    }
}

fn refused(code: ErrorCode, reason: impl Into<String>) -> PeerResponse {
    PeerResponse::Refused(Refusal::new(code, reason))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gemtrail_consensus::record::VoteRecord;

    use super::*;
    use crate::p2p::wire::VoteRequestWire;

    fn vote_request() -> PeerRequest {
        PeerRequest::Vote(VoteRequestWire {
            vote: VoteRecord::from(&openraft::Vote::new(1, 1)),
            last_log_id: None,
        })
    }

    #[tokio::test]
    async fn a_request_that_arrives_before_the_service_waits_for_it_instead_of_being_refused() {
        let (queue, mut calls) = inbound_queue();
        let peer = PeerId::random();
        let asked = tokio::spawn(async move { queue.handle(peer, vote_request()).await });
        // Nothing serves the queue yet: the request must still be waiting.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!asked.is_finished());
        let call = calls.0.recv().await.unwrap();
        assert_eq!(call.peer, peer);
        let answer = PeerResponse::SnapshotChunkStored { received: 7 };
        call.reply.send(answer.clone()).unwrap();
        assert_eq!(asked.await.unwrap(), answer);
    }

    #[tokio::test]
    async fn a_request_to_a_node_that_stopped_serving_is_refused_shutting_down() {
        let (queue, calls) = inbound_queue();
        drop(calls);
        let answer = queue.handle(PeerId::random(), vote_request()).await;
        let PeerResponse::Refused(refusal) = answer else {
            panic!("expected a refusal, got {answer:?}");
        };
        assert_eq!(refusal.code, ErrorCode::ShuttingDown);
    }
}
