//! Certification: after applying a block, this node signs its checkpoint with
//! its node key, trades signatures with the other nodes over the peer lanes,
//! and stores a quorum certificate once a majority of the nodes in force have
//! signed the same checkpoint (and again as late signatures join).
//!
//! Cadence: every block. A checkpoint is one ed25519 signature, one message to
//! each other node (whose answer carries that node's signature back), and a
//! verification per signature received; `docs/benchmarks.md` measures it.
//!
//! Two things Raft alone cannot see are caught here:
//! - **a fork**: a majority certified another block at a height this node
//!   applied. The node reports it through [`Certifier::failure`], and the
//!   runner stops it with a non-zero exit: a node must not serve a ledger the
//!   consortium disowned.
//! - **a clock running ahead**: a node refuses to sign a block whose time is
//!   ahead of its own clock by more than the genesis
//!   `checkpoint_clock_skew_ms_max`, logs it and counts it, so a leader with
//!   a wrong clock gets no certificates.

mod rounds;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gemtrail_consensus::{LedgerEvent, LedgerStateMachine};
use gemtrail_ledger::certificate::{node_key, Checkpoint, NodeSignature, QuorumCertificate};
use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::{ChainId, NodeId};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::clock::now_ms;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::p2p::swarm::P2pHandle;
use crate::p2p::wire::{CheckpointVote, PeerRequest, PeerResponse};
use crate::shutdown::Shutdown;
use rounds::{Rounds, Verdict};

/// Most heights signed in one go after this node fell behind (a snapshot
/// install, a lagging feed): older ones are left to the other nodes.
const CATCH_UP_HEIGHTS_MAX: u64 = 64;

/// What a certifier is made of.
#[derive(Debug)]
pub(crate) struct CertifierParts {
    /// The chain.
    pub(crate) chain_id: ChainId,
    /// This node.
    pub(crate) me: NodeId,
    /// Its node key (the key of its libp2p peer id).
    pub(crate) key: SecretKey,
    /// The genesis `checkpoint_clock_skew_ms_max`.
    pub(crate) clock_skew_ms_max: u64,
    /// The ledger.
    pub(crate) ledger: LedgerStateMachine,
    /// The swarm.
    pub(crate) p2p: P2pHandle,
    /// Who the other nodes are.
    pub(crate) directory: Directory,
    /// Metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// How long a peer gets to answer.
    pub(crate) request_timeout: Duration,
}

#[derive(Debug)]
struct Inner {
    parts: CertifierParts,
    rounds: Mutex<Rounds>,
    /// The highest height certified so far.
    certified: watch::Sender<u64>,
    /// Why this node must stop, once it must.
    failure: watch::Sender<Option<String>>,
}

/// A handle on this node's certification; clones share it.
#[derive(Clone, Debug)]
pub(crate) struct Certifier(Arc<Inner>);

impl Certifier {
    /// A certifier that starts from the certificates already stored.
    pub(crate) fn new(parts: CertifierParts) -> Self {
        let latest = parts
            .ledger
            .read(|store| store.latest_certificate().ok().flatten())
            .map_or(0, |certificate| certificate.checkpoint.height);
        parts.metrics.certified_height.set(latest as i64);
        Certifier(Arc::new(Inner {
            parts,
            rounds: Mutex::default(),
            certified: watch::channel(latest).0,
            failure: watch::channel(None).0,
        }))
    }

    /// Resolves with the reason once this node must stop (a fork).
    pub(crate) fn failure(&self) -> watch::Receiver<Option<String>> {
        self.0.failure.subscribe()
    }

    /// The stored certificate of `height`, waiting up to `timeout` for it.
    pub(crate) async fn wait_for(
        &self,
        height: u64,
        timeout: Duration,
    ) -> Option<QuorumCertificate> {
        let mut certified = self.0.certified.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let stored = self.stored(height);
            if stored.is_some() {
                return stored;
            }
            let changed = tokio::time::timeout_at(deadline, certified.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                return None;
            }
        }
    }

    /// The stored certificate of `height`.
    pub(crate) fn stored(&self, height: u64) -> Option<QuorumCertificate> {
        self.ledger()
            .read(|store| store.certificate(height).ok().flatten())
    }

    /// The highest certified height, if any (kept in memory).
    pub(crate) fn certified_height(&self) -> Option<u64> {
        Some(*self.0.certified.borrow()).filter(|height| *height > 0)
    }

    /// The stored certificate of the highest certified height.
    pub(crate) fn latest(&self) -> Option<QuorumCertificate> {
        self.ledger()
            .read(|store| store.latest_certificate().ok().flatten())
    }

    /// Follows the ledger, signing each applied block, until shutdown.
    pub(crate) async fn run(self, shutdown: Shutdown) {
        let mut events = self.ledger().subscribe();
        // After a restart the tip may still lack a certificate: signing it
        // again asks the others for theirs.
        let mut signed = self.tip_height().saturating_sub(1);
        loop {
            let tip = self.tip_height();
            let from = (signed + 1).max(tip.saturating_sub(CATCH_UP_HEIGHTS_MAX - 1));
            for height in from..=tip {
                self.sign_height(height);
            }
            signed = signed.max(tip);
            let event = tokio::select! {
                event = events.recv() => event,
                () = shutdown.wait() => break,
            };
            match event {
                Ok(LedgerEvent::Block(_)) | Err(RecvError::Lagged(_)) => {}
                Ok(LedgerEvent::SnapshotInstalled { height }) => {
                    signed = height.saturating_sub(1);
                }
                Err(RecvError::Closed) => break,
            }
        }
    }

    fn ledger(&self) -> &LedgerStateMachine {
        &self.0.parts.ledger
    }

    fn tip_height(&self) -> u64 {
        self.ledger().read(|store| store.tip().height)
    }

    /// Signs the checkpoint of the applied block at `height` and sends the
    /// signature to every other node.
    fn sign_height(&self, height: u64) {
        if height == 0 {
            return;
        }
        let read = self.ledger().read(|store| {
            let header = store.header(height).ok().flatten()?;
            let hash = header.hash(store.chain_id());
            let nodes: BTreeSet<NodeId> = store.membership().nodes.keys().copied().collect();
            Some((Checkpoint::of(&header, hash), nodes))
        });
        let Some((checkpoint, nodes)) = read else {
            return;
        };
        let own = self.sign(&checkpoint);
        let verdict = self.rounds().applied(checkpoint, nodes, own);
        self.settle(verdict);
        if let Some(own) = own {
            self.broadcast(CheckpointVote {
                checkpoint,
                signature: own,
            });
        }
    }

    /// This node's signature of `checkpoint`, unless the block's time is
    /// too far ahead of its clock.
    fn sign(&self, checkpoint: &Checkpoint) -> Option<NodeSignature> {
        let parts = &self.0.parts;
        if let Some(ahead_ms) =
            too_far_ahead(checkpoint.timestamp_ms, now_ms(), parts.clock_skew_ms_max)
        {
            parts.metrics.checkpoints_refused.inc();
            tracing::warn!(
                height = checkpoint.height,
                block_time_ms = checkpoint.timestamp_ms,
                ahead_ms,
                bound_ms = parts.clock_skew_ms_max,
                "refusing to sign a checkpoint: the block's time is ahead of this node's clock by more than the genesis allows; check the leader's clock (and this one's)"
            );
            return None;
        }
        Some(checkpoint.sign(&parts.chain_id, parts.me, &parts.key))
    }

    fn rounds(&self) -> std::sync::MutexGuard<'_, Rounds> {
        self.0.rounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `vote` to every other node; each answer may carry that node's
    /// own signature back.
    fn broadcast(&self, vote: CheckpointVote) {
        let me = self.0.parts.me;
        let peers: Vec<_> = self.0.parts.directory.read(|directory| {
            directory
                .entries()
                .filter(|entry| NodeId(entry.id) != me && !entry.departing)
                .filter_map(|entry| Some((NodeId(entry.id), entry.peer?)))
                .collect()
        });
        for (node, peer) in peers {
            let certifier = self.clone();
            let request = PeerRequest::Checkpoint(vote);
            tokio::spawn(async move {
                let parts = &certifier.0.parts;
                let sent = parts.p2p.request(peer, request);
                match tokio::time::timeout(parts.request_timeout, sent).await {
                    Ok(Ok(PeerResponse::Checkpoint(Some(theirs)))) => {
                        let _ours = certifier.on_vote(node, *theirs);
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => {
                        tracing::debug!(node = node.0, %error, "checkpoint signature not delivered")
                    }
                    Err(_) => tracing::debug!(node = node.0, "checkpoint signature timed out"),
                }
            });
        }
    }

    /// A signature from node `from`: checked, counted, and answered with this
    /// node's own signature of that height, if it has one.
    pub(crate) fn on_vote(&self, from: NodeId, vote: CheckpointVote) -> Option<CheckpointVote> {
        let height = vote.checkpoint.height;
        let known = self.rounds().holds(&vote.checkpoint, &vote.signature);
        if vote.signature.node != from || !(known || self.verifies(&vote)) {
            tracing::warn!(
                node = from.0,
                height,
                "ignored a checkpoint signature that does not verify"
            );
            return None;
        }
        let verdict = self.rounds().vote(vote.checkpoint, vote.signature);
        self.settle(verdict);
        let me = self.0.parts.me;
        let own = self.rounds().own_vote(height, me);
        own.map(|(checkpoint, signature)| CheckpointVote {
            checkpoint,
            signature,
        })
    }

    /// True if `vote` is its node's signature under the key its recorded
    /// peer id holds.
    fn verifies(&self, vote: &CheckpointVote) -> bool {
        let node = vote.signature.node;
        let key = self.ledger().read(|store| {
            let record = store.membership().nodes.get(&node)?;
            node_key(record.peer_id.as_str())
        });
        let digest = vote.checkpoint.signing_digest(&self.0.parts.chain_id);
        // Uncached: a checkpoint signature is checked once, and must not
        // push transaction signatures out of the memo.
        key.is_some_and(|key| key.verify_uncached(&digest, &vote.signature.signature))
    }

    /// Acts on a round's verdict: store a certificate, or report a fork.
    fn settle(&self, verdict: Verdict) {
        match verdict {
            Verdict::Nothing => {}
            Verdict::Certified(certificate) => self.store(&certificate),
            Verdict::Forked {
                height,
                applied,
                certified,
            } => {
                let reason = format!(
                    "fork at height {height}: this node applied block {applied}, but a majority of the nodes certified block {certified}; stopping. Move this node's data dir aside and start it on an empty one to catch up from its peers"
                );
                tracing::error!(height, %applied, %certified, "{reason}");
                self.0.parts.metrics.forks_detected.inc();
                self.0.failure.send_replace(Some(reason));
            }
        }
    }

    fn store(&self, certificate: &QuorumCertificate) {
        let height = certificate.checkpoint.height;
        let stored = self
            .ledger()
            .read(|store| store.put_certificate(certificate));
        if let Err(error) = stored {
            tracing::error!(height, %error, "could not store a certificate");
            return;
        }
        // Waiters look their height up in the store: wake them every time.
        self.0
            .certified
            .send_modify(|latest| *latest = (*latest).max(height));
        let latest = *self.0.certified.borrow();
        self.0.parts.metrics.certified_height.set(latest as i64);
    }
}

/// How far `block_time_ms` is ahead of `now_ms`, if by more than
/// `bound_ms`: a checkpoint this node must not sign.
fn too_far_ahead(block_time_ms: u64, now_ms: u64, bound_ms: u64) -> Option<u64> {
    let ahead_ms = block_time_ms.saturating_sub(now_ms);
    (ahead_ms > bound_ms).then_some(ahead_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_time_ahead_of_the_clock_by_more_than_the_bound_is_not_signed() {
        let now = 1_790_000_000_000;
        assert_eq!(too_far_ahead(now + 30_000, now, 30_000), None);
        assert_eq!(too_far_ahead(now + 30_001, now, 30_000), Some(30_001));
        // A hostile time far in the future, and times in the past.
        assert_eq!(too_far_ahead(u64::MAX, now, 30_000), Some(u64::MAX - now));
        assert_eq!(too_far_ahead(now - 3_600_000, now, 30_000), None);
    }
}
