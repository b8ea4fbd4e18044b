//! A whole-store dump: every record of every column family in one byte buffer,
//! and the import that replaces a store's contents with one. It is how a node
//! that fell too far behind receives the ledger (the consensus layer ships it as
//! a Raft snapshot); the ledger knows nothing of Raft.
//!
//! Format: [`DUMP_MAGIC`], then records ordered by column (in
//! [`schema::COLUMNS`] order) and by key within a column, each
//! `column index: u8, key length: u32 BE, key, value length: u32 BE, value`.
//! Every length is checked against the bytes that remain, so a malformed dump
//! is refused without allocating more than its own size.

use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use super::{schema, LedgerStore};
use crate::codec::decode;
use crate::error::{StoreError, StoreResult};
use crate::ids::{BlockHash, ChainId};

/// The first bytes of a dump, naming its format and version.
pub const DUMP_MAGIC: &[u8; 8] = b"GTDUMP01";

/// One record of a dump.
struct DumpRecord<'a> {
    column: u8,
    key: &'a [u8],
    value: &'a [u8],
}

impl LedgerStore {
    /// Every record of the store, read from one consistent RocksDB snapshot,
    /// as a dump that [`LedgerStore::import_dump`] accepts.
    pub fn export_dump(&self) -> StoreResult<Vec<u8>> {
        // A snapshot lets Raft purge the log entries it covers, so everything it
        // covers must be on disk first: block writes are not synced one by one.
        self.db.flush_wal(true)?;
        let snapshot = self.db.snapshot();
        let mut dump = DUMP_MAGIC.to_vec();
        for (column_index, name) in schema::COLUMNS.iter().enumerate() {
            let column = self.cf(name)?;
            for item in snapshot.iterator_cf(column, IteratorMode::Start) {
                let (key, value) = item?;
                dump.push(column_index as u8);
                push_bytes(&mut dump, &key)?;
                push_bytes(&mut dump, &value)?;
            }
        }
        Ok(dump)
    }

    /// Replaces the whole store with `dump`, storing `marker` as the applier
    /// marker, in one synced batch: a crash leaves the old store or the new one.
    ///
    /// Refuses a malformed dump ([`StoreError::BadDump`]) and a dump of another
    /// chain ([`StoreError::WrongGenesis`]) before writing anything. After the
    /// write the new tip is loaded and checked as on open.
    pub fn import_dump(&mut self, dump: &[u8], marker: &[u8]) -> StoreResult<()> {
        let records = parse_dump(dump)?;
        self.check_dump_chain(&records)?;
        let mut batch = WriteBatch::default();
        for name in schema::COLUMNS {
            let column = self.cf(name)?;
            for item in self.db.iterator_cf(column, IteratorMode::Start) {
                let (key, _) = item?;
                batch.delete_cf(column, key);
            }
        }
        for record in &records {
            let column = self.cf(schema::COLUMNS[usize::from(record.column)])?;
            batch.put_cf(column, record.key, record.value);
        }
        batch.put_cf(self.cf(schema::META)?, schema::META_APPLIER_MARKER, marker);
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        self.db.write_opt(batch, &sync)?;
        self.load_tip()
    }

    /// Checks the dump is of this store's chain and genesis.
    fn check_dump_chain(&self, records: &[DumpRecord<'_>]) -> StoreResult<()> {
        let meta_value = |key: &[u8]| {
            records
                .iter()
                .find(|record| {
                    schema::COLUMNS[usize::from(record.column)] == schema::META && record.key == key
                })
                .map(|record| record.value)
                .ok_or(StoreError::BadDump {
                    offset: 0,
                    reason: "the dump has no chain id or genesis hash",
                })
        };
        let corrupt = |source| StoreError::Corrupt {
            column: schema::META,
            source,
        };
        let chain_id: ChainId = decode(meta_value(schema::META_CHAIN_ID)?).map_err(corrupt)?;
        let genesis_hash: BlockHash =
            decode(meta_value(schema::META_GENESIS_HASH)?).map_err(corrupt)?;
        if chain_id != self.chain_id || genesis_hash != self.genesis_hash {
            return Err(StoreError::WrongGenesis {
                expected: super::chain_description(&self.chain_id, &self.genesis_hash),
                found: super::chain_description(&chain_id, &genesis_hash),
            });
        }
        Ok(())
    }
}

/// Appends `bytes` with its u32 big-endian length.
fn push_bytes(dump: &mut Vec<u8>, bytes: &[u8]) -> StoreResult<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| StoreError::Inconsistent("a stored record is larger than 4 GiB".to_owned()))?;
    dump.extend_from_slice(&len.to_be_bytes());
    dump.extend_from_slice(bytes);
    Ok(())
}

/// Splits a dump into records, checking the magic, every length, every column
/// index, and that records are strictly ordered by (column, key).
fn parse_dump(dump: &[u8]) -> StoreResult<Vec<DumpRecord<'_>>> {
    let mut reader = Reader { dump, offset: 0 };
    if reader.take(DUMP_MAGIC.len())? != DUMP_MAGIC {
        return Err(reader.error("not a store dump (wrong magic)"));
    }
    let mut records: Vec<DumpRecord<'_>> = Vec::new();
    while reader.offset < dump.len() {
        let column = reader.take(1)?[0];
        if usize::from(column) >= schema::COLUMNS.len() {
            return Err(reader.error("unknown column index"));
        }
        let key = reader.take_sized()?;
        let value = reader.take_sized()?;
        if let Some(previous) = records.last() {
            if (previous.column, previous.key) >= (column, key) {
                return Err(reader.error("records are not in strictly increasing order"));
            }
        }
        records.push(DumpRecord { column, key, value });
    }
    Ok(records)
}

/// A cursor over a dump that never reads past its end.
struct Reader<'a> {
    dump: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: &'static str) -> StoreError {
        StoreError::BadDump {
            offset: self.offset as u64,
            reason,
        }
    }

    fn take(&mut self, len: usize) -> StoreResult<&'a [u8]> {
        let end = self
            .offset
            .checked_add(len)
            .filter(|end| *end <= self.dump.len())
            .ok_or_else(|| self.error("truncated"))?;
        let bytes = &self.dump[self.offset..end];
        self.offset = end;
        Ok(bytes)
    }

    fn take_sized(&mut self) -> StoreResult<&'a [u8]> {
        let len_bytes: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| self.error("truncated"))?;
        self.take(u32::from_be_bytes(len_bytes) as usize)
    }
}
