//! Governance changes and members in words, for `governance show` and
//! `gemtrail members`.

use gemtrail_ledger::model::{Governance, Member, NodeRecord, Role, RoleSet};
use gemtrail_node::api::views::MembersView;

/// A role set as `producer, admin`.
pub(crate) fn roles_text(roles: RoleSet) -> String {
    let roles: Vec<Role> = roles.into();
    roles
        .iter()
        .map(|role| role.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line saying what `change` does.
pub(crate) fn change_text(change: &Governance) -> String {
    match change {
        Governance::AddMember(member) => format!(
            "add member {} ({:?}), roles: {}, keys: {}",
            member.org,
            member.name.as_str(),
            roles_text(member.roles),
            keys_text(member)
        ),
        Governance::UpdateMember { org, name, roles } => format!(
            "update member {org}: name {:?}, roles: {}",
            name.as_str(),
            roles_text(*roles)
        ),
        Governance::RemoveMember { org } => {
            format!("remove member {org} (its id is retired for good)")
        }
        Governance::RotateKey { org, old, new } => {
            format!("rotate a key of {org}: retire {old}, use {new}")
        }
        Governance::AddNode(node) => format!("add {}", node_text(node)),
        Governance::RemoveNode { node } => format!("remove node {node}"),
    }
}

fn keys_text(member: &Member) -> String {
    member
        .keys
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn node_text(node: &NodeRecord) -> String {
    format!(
        "node {} run by {}: peer {}, listening on {}, API {}",
        node.id,
        node.owner,
        node.peer_id.as_str(),
        node.listen_addr.as_str(),
        node.api_addr.as_str()
    )
}

/// The whole membership as a few aligned lines.
pub(crate) fn members_text(view: &MembersView) -> String {
    let mut text = format!(
        "members at height {} (a governance change needs {} of {} admins)\n",
        view.height, view.admin_majority, view.admins
    );
    for member in &view.members {
        text.push_str(&format!(
            "  {:<14} {:<32} {}\n",
            member.org.as_str(),
            member.name.as_str(),
            roles_text(member.roles)
        ));
        for key in member.keys.iter() {
            text.push_str(&format!("  {:<14} key {key}\n", ""));
        }
    }
    text.push_str("nodes\n");
    for node in &view.nodes {
        text.push_str(&format!(
            "  {:<4} run by {:<14} listen {}  API {}\n       peer {}\n",
            node.id,
            node.owner.as_str(),
            node.listen_addr.as_str(),
            node.api_addr.as_str(),
            node.peer_id.as_str()
        ));
    }
    if !view.retired.is_empty() {
        let retired: Vec<&str> = view.retired.iter().map(|org| org.as_str()).collect();
        text.push_str(&format!("retired member ids: {}\n", retired.join(", ")));
    }
    text
}
