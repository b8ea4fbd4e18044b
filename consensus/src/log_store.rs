//! The RocksDB Raft log store: openraft's [`RaftLogStorage`] (storage v2) over a
//! RocksDB database of its own.
//!
//! Layout: column family [`LOGS_CF`] maps a log index (8 bytes, big-endian, so
//! keys sort by index) to the canonical borsh encoding of an [`EntryRecord`];
//! column family [`META_CF`] holds the vote, the committed log id and the last
//! purged log id, each the borsh encoding of its record.
//!
//! Every write that Raft's safety rests on (votes, appends, truncation, purge)
//! goes through one synced `WriteBatch`, so it is on disk before openraft is
//! told it happened, and each batch is atomic, so a crash never leaves a hole
//! in the log. Synced writes run on tokio's blocking pool, because an fsync can
//! take milliseconds and must not stall the runtime's workers. Reads are served
//! straight from RocksDB.
//!
//! The committed log id is the exception: it is written but not synced.
//! openraft awaits `save_committed` inside its core loop before every apply,
//! so a sync there put one more fsync on every block's path to its receipt and
//! stalled the core meanwhile. openraft treats the saved value as a hint (on
//! start it takes the larger of it and the state machine's applied id, and
//! re-learns the rest from the leader), and the ledger records its applied
//! entry atomically with each block, so a committed id lost in a power cut
//! costs nothing but a later commit message.
//!
//! Every read checks what it decodes: the bytes are canonical, the entry under
//! key `i` names index `i`, and a range has no holes. A failed check is a
//! [`LogStoreError`], which openraft receives as a fatal `StorageError`.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_ledger::codec::{decode, encode};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader, StorageIOError,
};
use rocksdb::{ColumnFamily, Direction, IteratorMode, Options, ReadOptions, WriteBatch, DB};

use crate::error::{LogStoreError, LogStoreResult, StoredRecord};
use crate::record::{EntryRecord, LogIdRecord, VoteRecord};
use crate::types::{RaftEntry, RaftLogId, RaftStorageError, RaftVote, TypeConfig};

/// Column family of the log entries, keyed by big-endian index.
pub const LOGS_CF: &str = "logs";
/// Column family of the vote, the committed log id and the last purged log id.
pub const META_CF: &str = "meta";
/// Most entries one replication read returns ([`RaftLogReader::limited_get_log_entries`]).
pub const REPLICATION_ENTRIES_MAX: u64 = 256;
/// Most encoded bytes one replication read returns, unless its first entry alone
/// is larger (a replication read always returns at least one entry).
pub const REPLICATION_BYTES_MAX: u64 = 16 * 1024 * 1024;

const VOTE_KEY: &[u8] = b"vote";
const COMMITTED_KEY: &[u8] = b"committed";
const LAST_PURGED_KEY: &[u8] = b"last_purged";

/// How much one range read may return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimit {
    /// Most entries.
    pub entries_max: u64,
    /// Most encoded bytes; the first entry is returned whatever its size.
    pub bytes_max: u64,
}

impl ReadLimit {
    /// Only the range bounds the read: openraft needs every entry it asks for
    /// when it applies committed entries.
    pub const RANGE_ONLY: ReadLimit = ReadLimit {
        entries_max: u64::MAX,
        bytes_max: u64::MAX,
    };

    /// The limit of one replication batch.
    pub const REPLICATION: ReadLimit = ReadLimit {
        entries_max: REPLICATION_ENTRIES_MAX,
        bytes_max: REPLICATION_BYTES_MAX,
    };
}

/// The RocksDB Raft log store. Cloning it is cheap and shares the database;
/// openraft's log readers are such clones.
#[derive(Clone)]
pub struct RocksLogStore {
    db: Arc<DB>,
}

impl Debug for RocksLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksLogStore")
            .field("path", &self.db.path())
            .finish()
    }
}

/// The log database's memtable budget, both columns together.
const LOG_MEMTABLES_BYTES: usize = 32 << 20;

impl RocksLogStore {
    /// The names of the column families the store needs.
    pub const COLUMN_FAMILIES: [&'static str; 2] = [LOGS_CF, META_CF];

    /// Database options for a log database: create it and its column families
    /// when missing.
    pub fn db_options() -> Options {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Bounds the memtables of both columns together: entries are
        // written once, read back while fresh, and purged after snapshots,
        // so there is no point holding more of them in memory.
        options.set_db_write_buffer_size(LOG_MEMTABLES_BYTES);
        gemtrail_ledger::store::background_work_yields(&mut options);
        options
    }

    /// Opens (or creates) the log database at `path`.
    pub fn open(path: impl AsRef<Path>) -> LogStoreResult<Self> {
        let db =
            DB::open_cf(&Self::db_options(), path, Self::COLUMN_FAMILIES).map_err(|source| {
                LogStoreError::Rocks {
                    operation: "open the raft log database",
                    source,
                }
            })?;
        Self::with_db(Arc::new(db))
    }

    /// Uses a database the caller opened, which must have
    /// [`Self::COLUMN_FAMILIES`].
    pub fn with_db(db: Arc<DB>) -> LogStoreResult<Self> {
        for name in Self::COLUMN_FAMILIES {
            if db.cf_handle(name).is_none() {
                return Err(LogStoreError::MissingColumnFamily { name });
            }
        }
        Ok(Self { db })
    }

    /// The underlying database.
    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    fn column_family(&self, name: &'static str) -> LogStoreResult<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or(LogStoreError::MissingColumnFamily { name })
    }

    /// The entry at `index`, if present.
    pub fn entry(&self, index: u64) -> LogStoreResult<Option<RaftEntry>> {
        let end = index.checked_add(1);
        Ok(self
            .entries(index, end, ReadLimit::RANGE_ONLY)?
            .into_iter()
            .next())
    }

    /// The entries with index in `[start, end)` (no end: to the last entry), in
    /// order and without holes, at most `limit`. Missing entries at the start
    /// (purged ones) are skipped.
    pub fn entries(
        &self,
        start: u64,
        end: Option<u64>,
        limit: ReadLimit,
    ) -> LogStoreResult<Vec<RaftEntry>> {
        let logs = self.column_family(LOGS_CF)?;
        let mut options = ReadOptions::default();
        if let Some(end) = end {
            options.set_iterate_upper_bound(end.to_be_bytes());
        }
        let start_key = start.to_be_bytes();
        let iterator = self.db.iterator_cf_opt(
            logs,
            options,
            IteratorMode::From(&start_key, Direction::Forward),
        );
        let mut entries = Vec::new();
        let mut bytes_read = 0u64;
        for item in iterator {
            let (key, value) = item.map_err(|source| LogStoreError::Rocks {
                operation: "read log entries",
                source,
            })?;
            let index = index_from_key(&key)?;
            if end.is_some_and(|end| index >= end) {
                break;
            }
            bytes_read = bytes_read.saturating_add(value.len() as u64);
            if !entries.is_empty() && bytes_read > limit.bytes_max {
                break;
            }
            if let Some(previous) = entries.last().map(|entry: &RaftEntry| entry.log_id.index) {
                let expected = previous.saturating_add(1);
                if index != expected {
                    return Err(LogStoreError::NotConsecutive {
                        expected,
                        found: index,
                    });
                }
            }
            entries.push(decode_entry(index, &value)?);
            if entries.len() as u64 >= limit.entries_max {
                break;
            }
        }
        Ok(entries)
    }

    /// The index of the last entry present, if any, read from its key alone (an
    /// append checks it, and must not decode a whole block proposal to do so).
    pub fn last_index(&self) -> LogStoreResult<Option<u64>> {
        let logs = self.column_family(LOGS_CF)?;
        let mut iterator = self.db.raw_iterator_cf(logs);
        iterator.seek_to_last();
        iterator.status().map_err(|source| LogStoreError::Rocks {
            operation: "seek to the last log entry",
            source,
        })?;
        iterator.key().map(index_from_key).transpose()
    }

    /// The log id of the last entry present, if any.
    pub fn last_entry_log_id(&self) -> LogStoreResult<Option<RaftLogId>> {
        let logs = self.column_family(LOGS_CF)?;
        let Some(item) = self.db.iterator_cf(logs, IteratorMode::End).next() else {
            return Ok(None);
        };
        let (key, value) = item.map_err(|source| LogStoreError::Rocks {
            operation: "read the last log entry",
            source,
        })?;
        let index = index_from_key(&key)?;
        Ok(Some(decode_entry(index, &value)?.log_id))
    }

    /// The last purged log id and the last log id, as openraft defines them.
    pub fn log_state(&self) -> LogStoreResult<LogState<TypeConfig>> {
        let last_purged_log_id = self.last_purged()?;
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    /// The saved vote.
    pub fn vote(&self) -> LogStoreResult<Option<RaftVote>> {
        let record = self.read_meta::<VoteRecord>(VOTE_KEY, StoredRecord::Vote)?;
        Ok(record.map(RaftVote::from))
    }

    /// The saved committed log id.
    pub fn committed(&self) -> LogStoreResult<Option<RaftLogId>> {
        let record = self.read_meta::<LogIdRecord>(COMMITTED_KEY, StoredRecord::Committed)?;
        Ok(record.map(RaftLogId::from))
    }

    /// The last purged log id.
    pub fn last_purged(&self) -> LogStoreResult<Option<RaftLogId>> {
        let record = self.read_meta::<LogIdRecord>(LAST_PURGED_KEY, StoredRecord::LastPurged)?;
        Ok(record.map(RaftLogId::from))
    }

    fn read_meta<T: BorshSerialize + BorshDeserialize>(
        &self,
        key: &[u8],
        record: StoredRecord,
    ) -> LogStoreResult<Option<T>> {
        let meta = self.column_family(META_CF)?;
        let bytes = self
            .db
            .get_pinned_cf(meta, key)
            .map_err(|source| LogStoreError::Rocks {
                operation: "read log metadata",
                source,
            })?;
        bytes
            .map(|bytes| {
                decode::<T>(&bytes).map_err(|source| LogStoreError::Decode { record, source })
            })
            .transpose()
    }

    /// Writes `batch` with fsync on the blocking pool, and returns once it is
    /// durable.
    async fn write_synced(&self, batch: WriteBatch) -> LogStoreResult<()> {
        let db = Arc::clone(&self.db);
        let write = tokio::task::spawn_blocking(move || {
            let mut options = rocksdb::WriteOptions::default();
            options.set_sync(true);
            db.write_opt(batch, &options)
        });
        write
            .await
            .map_err(|error| LogStoreError::WriteTask {
                reason: error.to_string(),
            })?
            .map_err(|source| LogStoreError::Rocks {
                operation: "write the raft log",
                source,
            })
    }

    /// Builds the batch that appends `entries`, checking that they follow the
    /// last entry present and each other without a hole.
    fn append_batch(
        &self,
        entries: impl IntoIterator<Item = RaftEntry>,
    ) -> LogStoreResult<WriteBatch> {
        let logs = self.column_family(LOGS_CF)?;
        let mut batch = WriteBatch::default();
        let mut previous = self.last_index()?;
        for entry in entries {
            let index = entry.log_id.index;
            if let Some(expected) = previous.map(|previous| previous.saturating_add(1)) {
                if index != expected {
                    return Err(LogStoreError::NotConsecutive {
                        expected,
                        found: index,
                    });
                }
            }
            let record = EntryRecord::try_from(entry).map_err(|source| LogStoreError::Invalid {
                record: StoredRecord::Entry { index },
                source,
            })?;
            batch.put_cf(logs, index.to_be_bytes(), encode(&record));
            previous = Some(index);
        }
        Ok(batch)
    }

    /// Builds the batch that deletes every entry with index `>= since`.
    fn truncate_batch(&self, since: u64) -> LogStoreResult<WriteBatch> {
        let logs = self.column_family(LOGS_CF)?;
        let mut batch = WriteBatch::default();
        // `delete_range` excludes its end, so the last possible key goes separately.
        batch.delete_range_cf(logs, since.to_be_bytes(), u64::MAX.to_be_bytes());
        batch.delete_cf(logs, u64::MAX.to_be_bytes());
        Ok(batch)
    }

    /// Builds the batch that records `upto` as purged and deletes every entry
    /// with index `<= upto.index`, atomically, so the log state never shows a
    /// purged id ahead of a present entry.
    fn purge_batch(&self, upto: &RaftLogId) -> LogStoreResult<WriteBatch> {
        let logs = self.column_family(LOGS_CF)?;
        let meta = self.column_family(META_CF)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(meta, LAST_PURGED_KEY, encode(&LogIdRecord::from(upto)));
        batch.delete_range_cf(logs, 0u64.to_be_bytes(), upto.index.to_be_bytes());
        batch.delete_cf(logs, upto.index.to_be_bytes());
        Ok(batch)
    }

    fn meta_batch(&self, key: &[u8], value: Option<Vec<u8>>) -> LogStoreResult<WriteBatch> {
        let meta = self.column_family(META_CF)?;
        let mut batch = WriteBatch::default();
        match value {
            Some(value) => batch.put_cf(meta, key, value),
            None => batch.delete_cf(meta, key),
        }
        Ok(batch)
    }
}

fn index_from_key(key: &[u8]) -> LogStoreResult<u64> {
    let bytes = <[u8; 8]>::try_from(key).map_err(|_| LogStoreError::BadLogKey {
        len: key.len() as u64,
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// Decodes the entry stored under `index`, and checks it names that index.
fn decode_entry(index: u64, bytes: &[u8]) -> LogStoreResult<RaftEntry> {
    let record = StoredRecord::Entry { index };
    let decoded =
        decode::<EntryRecord>(bytes).map_err(|source| LogStoreError::Decode { record, source })?;
    let entry =
        RaftEntry::try_from(decoded).map_err(|source| LogStoreError::Invalid { record, source })?;
    if entry.log_id.index != index {
        return Err(LogStoreError::IndexMismatch {
            key_index: index,
            entry_index: entry.log_id.index,
        });
    }
    Ok(entry)
}

/// Converts a range of indexes into `[start, end)`, with `None` for no end, or
/// `None` overall when the range is empty.
fn index_range(range: &impl RangeBounds<u64>) -> Option<(u64, Option<u64>)> {
    let start = match range.start_bound() {
        Bound::Included(start) => *start,
        Bound::Excluded(start) => start.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(end) => end.checked_add(1),
        Bound::Excluded(end) => Some(*end),
        Bound::Unbounded => None,
    };
    if end.is_some_and(|end| end <= start) {
        return None;
    }
    Some((start, end))
}

/// Reports a log-store error to openraft, which stops the node on it.
///
/// Our messages already include their causes, so the message alone is passed
/// on (`AnyError::new` would repeat each cause once more).
fn storage_error(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    error: LogStoreError,
) -> RaftStorageError {
    StorageIOError::new(subject, verb, AnyError::error(error.to_string())).into()
}

impl RaftLogReader<TypeConfig> for RocksLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<RaftEntry>, RaftStorageError> {
        let Some((start, end)) = index_range(&range) else {
            return Ok(Vec::new());
        };
        self.entries(start, end, ReadLimit::RANGE_ONLY)
            .map_err(|error| storage_error(ErrorSubject::Logs, ErrorVerb::Read, error))
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<RaftEntry>, RaftStorageError> {
        if end <= start {
            return Ok(Vec::new());
        }
        self.entries(start, Some(end), ReadLimit::REPLICATION)
            .map_err(|error| storage_error(ErrorSubject::Logs, ErrorVerb::Read, error))
    }
}

impl RaftLogStorage<TypeConfig> for RocksLogStore {
    type LogReader = RocksLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, RaftStorageError> {
        self.log_state()
            .map_err(|error| storage_error(ErrorSubject::Logs, ErrorVerb::Read, error))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &RaftVote) -> Result<(), RaftStorageError> {
        let to_error = |error| storage_error(ErrorSubject::Vote, ErrorVerb::Write, error);
        let batch = self
            .meta_batch(VOTE_KEY, Some(encode(&VoteRecord::from(vote))))
            .map_err(to_error)?;
        self.write_synced(batch).await.map_err(to_error)
    }

    async fn read_vote(&mut self) -> Result<Option<RaftVote>, RaftStorageError> {
        self.vote()
            .map_err(|error| storage_error(ErrorSubject::Vote, ErrorVerb::Read, error))
    }

    async fn save_committed(
        &mut self,
        committed: Option<RaftLogId>,
    ) -> Result<(), RaftStorageError> {
        let to_error = |error| storage_error(ErrorSubject::Store, ErrorVerb::Write, error);
        let value = committed
            .as_ref()
            .map(|log_id| encode(&LogIdRecord::from(log_id)));
        let batch = self.meta_batch(COMMITTED_KEY, value).map_err(to_error)?;
        // Not synced (see the module comment), so it is quick enough to write
        // here rather than on the blocking pool.
        self.db
            .write(batch)
            .map_err(|source| LogStoreError::Rocks {
                operation: "write the committed log id",
                source,
            })
            .map_err(to_error)
    }

    async fn read_committed(&mut self) -> Result<Option<RaftLogId>, RaftStorageError> {
        self.committed()
            .map_err(|error| storage_error(ErrorSubject::Store, ErrorVerb::Read, error))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), RaftStorageError>
    where
        I: IntoIterator<Item = RaftEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let to_error = |error| storage_error(ErrorSubject::Logs, ErrorVerb::Write, error);
        let batch = self.append_batch(entries).map_err(to_error)?;
        // The callback tells openraft the entries are durable, so it may count
        // this node towards a quorum: only after the synced write.
        self.write_synced(batch).await.map_err(to_error)?;
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: RaftLogId) -> Result<(), RaftStorageError> {
        let to_error = |error| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, error);
        let batch = self.truncate_batch(log_id.index).map_err(to_error)?;
        self.write_synced(batch).await.map_err(to_error)
    }

    async fn purge(&mut self, log_id: RaftLogId) -> Result<(), RaftStorageError> {
        let to_error = |error| storage_error(ErrorSubject::Logs, ErrorVerb::Delete, error);
        let batch = self.purge_batch(&log_id).map_err(to_error)?;
        self.write_synced(batch).await.map_err(to_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_ranges_convert_to_half_open_bounds() {
        assert_eq!(index_range(&(3..7)), Some((3, Some(7))));
        assert_eq!(index_range(&(3..=7)), Some((3, Some(8))));
        assert_eq!(index_range(&(5..)), Some((5, None)));
        assert_eq!(index_range(&..), Some((0, None)));
        assert_eq!(index_range(&(3..=u64::MAX)), Some((3, None)));
        assert_eq!(index_range(&(3..3)), None);
        let reversed = (Bound::Included(7), Bound::Excluded(3));
        assert_eq!(index_range(&reversed), None);
        let after_last = (Bound::Excluded(u64::MAX), Bound::Unbounded);
        assert_eq!(index_range(&after_last), None);
    }

    #[test]
    fn log_keys_must_be_eight_bytes() {
        assert_eq!(index_from_key(&258u64.to_be_bytes()).unwrap(), 258);
        let error = index_from_key(&[1, 2, 3]).unwrap_err();
        assert!(
            matches!(error, LogStoreError::BadLogKey { len: 3 }),
            "{error:?}"
        );
    }
}
