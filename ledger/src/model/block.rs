//! Block proposals, block headers and blocks.
//!
//! A [`BlockProposal`] is what the Raft leader orders: a batch of signed
//! transactions and the leader's clock. Applying it ([`crate::machine`]) yields a
//! [`Block`]: a [`BlockHeader`] committing to the previous block, the transactions,
//! their receipts and the membership, plus the transactions themselves.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{SignedTransaction, BLOCK_TRANSACTIONS_MAX};
use crate::codec::{domain_hash, encode, BoundedVec, Domain};
use crate::ids::{BlockHash, ChainId, Digest};

/// The transactions of one block.
pub type BlockTransactions = BoundedVec<SignedTransaction, BLOCK_TRANSACTIONS_MAX>;

/// One Raft entry: a batch of signed transactions and the leader's timestamp.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockProposal {
    /// Milliseconds since the Unix epoch on the leader's clock. The block keeps
    /// the larger of this and its parent's timestamp, so time never runs backwards.
    pub timestamp_ms: u64,
    /// The transactions, in the order they will be applied.
    pub transactions: BlockTransactions,
}

/// A block header: what the hash chain links.
#[derive(
    Clone, PartialEq, Eq, Debug, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct BlockHeader {
    /// Height: 1 for the first block after genesis.
    pub height: u64,
    /// Hash of the previous header, or the genesis hash for height 1.
    pub prev_hash: BlockHash,
    /// Milliseconds since the Unix epoch, never less than the parent's.
    pub timestamp_ms: u64,
    /// Number of transactions (applied and rejected).
    pub tx_count: u32,
    /// Merkle root of the signed transactions.
    pub tx_root: Digest,
    /// Merkle root of the receipts, one per transaction, in the same order.
    pub receipts_root: Digest,
    /// Commitment to the membership in force after this block.
    pub membership_root: Digest,
    /// Root of the state tree after this block ([`crate::state_tree`]): each
    /// stone's custodian, status, flag, open proposal and event count.
    pub state_root: Digest,
    /// Root of the history tree over the hashes of every earlier block,
    /// genesis first ([`crate::history`]): lets a proof show an old header
    /// belongs to this chain without the headers in between.
    pub history_root: Digest,
}

impl BlockHeader {
    /// The block hash.
    pub fn hash(&self, chain_id: &ChainId) -> BlockHash {
        BlockHash(domain_hash(
            Domain::BlockHeader,
            chain_id.as_str(),
            &encode(self),
        ))
    }
}

/// A block: its header and its transactions.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in order.
    pub transactions: BlockTransactions,
}
