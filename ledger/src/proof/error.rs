//! Errors of building and verifying provenance proofs.
//!
//! [`ProofError`] names exactly which check failed and where (height, position
//! in the block, stone, member), so an auditor can tell a broken header link
//! from a forged signature from a custody gap. [`ProofBuildError`] is what a node
//! reports when it cannot assemble a proof from its own store.

use crate::certificate::CertificateError;
use crate::error::StoreError;
use crate::ids::{BlockHash, ChainId, OrgId, ProposalId, StoneId};
use crate::model::{Carats, FlagReason, RejectReason, Role, StoneStatus};

use super::TxLocation;

/// Why a proof could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProofBuildError {
    /// The ledger knows no stone with this id.
    #[error("unknown stone {stone}")]
    UnknownStone {
        /// The id asked for.
        stone: StoneId,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A header the proof needs is missing.
    #[error("the store has no header at height {height}")]
    MissingHeader {
        /// The height.
        height: u64,
    },
    /// A node of the history tree the proof needs is missing.
    #[error("the store's history tree has no path to the block at height {height}")]
    MissingHistory {
        /// The block's height (0: the genesis).
        height: u64,
    },
    /// An indexed event or governance transaction is missing.
    #[error("the store has no transaction at height {} index {}", .location.height, .location.tx_index)]
    MissingTransaction {
        /// Where the index says it is.
        location: TxLocation,
    },
    /// A block's merkle leaves are missing.
    #[error("the store has no merkle leaves for the block at height {height}")]
    MissingLeaves {
        /// The height.
        height: u64,
    },
    /// A stored leaf does not match the stored transaction or receipt.
    #[error("stored leaves disagree with the transaction at height {} index {}", .location.height, .location.tx_index)]
    LeafMismatch {
        /// Where.
        location: TxLocation,
    },
    /// A polished stone's ancestry does not end at a rough (a cycle, or too deep).
    #[error("the ancestry of stone {stone} does not end at a rough")]
    BrokenLineage {
        /// The stone whose ancestry is broken.
        stone: StoneId,
    },
    /// The proof would exceed one of its named maxima.
    #[error("a proof holds at most {max} {what}, this one would hold {len}")]
    TooLarge {
        /// What overflowed: headers, events or governance transactions.
        what: &'static str,
        /// How many there are.
        len: u64,
        /// The maximum.
        max: u64,
    },
}

/// Why a proof does not verify. Every variant names the failed check and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    // --- the header chain ---
    /// The proof is for another chain than the genesis.
    #[error("the proof is for chain {found}, the genesis describes {expected}")]
    WrongChain {
        /// The genesis chain id.
        expected: ChainId,
        /// The proof's chain id.
        found: ChainId,
    },
    /// The proof carries no header at all.
    #[error("the proof carries no headers")]
    NoHeaders,
    /// The tip's history does not start at this genesis.
    #[error("the chain in the proof does not start at the genesis hash {genesis}")]
    GenesisNotInHistory {
        /// The genesis hash.
        genesis: BlockHash,
    },
    /// Headers are not in strictly ascending height order below the tip.
    #[error("header {height} is out of order (headers ascend and stay below the tip)")]
    HeadersOutOfOrder {
        /// The header's height.
        height: u64,
    },
    /// A header is not the block at its height in the tip's history.
    #[error("header {height} is not the block at that height in the tip's history")]
    HeaderNotInHistory {
        /// The header's height.
        height: u64,
    },
    /// A header's timestamp is earlier than an earlier header's.
    #[error("header {height} is older than an earlier block")]
    HeaderTimeReversed {
        /// The header.
        height: u64,
    },
    /// The tip header does not hash to the tip hash the proof claims.
    #[error("the tip header hashes to {computed}, the proof claims tip {claimed}")]
    TipHashMismatch {
        /// The hash of the last header.
        computed: BlockHash,
        /// The tip hash in the proof.
        claimed: BlockHash,
    },

    // --- inclusion ---
    /// An event names a height whose header the proof does not carry.
    #[error("an event names height {height}, whose header the proof does not carry")]
    EventOutsideChain {
        /// The height named.
        height: u64,
    },
    /// The transaction does not prove into its block's transaction root.
    #[error("transaction {tx_index} is not in block {height}")]
    TxNotInBlock {
        /// Block height.
        height: u64,
        /// Position claimed.
        tx_index: u32,
    },
    /// The receipt does not prove into its block's receipts root.
    #[error("the receipt of transaction {tx_index} is not in block {height}")]
    ReceiptNotInBlock {
        /// Block height.
        height: u64,
        /// Position claimed.
        tx_index: u32,
    },
    /// The receipt belongs to another transaction.
    #[error("the receipt at block {height} index {tx_index} is for another transaction")]
    ReceiptForOtherTx {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
    },
    /// The transaction was rejected, so it is no event.
    #[error("transaction {tx_index} of block {height} was rejected: {reason}")]
    NotApplied {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// Why the chain rejected it.
        reason: RejectReason,
    },
    /// Events are not in strictly increasing chain order (or one appears twice).
    #[error("event at block {height} index {tx_index} is out of chain order")]
    EventsOutOfOrder {
        /// Block height of the offending event.
        height: u64,
        /// Its position.
        tx_index: u32,
    },
    /// Governance transactions are not in strictly increasing chain order.
    #[error("governance at block {height} index {tx_index} is out of chain order")]
    GovernanceOutOfOrder {
        /// Block height of the offending transaction.
        height: u64,
        /// Its position.
        tx_index: u32,
    },

    // --- signatures and membership ---
    /// A transaction names another chain inside its signed body.
    #[error("transaction {tx_index} of block {height} is signed for chain {found}")]
    TxForOtherChain {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// The chain it names.
        found: ChainId,
    },
    /// The first approval is not the signer's.
    #[error("transaction {tx_index} of block {height} is not signed by its signer {signer}")]
    SignerDidNotSign {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// The named signer.
        signer: OrgId,
    },
    /// A stone event carries other than exactly one signature.
    #[error("transaction {tx_index} of block {height} carries {count} signatures, not one")]
    UnexpectedApprovals {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// Signatures found.
        count: u32,
    },
    /// A signer or approver was not a member at that point.
    #[error("{org} was not a member at block {height} (transaction {tx_index})")]
    SignerNotMember {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// The organisation.
        org: OrgId,
    },
    /// The signing key was not one of the approver's keys at that point.
    #[error(
        "the key {org} signed with at block {height} (transaction {tx_index}) was not its key"
    )]
    KeyNotOfMember {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// The approver.
        org: OrgId,
    },
    /// A signature does not verify strictly over the transaction id.
    #[error("the signature of {org} on transaction {tx_index} of block {height} does not verify")]
    BadSignature {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// The approver whose signature failed.
        org: OrgId,
    },
    /// The signer lacked the role the action needs.
    #[error("{org} lacked the {role} role at block {height} (transaction {tx_index})")]
    MissingRole {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// The signer.
        org: OrgId,
        /// The role needed.
        role: Role,
    },
    /// A governance change without a majority of admins.
    #[error("governance at block {height} (transaction {tx_index}) has {approvals} admin approvals, {required} needed")]
    NotEnoughAdminApprovals {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// Approvals found.
        approvals: u32,
        /// The majority needed.
        required: u32,
    },
    /// A governance transaction the rules refuse when replayed on the proof's membership.
    #[error("governance at block {height} (transaction {tx_index}) does not apply: {reason}")]
    GovernanceRejected {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
        /// What the rules say.
        reason: RejectReason,
    },
    /// The governance rules could not be replayed at all (an internal failure,
    /// never expected: the replay reads nothing but the membership).
    #[error("governance at block {height} (transaction {tx_index}) could not be replayed")]
    GovernanceNotReplayable {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
    },
    /// A transaction in the governance list is not a governance change.
    #[error(
        "transaction {tx_index} of block {height} in the governance list is no governance change"
    )]
    NotGovernance {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
    },
    /// The membership rebuilt from genesis and the proof's governance does not
    /// match a header's membership root: a governance transaction was left out.
    #[error("the membership after block {height} does not match its header")]
    MembershipRootMismatch {
        /// The header.
        height: u64,
    },

    // --- lineage ---
    /// Nothing in the proof creates the requested stone.
    #[error("the proof never creates stone {stone}")]
    StoneNotInProof {
        /// The requested stone.
        stone: StoneId,
    },
    /// The lineage does not start with a registration: nothing creates `stone`.
    #[error("nothing in the proof registers or creates stone {stone}")]
    MissingRegistration {
        /// The ancestor that nothing creates.
        stone: StoneId,
    },
    /// An event concerns no stone of the lineage.
    #[error("transaction {tx_index} of block {height} concerns no stone of the lineage")]
    UnrelatedEvent {
        /// Block height.
        height: u64,
        /// Position.
        tx_index: u32,
    },
    /// An event touches a lineage stone before the event that creates it.
    #[error("block {height} acts on stone {stone} before it exists")]
    StoneNotCreated {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
    },
    /// A second event creates a stone that already exists.
    #[error("block {height} creates stone {stone} a second time")]
    StoneCreatedTwice {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
    },

    // --- custody ---
    /// Someone other than the custodian moved, cut or sold a stone.
    #[error("{signer} acted on {stone} at block {height}, but {custodian} held it")]
    NotCustodian {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
        /// Who acted.
        signer: OrgId,
        /// Who held it.
        custodian: OrgId,
    },
    /// A consumed or sold stone was acted on.
    #[error("stone {stone} is {status:?} at block {height} and cannot be acted on")]
    StoneNotActive {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
        /// Its status.
        status: StoneStatus,
    },
    /// A flagged stone was transferred, cut or sold.
    #[error("stone {stone} moved at block {height} while flagged {reason}")]
    StoneMovedWhileFlagged {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
        /// The flag.
        reason: FlagReason,
    },
    /// A stone locked in an open proposal was proposed, cut or sold again.
    #[error("stone {stone} is locked in open proposal {proposal} at block {height}")]
    StoneInOpenProposal {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
        /// The open proposal.
        proposal: ProposalId,
    },
    /// An answer to a proposal that is not in the proof.
    #[error("block {height} answers proposal {proposal}, which the proof does not hold")]
    UnknownProposal {
        /// Block height.
        height: u64,
        /// The proposal named.
        proposal: ProposalId,
    },
    /// An answer to a proposal that was already closed.
    #[error("block {height} answers proposal {proposal}, which was already closed")]
    ProposalClosed {
        /// Block height.
        height: u64,
        /// The proposal.
        proposal: ProposalId,
    },
    /// Someone other than the receiver accepted or rejected a proposal.
    #[error(
        "{signer} answered proposal {proposal} at block {height}, but it was made to {receiver}"
    )]
    NotReceiver {
        /// Block height.
        height: u64,
        /// The proposal.
        proposal: ProposalId,
        /// Who answered.
        signer: OrgId,
        /// The receiver.
        receiver: OrgId,
    },
    /// Someone other than the proposer cancelled a proposal.
    #[error("{signer} cancelled proposal {proposal} at block {height}, but {proposer} made it")]
    NotProposer {
        /// Block height.
        height: u64,
        /// The proposal.
        proposal: ProposalId,
        /// Who cancelled.
        signer: OrgId,
        /// The proposer.
        proposer: OrgId,
    },
    /// A proposal to a receiver that was not a member.
    #[error("block {height} proposes a transfer to {org}, not a member")]
    ReceiverNotMember {
        /// Block height.
        height: u64,
        /// The receiver.
        org: OrgId,
    },
    /// A manufacture whose input is not a rough.
    #[error("block {height} cuts {stone}, which is not a rough")]
    NotRough {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
    },
    /// A manufacture whose outputs outweigh the rough.
    #[error("block {height} cuts {rough} into {outputs} of stones, more than the rough")]
    CaratsExceeded {
        /// Block height.
        height: u64,
        /// The rough's weight.
        rough: Carats,
        /// The outputs' total weight.
        outputs: Carats,
    },
    /// A flag or a flag clearance by someone not entitled to it.
    #[error("{org} may not flag or clear {stone} (block {height})")]
    NotEntitledToFlag {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
        /// Who tried.
        org: OrgId,
    },
    /// A flag on a stone already flagged.
    #[error("stone {stone} was flagged again at block {height}")]
    AlreadyFlagged {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
    },
    /// A clearance of a stone that was not flagged.
    #[error("stone {stone} was cleared at block {height} but not flagged")]
    NotFlagged {
        /// Block height.
        height: u64,
        /// The stone.
        stone: StoneId,
    },

    // --- completeness ---
    /// The proof carries no state leaf for a stone of the lineage.
    #[error("the proof carries no state of stone {stone} at its tip")]
    MissingStateLeaf {
        /// The stone.
        stone: StoneId,
    },
    /// A state leaf that is not in the tip's state root, or carried twice,
    /// or of a stone outside the lineage.
    #[error("the state of stone {stone} is not proven into the tip's state root")]
    StateLeafNotProven {
        /// The stone.
        stone: StoneId,
    },
    /// A lineage stone's events are not numbered 0, 1, 2, ... in chain order.
    #[error("event {found} of stone {stone} comes where its event {expected} should")]
    EventOutOfSequence {
        /// The stone.
        stone: StoneId,
        /// The sequence number due.
        expected: u32,
        /// The one found.
        found: u32,
    },
    /// Events of a lineage stone are left out: the tip's state says it had more.
    #[error(
        "the proof holds {held} of the {count} events of stone {stone}: the rest are left out"
    )]
    MissingEvents {
        /// The stone.
        stone: StoneId,
        /// How many the proof holds.
        held: u32,
        /// How many the tip's state says it had.
        count: u32,
    },
    /// The replayed events leave a stone other than the tip's state says.
    #[error("the events of stone {stone} do not lead to its state at the tip")]
    StateLeafDisagrees {
        /// The stone.
        stone: StoneId,
    },

    // --- the certificate ---
    /// The tip's certificate does not certify it.
    #[error("the tip is not certified: {0}")]
    Uncertified(#[from] CertificateError),
    /// The certificate signs the tip's hash, but another height, state root
    /// or time.
    #[error("the certificate's checkpoint (height {height}) does not describe the proof's tip")]
    CertificateForOtherTip {
        /// The height the certificate names.
        height: u64,
    },
}
