//! The fuzz targets' entry points (`fuzz/fuzz_targets/*.rs`, run by hand
//! with `cargo +nightly fuzz`), shared with the stable test that replays
//! their corpora (`node/tests/fuzz_corpora.rs`), so both feed each input to
//! the same code.
//!
//! Each entry takes arbitrary bytes and must neither panic nor hang. Where
//! a property holds for every accepted input, it is asserted here, so that
//! a violation is a crash the fuzzer reports: whatever decodes re-encodes
//! to the same bytes (one canonical encoding).

use std::fmt::Debug;

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_genesis::ValidGenesis;
use gemtrail_ledger::certificate::{Checkpoint, QuorumCertificate};
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::model::{
    Block, BlockHeader, BlockProposal, Membership, Proposal, Receipt, SignedTransaction, Stone,
    Transaction,
};
use gemtrail_ledger::proof::ProvenanceProof;
use gemtrail_ledger::store::LedgerStore;

use crate::p2p::wire::{PeerRequest, PeerResponse};

/// The largest lane frame body the `lane_frames` target accepts.
const LANE_FRAME_BYTES_MAX: u64 = 1 << 20;

fn canonical<T>(bytes: &[u8])
where
    T: BorshSerialize + BorshDeserialize + Debug,
{
    if let Ok(value) = decode::<T>(bytes) {
        assert_eq!(
            encode(&value),
            bytes,
            "{value:?} decoded from non-canonical bytes"
        );
    }
}

/// `decode` of every wire and stored type: a stored value, a transaction, a
/// block, a proof, a certificate, a peer message.
pub fn decode_wire(bytes: &[u8]) {
    canonical::<Transaction>(bytes);
    canonical::<SignedTransaction>(bytes);
    canonical::<BlockHeader>(bytes);
    canonical::<BlockProposal>(bytes);
    canonical::<Block>(bytes);
    canonical::<Receipt>(bytes);
    canonical::<Stone>(bytes);
    canonical::<Proposal>(bytes);
    canonical::<Membership>(bytes);
    canonical::<Checkpoint>(bytes);
    canonical::<QuorumCertificate>(bytes);
    canonical::<ProvenanceProof>(bytes);
    canonical::<PeerRequest>(bytes);
    canonical::<PeerResponse>(bytes);
}

/// The API's JSON submission path: parse, then the canonical check the door
/// applies (`POST /v1/transactions` with `Content-Type: application/json`).
pub fn json_body(bytes: &[u8]) {
    if let Ok(tx) = serde_json::from_slice::<SignedTransaction>(bytes) {
        let _ = crate::admission::decode_body(&encode(&tx));
    }
}

/// A genesis file: parsed and validated.
pub fn genesis_toml(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = ValidGenesis::from_toml(text);
    }
}

/// A peer's byte stream as a lane reads it, frame by frame; returns how
/// many whole frames it held before the end or the first bad one.
pub fn lane_frames(bytes: &[u8]) -> usize {
    crate::p2p::lane::read_request_frames(bytes, LANE_FRAME_BYTES_MAX).len()
}

/// A snapshot dump imported into `store` (which it may replace): refused
/// cleanly or imported whole, never a panic.
pub fn dump_import(store: &mut LedgerStore, bytes: &[u8]) {
    let _ = store.import_dump(bytes, b"fuzz");
}
