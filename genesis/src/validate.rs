//! Validation of a [`GenesisDocument`]: every rule, each reported against the
//! field that breaks it.
//!
//! Checks run in document order and stop at the first problem, so the error an
//! operator sees is the first thing to fix in the file. What the checks build on
//! the way (parsed ids, role sets, keys, canonical addresses) becomes the ledger's
//! founding [`Membership`].

use std::collections::BTreeMap;
use std::str::FromStr;

use gemtrail_ledger::codec::{BoundedString, BoundedVec, ENCODED_BYTES_MAX};
use gemtrail_ledger::crypto::PublicKey;
use gemtrail_ledger::ids::{ChainId, NodeId, OrgId};
use gemtrail_ledger::model::{
    Member, Membership, Name, NodeRecord, Role, RoleSet, BLOCK_TRANSACTIONS_MAX,
    KEYS_PER_MEMBER_MAX, MEMBERS_MAX, NAME_BYTES_MAX, NODES_MAX,
};
use libp2p_identity::PeerId;

use crate::address::{check_multiaddr, check_socket_addr, Endpoint};
use crate::document::{ConsensusParams, GenesisDocument, Limits, MemberEntry, NodeEntry};
use crate::error::{GenesisError, Problem, Result};

/// Longest batch timeout: beyond this, a quiet chain would feel stuck.
pub const BATCH_TIMEOUT_MS_MAX: u64 = 10_000;
/// Longest election timeout (and heartbeat interval): a minute without a leader
/// is an outage, not a tuning choice.
pub const ELECTION_TIMEOUT_MS_MAX: u64 = 60_000;
/// Largest snapshot interval, in blocks.
pub const SNAPSHOT_INTERVAL_BLOCKS_MAX: u64 = 100_000_000;
/// Largest clock-skew bound for checkpoints: an hour ahead is a broken clock,
/// not a tolerance.
pub const CLOCK_SKEW_MS_MAX: u64 = 3_600_000;
/// Smallest request-body and snapshot-chunk cap: one signed transaction must fit.
pub const MESSAGE_BYTES_MIN: u64 = 1024;
/// Smallest peer-message cap: a Raft RPC with a modest block proposal must fit.
pub const PEER_MESSAGE_BYTES_MIN: u64 = 64 * 1024;
/// Longest request timeout.
pub const REQUEST_TIMEOUT_MS_MAX: u64 = 600_000;
/// Largest mempool.
pub const MEMPOOL_TXS_MAX: u64 = 10_000_000;

/// What validation builds from a document.
pub(crate) struct Checked {
    pub(crate) chain_id: ChainId,
    pub(crate) membership: Membership,
    pub(crate) peer_ids: BTreeMap<NodeId, PeerId>,
}

/// Checks every rule of the genesis format.
pub(crate) fn check(document: &GenesisDocument) -> Result<Checked> {
    let chain_id = ChainId::parse(&document.chain_id)
        .map_err(|error| invalid_id("chain_id".to_owned(), &error))?;
    check_consensus(&document.consensus)?;
    check_limits(&document.limits, &document.consensus)?;
    let members = check_members(&document.members)?;
    let (nodes, peer_ids) = check_nodes(&document.nodes, &members)?;
    Ok(Checked {
        chain_id,
        membership: Membership {
            members,
            nodes,
            retired: Default::default(),
        },
        peer_ids,
    })
}

fn invalid(field: impl Into<String>, problem: Problem) -> GenesisError {
    GenesisError::invalid(field, problem)
}

fn invalid_id(field: String, error: &gemtrail_ledger::IdError) -> GenesisError {
    invalid(
        field,
        Problem::InvalidId {
            reason: error.to_string(),
        },
    )
}

fn check_range(field: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(invalid(field, Problem::OutOfRange { value, min, max }));
    }
    Ok(())
}

fn check_below(field: &str, value: u64, bound_field: &'static str, bound: u64) -> Result<()> {
    if value >= bound {
        return Err(invalid(
            field,
            Problem::NotBelow {
                value,
                bound_field,
                bound,
            },
        ));
    }
    Ok(())
}

fn check_consensus(params: &ConsensusParams) -> Result<()> {
    let block_max = BLOCK_TRANSACTIONS_MAX as u64;
    check_range(
        "consensus.batch_max_txs",
        params.batch_max_txs,
        1,
        block_max,
    )?;
    let timeout_max = BATCH_TIMEOUT_MS_MAX;
    check_range(
        "consensus.batch_timeout_ms",
        params.batch_timeout_ms,
        1,
        timeout_max,
    )?;
    let election_max = ELECTION_TIMEOUT_MS_MAX;
    let heartbeat = params.heartbeat_interval_ms;
    let (min, max) = (
        params.election_timeout_min_ms,
        params.election_timeout_max_ms,
    );
    check_range(
        "consensus.heartbeat_interval_ms",
        heartbeat,
        1,
        election_max,
    )?;
    check_range("consensus.election_timeout_min_ms", min, 1, election_max)?;
    check_range("consensus.election_timeout_max_ms", max, 1, election_max)?;
    let snapshot_max = SNAPSHOT_INTERVAL_BLOCKS_MAX;
    let snapshot = params.snapshot_interval_blocks;
    check_range(
        "consensus.snapshot_interval_blocks",
        snapshot,
        1,
        snapshot_max,
    )?;
    check_range(
        "consensus.checkpoint_clock_skew_ms_max",
        params.checkpoint_clock_skew_ms_max,
        1,
        CLOCK_SKEW_MS_MAX,
    )?;
    // Raft needs a spread of election timeouts to break ties, and heartbeats well
    // inside the shortest one so that followers of a live leader never time out.
    let max_field = "consensus.election_timeout_max_ms";
    check_below("consensus.election_timeout_min_ms", min, max_field, max)?;
    let min_field = "consensus.election_timeout_min_ms";
    check_below("consensus.heartbeat_interval_ms", heartbeat, min_field, min)
}

fn check_limits(limits: &Limits, consensus: &ConsensusParams) -> Result<()> {
    let encoded_max = ENCODED_BYTES_MAX as u64;
    let body = limits.request_body_bytes_max;
    check_range(
        "limits.request_body_bytes_max",
        body,
        MESSAGE_BYTES_MIN,
        encoded_max,
    )?;
    let timeout = limits.request_timeout_ms;
    check_range(
        "limits.request_timeout_ms",
        timeout,
        1,
        REQUEST_TIMEOUT_MS_MAX,
    )?;
    let mempool = limits.mempool_txs_max;
    let batch = consensus.batch_max_txs;
    check_range("limits.mempool_txs_max", mempool, batch, MEMPOOL_TXS_MAX)?;
    let peer = limits.peer_message_bytes_max;
    check_range(
        "limits.peer_message_bytes_max",
        peer,
        PEER_MESSAGE_BYTES_MIN,
        encoded_max,
    )?;
    let chunk = limits.snapshot_chunk_bytes_max;
    check_range(
        "limits.snapshot_chunk_bytes_max",
        chunk,
        MESSAGE_BYTES_MIN,
        peer,
    )
}

/// Checks that a list is neither empty nor over its maximum.
fn check_count(field: &str, count: usize, max: usize, what: &'static str) -> Result<()> {
    if count == 0 {
        return Err(invalid(field, Problem::NoneGiven { what }));
    }
    if count > max {
        let (count, max) = (count as u64, max as u64);
        return Err(invalid(field, Problem::TooMany { count, max }));
    }
    Ok(())
}

/// Remembers where each unique value was first used, to name it in a duplicate error.
struct FirstUse<K: Ord>(BTreeMap<K, String>);

impl<K: Ord> FirstUse<K> {
    fn new() -> Self {
        Self(BTreeMap::new())
    }

    /// Records `key` at `field`, or reports its earlier use (shown as `shown`).
    fn claim(&mut self, key: K, field: &str, shown: impl FnOnce() -> String) -> Result<()> {
        if let Some(first) = self.0.get(&key) {
            let problem = Problem::Duplicate {
                value: shown(),
                first: first.clone(),
            };
            return Err(invalid(field, problem));
        }
        self.0.insert(key, field.to_owned());
        Ok(())
    }
}

fn check_members(entries: &[MemberEntry]) -> Result<BTreeMap<OrgId, Member>> {
    check_count("members", entries.len(), MEMBERS_MAX, "member")?;
    let mut ids = FirstUse::new();
    let mut keys = FirstUse::new();
    let mut members = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let path = format!("members[{index}]");
        let org =
            OrgId::parse(&entry.id).map_err(|error| invalid_id(format!("{path}.id"), &error))?;
        ids.claim(org.clone(), &format!("{path}.id"), || {
            format!("{:?}", org.as_str())
        })?;
        let member = Member {
            name: check_name(&format!("{path}.name"), &entry.name)?,
            roles: check_roles(&format!("{path}.roles"), &entry.roles)?,
            keys: check_keys(&format!("{path}.keys"), &entry.keys, &mut keys)?,
            org: org.clone(),
        };
        members.insert(org, member);
    }
    if !members
        .values()
        .any(|member| member.roles.contains(Role::Admin))
    {
        return Err(invalid("members", Problem::NoAdmin));
    }
    Ok(members)
}

fn check_name(field: &str, text: &str) -> Result<Name> {
    if text.trim().is_empty() {
        return Err(invalid(field, Problem::Empty));
    }
    Name::new(text).map_err(|error| {
        let (len, max) = (error.len as u64, NAME_BYTES_MAX as u64);
        invalid(field, Problem::TooLong { len, max })
    })
}

fn check_roles(field: &str, names: &[String]) -> Result<RoleSet> {
    check_count(field, names.len(), Role::ALL.len(), "role")?;
    let mut seen = FirstUse::new();
    let mut roles = RoleSet::EMPTY;
    for (index, name) in names.iter().enumerate() {
        let role_field = format!("{field}[{index}]");
        let role = Role::from_name(name).ok_or_else(|| {
            let role = name.clone();
            invalid(&role_field, Problem::UnknownRole { role })
        })?;
        seen.claim(role, &role_field, || format!("{name:?}"))?;
        roles = roles.with(role);
    }
    Ok(roles)
}

/// Checks a member's keys; `holders` spans all members, since a key shared by
/// two members would make its signatures ambiguous.
fn check_keys(
    field: &str,
    texts: &[String],
    holders: &mut FirstUse<PublicKey>,
) -> Result<BoundedVec<PublicKey, KEYS_PER_MEMBER_MAX>> {
    check_count(field, texts.len(), KEYS_PER_MEMBER_MAX, "key")?;
    let mut keys = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        let key_field = format!("{field}[{index}]");
        let key = PublicKey::from_text(text).map_err(|error| {
            let reason = error.to_string();
            invalid(&key_field, Problem::MalformedKey { reason })
        })?;
        key.check_registrable()
            .map_err(|error| invalid(&key_field, Problem::UnusableKey(error)))?;
        holders.claim(key, &key_field, || key.to_text())?;
        keys.push(key);
    }
    // A member's keys are a set: their order in the file carries no meaning, so
    // it must not change the membership or the genesis hash.
    keys.sort();
    BoundedVec::new(keys).map_err(|error| {
        let (count, max) = (error.len as u64, error.max as u64);
        invalid(field, Problem::TooMany { count, max })
    })
}

type Nodes = (BTreeMap<NodeId, NodeRecord>, BTreeMap<NodeId, PeerId>);

fn check_nodes(entries: &[NodeEntry], members: &BTreeMap<OrgId, Member>) -> Result<Nodes> {
    check_count("nodes", entries.len(), NODES_MAX, "node")?;
    let mut ids = FirstUse::new();
    let mut peers = FirstUse::new();
    let mut endpoints = FirstUse::new();
    let (mut records, mut peer_ids) = (BTreeMap::new(), BTreeMap::new());
    for (index, entry) in entries.iter().enumerate() {
        let path = format!("nodes[{index}]");
        let id = NodeId(entry.id);
        ids.claim(id, &format!("{path}.id"), || id.to_string())?;
        let owner = check_owner(&format!("{path}.member"), &entry.member, members)?;
        let node = check_node(&path, entry, owner)?;
        let peer_field = format!("{path}.peer_id");
        peers.claim(node.peer_id, &peer_field, || format!("{:?}", entry.peer_id))?;
        for (host_port, field) in node.endpoints {
            endpoints.claim(host_port.clone(), &field, || format!("{host_port:?}"))?;
        }
        records.insert(id, node.record);
        peer_ids.insert(id, node.peer_id);
    }
    Ok((records, peer_ids))
}

/// One node entry's own fields, checked, with its two endpoints' `host:port`
/// and field paths for the caller's clash checks.
struct CheckedNode {
    record: NodeRecord,
    peer_id: PeerId,
    endpoints: [(String, String); 2],
}

fn check_node(path: &str, entry: &NodeEntry, owner: OrgId) -> Result<CheckedNode> {
    let peer_field = format!("{path}.peer_id");
    let peer_id = check_peer_id(&peer_field, &entry.peer_id)?;
    let listen_field = format!("{path}.listen_addr");
    let listen = check_multiaddr(&entry.listen_addr).map_err(|p| invalid(&listen_field, p))?;
    let api_field = format!("{path}.api_addr");
    let api = check_socket_addr(&entry.api_addr).map_err(|p| invalid(&api_field, p))?;
    let endpoints = [
        (listen.host_port.clone(), listen_field.clone()),
        (api.host_port.clone(), api_field.clone()),
    ];
    let record = NodeRecord {
        id: NodeId(entry.id),
        owner,
        peer_id: bounded(&peer_field, peer_id.to_string())?,
        listen_addr: bounded_endpoint(&listen_field, listen)?,
        api_addr: bounded_endpoint(&api_field, api)?,
    };
    Ok(CheckedNode {
        record,
        peer_id,
        endpoints,
    })
}

/// Checks a member entry on its own, by the genesis's field rules, for a
/// governance `AddMember`. Clashes with the members in force (its id, its
/// keys) are the ledger's to refuse, with its own codes.
pub fn check_member_entry(entry: &MemberEntry) -> Result<Member> {
    let org = OrgId::parse(&entry.id).map_err(|error| invalid_id("id".to_owned(), &error))?;
    Ok(Member {
        name: check_name("name", &entry.name)?,
        roles: check_roles("roles", &entry.roles)?,
        keys: check_keys("keys", &entry.keys, &mut FirstUse::new())?,
        org,
    })
}

/// Checks a node entry on its own, by the genesis's field rules, for a
/// governance `AddNode`. Whether its owner is a member and its id and peer id
/// are free are the ledger's to refuse.
pub fn check_node_entry(entry: &NodeEntry) -> Result<NodeRecord> {
    let owner =
        OrgId::parse(&entry.member).map_err(|error| invalid_id("member".to_owned(), &error))?;
    Ok(check_node("node", entry, owner)?.record)
}

/// Checks a role list (`producer,admin`) by the genesis's rules.
pub fn check_role_names(names: &[String]) -> Result<RoleSet> {
    check_roles("roles", names)
}

/// Checks a display name by the genesis's rules.
pub fn check_display_name(text: &str) -> Result<Name> {
    check_name("name", text)
}

fn check_owner(field: &str, text: &str, members: &BTreeMap<OrgId, Member>) -> Result<OrgId> {
    let owner = OrgId::parse(text).map_err(|error| invalid_id(field.to_owned(), &error))?;
    if !members.contains_key(&owner) {
        let member = owner.to_string();
        return Err(invalid(field, Problem::UnknownMember { member }));
    }
    Ok(owner)
}

fn check_peer_id(field: &str, text: &str) -> Result<PeerId> {
    PeerId::from_str(text).map_err(|error| {
        let reason = error.to_string();
        invalid(field, Problem::InvalidPeerId { reason })
    })
}

fn bounded_endpoint<const MAX: usize>(
    field: &str,
    endpoint: Endpoint,
) -> Result<BoundedString<MAX>> {
    bounded(field, endpoint.text)
}

fn bounded<const MAX: usize>(field: &str, text: String) -> Result<BoundedString<MAX>> {
    BoundedString::new(text).map_err(|error| {
        let (len, max) = (error.len as u64, error.max as u64);
        invalid(field, Problem::TooLong { len, max })
    })
}
