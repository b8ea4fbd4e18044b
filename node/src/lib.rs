//! # gemtrail-node
//!
//! The running gemtrail node: the only crate that touches the network.
//!
//! Start reading at [`node::Node::start`], which wires everything together:
//! - [`p2p`]: the libp2p swarm (TCP, noise, yamux) with the consortium
//!   allow-list, the canonical wire messages and their capped codec, the Raft
//!   transport over request-response, and the handler of peer requests;
//! - [`admission`] and [`mempool`]: the door every transaction passes, and
//!   the bounded, deduplicated queue behind it;
//! - [`pump`]: the leader's batcher and the followers' forwarder;
//! - [`feed`]: what follows each applied block (commit waiters, metrics,
//!   governance changes to the node set and to Raft membership);
//! - [`api`]: the HTTP API (axum) and [`metrics`] (Prometheus);
//! - [`config`] and [`keys`]: the TOML configuration and the node key;
//! - [`client`]: a typed client of the API, for the CLI and the tests.
//!
//! **Invariants:** every channel is bounded; every peer message and HTTP body
//! has a size cap and every request a timeout; a peer that is not a node of the
//! ledger's current membership never reaches Raft; a client's transaction is
//! acknowledged as committed only after Raft committed (and synced) its block.

pub mod admission;
pub mod api;
pub mod client;
pub mod commits;
pub mod config;
pub mod context;
pub mod feed;
pub mod keys;
pub mod logging;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod p2p;
pub mod pump;
pub mod runner;
pub mod shutdown;
pub mod signatures;
pub mod snapshots;

pub use config::NodeConfig;
pub use node::{Node, StartError};
