//! The reasons themselves: stable codes, readable messages, and an index of
//! the test that drives the state machine into each one.

use gemtrail_ledger::ids::{NodeId, TxId};
use gemtrail_ledger::model::{Carats, FlagReason, ProposalStatus, RejectReason, Role};
use gemtrail_ledger::testkit::{org, stone};

/// The test (in this module's siblings) that reaches `reason` through the state
/// machine. The match has no wildcard: a new reason does not compile until it
/// is listed here, which is the reminder to write its test.
fn covered_by(reason: &RejectReason) -> &'static str {
    use RejectReason as R;
    match reason {
        R::WrongChain { .. } => "a_transaction_for_another_chain_is_refused_with_wrong_chain",
        R::Replay { .. } => {
            "the_same_transaction_twice_in_one_block_applies_once_then_is_refused_with_replay"
        }
        R::UnknownSigner { .. } => {
            "a_transaction_from_a_non_member_is_refused_with_unknown_signer_and_applies_once_admitted"
        }
        R::SignerDidNotSign { .. } => {
            "a_transaction_whose_first_approval_is_someone_elses_is_refused_with_signer_did_not_sign"
        }
        R::UnexpectedApprovals { .. } => {
            "an_ordinary_action_with_two_signatures_is_refused_with_unexpected_approvals"
        }
        R::DuplicateApproval { .. } => {
            "a_governance_change_approved_twice_by_one_admin_is_refused_with_duplicate_approval"
        }
        R::UnknownApprover { .. } => {
            "a_governance_change_approved_by_a_non_member_is_refused_with_unknown_approver"
        }
        R::KeyNotOfMember { .. } => {
            "a_transaction_signed_with_another_members_key_is_refused_with_key_not_of_member"
        }
        R::BadSignature { .. } => {
            "a_spoiled_signature_is_refused_with_bad_signature_and_the_genuine_one_still_applies"
        }
        R::MissingRole { .. } => "selling_as_a_non_retailer_is_refused_with_missing_role",
        R::NotEnoughAdminApprovals { .. } => {
            "a_governance_change_with_one_of_three_admins_is_refused_with_not_enough_admin_approvals"
        }
        R::StoneExists { .. } => {
            "registering_an_id_already_on_the_ledger_is_refused_with_stone_exists"
        }
        R::UnknownStone { .. } => {
            "acting_on_a_stone_that_was_never_registered_is_refused_with_unknown_stone"
        }
        R::NotCustodian { .. } => {
            "moving_a_stone_held_by_someone_else_is_refused_with_not_custodian"
        }
        R::StoneFlagged { .. } => "moving_a_flagged_stone_is_refused_with_stone_flagged",
        R::StoneSold { .. } => {
            "a_non_custodian_moving_a_sold_stone_gets_not_custodian_and_the_custodian_gets_stone_sold"
        }
        R::StoneConsumed { .. } => {
            "a_rough_that_was_cut_is_refused_with_stone_consumed_whatever_is_tried"
        }
        R::StoneInOpenProposal { .. } => {
            "a_parcel_with_a_stone_already_in_another_open_proposal_is_refused_with_stone_in_open_proposal"
        }
        R::DuplicateStone { .. } => {
            "a_stone_listed_twice_in_one_parcel_is_refused_with_duplicate_stone"
        }
        R::ImplausibleCarats { .. } => {
            "registering_a_stone_of_zero_carats_is_refused_with_implausible_carats"
        }
        R::AlreadyFlagged { .. } => {
            "flagging_a_flagged_stone_is_refused_with_already_flagged_and_the_first_flag_stays"
        }
        R::NotFlagged { .. } => "clearing_a_stone_without_a_flag_is_refused_with_not_flagged",
        R::NotEntitledToFlag { .. } => {
            "flagging_by_a_member_who_is_not_custodian_auditor_or_admin_is_refused_with_not_entitled"
        }
        R::EmptyParcel => "proposing_an_empty_parcel_is_refused_with_empty_parcel",
        R::TransferToSelf => "proposing_a_transfer_to_oneself_is_refused_with_transfer_to_self",
        R::UnknownReceiver { .. } => {
            "proposing_to_a_non_member_is_refused_with_unknown_receiver"
        }
        R::UnknownProposal { .. } => {
            "answering_a_proposal_that_does_not_exist_is_refused_with_unknown_proposal"
        }
        R::ProposalClosed { .. } => {
            "answering_an_accepted_proposal_is_refused_with_proposal_closed"
        }
        R::NotReceiver { .. } => {
            "answering_a_proposal_addressed_to_someone_else_is_refused_with_not_receiver"
        }
        R::NotProposer { .. } => "cancelling_someone_elses_proposal_is_refused_with_not_proposer",
        R::NotRough { .. } => "cutting_a_polished_stone_is_refused_with_not_rough",
        R::NoOutputs => "a_manufacture_without_outputs_is_refused_with_no_outputs",
        R::CaratsExceeded { .. } => {
            "outputs_heavier_than_the_rough_are_refused_with_carats_exceeded"
        }
        R::MemberExists { .. } => "adding_a_member_that_exists_is_refused_with_member_exists",
        R::UnknownMember { .. } => {
            "changing_a_member_that_does_not_exist_is_refused_with_unknown_member"
        }
        R::IncompleteMember { .. } => {
            "a_member_without_keys_or_roles_is_refused_with_incomplete_member"
        }
        R::MalformedKey { .. } => {
            "registering_bytes_that_are_not_a_curve_point_is_refused_with_malformed_key"
        }
        R::WeakKey { .. } => "registering_a_weak_key_is_refused_with_weak_key",
        R::KeyInUse { .. } => {
            "registering_a_key_another_member_holds_is_refused_with_key_in_use"
        }
        R::LastAdmin => "demoting_the_last_admin_is_refused_with_last_admin",
        R::NodeExists { .. } => {
            "adding_a_node_whose_id_or_peer_id_is_taken_is_refused_with_node_exists"
        }
        R::UnknownNode { .. } => {
            "removing_a_node_that_does_not_exist_is_refused_with_unknown_node"
        }
        R::NodeCountOutOfRange { .. } => {
            "removing_the_last_node_is_refused_with_node_count_out_of_range"
        }
        R::TooManyMembers { .. } => {
            "adding_a_member_beyond_members_max_is_refused_with_too_many_members"
        }
        R::MemberRunsNode { .. } => {
            "removing_a_member_that_runs_a_node_is_refused_with_member_runs_node"
        }
        R::MemberRetired { .. } => "adding_a_removed_members_id_again_is_refused_with_member_retired",
        R::ProposerNotMember { .. } => {
            "accepting_an_offer_of_a_removed_member_is_refused_with_proposer_not_member"
        }
    }
}

/// One value of every reason, in declaration order.
fn one_of_each() -> Vec<RejectReason> {
    use RejectReason as R;
    let chain = gemtrail_ledger::ids::ChainId::parse("gemtrail-test").unwrap();
    let key = gemtrail_ledger::testkit::key_for("mine").public_key();
    let id = TxId([7; 32]);
    vec![
        R::WrongChain {
            expected: chain.clone(),
            found: chain,
        },
        R::Replay { tx_id: id },
        R::UnknownSigner { org: org("x") },
        R::SignerDidNotSign { signer: org("x") },
        R::UnexpectedApprovals { count: 2 },
        R::DuplicateApproval { org: org("x") },
        R::UnknownApprover { org: org("x") },
        R::KeyNotOfMember { org: org("x"), key },
        R::BadSignature { org: org("x") },
        R::MissingRole {
            org: org("x"),
            role: Role::Lab,
        },
        R::NotEnoughAdminApprovals {
            approvals: 1,
            required: 2,
        },
        R::StoneExists { stone: stone("S") },
        R::UnknownStone { stone: stone("S") },
        R::NotCustodian {
            stone: stone("S"),
            signer: org("x"),
            custodian: org("y"),
        },
        R::StoneFlagged {
            stone: stone("S"),
            reason: FlagReason::Lost,
        },
        R::StoneSold { stone: stone("S") },
        R::StoneConsumed { stone: stone("S") },
        R::StoneInOpenProposal {
            stone: stone("S"),
            proposal: id,
        },
        R::DuplicateStone { stone: stone("S") },
        R::ImplausibleCarats {
            stone: stone("S"),
            carats: Carats(0),
        },
        R::AlreadyFlagged {
            stone: stone("S"),
            reason: FlagReason::Lost,
        },
        R::NotFlagged { stone: stone("S") },
        R::NotEntitledToFlag {
            org: org("x"),
            stone: stone("S"),
        },
        R::EmptyParcel,
        R::TransferToSelf,
        R::UnknownReceiver { org: org("x") },
        R::UnknownProposal { proposal: id },
        R::ProposalClosed {
            proposal: id,
            status: ProposalStatus::Accepted,
        },
        R::NotReceiver {
            proposal: id,
            receiver: org("x"),
        },
        R::NotProposer {
            proposal: id,
            proposer: org("x"),
        },
        R::NotRough { stone: stone("S") },
        R::NoOutputs,
        R::CaratsExceeded {
            rough: Carats(1),
            outputs: Carats(2),
        },
        R::MemberExists { org: org("x") },
        R::UnknownMember { org: org("x") },
        R::IncompleteMember { org: org("x") },
        R::MalformedKey { key },
        R::WeakKey { key },
        R::KeyInUse { key, org: org("x") },
        R::LastAdmin,
        R::NodeExists { node: NodeId(1) },
        R::UnknownNode { node: NodeId(1) },
        R::NodeCountOutOfRange { max: 64 },
        R::TooManyMembers { max: 1024 },
        R::MemberRunsNode {
            org: org("x"),
            node: NodeId(1),
        },
        R::MemberRetired { org: org("x") },
        R::ProposerNotMember {
            proposal: id,
            org: org("x"),
        },
    ]
}

/// `NotEnoughAdminApprovals` -> `not_enough_admin_approvals`.
fn snake_case(variant: &str) -> String {
    let mut out = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[test]
fn a_few_codes_are_exactly_as_published() {
    let cases = [
        (RejectReason::LastAdmin, "last_admin"),
        (
            RejectReason::Replay {
                tx_id: TxId([0; 32]),
            },
            "replay",
        ),
        (
            RejectReason::NotEnoughAdminApprovals {
                approvals: 1,
                required: 2,
            },
            "not_enough_admin_approvals",
        ),
        (
            RejectReason::StoneInOpenProposal {
                stone: stone("S"),
                proposal: TxId([0; 32]),
            },
            "stone_in_open_proposal",
        ),
        (RejectReason::EmptyParcel, "empty_parcel"),
    ];
    for (reason, code) in cases {
        assert_eq!(reason.code(), code);
    }
}

#[test]
fn every_code_is_the_snake_case_variant_name_and_every_reason_has_a_test() {
    let reasons = one_of_each();
    assert_eq!(reasons.len(), 47);
    let mut codes = std::collections::BTreeSet::new();
    let mut tests = std::collections::BTreeSet::new();
    for reason in &reasons {
        let debug = format!("{reason:?}");
        let variant = debug.split([' ', '{', '(']).next().unwrap();
        assert_eq!(reason.code(), snake_case(variant), "code of {variant}");
        assert!(codes.insert(reason.code()), "code {} twice", reason.code());
        assert!(tests.insert(covered_by(reason)), "{variant} shares a test");
    }
}

#[test]
fn messages_read_as_sentences_naming_the_parties() {
    let not_custodian = RejectReason::NotCustodian {
        stone: stone("POL-1"),
        signer: org("cutter"),
        custodian: org("retailer"),
    };
    assert_eq!(
        not_custodian.to_string(),
        "cutter is not the custodian of POL-1 (held by retailer)"
    );

    let governance = RejectReason::NotEnoughAdminApprovals {
        approvals: 1,
        required: 2,
    };
    assert_eq!(
        governance.to_string(),
        "governance needs 2 admin approvals, found 1"
    );

    let too_heavy = RejectReason::CaratsExceeded {
        rough: Carats(1000),
        outputs: Carats(1001),
    };
    assert_eq!(
        too_heavy.to_string(),
        "outputs weigh 10.01 ct but the rough weighs only 10.00 ct"
    );

    let flagged = RejectReason::StoneFlagged {
        stone: stone("r-2"),
        reason: FlagReason::Disputed,
    };
    assert_eq!(
        flagged.to_string(),
        "stone R-2 is flagged disputed and cannot move"
    );
}
