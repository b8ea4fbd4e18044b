//! Custody continuity: the verifier's own replay of the lineage's stone events.
//!
//! [`Custody`] tracks, for each lineage stone, its custodian, status, flag and
//! open proposal, and each proposal the proof holds; every event must be allowed
//! by the state so far and by the membership in force at its position. It also
//! records the steps and custody periods that become the [`Journey`].
//!
//! The checks mirror the ledger rules (`crate::rules`) for the stones of one
//! lineage; stones outside it (other stones of a parcel, sibling cuts) are not
//! tracked, as the proof holds none of their history.

use std::collections::BTreeMap;

use super::authority::check_stone_signature;
use super::error::ProofError;
use super::journey::{CustodyPeriod, Journey, JourneyStep, StepKind};
use super::ProvenEvent;
use crate::ids::{BlockHash, ChainId, OrgId, ProposalId, StoneId, TxId};
use crate::model::{
    Action, BlockHeader, Carats, FlagReason, LabReport, Manufacture, Membership, ProposeTransfer,
    RegisterStone, Role, StoneStatus,
};

/// What the verifier knows of one lineage stone.
#[derive(Clone, Debug)]
struct Tracked {
    custodian: OrgId,
    status: StoneStatus,
    flag: Option<FlagReason>,
    open_proposal: Option<ProposalId>,
    carats: Carats,
    is_rough: bool,
}

/// A transfer proposal of the proof, reduced to its lineage stones.
#[derive(Clone, Debug)]
struct TrackedProposal {
    from: OrgId,
    to: OrgId,
    stones: Vec<StoneId>,
    open: bool,
}

/// How a proposal is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Accept,
    Reject,
    Cancel,
}

/// The event being checked: where it is and who signed it.
struct At<'e> {
    height: u64,
    tx_index: u32,
    timestamp_ms: u64,
    signer: &'e OrgId,
    tx_id: TxId,
}

/// What one event did, for the journey: the lineage stone it concerns, and how.
type Effect = (StoneId, StepKind);

/// The verifier's replay of custody along one lineage.
pub(super) struct Custody {
    lineage: Vec<StoneId>,
    stones: BTreeMap<StoneId, Tracked>,
    proposals: BTreeMap<ProposalId, TrackedProposal>,
    registration: Option<(RegisterStone, OrgId)>,
    steps: Vec<JourneyStep>,
    periods: Vec<CustodyPeriod>,
}

impl Custody {
    /// Nothing known yet about `lineage` (rough first).
    pub(super) fn new(lineage: Vec<StoneId>) -> Self {
        Self {
            lineage,
            stones: BTreeMap::new(),
            proposals: BTreeMap::new(),
            registration: None,
            steps: Vec::new(),
            periods: Vec::new(),
        }
    }

    /// Checks and applies one stone event of the block `header`, under `membership`.
    pub(super) fn apply(
        &mut self,
        chain_id: &ChainId,
        event: &ProvenEvent,
        header: &BlockHeader,
        membership: &Membership,
    ) -> Result<(), ProofError> {
        let tx = &event.transaction.tx;
        let at = At {
            height: header.height,
            tx_index: event.location.tx_index,
            timestamp_ms: header.timestamp_ms,
            signer: &tx.signer,
            tx_id: event.transaction.id(),
        };
        if !self.concerns(&tx.action) {
            return Err(ProofError::UnrelatedEvent {
                height: at.height,
                tx_index: at.tx_index,
            });
        }
        check_stone_signature(chain_id, membership, event)?;
        let (stone, kind) = self.dispatch(&at, &tx.action, membership)?;
        self.steps.push(JourneyStep {
            height: at.height,
            timestamp_ms: at.timestamp_ms,
            stone,
            signer: at.signer.clone(),
            tx_id: at.tx_id,
            kind,
        });
        Ok(())
    }

    fn dispatch(
        &mut self,
        at: &At<'_>,
        action: &Action,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        match action {
            Action::RegisterStone(register) => self.register(at, register, membership),
            Action::ProposeTransfer(propose) => self.propose(at, propose, membership),
            Action::AcceptTransfer { proposal } => {
                self.answer(at, proposal, Answer::Accept, membership)
            }
            Action::RejectTransfer { proposal } => {
                self.answer(at, proposal, Answer::Reject, membership)
            }
            Action::CancelTransfer { proposal } => {
                self.answer(at, proposal, Answer::Cancel, membership)
            }
            Action::Manufacture(manufacture) => self.manufacture(at, manufacture, membership),
            Action::Grade { stone, report } => self.grade(at, stone, report, membership),
            Action::Sell { stone, .. } => self.sell(at, stone, membership),
            Action::Flag { stone, reason } => self.flag(at, stone, Some(*reason), membership),
            Action::ClearFlag { stone } => self.flag(at, stone, None, membership),
            Action::Governance(_) => Err(ProofError::UnrelatedEvent {
                height: at.height,
                tx_index: at.tx_index,
            }),
        }
    }

    fn in_lineage(&self, stone: &StoneId) -> bool {
        self.lineage.contains(stone)
    }

    /// Whether `action` touches a lineage stone. Answers to proposals are judged
    /// by their proposal instead: one the proof does not hold is reported as such.
    fn concerns(&self, action: &Action) -> bool {
        match action {
            Action::RegisterStone(register) => self.in_lineage(&register.stone_id),
            Action::ProposeTransfer(propose) => propose.stones.iter().any(|s| self.in_lineage(s)),
            Action::AcceptTransfer { .. }
            | Action::RejectTransfer { .. }
            | Action::CancelTransfer { .. } => true,
            Action::Manufacture(manufacture) => {
                self.in_lineage(&manufacture.rough)
                    || manufacture
                        .outputs
                        .iter()
                        .any(|output| self.in_lineage(&output.stone_id))
            }
            Action::Grade { stone, .. }
            | Action::Sell { stone, .. }
            | Action::Flag { stone, .. }
            | Action::ClearFlag { stone } => self.in_lineage(stone),
            Action::Governance(_) => false,
        }
    }

    /// The lineage stone `id`, which must exist by now.
    fn tracked(&self, at: &At<'_>, id: &StoneId) -> Result<Tracked, ProofError> {
        self.stones
            .get(id)
            .cloned()
            .ok_or_else(|| ProofError::StoneNotCreated {
                height: at.height,
                stone: id.clone(),
            })
    }

    fn tracked_mut(&mut self, at: &At<'_>, id: &StoneId) -> Result<&mut Tracked, ProofError> {
        self.stones
            .get_mut(id)
            .ok_or_else(|| ProofError::StoneNotCreated {
                height: at.height,
                stone: id.clone(),
            })
    }

    fn create(&mut self, at: &At<'_>, id: &StoneId, stone: Tracked) -> Result<(), ProofError> {
        if self.stones.contains_key(id) {
            return Err(ProofError::StoneCreatedTwice {
                height: at.height,
                stone: id.clone(),
            });
        }
        self.stones.insert(id.clone(), stone);
        Ok(())
    }

    /// Opens a custody period for `org`, unless it already holds the lineage.
    fn note_custodian(&mut self, org: &OrgId, since_ms: u64, membership: &Membership) {
        if self.periods.last().is_some_and(|period| &period.org == org) {
            return;
        }
        if let Some(last) = self.periods.last_mut() {
            last.until_ms = Some(since_ms);
        }
        let name = membership
            .member(org)
            .map(|member| member.name.to_string())
            .unwrap_or_default();
        self.periods.push(CustodyPeriod {
            org: org.clone(),
            name,
            from_ms: since_ms,
            until_ms: None,
        });
    }

    fn register(
        &mut self,
        at: &At<'_>,
        register: &RegisterStone,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        require_role(at, membership, Role::Producer)?;
        let rough = Tracked {
            custodian: at.signer.clone(),
            status: StoneStatus::Active,
            flag: None,
            open_proposal: None,
            carats: register.rough.carats,
            is_rough: true,
        };
        self.create(at, &register.stone_id, rough)?;
        self.registration = Some((register.clone(), at.signer.clone()));
        self.note_custodian(at.signer, at.timestamp_ms, membership);
        Ok((register.stone_id.clone(), StepKind::Registered))
    }

    fn propose(
        &mut self,
        at: &At<'_>,
        propose: &ProposeTransfer,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        if membership.member(&propose.to).is_none() {
            return Err(ProofError::ReceiverNotMember {
                height: at.height,
                org: propose.to.clone(),
            });
        }
        let parcel: Vec<StoneId> = propose
            .stones
            .iter()
            .filter(|id| self.in_lineage(id))
            .cloned()
            .collect();
        for id in &parcel {
            check_movable(at, id, &self.tracked(at, id)?)?;
        }
        for id in &parcel {
            self.tracked_mut(at, id)?.open_proposal = Some(at.tx_id);
        }
        let lead = lead_stone(at, &parcel)?;
        self.proposals.insert(
            at.tx_id,
            TrackedProposal {
                from: at.signer.clone(),
                to: propose.to.clone(),
                stones: parcel,
                open: true,
            },
        );
        let kind = StepKind::TransferProposed {
            to: propose.to.clone(),
        };
        Ok((lead, kind))
    }

    fn answer(
        &mut self,
        at: &At<'_>,
        id: &ProposalId,
        answer: Answer,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        let proposal = self.open_proposal(at, id)?;
        check_answerer(at, id, &proposal, answer)?;
        if answer == Answer::Accept {
            for stone in &proposal.stones {
                if let Some(reason) = self.tracked(at, stone)?.flag {
                    return Err(ProofError::StoneMovedWhileFlagged {
                        height: at.height,
                        stone: stone.clone(),
                        reason,
                    });
                }
            }
        }
        for stone in &proposal.stones {
            let tracked = self.tracked_mut(at, stone)?;
            tracked.open_proposal = None;
            if answer == Answer::Accept {
                tracked.custodian = proposal.to.clone();
            }
        }
        if let Some(open) = self.proposals.get_mut(id) {
            open.open = false;
        }
        let kind = match answer {
            Answer::Accept => {
                self.note_custodian(&proposal.to, at.timestamp_ms, membership);
                StepKind::CustodyTransferred {
                    from: proposal.from.clone(),
                    to: proposal.to.clone(),
                }
            }
            Answer::Reject => StepKind::TransferRejected,
            Answer::Cancel => StepKind::TransferCancelled,
        };
        Ok((lead_stone(at, &proposal.stones)?, kind))
    }

    /// The proposal `id`, which the proof must hold, still open.
    fn open_proposal(&self, at: &At<'_>, id: &ProposalId) -> Result<TrackedProposal, ProofError> {
        let proposal = self.proposals.get(id).ok_or(ProofError::UnknownProposal {
            height: at.height,
            proposal: *id,
        })?;
        if !proposal.open {
            return Err(ProofError::ProposalClosed {
                height: at.height,
                proposal: *id,
            });
        }
        Ok(proposal.clone())
    }

    fn manufacture(
        &mut self,
        at: &At<'_>,
        manufacture: &Manufacture,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        require_role(at, membership, Role::Manufacturer)?;
        let rough = self.tracked(at, &manufacture.rough)?;
        check_movable(at, &manufacture.rough, &rough)?;
        if !rough.is_rough {
            return Err(ProofError::NotRough {
                height: at.height,
                stone: manufacture.rough.clone(),
            });
        }
        let total = manufacture
            .outputs
            .iter()
            .map(|output| output.four_cs.carats.0)
            .fold(0u64, u64::saturating_add);
        if total > rough.carats.0 {
            return Err(ProofError::CaratsExceeded {
                height: at.height,
                rough: rough.carats,
                outputs: Carats(total),
            });
        }
        for output in manufacture.outputs.iter() {
            if self.in_lineage(&output.stone_id) {
                let polished = Tracked {
                    custodian: at.signer.clone(),
                    status: StoneStatus::Active,
                    flag: None,
                    open_proposal: None,
                    carats: output.four_cs.carats,
                    is_rough: false,
                };
                self.create(at, &output.stone_id, polished)?;
            }
        }
        self.tracked_mut(at, &manufacture.rough)?.status = StoneStatus::Consumed;
        let kind = StepKind::Manufactured {
            cutter: manufacture.cutter.name.to_string(),
            experience_years: manufacture.cutter.experience_years,
            outputs: manufacture.outputs.as_slice().to_vec(),
        };
        Ok((manufacture.rough.clone(), kind))
    }

    fn grade(
        &mut self,
        at: &At<'_>,
        stone: &StoneId,
        report: &LabReport,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        require_role(at, membership, Role::Lab)?;
        check_active(at, stone, &self.tracked(at, stone)?)?;
        let kind = StepKind::Graded {
            lab: at.signer.clone(),
            report_number: report.report_number.to_string(),
            four_cs: report.four_cs.clone(),
            origin_matched: report.origin_matched,
        };
        Ok((stone.clone(), kind))
    }

    fn sell(
        &mut self,
        at: &At<'_>,
        stone: &StoneId,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        require_role(at, membership, Role::Retailer)?;
        check_movable(at, stone, &self.tracked(at, stone)?)?;
        self.tracked_mut(at, stone)?.status = StoneStatus::Sold;
        let kind = StepKind::Sold {
            retailer: at.signer.clone(),
        };
        Ok((stone.clone(), kind))
    }

    /// Sets (`Some`) or clears (`None`) a stone's flag.
    fn flag(
        &mut self,
        at: &At<'_>,
        stone: &StoneId,
        reason: Option<FlagReason>,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        let tracked = self.tracked(at, stone)?;
        check_may_flag(at, stone, &tracked, membership)?;
        let kind = match (reason, tracked.flag) {
            (Some(_), Some(_)) => Err(ProofError::AlreadyFlagged {
                height: at.height,
                stone: stone.clone(),
            }),
            (None, None) => Err(ProofError::NotFlagged {
                height: at.height,
                stone: stone.clone(),
            }),
            (Some(reason), None) => Ok(StepKind::Flagged {
                reason,
                by: at.signer.clone(),
            }),
            (None, Some(_)) => Ok(StepKind::FlagCleared {
                by: at.signer.clone(),
            }),
        }?;
        self.tracked_mut(at, stone)?.flag = reason;
        Ok((stone.clone(), kind))
    }

    /// The journey, once every event has been replayed.
    pub(super) fn into_journey(
        self,
        stone: &StoneId,
        tip_height: u64,
        tip_hash: BlockHash,
    ) -> Result<Journey, ProofError> {
        let root = self.lineage.first().unwrap_or(stone).clone();
        let (register, producer) = self
            .registration
            .ok_or(ProofError::MissingRegistration { stone: root })?;
        let tracked = self
            .stones
            .get(stone)
            .ok_or_else(|| ProofError::StoneNotInProof {
                stone: stone.clone(),
            })?;
        Ok(Journey {
            stone: stone.clone(),
            lineage: self.lineage.clone(),
            origin: register.origin,
            producer,
            kp_certificate: register.kp_certificate.to_string(),
            rough_carats: register.rough.carats,
            steps: self.steps,
            custody: self.periods,
            custodian: tracked.custodian.clone(),
            status: tracked.status,
            flag: tracked.flag,
            tip_height,
            tip_hash,
        })
    }
}

/// The lineage stone a transfer step is shown under.
fn lead_stone(at: &At<'_>, parcel: &[StoneId]) -> Result<StoneId, ProofError> {
    parcel.first().cloned().ok_or(ProofError::UnrelatedEvent {
        height: at.height,
        tx_index: at.tx_index,
    })
}

fn require_role(at: &At<'_>, membership: &Membership, role: Role) -> Result<(), ProofError> {
    let holds = membership
        .member(at.signer)
        .is_some_and(|member| member.roles.contains(role));
    if holds {
        return Ok(());
    }
    Err(ProofError::MissingRole {
        height: at.height,
        tx_index: at.tx_index,
        org: at.signer.clone(),
        role,
    })
}

fn check_active(at: &At<'_>, id: &StoneId, stone: &Tracked) -> Result<(), ProofError> {
    if stone.status == StoneStatus::Active {
        return Ok(());
    }
    Err(ProofError::StoneNotActive {
        height: at.height,
        stone: id.clone(),
        status: stone.status,
    })
}

/// The signer may move the stone now: it holds it, and the stone is active,
/// unflagged and not locked in an open proposal. In the rules' order.
fn check_movable(at: &At<'_>, id: &StoneId, stone: &Tracked) -> Result<(), ProofError> {
    if &stone.custodian != at.signer {
        return Err(ProofError::NotCustodian {
            height: at.height,
            stone: id.clone(),
            signer: at.signer.clone(),
            custodian: stone.custodian.clone(),
        });
    }
    check_active(at, id, stone)?;
    if let Some(reason) = stone.flag {
        return Err(ProofError::StoneMovedWhileFlagged {
            height: at.height,
            stone: id.clone(),
            reason,
        });
    }
    if let Some(proposal) = stone.open_proposal {
        return Err(ProofError::StoneInOpenProposal {
            height: at.height,
            stone: id.clone(),
            proposal,
        });
    }
    Ok(())
}

/// Only the receiver answers a proposal; only the proposer withdraws it.
fn check_answerer(
    at: &At<'_>,
    id: &ProposalId,
    proposal: &TrackedProposal,
    answer: Answer,
) -> Result<(), ProofError> {
    match answer {
        Answer::Accept | Answer::Reject if &proposal.to != at.signer => {
            Err(ProofError::NotReceiver {
                height: at.height,
                proposal: *id,
                signer: at.signer.clone(),
                receiver: proposal.to.clone(),
            })
        }
        Answer::Cancel if &proposal.from != at.signer => Err(ProofError::NotProposer {
            height: at.height,
            proposal: *id,
            signer: at.signer.clone(),
            proposer: proposal.from.clone(),
        }),
        _ => Ok(()),
    }
}

/// The custodian, an Auditor or an Admin may flag or clear a stone that still
/// exists as itself (a sold stone can still be stolen).
fn check_may_flag(
    at: &At<'_>,
    id: &StoneId,
    stone: &Tracked,
    membership: &Membership,
) -> Result<(), ProofError> {
    if stone.status == StoneStatus::Consumed {
        return Err(ProofError::StoneNotActive {
            height: at.height,
            stone: id.clone(),
            status: stone.status,
        });
    }
    let entitled = &stone.custodian == at.signer
        || membership.member(at.signer).is_some_and(|member| {
            member.roles.contains(Role::Auditor) || member.roles.contains(Role::Admin)
        });
    if entitled {
        return Ok(());
    }
    Err(ProofError::NotEntitledToFlag {
        height: at.height,
        stone: id.clone(),
        org: at.signer.clone(),
    })
}
