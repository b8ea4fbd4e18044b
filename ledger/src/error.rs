//! Errors of the ledger crate.
//!
//! Per-request errors (a malformed encoding, a bad identifier, a proof that does
//! not verify) are values the caller reports and moves on from. [`StoreError`] is
//! different: a storage failure or a broken invariant in stored data means the
//! node must stop rather than build on a ledger it cannot trust.

use crate::ids::BlockHash;

/// Bytes that are not the canonical encoding of the expected type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input exceeds the size cap before decoding starts.
    #[error("encoded value of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Bytes given.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// The bytes do not decode (bad tag, length over its cap, trailing bytes, ...).
    #[error("malformed encoding: {reason}")]
    Malformed {
        /// What the decoder found wrong.
        reason: String,
    },
    /// The bytes decode, but not from their canonical encoding.
    #[error("non-canonical encoding: the value re-encodes to different bytes")]
    NonCanonical,
}

/// An identifier that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} {reason}")]
pub struct IdError {
    /// What kind of identifier.
    pub kind: &'static str,
    /// The text given (truncated).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A key that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a valid compressed curve point.
    #[error("not a valid ed25519 public key")]
    Malformed,
    /// A small-order key, whose signatures anyone could forge.
    #[error("weak (small-order) ed25519 public key")]
    Weak,
    /// The operating system gave no randomness.
    #[error("the operating system's random source failed")]
    NoRandomness,
}

/// A failure of the ledger store. Fatal: the node must stop.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored value does not decode: the store is corrupt.
    #[error("corrupt record in {column}: {source}")]
    Corrupt {
        /// The column family.
        column: &'static str,
        /// What failed to decode.
        source: DecodeError,
    },
    /// The store belongs to another chain or genesis.
    #[error("this data dir holds chain {found}, but the genesis describes {expected}")]
    WrongGenesis {
        /// What the genesis says.
        expected: String,
        /// What the store holds.
        found: String,
    },
    /// The store was written in another format by another version of gemtrail.
    #[error("this data dir holds a ledger of store format {found}, but this gemtrail reads format {expected} only; nothing migrates it: start on an empty data dir and the node catches up from its peers")]
    WrongFormat {
        /// The format this code reads and writes.
        expected: u32,
        /// The format found (1 when the store does not say).
        found: u32,
    },
    /// The stored block at a certified height is not the one a majority of
    /// the nodes signed: this store was altered, or its node forked.
    #[error("the stored block at height {height} is {stored}, but a majority of the nodes certified {certified}; this ledger was altered or forked: move its data dir aside and start on an empty one, and the node catches up from its peers")]
    DiffersFromCertificate {
        /// The height.
        height: u64,
        /// The block hash the certificate signs.
        certified: BlockHash,
        /// The hash of the stored block.
        stored: BlockHash,
    },
    /// A block that does not extend the tip.
    #[error("block at height {height} does not extend the tip at height {tip}")]
    NotNextBlock {
        /// The block's height.
        height: u64,
        /// The tip's height.
        tip: u64,
    },
    /// A store dump (see `LedgerStore::import_dump`) is malformed.
    #[error("store dump is malformed at byte {offset}: {reason}")]
    BadDump {
        /// Where in the dump.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// Something stored is missing or inconsistent.
    #[error("inconsistent store: {0}")]
    Inconsistent(String),
    /// Reading or writing a store dump's bytes failed.
    #[error("store dump could not be read or written: {0}")]
    DumpIo(String),
}

/// Result of ledger-store operations.
pub type StoreResult<T> = std::result::Result<T, StoreError>;
