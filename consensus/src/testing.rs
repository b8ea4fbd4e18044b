//! Test support (feature `test-utils`): an in-memory [`RaftStateMachine`] that
//! only records what openraft itself needs (the last applied log id, the last
//! membership, and a count of block proposals), so that the log store can run
//! openraft's conformance suite without the ledger.
//!
//! Start at [`MemoryStateMachine`]; [`RocksStoreBuilder`] pairs it with a
//! [`RocksLogStore`] in a fresh temporary directory for
//! `openraft::testing::Suite::test_all`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::ids::BlockHash;
use openraft::storage::RaftStateMachine;
use openraft::testing::StoreBuilder;
use openraft::{
    AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta,
    StorageIOError,
};
use tempfile::TempDir;

use gemtrail_ledger::DecodeError;

use crate::error::RecordError;
use crate::log_store::RocksLogStore;
use crate::record::{LogIdRecord, StoredMembershipRecord};
use crate::snapshot_files::{SnapshotData, SnapshotDataError};
use crate::types::{
    BlockApplied, EntryApplied, NodeInfo, RaftEntry, RaftLogId, RaftNodeId, RaftStorageError,
    RaftStoredMembership, TypeConfig,
};

/// What the test state machine holds, and what its snapshots encode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    /// The last applied log id.
    pub last_applied: Option<RaftLogId>,
    /// The last applied membership.
    pub membership: RaftStoredMembership,
    /// How many block proposals were applied.
    pub blocks_applied: u64,
}

/// The borsh form of [`MemoryState`], the bytes of a snapshot.
#[derive(BorshSerialize, BorshDeserialize)]
struct MemoryStateRecord {
    last_applied: Option<LogIdRecord>,
    membership: StoredMembershipRecord,
    blocks_applied: u64,
}

/// A snapshot of the test state machine that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes are not a canonical snapshot record.
    #[error("snapshot does not decode: {0}")]
    Decode(#[from] DecodeError),
    /// The membership inside is invalid (or too large to encode).
    #[error("snapshot membership is invalid: {0}")]
    Membership(#[from] RecordError),
}

impl MemoryState {
    fn to_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        Ok(encode(&MemoryStateRecord {
            last_applied: self.last_applied.as_ref().map(LogIdRecord::from),
            membership: StoredMembershipRecord::try_from(&self.membership)?,
            blocks_applied: self.blocks_applied,
        }))
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let record = decode::<MemoryStateRecord>(bytes)?;
        Ok(Self {
            last_applied: record.last_applied.map(RaftLogId::from),
            membership: RaftStoredMembership::try_from(record.membership)?,
            blocks_applied: record.blocks_applied,
        })
    }

    fn apply(&mut self, entry: RaftEntry) -> EntryApplied {
        self.last_applied = Some(entry.log_id);
        match entry.payload {
            EntryPayload::Blank => EntryApplied::Blank,
            EntryPayload::Normal(_proposal) => {
                self.blocks_applied += 1;
                // There is no ledger behind this double: it reports the height
                // only, with a zero hash and no receipts.
                EntryApplied::Block(BlockApplied {
                    height: self.blocks_applied,
                    hash: BlockHash::default(),
                    receipts: Vec::new(),
                })
            }
            EntryPayload::Membership(membership) => {
                self.membership = RaftStoredMembership::new(Some(entry.log_id), membership);
                EntryApplied::Membership
            }
        }
    }
}

/// Snapshot data holding the dump `bytes`, in an unnamed temporary file.
pub fn dump_holding(bytes: &[u8]) -> std::io::Result<SnapshotData> {
    let mut file = tempfile::tempfile()?;
    file.write_all(bytes)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(SnapshotData::Dump(file))
}

/// The bytes of a snapshot's dump (a checkpoint is dumped first). Blocking.
pub fn dump_bytes(data: SnapshotData) -> Result<Vec<u8>, SnapshotDataError> {
    let mut bytes = Vec::new();
    data.into_dump_file()?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn snapshot_file_error(error: std::io::Error) -> RaftStorageError {
    StorageIOError::write_snapshot(None, AnyError::new(&error)).into()
}

/// A snapshot held in memory: its metadata and its bytes.
#[derive(Clone, Debug)]
struct StoredSnapshot {
    meta: SnapshotMeta<RaftNodeId, NodeInfo>,
    bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct Shared {
    state: MemoryState,
    current_snapshot: Option<StoredSnapshot>,
    snapshots_built: u64,
}

/// An in-memory state machine for tests. Clones share their state, so a clone
/// serves as the snapshot builder.
#[derive(Clone, Debug, Default)]
pub struct MemoryStateMachine {
    shared: Arc<Mutex<Shared>>,
}

impl MemoryStateMachine {
    /// An empty state machine.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of its current state.
    pub fn state(&self) -> MemoryState {
        self.lock().state.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock can only come from a failing test; the
        // state itself is always consistent between statements.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for MemoryStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, RaftStorageError> {
        let mut shared = self.lock();
        shared.snapshots_built += 1;
        let bytes = shared
            .state
            .to_bytes()
            .map_err(|error| StorageIOError::write_snapshot(None, AnyError::new(&error)))?;
        let last_applied = shared.state.last_applied;
        let snapshot_id = match last_applied {
            Some(log_id) => format!(
                "{}-{}-{}-{}",
                log_id.leader_id.term,
                log_id.leader_id.node_id,
                log_id.index,
                shared.snapshots_built
            ),
            None => format!("empty-{}", shared.snapshots_built),
        };
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: shared.state.membership.clone(),
            snapshot_id,
        };
        shared.current_snapshot = Some(StoredSnapshot {
            meta: meta.clone(),
            bytes: bytes.clone(),
        });
        drop(shared);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(dump_holding(&bytes).map_err(snapshot_file_error)?),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemoryStateMachine {
    type SnapshotBuilder = MemoryStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<RaftLogId>, RaftStoredMembership), RaftStorageError> {
        let shared = self.lock();
        Ok((shared.state.last_applied, shared.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<EntryApplied>, RaftStorageError>
    where
        I: IntoIterator<Item = RaftEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut shared = self.lock();
        Ok(entries
            .into_iter()
            .map(|entry| shared.state.apply(entry))
            .collect())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotData>, RaftStorageError> {
        Ok(Box::new(dump_holding(&[]).map_err(snapshot_file_error)?))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<RaftNodeId, NodeInfo>,
        snapshot: Box<SnapshotData>,
    ) -> Result<(), RaftStorageError> {
        let bytes = dump_bytes(*snapshot).map_err(|error| {
            StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&error))
        })?;
        let state = MemoryState::from_bytes(&bytes).map_err(|error| {
            StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&error))
        })?;
        let mut shared = self.lock();
        shared.state = state;
        shared.current_snapshot = Some(StoredSnapshot {
            meta: meta.clone(),
            bytes,
        });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, RaftStorageError> {
        let Some(stored) = self.lock().current_snapshot.clone() else {
            return Ok(None);
        };
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(dump_holding(&stored.bytes).map_err(snapshot_file_error)?),
        }))
    }
}

/// Builds a [`RocksLogStore`] in a fresh temporary directory (removed when the
/// guard drops) and an empty [`MemoryStateMachine`], for openraft's suite.
#[derive(Clone, Copy, Debug, Default)]
pub struct RocksStoreBuilder;

impl StoreBuilder<TypeConfig, RocksLogStore, MemoryStateMachine, TempDir> for RocksStoreBuilder {
    async fn build(
        &self,
    ) -> Result<(TempDir, RocksLogStore, MemoryStateMachine), RaftStorageError> {
        let dir = TempDir::new().map_err(|error| StorageIOError::write(AnyError::new(&error)))?;
        let store = RocksLogStore::open(dir.path())
            .map_err(|error| StorageIOError::write(AnyError::new(&error)))?;
        Ok((dir, store, MemoryStateMachine::new()))
    }
}
