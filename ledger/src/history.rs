//! The history tree: a merkle tree over every block hash, genesis first.
//!
//! Each header commits to the tree over the hashes of all blocks before it
//! ([`crate::model::BlockHeader::history_root`]; leaf 0 is the genesis hash,
//! leaf `h` the hash of block `h`). A proof can then show that an old header
//! belongs to the chain that ends at its tip with one short merkle path,
//! instead of carrying every header in between: a proof's size and cost grow
//! with the logarithm of the chain's length, not with the length.
//!
//! The tree has exactly the shape of [`crate::merkle::root`] over the same
//! leaves (pairs from the left, an odd node carried up), so its paths are
//! [`MerklePath`]s and verify with [`MerklePath::verify`]. Such a tree is the
//! left-to-right fold of its *peaks*, the roots of the complete subtrees that
//! the binary digits of the leaf count describe; appending a leaf merges
//! equal peaks like a binary increment. The peaks are all a node needs to
//! compute the next header, and every complete subtree's root is stored once
//! when it is formed, so any path can later be read back from storage.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{merkle_node_hash, BoundedVec};
use crate::error::StoreResult;
use crate::ids::{BlockHash, Digest};
use crate::merkle::{MerklePath, MERKLE_DEPTH_MAX};

/// The root of a complete subtree: `2^level` leaves from `position * 2^level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct HistoryNode {
    /// Height of the subtree (0 is a leaf).
    pub level: u8,
    /// Its position among the subtrees of its level.
    pub position: u64,
    /// Its root.
    pub hash: Digest,
}

/// The peaks of the history tree: all that is needed to append and to
/// compute the root.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct HistoryPeaks {
    /// Leaves in the tree.
    pub leaf_count: u64,
    /// The complete subtrees' roots, largest (leftmost) first.
    pub peaks: BoundedVec<HistoryNode, 64>,
}

impl HistoryPeaks {
    /// The tree of a new chain: the genesis hash alone.
    pub fn genesis(genesis_hash: BlockHash) -> Self {
        let mut peaks = Self::default();
        peaks.append(genesis_hash);
        peaks
    }

    /// The root over every leaf (the empty tree's root before any).
    pub fn root(&self) -> Digest {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return crate::merkle::empty_root();
        };
        // The carried-up fold: the smallest peak joins the next larger one
        // on its right, and so on up to the largest.
        let folded = peaks.fold(last.hash.0, |right, peak| {
            merkle_node_hash(&peak.hash.0, &right)
        });
        Digest(folded)
    }

    /// Appends a block's hash; returns every complete subtree it formed
    /// (the leaf itself first), for storage.
    pub fn append(&mut self, block_hash: BlockHash) -> Vec<HistoryNode> {
        let mut formed = vec![HistoryNode {
            level: 0,
            position: self.leaf_count,
            hash: Digest(block_hash.0),
        }];
        let mut peaks = std::mem::take(&mut self.peaks).into_inner();
        peaks.push(formed[0]);
        while let [.., left, right] = peaks.as_slice() {
            if left.level != right.level {
                break;
            }
            let merged = HistoryNode {
                level: left.level + 1,
                position: left.position / 2,
                hash: Digest(merkle_node_hash(&left.hash.0, &right.hash.0)),
            };
            peaks.truncate(peaks.len() - 2);
            peaks.push(merged);
            formed.push(merged);
        }
        self.leaf_count += 1;
        // One peak per binary digit of a u64: never more than 64.
        self.peaks = BoundedVec::new(peaks).unwrap_or_default();
        formed
    }
}

/// Reads stored complete subtrees.
pub trait HistorySource {
    /// The root of the complete subtree at `level` and `position`, if stored.
    fn history_node(&self, level: u8, position: u64) -> StoreResult<Option<Digest>>;
}

/// A [`HistorySource`] that remembers what it read, for reading several paths
/// of one tree: they share their upper nodes, so a proof's dozen paths read
/// each of those once instead of once per path. Keep one only as long as the
/// tree it reads does not change (one proof).
pub struct CachedHistory<'a, S: ?Sized> {
    source: &'a S,
    read: std::cell::RefCell<std::collections::HashMap<(u8, u64), Option<Digest>>>,
}

impl<'a, S: HistorySource + ?Sized> CachedHistory<'a, S> {
    /// Reads from `source`, remembering.
    pub fn new(source: &'a S) -> Self {
        Self {
            source,
            read: std::cell::RefCell::default(),
        }
    }
}

impl<S: HistorySource + ?Sized> HistorySource for CachedHistory<'_, S> {
    fn history_node(&self, level: u8, position: u64) -> StoreResult<Option<Digest>> {
        if let Some(known) = self.read.borrow().get(&(level, position)) {
            return Ok(*known);
        }
        let node = self.source.history_node(level, position)?;
        self.read.borrow_mut().insert((level, position), node);
        Ok(node)
    }
}

/// The path of leaf `index` in the tree of its first `leaf_count` leaves,
/// read from `source`; `None` when out of range or a node is missing.
pub fn path<S: HistorySource + ?Sized>(
    source: &S,
    leaf_count: u64,
    index: u64,
) -> StoreResult<Option<MerklePath>> {
    if index >= leaf_count {
        return Ok(None);
    }
    let mut siblings = Vec::new();
    let (mut position, mut width, mut level) = (index, leaf_count, 0u8);
    while width > 1 {
        let sibling = position ^ 1;
        if sibling < width {
            let Some(hash) = node(source, leaf_count, level, sibling)? else {
                return Ok(None);
            };
            siblings.push(hash);
        }
        position /= 2;
        width = width.div_ceil(2);
        level += 1;
    }
    if usize::from(level) > MERKLE_DEPTH_MAX {
        return Ok(None);
    }
    let (Ok(index), Ok(leaf_count), Ok(siblings)) = (
        u32::try_from(index),
        u32::try_from(leaf_count),
        BoundedVec::new(siblings),
    ) else {
        return Ok(None);
    };
    Ok(Some(MerklePath {
        index,
        leaf_count,
        siblings,
    }))
}

/// The node at `level` and `position` of the tree of `leaf_count` leaves:
/// stored when complete, else (the right edge) built from its children, or
/// its left child carried up when it has no right one.
fn node<S: HistorySource + ?Sized>(
    source: &S,
    leaf_count: u64,
    level: u8,
    position: u64,
) -> StoreResult<Option<Digest>> {
    let span = 1u64 << level.min(63);
    let end = position.saturating_add(1).saturating_mul(span);
    if end <= leaf_count {
        return source.history_node(level, position);
    }
    let Some(level_below) = level.checked_sub(1) else {
        return Ok(None);
    };
    let Some(left) = node(source, leaf_count, level_below, position * 2)? else {
        return Ok(None);
    };
    let right_start = (position * 2 + 1) * (span / 2);
    if right_start >= leaf_count {
        return Ok(Some(left));
    }
    let Some(right) = node(source, leaf_count, level_below, position * 2 + 1)? else {
        return Ok(None);
    };
    Ok(Some(Digest(merkle_node_hash(&left.0, &right.0))))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::merkle;

    #[derive(Default)]
    struct Stored(BTreeMap<(u8, u64), Digest>);

    impl HistorySource for Stored {
        fn history_node(&self, level: u8, position: u64) -> StoreResult<Option<Digest>> {
            Ok(self.0.get(&(level, position)).copied())
        }
    }

    fn leaf(n: u64) -> BlockHash {
        BlockHash(*blake3::hash(&n.to_le_bytes()).as_bytes())
    }

    /// Counts the reads that reach it.
    struct Counting<'a> {
        stored: &'a Stored,
        reads: std::cell::Cell<usize>,
    }

    impl HistorySource for Counting<'_> {
        fn history_node(&self, level: u8, position: u64) -> StoreResult<Option<Digest>> {
            self.reads.set(self.reads.get() + 1);
            self.stored.history_node(level, position)
        }
    }

    #[test]
    fn a_cached_source_gives_the_same_paths_and_reads_each_node_once() {
        let mut peaks = HistoryPeaks::default();
        let mut stored = Stored::default();
        for n in 0..1000 {
            for formed in peaks.append(leaf(n)) {
                stored
                    .0
                    .insert((formed.level, formed.position), formed.hash);
            }
        }
        let counting = Counting {
            stored: &stored,
            reads: std::cell::Cell::new(0),
        };
        let cached = CachedHistory::new(&counting);
        let indices = [0, 1, 2, 3, 5, 8, 500, 998, 999];
        for index in indices {
            assert_eq!(
                path(&cached, 1000, index).unwrap(),
                path(&stored, 1000, index).unwrap(),
                "leaf {index}"
            );
        }
        let cached_reads = counting.reads.get();
        counting.reads.set(0);
        for index in indices {
            path(&counting, 1000, index).unwrap();
        }
        assert!(
            cached_reads < counting.reads.get(),
            "{cached_reads} reads cached, {} uncached",
            counting.reads.get()
        );
        // A node the store lacks is remembered as lacking, and stays so.
        assert_eq!(cached.history_node(40, 0).unwrap(), None);
        assert_eq!(cached.history_node(40, 0).unwrap(), None);
    }

    #[test]
    fn roots_and_paths_match_the_block_merkle_tree_at_every_size() {
        let mut peaks = HistoryPeaks::default();
        let mut stored = Stored::default();
        let mut leaves = Vec::new();
        assert_eq!(peaks.root(), merkle::empty_root());
        for n in 0..70u64 {
            for formed in peaks.append(leaf(n)) {
                stored
                    .0
                    .insert((formed.level, formed.position), formed.hash);
            }
            leaves.push(Digest(leaf(n).0));
            let root = merkle::root(&leaves);
            assert_eq!(peaks.root(), root, "root at {} leaves", n + 1);
            assert_eq!(peaks.peaks.len() as u32, (n + 1).count_ones());
            for index in 0..=n {
                let from_store = path(&stored, n + 1, index)
                    .expect("no store error")
                    .expect("a path");
                assert_eq!(
                    Some(&from_store),
                    merkle::path(&leaves, index as usize).as_ref()
                );
                assert!(from_store.verify(&leaves[index as usize], &root));
            }
        }
    }

    #[test]
    fn a_path_is_refused_out_of_range_or_when_a_node_is_missing() {
        let mut peaks = HistoryPeaks::genesis(leaf(0));
        let mut stored = Stored::default();
        stored.0.insert((0, 0), Digest(leaf(0).0));
        for n in 1..8 {
            for formed in peaks.append(leaf(n)) {
                stored
                    .0
                    .insert((formed.level, formed.position), formed.hash);
            }
        }
        assert!(matches!(path(&stored, 8, 8), Ok(None)));
        assert!(matches!(path(&stored, 8, 3), Ok(Some(_))));
        stored.0.remove(&(1, 0));
        assert!(matches!(path(&stored, 8, 3), Ok(None)));
    }
}
