//! The ledger state machine: block proposals become the same blocks a
//! `TestChain` builds, blank and membership entries build none, the applied
//! state survives a reopen, and a snapshot reproduces the ledger on another node.

use gemtrail_consensus::snapshot_files::SnapshotData;
use gemtrail_consensus::testing::{dump_bytes, dump_holding};
use gemtrail_consensus::types::{RaftEntry, RaftStoredMembership};
use gemtrail_consensus::{BlockApplied, EntryApplied, LedgerStateMachine};
use gemtrail_ledger::model::BlockProposal;
use gemtrail_ledger::state::LedgerView;
use gemtrail_ledger::store::StoreOptions;
use gemtrail_ledger::testkit::{stone, Consortium, TestChain};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder};
use tempfile::TempDir;

use crate::support::{blank, log_id, membership, membership_entry};

fn open(dir: &TempDir) -> LedgerStateMachine {
    LedgerStateMachine::open(
        &dir.path().join("ledger"),
        &dir.path().join("snapshots"),
        &Consortium::sample().genesis,
        StoreOptions::default(),
    )
    .unwrap()
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

fn normal_entry(term: u64, index: u64, proposal: BlockProposal) -> RaftEntry {
    RaftEntry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Normal(proposal),
    }
}

/// What the state machine must answer for each block of `chain`.
fn expected_blocks(chain: &TestChain) -> Vec<EntryApplied> {
    chain
        .blocks
        .iter()
        .map(|applied| {
            EntryApplied::Block(BlockApplied {
                height: applied.block.header.height,
                hash: applied.hash,
                receipts: applied.receipts.clone(),
            })
        })
        .collect()
}

#[tokio::test]
async fn the_journey_builds_the_blocks_of_the_in_memory_chain() {
    let chain = TestChain::journey();
    let dir = TempDir::new().unwrap();
    let mut machine = open(&dir);
    let proposals = proposals(&chain);
    let (first, rest) = proposals.split_at(3);

    // Term 1: a blank, the membership, three blocks.
    let mut batch = vec![blank(1, 1), membership_entry(1, 2, &[1, 2, 3])];
    for (offset, proposal) in first.iter().enumerate() {
        batch.push(normal_entry(1, 3 + offset as u64, proposal.clone()));
    }
    let answers = machine.apply(batch).await.unwrap();
    let expected = expected_blocks(&chain);
    let mut wanted = vec![EntryApplied::Blank, EntryApplied::Membership];
    wanted.extend_from_slice(&expected[..3]);
    assert_eq!(answers, wanted);

    // Term 2: a new leader's blank in between, then the remaining blocks.
    let mut batch = vec![blank(2, 6)];
    for (offset, proposal) in rest.iter().enumerate() {
        batch.push(normal_entry(2, 7 + offset as u64, proposal.clone()));
    }
    let answers = machine.apply(batch).await.unwrap();
    let mut wanted = vec![EntryApplied::Blank];
    wanted.extend_from_slice(&expected[3..]);
    assert_eq!(answers, wanted);

    let last_index = 6 + rest.len() as u64;
    assert_eq!(machine.read(|store| store.tip()), chain.state.tip());
    for name in ["ROUGH-1", "POL-1", "POL-2"] {
        let id = stone(name);
        assert_eq!(
            machine.read(|store| store.stone(&id).unwrap()),
            chain.state.stone(&id).unwrap(),
            "{name}"
        );
    }
    let (applied, stored_membership) = machine.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(2, 1, last_index)));
    assert_eq!(
        stored_membership,
        RaftStoredMembership::new(Some(log_id(1, 1, 2)), membership(&[1, 2, 3]))
    );
}

#[tokio::test]
async fn an_entry_that_skips_or_repeats_an_index_is_refused_and_applies_nothing() {
    let chain = TestChain::journey();
    let proposals = proposals(&chain);
    let dir = TempDir::new().unwrap();
    let mut machine = open(&dir);
    machine
        .apply(vec![normal_entry(1, 1, proposals[0].clone())])
        .await
        .unwrap();
    let tip = machine.read(|store| store.tip());
    // Index 3 after 1 skips an entry; index 1 again repeats one.
    for (index, expected) in [(3, "expected log index 2"), (1, "expected log index 2")] {
        let error = machine
            .apply(vec![normal_entry(1, index, proposals[1].clone())])
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
        assert!(error.contains(&format!("log entry {index}")), "{error}");
    }
    assert_eq!(machine.read(|store| store.tip()), tip);
    let (applied, _) = machine.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(1, 1, 1)));
    // The right next index still applies.
    machine
        .apply(vec![normal_entry(1, 2, proposals[1].clone())])
        .await
        .unwrap();
    assert_eq!(machine.read(|store| store.tip()).height, 2);
}

#[tokio::test]
async fn blank_and_membership_entries_build_no_block() {
    let chain = TestChain::journey();
    let proposals = proposals(&chain);
    let dir = TempDir::new().unwrap();
    let mut machine = open(&dir);
    machine
        .apply(vec![normal_entry(1, 1, proposals[0].clone())])
        .await
        .unwrap();
    let tip = machine.read(|store| store.tip());
    assert_eq!(tip.height, 1);

    let answers = machine
        .apply(vec![blank(2, 2), membership_entry(2, 3, &[1, 2])])
        .await
        .unwrap();

    assert_eq!(answers, vec![EntryApplied::Blank, EntryApplied::Membership]);
    assert_eq!(machine.read(|store| store.tip()), tip);
    let (applied, stored_membership) = machine.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(2, 1, 3)));
    assert_eq!(
        stored_membership,
        RaftStoredMembership::new(Some(log_id(2, 1, 3)), membership(&[1, 2]))
    );
}

#[tokio::test]
async fn a_fresh_state_machine_has_applied_nothing() {
    let dir = TempDir::new().unwrap();
    let mut machine = open(&dir);

    let (applied, stored_membership) = machine.applied_state().await.unwrap();

    assert_eq!(applied, None);
    assert_eq!(stored_membership, RaftStoredMembership::default());
    assert_eq!(machine.read(|store| store.tip().height), 0);
}

#[tokio::test]
async fn the_applied_state_survives_a_reopen() {
    let chain = TestChain::journey();
    let proposals = proposals(&chain);
    let dir = TempDir::new().unwrap();
    {
        let mut machine = open(&dir);
        let batch = vec![
            membership_entry(1, 1, &[1, 2, 3]),
            normal_entry(1, 2, proposals[0].clone()),
            normal_entry(1, 3, proposals[1].clone()),
            // A trailing blank: its marker is written at the end of the batch.
            blank(2, 4),
        ];
        machine.apply(batch).await.unwrap();
    }

    let mut reopened = open(&dir);
    let (applied, stored_membership) = reopened.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(2, 1, 4)));
    assert_eq!(
        stored_membership,
        RaftStoredMembership::new(Some(log_id(1, 1, 1)), membership(&[1, 2, 3]))
    );
    assert_eq!(
        reopened.read(|store| store.tip()),
        chain.blocks[1].hash_tip()
    );

    // Applying continues where it stopped, with the next block.
    let answers = reopened
        .apply(vec![normal_entry(2, 5, proposals[2].clone())])
        .await
        .unwrap();
    assert_eq!(answers, vec![expected_blocks(&chain)[2].clone()]);
}

/// A state machine that applied the first `blocks` blocks of `chain` after a
/// membership entry (index 1), the block entries at indexes 2, 3, ...
async fn machine_with(dir: &TempDir, chain: &TestChain, blocks: usize) -> LedgerStateMachine {
    let mut machine = open(dir);
    let mut batch = vec![membership_entry(1, 1, &[1, 2, 3])];
    for (offset, proposal) in proposals(chain).into_iter().take(blocks).enumerate() {
        batch.push(normal_entry(1, 2 + offset as u64, proposal));
    }
    machine.apply(batch).await.unwrap();
    machine
}

#[tokio::test]
async fn a_snapshot_installed_on_a_fresh_node_reproduces_the_ledger() {
    let chain = TestChain::journey();
    let source_dir = TempDir::new().unwrap();
    let mut source = machine_with(&source_dir, &chain, chain.blocks.len()).await;
    let snapshot = source
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let last_index = 1 + chain.blocks.len() as u64;
    let wanted_membership =
        RaftStoredMembership::new(Some(log_id(1, 1, 1)), membership(&[1, 2, 3]));
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 1, last_index)));
    assert_eq!(snapshot.meta.last_membership, wanted_membership);
    let current = source.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snapshot.meta);
    let dump = dump_bytes(*snapshot.snapshot).unwrap();
    assert_eq!(dump_bytes(*current.snapshot).unwrap(), dump);
    assert_eq!(dump, source.read(|store| store.export_dump().unwrap()));

    let target_dir = TempDir::new().unwrap();
    {
        let mut target = open(&target_dir);
        let mut receiving = target.begin_receiving_snapshot().await.unwrap();
        match receiving.as_mut() {
            SnapshotData::Dump(file) => std::io::Write::write_all(file, &dump).unwrap(),
            other => panic!("a snapshot is received into a file, not {other:?}"),
        }
        target
            .install_snapshot(&snapshot.meta, receiving)
            .await
            .unwrap();
        // The installed dump is kept to send on.
        let installed = target.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(installed.meta, snapshot.meta);
        assert_eq!(dump_bytes(*installed.snapshot).unwrap(), dump);
    }

    // Reopened from disk: same tip, stones and applied state as the source.
    let mut target = open(&target_dir);
    assert_eq!(target.read(|store| store.tip()), chain.state.tip());
    for name in ["ROUGH-1", "POL-1", "POL-2"] {
        let id = stone(name);
        assert_eq!(
            target.read(|store| store.stone(&id).unwrap()),
            chain.state.stone(&id).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        target.applied_state().await.unwrap(),
        (Some(log_id(1, 1, last_index)), wanted_membership)
    );
}

#[tokio::test]
async fn installing_a_snapshot_replaces_a_node_that_is_behind() {
    let chain = TestChain::journey();
    let proposals = proposals(&chain);
    let source_dir = TempDir::new().unwrap();
    let mut source = machine_with(&source_dir, &chain, 5).await;
    let snapshot = source
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let target_dir = TempDir::new().unwrap();
    let mut target = machine_with(&target_dir, &chain, 2).await;

    target
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .unwrap();

    assert_eq!(target.read(|store| store.tip().hash), chain.blocks[4].hash);
    assert_eq!(
        target.applied_state().await.unwrap().0,
        Some(log_id(1, 1, 6))
    );
    // Applying goes on from the snapshot, with the block after it.
    let answers = target
        .apply(vec![normal_entry(2, 7, proposals[5].clone())])
        .await
        .unwrap();
    assert_eq!(answers, vec![expected_blocks(&chain)[5].clone()]);
}

#[tokio::test]
async fn a_malformed_snapshot_is_a_storage_error_and_changes_nothing() {
    let chain = TestChain::journey();
    let dir = TempDir::new().unwrap();
    let mut machine = machine_with(&dir, &chain, 2).await;
    let before = machine.applied_state().await.unwrap();
    let meta = openraft::SnapshotMeta {
        last_log_id: Some(log_id(3, 1, 40)),
        last_membership: RaftStoredMembership::default(),
        snapshot_id: "bogus".to_owned(),
    };

    let error = machine
        .install_snapshot(&meta, Box::new(dump_holding(b"garbage").unwrap()))
        .await
        .unwrap_err();

    assert!(
        error
            .to_string()
            .contains("ledger store failed to install a snapshot: store dump is malformed at byte 0: truncated"),
        "{error}"
    );
    assert_eq!(machine.applied_state().await.unwrap(), before);
    assert_eq!(machine.read(|store| store.tip().hash), chain.blocks[1].hash);
    assert!(machine.get_current_snapshot().await.unwrap().is_none());
}

/// The chain tip after one of `chain`'s blocks.
trait HashTip {
    fn hash_tip(&self) -> gemtrail_ledger::state::ChainTip;
}

impl HashTip for gemtrail_ledger::machine::AppliedBlock {
    fn hash_tip(&self) -> gemtrail_ledger::state::ChainTip {
        gemtrail_ledger::state::ChainTip {
            height: self.block.header.height,
            hash: self.hash,
            timestamp_ms: self.block.header.timestamp_ms,
        }
    }
}

#[tokio::test]
async fn a_snapshot_is_a_checkpoint_and_only_the_current_one_is_kept() {
    let chain = TestChain::journey();
    let dir = TempDir::new().unwrap();
    let mut machine = machine_with(&dir, &chain, 3).await;
    let snapshot_entries = || {
        std::fs::read_dir(dir.path().join("snapshots"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect::<Vec<_>>()
    };
    let first = machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let first_dump = machine.read(|store| store.export_dump().unwrap());
    let entries = snapshot_entries();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].is_dir(), "a checkpoint directory: {entries:?}");

    machine
        .apply(vec![normal_entry(1, 5, proposals(&chain)[3].clone())])
        .await
        .unwrap();
    let second = machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(second.meta.last_log_id, Some(log_id(1, 1, 5)));
    assert_ne!(second.meta.snapshot_id, first.meta.snapshot_id);
    // The first checkpoint stays while its handle lives (a transfer in
    // flight), and still dumps the ledger as it was then.
    assert_eq!(snapshot_entries().len(), 2);
    assert_eq!(dump_bytes(*first.snapshot).unwrap(), first_dump);
    assert_eq!(snapshot_entries().len(), 1);
    assert_eq!(
        dump_bytes(*second.snapshot).unwrap(),
        machine.read(|store| store.export_dump().unwrap())
    );

    // A restart starts with no snapshot and an empty directory.
    drop(machine);
    let mut reopened = open(&dir);
    assert!(reopened.get_current_snapshot().await.unwrap().is_none());
    assert!(snapshot_entries().is_empty());
}
