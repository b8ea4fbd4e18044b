//! The state tree's written nodes kept in memory, in front of the
//! `state_nodes` column.
//!
//! Every block's update walks the tree from its root, and a changed stone's
//! leaf is read again at its next event. Reading nodes from RocksDB and
//! decoding them was about half of a node's state-tree cost. The cache holds
//! what was written to the column and what was read from it since, and
//! forgets what a block made stale, so it only ever holds nodes of the tip's
//! tree, the same bytes the column holds. (Nodes not yet written are held
//! apart, in `tree_writes`.) When it is full it starts again empty.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use jmt::storage::{Node, NodeKey};

/// Most nodes held: the internal nodes of a tree of about two million stones,
/// or the leaves of the stones most recently changed.
pub(super) const CACHED_NODES_MAX: usize = 1 << 17;

/// Nodes of the tip's state tree by key.
#[derive(Debug, Default)]
pub(super) struct NodeCache {
    nodes: Mutex<HashMap<NodeKey, Node>>,
}

impl NodeCache {
    fn nodes(&self) -> MutexGuard<'_, HashMap<NodeKey, Node>> {
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The node under `key`, if held.
    pub(super) fn get(&self, key: &NodeKey) -> Option<Node> {
        self.nodes().get(key).cloned()
    }

    /// Holds `node`, just read from the column.
    pub(super) fn offer(&self, key: &NodeKey, node: &Node) {
        let mut nodes = self.nodes();
        make_room(&mut nodes, 1);
        nodes.insert(key.clone(), node.clone());
    }

    /// Drops the nodes a block made stale.
    pub(super) fn forget(&self, stale: &[NodeKey]) {
        let mut nodes = self.nodes();
        for key in stale {
            nodes.remove(key);
        }
    }

    /// Holds `written`, just written to the column.
    pub(super) fn hold(&self, written: HashMap<NodeKey, Node>) {
        let mut nodes = self.nodes();
        make_room(&mut nodes, written.len());
        nodes.extend(written);
    }

    /// Forgets everything (the store's contents were replaced).
    pub(super) fn clear(&self) {
        self.nodes().clear();
    }
}

/// Empties `nodes` if `more` would take it past its bound.
fn make_room(nodes: &mut HashMap<NodeKey, Node>, more: usize) {
    if nodes.len() + more > CACHED_NODES_MAX {
        nodes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tree_writes::tests::key;

    #[test]
    fn written_nodes_come_in_and_stale_nodes_go_out() {
        let cache = NodeCache::default();
        cache.offer(&key(1), &Node::Null);
        cache.hold(HashMap::from([(key(2), Node::Null)]));
        cache.forget(&[key(1)]);
        assert_eq!(cache.get(&key(1)), None);
        assert_eq!(cache.get(&key(2)), Some(Node::Null));
        cache.clear();
        assert_eq!(cache.get(&key(2)), None);
    }

    #[test]
    fn a_full_cache_starts_again_empty() {
        let cache = NodeCache::default();
        for version in 0..CACHED_NODES_MAX as u64 {
            cache.offer(&key(version), &Node::Null);
        }
        assert_eq!(cache.nodes().len(), CACHED_NODES_MAX);
        cache.offer(&key(u64::MAX), &Node::Null);
        assert_eq!(cache.nodes().len(), 1);
        assert_eq!(cache.get(&key(u64::MAX)), Some(Node::Null));
    }
}
