//! The consortium's nodes as this node's ledger lists them, each peer id and
//! address parsed once, when the ledger's node set changes; plus the
//! *departing* nodes: removed by the ledger, still in Raft's membership.
//!
//! The ledger stores peer ids and addresses as text. Parsing them on every
//! peer request or Raft RPC would repeat the same work thousands of times a
//! second, so [`NodeDirectory::new`] parses them when it is built, and the
//! feed rebuilds it only after a governance change to the node set, or a
//! change of Raft's membership.
//!
//! **Departing nodes stay reachable.** A `RemoveNode` applies at once in the
//! ledger, but the Raft change that follows is joint: it still needs a
//! majority of the old voters, the removed node among them. Refusing that
//! node as soon as its block applies could leave the old majority out of
//! reach for good (remove node 3, then node 2, of three). So a node stays in
//! the allow-list, and may speak Raft, until Raft's own membership drops it.
//! It is never a node the leader wants as a voter.
//!
//! [`Directory`] is the shared, cheap-to-clone handle every task reads.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use gemtrail_consensus::types::{NodeInfo, RaftNodeId};
use gemtrail_ledger::ids::NodeId;
use gemtrail_ledger::model::NodeRecord;
use libp2p::{Multiaddr, PeerId};

/// One consortium node, with what its listed text parses to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NodeEntry {
    /// Its Raft (and ledger) node id.
    pub(crate) id: RaftNodeId,
    /// Its peer id and addresses as text: the ledger's record, or, for a
    /// departing node, what Raft's membership holds.
    pub(crate) info: NodeInfo,
    /// Removed by the ledger, still in Raft's membership.
    pub(crate) departing: bool,
    /// Its libp2p peer id; `None` if the text does not parse (genesis
    /// validation and the governance rules keep that from happening).
    pub(crate) peer: Option<PeerId>,
    /// Its libp2p listen address, if it parses.
    listen_addr: Option<Multiaddr>,
}

impl NodeEntry {
    fn new(id: RaftNodeId, info: NodeInfo, departing: bool) -> Self {
        Self {
            id,
            peer: info.peer_id.as_str().parse::<PeerId>().ok(),
            listen_addr: info.listen_addr.as_str().parse().ok(),
            info,
            departing,
        }
    }
}

/// The consortium's nodes by Raft id, and Raft ids by peer id.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeDirectory {
    nodes: BTreeMap<RaftNodeId, NodeEntry>,
    by_peer: BTreeMap<PeerId, RaftNodeId>,
}

impl NodeDirectory {
    /// The directory of the ledger's `nodes`.
    pub(crate) fn new(nodes: &BTreeMap<NodeId, NodeRecord>) -> Self {
        let mut directory = Self::default();
        for (id, record) in nodes {
            match node_info(record) {
                Some(info) => directory.insert(NodeEntry::new(id.0, info, false)),
                None => tracing::warn!(
                    node = id.0,
                    "node record does not fit Raft's node description; skipped"
                ),
            }
        }
        directory
    }

    /// Adds, as departing, every node of Raft's membership (`raft_nodes`)
    /// that the ledger no longer lists.
    pub(crate) fn with_departing(mut self, raft_nodes: &BTreeMap<RaftNodeId, NodeInfo>) -> Self {
        for (id, info) in raft_nodes {
            if !self.nodes.contains_key(id) {
                self.insert(NodeEntry::new(*id, info.clone(), true));
            }
        }
        self
    }

    fn insert(&mut self, entry: NodeEntry) {
        if let Some(peer) = entry.peer {
            self.by_peer.insert(peer, entry.id);
        }
        self.nodes.insert(entry.id, entry);
    }

    /// Whether `other` lists the same nodes, departing the same way.
    fn same_nodes(&self, other: &NodeDirectory) -> bool {
        self.nodes == other.nodes
    }

    /// Every node, departing ones included, in Raft id order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &NodeEntry> {
        self.nodes.values()
    }

    /// The swarm's allow-list, departing nodes included: peer id to listen
    /// address.
    pub(crate) fn allow_list(&self) -> BTreeMap<PeerId, Multiaddr> {
        self.nodes
            .values()
            .filter_map(|entry| Some((entry.peer?, entry.listen_addr.clone()?)))
            .collect()
    }

    /// The Raft description of every node the ledger lists: the voters the
    /// leader brings Raft to.
    pub(crate) fn raft_nodes(&self) -> BTreeMap<RaftNodeId, NodeInfo> {
        self.nodes
            .values()
            .filter(|entry| !entry.departing)
            .map(|entry| (entry.id, entry.info.clone()))
            .collect()
    }
}

/// The Raft description of a ledger node record.
pub(crate) fn node_info(record: &NodeRecord) -> Option<NodeInfo> {
    NodeInfo::new(
        record.peer_id.as_str(),
        record.listen_addr.as_str(),
        record.api_addr.as_str(),
    )
    .ok()
}

/// The shared directory: read by the API, the peer handler and the pump,
/// replaced by the feed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Directory(Arc<RwLock<NodeDirectory>>);

impl Directory {
    /// A handle to `directory`.
    pub(crate) fn new(directory: NodeDirectory) -> Self {
        Self(Arc::new(RwLock::new(directory)))
    }

    /// Runs `read` on the current directory.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&NodeDirectory) -> T) -> T {
        read(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The Raft id of the node with `peer`, if it is a consortium node.
    pub(crate) fn node_of_peer(&self, peer: &PeerId) -> Option<RaftNodeId> {
        self.read(|directory| directory.by_peer.get(peer).copied())
    }

    /// The peer id of node `id`.
    pub(crate) fn peer_of_node(&self, id: RaftNodeId) -> Option<PeerId> {
        self.read(|directory| directory.nodes.get(&id)?.peer)
    }

    /// Puts `fresh` in place if it lists other nodes, and returns its
    /// allow-list; `None` when nothing changed.
    pub(crate) fn replace_if_changed(
        &self,
        fresh: NodeDirectory,
    ) -> Option<BTreeMap<PeerId, Multiaddr>> {
        let mut directory = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if directory.same_nodes(&fresh) {
            return None;
        }
        let departing: Vec<_> = fresh
            .entries()
            .filter(|entry| entry.departing)
            .map(|entry| entry.id)
            .collect();
        tracing::info!(nodes = ?fresh.nodes.keys().collect::<Vec<_>>(), ?departing, "consortium node set changed");
        *directory = fresh;
        Some(directory.allow_list())
    }
}

#[cfg(test)]
mod tests {
    use gemtrail_genesis::sample::SampleConsortium;

    use super::*;

    #[test]
    fn peers_and_nodes_map_both_ways_and_only_a_change_replaces_the_directory() {
        let sample = SampleConsortium::generate_from_seed([5; 32], "directory-test", 7100).unwrap();
        let nodes = &sample.genesis().membership().nodes;
        let directory = Directory::new(NodeDirectory::new(nodes));
        for (id, record) in nodes {
            let peer: PeerId = record.peer_id.as_str().parse().unwrap();
            assert_eq!(directory.node_of_peer(&peer), Some(id.0));
            assert_eq!(directory.peer_of_node(id.0), Some(peer));
        }
        assert_eq!(directory.read(|d| d.allow_list().len()), nodes.len());
        assert_eq!(directory.read(|d| d.raft_nodes().len()), nodes.len());
        assert!(directory
            .replace_if_changed(NodeDirectory::new(nodes))
            .is_none());
        let mut fewer = nodes.clone();
        let first = *fewer.keys().next().unwrap();
        fewer.remove(&first);
        let allow_list = directory.replace_if_changed(NodeDirectory::new(&fewer));
        assert_eq!(allow_list.map(|list| list.len()), Some(nodes.len() - 1));
        assert_eq!(directory.peer_of_node(first.0), None);
    }

    #[test]
    fn a_removed_node_raft_still_holds_stays_reachable_but_is_not_wanted_as_a_voter() {
        let sample = SampleConsortium::generate_from_seed([6; 32], "departing-test", 7200).unwrap();
        let nodes = &sample.genesis().membership().nodes;
        let raft_nodes: BTreeMap<_, _> = nodes
            .iter()
            .map(|(id, record)| (id.0, node_info(record).unwrap()))
            .collect();
        let mut ledger_nodes = nodes.clone();
        let (removed, record) = ledger_nodes.pop_last().unwrap();
        let peer: PeerId = record.peer_id.as_str().parse().unwrap();

        let directory =
            Directory::new(NodeDirectory::new(&ledger_nodes).with_departing(&raft_nodes));
        assert_eq!(directory.node_of_peer(&peer), Some(removed.0));
        assert!(directory.read(|d| d.allow_list().contains_key(&peer)));
        assert!(!directory.read(|d| d.raft_nodes().contains_key(&removed.0)));
        assert!(directory.read(|d| d
            .entries()
            .any(|entry| entry.id == removed.0 && entry.departing)));

        // Once Raft lets it go, the next refresh drops it.
        let mut raft_after = raft_nodes.clone();
        raft_after.remove(&removed.0);
        let fresh = NodeDirectory::new(&ledger_nodes).with_departing(&raft_after);
        assert!(directory.replace_if_changed(fresh).is_some());
        assert_eq!(directory.node_of_peer(&peer), None);
    }
}
