//! Checkpoints and quorum certificates: what makes a tip more than a hash
//! anyone could compute.
//!
//! After applying a block, each node signs a [`Checkpoint`] of it (chain,
//! height, block hash, state root, block time) with its node key: the ed25519
//! key whose libp2p peer id the genesis or an `AddNode` records
//! ([`node_key`]). A [`QuorumCertificate`] is the signatures of a majority of
//! the nodes in force at that height. [`QuorumCertificate::verify`] checks one
//! against that node set, offline: no single operator, and no minority of
//! them, can certify a chain of their own making.
//!
//! The ledger only defines and checks certificates; the node crate signs,
//! exchanges and stores them.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{domain_hash, encode, BoundedVec, Domain};
use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::ids::{BlockHash, ChainId, Digest, NodeId};
use crate::model::{BlockHeader, NodeRecord, NODES_MAX};

/// What a node signs after applying a block.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Checkpoint {
    /// The block's height.
    pub height: u64,
    /// The block's hash.
    pub block_hash: BlockHash,
    /// The state root after the block.
    pub state_root: Digest,
    /// The block's time, ms since the Unix epoch.
    pub timestamp_ms: u64,
}

impl Checkpoint {
    /// The checkpoint of `header`, whose hash is `block_hash`.
    pub fn of(header: &BlockHeader, block_hash: BlockHash) -> Self {
        Checkpoint {
            height: header.height,
            block_hash,
            state_root: header.state_root,
            timestamp_ms: header.timestamp_ms,
        }
    }

    /// The bytes a node signs: the checkpoint hashed for chain `chain_id`, so
    /// a signature made on one chain means nothing on another.
    pub fn signing_digest(&self, chain_id: &ChainId) -> [u8; 32] {
        domain_hash(Domain::Checkpoint, chain_id.as_str(), &encode(self))
    }

    /// `node`'s signature of this checkpoint with its node key `key`.
    pub fn sign(&self, chain_id: &ChainId, node: NodeId, key: &SecretKey) -> NodeSignature {
        NodeSignature {
            node,
            signature: key.sign(&self.signing_digest(chain_id)),
        }
    }
}

/// One node's signature of a checkpoint.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct NodeSignature {
    /// The node.
    pub node: NodeId,
    /// Its signature of the checkpoint's signing digest.
    pub signature: Signature,
}

/// A checkpoint signed by a majority of the nodes in force at its height.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct QuorumCertificate {
    /// What was signed.
    pub checkpoint: Checkpoint,
    /// The signatures, by ascending node id, each node once.
    pub signatures: BoundedVec<NodeSignature, NODES_MAX>,
}

/// Why a certificate does not certify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// It certifies another block than the one it is offered for.
    #[error(
        "the certificate is for block {certified} at height {height}, not for block {offered}"
    )]
    OtherBlock {
        /// The height.
        height: u64,
        /// The block it certifies.
        certified: BlockHash,
        /// The block it was offered for.
        offered: BlockHash,
    },
    /// A signer that was not a node at that height.
    #[error("node {node} signed, but was not a node at height {height}")]
    NotANode {
        /// The signer.
        node: NodeId,
        /// The height.
        height: u64,
    },
    /// A node whose recorded peer id holds no ed25519 key.
    #[error("node {node}'s peer id holds no ed25519 key, so it cannot sign")]
    NoNodeKey {
        /// The node.
        node: NodeId,
    },
    /// Signatures out of order, or a node counted twice.
    #[error("node {node} is listed out of order or twice")]
    Unordered {
        /// The node.
        node: NodeId,
    },
    /// A signature that does not verify.
    #[error("node {node}'s signature does not verify")]
    BadSignature {
        /// The node.
        node: NodeId,
    },
    /// Fewer signers than a majority of the nodes in force.
    #[error("signed by {signed} of {nodes} nodes; a majority is {needed}")]
    NoQuorum {
        /// Valid signers.
        signed: usize,
        /// Nodes in force.
        nodes: usize,
        /// A majority of them.
        needed: usize,
    },
    /// Older than the auditor accepts.
    #[error("the certified block is {age_ms} ms old, more than the {max_age_ms} ms accepted")]
    TooOld {
        /// Its age at the time of checking.
        age_ms: u64,
        /// The most accepted.
        max_age_ms: u64,
    },
}

/// The smallest majority of `nodes` nodes.
pub fn quorum(nodes: usize) -> usize {
    nodes / 2 + 1
}

impl QuorumCertificate {
    /// `checkpoint` with no signature yet: what a proof carries until its
    /// tip is certified.
    pub fn unsigned(checkpoint: Checkpoint) -> Self {
        QuorumCertificate {
            checkpoint,
            signatures: BoundedVec::EMPTY,
        }
    }

    /// The nodes that signed, in ascending order.
    pub fn signers(&self) -> Vec<NodeId> {
        self.signatures.iter().map(|signed| signed.node).collect()
    }

    /// Checks that the certificate is for `block_hash` and that a majority of
    /// `nodes` (the node set in force at its height) signed it, each once
    /// and in ascending order. Returns the signers.
    pub fn verify<'n>(
        &self,
        chain_id: &ChainId,
        block_hash: BlockHash,
        nodes: impl IntoIterator<Item = &'n NodeRecord>,
    ) -> Result<Vec<NodeId>, CertificateError> {
        let checkpoint = &self.checkpoint;
        if checkpoint.block_hash != block_hash {
            return Err(CertificateError::OtherBlock {
                height: checkpoint.height,
                certified: checkpoint.block_hash,
                offered: block_hash,
            });
        }
        let nodes: Vec<&NodeRecord> = nodes.into_iter().collect();
        let digest = checkpoint.signing_digest(chain_id);
        let mut signers = BTreeSet::new();
        for signed in self.signatures.iter() {
            let node = signed.node;
            if signers.last().is_some_and(|last| *last >= node) {
                return Err(CertificateError::Unordered { node });
            }
            let record = nodes.iter().find(|record| record.id == node).ok_or(
                CertificateError::NotANode {
                    node,
                    height: checkpoint.height,
                },
            )?;
            let key =
                node_key(record.peer_id.as_str()).ok_or(CertificateError::NoNodeKey { node })?;
            if !key.verify(&digest, &signed.signature) {
                return Err(CertificateError::BadSignature { node });
            }
            signers.insert(node);
        }
        let needed = quorum(nodes.len());
        if signers.len() < needed {
            return Err(CertificateError::NoQuorum {
                signed: signers.len(),
                nodes: nodes.len(),
                needed,
            });
        }
        Ok(signers.into_iter().collect())
    }

    /// Checks that the certified block is at most `max_age_ms` old at
    /// `now_ms`.
    pub fn check_age(&self, now_ms: u64, max_age_ms: u64) -> Result<(), CertificateError> {
        let age_ms = now_ms.saturating_sub(self.checkpoint.timestamp_ms);
        if age_ms > max_age_ms {
            return Err(CertificateError::TooOld { age_ms, max_age_ms });
        }
        Ok(())
    }
}

/// The first bytes of an ed25519 libp2p peer id: an identity multihash (code
/// 0, 36 bytes) of the protobuf `PublicKey { Type: Ed25519, Data: 32 bytes }`.
const ED25519_PEER_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/// The ed25519 key inside a libp2p peer id (base58 text), if it holds one.
/// Peer ids of ed25519 keys embed the key itself, so a node's recorded peer
/// id is all an auditor needs to check its signatures.
pub fn node_key(peer_id: &str) -> Option<PublicKey> {
    let bytes = bs58::decode(peer_id).into_vec().ok()?;
    let key = bytes.strip_prefix(&ED25519_PEER_ID_PREFIX)?;
    let key = PublicKey(<[u8; 32]>::try_from(key).ok()?);
    key.check_registrable().ok()?;
    Some(key)
}

/// The libp2p peer id (base58 text) of the ed25519 node key `key`.
pub fn peer_id_of(key: &PublicKey) -> String {
    let mut bytes = ED25519_PEER_ID_PREFIX.to_vec();
    bytes.extend_from_slice(&key.0);
    bs58::encode(bytes).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{node_record, TestChain};

    /// Three nodes with real keys, and a checkpoint of the journey's tip.
    struct Cluster {
        chain_id: ChainId,
        keys: Vec<SecretKey>,
        nodes: Vec<NodeRecord>,
        checkpoint: Checkpoint,
    }

    impl Cluster {
        fn new() -> Self {
            let chain = TestChain::journey();
            let tip = chain.blocks.last().unwrap();
            let keys: Vec<SecretKey> = (0..3).map(|_| SecretKey::generate().unwrap()).collect();
            let nodes = keys
                .iter()
                .enumerate()
                .map(|(index, key)| {
                    let mut record = node_record(index as u64 + 1, "mine");
                    record.peer_id = peer_id_of(&key.public_key()).as_str().try_into().unwrap();
                    record
                })
                .collect();
            Cluster {
                chain_id: chain.consortium.chain_id(),
                keys,
                nodes,
                checkpoint: Checkpoint::of(&tip.block.header, tip.hash),
            }
        }

        /// A certificate signed by the nodes at `signers` (indexes).
        fn certificate(&self, signers: &[usize]) -> QuorumCertificate {
            let signatures = signers
                .iter()
                .map(|&index| {
                    self.checkpoint
                        .sign(&self.chain_id, self.nodes[index].id, &self.keys[index])
                })
                .collect::<Vec<_>>();
            QuorumCertificate {
                checkpoint: self.checkpoint,
                signatures: signatures.try_into().unwrap(),
            }
        }

        fn verify(&self, certificate: &QuorumCertificate) -> Result<Vec<NodeId>, CertificateError> {
            certificate.verify(&self.chain_id, self.checkpoint.block_hash, &self.nodes)
        }
    }

    #[test]
    fn two_of_three_nodes_certify_a_tip() {
        let cluster = Cluster::new();
        let signers = cluster.verify(&cluster.certificate(&[0, 2])).unwrap();
        assert_eq!(signers, vec![NodeId(1), NodeId(3)]);
    }

    #[test]
    fn a_tip_certified_by_one_node_of_three_is_refused() {
        let cluster = Cluster::new();
        assert_eq!(
            cluster.verify(&cluster.certificate(&[1])),
            Err(CertificateError::NoQuorum {
                signed: 1,
                nodes: 3,
                needed: 2
            })
        );
    }

    #[test]
    fn a_certificate_signed_by_a_node_not_in_force_is_refused() {
        let cluster = Cluster::new();
        let certificate = cluster.certificate(&[0, 1]);
        // Node 2 was removed before this height: only nodes 1 and 3 are in force.
        let in_force = [cluster.nodes[0].clone(), cluster.nodes[2].clone()];
        assert_eq!(
            certificate.verify(&cluster.chain_id, cluster.checkpoint.block_hash, &in_force),
            Err(CertificateError::NotANode {
                node: NodeId(2),
                height: cluster.checkpoint.height
            })
        );
    }

    #[test]
    fn a_certificate_over_a_different_block_hash_is_refused() {
        let cluster = Cluster::new();
        let certificate = cluster.certificate(&[0, 1, 2]);
        let other = BlockHash([7; 32]);
        assert_eq!(
            certificate.verify(&cluster.chain_id, other, &cluster.nodes),
            Err(CertificateError::OtherBlock {
                height: cluster.checkpoint.height,
                certified: cluster.checkpoint.block_hash,
                offered: other
            })
        );
        // Claiming the other block inside the certificate breaks the signatures.
        let mut moved = certificate.clone();
        moved.checkpoint.block_hash = other;
        assert_eq!(
            moved.verify(&cluster.chain_id, other, &cluster.nodes),
            Err(CertificateError::BadSignature { node: NodeId(1) })
        );
    }

    #[test]
    fn a_repeated_or_unordered_signer_is_refused() {
        let cluster = Cluster::new();
        assert_eq!(
            cluster.verify(&cluster.certificate(&[0, 0])),
            Err(CertificateError::Unordered { node: NodeId(1) })
        );
        assert_eq!(
            cluster.verify(&cluster.certificate(&[2, 0])),
            Err(CertificateError::Unordered { node: NodeId(1) })
        );
    }

    #[test]
    fn a_certificate_older_than_the_maximum_age_is_refused() {
        let cluster = Cluster::new();
        let certificate = cluster.certificate(&[0, 1]);
        let time = cluster.checkpoint.timestamp_ms;
        assert_eq!(certificate.check_age(time + 60_000, 60_000), Ok(()));
        assert_eq!(
            certificate.check_age(time + 60_001, 60_000),
            Err(CertificateError::TooOld {
                age_ms: 60_001,
                max_age_ms: 60_000
            })
        );
    }

    #[test]
    fn a_node_whose_peer_id_holds_no_key_cannot_sign() {
        let mut cluster = Cluster::new();
        let certificate = cluster.certificate(&[0, 1]);
        cluster.nodes[1].peer_id = "peer-2".try_into().unwrap();
        assert_eq!(
            cluster.verify(&certificate),
            Err(CertificateError::NoNodeKey { node: NodeId(2) })
        );
    }

    #[test]
    fn a_peer_id_round_trips_to_its_key_and_junk_holds_none() {
        let key = SecretKey::generate().unwrap().public_key();
        assert_eq!(node_key(&peer_id_of(&key)), Some(key));
        assert_eq!(node_key("peer-1"), None);
        assert_eq!(node_key(""), None);
        // A sha256 multihash peer id (an RSA or secp256k1 node) holds no key.
        assert_eq!(
            node_key("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
            None
        );
    }
}
