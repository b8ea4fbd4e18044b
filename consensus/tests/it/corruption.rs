//! Stored bytes that are damaged give a clear error naming the record, never a
//! panic.

use gemtrail_consensus::log_store::{LOGS_CF, META_CF};
use gemtrail_consensus::record::{EntryRecord, LogIdRecord, PayloadRecord};
use gemtrail_consensus::{LogStoreError, RocksLogStore, StoredRecord};
use gemtrail_ledger::codec::encode;
use gemtrail_ledger::DecodeError;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::RaftLogReader;

use crate::support::mixed_entries;

async fn store_with_entries() -> (tempfile::TempDir, RocksLogStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RocksLogStore::open(dir.path()).unwrap();
    store.blocking_append(mixed_entries()).await.unwrap();
    (dir, store)
}

fn overwrite(store: &RocksLogStore, column_family: &str, key: &[u8], value: &[u8]) {
    let handle = store.db().cf_handle(column_family).unwrap();
    store.db().put_cf(handle, key, value).unwrap();
}

#[tokio::test]
async fn a_corrupted_entry_is_a_decode_error_naming_its_index() {
    let (_dir, mut store) = store_with_entries().await;
    overwrite(&store, LOGS_CF, &3u64.to_be_bytes(), &[0x07, 0xff, 0x00]);

    let error = store.entry(3).unwrap_err();
    assert!(
        matches!(
            &error,
            LogStoreError::Decode {
                record: StoredRecord::Entry { index: 3 },
                source: DecodeError::Malformed { .. },
            }
        ),
        "{error:?}"
    );

    // openraft receives it as a storage error, which stops the node.
    let error = store.try_get_log_entries(1..5).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "when Read Logs: stored log entry 3 does not decode: \
         malformed encoding: Unexpected length of input"
    );
    // The entries before the damage still read.
    assert_eq!(
        store.try_get_log_entries(1..3).await.unwrap(),
        mixed_entries()[..2].to_vec()
    );
}

#[tokio::test]
async fn an_entry_with_trailing_bytes_is_refused() {
    let (_dir, store) = store_with_entries().await;
    let mut bytes = encode(&EntryRecord {
        log_id: LogIdRecord {
            term: 1,
            leader_node_id: 1,
            index: 2,
        },
        payload: PayloadRecord::Blank,
    });
    bytes.push(0);
    overwrite(&store, LOGS_CF, &2u64.to_be_bytes(), &bytes);

    assert_eq!(
        store.entry(2).unwrap_err().to_string(),
        "stored log entry 2 does not decode: \
         malformed encoding: Not all bytes read"
    );
}

#[tokio::test]
async fn an_entry_stored_under_another_index_is_refused() {
    let (_dir, store) = store_with_entries().await;
    let moved = encode(&EntryRecord {
        log_id: LogIdRecord {
            term: 1,
            leader_node_id: 1,
            index: 9,
        },
        payload: PayloadRecord::Blank,
    });
    overwrite(&store, LOGS_CF, &2u64.to_be_bytes(), &moved);

    let error = store.entry(2).unwrap_err();
    assert!(
        matches!(
            error,
            LogStoreError::IndexMismatch {
                key_index: 2,
                entry_index: 9
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_corrupted_vote_is_a_decode_error() {
    let (_dir, mut store) = store_with_entries().await;
    overwrite(&store, META_CF, b"vote", &[1, 2, 3]);

    let error = store.vote().unwrap_err();
    assert!(
        matches!(
            &error,
            LogStoreError::Decode {
                record: StoredRecord::Vote,
                source: DecodeError::Malformed { .. },
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        store.read_vote().await.unwrap_err().to_string(),
        "when Read Vote: stored vote does not decode: \
         malformed encoding: Unexpected length of input"
    );
}

#[test]
fn a_database_without_the_log_column_families_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = rocksdb::DB::open_default(dir.path()).unwrap();
    let error = RocksLogStore::with_db(std::sync::Arc::new(db)).unwrap_err();
    assert!(
        matches!(error, LogStoreError::MissingColumnFamily { name: "logs" }),
        "{error:?}"
    );
}
