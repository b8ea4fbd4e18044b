//! Binary merkle trees over a block's transactions and receipts, and inclusion paths.
//!
//! Leaves are domain-separated hashes ([`crate::codec::Domain::TransactionLeaf`],
//! [`crate::codec::Domain::ReceiptLeaf`]); inner nodes use their own domain, so a
//! leaf can never pass for a node. An odd node at the end of a level is carried up
//! unchanged rather than paired with itself: duplicating it would let two
//! different leaf lists share a root.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{domain_hash, merkle_node_hash, BoundedVec, Domain};
use crate::ids::Digest;

/// Deepest tree: enough for 2^32 leaves.
pub const MERKLE_DEPTH_MAX: usize = 32;

/// The root of an empty tree.
pub fn empty_root() -> Digest {
    Digest(domain_hash(Domain::MerkleEmpty, "", &[]))
}

/// The root over `leaves`, in order.
pub fn root(leaves: &[Digest]) -> Digest {
    if leaves.is_empty() {
        return empty_root();
    }
    let mut level: Vec<[u8; 32]> = leaves.iter().map(|leaf| leaf.0).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    Digest(level[0])
}

fn next_level(level: &[[u8; 32]]) -> Vec<[u8; 32]> {
    // chunks(2) yields pairs and at most one final single; nothing else occurs.
    level
        .chunks(2)
        .filter_map(|pair| match pair {
            [left, right] => Some(merkle_node_hash(left, right)),
            [odd] => Some(*odd),
            _ => None,
        })
        .collect()
}

/// The siblings from a leaf up to the root.
#[derive(Clone, PartialEq, Eq, Debug, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MerklePath {
    /// The leaf's position.
    pub index: u32,
    /// How many leaves the tree has.
    pub leaf_count: u32,
    /// Sibling hashes, lowest level first; levels where the node was carried up
    /// have no sibling.
    pub siblings: BoundedVec<Digest, MERKLE_DEPTH_MAX>,
}

/// The inclusion path of leaf `index`, or `None` when out of range.
pub fn path(leaves: &[Digest], index: usize) -> Option<MerklePath> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level: Vec<[u8; 32]> = leaves.iter().map(|leaf| leaf.0).collect();
    let mut position = index;
    while level.len() > 1 {
        let sibling = position ^ 1;
        if sibling < level.len() {
            siblings.push(Digest(level[sibling]));
        }
        level = next_level(&level);
        position /= 2;
    }
    Some(MerklePath {
        index: u32::try_from(index).ok()?,
        leaf_count: u32::try_from(leaves.len()).ok()?,
        siblings: BoundedVec::new(siblings).ok()?,
    })
}

impl MerklePath {
    /// True when `leaf` at this path hashes up to `expected_root`.
    pub fn verify(&self, leaf: &Digest, expected_root: &Digest) -> bool {
        if self.index >= self.leaf_count {
            return false;
        }
        let mut hash = leaf.0;
        let mut position = self.index as u64;
        let mut width = self.leaf_count as u64;
        let mut siblings = self.siblings.iter();
        while width > 1 {
            let is_right = position % 2 == 1;
            let has_sibling = is_right || position + 1 < width;
            if has_sibling {
                let Some(sibling) = siblings.next() else {
                    return false;
                };
                hash = if is_right {
                    merkle_node_hash(&sibling.0, &hash)
                } else {
                    merkle_node_hash(&hash, &sibling.0)
                };
            }
            position /= 2;
            width = width.div_ceil(2);
        }
        siblings.next().is_none() && hash == expected_root.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(count: usize) -> Vec<Digest> {
        (0..count)
            .map(|i| {
                Digest(domain_hash(
                    Domain::TransactionLeaf,
                    "t",
                    &(i as u64).to_le_bytes(),
                ))
            })
            .collect()
    }

    #[test]
    fn a_single_leaf_is_its_own_root() {
        let one = leaves(1);
        assert_eq!(root(&one), one[0]);
        assert!(path(&one, 0).unwrap().verify(&one[0], &one[0]));
    }

    #[test]
    fn carrying_an_odd_node_differs_from_duplicating_it() {
        let three = leaves(3);
        let mut four = three.clone();
        four.push(three[2]);
        assert_ne!(root(&three), root(&four));
    }

    proptest! {
        #[test]
        fn every_leaf_proves_and_no_other_leaf_does(count in 1usize..70, pick in 0usize..70) {
            let all = leaves(count);
            let tree_root = root(&all);
            let index = pick % count;
            let proof = path(&all, index).unwrap();
            prop_assert!(proof.verify(&all[index], &tree_root));
            let other = (index + 1) % count;
            if other != index {
                prop_assert!(!proof.verify(&all[other], &tree_root));
                let mut moved = proof.clone();
                moved.index = other as u32;
                prop_assert!(!moved.verify(&all[index], &tree_root));
            }
        }
    }
}
