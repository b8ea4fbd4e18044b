//! Authorisation: the right chain, no replay, a member signer, and valid
//! signatures by keys the approvers hold; for governance, a majority of Admins.
//!
//! Checks run cheapest first, and signatures last, so that a flood of
//! transactions from non-members costs no curve arithmetic.

use super::RuleResult;
use crate::ids::TxId;
use crate::model::{Action, Approval, Membership, RejectReason, Role, SignedTransaction};
use crate::state::{LedgerView, Overlay};

/// Authorises `signed` (whose id is `id`) against the current membership.
pub(super) fn authorize<V: LedgerView + ?Sized>(
    overlay: &Overlay<'_, V>,
    signed: &SignedTransaction,
    id: &TxId,
) -> RuleResult {
    let tx = &signed.tx;
    if &tx.chain_id != overlay.chain_id() {
        return Err(RejectReason::WrongChain {
            expected: overlay.chain_id().clone(),
            found: tx.chain_id.clone(),
        }
        .into());
    }
    if overlay.contains_tx(id)? {
        return Err(RejectReason::Replay { tx_id: *id }.into());
    }
    check_approvals(overlay.membership(), signed)?;
    check_signatures(signed.approvals.as_slice(), id)?;
    Ok(())
}

/// One approval, after the `earlier` ones: its member exists, has not
/// approved already, signed with one of its own keys, and (for governance)
/// holds the Admin role. The CLI checks each approval it adds to a
/// governance draft with it.
pub fn check_approver(
    membership: &Membership,
    earlier: &[Approval],
    approval: &Approval,
    is_governance: bool,
) -> Result<(), RejectReason> {
    let org = &approval.org;
    let Some(member) = membership.member(org) else {
        return Err(RejectReason::UnknownApprover { org: org.clone() });
    };
    if earlier.iter().any(|done| &done.org == org) {
        return Err(RejectReason::DuplicateApproval { org: org.clone() });
    }
    if !member.keys.iter().any(|key| key == &approval.key) {
        return Err(RejectReason::KeyNotOfMember {
            org: org.clone(),
            key: approval.key,
        });
    }
    if is_governance && !member.roles.contains(Role::Admin) {
        return Err(RejectReason::MissingRole {
            org: org.clone(),
            role: Role::Admin,
        });
    }
    Ok(())
}

/// The membership's part of authorisation, which needs neither the state
/// nor curve arithmetic: the signer is a member and signed first, and the
/// approvals are members' own keys, once each, and (for governance) a
/// majority of Admins. A node's door runs it too, so a transaction that can
/// only be refused is never stored.
pub fn check_approvals(
    membership: &Membership,
    signed: &SignedTransaction,
) -> Result<(), RejectReason> {
    let is_governance = matches!(signed.tx.action, Action::Governance(_));
    check_signer(membership, signed, is_governance)?;
    check_approvers(membership, signed.approvals.as_slice(), is_governance)
}

/// The signer is a member and signed first; anything but governance carries
/// the signer's approval alone.
fn check_signer(
    membership: &Membership,
    signed: &SignedTransaction,
    is_governance: bool,
) -> Result<(), RejectReason> {
    let signer = &signed.tx.signer;
    if membership.member(signer).is_none() {
        return Err(RejectReason::UnknownSigner {
            org: signer.clone(),
        });
    }
    let approvals = signed.approvals.as_slice();
    if approvals.first().map(|approval| &approval.org) != Some(signer) {
        return Err(RejectReason::SignerDidNotSign {
            signer: signer.clone(),
        });
    }
    if !is_governance && approvals.len() != 1 {
        return Err(RejectReason::UnexpectedApprovals {
            count: approvals.len() as u32,
        });
    }
    Ok(())
}

/// Each approver is a member, approves once, with one of its own keys; for
/// governance, each is an Admin and together they are a majority of Admins.
fn check_approvers(
    membership: &Membership,
    approvals: &[Approval],
    is_governance: bool,
) -> Result<(), RejectReason> {
    for (index, approval) in approvals.iter().enumerate() {
        check_approver(membership, &approvals[..index], approval, is_governance)?;
    }
    if is_governance && approvals.len() < membership.admin_majority() {
        return Err(RejectReason::NotEnoughAdminApprovals {
            approvals: approvals.len() as u32,
            required: membership.admin_majority() as u32,
        });
    }
    Ok(())
}

/// Every signature verifies strictly over the transaction id. Checked last:
/// it is the one check that costs curve arithmetic.
fn check_signatures(approvals: &[Approval], id: &TxId) -> Result<(), RejectReason> {
    for approval in approvals {
        if !approval.key.verify(id.as_bytes(), &approval.signature) {
            return Err(RejectReason::BadSignature {
                org: approval.org.clone(),
            });
        }
    }
    Ok(())
}
