//! Errors of the consensus crate.
//!
//! [`LogStoreError`] is fatal: a Raft log that cannot be read or written, or
//! that holds bytes which do not decode, must stop the node (openraft turns the
//! [`openraft::StorageError`] it is converted into into a `Fatal` error).
//! [`NodeInfoError`] and [`RecordError`] are about input: report them and go on.

use gemtrail_ledger::codec::LengthError;
use gemtrail_ledger::DecodeError;

/// Which stored record a log-store error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredRecord {
    /// The log entry at this index.
    Entry {
        /// Its log index (the key in the `logs` column family).
        index: u64,
    },
    /// The saved vote.
    Vote,
    /// The saved committed log id.
    Committed,
    /// The last purged log id.
    LastPurged,
}

impl std::fmt::Display for StoredRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredRecord::Entry { index } => write!(f, "log entry {index}"),
            StoredRecord::Vote => f.write_str("vote"),
            StoredRecord::Committed => f.write_str("committed log id"),
            StoredRecord::LastPurged => f.write_str("last purged log id"),
        }
    }
}

/// A failure of the RocksDB Raft log store. Fatal: the node must stop.
#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    /// RocksDB reported an error.
    #[error("rocksdb failed to {operation}: {source}")]
    Rocks {
        /// What the store was doing.
        operation: &'static str,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// The database lacks a column family the log store needs.
    #[error("the raft log database has no column family {name:?}")]
    MissingColumnFamily {
        /// The missing column family.
        name: &'static str,
    },
    /// A stored value is not the canonical encoding of its type.
    #[error("stored {record} does not decode: {source}")]
    Decode {
        /// Which record.
        record: StoredRecord,
        /// What the decoder found.
        source: DecodeError,
    },
    /// A stored value decodes but is not a valid record (an unsorted membership, ...).
    #[error("stored {record} is invalid: {source}")]
    Invalid {
        /// Which record.
        record: StoredRecord,
        /// What is wrong with it.
        source: RecordError,
    },
    /// A key in the `logs` column family is not an 8-byte big-endian index.
    #[error("log key of {len} bytes is not an 8-byte index")]
    BadLogKey {
        /// Its length.
        len: u64,
    },
    /// The entry stored under a key names another index.
    #[error("log entry stored under index {key_index} names index {entry_index}")]
    IndexMismatch {
        /// The key it is stored under.
        key_index: u64,
        /// The index inside the entry.
        entry_index: u64,
    },
    /// Entries are not consecutive: there is a hole in the log.
    #[error("log is not consecutive: expected index {expected}, found {found}")]
    NotConsecutive {
        /// The index that should have come next.
        expected: u64,
        /// The index that came.
        found: u64,
    },
    /// The blocking task that performed the write did not finish.
    #[error("the log write task failed: {reason}")]
    WriteTask {
        /// Why (panic or cancellation).
        reason: String,
    },
}

/// A convenient alias for log-store results.
pub type LogStoreResult<T> = Result<T, LogStoreError>;

/// A decoded record that breaks an invariant of the openraft type it mirrors.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A membership with no voter configuration, or more than a joint pair.
    #[error("membership has {count} voter configurations; 1 or 2 are allowed")]
    ConfigurationCount {
        /// How many there were.
        count: u64,
    },
    /// Node ids in a voter configuration are not strictly increasing.
    #[error("voter configuration {config} is not strictly increasing")]
    UnsortedVoters {
        /// Position of the configuration.
        config: u64,
    },
    /// Node descriptions are not strictly increasing by node id.
    #[error("node descriptions are not strictly increasing by node id")]
    UnsortedNodes,
    /// A voter has no node description.
    #[error("voter {node_id} has no node description")]
    VoterWithoutNode {
        /// The voter.
        node_id: u64,
    },
    /// The list is longer than its maximum.
    #[error("{what} has {len} elements; the maximum is {max}")]
    TooMany {
        /// What list.
        what: &'static str,
        /// Its length.
        len: u64,
        /// The maximum.
        max: u64,
    },
}

/// A node description that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeInfoError {
    /// A field is longer than its maximum.
    #[error("node {field} is too long: {source}")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// The length and the maximum.
        source: LengthError,
    },
}
