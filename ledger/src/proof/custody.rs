//! Custody continuity: the verifier's own replay of the lineage's stone events.
//!
//! [`Custody`] tracks, for each lineage stone, its custodian, status, flag and
//! open proposal, and each proposal the proof holds; every event must be allowed
//! by the state so far and by the membership in force at its position. It also
//! records the steps and custody periods that become the [`Journey`].
//!
//! The checks are the ledger rules' own predicates (`crate::rules::predicates`),
//! applied to the stones of one lineage, and their rejections are placed at the
//! event; stones outside the lineage (other stones of a parcel, sibling cuts)
//! are not tracked, as the proof holds none of their history.

use std::collections::BTreeMap;

use super::authority::check_stone_signature;
use super::error::ProofError;
use super::journey::{CustodyPeriod, Journey, JourneyStep, StepKind};
use super::ProvenEvent;
use crate::ids::{BlockHash, ChainId, OrgId, ProposalId, StoneId, TxId};
use crate::model::{
    Action, BlockHeader, Carats, FlagReason, LabReport, Manufacture, Membership, ProposeTransfer,
    RegisterStone, RejectReason, Role, SaleBranding, StoneStatus,
};
use crate::rules::predicates::{
    check_active, check_answerer, check_clearable, check_flaggable, check_may_flag, check_movable,
    check_outputs_fit, check_proposer_is_member, check_receiver_is_member, check_rough,
    check_unflagged, require_role, Answer, StoneFacts,
};

/// What the verifier knows of one lineage stone: what the rules' predicates
/// read, and its weight (for a cut's outputs).
#[derive(Clone, Debug)]
struct Tracked {
    facts: StoneFacts,
    carats: Carats,
}

/// A transfer proposal of the proof, reduced to its lineage stones.
#[derive(Clone, Debug)]
struct TrackedProposal {
    from: OrgId,
    to: OrgId,
    stones: Vec<StoneId>,
    open: bool,
}

/// The event being checked: where it is and who signed it.
struct At<'e> {
    height: u64,
    tx_index: u32,
    timestamp_ms: u64,
    signer: &'e OrgId,
    tx_id: TxId,
}

impl At<'_> {
    /// A rule's verdict on this event, as the verifier reports it.
    fn enforce(&self, verdict: Result<(), RejectReason>) -> Result<(), ProofError> {
        verdict.map_err(|reason| self.breach(reason))
    }

    /// The proof error naming the rule this event breaks, and where. The
    /// verifier's errors say which block broke a rule, so they add the height
    /// (and the signer or position where the rejection does not name them).
    fn breach(&self, reason: RejectReason) -> ProofError {
        let height = self.height;
        match reason {
            RejectReason::NotCustodian {
                stone,
                signer,
                custodian,
            } => ProofError::NotCustodian {
                height,
                stone,
                signer,
                custodian,
            },
            RejectReason::StoneSold { stone } => ProofError::StoneNotActive {
                height,
                stone,
                status: StoneStatus::Sold,
            },
            RejectReason::StoneConsumed { stone } => ProofError::StoneNotActive {
                height,
                stone,
                status: StoneStatus::Consumed,
            },
            RejectReason::StoneFlagged { stone, reason } => ProofError::StoneMovedWhileFlagged {
                height,
                stone,
                reason,
            },
            RejectReason::StoneInOpenProposal { stone, proposal } => {
                ProofError::StoneInOpenProposal {
                    height,
                    stone,
                    proposal,
                }
            }
            RejectReason::NotEntitledToFlag { org, stone } => {
                ProofError::NotEntitledToFlag { height, stone, org }
            }
            RejectReason::AlreadyFlagged { stone, .. } => {
                ProofError::AlreadyFlagged { height, stone }
            }
            RejectReason::NotFlagged { stone } => ProofError::NotFlagged { height, stone },
            reason => self.party_breach(reason),
        }
    }

    /// [`At::breach`] for the rules on members, proposals and cuts.
    fn party_breach(&self, reason: RejectReason) -> ProofError {
        let height = self.height;
        let tx_index = self.tx_index;
        match reason {
            RejectReason::MissingRole { org, role } => ProofError::MissingRole {
                height,
                tx_index,
                org,
                role,
            },
            RejectReason::UnknownReceiver { org } => ProofError::ReceiverNotMember { height, org },
            RejectReason::NotReceiver { proposal, receiver } => ProofError::NotReceiver {
                height,
                proposal,
                signer: self.signer.clone(),
                receiver,
            },
            RejectReason::NotProposer { proposal, proposer } => ProofError::NotProposer {
                height,
                proposal,
                signer: self.signer.clone(),
                proposer,
            },
            RejectReason::NotRough { stone } => ProofError::NotRough { height, stone },
            RejectReason::CaratsExceeded { rough, outputs } => ProofError::CaratsExceeded {
                height,
                rough,
                outputs,
            },
            // The predicates give none but the reasons above; any other would
            // still be a rule the event breaks, so it is reported as rejected.
            reason => ProofError::NotApplied {
                height,
                tx_index,
                reason,
            },
        }
    }
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
            Action::Sell {
                stone, branding, ..
            } => self.sell(at, stone, branding.as_ref(), membership),
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

    fn create(&mut self, at: &At<'_>, stone: Tracked) -> Result<(), ProofError> {
        if self.stones.contains_key(&stone.facts.id) {
            return Err(ProofError::StoneCreatedTwice {
                height: at.height,
                stone: stone.facts.id,
            });
        }
        self.stones.insert(stone.facts.id.clone(), stone);
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
        at.enforce(require_role(membership, at.signer, Role::Producer))?;
        let rough = Tracked {
            facts: StoneFacts::created(register.stone_id.clone(), at.signer.clone(), true),
            carats: register.rough.carats,
        };
        self.create(at, rough)?;
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
        at.enforce(check_receiver_is_member(membership, &propose.to))?;
        let parcel: Vec<StoneId> = propose
            .stones
            .iter()
            .filter(|id| self.in_lineage(id))
            .cloned()
            .collect();
        for id in &parcel {
            at.enforce(check_movable(&self.tracked(at, id)?.facts, at.signer))?;
        }
        for id in &parcel {
            self.tracked_mut(at, id)?.facts.open_proposal = Some(at.tx_id);
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
        at.enforce(check_answerer(
            *id,
            &proposal.from,
            &proposal.to,
            at.signer,
            answer,
        ))?;
        if answer == Answer::Accept {
            at.enforce(check_proposer_is_member(membership, *id, &proposal.from))?;
            for stone in &proposal.stones {
                at.enforce(check_unflagged(&self.tracked(at, stone)?.facts))?;
            }
        }
        for stone in &proposal.stones {
            let tracked = self.tracked_mut(at, stone)?;
            tracked.facts.open_proposal = None;
            if answer == Answer::Accept {
                tracked.facts.custodian = proposal.to.clone();
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
        at.enforce(require_role(membership, at.signer, Role::Manufacturer))?;
        let rough = self.tracked(at, &manufacture.rough)?;
        at.enforce(check_movable(&rough.facts, at.signer))?;
        at.enforce(check_rough(&rough.facts))?;
        at.enforce(check_outputs_fit(
            rough.carats,
            manufacture.outputs.as_slice(),
        ))?;
        for output in manufacture.outputs.iter() {
            if self.in_lineage(&output.stone_id) {
                let polished = Tracked {
                    facts: StoneFacts::created(output.stone_id.clone(), at.signer.clone(), false),
                    carats: output.four_cs.carats,
                };
                self.create(at, polished)?;
            }
        }
        self.tracked_mut(at, &manufacture.rough)?.facts.status = StoneStatus::Consumed;
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
        at.enforce(require_role(membership, at.signer, Role::Lab))?;
        at.enforce(check_active(&self.tracked(at, stone)?.facts))?;
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
        branding: Option<&SaleBranding>,
        membership: &Membership,
    ) -> Result<Effect, ProofError> {
        at.enforce(require_role(membership, at.signer, Role::Retailer))?;
        at.enforce(check_movable(&self.tracked(at, stone)?.facts, at.signer))?;
        self.tracked_mut(at, stone)?.facts.status = StoneStatus::Sold;
        let kind = StepKind::Sold {
            retailer: at.signer.clone(),
            branding: branding.cloned(),
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
        let facts = self.tracked(at, stone)?.facts;
        at.enforce(check_may_flag(&facts, at.signer, membership))?;
        let kind = match reason {
            Some(reason) => {
                at.enforce(check_flaggable(&facts))?;
                StepKind::Flagged {
                    reason,
                    by: at.signer.clone(),
                }
            }
            None => {
                at.enforce(check_clearable(&facts))?;
                StepKind::FlagCleared {
                    by: at.signer.clone(),
                }
            }
        };
        self.tracked_mut(at, stone)?.facts.flag = reason;
        Ok((stone.clone(), kind))
    }

    /// What the replay knows of `stone` now, if it is a lineage stone that
    /// has been created.
    pub(super) fn facts(&self, stone: &StoneId) -> Option<&StoneFacts> {
        self.stones.get(stone).map(|tracked| &tracked.facts)
    }

    /// The journey, once every event has been replayed.
    pub(super) fn into_journey(
        self,
        stone: &StoneId,
        tip: &BlockHeader,
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
            custodian: tracked.facts.custodian.clone(),
            status: tracked.facts.status,
            flag: tracked.facts.flag,
            tip_height: tip.height,
            as_of_ms: tip.timestamp_ms,
            tip_hash,
            certified_by: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolishedOutput;
    use crate::testkit::{four_cs, org, stone, text, Consortium};

    fn event_by(signer: &OrgId) -> At<'_> {
        At {
            height: 7,
            tx_index: 2,
            timestamp_ms: 0,
            signer,
            tx_id: TxId::default(),
        }
    }

    fn polished_held_by(custodian: &str) -> StoneFacts {
        StoneFacts::created(stone("POL-1"), org(custodian), false)
    }

    /// The replay reports the first fault the rules would find, in the rules'
    /// order, as the proof error of the event's block.
    #[test]
    fn the_replay_reports_the_rules_first_fault_at_the_event() {
        let lab = org("lab");
        let event = event_by(&lab);
        let mut faulty = polished_held_by("cutter");
        faulty.status = StoneStatus::Sold;
        faulty.flag = Some(FlagReason::Lost);
        faulty.open_proposal = Some(ProposalId::default());
        let replayed = |stone: &StoneFacts| event.enforce(check_movable(stone, &lab));
        assert_eq!(
            replayed(&faulty),
            Err(ProofError::NotCustodian {
                height: 7,
                stone: stone("POL-1"),
                signer: lab.clone(),
                custodian: org("cutter"),
            })
        );
        faulty.custodian = lab.clone();
        assert_eq!(
            replayed(&faulty),
            Err(ProofError::StoneNotActive {
                height: 7,
                stone: stone("POL-1"),
                status: StoneStatus::Sold,
            })
        );
        faulty.status = StoneStatus::Active;
        assert_eq!(
            replayed(&faulty),
            Err(ProofError::StoneMovedWhileFlagged {
                height: 7,
                stone: stone("POL-1"),
                reason: FlagReason::Lost,
            })
        );
        faulty.flag = None;
        assert_eq!(
            replayed(&faulty),
            Err(ProofError::StoneInOpenProposal {
                height: 7,
                stone: stone("POL-1"),
                proposal: ProposalId::default(),
            })
        );
    }

    /// Every rejection the shared predicates give the replay has a proof error
    /// of its own; none falls through to the catch-all.
    #[test]
    fn every_predicate_rejection_has_its_own_proof_error() {
        let membership = Consortium::sample().genesis.membership;
        let lab = org("lab");
        let event = event_by(&lab);
        let held = polished_held_by("cutter");
        let mut consumed = held.clone();
        consumed.status = StoneStatus::Consumed;
        let mut flagged = held.clone();
        flagged.flag = Some(FlagReason::Stolen);
        let mut locked = polished_held_by("lab");
        locked.open_proposal = Some(ProposalId::default());
        let heavy = PolishedOutput {
            stone_id: stone("POL-2"),
            shape: text("round"),
            four_cs: four_cs(500),
        };
        let proposal = ProposalId::default();
        let verdicts = [
            require_role(&membership, &lab, Role::Retailer),
            check_movable(&held, &lab),
            check_active(&consumed),
            check_unflagged(&flagged),
            check_movable(&locked, &lab),
            check_rough(&held),
            check_outputs_fit(Carats(400), &[heavy]),
            check_receiver_is_member(&membership, &org("stranger")),
            check_answerer(proposal, &lab, &org("cutter"), &lab, Answer::Accept),
            check_answerer(proposal, &org("cutter"), &lab, &lab, Answer::Cancel),
            check_may_flag(&held, &lab, &membership),
            check_flaggable(&flagged),
            check_clearable(&held),
        ];
        for verdict in verdicts {
            let reason = verdict.clone().unwrap_err();
            let error = event.enforce(verdict).unwrap_err();
            assert!(
                !matches!(error, ProofError::NotApplied { .. }),
                "{reason:?} has no proof error of its own"
            );
        }
    }
}
