//! Micro-benchmarks of the ledger core: the canonical encoding, signatures,
//! applying a block of 1,000 transactions (in memory and into RocksDB), and
//! building and verifying a provenance proof, and the state root of a
//! 1,000-stone block. Run with
//! `cd benches/micro && cargo bench`; figures are in
//! docs/benchmarks.md.

// Bench code: a failed unwrap is a broken benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::ids::StoneId;
use gemtrail_ledger::machine::apply_block;
use gemtrail_ledger::model::{SignedTransaction, Stone};
use gemtrail_ledger::proof::{build_proof, verify_proof};
use gemtrail_ledger::signature_batch::{verify_all, SignatureCheck};
use gemtrail_ledger::state::LedgerView;
use gemtrail_ledger::state_tree::{self, MemoryStateNodes};
use gemtrail_ledger::store::LedgerStore;
use gemtrail_ledger::verify_memo;
use gemtrail_ledger::testkit::{register, stone, TestChain};

const BLOCK_TXS: usize = 1_000;

fn registrations(chain: &TestChain, count: usize) -> Vec<SignedTransaction> {
    (0..count)
        .map(|n| {
            chain
                .consortium
                .tx("mine", n as u64, register(&format!("B-{n}"), 150))
        })
        .collect()
}

fn encoding(c: &mut Criterion) {
    let chain = TestChain::new();
    let tx = registrations(&chain, 1).remove(0);
    let bytes = encode(&tx);
    let mut group = c.benchmark_group("encoding");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode signed transaction", |b| {
        b.iter(|| encode(black_box(&tx)))
    });
    group.bench_function("decode signed transaction", |b| {
        b.iter(|| decode::<SignedTransaction>(black_box(&bytes)).unwrap())
    });
    group.finish();
}

fn signatures(c: &mut Criterion) {
    let chain = TestChain::new();
    let tx = registrations(&chain, 1).remove(0);
    let unsigned = tx.tx.clone();
    let key = chain.consortium.key("mine").clone();
    let mut group = c.benchmark_group("signatures");
    group.bench_function("sign transaction", |b| {
        b.iter(|| black_box(unsigned.clone()).sign(&key))
    });
    // `verify_uncached`: `verify` would answer repeats from its memo.
    let id = tx.id();
    let approval = &tx.approvals.as_slice()[0];
    group.bench_function("verify transaction", |b| {
        b.iter(|| black_box(&approval.key).verify_uncached(id.as_bytes(), &approval.signature))
    });
    group.bench_function("verify transaction, remembered", |b| {
        b.iter(|| black_box(&tx).signatures_valid())
    });
    let many: Vec<_> = registrations(&chain, BLOCK_TXS)
        .into_iter()
        .map(|tx| (tx.id(), tx.approvals.as_slice()[0].clone()))
        .collect();
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.bench_function("verify 1000 transactions one by one", |b| {
        b.iter(|| {
            many.iter().all(|(id, approval)| {
                approval
                    .key
                    .verify_uncached(id.as_bytes(), &approval.signature)
            })
        })
    });
    // Batched: the memo is cleared each time so every signature is checked.
    let checks: Vec<SignatureCheck> = many
        .iter()
        .map(|(id, approval)| SignatureCheck {
            key: approval.key,
            signature: approval.signature,
            message: id.0,
        })
        .collect();
    for size in [8usize, 64, BLOCK_TXS] {
        group.throughput(Throughput::Elements(BLOCK_TXS as u64));
        group.bench_function(format!("verify 1000 transactions in batches of {size}"), |b| {
            b.iter(|| {
                verify_memo::clear();
                checks
                    .chunks(size)
                    .all(|batch| verify_all(batch).iter().all(|valid| *valid))
            })
        });
    }
    group.finish();
}

fn blocks(c: &mut Criterion) {
    let chain = TestChain::new();
    let txs = registrations(&chain, BLOCK_TXS);
    let mut group = c.benchmark_group("apply block");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(20);
    group.bench_function("1000 registrations, pure state machine", |b| {
        b.iter_batched(
            || {
                // Each block pays for its signatures, as a follower would.
                gemtrail_ledger::verify_memo::clear();
                chain.proposal(txs.clone())
            },
            |proposal| apply_block(&chain.state, proposal).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("1000 registrations, into RocksDB", |b| {
        b.iter_batched(
            || {
                gemtrail_ledger::verify_memo::clear();
                let dir = tempfile::tempdir().unwrap();
                let store = LedgerStore::open(dir.path(), &chain.consortium.genesis).unwrap();
                (dir, store, chain.proposal(txs.clone()))
            },
            |(dir, mut store, proposal)| {
                store.apply(proposal).unwrap();
                drop(store);
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn proofs(c: &mut Criterion) {
    let chain = TestChain::journey();
    let polished = stone("POL-1");
    // Certified by the three test nodes, as a node would serve it.
    let proof = gemtrail_ledger::testkit::certified_proof(&chain, &polished).unwrap();
    let mut group = c.benchmark_group("provenance proof");
    group.bench_function("build, 10-event journey", |b| {
        b.iter(|| build_proof(black_box(&chain), &polished).unwrap())
    });
    group.bench_function("verify, 10-event journey", |b| {
        b.iter(|| verify_proof(&chain.consortium.genesis, black_box(&proof)).unwrap())
    });
    group.finish();
}

/// `count` stones like the journey's rough, numbered from `first`.
fn stones(first: usize, count: usize) -> BTreeMap<StoneId, Stone> {
    let chain = TestChain::journey();
    let template = chain.state.stone(&stone("ROUGH-1")).unwrap().unwrap();
    (first..first + count)
        .map(|n| {
            let id = stone(&format!("S-{n}"));
            let mut changed = template.clone();
            changed.id = id.clone();
            changed.event_count = n as u32 % 7;
            (id, changed)
        })
        .collect()
}

fn state_root(c: &mut Criterion) {
    let chain_id = TestChain::new().consortium.chain_id();
    let mut group = c.benchmark_group("state tree");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.sample_size(20);
    for size in [10_000usize, 100_000] {
        let mut nodes = MemoryStateNodes::default();
        let existing = stones(0, size);
        nodes.apply(&state_tree::update(&nodes, &chain_id, &existing, 1).unwrap());
        // A block of 1,000 transactions: half change known stones, half add new ones.
        let mut block = stones(size / 2, BLOCK_TXS / 2);
        block.extend(stones(size, BLOCK_TXS / 2));
        for stone in block.values_mut() {
            stone.event_count += 1;
        }
        group.bench_function(format!("state root of a 1000-stone block, {size} stones"), |b| {
            b.iter(|| state_tree::update(&nodes, &chain_id, black_box(&block), 2).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, encoding, signatures, blocks, proofs, state_root);
criterion_main!(benches);
