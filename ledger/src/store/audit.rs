//! The full audit: re-verifies a stored chain from the genesis, trusting nothing
//! the store says.
//!
//! For each height it reads the header and the transactions, checks the height
//! and the previous-hash link, recomputes the transaction merkle root, then
//! re-executes the block with [`apply_block`] over a fresh [`MemoryState`]
//! started from the genesis. Re-execution re-verifies every signature (a
//! second thread checks each block's signatures ahead of the replay),
//! every membership and role check and every rule; the recomputed header, hash,
//! receipts, leaves and index entries must equal what is stored. At the end the
//! stored tip, membership and stone states must equal the recomputed ones.
//!
//! The audit stops at the first broken thing and names it ([`AuditProblem`]).
//! Storage failures stay `Err`: they say nothing about the chain's integrity.
//! It holds the recomputed state in memory, so its memory grows with the number
//! of stones; it is an offline, whole-ledger operation by nature.

use std::path::Path;
use std::sync::mpsc;

use super::LedgerStore;
use crate::error::{StoreError, StoreResult};
use crate::ids::{BlockHash, StoneId};
use crate::machine::{apply_block, tx_leaf, AppliedBlock};
use crate::merkle;
use crate::model::{BlockHeader, BlockProposal, SignedTransaction};
use crate::proof::TxLocation;
use crate::signature_batch;
use crate::state::{GenesisState, LedgerView, MemoryState};

/// What the audit found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Blocks that passed every check.
    pub blocks_checked: u64,
    /// Transactions in those blocks.
    pub transactions_checked: u64,
    /// The stored tip's height.
    pub tip_height: u64,
    /// The stored tip's hash.
    pub tip_hash: BlockHash,
    /// The first broken thing, if any.
    pub first_failure: Option<AuditFailure>,
}

impl AuditReport {
    /// True when the whole chain verified.
    pub fn is_clean(&self) -> bool {
        self.first_failure.is_none()
    }
}

/// The first thing that did not verify, and the block it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFailure {
    /// The block's height (the tip's height for end-of-chain checks).
    pub height: u64,
    /// What is wrong.
    pub problem: AuditProblem,
}

/// What did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditProblem {
    /// No header is stored at this height, though the tip is above it.
    #[error("the block is missing")]
    MissingBlock,
    /// A stored record does not decode.
    #[error("a record in {column} does not decode")]
    Undecodable {
        /// The column family.
        column: &'static str,
    },
    /// The header stored at this height names another height.
    #[error("the header says height {found}")]
    HeightMismatch {
        /// The height in the header.
        found: u64,
    },
    /// The header does not link to the previous block's recomputed hash.
    #[error("the previous-hash link is broken")]
    PrevHashMismatch,
    /// The header's transaction count differs from the transactions stored.
    #[error("the header counts {in_header} transactions, {stored} are stored")]
    TxCountMismatch {
        /// The header's count.
        in_header: u32,
        /// Transactions found.
        stored: u32,
    },
    /// The transactions do not hash to the header's `tx_root`.
    #[error("the transactions do not match the header's tx_root")]
    TxRootMismatch,
    /// A stored receipt differs from the re-executed one, or is missing.
    #[error("the receipt of transaction {tx_index} differs from re-execution")]
    ReceiptsMismatch {
        /// The transaction's position.
        tx_index: u32,
    },
    /// Re-executing the block gives another header (timestamp, receipts root or
    /// membership root).
    #[error("re-executing the block gives another header")]
    HeaderMismatch,
    /// The block-hash index does not map the block's hash to its height.
    #[error("the block-hash index does not point at this block")]
    BlockHashIndexMismatch,
    /// The stored merkle leaves differ from the recomputed ones.
    #[error("the stored merkle leaves differ from the recomputed ones")]
    LeavesMismatch,
    /// The transaction-id index does not point at the transaction that burned the id.
    #[error("the transaction index entry of transaction {tx_index} is wrong")]
    TxIndexMismatch {
        /// The transaction's position.
        tx_index: u32,
    },
    /// A stone-event index entry does not point at the transaction that made it.
    #[error("event {seq} of stone {stone} is indexed wrongly")]
    StoneEventMismatch {
        /// The stone.
        stone: StoneId,
        /// The event's sequence number.
        seq: u32,
    },
    /// The stored tip is not the recomputed last block.
    #[error("the stored tip is not the last block")]
    TipMismatch,
    /// The stored membership differs from the recomputed one.
    #[error("the stored membership differs from the recomputed one")]
    MembershipMismatch,
    /// A stone's stored state differs from the recomputed one.
    #[error("the stored state of stone {stone} differs from the recomputed one")]
    StoneStateMismatch {
        /// The stone.
        stone: StoneId,
    },
}

/// Opens the store at `path` read-only (beside a running node, if need be) and
/// audits it. See [`audit`].
pub fn audit_path(
    path: &Path,
    genesis: &GenesisState,
    progress: impl FnMut(u64, u64),
) -> StoreResult<AuditReport> {
    let store = LedgerStore::open_read_only(path, genesis)?;
    audit(&store, genesis, progress)
}

/// Re-verifies the whole chain in `store` from `genesis`, calling
/// `progress(height, tip_height)` before each block.
pub fn audit(
    store: &LedgerStore,
    genesis: &GenesisState,
    mut progress: impl FnMut(u64, u64),
) -> StoreResult<AuditReport> {
    let tip = store.tip();
    let mut report = AuditReport {
        blocks_checked: 0,
        transactions_checked: 0,
        tip_height: tip.height,
        tip_hash: tip.hash,
        first_failure: None,
    };
    let mut state = MemoryState::new(genesis);
    std::thread::scope(|scope| -> StoreResult<()> {
        // Signatures are checked on a second core, a block or two ahead of
        // the replay, which then finds the verdicts in the memo.
        let (warmed_sender, warmed) = mpsc::sync_channel(WARM_AHEAD_BLOCKS);
        scope.spawn(move || warm_ahead(store, tip.height, warmed_sender));
        for height in 1..=tip.height {
            progress(height, tip.height);
            // Err only once the warmer has stopped: the replay checks alone.
            let _ = warmed.recv();
            match audit_block(store, &state, height)? {
                Ok(applied) => {
                    state.commit(&applied);
                    report.blocks_checked += 1;
                    report.transactions_checked += applied.block.transactions.len() as u64;
                }
                Err(problem) => {
                    report.first_failure = Some(AuditFailure { height, problem });
                    return Ok(());
                }
            }
        }
        if let Err(problem) = audit_final_state(store, &state)? {
            report.first_failure = Some(AuditFailure {
                height: tip.height,
                problem,
            });
        }
        Ok(())
    })?;
    Ok(report)
}

/// How many blocks the signature warmer may run ahead of the replay (the
/// verification memo holds far more than this many blocks' signatures).
const WARM_AHEAD_BLOCKS: usize = 2;

/// Checks each block's signatures as one batch and says so, until the replay
/// stops listening. What it cannot read it leaves to the replay, which reads
/// the same records again and reports them.
fn warm_ahead(store: &LedgerStore, tip_height: u64, warmed: mpsc::SyncSender<u64>) {
    for height in 1..=tip_height {
        if let Ok(Some(header)) = store.header(height) {
            if let Ok(transactions) = store.block_transactions(height, header.tx_count) {
                signature_batch::warm(&transactions);
            }
        }
        if warmed.send(height).is_err() {
            return;
        }
    }
}

/// The outcome of checking one block: the re-executed block, or the problem.
type Checked<T> = Result<T, AuditProblem>;

/// Turns an undecodable record into an audit finding; other errors stay fatal.
fn found<T>(result: StoreResult<T>) -> StoreResult<Checked<T>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(StoreError::Corrupt { column, .. }) => Ok(Err(AuditProblem::Undecodable { column })),
        Err(error) => Err(error),
    }
}

/// Checks the block at `height` against `state`, the state after `height - 1`.
fn audit_block(
    store: &LedgerStore,
    state: &MemoryState,
    height: u64,
) -> StoreResult<Checked<AppliedBlock>> {
    let header = match found(store.header(height))? {
        Ok(Some(header)) => header,
        Ok(None) => return Ok(Err(AuditProblem::MissingBlock)),
        Err(problem) => return Ok(Err(problem)),
    };
    let transactions = match found(store.block_transactions(height, header.tx_count))? {
        Ok(transactions) => transactions,
        Err(problem) => return Ok(Err(problem)),
    };
    if let Err(problem) = check_stored_block(state, height, &header, &transactions) {
        return Ok(Err(problem));
    }
    let proposal = BlockProposal {
        timestamp_ms: header.timestamp_ms,
        transactions: match transactions.try_into() {
            Ok(transactions) => transactions,
            Err(_) => return Ok(Err(AuditProblem::TxRootMismatch)),
        },
    };
    let applied = apply_block(state, proposal)?;
    if applied.block.header != header {
        return Ok(Err(AuditProblem::HeaderMismatch));
    }
    Ok(match check_records(store, &applied)? {
        Ok(()) => Ok(applied),
        Err(problem) => Err(problem),
    })
}

/// Checks what can be checked without re-executing: height, link, count, root.
fn check_stored_block(
    state: &MemoryState,
    height: u64,
    header: &BlockHeader,
    transactions: &[SignedTransaction],
) -> Checked<()> {
    if header.height != height {
        return Err(AuditProblem::HeightMismatch {
            found: header.height,
        });
    }
    if header.prev_hash != state.tip().hash {
        return Err(AuditProblem::PrevHashMismatch);
    }
    if transactions.len() != header.tx_count as usize {
        return Err(AuditProblem::TxCountMismatch {
            in_header: header.tx_count,
            stored: transactions.len() as u32,
        });
    }
    let chain_id = state.chain_id();
    let leaves: Vec<_> = transactions
        .iter()
        .map(|signed| tx_leaf(chain_id, signed))
        .collect();
    if merkle::root(&leaves) != header.tx_root {
        return Err(AuditProblem::TxRootMismatch);
    }
    Ok(())
}

/// Compares the stored receipts, leaves and indexes with the re-executed block.
fn check_records(store: &LedgerStore, applied: &AppliedBlock) -> StoreResult<Checked<()>> {
    let height = applied.block.header.height;
    let at = |tx_index: u32| TxLocation { height, tx_index };
    for (index, receipt) in applied.receipts.iter().enumerate() {
        let tx_index = index as u32;
        match found(store.receipt_at(at(tx_index)))? {
            Ok(Some(stored)) if &stored == receipt => {}
            Ok(_) => return Ok(Err(AuditProblem::ReceiptsMismatch { tx_index })),
            Err(problem) => return Ok(Err(problem)),
        }
    }
    match found(store.height_of(&applied.hash))? {
        Ok(Some(stored)) if stored == height => {}
        Ok(_) => return Ok(Err(AuditProblem::BlockHashIndexMismatch)),
        Err(problem) => return Ok(Err(problem)),
    }
    let expected_leaves = (applied.tx_leaves.clone(), applied.receipt_leaves.clone());
    match found(store.block_leaves(height))? {
        Ok(Some(stored)) if stored == expected_leaves => {}
        Ok(_) => return Ok(Err(AuditProblem::LeavesMismatch)),
        Err(problem) => return Ok(Err(problem)),
    }
    check_indexes(store, applied)
}

/// Compares the burned transaction-id entries and the stone-event entries.
fn check_indexes(store: &LedgerStore, applied: &AppliedBlock) -> StoreResult<Checked<()>> {
    let height = applied.block.header.height;
    let at = |tx_index: u32| TxLocation { height, tx_index };
    // Unburned entries may be overwritten by a later genuine copy; burned ones never.
    for indexed in applied.changes.indexed_txs.iter().filter(|tx| tx.burned) {
        match found(store.indexed_location(&indexed.id))? {
            Ok(Some(stored)) if stored == (at(indexed.tx_index), true) => {}
            Ok(_) => {
                let tx_index = indexed.tx_index;
                return Ok(Err(AuditProblem::TxIndexMismatch { tx_index }));
            }
            Err(problem) => return Ok(Err(problem)),
        }
    }
    for event in &applied.changes.events {
        match found(store.stone_event_at(&event.stone, event.seq))? {
            Ok(Some(stored)) if stored == at(event.tx_index) => {}
            Ok(_) => {
                return Ok(Err(AuditProblem::StoneEventMismatch {
                    stone: event.stone.clone(),
                    seq: event.seq,
                }))
            }
            Err(problem) => return Ok(Err(problem)),
        }
    }
    Ok(Ok(()))
}

/// Compares the stored tip, membership and every stone with the recomputed state.
fn audit_final_state(store: &LedgerStore, state: &MemoryState) -> StoreResult<Checked<()>> {
    if store.tip() != state.tip() {
        return Ok(Err(AuditProblem::TipMismatch));
    }
    if store.membership() != state.membership() {
        return Ok(Err(AuditProblem::MembershipMismatch));
    }
    for (id, stone) in state.stones() {
        match found(store.stone(id))? {
            Ok(Some(stored)) if &stored == stone => {}
            Ok(_) => return Ok(Err(AuditProblem::StoneStateMismatch { stone: id.clone() })),
            Err(problem) => return Ok(Err(problem)),
        }
    }
    Ok(Ok(()))
}
