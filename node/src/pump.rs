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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gemtrail_consensus::EntryApplied;
use gemtrail_ledger::codec::BoundedVec;
use gemtrail_ledger::model::BlockProposal;
use tokio::sync::Semaphore;

use crate::admission::SubmitError;
use crate::context::NodeContext;
use crate::mempool::Pending;
use crate::p2p::wire::{ForwardOutcome, PeerRequest, PeerResponse, FORWARD_BATCH_MAX};

/// How long the pump waits before retrying when there is no leader or the
/// leader could not be reached.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Refusal codes after which a forwarded transaction is tried again.
const RETRYABLE: [&str; 4] = ["not_leader", "mempool_full", "shutting_down", "starting"];

/// Runs the pump until the node shuts down.
pub async fn run(context: Arc<NodeContext>) {
    let pipeline = Arc::new(Semaphore::new(context.batching.pipeline_max));
    loop {
        if context.shutdown.is_fired() {
            break;
        }
        if let Some(leader) = context.leader() {
            let reclaimed = context
                .mempool
                .reclaim_forwarded(leader, forward_patience(&context));
            if reclaimed > 0 {
                tracing::info!(
                    reclaimed,
                    leader,
                    "leader changed or silent: forwarding again"
                );
            }
        }
        if context.mempool.waiting() == 0 {
            tokio::select! {
                () = context.mempool.arrival() => {}
                () = context.shutdown.wait() => break,
                // Re-check leadership now and then even without arrivals.
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            continue;
        }
        match context.leader() {
            Some(leader) if leader == context.id => {
                let idle = || pipeline.available_permits() == context.batching.pipeline_max;
                if !batch_ready(&context, idle).await {
                    continue;
                }
                let permit = tokio::select! {
                    permit = Arc::clone(&pipeline).acquire_owned() => permit,
                    () = context.shutdown.wait() => break,
                };
                let Ok(permit) = permit else {
                    break;
                };
                let batch = context
                    .mempool
                    .take(context.batching.max_txs, context.batching.max_bytes);
                if !batch.is_empty() {
                    propose(&context, batch, permit).await;
                }
            }
            Some(leader) => forward(&context, leader).await,
            None => tokio::time::sleep(RETRY_PAUSE).await,
        }
    }
    tracing::debug!("mempool pump stopped");
}

/// How long a follower trusts a leader with a forwarded transaction before
/// sending it again (the leader normally orders it within a batch timeout).
fn forward_patience(context: &NodeContext) -> Duration {
    context.request_timeout
}

/// Waits until a full batch waits or the oldest transaction's time is up,
/// or proposes at once when nothing is in flight: with Raft idle, waiting
/// would only add latency (group commit: batches grow while the previous
/// proposal is being replicated). Returns false if it should re-check
/// (shutdown, or leadership may have moved).
async fn batch_ready(context: &NodeContext, idle: impl Fn() -> bool) -> bool {
    loop {
        let waiting = context.mempool.waiting();
        if waiting >= context.batching.max_txs || (waiting > 0 && idle()) {
            return true;
        }
        let Some(oldest) = context.mempool.oldest() else {
            return false;
        };
        let due = oldest + context.batching.timeout;
        if Instant::now() >= due {
            return true;
        }
        tokio::select! {
            () = context.mempool.arrival() => {}
            () = tokio::time::sleep_until(due.into()) => return true,
            () = context.shutdown.wait() => return false,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How long the leader waits for a proposal's outcome before giving up on it
/// (openraft answers when the entry is applied or truncated; a snapshot that
/// covers it answers neither).
fn proposal_patience(context: &NodeContext) -> Duration {
    context.request_timeout.saturating_mul(6)
}

async fn propose(
    context: &Arc<NodeContext>,
    batch: Vec<Pending>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let ids: Vec<_> = batch.iter().map(|pending| pending.id).collect();
    let count = batch.len();
    // The batch is kept until the outcome is known: a proposal this node
    // loses (leadership moved, the entry was truncated) goes to the next
    // leader like a follower's forwarded transactions.
    let transactions = batch.iter().map(|pending| pending.tx.clone()).collect();
    let Ok(transactions) = BoundedVec::new(transactions) else {
        // `take` never returns more than `max_txs`, which the configuration
        // keeps within a block's limit.
        tracing::error!(count, "batch larger than a block; dropped");
        context.mempool.settle(&ids);
        return;
    };
    let proposal = BlockProposal {
        timestamp_ms: now_ms(),
        transactions,
    };
    context.metrics.batch_size.observe(count as f64);
    let started = Instant::now();
    match context.raft.client_write_ff(proposal).await {
        Ok(responder) => {
            let context = Arc::clone(context);
            tokio::spawn(async move {
                let outcome = tokio::time::timeout(proposal_patience(&context), responder).await;
                match outcome {
                    Ok(Ok(Ok(response))) => {
                        context
                            .metrics
                            .propose_to_commit_seconds
                            .observe(started.elapsed().as_secs_f64());
                        if let EntryApplied::Block(block) = response.data {
                            tracing::debug!(height = block.height, txs = count, "block committed");
                        }
                        context.mempool.settle(&ids);
                    }
                    Ok(Ok(Err(error))) => {
                        tracing::warn!(%error, txs = count, "proposal lost with the leadership; handing it to the next leader");
                        context.mempool.mark_forwarded(batch, context.id);
                    }
                    Ok(Err(_)) | Err(_) => {
                        tracing::warn!(
                            txs = count,
                            "no outcome for a proposal; handing it to the next leader"
                        );
                        context.mempool.mark_forwarded(batch, context.id);
                    }
                }
                drop(permit);
            });
        }
        Err(fatal) => {
            tracing::error!(%fatal, "Raft stopped; proposal dropped");
            context.mempool.settle(&ids);
        }
    }
}

async fn forward(context: &Arc<NodeContext>, leader: u64) {
    let Some(peer) = context.peer_of_node(leader) else {
        tokio::time::sleep(RETRY_PAUSE).await;
        return;
    };
    let batch = context
        .mempool
        .take(FORWARD_BATCH_MAX, context.batching.max_bytes);
    let txs: Vec<_> = batch.iter().map(|pending| pending.tx.clone()).collect();
    let Ok(txs) = BoundedVec::new(txs) else {
        context.mempool.requeue(batch);
        return;
    };
    match context.p2p.request(peer, PeerRequest::Forward(txs)).await {
        Ok(PeerResponse::Forwarded(outcomes)) if outcomes.len() == batch.len() => {
            context.metrics.txs_forwarded.inc_by(batch.len() as u64);
            let mut retry = Vec::new();
            let mut admitted = Vec::new();
            for (pending, outcome) in batch.into_iter().zip(outcomes.into_inner()) {
                match outcome {
                    ForwardOutcome::Admitted(_) => admitted.push(pending),
                    ForwardOutcome::Refused(refusal)
                        if RETRYABLE.contains(&refusal.code.as_str()) =>
                    {
                        retry.push(pending);
                    }
                    // A replay means the transaction is already in the
                    // leader's ledger: this node's waiters get the receipt
                    // when it applies that block, not an error.
                    ForwardOutcome::Refused(refusal) if refusal.code.as_str() == "replay" => {
                        context.mempool.settle([&pending.id]);
                    }
                    ForwardOutcome::Refused(refusal) => {
                        context.mempool.settle([&pending.id]);
                        let error = SubmitError::from_remote(
                            pending.id,
                            refusal.code.as_str(),
                            refusal.reason.as_str(),
                        );
                        context.commits.resolve(&pending.id, &Err(error));
                    }
                }
            }
            // Kept until seen in a block, to be sent again if this leader
            // goes before it proposes them.
            context.mempool.mark_forwarded(admitted, leader);
            if !retry.is_empty() {
                context.mempool.requeue(retry);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
        Ok(other) => {
            tracing::debug!(leader, answer = ?other, "leader did not take forwarded transactions");
            context.mempool.requeue(batch);
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        Err(error) => {
            tracing::debug!(leader, %error, "could not forward to the leader");
            context.mempool.requeue(batch);
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}
