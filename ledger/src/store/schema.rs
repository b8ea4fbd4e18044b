//! The on-disk layout of the ledger store: column-family names, key encodings
//! and the few record types that exist only on disk.
//!
//! Every integer in a key is big-endian, so RocksDB's byte order is numeric order
//! and a prefix iteration walks a block's transactions or a stone's events in
//! sequence. Every value is the canonical borsh encoding ([`crate::codec`]).
//!
//! | column | key | value |
//! |---|---|---|
//! | [`META`] | [`META_CHAIN_ID`], [`META_GENESIS_HASH`], [`META_MEMBERSHIP`], [`META_TIP`], [`META_HISTORY`], [`META_APPLIER_MARKER`], [`META_FORMAT`] | `ChainId`, `BlockHash`, `Membership`, [`TipRecord`], `HistoryPeaks`, opaque bytes, `u32` |
//! | [`HEADERS`] | [`height_key`] | `BlockHeader` |
//! | [`BLOCK_HASHES`] | block hash (32 bytes) | height (`u64`) |
//! | [`BLOCK_TXS`] | [`location_key`] | `SignedTransaction` |
//! | [`LEAVES`] | [`height_key`] | [`BlockLeaves`] |
//! | [`TX_INDEX`] | tx id (32 bytes) | [`TxIndexEntry`] |
//! | [`RECEIPTS`] | [`location_key`] | `Receipt` |
//! | [`STONES`] | [`stone_key`] | `Stone` |
//! | [`STONE_EVENTS`] | [`stone_event_key`] | `TxLocation` |
//! | [`PROPOSALS`] | proposal id (32 bytes) | `Proposal` |
//! | [`GOVERNANCE`] | [`location_key`] | `()` (empty) |
//! | [`HISTORY`] | [`history_key`] | `Digest` (a complete subtree's root) |
//! | [`STATE_NODES`] | jmt `NodeKey` (borsh) | jmt `Node` (the tip's state tree only) |

use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{encode, BoundedVec};
use crate::ids::{BlockHash, Digest, StoneId};
use crate::model::BLOCK_TRANSACTIONS_MAX;
use crate::proof::TxLocation;
use crate::state::ChainTip;

/// Chain identity, membership and tip.
pub const META: &str = "meta";
/// Block headers by height.
pub const HEADERS: &str = "headers";
/// Block heights by block hash.
pub const BLOCK_HASHES: &str = "block_hashes";
/// Signed transactions by location.
pub const BLOCK_TXS: &str = "block_txs";
/// Transaction and receipt merkle leaves by height, so proofs need no re-hashing.
pub const LEAVES: &str = "leaves";
/// Transaction locations by transaction id.
pub const TX_INDEX: &str = "tx_index";
/// Receipts by location.
pub const RECEIPTS: &str = "receipts";
/// Current stone states by stone id.
pub const STONES: &str = "stones";
/// Locations of each stone's events, by stone id and sequence number.
pub const STONE_EVENTS: &str = "stone_events";
/// Transfer proposals by id.
pub const PROPOSALS: &str = "proposals";
/// Locations of applied governance transactions.
pub const GOVERNANCE: &str = "governance";

/// The history tree's complete subtrees by level and position.
pub const HISTORY: &str = "history";

/// The state tree's nodes ([`crate::state_tree`]).
pub const STATE_NODES: &str = "state_nodes";

/// Quorum certificates by height ([`crate::certificate`]), written apart
/// from the blocks.
pub const CERTIFICATES: &str = "certificates";

/// Every column family, in the order they are opened.
pub const COLUMNS: [&str; 14] = [
    META,
    HEADERS,
    BLOCK_HASHES,
    BLOCK_TXS,
    LEAVES,
    TX_INDEX,
    RECEIPTS,
    STONES,
    STONE_EVENTS,
    PROPOSALS,
    GOVERNANCE,
    HISTORY,
    STATE_NODES,
    CERTIFICATES,
];

/// The columns read by key for every transaction applied or admitted, which
/// get bloom filters (see the store's `tune_for_point_lookups`).
pub const POINT_LOOKUP_COLUMNS: [&str; 5] =
    [TX_INDEX, STONES, PROPOSALS, BLOCK_HASHES, STATE_NODES];

/// The small columns a provenance proof reads by whole key, one entry or a
/// few per block, which get bloom filters too; their keys arrive in order, so
/// their memtables stay ordinary skip lists. (Receipts, one per transaction,
/// are left out: filtering them cost the benchmark more in flushes than it
/// saved a proof.)
pub const PROOF_COLUMNS: [&str; 3] = [HISTORY, HEADERS, LEAVES];

/// `meta` key of the state-tree version the `state_nodes` column holds whole
/// (the tree is written behind: see `store/tree_writes.rs`).
pub const META_STATE_TREE_VERSION: &[u8] = b"state_tree_version";
/// `meta` key of the chain id.
pub const META_CHAIN_ID: &[u8] = b"chain_id";
/// `meta` key of the genesis hash.
pub const META_GENESIS_HASH: &[u8] = b"genesis_hash";
/// `meta` key of the membership in force at the tip.
pub const META_MEMBERSHIP: &[u8] = b"membership";
/// `meta` key of the tip.
pub const META_TIP: &[u8] = b"tip";
/// `meta` key of the history tree's peaks at the tip.
pub const META_HISTORY: &[u8] = b"history";
/// `meta` key of the store's format version ([`STORE_FORMAT`]).
pub const META_FORMAT: &[u8] = b"format";
/// The format this code writes. 2: headers carry a state root, receipts
/// their stone events' sequence numbers, and the state tree is stored. 3: a
/// sale carries the retailer's optional passport branding. A
/// store without the key is of format 1.
pub const STORE_FORMAT: u32 = 3;
/// `meta` key of the applier marker: opaque bytes its applier (the consensus
/// layer) stores with each block, see [`super::LedgerStore::apply_with_marker`].
pub const META_APPLIER_MARKER: &[u8] = b"applier_marker";

/// The key of a history subtree: its level, then its position, big-endian.
pub fn history_key(level: u8, position: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = level;
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

/// The key of a block-level record: the height, big-endian.
pub fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

/// The key of a transaction-level record: height then position, big-endian, so
/// a block's records sit together in order under its [`height_key`] prefix.
pub fn location_key(location: TxLocation) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&location.height.to_be_bytes());
    key[8..].copy_from_slice(&location.tx_index.to_be_bytes());
    key
}

/// Parses a [`location_key`].
pub fn parse_location_key(key: &[u8]) -> Option<TxLocation> {
    let height: [u8; 8] = key.get(..8)?.try_into().ok()?;
    let tx_index: [u8; 4] = key.get(8..)?.try_into().ok()?;
    Some(TxLocation {
        height: u64::from_be_bytes(height),
        tx_index: u32::from_be_bytes(tx_index),
    })
}

/// The key of a stone: its canonical encoding (a length byte, then the id).
///
/// The length byte makes the key prefix-free: no stone's key is a prefix of
/// another's, so a prefix iteration over one stone's events never strays into
/// the events of a stone whose id merely starts the same way (`A-1`, `A-10`).
pub fn stone_key(stone: &StoneId) -> Vec<u8> {
    encode(stone)
}

/// The key of the `seq`-th event of `stone`: [`stone_key`] then `seq`, big-endian.
pub fn stone_event_key(stone: &StoneId, seq: u32) -> Vec<u8> {
    let mut key = stone_key(stone);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence number at the end of a [`stone_event_key`].
pub fn parse_stone_event_seq(key: &[u8]) -> Option<u32> {
    let start = key.len().checked_sub(4)?;
    let seq: [u8; 4] = key.get(start..)?.try_into().ok()?;
    Some(u32::from_be_bytes(seq))
}

/// The tip as stored in `meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TipRecord {
    /// Height of the last block; 0 is the genesis.
    pub height: u64,
    /// Its hash; the genesis hash at height 0.
    pub hash: BlockHash,
    /// Its timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

impl From<ChainTip> for TipRecord {
    fn from(tip: ChainTip) -> Self {
        Self {
            height: tip.height,
            hash: tip.hash,
            timestamp_ms: tip.timestamp_ms,
        }
    }
}

impl From<TipRecord> for ChainTip {
    fn from(tip: TipRecord) -> Self {
        Self {
            height: tip.height,
            hash: tip.hash,
            timestamp_ms: tip.timestamp_ms,
        }
    }
}

/// A block's merkle leaves, kept so that proofs need no re-hashing.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockLeaves {
    /// One leaf per transaction, in block order.
    pub tx_leaves: BoundedVec<Digest, BLOCK_TRANSACTIONS_MAX>,
    /// One leaf per receipt, in block order.
    pub receipt_leaves: BoundedVec<Digest, BLOCK_TRANSACTIONS_MAX>,
}

/// Where a transaction id was last entered in the index.
///
/// An id that failed authorisation is entered unburned, and may later be
/// overwritten by the genuine transaction; once burned, it is never rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxIndexEntry {
    /// The transaction's block and position.
    pub location: TxLocation,
    /// Whether it passed authorisation, burning its id.
    pub burned: bool,
}
