//! The block state machine: a pure function from (state, block proposal) to
//! (block, receipts, state changes).
//!
//! **Architecture invariant:** [`apply_block`] reads only the view it is given and
//! the proposal. No clock, randomness or I/O enters the decision (the leader's
//! timestamp travels inside the proposal), so every node that applies the same
//! proposal to the same state gets the same block hash, receipts and changes.

use crate::codec::{domain_hash, encode, Domain};
use crate::error::{StoreError, StoreResult};
use crate::ids::{BlockHash, ChainId, Digest, TxId};
use crate::merkle;
use crate::model::{
    Action, Block, BlockHeader, BlockProposal, EventSeq, Outcome, Receipt, SignedTransaction,
    RECEIPT_EVENTS_MAX,
};
use crate::rules::{apply_transaction, Stop};
use crate::signature_batch;
use crate::state::{LedgerView, Overlay, StateChanges};
use crate::state_tree::{self, StateNodes};

/// A block built from a proposal, with everything needed to store it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedBlock {
    /// The block.
    pub block: Block,
    /// Its hash.
    pub hash: BlockHash,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// The state changes of the applied transactions.
    pub changes: StateChanges,
    /// The transaction merkle leaves, in block order.
    pub tx_leaves: Vec<Digest>,
    /// The receipt merkle leaves, in block order.
    pub receipt_leaves: Vec<Digest>,
}

/// The merkle leaf of a signed transaction.
pub fn tx_leaf(chain_id: &ChainId, signed: &SignedTransaction) -> Digest {
    Digest(domain_hash(
        Domain::TransactionLeaf,
        chain_id.as_str(),
        &encode(signed),
    ))
}

/// The merkle leaf of a receipt.
pub fn receipt_leaf(chain_id: &ChainId, receipt: &Receipt) -> Digest {
    Digest(domain_hash(
        Domain::ReceiptLeaf,
        chain_id.as_str(),
        &encode(receipt),
    ))
}

/// Applies `proposal` on top of `view`'s tip.
///
/// Fails only when the view itself fails (a storage error): that is fatal for the
/// node, unlike a transaction's rejection, which is recorded in its receipt.
///
/// The block's signatures are first checked as one batch
/// ([`signature_batch::warm`]); the rules then find each verdict in the memo.
/// That changes no outcome, only its cost.
pub fn apply_block<V: LedgerView + StateNodes + ?Sized>(
    view: &V,
    proposal: BlockProposal,
) -> StoreResult<AppliedBlock> {
    // Each id is hashed once here, for the signature checks and the rules.
    let ids: Vec<TxId> = proposal
        .transactions
        .iter()
        .map(SignedTransaction::id)
        .collect();
    signature_batch::warm_identified(proposal.transactions.as_slice(), &ids);
    let tip = view.tip();
    let height = tip.height + 1;
    let chain_id = view.chain_id().clone();
    let mut overlay = Overlay::new(view);
    let (receipts, governance_txs) =
        apply_transactions(&mut overlay, proposal.transactions.as_slice(), &ids, height)?;

    let membership_root = overlay.membership().root(&chain_id);
    let mut changes = overlay.into_changes();
    changes.governance_txs = governance_txs;
    changes.state_tree = state_tree::update(view, &chain_id, &changes.stones, height)?;
    let tx_leaves: Vec<Digest> = proposal
        .transactions
        .iter()
        .map(|signed| tx_leaf(&chain_id, signed))
        .collect();
    let receipt_leaves: Vec<Digest> = receipts
        .iter()
        .map(|receipt| receipt_leaf(&chain_id, receipt))
        .collect();
    let header = BlockHeader {
        height,
        prev_hash: tip.hash,
        timestamp_ms: proposal.timestamp_ms.max(tip.timestamp_ms),
        tx_count: proposal.transactions.len() as u32,
        tx_root: merkle::root(&tx_leaves),
        receipts_root: merkle::root(&receipt_leaves),
        membership_root,
        state_root: changes.state_tree.root,
        history_root: view.history().root(),
    };
    let hash = header.hash(&chain_id);
    changes.history = view.history().clone();
    changes.history_nodes = changes.history.append(hash);
    Ok(AppliedBlock {
        block: Block {
            header,
            transactions: proposal.transactions,
        },
        hash,
        receipts,
        changes,
        tx_leaves,
        receipt_leaves,
    })
}

/// Applies each transaction of a block in order, burning the ids of those
/// that passed authorisation; returns one receipt each and the positions
/// of the applied governance transactions.
fn apply_transactions<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    transactions: &[SignedTransaction],
    ids: &[TxId],
    height: u64,
) -> StoreResult<(Vec<Receipt>, Vec<u32>)> {
    let mut receipts = Vec::with_capacity(transactions.len());
    let mut governance_txs = Vec::new();
    for (index, (signed, &id)) in transactions.iter().zip(ids).enumerate() {
        let tx_index = index as u32;
        let already_burned = overlay.contains_tx(&id)?;
        let events_before = overlay.events().len();
        let outcome = match apply_transaction(overlay, signed, id, tx_index, height) {
            Ok(()) => Outcome::Applied,
            Err(Stop::Reject(reason)) => Outcome::Rejected { reason },
            Err(Stop::Store(error)) => return Err(error),
        };
        if outcome.is_applied() && matches!(signed.tx.action, Action::Governance(_)) {
            governance_txs.push(tx_index);
        }
        if !already_burned {
            let burned = overlay.contains_tx(&id)?;
            overlay.index_tx(id, tx_index, burned);
        }
        let events = overlay.events()[events_before..]
            .iter()
            .map(|event| EventSeq {
                stone: event.stone.clone(),
                seq: event.seq,
            })
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|_| too_many_events(height, tx_index))?;
        receipts.push(Receipt {
            tx_id: id,
            outcome,
            events,
        });
    }
    Ok((receipts, governance_txs))
}

/// A transaction made more stone events than a receipt holds: the rules
/// allow none such, so the state machine has a bug.
fn too_many_events(height: u64, tx_index: u32) -> StoreError {
    StoreError::Inconsistent(format!(
        "transaction {tx_index} of block {height} made more than {RECEIPT_EVENTS_MAX} stone events"
    ))
}

#[cfg(test)]
mod tests {
    use crate::model::{Outcome, RejectReason, StoneStatus};
    use crate::state::LedgerView;
    use crate::testkit::{self, org, stone, TestChain};

    #[test]
    fn the_classic_journey_applies_and_moves_custody() {
        let chain = TestChain::journey();
        let sold = chain.state.stone(&stone("POL-1")).unwrap().unwrap();
        assert_eq!(sold.status, StoneStatus::Sold);
        assert_eq!(sold.custodian, org("retailer"));
        let rough = chain.state.stone(&stone("ROUGH-1")).unwrap().unwrap();
        assert_eq!(rough.status, StoneStatus::Consumed);
        assert_eq!(chain.state.tip().height, 8);
    }

    #[test]
    fn a_replayed_transaction_is_refused_and_changes_nothing() {
        let mut chain = TestChain::new();
        let signed = chain
            .consortium
            .tx("mine", 1, testkit::register("R-9", 100));
        assert_eq!(chain.submit(signed.clone()), Outcome::Applied);
        let before = chain.state.clone();
        let outcome = chain.submit(signed.clone());
        assert_eq!(
            outcome,
            Outcome::Rejected {
                reason: RejectReason::Replay { tx_id: signed.id() }
            }
        );
        assert_eq!(before.stones(), chain.state.stones());
    }

    #[test]
    fn same_proposal_same_block_hash() {
        let a = TestChain::journey();
        let b = TestChain::journey();
        assert_eq!(a.blocks.last().unwrap().hash, b.blocks.last().unwrap().hash);
    }
}
