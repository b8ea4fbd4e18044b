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
//! **Snapshots** are whole-ledger dumps ([`DumpView::write_to`]) read from one
//! RocksDB snapshot, so the dump and the marker naming its last entry agree,
//! while applying goes on: the store is not held during the dump. They are
//! written to files ([`SnapshotFiles`]), never held whole in memory. Installing
//! one replaces the ledger and records the snapshot's log id and membership as
//! the marker, in one atomic batch ([`LedgerStore::import_dump_from`]).
//!
//! RocksDB work runs on tokio's blocking pool so the runtime's workers are not
//! stalled. Every failure is a fatal [`StateMachineError`], reported to openraft
//! as a `StorageError`.

use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::state::GenesisState;
use gemtrail_ledger::store::{DumpView, LedgerStore, StoreOptions};
use gemtrail_ledger::{DecodeError, StoreError};
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageIOError,
};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::broadcast;

use crate::error::RecordError;
use crate::record::{LogIdRecord, StoredMembershipRecord};
use crate::snapshot_files::{CurrentSnapshot, SnapshotFiles};
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
    /// A snapshot file could not be created, read or written.
    #[error("snapshot file failed to {operation}: {reason}")]
    SnapshotFile {
        /// What the state machine was doing.
        operation: &'static str,
        /// The I/O error.
        reason: String,
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

fn snapshot_io(operation: &'static str) -> impl FnOnce(std::io::Error) -> StateMachineError {
    move |error| StateMachineError::SnapshotFile {
        operation,
        reason: error.to_string(),
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
            SnapshotFiles::open(snapshot_dir).map_err(snapshot_io("prepare its directory"))?;
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

    /// Dumps the ledger into a new snapshot file on the blocking pool, and
    /// says what the dump covers. The store is held only to take the view.
    async fn dump_to_file(&self) -> Result<CurrentSnapshot, StateMachineError> {
        let view = self.read(LedgerStore::dump_view);
        let snapshots = Arc::clone(&self.snapshots);
        tokio::task::spawn_blocking(move || write_snapshot(&view, &snapshots))
            .await
            .map_err(task_failed)?
    }

    /// Replaces the ledger with the dump in `file`, recording `marker`, and
    /// keeps a copy of the dump as the current snapshot, on the blocking pool.
    async fn replace(
        &self,
        file: std::fs::File,
        marker: Vec<u8>,
    ) -> Result<PathBuf, StateMachineError> {
        let store = Arc::clone(&self.store);
        let snapshots = Arc::clone(&self.snapshots);
        tokio::task::spawn_blocking(move || {
            let len = file
                .metadata()
                .map_err(snapshot_io("read a received snapshot"))?
                .len();
            lock(&store)
                .import_dump_from(&file, len, &marker)
                .map_err(store_error("install a snapshot"))?;
            // Kept to send on, should this node lead before its next build.
            let path = snapshots.path_for(snapshots.next_number());
            let mut copy =
                std::fs::File::create(&path).map_err(snapshot_io("create a snapshot file"))?;
            let mut source = &file;
            source
                .seek(SeekFrom::Start(0))
                .and_then(|_| std::io::copy(&mut source, &mut copy))
                .map_err(snapshot_io("copy a received snapshot"))?;
            Ok(path)
        })
        .await
        .map_err(task_failed)?
    }
}

/// Writes a dump of `view` to a new file of `snapshots`, naming the snapshot
/// after the last entry the dump covers.
fn write_snapshot(
    view: &DumpView,
    snapshots: &SnapshotFiles,
) -> Result<CurrentSnapshot, StateMachineError> {
    let number = snapshots.next_number();
    let path = snapshots.path_for(number);
    // Not synced: snapshot files do not outlive the process.
    let file = std::fs::File::create(&path).map_err(snapshot_io("create a snapshot file"))?;
    let written = view
        .write_to(&file)
        .map_err(store_error("dump the ledger"))?;
    let marker = match written.marker {
        Some(bytes) => AppliedMarker::from_bytes(&bytes)?,
        None => AppliedMarker::default(),
    };
    let snapshot_id = match marker.last_applied {
        Some(log_id) => format!(
            "{}-{}-{}-{number}",
            log_id.leader_id.term, log_id.leader_id.node_id, log_id.index
        ),
        None => format!("empty-{number}"),
    };
    Ok(CurrentSnapshot {
        meta: SnapshotMeta {
            last_log_id: marker.last_applied,
            last_membership: marker.membership,
            snapshot_id,
        },
        path,
    })
}

/// Opens a snapshot file for openraft to read.
async fn open_snapshot(path: &Path) -> Result<tokio::fs::File, StateMachineError> {
    tokio::fs::File::open(path)
        .await
        .map_err(snapshot_io("open a snapshot file"))
}

fn task_failed(error: tokio::task::JoinError) -> StateMachineError {
    StateMachineError::Task {
        reason: error.to_string(),
    }
}

fn lock<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every store write is one atomic RocksDB batch followed by in-memory
    // updates that cannot fail, and a snapshot slot is replaced whole, so a
    // panic elsewhere never leaves either half-changed.
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
    /// A dump of the whole ledger as of the last applied entry, written to a
    /// file that becomes the current snapshot.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, RaftStorageError> {
        let write_error = |error: StateMachineError| {
            StorageIOError::write_snapshot(None, AnyError::error(error.to_string()))
        };
        let built = self.dump_to_file().await.map_err(write_error)?;
        let file = open_snapshot(&built.path).await.map_err(write_error)?;
        let meta = built.meta.clone();
        self.snapshots
            .replace_current(built)
            .map_err(|error| write_error(snapshot_io("remove a replaced snapshot")(error)))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
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
    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, RaftStorageError> {
        let file = self.snapshots.scratch_file().map_err(|error| {
            StorageIOError::write_snapshot(None, AnyError::error(error.to_string()))
        })?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<RaftNodeId, NodeInfo>,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), RaftStorageError> {
        let read_error = |error: StateMachineError| {
            StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::error(error.to_string()),
            )
        };
        let marker = AppliedMarker {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        }
        .to_bytes()
        .map_err(read_error)?;
        let mut file = *snapshot;
        file.flush()
            .await
            .map_err(|error| read_error(snapshot_io("finish a received snapshot")(error)))?;
        file.seek(SeekFrom::Start(0))
            .await
            .map_err(|error| read_error(snapshot_io("rewind a received snapshot")(error)))?;
        let path = self
            .replace(file.into_std().await, marker)
            .await
            .map_err(read_error)?;
        self.snapshots
            .replace_current(CurrentSnapshot {
                meta: meta.clone(),
                path,
            })
            .map_err(|error| read_error(snapshot_io("remove a replaced snapshot")(error)))?;
        let height = self.read(|store| store.tip().height);
        let _no_subscribers = self.feed.send(LedgerEvent::SnapshotInstalled { height });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, RaftStorageError> {
        let Some(current) = self.snapshots.current() else {
            return Ok(None);
        };
        let file = open_snapshot(&current.path).await.map_err(|error| {
            StorageIOError::read_snapshot(
                Some(current.meta.signature()),
                AnyError::error(error.to_string()),
            )
        })?;
        Ok(Some(Snapshot {
            meta: current.meta,
            snapshot: Box::new(file),
        }))
    }
}
