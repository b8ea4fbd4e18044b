//! The state tree: an authenticated map from each stone's id to a
//! [`StoneLeaf`] (its custodian, status, flag, open proposal and how many
//! events it has had), whose root every block header carries as
//! `state_root`.
//!
//! It is a Jellyfish Merkle tree (the `jmt` crate, see docs/decisions.md),
//! hashed with blake3 keyed for its own domain. The tree's version is the block
//! height: the tree after block `h` is version `h`, and the empty tree is
//! version 0. A [`ProvenStoneState`] proves one leaf into a header's state root,
//! so a proof can show how many events a stone has had, and an auditor can
//! demand every one of them.
//!
//! Stores keep only the tip's tree: a block's update removes the nodes it made
//! stale, since proofs are built at the tip and the next block reads only the
//! tip's version.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, SimpleHasher, Version};
use serde::{Deserialize, Serialize};

use crate::codec::{domain_hash, encode, state_tree_hasher, Domain};
use crate::error::{StoreError, StoreResult};
use crate::ids::{ChainId, Digest, OrgId, ProposalId, StoneId};
use crate::model::{FlagReason, Stone, StoneStatus};

/// The root of the empty state tree (jmt's placeholder hash): the state root
/// before any stone exists.
pub const EMPTY_STATE_ROOT: Digest = Digest(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");

/// The state tree's hasher: blake3 keyed for [`Domain::StateTree`].
#[derive(Clone)]
pub struct StateHasher(blake3::Hasher);

impl SimpleHasher for StateHasher {
    fn new() -> Self {
        StateHasher(state_tree_hasher())
    }
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// What the state tree commits to for one stone: everything a buyer needs to
/// know of its present, and the count that makes its history checkable.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StoneLeaf {
    /// The member holding it.
    pub custodian: OrgId,
    /// Active, consumed or sold.
    pub status: StoneStatus,
    /// Its flag, while flagged.
    pub flag: Option<FlagReason>,
    /// The open transfer proposal it is locked in, if any.
    pub open_proposal: Option<ProposalId>,
    /// How many events it has had: its events carry sequence numbers
    /// `0 .. event_count`.
    pub event_count: u32,
}

impl StoneLeaf {
    /// The leaf of `stone` in its current state.
    pub fn of(stone: &Stone) -> Self {
        StoneLeaf {
            custodian: stone.custodian.clone(),
            status: stone.status,
            flag: stone.flag,
            open_proposal: stone.open_proposal,
            event_count: stone.event_count,
        }
    }
}

/// The state tree's key for `stone` on chain `chain_id`.
pub fn key_of(chain_id: &ChainId, stone: &StoneId) -> KeyHash {
    KeyHash(domain_hash(
        Domain::StateKey,
        chain_id.as_str(),
        &encode(stone),
    ))
}

/// Where the state tree's nodes are read from: a store, or memory.
pub trait StateNodes {
    /// The node stored under `key`, if any.
    fn state_node(&self, key: &NodeKey) -> StoreResult<Option<Node>>;
}

/// What one block does to the state tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateTreeUpdate {
    /// The tree's root after the block.
    pub root: Digest,
    /// The nodes the block writes.
    pub nodes: Vec<(NodeKey, Node)>,
    /// The nodes of earlier versions that the block makes unreachable.
    pub stale: Vec<NodeKey>,
}

/// Updates the tree at version `version - 1` with the new states of
/// `stones`, giving version `version`.
pub fn update<S: StateNodes + ?Sized>(
    source: &S,
    chain_id: &ChainId,
    stones: &BTreeMap<StoneId, Stone>,
    version: Version,
) -> StoreResult<StateTreeUpdate> {
    let values: Vec<(KeyHash, OwnedValue)> = stones
        .iter()
        .map(|(id, stone)| (key_of(chain_id, id), encode(&StoneLeaf::of(stone))))
        .collect();
    let reader = Reader {
        source,
        value: None,
    };
    let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
    // The batch insert walks the tree once for the whole block and hashes
    // each new internal node once; inserting key by key re-hashes the nodes
    // on every key's path, about four times the work for a block of 1,000.
    // Both build the same tree. The batch refuses an empty set, for which
    // the tree is only carried to the next version.
    let updated = if values.is_empty() {
        tree.put_value_set(Vec::new(), version)
            .map(|(root, batch)| (vec![root], batch))
    } else {
        tree.batch_put_value_sets(vec![values], None, version)
    };
    let (roots, batch) = updated.map_err(|error| tree_error("update", &error))?;
    let root = roots
        .first()
        .copied()
        .ok_or_else(|| StoreError::Inconsistent("the state tree gave no root".to_owned()))?;
    Ok(StateTreeUpdate {
        root: Digest(root.0),
        nodes: batch
            .node_batch
            .nodes()
            .iter()
            .map(|(key, node)| (key.clone(), node.clone()))
            .collect(),
        stale: batch
            .stale_node_index_batch
            .into_iter()
            .map(|stale| stale.node_key)
            .collect(),
    })
}

/// The root of the tree of version `version`, as stored: what the header of
/// that height must hold.
pub fn root_at<S: StateNodes + ?Sized>(source: &S, version: Version) -> StoreResult<Digest> {
    let reader = Reader {
        source,
        value: None,
    };
    let root = JellyfishMerkleTree::<_, StateHasher>::new(&reader)
        .get_root_hash(version)
        .map_err(|error| tree_error("root", &error))?;
    Ok(Digest(root.0))
}

/// A stone's leaf with its path into a state root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProvenStoneState {
    /// The stone.
    pub stone: StoneId,
    /// Its leaf.
    pub leaf: StoneLeaf,
    /// The path from the leaf to the root.
    pub path: StatePath,
}

impl ProvenStoneState {
    /// Whether the leaf is the stone's in the tree whose root is `root`.
    pub fn verify(&self, chain_id: &ChainId, root: &Digest) -> bool {
        self.path
            .0
            .verify_existence(
                RootHash(root.0),
                key_of(chain_id, &self.stone),
                encode(&self.leaf),
            )
            .is_ok()
    }
}

/// A jmt sparse merkle path (`Eq` so the proofs holding it compare whole).
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StatePath(jmt::proof::SparseMerkleProof<StateHasher>);

impl Eq for StatePath {}

/// Proves `stone`'s current leaf into the tree of version `version`, which
/// must be the tip's.
pub fn prove<S: StateNodes + ?Sized>(
    source: &S,
    chain_id: &ChainId,
    stone: &Stone,
    version: Version,
) -> StoreResult<ProvenStoneState> {
    let key = key_of(chain_id, &stone.id);
    let leaf = StoneLeaf::of(stone);
    let reader = Reader {
        source,
        value: Some((key, encode(&leaf))),
    };
    let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
    let (found, path) = tree
        .get_with_proof(key, version)
        .map_err(|error| tree_error("proof", &error))?;
    if found.is_none() {
        return Err(StoreError::Inconsistent(format!(
            "stone {} is not in the state tree at height {version}",
            stone.id
        )));
    }
    Ok(ProvenStoneState {
        stone: stone.id.clone(),
        leaf,
        path: StatePath(path),
    })
}

fn tree_error(what: &str, error: &anyhow::Error) -> StoreError {
    StoreError::Inconsistent(format!("state tree {what}: {error:#}"))
}

/// jmt's view of a [`StateNodes`] source. Values are not stored (each is the
/// encoding of a stone's leaf, which the stone's record already holds): a
/// proof's reader is given the one value it proves.
struct Reader<'a, S: ?Sized> {
    source: &'a S,
    value: Option<(KeyHash, OwnedValue)>,
}

impl<S: StateNodes + ?Sized> TreeReader for Reader<'_, S> {
    fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<Node>> {
        // The empty tree of version 0 is never written: it is implied.
        if key.version() == 0 && key.nibble_path().num_nibbles() == 0 {
            return Ok(Some(self.source.state_node(key)?.unwrap_or(Node::Null)));
        }
        Ok(self.source.state_node(key)?)
    }

    fn get_value_option(
        &self,
        _max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self
            .value
            .as_ref()
            .filter(|(key, _)| *key == key_hash)
            .map(|(_, value)| value.clone()))
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only jmt's restore from a snapshot asks; stores never restore.
        Ok(None)
    }
}

/// The state tree's nodes held in memory (for [`crate::state::MemoryState`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStateNodes {
    nodes: BTreeMap<NodeKey, Node>,
}

impl MemoryStateNodes {
    /// Applies a block's update: drops what it made stale, keeps what it wrote.
    pub fn apply(&mut self, update: &StateTreeUpdate) {
        for key in &update.stale {
            self.nodes.remove(key);
        }
        for (key, node) in &update.nodes {
            self.nodes.insert(key.clone(), node.clone());
        }
    }

    /// How many nodes are held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is held (the empty tree).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl StateNodes for MemoryStateNodes {
    fn state_node(&self, key: &NodeKey) -> StoreResult<Option<Node>> {
        Ok(self.nodes.get(key).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{stone, TestChain};

    fn journey_stones() -> (ChainId, BTreeMap<StoneId, Stone>) {
        let chain = TestChain::journey();
        (chain.consortium.chain_id(), chain.state.stones().clone())
    }

    #[test]
    fn the_empty_tree_has_the_documented_root() {
        let empty = MemoryStateNodes::default();
        let (chain_id, _) = journey_stones();
        let update = update(&empty, &chain_id, &BTreeMap::new(), 1).unwrap();
        assert_eq!(update.root, EMPTY_STATE_ROOT);
    }

    #[test]
    fn each_leaf_proves_into_the_root_and_an_edited_leaf_does_not() {
        let (chain_id, stones) = journey_stones();
        let mut nodes = MemoryStateNodes::default();
        let first = update(&nodes, &chain_id, &stones, 1).unwrap();
        nodes.apply(&first);
        for stone in stones.values() {
            let proven = prove(&nodes, &chain_id, stone, 1).unwrap();
            assert!(proven.verify(&chain_id, &first.root), "{}", stone.id);
            let mut edited = proven.clone();
            edited.leaf.event_count += 1;
            assert!(!edited.verify(&chain_id, &first.root));
        }
    }

    #[test]
    fn a_change_moves_the_root_and_stale_nodes_are_dropped() {
        let (chain_id, stones) = journey_stones();
        let mut nodes = MemoryStateNodes::default();
        let first = update(&nodes, &chain_id, &stones, 1).unwrap();
        nodes.apply(&first);
        let held = nodes.len();
        let mut sold = stones[&stone("POL-2")].clone();
        sold.event_count += 1;
        let changed = BTreeMap::from([(sold.id.clone(), sold.clone())]);
        let second = update(&nodes, &chain_id, &changed, 2).unwrap();
        assert_ne!(second.root, first.root);
        assert!(!second.stale.is_empty());
        nodes.apply(&second);
        assert_eq!(
            nodes.len(),
            held,
            "one leaf changed: as many nodes as before"
        );
        let proven = prove(&nodes, &chain_id, &sold, 2).unwrap();
        assert!(proven.verify(&chain_id, &second.root));
        // The same leaves on another chain have other keys, so another root.
        let other = ChainId::parse("other-chain").unwrap();
        let elsewhere = update(&MemoryStateNodes::default(), &other, &stones, 1).unwrap();
        assert_ne!(elsewhere.root, first.root);
    }

    /// The tree update as jmt makes it key by key: what the batch insert
    /// must match.
    fn update_key_by_key(
        source: &MemoryStateNodes,
        chain_id: &ChainId,
        stones: &BTreeMap<StoneId, Stone>,
        version: Version,
    ) -> StateTreeUpdate {
        let values: Vec<(KeyHash, Option<OwnedValue>)> = stones
            .iter()
            .map(|(id, stone)| (key_of(chain_id, id), Some(encode(&StoneLeaf::of(stone)))))
            .collect();
        let reader = Reader {
            source,
            value: None,
        };
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        let (root, batch) = tree.put_value_set(values, version).unwrap();
        let mut stale: Vec<NodeKey> = batch
            .stale_node_index_batch
            .into_iter()
            .map(|stale| stale.node_key)
            .collect();
        stale.sort();
        StateTreeUpdate {
            root: Digest(root.0),
            nodes: batch.node_batch.nodes().clone().into_iter().collect(),
            stale,
        }
    }

    #[test]
    fn the_batch_insert_builds_the_tree_key_by_key_insertion_builds() {
        let (chain_id, journey) = journey_stones();
        let template = journey[&stone("ROUGH-1")].clone();
        let numbered = |from: u32, count: u32| -> BTreeMap<StoneId, Stone> {
            (from..from + count)
                .map(|n| {
                    let mut next = template.clone();
                    next.id = stone(&format!("S-{n}"));
                    next.event_count = n % 5;
                    (next.id.clone(), next)
                })
                .collect()
        };
        let mut nodes = MemoryStateNodes::default();
        // A first block, one that changes some stones and adds others, and
        // one that changes nothing.
        let blocks = [numbered(0, 600), numbered(400, 500), BTreeMap::new()];
        for (version, block) in (1..).zip(&blocks) {
            let mut batched = update(&nodes, &chain_id, block, version).unwrap();
            batched.stale.sort();
            batched.nodes.sort_by(|left, right| left.0.cmp(&right.0));
            assert_eq!(
                batched,
                update_key_by_key(&nodes, &chain_id, block, version)
            );
            nodes.apply(&batched);
        }
    }
}
