//! The RocksDB ledger store: agreement with the in-memory chain, reopening,
//! refusals, index-backed lookups, and the full audit finding corruption.

use std::path::Path;

use gemtrail_ledger::certificate::Checkpoint;
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::crypto::Signature;
use gemtrail_ledger::ids::{BlockHash, ChainId, TxId};
use gemtrail_ledger::model::{
    BlockHeader, BlockProposal, EventSeq, FlagReason, Governance, Outcome, Receipt, RejectReason,
    SignedTransaction,
};
use gemtrail_ledger::proof::{ProofSource, TxLocation};
use gemtrail_ledger::state::{GenesisState, LedgerView};
use gemtrail_ledger::store::schema::{self, location_key};
use gemtrail_ledger::store::{
    audit, audit_path, AuditFailure, AuditProblem, LedgerStore, StoreOptions, DUMP_MAGIC,
};
use gemtrail_ledger::testkit::*;
use gemtrail_ledger::StoreError;
use tempfile::TempDir;

/// The classic journey (blocks 1-8) and more: a parcel of two roughs through a
/// trader, a rejected and a cancelled offer, a flag and its clearing, a stone
/// whose id extends another's, a governance change, a rejected action, and a
/// block of several transactions.
fn long_journey() -> TestChain {
    let mut chain = TestChain::journey();
    chain.must("mine", register("ROUGH-2", 800));
    chain.must("mine", register("ROUGH-10", 500));
    let offer = chain.must("mine", propose(&["ROUGH-2", "ROUGH-10"], "trader"));
    chain.must("trader", accept(offer));
    let offer = chain.must("trader", propose(&["ROUGH-2"], "cutter"));
    chain.must("cutter", reject(offer));
    let offer = chain.must("trader", propose(&["ROUGH-10"], "cutter"));
    chain.must("trader", cancel(offer));
    chain.must("auditor", flag("ROUGH-10", FlagReason::Disputed));
    chain.must("auditor", clear_flag("ROUGH-10"));
    let add_node = chain.consortium.governance(
        &["mine", "auditor"],
        9_001,
        Governance::AddNode(node_record(4, "lab")),
    );
    assert_eq!(chain.submit(add_node), Outcome::Applied);
    let (outcome, _) = chain.act("cutter", propose(&["ROUGH-2"], "lab"));
    assert!(matches!(outcome, Outcome::Rejected { .. }));
    let several = vec![
        chain.consortium.tx("mine", 9_002, register("ROUGH-3", 300)),
        chain.consortium.tx("mine", 9_003, register("ROUGH-4", 200)),
        chain.consortium.tx("lab", 9_004, grade("POL-2", 350)),
    ];
    chain.apply(several);
    chain
}

/// The proposals that built `chain`'s blocks, as the Raft leader sent them.
fn proposals(chain: &TestChain) -> Vec<BlockProposal> {
    chain
        .blocks
        .iter()
        .map(|applied| BlockProposal {
            timestamp_ms: applied.block.header.timestamp_ms,
            transactions: applied.block.transactions.clone(),
        })
        .collect()
}

fn genesis() -> GenesisState {
    Consortium::sample().genesis
}

fn store_with(dir: &TempDir, blocks: &[BlockProposal]) -> LedgerStore {
    let mut store = LedgerStore::open(dir.path(), &genesis()).unwrap();
    for proposal in blocks {
        store.apply(proposal.clone()).unwrap();
    }
    store
}

/// The next proposal for `store`, one second after its tip.
fn next(store: &LedgerStore, transactions: Vec<SignedTransaction>) -> BlockProposal {
    BlockProposal {
        timestamp_ms: GENESIS_TIME_MS + 1_000 * (store.tip().height + 1),
        transactions: transactions.try_into().unwrap(),
    }
}

fn assert_same_state(store: &LedgerStore, chain: &TestChain) {
    assert_eq!(store.tip(), chain.state.tip());
    assert_eq!(store.membership(), chain.state.membership());
    for (id, stone) in chain.state.stones() {
        assert_eq!(store.stone(id).unwrap().as_ref(), Some(stone), "{id}");
    }
    for (id, proposal) in chain.state.proposals() {
        assert_eq!(store.proposal(id).unwrap().as_ref(), Some(proposal));
    }
}

#[test]
fn two_stores_fed_the_same_proposals_agree() {
    let chain = long_journey();
    let (dir_a, dir_b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let a = store_with(&dir_a, &proposals(&chain));
    let b = store_with(&dir_b, &proposals(&chain));
    assert_eq!(a.tip().height, chain.blocks.len() as u64);
    assert_eq!(a.tip(), b.tip());
    assert_eq!(chain.state.stones().len(), 7);
    for id in chain.state.stones().keys() {
        let from_a = a.stone(id).unwrap();
        assert!(from_a.is_some());
        assert_eq!(from_a, b.stone(id).unwrap());
    }
}

#[test]
fn the_store_matches_the_in_memory_chain_block_for_block() {
    let chain = long_journey();
    let dir = TempDir::new().unwrap();
    let mut store = LedgerStore::open(dir.path(), &genesis()).unwrap();
    for (proposal, expected) in proposals(&chain).into_iter().zip(&chain.blocks) {
        let applied = store.apply(proposal).unwrap();
        assert_eq!(&applied, expected);
    }
    assert_same_state(&store, &chain);
    assert_eq!(store.membership().nodes.len(), 4);
    let last = chain.blocks.last().unwrap();
    assert_eq!(store.tip().hash, last.hash);
    assert_eq!(
        store.block(last.block.header.height).unwrap().as_ref(),
        Some(&last.block)
    );
    assert_eq!(
        store.block_by_hash(&last.hash).unwrap().as_ref(),
        Some(&last.block)
    );
    assert_eq!(store.block(store.tip().height + 1).unwrap(), None);

    // What proofs are built from.
    for expected in &chain.blocks {
        let leaves = (expected.tx_leaves.clone(), expected.receipt_leaves.clone());
        let height = expected.block.header.height;
        assert_eq!(
            ProofSource::block_leaves(&store, height).unwrap(),
            Some(leaves)
        );
        let first = TxLocation {
            height,
            tx_index: 0,
        };
        let signed = expected.block.transactions.as_slice()[0].clone();
        let stored = ProofSource::transaction_at(&store, first).unwrap();
        assert_eq!(stored, Some((signed, expected.receipts[0].clone())));
    }
    let governance = ProofSource::governance_locations(&store).unwrap();
    assert_eq!(
        governance,
        [TxLocation {
            height: 19,
            tx_index: 0
        }]
    );
    assert_eq!(ProofSource::tip_height(&store), 21);
    assert_eq!(store.block_by_hash(&BlockHash([7; 32])).unwrap(), None);
}

#[test]
fn a_reopened_store_has_the_same_tip_membership_and_stones_and_keeps_appending() {
    let chain = long_journey();
    let all = proposals(&chain);
    let (first, rest) = all.split_at(all.len() - 2);
    let dir = TempDir::new().unwrap();
    let before = {
        let store = store_with(&dir, first);
        (store.tip(), store.membership().clone())
    };
    let mut store = LedgerStore::open(dir.path(), &genesis()).unwrap();
    assert_eq!(store.tip(), before.0);
    assert_eq!(store.membership(), &before.1);
    // The governance block (add node 4) is in the first part.
    assert_eq!(store.membership().nodes.len(), 4);
    for proposal in rest {
        store.apply(proposal.clone()).unwrap();
    }
    assert_same_state(&store, &chain);
}

#[test]
fn the_applier_marker_is_stored_with_its_block_and_survives_a_reopen() {
    let chain = TestChain::journey();
    let blocks = proposals(&chain);
    let dir = TempDir::new().unwrap();
    {
        let mut store = LedgerStore::open(dir.path(), &genesis()).unwrap();
        assert_eq!(store.marker().unwrap(), None);
        let applied = store
            .apply_with_marker(blocks[0].clone(), b"entry 1")
            .unwrap();
        assert_eq!(applied.hash, chain.blocks[0].hash);
        assert_eq!(store.marker().unwrap(), Some(b"entry 1".to_vec()));
        // A marker without a block leaves the ledger as it was.
        store.put_marker(b"entry 2").unwrap();
        assert_eq!(
            (store.tip().height, store.tip().hash),
            (1, chain.blocks[0].hash)
        );
        store
            .apply_with_marker(blocks[1].clone(), b"entry 3")
            .unwrap();
        // A plain apply leaves the marker alone.
        store.apply(blocks[2].clone()).unwrap();
    }

    let reopened = LedgerStore::open(dir.path(), &genesis()).unwrap();
    assert_eq!(reopened.marker().unwrap(), Some(b"entry 3".to_vec()));
    assert_eq!(
        (reopened.tip().height, reopened.tip().hash),
        (3, chain.blocks[2].hash)
    );
}

#[test]
fn importing_a_dump_replaces_the_whole_store() {
    let chain = long_journey();
    let blocks = proposals(&chain);
    let source_dir = TempDir::new().unwrap();
    let source = store_with(&source_dir, &blocks);
    let dump = source.export_dump().unwrap();
    assert_eq!(&dump[..8], DUMP_MAGIC);

    // The target is ahead on a block the dump does not hold; all of it goes.
    let target_dir = TempDir::new().unwrap();
    let mut target = store_with(&target_dir, &blocks[..3]);
    let extra = next(
        &target,
        vec![chain.consortium.tx("mine", 77, register("EXTRA-1", 100))],
    );
    target.apply(extra).unwrap();
    target.import_dump(&dump, b"marker").unwrap();

    assert_same_state(&target, &chain);
    assert_eq!(target.stone(&stone("EXTRA-1")).unwrap(), None);
    assert_eq!(target.marker().unwrap(), Some(b"marker".to_vec()));
    let report = audit(&target, &genesis(), |_, _| {}).unwrap();
    assert_eq!(report.blocks_checked, chain.blocks.len() as u64);
    assert_eq!(report.first_failure, None);
    drop(target);
    let reopened = LedgerStore::open(target_dir.path(), &genesis()).unwrap();
    assert_same_state(&reopened, &chain);
    // The dump of the imported store is the dump it was built from, bar the marker.
    let expected_dir = TempDir::new().unwrap();
    let mut expected = LedgerStore::open(expected_dir.path(), &genesis()).unwrap();
    expected.import_dump(&dump, b"marker").unwrap();
    assert_eq!(
        reopened.export_dump().unwrap(),
        expected.export_dump().unwrap()
    );
}

#[test]
fn a_malformed_or_foreign_dump_is_refused_and_changes_nothing() {
    let chain = TestChain::journey();
    let blocks = proposals(&chain);
    let dir = TempDir::new().unwrap();
    let mut store = store_with(&dir, &blocks[..2]);
    let tip = store.tip();
    let dump = store.export_dump().unwrap();

    let error = store.import_dump(b"GTDUMP00", b"m").unwrap_err();
    assert_eq!(
        error.to_string(),
        "store dump is malformed at byte 8: not a store dump (wrong magic)"
    );
    let error = store
        .import_dump(&dump[..dump.len() - 1], b"m")
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::BadDump {
                reason: "truncated",
                ..
            }
        ),
        "{error}"
    );
    let mut unknown_column = DUMP_MAGIC.to_vec();
    unknown_column.extend_from_slice(&[200, 0, 0, 0, 0, 0, 0, 0, 0]);
    let error = store.import_dump(&unknown_column, b"m").unwrap_err();
    assert_eq!(
        error.to_string(),
        "store dump is malformed at byte 9: unknown column index"
    );

    let mut other = genesis();
    other.chain_id = ChainId::parse("another-chain").unwrap();
    let other_dir = TempDir::new().unwrap();
    let foreign = LedgerStore::open(other_dir.path(), &other)
        .unwrap()
        .export_dump()
        .unwrap();
    let error = store.import_dump(&foreign, b"m").unwrap_err();
    assert!(matches!(error, StoreError::WrongGenesis { .. }), "{error}");

    assert_eq!(store.tip(), tip);
    assert_eq!(store.marker().unwrap(), None);
    assert_eq!(store.export_dump().unwrap(), dump);
}

#[test]
fn a_sync_writing_store_reaches_the_same_tip() {
    let chain = TestChain::journey();
    let dir = TempDir::new().unwrap();
    let options = StoreOptions { sync_writes: true };
    let mut store = LedgerStore::open_with(dir.path(), &genesis(), options).unwrap();
    for proposal in proposals(&chain) {
        store.apply(proposal).unwrap();
    }
    assert_same_state(&store, &chain);
}

#[test]
fn reopening_with_another_genesis_is_refused() {
    let dir = TempDir::new().unwrap();
    let ours = genesis();
    drop(LedgerStore::open(dir.path(), &ours).unwrap());
    let ours_text = format!("gemtrail-test with genesis {}", ours.genesis_hash);

    let mut other_hash = ours.clone();
    other_hash.genesis_hash = BlockHash([9; 32]);
    let error = LedgerStore::open(dir.path(), &other_hash).unwrap_err();
    let StoreError::WrongGenesis { expected, found } = error else {
        panic!("expected WrongGenesis, got {error}");
    };
    assert_eq!(
        expected,
        format!("gemtrail-test with genesis {}", "09".repeat(32))
    );
    assert_eq!(found, ours_text);

    let mut other_chain = ours.clone();
    other_chain.chain_id = ChainId::parse("another-chain").unwrap();
    let error = LedgerStore::open(dir.path(), &other_chain).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "this data dir holds chain {ours_text}, but the genesis describes \
             another-chain with genesis {}",
            ours.genesis_hash
        )
    );
    // The refusals changed nothing: the right genesis still opens.
    assert_eq!(
        LedgerStore::open(dir.path(), &ours).unwrap().tip(),
        ours.tip()
    );
}

#[test]
fn appending_at_the_wrong_height_is_refused() {
    let chain = TestChain::journey();
    let dir = TempDir::new().unwrap();
    let mut store = store_with(&dir, &proposals(&chain)[..1]);
    let error = store.append(&chain.blocks[2]).unwrap_err();
    assert!(matches!(
        error,
        StoreError::NotNextBlock { height: 3, tip: 1 }
    ));
    assert_eq!(
        error.to_string(),
        "block at height 3 does not extend the tip at height 1"
    );
    let error = store.append(&chain.blocks[0]).unwrap_err();
    assert!(matches!(
        error,
        StoreError::NotNextBlock { height: 1, tip: 1 }
    ));
    // The refusals changed nothing: the right block still goes on.
    store.append(&chain.blocks[1]).unwrap();
    assert_eq!(store.tip().hash, chain.blocks[1].hash);
}

/// (height, action name) of each entry of `stone`'s history.
fn history_of(store: &LedgerStore, stone_id: &str) -> Vec<(u64, &'static str)> {
    store
        .stone_history(&stone(stone_id))
        .unwrap()
        .iter()
        .map(|entry| (entry.location.height, entry.transaction.tx.action.name()))
        .collect()
}

#[test]
fn stone_history_lists_exactly_its_events_in_order() {
    let chain = long_journey();
    let dir = TempDir::new().unwrap();
    let store = store_with(&dir, &proposals(&chain));
    assert_eq!(
        history_of(&store, "ROUGH-1"),
        [
            (1, "register_stone"),
            (2, "propose_transfer"),
            (3, "accept_transfer"),
            (4, "manufacture")
        ]
    );
    assert_eq!(
        history_of(&store, "POL-1"),
        [
            (4, "manufacture"),
            (5, "grade"),
            (6, "propose_transfer"),
            (7, "accept_transfer"),
            (8, "sell")
        ]
    );
    // ROUGH-10's key starts with ROUGH-1's id: the histories must not mix.
    assert_eq!(
        history_of(&store, "ROUGH-10"),
        [
            (10, "register_stone"),
            (11, "propose_transfer"),
            (12, "accept_transfer"),
            (15, "propose_transfer"),
            (16, "cancel_transfer"),
            (17, "flag"),
            (18, "clear_flag"),
        ]
    );
    assert_eq!(
        history_of(&store, "POL-2"),
        [(4, "manufacture"), (21, "grade")]
    );
    assert_eq!(history_of(&store, "NEVER-SEEN"), []);

    let history = store.stone_history(&stone("ROUGH-1")).unwrap();
    for entry in &history {
        let block = &chain.blocks[entry.location.height as usize - 1].block;
        assert_eq!(entry.timestamp_ms, block.header.timestamp_ms);
        assert_eq!(entry.transaction, block.transactions.as_slice()[0]);
        assert_eq!(entry.location.tx_index, 0);
    }
    let grade_of_pol_2 = store.stone_history(&stone("POL-2")).unwrap()[1].location;
    assert_eq!(
        grade_of_pol_2,
        TxLocation {
            height: 21,
            tx_index: 2
        }
    );
}

/// `signed` with its signer's signature spoiled.
fn spoiled(signed: &SignedTransaction) -> SignedTransaction {
    let mut approvals = signed.approvals.clone().into_inner();
    approvals[0].signature = Signature([1; 64]);
    SignedTransaction {
        tx: signed.tx.clone(),
        approvals: approvals.try_into().unwrap(),
    }
}

#[test]
fn receipts_and_transactions_are_found_by_id() {
    let consortium = Consortium::sample();
    let dir = TempDir::new().unwrap();
    let mut store = LedgerStore::open(dir.path(), &consortium.genesis).unwrap();
    let registered = consortium.tx("mine", 1, register("R-1", 100));
    let not_custodian = consortium.tx("cutter", 2, propose(&["R-1"], "lab"));
    store
        .apply(next(
            &store,
            vec![registered.clone(), not_custodian.clone()],
        ))
        .unwrap();

    let (location, receipt) = store.receipt(&registered.id()).unwrap().unwrap();
    assert_eq!(
        location,
        TxLocation {
            height: 1,
            tx_index: 0
        }
    );
    assert_eq!(
        receipt,
        Receipt {
            tx_id: registered.id(),
            outcome: Outcome::Applied,
            events: vec![EventSeq {
                stone: stone("R-1"),
                seq: 0
            }]
            .try_into()
            .unwrap(),
        }
    );
    let (location, receipt) = store.receipt(&not_custodian.id()).unwrap().unwrap();
    assert_eq!(
        location,
        TxLocation {
            height: 1,
            tx_index: 1
        }
    );
    assert_eq!(
        receipt.outcome,
        Outcome::Rejected {
            reason: RejectReason::NotCustodian {
                stone: stone("R-1"),
                signer: org("cutter"),
                custodian: org("mine"),
            }
        }
    );
    // Rejected by a rule, but authorised: its id is burned.
    assert!(store.contains_tx(&not_custodian.id()).unwrap());
    assert_eq!(
        store.transaction(&not_custodian.id()).unwrap(),
        Some((location, not_custodian))
    );
    let unknown = consortium.tx("mine", 3, register("R-2", 100));
    assert_eq!(store.receipt(&unknown.id()).unwrap(), None);
    assert_eq!(store.transaction(&unknown.id()).unwrap(), None);
}

/// The receipt of `R-1`'s registration: applied, its event 0.
fn first_registration(tx_id: TxId) -> Receipt {
    Receipt {
        tx_id,
        outcome: Outcome::Applied,
        events: vec![EventSeq {
            stone: stone("R-1"),
            seq: 0,
        }]
        .try_into()
        .unwrap(),
    }
}

#[test]
fn a_spoiled_copy_does_not_shadow_the_genuine_transaction() {
    let consortium = Consortium::sample();
    let dir = TempDir::new().unwrap();
    let mut store = LedgerStore::open(dir.path(), &consortium.genesis).unwrap();
    let genuine = consortium.tx("mine", 1, register("R-1", 100));
    let id = genuine.id();

    store.apply(next(&store, vec![spoiled(&genuine)])).unwrap();
    let (location, receipt) = store.receipt(&id).unwrap().unwrap();
    assert_eq!(
        location,
        TxLocation {
            height: 1,
            tx_index: 0
        }
    );
    let bad_signature = RejectReason::BadSignature { org: org("mine") };
    assert_eq!(
        receipt.outcome,
        Outcome::Rejected {
            reason: bad_signature
        }
    );
    assert!(!store.contains_tx(&id).unwrap());

    store.apply(next(&store, vec![genuine.clone()])).unwrap();
    let applied_at = TxLocation {
        height: 2,
        tx_index: 0,
    };
    assert_eq!(
        store.receipt(&id).unwrap(),
        Some((applied_at, first_registration(id)))
    );
    assert!(store.contains_tx(&id).unwrap());

    // A later replay and a later spoiled copy are refused and leave the index alone.
    store
        .apply(next(&store, vec![genuine.clone(), spoiled(&genuine)]))
        .unwrap();
    let replay = store
        .block(3)
        .unwrap()
        .map(|block| block.header.tx_count)
        .unwrap();
    assert_eq!(replay, 2);
    assert_eq!(
        store.receipt(&id).unwrap(),
        Some((applied_at, first_registration(id)))
    );
    assert_eq!(store.transaction(&id).unwrap(), Some((applied_at, genuine)));
    assert_eq!(store.stone(&stone("R-1")).unwrap().unwrap().created_at, 2);
}

#[test]
fn a_clean_chain_audits_clean() {
    let chain = long_journey();
    let dir = TempDir::new().unwrap();
    let store = store_with(&dir, &proposals(&chain));
    let mut seen = Vec::new();
    let report = audit(&store, &genesis(), |height, tip| seen.push((height, tip))).unwrap();
    let tip = chain.blocks.len() as u64;
    assert_eq!(report.first_failure, None);
    assert_eq!(report.blocks_checked, tip);
    assert_eq!(report.transactions_checked, tip + 2);
    assert_eq!(report.tip_height, tip);
    assert_eq!(report.tip_hash, chain.blocks.last().unwrap().hash);
    assert_eq!(
        seen,
        (1..=tip).map(|height| (height, tip)).collect::<Vec<_>>()
    );
}

/// Writes `value` under `key` in `column` of the closed store at `path`, behind
/// the store's back.
fn tamper(path: &Path, column: &str, key: &[u8], value: Vec<u8>) {
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), path, schema::COLUMNS).unwrap();
    db.put_cf(db.cf_handle(column).unwrap(), key, value)
        .unwrap();
}

/// Builds the long journey in a fresh store, lets `corrupt` tamper with it, and
/// audits it from its path.
fn audit_after(corrupt: impl FnOnce(&Path, &TestChain)) -> (u64, Option<AuditFailure>) {
    let chain = long_journey();
    let dir = TempDir::new().unwrap();
    drop(store_with(&dir, &proposals(&chain)));
    corrupt(dir.path(), &chain);
    let report = audit_path(dir.path(), &genesis(), |_, _| {}).unwrap();
    (report.blocks_checked, report.first_failure)
}

fn header_at(chain: &TestChain, height: u64) -> BlockHeader {
    chain.blocks[height as usize - 1].block.header.clone()
}

fn failure(height: u64, problem: AuditProblem) -> Option<AuditFailure> {
    Some(AuditFailure { height, problem })
}

#[test]
fn audit_finds_a_swapped_transaction() {
    let (checked, first) = audit_after(|path, chain| {
        let other = &chain.blocks[6].block.transactions.as_slice()[0];
        let at_5 = location_key(TxLocation {
            height: 5,
            tx_index: 0,
        });
        tamper(path, schema::BLOCK_TXS, &at_5, encode(other));
    });
    assert_eq!(first, failure(5, AuditProblem::TxRootMismatch));
    assert_eq!(checked, 4);
}

#[test]
fn audit_finds_a_rewritten_tx_root() {
    let (checked, first) = audit_after(|path, chain| {
        let mut header = header_at(chain, 6);
        header.tx_root = header_at(chain, 7).tx_root;
        tamper(
            path,
            schema::HEADERS,
            &schema::height_key(6),
            encode(&header),
        );
    });
    assert_eq!(first, failure(6, AuditProblem::TxRootMismatch));
    assert_eq!(checked, 5);
}

#[test]
fn audit_finds_a_broken_link() {
    let (checked, first) = audit_after(|path, chain| {
        let mut header = header_at(chain, 3);
        header.prev_hash = chain.blocks[0].hash;
        tamper(
            path,
            schema::HEADERS,
            &schema::height_key(3),
            encode(&header),
        );
    });
    assert_eq!(first, failure(3, AuditProblem::PrevHashMismatch));
    assert_eq!(checked, 2);
}

#[test]
fn audit_finds_a_forged_receipt() {
    let (checked, first) = audit_after(|path, chain| {
        let at = TxLocation {
            height: 21,
            tx_index: 1,
        };
        let tx_id = chain.blocks[20].receipts[1].tx_id;
        let forged = Receipt {
            tx_id,
            outcome: Outcome::Rejected {
                reason: RejectReason::Replay { tx_id },
            },
            events: Default::default(),
        };
        tamper(path, schema::RECEIPTS, &location_key(at), encode(&forged));
    });
    assert_eq!(
        first,
        failure(21, AuditProblem::ReceiptsMismatch { tx_index: 1 })
    );
    assert_eq!(checked, 20);
}

#[test]
fn audit_finds_a_header_that_re_execution_does_not_give() {
    let (checked, first) = audit_after(|path, chain| {
        let mut header = header_at(chain, 9);
        header.membership_root = header.tx_root;
        tamper(
            path,
            schema::HEADERS,
            &schema::height_key(9),
            encode(&header),
        );
    });
    assert_eq!(first, failure(9, AuditProblem::HeaderMismatch));
    assert_eq!(checked, 8);
}

#[test]
fn audit_finds_a_rewritten_timestamp_by_its_hash() {
    // A later timestamp re-executes to the same (tampered) header, but that
    // header no longer hashes to the block's recorded hash.
    let (checked, first) = audit_after(|path, chain| {
        let mut header = header_at(chain, 9);
        header.timestamp_ms += 1;
        tamper(
            path,
            schema::HEADERS,
            &schema::height_key(9),
            encode(&header),
        );
    });
    assert_eq!(first, failure(9, AuditProblem::BlockHashIndexMismatch));
    assert_eq!(checked, 8);
}

#[test]
fn audit_names_an_undecodable_record() {
    let (checked, first) = audit_after(|path, _| {
        tamper(path, schema::HEADERS, &schema::height_key(2), vec![1, 2, 3]);
    });
    assert_eq!(
        first,
        failure(2, AuditProblem::Undecodable { column: "headers" })
    );
    assert_eq!(checked, 1);
}

#[test]
fn audit_finds_a_tampered_stone_state() {
    let (checked, first) = audit_after(|path, chain| {
        let mut sold = chain.state.stone(&stone("POL-1")).unwrap().unwrap();
        sold.custodian = org("trader");
        tamper(
            path,
            schema::STONES,
            &schema::stone_key(&sold.id),
            encode(&sold),
        );
    });
    let tip = 21;
    assert_eq!(
        first,
        failure(
            tip,
            AuditProblem::StoneStateMismatch {
                stone: stone("POL-1")
            }
        )
    );
    assert_eq!(checked, tip);
}

#[test]
fn a_corrupt_record_is_reported_with_its_column() {
    let chain = TestChain::journey();
    let dir = TempDir::new().unwrap();
    drop(store_with(&dir, &proposals(&chain)));
    tamper(
        dir.path(),
        schema::STONES,
        &schema::stone_key(&stone("POL-1")),
        vec![0xff],
    );
    // The store re-derives the tip's state tree from the stones the blocks
    // since its last tree write changed (all of them, here), so it meets the
    // corrupt record as it opens.
    let error = LedgerStore::open(dir.path(), &genesis()).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Corrupt {
                column: "stones",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_store_of_the_previous_format_is_refused_with_what_to_do() {
    let dir = TempDir::new().unwrap();
    drop(LedgerStore::open(dir.path(), &genesis()).unwrap());
    // A format-1 store has no format key at all.
    {
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), schema::COLUMNS)
            .unwrap();
        db.delete_cf(db.cf_handle(schema::META).unwrap(), schema::META_FORMAT)
            .unwrap();
    }
    let error = LedgerStore::open(dir.path(), &genesis()).err().unwrap();
    assert!(
        matches!(
            error,
            StoreError::WrongFormat {
                expected: 3,
                found: 1
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("start on an empty data dir"),
        "{error}"
    );
    // The previous format (sales without branding) and a future one are
    // refused as well.
    for other in [schema::STORE_FORMAT - 1, schema::STORE_FORMAT + 1] {
        tamper(
            dir.path(),
            schema::META,
            schema::META_FORMAT,
            encode(&other),
        );
        let error = LedgerStore::open(dir.path(), &genesis()).err().unwrap();
        assert!(
            matches!(error, StoreError::WrongFormat { found, .. } if found == other),
            "{error}"
        );
    }
}

/// A key and value as RocksDB stores them.
type StoredRecord = (Box<[u8]>, Box<[u8]>);

#[test]
fn a_store_whose_state_tree_root_was_altered_refuses_to_open_naming_the_height() {
    // The tree is written every 64 blocks: a tip at 64 has its tree in the
    // column.
    let mut chain = long_journey();
    while chain.blocks.len() < 64 {
        chain.apply(Vec::new());
    }
    let dir = TempDir::new().unwrap();
    let tip = store_with(&dir, &proposals(&chain)).tip().height;
    let db =
        rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), schema::COLUMNS).unwrap();
    let column = db.cf_handle(schema::STATE_NODES).unwrap();
    let nodes: Vec<StoredRecord> = db
        .iterator_cf(column, rocksdb::IteratorMode::Start)
        .map(Result::unwrap)
        .collect();
    // The tip's root, and another node whose bytes replace it.
    let is_tip_root = |key: &[u8]| {
        let key: jmt::storage::NodeKey = decode(key).unwrap();
        key.version() == tip && key.nibble_path().num_nibbles() == 0
    };
    let root = nodes.iter().find(|(key, _)| is_tip_root(key)).unwrap();
    let other = nodes.iter().find(|(_, value)| *value != root.1).unwrap();
    db.put_cf(column, &root.0, &other.1).unwrap();
    drop(db);
    let error = LedgerStore::open(dir.path(), &genesis()).err().unwrap();
    assert_eq!(
        error.to_string(),
        format!(
            "inconsistent store: the state tree at the tip height {tip} does not match its header's state root"
        )
    );
}

#[test]
fn certificates_are_stored_by_height_and_replaced_as_signatures_join() {
    let chain = long_journey();
    let dir = TempDir::new().unwrap();
    let store = store_with(&dir, &proposals(&chain));
    assert_eq!(store.latest_certificate().unwrap(), None);
    let chain_id = chain.consortium.chain_id();
    let checkpoint_at = |height: u64| {
        Checkpoint::of(
            &header_at(&chain, height),
            chain.blocks[height as usize - 1].hash,
        )
    };
    store
        .put_certificate(&certify(&chain_id, checkpoint_at(3), &[1, 2]))
        .unwrap();
    store
        .put_certificate(&certify(&chain_id, checkpoint_at(2), &[1, 2]))
        .unwrap();
    let full = certify(&chain_id, checkpoint_at(3), &[1, 2, 3]);
    store.put_certificate(&full).unwrap();
    assert_eq!(store.certificate(3).unwrap(), Some(full.clone()));
    assert_eq!(store.certificate(4).unwrap(), None);
    assert_eq!(store.latest_certificate().unwrap(), Some(full));
}

#[test]
fn a_store_whose_certified_block_was_altered_refuses_to_open_naming_the_height() {
    let chain = long_journey();
    let dir = TempDir::new().unwrap();
    let store = store_with(&dir, &proposals(&chain));
    let certified = store.tip().height - 2;
    let header = header_at(&chain, certified);
    let hash = chain.blocks[certified as usize - 1].hash;
    store
        .put_certificate(&certify(
            &chain.consortium.chain_id(),
            Checkpoint::of(&header, hash),
            &[1, 2],
        ))
        .unwrap();
    drop(store);
    let mut altered = header.clone();
    altered.timestamp_ms += 1;
    tamper(
        dir.path(),
        schema::HEADERS,
        &schema::height_key(certified),
        encode(&altered),
    );
    let error = LedgerStore::open(dir.path(), &genesis()).err().unwrap();
    let stored = altered.hash(&chain.consortium.chain_id());
    assert!(
        matches!(error, StoreError::DiffersFromCertificate { height, certified: signed, stored: found }
            if height == certified && signed == hash && found == stored),
        "{error}"
    );
    assert!(error
        .to_string()
        .starts_with(&format!("the stored block at height {certified} is ")));
}

#[test]
fn the_state_tree_reaches_its_column_every_64_blocks_and_a_reopen_re_derives_the_rest() {
    let mut chain = long_journey();
    while chain.blocks.len() < 64 {
        chain.apply(Vec::new());
    }
    for n in 0..4 {
        chain.must("mine", register(&format!("LATE-{n}"), 100));
    }
    let dir = TempDir::new().unwrap();
    let store = store_with(&dir, &proposals(&chain));
    let tip = store.tip();
    drop(store);
    let db =
        rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), schema::COLUMNS).unwrap();
    let written = db
        .get_cf(
            db.cf_handle(schema::META).unwrap(),
            schema::META_STATE_TREE_VERSION,
        )
        .unwrap()
        .unwrap();
    assert_eq!(decode::<u64>(&written).unwrap(), 64);
    drop(db);

    // Reopened, the store derives the tip's tree from version 64 and the
    // four registrations since (opening checks it against the tip header),
    // proves a late stone, and goes on appending the chain's blocks.
    let mut store = LedgerStore::open(dir.path(), &genesis()).unwrap();
    assert_eq!(store.tip(), tip);
    let proof = gemtrail_ledger::proof::build_proof(&store, &stone("LATE-3")).unwrap();
    assert_eq!(proof.states.as_slice()[0].stone, stone("LATE-3"));
    chain.must("mine", register("LATE-4", 100));
    store
        .apply(proposals(&chain).last().unwrap().clone())
        .unwrap();
    assert_same_state(&store, &chain);
}
