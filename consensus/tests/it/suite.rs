//! openraft's own conformance suite, run against the RocksDB log store.

use gemtrail_consensus::testing::RocksStoreBuilder;
use openraft::testing::Suite;

#[test]
fn rocks_log_store_passes_openraft_conformance_suite() {
    // The suite makes its own tokio runtimes, so this is a plain test.
    Suite::test_all(RocksStoreBuilder).unwrap();
}
