//! Where a node keeps its Raft snapshots, and what openraft holds as a
//! snapshot's data ([`SnapshotData`], with openraft's `generic-snapshot-data`).
//!
//! A snapshot the node builds is a RocksDB checkpoint of the ledger: hard
//! links to the store's table files, made after a memtable flush. Building one
//! costs about as much as that flush, whatever the ledger's size, and holds
//! nothing in memory. Only when a lagging node needs the snapshot is the
//! checkpoint dumped, to an unnamed scratch file that the transport sends
//! chunk by chunk. A snapshot being received is such a scratch file too.
//!
//! Earlier, every build dumped the whole ledger (into memory, then into a
//! file): at benchmark load that was a 100 MB write every few seconds, and the
//! node's memory or disk traffic grew with the ledger.
//!
//! Nothing here outlives the process: snapshots are rebuilt from the ledger on
//! demand, so [`SnapshotFiles::open`] empties the directory. A checkpoint is
//! removed when the last handle to it drops, so a transfer in flight keeps
//! the checkpoint it is reading.

use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use gemtrail_ledger::store::DumpView;
use gemtrail_ledger::StoreError;
use openraft::SnapshotMeta;

use crate::types::{NodeInfo, RaftNodeId};

/// Why a snapshot's bytes could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotDataError {
    /// A snapshot file could not be created, read or written.
    #[error("snapshot file: {0}")]
    Io(#[from] io::Error),
    /// The checkpoint could not be made, opened or dumped.
    #[error("snapshot checkpoint: {0}")]
    Store(#[from] StoreError),
}

/// A snapshot's data as openraft holds it: a handle to the bytes, never the
/// bytes themselves.
#[derive(Debug)]
pub enum SnapshotData {
    /// A checkpoint of the ledger, dumped when the bytes are asked for.
    Checkpoint(Arc<CheckpointDir>),
    /// A dump in a file (a snapshot received, or a test state machine's),
    /// read from its start.
    Dump(std::fs::File),
}

impl SnapshotData {
    /// The dump, as a file positioned at its start. A checkpoint is dumped to
    /// an unnamed scratch file first. Blocking: call it off the runtime.
    pub fn into_dump_file(self) -> Result<std::fs::File, SnapshotDataError> {
        match self {
            SnapshotData::Checkpoint(checkpoint) => checkpoint.dump_file(),
            SnapshotData::Dump(mut file) => {
                file.seek(SeekFrom::Start(0))?;
                Ok(file)
            }
        }
    }
}

/// A checkpoint directory, removed when the last handle to it drops.
#[derive(Debug)]
pub struct CheckpointDir {
    path: PathBuf,
    /// Where its dumps are written.
    scratch_dir: PathBuf,
}

impl CheckpointDir {
    /// Where the checkpoint is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The applier marker the checkpoint holds.
    pub fn marker(&self) -> Result<Option<Vec<u8>>, SnapshotDataError> {
        Ok(DumpView::open_checkpoint(&self.path)?.marker()?)
    }

    /// Dumps the checkpoint to an unnamed scratch file, positioned at its start.
    pub fn dump_file(&self) -> Result<std::fs::File, SnapshotDataError> {
        let view = DumpView::open_checkpoint(&self.path)?;
        let mut file = tempfile::tempfile_in(&self.scratch_dir)?;
        view.write_to(&file)?;
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    }
}

impl Drop for CheckpointDir {
    fn drop(&mut self) {
        // Best effort: whatever is left is removed on the next start.
        let _left_for_next_start = std::fs::remove_dir_all(&self.path);
    }
}

/// The current snapshot: what it covers and the checkpoint holding it.
#[derive(Clone, Debug)]
pub struct CurrentSnapshot {
    /// What the snapshot covers.
    pub meta: SnapshotMeta<RaftNodeId, NodeInfo>,
    /// The ledger as of the snapshot.
    pub checkpoint: Arc<CheckpointDir>,
}

/// The snapshot directory of one state machine.
#[derive(Debug)]
pub struct SnapshotFiles {
    dir: PathBuf,
    current: Mutex<Option<CurrentSnapshot>>,
    made: AtomicU64,
}

impl SnapshotFiles {
    /// Creates `dir` if needed and removes what an earlier run left in it.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path)?;
            } else {
                std::fs::remove_file(path)?;
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            current: Mutex::new(None),
            made: AtomicU64::new(0),
        })
    }

    /// A number unique within this process, for snapshot ids and paths.
    pub fn next_number(&self) -> u64 {
        self.made.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Freezes the store `view` reads as checkpoint number `number`.
    pub fn checkpoint(
        &self,
        view: &DumpView,
        number: u64,
    ) -> Result<Arc<CheckpointDir>, SnapshotDataError> {
        let path = self.dir.join(format!("checkpoint-{number}"));
        view.checkpoint(&path)?;
        Ok(Arc::new(CheckpointDir {
            path,
            scratch_dir: self.dir.clone(),
        }))
    }

    /// An unnamed file in the directory (gone when closed), for a snapshot
    /// being received. It lives on the ledger's disk, not in `/tmp`, which may
    /// be memory.
    pub fn scratch_file(&self) -> io::Result<std::fs::File> {
        tempfile::tempfile_in(&self.dir)
    }

    /// The current snapshot, if any was built or installed since start.
    pub fn current(&self) -> Option<CurrentSnapshot> {
        self.lock().clone()
    }

    /// Makes `snapshot` the current one; the one it replaces goes once no
    /// transfer reads it. A snapshot older than the current one is dropped
    /// instead (builds and installs can finish out of order).
    pub fn replace_current(&self, snapshot: CurrentSnapshot) {
        let mut current = self.lock();
        let older = current
            .as_ref()
            .is_some_and(|held| held.meta.last_log_id > snapshot.meta.last_log_id);
        if !older {
            *current = Some(snapshot);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<CurrentSnapshot>> {
        // The slot is replaced whole; a panic elsewhere cannot leave it torn.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(index: u64) -> SnapshotMeta<RaftNodeId, NodeInfo> {
        SnapshotMeta {
            last_log_id: Some(openraft::LogId::new(
                openraft::CommittedLeaderId::new(1, 1),
                index,
            )),
            last_membership: Default::default(),
            snapshot_id: index.to_string(),
        }
    }

    /// A stand-in checkpoint: a directory with a file in it.
    fn checkpoint(files: &SnapshotFiles, index: u64) -> CurrentSnapshot {
        let path = files
            .dir
            .join(format!("checkpoint-{}", files.next_number()));
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("table"), b"rows").unwrap();
        CurrentSnapshot {
            meta: meta(index),
            checkpoint: Arc::new(CheckpointDir {
                path,
                scratch_dir: files.dir.clone(),
            }),
        }
    }

    #[test]
    fn opening_empties_the_directory() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("left-over"), b"old").unwrap();
        std::fs::create_dir(dir.path().join("checkpoint-7")).unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        assert!(files.current().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_replaced_checkpoint_goes_once_no_one_reads_it() {
        let dir = tempfile::TempDir::new().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        let first = checkpoint(&files, 5);
        let first_path = first.checkpoint.path().to_owned();
        files.replace_current(first);
        let in_flight = files.current().unwrap();
        files.replace_current(checkpoint(&files, 9));
        assert!(first_path.exists(), "a transfer still reads it");
        drop(in_flight);
        assert!(!first_path.exists());

        let stale = checkpoint(&files, 7);
        let stale_path = stale.checkpoint.path().to_owned();
        files.replace_current(stale);
        assert!(!stale_path.exists());
        assert_eq!(files.current().unwrap().meta.snapshot_id, "9");
    }
}
