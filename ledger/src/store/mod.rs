//! The RocksDB ledger store: blocks, receipts, indexes and the current state of
//! every stone and proposal, on disk.
//!
//! Start with [`LedgerStore::open`] and [`LedgerStore::apply`]. The layout is in
//! [`schema`]; the full re-verification of a stored chain is in [`mod@audit`].
//!
//! **Architecture invariant:** committed data is never rewritten. A block, all
//! its indexes, the state it changes and the new tip go into one atomic
//! `WriteBatch`, so a crash leaves either the whole block or none of it.
//!
//! Every lookup a node or the CLI serves (a stone, its history, a receipt, a
//! transaction, a block) is a handful of point gets or one bounded prefix
//! iteration: its cost does not grow with the size of the ledger.

pub mod audit;
mod certificates;
mod dump;
mod node_cache;
pub mod schema;
mod tree_writes;

use std::path::Path;
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, Options,
    ReadOptions, WriteBatch, WriteOptions, DB,
};

pub use audit::{audit, audit_path, AuditFailure, AuditProblem, AuditReport};
pub use dump::{DumpView, DumpWritten, DUMP_MAGIC};

use self::schema::{BlockLeaves, TipRecord, TxIndexEntry};
use crate::codec::{decode, encode, BoundedVec};
use crate::error::{StoreError, StoreResult};
use crate::history::{HistoryPeaks, HistorySource};
use crate::ids::{BlockHash, ChainId, Digest, ProposalId, StoneId, TxId};
use crate::machine::{apply_block, AppliedBlock};
use crate::model::{
    Block, BlockHeader, BlockProposal, Membership, Proposal, Receipt, SignedTransaction, Stone,
};
use crate::proof::{ProofSource, TxLocation};
use crate::state::{ChainTip, GenesisState, LedgerView};
use crate::state_tree::{self, StateNodes};
use jmt::storage::{Node, NodeKey};

/// How the store writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// fsync every block before `append` returns.
    ///
    /// Off by default. The write-ahead log is always on, so a process crash loses
    /// nothing; only a power loss can lose the last blocks. That is acceptable
    /// because the Raft log, which is synced before entries are acknowledged, is
    /// the durable record: the ledger store can be rebuilt by re-applying the
    /// committed entries after its tip. Turn it on when the store is the only copy.
    pub sync_writes: bool,
}

/// One event in a stone's history: a transaction that changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Where the transaction is.
    pub location: TxLocation,
    /// The timestamp of its block, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The signed transaction.
    pub transaction: SignedTransaction,
}

/// A key and value as RocksDB returns them.
type RawRecord = (Box<[u8]>, Box<[u8]>);

/// Whether the store may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenMode {
    /// Create if missing, then read and write.
    ReadWrite,
    /// Read an existing store without taking its lock (a running node may hold it).
    ReadOnly,
}

/// The ledger on disk.
pub struct LedgerStore {
    /// Shared with [`DumpView`]s, which read it without holding the store.
    db: Arc<DB>,
    chain_id: ChainId,
    genesis_hash: BlockHash,
    tip: ChainTip,
    membership: Membership,
    history: HistoryPeaks,
    options: StoreOptions,
    /// Written state-tree nodes of the tip's tree, in front of the
    /// `state_nodes` column.
    state_nodes: node_cache::NodeCache,
    /// State-tree nodes not yet written (see `tree_writes`).
    unwritten: tree_writes::UnwrittenNodes,
    /// False for a read-only store (the audit's), which neither applies
    /// blocks nor re-derives the tip's state tree.
    writable: bool,
}

impl std::fmt::Debug for LedgerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerStore")
            .field("path", &self.db.path())
            .field("chain_id", &self.chain_id)
            .field("tip", &self.tip)
            .finish_non_exhaustive()
    }
}

/// Describes a chain for [`StoreError::WrongGenesis`].
fn chain_description(chain_id: &ChainId, genesis_hash: &BlockHash) -> String {
    format!("{chain_id} with genesis {genesis_hash}")
}

fn corrupt(column: &'static str) -> impl FnOnce(crate::error::DecodeError) -> StoreError {
    move |source| StoreError::Corrupt { column, source }
}

impl LedgerStore {
    /// Opens the store in `path`, creating it for `genesis` if it is new, with
    /// default [`StoreOptions`].
    pub fn open(path: &Path, genesis: &GenesisState) -> StoreResult<LedgerStore> {
        Self::open_with(path, genesis, StoreOptions::default())
    }

    /// Opens the store in `path`, creating it for `genesis` if it is new.
    ///
    /// Fails with [`StoreError::WrongGenesis`] when `path` holds another chain.
    pub fn open_with(
        path: &Path,
        genesis: &GenesisState,
        options: StoreOptions,
    ) -> StoreResult<LedgerStore> {
        Self::open_mode(path, genesis, options, OpenMode::ReadWrite)
    }

    /// Opens an existing store for reading only, for audits and inspection. It
    /// takes no lock, so it works beside a running node; appends fail.
    pub fn open_read_only(path: &Path, genesis: &GenesisState) -> StoreResult<LedgerStore> {
        Self::open_mode(path, genesis, StoreOptions::default(), OpenMode::ReadOnly)
    }

    fn open_mode(
        path: &Path,
        genesis: &GenesisState,
        options: StoreOptions,
        mode: OpenMode,
    ) -> StoreResult<LedgerStore> {
        let db = open_db(path, mode)?;
        let mut store = LedgerStore {
            db: Arc::new(db),
            chain_id: genesis.chain_id.clone(),
            genesis_hash: genesis.genesis_hash,
            tip: genesis.tip(),
            membership: genesis.membership.clone(),
            history: HistoryPeaks::genesis(genesis.genesis_hash),
            options,
            state_nodes: node_cache::NodeCache::default(),
            unwritten: tree_writes::UnwrittenNodes::default(),
            writable: mode == OpenMode::ReadWrite,
        };
        match store.get::<ChainId>(schema::META, schema::META_CHAIN_ID)? {
            None if mode == OpenMode::ReadOnly => {
                return Err(StoreError::Inconsistent(format!(
                    "{} holds no ledger",
                    path.display()
                )))
            }
            None => store.initialise(genesis)?,
            Some(found) => store.restore(genesis, found)?,
        }
        Ok(store)
    }

    /// Records the genesis in a new store, in one synced batch.
    fn initialise(&mut self, genesis: &GenesisState) -> StoreResult<()> {
        let mut batch = WriteBatch::default();
        let meta = self.cf(schema::META)?;
        batch.put_cf(meta, schema::META_CHAIN_ID, encode(&genesis.chain_id));
        batch.put_cf(
            meta,
            schema::META_GENESIS_HASH,
            encode(&genesis.genesis_hash),
        );
        batch.put_cf(meta, schema::META_FORMAT, encode(&schema::STORE_FORMAT));
        batch.put_cf(meta, schema::META_STATE_TREE_VERSION, encode(&0u64));
        batch.put_cf(meta, schema::META_MEMBERSHIP, encode(&genesis.membership));
        batch.put_cf(
            meta,
            schema::META_TIP,
            encode(&TipRecord::from(genesis.tip())),
        );
        batch.put_cf(meta, schema::META_HISTORY, encode(&self.history));
        batch.put_cf(
            self.cf(schema::HISTORY)?,
            schema::history_key(0, 0),
            encode(&Digest(genesis.genesis_hash.0)),
        );
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        self.db.write_opt(batch, &sync)?;
        Ok(())
    }

    /// Checks a reopened store belongs to `genesis`, then loads its tip and membership.
    fn restore(&mut self, genesis: &GenesisState, found_chain: ChainId) -> StoreResult<()> {
        let found_hash: BlockHash = self.required(schema::META, schema::META_GENESIS_HASH)?;
        if found_chain != genesis.chain_id || found_hash != genesis.genesis_hash {
            return Err(StoreError::WrongGenesis {
                expected: chain_description(&genesis.chain_id, &genesis.genesis_hash),
                found: chain_description(&found_chain, &found_hash),
            });
        }
        let format: u32 = self.get(schema::META, schema::META_FORMAT)?.unwrap_or(1);
        if format != schema::STORE_FORMAT {
            return Err(StoreError::WrongFormat {
                expected: schema::STORE_FORMAT,
                found: format,
            });
        }
        self.load_tip()
    }

    /// Loads the stored tip and membership, checking the tip's header is stored.
    fn load_tip(&mut self) -> StoreResult<()> {
        let tip: TipRecord = self.required(schema::META, schema::META_TIP)?;
        self.membership = self.required(schema::META, schema::META_MEMBERSHIP)?;
        self.history = self.required(schema::META, schema::META_HISTORY)?;
        self.tip = tip.into();
        if self.history.leaf_count != self.tip.height + 1 {
            return Err(StoreError::Inconsistent(format!(
                "the history tree holds {} block hashes for a tip at height {}",
                self.history.leaf_count, tip.height
            )));
        }
        self.check_certified()?;
        if self.writable {
            // Only a store that will apply blocks needs the tip's tree; the
            // audit (read-only) re-derives every state itself, and must
            // still open a store whose stones were tampered with.
            self.catch_up_state_tree()?;
        }
        if self.tip.height > 0 {
            // Stored data is input: a tip without its header is reported, not asserted.
            let header = self.header(self.tip.height)?.ok_or_else(|| {
                StoreError::Inconsistent(format!("no header at the tip height {}", tip.height))
            })?;
            if header.hash(&self.chain_id) != self.tip.hash {
                return Err(StoreError::Inconsistent(format!(
                    "the header at the tip height {} does not hash to the tip",
                    tip.height
                )));
            }
            // The next block builds on the stored tree: a damaged tree would
            // give every later block a root no other node computes.
            if self.writable && state_tree::root_at(self, self.tip.height)? != header.state_root {
                return Err(StoreError::Inconsistent(format!(
                    "the state tree at the tip height {} does not match its header's state root",
                    tip.height
                )));
            }
        }
        Ok(())
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis_hash
    }

    /// The last block.
    pub fn tip(&self) -> ChainTip {
        self.tip
    }

    /// The membership in force at the tip.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Builds the next block from `proposal` over the current state and appends it.
    pub fn apply(&mut self, proposal: BlockProposal) -> StoreResult<AppliedBlock> {
        let applied = apply_block(self, proposal)?;
        self.append(&applied)?;
        Ok(applied)
    }

    /// Like [`LedgerStore::apply`], and stores `marker` as the applier marker
    /// in the same atomic batch as the block, so a crash leaves both or neither.
    ///
    /// The marker is opaque to the ledger: its applier (the consensus layer)
    /// records there how far it has applied its own log.
    pub fn apply_with_marker(
        &mut self,
        proposal: BlockProposal,
        marker: &[u8],
    ) -> StoreResult<AppliedBlock> {
        let applied = apply_block(self, proposal)?;
        self.append_marked(&applied, Some(marker))?;
        Ok(applied)
    }

    /// Stores `marker` as the applier marker without a block, for applier steps
    /// that change no ledger state.
    pub fn put_marker(&mut self, marker: &[u8]) -> StoreResult<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(schema::META)?, schema::META_APPLIER_MARKER, marker);
        let mut write_options = WriteOptions::default();
        write_options.set_sync(self.options.sync_writes);
        self.db.write_opt(batch, &write_options)?;
        Ok(())
    }

    /// The applier marker last stored, if any.
    pub fn marker(&self) -> StoreResult<Option<Vec<u8>>> {
        let bytes = self
            .db
            .get_pinned_cf(self.cf(schema::META)?, schema::META_APPLIER_MARKER)?;
        Ok(bytes.map(|bytes| bytes.to_vec()))
    }

    /// Appends a block built by [`apply_block`] over this store's state: the
    /// block, its indexes, its state changes and the new tip, in one batch.
    ///
    /// # Panics
    ///
    /// When the block does not link to the tip's hash, or is internally
    /// inconsistent: such a block was not built over this state, and storing it
    /// would fork the ledger.
    pub fn append(&mut self, applied: &AppliedBlock) -> StoreResult<()> {
        self.append_marked(applied, None)
    }

    /// [`LedgerStore::append`], storing `marker` (if any) in the same batch.
    fn append_marked(&mut self, applied: &AppliedBlock, marker: Option<&[u8]>) -> StoreResult<()> {
        self.check_extends_tip(applied)?;
        let header = &applied.block.header;
        let new_tip = ChainTip {
            height: header.height,
            hash: applied.hash,
            timestamp_ms: header.timestamp_ms,
        };
        let mut batch = self.block_batch(applied, new_tip)?;
        let tree_written = self.stage_state_tree(&mut batch, applied, header.height)?;
        if let Some(marker) = marker {
            batch.put_cf(self.cf(schema::META)?, schema::META_APPLIER_MARKER, marker);
        }
        let mut write_options = WriteOptions::default();
        write_options.set_sync(self.options.sync_writes);
        self.db.write_opt(batch, &write_options)?;
        if tree_written {
            let written = self.unwritten.written();
            self.state_nodes.hold(written);
        }

        // Paired assertion: what was written reads back as the new tip.
        let stored_tip: TipRecord = self.required(schema::META, schema::META_TIP)?;
        assert_eq!(ChainTip::from(stored_tip), new_tip, "stored tip differs");
        let stored_header = self.header(new_tip.height)?;
        assert_eq!(
            stored_header.as_ref(),
            Some(header),
            "stored header differs"
        );
        self.tip = new_tip;
        if let Some(membership) = &applied.changes.membership {
            self.membership = membership.clone();
        }
        self.history = applied.changes.history.clone();
        Ok(())
    }

    /// Refuses a block that is not the next one, and asserts that it was
    /// built over this tip and is consistent in itself (see [`Self::append`]).
    fn check_extends_tip(&self, applied: &AppliedBlock) -> StoreResult<()> {
        let header = &applied.block.header;
        if header.height != self.tip.height + 1 {
            return Err(StoreError::NotNextBlock {
                height: header.height,
                tip: self.tip.height,
            });
        }
        assert_eq!(
            header.prev_hash, self.tip.hash,
            "block does not link to the tip"
        );
        assert!(
            header.timestamp_ms >= self.tip.timestamp_ms,
            "time ran backwards"
        );
        assert_eq!(
            applied.hash,
            header.hash(&self.chain_id),
            "block hash is stale"
        );
        let tx_count = applied.block.transactions.len();
        assert_eq!(header.tx_count as usize, tx_count, "tx_count is wrong");
        assert_eq!(
            applied.receipts.len(),
            tx_count,
            "one receipt per transaction"
        );
        assert_eq!(
            applied.tx_leaves.len(),
            tx_count,
            "one leaf per transaction"
        );
        assert_eq!(
            applied.receipt_leaves.len(),
            tx_count,
            "one leaf per receipt"
        );
        Ok(())
    }

    /// The batch that stores `applied` and moves the tip to `new_tip`.
    fn block_batch(&self, applied: &AppliedBlock, new_tip: ChainTip) -> StoreResult<WriteBatch> {
        let height = new_tip.height;
        let at = |tx_index: u32| TxLocation { height, tx_index };
        let mut batch = WriteBatch::default();
        let header = &applied.block.header;
        batch.put_cf(
            self.cf(schema::HEADERS)?,
            schema::height_key(height),
            encode(header),
        );
        batch.put_cf(
            self.cf(schema::BLOCK_HASHES)?,
            applied.hash.as_bytes(),
            encode(&height),
        );
        let txs = self.cf(schema::BLOCK_TXS)?;
        let receipts = self.cf(schema::RECEIPTS)?;
        for (index, (signed, receipt)) in applied
            .block
            .transactions
            .iter()
            .zip(&applied.receipts)
            .enumerate()
        {
            let key = schema::location_key(at(index as u32));
            batch.put_cf(txs, key, encode(signed));
            batch.put_cf(receipts, key, encode(receipt));
        }
        let leaves = BlockLeaves {
            tx_leaves: bounded_leaves(&applied.tx_leaves)?,
            receipt_leaves: bounded_leaves(&applied.receipt_leaves)?,
        };
        batch.put_cf(
            self.cf(schema::LEAVES)?,
            schema::height_key(height),
            encode(&leaves),
        );
        self.put_changes(&mut batch, applied, height)?;
        let history = self.cf(schema::HISTORY)?;
        for node in &applied.changes.history_nodes {
            batch.put_cf(
                history,
                schema::history_key(node.level, node.position),
                encode(&node.hash),
            );
        }
        let meta = self.cf(schema::META)?;
        batch.put_cf(meta, schema::META_HISTORY, encode(&applied.changes.history));
        batch.put_cf(meta, schema::META_TIP, encode(&TipRecord::from(new_tip)));
        Ok(batch)
    }

    /// Adds the block's state changes and index entries to `batch`.
    fn put_changes(
        &self,
        batch: &mut WriteBatch,
        applied: &AppliedBlock,
        height: u64,
    ) -> StoreResult<()> {
        let at = |tx_index: u32| TxLocation { height, tx_index };
        let changes = &applied.changes;
        let tx_index = self.cf(schema::TX_INDEX)?;
        for indexed in &changes.indexed_txs {
            // A burned id is never re-indexed: the index keeps the transaction
            // that burned it, whatever replays come later. The rules refuse a
            // known id before indexing it, so this is checked in debug builds
            // only: the lookup was a sixth of a node's RocksDB reads.
            debug_assert!(
                !self.contains_tx(&indexed.id).unwrap_or(false),
                "burned tx id re-indexed"
            );
            let entry = TxIndexEntry {
                location: at(indexed.tx_index),
                burned: indexed.burned,
            };
            batch.put_cf(tx_index, indexed.id.as_bytes(), encode(&entry));
        }
        let stones = self.cf(schema::STONES)?;
        for (id, stone) in &changes.stones {
            batch.put_cf(stones, schema::stone_key(id), encode(stone));
        }
        let events = self.cf(schema::STONE_EVENTS)?;
        for event in &changes.events {
            let key = schema::stone_event_key(&event.stone, event.seq);
            batch.put_cf(events, key, encode(&at(event.tx_index)));
        }
        let proposals = self.cf(schema::PROPOSALS)?;
        for (id, proposal) in &changes.proposals {
            batch.put_cf(proposals, id.as_bytes(), encode(proposal));
        }
        let governance = self.cf(schema::GOVERNANCE)?;
        for &index in &changes.governance_txs {
            batch.put_cf(governance, schema::location_key(at(index)), encode(&()));
        }
        if let Some(membership) = &changes.membership {
            batch.put_cf(
                self.cf(schema::META)?,
                schema::META_MEMBERSHIP,
                encode(membership),
            );
        }
        Ok(())
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> StoreResult<Option<BlockHeader>> {
        self.get(schema::HEADERS, &schema::height_key(height))
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> StoreResult<Option<Block>> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let transactions = self.block_transactions(height, header.tx_count)?;
        if transactions.len() != header.tx_count as usize {
            return Err(StoreError::Inconsistent(format!(
                "block {height} has {} stored transactions, its header says {}",
                transactions.len(),
                header.tx_count
            )));
        }
        let transactions = BoundedVec::new(transactions).map_err(|_| {
            StoreError::Inconsistent(format!("block {height} holds too many transactions"))
        })?;
        Ok(Some(Block {
            header,
            transactions,
        }))
    }

    /// The receipts of the block at `height`, in block order (none if there
    /// is no such block).
    pub fn block_receipts(&self, height: u64) -> StoreResult<Vec<Receipt>> {
        let Some(header) = self.header(height)? else {
            return Ok(Vec::new());
        };
        (0..header.tx_count)
            .map(|tx_index| {
                self.receipt_at(TxLocation { height, tx_index })?
                    .ok_or_else(|| {
                        StoreError::Inconsistent(format!(
                            "block {height} has no receipt at index {tx_index}"
                        ))
                    })
            })
            .collect()
    }

    /// The block with hash `hash`.
    pub fn block_by_hash(&self, hash: &BlockHash) -> StoreResult<Option<Block>> {
        match self.get::<u64>(schema::BLOCK_HASHES, hash.as_bytes())? {
            Some(height) => self.block(height),
            None => Ok(None),
        }
    }

    /// The stored transactions of the block at `height`, in order: one prefix
    /// iteration, reading at most `tx_count_max + 1` records.
    pub(crate) fn block_transactions(
        &self,
        height: u64,
        tx_count_max: u32,
    ) -> StoreResult<Vec<SignedTransaction>> {
        let prefix = schema::height_key(height);
        let mut transactions = Vec::new();
        for item in self.prefix_iter(schema::BLOCK_TXS, &prefix)? {
            let (_, value) = item?;
            transactions.push(decode(&value).map_err(corrupt(schema::BLOCK_TXS))?);
            // One past the header's count is enough to see that it disagrees.
            if transactions.len() > tx_count_max as usize {
                break;
            }
        }
        Ok(transactions)
    }

    /// A transaction's receipt and where it is. For an id submitted several
    /// times, the copy that burned it (or else the latest one).
    pub fn receipt(&self, id: &TxId) -> StoreResult<Option<(TxLocation, Receipt)>> {
        let Some(entry) = self.tx_index_entry(id)? else {
            return Ok(None);
        };
        let receipt = self.required(schema::RECEIPTS, &schema::location_key(entry.location))?;
        Ok(Some((entry.location, receipt)))
    }

    /// A transaction and where it is, as for [`LedgerStore::receipt`].
    pub fn transaction(&self, id: &TxId) -> StoreResult<Option<(TxLocation, SignedTransaction)>> {
        let Some(entry) = self.tx_index_entry(id)? else {
            return Ok(None);
        };
        let signed = self.required(schema::BLOCK_TXS, &schema::location_key(entry.location))?;
        Ok(Some((entry.location, signed)))
    }

    fn tx_index_entry(&self, id: &TxId) -> StoreResult<Option<TxIndexEntry>> {
        self.get(schema::TX_INDEX, id.as_bytes())
    }

    /// A stone's current state.
    pub fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>> {
        self.get(schema::STONES, &schema::stone_key(id))
    }

    /// A transfer proposal.
    pub fn proposal(&self, id: &ProposalId) -> StoreResult<Option<Proposal>> {
        self.get(schema::PROPOSALS, id.as_bytes())
    }

    /// Every event of a stone, oldest first, with its transaction and block time.
    /// Empty for an unknown stone.
    pub fn stone_history(&self, id: &StoneId) -> StoreResult<Vec<HistoryEntry>> {
        let locations = self.stone_event_locations(id)?;
        let mut history = Vec::with_capacity(locations.len());
        for location in locations {
            let header = self.header(location.height)?.ok_or_else(|| {
                StoreError::Inconsistent(format!("no header at height {}", location.height))
            })?;
            let transaction = self.required(schema::BLOCK_TXS, &schema::location_key(location))?;
            history.push(HistoryEntry {
                location,
                timestamp_ms: header.timestamp_ms,
                transaction,
            });
        }
        Ok(history)
    }

    /// Where each event of a stone is, in event order: one prefix iteration.
    pub fn stone_event_locations(&self, id: &StoneId) -> StoreResult<Vec<TxLocation>> {
        let prefix = schema::stone_key(id);
        let mut locations = Vec::new();
        for item in self.prefix_iter(schema::STONE_EVENTS, &prefix)? {
            let (key, value) = item?;
            let seq = schema::parse_stone_event_seq(&key);
            if seq != Some(locations.len() as u32) || key.len() != prefix.len() + 4 {
                return Err(StoreError::Inconsistent(format!(
                    "events of stone {id} are not numbered 0, 1, 2, ..."
                )));
            }
            locations.push(decode(&value).map_err(corrupt(schema::STONE_EVENTS))?);
        }
        Ok(locations)
    }

    /// Where each applied governance transaction is, in chain order.
    pub fn governance_locations(&self) -> StoreResult<Vec<TxLocation>> {
        let mut locations = Vec::new();
        for item in self.prefix_iter(schema::GOVERNANCE, &[])? {
            let (key, _) = item?;
            let location = schema::parse_location_key(&key).ok_or_else(|| {
                StoreError::Inconsistent("a governance key is not a location".to_owned())
            })?;
            locations.push(location);
        }
        Ok(locations)
    }

    /// The transaction leaves and receipt leaves of the block at `height`.
    pub fn block_leaves(&self, height: u64) -> StoreResult<Option<(Vec<Digest>, Vec<Digest>)>> {
        let leaves: Option<BlockLeaves> = self.get(schema::LEAVES, &schema::height_key(height))?;
        Ok(leaves.map(|leaves| {
            (
                leaves.tx_leaves.into_inner(),
                leaves.receipt_leaves.into_inner(),
            )
        }))
    }

    /// The transaction and receipt at `location`.
    pub fn transaction_at(
        &self,
        location: TxLocation,
    ) -> StoreResult<Option<(SignedTransaction, Receipt)>> {
        let key = schema::location_key(location);
        let Some(signed) = self.get(schema::BLOCK_TXS, &key)? else {
            return Ok(None);
        };
        let receipt = self.required(schema::RECEIPTS, &key)?;
        Ok(Some((signed, receipt)))
    }

    /// Where the `seq`-th event of `stone` is.
    pub(crate) fn stone_event_at(
        &self,
        stone: &StoneId,
        seq: u32,
    ) -> StoreResult<Option<TxLocation>> {
        self.get(schema::STONE_EVENTS, &schema::stone_event_key(stone, seq))
    }

    /// The receipt stored at `location`.
    pub(crate) fn receipt_at(&self, location: TxLocation) -> StoreResult<Option<Receipt>> {
        self.get(schema::RECEIPTS, &schema::location_key(location))
    }

    /// The height stored for a block hash.
    pub(crate) fn height_of(&self, hash: &BlockHash) -> StoreResult<Option<u64>> {
        self.get(schema::BLOCK_HASHES, hash.as_bytes())
    }

    /// The transaction-id index entry for `id`, as `(location, burned)`.
    pub(crate) fn indexed_location(&self, id: &TxId) -> StoreResult<Option<(TxLocation, bool)>> {
        Ok(self
            .tx_index_entry(id)?
            .map(|entry| (entry.location, entry.burned)))
    }

    fn cf(&self, name: &'static str) -> StoreResult<&ColumnFamily> {
        column(&self.db, name)
    }

    /// Reads and decodes one value.
    fn get<T: BorshSerialize + BorshDeserialize>(
        &self,
        column: &'static str,
        key: &[u8],
    ) -> StoreResult<Option<T>> {
        match self.db.get_pinned_cf(self.cf(column)?, key)? {
            Some(bytes) => decode(&bytes).map(Some).map_err(corrupt(column)),
            None => Ok(None),
        }
    }

    /// Reads a value that an index promised exists.
    fn required<T: BorshSerialize + BorshDeserialize>(
        &self,
        column: &'static str,
        key: &[u8],
    ) -> StoreResult<T> {
        self.get(column, key)?.ok_or_else(|| {
            StoreError::Inconsistent(format!("{column} has no record {}", hex::encode(key)))
        })
    }

    /// Iterates the records of `column` whose key starts with `prefix`, in key order.
    fn prefix_iter(
        &self,
        column: &'static str,
        prefix: &[u8],
    ) -> StoreResult<impl Iterator<Item = StoreResult<RawRecord>> + '_> {
        let mut read_options = ReadOptions::default();
        read_options.set_iterate_range(rocksdb::PrefixRange(prefix.to_vec()));
        let mode = IteratorMode::From(prefix, Direction::Forward);
        let iterator = self
            .db
            .iterator_cf_opt(self.cf(column)?, read_options, mode);
        Ok(iterator.map(|item| item.map_err(StoreError::from)))
    }
}

fn bounded_leaves(
    leaves: &[Digest],
) -> StoreResult<BoundedVec<Digest, { crate::model::BLOCK_TRANSACTIONS_MAX }>> {
    BoundedVec::new(leaves.to_vec())
        .map_err(|_| StoreError::Inconsistent("a block holds too many leaves".to_owned()))
}

/// Bloom filters for the columns read by key on every transaction.
///
/// Most of those reads ask for keys that do not exist (a fresh transaction id
/// is never in [`schema::TX_INDEX`]), and without a filter each one searches
/// the memtable's skip list and every level's index blocks. Profiles of the
/// benchmark showed those searches at a fifth of a node's CPU time. A memtable
/// bloom filter answers most misses without the search, and table bloom
/// filters do the same for the files on disk.
///
/// Their keys are hashes or names, so each write lands at a random place in
/// the memtable. In one skip list of a few hundred thousand keys that costs a
/// search of some twenty cache-missing levels per write: 7.6% of a node's CPU
/// at 256 clients. Hashing the whole key to one of [`MEMTABLE_BUCKETS`] small
/// skip lists makes a write or a read a bucket lookup and a few steps (2.2%
/// left, all from the other columns). These columns are only ever read by
/// key; the one thing that walks them in order, a dump, asks for total order
/// (see `dump::whole_column`), which RocksDB then builds by sorting the
/// memtable once.
fn tune_for_point_lookups(options: &mut Options) {
    // The "prefix" that picks a bucket is the whole key.
    options.set_prefix_extractor(rocksdb::SliceTransform::create_noop());
    options.set_memtable_factory(rocksdb::MemtableFactory::HashSkipList {
        bucket_count: MEMTABLE_BUCKETS,
        height: 4,
        branching_factor: 4,
    });
    options.set_memtable_prefix_bloom_ratio(0.05);
    options.set_memtable_whole_key_filtering(true);
    filter_reads_by_key(options);
}

/// Table options for a column read by whole keys: bloom filters, so a read
/// skips the files that cannot hold its key, and a hash index in each data
/// block, so the read finds its entry without a binary search.
///
/// Besides the [`tune_for_point_lookups`] columns, this is for the columns a
/// provenance proof reads most (history nodes, headers, leaves), which are
/// written in key order and keep ordinary memtables. Without filters, a
/// proof at a million stones searched the index of every file its keys'
/// ranges overlapped; they were half its build time.
fn filter_reads_by_key(options: &mut Options) {
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    table.set_whole_key_filtering(true);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_data_block_index_type(rocksdb::DataBlockIndexType::BinaryAndHash);
    table.set_data_block_hash_ratio(0.75);
    options.set_block_based_table_factory(&table);
}

/// Buckets of a point-lookup column's memtable: a 512 KiB table, against
/// memtables holding up to some hundred thousand keys.
const MEMTABLE_BUCKETS: usize = 1 << 16;

/// Makes RocksDB's background work (memtable flushes, compactions) yield to
/// the foreground, for this store and, since the thread pools belong to the
/// process-wide default environment, for the Raft log's database too.
///
/// A flush writes tens of megabytes at once. On the benchmark's two cores
/// and one disk it took CPU from applying blocks and held up the Raft log's
/// fsyncs behind its writes, and every transaction in flight waited: the
/// latency timeline at 5,000 tx/s showed 60-190 ms stalls at each snapshot
/// (a checkpoint flushes the memtables). So the background threads run at
/// the lowest CPU priority, and their writes are synced a megabyte at a time
/// rather than in one burst at the end of a file. (Lowering their I/O
/// priority does nothing under the `mq-deadline` scheduler this machine
/// uses, and under BFQ its idle class could starve flushes, so it is left.)
pub fn background_work_yields(options: &mut Options) {
    if let Ok(mut env) = rocksdb::Env::new() {
        env.lower_thread_pool_cpu_priority();
        env.lower_high_priority_thread_pool_cpu_priority();
        options.set_env(&env);
    }
    options.set_bytes_per_sync(1 << 20);
}

/// The ledger database's memtable budget, all columns together.
const LEDGER_MEMTABLES_BYTES: usize = 48 << 20;

/// The handle of column family `name` of `db`. Every column in
/// `schema::COLUMNS` is opened, so this fails only if the two lists drift
/// apart: report it rather than panic.
fn column<'a>(db: &'a DB, name: &'static str) -> StoreResult<&'a ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::Inconsistent(format!("column family {name} is not open")))
}

/// Opens the database with every column family of [`schema::COLUMNS`].
fn open_db(path: &Path, mode: OpenMode) -> StoreResult<DB> {
    let mut db_options = Options::default();
    db_options.create_if_missing(mode == OpenMode::ReadWrite);
    db_options.create_missing_column_families(mode == OpenMode::ReadWrite);
    // One budget for all twelve columns' memtables. Left per column (64 MiB
    // each, two of them), memtables grow with what a busy node writes until
    // a column fills its own, and a node's memory with them.
    db_options.set_db_write_buffer_size(LEDGER_MEMTABLES_BYTES);
    // Hashed memtables take one writer at a time, which is all the store
    // ever has (blocks are applied in order, by one applier).
    db_options.set_allow_concurrent_memtable_write(false);
    background_work_yields(&mut db_options);
    let descriptors = schema::COLUMNS.iter().map(|name| {
        let mut column_options = Options::default();
        column_options.set_compression_type(DBCompressionType::Lz4);
        if schema::POINT_LOOKUP_COLUMNS.contains(name) {
            tune_for_point_lookups(&mut column_options);
        } else if schema::PROOF_COLUMNS.contains(name) {
            filter_reads_by_key(&mut column_options);
        }
        ColumnFamilyDescriptor::new(*name, column_options)
    });
    let db = match mode {
        OpenMode::ReadWrite => DB::open_cf_descriptors(&db_options, path, descriptors)?,
        OpenMode::ReadOnly => {
            DB::open_cf_descriptors_read_only(&db_options, path, descriptors, false)?
        }
    };
    Ok(db)
}

impl LedgerView for LedgerStore {
    fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }
    fn tip(&self) -> ChainTip {
        self.tip
    }
    fn membership(&self) -> &Membership {
        &self.membership
    }
    fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>> {
        LedgerStore::stone(self, id)
    }
    fn proposal(&self, id: &ProposalId) -> StoreResult<Option<Proposal>> {
        LedgerStore::proposal(self, id)
    }
    fn contains_tx(&self, id: &TxId) -> StoreResult<bool> {
        Ok(self.tx_index_entry(id)?.is_some_and(|entry| entry.burned))
    }
    fn history(&self) -> &HistoryPeaks {
        &self.history
    }
}

impl StateNodes for LedgerStore {
    fn state_node(&self, key: &NodeKey) -> StoreResult<Option<Node>> {
        if let Some(node) = self.unwritten.get(key) {
            return Ok(Some(node.clone()));
        }
        if let Some(node) = self.state_nodes.get(key) {
            return Ok(Some(node));
        }
        let node: Option<Node> = self.get(schema::STATE_NODES, &encode(key))?;
        if let Some(node) = &node {
            self.state_nodes.offer(key, node);
        }
        Ok(node)
    }
}

impl HistorySource for LedgerStore {
    fn history_node(&self, level: u8, position: u64) -> StoreResult<Option<Digest>> {
        self.get(schema::HISTORY, &schema::history_key(level, position))
    }
}

impl ProofSource for LedgerStore {
    fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }
    fn tip_height(&self) -> u64 {
        self.tip.height
    }
    fn header(&self, height: u64) -> StoreResult<Option<BlockHeader>> {
        LedgerStore::header(self, height)
    }
    fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>> {
        LedgerStore::stone(self, id)
    }
    fn stone_event_locations(&self, id: &StoneId) -> StoreResult<Vec<TxLocation>> {
        LedgerStore::stone_event_locations(self, id)
    }
    fn governance_locations(&self) -> StoreResult<Vec<TxLocation>> {
        LedgerStore::governance_locations(self)
    }
    fn transaction_at(
        &self,
        location: TxLocation,
    ) -> StoreResult<Option<(SignedTransaction, Receipt)>> {
        LedgerStore::transaction_at(self, location)
    }
    fn block_leaves(&self, height: u64) -> StoreResult<Option<(Vec<Digest>, Vec<Digest>)>> {
        LedgerStore::block_leaves(self, height)
    }
}
