//! [`ValidGenesis`]: a genesis document that passed validation, its canonical
//! form and its hash, and the ledger state it founds.
//!
//! The genesis hash is
//! `domain_hash(Domain::Genesis, chain_id, encode(CanonicalGenesis))`, where
//! `CanonicalGenesis` is a borsh struct built from the *validated* values: the
//! normalised chain id, the genesis time, every consensus and limit parameter,
//! and the founding [`Membership`] (members sorted by id with their roles as a
//! `RoleSet` and their keys sorted, nodes sorted by id with canonical peer ids and
//! addresses). Comments, whitespace, key order and table order in the TOML text
//! therefore never change the hash, and every change of meaning does.

use std::collections::BTreeMap;
use std::path::Path;

use borsh::BorshSerialize;
use gemtrail_ledger::codec::{domain_hash, encode, Domain};
use gemtrail_ledger::ids::{BlockHash, ChainId, NodeId};
use gemtrail_ledger::model::{Membership, NodeRecord};
use gemtrail_ledger::state::GenesisState;
use libp2p_identity::PeerId;

use crate::document::{ConsensusParams, GenesisDocument, Limits};
use crate::error::Result;
use crate::validate;

/// Version of the canonical form, hashed first: a future change to what the
/// genesis contains changes the hash of every genesis, never silently aliases one.
pub const CANONICAL_FORMAT_VERSION: u32 = 2;

/// A genesis document that passed every check. Only [`ValidGenesis::new`] (and
/// the parsing shortcuts that call it) make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidGenesis {
    document: GenesisDocument,
    chain_id: ChainId,
    membership: Membership,
    peer_ids: BTreeMap<NodeId, PeerId>,
    hash: BlockHash,
}

/// What the genesis hash covers. Field order is part of the format.
#[derive(BorshSerialize)]
struct CanonicalGenesis<'a> {
    format_version: u32,
    chain_id: &'a ChainId,
    genesis_time_ms: u64,
    consensus: [u64; 7],
    limits: [u64; 5],
    membership: &'a Membership,
}

impl ValidGenesis {
    /// Validates `document`.
    pub fn new(document: GenesisDocument) -> Result<Self> {
        let checked = validate::check(&document)?;
        let hash = canonical_hash(&document, &checked.chain_id, &checked.membership);
        Ok(Self {
            document,
            chain_id: checked.chain_id,
            membership: checked.membership,
            peer_ids: checked.peer_ids,
            hash,
        })
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        crate::document::parse(text)?.validate()
    }

    /// Reads, parses and validates a genesis file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        crate::document::load(path)?.validate()
    }

    /// The document as written.
    pub fn document(&self) -> &GenesisDocument {
        &self.document
    }

    /// The chain id, normalised.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The genesis time, milliseconds since the Unix epoch.
    pub fn genesis_time_ms(&self) -> u64 {
        self.document.genesis_time_ms
    }

    /// The consensus parameters.
    pub fn consensus(&self) -> &ConsensusParams {
        &self.document.consensus
    }

    /// The input limits.
    pub fn limits(&self) -> &Limits {
        &self.document.limits
    }

    /// The founding members and nodes.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// The founding node `id`.
    pub fn node(&self, id: NodeId) -> Option<&NodeRecord> {
        self.membership.nodes.get(&id)
    }

    /// The libp2p peer id of every founding node: the network's allow-list.
    pub fn peer_ids(&self) -> &BTreeMap<NodeId, PeerId> {
        &self.peer_ids
    }

    /// The genesis hash: block 1's previous hash, and what an offline verifier
    /// anchors a provenance proof to.
    pub fn hash(&self) -> BlockHash {
        self.hash
    }

    /// The state a ledger starts from.
    pub fn ledger_genesis(&self) -> GenesisState {
        GenesisState {
            chain_id: self.chain_id.clone(),
            genesis_hash: self.hash,
            membership: self.membership.clone(),
            timestamp_ms: self.document.genesis_time_ms,
        }
    }
}

fn canonical_hash(
    document: &GenesisDocument,
    chain_id: &ChainId,
    membership: &Membership,
) -> BlockHash {
    // Exhaustive destructuring: a new parameter fails to compile here until it
    // is hashed too, so no parameter can escape the genesis hash.
    let ConsensusParams {
        batch_max_txs,
        batch_timeout_ms,
        heartbeat_interval_ms,
        election_timeout_min_ms,
        election_timeout_max_ms,
        snapshot_interval_blocks,
        checkpoint_clock_skew_ms_max,
    } = document.consensus;
    let Limits {
        request_body_bytes_max,
        request_timeout_ms,
        mempool_txs_max,
        peer_message_bytes_max,
        snapshot_chunk_bytes_max,
    } = document.limits;
    let canonical = CanonicalGenesis {
        format_version: CANONICAL_FORMAT_VERSION,
        chain_id,
        genesis_time_ms: document.genesis_time_ms,
        consensus: [
            batch_max_txs,
            batch_timeout_ms,
            heartbeat_interval_ms,
            election_timeout_min_ms,
            election_timeout_max_ms,
            snapshot_interval_blocks,
            checkpoint_clock_skew_ms_max,
        ],
        limits: [
            request_body_bytes_max,
            request_timeout_ms,
            mempool_txs_max,
            peer_message_bytes_max,
            snapshot_chunk_bytes_max,
        ],
        membership,
    };
    let bytes = encode(&canonical);
    BlockHash(domain_hash(Domain::Genesis, chain_id.as_str(), &bytes))
}
