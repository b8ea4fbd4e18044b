//! The consortium's nodes as this node's ledger lists them, each peer id and
//! address parsed once, when the ledger's node set changes.
//!
//! The ledger stores peer ids and addresses as text. Parsing them on every
//! peer request or Raft RPC would repeat the same work thousands of times a
//! second, so [`NodeDirectory::new`] parses them when it is built, and the
//! feed rebuilds it only after a governance change to the node set.
//! [`Directory`] is the shared, cheap-to-clone handle every task reads.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use gemtrail_consensus::types::{NodeInfo, RaftNodeId};
use gemtrail_ledger::ids::NodeId;
use gemtrail_ledger::model::NodeRecord;
use libp2p::{Multiaddr, PeerId};

/// One consortium node, with what its record's text parses to.
#[derive(Clone, Debug)]
pub(crate) struct NodeEntry {
    /// The ledger's record.
    pub(crate) record: NodeRecord,
    /// Its libp2p peer id; `None` if the record's text does not parse
    /// (genesis validation and the governance rules keep that from happening).
    pub(crate) peer: Option<PeerId>,
    /// Its libp2p listen address, if it parses.
    listen_addr: Option<Multiaddr>,
    /// Its Raft description, if every part of it parses.
    raft_info: Option<NodeInfo>,
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
            let peer = record.peer_id.as_str().parse::<PeerId>().ok();
            if let Some(peer) = peer {
                directory.by_peer.insert(peer, id.0);
            }
            let entry = NodeEntry {
                record: record.clone(),
                peer,
                listen_addr: record.listen_addr.as_str().parse().ok(),
                raft_info: node_info(record),
            };
            directory.nodes.insert(id.0, entry);
        }
        directory
    }

    /// Whether `other` lists the same node records.
    fn same_nodes(&self, other: &NodeDirectory) -> bool {
        self.nodes.len() == other.nodes.len()
            && self
                .nodes
                .iter()
                .zip(&other.nodes)
                .all(|((id, mine), (other_id, theirs))| {
                    id == other_id && mine.record == theirs.record
                })
    }

    /// Every node, in Raft id order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &NodeEntry> {
        self.nodes.values()
    }

    /// The swarm's allow-list: peer id to listen address.
    pub(crate) fn allow_list(&self) -> BTreeMap<PeerId, Multiaddr> {
        self.nodes
            .values()
            .filter_map(|entry| Some((entry.peer?, entry.listen_addr.clone()?)))
            .collect()
    }

    /// The Raft description of every node.
    pub(crate) fn raft_nodes(&self) -> BTreeMap<RaftNodeId, NodeInfo> {
        self.nodes
            .iter()
            .filter_map(|(id, entry)| Some((*id, entry.raft_info.clone()?)))
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
        tracing::info!(nodes = ?fresh.nodes.keys().collect::<Vec<_>>(), "consortium node set changed");
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
}
