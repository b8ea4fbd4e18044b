//! The bookkeeping of certification, without I/O: for each recent height,
//! the checkpoint this node applied and the signatures of every node, and
//! what they add up to (a new or larger certificate, or a fork).
//!
//! Signatures reach it already verified. A round is judged only once this
//! node has applied its height, against the node set in force there; votes
//! for heights it has not reached wait, within a bounded window.

use std::collections::{BTreeMap, BTreeSet};

use gemtrail_ledger::certificate::{quorum, Checkpoint, NodeSignature, QuorumCertificate};
use gemtrail_ledger::codec::BoundedVec;
use gemtrail_ledger::crypto::Signature;
use gemtrail_ledger::ids::{BlockHash, NodeId};

/// Heights below the last applied one whose rounds stay open for late
/// signatures (a certificate grows as they arrive).
pub(crate) const ROUNDS_BEHIND: u64 = 64;
/// Heights above the last applied one for which signatures are kept until
/// this node gets there.
pub(crate) const ROUNDS_AHEAD: u64 = 256;

/// What a round adds up to after a change.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing new.
    Nothing,
    /// A majority (or more signers than before) signed this node's checkpoint.
    Certified(QuorumCertificate),
    /// A majority signed another block at a height this node applied.
    Forked {
        /// The height.
        height: u64,
        /// This node's block there.
        applied: BlockHash,
        /// The block the majority signed.
        certified: BlockHash,
    },
}

/// What this node applied at a height.
#[derive(Debug)]
struct Applied {
    checkpoint: Checkpoint,
    /// The node set in force there.
    nodes: BTreeSet<NodeId>,
    /// Signers of the certificate last reported, so it is reported again
    /// only when it grows.
    reported_signers: usize,
}

/// One height's votes.
#[derive(Debug, Default)]
struct Round {
    applied: Option<Applied>,
    votes: BTreeMap<NodeId, (Checkpoint, Signature)>,
}

/// The open rounds.
#[derive(Debug, Default)]
pub(crate) struct Rounds {
    rounds: BTreeMap<u64, Round>,
    /// The highest height this node applied.
    last_applied: u64,
}

impl Rounds {
    /// This node applied `checkpoint`, with `nodes` in force; `own` is its
    /// signature, unless it refused to sign.
    pub(crate) fn applied(
        &mut self,
        checkpoint: Checkpoint,
        nodes: BTreeSet<NodeId>,
        own: Option<NodeSignature>,
    ) -> Verdict {
        let height = checkpoint.height;
        self.last_applied = self.last_applied.max(height);
        self.prune();
        let round = self.rounds.entry(height).or_default();
        round.applied = Some(Applied {
            checkpoint,
            nodes,
            reported_signers: 0,
        });
        if let Some(own) = own {
            round.votes.insert(own.node, (checkpoint, own.signature));
        }
        self.judge(height)
    }

    /// `vote` (already verified) arrived from its node.
    pub(crate) fn vote(&mut self, checkpoint: Checkpoint, vote: NodeSignature) -> Verdict {
        let height = checkpoint.height;
        let lowest = self.last_applied.saturating_sub(ROUNDS_BEHIND);
        if height < lowest || height > self.last_applied.saturating_add(ROUNDS_AHEAD) {
            return Verdict::Nothing;
        }
        let round = self.rounds.entry(height).or_default();
        round.votes.insert(vote.node, (checkpoint, vote.signature));
        self.judge(height)
    }

    /// True if `vote` is already counted: a node's signature arrives twice,
    /// in its own message and in its answer to this node's.
    pub(crate) fn holds(&self, checkpoint: &Checkpoint, vote: &NodeSignature) -> bool {
        self.rounds
            .get(&checkpoint.height)
            .and_then(|round| round.votes.get(&vote.node))
            .is_some_and(|(held, signature)| held == checkpoint && *signature == vote.signature)
    }

    /// This node's own signature at `height`, if it signed there.
    pub(crate) fn own_vote(&self, height: u64, me: NodeId) -> Option<(Checkpoint, NodeSignature)> {
        let (checkpoint, signature) = self.rounds.get(&height)?.votes.get(&me)?;
        Some((
            *checkpoint,
            NodeSignature {
                node: me,
                signature: *signature,
            },
        ))
    }

    /// What the round at `height` adds up to now.
    fn judge(&mut self, height: u64) -> Verdict {
        let Some(round) = self.rounds.get_mut(&height) else {
            return Verdict::Nothing;
        };
        let Some(applied) = round.applied.as_mut() else {
            return Verdict::Nothing;
        };
        let needed = quorum(applied.nodes.len());
        let mut by_checkpoint: BTreeMap<BlockHash, Vec<NodeSignature>> = BTreeMap::new();
        for (node, (checkpoint, signature)) in &round.votes {
            if !applied.nodes.contains(node) {
                continue;
            }
            // A vote counts for this node's checkpoint, or against it when it
            // names another block; one naming this block with other fields
            // (impossible from an honest node) counts for neither.
            let counts = *checkpoint == applied.checkpoint
                || checkpoint.block_hash != applied.checkpoint.block_hash;
            if counts {
                by_checkpoint
                    .entry(checkpoint.block_hash)
                    .or_default()
                    .push(NodeSignature {
                        node: *node,
                        signature: *signature,
                    });
            }
        }
        let ours = applied.checkpoint.block_hash;
        if let Some((other, _)) = by_checkpoint
            .iter()
            .find(|(hash, signers)| **hash != ours && signers.len() >= needed)
        {
            return Verdict::Forked {
                height,
                applied: ours,
                certified: *other,
            };
        }
        let signers = by_checkpoint.remove(&ours).unwrap_or_default();
        if signers.len() < needed || signers.len() <= applied.reported_signers {
            return Verdict::Nothing;
        }
        applied.reported_signers = signers.len();
        let checkpoint = applied.checkpoint;
        if signers.len() == applied.nodes.len() {
            // Every node signed: nothing can join any more.
            self.rounds.remove(&height);
        }
        // Votes are keyed by node id, so the signers are in ascending order.
        let signatures = BoundedVec::new(signers).unwrap_or_default();
        Verdict::Certified(QuorumCertificate {
            checkpoint,
            signatures,
        })
    }

    /// Drops rounds that fell out of the window.
    fn prune(&mut self) {
        let lowest = self.last_applied.saturating_sub(ROUNDS_BEHIND);
        self.rounds = self.rounds.split_off(&lowest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemtrail_ledger::crypto::SecretKey;
    use gemtrail_ledger::ids::{ChainId, Digest};

    fn checkpoint(height: u64, block: u8) -> Checkpoint {
        Checkpoint {
            height,
            block_hash: BlockHash([block; 32]),
            state_root: Digest([7; 32]),
            timestamp_ms: 1_000 * height,
        }
    }

    fn signed(checkpoint: &Checkpoint, node: u64) -> NodeSignature {
        let key = SecretKey::from_seed(&[node as u8; 32]);
        let chain: ChainId = "test-chain".parse().unwrap();
        checkpoint.sign(&chain, NodeId(node), &key)
    }

    fn three() -> BTreeSet<NodeId> {
        [NodeId(1), NodeId(2), NodeId(3)].into_iter().collect()
    }

    fn signers(verdict: &Verdict) -> Vec<u64> {
        match verdict {
            Verdict::Certified(certificate) => {
                certificate.signers().iter().map(|node| node.0).collect()
            }
            other => panic!("not certified: {other:?}"),
        }
    }

    #[test]
    fn a_second_matching_signature_certifies_and_a_third_grows_the_certificate() {
        let mut rounds = Rounds::default();
        let ours = checkpoint(5, 1);
        let first = rounds.applied(ours, three(), Some(signed(&ours, 1)));
        assert_eq!(first, Verdict::Nothing);
        assert_eq!(signers(&rounds.vote(ours, signed(&ours, 3))), vec![1, 3]);
        assert_eq!(signers(&rounds.vote(ours, signed(&ours, 2))), vec![1, 2, 3]);
        // Complete rounds close: a repeated signature changes nothing.
        assert_eq!(rounds.vote(ours, signed(&ours, 2)), Verdict::Nothing);
    }

    #[test]
    fn a_signature_already_counted_is_recognised_and_another_is_not() {
        let mut rounds = Rounds::default();
        let ours = checkpoint(5, 1);
        rounds.applied(ours, three(), Some(signed(&ours, 1)));
        let theirs = signed(&ours, 2);
        assert!(!rounds.holds(&ours, &theirs));
        rounds.vote(ours, theirs);
        assert!(rounds.holds(&ours, &theirs));
        // The same node over another block, or another signature, is new.
        assert!(!rounds.holds(&checkpoint(5, 2), &theirs));
        assert!(!rounds.holds(&ours, &signed(&checkpoint(6, 1), 2)));
    }

    #[test]
    fn votes_that_arrive_before_the_block_count_once_it_is_applied() {
        let mut rounds = Rounds::default();
        let ours = checkpoint(5, 1);
        assert_eq!(rounds.vote(ours, signed(&ours, 2)), Verdict::Nothing);
        let verdict = rounds.applied(ours, three(), Some(signed(&ours, 1)));
        assert_eq!(signers(&verdict), vec![1, 2]);
    }

    #[test]
    fn a_node_outside_the_set_in_force_does_not_count() {
        let mut rounds = Rounds::default();
        let ours = checkpoint(5, 1);
        rounds.applied(ours, three(), Some(signed(&ours, 1)));
        assert_eq!(rounds.vote(ours, signed(&ours, 9)), Verdict::Nothing);
    }

    #[test]
    fn a_majority_for_another_block_at_an_applied_height_is_a_fork() {
        let mut rounds = Rounds::default();
        let ours = checkpoint(5, 1);
        let theirs = checkpoint(5, 2);
        rounds.applied(ours, three(), Some(signed(&ours, 1)));
        assert_eq!(rounds.vote(theirs, signed(&theirs, 2)), Verdict::Nothing);
        assert_eq!(
            rounds.vote(theirs, signed(&theirs, 3)),
            Verdict::Forked {
                height: 5,
                applied: ours.block_hash,
                certified: theirs.block_hash
            }
        );
    }

    #[test]
    fn a_refused_signature_leaves_the_round_to_the_others() {
        let mut rounds = Rounds::default();
        let ours = checkpoint(5, 1);
        assert_eq!(rounds.applied(ours, three(), None), Verdict::Nothing);
        assert_eq!(rounds.vote(ours, signed(&ours, 2)), Verdict::Nothing);
        assert_eq!(signers(&rounds.vote(ours, signed(&ours, 3))), vec![2, 3]);
        assert_eq!(rounds.own_vote(5, NodeId(1)), None);
    }

    #[test]
    fn votes_far_outside_the_window_are_dropped() {
        let mut rounds = Rounds::default();
        let tip = checkpoint(1_000, 1);
        rounds.applied(tip, three(), Some(signed(&tip, 1)));
        let stale = checkpoint(1_000 - ROUNDS_BEHIND - 1, 1);
        let early = checkpoint(1_000 + ROUNDS_AHEAD + 1, 1);
        rounds.vote(stale, signed(&stale, 2));
        rounds.vote(early, signed(&early, 2));
        assert_eq!(rounds.rounds.len(), 1);
    }
}
