//! Proofs anchored on a quorum certificate: a tip counts only when a majority
//! of the nodes in force there signed it, so a chain of anyone's own making,
//! however self-consistent, does not verify.

use gemtrail_ledger::certificate::{CertificateError, Checkpoint, QuorumCertificate};
use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::NodeId;
use gemtrail_ledger::model::{Governance, Member, Role};
use gemtrail_ledger::proof::{build_proof, verify_proof, ProofError, ProvenanceProof};
use gemtrail_ledger::testkit::{
    self, accept, certify, key_for, org, propose, register, stone, TestChain,
};

fn verify(chain: &TestChain, proof: &ProvenanceProof) -> Result<(), ProofError> {
    verify_proof(&chain.consortium.genesis, proof).map(|_| ())
}

/// `proof` with its tip signed by the test nodes `nodes`.
fn signed_by(chain: &TestChain, proof: &ProvenanceProof, nodes: &[u64]) -> ProvenanceProof {
    let mut signed = proof.clone();
    signed.certificate = certify(&chain.consortium.chain_id(), proof.checkpoint(), nodes);
    signed
}

fn journey_proof() -> (TestChain, ProvenanceProof) {
    let chain = TestChain::journey();
    let proof = build_proof(&chain, &stone("POL-1")).unwrap();
    (chain, proof)
}

#[test]
fn a_tip_certified_by_two_of_three_nodes_verifies_and_names_them() {
    let (chain, proof) = journey_proof();
    let journey = verify_proof(
        &chain.consortium.genesis,
        &signed_by(&chain, &proof, &[1, 3]),
    )
    .unwrap()
    .into_journey();
    assert_eq!(journey.certified_by, vec![NodeId(1), NodeId(3)]);
}

#[test]
fn a_proof_straight_from_the_store_is_not_yet_certified() {
    let (chain, proof) = journey_proof();
    assert_eq!(
        verify(&chain, &proof),
        Err(ProofError::Uncertified(CertificateError::NoQuorum {
            signed: 0,
            nodes: 3,
            needed: 2
        }))
    );
}

#[test]
fn a_tip_certified_by_one_node_of_three_is_refused() {
    let (chain, proof) = journey_proof();
    assert_eq!(
        verify(&chain, &signed_by(&chain, &proof, &[2])),
        Err(ProofError::Uncertified(CertificateError::NoQuorum {
            signed: 1,
            nodes: 3,
            needed: 2
        }))
    );
}

#[test]
fn a_certificate_signed_by_a_node_removed_before_the_tip_is_refused() {
    let mut chain = TestChain::journey();
    let remove = chain.consortium.governance(
        &["mine", "auditor"],
        90,
        Governance::RemoveNode { node: NodeId(3) },
    );
    assert!(chain.submit(remove).is_applied());
    let proof = build_proof(&chain, &stone("POL-1")).unwrap();
    let tip = proof.tip.height;
    // Node 3 still holds its key, but no longer counts at the tip.
    assert_eq!(
        verify(&chain, &signed_by(&chain, &proof, &[2, 3])),
        Err(ProofError::Uncertified(CertificateError::NotANode {
            node: NodeId(3),
            height: tip
        }))
    );
    // The two nodes left are a majority of two.
    assert_eq!(verify(&chain, &signed_by(&chain, &proof, &[1, 2])), Ok(()));
}

#[test]
fn a_certificate_of_another_block_is_refused() {
    let (mut chain, proof) = journey_proof();
    let earlier = signed_by(&chain, &proof, &[1, 2, 3]).certificate;
    chain.must("mine", register("ROUGH-9", 100));
    let mut later = build_proof(&chain, &stone("POL-1")).unwrap();
    later.certificate = earlier;
    assert_eq!(
        verify(&chain, &later),
        Err(ProofError::Uncertified(CertificateError::OtherBlock {
            height: proof.tip.height,
            certified: proof.tip_hash,
            offered: later.tip_hash
        }))
    );
}

#[test]
fn a_certificate_of_the_tip_hash_with_another_time_is_refused() {
    let (chain, proof) = journey_proof();
    let mut wrong_time = proof.checkpoint();
    wrong_time.timestamp_ms += 1;
    let mut forged = proof.clone();
    forged.certificate = certify(&chain.consortium.chain_id(), wrong_time, &[1, 2, 3]);
    assert_eq!(
        verify(&chain, &forged),
        Err(ProofError::CertificateForOtherTip {
            height: proof.tip.height
        })
    );
}

#[test]
fn certify_attaches_only_a_certificate_of_the_proofs_own_tip() {
    let (chain, mut proof) = journey_proof();
    let other = Checkpoint {
        height: 1,
        ..proof.checkpoint()
    };
    let chain_id = chain.consortium.chain_id();
    let refused = certify(&chain_id, other, &[1, 2]);
    assert_eq!(proof.certify(refused.clone()), Err(refused));
    assert_eq!(
        proof.certify(certify(&chain_id, proof.checkpoint(), &[1, 2])),
        Ok(())
    );
    assert_eq!(verify(&chain, &proof), Ok(()));
}

fn broker_key() -> SecretKey {
    key_for("broker")
}

/// The broker joins, takes ROUGH-1, and (when `rotate`) has its key rotated
/// away; then the key it held first offers the rough on to the cutter.
fn broker_chain(rotate: bool) -> TestChain {
    let mut chain = TestChain::new();
    let members = chain.consortium.clone();
    chain.must("mine", register("ROUGH-1", 1000));
    let broker = Member {
        org: org("broker"),
        name: testkit::text("Broker ltd"),
        roles: [Role::Trader].into_iter().collect(),
        keys: gemtrail_ledger::codec::BoundedVec::new(vec![broker_key().public_key()]).unwrap(),
    };
    let admit = members.governance(&["mine", "auditor"], 2, Governance::AddMember(broker));
    assert!(chain.submit(admit).is_applied());
    let offer = chain.must("mine", propose(&["ROUGH-1"], "broker"));
    let take = members
        .unsigned("broker", 4, accept(offer))
        .sign(&broker_key());
    assert!(chain.submit(take).is_applied());
    if rotate {
        let rotate = members.governance(
            &["auditor", "registry"],
            5,
            Governance::RotateKey {
                org: org("broker"),
                old: broker_key().public_key(),
                new: key_for("broker rotated").public_key(),
            },
        );
        assert!(chain.submit(rotate).is_applied());
    }
    let onward = members
        .unsigned("broker", 6, propose(&["ROUGH-1"], "cutter"))
        .sign(&broker_key());
    chain.submit(onward);
    chain
}

#[test]
fn a_chain_resealed_without_its_rotate_key_carrying_an_event_signed_by_the_retired_key_is_refused()
{
    // On the real chain the retired key's offer was refused.
    let real = broker_chain(true);
    let real_proof = testkit::certified_proof(&real, &stone("ROUGH-1")).unwrap();
    assert!(!real.blocks.last().unwrap().receipts[0].outcome.is_applied());
    // A forger rebuilds the chain without the rotation: every header, root and
    // signature in it is consistent, and the retired key's offer is its tip.
    let forged_chain = broker_chain(false);
    let mut forged = build_proof(&forged_chain, &stone("ROUGH-1")).unwrap();
    let last = forged.events.as_slice().last().unwrap();
    assert_eq!(last.location.height, forged.tip.height);
    assert_eq!(
        last.transaction.approvals.as_slice()[0].key,
        broker_key().public_key()
    );
    // With the real chain's certificate, with none, or signed by one node.
    let real_certificate: QuorumCertificate = real_proof.certificate.clone();
    forged.certificate = real_certificate;
    assert!(matches!(
        verify(&real, &forged),
        Err(ProofError::Uncertified(CertificateError::OtherBlock { .. }))
    ));
    let unsigned = build_proof(&forged_chain, &stone("ROUGH-1")).unwrap();
    assert!(matches!(
        verify(&real, &unsigned),
        Err(ProofError::Uncertified(CertificateError::NoQuorum {
            signed: 0,
            ..
        }))
    ));
    assert!(matches!(
        verify(&real, &signed_by(&real, &unsigned, &[1])),
        Err(ProofError::Uncertified(CertificateError::NoQuorum {
            signed: 1,
            ..
        }))
    ));
}
