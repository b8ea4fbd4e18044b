//! Stones: register, manufacture, grade, sell, flag and clear a flag, and the
//! movability checks shared with transfers (custody, status, flag, lock).

use gemtrail_ledger::model::{Carats, FlagReason, Outcome, RejectReason, Role, CARATS_MAX};
use gemtrail_ledger::testkit::{
    clear_flag, flag, grade, manufacture, org, propose, register, sell, stone, TestChain,
};

use super::*;

// --- roles ---

#[test]
fn registering_as_a_non_producer_is_refused_with_missing_role() {
    let mut chain = TestChain::new();
    let reason = RejectReason::MissingRole {
        org: org("cutter"),
        role: Role::Producer,
    };
    assert_act_refused(&mut chain, "cutter", register("R-1", 100), reason);
}

#[test]
fn manufacturing_as_a_non_manufacturer_is_refused_with_missing_role() {
    // `mine` holds the rough but is no manufacturer.
    let mut chain = chain_with(&["R-1"]);
    let reason = RejectReason::MissingRole {
        org: org("mine"),
        role: Role::Manufacturer,
    };
    let cut = manufacture("R-1", &[("P-1", 500)]);
    assert_act_refused(&mut chain, "mine", cut, reason);
}

#[test]
fn grading_as_a_non_lab_is_refused_with_missing_role() {
    let mut chain = TestChain::journey();
    let reason = RejectReason::MissingRole {
        org: org("cutter"),
        role: Role::Lab,
    };
    assert_act_refused(&mut chain, "cutter", grade("POL-2", 350), reason);
}

#[test]
fn selling_as_a_non_retailer_is_refused_with_missing_role() {
    // The cutter holds POL-2 but may not sell it to a consumer.
    let mut chain = TestChain::journey();
    let reason = RejectReason::MissingRole {
        org: org("cutter"),
        role: Role::Retailer,
    };
    assert_act_refused(&mut chain, "cutter", sell("POL-2"), reason);
}

#[test]
fn the_role_is_checked_before_the_stone_exists() {
    let mut chain = TestChain::new();
    let reason = RejectReason::MissingRole {
        org: org("trader"),
        role: Role::Retailer,
    };
    assert_act_refused(&mut chain, "trader", sell("NOWHERE"), reason);
}

// --- ids ---

#[test]
fn registering_an_id_already_on_the_ledger_is_refused_with_stone_exists() {
    let mut chain = chain_with(&["R-1"]);
    let reason = RejectReason::StoneExists {
        stone: stone("R-1"),
    };
    assert_act_refused(&mut chain, "mine", register("R-1", 250), reason);
}

#[test]
fn registering_the_id_of_a_polished_stone_is_refused_with_stone_exists() {
    // Ids are unique forever, across rough and polished stones, sold or not.
    let mut chain = TestChain::journey();
    let reason = RejectReason::StoneExists {
        stone: stone("POL-1"),
    };
    assert_act_refused(&mut chain, "mine", register("POL-1", 250), reason);
}

#[test]
fn a_manufacture_output_named_like_an_existing_stone_is_refused_with_stone_exists() {
    let mut chain = TestChain::journey();
    chain.must("mine", register("ROUGH-2", 1000));
    hand_over(&mut chain, "mine", "ROUGH-2", "cutter");

    let reason = RejectReason::StoneExists {
        stone: stone("POL-1"),
    };
    let cut = manufacture("ROUGH-2", &[("POL-3", 300), ("POL-1", 300)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);
    assert_eq!(
        chain.state.stone(&stone("POL-3")).unwrap(),
        None,
        "no output of a refused cut exists"
    );
}

#[test]
fn acting_on_a_stone_that_was_never_registered_is_refused_with_unknown_stone() {
    let mut chain = TestChain::journey();
    let reason = || RejectReason::UnknownStone {
        stone: stone("GHOST-1"),
    };
    let cases = [
        ("cutter", manufacture("GHOST-1", &[("P-9", 100)])),
        ("lab", grade("GHOST-1", 100)),
        ("retailer", sell("GHOST-1")),
        ("auditor", flag("GHOST-1", FlagReason::Lost)),
        ("auditor", clear_flag("GHOST-1")),
        ("mine", propose(&["GHOST-1"], "cutter")),
    ];
    for (signer, action) in cases {
        assert_act_refused(&mut chain, signer, action, reason());
    }
}

// --- weights ---

#[test]
fn registering_a_stone_of_zero_carats_is_refused_with_implausible_carats() {
    let mut chain = TestChain::new();
    let reason = RejectReason::ImplausibleCarats {
        stone: stone("R-1"),
        carats: Carats(0),
    };
    assert_act_refused(&mut chain, "mine", register("R-1", 0), reason);
}

#[test]
fn registering_a_stone_heavier_than_carats_max_is_refused_with_implausible_carats() {
    let mut chain = TestChain::new();
    let too_heavy = CARATS_MAX.0 + 1;
    let reason = RejectReason::ImplausibleCarats {
        stone: stone("R-1"),
        carats: Carats(too_heavy),
    };
    assert_act_refused(&mut chain, "mine", register("R-1", too_heavy), reason);

    // The maximum itself is plausible.
    chain.must("mine", register("R-2", CARATS_MAX.0));
}

#[test]
fn a_polished_output_of_zero_carats_is_refused_with_implausible_carats() {
    let mut chain = held_by("cutter", "R-1");
    let reason = RejectReason::ImplausibleCarats {
        stone: stone("P-2"),
        carats: Carats(0),
    };
    let cut = manufacture("R-1", &[("P-1", 500), ("P-2", 0)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);
}

#[test]
fn a_grading_report_of_zero_carats_is_refused_with_implausible_carats() {
    let mut chain = TestChain::journey();
    let reason = RejectReason::ImplausibleCarats {
        stone: stone("POL-2"),
        carats: Carats(0),
    };
    assert_act_refused(&mut chain, "lab", grade("POL-2", 0), reason);
}

// --- custody and status ---

#[test]
fn moving_a_stone_held_by_someone_else_is_refused_with_not_custodian() {
    let mut chain = chain_with(&["R-1"]);
    let reason = RejectReason::NotCustodian {
        stone: stone("R-1"),
        signer: org("trader"),
        custodian: org("mine"),
    };
    assert_act_refused(&mut chain, "trader", propose(&["R-1"], "cutter"), reason);
}

#[test]
fn cutting_a_rough_held_by_someone_else_is_refused_with_not_custodian() {
    let mut chain = chain_with(&["R-1"]);
    let reason = RejectReason::NotCustodian {
        stone: stone("R-1"),
        signer: org("cutter"),
        custodian: org("mine"),
    };
    let cut = manufacture("R-1", &[("P-1", 500)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);
}

#[test]
fn a_non_custodian_moving_a_sold_stone_gets_not_custodian_and_the_custodian_gets_stone_sold() {
    // Custody is checked before status: an outsider learns nothing about the sale.
    let mut chain = TestChain::journey();
    let outsider = RejectReason::NotCustodian {
        stone: stone("POL-1"),
        signer: org("cutter"),
        custodian: org("retailer"),
    };
    assert_act_refused(
        &mut chain,
        "cutter",
        propose(&["POL-1"], "trader"),
        outsider,
    );

    let sold = || RejectReason::StoneSold {
        stone: stone("POL-1"),
    };
    let resale = propose(&["POL-1"], "trader");
    assert_act_refused(&mut chain, "retailer", resale, sold());
    assert_act_refused(&mut chain, "retailer", sell("POL-1"), sold());
}

#[test]
fn grading_a_sold_stone_is_refused_with_stone_sold() {
    let mut chain = TestChain::journey();
    let reason = RejectReason::StoneSold {
        stone: stone("POL-1"),
    };
    assert_act_refused(&mut chain, "lab", grade("POL-1", 400), reason);
}

#[test]
fn a_rough_that_was_cut_is_refused_with_stone_consumed_whatever_is_tried() {
    let mut chain = TestChain::journey();
    let reason = || RejectReason::StoneConsumed {
        stone: stone("ROUGH-1"),
    };
    let cases = [
        ("cutter", propose(&["ROUGH-1"], "retailer")),
        ("cutter", manufacture("ROUGH-1", &[("POL-9", 100)])),
        ("lab", grade("ROUGH-1", 1000)),
        ("auditor", flag("ROUGH-1", FlagReason::Disputed)),
        ("cutter", clear_flag("ROUGH-1")),
    ];
    for (signer, action) in cases {
        assert_act_refused(&mut chain, signer, action, reason());
    }
}

#[test]
fn moving_a_flagged_stone_is_refused_with_stone_flagged() {
    let mut chain = chain_with(&["R-1"]);
    chain.must("auditor", flag("R-1", FlagReason::Stolen));
    let reason = RejectReason::StoneFlagged {
        stone: stone("R-1"),
        reason: FlagReason::Stolen,
    };
    assert_act_refused(&mut chain, "mine", propose(&["R-1"], "cutter"), reason);
}

#[test]
fn cutting_a_flagged_rough_is_refused_with_stone_flagged() {
    let mut chain = held_by("cutter", "R-1");
    chain.must("cutter", flag("R-1", FlagReason::Disputed));
    let reason = RejectReason::StoneFlagged {
        stone: stone("R-1"),
        reason: FlagReason::Disputed,
    };
    let cut = manufacture("R-1", &[("P-1", 500)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);
}

#[test]
fn a_sold_stone_that_is_also_flagged_is_refused_with_stone_sold() {
    // Status comes before the flag.
    let mut chain = TestChain::journey();
    chain.must("retailer", flag("POL-1", FlagReason::Stolen));
    let reason = RejectReason::StoneSold {
        stone: stone("POL-1"),
    };
    assert_act_refused(&mut chain, "retailer", sell("POL-1"), reason);
}

#[test]
fn a_flagged_stone_in_an_open_proposal_is_refused_with_stone_flagged() {
    // The flag comes before the proposal lock.
    let mut chain = chain_with(&["R-1"]);
    let offer = chain.must("mine", propose(&["R-1"], "cutter"));
    chain.must("auditor", flag("R-1", FlagReason::Lost));
    let reason = RejectReason::StoneFlagged {
        stone: stone("R-1"),
        reason: FlagReason::Lost,
    };
    assert_act_refused(&mut chain, "mine", propose(&["R-1"], "trader"), reason);
    assert_eq!(
        chain
            .state
            .stone(&stone("R-1"))
            .unwrap()
            .unwrap()
            .open_proposal,
        Some(offer)
    );
}

#[test]
fn cutting_or_selling_a_stone_offered_in_an_open_proposal_is_refused_with_stone_in_open_proposal() {
    let mut chain = held_by("cutter", "R-1");
    let offer = chain.must("cutter", propose(&["R-1"], "trader"));
    let reason = RejectReason::StoneInOpenProposal {
        stone: stone("R-1"),
        proposal: offer,
    };
    let cut = manufacture("R-1", &[("P-1", 500)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);

    let mut chain = TestChain::journey();
    chain.must("mine", register("R-2", 1000));
    hand_over(&mut chain, "mine", "R-2", "retailer");
    let offer = chain.must("retailer", propose(&["R-2"], "trader"));
    let reason = RejectReason::StoneInOpenProposal {
        stone: stone("R-2"),
        proposal: offer,
    };
    assert_act_refused(&mut chain, "retailer", sell("R-2"), reason);
}

// --- manufacture ---

#[test]
fn cutting_a_polished_stone_is_refused_with_not_rough() {
    let mut chain = TestChain::journey();
    let reason = RejectReason::NotRough {
        stone: stone("POL-2"),
    };
    let recut = manufacture("POL-2", &[("POL-2A", 100)]);
    assert_act_refused(&mut chain, "cutter", recut, reason);
}

#[test]
fn a_manufacture_without_outputs_is_refused_with_no_outputs() {
    let mut chain = held_by("cutter", "R-1");
    assert_act_refused(
        &mut chain,
        "cutter",
        manufacture("R-1", &[]),
        RejectReason::NoOutputs,
    );
}

#[test]
fn outputs_heavier_than_the_rough_are_refused_with_carats_exceeded() {
    let mut chain = held_by("cutter", "R-1");
    let reason = RejectReason::CaratsExceeded {
        rough: Carats(1000),
        outputs: Carats(1001),
    };
    let cut = manufacture("R-1", &[("P-1", 600), ("P-2", 401)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);

    // Exactly the rough's weight is allowed (a perfect, lossless cut).
    chain.must("cutter", manufacture("R-1", &[("P-1", 600), ("P-2", 400)]));
}

#[test]
fn an_output_id_repeated_in_one_manufacture_is_refused_with_duplicate_stone() {
    let mut chain = held_by("cutter", "R-1");
    let reason = RejectReason::DuplicateStone {
        stone: stone("P-1"),
    };
    let cut = manufacture("R-1", &[("P-1", 300), ("P-2", 300), ("P-1", 300)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);
}

#[test]
fn an_output_named_like_its_own_rough_is_refused_with_duplicate_stone() {
    let mut chain = held_by("cutter", "R-1");
    let reason = RejectReason::DuplicateStone {
        stone: stone("R-1"),
    };
    let cut = manufacture("R-1", &[("R-1", 300)]);
    assert_act_refused(&mut chain, "cutter", cut, reason);
}

// --- flags ---

#[test]
fn flagging_a_flagged_stone_is_refused_with_already_flagged_and_the_first_flag_stays() {
    let mut chain = chain_with(&["R-1"]);
    chain.must("mine", flag("R-1", FlagReason::Stolen));
    let reason = RejectReason::AlreadyFlagged {
        stone: stone("R-1"),
        reason: FlagReason::Stolen,
    };
    assert_act_refused(&mut chain, "auditor", flag("R-1", FlagReason::Lost), reason);
    let held = chain.state.stone(&stone("R-1")).unwrap().unwrap();
    assert_eq!(held.flag, Some(FlagReason::Stolen));
}

#[test]
fn clearing_a_stone_without_a_flag_is_refused_with_not_flagged() {
    let mut chain = chain_with(&["R-1"]);
    let reason = RejectReason::NotFlagged {
        stone: stone("R-1"),
    };
    assert_act_refused(&mut chain, "mine", clear_flag("R-1"), reason);
}

#[test]
fn flagging_by_a_member_who_is_not_custodian_auditor_or_admin_is_refused_with_not_entitled() {
    let mut chain = chain_with(&["R-1"]);
    let reason = RejectReason::NotEntitledToFlag {
        org: org("lab"),
        stone: stone("R-1"),
    };
    assert_act_refused(&mut chain, "lab", flag("R-1", FlagReason::Stolen), reason);
}

#[test]
fn clearing_a_flag_by_a_member_who_is_not_entitled_is_refused_with_not_entitled() {
    let mut chain = chain_with(&["R-1"]);
    chain.must("auditor", flag("R-1", FlagReason::Disputed));
    let reason = RejectReason::NotEntitledToFlag {
        org: org("trader"),
        stone: stone("R-1"),
    };
    assert_act_refused(&mut chain, "trader", clear_flag("R-1"), reason);
    // Entitled members may: an admin that is not the custodian clears it.
    assert_eq!(chain.act("registry", clear_flag("R-1")).0, Outcome::Applied);
}
