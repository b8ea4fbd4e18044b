//! Entries, log ids and proposals shared by the tests.

use std::collections::{BTreeMap, BTreeSet};

use gemtrail_consensus::types::{RaftEntry, RaftLogId, RaftMembership};
use gemtrail_consensus::NodeInfo;
use gemtrail_ledger::codec::BoundedVec;
use gemtrail_ledger::model::BlockProposal;
use gemtrail_ledger::testkit::{register, Consortium, GENESIS_TIME_MS};
use openraft::{CommittedLeaderId, EntryPayload};

pub fn log_id(term: u64, leader: u64, index: u64) -> RaftLogId {
    RaftLogId::new(CommittedLeaderId::new(term, leader), index)
}

pub fn node(id: u64) -> NodeInfo {
    NodeInfo::new(
        &format!("12D3KooWnode{id}"),
        &format!("/ip4/127.0.0.1/tcp/{}", 7000 + id),
        &format!("127.0.0.1:{}", 8000 + id),
    )
    .unwrap()
}

pub fn membership(voters: &[u64]) -> RaftMembership {
    let config = voters.iter().copied().collect::<BTreeSet<_>>();
    let nodes = voters
        .iter()
        .map(|id| (*id, node(*id)))
        .collect::<BTreeMap<_, _>>();
    RaftMembership::new(vec![config], nodes)
}

/// A proposal with one real signed transaction (a stone registration).
pub fn proposal() -> BlockProposal {
    let consortium = Consortium::sample();
    let tx = consortium.tx("mine", 1, register("ALR-2026-000001", 250));
    BlockProposal {
        timestamp_ms: GENESIS_TIME_MS + 1_000,
        transactions: BoundedVec::new(vec![tx]).unwrap(),
    }
}

pub fn blank(term: u64, index: u64) -> RaftEntry {
    RaftEntry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Blank,
    }
}

pub fn normal(term: u64, index: u64) -> RaftEntry {
    RaftEntry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Normal(proposal()),
    }
}

pub fn membership_entry(term: u64, index: u64, voters: &[u64]) -> RaftEntry {
    RaftEntry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Membership(membership(voters)),
    }
}

/// Blank, membership and block entries at indexes 1 to 4.
pub fn mixed_entries() -> Vec<RaftEntry> {
    vec![
        blank(1, 1),
        membership_entry(1, 2, &[1, 2, 3]),
        normal(1, 3),
        normal(2, 4),
    ]
}
