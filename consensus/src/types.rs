//! The openraft type configuration of gemtrail: what a Raft entry carries
//! ([`BlockProposal`]), what applying one answers ([`EntryApplied`]), and how a
//! node is addressed ([`NodeInfo`]).
//!
//! Every type here derives serde (openraft's `serde` feature requires it of
//! `D`, `R` and `Node`, and the network layer may use it at the edge), and the
//! types that are stored also derive borsh, the one canonical encoding.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_ledger::codec::BoundedString;
use gemtrail_ledger::ids::BlockHash;
use gemtrail_ledger::model::{BlockProposal, Receipt, ADDRESS_BYTES_MAX, PEER_ID_BYTES_MAX};
use serde::{Deserialize, Serialize};

use crate::error::NodeInfoError;

openraft::declare_raft_types!(
    /// gemtrail's openraft type configuration: one Raft entry is one
    /// [`BlockProposal`], node ids are `u64`, nodes are described by [`NodeInfo`],
    /// snapshots are handles to ledger checkpoints or dumps, and the runtime is tokio.
    pub TypeConfig:
        D = BlockProposal,
        R = EntryApplied,
        NodeId = u64,
        Node = NodeInfo,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = crate::snapshot_files::SnapshotData,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A Raft node id.
pub type RaftNodeId = u64;
/// A Raft log entry of gemtrail.
pub type RaftEntry = openraft::Entry<TypeConfig>;
/// A Raft log id (leader term, leader node id, index).
pub type RaftLogId = openraft::LogId<RaftNodeId>;
/// A Raft vote.
pub type RaftVote = openraft::Vote<RaftNodeId>;
/// A Raft membership (voter configurations and node descriptions).
pub type RaftMembership = openraft::Membership<RaftNodeId, NodeInfo>;
/// A membership together with the log id of the entry that introduced it.
pub type RaftStoredMembership = openraft::StoredMembership<RaftNodeId, NodeInfo>;
/// A storage error as openraft reports it.
pub type RaftStorageError = openraft::StorageError<RaftNodeId>;

/// Text of a libp2p peer id.
pub type PeerIdText = BoundedString<PEER_ID_BYTES_MAX>;
/// Text of a network address (a multiaddr or `host:port`).
pub type AddressText = BoundedString<ADDRESS_BYTES_MAX>;

/// How to reach one consensus node. Stored inside membership entries, so it is
/// bounded and has a canonical borsh encoding.
#[derive(
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Debug,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct NodeInfo {
    /// The node's libp2p peer id.
    pub peer_id: PeerIdText,
    /// The address its libp2p swarm listens on.
    pub listen_addr: AddressText,
    /// The address of its HTTP API.
    pub api_addr: AddressText,
}

impl NodeInfo {
    /// Builds a node description, refusing any field longer than its maximum.
    pub fn new(peer_id: &str, listen_addr: &str, api_addr: &str) -> Result<Self, NodeInfoError> {
        let field_error =
            |field: &'static str| move |source| NodeInfoError::FieldTooLong { field, source };
        Ok(Self {
            peer_id: PeerIdText::new(peer_id).map_err(field_error("peer_id"))?,
            listen_addr: AddressText::new(listen_addr).map_err(field_error("listen_addr"))?,
            api_addr: AddressText::new(api_addr).map_err(field_error("api_addr"))?,
        })
    }
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {} (api {})",
            self.peer_id, self.listen_addr, self.api_addr
        )
    }
}

/// What applying one Raft entry produced: the state machine answers every entry,
/// including the blank and membership entries that build no block.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryApplied {
    /// A blank entry (a new leader's first entry): nothing changed.
    Blank,
    /// A membership entry: the Raft voters or learners changed.
    Membership,
    /// A block proposal was applied and built this block.
    Block(BlockApplied),
}

/// The block a block proposal built.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct BlockApplied {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: BlockHash,
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
}
