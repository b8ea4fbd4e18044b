//! Verifying a provenance proof offline, with nothing but the genesis.
//!
//! Every byte of a proof is bound by a check: the tip header by the claimed tip
//! hash; the genesis hash and every other header by merkle paths into the tip's
//! history tree, at their heights ([`crate::history`]); each event's transaction and receipt by
//! merkle paths into its header (whose position and leaf count must match the
//! event's location and the header's transaction count, so no path field is
//! free); the chain id and the requested stone by direct comparison. A proof
//! that decodes and verifies therefore says exactly what the chain says.

use std::iter::Peekable;
use std::slice;

use super::authority::apply_governance;
use super::complete::check_complete;
use super::custody::Custody;
use super::error::ProofError;
use super::journey::VerifiedJourney;
use super::lineage::find_lineage;
use super::{ProvenEvent, ProvenanceProof, TxLocation};
use crate::certificate::node_key;
use crate::ids::{ChainId, Digest};
use crate::machine::{receipt_leaf, tx_leaf};
use crate::merkle::MerklePath;
use crate::model::{Action, BlockHeader, Governance, Membership, NodeRecord, Outcome};
use crate::signature_batch::{self, SignatureCheck};
use crate::state::GenesisState;

/// Verifies `proof` against `genesis` and tells the journey it proves.
pub fn verify_proof(
    genesis: &GenesisState,
    proof: &ProvenanceProof,
) -> Result<VerifiedJourney, ProofError> {
    let headers = check_headers(genesis, proof)?;
    for event in proof.events.iter().chain(proof.governance.iter()) {
        check_inclusion(&genesis.chain_id, &headers, event)?;
    }
    // One batch for every signature in the proof; the replay below then
    // finds each verdict in the memo (the verdicts are the same either way).
    let mut checks: Vec<SignatureCheck> = proof
        .events
        .iter()
        .chain(proof.governance.iter())
        .flat_map(|event| SignatureCheck::of_transaction(&event.transaction))
        .collect();
    checks.extend(certificate_checks(genesis, proof));
    signature_batch::verify_all(&checks);
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
    let mut custody = Custody::new(lineage.clone());
    let membership = replay(genesis, proof, &headers, &mut custody)?;
    // The node set in force at the tip is the replayed one: the tip header's
    // membership root has just been compared with it.
    let certified_by =
        proof
            .certificate
            .verify(&genesis.chain_id, proof.tip_hash, membership.nodes.values())?;
    if proof.certificate.checkpoint != proof.checkpoint() {
        return Err(ProofError::CertificateForOtherTip {
            height: proof.certificate.checkpoint.height,
        });
    }
    check_complete(&genesis.chain_id, proof, &lineage, &custody)?;
    let journey = custody.into_journey(&proof.stone, &proof.tip, proof.tip_hash)?;
    Ok(VerifiedJourney::new(journey.certified_by(certified_by)))
}

/// The certificate's signatures as checks under every key their nodes were
/// recorded with (in the genesis or an `AddNode` the proof carries), so they
/// join the events' batch; the certificate check then finds its verdicts in
/// the memo. Which node set counts is decided later, by the replay.
fn certificate_checks(genesis: &GenesisState, proof: &ProvenanceProof) -> Vec<SignatureCheck> {
    let added = proof
        .governance
        .iter()
        .filter_map(|event| match &event.transaction.tx.action {
            Action::Governance(Governance::AddNode(record)) => Some(record),
            _ => None,
        });
    let records: Vec<&NodeRecord> = genesis.membership.nodes.values().chain(added).collect();
    let message = proof
        .certificate
        .checkpoint
        .signing_digest(&genesis.chain_id);
    proof
        .certificate
        .signatures
        .iter()
        .flat_map(|signed| {
            records
                .iter()
                .filter(move |record| record.id == signed.node)
                .filter_map(|record| node_key(record.peer_id.as_str()))
                .map(move |key| SignatureCheck {
                    key,
                    signature: signed.signature,
                    message,
                })
        })
        .collect()
}

/// Checks the chain id; that the tip header hashes to the claimed tip; that
/// the tip's history tree starts at the genesis hash and holds each carried
/// header at its height; and that heights ascend and times never go back.
/// Returns the proven headers, tip last.
fn check_headers<'p>(
    genesis: &GenesisState,
    proof: &'p ProvenanceProof,
) -> Result<Vec<&'p BlockHeader>, ProofError> {
    let chain_id = &genesis.chain_id;
    if &proof.chain_id != chain_id {
        return Err(ProofError::WrongChain {
            expected: chain_id.clone(),
            found: proof.chain_id.clone(),
        });
    }
    let tip = &proof.tip;
    if tip.height == 0 {
        return Err(ProofError::NoHeaders);
    }
    let computed = tip.hash(chain_id);
    if computed != proof.tip_hash {
        return Err(ProofError::TipHashMismatch {
            computed,
            claimed: proof.tip_hash,
        });
    }
    // Every path's index and leaf count are bound to what it proves, so no
    // field of a path is free (see `check_inclusion`).
    let in_history = |path: &MerklePath, height: u64, leaf: Digest| {
        u64::from(path.index) == height
            && u64::from(path.leaf_count) == tip.height
            && path.verify(&leaf, &tip.history_root)
    };
    if !in_history(&proof.genesis_path, 0, Digest(genesis.genesis_hash.0)) {
        return Err(ProofError::GenesisNotInHistory {
            genesis: genesis.genesis_hash,
        });
    }
    let mut headers = Vec::with_capacity(proof.headers.len() + 1);
    let (mut previous_height, mut previous_time_ms) = (0, genesis.timestamp_ms);
    for proven in proof.headers.iter() {
        let height = proven.header.height;
        if height <= previous_height || height >= tip.height {
            return Err(ProofError::HeadersOutOfOrder { height });
        }
        if !in_history(&proven.path, height, Digest(proven.header.hash(chain_id).0)) {
            return Err(ProofError::HeaderNotInHistory { height });
        }
        if proven.header.timestamp_ms < previous_time_ms {
            return Err(ProofError::HeaderTimeReversed { height });
        }
        (previous_height, previous_time_ms) = (height, proven.header.timestamp_ms);
        headers.push(&proven.header);
    }
    if tip.timestamp_ms < previous_time_ms {
        return Err(ProofError::HeaderTimeReversed { height: tip.height });
    }
    headers.push(tip);
    Ok(headers)
}

/// Checks that the event's transaction and receipt are at its location in its
/// block, that the receipt is the transaction's, and that it was applied.
fn check_inclusion(
    chain_id: &ChainId,
    headers: &[&BlockHeader],
    event: &ProvenEvent,
) -> Result<(), ProofError> {
    let TxLocation { height, tx_index } = event.location;
    let header = headers
        .binary_search_by_key(&height, |header| header.height)
        .ok()
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
/// checked against the membership in force at their position. Returns the
/// membership at the tip.
fn replay(
    genesis: &GenesisState,
    proof: &ProvenanceProof,
    headers: &[&BlockHeader],
    custody: &mut Custody,
) -> Result<Membership, ProofError> {
    let chain_id = &genesis.chain_id;
    let mut membership = genesis.membership.clone();
    // Hashing the membership once per change, not once per header.
    let mut membership_root = membership.root(chain_id);
    let mut events = proof.events.iter().peekable();
    let mut governance = proof.governance.iter().peekable();
    for header in headers.iter().copied() {
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
    Ok(membership)
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
