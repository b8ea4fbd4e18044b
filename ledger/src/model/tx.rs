//! Transactions: the actions members take, how they are signed, and their ids.
//!
//! A [`Transaction`] names the chain, the acting member (the signer), a nonce that
//! makes it unique, and one [`Action`]. Its [`TxId`] is the domain-separated blake3
//! hash of its canonical bytes, and that id is what every approver signs. A
//! [`SignedTransaction`] adds the approvals: exactly one for ordinary actions, a
//! majority of the Admin members for governance.
//!
//! The id deliberately excludes the signatures: the same transaction signed with
//! another key of the same member, or approved by another set of admins, keeps its
//! id, so replay protection cannot be dodged by re-signing.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{
    Code, Cutter, FlagReason, LabReport, Member, Name, NodeRecord, Origin, PolishedOutput, RoleSet,
    RoughInfo, APPROVALS_MAX, EVIDENCE_MAX, MANUFACTURE_OUTPUTS_MAX, PARCEL_STONES_MAX,
};
use crate::codec::{domain_hash, encode, BoundedVec, Domain};
use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::ids::{ChainId, Digest, NodeId, OrgId, ProposalId, StoneId, TxId};

/// A producer registers a newly extracted rough stone.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterStone {
    /// The producer's unique id for the stone.
    pub stone_id: StoneId,
    /// Mine, country, region and extraction date.
    pub origin: Origin,
    /// Weight and description of the rough.
    pub rough: RoughInfo,
    /// Kimberley Process certificate number of the parcel it belongs to.
    pub kp_certificate: Code,
    /// Blake3 hashes of supporting documents and scans, kept off the ledger.
    pub evidence: BoundedVec<Digest, EVIDENCE_MAX>,
}

/// The custodian offers a parcel of stones to another member.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposeTransfer {
    /// The parcel: every stone moves, or none does.
    pub stones: BoundedVec<StoneId, PARCEL_STONES_MAX>,
    /// The receiver.
    pub to: OrgId,
    /// Blake3 of the confidential terms (price, client), which stay off the ledger.
    pub terms_commitment: Digest,
}

/// A manufacturer cuts a rough it holds into polished stones.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Manufacture {
    /// The rough being cut.
    pub rough: StoneId,
    /// The polished stones; their carats sum to no more than the rough's.
    pub outputs: BoundedVec<PolishedOutput, MANUFACTURE_OUTPUTS_MAX>,
    /// Who cut them.
    pub cutter: Cutter,
}

/// A consortium governance change, approved by a majority of the Admin members.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum Governance {
    /// Admit a new member.
    AddMember(Member),
    /// Change a member's name and roles (keys change through `RotateKey`).
    UpdateMember {
        /// The member.
        org: OrgId,
        /// Its new display name.
        name: Name,
        /// Its new roles.
        roles: RoleSet,
    },
    /// Remove a member. Stones it holds stay in its custody, frozen.
    RemoveMember {
        /// The member.
        org: OrgId,
    },
    /// Replace one of a member's keys with a new one.
    RotateKey {
        /// The member.
        org: OrgId,
        /// The key to retire.
        old: PublicKey,
        /// The key that replaces it.
        new: PublicKey,
    },
    /// Admit a consensus node.
    AddNode(NodeRecord),
    /// Remove a consensus node.
    RemoveNode {
        /// The node.
        node: NodeId,
    },
}

/// One thing a member does on the ledger.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[borsh(use_discriminant = false)]
pub enum Action {
    /// Register a rough stone (Producer).
    RegisterStone(RegisterStone),
    /// Offer a parcel to another member (the custodian).
    ProposeTransfer(ProposeTransfer),
    /// Accept a proposal: custody of the whole parcel moves (the receiver).
    AcceptTransfer {
        /// The proposal.
        proposal: ProposalId,
    },
    /// Refuse a proposal (the receiver).
    RejectTransfer {
        /// The proposal.
        proposal: ProposalId,
    },
    /// Withdraw a proposal (the proposer).
    CancelTransfer {
        /// The proposal.
        proposal: ProposalId,
    },
    /// Cut a rough into polished stones (a Manufacturer holding it).
    Manufacture(Manufacture),
    /// Attach a grading report (a Lab).
    Grade {
        /// The stone graded.
        stone: StoneId,
        /// The report.
        report: LabReport,
    },
    /// Record the final sale (a Retailer holding it).
    Sell {
        /// The stone sold.
        stone: StoneId,
        /// Blake3 of the buyer's passport and sale terms, kept off the ledger.
        passport_commitment: Digest,
        /// How the retailer presents the passport to its buyer, if it does.
        branding: Option<SaleBranding>,
    },
    /// Flag a stone stolen, lost or disputed (its custodian, an Auditor or an Admin).
    Flag {
        /// The stone.
        stone: StoneId,
        /// Why.
        reason: FlagReason,
    },
    /// Lift a flag (its custodian, an Auditor or an Admin).
    ClearFlag {
        /// The stone.
        stone: StoneId,
    },
    /// Change the consortium (a majority of Admins).
    Governance(Governance),
}

impl Action {
    /// A short name for logs, metrics and journeys.
    pub fn name(&self) -> &'static str {
        match self {
            Action::RegisterStone(_) => "register_stone",
            Action::ProposeTransfer(_) => "propose_transfer",
            Action::AcceptTransfer { .. } => "accept_transfer",
            Action::RejectTransfer { .. } => "reject_transfer",
            Action::CancelTransfer { .. } => "cancel_transfer",
            Action::Manufacture(_) => "manufacture",
            Action::Grade { .. } => "grade",
            Action::Sell { .. } => "sell",
            Action::Flag { .. } => "flag",
            Action::ClearFlag { .. } => "clear_flag",
            Action::Governance(_) => "governance",
        }
    }
}

/// The names a retailer puts on the passport of a stone it sells: signed with
/// the sale, so a buyer sees them only as that retailer signed them.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SaleBranding {
    /// The shop's name, as the buyer knows it.
    pub shop_name: Name,
    /// The jewellery maker who set the stone, if any.
    pub jeweller: Option<Name>,
}

/// An unsigned transaction.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transaction {
    /// The chain it is meant for.
    pub chain_id: ChainId,
    /// The acting member.
    pub signer: OrgId,
    /// Chosen by the client so that otherwise identical actions get distinct ids.
    pub nonce: u64,
    /// What it does.
    pub action: Action,
}

impl Transaction {
    /// The transaction id, which is also the message its approvers sign.
    pub fn id(&self) -> TxId {
        TxId(domain_hash(
            Domain::Transaction,
            self.chain_id.as_str(),
            &encode(self),
        ))
    }

    /// Signs with one key, as `self.signer`.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let approval = Approval::new(&self, self.signer.clone(), key);
        SignedTransaction {
            tx: self,
            approvals: BoundedVec::new(vec![approval]).unwrap_or_default(),
        }
    }
}

/// One member's signature on a transaction id, with the key that made it.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Approval {
    /// The approving member.
    pub org: OrgId,
    /// The key that signed; it must belong to `org` at that height.
    pub key: PublicKey,
    /// Signature over the transaction id's 32 bytes.
    pub signature: Signature,
}

impl Approval {
    /// `org` approves `tx` with `key`.
    pub fn new(tx: &Transaction, org: OrgId, key: &SecretKey) -> Approval {
        Approval {
            org,
            key: key.public_key(),
            signature: key.sign(tx.id().as_bytes()),
        }
    }
}

/// A transaction with its approvals, as submitted, ordered and stored.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The transaction.
    pub tx: Transaction,
    /// The signatures: the signer's first; more only for governance.
    pub approvals: BoundedVec<Approval, APPROVALS_MAX>,
}

impl SignedTransaction {
    /// The transaction id.
    pub fn id(&self) -> TxId {
        self.tx.id()
    }

    /// Adds another member's approval (for governance).
    pub fn approve(
        mut self,
        org: OrgId,
        key: &SecretKey,
    ) -> Result<Self, crate::codec::LengthError> {
        let approval = Approval::new(&self.tx, org, key);
        self.approvals.push(approval)?;
        Ok(self)
    }

    /// True when every approval's signature is valid for this transaction's id.
    /// Membership and roles are checked by the rules, not here.
    pub fn signatures_valid(&self) -> bool {
        let id = self.id();
        self.approvals
            .iter()
            .all(|approval| approval.key.verify(id.as_bytes(), &approval.signature))
    }
}
