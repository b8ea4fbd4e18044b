//! Writes the seed inputs of the fuzz corpora (`fuzz/corpus/<target>/seed-*`)
//! from a real journey on the ledger's test chain: its transactions, a
//! block, a receipt, a certified proof, a peer message and its lane frame,
//! the JSON of a transaction, the sample genesis, and a store dump.
//!
//! `cargo run -p gemtrail-node --example fuzz_seeds` from the repository
//! root; the fuzzer then grows each corpus from these.

use std::path::Path;

use gemtrail_ledger::codec::{encode, BoundedVec};
use gemtrail_ledger::model::BlockProposal;
use gemtrail_ledger::store::LedgerStore;
use gemtrail_ledger::testkit::{certified_proof, stone, TestChain};
use gemtrail_node::p2p::wire::PeerRequest;

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)
}

fn lane_frame(id: u64, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(
        &u32::try_from(body.len() + 8)
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chain = TestChain::journey();
    let first = &chain.blocks[0];
    let signed = first.block.transactions.as_slice()[0].clone();
    let proof = certified_proof(&chain, &stone("POL-1"))?;
    let forward = PeerRequest::Forward(BoundedVec::new(vec![signed.clone()])?);
    write("decode_wire", "transaction", &encode(&signed.tx))?;
    write("decode_wire", "signed-transaction", &encode(&signed))?;
    write("decode_wire", "header", &encode(&first.block.header))?;
    write("decode_wire", "block", &encode(&first.block))?;
    write("decode_wire", "receipt", &encode(&first.receipts[0]))?;
    write("decode_wire", "certificate", &encode(&proof.certificate))?;
    write("decode_wire", "proof", &encode(&proof))?;
    write("decode_wire", "peer-forward", &encode(&forward))?;
    write("json_body", "transaction", &serde_json::to_vec(&signed)?)?;
    write(
        "genesis_toml",
        "sample",
        include_bytes!("../../genesis/examples/sample-genesis.toml"),
    )?;
    let frames = [
        lane_frame(1, &encode(&forward)),
        lane_frame(2, &encode(&forward)),
    ]
    .concat();
    write("lane_frames", "two-forwards", &frames)?;
    write("proof_verify", "pol-1", &encode(&proof))?;
    write(
        "proof_verify",
        "rough-1",
        &encode(&certified_proof(&chain, &stone("ROUGH-1"))?),
    )?;
    let dir = tempfile::tempdir()?;
    let mut store = LedgerStore::open(dir.path(), &chain.consortium.genesis)?;
    for applied in &chain.blocks {
        store.apply(BlockProposal {
            timestamp_ms: applied.block.header.timestamp_ms,
            transactions: applied.block.transactions.clone(),
        })?;
    }
    write("dump_import", "journey", &store.export_dump()?)?;
    println!("wrote the seeds under fuzz/corpus/");
    Ok(())
}
