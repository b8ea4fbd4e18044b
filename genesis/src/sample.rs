//! A ready-made consortium for the demo and for tests: five members along the
//! mine-to-market chain, three nodes, and every secret key they need.
//!
//! | member     | roles                  | runs node |
//! |------------|------------------------|-----------|
//! | `miner`    | producer, admin        | 1         |
//! | `cutter`   | manufacturer, admin    | 2         |
//! | `lab`      | lab                    |           |
//! | `retailer` | retailer               | 3         |
//! | `auditor`  | auditor, admin         |           |
//!
//! Three admins from three different stages of the chain means no single member
//! can change the membership alone (governance needs a majority, 2 of 3), while
//! any one admin can be offline without blocking it.
//!
//! Node `n` (1, 2, 3) listens for peers on `/ip4/127.0.0.1/tcp/<base_port + 2(n-1)>`
//! and serves its API on `127.0.0.1:<base_port + 2(n-1) + 1>`.
//!
//! All keys derive from one 32-byte seed: [`SampleConsortium::generate`] draws it
//! from the operating system, [`SampleConsortium::generate_from_seed`] takes it
//! from the caller so that tests and the committed example file are reproducible.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::{NodeId, OrgId};
use gemtrail_ledger::model::Role;
use libp2p_identity::Keypair;

use crate::document::{ConsensusParams, GenesisDocument, Limits, MemberEntry, NodeEntry};
use crate::error::{GenesisError, Problem, Result};
use crate::valid::ValidGenesis;

/// The sample members: org id, display name, roles.
pub const SAMPLE_MEMBERS: [(&str, &str, &[Role]); 5] = [
    (
        "miner",
        "Kimberley Mining Co.",
        &[Role::Producer, Role::Admin],
    ),
    (
        "cutter",
        "Antwerp Cutting Works",
        &[Role::Manufacturer, Role::Admin],
    ),
    ("lab", "Independent Gem Laboratory", &[Role::Lab]),
    ("retailer", "Bond Street Jewellers", &[Role::Retailer]),
    (
        "auditor",
        "Consortium Audit Services",
        &[Role::Auditor, Role::Admin],
    ),
];

/// The sample nodes: node id and the member that runs it.
pub const SAMPLE_NODES: [(u64, &str); 3] = [(1, "miner"), (2, "cutter"), (3, "retailer")];

/// The genesis time of [`SampleConsortium::generate_from_seed`]
/// (2026-09-21T14:13:20Z).
pub const SAMPLE_GENESIS_TIME_MS: u64 = 1_790_000_000_000;

/// Ports used above `base_port`: two per node.
const PORTS_PER_NODE: u16 = 2;

/// The blake3 key-derivation context of sample keys.
const KEY_CONTEXT: &str = "gemtrail 2026-11 sample consortium key v1";

/// A valid sample genesis with the secret keys of its members and nodes.
#[derive(Debug)]
pub struct SampleConsortium {
    genesis: ValidGenesis,
    member_keys: BTreeMap<OrgId, SecretKey>,
    node_keypairs: BTreeMap<NodeId, Keypair>,
}

impl SampleConsortium {
    /// A sample consortium with fresh random keys, founded now.
    pub fn generate(chain_id: &str, base_port: u16) -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| GenesisError::KeyGeneration {
            message: error.to_string(),
        })?;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(SAMPLE_GENESIS_TIME_MS, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(SAMPLE_GENESIS_TIME_MS)
            });
        Self::build(&seed, chain_id, base_port, now_ms)
    }

    /// The sample consortium whose keys all derive from `seed`, founded at
    /// [`SAMPLE_GENESIS_TIME_MS`]: the same arguments always give the same genesis.
    pub fn generate_from_seed(seed: [u8; 32], chain_id: &str, base_port: u16) -> Result<Self> {
        Self::build(&seed, chain_id, base_port, SAMPLE_GENESIS_TIME_MS)
    }

    fn build(seed: &[u8; 32], chain_id: &str, base_port: u16, time_ms: u64) -> Result<Self> {
        let mut member_keys = BTreeMap::new();
        let mut members = Vec::new();
        for (id, name, roles) in SAMPLE_MEMBERS {
            let org = OrgId::parse(id).map_err(|error| invalid_id("members.id", &error))?;
            let key = SecretKey::from_seed(&derive(seed, &format!("member {id}")));
            members.push(MemberEntry {
                id: id.to_owned(),
                name: name.to_owned(),
                roles: roles.iter().map(|role| role.name().to_owned()).collect(),
                keys: vec![key.public_key().to_text()],
            });
            member_keys.insert(org, key);
        }
        let mut node_keypairs = BTreeMap::new();
        let mut nodes = Vec::new();
        for (index, (id, owner)) in SAMPLE_NODES.into_iter().enumerate() {
            let keypair = Keypair::ed25519_from_bytes(derive(seed, &format!("node {id}")))
                .map_err(|error| GenesisError::KeyGeneration {
                    message: error.to_string(),
                })?;
            nodes.push(NodeEntry {
                id,
                member: owner.to_owned(),
                peer_id: keypair.public().to_peer_id().to_string(),
                listen_addr: format!("/ip4/127.0.0.1/tcp/{}", node_port(base_port, index, 0)?),
                api_addr: format!("127.0.0.1:{}", node_port(base_port, index, 1)?),
            });
            node_keypairs.insert(NodeId(id), keypair);
        }
        let document = GenesisDocument {
            chain_id: chain_id.to_owned(),
            genesis_time_ms: time_ms,
            consensus: SAMPLE_CONSENSUS,
            limits: SAMPLE_LIMITS,
            members,
            nodes,
        };
        Ok(Self {
            genesis: document.validate()?,
            member_keys,
            node_keypairs,
        })
    }

    /// The validated genesis.
    pub fn genesis(&self) -> &ValidGenesis {
        &self.genesis
    }

    /// Every member's signing key.
    pub fn member_keys(&self) -> &BTreeMap<OrgId, SecretKey> {
        &self.member_keys
    }

    /// The signing key of member `org`.
    pub fn member_key(&self, org: &OrgId) -> Option<&SecretKey> {
        self.member_keys.get(org)
    }

    /// Every node's libp2p identity keypair. Save one with
    /// [`Keypair::to_protobuf_encoding`].
    pub fn node_keypairs(&self) -> &BTreeMap<NodeId, Keypair> {
        &self.node_keypairs
    }

    /// The genesis as a commented TOML file, ready to hand to every member.
    pub fn genesis_toml(&self) -> Result<String> {
        let body = self.genesis.document().to_toml_string()?;
        Ok(format!(
            "# gemtrail genesis: a sample consortium made by `SampleConsortium`.\n\
             # miner, cutter and auditor are admins: governance needs 2 of the 3.\n\
             # genesis_time_ms is milliseconds since the Unix epoch (UTC).\n\
             \n{body}"
        ))
    }
}

/// A 32-byte secret for `label`, derived from the consortium seed.
fn derive(seed: &[u8; 32], label: &str) -> [u8; 32] {
    let mut material = seed.to_vec();
    material.extend_from_slice(label.as_bytes());
    blake3::derive_key(KEY_CONTEXT, &material)
}

fn invalid_id(field: &str, error: &gemtrail_ledger::IdError) -> GenesisError {
    GenesisError::Invalid {
        field: field.to_owned(),
        problem: Problem::InvalidId {
            reason: error.to_string(),
        },
    }
}

/// The consensus parameters of the sample: blocks within 20 ms of a transaction
/// under light load, and elections within a second of a leader failing.
pub const SAMPLE_CONSENSUS: ConsensusParams = ConsensusParams {
    batch_max_txs: 1000,
    batch_timeout_ms: 20,
    heartbeat_interval_ms: 100,
    election_timeout_min_ms: 300,
    election_timeout_max_ms: 600,
    snapshot_interval_blocks: 1000,
    checkpoint_clock_skew_ms_max: 30_000,
};

/// The limits of the sample.
pub const SAMPLE_LIMITS: Limits = Limits {
    request_body_bytes_max: 1024 * 1024,
    request_timeout_ms: 10_000,
    mempool_txs_max: 100_000,
    peer_message_bytes_max: 16 * 1024 * 1024,
    snapshot_chunk_bytes_max: 1024 * 1024,
};

/// The port `offset` of the node at `index`, refusing to run past 65535.
fn node_port(base_port: u16, index: usize, offset: u16) -> Result<u16> {
    let ports_used = PORTS_PER_NODE * SAMPLE_NODES.len() as u16;
    let port = u16::try_from(index)
        .ok()
        .and_then(|index| index.checked_mul(PORTS_PER_NODE))
        .and_then(|step| base_port.checked_add(step + offset));
    port.filter(|port| *port != 0).ok_or(GenesisError::Invalid {
        field: "base_port".to_owned(),
        problem: Problem::OutOfRange {
            value: u64::from(base_port),
            min: 1,
            max: u64::from(u16::MAX - ports_used + 1),
        },
    })
}
