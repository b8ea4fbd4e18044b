//! Replays every fuzz corpus (`fuzz/corpus/<target>/`) through the same
//! entry points the fuzz targets call (`gemtrail_node::fuzzing`,
//! `gemtrail_ledger::testkit::fuzz_proof`), on stable Rust: an input that
//! once crashed a target and was kept in its corpus stays fixed. It also
//! checks that the seeds still mean what they should (a proof that
//! verifies, a genesis that validates, a dump that imports), so mutations
//! start from real input.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use gemtrail_ledger::codec::decode;
use gemtrail_ledger::proof::{verify_proof, ProvenanceProof};
use gemtrail_ledger::store::LedgerStore;
use gemtrail_ledger::testkit::{fuzz_proof, Consortium};
use gemtrail_node::fuzzing;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn is_seed(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("seed-"))
}

#[test]
fn decode_wire_corpus_replays() {
    for (_, bytes) in corpus("decode_wire") {
        fuzzing::decode_wire(&bytes);
    }
}

#[test]
fn json_body_corpus_replays() {
    for (_, bytes) in corpus("json_body") {
        fuzzing::json_body(&bytes);
    }
}

#[test]
fn genesis_toml_corpus_replays_and_its_seed_validates() {
    for (path, bytes) in corpus("genesis_toml") {
        fuzzing::genesis_toml(&bytes);
        if is_seed(&path) {
            let text = std::str::from_utf8(&bytes).unwrap();
            gemtrail_genesis::ValidGenesis::from_toml(text).unwrap();
        }
    }
}

#[test]
fn lane_frames_corpus_replays_and_its_seed_holds_two_frames() {
    for (path, bytes) in corpus("lane_frames") {
        let frames = fuzzing::lane_frames(&bytes);
        if is_seed(&path) {
            assert_eq!(frames, 2);
        }
    }
}

#[test]
fn proof_verify_corpus_replays_and_its_seeds_verify() {
    let genesis = Consortium::sample().genesis;
    for (path, bytes) in corpus("proof_verify") {
        fuzz_proof(&bytes);
        if is_seed(&path) {
            let proof: ProvenanceProof = decode(&bytes).unwrap();
            verify_proof(&genesis, &proof).unwrap();
        }
    }
}

#[test]
fn dump_import_corpus_replays_and_its_seed_imports() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = Consortium::sample().genesis;
    let mut store = LedgerStore::open(dir.path(), &genesis).unwrap();
    for (path, bytes) in corpus("dump_import") {
        fuzzing::dump_import(&mut store, &bytes);
        if is_seed(&path) {
            store.import_dump(&bytes, b"replay").unwrap();
            assert!(store.tip().height > 0);
        }
    }
}
