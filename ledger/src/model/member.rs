//! Members, their roles and keys, consensus nodes, and the membership in force.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Read, Write};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::{Name, ADDRESS_BYTES_MAX, KEYS_PER_MEMBER_MAX, PEER_ID_BYTES_MAX};
use crate::codec::{domain_hash, encode, BoundedString, BoundedVec, Domain};
use crate::crypto::PublicKey;
use crate::ids::{ChainId, Digest, NodeId, OrgId};

/// What a member organisation may do on the ledger.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A miner or producer: registers newly extracted stones.
    Producer,
    /// A cutter and polisher: manufactures polished stones from rough.
    Manufacturer,
    /// A grading laboratory: attaches grading and origin reports.
    Lab,
    /// A trader: holds and transfers stones.
    Trader,
    /// A retailer: records the final sale.
    Retailer,
    /// An auditor: reads and verifies; may flag stones.
    Auditor,
    /// A consortium administrator: governs membership with the other admins.
    Admin,
}

impl Role {
    /// Every role, in bit order.
    pub const ALL: [Role; 7] = [
        Role::Producer,
        Role::Manufacturer,
        Role::Lab,
        Role::Trader,
        Role::Retailer,
        Role::Auditor,
        Role::Admin,
    ];

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The lower-case name used in genesis files and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Manufacturer => "manufacturer",
            Role::Lab => "lab",
            Role::Trader => "trader",
            Role::Retailer => "retailer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name as written by [`Role::name`].
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl BorshSerialize for Role {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        BorshSerialize::serialize(&(*self as u8), writer)
    }
}

impl BorshDeserialize for Role {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let tag = u8::deserialize_reader(reader)?;
        Role::ALL
            .get(tag as usize)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unknown role"))
    }
}

/// A set of roles, encoded as one byte with one bit per [`Role`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Role>", into = "Vec<Role>")]
pub struct RoleSet(u8);

impl RoleSet {
    /// The empty set.
    pub const EMPTY: RoleSet = RoleSet(0);

    /// True when the set holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The set with `role` added.
    pub fn with(self, role: Role) -> RoleSet {
        RoleSet(self.0 | role.bit())
    }

    /// True when no role is held.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles held, in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL
            .into_iter()
            .filter(move |role| self.contains(*role))
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl From<Vec<Role>> for RoleSet {
    fn from(roles: Vec<Role>) -> Self {
        roles.into_iter().fold(RoleSet::EMPTY, RoleSet::with)
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(roles: I) -> Self {
        roles.into_iter().fold(RoleSet::EMPTY, RoleSet::with)
    }
}

impl From<RoleSet> for Vec<Role> {
    fn from(set: RoleSet) -> Self {
        set.iter().collect()
    }
}

impl BorshSerialize for RoleSet {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl BorshDeserialize for RoleSet {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let bits = u8::deserialize_reader(reader)?;
        if bits >> Role::ALL.len() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "role set has an unknown role bit",
            ));
        }
        Ok(RoleSet(bits))
    }
}

/// The signing keys of one member.
pub type MemberKeys = BoundedVec<PublicKey, KEYS_PER_MEMBER_MAX>;

/// A member organisation of the consortium.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Member {
    /// The organisation's id.
    pub org: OrgId,
    /// Its display name.
    pub name: Name,
    /// What it may do.
    pub roles: RoleSet,
    /// The public keys whose signatures act for it.
    pub keys: MemberKeys,
}

/// A consensus node run by a member.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Its Raft node id.
    pub id: NodeId,
    /// The member that runs it.
    pub owner: OrgId,
    /// Its libp2p peer id, as text (checked by the genesis and node crates).
    pub peer_id: BoundedString<PEER_ID_BYTES_MAX>,
    /// Its libp2p listen address, as a multiaddr text.
    pub listen_addr: BoundedString<ADDRESS_BYTES_MAX>,
    /// Its HTTP API address (`host:port`).
    pub api_addr: BoundedString<ADDRESS_BYTES_MAX>,
}

/// The members and nodes in force at some height.
///
/// Maps keep the encoding canonical (sorted, unique keys); the genesis crate and
/// governance rules keep them within [`super::MEMBERS_MAX`] and [`super::NODES_MAX`].
#[derive(
    Clone, PartialEq, Eq, Debug, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Membership {
    /// Members by organisation id.
    pub members: BTreeMap<OrgId, Member>,
    /// Consensus nodes by node id.
    pub nodes: BTreeMap<NodeId, NodeRecord>,
    /// The ids of removed members. They are never used again: a newcomer
    /// under an old id would inherit its stones, proposals and history.
    #[serde(default)]
    pub retired: BTreeSet<OrgId>,
}

impl Membership {
    /// The member `org`, if any.
    pub fn member(&self, org: &OrgId) -> Option<&Member> {
        self.members.get(org)
    }

    /// How many members hold the Admin role.
    pub fn admin_count(&self) -> usize {
        self.members
            .values()
            .filter(|member| member.roles.contains(Role::Admin))
            .count()
    }

    /// Approvals needed for governance: a strict majority of the admins.
    pub fn admin_majority(&self) -> usize {
        self.admin_count() / 2 + 1
    }

    /// The member holding `key`, if any.
    pub fn key_owner(&self, key: &PublicKey) -> Option<&OrgId> {
        self.members
            .values()
            .find(|member| member.keys.iter().any(|held| held == key))
            .map(|member| &member.org)
    }

    /// The commitment to this membership carried in every block header.
    pub fn root(&self, chain_id: &ChainId) -> Digest {
        Digest(domain_hash(
            Domain::Membership,
            chain_id.as_str(),
            &encode(self),
        ))
    }
}
