//! Provenance proofs: built from the in-memory chain, verified with nothing but
//! the genesis, the journey they tell, and every class of tampering refused with
//! the exact error.

use std::sync::OnceLock;

use gemtrail_ledger::codec::{decode, encode, BoundedVec};
use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::{BlockHash, ChainId, Digest};
use gemtrail_ledger::machine::{receipt_leaf, tx_leaf};
use gemtrail_ledger::merkle;
use gemtrail_ledger::model::{
    Action, Carats, Date, FlagReason, Governance, Member, RejectReason, Role, SignedTransaction,
    StoneStatus, Transaction,
};
use gemtrail_ledger::proof::{
    build_proof, verify_proof, ProofBuildError, ProofError, ProvenEvent, ProvenHeader,
    ProvenanceProof, StepKind, TxLocation,
};
use gemtrail_ledger::state::GenesisState;
use gemtrail_ledger::state_tree::{self, MemoryStateNodes};
use gemtrail_ledger::testkit::{
    self, accept, clear_flag, flag, four_cs, key_for, org, propose, register, sell, stone,
    TestChain, GENESIS_TIME_MS,
};
use proptest::prelude::*;

// --- fixtures --------------------------------------------------------------

/// The proof of stone `id`, certified by all three test nodes.
fn proof_of(chain: &TestChain, id: &str) -> ProvenanceProof {
    testkit::certified_proof(chain, &stone(id)).unwrap()
}

fn genesis(chain: &TestChain) -> &GenesisState {
    &chain.consortium.genesis
}

/// The classic journey and the proof of POL-1.
fn journey() -> (TestChain, ProvenanceProof) {
    let chain = TestChain::journey();
    let proof = proof_of(&chain, "POL-1");
    (chain, proof)
}

fn verify(chain: &TestChain, proof: &ProvenanceProof) -> Result<(), ProofError> {
    verify_proof(genesis(chain), proof).map(|_| ())
}

fn block_time_ms(height: u64) -> u64 {
    GENESIS_TIME_MS + 1_000 * height
}

fn applies(chain: &mut TestChain, transactions: Vec<SignedTransaction>) {
    let block = chain.apply(transactions);
    for receipt in &block.receipts {
        assert!(receipt.outcome.is_applied(), "{receipt:?}");
    }
}

fn broker_key() -> SecretKey {
    key_for("broker")
}

fn rotated_broker_key() -> SecretKey {
    key_for("broker rotated")
}

fn broker() -> Member {
    Member {
        org: org("broker"),
        name: testkit::text("Broker ltd"),
        roles: [Role::Trader].into_iter().collect(),
        keys: BoundedVec::new(vec![broker_key().public_key()]).unwrap(),
    }
}

/// A chain with governance and blocks of several transactions:
/// 1: mine registers R-A, ROUGH-1 (index 1 of 3) and R-B;
/// 2: mine and auditor admit the broker;
/// 3: mine offers R-B to the cutter, then ROUGH-1 with R-A to the broker;
/// 4: auditor and registry rotate the broker's key, then the broker accepts,
///    signing with its new key (governance earlier in the same block counts).
fn governed_chain() -> TestChain {
    let mut chain = TestChain::new();
    let members = chain.consortium.clone();
    let registrations = vec![
        members.tx("mine", 1, register("R-A", 500)),
        members.tx("mine", 2, register("ROUGH-1", 1000)),
        members.tx("mine", 3, register("R-B", 700)),
    ];
    applies(&mut chain, registrations);
    let admit = members.governance(&["mine", "auditor"], 4, Governance::AddMember(broker()));
    applies(&mut chain, vec![admit]);
    let offer = members.tx("mine", 5, propose(&["ROUGH-1", "R-A"], "broker"));
    let offer_id = offer.id();
    applies(
        &mut chain,
        vec![members.tx("mine", 6, propose(&["R-B"], "cutter")), offer],
    );
    let rotate = members.governance(
        &["auditor", "registry"],
        7,
        Governance::RotateKey {
            org: org("broker"),
            old: broker_key().public_key(),
            new: rotated_broker_key().public_key(),
        },
    );
    let answer = members
        .unsigned("broker", 8, accept(offer_id))
        .sign(&rotated_broker_key());
    applies(&mut chain, vec![rotate, answer]);
    chain
}

/// What a forger who controls every byte of the proof can do after tampering
/// with events in single-transaction blocks: point each receipt at its (new)
/// transaction, recompute those blocks' roots, build a history tree of its
/// own over the altered headers and reclaim the tip. What is left to catch
/// the forgery is the verifier's own replay.
fn reseal(proof: &mut ProvenanceProof, chain: &TestChain) {
    let chain_id = &chain.consortium.chain_id();
    let mut headers = proof.headers.clone().into_inner();
    let mut events = proof.events.clone().into_inner();
    for event in events.iter_mut() {
        event.receipt.tx_id = event.transaction.id();
        let height = event.location.height;
        let header = if height == proof.tip.height {
            &mut proof.tip
        } else {
            &mut headers
                .iter_mut()
                .find(|proven| proven.header.height == height)
                .unwrap()
                .header
        };
        assert_eq!(
            header.tx_count, 1,
            "reseal handles single-transaction blocks"
        );
        header.tx_root = tx_leaf(chain_id, &event.transaction);
        header.receipts_root = receipt_leaf(chain_id, &event.receipt);
    }
    proof.headers = BoundedVec::new(headers).unwrap();
    proof.events = BoundedVec::new(events).unwrap();
    rebuild_history(proof, chain);
}

/// Gives the proof a history tree of the forger's own: the genesis hash and
/// the carried headers' hashes at their heights, filler elsewhere.
fn rebuild_history(proof: &mut ProvenanceProof, chain: &TestChain) {
    let chain_id = &chain.consortium.chain_id();
    let mut leaves = vec![Digest([0xf1; 32]); proof.tip.height as usize];
    leaves[0] = Digest(genesis(chain).genesis_hash.0);
    for proven in proof.headers.iter() {
        leaves[proven.header.height as usize] = Digest(proven.header.hash(chain_id).0);
    }
    proof.tip.history_root = merkle::root(&leaves);
    proof.genesis_path = merkle::path(&leaves, 0).unwrap();
    let mut headers = proof.headers.clone().into_inner();
    for proven in headers.iter_mut() {
        proven.path = merkle::path(&leaves, proven.header.height as usize).unwrap();
    }
    proof.headers = BoundedVec::new(headers).unwrap();
    proof.tip_hash = proof.tip.hash(chain_id);
    // A forger who holds a majority of the node keys as well: what is left
    // to catch the forgery is the verifier's own replay.
    proof.certificate = testkit::certify(chain_id, proof.checkpoint(), &[1, 2, 3]);
}

/// Replaces event `index` of the proof by `signer`'s re-signed `change` of it.
fn re_sign(
    chain: &TestChain,
    proof: &mut ProvenanceProof,
    index: usize,
    signer: &str,
    change: impl FnOnce(&mut Transaction),
) {
    let mut events = proof.events.clone().into_inner();
    let mut tx = events[index].transaction.tx.clone();
    tx.signer = org(signer);
    change(&mut tx);
    events[index].transaction = tx.sign(chain.consortium.key(signer));
    proof.events = BoundedVec::new(events).unwrap();
}

fn without_event(proof: &ProvenanceProof, index: usize) -> ProvenanceProof {
    let mut events = proof.events.clone().into_inner();
    events.remove(index);
    ProvenanceProof {
        events: BoundedVec::new(events).unwrap(),
        ..proof.clone()
    }
}

fn edit_event(proof: &mut ProvenanceProof, index: usize, change: impl FnOnce(&mut ProvenEvent)) {
    let mut events = proof.events.clone().into_inner();
    change(&mut events[index]);
    proof.events = BoundedVec::new(events).unwrap();
}

// --- the journey -----------------------------------------------------------

#[test]
fn the_pol_1_proof_verifies_and_tells_the_whole_journey() {
    let (chain, proof) = journey();
    let verified = verify_proof(genesis(&chain), &proof).unwrap();
    let journey = verified.journey();

    assert_eq!(journey.stone, stone("POL-1"));
    assert_eq!(journey.lineage, vec![stone("ROUGH-1"), stone("POL-1")]);
    assert_eq!(journey.origin.mine.as_str(), "Jwaneng");
    assert_eq!(journey.origin.country.as_str(), "BW");
    assert_eq!(journey.origin.extracted_on, Date::new(2026, 3, 14).unwrap());
    assert_eq!(journey.producer, org("mine"));
    assert_eq!(journey.kp_certificate, "BW-KP-2026-0042");
    assert_eq!(journey.rough_carats, Carats(1000));
    let custodians: Vec<(&str, &str, u64, Option<u64>)> = journey
        .custody
        .iter()
        .map(|p| (p.org.as_str(), p.name.as_str(), p.from_ms, p.until_ms))
        .collect();
    assert_eq!(
        custodians,
        vec![
            ("mine", "mine ltd", block_time_ms(1), Some(block_time_ms(3))),
            (
                "cutter",
                "cutter ltd",
                block_time_ms(3),
                Some(block_time_ms(7))
            ),
            ("retailer", "retailer ltd", block_time_ms(7), None),
        ]
    );
    assert_eq!(journey.custodian, org("retailer"));
    assert_eq!(journey.status, StoneStatus::Sold);
    assert_eq!(journey.flag, None);
    assert_eq!(journey.tip_height, 8);
    assert_eq!(journey.tip_hash, chain.blocks.last().unwrap().hash);
}

#[test]
fn the_pol_1_journey_lists_every_step_in_chain_order() {
    let (chain, proof) = journey();
    let verified = verify_proof(genesis(&chain), &proof).unwrap();
    let steps = &verified.journey().steps;
    let outputs = match &steps[3].kind {
        StepKind::Manufactured { outputs, .. } => outputs.clone(),
        other => panic!("step 4 is {other:?}"),
    };
    let expected = vec![
        (1, "ROUGH-1", "mine", StepKind::Registered),
        (
            2,
            "ROUGH-1",
            "mine",
            StepKind::TransferProposed { to: org("cutter") },
        ),
        (
            3,
            "ROUGH-1",
            "cutter",
            StepKind::CustodyTransferred {
                from: org("mine"),
                to: org("cutter"),
            },
        ),
        (
            4,
            "ROUGH-1",
            "cutter",
            StepKind::Manufactured {
                cutter: "Ada Facet".to_owned(),
                experience_years: 17,
                outputs,
            },
        ),
        (
            5,
            "POL-1",
            "lab",
            StepKind::Graded {
                lab: org("lab"),
                report_number: "GIA-7391".to_owned(),
                four_cs: four_cs(400),
                origin_matched: true,
            },
        ),
        (
            6,
            "POL-1",
            "cutter",
            StepKind::TransferProposed {
                to: org("retailer"),
            },
        ),
        (
            7,
            "POL-1",
            "retailer",
            StepKind::CustodyTransferred {
                from: org("cutter"),
                to: org("retailer"),
            },
        ),
        (
            8,
            "POL-1",
            "retailer",
            StepKind::Sold {
                retailer: org("retailer"),
                branding: None,
            },
        ),
    ];
    let found: Vec<(u64, &str, &str, StepKind)> = steps
        .iter()
        .map(|s| {
            (
                s.height,
                s.stone.as_str(),
                s.signer.as_str(),
                s.kind.clone(),
            )
        })
        .collect();
    assert_eq!(found, expected);
    for step in steps {
        assert_eq!(step.timestamp_ms, block_time_ms(step.height));
    }
    let cut: Vec<(&str, u64)> = match &steps[3].kind {
        StepKind::Manufactured { outputs, .. } => outputs
            .iter()
            .map(|o| (o.stone_id.as_str(), o.four_cs.carats.0))
            .collect(),
        _ => unreachable!(),
    };
    assert_eq!(cut, vec![("POL-1", 400), ("POL-2", 350)]);
}

#[test]
fn the_journey_text_reads_from_mine_to_sale() {
    let (chain, proof) = journey();
    let text = verify_proof(genesis(&chain), &proof).unwrap().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Provenance of POL-1 (verified)");
    assert_eq!(
        lines[1],
        "  complete history as of 2026-09-21 14:13:28 UTC (block 8), certified by nodes 1, 2, 3"
    );
    let lines = [&lines[..1], &lines[2..]].concat();
    assert_eq!(lines[1], "  lineage:   ROUGH-1 -> POL-1");
    assert_eq!(
        lines[2],
        "  origin:    Jwaneng mine, Southern District, BW; extracted 2026-03-14"
    );
    assert_eq!(
        lines[3],
        "  producer:  mine; Kimberley Process certificate BW-KP-2026-0042; rough 10.00 ct"
    );
    assert_eq!(lines[4], "Custody:");
    assert_eq!(
        lines[5],
        "  mine ltd (mine) from 2026-09-21 14:13:21 UTC until 2026-09-21 14:13:23 UTC"
    );
    assert_eq!(
        lines[12],
        "  #4 2026-09-21 14:13:24 UTC ROUGH-1: cut by Ada Facet (17 years) at cutter into POL-1 (4.00 ct), POL-2 (3.50 ct)"
    );
    assert_eq!(
        lines[13],
        "  #5 2026-09-21 14:13:25 UTC POL-1: graded by lab, report GIA-7391: 4.00 ct E VVS1 Excellent; origin matched"
    );
    assert_eq!(
        lines[16],
        "  #8 2026-09-21 14:13:28 UTC POL-1: sold by retailer"
    );
    assert_eq!(
        lines[7],
        "  retailer ltd (retailer) from 2026-09-21 14:13:27 UTC still as of 2026-09-21 14:13:28 UTC"
    );
    assert_eq!(
        lines[17],
        "As of 2026-09-21 14:13:28 UTC: sold held by retailer; flag: none"
    );
    assert_eq!(
        lines[18],
        format!("Tip: height 8 hash {}", chain.blocks.last().unwrap().hash)
    );
    assert_eq!(lines.len(), 19);
}

#[test]
fn the_proof_holds_each_lineage_event_once_in_chain_order() {
    let (_, proof) = journey();
    let heights: Vec<u64> = proof.events.iter().map(|e| e.location.height).collect();
    assert_eq!(heights, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    // Block 8 is the tip; the proof carries the seven below it.
    assert_eq!(proof.tip.height, 8);
    let carried: Vec<u64> = proof.headers.iter().map(|p| p.header.height).collect();
    assert_eq!(carried, vec![1, 2, 3, 4, 5, 6, 7]);
    assert!(proof.governance.is_empty());
}

#[test]
fn the_sibling_pol_2_and_the_rough_verify_with_their_own_lineage() {
    let chain = TestChain::journey();
    let pol_2 = verify_proof(genesis(&chain), &proof_of(&chain, "POL-2")).unwrap();
    let journey = pol_2.journey();
    assert_eq!(journey.lineage, vec![stone("ROUGH-1"), stone("POL-2")]);
    assert_eq!(journey.steps.len(), 4);
    assert_eq!(journey.custodian, org("cutter"));
    assert_eq!(journey.status, StoneStatus::Active);

    let rough = verify_proof(genesis(&chain), &proof_of(&chain, "ROUGH-1")).unwrap();
    assert_eq!(rough.journey().lineage, vec![stone("ROUGH-1")]);
    assert_eq!(rough.journey().status, StoneStatus::Consumed);
    assert_eq!(rough.journey().custodian, org("cutter"));
}

#[test]
fn a_proof_survives_the_canonical_encoding() {
    let (chain, proof) = journey();
    let decoded: ProvenanceProof = decode(&encode(&proof)).unwrap();
    assert_eq!(decoded, proof);
    let from_decoded = verify_proof(genesis(&chain), &decoded).unwrap();
    let from_original = verify_proof(genesis(&chain), &proof).unwrap();
    assert_eq!(from_decoded, from_original);
}

#[test]
fn a_proof_of_an_unknown_stone_cannot_be_built() {
    let chain = TestChain::journey();
    let error = build_proof(&chain, &stone("NOPE-1")).unwrap_err();
    assert!(
        matches!(&error, ProofBuildError::UnknownStone { stone: s } if s == &stone("NOPE-1")),
        "{error:?}"
    );
}

#[test]
fn flags_and_their_clearance_are_part_of_the_journey() {
    let mut chain = TestChain::new();
    chain.must("mine", register("R-9", 300));
    chain.must("auditor", flag("R-9", FlagReason::Stolen));
    chain.must("auditor", clear_flag("R-9"));
    let offer = chain.must("mine", propose(&["R-9"], "cutter"));
    chain.must("cutter", accept(offer));
    let proof = proof_of(&chain, "R-9");
    let verified = verify_proof(genesis(&chain), &proof).unwrap();
    let kinds: Vec<StepKind> = verified
        .journey()
        .steps
        .iter()
        .map(|s| s.kind.clone())
        .collect();
    assert_eq!(
        kinds[1..3],
        [
            StepKind::Flagged {
                reason: FlagReason::Stolen,
                by: org("auditor")
            },
            StepKind::FlagCleared { by: org("auditor") }
        ]
    );
    // Leaving out the clearance leaves the stone moving while flagged.
    assert_eq!(
        verify(&chain, &without_event(&proof, 2)),
        Err(ProofError::StoneMovedWhileFlagged {
            height: 4,
            stone: stone("R-9"),
            reason: FlagReason::Stolen
        })
    );
}

#[test]
fn refused_and_withdrawn_offers_are_part_of_the_journey() {
    let mut chain = TestChain::new();
    chain.must("mine", register("R-5", 300));
    let refused = chain.must("mine", propose(&["R-5"], "trader"));
    chain.must("trader", testkit::reject(refused));
    let withdrawn = chain.must("mine", propose(&["R-5"], "cutter"));
    chain.must("mine", testkit::cancel(withdrawn));
    let offer = chain.must("mine", propose(&["R-5"], "cutter"));
    chain.must("cutter", accept(offer));
    let proof = proof_of(&chain, "R-5");
    let verified = verify_proof(genesis(&chain), &proof).unwrap();
    let kinds: Vec<StepKind> = verified
        .journey()
        .steps
        .iter()
        .map(|s| s.kind.clone())
        .collect();
    assert_eq!(kinds[2], StepKind::TransferRejected);
    assert_eq!(kinds[4], StepKind::TransferCancelled);
    assert_eq!(verified.journey().custodian, org("cutter"));
    // Without the refusal, the stone is still locked when offered again.
    assert_eq!(
        verify(&chain, &without_event(&proof, 2)),
        Err(ProofError::StoneInOpenProposal {
            height: 4,
            stone: stone("R-5"),
            proposal: refused
        })
    );
}

// --- governance --------------------------------------------------------------

#[test]
fn a_journey_through_governance_verifies() {
    let chain = governed_chain();
    let proof = proof_of(&chain, "ROUGH-1");
    assert_eq!(proof.governance.len(), 2);
    let verified = verify_proof(genesis(&chain), &proof).unwrap();
    let journey = verified.journey();
    let custodians: Vec<(&str, &str)> = journey
        .custody
        .iter()
        .map(|p| (p.org.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(
        custodians,
        vec![("mine", "mine ltd"), ("broker", "Broker ltd")]
    );
    let locations: Vec<(u64, &str)> = journey
        .steps
        .iter()
        .map(|s| (s.height, s.signer.as_str()))
        .collect();
    assert_eq!(locations, vec![(1, "mine"), (3, "mine"), (4, "broker")]);
    assert_eq!(journey.custodian, org("broker"));
}

#[test]
fn leaving_out_a_governance_transaction_breaks_the_membership_root() {
    let chain = governed_chain();
    let proof = proof_of(&chain, "ROUGH-1");
    let mut governance = proof.governance.clone().into_inner();
    governance.remove(0);
    let without_admission = ProvenanceProof {
        governance: BoundedVec::new(governance).unwrap(),
        ..proof.clone()
    };
    assert_eq!(
        verify(&chain, &without_admission),
        Err(ProofError::MembershipRootMismatch { height: 2 })
    );

    // Without the rotation, the broker's new key is not yet its key when it
    // accepts later in the same block.
    let mut governance = proof.governance.clone().into_inner();
    governance.remove(1);
    let without_rotation = ProvenanceProof {
        governance: BoundedVec::new(governance).unwrap(),
        ..proof
    };
    assert_eq!(
        verify(&chain, &without_rotation),
        Err(ProofError::KeyNotOfMember {
            height: 4,
            tx_index: 1,
            org: org("broker")
        })
    );
}

#[test]
fn governance_without_an_admin_majority_is_refused_even_in_a_resealed_chain() {
    let mut chain = TestChain::new();
    chain.must("mine", register("ROUGH-1", 1000));
    let admit =
        chain
            .consortium
            .governance(&["mine", "auditor"], 7, Governance::AddMember(broker()));
    applies(&mut chain, vec![admit]);
    let mut proof = proof_of(&chain, "ROUGH-1");
    let chain_id = chain.consortium.chain_id();
    // Strip the auditor's approval; the id (what was signed) is unchanged.
    let mut governance = proof.governance.clone().into_inner();
    let mut approvals = governance[0].transaction.approvals.clone().into_inner();
    approvals.pop();
    governance[0].transaction.approvals = BoundedVec::new(approvals).unwrap();
    // The governance block is the tip.
    proof.tip.tx_root = tx_leaf(&chain_id, &governance[0].transaction);
    proof.tip_hash = proof.tip.hash(&chain_id);
    proof.governance = BoundedVec::new(governance).unwrap();
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::NotEnoughAdminApprovals {
            height: 2,
            tx_index: 0,
            approvals: 1,
            required: 2
        })
    );
}

// --- tampering: hashes and merkle paths ----------------------------------

#[test]
fn a_changed_signature_byte_is_not_in_the_block() {
    let (chain, mut proof) = journey();
    edit_event(&mut proof, 2, |event| {
        let mut approvals = event.transaction.approvals.clone().into_inner();
        approvals[0].signature.0[10] ^= 0x01;
        event.transaction.approvals = BoundedVec::new(approvals).unwrap();
    });
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::TxNotInBlock {
            height: 3,
            tx_index: 0
        })
    );
}

#[test]
fn a_changed_transaction_field_is_not_in_the_block() {
    let (chain, mut proof) = journey();
    edit_event(&mut proof, 3, |event| {
        if let Action::Manufacture(manufacture) = &mut event.transaction.tx.action {
            manufacture.cutter.experience_years = 30;
        }
    });
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::TxNotInBlock {
            height: 4,
            tx_index: 0
        })
    );
}

#[test]
fn a_swapped_receipt_is_refused() {
    let (chain, mut proof) = journey();
    let other_receipt = proof.events.as_slice()[1].receipt.clone();
    edit_event(&mut proof, 2, |event| event.receipt = other_receipt);
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::ReceiptNotInBlock {
            height: 3,
            tx_index: 0
        })
    );
}

#[test]
fn headers_outside_the_tips_history_are_refused() {
    let (chain, proof) = journey();
    let edited = |edit: &dyn Fn(&mut Vec<ProvenHeader>)| {
        let mut edited = proof.clone();
        let mut headers = edited.headers.clone().into_inner();
        edit(&mut headers);
        edited.headers = BoundedVec::new(headers).unwrap();
        verify(&chain, &edited)
    };
    assert_eq!(
        edited(&|headers| headers[4].header.prev_hash = BlockHash([7; 32])),
        Err(ProofError::HeaderNotInHistory { height: 5 })
    );
    assert_eq!(
        edited(&|headers| headers[2].header.timestamp_ms += 1),
        Err(ProofError::HeaderNotInHistory { height: 3 })
    );
    assert_eq!(
        edited(&|headers| headers[1].path = headers[2].path.clone()),
        Err(ProofError::HeaderNotInHistory { height: 2 })
    );
    assert_eq!(
        edited(&|headers| headers.swap(1, 2)),
        Err(ProofError::HeadersOutOfOrder { height: 2 })
    );
    let tip = ProvenHeader {
        header: proof.tip.clone(),
        path: proof.genesis_path.clone(),
    };
    assert_eq!(
        edited(&|headers| headers.push(tip.clone())),
        Err(ProofError::HeadersOutOfOrder { height: 8 })
    );
    // An event whose block header is left out cannot be placed.
    assert_eq!(
        edited(&|headers| {
            headers.remove(3);
        }),
        Err(ProofError::EventOutsideChain { height: 4 })
    );

    // A tip that is not the one claimed.
    let mut truncated = proof.clone();
    let mut headers = truncated.headers.clone().into_inner();
    truncated.tip = headers.pop().unwrap().header;
    truncated.headers = BoundedVec::new(headers).unwrap();
    assert_eq!(
        verify(&chain, &truncated),
        Err(ProofError::TipHashMismatch {
            computed: chain.blocks[6].hash,
            claimed: proof.tip_hash
        })
    );
}

#[test]
fn a_proof_stays_small_as_the_chain_grows() {
    let mut chain = TestChain::new();
    chain.must("mine", register("ROUGH-1", 1000));
    for n in 0..300 {
        chain.must("mine", register(&format!("FILL-{n}"), 100));
    }
    let proof = proof_of(&chain, "ROUGH-1");
    assert_eq!(proof.tip.height, 301);
    assert_eq!(proof.headers.len(), 1, "only the registration's block");
    assert!(proof.headers.as_slice()[0].path.siblings.len() <= 9);
    assert!(verify(&chain, &proof).is_ok());

    // A history tree of the forger's own (the blocks in between made up)
    // verifies, but under a tip hash no node reports: the journey shows it.
    let mut forged = proof.clone();
    rebuild_history(&mut forged, &chain);
    let journey = verify_proof(genesis(&chain), &forged).unwrap();
    assert_ne!(journey.journey().tip_hash, chain.blocks[300].hash);
    assert_eq!(proof.tip_hash, chain.blocks[300].hash);
}

#[test]
fn wrong_merkle_siblings_and_leaf_counts_are_refused() {
    let chain = governed_chain();
    let proof = proof_of(&chain, "ROUGH-1");
    // ROUGH-1 was registered at index 1 of a block of 3.
    assert_eq!(
        proof.events.as_slice()[0].location,
        TxLocation {
            height: 1,
            tx_index: 1
        }
    );

    let mut sibling = proof.clone();
    edit_event(&mut sibling, 0, |event| {
        let mut siblings = event.tx_path.siblings.clone().into_inner();
        siblings[0].0[0] ^= 0x80;
        event.tx_path.siblings = BoundedVec::new(siblings).unwrap();
    });
    assert_eq!(
        verify(&chain, &sibling),
        Err(ProofError::TxNotInBlock {
            height: 1,
            tx_index: 1
        })
    );

    let mut receipt_sibling = proof.clone();
    edit_event(&mut receipt_sibling, 0, |event| {
        let mut siblings = event.receipt_path.siblings.clone().into_inner();
        siblings[1].0[31] ^= 0x01;
        event.receipt_path.siblings = BoundedVec::new(siblings).unwrap();
    });
    assert_eq!(
        verify(&chain, &receipt_sibling),
        Err(ProofError::ReceiptNotInBlock {
            height: 1,
            tx_index: 1
        })
    );

    // Index 1 of 3 leaves hashes exactly like index 1 of 4: only the header's
    // transaction count pins the leaf count.
    let mut widened = proof.clone();
    edit_event(&mut widened, 0, |event| event.tx_path.leaf_count = 4);
    assert_eq!(
        verify(&chain, &widened),
        Err(ProofError::TxNotInBlock {
            height: 1,
            tx_index: 1
        })
    );

    let mut moved = proof;
    edit_event(&mut moved, 0, |event| event.location.tx_index = 2);
    assert_eq!(
        verify(&chain, &moved),
        Err(ProofError::TxNotInBlock {
            height: 1,
            tx_index: 2
        })
    );
}

#[test]
fn a_proof_does_not_verify_against_another_genesis() {
    let (chain, proof) = journey();
    let mut other_hash = genesis(&chain).clone();
    other_hash.genesis_hash = BlockHash([9; 32]);
    assert_eq!(
        verify_proof(&other_hash, &proof).map(|_| ()),
        Err(ProofError::GenesisNotInHistory {
            genesis: BlockHash([9; 32])
        })
    );

    let mut other_chain = genesis(&chain).clone();
    other_chain.chain_id = ChainId::parse("gemtrail-other").unwrap();
    assert_eq!(
        verify_proof(&other_chain, &proof).map(|_| ()),
        Err(ProofError::WrongChain {
            expected: ChainId::parse("gemtrail-other").unwrap(),
            found: chain.consortium.chain_id()
        })
    );

    let mut other_members = genesis(&chain).clone();
    other_members.membership.members.remove(&org("trader"));
    assert_eq!(
        verify_proof(&other_members, &proof).map(|_| ()),
        Err(ProofError::MembershipRootMismatch { height: 1 })
    );
}

// --- tampering: events left out, added or reordered ----------------------

#[test]
fn leaving_out_the_accept_breaks_custody_continuity() {
    let (chain, proof) = journey();
    assert_eq!(
        verify(&chain, &without_event(&proof, 2)),
        Err(ProofError::NotCustodian {
            height: 4,
            stone: stone("ROUGH-1"),
            signer: org("cutter"),
            custodian: org("mine")
        })
    );
}

#[test]
fn leaving_out_the_proposal_leaves_the_accept_unexplained() {
    let (chain, proof) = journey();
    let proposal = proof.events.as_slice()[1].transaction.id();
    assert_eq!(
        verify(&chain, &without_event(&proof, 1)),
        Err(ProofError::UnknownProposal {
            height: 3,
            proposal
        })
    );
}

#[test]
fn leaving_out_a_creation_breaks_the_lineage() {
    let (chain, proof) = journey();
    assert_eq!(
        verify(&chain, &without_event(&proof, 0)),
        Err(ProofError::MissingRegistration {
            stone: stone("ROUGH-1")
        })
    );
    assert_eq!(
        verify(&chain, &without_event(&proof, 3)),
        Err(ProofError::StoneNotInProof {
            stone: stone("POL-1")
        })
    );
    let asked_elsewhere = ProvenanceProof {
        stone: stone("POL-7"),
        ..proof
    };
    assert_eq!(
        verify(&chain, &asked_elsewhere),
        Err(ProofError::StoneNotInProof {
            stone: stone("POL-7")
        })
    );
}

#[test]
fn a_proof_for_the_sibling_holds_unrelated_events() {
    let (chain, proof) = journey();
    let retargeted = ProvenanceProof {
        stone: stone("POL-2"),
        ..proof
    };
    assert_eq!(
        verify(&chain, &retargeted),
        Err(ProofError::UnrelatedEvent {
            height: 5,
            tx_index: 0
        })
    );
}

#[test]
fn reordered_or_repeated_events_are_refused() {
    let (chain, proof) = journey();
    let mut events = proof.events.clone().into_inner();
    events.swap(4, 5);
    let swapped = ProvenanceProof {
        events: BoundedVec::new(events).unwrap(),
        ..proof.clone()
    };
    assert_eq!(
        verify(&chain, &swapped),
        Err(ProofError::EventsOutOfOrder {
            height: 5,
            tx_index: 0
        })
    );
    let mut events = proof.events.clone().into_inner();
    events.insert(3, events[3].clone());
    let repeated = ProvenanceProof {
        events: BoundedVec::new(events).unwrap(),
        ..proof
    };
    assert_eq!(
        verify(&chain, &repeated),
        Err(ProofError::EventsOutOfOrder {
            height: 4,
            tx_index: 0
        })
    );
}

#[test]
fn a_rejected_transaction_is_no_event() {
    let mut chain = TestChain::journey();
    let (outcome, _) = chain.act("trader", sell("POL-1"));
    assert!(!outcome.is_applied());
    let mut proof = proof_of(&chain, "POL-1");
    let block = chain.blocks.last().unwrap();
    let rejected = ProvenEvent {
        location: TxLocation {
            height: 9,
            tx_index: 0,
        },
        transaction: block.block.transactions.as_slice()[0].clone(),
        tx_path: gemtrail_ledger::merkle::path(&block.tx_leaves, 0).unwrap(),
        receipt: block.receipts[0].clone(),
        receipt_path: gemtrail_ledger::merkle::path(&block.receipt_leaves, 0).unwrap(),
    };
    let mut events = proof.events.clone().into_inner();
    events.push(rejected);
    proof.events = BoundedVec::new(events).unwrap();
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::NotApplied {
            height: 9,
            tx_index: 0,
            reason: RejectReason::MissingRole {
                org: org("trader"),
                role: Role::Retailer
            }
        })
    );
}

// --- forgeries that survive the hashes: the replay catches them ------------

#[test]
fn a_resealed_bad_signature_is_refused() {
    let (chain, mut proof) = journey();
    edit_event(&mut proof, 3, |event| {
        let mut approvals = event.transaction.approvals.clone().into_inner();
        approvals[0].signature.0[0] ^= 0x01;
        event.transaction.approvals = BoundedVec::new(approvals).unwrap();
    });
    reseal(&mut proof, &chain);
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::BadSignature {
            height: 4,
            tx_index: 0,
            org: org("cutter")
        })
    );
}

#[test]
fn a_resealed_signature_by_a_foreign_key_is_refused() {
    let (chain, mut proof) = journey();
    edit_event(&mut proof, 0, |event| {
        // Signed as "mine", but with a key mine never held.
        event.transaction = event.transaction.tx.clone().sign(&key_for("stranger"));
    });
    reseal(&mut proof, &chain);
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::KeyNotOfMember {
            height: 1,
            tx_index: 0,
            org: org("mine")
        })
    );
}

#[test]
fn an_insider_forgery_of_the_cut_is_refused() {
    let (chain, mut proof) = journey();
    re_sign(&chain, &mut proof, 3, "cutter", |tx| {
        *tx = chain.consortium.unsigned(
            "cutter",
            tx.nonce,
            testkit::manufacture("ROUGH-1", &[("POL-1", 700), ("POL-2", 350)]),
        );
    });
    reseal(&mut proof, &chain);
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::CaratsExceeded {
            height: 4,
            rough: Carats(1000),
            outputs: Carats(1050)
        })
    );
}

#[test]
fn an_insider_forgery_of_roles_and_answers_is_refused() {
    let (chain, proof) = journey();
    let proposal = proof.events.as_slice()[5].transaction.id();

    let mut sold_by_trader = proof.clone();
    re_sign(&chain, &mut sold_by_trader, 7, "trader", |_| {});
    reseal(&mut sold_by_trader, &chain);
    assert_eq!(
        verify(&chain, &sold_by_trader),
        Err(ProofError::MissingRole {
            height: 8,
            tx_index: 0,
            org: org("trader"),
            role: Role::Retailer
        })
    );

    let mut accepted_by_trader = proof.clone();
    re_sign(&chain, &mut accepted_by_trader, 6, "trader", |_| {});
    reseal(&mut accepted_by_trader, &chain);
    assert_eq!(
        verify(&chain, &accepted_by_trader),
        Err(ProofError::NotReceiver {
            height: 7,
            proposal,
            signer: org("trader"),
            receiver: org("retailer")
        })
    );

    let mut offered_by_lab = proof;
    re_sign(&chain, &mut offered_by_lab, 1, "lab", |_| {});
    reseal(&mut offered_by_lab, &chain);
    assert_eq!(
        verify(&chain, &offered_by_lab),
        Err(ProofError::NotCustodian {
            height: 2,
            stone: stone("ROUGH-1"),
            signer: org("lab"),
            custodian: org("mine")
        })
    );
}

// --- every single-byte flip is refused -------------------------------------

struct Encoded {
    genesis: GenesisState,
    bytes: Vec<u8>,
}

fn encoded(chain: TestChain, id: &str) -> Encoded {
    let proof = proof_of(&chain, id);
    verify_proof(genesis(&chain), &proof).unwrap();
    Encoded {
        genesis: genesis(&chain).clone(),
        bytes: encode(&proof),
    }
}

fn journey_bytes() -> &'static Encoded {
    static ENCODED: OnceLock<Encoded> = OnceLock::new();
    ENCODED.get_or_init(|| encoded(TestChain::journey(), "POL-1"))
}

fn governed_bytes() -> &'static Encoded {
    static ENCODED: OnceLock<Encoded> = OnceLock::new();
    ENCODED.get_or_init(|| encoded(governed_chain(), "ROUGH-1"))
}

/// Flips one byte; the result must fail to decode or fail to verify.
fn flip_at_is_refused(encoded: &Encoded, at: usize, mask: u8) -> Result<(), String> {
    let mut bytes = encoded.bytes.clone();
    bytes[at] ^= mask;
    match decode::<ProvenanceProof>(&bytes) {
        Err(_) => Ok(()),
        Ok(proof) => match verify_proof(&encoded.genesis, &proof) {
            Err(_) => Ok(()),
            Ok(_) => Err(format!(
                "flipping byte {at} with {mask:#04x} still verifies"
            )),
        },
    }
}

#[test]
fn flipping_the_low_or_high_bit_of_any_byte_is_refused() {
    // Exhaustive over positions, to complement the random masks below.
    for encoded in [journey_bytes(), governed_bytes()] {
        for at in 0..encoded.bytes.len() {
            for mask in [0x01, 0x80] {
                assert_eq!(flip_at_is_refused(encoded, at, mask), Ok(()));
            }
        }
    }
}

fn flip_is_refused(
    encoded: &Encoded,
    position: prop::sample::Index,
    mask: u8,
) -> Result<(), String> {
    flip_at_is_refused(encoded, position.index(encoded.bytes.len()), mask)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_single_byte_flip_of_the_journey_proof_verifies(
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        prop_assert_eq!(flip_is_refused(journey_bytes(), position, mask), Ok(()));
    }

    #[test]
    fn no_single_byte_flip_of_a_governed_proof_verifies(
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        prop_assert_eq!(flip_is_refused(governed_bytes(), position, mask), Ok(()));
    }
}

// --- completeness ------------------------------------------------------------

/// `proof` without the events at `indexes` (ascending).
fn without_events(proof: &ProvenanceProof, indexes: &[usize]) -> ProvenanceProof {
    indexes
        .iter()
        .rev()
        .fold(proof.clone(), |proof, &index| without_event(&proof, index))
}

#[test]
fn a_proof_missing_a_trailing_stolen_flag_is_refused() {
    let mut chain = TestChain::new();
    chain.must("mine", register("R-7", 300));
    let offer = chain.must("mine", propose(&["R-7"], "cutter"));
    chain.must("cutter", accept(offer));
    chain.must("auditor", flag("R-7", FlagReason::Stolen));
    let proof = proof_of(&chain, "R-7");
    assert_eq!(verify(&chain, &proof), Ok(()));
    let before_the_theft = without_event(&proof, 3);
    assert_eq!(
        verify(&chain, &before_the_theft),
        Err(ProofError::MissingEvents {
            stone: stone("R-7"),
            held: 3,
            count: 4
        })
    );
}

#[test]
fn a_proof_missing_a_grade_whose_origin_did_not_match_is_refused() {
    let mut chain = TestChain::new();
    chain.must("mine", register("ROUGH-1", 1000));
    let offer = chain.must("mine", propose(&["ROUGH-1"], "cutter"));
    chain.must("cutter", accept(offer));
    chain.must("cutter", testkit::manufacture("ROUGH-1", &[("POL-1", 400)]));
    let mut doubtful = testkit::grade("POL-1", 400);
    if let Action::Grade { report, .. } = &mut doubtful {
        report.origin_matched = false;
    }
    chain.must("lab", doubtful);
    let proof = proof_of(&chain, "POL-1");
    assert_eq!(verify(&chain, &proof), Ok(()));
    let last = proof.events.len() - 1;
    assert_eq!(
        verify(&chain, &without_event(&proof, last)),
        Err(ProofError::MissingEvents {
            stone: stone("POL-1"),
            held: 1,
            count: 2
        })
    );
}

/// Registers `name`, lets `pair` make two events of it, hands it to the
/// cutter, and checks that its proof without the pair is refused at the gap.
fn a_pair_left_out_is_refused(name: &str, pair: impl FnOnce(&mut TestChain)) {
    let mut chain = TestChain::new();
    chain.must("mine", register(name, 300));
    pair(&mut chain);
    let offer = chain.must("mine", propose(&[name], "cutter"));
    chain.must("cutter", accept(offer));
    let proof = proof_of(&chain, name);
    assert_eq!(verify(&chain, &proof), Ok(()));
    assert_eq!(
        verify(&chain, &without_events(&proof, &[1, 2])),
        Err(ProofError::EventOutOfSequence {
            stone: stone(name),
            expected: 1,
            found: 3
        })
    );
}

#[test]
fn a_proof_missing_a_flag_and_its_clearance_is_refused() {
    a_pair_left_out_is_refused("R-9", |chain| {
        chain.must("auditor", flag("R-9", FlagReason::Stolen));
        chain.must("auditor", clear_flag("R-9"));
    });
}

#[test]
fn a_proof_missing_a_proposal_and_its_rejection_is_refused() {
    a_pair_left_out_is_refused("R-5", |chain| {
        let refused = chain.must("mine", propose(&["R-5"], "trader"));
        chain.must("trader", testkit::reject(refused));
    });
}

#[test]
fn a_proof_without_its_state_leaves_is_refused() {
    let (chain, proof) = journey();
    let bare = ProvenanceProof {
        states: BoundedVec::default(),
        ..proof.clone()
    };
    assert_eq!(
        verify(&chain, &bare),
        Err(ProofError::MissingStateLeaf {
            stone: stone("ROUGH-1")
        })
    );
}

#[test]
fn a_state_leaf_edited_to_hide_events_is_not_in_the_state_root() {
    let (chain, proof) = journey();
    let mut states = proof.states.clone().into_inner();
    let polished = states
        .iter_mut()
        .find(|state| state.stone == stone("POL-1"))
        .unwrap();
    polished.leaf.event_count -= 1;
    let edited = ProvenanceProof {
        states: BoundedVec::new(states).unwrap(),
        ..proof.clone()
    };
    assert_eq!(
        verify(&chain, &edited),
        Err(ProofError::StateLeafNotProven {
            stone: stone("POL-1")
        })
    );
}

#[test]
fn a_state_leaf_carried_twice_or_outside_the_lineage_is_refused() {
    let (chain, proof) = journey();
    let mut states = proof.states.clone().into_inner();
    states.push(states[0].clone());
    let doubled = ProvenanceProof {
        states: BoundedVec::new(states).unwrap(),
        ..proof.clone()
    };
    assert_eq!(
        verify(&chain, &doubled),
        Err(ProofError::StateLeafNotProven {
            stone: proof.states.as_slice()[0].stone.clone()
        })
    );
    let sibling = proof_of(&chain, "POL-2");
    let mut states = proof.states.clone().into_inner();
    states.extend(
        sibling
            .states
            .iter()
            .filter(|state| state.stone == stone("POL-2"))
            .cloned(),
    );
    let foreign = ProvenanceProof {
        states: BoundedVec::new(states).unwrap(),
        ..proof.clone()
    };
    assert_eq!(
        verify(&chain, &foreign),
        Err(ProofError::StateLeafNotProven {
            stone: stone("POL-2")
        })
    );
}

#[test]
fn a_tip_resealed_over_a_state_tree_of_its_own_disagrees_with_the_events() {
    // Even a majority of node operators who certify a state root of their
    // own cannot make the leaves disagree with the events the proof replays.
    let (chain, proof) = journey();
    let chain_id = chain.consortium.chain_id();
    let mut stones = chain.state.stones().clone();
    stones.get_mut(&stone("POL-1")).unwrap().custodian = org("cutter");
    // The forger's tree holds every stone at once: version 1 of its own.
    let mut nodes = MemoryStateNodes::default();
    let forged = state_tree::update(&nodes, &chain_id, &stones, 1).unwrap();
    nodes.apply(&forged);
    let mut resealed = proof.clone();
    resealed.tip.state_root = forged.root;
    resealed.tip_hash = resealed.tip.hash(&chain_id);
    resealed.certificate = testkit::certify(&chain_id, resealed.checkpoint(), &[1, 2, 3]);
    let states: Vec<_> = proof
        .states
        .iter()
        .map(|state| state_tree::prove(&nodes, &chain_id, &stones[&state.stone], 1).unwrap())
        .collect();
    resealed.states = BoundedVec::new(states).unwrap();
    assert_eq!(
        verify(&chain, &resealed),
        Err(ProofError::StateLeafDisagrees {
            stone: stone("POL-1")
        })
    );
}
