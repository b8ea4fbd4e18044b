//! A whole-store dump: every record of every column family as one byte stream,
//! and the import that replaces a store's contents with one. It is how a node
//! that fell too far behind receives the ledger (the consensus layer ships it as
//! a Raft snapshot); the ledger knows nothing of Raft.
//!
//! Format: [`DUMP_MAGIC`], then records ordered by column (in
//! [`schema::COLUMNS`] order) and by key within a column, each
//! `column index: u8, key length: u32 BE, key, value length: u32 BE, value`.
//! Every length is checked against the bytes that remain, so a malformed dump
//! is refused without allocating more than its own size.
//!
//! Both directions stream: [`DumpView::write_to`] writes records as it reads
//! them from a RocksDB snapshot, without holding the store (applying goes on
//! meanwhile), and [`LedgerStore::import_dump_from`] reads them from any
//! reader. Neither holds a second copy of the ledger in memory, except the
//! import's one write batch, which keeps the replacement atomic.
//!
//! A [`DumpView`] can also freeze the store as a RocksDB checkpoint (hard
//! links to its table files, so it costs a memtable flush, not a copy) and
//! dump that checkpoint later: the consensus layer's snapshots are such
//! checkpoints, dumped only when a lagging node needs one.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{IteratorMode, WriteBatch, WriteOptions, DB};

use super::{column, open_db, schema, LedgerStore, OpenMode};
use crate::codec::decode;
use crate::error::{StoreError, StoreResult};
use crate::ids::{BlockHash, ChainId};

/// The first bytes of a dump, naming its format and version.
pub const DUMP_MAGIC: &[u8; 8] = b"GTDUMP02";

/// A handle that writes the store's dump without holding the store: it shares
/// the database, and reads it through a RocksDB snapshot.
pub struct DumpView {
    db: Arc<DB>,
    /// A checkpoint opened read-only: nothing to sync, and RocksDB refuses to.
    read_only: bool,
}

impl std::fmt::Debug for DumpView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpView")
            .field("path", &self.db.path())
            .finish()
    }
}

/// What [`DumpView::write_to`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpWritten {
    /// The applier marker as of the dump (see [`LedgerStore::marker`]): the
    /// dump holds exactly the blocks its applier had applied.
    pub marker: Option<Vec<u8>>,
    /// The dump's length in bytes.
    pub bytes: u64,
}

impl DumpView {
    /// Opens, read-only, a checkpoint made by [`DumpView::checkpoint`].
    pub fn open_checkpoint(dir: &Path) -> StoreResult<Self> {
        Ok(Self {
            db: Arc::new(open_db(dir, OpenMode::ReadOnly)?),
            read_only: true,
        })
    }

    /// Freezes the store as it is now into `dir` (which must not exist): a
    /// RocksDB checkpoint, whose table files are hard links to the store's.
    /// Everything it holds is on the live store's disk before this returns,
    /// since a snapshot of it lets Raft purge its log: the WAL is synced
    /// *after* the checkpoint, so the sync covers every write the checkpoint
    /// saw, including those that landed between a sync and the checkpoint.
    pub fn checkpoint(&self, dir: &Path) -> StoreResult<()> {
        Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// The applier marker the store holds now (see [`LedgerStore::marker`]).
    pub fn marker(&self) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_pinned_cf(self.column(schema::META)?, schema::META_APPLIER_MARKER)?
            .map(|bytes| bytes.to_vec()))
    }

    fn column(&self, name: &'static str) -> StoreResult<&rocksdb::ColumnFamily> {
        column(&self.db, name)
    }

    /// Writes every record of one consistent RocksDB snapshot to `out`, as a
    /// dump that [`LedgerStore::import_dump_from`] accepts.
    pub fn write_to(&self, out: impl Write) -> StoreResult<DumpWritten> {
        let snapshot = self.db.snapshot();
        // A dump lets Raft purge the log entries it covers, so everything it
        // covers must be on disk: block writes are not synced one by one. The
        // sync comes after the snapshot, so it covers every write the snapshot
        // sees.
        if !self.read_only {
            self.db.flush_wal(true)?;
        }
        let marker = snapshot
            .get_cf(self.column(schema::META)?, schema::META_APPLIER_MARKER)?
            .map(|bytes| bytes.to_vec());
        let mut out = CountingWriter {
            inner: BufWriter::with_capacity(1 << 20, out),
            written: 0,
        };
        out.write(DUMP_MAGIC)?;
        for (column_index, name) in schema::COLUMNS.iter().enumerate() {
            for item in
                snapshot.iterator_cf_opt(self.column(name)?, whole_column(), IteratorMode::Start)
            {
                let (key, value) = item?;
                out.write(&[column_index as u8])?;
                out.write_sized(&key)?;
                out.write_sized(&value)?;
            }
        }
        out.inner.flush().map_err(dump_io)?;
        Ok(DumpWritten {
            marker,
            bytes: out.written,
        })
    }
}

/// A buffered writer that counts what passed through it.
struct CountingWriter<W: Write> {
    inner: BufWriter<W>,
    written: u64,
}

impl<W: Write> CountingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> StoreResult<()> {
        self.inner.write_all(bytes).map_err(dump_io)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes `bytes` after its u32 big-endian length.
    fn write_sized(&mut self, bytes: &[u8]) -> StoreResult<()> {
        let len = u32::try_from(bytes.len()).map_err(|_| {
            StoreError::Inconsistent("a stored record is larger than 4 GiB".to_owned())
        })?;
        self.write(&len.to_be_bytes())?;
        self.write(bytes)
    }
}

fn dump_io(error: std::io::Error) -> StoreError {
    StoreError::DumpIo(error.to_string())
}

impl LedgerStore {
    /// A handle that dumps this store later, from another thread, without
    /// holding it.
    pub fn dump_view(&self) -> DumpView {
        DumpView {
            db: Arc::clone(&self.db),
            read_only: false,
        }
    }

    /// Every record of the store, read from one consistent RocksDB snapshot,
    /// as a dump that [`LedgerStore::import_dump`] accepts.
    pub fn export_dump(&self) -> StoreResult<Vec<u8>> {
        let mut dump = Vec::new();
        self.dump_view().write_to(&mut dump)?;
        Ok(dump)
    }

    /// [`LedgerStore::import_dump_from`] over a dump in memory.
    pub fn import_dump(&mut self, dump: &[u8], marker: &[u8]) -> StoreResult<()> {
        self.import_dump_from(dump, dump.len() as u64, marker)
    }

    /// Replaces the whole store with the dump of `len` bytes that `dump`
    /// yields, storing `marker` as the applier marker, in one synced batch: a
    /// crash leaves the old store or the new one.
    ///
    /// Refuses a malformed dump ([`StoreError::BadDump`]) and a dump of another
    /// chain ([`StoreError::WrongGenesis`]) before writing anything. After the
    /// write the new tip is loaded and checked as on open.
    pub fn import_dump_from(
        &mut self,
        dump: impl Read,
        len: u64,
        marker: &[u8],
    ) -> StoreResult<()> {
        let mut batch = WriteBatch::default();
        for name in schema::COLUMNS {
            let column = self.cf(name)?;
            for item in self
                .db
                .iterator_cf_opt(column, whole_column(), IteratorMode::Start)
            {
                let (key, _) = item?;
                batch.delete_cf(column, key);
            }
        }
        let mut reader = DumpReader {
            inner: std::io::BufReader::with_capacity(1 << 20, dump),
            len,
            offset: 0,
        };
        if reader.take(DUMP_MAGIC.len())? != DUMP_MAGIC {
            return Err(reader.error("not a store dump (wrong magic)"));
        }
        let mut previous: Option<(u8, Vec<u8>)> = None;
        let mut chain_id = None;
        let mut genesis_hash = None;
        while reader.offset < len {
            let column_index = reader.take(1)?[0];
            let Some(&name) = schema::COLUMNS.get(usize::from(column_index)) else {
                return Err(reader.error("unknown column index"));
            };
            let key = reader.take_sized()?;
            let value = reader.take_sized()?;
            if let Some((previous_column, previous_key)) = &previous {
                if (*previous_column, previous_key.as_slice()) >= (column_index, key.as_slice()) {
                    return Err(reader.error("records are not in strictly increasing order"));
                }
            }
            if name == schema::META && key == schema::META_CHAIN_ID {
                chain_id = Some(value.clone());
            } else if name == schema::META && key == schema::META_GENESIS_HASH {
                genesis_hash = Some(value.clone());
            }
            batch.put_cf(self.cf(name)?, &key, &value);
            previous = Some((column_index, key));
        }
        self.check_dump_chain(chain_id.as_deref(), genesis_hash.as_deref())?;
        batch.put_cf(self.cf(schema::META)?, schema::META_APPLIER_MARKER, marker);
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        self.db.write_opt(batch, &sync)?;
        // The tree is another one now.
        self.state_nodes.clear();
        self.unwritten.clear();
        self.load_tip()
    }

    /// Checks the dump's chain id and genesis hash are this store's.
    fn check_dump_chain(
        &self,
        chain_id: Option<&[u8]>,
        genesis_hash: Option<&[u8]>,
    ) -> StoreResult<()> {
        let (Some(chain_id), Some(genesis_hash)) = (chain_id, genesis_hash) else {
            return Err(StoreError::BadDump {
                offset: 0,
                reason: "the dump has no chain id or genesis hash",
            });
        };
        let corrupt = |source| StoreError::Corrupt {
            column: schema::META,
            source,
        };
        let chain_id: ChainId = decode(chain_id).map_err(corrupt)?;
        let genesis_hash: BlockHash = decode(genesis_hash).map_err(corrupt)?;
        if chain_id != self.chain_id || genesis_hash != self.genesis_hash {
            return Err(StoreError::WrongGenesis {
                expected: super::chain_description(&self.chain_id, &self.genesis_hash),
                found: super::chain_description(&chain_id, &genesis_hash),
            });
        }
        Ok(())
    }
}

/// Reads a dump of known length, never past its end, so a forged length
/// cannot make it allocate more than the dump's own size.
struct DumpReader<R: Read> {
    inner: std::io::BufReader<R>,
    len: u64,
    offset: u64,
}

impl<R: Read> DumpReader<R> {
    fn error(&self, reason: &'static str) -> StoreError {
        StoreError::BadDump {
            offset: self.offset,
            reason,
        }
    }

    fn take(&mut self, count: usize) -> StoreResult<Vec<u8>> {
        let end = self
            .offset
            .checked_add(count as u64)
            .filter(|end| *end <= self.len)
            .ok_or_else(|| self.error("truncated"))?;
        let mut bytes = vec![0; count];
        self.inner.read_exact(&mut bytes).map_err(|error| {
            if error.kind() == std::io::ErrorKind::UnexpectedEof {
                self.error("truncated")
            } else {
                dump_io(error)
            }
        })?;
        self.offset = end;
        Ok(bytes)
    }

    fn take_sized(&mut self) -> StoreResult<Vec<u8>> {
        let len_bytes: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| self.error("truncated"))?;
        self.take(u32::from_be_bytes(len_bytes) as usize)
    }
}

/// Read options for iterating a whole column in key order, also where the
/// column hashes its memtable by key.
fn whole_column() -> rocksdb::ReadOptions {
    let mut options = rocksdb::ReadOptions::default();
    options.set_total_order_seek(true);
    options
}
