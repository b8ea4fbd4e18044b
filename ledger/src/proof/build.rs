//! Building a provenance proof from a [`ProofSource`] (the RocksDB store, or the
//! in-memory test chain).
//!
//! The builder trusts nothing it cannot cross-check cheaply: it compares every
//! stored leaf with the transaction and receipt it commits to, so an inconsistent
//! store yields an error here rather than a proof that fails to verify elsewhere.

use std::collections::BTreeSet;

use super::error::ProofBuildError;
use super::{
    ProofSource, ProvenEvent, ProvenHeader, ProvenanceProof, TxLocation, PROOF_EVENTS_MAX,
    PROOF_GOVERNANCE_MAX, PROOF_HEADERS_MAX, PROOF_LINEAGE_MAX,
};
use crate::certificate::{Checkpoint, QuorumCertificate};
use crate::codec::BoundedVec;
use crate::history;
use crate::ids::StoneId;
use crate::machine::{receipt_leaf, tx_leaf};
use crate::merkle::{self, MerklePath};
use crate::model::{BlockHeader, Stone};
use crate::state_tree::{self, ProvenStoneState};

/// Builds the provenance proof of `stone` at the source's current tip. Its
/// certificate holds the tip's checkpoint but no signature yet: the caller
/// adds the tip's quorum certificate ([`ProvenanceProof::certify`]).
pub fn build_proof<S: ProofSource>(
    source: &S,
    stone: &StoneId,
) -> Result<ProvenanceProof, ProofBuildError> {
    let lineage = lineage(source, stone)?;
    let mut locations = BTreeSet::new();
    for ancestor in &lineage {
        // A manufacture is an event of the rough and of its outputs: the set keeps it once.
        locations.extend(source.stone_event_locations(&ancestor.id)?);
    }
    let events = locations
        .into_iter()
        .map(|location| proven_event(source, location))
        .collect::<Result<Vec<_>, _>>()?;
    let governance = source
        .governance_locations()?
        .into_iter()
        .map(|location| proven_event(source, location))
        .collect::<Result<Vec<_>, _>>()?;
    let tip_height = source.tip_height();
    // The paths below share their upper nodes: read each once.
    let history = history::CachedHistory::new(source);
    // A known stone implies at least one block.
    let tip = header(source, tip_height.max(1))?;
    let heights: BTreeSet<u64> = events
        .iter()
        .chain(&governance)
        .map(|event| event.location.height)
        .filter(|height| *height < tip.height)
        .collect();
    let headers = heights
        .into_iter()
        .map(|height| {
            Ok(ProvenHeader {
                header: header(source, height)?,
                path: history_path(&history, tip.height, height)?,
            })
        })
        .collect::<Result<Vec<_>, ProofBuildError>>()?;
    let states = stone_states(source, &lineage, tip.height)?;
    let tip_hash = tip.hash(source.chain_id());
    Ok(ProvenanceProof {
        chain_id: source.chain_id().clone(),
        stone: stone.clone(),
        tip_hash,
        certificate: QuorumCertificate::unsigned(Checkpoint::of(&tip, tip_hash)),
        genesis_path: history_path(&history, tip.height, 0)?,
        tip,
        headers: bounded::<_, PROOF_HEADERS_MAX>(headers, "headers")?,
        events: bounded::<_, PROOF_EVENTS_MAX>(events, "events")?,
        governance: bounded::<_, PROOF_GOVERNANCE_MAX>(governance, "governance transactions")?,
        states: bounded::<_, PROOF_LINEAGE_MAX>(states, "lineage stones")?,
    })
}

/// The state leaf of each lineage stone, proven into the tip's state root.
fn stone_states<S: ProofSource>(
    source: &S,
    lineage: &[Stone],
    tip_height: u64,
) -> Result<Vec<ProvenStoneState>, ProofBuildError> {
    lineage
        .iter()
        .map(|stone| {
            Ok(state_tree::prove(
                source,
                source.chain_id(),
                stone,
                tip_height,
            )?)
        })
        .collect()
}

fn header<S: ProofSource>(source: &S, height: u64) -> Result<BlockHeader, ProofBuildError> {
    source
        .header(height)?
        .ok_or(ProofBuildError::MissingHeader { height })
}

/// The path of the block at `height` (0: the genesis) into the history root
/// of the block at `tip_height`, which covers the blocks below it.
fn history_path<S: history::HistorySource + ?Sized>(
    source: &S,
    tip_height: u64,
    height: u64,
) -> Result<MerklePath, ProofBuildError> {
    history::path(source, tip_height, height)?.ok_or(ProofBuildError::MissingHistory { height })
}

/// The stone and its ancestors in their current state, the stone first.
fn lineage<S: ProofSource>(source: &S, stone: &StoneId) -> Result<Vec<Stone>, ProofBuildError> {
    let Some(first) = source.stone(stone)? else {
        return Err(ProofBuildError::UnknownStone {
            stone: stone.clone(),
        });
    };
    let mut lineage = vec![first];
    while let Some(parent) = lineage.last().and_then(Stone::parent).cloned() {
        if lineage.len() >= PROOF_LINEAGE_MAX || lineage.iter().any(|known| known.id == parent) {
            return Err(ProofBuildError::BrokenLineage {
                stone: stone.clone(),
            });
        }
        let ancestor = source
            .stone(&parent)?
            .ok_or_else(|| ProofBuildError::BrokenLineage {
                stone: stone.clone(),
            })?;
        lineage.push(ancestor);
    }
    Ok(lineage)
}

/// The transaction at `location` with its receipt and both merkle paths.
fn proven_event<S: ProofSource>(
    source: &S,
    location: TxLocation,
) -> Result<ProvenEvent, ProofBuildError> {
    let (transaction, receipt) = source
        .transaction_at(location)?
        .ok_or(ProofBuildError::MissingTransaction { location })?;
    let (tx_leaves, receipt_leaves) =
        source
            .block_leaves(location.height)?
            .ok_or(ProofBuildError::MissingLeaves {
                height: location.height,
            })?;
    let index = location.tx_index as usize;
    let chain_id = source.chain_id();
    let mismatch = ProofBuildError::LeafMismatch { location };
    if tx_leaves.get(index) != Some(&tx_leaf(chain_id, &transaction))
        || receipt_leaves.get(index) != Some(&receipt_leaf(chain_id, &receipt))
    {
        return Err(mismatch);
    }
    let tx_path =
        merkle::path(&tx_leaves, index).ok_or(ProofBuildError::LeafMismatch { location })?;
    let receipt_path = merkle::path(&receipt_leaves, index).ok_or(mismatch)?;
    Ok(ProvenEvent {
        location,
        transaction,
        tx_path,
        receipt,
        receipt_path,
    })
}

fn bounded<T, const MAX: usize>(
    items: Vec<T>,
    what: &'static str,
) -> Result<BoundedVec<T, MAX>, ProofBuildError> {
    let len = items.len() as u64;
    BoundedVec::new(items).map_err(|error| ProofBuildError::TooLarge {
        what,
        len,
        max: error.max as u64,
    })
}
