//! The borsh mirrors of openraft values: byte-exact, round-trip, and strict.

use gemtrail_consensus::record::{
    EntryRecord, LogIdRecord, MembershipRecord, PayloadRecord, VoteRecord,
};
use gemtrail_consensus::types::{RaftEntry, RaftMembership, RaftVote};
use gemtrail_consensus::{NodeInfo, NodeInfoError, RecordError};
use gemtrail_ledger::codec::{decode, encode, BoundedVec, LengthError};
use gemtrail_ledger::model::ADDRESS_BYTES_MAX;

use crate::support::{log_id, membership, mixed_entries, node};

#[test]
fn a_log_id_encodes_as_three_little_endian_u64s() {
    let bytes = encode(&LogIdRecord::from(&log_id(2, 7, 258)));
    let mut expected = Vec::new();
    expected.extend_from_slice(&2u64.to_le_bytes());
    expected.extend_from_slice(&7u64.to_le_bytes());
    expected.extend_from_slice(&258u64.to_le_bytes());
    assert_eq!(bytes, expected);
}

#[test]
fn a_vote_round_trips() {
    let vote = RaftVote::new_committed(5, 3);
    let bytes = encode(&VoteRecord::from(&vote));
    assert_eq!(bytes.len(), 17);
    assert_eq!(RaftVote::from(decode::<VoteRecord>(&bytes).unwrap()), vote);
}

#[test]
fn every_kind_of_entry_round_trips() {
    for entry in mixed_entries() {
        let bytes = encode(&EntryRecord::try_from(entry.clone()).unwrap());
        let back = RaftEntry::try_from(decode::<EntryRecord>(&bytes).unwrap()).unwrap();
        assert_eq!(back, entry);
    }
}

#[test]
fn a_joint_membership_with_a_learner_round_trips() {
    let configs = vec![[1u64, 2, 3].into(), [2u64, 3, 4].into()];
    let nodes = (1..=5)
        .map(|id| (id, node(id)))
        .collect::<std::collections::BTreeMap<_, _>>();
    let joint = RaftMembership::new(configs, nodes);
    let bytes = encode(&MembershipRecord::try_from(&joint).unwrap());
    let back = RaftMembership::try_from(decode::<MembershipRecord>(&bytes).unwrap()).unwrap();
    assert_eq!(back, joint);
    assert_eq!(back.learner_ids().collect::<Vec<_>>(), vec![5]);
}

#[test]
fn unsorted_voters_are_refused() {
    let mut record = MembershipRecord::try_from(&membership(&[1, 2])).unwrap();
    record.configs = BoundedVec::new(vec![BoundedVec::new(vec![2, 1]).unwrap()]).unwrap();
    let bytes = encode(&record);
    let decoded = decode::<MembershipRecord>(&bytes).unwrap();
    assert_eq!(
        RaftMembership::try_from(decoded).unwrap_err(),
        RecordError::UnsortedVoters { config: 0 }
    );
}

#[test]
fn duplicate_nodes_are_refused() {
    let mut record = MembershipRecord::try_from(&membership(&[1])).unwrap();
    record.nodes = BoundedVec::new(vec![(1, node(1)), (1, node(1))]).unwrap();
    assert_eq!(
        RaftMembership::try_from(record).unwrap_err(),
        RecordError::UnsortedNodes
    );
}

#[test]
fn a_voter_without_a_node_description_is_refused() {
    let mut record = MembershipRecord::try_from(&membership(&[1, 2])).unwrap();
    record.nodes = BoundedVec::new(vec![(1, node(1))]).unwrap();
    assert_eq!(
        RaftMembership::try_from(record).unwrap_err(),
        RecordError::VoterWithoutNode { node_id: 2 }
    );
}

#[test]
fn more_than_two_voter_configurations_do_not_decode() {
    // Payload tag 2 (membership), then a count of 3 voter configurations.
    let mut bytes = vec![2u8];
    bytes.extend_from_slice(&encode(&3u32));
    let error = decode::<PayloadRecord>(&bytes).unwrap_err();
    assert_eq!(
        error,
        gemtrail_ledger::DecodeError::Malformed {
            reason: "length 3 exceeds the maximum of 2".to_owned()
        }
    );
}

#[test]
fn a_node_address_longer_than_its_maximum_is_refused() {
    let long = "x".repeat(ADDRESS_BYTES_MAX + 1);
    assert_eq!(
        NodeInfo::new("peer", &long, "api").unwrap_err(),
        NodeInfoError::FieldTooLong {
            field: "listen_addr",
            source: LengthError {
                len: ADDRESS_BYTES_MAX + 1,
                max: ADDRESS_BYTES_MAX
            }
        }
    );
}
