//! A state-machine test of the ledger against a simple reference model.
//!
//! Proptest generates random sequences of abstract steps — every kind of action,
//! random signers among the test members, a small pool of stone ids so that ids
//! collide, replays, foreign keys and spoiled signatures, and a few governance
//! changes — and the harness turns each into a signed transaction, batching them
//! into single- and multi-transaction blocks applied through the real state
//! machine ([`TestChain`]).
//!
//! [`Model`] is written from the rules' documentation alone (plain maps, no
//! overlay): it predicts every transaction's outcome, including the exact
//! [`RejectReason`]. After every block the test checks that the receipts match the
//! prediction, that the real state matches the model's, and a set of invariants on
//! the real state: one custodian per stone who is or was a member; custody moves
//! only through accepted proposals answered by the receiver and proposed by the
//! custodian; sold and flagged stones do not move; manufacture conserves carats
//! and links outputs to their rough; proposal locks are consistent; and a block of
//! only rejected transactions changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use gemtrail_ledger::codec::{BoundedString, BoundedVec};
use gemtrail_ledger::crypto::{PublicKey, SecretKey};
use gemtrail_ledger::ids::{ChainId, NodeId, OrgId, StoneId, TxId};
use gemtrail_ledger::model::{
    Action, Approval, Carats, FlagReason, Governance, LabReport, Manufacture, Member, Membership,
    Outcome, ProposalStatus, ProposeTransfer, Receipt, RegisterStone, RejectReason, Role, RoleSet,
    SignedTransaction, Stone, StoneStatus, Transaction, CARATS_MAX, MEMBERS_MAX,
};
use gemtrail_ledger::state::{GenesisState, LedgerView, MemoryState};
use gemtrail_ledger::testkit::{self, TestChain, MEMBERS};
use gemtrail_ledger::KeyError;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;

use crate::strategies::{flag_reason, role_set_of};

// ================================================================ reference model

type Check = Result<(), RejectReason>;

/// What the model knows of a member.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelMember {
    roles: RoleSet,
    keys: Vec<PublicKey>,
}

/// What the model knows of a stone.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelStone {
    custodian: OrgId,
    status: StoneStatus,
    flag: Option<FlagReason>,
    open_proposal: Option<TxId>,
    carats: u64,
    parent: Option<StoneId>,
    outputs: Vec<StoneId>,
    graded_by: Option<OrgId>,
}

impl ModelStone {
    fn new(custodian: OrgId, carats: u64, parent: Option<StoneId>) -> Self {
        Self {
            custodian,
            status: StoneStatus::Active,
            flag: None,
            open_proposal: None,
            carats,
            parent,
            outputs: Vec::new(),
            graded_by: None,
        }
    }

    /// The model's view of a real stone, for comparison.
    fn of(stone: &Stone) -> Self {
        Self {
            custodian: stone.custodian.clone(),
            status: stone.status,
            flag: stone.flag,
            open_proposal: stone.open_proposal,
            carats: stone.carats().0,
            parent: stone.parent().cloned(),
            outputs: stone.outputs.as_slice().to_vec(),
            graded_by: stone.grade.as_ref().map(|grade| grade.lab.clone()),
        }
    }
}

/// What the model knows of a proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelProposal {
    from: OrgId,
    to: OrgId,
    stones: Vec<StoneId>,
    status: ProposalStatus,
}

/// The ledger state as the model keeps it. A transaction runs on a copy, which
/// replaces the world only when the transaction is applied.
#[derive(Clone, Debug, Default)]
struct World {
    members: BTreeMap<OrgId, ModelMember>,
    /// The consensus nodes and their owners; this test never changes them.
    node_owners: BTreeMap<NodeId, OrgId>,
    stones: HashMap<StoneId, ModelStone>,
    proposals: HashMap<TxId, ModelProposal>,
    /// Everyone who was ever a member: custodians must be among them.
    ever_members: HashSet<OrgId>,
}

/// The reference model: the world plus what authorisation needs.
struct Model {
    chain_id: ChainId,
    /// Ids of transactions that passed authorisation (a copy is a replay).
    burned: HashSet<TxId>,
    world: World,
}

impl Model {
    fn new(genesis: &GenesisState) -> Self {
        let mut world = World::default();
        for (org, member) in &genesis.membership.members {
            world.members.insert(
                org.clone(),
                ModelMember {
                    roles: member.roles,
                    keys: member.keys.as_slice().to_vec(),
                },
            );
            world.ever_members.insert(org.clone());
        }
        for (id, node) in &genesis.membership.nodes {
            world.node_owners.insert(*id, node.owner.clone());
        }
        Self {
            chain_id: genesis.chain_id.clone(),
            burned: HashSet::new(),
            world,
        }
    }

    /// The outcome of `signed`, applying it to the model when it is applied.
    fn apply(&mut self, signed: &SignedTransaction) -> Outcome {
        let id = signed.id();
        if let Err(reason) = self.authorize(signed, id) {
            return Outcome::Rejected { reason };
        }
        // Passing authorisation burns the id, whatever the action's outcome.
        self.burned.insert(id);
        let mut next = self.world.clone();
        match next.execute(&signed.tx, id) {
            Ok(()) => {
                self.world = next;
                Outcome::Applied
            }
            Err(reason) => Outcome::Rejected { reason },
        }
    }

    /// Right chain, no replay, a member signer who signed first, one approval for
    /// ordinary actions; each approver a distinct member using its own key (an
    /// Admin, for governance); enough admins; then every signature, strictly.
    fn authorize(&self, signed: &SignedTransaction, id: TxId) -> Check {
        let tx = &signed.tx;
        if tx.chain_id != self.chain_id {
            return Err(RejectReason::WrongChain {
                expected: self.chain_id.clone(),
                found: tx.chain_id.clone(),
            });
        }
        if self.burned.contains(&id) {
            return Err(RejectReason::Replay { tx_id: id });
        }
        let members = &self.world.members;
        if !members.contains_key(&tx.signer) {
            return Err(RejectReason::UnknownSigner {
                org: tx.signer.clone(),
            });
        }
        let approvals = signed.approvals.as_slice();
        if approvals.first().map(|approval| &approval.org) != Some(&tx.signer) {
            return Err(RejectReason::SignerDidNotSign {
                signer: tx.signer.clone(),
            });
        }
        let governance = matches!(tx.action, Action::Governance(_));
        if !governance && approvals.len() != 1 {
            return Err(RejectReason::UnexpectedApprovals {
                count: approvals.len() as u32,
            });
        }
        let mut seen = Vec::new();
        for approval in approvals {
            let org = approval.org.clone();
            let Some(member) = members.get(&org) else {
                return Err(RejectReason::UnknownApprover { org });
            };
            if seen.contains(&org) {
                return Err(RejectReason::DuplicateApproval { org });
            }
            seen.push(org.clone());
            if !member.keys.contains(&approval.key) {
                let key = approval.key;
                return Err(RejectReason::KeyNotOfMember { org, key });
            }
            if governance && !member.roles.contains(Role::Admin) {
                let role = Role::Admin;
                return Err(RejectReason::MissingRole { org, role });
            }
        }
        let admins = members
            .values()
            .filter(|member| member.roles.contains(Role::Admin))
            .count();
        let required = admins / 2 + 1;
        if governance && approvals.len() < required {
            return Err(RejectReason::NotEnoughAdminApprovals {
                approvals: approvals.len() as u32,
                required: required as u32,
            });
        }
        for approval in approvals {
            if !approval.key.verify(id.as_bytes(), &approval.signature) {
                let org = approval.org.clone();
                return Err(RejectReason::BadSignature { org });
            }
        }
        Ok(())
    }
}

impl World {
    fn execute(&mut self, tx: &Transaction, id: TxId) -> Check {
        let signer = &tx.signer;
        match &tx.action {
            Action::RegisterStone(register) => self.register(signer, register),
            Action::ProposeTransfer(propose) => self.propose(signer, id, propose),
            Action::AcceptTransfer { proposal } => self.answer(signer, proposal, Answer::Accept),
            Action::RejectTransfer { proposal } => self.answer(signer, proposal, Answer::Reject),
            Action::CancelTransfer { proposal } => self.answer(signer, proposal, Answer::Cancel),
            Action::Manufacture(manufacture) => self.manufacture(signer, manufacture),
            Action::Grade { stone, report } => self.grade(signer, stone, report),
            Action::Sell { stone, .. } => self.sell(signer, stone),
            Action::Flag { stone, reason } => self.flag(signer, stone, Some(*reason)),
            Action::ClearFlag { stone } => self.flag(signer, stone, None),
            Action::Governance(change) => self.govern(change),
        }
    }

    fn has_role(&self, org: &OrgId, role: Role) -> bool {
        self.members
            .get(org)
            .is_some_and(|member| member.roles.contains(role))
    }

    fn require(&self, org: &OrgId, role: Role) -> Check {
        if self.has_role(org, role) {
            return Ok(());
        }
        let org = org.clone();
        Err(RejectReason::MissingRole { org, role })
    }

    fn stone(&self, id: &StoneId) -> Result<&ModelStone, RejectReason> {
        self.stones
            .get(id)
            .ok_or_else(|| RejectReason::UnknownStone { stone: id.clone() })
    }

    fn stone_mut(&mut self, id: &StoneId) -> &mut ModelStone {
        self.stones.get_mut(id).unwrap()
    }

    /// Sold and consumed stones no longer take part in the trade.
    fn check_active(id: &StoneId, stone: &ModelStone) -> Check {
        let stone_id = id.clone();
        match stone.status {
            StoneStatus::Active => Ok(()),
            StoneStatus::Sold => Err(RejectReason::StoneSold { stone: stone_id }),
            StoneStatus::Consumed => Err(RejectReason::StoneConsumed { stone: stone_id }),
        }
    }

    /// The signer holds it; it is active, unflagged and in no open proposal.
    fn check_movable(id: &StoneId, stone: &ModelStone, signer: &OrgId) -> Check {
        if &stone.custodian != signer {
            return Err(RejectReason::NotCustodian {
                stone: id.clone(),
                signer: signer.clone(),
                custodian: stone.custodian.clone(),
            });
        }
        Self::check_active(id, stone)?;
        if let Some(reason) = stone.flag {
            return Err(RejectReason::StoneFlagged {
                stone: id.clone(),
                reason,
            });
        }
        if let Some(proposal) = stone.open_proposal {
            return Err(RejectReason::StoneInOpenProposal {
                stone: id.clone(),
                proposal,
            });
        }
        Ok(())
    }

    /// More than nothing and no more than the heaviest stone ever found.
    fn check_weight(id: &StoneId, carats: Carats) -> Check {
        if carats.0 == 0 || carats > CARATS_MAX {
            let stone = id.clone();
            return Err(RejectReason::ImplausibleCarats { stone, carats });
        }
        Ok(())
    }

    fn check_new_id(&self, id: &StoneId) -> Check {
        if self.stones.contains_key(id) {
            return Err(RejectReason::StoneExists { stone: id.clone() });
        }
        Ok(())
    }

    fn register(&mut self, signer: &OrgId, register: &RegisterStone) -> Check {
        self.require(signer, Role::Producer)?;
        let id = &register.stone_id;
        self.check_new_id(id)?;
        Self::check_weight(id, register.rough.carats)?;
        let stone = ModelStone::new(signer.clone(), register.rough.carats.0, None);
        self.stones.insert(id.clone(), stone);
        Ok(())
    }

    fn propose(&mut self, signer: &OrgId, id: TxId, propose: &ProposeTransfer) -> Check {
        if propose.stones.is_empty() {
            return Err(RejectReason::EmptyParcel);
        }
        if &propose.to == signer {
            return Err(RejectReason::TransferToSelf);
        }
        if !self.members.contains_key(&propose.to) {
            let org = propose.to.clone();
            return Err(RejectReason::UnknownReceiver { org });
        }
        let mut seen = HashSet::new();
        for stone_id in &propose.stones {
            if !seen.insert(stone_id) {
                let stone = stone_id.clone();
                return Err(RejectReason::DuplicateStone { stone });
            }
            Self::check_movable(stone_id, self.stone(stone_id)?, signer)?;
        }
        for stone_id in &propose.stones {
            self.stone_mut(stone_id).open_proposal = Some(id);
        }
        let proposal = ModelProposal {
            from: signer.clone(),
            to: propose.to.clone(),
            stones: propose.stones.as_slice().to_vec(),
            status: ProposalStatus::Open,
        };
        self.proposals.insert(id, proposal);
        Ok(())
    }

    /// Accept or reject (the receiver) or cancel (the proposer) an open proposal.
    /// Accepting moves the whole parcel, unless one of its stones was flagged.
    fn answer(&mut self, signer: &OrgId, id: &TxId, answer: Answer) -> Check {
        let Some(proposal) = self.proposals.get(id).cloned() else {
            return Err(RejectReason::UnknownProposal { proposal: *id });
        };
        if proposal.status != ProposalStatus::Open {
            let status = proposal.status;
            return Err(RejectReason::ProposalClosed {
                proposal: *id,
                status,
            });
        }
        if answer == Answer::Cancel && signer != &proposal.from {
            let proposer = proposal.from.clone();
            return Err(RejectReason::NotProposer {
                proposal: *id,
                proposer,
            });
        }
        if answer != Answer::Cancel && signer != &proposal.to {
            let receiver = proposal.to.clone();
            return Err(RejectReason::NotReceiver {
                proposal: *id,
                receiver,
            });
        }
        if answer == Answer::Accept {
            for stone_id in &proposal.stones {
                if let Some(reason) = self.stones[stone_id].flag {
                    let stone = stone_id.clone();
                    return Err(RejectReason::StoneFlagged { stone, reason });
                }
            }
        }
        for stone_id in &proposal.stones {
            let stone = self.stone_mut(stone_id);
            stone.open_proposal = None;
            if answer == Answer::Accept {
                stone.custodian = proposal.to.clone();
            }
        }
        self.proposals.get_mut(id).unwrap().status = match answer {
            Answer::Accept => ProposalStatus::Accepted,
            Answer::Reject => ProposalStatus::Rejected,
            Answer::Cancel => ProposalStatus::Cancelled,
        };
        Ok(())
    }

    fn manufacture(&mut self, signer: &OrgId, manufacture: &Manufacture) -> Check {
        self.require(signer, Role::Manufacturer)?;
        let rough_id = &manufacture.rough;
        let rough = self.stone(rough_id)?;
        Self::check_movable(rough_id, rough, signer)?;
        if rough.parent.is_some() {
            return Err(RejectReason::NotRough {
                stone: rough_id.clone(),
            });
        }
        if manufacture.outputs.is_empty() {
            return Err(RejectReason::NoOutputs);
        }
        let rough_carats = rough.carats;
        let mut seen = HashSet::new();
        let mut total = 0u64;
        for output in &manufacture.outputs {
            let id = &output.stone_id;
            if id == rough_id || !seen.insert(id) {
                return Err(RejectReason::DuplicateStone { stone: id.clone() });
            }
            self.check_new_id(id)?;
            Self::check_weight(id, output.four_cs.carats)?;
            total += output.four_cs.carats.0;
        }
        if total > rough_carats {
            return Err(RejectReason::CaratsExceeded {
                rough: Carats(rough_carats),
                outputs: Carats(total),
            });
        }
        for output in &manufacture.outputs {
            let carats = output.four_cs.carats.0;
            let stone = ModelStone::new(signer.clone(), carats, Some(rough_id.clone()));
            self.stones.insert(output.stone_id.clone(), stone);
        }
        let rough = self.stone_mut(rough_id);
        rough.status = StoneStatus::Consumed;
        rough.outputs = manufacture
            .outputs
            .iter()
            .map(|output| output.stone_id.clone())
            .collect();
        Ok(())
    }

    fn grade(&mut self, signer: &OrgId, id: &StoneId, report: &LabReport) -> Check {
        self.require(signer, Role::Lab)?;
        Self::check_active(id, self.stone(id)?)?;
        Self::check_weight(id, report.four_cs.carats)?;
        self.stone_mut(id).graded_by = Some(signer.clone());
        Ok(())
    }

    fn sell(&mut self, signer: &OrgId, id: &StoneId) -> Check {
        self.require(signer, Role::Retailer)?;
        Self::check_movable(id, self.stone(id)?, signer)?;
        self.stone_mut(id).status = StoneStatus::Sold;
        Ok(())
    }

    /// Flags (`Some`) or clears (`None`): the custodian, an Auditor or an Admin
    /// may, on any stone that still exists as itself.
    fn flag(&mut self, signer: &OrgId, id: &StoneId, flag: Option<FlagReason>) -> Check {
        let stone = self.stone(id)?;
        if stone.status == StoneStatus::Consumed {
            return Err(RejectReason::StoneConsumed { stone: id.clone() });
        }
        let entitled = &stone.custodian == signer
            || self.has_role(signer, Role::Auditor)
            || self.has_role(signer, Role::Admin);
        if !entitled {
            return Err(RejectReason::NotEntitledToFlag {
                org: signer.clone(),
                stone: id.clone(),
            });
        }
        match (stone.flag, flag) {
            (Some(reason), Some(_)) => Err(RejectReason::AlreadyFlagged {
                stone: id.clone(),
                reason,
            }),
            (None, None) => Err(RejectReason::NotFlagged { stone: id.clone() }),
            _ => {
                self.stone_mut(id).flag = flag;
                Ok(())
            }
        }
    }

    fn govern(&mut self, change: &Governance) -> Check {
        match change {
            Governance::AddMember(member) => self.add_member(member),
            Governance::UpdateMember { org, roles, .. } => {
                let existing = self.member_mut(org)?;
                if roles.is_empty() {
                    return Err(RejectReason::IncompleteMember { org: org.clone() });
                }
                existing.roles = *roles;
                self.check_admin_remains()
            }
            Governance::RemoveMember { org } => {
                self.member_mut(org)?;
                let run = self.node_owners.iter().find(|(_, owner)| *owner == org);
                if let Some((node, _)) = run {
                    let (org, node) = (org.clone(), *node);
                    return Err(RejectReason::MemberRunsNode { org, node });
                }
                self.members.remove(org);
                self.check_admin_remains()
            }
            Governance::RotateKey { org, old, new } => {
                if !self.member_mut(org)?.keys.contains(old) {
                    let (org, key) = (org.clone(), *old);
                    return Err(RejectReason::KeyNotOfMember { org, key });
                }
                self.check_new_key(new)?;
                for key in &mut self.member_mut(org)?.keys {
                    if key == old {
                        *key = *new;
                    }
                }
                Ok(())
            }
            Governance::AddNode(_) | Governance::RemoveNode { .. } => {
                panic!("this test does not generate node changes")
            }
        }
    }

    fn member_mut(&mut self, org: &OrgId) -> Result<&mut ModelMember, RejectReason> {
        self.members
            .get_mut(org)
            .ok_or_else(|| RejectReason::UnknownMember { org: org.clone() })
    }

    fn add_member(&mut self, member: &Member) -> Check {
        let org = &member.org;
        if self.members.len() >= MEMBERS_MAX {
            let max = MEMBERS_MAX as u32;
            return Err(RejectReason::TooManyMembers { max });
        }
        if self.members.contains_key(org) {
            return Err(RejectReason::MemberExists { org: org.clone() });
        }
        if member.keys.is_empty() || member.roles.is_empty() {
            return Err(RejectReason::IncompleteMember { org: org.clone() });
        }
        let keys = member.keys.as_slice();
        for (position, key) in keys.iter().enumerate() {
            self.check_new_key(key)?;
            if keys[..position].contains(key) {
                let (key, org) = (*key, org.clone());
                return Err(RejectReason::KeyInUse { key, org });
            }
        }
        let model_member = ModelMember {
            roles: member.roles,
            keys: keys.to_vec(),
        };
        self.members.insert(org.clone(), model_member);
        self.ever_members.insert(org.clone());
        Ok(())
    }

    /// A valid, strong key that no member holds.
    fn check_new_key(&self, key: &PublicKey) -> Check {
        match key.check_registrable() {
            Ok(()) => {}
            Err(KeyError::Weak) => return Err(RejectReason::WeakKey { key: *key }),
            Err(_) => return Err(RejectReason::MalformedKey { key: *key }),
        }
        let holder = self
            .members
            .iter()
            .find(|(_, member)| member.keys.contains(key));
        if let Some((org, _)) = holder {
            let (key, org) = (*key, org.clone());
            return Err(RejectReason::KeyInUse { key, org });
        }
        Ok(())
    }

    fn check_admin_remains(&self) -> Check {
        let admins = self.members.values();
        if admins
            .into_iter()
            .any(|member| member.roles.contains(Role::Admin))
        {
            return Ok(());
        }
        Err(RejectReason::LastAdmin)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Accept,
    Reject,
    Cancel,
}

// ================================================================ generated steps

/// The organisations steps may name: the seven members, then two outsiders that
/// governance may admit.
const ORGS: [&str; 9] = [
    "mine", "cutter", "lab", "trader", "retailer", "auditor", "registry", "newco-a", "newco-b",
];
/// Stone ids: registrations draw from the first eight, manufacture outputs from
/// the last six, so ids collide both ways.
const STONES: [&str; 12] = [
    "S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11",
];
const REGISTERED: std::ops::Range<usize> = 0..8;
const CUT: std::ops::Range<usize> = 6..12;

/// Who signs a step.
#[derive(Clone, Debug)]
enum Who {
    /// Whoever would plausibly act, judged from the chain's state (the custodian,
    /// the receiver, the producer...), so that steps often succeed.
    Natural,
    /// `ORGS[index]`.
    Pick(usize),
}

/// Which stone a step names.
#[derive(Clone, Debug)]
enum StonePick {
    /// One of the stones the step's action could apply to — movable, and held by
    /// a member who may cut or sell it when the action is a manufacture or sale —
    /// if any (else as `Active`).
    Fit(Index),
    /// One of the stones active on the chain, if any (else from the pool).
    Active(Index),
    /// `STONES[index]`, whether or not it exists.
    Pool(usize),
}

/// Which proposal an answer names.
#[derive(Clone, Debug)]
enum ProposalPick {
    /// One of the proposals open on the chain, if any (else one sent).
    Open(Index),
    /// One of the proposals sent so far (applied or not).
    Sent(Index),
    /// An id no proposal has.
    Random([u8; 32]),
}

/// A key named in a governance change.
#[derive(Clone, Debug)]
enum KeyPick {
    /// A new key nobody holds.
    Fresh,
    /// The current key of `ORGS[index]`.
    Of(usize),
    /// The identity point: small order.
    Weak,
    /// Not a curve point.
    Malformed,
}

#[derive(Clone, Debug)]
enum GovernanceOp {
    Add {
        org: usize,
        roles: u8,
        keys: Vec<KeyPick>,
    },
    Update {
        org: usize,
        roles: u8,
    },
    Remove {
        org: usize,
    },
    Rotate {
        org: usize,
        /// `None`: the member's own current key; `Some(i)`: `ORGS[i]`'s.
        old: Option<usize>,
        new: KeyPick,
    },
}

#[derive(Clone, Debug)]
enum Op {
    Register {
        stone: usize,
        carats: u64,
    },
    Propose {
        stones: Vec<StonePick>,
        /// `None`: the natural next holder; `Some(i)`: `ORGS[i]`.
        to: Option<usize>,
    },
    Answer(Answer, ProposalPick),
    Manufacture {
        rough: StonePick,
        outputs: Vec<(usize, u64)>,
    },
    Grade {
        stone: StonePick,
        carats: u64,
    },
    Sell {
        stone: StonePick,
    },
    Flag {
        stone: StonePick,
        /// `None` clears the flag.
        reason: Option<FlagReason>,
    },
    /// Signed by the step's signer, approved by `approvers` (indices into `ORGS`).
    Governance(GovernanceOp, Vec<usize>),
}

/// What goes wrong with a step's transaction, if anything.
#[derive(Clone, Debug)]
enum Fault {
    None,
    /// Signed with the key of `MEMBERS[index]`, and naming that key.
    ForeignKey(usize),
    /// Names the signer's key but carries the signature of `MEMBERS[index]`'s key.
    SpoiledSignature(usize),
    /// Names another chain.
    WrongChain,
    /// Carries a further, valid approval by `MEMBERS[index]`.
    ExtraApproval(usize),
    /// Carries a valid approval by `MEMBERS[index]` before the signer's.
    OtherSignsFirst(usize),
    /// Resends an earlier transaction instead.
    Replay(Index),
}

#[derive(Clone, Debug)]
struct Step {
    who: Who,
    op: Op,
    fault: Fault,
    /// Close the block after this step.
    end_block: bool,
}

fn org_index() -> impl Strategy<Value = usize> {
    prop_oneof![9 => 0..7usize, 1 => 7..ORGS.len()]
}

fn admin_index() -> impl Strategy<Value = usize> {
    // mine, auditor, registry hold Admin at genesis.
    prop_oneof![3 => prop::sample::select(vec![0usize, 5, 6]), 1 => org_index()]
}

fn weight() -> impl Strategy<Value = u64> {
    prop_oneof![
        12 => 1u64..=600,
        1 => Just(0u64),
        1 => Just(CARATS_MAX.0),
        1 => Just(CARATS_MAX.0 + 1),
    ]
}

/// A polished output's weight: two or three of them often weigh a little more
/// or a little less than their rough.
fn cut_weight() -> impl Strategy<Value = u64> {
    prop_oneof![5 => 200u64..=700, 1 => weight()]
}

fn rough_weight() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 400u64..=2_000, 1 => weight()]
}

fn stone_pick() -> impl Strategy<Value = StonePick> {
    prop_oneof![
        4 => any::<Index>().prop_map(StonePick::Fit),
        2 => any::<Index>().prop_map(StonePick::Active),
        1 => (0..STONES.len()).prop_map(StonePick::Pool),
    ]
}

fn parcel() -> impl Strategy<Value = Vec<StonePick>> {
    prop_oneof![
        1 => Just(Vec::new()),
        8 => vec(stone_pick(), 1),
        2 => vec(stone_pick(), 2..=3),
    ]
}

fn proposal_pick() -> impl Strategy<Value = ProposalPick> {
    prop_oneof![
        6 => any::<Index>().prop_map(ProposalPick::Open),
        6 => any::<Index>().prop_map(ProposalPick::Sent),
        1 => any::<[u8; 32]>().prop_map(ProposalPick::Random),
    ]
}

fn key_pick() -> impl Strategy<Value = KeyPick> {
    prop_oneof![
        6 => Just(KeyPick::Fresh),
        2 => org_index().prop_map(KeyPick::Of),
        1 => Just(KeyPick::Weak),
        1 => Just(KeyPick::Malformed),
    ]
}

fn roles() -> impl Strategy<Value = u8> {
    prop_oneof![12 => 1u8..128, 1 => Just(0u8)]
}

fn governance_op() -> impl Strategy<Value = GovernanceOp> {
    prop_oneof![
        (org_index(), roles(), vec(key_pick(), 0..=2))
            .prop_map(|(org, roles, keys)| GovernanceOp::Add { org, roles, keys }),
        (org_index(), roles()).prop_map(|(org, roles)| GovernanceOp::Update { org, roles }),
        org_index().prop_map(|org| GovernanceOp::Remove { org }),
        (
            org_index(),
            prop::option::weighted(0.2, org_index()),
            key_pick()
        )
            .prop_map(|(org, old, new)| GovernanceOp::Rotate { org, old, new }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let answer = prop::sample::select(vec![
        Answer::Accept,
        Answer::Accept,
        Answer::Reject,
        Answer::Cancel,
    ]);
    prop_oneof![
        3 => (REGISTERED, rough_weight())
            .prop_map(|(stone, carats)| Op::Register { stone, carats }),
        5 => (parcel(), prop::option::weighted(0.25, org_index()))
            .prop_map(|(stones, to)| Op::Propose { stones, to }),
        6 => (answer, proposal_pick()).prop_map(|(answer, pick)| Op::Answer(answer, pick)),
        3 => (stone_pick(), vec((CUT, cut_weight()), 0..=3))
            .prop_map(|(rough, outputs)| Op::Manufacture { rough, outputs }),
        1 => (stone_pick(), weight()).prop_map(|(stone, carats)| Op::Grade { stone, carats }),
        2 => stone_pick().prop_map(|stone| Op::Sell { stone }),
        1 => (stone_pick(), prop::option::of(flag_reason()))
            .prop_map(|(stone, reason)| Op::Flag { stone, reason }),
        1 => (governance_op(), vec(admin_index(), 1..=2))
            .prop_map(|(change, approvers)| Op::Governance(change, approvers)),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        24 => Just(Fault::None),
        1 => (0..MEMBERS.len()).prop_map(Fault::ForeignKey),
        1 => (0..MEMBERS.len()).prop_map(Fault::SpoiledSignature),
        1 => Just(Fault::WrongChain),
        1 => (0..MEMBERS.len()).prop_map(Fault::ExtraApproval),
        1 => (0..MEMBERS.len()).prop_map(Fault::OtherSignsFirst),
        2 => any::<Index>().prop_map(Fault::Replay),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![5 => Just(Who::Natural), 1 => org_index().prop_map(Who::Pick)],
        op(),
        fault(),
        any::<bool>(),
    )
        .prop_map(|(who, op, fault, end_block)| Step {
            who,
            op,
            fault,
            end_block,
        })
}

// ================================================================ harness

fn org(index: usize) -> OrgId {
    testkit::org(ORGS[index])
}

fn stone_name(index: usize) -> &'static str {
    STONES[index]
}

/// The real chain and the model side by side, and what the steps refer back to.
struct Harness {
    chain: TestChain,
    model: Model,
    /// Every secret key the test made, by public key (to sign after rotations).
    secrets: HashMap<PublicKey, SecretKey>,
    /// Every transaction sent, for replays.
    sent: Vec<SignedTransaction>,
    /// Ids of every proposal transaction sent.
    proposals_sent: Vec<TxId>,
    /// The block being assembled.
    pending: Vec<SignedTransaction>,
    nonce: u64,
}

impl Harness {
    fn new() -> Self {
        let chain = TestChain::new();
        let model = Model::new(&chain.consortium.genesis);
        let secrets = ORGS
            .iter()
            .map(|name| {
                let key = testkit::key_for(name);
                (key.public_key(), key)
            })
            .collect();
        Self {
            chain,
            model,
            secrets,
            sent: Vec::new(),
            proposals_sent: Vec::new(),
            pending: Vec::new(),
            nonce: 0,
        }
    }

    fn membership(&self) -> &Membership {
        self.chain.state.membership()
    }

    /// The stone a pick names, for an action of kind `op`.
    fn stone_id(&self, pick: &StonePick, op: &Op) -> StoneId {
        let stones = self.chain.state.stones();
        let active: Vec<&StoneId> = stones
            .iter()
            .filter(|(_, stone)| stone.status == StoneStatus::Active)
            .map(|(id, _)| id)
            .collect();
        let fit: Vec<&StoneId> = stones
            .iter()
            .filter(|(_, stone)| self.fits(stone, op))
            .map(|(id, _)| id)
            .collect();
        match pick {
            StonePick::Fit(index) if !fit.is_empty() => fit[index.index(fit.len())].clone(),
            StonePick::Fit(index) if !active.is_empty() => {
                active[index.index(active.len())].clone()
            }
            StonePick::Active(index) if !active.is_empty() => {
                active[index.index(active.len())].clone()
            }
            StonePick::Fit(index) | StonePick::Active(index) => {
                testkit::stone(STONES[index.index(STONES.len())])
            }
            StonePick::Pool(index) => testkit::stone(STONES[*index]),
        }
    }

    /// The first key `org` holds on the chain (a non-member's own test key).
    fn current_key(&self, org: &OrgId) -> SecretKey {
        self.membership()
            .member(org)
            .and_then(|member| member.keys.iter().next())
            .and_then(|key| self.secrets.get(key))
            .cloned()
            .unwrap_or_else(|| testkit::key_for(org.as_str()))
    }

    fn key_pick(&mut self, pick: &KeyPick) -> PublicKey {
        match pick {
            KeyPick::Fresh => {
                let key = testkit::key_for(&format!("fresh-{}", self.nonce));
                self.secrets.insert(key.public_key(), key.clone());
                key.public_key()
            }
            KeyPick::Of(index) => self.current_key(&org(*index)).public_key(),
            KeyPick::Weak => {
                let mut identity = [0u8; 32];
                identity[0] = 1;
                PublicKey(identity)
            }
            KeyPick::Malformed => {
                let mut not_a_point = [0u8; 32];
                not_a_point[0] = 2;
                PublicKey(not_a_point)
            }
        }
    }

    fn proposal_id(&self, pick: &ProposalPick) -> TxId {
        let open: Vec<&TxId> = self
            .chain
            .state
            .proposals()
            .iter()
            .filter(|(_, proposal)| proposal.status == ProposalStatus::Open)
            .map(|(id, _)| id)
            .collect();
        match pick {
            ProposalPick::Open(index) if !open.is_empty() => *open[index.index(open.len())],
            ProposalPick::Open(index) | ProposalPick::Sent(index)
                if !self.proposals_sent.is_empty() =>
            {
                self.proposals_sent[index.index(self.proposals_sent.len())]
            }
            ProposalPick::Open(_) | ProposalPick::Sent(_) => TxId([0; 32]),
            ProposalPick::Random(bytes) => TxId(*bytes),
        }
    }

    /// Whether `op` could apply to `stone` for its custodian.
    fn fits(&self, stone: &Stone, op: &Op) -> bool {
        let holds = |role| {
            self.membership()
                .member(&stone.custodian)
                .is_some_and(|member| member.roles.contains(role))
        };
        let movable = stone.status == StoneStatus::Active
            && stone.flag.is_none()
            && stone.open_proposal.is_none();
        match op {
            Op::Manufacture { .. } => {
                movable && stone.parent().is_none() && holds(Role::Manufacturer)
            }
            Op::Sell { .. } => movable && holds(Role::Retailer),
            Op::Flag { reason: None, .. } => stone.flag.is_some(),
            _ => movable,
        }
    }

    /// The custodian of the stone picked, or `otherwise` when there is no such stone.
    fn custodian_or(&self, pick: &StonePick, op: &Op, otherwise: &str) -> OrgId {
        self.chain
            .state
            .stones()
            .get(&self.stone_id(pick, op))
            .map(|stone| stone.custodian.clone())
            .unwrap_or_else(|| testkit::org(otherwise))
    }

    /// Who would plausibly take this step, judged from the chain's state.
    fn natural_signer(&self, op: &Op) -> OrgId {
        match op {
            Op::Register { .. } => testkit::org("mine"),
            Op::Propose { stones, .. } => match stones.first() {
                Some(first) => self.custodian_or(first, op, "mine"),
                None => testkit::org("mine"),
            },
            Op::Answer(answer, pick) => {
                let id = self.proposal_id(pick);
                match self.chain.state.proposals().get(&id) {
                    Some(proposal) if *answer == Answer::Cancel => proposal.from.clone(),
                    Some(proposal) => proposal.to.clone(),
                    None => testkit::org("trader"),
                }
            }
            Op::Manufacture { rough, .. } => self.custodian_or(rough, op, "cutter"),
            Op::Grade { .. } => testkit::org("lab"),
            Op::Sell { stone } => self.custodian_or(stone, op, "retailer"),
            Op::Flag { stone, .. } => self.custodian_or(stone, op, "auditor"),
            Op::Governance(_, approvers) => org(approvers[0]),
        }
    }

    /// Where a stone held by `from` would naturally go next.
    fn next_holder(from: &OrgId) -> OrgId {
        let to = match from.as_str() {
            "mine" => "cutter",
            "cutter" | "lab" | "trader" => "retailer",
            "retailer" | "auditor" | "registry" => "trader",
            _ => "mine",
        };
        testkit::org(to)
    }

    fn governance_change(&mut self, change: &GovernanceOp) -> Governance {
        match change {
            GovernanceOp::Add {
                org: index,
                roles,
                keys,
            } => {
                let keys = keys.iter().map(|pick| self.key_pick(pick)).collect();
                Governance::AddMember(Member {
                    org: org(*index),
                    name: BoundedString::new(format!("{} ltd", ORGS[*index])).unwrap(),
                    roles: role_set_of(*roles),
                    keys: BoundedVec::new(keys).unwrap(),
                })
            }
            GovernanceOp::Update { org: index, roles } => Governance::UpdateMember {
                org: org(*index),
                name: BoundedString::new("renamed").unwrap(),
                roles: role_set_of(*roles),
            },
            GovernanceOp::Remove { org: index } => Governance::RemoveMember { org: org(*index) },
            GovernanceOp::Rotate {
                org: index,
                old,
                new,
            } => {
                let old = self.current_key(&org(old.unwrap_or(*index))).public_key();
                let new = self.key_pick(new);
                Governance::RotateKey {
                    org: org(*index),
                    old,
                    new,
                }
            }
        }
    }

    /// The action a step takes, and the extra approvers for governance.
    fn action(&mut self, op: &Op, signer: &OrgId) -> (Action, Vec<OrgId>) {
        let action = match op {
            Op::Register { stone, carats } => testkit::register(stone_name(*stone), *carats),
            Op::Propose { stones, to } => {
                let ids: Vec<StoneId> = stones.iter().map(|pick| self.stone_id(pick, op)).collect();
                let names: Vec<&str> = ids.iter().map(StoneId::as_str).collect();
                let to = to.map(org).unwrap_or_else(|| Self::next_holder(signer));
                testkit::propose(&names, to.as_str())
            }
            Op::Answer(answer, pick) => {
                let id = self.proposal_id(pick);
                match answer {
                    Answer::Accept => testkit::accept(id),
                    Answer::Reject => testkit::reject(id),
                    Answer::Cancel => testkit::cancel(id),
                }
            }
            Op::Manufacture { rough, outputs } => {
                let outputs: Vec<(&str, u64)> = outputs
                    .iter()
                    .map(|(index, carats)| (stone_name(*index), *carats))
                    .collect();
                testkit::manufacture(self.stone_id(rough, op).as_str(), &outputs)
            }
            Op::Grade { stone, carats } => {
                testkit::grade(self.stone_id(stone, op).as_str(), *carats)
            }
            Op::Sell { stone } => testkit::sell(self.stone_id(stone, op).as_str()),
            Op::Flag {
                stone,
                reason: Some(reason),
            } => testkit::flag(self.stone_id(stone, op).as_str(), *reason),
            Op::Flag {
                stone,
                reason: None,
            } => testkit::clear_flag(self.stone_id(stone, op).as_str()),
            Op::Governance(change, approvers) => {
                let extra = approvers[1..].iter().map(|index| org(*index)).collect();
                return (Action::Governance(self.governance_change(change)), extra);
            }
        };
        (action, Vec::new())
    }

    /// Turns a step into the signed transaction it sends.
    fn transaction(&mut self, step: &Step) -> SignedTransaction {
        self.nonce += 1;
        if let Fault::Replay(index) = &step.fault {
            if !self.sent.is_empty() {
                return self.sent[index.index(self.sent.len())].clone();
            }
        }
        let signer = match (&step.op, &step.who) {
            (Op::Governance(_, approvers), _) => org(approvers[0]),
            (_, Who::Pick(index)) => org(*index),
            (op, Who::Natural) => self.natural_signer(op),
        };
        let (action, extra_approvers) = self.action(&step.op, &signer);
        let chain_id = match step.fault {
            Fault::WrongChain => ChainId::parse("another-chain").unwrap(),
            _ => self.chain.consortium.chain_id(),
        };
        let tx = Transaction {
            chain_id,
            signer: signer.clone(),
            nonce: self.nonce,
            action,
        };
        let own_key = self.current_key(&signer);
        let first = match step.fault {
            Fault::ForeignKey(index) => {
                let foreign = testkit::key_for(MEMBERS[index].0);
                Approval::new(&tx, signer, &foreign)
            }
            Fault::SpoiledSignature(index) => Approval {
                key: own_key.public_key(),
                ..Approval::new(&tx, signer, &testkit::key_for(MEMBERS[index].0))
            },
            _ => Approval::new(&tx, signer, &own_key),
        };
        let mut approvals = vec![first];
        let mut extra_approvers = extra_approvers;
        match step.fault {
            Fault::ExtraApproval(index) => extra_approvers.push(testkit::org(MEMBERS[index].0)),
            Fault::OtherSignsFirst(index) => {
                let other = testkit::org(MEMBERS[index].0);
                let key = self.current_key(&other);
                approvals.insert(0, Approval::new(&tx, other, &key));
            }
            _ => {}
        }
        for approver in extra_approvers {
            let key = self.current_key(&approver);
            approvals.push(Approval::new(&tx, approver, &key));
        }
        if matches!(tx.action, Action::ProposeTransfer(_)) {
            self.proposals_sent.push(tx.id());
        }
        SignedTransaction {
            tx,
            approvals: BoundedVec::new(approvals).unwrap(),
        }
    }

    /// Sends `action` as `signer`, correctly signed, into the pending block.
    fn send(&mut self, signer: &str, action: Action) -> TxId {
        self.nonce += 1;
        let signed = self.chain.consortium.tx(signer, self.nonce, action);
        if matches!(signed.tx.action, Action::ProposeTransfer(_)) {
            self.proposals_sent.push(signed.id());
        }
        self.sent.push(signed.clone());
        self.pending.push(signed);
        self.sent.last().unwrap().id()
    }

    /// A fixed start, checked like any other blocks, so that random steps soon
    /// reach cutting and selling: the mine registers S0 to S3, the cutter accepts
    /// S0 and S1, and the retailer accepts S2.
    fn prelude(&mut self) -> Result<(), TestCaseError> {
        for (index, carats) in [(0, 1_500), (1, 1_200), (2, 800), (3, 900)] {
            self.send("mine", testkit::register(STONES[index], carats));
        }
        self.commit_block()?;
        let to_cutter = self.send("mine", testkit::propose(&["S0", "S1"], "cutter"));
        let to_retailer = self.send("mine", testkit::propose(&["S2"], "retailer"));
        self.commit_block()?;
        self.send("cutter", testkit::accept(to_cutter));
        self.commit_block()?;
        self.send("retailer", testkit::accept(to_retailer));
        self.commit_block()
    }

    fn run(&mut self, steps: &[Step]) -> Result<(), TestCaseError> {
        self.prelude()?;
        for step in steps {
            let signed = self.transaction(step);
            self.sent.push(signed.clone());
            self.pending.push(signed);
            if step.end_block {
                self.commit_block()?;
            }
        }
        self.commit_block()
    }

    /// Applies the pending transactions as one block to the chain and the model,
    /// and checks receipts, state and invariants.
    fn commit_block(&mut self) -> Result<(), TestCaseError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let transactions = std::mem::take(&mut self.pending);
        let before = self.chain.state.clone();
        // The model predicts each outcome; the stone events' numbers are
        // checked against the state by the proofs' tests.
        let expected: Vec<(TxId, Outcome)> = transactions
            .iter()
            .map(|signed| (signed.id(), self.model.apply(signed)))
            .collect();
        let receipts = self.chain.apply(transactions.clone()).receipts.clone();
        for (index, (real, predicted)) in receipts.iter().zip(&expected).enumerate() {
            let tx = &transactions[index].tx;
            prop_assert_eq!(
                (real.tx_id, &real.outcome),
                (predicted.0, &predicted.1),
                "tx {} of the block: {} by {} {:?}",
                index,
                tx.action.name(),
                tx.signer,
                tx.action
            );
        }
        prop_assert_eq!(receipts.len(), expected.len());
        check_matches_model(&self.chain.state, &self.model.world)?;
        let block = Block {
            before: &before,
            after: &self.chain.state,
            transactions: &transactions,
            receipts: &receipts,
        };
        block.check_invariants(&self.model.world.ever_members)
    }
}

// ================================================================ checks

/// The real state holds exactly the model's stones, proposals and members.
fn check_matches_model(state: &MemoryState, world: &World) -> Result<(), TestCaseError> {
    let real_stones: BTreeMap<&StoneId, ModelStone> = state
        .stones()
        .iter()
        .map(|(id, stone)| (id, ModelStone::of(stone)))
        .collect();
    let model_stones: BTreeMap<&StoneId, ModelStone> =
        world.stones.iter().map(|(id, s)| (id, s.clone())).collect();
    prop_assert_eq!(real_stones, model_stones);

    let real_proposals: BTreeMap<&TxId, ModelProposal> = state
        .proposals()
        .iter()
        .map(|(id, proposal)| {
            let model = ModelProposal {
                from: proposal.from.clone(),
                to: proposal.to.clone(),
                stones: proposal.stones.as_slice().to_vec(),
                status: proposal.status,
            };
            (id, model)
        })
        .collect();
    let model_proposals: BTreeMap<&TxId, ModelProposal> = world
        .proposals
        .iter()
        .map(|(id, p)| (id, p.clone()))
        .collect();
    prop_assert_eq!(real_proposals, model_proposals);

    let real_members: BTreeMap<OrgId, ModelMember> = state
        .membership()
        .members
        .iter()
        .map(|(org, member)| {
            let model = ModelMember {
                roles: member.roles,
                keys: member.keys.as_slice().to_vec(),
            };
            (org.clone(), model)
        })
        .collect();
    prop_assert_eq!(&real_members, &world.members);
    Ok(())
}

/// One committed block, with the state before and after it.
struct Block<'a> {
    before: &'a MemoryState,
    after: &'a MemoryState,
    transactions: &'a [SignedTransaction],
    receipts: &'a [Receipt],
}

impl Block<'_> {
    fn check_invariants(&self, ever_members: &HashSet<OrgId>) -> Result<(), TestCaseError> {
        for (id, stone) in self.after.stones() {
            prop_assert!(
                ever_members.contains(&stone.custodian),
                "{} is held by {}, never a member",
                id,
                stone.custodian
            );
            self.check_custody(id, stone)?;
        }
        check_manufacture_conserves_carats(self.after)?;
        check_proposal_locks(self.after)?;
        if self
            .receipts
            .iter()
            .all(|receipt| !receipt.outcome.is_applied())
        {
            prop_assert_eq!(self.before.stones(), self.after.stones());
            prop_assert_eq!(self.before.proposals(), self.after.proposals());
            prop_assert_eq!(self.before.membership(), self.after.membership());
        }
        Ok(())
    }

    /// The applied transactions of the block, in order.
    fn applied(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .zip(self.receipts)
            .filter(|(_, receipt)| receipt.outcome.is_applied())
            .map(|(signed, _)| &signed.tx)
    }

    /// Replays the block's applied creations and accepted transfers of `id`: each
    /// transfer must be proposed by the holder of the moment and accepted by its
    /// receiver, and they must end at the stone's custodian. Sold stones and
    /// stones flagged all block long do not move.
    fn check_custody(&self, id: &StoneId, stone: &Stone) -> Result<(), TestCaseError> {
        let previous = self.before.stones().get(id);
        let mut holder = previous.map(|stone| stone.custodian.clone());
        let mut cleared = false;
        for tx in self.applied() {
            match &tx.action {
                Action::RegisterStone(register) if &register.stone_id == id => {
                    prop_assert!(holder.is_none(), "{} registered twice", id);
                    holder = Some(tx.signer.clone());
                }
                Action::Manufacture(manufacture)
                    if manufacture
                        .outputs
                        .iter()
                        .any(|output| &output.stone_id == id) =>
                {
                    prop_assert!(holder.is_none(), "{} cut when it existed", id);
                    holder = Some(tx.signer.clone());
                }
                Action::AcceptTransfer { proposal } => {
                    let proposal = &self.after.proposals()[proposal];
                    if proposal.stones.iter().any(|listed| listed == id) {
                        prop_assert_eq!(holder.as_ref(), Some(&proposal.from));
                        prop_assert_eq!(&tx.signer, &proposal.to);
                        holder = Some(proposal.to.clone());
                    }
                }
                Action::ClearFlag { stone } if stone == id => cleared = true,
                _ => {}
            }
        }
        prop_assert_eq!(holder.as_ref(), Some(&stone.custodian), "custody of {}", id);
        if let Some(previous) = previous {
            let frozen =
                previous.status != StoneStatus::Active || (previous.flag.is_some() && !cleared);
            if frozen {
                prop_assert_eq!(&previous.custodian, &stone.custodian, "{} moved", id);
            }
            if previous.status != StoneStatus::Active {
                prop_assert_eq!(previous.status, stone.status, "{} came back", id);
            }
        }
        Ok(())
    }
}

/// Every consumed rough lists outputs that name it as parent and weigh no more
/// than it; every polished stone's parent is a consumed rough listing it.
fn check_manufacture_conserves_carats(state: &MemoryState) -> Result<(), TestCaseError> {
    let stones = state.stones();
    for (id, stone) in stones {
        if stone.status == StoneStatus::Consumed {
            prop_assert!(stone.parent().is_none(), "{} is polished but consumed", id);
            prop_assert!(!stone.outputs.is_empty(), "{} consumed into nothing", id);
            let mut total = 0u64;
            for output in &stone.outputs {
                let polished = &stones[output];
                prop_assert_eq!(polished.parent(), Some(id));
                total += polished.carats().0;
            }
            prop_assert!(total <= stone.carats().0, "{} outweighed: {}", id, total);
        } else {
            prop_assert!(stone.outputs.is_empty(), "{} has outputs", id);
        }
        if let Some(parent) = stone.parent() {
            let rough = &stones[parent];
            prop_assert_eq!(rough.status, StoneStatus::Consumed);
            prop_assert!(rough.outputs.iter().any(|output| output == id));
        }
    }
    Ok(())
}

/// A stone names an open proposal exactly when an open proposal lists it, and
/// that proposal comes from the stone's custodian.
fn check_proposal_locks(state: &MemoryState) -> Result<(), TestCaseError> {
    let mut locked = BTreeSet::new();
    for (proposal_id, proposal) in state.proposals() {
        if proposal.status != ProposalStatus::Open {
            continue;
        }
        for id in &proposal.stones {
            let stone = &state.stones()[id];
            prop_assert_eq!(stone.open_proposal, Some(*proposal_id));
            prop_assert_eq!(&stone.custodian, &proposal.from);
            prop_assert_eq!(stone.status, StoneStatus::Active);
            prop_assert!(locked.insert(id.clone()), "{} in two proposals", id);
        }
    }
    for (id, stone) in state.stones() {
        prop_assert_eq!(stone.open_proposal.is_some(), locked.contains(id), "{}", id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_ledger_agrees_with_the_reference_model(steps in vec(step(), 1..60)) {
        Harness::new().run(&steps)?;
    }
}

/// The generator reaches the interesting states: over a fixed seed, every kind
/// of action is applied at least once and rejections are frequent but not total.
#[test]
fn the_generated_steps_reach_every_kind_of_outcome() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut applied = BTreeMap::<&'static str, u32>::new();
    let (mut total, mut rejected) = (0u32, 0u32);
    for _ in 0..48 {
        let steps = vec(step(), 40..60).new_tree(&mut runner).unwrap().current();
        let mut harness = Harness::new();
        harness.run(&steps).unwrap();
        for block in &harness.chain.blocks {
            for (signed, receipt) in block.block.transactions.iter().zip(&block.receipts) {
                total += 1;
                if receipt.outcome.is_applied() {
                    *applied.entry(signed.tx.action.name()).or_default() += 1;
                } else {
                    rejected += 1;
                }
            }
        }
    }
    let kinds: Vec<&str> = applied.keys().copied().collect();
    assert_eq!(
        kinds,
        [
            "accept_transfer",
            "cancel_transfer",
            "clear_flag",
            "flag",
            "governance",
            "grade",
            "manufacture",
            "propose_transfer",
            "register_stone",
            "reject_transfer",
            "sell",
        ]
    );
    assert!(
        rejected > total / 5 && rejected < total * 9 / 10,
        "{rejected} of {total} rejected"
    );
}
