//! Governance: admitting, changing and removing members and nodes, and rotating
//! keys. Authorisation (a majority of Admins) is checked in `authorize`; here we
//! check that the change itself leaves a sound consortium.

use super::RuleResult;
use crate::crypto::PublicKey;
use crate::error::KeyError;
use crate::ids::{NodeId, OrgId};
use crate::model::{
    Governance, Member, Membership, Name, NodeRecord, RejectReason, Role, RoleSet, MEMBERS_MAX,
    NODES_MAX,
};
use crate::state::{LedgerView, Overlay};

/// Applies `change` to a copy of the membership and installs it.
pub(super) fn apply<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    change: &Governance,
) -> RuleResult {
    let mut membership = overlay.membership().clone();
    match change {
        Governance::AddMember(member) => add_member(&mut membership, member)?,
        Governance::UpdateMember { org, name, roles } => {
            update_member(&mut membership, org, name, *roles)?;
        }
        Governance::RemoveMember { org } => remove_member(&mut membership, org)?,
        Governance::RotateKey { org, old, new } => rotate_key(&mut membership, org, old, new)?,
        Governance::AddNode(node) => add_node(&mut membership, node)?,
        Governance::RemoveNode { node } => remove_node(&mut membership, node)?,
    }
    overlay.put_membership(membership);
    Ok(())
}

/// Renames a member and replaces its roles; it keeps at least one role, and
/// the consortium keeps an Admin.
fn update_member(
    membership: &mut Membership,
    org: &OrgId,
    name: &Name,
    roles: RoleSet,
) -> Result<(), RejectReason> {
    let existing = existing_member(membership, org)?;
    if roles.is_empty() {
        return Err(RejectReason::IncompleteMember { org: org.clone() });
    }
    existing.name = name.clone();
    existing.roles = roles;
    check_admin_remains(membership)
}

/// Removes a member that runs no node; the consortium keeps an Admin. Its id
/// is retired for good.
fn remove_member(membership: &mut Membership, org: &OrgId) -> Result<(), RejectReason> {
    existing_member(membership, org)?;
    if let Some(node) = membership.nodes.values().find(|node| &node.owner == org) {
        return Err(RejectReason::MemberRunsNode {
            org: org.clone(),
            node: node.id,
        });
    }
    membership.members.remove(org);
    membership.retired.insert(org.clone());
    check_admin_remains(membership)
}

/// Replaces a member's key `old` with the new, unused key `new`.
fn rotate_key(
    membership: &mut Membership,
    org: &OrgId,
    old: &PublicKey,
    new: &PublicKey,
) -> Result<(), RejectReason> {
    let existing = existing_member(membership, org)?;
    if !existing.keys.iter().any(|key| key == old) {
        return Err(RejectReason::KeyNotOfMember {
            org: org.clone(),
            key: *old,
        });
    }
    check_new_key(membership, new)?;
    if let Some(member) = membership.members.get_mut(org) {
        let keys = member
            .keys
            .iter()
            .map(|key| if key == old { *new } else { *key })
            .collect::<Vec<_>>();
        member.keys = keys.try_into().unwrap_or_default();
    }
    Ok(())
}

/// Adds a node of an existing member, within the node maximum, with an id and
/// peer id no node has.
fn add_node(membership: &mut Membership, node: &NodeRecord) -> Result<(), RejectReason> {
    if membership.nodes.len() >= NODES_MAX {
        return Err(RejectReason::NodeCountOutOfRange {
            max: NODES_MAX as u32,
        });
    }
    let clash = membership
        .nodes
        .values()
        .any(|existing| existing.id == node.id || existing.peer_id == node.peer_id);
    if clash {
        return Err(RejectReason::NodeExists { node: node.id });
    }
    existing_member(membership, &node.owner)?;
    membership.nodes.insert(node.id, node.clone());
    Ok(())
}

/// Removes a node, unless it is the last one.
fn remove_node(membership: &mut Membership, node: &NodeId) -> Result<(), RejectReason> {
    if !membership.nodes.contains_key(node) {
        return Err(RejectReason::UnknownNode { node: *node });
    }
    if membership.nodes.len() == 1 {
        return Err(RejectReason::NodeCountOutOfRange {
            max: NODES_MAX as u32,
        });
    }
    membership.nodes.remove(node);
    Ok(())
}

fn existing_member<'m>(
    membership: &'m mut Membership,
    org: &OrgId,
) -> Result<&'m mut Member, RejectReason> {
    membership
        .members
        .get_mut(org)
        .ok_or_else(|| RejectReason::UnknownMember { org: org.clone() })
}

fn add_member(membership: &mut Membership, member: &Member) -> Result<(), RejectReason> {
    if membership.members.len() >= MEMBERS_MAX {
        return Err(RejectReason::TooManyMembers {
            max: MEMBERS_MAX as u32,
        });
    }
    if membership.members.contains_key(&member.org) {
        return Err(RejectReason::MemberExists {
            org: member.org.clone(),
        });
    }
    if membership.retired.contains(&member.org) {
        return Err(RejectReason::MemberRetired {
            org: member.org.clone(),
        });
    }
    if member.keys.is_empty() || member.roles.is_empty() {
        return Err(RejectReason::IncompleteMember {
            org: member.org.clone(),
        });
    }
    for (position, key) in member.keys.iter().enumerate() {
        check_new_key(membership, key)?;
        if member.keys.as_slice()[..position].contains(key) {
            return Err(RejectReason::KeyInUse {
                key: *key,
                org: member.org.clone(),
            });
        }
    }
    membership
        .members
        .insert(member.org.clone(), member.clone());
    Ok(())
}

/// A key to register must be a valid, strong key that no member holds yet.
fn check_new_key(membership: &Membership, key: &PublicKey) -> Result<(), RejectReason> {
    match key.check_registrable() {
        Ok(()) => {}
        Err(KeyError::Weak) => return Err(RejectReason::WeakKey { key: *key }),
        Err(_) => return Err(RejectReason::MalformedKey { key: *key }),
    }
    if let Some(holder) = membership.key_owner(key) {
        return Err(RejectReason::KeyInUse {
            key: *key,
            org: holder.clone(),
        });
    }
    Ok(())
}

fn check_admin_remains(membership: &Membership) -> Result<(), RejectReason> {
    let has_admin = membership
        .members
        .values()
        .any(|member| member.roles.contains(Role::Admin));
    if has_admin {
        Ok(())
    } else {
        Err(RejectReason::LastAdmin)
    }
}
