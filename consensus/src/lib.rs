//! # gemtrail-consensus
//!
//! The openraft integration of gemtrail. Raft orders block proposals: one Raft
//! entry is one [`gemtrail_ledger::model::BlockProposal`], a batch of signed
//! transactions plus the leader's timestamp, and applying it builds the block.
//!
//! Start reading at [`types::TypeConfig`] (what openraft is instantiated with),
//! then [`log_store::RocksLogStore`], the RocksDB Raft log store (storage v2),
//! [`record`], the canonical borsh mirrors of the openraft values it stores,
//! [`state_machine::LedgerStateMachine`], which applies each committed entry
//! through the ledger's pure state machine and store and keeps its snapshots as
//! RocksDB checkpoints ([`snapshot_files`]), and [`network`], the
//! transport-agnostic contract that the libp2p transport (in `node`) and the
//! in-memory test network (`memory_network`, feature `test-utils`, with
//! drops, delays and partitions) both implement.
//!
//! **Architecture invariants:** the Raft log store opens its own RocksDB, and
//! every vote, append, truncation and purge is synced to disk before openraft
//! is told it happened (the committed id, which openraft only takes as a hint,
//! is written unsynced). Everything stored is the canonical borsh
//! encoding of a bounded record; openraft's serde types are never stored.
//! A committed block and the marker naming its Raft entry are written in one
//! atomic batch, so the applied state after a crash is exactly what the ledger
//! holds. This crate does no network I/O of its own.

// A dependency no code uses is caught here (tests and benches, which see
// every dev-dependency, are left out).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod error;
pub mod log_store;
#[cfg(feature = "test-utils")]
pub mod memory_network;
pub mod network;
pub mod record;
pub mod snapshot_files;
pub mod state_machine;
#[cfg(feature = "test-utils")]
pub mod testing;
pub mod types;

pub use error::{LogStoreError, LogStoreResult, NodeInfoError, RecordError, StoredRecord};
pub use log_store::RocksLogStore;
pub use state_machine::{AppliedMarker, LedgerEvent, LedgerStateMachine, StateMachineError};
pub use types::{BlockApplied, EntryApplied, NodeInfo, TypeConfig};
