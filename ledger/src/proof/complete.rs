//! Completeness: a proof holds every event of every stone of its lineage.
//!
//! The tip's state root commits to each stone's [`StoneLeaf`], whose
//! `event_count` says how many events the stone has had, and each receipt
//! commits to the sequence numbers of the events its transaction made. So the
//! verifier demands, for each lineage stone, a leaf proven into the tip's
//! state root; the sequence numbers `0, 1, 2, …` with no gap, in chain order,
//! up to that count; and that the replayed events leave the stone exactly as
//! the leaf says. A trailing theft flag, a failed origin check, a flag and
//! its clearance: none can be left out unseen.

use std::collections::BTreeSet;

use super::custody::Custody;
use super::error::ProofError;
use super::{ProvenEvent, ProvenanceProof};
use crate::ids::{ChainId, StoneId};
use crate::rules::predicates::StoneFacts;
use crate::state_tree::StoneLeaf;

/// Checks the proof's state leaves against its tip and its events (see the
/// module docs). `lineage` is the stone and its ancestors.
pub(super) fn check_complete(
    chain_id: &ChainId,
    proof: &ProvenanceProof,
    lineage: &[StoneId],
    custody: &Custody,
) -> Result<(), ProofError> {
    // Every byte is bound: a leaf for a stone outside the lineage, or a
    // second leaf for one, is refused rather than ignored.
    let mut seen = BTreeSet::new();
    for state in proof.states.iter() {
        if !lineage.contains(&state.stone) || !seen.insert(&state.stone) {
            return Err(ProofError::StateLeafNotProven {
                stone: state.stone.clone(),
            });
        }
    }
    for stone in lineage {
        let state = proof
            .states
            .iter()
            .find(|state| &state.stone == stone)
            .ok_or_else(|| ProofError::MissingStateLeaf {
                stone: stone.clone(),
            })?;
        if !state.verify(chain_id, &proof.tip.state_root) {
            return Err(ProofError::StateLeafNotProven {
                stone: stone.clone(),
            });
        }
        check_sequence(stone, proof.events.as_slice(), state.leaf.event_count)?;
        let agrees = custody
            .facts(stone)
            .is_some_and(|facts| leaf_matches(&state.leaf, facts));
        if !agrees {
            return Err(ProofError::StateLeafDisagrees {
                stone: stone.clone(),
            });
        }
    }
    Ok(())
}

/// Checks that the receipts of `events` number `stone`'s events `0 .. count`,
/// in chain order, with none missing.
fn check_sequence(stone: &StoneId, events: &[ProvenEvent], count: u32) -> Result<(), ProofError> {
    let mut expected: u32 = 0;
    let numbers = events
        .iter()
        .flat_map(|event| event.receipt.events.iter())
        .filter(|event| &event.stone == stone);
    for event in numbers {
        if event.seq != expected {
            return Err(ProofError::EventOutOfSequence {
                stone: stone.clone(),
                expected,
                found: event.seq,
            });
        }
        expected = expected.saturating_add(1);
    }
    if expected != count {
        return Err(ProofError::MissingEvents {
            stone: stone.clone(),
            held: expected,
            count,
        });
    }
    Ok(())
}

/// Whether the replayed state of a stone is the one its leaf commits to.
fn leaf_matches(leaf: &StoneLeaf, facts: &StoneFacts) -> bool {
    leaf.custodian == facts.custodian
        && leaf.status == facts.status
        && leaf.flag == facts.flag
        && leaf.open_proposal == facts.open_proposal
}
