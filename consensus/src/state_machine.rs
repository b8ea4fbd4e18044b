//! The openraft state machine (storage v2) over the RocksDB ledger store:
//! committed block proposals become blocks.
//!
//! Start at [`LedgerStateMachine`]. Each committed entry is applied in log
//! order: a block proposal builds the next block through
//! [`LedgerStore::apply_with_marker`]; blank and membership entries build none.
//!
//! **Crash safety:** the last applied log id and the last membership, as an
//! [`AppliedMarker`], are the ledger store's opaque applier marker, written in
//! the same atomic batch as each block. So the ledger and the marker never
//! disagree: after a crash [`RaftStateMachine::applied_state`] names exactly the
//! last entry whose block is stored, and openraft re-applies from the next one
//! (no entry applied twice, none lost). Blank and membership entries change no
//! ledger state, so their marker is written once, at the end of the batch or
//! with the next block, whichever comes first.
//!
//! **Snapshots** are RocksDB checkpoints of the ledger ([`SnapshotFiles`]),
//! made while applying goes on: the store is held only to take a handle. The
//! snapshot's metadata is read from the checkpoint's own applier marker, so the
//! two agree. A checkpoint is dumped ([`DumpView::write_to`]) only when a
//! lagging node needs it. Installing a dump replaces the ledger and records the
//! snapshot's log id and membership as the marker, in one atomic batch
//! ([`LedgerStore::import_dump_from`]).
//!
//! RocksDB work runs on tokio's blocking pool so the runtime's workers are not
//! stalled. Every failure is a fatal [`StateMachineError`], reported to openraft
//! as a `StorageError`.
//!
//! [`DumpView::write_to`]: gemtrail_ledger::store::DumpView::write_to

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::state::GenesisState;
use gemtrail_ledger::store::{LedgerStore, StoreOptions};
use gemtrail_ledger::{DecodeError, StoreError};
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageIOError,
};
use tokio::sync::broadcast;

use crate::error::RecordError;
use crate::record::{LogIdRecord, StoredMembershipRecord};
use crate::snapshot_files::{CurrentSnapshot, SnapshotData, SnapshotDataError, SnapshotFiles};
use crate::types::{
    BlockApplied, EntryApplied, NodeInfo, RaftEntry, RaftLogId, RaftNodeId, RaftStorageError,
    RaftStoredMembership, TypeConfig,
};

/// A failure of the state machine. Fatal: the node must stop.
#[derive(Debug, thiserror::Error)]
pub enum StateMachineError {
    /// The ledger store failed.
    #[error("ledger store failed to {operation}: {source}")]
    Store {
        /// What the state machine was doing.
        operation: &'static str,
        /// The store's error.
        source: StoreError,
    },
    /// The stored applier marker is not the canonical encoding of an [`AppliedMarker`].
    #[error("stored applied marker does not decode: {source}")]
    MarkerDecode {
        /// What the decoder found.
        source: DecodeError,
    },
    /// The stored marker decodes but its membership is invalid.
    #[error("stored applied marker is invalid: {source}")]
    MarkerInvalid {
        /// What is wrong with it.
        source: RecordError,
    },
    /// A membership to be recorded cannot be encoded (too many nodes).
    #[error("membership of log entry {index} cannot be recorded: {source}")]
    Membership {
        /// The entry's log index.
        index: u64,
        /// Why.
        source: RecordError,
    },
    /// A snapshot could not be made, read or written.
    #[error("snapshot failed to {operation}: {source}")]
    Snapshot {
        /// What the state machine was doing.
        operation: &'static str,
        /// What failed.
        source: SnapshotDataError,
    },
    /// Raft handed over an entry that does not follow the last applied one:
    /// applying it would skip or repeat blocks.
    #[error("log entry {got} is not the next to apply: expected log index {expected}")]
    OutOfOrder {
        /// The index after the last applied entry.
        expected: u64,
        /// The entry's index.
        got: u64,
    },
    /// The blocking task that did the ledger work did not finish.
    #[error("the ledger task failed: {reason}")]
    Task {
        /// Why (panic or cancellation).
        reason: String,
    },
}

/// How far the state machine has applied the Raft log: the ledger store's
/// applier marker, stored with each block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppliedMarker {
    /// The last applied log id (none before the first entry).
    pub last_applied: Option<RaftLogId>,
    /// The last applied membership.
    pub membership: RaftStoredMembership,
}

/// The borsh form of [`AppliedMarker`].
#[derive(BorshSerialize, BorshDeserialize)]
struct AppliedMarkerRecord {
    last_applied: Option<LogIdRecord>,
    membership: StoredMembershipRecord,
}

impl AppliedMarker {
    /// The canonical encoding; fails only for a membership too large to store.
    fn to_bytes(&self) -> Result<Vec<u8>, StateMachineError> {
        let membership = StoredMembershipRecord::try_from(&self.membership).map_err(|source| {
            StateMachineError::Membership {
                index: self.last_applied.map_or(0, |log_id| log_id.index),
                source,
            }
        })?;
        Ok(encode(&AppliedMarkerRecord {
            last_applied: self.last_applied.as_ref().map(LogIdRecord::from),
            membership,
        }))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, StateMachineError> {
        let record = decode::<AppliedMarkerRecord>(bytes)
            .map_err(|source| StateMachineError::MarkerDecode { source })?;
        Ok(Self {
            last_applied: record.last_applied.map(RaftLogId::from),
            membership: RaftStoredMembership::try_from(record.membership)
                .map_err(|source| StateMachineError::MarkerInvalid { source })?,
        })
    }
}

fn store_error(operation: &'static str) -> impl FnOnce(StoreError) -> StateMachineError {
    move |source| StateMachineError::Store { operation, source }
}

fn snapshot_error<E: Into<SnapshotDataError>>(
    operation: &'static str,
) -> impl FnOnce(E) -> StateMachineError {
    move |error| StateMachineError::Snapshot {
        operation,
        source: error.into(),
    }
}

/// How many applied-ledger events a slow subscriber may fall behind before it
/// is told it lagged (and must re-read the store).
pub const APPLIED_FEED_CAPACITY: usize = 1024;

/// What changed the ledger, as told to the subscribers of
/// [`LedgerStateMachine::subscribe`].
#[derive(Clone, Debug)]
pub enum LedgerEvent {
    /// A committed block proposal built this block.
    Block(Arc<BlockApplied>),
    /// A snapshot replaced the whole ledger (up to this height).
    SnapshotInstalled {
        /// The tip height after the install.
        height: u64,
    },
}

/// The Raft state machine over the ledger store. Clones share the store and
/// the snapshot files, so a clone serves as the snapshot builder and as the
/// node's read handle.
#[derive(Clone, Debug)]
pub struct LedgerStateMachine {
    store: Arc<Mutex<LedgerStore>>,
    snapshots: Arc<SnapshotFiles>,
    /// Every block applied and every snapshot installed, for the node's
    /// commit waiters and metrics. Sending never blocks: a subscriber that
    /// falls [`APPLIED_FEED_CAPACITY`] events behind is told it lagged.
    feed: broadcast::Sender<LedgerEvent>,
}

impl LedgerStateMachine {
    /// Opens (or creates) the ledger store in `path` for `genesis`, keeping
    /// snapshot files in `snapshot_dir` (emptied now: see [`SnapshotFiles`]).
    pub fn open(
        path: &Path,
        snapshot_dir: &Path,
        genesis: &GenesisState,
        options: StoreOptions,
    ) -> Result<Self, StateMachineError> {
        let store = LedgerStore::open_with(path, genesis, options)
            .map_err(store_error("open the ledger"))?;
        let snapshots =
            SnapshotFiles::open(snapshot_dir).map_err(snapshot_error("prepare its directory"))?;
        let (feed, _) = broadcast::channel(APPLIED_FEED_CAPACITY);
        Ok(Self {
            store: Arc::new(Mutex::new(store)),
            snapshots: Arc::new(snapshots),
            feed,
        })
    }

    /// Subscribes to the blocks applied and snapshots installed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LedgerEvent> {
        self.feed.subscribe()
    }

    /// Tells subscribers, if any, what was applied. Having none is normal.
    fn publish(&self, responses: &[EntryApplied]) {
        for response in responses {
            if let EntryApplied::Block(block) = response {
                let _no_subscribers = self.feed.send(LedgerEvent::Block(Arc::new(block.clone())));
            }
        }
    }

    /// Runs `read` on the ledger store (for queries). It holds the store's lock,
    /// so keep it short.
    pub fn read<T>(&self, read: impl FnOnce(&LedgerStore) -> T) -> T {
        read(&lock(&self.store))
    }

    /// The applied marker stored in the ledger (the default before any entry).
    pub fn applied_marker(&self) -> Result<AppliedMarker, StateMachineError> {
        read_marker(&lock(&self.store))
    }

    /// Applies `entries` in order on the blocking pool.
    async fn apply_entries(
        &self,
        entries: Vec<RaftEntry>,
    ) -> Result<Vec<EntryApplied>, StateMachineError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || apply_all(&mut lock(&store), entries))
            .await
            .map_err(task_failed)?
    }

    /// Freezes the ledger as a checkpoint on the blocking pool, and says what
    /// it covers. The store is held only to take the view.
    async fn checkpoint(&self) -> Result<CurrentSnapshot, StateMachineError> {
        let view = self.read(LedgerStore::dump_view);
        let snapshots = Arc::clone(&self.snapshots);
        tokio::task::spawn_blocking(move || {
            let number = snapshots.next_number();
            let checkpoint = snapshots
                .checkpoint(&view, number)
                .map_err(snapshot_error("make a checkpoint"))?;
            let marker = match checkpoint
                .marker()
                .map_err(snapshot_error("read a checkpoint"))?
            {
                Some(bytes) => AppliedMarker::from_bytes(&bytes)?,
                None => AppliedMarker::default(),
            };
            Ok(CurrentSnapshot {
                meta: snapshot_meta(marker, number),
                checkpoint,
            })
        })
        .await
        .map_err(task_failed)?
    }

    /// Replaces the ledger with the dump `data` holds, recording `meta` as the
    /// marker, and checkpoints the result as the current snapshot (to send on,
    /// should this node lead), on the blocking pool.
    async fn replace(
        &self,
        data: SnapshotData,
        meta: SnapshotMeta<RaftNodeId, NodeInfo>,
    ) -> Result<CurrentSnapshot, StateMachineError> {
        let marker = AppliedMarker {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        }
        .to_bytes()?;
        let store = Arc::clone(&self.store);
        let snapshots = Arc::clone(&self.snapshots);
        tokio::task::spawn_blocking(move || {
            let file = data
                .into_dump_file()
                .map_err(snapshot_error("read a received snapshot"))?;
            let len = file
                .metadata()
                .map_err(snapshot_error("read a received snapshot"))?
                .len();
            let mut store = lock(&store);
            store
                .import_dump_from(&file, len, &marker)
                .map_err(store_error("install a snapshot"))?;
            // Still under the lock, so the checkpoint holds exactly the dump.
            let checkpoint = snapshots
                .checkpoint(&store.dump_view(), snapshots.next_number())
                .map_err(snapshot_error("make a checkpoint"))?;
            Ok(CurrentSnapshot { meta, checkpoint })
        })
        .await
        .map_err(task_failed)?
    }

    /// An unnamed file beside the snapshots, on the ledger's disk, to receive
    /// a snapshot into.
    pub fn scratch_file(&self) -> std::io::Result<std::fs::File> {
        self.snapshots.scratch_file()
    }
}

/// The metadata of snapshot number `number`, which holds the ledger as of
/// `marker`.
fn snapshot_meta(marker: AppliedMarker, number: u64) -> SnapshotMeta<RaftNodeId, NodeInfo> {
    let snapshot_id = match marker.last_applied {
        Some(log_id) => format!(
            "{}-{}-{}-{number}",
            log_id.leader_id.term, log_id.leader_id.node_id, log_id.index
        ),
        None => format!("empty-{number}"),
    };
    SnapshotMeta {
        last_log_id: marker.last_applied,
        last_membership: marker.membership,
        snapshot_id,
    }
}

fn task_failed(error: tokio::task::JoinError) -> StateMachineError {
    StateMachineError::Task {
        reason: error.to_string(),
    }
}

fn lock<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every store write is one atomic RocksDB batch followed by in-memory
    // updates that cannot fail, so a panic elsewhere never leaves the store
    // half-changed.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_marker(store: &LedgerStore) -> Result<AppliedMarker, StateMachineError> {
    match store
        .marker()
        .map_err(store_error("read the applied marker"))?
    {
        Some(bytes) => AppliedMarker::from_bytes(&bytes),
        None => Ok(AppliedMarker::default()),
    }
}

/// Applies `entries` in order. A block and the marker naming its entry are one
/// batch; the marker of trailing blank or membership entries is written last.
fn apply_all(
    store: &mut LedgerStore,
    entries: Vec<RaftEntry>,
) -> Result<Vec<EntryApplied>, StateMachineError> {
    let mut marker = read_marker(store)?;
    let mut marker_pending = false;
    let mut responses = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Some(last) = marker.last_applied {
            let expected = last.index + 1;
            if entry.log_id.index != expected {
                return Err(StateMachineError::OutOfOrder {
                    expected,
                    got: entry.log_id.index,
                });
            }
        }
        marker.last_applied = Some(entry.log_id);
        let response = match entry.payload {
            EntryPayload::Blank => {
                marker_pending = true;
                EntryApplied::Blank
            }
            EntryPayload::Membership(membership) => {
                marker.membership = RaftStoredMembership::new(Some(entry.log_id), membership);
                marker_pending = true;
                EntryApplied::Membership
            }
            EntryPayload::Normal(proposal) => {
                let applied = store
                    .apply_with_marker(proposal, &marker.to_bytes()?)
                    .map_err(store_error("apply a block"))?;
                marker_pending = false;
                EntryApplied::Block(BlockApplied {
                    height: applied.block.header.height,
                    hash: applied.hash,
                    receipts: applied.receipts,
                })
            }
        };
        responses.push(response);
    }
    if marker_pending {
        store
            .put_marker(&marker.to_bytes()?)
            .map_err(store_error("store the applied marker"))?;
    }
    Ok(responses)
}

/// Reports a state-machine error to openraft, which stops the node on it. Our
/// messages include their causes, so the message alone is passed on.
fn fatal(error: StateMachineError) -> RaftStorageError {
    StorageIOError::write_state_machine(AnyError::error(error.to_string())).into()
}

impl RaftSnapshotBuilder<TypeConfig> for LedgerStateMachine {
    /// A checkpoint of the whole ledger as of the last applied entry, which
    /// becomes the current snapshot.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, RaftStorageError> {
        let built = self.checkpoint().await.map_err(|error| {
            StorageIOError::write_snapshot(None, AnyError::error(error.to_string()))
        })?;
        let snapshot = Snapshot {
            meta: built.meta.clone(),
            snapshot: Box::new(SnapshotData::Checkpoint(Arc::clone(&built.checkpoint))),
        };
        self.snapshots.replace_current(built);
        Ok(snapshot)
    }
}

impl RaftStateMachine<TypeConfig> for LedgerStateMachine {
    type SnapshotBuilder = LedgerStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<RaftLogId>, RaftStoredMembership), RaftStorageError> {
        let marker = self.applied_marker().map_err(|error| {
            StorageIOError::read_state_machine(AnyError::error(error.to_string()))
        })?;
        Ok((marker.last_applied, marker.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<EntryApplied>, RaftStorageError>
    where
        I: IntoIterator<Item = RaftEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries = entries.into_iter().collect::<Vec<_>>();
        let responses = self.apply_entries(entries).await.map_err(fatal)?;
        self.publish(&responses);
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    /// An unnamed file beside the snapshots, on the ledger's disk.
    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotData>, RaftStorageError> {
        let file = self.snapshots.scratch_file().map_err(|error| {
            StorageIOError::write_snapshot(None, AnyError::error(error.to_string()))
        })?;
        Ok(Box::new(SnapshotData::Dump(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<RaftNodeId, NodeInfo>,
        snapshot: Box<SnapshotData>,
    ) -> Result<(), RaftStorageError> {
        let installed = self
            .replace(*snapshot, meta.clone())
            .await
            .map_err(|error| {
                StorageIOError::read_snapshot(
                    Some(meta.signature()),
                    AnyError::error(error.to_string()),
                )
            })?;
        self.snapshots.replace_current(installed);
        let height = self.read(|store| store.tip().height);
        let _no_subscribers = self.feed.send(LedgerEvent::SnapshotInstalled { height });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, RaftStorageError> {
        Ok(self.snapshots.current().map(|current| Snapshot {
            meta: current.meta,
            snapshot: Box::new(SnapshotData::Checkpoint(current.checkpoint)),
        }))
    }
}
