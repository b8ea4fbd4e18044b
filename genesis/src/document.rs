//! The genesis document as written by people: plain serde types mirroring the
//! TOML file, and reading and writing it.
//!
//! These types hold text as written (ids, role names, key text, addresses) so that
//! [`crate::validate`] can report each problem against the field that holds it.
//! Only a [`crate::ValidGenesis`] is trusted by the rest of the system.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{GenesisError, Result};
use crate::locate;
use crate::valid::ValidGenesis;

/// Largest genesis document accepted, in bytes. A consortium at its limits
/// ([`gemtrail_ledger::model::MEMBERS_MAX`] members with
/// [`gemtrail_ledger::model::KEYS_PER_MEMBER_MAX`] keys each) fits in well under
/// a megabyte; the cap stops a wrong path from loading a huge file into memory.
pub const GENESIS_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// The consortium's founding document: one TOML file every member holds.
///
/// `genesis_time_ms` is an integer, milliseconds since the Unix epoch (UTC), the
/// same unit as block timestamps; an integer leaves no room for time-zone or
/// leap-second ambiguity in what is hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisDocument {
    /// The chain id ([`gemtrail_ledger::ids::ChainId`] syntax), mixed into every
    /// signature and hash of the chain.
    pub chain_id: String,
    /// The genesis time, milliseconds since the Unix epoch.
    pub genesis_time_ms: u64,
    /// Raft and block-batching timing.
    pub consensus: ConsensusParams,
    /// Caps on what a node accepts from clients and peers.
    pub limits: Limits,
    /// The founding member organisations.
    #[serde(default)]
    pub members: Vec<MemberEntry>,
    /// The founding consensus nodes.
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
}

/// Raft and block-batching timing, shared by every node so the cluster behaves
/// the same wherever a leader is elected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    /// The leader proposes a block as soon as this many transactions wait
    /// (1 to [`gemtrail_ledger::model::BLOCK_TRANSACTIONS_MAX`]).
    pub batch_max_txs: u64,
    /// ... or once the oldest waiting transaction has waited this long.
    pub batch_timeout_ms: u64,
    /// How often the leader sends Raft heartbeats; below the election timeout so
    /// that a healthy leader is never deposed.
    pub heartbeat_interval_ms: u64,
    /// Shortest random Raft election timeout.
    pub election_timeout_min_ms: u64,
    /// Longest random Raft election timeout.
    pub election_timeout_max_ms: u64,
    /// A node snapshots its state every this many blocks, for catch-up.
    pub snapshot_interval_blocks: u64,
    /// A node refuses to sign the checkpoint of a block whose time is ahead
    /// of its own clock by more than this: a leader whose clock runs ahead
    /// gets no certificates for its blocks.
    pub checkpoint_clock_skew_ms_max: u64,
}

/// Caps on input from clients and peers. They live in the genesis, not in each
/// node's configuration, because a node with a smaller cap than its peers would
/// refuse blocks and snapshots the others accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest HTTP request body the API accepts.
    pub request_body_bytes_max: u64,
    /// Longest an HTTP request or a peer request may take before it is abandoned.
    pub request_timeout_ms: u64,
    /// Most transactions a node holds while they wait for a block; at least
    /// `consensus.batch_max_txs` so that a full batch always fits.
    pub mempool_txs_max: u64,
    /// Largest peer-to-peer message (a Raft RPC carrying a block proposal, a
    /// batch of forwarded transactions, a snapshot chunk).
    pub peer_message_bytes_max: u64,
    /// Largest snapshot chunk streamed to a catching-up node; at most
    /// `peer_message_bytes_max` so that a chunk fits in one message.
    pub snapshot_chunk_bytes_max: u64,
}

/// One member organisation, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// Its organisation id ([`gemtrail_ledger::ids::OrgId`] syntax).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its role names (`producer`, `manufacturer`, `lab`, `trader`, `retailer`,
    /// `auditor`, `admin`).
    pub roles: Vec<String>,
    /// Its signing keys, each `ed25519:` followed by 64 hexadecimal digits.
    pub keys: Vec<String>,
}

/// One consensus node, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Its Raft node id.
    pub id: u64,
    /// The id of the member that runs it.
    pub member: String,
    /// Its libp2p peer id (base58, `12D3KooW...` for an ed25519 node key).
    pub peer_id: String,
    /// Its libp2p listen address: `/ip4/<address>/tcp/<port>`,
    /// `/ip6/<address>/tcp/<port>` or `/dns/<host>/tcp/<port>`.
    pub listen_addr: String,
    /// Its HTTP API address, `<ip>:<port>`.
    pub api_addr: String,
}

impl GenesisDocument {
    /// Parses TOML text. Checks syntax and structure only; see
    /// [`GenesisDocument::validate`] for the content.
    pub fn parse(text: &str) -> Result<Self> {
        parse(text)
    }

    /// Reads and parses a genesis file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        load(path)
    }

    /// Checks every field and builds the trusted [`ValidGenesis`].
    pub fn validate(self) -> Result<ValidGenesis> {
        ValidGenesis::new(self)
    }

    /// Writes the document as TOML that [`GenesisDocument::parse`] reads back to
    /// an equal document.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|error| GenesisError::Write {
            message: error.to_string(),
        })
    }
}

/// Parses TOML text into a [`GenesisDocument`], reporting syntax errors with
/// their line and column and structural errors (unknown field, wrong type,
/// missing field) with the path of the field.
pub fn parse(text: &str) -> Result<GenesisDocument> {
    let len = text.len() as u64;
    if len > GENESIS_BYTES_MAX {
        return Err(GenesisError::TooLarge {
            len,
            max: GENESIS_BYTES_MAX,
        });
    }
    // Parse to a spanned tree first: syntax errors come from here, and the tree
    // lets us turn the byte span of a later structural error into a field path.
    let tree =
        toml::de::DeTable::parse(text).map_err(|error| locate::syntax_error(text, &error))?;
    let deserializer = toml::Deserializer::from(tree.clone());
    GenesisDocument::deserialize(deserializer)
        .map_err(|error| locate::structure_error(tree.get_ref(), &error))
}

/// Reads a genesis file (at most [`GENESIS_BYTES_MAX`] bytes) and parses it.
pub fn load(path: impl AsRef<Path>) -> Result<GenesisDocument> {
    let path = path.as_ref();
    let io_error = |error: std::io::Error| GenesisError::Io {
        path: path.to_path_buf(),
        kind: error.kind(),
        message: error.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    if len > GENESIS_BYTES_MAX {
        return Err(GenesisError::TooLarge {
            len,
            max: GENESIS_BYTES_MAX,
        });
    }
    let mut text = String::new();
    // The file may grow between the size check and the read: read one byte past
    // the cap at most, and let `parse` refuse it.
    file.take(GENESIS_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(io_error)?;
    parse(&text)
}
