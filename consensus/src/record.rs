//! Borsh mirrors of the openraft values gemtrail stores.
//!
//! openraft's own types are serde only, and the architecture allows one
//! canonical encoding for everything stored. So each stored openraft value has a
//! small mirror here with a canonical, bounded borsh encoding, and conversions
//! both ways. Converting back checks what borsh alone cannot: that voter sets
//! and node maps are strictly sorted (so each value has exactly one encoding)
//! and that every voter has a node description.

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_ledger::codec::BoundedVec;
use gemtrail_ledger::model::{BlockProposal, NODES_MAX};
use openraft::{CommittedLeaderId, EntryPayload, LeaderId};

use crate::error::RecordError;
use crate::types::{
    NodeInfo, RaftEntry, RaftLogId, RaftMembership, RaftNodeId, RaftStoredMembership, RaftVote,
};

/// Most voter configurations in one membership: two while a joint change is in
/// progress, one otherwise (none only in the empty default membership).
pub const JOINT_CONFIGS_MAX: usize = 2;

/// A log id: the term and node id of the leader that proposed the entry, and the
/// entry's index.
#[derive(Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct LogIdRecord {
    /// The leader's term.
    pub term: u64,
    /// The leader's node id.
    pub leader_node_id: u64,
    /// The entry's index.
    pub index: u64,
}

impl From<&RaftLogId> for LogIdRecord {
    fn from(log_id: &RaftLogId) -> Self {
        Self {
            term: log_id.leader_id.term,
            leader_node_id: log_id.leader_id.node_id,
            index: log_id.index,
        }
    }
}

impl From<LogIdRecord> for RaftLogId {
    fn from(record: LogIdRecord) -> Self {
        RaftLogId::new(
            CommittedLeaderId::new(record.term, record.leader_node_id),
            record.index,
        )
    }
}

/// A vote: the term and the candidate voted for, and whether a quorum granted it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct VoteRecord {
    /// The term.
    pub term: u64,
    /// The candidate (or leader) voted for.
    pub node_id: u64,
    /// True once a quorum granted the vote.
    pub committed: bool,
}

impl From<&RaftVote> for VoteRecord {
    fn from(vote: &RaftVote) -> Self {
        Self {
            term: vote.leader_id.term,
            node_id: vote.leader_id.node_id,
            committed: vote.committed,
        }
    }
}

impl From<VoteRecord> for RaftVote {
    fn from(record: VoteRecord) -> Self {
        RaftVote {
            leader_id: LeaderId::new(record.term, record.node_id),
            committed: record.committed,
        }
    }
}

/// A membership: the voter configurations (two during a joint change) and the
/// description of every node, voters and learners, sorted by node id.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct MembershipRecord {
    /// Voter configurations, each sorted by node id.
    pub configs: BoundedVec<BoundedVec<RaftNodeId, NODES_MAX>, JOINT_CONFIGS_MAX>,
    /// Node descriptions, sorted by node id.
    pub nodes: BoundedVec<(RaftNodeId, NodeInfo), NODES_MAX>,
}

fn too_many(what: &'static str, len: usize, max: usize) -> RecordError {
    RecordError::TooMany {
        what,
        len: len as u64,
        max: max as u64,
    }
}

impl TryFrom<&RaftMembership> for MembershipRecord {
    type Error = RecordError;

    fn try_from(membership: &RaftMembership) -> Result<Self, RecordError> {
        let mut configs = Vec::new();
        for config in membership.get_joint_config() {
            let voters = config.iter().copied().collect::<Vec<_>>();
            let len = voters.len();
            configs
                .push(BoundedVec::new(voters).map_err(|_| too_many("voter set", len, NODES_MAX))?);
        }
        let configs_len = configs.len();
        let nodes = membership
            .nodes()
            .map(|(node_id, node)| (*node_id, node.clone()))
            .collect::<Vec<_>>();
        let nodes_len = nodes.len();
        Ok(Self {
            configs: BoundedVec::new(configs)
                .map_err(|_| too_many("voter configurations", configs_len, JOINT_CONFIGS_MAX))?,
            nodes: BoundedVec::new(nodes).map_err(|_| too_many("nodes", nodes_len, NODES_MAX))?,
        })
    }
}

impl TryFrom<MembershipRecord> for RaftMembership {
    type Error = RecordError;

    fn try_from(record: MembershipRecord) -> Result<Self, RecordError> {
        let mut configs = Vec::with_capacity(record.configs.len());
        for (position, voters) in record.configs.iter().enumerate() {
            if !voters.as_slice().windows(2).all(|pair| pair[0] < pair[1]) {
                return Err(RecordError::UnsortedVoters {
                    config: position as u64,
                });
            }
            configs.push(voters.iter().copied().collect::<BTreeSet<_>>());
        }
        if !record
            .nodes
            .as_slice()
            .windows(2)
            .all(|pair| pair[0].0 < pair[1].0)
        {
            return Err(RecordError::UnsortedNodes);
        }
        let nodes = record
            .nodes
            .into_inner()
            .into_iter()
            .collect::<BTreeMap<_, _>>();
        // `Membership::new` would invent a default description for a voter
        // without one; a stored membership must be complete instead, so that it
        // re-encodes to the bytes it came from.
        if let Some(node_id) = configs
            .iter()
            .flatten()
            .find(|node_id| !nodes.contains_key(node_id))
        {
            return Err(RecordError::VoterWithoutNode { node_id: *node_id });
        }
        Ok(RaftMembership::new(configs, nodes))
    }
}

/// A membership with the log id of the entry that introduced it (none for the
/// empty initial membership).
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct StoredMembershipRecord {
    /// The entry that introduced it.
    pub log_id: Option<LogIdRecord>,
    /// The membership.
    pub membership: MembershipRecord,
}

impl TryFrom<&RaftStoredMembership> for StoredMembershipRecord {
    type Error = RecordError;

    fn try_from(stored: &RaftStoredMembership) -> Result<Self, RecordError> {
        Ok(Self {
            log_id: stored.log_id().as_ref().map(LogIdRecord::from),
            membership: MembershipRecord::try_from(stored.membership())?,
        })
    }
}

impl TryFrom<StoredMembershipRecord> for RaftStoredMembership {
    type Error = RecordError;

    fn try_from(record: StoredMembershipRecord) -> Result<Self, RecordError> {
        Ok(RaftStoredMembership::new(
            record.log_id.map(RaftLogId::from),
            RaftMembership::try_from(record.membership)?,
        ))
    }
}

/// What a log entry carries.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = false)]
pub enum PayloadRecord {
    /// A new leader's blank entry.
    Blank,
    /// A block proposal.
    Normal(BlockProposal),
    /// A membership change.
    Membership(MembershipRecord),
}

/// A Raft log entry: its log id, then its payload.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize)]
pub struct EntryRecord {
    /// The entry's log id.
    pub log_id: LogIdRecord,
    /// Its payload.
    pub payload: PayloadRecord,
}

impl TryFrom<RaftEntry> for EntryRecord {
    type Error = RecordError;

    /// Takes the entry by value so that a large block proposal moves instead of
    /// being copied.
    fn try_from(entry: RaftEntry) -> Result<Self, RecordError> {
        let payload = match entry.payload {
            EntryPayload::Blank => PayloadRecord::Blank,
            EntryPayload::Normal(proposal) => PayloadRecord::Normal(proposal),
            EntryPayload::Membership(membership) => {
                PayloadRecord::Membership(MembershipRecord::try_from(&membership)?)
            }
        };
        Ok(Self {
            log_id: LogIdRecord::from(&entry.log_id),
            payload,
        })
    }
}

impl TryFrom<EntryRecord> for RaftEntry {
    type Error = RecordError;

    fn try_from(record: EntryRecord) -> Result<Self, RecordError> {
        let payload = match record.payload {
            PayloadRecord::Blank => EntryPayload::Blank,
            PayloadRecord::Normal(proposal) => EntryPayload::Normal(proposal),
            PayloadRecord::Membership(membership) => {
                EntryPayload::Membership(RaftMembership::try_from(membership)?)
            }
        };
        Ok(RaftEntry {
            log_id: RaftLogId::from(record.log_id),
            payload,
        })
    }
}
