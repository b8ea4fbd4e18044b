//! The RocksDB ledger store (in progress).
