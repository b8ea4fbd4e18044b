//! Where a node keeps its Raft snapshots: files in one directory, never whole
//! in memory. A snapshot is a ledger dump of a size that grows with the
//! ledger; holding it in memory made a node's resident size grow with it.
//!
//! The directory holds the current snapshot (the newest built or installed),
//! files being written, and unnamed scratch files for snapshots being received.
//! Nothing in it outlives the process: snapshots are rebuilt from the ledger on
//! demand, so [`SnapshotFiles::open`] empties it. A replaced snapshot's file is
//! unlinked at once; a transfer still reading it keeps its open handle.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use openraft::SnapshotMeta;

use crate::types::{NodeInfo, RaftNodeId};

/// The current snapshot: what it covers and the file holding its bytes.
#[derive(Clone, Debug)]
pub struct CurrentSnapshot {
    /// What the snapshot covers.
    pub meta: SnapshotMeta<RaftNodeId, NodeInfo>,
    /// The file holding the dump.
    pub path: PathBuf,
}

/// The snapshot directory of one state machine.
#[derive(Debug)]
pub struct SnapshotFiles {
    dir: PathBuf,
    current: Mutex<Option<CurrentSnapshot>>,
    files_made: AtomicU64,
}

impl SnapshotFiles {
    /// Creates `dir` if needed and removes what an earlier run left in it.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            current: Mutex::new(None),
            files_made: AtomicU64::new(0),
        })
    }

    /// A number unique within this process, for snapshot ids and file names.
    pub fn next_number(&self) -> u64 {
        self.files_made.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The path for a new snapshot file numbered `number`.
    pub fn path_for(&self, number: u64) -> PathBuf {
        self.dir.join(format!("snapshot-{number}.dump"))
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

    /// Makes `snapshot` the current one and removes the file it replaces. A
    /// snapshot older than the current one is dropped instead (builds and
    /// installs can finish out of order).
    pub fn replace_current(&self, snapshot: CurrentSnapshot) -> io::Result<()> {
        let stale = {
            let mut current = self.lock();
            let older = current
                .as_ref()
                .is_some_and(|held| held.meta.last_log_id > snapshot.meta.last_log_id);
            if older {
                snapshot.path
            } else {
                match current.replace(snapshot) {
                    Some(replaced) => replaced.path,
                    None => return Ok(()),
                }
            }
        };
        match std::fs::remove_file(stale) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
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

    fn meta(index: Option<u64>) -> SnapshotMeta<RaftNodeId, NodeInfo> {
        SnapshotMeta {
            last_log_id: index
                .map(|index| openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), index)),
            last_membership: Default::default(),
            snapshot_id: format!("{index:?}"),
        }
    }

    fn snapshot_file(files: &SnapshotFiles, index: Option<u64>) -> CurrentSnapshot {
        let path = files.path_for(files.next_number());
        std::fs::write(&path, b"dump").unwrap();
        CurrentSnapshot {
            meta: meta(index),
            path,
        }
    }

    #[test]
    fn opening_empties_the_directory() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("snapshot-7.dump"), b"old").unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        assert!(files.current().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_newer_snapshot_replaces_the_file_and_an_older_one_is_dropped() {
        let dir = tempfile::TempDir::new().unwrap();
        let files = SnapshotFiles::open(dir.path()).unwrap();
        let first = snapshot_file(&files, Some(5));
        files.replace_current(first.clone()).unwrap();
        let second = snapshot_file(&files, Some(9));
        files.replace_current(second.clone()).unwrap();
        assert!(!first.path.exists());
        assert_eq!(files.current().unwrap().path, second.path);

        let stale = snapshot_file(&files, Some(7));
        files.replace_current(stale.clone()).unwrap();
        assert!(!stale.path.exists());
        assert!(second.path.exists());
        assert_eq!(
            files.current().unwrap().meta.last_log_id,
            second.meta.last_log_id
        );
    }
}
