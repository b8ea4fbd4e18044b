//! # gemtrail-ledger
//!
//! The deterministic, verifiable heart of gemtrail: the data model of stones and
//! custody ([`model`]), one canonical encoding ([`codec`]), signatures
//! ([`crypto`], checked in batches by [`signature_batch`]), the transaction
//! rules ([`rules`]) and the pure block state machine ([`machine`]), merkle trees ([`merkle`]), the state tree that commits to every stone's
//! present ([`state_tree`]), the RocksDB ledger store ([`store`]),
//! and provenance proofs that verify offline against the genesis ([`proof`]),
//! with the node-signed checkpoints that certify a tip ([`certificate`]).
//!
//! Start reading at [`machine::apply_block`]: it takes a state and a block
//! proposal and returns the block, its receipts and the state changes.
//!
//! **Architecture invariant:** this crate is synchronous and knows nothing of Raft,
//! tokio or the network. Its only I/O is the RocksDB ledger store.

// A dependency no code uses is caught here (tests and benches, which see
// every dev-dependency, are left out).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod certificate;
pub mod codec;
pub mod commitment;
pub mod crypto;
pub mod error;
pub mod history;
pub mod ids;
pub mod machine;
pub mod merkle;
pub mod model;
pub mod proof;
pub mod rules;
pub mod signature_batch;
pub mod state;
pub mod state_tree;
pub mod store;
#[cfg(any(test, feature = "test-utils"))]
pub mod testkit;
pub mod verify_memo;

pub use error::{DecodeError, IdError, KeyError, StoreError, StoreResult};
