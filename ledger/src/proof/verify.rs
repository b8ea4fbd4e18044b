//! Verifying a provenance proof offline, with nothing but the genesis.
//!
//! Every byte of a proof is bound by a check: the headers by the hash chain from
//! the genesis hash to the claimed tip; each event's transaction and receipt by
//! merkle paths into its header (whose position and leaf count must match the
//! event's location and the header's transaction count, so no path field is
//! free); the chain id and the requested stone by direct comparison. A proof
//! that decodes and verifies therefore says exactly what the chain says.

use std::iter::Peekable;
use std::slice;

use super::authority::apply_governance;
use super::custody::Custody;
use super::error::ProofError;
use super::journey::VerifiedJourney;
use super::lineage::find_lineage;
use super::{ProvenEvent, ProvenanceProof, TxLocation};
use crate::ids::ChainId;
use crate::machine::{receipt_leaf, tx_leaf};
use crate::model::{BlockHeader, Outcome};
use crate::state::GenesisState;

/// Verifies `proof` against `genesis` and tells the journey it proves.
pub fn verify_proof(
    genesis: &GenesisState,
    proof: &ProvenanceProof,
) -> Result<VerifiedJourney, ProofError> {
    check_header_chain(genesis, proof)?;
    let headers = proof.headers.as_slice();
    for event in proof.events.iter().chain(proof.governance.iter()) {
        check_inclusion(&genesis.chain_id, headers, event)?;
    }
    check_order(proof.events.as_slice(), |location| {
        ProofError::EventsOutOfOrder {
            height: location.height,
            tx_index: location.tx_index,
        }
    })?;
    check_order(proof.governance.as_slice(), |location| {
        ProofError::GovernanceOutOfOrder {
            height: location.height,
            tx_index: location.tx_index,
        }
    })?;
    let lineage = find_lineage(&proof.stone, proof.events.as_slice())?;
    let mut custody = Custody::new(lineage);
    replay(genesis, proof, &mut custody)?;
    let tip_height = headers.len() as u64;
    let journey = custody.into_journey(&proof.stone, tip_height, proof.tip_hash)?;
    Ok(VerifiedJourney::new(journey))
}

/// Checks the chain id, that headers are heights 1..=n each linking to the one
/// before (header 1 to the genesis hash), and that the last hashes to the tip.
fn check_header_chain(genesis: &GenesisState, proof: &ProvenanceProof) -> Result<(), ProofError> {
    let chain_id = &genesis.chain_id;
    if &proof.chain_id != chain_id {
        return Err(ProofError::WrongChain {
            expected: chain_id.clone(),
            found: proof.chain_id.clone(),
        });
    }
    if proof.headers.is_empty() {
        return Err(ProofError::NoHeaders);
    }
    let mut previous_hash = genesis.genesis_hash;
    let mut previous_time_ms = genesis.timestamp_ms;
    for (position, header) in proof.headers.iter().enumerate() {
        let height = position as u64 + 1;
        if header.height != height {
            return Err(ProofError::HeaderHeightGap {
                expected: height,
                found: header.height,
            });
        }
        if header.prev_hash != previous_hash {
            return Err(if height == 1 {
                ProofError::GenesisLinkBroken {
                    genesis: genesis.genesis_hash,
                    found: header.prev_hash,
                }
            } else {
                ProofError::HeaderLinkBroken { height }
            });
        }
        if header.timestamp_ms < previous_time_ms {
            return Err(ProofError::HeaderTimeReversed { height });
        }
        previous_hash = header.hash(chain_id);
        previous_time_ms = header.timestamp_ms;
    }
    if previous_hash != proof.tip_hash {
        return Err(ProofError::TipHashMismatch {
            computed: previous_hash,
            claimed: proof.tip_hash,
        });
    }
    Ok(())
}

/// Checks that the event's transaction and receipt are at its location in its
/// block, that the receipt is the transaction's, and that it was applied.
fn check_inclusion(
    chain_id: &ChainId,
    headers: &[BlockHeader],
    event: &ProvenEvent,
) -> Result<(), ProofError> {
    let TxLocation { height, tx_index } = event.location;
    let header = height
        .checked_sub(1)
        .and_then(|position| usize::try_from(position).ok())
        .and_then(|position| headers.get(position))
        .ok_or(ProofError::EventOutsideChain { height })?;
    // Binding the path's index and leaf count to the location and the header
    // leaves no field of the path free: with a free leaf count, some paths verify
    // for several tree widths (index 1 of 3 leaves hashes like index 1 of 4).
    let tx_path = &event.tx_path;
    let tx_proven = tx_path.index == tx_index
        && tx_path.leaf_count == header.tx_count
        && tx_path.verify(&tx_leaf(chain_id, &event.transaction), &header.tx_root);
    if !tx_proven {
        return Err(ProofError::TxNotInBlock { height, tx_index });
    }
    let receipt_path = &event.receipt_path;
    let receipt_proven = receipt_path.index == tx_index
        && receipt_path.leaf_count == header.tx_count
        && receipt_path.verify(
            &receipt_leaf(chain_id, &event.receipt),
            &header.receipts_root,
        );
    if !receipt_proven {
        return Err(ProofError::ReceiptNotInBlock { height, tx_index });
    }
    if event.receipt.tx_id != event.transaction.id() {
        return Err(ProofError::ReceiptForOtherTx { height, tx_index });
    }
    if let Outcome::Rejected { reason } = &event.receipt.outcome {
        return Err(ProofError::NotApplied {
            height,
            tx_index,
            reason: reason.clone(),
        });
    }
    Ok(())
}

/// Checks that locations strictly increase: chain order, each event once.
fn check_order(
    events: &[ProvenEvent],
    out_of_order: fn(TxLocation) -> ProofError,
) -> Result<(), ProofError> {
    for pair in events.windows(2) {
        if let [before, after] = pair {
            if after.location <= before.location {
                return Err(out_of_order(after.location));
            }
        }
    }
    Ok(())
}

/// One transaction of the proof, in the merged chain order.
enum Entry<'p> {
    Governance(&'p ProvenEvent),
    Stone(&'p ProvenEvent),
}

type Events<'p> = Peekable<slice::Iter<'p, ProvenEvent>>;

/// Replays the proof height by height: governance rebuilds the membership, and
/// each header's membership root must match it after the block; stone events are
/// checked against the membership in force at their position.
fn replay(
    genesis: &GenesisState,
    proof: &ProvenanceProof,
    custody: &mut Custody,
) -> Result<(), ProofError> {
    let chain_id = &genesis.chain_id;
    let mut membership = genesis.membership.clone();
    // Hashing the membership once per change, not once per header.
    let mut membership_root = membership.root(chain_id);
    let mut events = proof.events.iter().peekable();
    let mut governance = proof.governance.iter().peekable();
    for header in proof.headers.iter() {
        while let Some(entry) = next_at(header.height, &mut events, &mut governance) {
            match entry {
                Entry::Governance(event) => {
                    membership = apply_governance(chain_id, &membership, event)?;
                    membership_root = membership.root(chain_id);
                }
                Entry::Stone(event) => custody.apply(chain_id, event, header, &membership)?,
            }
        }
        if header.membership_root != membership_root {
            return Err(ProofError::MembershipRootMismatch {
                height: header.height,
            });
        }
    }
    Ok(())
}

/// The next transaction at `height` from either list, in (height, index) order.
fn next_at<'p>(
    height: u64,
    events: &mut Events<'p>,
    governance: &mut Events<'p>,
) -> Option<Entry<'p>> {
    let stone = events
        .peek()
        .map(|event| event.location)
        .filter(|location| location.height == height);
    let change = governance
        .peek()
        .map(|event| event.location)
        .filter(|location| location.height == height);
    match (stone, change) {
        (Some(stone), Some(change)) if change <= stone => governance.next().map(Entry::Governance),
        (Some(_), _) => events.next().map(Entry::Stone),
        (None, Some(_)) => governance.next().map(Entry::Governance),
        (None, None) => None,
    }
}
