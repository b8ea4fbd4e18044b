//! The peer-to-peer messages: Raft RPCs, snapshot chunks, forwarded
//! transactions and checkpoint signatures, in the one canonical borsh encoding.
//!
//! openraft's own types are serde-only, so each RPC travels as a borsh mirror
//! built from the consensus crate's stored records ([`EntryRecord`],
//! [`VoteRecord`], ...). Every collection is bounded, and the codec
//! ([`super::codec`]) caps the whole message before it is decoded.

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_consensus::error::RecordError;
use gemtrail_consensus::record::{EntryRecord, LogIdRecord, StoredMembershipRecord, VoteRecord};
use gemtrail_consensus::types::{RaftNodeId, TypeConfig};
use gemtrail_ledger::certificate::{Checkpoint, NodeSignature};
use gemtrail_ledger::codec::{BoundedString, BoundedVec};
use gemtrail_ledger::ids::TxId;
use gemtrail_ledger::model::SignedTransaction;

use crate::codes::ErrorCode;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::SnapshotMeta;

use gemtrail_consensus::types::NodeInfo;

/// Most log entries in one AppendEntries message (openraft's
/// `max_payload_entries` is set to the same value).
pub const APPEND_ENTRIES_MAX: usize = 256;
/// Most transactions a follower forwards to the leader in one message.
pub const FORWARD_BATCH_MAX: usize = 1024;
/// Longest error text carried back to a peer.
pub const REASON_BYTES_MAX: usize = 1024;
/// Longest snapshot id.
pub const SNAPSHOT_ID_BYTES_MAX: usize = 128;

/// A bounded human-readable reason.
pub type ReasonText = BoundedString<REASON_BYTES_MAX>;

/// Makes a reason, cutting it to [`REASON_BYTES_MAX`] on a character boundary.
pub fn reason(text: impl Into<String>) -> ReasonText {
    let mut text: String = text.into();
    if text.len() > REASON_BYTES_MAX {
        let mut cut = REASON_BYTES_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    BoundedString::new(text).unwrap_or_default()
}

/// A request from one node to another.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = false)]
pub enum PeerRequest {
    /// Raft log replication and heartbeats.
    AppendEntries(AppendEntriesWire),
    /// A Raft election vote request.
    Vote(VoteRequestWire),
    /// One piece of a snapshot the leader streams to a lagging node.
    SnapshotChunk(SnapshotChunkWire),
    /// Client transactions a follower received, for the leader's mempool.
    Forward(BoundedVec<SignedTransaction, FORWARD_BATCH_MAX>),
    /// The sender's signature of the checkpoint of a block it applied.
    Checkpoint(CheckpointVote),
}

/// A node's signature of a checkpoint, as sent to the other nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CheckpointVote {
    /// What was signed.
    pub checkpoint: Checkpoint,
    /// The signature, naming its node.
    pub signature: NodeSignature,
}

/// The answer to a [`PeerRequest`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = false)]
pub enum PeerResponse {
    /// Answer to [`PeerRequest::AppendEntries`].
    AppendEntries(AppendEntriesResponseWire),
    /// Answer to [`PeerRequest::Vote`].
    Vote(VoteResponseWire),
    /// A chunk was stored; send the next one from this offset.
    SnapshotChunkStored {
        /// How many bytes of the snapshot the receiver now holds.
        received: u64,
    },
    /// The last chunk arrived and the snapshot is installed.
    SnapshotInstalled {
        /// The receiver's vote after installing.
        vote: VoteRecord,
    },
    /// Per forwarded transaction, in order: admitted, or refused and why.
    Forwarded(BoundedVec<ForwardOutcome, FORWARD_BATCH_MAX>),
    /// The request was not handled (unknown peer, Raft stopped, a chunk out of
    /// order, not the leader ...).
    Refused(Refusal),
    /// Answer to [`PeerRequest::Checkpoint`]: the receiver's own signature
    /// of that height, if it has applied and signed it.
    Checkpoint(Option<Box<CheckpointVote>>),
}

/// Why a request was not handled.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Refusal {
    /// A stable machine-readable code, e.g. [`ErrorCode::UnknownPeer`].
    pub code: ErrorCode,
    /// What happened.
    pub reason: ReasonText,
}

impl Refusal {
    /// A refusal with `code` and `reason`.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason(text),
        }
    }
}

/// What the leader did with one forwarded transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = false)]
pub enum ForwardOutcome {
    /// In the leader's mempool (or already there).
    Admitted(TxId),
    /// Refused at the leader's door, with the API error code.
    Refused(Refusal),
}

/// [`AppendEntriesRequest`] on the wire.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AppendEntriesWire {
    /// The leader's vote.
    pub vote: VoteRecord,
    /// The log id just before the entries.
    pub prev_log_id: Option<LogIdRecord>,
    /// The entries to append.
    pub entries: BoundedVec<EntryRecord, APPEND_ENTRIES_MAX>,
    /// The leader's committed log id.
    pub leader_commit: Option<LogIdRecord>,
}

impl AppendEntriesWire {
    /// Converts openraft's request, moving its entries.
    pub fn from_raft(request: AppendEntriesRequest<TypeConfig>) -> Result<Self, WireError> {
        let entries = request
            .entries
            .into_iter()
            .map(EntryRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let count = entries.len();
        Ok(Self {
            vote: VoteRecord::from(&request.vote),
            prev_log_id: request.prev_log_id.as_ref().map(LogIdRecord::from),
            entries: BoundedVec::new(entries).map_err(|_| WireError::TooManyEntries { count })?,
            leader_commit: request.leader_commit.as_ref().map(LogIdRecord::from),
        })
    }

    /// Converts back to openraft's request.
    pub fn into_raft(self) -> Result<AppendEntriesRequest<TypeConfig>, WireError> {
        let entries = self
            .entries
            .into_inner()
            .into_iter()
            .map(openraft::Entry::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AppendEntriesRequest {
            vote: self.vote.into(),
            prev_log_id: self.prev_log_id.map(Into::into),
            entries,
            leader_commit: self.leader_commit.map(Into::into),
        })
    }
}

/// [`AppendEntriesResponse`] on the wire.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = false)]
pub enum AppendEntriesResponseWire {
    /// All entries appended.
    Success,
    /// Entries up to this log id appended.
    PartialSuccess(Option<LogIdRecord>),
    /// The previous log id does not match.
    Conflict,
    /// The receiver has seen a higher vote.
    HigherVote(VoteRecord),
}

impl From<&AppendEntriesResponse<RaftNodeId>> for AppendEntriesResponseWire {
    fn from(response: &AppendEntriesResponse<RaftNodeId>) -> Self {
        match response {
            AppendEntriesResponse::Success => Self::Success,
            AppendEntriesResponse::PartialSuccess(log_id) => {
                Self::PartialSuccess(log_id.as_ref().map(LogIdRecord::from))
            }
            AppendEntriesResponse::Conflict => Self::Conflict,
            AppendEntriesResponse::HigherVote(vote) => Self::HigherVote(VoteRecord::from(vote)),
        }
    }
}

impl From<AppendEntriesResponseWire> for AppendEntriesResponse<RaftNodeId> {
    fn from(response: AppendEntriesResponseWire) -> Self {
        match response {
            AppendEntriesResponseWire::Success => Self::Success,
            AppendEntriesResponseWire::PartialSuccess(log_id) => {
                Self::PartialSuccess(log_id.map(Into::into))
            }
            AppendEntriesResponseWire::Conflict => Self::Conflict,
            AppendEntriesResponseWire::HigherVote(vote) => Self::HigherVote(vote.into()),
        }
    }
}

/// [`VoteRequest`] on the wire.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VoteRequestWire {
    /// The candidate's vote.
    pub vote: VoteRecord,
    /// The candidate's last log id.
    pub last_log_id: Option<LogIdRecord>,
}

impl From<&VoteRequest<RaftNodeId>> for VoteRequestWire {
    fn from(request: &VoteRequest<RaftNodeId>) -> Self {
        Self {
            vote: VoteRecord::from(&request.vote),
            last_log_id: request.last_log_id.as_ref().map(LogIdRecord::from),
        }
    }
}

impl From<VoteRequestWire> for VoteRequest<RaftNodeId> {
    fn from(request: VoteRequestWire) -> Self {
        VoteRequest::new(request.vote.into(), request.last_log_id.map(Into::into))
    }
}

/// [`VoteResponse`] on the wire.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct VoteResponseWire {
    /// The voter's vote after handling the request.
    pub vote: VoteRecord,
    /// Whether the vote was granted.
    pub vote_granted: bool,
    /// The voter's last log id.
    pub last_log_id: Option<LogIdRecord>,
}

impl From<&VoteResponse<RaftNodeId>> for VoteResponseWire {
    fn from(response: &VoteResponse<RaftNodeId>) -> Self {
        Self {
            vote: VoteRecord::from(&response.vote),
            vote_granted: response.vote_granted,
            last_log_id: response.last_log_id.as_ref().map(LogIdRecord::from),
        }
    }
}

impl From<VoteResponseWire> for VoteResponse<RaftNodeId> {
    fn from(response: VoteResponseWire) -> Self {
        VoteResponse::new(
            openraft::Vote::from(response.vote),
            response.last_log_id.map(Into::into),
            response.vote_granted,
        )
    }
}

/// One chunk of a snapshot. Chunks of one snapshot are sent in order, one at
/// a time; the receiver keeps only the snapshot it is receiving.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SnapshotChunkWire {
    /// The sending leader's vote.
    pub vote: VoteRecord,
    /// What the snapshot covers.
    pub meta: SnapshotMetaWire,
    /// The whole snapshot's size in bytes.
    pub total_bytes: u64,
    /// Where this chunk starts.
    pub offset: u64,
    /// The chunk's bytes (capped by the codec's message limit).
    pub data: Vec<u8>,
}

/// [`SnapshotMeta`] on the wire.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SnapshotMetaWire {
    /// The last log id the snapshot includes.
    pub last_log_id: Option<LogIdRecord>,
    /// The membership as of that log id.
    pub last_membership: StoredMembershipRecord,
    /// The snapshot's id.
    pub snapshot_id: BoundedString<SNAPSHOT_ID_BYTES_MAX>,
}

impl SnapshotMetaWire {
    /// Converts openraft's snapshot metadata.
    pub fn from_raft(meta: &SnapshotMeta<RaftNodeId, NodeInfo>) -> Result<Self, WireError> {
        Ok(Self {
            last_log_id: meta.last_log_id.as_ref().map(LogIdRecord::from),
            last_membership: StoredMembershipRecord::try_from(&meta.last_membership)?,
            snapshot_id: BoundedString::new(meta.snapshot_id.clone()).map_err(|_| {
                WireError::SnapshotIdTooLong {
                    bytes: meta.snapshot_id.len(),
                }
            })?,
        })
    }

    /// Converts back to openraft's snapshot metadata.
    pub fn into_raft(self) -> Result<SnapshotMeta<RaftNodeId, NodeInfo>, WireError> {
        Ok(SnapshotMeta {
            last_log_id: self.last_log_id.map(Into::into),
            last_membership: self.last_membership.try_into()?,
            snapshot_id: self.snapshot_id.as_str().to_owned(),
        })
    }
}

/// The answer to a snapshot transfer, as openraft wants it.
pub fn snapshot_response(vote: VoteRecord) -> SnapshotResponse<RaftNodeId> {
    SnapshotResponse::new(vote.into())
}

/// Why a value could not be put on, or taken off, the wire.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// A Raft record is invalid (e.g. a membership too large).
    #[error("invalid Raft record: {0}")]
    Record(#[from] RecordError),
    /// More entries than one message carries.
    #[error("{count} entries are more than the {APPEND_ENTRIES_MAX} one message carries")]
    TooManyEntries {
        /// How many there were.
        count: usize,
    },
    /// A snapshot id longer than [`SNAPSHOT_ID_BYTES_MAX`].
    #[error("snapshot id of {bytes} bytes is longer than {SNAPSHOT_ID_BYTES_MAX}")]
    SnapshotIdTooLong {
        /// Its length.
        bytes: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemtrail_consensus::types::{RaftEntry, RaftLogId, RaftMembership};
    use gemtrail_ledger::codec::{decode, encode};
    use openraft::{CommittedLeaderId, EntryPayload, Vote};
    use std::collections::{BTreeMap, BTreeSet};

    fn log_id(term: u64, index: u64) -> RaftLogId {
        RaftLogId::new(CommittedLeaderId::new(term, 1), index)
    }

    #[test]
    fn append_entries_survive_the_wire() {
        let info = NodeInfo::new("peer", "/ip4/127.0.0.1/tcp/1", "127.0.0.1:2").unwrap();
        let membership = RaftMembership::new(
            vec![BTreeSet::from([1, 2])],
            BTreeMap::from([(1, info.clone()), (2, info)]),
        );
        let request = AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(3, 1),
            prev_log_id: Some(log_id(2, 7)),
            entries: vec![
                RaftEntry {
                    log_id: log_id(3, 8),
                    payload: EntryPayload::Blank,
                },
                RaftEntry {
                    log_id: log_id(3, 9),
                    payload: EntryPayload::Membership(membership),
                },
            ],
            leader_commit: Some(log_id(2, 7)),
        };
        let wire = AppendEntriesWire::from_raft(request.clone()).unwrap();
        let bytes = encode(&PeerRequest::AppendEntries(wire));
        let PeerRequest::AppendEntries(back) = decode::<PeerRequest>(&bytes).unwrap() else {
            panic!("wrong variant");
        };
        let back = back.into_raft().unwrap();
        assert_eq!(back.vote, request.vote);
        assert_eq!(back.prev_log_id, request.prev_log_id);
        assert_eq!(back.leader_commit, request.leader_commit);
        assert_eq!(back.entries, request.entries);
    }

    #[test]
    fn votes_and_answers_survive_the_wire() {
        let request = VoteRequest::new(Vote::new(4, 2), Some(log_id(3, 11)));
        let back: VoteRequest<RaftNodeId> = VoteRequestWire::from(&request).into();
        assert_eq!(back, request);
        let response = VoteResponse::new(Vote::new(4, 2), Some(log_id(3, 11)), true);
        let back: VoteResponse<RaftNodeId> = VoteResponseWire::from(&response).into();
        assert_eq!(back, response);
        for answer in [
            AppendEntriesResponse::Success,
            AppendEntriesResponse::Conflict,
            AppendEntriesResponse::PartialSuccess(Some(log_id(1, 2))),
            AppendEntriesResponse::HigherVote(Vote::new(9, 3)),
        ] {
            let back: AppendEntriesResponse<RaftNodeId> =
                AppendEntriesResponseWire::from(&answer).into();
            assert_eq!(back, answer);
        }
    }

    #[test]
    fn too_many_entries_are_refused_and_long_reasons_are_cut() {
        let entries = (0..=APPEND_ENTRIES_MAX as u64)
            .map(|index| RaftEntry {
                log_id: log_id(1, index + 1),
                payload: EntryPayload::Blank,
            })
            .collect();
        let request = AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(1, 1),
            prev_log_id: None,
            entries,
            leader_commit: None,
        };
        let error = AppendEntriesWire::from_raft(request).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{} entries are more than the {APPEND_ENTRIES_MAX} one message carries",
                APPEND_ENTRIES_MAX + 1
            )
        );
        let long = "é".repeat(REASON_BYTES_MAX);
        let cut = reason(long);
        assert!(cut.as_str().len() <= REASON_BYTES_MAX);
        assert!(cut.as_str().chars().all(|c| c == 'é'));
    }
}
