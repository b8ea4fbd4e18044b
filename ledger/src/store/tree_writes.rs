//! The state tree written behind: a block's tree nodes stay in memory, and
//! the `state_nodes` column is brought up to date every
//! [`WRITE_EVERY_BLOCKS`] blocks, in that block's write batch.
//!
//! Every block replaces the tree's upper levels (the root, its sixteen
//! children, ...). Written every block, those nodes were most of the tree's
//! bytes, and RocksDB flushed and compacted them only to find them deleted.
//! Held back, a node that a later block replaces before the next write never
//! reaches the column.
//!
//! **Invariant:** the column holds the whole tree of version
//! `META state_tree_version`, and the receipts of every block after it name
//! every stone the block changed (a stone changes only through a recorded
//! event). So after a crash, or an import of a snapshot taken between writes,
//! the store re-derives the tip's tree from the column's version and the
//! current states of the stones those receipts name ([`LedgerStore`]'s
//! `catch_up_state_tree`), and the tip header's state root checks the result.

use std::collections::{BTreeMap, HashMap};

use jmt::storage::{Node, NodeKey};
use rocksdb::{ColumnFamily, WriteBatch};

use super::{schema, LedgerStore};
use crate::codec::encode;
use crate::error::{StoreError, StoreResult};
use crate::machine::AppliedBlock;
use crate::state_tree::{self, StateTreeUpdate};

/// Blocks between writes of the tree's nodes.
pub(super) const WRITE_EVERY_BLOCKS: u64 = 64;
/// Nodes held back at most: more are written with the next block.
pub(super) const UNWRITTEN_NODES_MAX: usize = 1 << 16;

/// The tree's changes since the column's version.
#[derive(Debug, Default)]
pub(super) struct UnwrittenNodes {
    /// Nodes made since, still in the tip's tree.
    nodes: HashMap<NodeKey, Node>,
    /// Nodes in the column that are no longer in the tip's tree.
    stale_in_column: Vec<NodeKey>,
}

impl UnwrittenNodes {
    /// The node under `key`, if made since the column's version.
    pub(super) fn get(&self, key: &NodeKey) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// Follows a block's update: its new nodes are held, and each node it
    /// makes stale is dropped if held, or noted for deletion if written.
    pub(super) fn follow(&mut self, update: &StateTreeUpdate) {
        for key in &update.stale {
            if self.nodes.remove(key).is_none() {
                self.stale_in_column.push(key.clone());
            }
        }
        for (key, node) in &update.nodes {
            self.nodes.insert(key.clone(), node.clone());
        }
    }

    /// True if the block at `height` should bring the column up to date.
    pub(super) fn due(&self, height: u64) -> bool {
        height.is_multiple_of(WRITE_EVERY_BLOCKS) || self.nodes.len() > UNWRITTEN_NODES_MAX
    }

    /// Adds the deletions and writes that bring `column` up to date to
    /// `batch`.
    pub(super) fn write_to(&self, batch: &mut WriteBatch, column: &ColumnFamily) {
        for key in &self.stale_in_column {
            batch.delete_cf(column, encode(key));
        }
        for (key, node) in &self.nodes {
            batch.put_cf(column, encode(key), encode(node));
        }
    }

    /// Empties the set once the column holds it; returns the nodes written.
    pub(super) fn written(&mut self) -> HashMap<NodeKey, Node> {
        self.stale_in_column.clear();
        std::mem::take(&mut self.nodes)
    }

    /// Forgets everything (the store's contents were replaced).
    pub(super) fn clear(&mut self) {
        self.nodes.clear();
        self.stale_in_column.clear();
    }
}

impl LedgerStore {
    /// Follows the block's state-tree update in memory and, when the column
    /// is due (see `tree_writes`), adds its writes to `batch`. True if it did.
    pub(super) fn stage_state_tree(
        &mut self,
        batch: &mut WriteBatch,
        applied: &AppliedBlock,
        height: u64,
    ) -> StoreResult<bool> {
        let update = &applied.changes.state_tree;
        self.state_nodes.forget(&update.stale);
        self.unwritten.follow(update);
        if !self.unwritten.due(height) {
            return Ok(false);
        }
        self.unwritten
            .write_to(batch, self.cf(schema::STATE_NODES)?);
        batch.put_cf(
            self.cf(schema::META)?,
            schema::META_STATE_TREE_VERSION,
            encode(&height),
        );
        Ok(true)
    }

    /// Re-derives the tip's state tree from the column's version: each later
    /// block's update, made of the current states of the stones its receipts
    /// name. Intermediate versions may differ from the chain's; the tip's
    /// does not, and `load_tip` checks it against the tip header.
    pub(super) fn catch_up_state_tree(&mut self) -> StoreResult<()> {
        let written: u64 = self
            .get(schema::META, schema::META_STATE_TREE_VERSION)?
            .unwrap_or(self.tip.height);
        for height in written.saturating_add(1)..=self.tip.height {
            let mut stones = BTreeMap::new();
            for receipt in self.block_receipts(height)? {
                for event in receipt.events.iter() {
                    let stone = self.stone(&event.stone)?.ok_or_else(|| {
                        StoreError::Inconsistent(format!(
                            "block {height} names stone {}, which is not stored",
                            event.stone
                        ))
                    })?;
                    stones.insert(event.stone.clone(), stone);
                }
            }
            let update = state_tree::update(&*self, &self.chain_id, &stones, height)?;
            self.state_nodes.forget(&update.stale);
            self.unwritten.follow(&update);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(in crate::store) mod tests {
    use super::*;

    /// The key of the root node at `version` (its nibble path is empty: a
    /// count of 0 and no bytes).
    pub(crate) fn key(version: u64) -> NodeKey {
        let mut bytes = version.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 12]);
        borsh::from_slice(&bytes).unwrap()
    }

    fn update(nodes: &[u64], stale: &[u64]) -> StateTreeUpdate {
        StateTreeUpdate {
            nodes: nodes.iter().map(|v| (key(*v), Node::Null)).collect(),
            stale: stale.iter().map(|v| key(*v)).collect(),
            ..StateTreeUpdate::default()
        }
    }

    #[test]
    fn a_node_replaced_before_the_write_never_reaches_the_column() {
        let mut unwritten = UnwrittenNodes::default();
        // Block 1 replaces root 0 (written); block 2 replaces root 1 (held).
        unwritten.follow(&update(&[1], &[0]));
        unwritten.follow(&update(&[2], &[1]));
        assert_eq!(unwritten.get(&key(1)), None);
        assert_eq!(unwritten.get(&key(2)), Some(&Node::Null));
        assert_eq!(unwritten.stale_in_column, vec![key(0)]);
        let written = unwritten.written();
        assert_eq!(written.len(), 1);
        assert!(unwritten.stale_in_column.is_empty() && unwritten.nodes.is_empty());
    }

    #[test]
    fn the_column_is_due_every_64_blocks_or_when_too_much_is_held() {
        let unwritten = UnwrittenNodes::default();
        assert!(!unwritten.due(63));
        assert!(unwritten.due(64));
        let mut full = UnwrittenNodes::default();
        let many: Vec<u64> = (0..=UNWRITTEN_NODES_MAX as u64).collect();
        full.follow(&update(&many, &[]));
        assert!(full.due(65));
    }
}
