//! Provenance proofs: everything an auditor needs to check a stone's origin chain
//! offline, holding nothing but the genesis.
//!
//! A [`ProvenanceProof`] carries every event of the stone and of its ancestors
//! (the rough it was cut from), each as a [`ProvenEvent`]: the signed
//! transaction, its receipt, and merkle paths into its block's header. It also
//! carries every applied governance transaction, so the verifier can rebuild the
//! membership in force at each height; the tip's header; and the header of
//! each block holding one of those transactions, proven into the tip's history
//! tree ([`crate::history`]) together with the genesis hash. Each carried
//! header's membership root is compared with the rebuilt membership. Blocks in
//! between are not carried, so a proof grows with its events and the logarithm
//! of the chain's length.
//!
//! [`ProofSource`] is what a proof is built from: the RocksDB store implements it,
//! and so does the in-memory test chain.
//!
//! Start reading at [`build_proof`] (`build.rs`) and [`verify_proof`] (`verify.rs`).
//! The verifier checks, in this order: the header chain back to the genesis hash,
//! each merkle inclusion and receipt (`verify.rs`), the lineage (`lineage.rs`),
//! then replays the chain height by height: governance through the real rules to
//! rebuild the membership and compare it with every header (`authority.rs`), and
//! every stone event's signatures, roles and custody continuity (`custody.rs`);
//! then the tip's quorum certificate against the node set the replay ends with
//! (`crate::certificate`); last, that no event is missing and the replay ends
//! where the certified state leaves say (`complete.rs`). What it proves is told
//! as a [`Journey`] ([`journey`]).
//!
//! **Limit:** a proof is complete up to its certified tip and silent on what
//! came after it (`docs/protocol.md` §7).

mod authority;
mod build;
mod complete;
mod custody;
pub mod error;
pub mod journey;
mod lineage;
#[cfg(any(test, feature = "test-utils"))]
mod test_source;
mod verify;

pub use build::build_proof;
pub use error::{ProofBuildError, ProofError};
pub use journey::{CustodyPeriod, Journey, JourneyStep, StepKind, VerifiedJourney};
pub use verify::verify_proof;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::certificate::{Checkpoint, QuorumCertificate};
use crate::codec::BoundedVec;
use crate::error::StoreResult;
use crate::history::HistorySource;
use crate::ids::{BlockHash, ChainId, Digest, StoneId};
use crate::merkle::MerklePath;
use crate::model::{BlockHeader, Receipt, SignedTransaction, Stone};
use crate::state_tree::{ProvenStoneState, StateNodes};

/// Most stone events one proof may carry.
pub const PROOF_EVENTS_MAX: usize = 65_536;
/// Most governance transactions one proof may carry.
pub const PROOF_GOVERNANCE_MAX: usize = 65_536;
/// Most stones one proof's lineage may hold (rough and polished are two; the
/// margin tolerates future kinds of derivation).
pub const PROOF_LINEAGE_MAX: usize = 16;
/// Most headers one proof may carry besides the tip's: one per block holding
/// an event or a governance transaction.
pub const PROOF_HEADERS_MAX: usize = PROOF_EVENTS_MAX + PROOF_GOVERNANCE_MAX;

/// Where a transaction sits: block height and position in the block.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub tx_index: u32,
}

/// One transaction, proven to be in a block and to have been applied.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProvenEvent {
    /// Where it is.
    pub location: TxLocation,
    /// The signed transaction.
    pub transaction: SignedTransaction,
    /// Path from its leaf to the header's `tx_root`.
    pub tx_path: MerklePath,
    /// Its receipt.
    pub receipt: Receipt,
    /// Path from the receipt's leaf to the header's `receipts_root`.
    pub receipt_path: MerklePath,
}

/// A block header with its path into the tip's history tree
/// ([`crate::history`]): leaf `header.height` of the tip's `history_root`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProvenHeader {
    /// The header.
    pub header: BlockHeader,
    /// Path from its hash to the tip's history root.
    pub path: MerklePath,
}

/// A self-contained, offline-verifiable account of a stone's provenance.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProvenanceProof {
    /// The chain it comes from.
    pub chain_id: ChainId,
    /// The stone it is about.
    pub stone: StoneId,
    /// The hash of the tip header: what an auditor compares with what the nodes
    /// report, and the anchor that makes every other header tamper-evident.
    pub tip_hash: BlockHash,
    /// The tip's header, whose history root commits to every earlier block.
    pub tip: BlockHeader,
    /// The genesis hash's path into the tip's history tree (leaf 0): the
    /// chain starts at this genesis.
    pub genesis_path: MerklePath,
    /// The header of each block below the tip that holds an event or a
    /// governance transaction, by ascending height, each proven into the
    /// tip's history tree. Blocks in between are not needed: a proof grows
    /// with its events and the logarithm of the chain's length.
    pub headers: BoundedVec<ProvenHeader, PROOF_HEADERS_MAX>,
    /// Every event of the stone and its ancestors, in chain order, each once.
    pub events: BoundedVec<ProvenEvent, PROOF_EVENTS_MAX>,
    /// Every applied governance transaction from genesis to the tip, in chain order.
    pub governance: BoundedVec<ProvenEvent, PROOF_GOVERNANCE_MAX>,
    /// The state leaf of the stone and of each ancestor at the tip, proven
    /// into the tip's state root, stone first: each says how many events its
    /// stone has had, so the verifier demands every one of them.
    pub states: BoundedVec<ProvenStoneState, PROOF_LINEAGE_MAX>,
    /// The tip's quorum certificate: a majority of the nodes in force at the
    /// tip signed its checkpoint. A proof fresh from the store carries the
    /// checkpoint with no signatures ([`ProvenanceProof::certify`] adds them);
    /// it does not verify until a majority has signed.
    pub certificate: QuorumCertificate,
}

impl ProvenanceProof {
    /// The checkpoint of the proof's tip: what its certificate must sign.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint::of(&self.tip, self.tip_hash)
    }

    /// Attaches `certificate`, if it certifies this proof's tip; otherwise
    /// gives it back.
    pub fn certify(&mut self, certificate: QuorumCertificate) -> Result<(), QuorumCertificate> {
        if certificate.checkpoint != self.checkpoint() {
            return Err(certificate);
        }
        self.certificate = certificate;
        Ok(())
    }
}

/// What a proof is built from.
pub trait ProofSource: HistorySource + StateNodes {
    /// The chain id.
    fn chain_id(&self) -> &ChainId;
    /// Height of the last block (0 before the first).
    fn tip_height(&self) -> u64;
    /// The header at `height` (1 ..= tip).
    fn header(&self, height: u64) -> StoreResult<Option<BlockHeader>>;
    /// A stone's current state.
    fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>>;
    /// Where each event of the stone is, in event order.
    fn stone_event_locations(&self, id: &StoneId) -> StoreResult<Vec<TxLocation>>;
    /// Where each applied governance transaction is, in chain order.
    fn governance_locations(&self) -> StoreResult<Vec<TxLocation>>;
    /// The transaction and its receipt at `location`.
    fn transaction_at(
        &self,
        location: TxLocation,
    ) -> StoreResult<Option<(SignedTransaction, Receipt)>>;
    /// The transaction leaves and receipt leaves of the block at `height`.
    fn block_leaves(&self, height: u64) -> StoreResult<Option<(Vec<Digest>, Vec<Digest>)>>;
}
