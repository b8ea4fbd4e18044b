//! The mempool pump: on the leader it batches waiting transactions into block
//! proposals; on a follower it forwards them to the leader.
//!
//! **Batching.** The leader proposes as soon as `max_txs` transactions wait,
//! or once the oldest has waited `timeout`, whichever comes first, with at
//! most `pipeline_max` proposals in flight through Raft; and at once when no
//! proposal is in flight, since waiting then only adds latency. Proposals go to Raft
//! in mempool order (`client_write_ff` is called from this one task), so
//! transactions are ordered first come, first served.
//!
//! **Forwarding.** A follower sends its waiting transactions to the leader in
//! batches. What the leader cannot take now (it stopped leading, its mempool
//! is full) goes back to the front of the queue and is tried again; what it
//! refuses for good (a replay) is dropped and its waiters are told why.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gemtrail_consensus::EntryApplied;
use gemtrail_ledger::codec::BoundedVec;
use gemtrail_ledger::model::BlockProposal;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::admission::SubmitError;
use crate::clock::now_ms;
use crate::codes::ErrorCode;
use crate::mempool::Pending;
use crate::node::Shared;
use crate::p2p::wire::{ForwardOutcome, PeerRequest, PeerResponse, Refusal, FORWARD_BATCH_MAX};
use crate::raft::RaftHandle;
use crate::shutdown::Shutdown;

/// How long the pump waits before retrying when there is no leader or the
/// leader could not be reached.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Batching settings in force on this node (genesis values, local overrides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Batching {
    /// Propose once this many transactions wait.
    pub(crate) max_txs: usize,
    /// ... or once the oldest has waited this long.
    pub(crate) timeout: Duration,
    /// Most encoded transaction bytes in one proposal (so it fits in one
    /// peer message with room to spare).
    pub(crate) max_bytes: u64,
    /// Most proposals in flight at once.
    pub(crate) pipeline_max: usize,
}

/// What the pump uses: the mempool it drains, Raft to propose to, the swarm
/// and directory to forward with, and the waiters of refused transactions.
#[derive(Debug)]
pub(crate) struct Pump {
    pub(crate) raft: RaftHandle,
    pub(crate) batching: Batching,
    pub(crate) shared: Shared,
    pub(crate) shutdown: Shutdown,
    /// How long a peer request may take.
    pub(crate) request_timeout: Duration,
}

impl Pump {
    /// Runs the pump until the node shuts down.
    pub(crate) async fn run(self: Arc<Self>) {
        let pipeline = Arc::new(Semaphore::new(self.batching.pipeline_max));
        while !self.shutdown.is_fired() {
            self.reclaim_from_a_gone_leader();
            if self.shared.mempool.waiting() == 0 {
                tokio::select! {
                    () = self.shared.mempool.arrival() => {}
                    () = self.shutdown.wait() => break,
                    // Re-check leadership now and then even without arrivals.
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
                continue;
            }
            match self.raft.leader() {
                Some(leader) if leader == self.raft.id => {
                    if !self.lead_once(&pipeline).await {
                        break;
                    }
                }
                Some(leader) => self.forward(leader).await,
                None => tokio::time::sleep(RETRY_PAUSE).await,
            }
        }
        tracing::debug!("mempool pump stopped");
    }

    /// Sends again what a leader that changed or went silent was given.
    fn reclaim_from_a_gone_leader(&self) {
        let Some(leader) = self.raft.leader() else {
            return;
        };
        // A follower trusts a leader with a forwarded transaction for one
        // request timeout (the leader normally orders it within a batch
        // timeout).
        let reclaimed = self
            .shared
            .mempool
            .reclaim_forwarded(leader, self.request_timeout);
        if reclaimed > 0 {
            tracing::info!(
                reclaimed,
                leader,
                "leader changed or silent: forwarding again"
            );
        }
    }

    /// On the leader: waits for a batch and a pipeline slot, then proposes.
    /// False when the node is shutting down.
    async fn lead_once(self: &Arc<Self>, pipeline: &Arc<Semaphore>) -> bool {
        let idle = || pipeline.available_permits() == self.batching.pipeline_max;
        if !self.batch_ready(idle).await {
            return !self.shutdown.is_fired();
        }
        let permit = tokio::select! {
            permit = Arc::clone(pipeline).acquire_owned() => permit,
            () = self.shutdown.wait() => return false,
        };
        let Ok(permit) = permit else {
            return false;
        };
        let batch = self
            .shared
            .mempool
            .take(self.batching.max_txs, self.batching.max_bytes);
        if !batch.is_empty() {
            self.propose(batch, permit).await;
        }
        true
    }

    /// Waits until a full batch waits or the oldest transaction's time is
    /// up, or proposes at once when nothing is in flight: with Raft idle,
    /// waiting would only add latency (group commit: batches grow while the
    /// previous proposal is being replicated). Returns false if it should
    /// re-check (shutdown, or leadership may have moved).
    async fn batch_ready(&self, idle: impl Fn() -> bool) -> bool {
        loop {
            let waiting = self.shared.mempool.waiting();
            if waiting >= self.batching.max_txs || (waiting > 0 && idle()) {
                return true;
            }
            let Some(oldest) = self.shared.mempool.oldest() else {
                return false;
            };
            let due = oldest + self.batching.timeout;
            if Instant::now() >= due {
                return true;
            }
            tokio::select! {
                () = self.shared.mempool.arrival() => {}
                () = tokio::time::sleep_until(due.into()) => return true,
                () = self.shutdown.wait() => return false,
            }
        }
    }

    /// Hands `batch` to Raft. The batch stays held in the mempool until the
    /// feed sees its block; a proposal this node loses (leadership moved,
    /// the entry was truncated) goes to the next leader like a follower's
    /// forwarded transactions.
    async fn propose(self: &Arc<Self>, batch: Vec<Pending>, permit: OwnedSemaphorePermit) {
        let ids: Vec<_> = batch.iter().map(|pending| pending.id).collect();
        let count = batch.len();
        let transactions = batch.iter().map(|pending| pending.tx.clone()).collect();
        let Ok(transactions) = BoundedVec::new(transactions) else {
            // `take` never returns more than `max_txs`, which the
            // configuration keeps within a block's limit.
            tracing::error!(count, "batch larger than a block; dropped");
            self.shared.mempool.discard(&ids);
            return;
        };
        let proposal = BlockProposal {
            timestamp_ms: now_ms(),
            transactions,
        };
        self.shared.metrics.batch_size.observe(count as f64);
        let started = Instant::now();
        match self.raft.raft.client_write_ff(proposal).await {
            Ok(responder) => {
                let pump = Arc::clone(self);
                tokio::spawn(async move {
                    let fate = match tokio::time::timeout(pump.proposal_patience(), responder).await
                    {
                        Ok(Ok(Ok(response))) => ProposalFate::Applied(match response.data {
                            EntryApplied::Block(block) => Some(block.height),
                            _ => None,
                        }),
                        Ok(Ok(Err(error))) => ProposalFate::Lost(error.to_string()),
                        Ok(Err(_)) | Err(_) => ProposalFate::Unknown,
                    };
                    pump.proposal_outcome(fate, batch, started);
                    drop(permit);
                });
            }
            Err(fatal) => {
                tracing::error!(%fatal, "Raft stopped; proposal dropped");
                self.shared.mempool.discard(&ids);
            }
        }
    }

    /// How long the leader waits for a proposal's outcome before giving up
    /// on it (openraft answers when the entry is applied or truncated; a
    /// snapshot that covers it answers neither).
    fn proposal_patience(&self) -> Duration {
        self.request_timeout.saturating_mul(6)
    }

    /// Acts on a proposal's fate. An applied one needs nothing from the
    /// mempool: the feed settles its transactions with the block.
    fn proposal_outcome(&self, fate: ProposalFate, batch: Vec<Pending>, started: Instant) {
        let txs = batch.len();
        match fate {
            ProposalFate::Applied(height) => {
                self.shared
                    .metrics
                    .propose_to_commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                tracing::debug!(?height, txs, "block committed");
            }
            ProposalFate::Lost(error) => {
                tracing::warn!(%error, txs, "proposal lost with the leadership; handing it to the next leader");
                self.shared.mempool.mark_forwarded(batch, self.raft.id);
            }
            ProposalFate::Unknown => {
                tracing::warn!(
                    txs,
                    "no outcome for a proposal; handing it to the next leader"
                );
                self.shared.mempool.mark_forwarded(batch, self.raft.id);
            }
        }
    }

    /// On a follower: sends a batch of waiting transactions to the leader.
    async fn forward(&self, leader: u64) {
        let Some(peer) = self.shared.directory.peer_of_node(leader) else {
            tokio::time::sleep(RETRY_PAUSE).await;
            return;
        };
        let batch = self
            .shared
            .mempool
            .take(FORWARD_BATCH_MAX, self.batching.max_bytes);
        let txs: Vec<_> = batch.iter().map(|pending| pending.tx.clone()).collect();
        let Ok(txs) = BoundedVec::new(txs) else {
            self.shared.mempool.requeue(batch);
            return;
        };
        match self
            .shared
            .p2p
            .request(peer, PeerRequest::Forward(txs))
            .await
        {
            Ok(PeerResponse::Forwarded(outcomes)) if outcomes.len() == batch.len() => {
                self.shared.metrics.txs_forwarded.inc_by(batch.len() as u64);
                self.forwarded(leader, batch, outcomes.into_inner()).await;
            }
            Ok(other) => {
                tracing::debug!(leader, answer = ?other, "leader did not take forwarded transactions");
                self.shared.mempool.requeue(batch);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(error) => {
                tracing::debug!(leader, %error, "could not forward to the leader");
                self.shared.mempool.requeue(batch);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }

    /// Acts on the leader's answer for each forwarded transaction.
    async fn forwarded(&self, leader: u64, batch: Vec<Pending>, outcomes: Vec<ForwardOutcome>) {
        let mut retry = Vec::new();
        let mut admitted = Vec::new();
        for (pending, outcome) in batch.into_iter().zip(outcomes) {
            match outcome {
                ForwardOutcome::Admitted(_) => admitted.push(pending),
                ForwardOutcome::Refused(refusal) if refusal.code.is_retryable() => {
                    retry.push(pending);
                }
                ForwardOutcome::Refused(refusal) => self.refused_for_good(&pending, &refusal),
            }
        }
        // Kept until seen in a block, to be sent again if this leader goes
        // before it proposes them.
        self.shared.mempool.mark_forwarded(admitted, leader);
        if !retry.is_empty() {
            self.shared.mempool.requeue(retry);
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Forgets a transaction the leader refused for good, and tells its
    /// waiters why. A replay means the transaction is already in the leader's
    /// ledger: this node's waiters get the receipt when it applies that
    /// block, not an error.
    fn refused_for_good(&self, pending: &Pending, refusal: &Refusal) {
        self.shared.mempool.discard([&pending.id]);
        if refusal.code != ErrorCode::Replay {
            let error = SubmitError::from_remote(pending.id, refusal.code, refusal.reason.as_str());
            self.shared.commits.resolve(&pending.id, &Err(error));
        }
    }
}

/// What became of a proposal.
enum ProposalFate {
    /// Committed and applied (at this height, if it made a block).
    Applied(Option<u64>),
    /// Raft dropped it (leadership moved, the entry was truncated).
    Lost(String),
    /// No answer within the patience.
    Unknown,
}
