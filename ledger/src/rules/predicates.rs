//! The stone and party predicates of the rules, written once.
//!
//! Both the state machine's rules (`stones.rs`, `transfers.rs`) and the proof
//! verifier's custody replay (`crate::proof`) call these, so a rule is changed
//! in one place and the verifier cannot drift from the chain. They read only a
//! small view of a stone ([`StoneFacts`]): the ledger's [`Stone`] and the
//! verifier's replayed stone both provide it. Each answers with the
//! [`RejectReason`] the chain records; the verifier places it at its event.
//!
//! Where a predicate makes several checks, their order is part of the protocol:
//! it decides which reason a transaction with several faults gets.

use crate::ids::{OrgId, ProposalId, StoneId};
use crate::model::{
    Carats, FlagReason, Membership, PolishedOutput, RejectReason, Role, Stone, StoneKind,
    StoneStatus,
};

/// What the predicates read of a stone.
pub(crate) trait StoneFacts {
    /// Its id.
    fn id(&self) -> &StoneId;
    /// The member holding it.
    fn custodian(&self) -> &OrgId;
    /// Active, consumed or sold.
    fn status(&self) -> StoneStatus;
    /// Its flag, while flagged.
    fn flag(&self) -> Option<FlagReason>;
    /// The open proposal it is locked in, if any.
    fn open_proposal(&self) -> Option<ProposalId>;
    /// Whether it is a rough (not yet cut).
    fn is_rough(&self) -> bool;
}

impl StoneFacts for Stone {
    fn id(&self) -> &StoneId {
        &self.id
    }
    fn custodian(&self) -> &OrgId {
        &self.custodian
    }
    fn status(&self) -> StoneStatus {
        self.status
    }
    fn flag(&self) -> Option<FlagReason> {
        self.flag
    }
    fn open_proposal(&self) -> Option<ProposalId> {
        self.open_proposal
    }
    fn is_rough(&self) -> bool {
        matches!(self.kind, StoneKind::Rough { .. })
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
pub(crate) fn check_movable(stone: &impl StoneFacts, signer: &OrgId) -> Result<(), RejectReason> {
    if stone.custodian() != signer {
        return Err(RejectReason::NotCustodian {
            stone: stone.id().clone(),
            signer: signer.clone(),
            custodian: stone.custodian().clone(),
        });
    }
    check_active(stone)?;
    check_unflagged(stone)?;
    if let Some(proposal) = stone.open_proposal() {
        return Err(RejectReason::StoneInOpenProposal {
            stone: stone.id().clone(),
            proposal,
        });
    }
    Ok(())
}

/// Rejects sold and consumed stones.
pub(crate) fn check_active(stone: &impl StoneFacts) -> Result<(), RejectReason> {
    match stone.status() {
        StoneStatus::Active => Ok(()),
        StoneStatus::Sold => Err(RejectReason::StoneSold {
            stone: stone.id().clone(),
        }),
        StoneStatus::Consumed => Err(RejectReason::StoneConsumed {
            stone: stone.id().clone(),
        }),
    }
}

/// Rejects a flagged stone: it cannot move (be proposed, handed over, cut or sold).
pub(crate) fn check_unflagged(stone: &impl StoneFacts) -> Result<(), RejectReason> {
    match stone.flag() {
        None => Ok(()),
        Some(reason) => Err(RejectReason::StoneFlagged {
            stone: stone.id().clone(),
            reason,
        }),
    }
}

/// Only a rough can be cut.
pub(crate) fn check_rough(stone: &impl StoneFacts) -> Result<(), RejectReason> {
    if stone.is_rough() {
        Ok(())
    } else {
        Err(RejectReason::NotRough {
            stone: stone.id().clone(),
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

/// Only the receiver accepts or rejects a proposal.
pub(crate) fn check_receiver(
    proposal: ProposalId,
    receiver: &OrgId,
    signer: &OrgId,
) -> Result<(), RejectReason> {
    if receiver != signer {
        return Err(RejectReason::NotReceiver {
            proposal,
            receiver: receiver.clone(),
        });
    }
    Ok(())
}

/// Only the proposer withdraws a proposal.
pub(crate) fn check_proposer(
    proposal: ProposalId,
    proposer: &OrgId,
    signer: &OrgId,
) -> Result<(), RejectReason> {
    if proposer != signer {
        return Err(RejectReason::NotProposer {
            proposal,
            proposer: proposer.clone(),
        });
    }
    Ok(())
}

/// The custodian, an Auditor or an Admin may flag or clear a stone that still
/// exists as itself (sold stones too: a sold stone can be stolen).
pub(crate) fn check_may_flag(
    stone: &impl StoneFacts,
    signer: &OrgId,
    membership: &Membership,
) -> Result<(), RejectReason> {
    if stone.status() == StoneStatus::Consumed {
        return Err(RejectReason::StoneConsumed {
            stone: stone.id().clone(),
        });
    }
    let entitled = stone.custodian() == signer
        || require_role(membership, signer, Role::Auditor).is_ok()
        || require_role(membership, signer, Role::Admin).is_ok();
    if !entitled {
        return Err(RejectReason::NotEntitledToFlag {
            org: signer.clone(),
            stone: stone.id().clone(),
        });
    }
    Ok(())
}

/// A flag goes only on a stone not flagged yet.
pub(crate) fn check_flaggable(stone: &impl StoneFacts) -> Result<(), RejectReason> {
    match stone.flag() {
        None => Ok(()),
        Some(existing) => Err(RejectReason::AlreadyFlagged {
            stone: stone.id().clone(),
            reason: existing,
        }),
    }
}

/// A flag is cleared only from a flagged stone.
pub(crate) fn check_clearable(stone: &impl StoneFacts) -> Result<(), RejectReason> {
    match stone.flag() {
        Some(_) => Ok(()),
        None => Err(RejectReason::NotFlagged {
            stone: stone.id().clone(),
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
        let verdict = |stone: &Stone| check_movable(stone, &mine).map_err(|reason| reason.code());
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
            check_may_flag(&consumed, &org("auditor"), &membership),
            Err(RejectReason::StoneConsumed { .. })
        ));
        consumed.status = StoneStatus::Sold;
        assert_eq!(
            check_may_flag(&consumed, &org("auditor"), &membership),
            Ok(())
        );
        assert!(matches!(
            check_may_flag(&consumed, &org("lab"), &membership),
            Err(RejectReason::NotEntitledToFlag { .. })
        ));
    }
}
