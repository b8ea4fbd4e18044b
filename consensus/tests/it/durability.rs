//! What the log store wrote is still there after the database is closed and
//! opened again.

use gemtrail_consensus::log_store::ReadLimit;
use gemtrail_consensus::types::RaftVote;
use gemtrail_consensus::RocksLogStore;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{LogState, RaftLogReader};

use crate::support::{blank, log_id, mixed_entries};

#[tokio::test]
async fn entries_vote_committed_and_purge_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let entries = mixed_entries();
    {
        let mut store = RocksLogStore::open(dir.path()).unwrap();
        store.blocking_append(entries.clone()).await.unwrap();
        store.save_vote(&RaftVote::new(2, 1)).await.unwrap();
        store.save_committed(Some(log_id(1, 1, 3))).await.unwrap();
        store.purge(log_id(1, 1, 1)).await.unwrap();
        // Dropping the last handle closes the database.
    }

    let mut store = RocksLogStore::open(dir.path()).unwrap();
    assert_eq!(store.read_vote().await.unwrap(), Some(RaftVote::new(2, 1)));
    assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 1, 3)));
    assert_eq!(
        store.get_log_state().await.unwrap(),
        LogState {
            last_purged_log_id: Some(log_id(1, 1, 1)),
            last_log_id: Some(log_id(2, 1, 4)),
        }
    );
    assert_eq!(
        store.try_get_log_entries(0..).await.unwrap(),
        entries[1..].to_vec()
    );
}

#[tokio::test]
async fn truncation_survives_reopening_and_the_log_continues_after_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = RocksLogStore::open(dir.path()).unwrap();
        store.blocking_append(mixed_entries()).await.unwrap();
        store.truncate(log_id(1, 1, 3)).await.unwrap();
    }

    let mut store = RocksLogStore::open(dir.path()).unwrap();
    let kept = store.try_get_log_entries(0..).await.unwrap();
    assert_eq!(kept, mixed_entries()[..2].to_vec());
    store.blocking_append([blank(3, 3)]).await.unwrap();
    assert_eq!(
        store.get_log_state().await.unwrap().last_log_id,
        Some(log_id(3, 1, 3))
    );
}

#[tokio::test]
async fn an_append_that_leaves_a_hole_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RocksLogStore::open(dir.path()).unwrap();
    store.blocking_append([blank(1, 1)]).await.unwrap();

    let error = store.blocking_append([blank(1, 3)]).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "when Write Logs: log is not consecutive: expected index 2, found 3"
    );
    assert_eq!(store.entry(3).unwrap(), None);
}

#[tokio::test]
async fn replication_reads_stop_at_the_entry_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RocksLogStore::open(dir.path()).unwrap();
    let limit = gemtrail_consensus::log_store::REPLICATION_ENTRIES_MAX;
    store
        .blocking_append((1..=limit + 10).map(|index| blank(1, index)))
        .await
        .unwrap();

    let batch = store.limited_get_log_entries(1, limit + 11).await.unwrap();
    assert_eq!(batch.len() as u64, limit);
    assert_eq!(batch.last().unwrap().log_id, log_id(1, 1, limit));
}

#[tokio::test]
async fn a_read_stops_at_the_byte_limit_but_returns_at_least_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RocksLogStore::open(dir.path()).unwrap();
    store.blocking_append(mixed_entries()).await.unwrap();

    let one_byte = ReadLimit {
        entries_max: 100,
        bytes_max: 1,
    };
    let entries = store.entries(2, None, one_byte).unwrap();
    assert_eq!(entries, mixed_entries()[1..2].to_vec());
}
