//! Receipts: what became of each transaction in a block, and every reason a
//! transaction can be rejected.
//!
//! A rejected transaction stays in its block (so its submitter learns why, and
//! its id cannot be replayed) but changes no state.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{Carats, FlagReason, ProposalStatus, Role, MANUFACTURE_OUTPUTS_MAX, PARCEL_STONES_MAX};
use crate::codec::BoundedVec;
use crate::crypto::PublicKey;
use crate::ids::{ChainId, NodeId, OrgId, ProposalId, StoneId, TxId};

/// The outcome of one transaction in a block.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction.
    pub tx_id: TxId,
    /// What happened to it.
    pub outcome: Outcome,
    /// The stone events it made, each with its sequence number among its
    /// stone's events (none when rejected). Committed under the receipts
    /// root, so a proof cannot drop an event unseen: the state tree says how
    /// many each stone has had.
    pub events: BoundedVec<EventSeq, RECEIPT_EVENTS_MAX>,
}

/// Most stone events one transaction makes: a parcel transfer moves up to
/// [`PARCEL_STONES_MAX`] stones, a cut changes its rough and makes up to
/// [`MANUFACTURE_OUTPUTS_MAX`] stones.
pub const RECEIPT_EVENTS_MAX: usize = PARCEL_STONES_MAX;
const _: () = assert!(MANUFACTURE_OUTPUTS_MAX < RECEIPT_EVENTS_MAX);

/// One event of a stone: the `seq`-th (0 is its creation).
#[derive(
    Clone, PartialEq, Eq, Debug, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct EventSeq {
    /// The stone.
    pub stone: StoneId,
    /// Its sequence number among the stone's events.
    pub seq: u32,
}

/// Applied or rejected.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum Outcome {
    /// The transaction took effect.
    Applied,
    /// The transaction changed nothing, for this reason.
    Rejected {
        /// Why.
        reason: RejectReason,
    },
}

impl Outcome {
    /// True for [`Outcome::Applied`].
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied)
    }
}

/// Every reason a transaction can be rejected. `code()` is stable and
/// machine-readable; `Display` is for people.
#[derive(
    Clone,
    PartialEq,
    Eq,
    Debug,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    thiserror::Error,
)]
#[serde(tag = "code", rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum RejectReason {
    // --- who signed ---
    /// The transaction names another chain.
    #[error("transaction is for chain {found}, this chain is {expected}")]
    WrongChain {
        /// This chain.
        expected: ChainId,
        /// The chain named.
        found: ChainId,
    },
    /// The transaction id is already on the ledger (or earlier in the same block).
    #[error("transaction {tx_id} was already submitted (replay)")]
    Replay {
        /// The id seen before.
        tx_id: TxId,
    },
    /// The signer is not a member.
    #[error("{org} is not a member of the consortium")]
    UnknownSigner {
        /// The claimed signer.
        org: OrgId,
    },
    /// The first approval is not the signer's own.
    #[error("the first signature must be the signer's ({signer})")]
    SignerDidNotSign {
        /// The signer.
        signer: OrgId,
    },
    /// An ordinary action carries more than one signature.
    #[error("this action takes exactly one signature, found {count}")]
    UnexpectedApprovals {
        /// Signatures found.
        count: u32,
    },
    /// An approving member signed twice.
    #[error("{org} approved more than once")]
    DuplicateApproval {
        /// The member.
        org: OrgId,
    },
    /// An approving organisation is not a member.
    #[error("approver {org} is not a member")]
    UnknownApprover {
        /// The approver.
        org: OrgId,
    },
    /// The key that signed is not one of the approver's keys.
    #[error("key {key} is not a key of {org}")]
    KeyNotOfMember {
        /// The approver.
        org: OrgId,
        /// The key used.
        key: PublicKey,
    },
    /// A signature does not verify (strictly) for the transaction id.
    #[error("signature of {org} does not verify")]
    BadSignature {
        /// The approver whose signature failed.
        org: OrgId,
    },
    /// The signer lacks the role the action needs.
    #[error("{org} does not hold the {role} role")]
    MissingRole {
        /// The signer.
        org: OrgId,
        /// The role needed.
        role: Role,
    },
    /// Governance without a majority of Admin approvals.
    #[error("governance needs {required} admin approvals, found {approvals}")]
    NotEnoughAdminApprovals {
        /// Distinct admins that approved.
        approvals: u32,
        /// The majority needed.
        required: u32,
    },

    // --- stones ---
    /// A stone with this id already exists (ids are unique forever).
    #[error("stone {stone} already exists")]
    StoneExists {
        /// The id.
        stone: StoneId,
    },
    /// No stone has this id.
    #[error("stone {stone} is not on the ledger")]
    UnknownStone {
        /// The id.
        stone: StoneId,
    },
    /// The signer does not hold the stone.
    #[error("{signer} is not the custodian of {stone} (held by {custodian})")]
    NotCustodian {
        /// The stone.
        stone: StoneId,
        /// Who signed.
        signer: OrgId,
        /// Who holds it.
        custodian: OrgId,
    },
    /// The stone is flagged and cannot move.
    #[error("stone {stone} is flagged {reason} and cannot move")]
    StoneFlagged {
        /// The stone.
        stone: StoneId,
        /// The flag.
        reason: FlagReason,
    },
    /// The stone was sold: final.
    #[error("stone {stone} was sold; a sale is final")]
    StoneSold {
        /// The stone.
        stone: StoneId,
    },
    /// The rough was already cut into polished stones.
    #[error("stone {stone} was cut into polished stones and no longer exists as itself")]
    StoneConsumed {
        /// The stone.
        stone: StoneId,
    },
    /// The stone is already offered in an open proposal.
    #[error("stone {stone} is already in open proposal {proposal}")]
    StoneInOpenProposal {
        /// The stone.
        stone: StoneId,
        /// The open proposal.
        proposal: ProposalId,
    },
    /// A stone id appears twice in one parcel or one manufacture.
    #[error("stone {stone} appears more than once")]
    DuplicateStone {
        /// The repeated id.
        stone: StoneId,
    },
    /// Weight zero or beyond any real stone.
    #[error("{stone} has an impossible weight of {carats}")]
    ImplausibleCarats {
        /// The stone.
        stone: StoneId,
        /// The weight given.
        carats: Carats,
    },
    /// A flag on a stone that is already flagged.
    #[error("stone {stone} is already flagged {reason}")]
    AlreadyFlagged {
        /// The stone.
        stone: StoneId,
        /// The existing flag.
        reason: FlagReason,
    },
    /// Clearing a flag on a stone that has none.
    #[error("stone {stone} is not flagged")]
    NotFlagged {
        /// The stone.
        stone: StoneId,
    },
    /// Flagging or clearing by someone who is not the custodian, an Auditor or an Admin.
    #[error("{org} may not flag {stone}: only its custodian, an auditor or an admin may")]
    NotEntitledToFlag {
        /// The signer.
        org: OrgId,
        /// The stone.
        stone: StoneId,
    },

    // --- transfers ---
    /// A proposal with no stones.
    #[error("a transfer parcel needs at least one stone")]
    EmptyParcel,
    /// A proposal to oneself.
    #[error("cannot transfer to yourself")]
    TransferToSelf,
    /// The receiver is not a member.
    #[error("receiver {org} is not a member")]
    UnknownReceiver {
        /// The receiver named.
        org: OrgId,
    },
    /// No proposal has this id.
    #[error("no transfer proposal {proposal}")]
    UnknownProposal {
        /// The id.
        proposal: ProposalId,
    },
    /// The proposal was already accepted, rejected or cancelled.
    #[error("proposal {proposal} is already {status}")]
    ProposalClosed {
        /// The id.
        proposal: ProposalId,
        /// Its status.
        status: ProposalStatus,
    },
    /// Accepting or rejecting by someone other than the receiver.
    #[error("only {receiver}, the receiver, may answer proposal {proposal}")]
    NotReceiver {
        /// The proposal.
        proposal: ProposalId,
        /// Its receiver.
        receiver: OrgId,
    },
    /// Cancelling by someone other than the proposer.
    #[error("only {proposer}, the proposer, may cancel proposal {proposal}")]
    NotProposer {
        /// The proposal.
        proposal: ProposalId,
        /// Its proposer.
        proposer: OrgId,
    },

    // --- manufacture ---
    /// Cutting a stone that is already polished.
    #[error("stone {stone} is polished, not rough")]
    NotRough {
        /// The stone.
        stone: StoneId,
    },
    /// A manufacture with no outputs.
    #[error("a manufacture needs at least one polished output")]
    NoOutputs,
    /// The outputs weigh more than the rough.
    #[error("outputs weigh {outputs} but the rough weighs only {rough}")]
    CaratsExceeded {
        /// The rough's weight.
        rough: Carats,
        /// The outputs' total weight.
        outputs: Carats,
    },

    // --- governance ---
    /// Adding a member that exists.
    #[error("member {org} already exists")]
    MemberExists {
        /// The member.
        org: OrgId,
    },
    /// Changing a member that does not exist.
    #[error("no member {org}")]
    UnknownMember {
        /// The member.
        org: OrgId,
    },
    /// A member with no keys, or no roles.
    #[error("member {org} needs at least one key and one role")]
    IncompleteMember {
        /// The member.
        org: OrgId,
    },
    /// A key that is not a valid curve point.
    #[error("key {key} is not a valid ed25519 public key")]
    MalformedKey {
        /// The key.
        key: PublicKey,
    },
    /// A key of small order, whose signatures anyone could forge.
    #[error("key {key} is weak (small order) and cannot be registered")]
    WeakKey {
        /// The key.
        key: PublicKey,
    },
    /// A key already held by a member.
    #[error("key {key} is already registered to {org}")]
    KeyInUse {
        /// The key.
        key: PublicKey,
        /// Its holder.
        org: OrgId,
    },
    /// The change would leave the consortium without an Admin.
    #[error("the consortium must keep at least one admin")]
    LastAdmin,
    /// Adding a node that exists, or whose peer id is taken.
    #[error("node {node} already exists")]
    NodeExists {
        /// The node.
        node: NodeId,
    },
    /// Removing a node that does not exist.
    #[error("no node {node}")]
    UnknownNode {
        /// The node.
        node: NodeId,
    },
    /// Removing the last node, or adding beyond the node limit.
    #[error("the node set must hold between 1 and {max} nodes")]
    NodeCountOutOfRange {
        /// The most nodes allowed.
        max: u32,
    },
    /// Adding a member beyond the member limit.
    #[error("the consortium is full ({max} members)")]
    TooManyMembers {
        /// The most members allowed.
        max: u32,
    },
    /// Removing a member that still runs a node.
    #[error("member {org} still runs node {node}")]
    MemberRunsNode {
        /// The member.
        org: OrgId,
        /// Its node.
        node: NodeId,
    },
    /// Adding a member under an org id that a removed member held: ids are
    /// never reused, so no newcomer inherits a former member's stones,
    /// proposals or history.
    #[error("member id {org} belonged to a removed member and cannot be used again")]
    MemberRetired {
        /// The retired id.
        org: OrgId,
    },
    /// Accepting a proposal whose proposer has since been removed.
    #[error("proposal {proposal} was made by {org}, which is no longer a member")]
    ProposerNotMember {
        /// The proposal.
        proposal: ProposalId,
        /// Its former proposer.
        org: OrgId,
    },
}

impl RejectReason {
    /// The stable, machine-readable code (the serde tag).
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::WrongChain { .. } => "wrong_chain",
            RejectReason::Replay { .. } => "replay",
            RejectReason::UnknownSigner { .. } => "unknown_signer",
            RejectReason::SignerDidNotSign { .. } => "signer_did_not_sign",
            RejectReason::UnexpectedApprovals { .. } => "unexpected_approvals",
            RejectReason::DuplicateApproval { .. } => "duplicate_approval",
            RejectReason::UnknownApprover { .. } => "unknown_approver",
            RejectReason::KeyNotOfMember { .. } => "key_not_of_member",
            RejectReason::BadSignature { .. } => "bad_signature",
            RejectReason::MissingRole { .. } => "missing_role",
            RejectReason::NotEnoughAdminApprovals { .. } => "not_enough_admin_approvals",
            RejectReason::StoneExists { .. } => "stone_exists",
            RejectReason::UnknownStone { .. } => "unknown_stone",
            RejectReason::NotCustodian { .. } => "not_custodian",
            RejectReason::StoneFlagged { .. } => "stone_flagged",
            RejectReason::StoneSold { .. } => "stone_sold",
            RejectReason::StoneConsumed { .. } => "stone_consumed",
            RejectReason::StoneInOpenProposal { .. } => "stone_in_open_proposal",
            RejectReason::DuplicateStone { .. } => "duplicate_stone",
            RejectReason::ImplausibleCarats { .. } => "implausible_carats",
            RejectReason::AlreadyFlagged { .. } => "already_flagged",
            RejectReason::NotFlagged { .. } => "not_flagged",
            RejectReason::NotEntitledToFlag { .. } => "not_entitled_to_flag",
            RejectReason::EmptyParcel => "empty_parcel",
            RejectReason::TransferToSelf => "transfer_to_self",
            RejectReason::UnknownReceiver { .. } => "unknown_receiver",
            RejectReason::UnknownProposal { .. } => "unknown_proposal",
            RejectReason::ProposalClosed { .. } => "proposal_closed",
            RejectReason::NotReceiver { .. } => "not_receiver",
            RejectReason::NotProposer { .. } => "not_proposer",
            RejectReason::NotRough { .. } => "not_rough",
            RejectReason::NoOutputs => "no_outputs",
            RejectReason::CaratsExceeded { .. } => "carats_exceeded",
            RejectReason::MemberExists { .. } => "member_exists",
            RejectReason::UnknownMember { .. } => "unknown_member",
            RejectReason::IncompleteMember { .. } => "incomplete_member",
            RejectReason::MalformedKey { .. } => "malformed_key",
            RejectReason::WeakKey { .. } => "weak_key",
            RejectReason::KeyInUse { .. } => "key_in_use",
            RejectReason::LastAdmin => "last_admin",
            RejectReason::NodeExists { .. } => "node_exists",
            RejectReason::UnknownNode { .. } => "unknown_node",
            RejectReason::NodeCountOutOfRange { .. } => "node_count_out_of_range",
            RejectReason::TooManyMembers { .. } => "too_many_members",
            RejectReason::MemberRunsNode { .. } => "member_runs_node",
            RejectReason::MemberRetired { .. } => "member_retired",
            RejectReason::ProposerNotMember { .. } => "proposer_not_member",
        }
    }
}
