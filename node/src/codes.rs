//! Every refusal code a node gives, as one enum: in API error bodies
//! (`{"error": {"code": "replay", ...}}`), in peer refusals and in the
//! leader's answers to forwarded transactions.
//!
//! One type instead of strings means a code cannot be misspelt in one of the
//! places that branch on it, and the question "may this be tried again?" is
//! answered once, by [`ErrorCode::is_retryable`]. The JSON spelling is the
//! snake_case name (docs/api.md lists them); on the wire a code is its borsh
//! variant index (docs/protocol.md), so variants are only ever appended.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A stable, machine-readable reason for refusing a request.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    BorshSerialize,
    BorshDeserialize,
)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum ErrorCode {
    /// The body is not a canonically encoded signed transaction.
    MalformedTransaction,
    /// The transaction names another chain.
    WrongChain,
    /// The transaction carries no approval.
    Unsigned,
    /// An approval's signature does not verify.
    BadSignature,
    /// An approval's key is not one of its organisation's keys.
    KeyNotOfMember,
    /// The transaction id is already burned in the ledger.
    Replay,
    /// The mempool is at capacity.
    MempoolFull,
    /// The node is stopping and takes nothing new.
    ShuttingDown,
    /// The leader refused a forwarded transaction for good.
    NotOrdered,
    /// The commit did not come within the wait.
    CommitTimeout,
    /// The node failed internally.
    Internal,
    /// A path or query parameter does not parse.
    InvalidParameter,
    /// No such transaction in the ledger.
    TransactionNotFound,
    /// No such stone in the ledger.
    StoneNotFound,
    /// No such block in the ledger.
    BlockNotFound,
    /// No route matches the path.
    NoSuchEndpoint,
    /// The route does not take this method.
    MethodNotAllowed,
    /// The request body is over the chain's cap.
    BodyTooLarge,
    /// A peer request came from a peer that is not a consortium node.
    UnknownPeer,
    /// A forwarded transaction reached a node that no longer leads.
    NotLeader,
    /// Raft has stopped on the node asked.
    RaftStopped,
    /// A peer request does not convert to what Raft takes.
    InvalidRequest,
    /// A snapshot is larger than a node accepts.
    SnapshotTooLarge,
    /// A snapshot chunk runs past the snapshot's announced end.
    SnapshotOutOfBounds,
    /// A snapshot's metadata does not convert to what Raft takes.
    InvalidSnapshot,
    /// An answer would hold more items than a peer message carries.
    TooMany,
    /// No certificate is stored for that height.
    CertificateNotFound,
    /// The tip was not certified in time: fewer than a majority of the
    /// nodes signed it.
    NotCertified,
    /// A batch submission holds no transaction, or more than a batch takes.
    InvalidBatch,
    /// A Raft request carries another node's vote than its sender's.
    NotSendersVote,
    /// A snapshot chunk comes under a vote older than this node's.
    StaleVote,
    /// The signer already holds its share of the node's mempool.
    SignerShareFull,
    /// The request body did not arrive within its deadline.
    BodyTimeout,
    /// The signer is not a member (the ledger's `unknown_signer`).
    UnknownSigner,
    /// The first approval is not the signer's (`signer_did_not_sign`).
    SignerDidNotSign,
    /// A transaction other than governance carries more than one approval
    /// (`unexpected_approvals`).
    UnexpectedApprovals,
    /// One member approves twice (`duplicate_approval`).
    DuplicateApproval,
    /// An approver is not a member (`unknown_approver`).
    UnknownApprover,
    /// A governance approver is not an Admin (`missing_role`).
    MissingRole,
    /// Governance approved by fewer than a majority of the Admins
    /// (`not_enough_admin_approvals`).
    NotEnoughAdminApprovals,
    /// A request to a node that requires signed requests carries no
    /// signature (`unsigned_request`, 401).
    UnsignedRequest,
    /// A request's signature, digest or signature parameters do not check
    /// (`bad_request_signature`, 401).
    BadRequestSignature,
    /// A request is signed in the name of an organisation that is not a
    /// member (`unknown_request_signer`, 401).
    UnknownRequestSigner,
    /// A request's nonce was already used within the window
    /// (`replayed_request`, 401).
    ReplayedRequest,
    /// A request's creation time is outside the window around the node's
    /// clock (`request_expired`, 401).
    RequestExpired,
}

impl ErrorCode {
    /// The code as docs/api.md spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedTransaction => "malformed_transaction",
            ErrorCode::WrongChain => "wrong_chain",
            ErrorCode::Unsigned => "unsigned",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::KeyNotOfMember => "key_not_of_member",
            ErrorCode::Replay => "replay",
            ErrorCode::MempoolFull => "mempool_full",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::NotOrdered => "not_ordered",
            ErrorCode::CommitTimeout => "commit_timeout",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::TransactionNotFound => "transaction_not_found",
            ErrorCode::StoneNotFound => "stone_not_found",
            ErrorCode::BlockNotFound => "block_not_found",
            ErrorCode::NoSuchEndpoint => "no_such_endpoint",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::NotLeader => "not_leader",
            ErrorCode::RaftStopped => "raft_stopped",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::SnapshotTooLarge => "snapshot_too_large",
            ErrorCode::SnapshotOutOfBounds => "snapshot_out_of_bounds",
            ErrorCode::InvalidSnapshot => "invalid_snapshot",
            ErrorCode::TooMany => "too_many",
            ErrorCode::CertificateNotFound => "certificate_not_found",
            ErrorCode::NotCertified => "not_certified",
            ErrorCode::InvalidBatch => "invalid_batch",
            ErrorCode::NotSendersVote => "not_senders_vote",
            ErrorCode::StaleVote => "stale_vote",
            ErrorCode::SignerShareFull => "signer_share_full",
            ErrorCode::BodyTimeout => "body_timeout",
            ErrorCode::UnknownSigner => "unknown_signer",
            ErrorCode::SignerDidNotSign => "signer_did_not_sign",
            ErrorCode::UnexpectedApprovals => "unexpected_approvals",
            ErrorCode::DuplicateApproval => "duplicate_approval",
            ErrorCode::UnknownApprover => "unknown_approver",
            ErrorCode::MissingRole => "missing_role",
            ErrorCode::NotEnoughAdminApprovals => "not_enough_admin_approvals",
            ErrorCode::UnsignedRequest => "unsigned_request",
            ErrorCode::BadRequestSignature => "bad_request_signature",
            ErrorCode::UnknownRequestSigner => "unknown_request_signer",
            ErrorCode::ReplayedRequest => "replayed_request",
            ErrorCode::RequestExpired => "request_expired",
        }
    }

    /// Whether the same request may succeed later unchanged: the refusal is
    /// about the node's moment (its role, its load, its stopping), not about
    /// the transaction.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::NotLeader
                | ErrorCode::MempoolFull
                | ErrorCode::SignerShareFull
                | ErrorCode::ShuttingDown
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_spelling_is_the_documented_one() {
        for code in [
            ErrorCode::MalformedTransaction,
            ErrorCode::KeyNotOfMember,
            ErrorCode::SnapshotOutOfBounds,
            ErrorCode::TooMany,
            ErrorCode::NotCertified,
            ErrorCode::InvalidBatch,
            ErrorCode::NotSendersVote,
            ErrorCode::StaleVote,
            ErrorCode::SignerShareFull,
            ErrorCode::BodyTimeout,
            ErrorCode::NotEnoughAdminApprovals,
            ErrorCode::SignerDidNotSign,
            ErrorCode::UnsignedRequest,
            ErrorCode::ReplayedRequest,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn only_the_nodes_moment_is_retryable() {
        assert!(ErrorCode::NotLeader.is_retryable());
        assert!(ErrorCode::MempoolFull.is_retryable());
        assert!(ErrorCode::SignerShareFull.is_retryable());
        assert!(ErrorCode::ShuttingDown.is_retryable());
        assert!(!ErrorCode::Replay.is_retryable());
        assert!(!ErrorCode::KeyNotOfMember.is_retryable());
        assert!(!ErrorCode::UnknownPeer.is_retryable());
    }

    #[test]
    fn the_wire_form_is_the_variant_index() {
        assert_eq!(
            borsh::to_vec(&ErrorCode::MalformedTransaction).unwrap(),
            [0]
        );
        assert_eq!(borsh::to_vec(&ErrorCode::Replay).unwrap(), [5]);
        assert_eq!(borsh::to_vec(&ErrorCode::TooMany).unwrap(), [25]);
    }
}
