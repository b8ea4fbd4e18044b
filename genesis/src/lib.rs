//! # gemtrail-genesis
//!
//! The consortium's founding document. Every member holds the same genesis file;
//! it fixes the chain id, the founding members (organisation, roles, signing
//! keys), the founding consensus nodes (Raft node id, libp2p peer id, addresses)
//! and the consensus and limit parameters. Its hash is block 1's previous hash, so
//! an auditor holding only this file can anchor a provenance proof to it.
//!
//! Start reading at [`ValidGenesis`]: [`parse`] and [`load`] read the TOML into a
//! [`GenesisDocument`], [`GenesisDocument::validate`] checks it and returns the
//! `ValidGenesis` the rest of the system trusts, with [`ValidGenesis::hash`] and
//! [`ValidGenesis::ledger_genesis`]. [`sample::SampleConsortium`] makes a ready
//! consortium with all its keys for the demo and tests.
//!
//! ## The file
//!
//! ```toml
//! chain_id = "gemtrail-demo"        # lower-case letters, digits, - _ .
//! genesis_time_ms = 1790000000000   # milliseconds since the Unix epoch, UTC
//!
//! [consensus]
//! batch_max_txs = 1000              # propose a block at this many transactions...
//! batch_timeout_ms = 20             # ...or when the oldest has waited this long
//! heartbeat_interval_ms = 100       # below election_timeout_min_ms
//! election_timeout_min_ms = 300     # below election_timeout_max_ms
//! election_timeout_max_ms = 600
//! snapshot_interval_blocks = 1000
//! checkpoint_clock_skew_ms_max = 30000 # refuse to certify blocks further ahead
//!
//! [limits]
//! request_body_bytes_max = 1048576  # HTTP request bodies
//! request_timeout_ms = 10000        # HTTP and peer requests
//! mempool_txs_max = 100000          # at least batch_max_txs
//! peer_message_bytes_max = 16777216 # one libp2p message (Raft RPC, forwarded txs)
//! snapshot_chunk_bytes_max = 1048576 # at most peer_message_bytes_max
//!
//! [[members]]
//! id = "miner"                      # organisation id: lower-case letters, digits, -
//! name = "Kimberley Mining Co."
//! roles = ["producer", "admin"]     # producer manufacturer lab trader retailer auditor admin
//! keys = ["ed25519:<64 hex digits>"]
//!
//! [[nodes]]
//! id = 1                            # Raft node id
//! member = "miner"                  # the member that runs it
//! peer_id = "12D3KooW..."           # libp2p peer id of the node's identity key
//! listen_addr = "/ip4/127.0.0.1/tcp/7000"  # /ip4, /ip6 or /dns + /tcp/<port>
//! api_addr = "127.0.0.1:7001"       # <ip>:<port>
//! ```
//!
//! ## The rules
//!
//! Unknown fields are refused (a typo never silently falls back to a default).
//! Ids are normalised as the ledger does ([`gemtrail_ledger::ids`]): `Miner` and
//! `miner` are the same member. There must be 1 to
//! [`gemtrail_ledger::model::MEMBERS_MAX`] members with unique ids, non-empty
//! names, 1 to 7 distinct known roles and 1 to
//! [`gemtrail_ledger::model::KEYS_PER_MEMBER_MAX`] keys that are valid, not weak,
//! and held by no other member; at least one member must be an admin. There must
//! be 1 to [`gemtrail_ledger::model::NODES_MAX`] nodes with unique ids and peer
//! ids, each run by a member, and no two addresses (listen or API) may share a
//! `host:port`. The ranges of the parameters are in [`validate`]'s constants.
//!
//! Every error names its field: `members[1].roles[0]: unknown role "miner"
//! (expected one of producer, manufacturer, lab, trader, retailer, auditor, admin)`.
//!
//! ## The hash
//!
//! See [`valid`]: the hash covers the validated meaning of the document, not its
//! text, so comments, whitespace and the order of keys, tables, members, nodes,
//! roles and keys do not change it; any change of meaning does.
//!
//! **Architecture invariant:** this crate does no network I/O and knows nothing of
//! Raft; it reads one file, and only when asked to.

// A dependency no code uses is caught here (tests and benches, which see
// every dev-dependency, are left out).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod address;
pub mod document;
pub mod error;
mod locate;
pub mod sample;
pub mod valid;
pub mod validate;

pub use document::{
    load, parse, ConsensusParams, GenesisDocument, Limits, MemberEntry, NodeEntry,
    GENESIS_BYTES_MAX,
};
pub use error::{GenesisError, Problem, Result};
pub use valid::ValidGenesis;
