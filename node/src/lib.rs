//! # gemtrail-node
//!
//! The running gemtrail node: the only crate that touches the network.
//!
//! ## Life of a transaction
//!
//! Each hop names where to read on:
//!
//! 1. A member's CLI builds and signs it (`cli/src/cmd/stone.rs`) and posts
//!    it with [`client::NodeClient::submit`].
//! 2. [`api`]'s submit handler decodes the body and registers a commit
//!    waiter ([`commits`]) when the client asked to wait.
//! 3. The door ([`admission::Door`]) checks it in the protocol's order:
//!    shape, chain, member keys, replay, then signatures in a batch
//!    ([`signatures`]), and puts it in the [`mempool`].
//! 4. On a follower, the [`pump`] forwards it to the leader over a lane
//!    ([`p2p::lane`]), where the leader's peer service
//!    ([`p2p::inbound`]) puts it through the same door.
//! 5. On the leader, the [`pump`] batches waiting transactions into a
//!    `BlockProposal` and hands it to Raft (openraft), which replicates it
//!    through [`p2p::transport`] and commits it once a majority synced it
//!    to its log (`consensus/src/log_store.rs`).
//! 6. Every node applies the committed entry: `consensus`'s state machine
//!    calls `ledger::machine::apply_block` and writes the block, its
//!    receipts and indexes in one RocksDB batch (`ledger/src/store`).
//! 7. The [`feed`] sees the applied block: it resolves the waiters, whose
//!    clients get their receipts, and settles the mempool.
//!
//! ## Modules
//!
//! Start reading at [`node::Node::start`], which builds every part and gives
//! each task only what it uses:
//! - [`p2p`]: the libp2p swarm (TCP, noise, yamux) with the consortium
//!   allow-list, the canonical wire messages and their capped codec, the Raft
//!   transport, and the handler of peer requests;
//! - [`admission`], [`signatures`] and [`mempool`]: the door every
//!   transaction passes, its batched signature checks, and the bounded,
//!   deduplicated queue behind it;
//! - [`directory`]: the consortium's nodes with their peer ids parsed once,
//!   and the departing nodes Raft still holds;
//! - [`pump`]: the leader's batcher and the followers' forwarder;
//! - [`feed`]: what follows each applied block (commit waiters, metrics,
//!   the mempool, and the directory after changes to the node set);
//! - [`membership`]: the leader's steps that bring Raft's voters in line
//!   with the ledger's node set, one safe change at a time;
//! - [`api`]: the HTTP API (axum), with every refusal an [`codes::ErrorCode`],
//!   and [`metrics`] (Prometheus);
//! - [`config`] and [`keys`]: the TOML configuration and the node key;
//! - [`client`]: a typed client of the API, for the CLI and the tests.
//!
//! **Invariants:** every channel is bounded; every peer message and HTTP body
//! has a size cap and every request a timeout; a peer that is neither a node of the
//! ledger's current membership nor a departing node Raft still holds never
//! reaches Raft; a client's transaction is
//! acknowledged as committed only after Raft committed (and synced) its block.

// A dependency no code uses is caught here (tests and benches, which see
// every dev-dependency, are left out).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

// Only the `gemtrail-node` binary (src/main.rs) parses arguments.
use clap as _;

pub(crate) mod admission;
pub mod api;
pub(crate) mod certify;
pub mod client;
pub mod clock;
pub mod codes;
pub(crate) mod commits;
pub mod config;
pub(crate) mod directory;
pub(crate) mod feed;
pub mod fuzzing;
pub mod keys;
pub(crate) mod logging;
pub(crate) mod membership;
pub(crate) mod mempool;
pub(crate) mod metrics;
pub mod node;
pub mod p2p;
pub(crate) mod pump;
pub(crate) mod raft;
pub mod request_auth;
pub mod runner;
pub(crate) mod shutdown;
pub(crate) mod signatures;
pub(crate) mod snapshots;
pub mod tls;

pub use config::NodeConfig;
pub use node::{Node, StartError};
