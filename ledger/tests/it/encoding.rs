//! The canonical encoding, property-tested for every type that is signed, hashed
//! or stored: values round-trip, their bytes re-encode identically, random and
//! mutated bytes never panic the decoder and never decode to a value with another
//! encoding, and each kind of malformed input gets its exact error. A golden test
//! pins the bytes and id of one transaction so an accidental format change fails.

use std::fmt::Debug;

use borsh::{BorshDeserialize, BorshSerialize};
use gemtrail_ledger::codec::{decode, encode, BoundedString, BoundedVec, ENCODED_BYTES_MAX};
use gemtrail_ledger::ids::{ChainId, Digest, OrgId, StoneId};
use gemtrail_ledger::model::{
    Action, Block, BlockHeader, BlockProposal, Carats, CountryCode, Date, FourCs, LabReport,
    Member, Membership, Name, Origin, Proposal, ProposeTransfer, Receipt, RegisterStone,
    RejectReason, RoleSet, RoughInfo, SignedTransaction, Stone, Transaction, PARCEL_STONES_MAX,
};
use gemtrail_ledger::proof::ProvenanceProof;
use gemtrail_ledger::DecodeError;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::strategies::*;

/// `value` decodes from its own encoding to itself, and its bytes re-encode to
/// exactly the same bytes.
fn check_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + PartialEq + Debug,
{
    let bytes = encode(value);
    let decoded: T = decode(&bytes).map_err(|error| {
        TestCaseError::fail(format!("{value:?} does not decode from its bytes: {error}"))
    })?;
    prop_assert_eq!(&decoded, value);
    prop_assert_eq!(encode(&decoded), bytes);
    Ok(())
}

/// Whatever `bytes` are, decoding them as `T` does not panic, and a value it
/// yields re-encodes to exactly `bytes`.
fn check_decodes_canonically_or_fails<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Debug,
{
    if let Ok(value) = decode::<T>(bytes) {
        prop_assert_eq!(
            encode(&value),
            bytes,
            "{:?} decoded from other bytes",
            value
        );
    }
    Ok(())
}

/// One way of spoiling a valid encoding.
#[derive(Clone, Debug)]
enum Mutation {
    /// Keep only a strict prefix.
    Truncate(Index),
    /// Add one byte at the end.
    Append(u8),
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        any::<u8>().prop_map(Mutation::Append),
        (any::<Index>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
    ]
}

/// Applies `mutation` to the encoding of `value` and checks the decoder's answer:
/// a strict prefix never decodes, an extra byte is `Malformed` trailing input, and
/// a flipped byte either fails or decodes to a value that re-encodes to the
/// flipped bytes.
fn check_mutation<T>(value: &T, mutation: &Mutation) -> Result<(), TestCaseError>
where
    T: BorshSerialize + BorshDeserialize + Debug,
{
    let mut bytes = encode(value);
    match mutation {
        Mutation::Truncate(at) => {
            let cut = at.index(bytes.len());
            let result = decode::<T>(&bytes[..cut]);
            prop_assert!(result.is_err(), "a {cut}-byte prefix decoded: {result:?}");
        }
        Mutation::Append(extra) => {
            bytes.push(*extra);
            prop_assert_eq!(decode::<T>(&bytes).unwrap_err(), not_all_bytes_read());
        }
        Mutation::Flip(at, mask) => {
            let position = at.index(bytes.len());
            bytes[position] ^= mask;
            check_decodes_canonically_or_fails::<T>(&bytes)?;
        }
    }
    Ok(())
}

fn not_all_bytes_read() -> DecodeError {
    DecodeError::Malformed {
        reason: "Not all bytes read".to_owned(),
    }
}

/// Round-trip tests, one per type, with the given number of cases.
macro_rules! round_trips {
    ($cases:expr; $($name:ident: $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]
            $(
                #[test]
                fn $name(value in $strategy) {
                    check_round_trip(&value)?;
                }
            )*
        }
    };
}

round_trips! { 128;
    stone_id_round_trips: stone_id();
    org_id_round_trips: org_id();
    chain_id_round_trips: chain_id();
    node_id_round_trips: node_id();
    tx_id_round_trips: tx_id();
    block_hash_round_trips: block_hash();
    digest_round_trips: digest();
    public_key_round_trips: public_key();
    signature_round_trips: signature();
    bounded_vec_round_trips: bounded_vec::<u32, 5>(any::<u32>(), 5);
    bounded_string_round_trips: bounded_string::<8>();
    name_round_trips: bounded_string::<{ Name::MAX }>();
    date_round_trips: date();
    country_code_round_trips: country_code();
    carats_round_trips: carats();
    role_round_trips: role();
    role_set_round_trips: role_set();
    flag_reason_round_trips: flag_reason();
    stone_status_round_trips: stone_status();
    proposal_status_round_trips: proposal_status();
    cutter_round_trips: cutter();
    rough_info_round_trips: rough_info();
    four_cs_round_trips: four_cs();
    tx_location_round_trips: tx_location();
    merkle_path_round_trips: merkle_path();
    reject_reason_round_trips: reject_reason();
    outcome_round_trips: outcome();
    receipt_round_trips: receipt();
    approval_round_trips: approval();
    block_header_round_trips: block_header();
}

round_trips! { 64;
    member_round_trips: member();
    node_record_round_trips: node_record();
    membership_round_trips: membership();
    origin_round_trips: origin();
    polished_output_round_trips: polished_output();
    lab_report_round_trips: lab_report();
    stone_kind_round_trips: stone_kind();
    grade_summary_round_trips: grade_summary();
    stone_round_trips: stone();
    proposal_round_trips: proposal();
    governance_round_trips: governance();
    action_round_trips: action();
    transaction_round_trips: transaction();
    signed_transaction_round_trips: signed_transaction();
    block_proposal_round_trips: block_proposal();
    block_round_trips: block();
    proven_event_round_trips: proven_event();
}

round_trips! { 24;
    provenance_proof_round_trips: provenance_proof();
}

/// Mutation tests for the main stored and signed types.
macro_rules! mutations {
    ($cases:expr; $($name:ident: $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]
            $(
                #[test]
                fn $name(value in $strategy, mutation in mutation()) {
                    check_mutation(&value, &mutation)?;
                }
            )*
        }
    };
}

mutations! { 64;
    mutated_transaction_is_refused_or_canonical: transaction();
    mutated_signed_transaction_is_refused_or_canonical: signed_transaction();
    mutated_action_is_refused_or_canonical: action();
    mutated_stone_is_refused_or_canonical: stone();
    mutated_proposal_is_refused_or_canonical: proposal();
    mutated_membership_is_refused_or_canonical: membership();
    mutated_block_header_is_refused_or_canonical: block_header();
    mutated_block_is_refused_or_canonical: block();
    mutated_block_proposal_is_refused_or_canonical: block_proposal();
    mutated_receipt_is_refused_or_canonical: receipt();
    mutated_provenance_proof_is_refused_or_canonical: provenance_proof();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic_and_never_decode_non_canonically(
        bytes in vec(any::<u8>(), 0..160),
    ) {
        check_decodes_canonically_or_fails::<StoneId>(&bytes)?;
        check_decodes_canonically_or_fails::<OrgId>(&bytes)?;
        check_decodes_canonically_or_fails::<Date>(&bytes)?;
        check_decodes_canonically_or_fails::<RoleSet>(&bytes)?;
        check_decodes_canonically_or_fails::<Member>(&bytes)?;
        check_decodes_canonically_or_fails::<Membership>(&bytes)?;
        check_decodes_canonically_or_fails::<Action>(&bytes)?;
        check_decodes_canonically_or_fails::<Transaction>(&bytes)?;
        check_decodes_canonically_or_fails::<SignedTransaction>(&bytes)?;
        check_decodes_canonically_or_fails::<Stone>(&bytes)?;
        check_decodes_canonically_or_fails::<Proposal>(&bytes)?;
        check_decodes_canonically_or_fails::<BlockHeader>(&bytes)?;
        check_decodes_canonically_or_fails::<Block>(&bytes)?;
        check_decodes_canonically_or_fails::<BlockProposal>(&bytes)?;
        check_decodes_canonically_or_fails::<Receipt>(&bytes)?;
        check_decodes_canonically_or_fails::<RejectReason>(&bytes)?;
        check_decodes_canonically_or_fails::<ProvenanceProof>(&bytes)?;
    }
}

#[test]
fn every_reject_reason_variant_round_trips_with_a_distinct_code() {
    let fields = proptest::strategy::ValueTree::current(
        &reason_fields()
            .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
            .unwrap(),
    );
    let mut codes = std::collections::BTreeSet::new();
    for index in 0..REJECT_REASON_VARIANTS {
        let reason = reject_reason_variant(index, fields.clone());
        let bytes = encode(&reason);
        // Borsh tags enum variants by their position, so each variant's tag is its index.
        assert_eq!(bytes[0], index, "{reason:?}");
        assert_eq!(decode::<RejectReason>(&bytes).unwrap(), reason);
        codes.insert(reason.code());
    }
    assert_eq!(codes.len(), usize::from(REJECT_REASON_VARIANTS));
    // One past the last variant is not a reason.
    assert_eq!(
        decode::<RejectReason>(&[REJECT_REASON_VARIANTS]).unwrap_err(),
        DecodeError::Malformed {
            reason: "Unexpected variant tag: 47".to_owned()
        }
    );
}

// ---------------------------------------------------------------- exact errors

#[test]
fn a_trailing_byte_is_malformed() {
    let mut bytes = encode(&golden_transaction());
    bytes.push(0);
    assert_eq!(
        decode::<Transaction>(&bytes).unwrap_err(),
        not_all_bytes_read()
    );
}

#[test]
fn a_parcel_declaring_one_stone_over_its_maximum_is_malformed() {
    let transaction = Transaction {
        action: Action::ProposeTransfer(ProposeTransfer {
            stones: BoundedVec::new(vec![StoneId::parse("S-1").unwrap()]).unwrap(),
            to: OrgId::parse("cutter").unwrap(),
            terms_commitment: Digest([3; 32]),
        }),
        ..golden_transaction()
    };
    // chain id, signer and nonce, then the action's tag, then the parcel's length.
    let mut bytes = encode(&transaction.chain_id);
    bytes.extend(encode(&transaction.signer));
    bytes.extend(encode(&transaction.nonce));
    let parcel_at = bytes.len() + 1;
    assert_eq!(encode(&transaction)[..parcel_at], {
        let mut prefix = bytes.clone();
        prefix.push(1);
        prefix
    });
    let mut tampered = encode(&transaction);
    let declared = (PARCEL_STONES_MAX as u32 + 1).to_le_bytes();
    tampered[parcel_at..parcel_at + 4].copy_from_slice(&declared);
    assert_eq!(
        decode::<Transaction>(&tampered).unwrap_err(),
        DecodeError::Malformed {
            reason: "length 257 exceeds the maximum of 256".to_owned()
        }
    );
}

#[test]
fn a_lower_case_stone_id_is_malformed() {
    let mut bytes = vec![7u8];
    bytes.extend_from_slice(b"alr-001");
    assert_eq!(
        decode::<StoneId>(&bytes).unwrap_err(),
        DecodeError::Malformed {
            reason: "stone id \"alr-001\" contains a character that is not allowed".to_owned()
        }
    );
}

fn sample_member(org: &str) -> Member {
    Member {
        org: OrgId::parse(org).unwrap(),
        name: BoundedString::new(format!("{org} ltd")).unwrap(),
        roles: role_set_of(0b1),
        keys: BoundedVec::new(vec![gemtrail_ledger::crypto::PublicKey([9; 32])]).unwrap(),
    }
}

#[test]
fn a_membership_with_members_out_of_order_is_refused() {
    let (first, second) = (sample_member("alpha"), sample_member("beta"));
    let sorted = {
        let mut bytes = encode(&2u32);
        for member in [&first, &second] {
            bytes.extend(encode(&member.org));
            bytes.extend(encode(member));
        }
        // No nodes, no retired ids.
        bytes.extend(encode(&0u32));
        bytes.extend(encode(&0u32));
        bytes
    };
    let membership: Membership = decode(&sorted).unwrap();
    assert_eq!(membership.members.len(), 2);

    let descending = {
        let mut bytes = encode(&2u32);
        for member in [&second, &first] {
            bytes.extend(encode(&member.org));
            bytes.extend(encode(member));
        }
        // No nodes, no retired ids.
        bytes.extend(encode(&0u32));
        bytes.extend(encode(&0u32));
        bytes
    };
    assert_eq!(
        decode::<Membership>(&descending).unwrap_err(),
        DecodeError::Malformed {
            reason: "keys were not serialized in ascending order".to_owned()
        }
    );
}

#[test]
fn a_role_set_with_an_unknown_bit_is_malformed() {
    assert_eq!(decode::<RoleSet>(&[0x7f]).unwrap(), role_set_of(0x7f));
    assert_eq!(
        decode::<RoleSet>(&[0x80]).unwrap_err(),
        DecodeError::Malformed {
            reason: "role set has an unknown role bit".to_owned()
        }
    );
}

#[test]
fn a_bool_byte_of_two_is_malformed() {
    let report = LabReport {
        report_number: BoundedString::new("GIA-1").unwrap(),
        four_cs: FourCs {
            carats: Carats(101),
            colour: BoundedString::new("D").unwrap(),
            clarity: BoundedString::new("IF").unwrap(),
            cut: BoundedString::new("Excellent").unwrap(),
        },
        origin_matched: true,
        report_hash: Digest([5; 32]),
    };
    let mut bytes = encode(&report);
    // origin_matched sits just before the 32-byte report hash.
    let at = bytes.len() - 33;
    assert_eq!(bytes[at], 1);
    bytes[at] = 2;
    assert_eq!(
        decode::<LabReport>(&bytes).unwrap_err(),
        DecodeError::Malformed {
            reason: "Invalid bool representation: 2".to_owned()
        }
    );
}

#[test]
fn february_the_thirtieth_is_malformed() {
    let mut bytes = encode(&2026u16);
    bytes.extend([2, 30]);
    assert_eq!(
        decode::<Date>(&bytes).unwrap_err(),
        DecodeError::Malformed {
            reason: "day is not in that month".to_owned()
        }
    );
    let mut leap_day = encode(&2028u16);
    leap_day.extend([2, 29]);
    assert_eq!(
        decode::<Date>(&leap_day).unwrap(),
        Date::new(2028, 2, 29).unwrap()
    );
}

#[test]
fn input_over_the_size_cap_is_too_large_before_decoding() {
    let bytes = vec![0u8; ENCODED_BYTES_MAX + 1];
    assert_eq!(
        decode::<u8>(&bytes).unwrap_err(),
        DecodeError::TooLarge {
            len: ENCODED_BYTES_MAX as u64 + 1,
            max: ENCODED_BYTES_MAX as u64,
        }
    );
}

// ---------------------------------------------------------------- golden bytes

/// A fixed transaction, built field by field so that it does not depend on test helpers.
fn golden_transaction() -> Transaction {
    Transaction {
        chain_id: ChainId::parse("gemtrail-golden").unwrap(),
        signer: OrgId::parse("kimberley-mining").unwrap(),
        nonce: 0x0102_0304_0506_0708,
        action: Action::RegisterStone(RegisterStone {
            stone_id: StoneId::parse("ALR-2026-000123").unwrap(),
            origin: Origin {
                mine: BoundedString::new("Jwaneng").unwrap(),
                country: CountryCode::parse("BW").unwrap(),
                region: BoundedString::new("Southern").unwrap(),
                extracted_on: Date::new(2026, 3, 14).unwrap(),
            },
            rough: RoughInfo {
                carats: Carats(1234),
                description: BoundedString::new("octahedral").unwrap(),
            },
            kp_certificate: BoundedString::new("BW-KP-42").unwrap(),
            evidence: BoundedVec::new(vec![Digest([0xab; 32])]).unwrap(),
        }),
    }
}

const GOLDEN_TRANSACTION_HEX: &str = concat!(
    "0f67656d747261696c2d676f6c64656e106b696d6265726c65792d6d696e696e67",
    "0807060504030201",
    "000f414c522d323032362d303030313233",
    "070000004a77616e656e67425708000000536f75746865726eea07030e",
    "d2040000000000000a0000006f63746168656472616c0800000042572d4b502d3432",
    "01000000abababababababababababababababababababababababababababababababab",
);
const GOLDEN_TX_ID_HEX: &str = "dcdb81e1a048cf2d53410b3ccd5820d0d6434e3aa195901cabaf27a6748d6baf";

#[test]
fn the_golden_transaction_keeps_its_bytes_and_id() {
    let transaction = golden_transaction();
    assert_eq!(hex::encode(encode(&transaction)), GOLDEN_TRANSACTION_HEX);
    assert_eq!(transaction.id().to_hex(), GOLDEN_TX_ID_HEX);
    assert_eq!(
        decode::<Transaction>(&hex::decode(GOLDEN_TRANSACTION_HEX).unwrap()).unwrap(),
        transaction
    );
}

/// The largest transaction we can build: a full parcel of longest-possible ids.
fn largest_transaction() -> SignedTransaction {
    let consortium = gemtrail_ledger::testkit::Consortium::sample();
    let stones = (0..PARCEL_STONES_MAX)
        .map(|i| StoneId::parse(&format!("{i:0>64}")).unwrap())
        .collect::<Vec<_>>();
    let action = Action::ProposeTransfer(ProposeTransfer {
        stones: BoundedVec::new(stones).unwrap(),
        to: OrgId::parse(&"c".repeat(32)).unwrap(),
        terms_commitment: Digest([7; 32]),
    });
    consortium.tx("mine", u64::MAX, action)
}

#[test]
fn the_largest_possible_block_proposal_still_decodes() {
    use gemtrail_ledger::model::BLOCK_TRANSACTIONS_MAX;
    let largest = encode(&largest_transaction()).len();
    // Every block a leader can build must be readable by every node: otherwise a
    // replicated entry would halt the cluster when applied.
    let worst_case = 12 + BLOCK_TRANSACTIONS_MAX * largest;
    assert!(
        worst_case < ENCODED_BYTES_MAX,
        "{BLOCK_TRANSACTIONS_MAX} transactions of {largest} bytes exceed the decode cap"
    );
}
