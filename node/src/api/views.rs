//! The JSON shapes the API returns (ledger types are serialised as they are;
//! these wrap them with where and when).

use gemtrail_ledger::ids::{BlockHash, OrgId, TxId};
use gemtrail_ledger::model::{
    Block, Member, Membership, NodeRecord, Outcome, Receipt, SignedTransaction,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The answer to a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubmitView {
    /// The transaction id.
    #[schema(value_type = String)]
    pub tx_id: TxId,
    /// In a mempool, or in a block (see `receipt`).
    pub status: SubmitStatus,
    /// True when the same transaction was already waiting.
    pub duplicate: bool,
    /// Its receipt, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

/// The answer to a batch submission: one item per transaction, in the
/// order they were sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchSubmitView {
    /// Each transaction's outcome.
    pub items: Vec<BatchItemView>,
}

/// One transaction of a batch: its submission's answer, or why the door
/// refused it (with the code a single submission would have got).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchItemView {
    /// The transaction id.
    #[schema(value_type = String)]
    pub tx_id: TxId,
    /// Where it is; absent when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SubmitStatus>,
    /// True when the same transaction was already waiting.
    #[serde(default)]
    pub duplicate: bool,
    /// Its receipt, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
    /// Why it was refused, or why its wait ended without a receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<super::error::ErrorDetail>,
}

/// Where a submitted transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubmitStatus {
    /// In a mempool, waiting to be ordered.
    Accepted,
    /// In a block; the answer carries its receipt.
    Committed,
}

/// A node's part in Raft, as the status reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RaftRole {
    /// It leads.
    Leader,
    /// It follows a leader (or waits for one).
    Follower,
    /// It is asking for votes.
    Candidate,
    /// It receives the log but does not vote.
    Learner,
    /// Its Raft is stopping.
    Shutdown,
}

impl std::fmt::Display for RaftRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RaftRole::Leader => "leader",
            RaftRole::Follower => "follower",
            RaftRole::Candidate => "candidate",
            RaftRole::Learner => "learner",
            RaftRole::Shutdown => "shutdown",
        })
    }
}

/// A transaction's receipt and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    /// The transaction id.
    #[schema(value_type = String)]
    pub tx_id: TxId,
    /// The block height.
    pub height: u64,
    /// Its position in the block.
    pub tx_index: u32,
    /// Applied, or rejected with its reason.
    #[schema(value_type = Object)]
    pub outcome: Outcome,
}

/// One event of a stone's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryItemView {
    /// The block height.
    pub height: u64,
    /// Position in the block.
    pub tx_index: u32,
    /// The block's timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The transaction id.
    #[schema(value_type = String)]
    pub tx_id: TxId,
    /// The action's name, e.g. `propose_transfer`.
    pub action: String,
    /// The signed transaction.
    #[schema(value_type = Object)]
    pub transaction: SignedTransaction,
}

/// A block with its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockView {
    /// Its hash.
    #[schema(value_type = String)]
    pub hash: BlockHash,
    /// The block.
    #[schema(value_type = Object)]
    pub block: Block,
    /// One receipt per transaction, in block order.
    #[schema(value_type = Vec<Object>)]
    pub receipts: Vec<Receipt>,
}

/// A peer as the status reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerView {
    /// Its Raft node id.
    pub node_id: u64,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its libp2p listen address.
    pub listen_addr: String,
    /// Its API address.
    pub api_addr: String,
    /// Whether this node has a connection to it now (always true for itself).
    pub connected: bool,
}

/// What a node says about itself and the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// This node's Raft id.
    pub node_id: u64,
    /// This node's libp2p peer id.
    pub peer_id: String,
    /// The chain id.
    pub chain_id: String,
    /// The genesis hash.
    #[schema(value_type = String)]
    pub genesis_hash: BlockHash,
    /// This node's part in Raft now.
    pub raft_state: RaftRole,
    /// The leader's node id, if known.
    pub leader: Option<u64>,
    /// The Raft term.
    pub term: u64,
    /// The Raft voters, by node id.
    pub voters: Vec<u64>,
    /// The last applied Raft log index.
    pub last_applied_index: Option<u64>,
    /// The ledger tip's height.
    pub height: u64,
    /// The ledger tip's hash.
    #[schema(value_type = String)]
    pub tip_hash: BlockHash,
    /// The ledger tip's timestamp.
    pub tip_timestamp_ms: u64,
    /// The highest height this node holds a quorum certificate for, if any.
    pub certified_height: Option<u64>,
    /// Transactions waiting in this node's mempool.
    pub mempool_txs: u64,
    /// The consortium's nodes.
    pub peers: Vec<PeerView>,
    /// Connections refused from peers that are not consortium nodes.
    pub refused_connections: u64,
    /// False while a graceful shutdown is under way.
    pub accepting: bool,
    /// Where this node serves passports to buyers (`{public_url}/passport/{stone}`).
    pub public_url: String,
}

/// The consortium as of the tip: its members, nodes and retired member ids,
/// and how many Admin approvals a governance change needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MembersView {
    /// The height this membership is in force at.
    pub height: u64,
    /// The members, in org id order.
    #[schema(value_type = Vec<Object>)]
    pub members: Vec<Member>,
    /// The consensus nodes, in node id order.
    #[schema(value_type = Vec<Object>)]
    pub nodes: Vec<NodeRecord>,
    /// Ids of removed members, which can never be used again.
    #[schema(value_type = Vec<String>)]
    pub retired: Vec<OrgId>,
    /// How many members hold the Admin role.
    pub admins: u32,
    /// Approvals a governance change needs: a strict majority of the Admins.
    pub admin_majority: u32,
}

impl MembersView {
    /// The view of `membership` at `height`.
    pub fn new(height: u64, membership: &Membership) -> Self {
        Self {
            height,
            members: membership.members.values().cloned().collect(),
            nodes: membership.nodes.values().cloned().collect(),
            retired: membership.retired.iter().cloned().collect(),
            admins: membership.admin_count() as u32,
            admin_majority: membership.admin_majority() as u32,
        }
    }

    /// The membership again, for the governance rules' own checks.
    pub fn membership(&self) -> Membership {
        Membership {
            members: self
                .members
                .iter()
                .map(|member| (member.org.clone(), member.clone()))
                .collect(),
            nodes: self
                .nodes
                .iter()
                .map(|node| (node.id, node.clone()))
                .collect(),
            retired: self.retired.iter().cloned().collect(),
        }
    }
}
