//! The stone and party predicates of the rules, written once.
//!
//! Both the state machine's rules (`stones.rs`, `transfers.rs`) and the proof
//! verifier's custody replay (`crate::proof`) call these, so a rule is changed
//! in one place and the verifier cannot drift from the chain. They read only
//! what [`StoneFacts`] holds of a stone: the rules take it from the ledger's
//! [`Stone`], the verifier replays it for each lineage stone. Each answers with
//! the [`RejectReason`] the chain records; the verifier places it at its event.
//!
//! Where a predicate makes several checks, their order is part of the protocol:
//! it decides which reason a transaction with several faults gets.

use crate::ids::{OrgId, ProposalId, StoneId};
use crate::model::{
    Carats, FlagReason, Membership, PolishedOutput, RejectReason, Role, Stone, StoneKind,
    StoneStatus,
};

/// What the predicates read of a stone. The rules take it from the ledger's
/// [`Stone`] ([`Stone::facts`]); the verifier keeps it for each lineage stone it
/// replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoneFacts {
    /// Its id.
    pub(crate) id: StoneId,
    /// The member holding it.
    pub(crate) custodian: OrgId,
    /// Active, consumed or sold.
    pub(crate) status: StoneStatus,
    /// Its flag, while flagged.
    pub(crate) flag: Option<FlagReason>,
    /// The open proposal it is locked in, if any.
    pub(crate) open_proposal: Option<ProposalId>,
    /// Whether it is a rough (not yet cut).
    pub(crate) is_rough: bool,
}

impl StoneFacts {
    /// A stone just registered or cut: active, unflagged, in no proposal.
    pub(crate) fn created(id: StoneId, custodian: OrgId, is_rough: bool) -> Self {
        Self {
            id,
            custodian,
            status: StoneStatus::Active,
            flag: None,
            open_proposal: None,
            is_rough,
        }
    }
}

impl Stone {
    /// What the predicates read of this stone.
    pub(crate) fn facts(&self) -> StoneFacts {
        StoneFacts {
            id: self.id.clone(),
            custodian: self.custodian.clone(),
            status: self.status,
            flag: self.flag,
            open_proposal: self.open_proposal,
            is_rough: matches!(self.kind, StoneKind::Rough { .. }),
        }
    }
}

/// Rejects with `MissingRole` unless `org` holds `role` in `membership`.
pub(crate) fn require_role(
    membership: &Membership,
    org: &OrgId,
    role: Role,
) -> Result<(), RejectReason> {
    let holds = membership
        .member(org)
        .is_some_and(|member| member.roles.contains(role));
    if holds {
        Ok(())
    } else {
        Err(RejectReason::MissingRole {
            org: org.clone(),
            role,
        })
    }
}

/// Checks that `signer` may move `stone` now: it holds it, and the stone is
/// active, unflagged and not offered in an open proposal. In that order.
pub(crate) fn check_movable(stone: &StoneFacts, signer: &OrgId) -> Result<(), RejectReason> {
    if &stone.custodian != signer {
        return Err(RejectReason::NotCustodian {
            stone: stone.id.clone(),
            signer: signer.clone(),
            custodian: stone.custodian.clone(),
        });
    }
    check_active(stone)?;
    check_unflagged(stone)?;
    if let Some(proposal) = stone.open_proposal {
        return Err(RejectReason::StoneInOpenProposal {
            stone: stone.id.clone(),
            proposal,
        });
    }
    Ok(())
}

/// Rejects sold and consumed stones.
pub(crate) fn check_active(stone: &StoneFacts) -> Result<(), RejectReason> {
    match stone.status {
        StoneStatus::Active => Ok(()),
        StoneStatus::Sold => Err(RejectReason::StoneSold {
            stone: stone.id.clone(),
        }),
        StoneStatus::Consumed => Err(RejectReason::StoneConsumed {
            stone: stone.id.clone(),
        }),
    }
}

/// Rejects a flagged stone: it cannot move (be proposed, handed over, cut or sold).
pub(crate) fn check_unflagged(stone: &StoneFacts) -> Result<(), RejectReason> {
    match stone.flag {
        None => Ok(()),
        Some(reason) => Err(RejectReason::StoneFlagged {
            stone: stone.id.clone(),
            reason,
        }),
    }
}

/// Only a rough can be cut.
pub(crate) fn check_rough(stone: &StoneFacts) -> Result<(), RejectReason> {
    if stone.is_rough {
        Ok(())
    } else {
        Err(RejectReason::NotRough {
            stone: stone.id.clone(),
        })
    }
}

/// The polished outputs of a cut weigh no more than the rough they come from.
pub(crate) fn check_outputs_fit(
    rough: Carats,
    outputs: &[PolishedOutput],
) -> Result<(), RejectReason> {
    // Saturating: the verifier reads outputs the rules have not weighed first.
    let total = outputs
        .iter()
        .map(|output| output.four_cs.carats.0)
        .fold(0u64, u64::saturating_add);
    if total > rough.0 {
        return Err(RejectReason::CaratsExceeded {
            rough,
            outputs: Carats(total),
        });
    }
    Ok(())
}

/// Rejects a transfer to someone who is not a member.
pub(crate) fn check_receiver_is_member(
    membership: &Membership,
    receiver: &OrgId,
) -> Result<(), RejectReason> {
    if membership.member(receiver).is_none() {
        return Err(RejectReason::UnknownReceiver {
            org: receiver.clone(),
        });
    }
    Ok(())
}

/// A proposal is accepted only while its proposer is still a member: a
/// removed member's open offers are dead (it can no longer stand behind them),
/// though its receiver may still reject one to close it.
pub(crate) fn check_proposer_is_member(
    membership: &Membership,
    proposal: ProposalId,
    proposer: &OrgId,
) -> Result<(), RejectReason> {
    if membership.member(proposer).is_none() {
        return Err(RejectReason::ProposerNotMember {
            proposal,
            org: proposer.clone(),
        });
    }
    Ok(())
}

/// How a proposal is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The receiver takes the parcel.
    Accept,
    /// The receiver refuses it.
    Reject,
    /// The proposer withdraws it.
    Cancel,
}

/// Only the receiver accepts or rejects a proposal; only the proposer
/// withdraws it.
pub(crate) fn check_answerer(
    proposal: ProposalId,
    proposer: &OrgId,
    receiver: &OrgId,
    signer: &OrgId,
    answer: Answer,
) -> Result<(), RejectReason> {
    match answer {
        Answer::Accept | Answer::Reject if receiver != signer => Err(RejectReason::NotReceiver {
            proposal,
            receiver: receiver.clone(),
        }),
        Answer::Cancel if proposer != signer => Err(RejectReason::NotProposer {
            proposal,
            proposer: proposer.clone(),
        }),
        _ => Ok(()),
    }
}

/// The custodian, an Auditor or an Admin may flag or clear a stone that still
/// exists as itself (sold stones too: a sold stone can be stolen).
pub(crate) fn check_may_flag(
    stone: &StoneFacts,
    signer: &OrgId,
    membership: &Membership,
) -> Result<(), RejectReason> {
    if stone.status == StoneStatus::Consumed {
        return Err(RejectReason::StoneConsumed {
            stone: stone.id.clone(),
        });
    }
    let entitled = &stone.custodian == signer
        || require_role(membership, signer, Role::Auditor).is_ok()
        || require_role(membership, signer, Role::Admin).is_ok();
    if !entitled {
        return Err(RejectReason::NotEntitledToFlag {
            org: signer.clone(),
            stone: stone.id.clone(),
        });
    }
    Ok(())
}

/// A flag goes only on a stone not flagged yet.
pub(crate) fn check_flaggable(stone: &StoneFacts) -> Result<(), RejectReason> {
    match stone.flag {
        None => Ok(()),
        Some(existing) => Err(RejectReason::AlreadyFlagged {
            stone: stone.id.clone(),
            reason: existing,
        }),
    }
}

/// A flag is cleared only from a flagged stone.
pub(crate) fn check_clearable(stone: &StoneFacts) -> Result<(), RejectReason> {
    match stone.flag {
        Some(_) => Ok(()),
        None => Err(RejectReason::NotFlagged {
            stone: stone.id.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoughInfo;
    use crate::testkit::{org, origin, stone, text};

    fn rough_held_by(custodian: &str) -> Stone {
        let kind = StoneKind::Rough {
            rough: RoughInfo {
                carats: Carats(1000),
                description: text("octahedral"),
            },
            kp_certificate: text("BW-KP-2026-0042"),
            producer: org("mine"),
        };
        Stone::new(stone("ROUGH-1"), kind, origin(), org(custodian), 1)
    }

    /// The first fault found decides the reason: custody, then status, then
    /// flag, then the proposal lock. The rules and the verifier both rely on it.
    #[test]
    fn movable_checks_custody_status_flag_then_lock() {
        let mut faulty = rough_held_by("cutter");
        faulty.status = StoneStatus::Sold;
        faulty.flag = Some(FlagReason::Stolen);
        faulty.open_proposal = Some(ProposalId::default());
        let mine = org("mine");
        let verdict =
            |stone: &Stone| check_movable(&stone.facts(), &mine).map_err(|reason| reason.code());
        assert_eq!(verdict(&faulty), Err("not_custodian"));
        faulty.custodian = mine.clone();
        assert_eq!(verdict(&faulty), Err("stone_sold"));
        faulty.status = StoneStatus::Active;
        assert_eq!(verdict(&faulty), Err("stone_flagged"));
        faulty.flag = None;
        assert_eq!(verdict(&faulty), Err("stone_in_open_proposal"));
        faulty.open_proposal = None;
        assert_eq!(verdict(&faulty), Ok(()));
    }

    #[test]
    fn a_consumed_stone_cannot_be_flagged_even_by_an_auditor() {
        let mut consumed = rough_held_by("cutter");
        consumed.status = StoneStatus::Consumed;
        let membership = crate::testkit::Consortium::sample().genesis.membership;
        assert!(matches!(
            check_may_flag(&consumed.facts(), &org("auditor"), &membership),
            Err(RejectReason::StoneConsumed { .. })
        ));
        consumed.status = StoneStatus::Sold;
        assert_eq!(
            check_may_flag(&consumed.facts(), &org("auditor"), &membership),
            Ok(())
        );
        assert!(matches!(
            check_may_flag(&consumed.facts(), &org("lab"), &membership),
            Err(RejectReason::NotEntitledToFlag { .. })
        ));
    }
}
