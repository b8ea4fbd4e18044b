//! Test support, behind the `test-utils` feature: a small consortium with
//! deterministic keys, builders for every action, and an in-memory chain that
//! applies blocks through the real state machine.
//!
//! The consortium's members (org id: roles):
//! `mine`: producer, admin · `cutter`: manufacturer · `lab`: lab ·
//! `trader`: trader · `retailer`: retailer · `auditor`: auditor, admin ·
//! `registry`: admin. Governance therefore needs 2 of the 3 admins.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use crate::certificate::{peer_id_of, Checkpoint, QuorumCertificate};
use crate::codec::{BoundedString, BoundedVec};
use crate::crypto::SecretKey;
use crate::ids::{BlockHash, ChainId, Digest, NodeId, OrgId, ProposalId, StoneId, TxId};
use crate::machine::{apply_block, AppliedBlock};
use crate::model::{
    Action, Carats, CountryCode, Cutter, Date, FlagReason, FourCs, Governance, LabReport,
    Manufacture, Member, Membership, NodeRecord, Origin, PolishedOutput, ProposeTransfer,
    RegisterStone, Role, RoleSet, RoughInfo, SignedTransaction, Transaction,
};
use crate::model::{BlockProposal, Outcome};
use crate::proof::{build_proof, ProofBuildError, ProvenanceProof};
use crate::state::{GenesisState, LedgerView, MemoryState};

/// The test chain's id.
pub const CHAIN: &str = "gemtrail-test";
/// The genesis time of the test chain.
pub const GENESIS_TIME_MS: u64 = 1_790_000_000_000;

/// The members of the test consortium with their roles.
pub const MEMBERS: [(&str, &[Role]); 7] = [
    ("mine", &[Role::Producer, Role::Admin]),
    ("cutter", &[Role::Manufacturer]),
    ("lab", &[Role::Lab]),
    ("trader", &[Role::Trader]),
    ("retailer", &[Role::Retailer]),
    ("auditor", &[Role::Auditor, Role::Admin]),
    ("registry", &[Role::Admin]),
];

/// Fixtures are built from literals the tests choose: one that does not fit
/// is a bug in the test, reported with the value and where it was used.
#[track_caller]
fn fixture<T, E: std::fmt::Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("test fixture {what:?} is invalid: {error:?}"),
    }
}

/// An org id from a literal.
pub fn org(name: &str) -> OrgId {
    fixture(OrgId::parse(name), name)
}

/// A stone id from a literal.
pub fn stone(name: &str) -> StoneId {
    fixture(StoneId::parse(name), name)
}

/// A bounded string from a literal.
pub fn text<const MAX: usize>(value: &str) -> BoundedString<MAX> {
    fixture(BoundedString::new(value), value)
}

/// A deterministic key for `seed_name`.
pub fn key_for(seed_name: &str) -> SecretKey {
    let seed = blake3::hash(format!("gemtrail test key {seed_name}").as_bytes());
    SecretKey::from_seed(seed.as_bytes())
}

/// The node key of test node `id`: its peer id, in [`node_record`], holds
/// the public half, so certificates it signs verify.
pub fn node_key_for(id: u64) -> SecretKey {
    key_for(&format!("node {id}"))
}

/// `checkpoint` signed by the test nodes `nodes` (ascending ids).
pub fn certify(chain_id: &ChainId, checkpoint: Checkpoint, nodes: &[u64]) -> QuorumCertificate {
    let signatures = nodes
        .iter()
        .map(|id| checkpoint.sign(chain_id, NodeId(*id), &node_key_for(*id)))
        .collect();
    QuorumCertificate {
        checkpoint,
        signatures: fixture(BoundedVec::new(signatures), "node signatures"),
    }
}

/// The proof of `stone` at the chain's tip, certified by all three nodes.
pub fn certified_proof(
    chain: &TestChain,
    stone: &StoneId,
) -> Result<ProvenanceProof, ProofBuildError> {
    let mut proof = build_proof(chain, stone)?;
    let certificate = certify(&chain.consortium.chain_id(), proof.checkpoint(), &[1, 2, 3]);
    proof.certificate = certificate;
    Ok(proof)
}

/// A small consortium with deterministic keys.
#[derive(Clone, Debug)]
pub struct Consortium {
    pub genesis: GenesisState,
    pub keys: BTreeMap<OrgId, SecretKey>,
}

impl Default for Consortium {
    fn default() -> Self {
        Self::sample()
    }
}

impl Consortium {
    /// The seven members of [`MEMBERS`] and three nodes.
    pub fn sample() -> Self {
        let mut membership = Membership::default();
        let mut keys = BTreeMap::new();
        for (name, roles) in MEMBERS {
            let key = key_for(name);
            membership.members.insert(
                org(name),
                Member {
                    org: org(name),
                    name: text(&format!("{name} ltd")),
                    roles: roles.iter().copied().collect::<RoleSet>(),
                    keys: fixture(BoundedVec::new(vec![key.public_key()]), "member keys"),
                },
            );
            keys.insert(org(name), key);
        }
        for (id, owner) in [(1u64, "mine"), (2, "cutter"), (3, "retailer")] {
            membership.nodes.insert(NodeId(id), node_record(id, owner));
        }
        let chain_id = fixture(ChainId::parse(CHAIN), CHAIN);
        Self {
            genesis: GenesisState {
                genesis_hash: BlockHash(blake3::hash(b"test genesis").into()),
                chain_id,
                membership,
                timestamp_ms: GENESIS_TIME_MS,
            },
            keys,
        }
    }

    pub fn chain_id(&self) -> ChainId {
        self.genesis.chain_id.clone()
    }

    pub fn key(&self, name: &str) -> &SecretKey {
        &self.keys[&org(name)]
    }

    /// The unsigned transaction `signer` would send.
    pub fn unsigned(&self, signer: &str, nonce: u64, action: Action) -> Transaction {
        Transaction {
            chain_id: self.chain_id(),
            signer: org(signer),
            nonce,
            action,
        }
    }

    /// `signer` signs `action` with its own key.
    pub fn tx(&self, signer: &str, nonce: u64, action: Action) -> SignedTransaction {
        self.unsigned(signer, nonce, action).sign(self.key(signer))
    }

    /// A governance change signed by `approvers` (the first is the signer).
    pub fn governance(
        &self,
        approvers: &[&str],
        nonce: u64,
        change: Governance,
    ) -> SignedTransaction {
        let signer = approvers[0];
        let mut signed = self.tx(signer, nonce, Action::Governance(change));
        for approver in &approvers[1..] {
            signed = fixture(signed.approve(org(approver), self.key(approver)), approver);
        }
        signed
    }
}

/// A node record for tests.
pub fn node_record(id: u64, owner: &str) -> NodeRecord {
    NodeRecord {
        id: NodeId(id),
        owner: org(owner),
        peer_id: text(&peer_id_of(&node_key_for(id).public_key())),
        listen_addr: text(&format!("/ip4/127.0.0.1/tcp/{}", 17000 + id)),
        api_addr: text(&format!("127.0.0.1:{}", 18000 + id)),
    }
}

/// A sample origin.
pub fn origin() -> Origin {
    Origin {
        mine: text("Jwaneng"),
        country: fixture(CountryCode::parse("BW"), "BW"),
        region: text("Southern District"),
        extracted_on: fixture(Date::new(2026, 3, 14), "2026-03-14"),
    }
}

/// Register a rough of `carats` hundredths of a carat.
pub fn register(stone_id: &str, carats: u64) -> Action {
    Action::RegisterStone(RegisterStone {
        stone_id: stone(stone_id),
        origin: origin(),
        rough: RoughInfo {
            carats: Carats(carats),
            description: text("octahedral, light yellow"),
        },
        kp_certificate: text("BW-KP-2026-0042"),
        evidence: fixture(
            BoundedVec::new(vec![Digest(blake3::hash(b"scan").into())]),
            "evidence",
        ),
    })
}

/// Propose `stones` to `to`.
pub fn propose(stones: &[&str], to: &str) -> Action {
    Action::ProposeTransfer(ProposeTransfer {
        stones: fixture(
            BoundedVec::new(stones.iter().map(|id| stone(id)).collect()),
            "parcel",
        ),
        to: org(to),
        terms_commitment: Digest(blake3::hash(b"terms").into()),
    })
}

pub fn accept(proposal: ProposalId) -> Action {
    Action::AcceptTransfer { proposal }
}

pub fn reject(proposal: ProposalId) -> Action {
    Action::RejectTransfer { proposal }
}

pub fn cancel(proposal: ProposalId) -> Action {
    Action::CancelTransfer { proposal }
}

/// 4Cs of `carats` hundredths of a carat.
pub fn four_cs(carats: u64) -> FourCs {
    FourCs {
        carats: Carats(carats),
        colour: text("E"),
        clarity: text("VVS1"),
        cut: text("Excellent"),
    }
}

/// Cut `rough` into `outputs` (id, carats).
pub fn manufacture(rough: &str, outputs: &[(&str, u64)]) -> Action {
    Action::Manufacture(Manufacture {
        rough: stone(rough),
        outputs: fixture(
            BoundedVec::new(
                outputs
                    .iter()
                    .map(|(id, carats)| PolishedOutput {
                        stone_id: stone(id),
                        shape: text("round brilliant"),
                        four_cs: four_cs(*carats),
                    })
                    .collect(),
            ),
            "polished outputs",
        ),
        cutter: Cutter {
            name: text("Ada Facet"),
            experience_years: 17,
        },
    })
}

pub fn grade(stone_id: &str, carats: u64) -> Action {
    Action::Grade {
        stone: stone(stone_id),
        report: LabReport {
            report_number: text("GIA-7391"),
            four_cs: four_cs(carats),
            origin_matched: true,
            report_hash: Digest(blake3::hash(b"report").into()),
        },
    }
}

pub fn sell(stone_id: &str) -> Action {
    Action::Sell {
        stone: stone(stone_id),
        passport_commitment: Digest(blake3::hash(b"passport").into()),
        branding: None,
    }
}

pub fn flag(stone_id: &str, reason: FlagReason) -> Action {
    Action::Flag {
        stone: stone(stone_id),
        reason,
    }
}

pub fn clear_flag(stone_id: &str) -> Action {
    Action::ClearFlag {
        stone: stone(stone_id),
    }
}

/// A chain in memory: the real state machine over a [`MemoryState`].
#[derive(Clone, Debug)]
pub struct TestChain {
    pub consortium: Consortium,
    pub state: MemoryState,
    pub blocks: Vec<AppliedBlock>,
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

impl TestChain {
    pub fn new() -> Self {
        let consortium = Consortium::sample();
        let state = MemoryState::new(&consortium.genesis);
        Self {
            consortium,
            state,
            blocks: Vec::new(),
        }
    }

    /// The proposal the leader would send for `transactions` at the next height.
    pub fn proposal(&self, transactions: Vec<SignedTransaction>) -> BlockProposal {
        BlockProposal {
            timestamp_ms: GENESIS_TIME_MS + 1_000 * (self.state.tip().height + 1),
            transactions: fixture(BoundedVec::new(transactions), "block transactions"),
        }
    }

    /// Applies a block of `transactions` and commits it.
    pub fn apply(&mut self, transactions: Vec<SignedTransaction>) -> &AppliedBlock {
        let proposal = self.proposal(transactions);
        // A memory state has no I/O to fail.
        let applied = fixture(apply_block(&self.state, proposal), "block");
        self.state.commit(&applied);
        let index = self.blocks.len();
        self.blocks.push(applied);
        &self.blocks[index]
    }

    /// Applies one transaction in its own block and returns its outcome.
    pub fn submit(&mut self, signed: SignedTransaction) -> Outcome {
        self.apply(vec![signed]).receipts[0].outcome.clone()
    }

    /// `signer` does `action` in its own block; returns the outcome and the tx id.
    pub fn act(&mut self, signer: &str, action: Action) -> (Outcome, TxId) {
        let nonce = self.blocks.len() as u64 * 1_000 + 1;
        let signed = self.consortium.tx(signer, nonce, action);
        let id = signed.id();
        (self.submit(signed), id)
    }

    /// Like [`TestChain::act`], asserting the action was applied.
    pub fn must(&mut self, signer: &str, action: Action) -> TxId {
        let (outcome, id) = self.act(signer, action);
        assert_eq!(outcome, Outcome::Applied, "{signer} could not act");
        id
    }

    /// The classic journey: mine registers ROUGH-1 (1000 points), hands it to the
    /// cutter, who cuts it into POL-1 (400) and POL-2 (350); the lab grades POL-1;
    /// the cutter hands POL-1 to the retailer, who sells it.
    pub fn journey() -> Self {
        Self::journey_ending_with(sell("POL-1"))
    }

    /// The classic journey, with `sale` (signed by the retailer) as its last
    /// transaction instead of the plain sale of POL-1.
    pub fn journey_ending_with(sale: Action) -> Self {
        let mut chain = Self::new();
        chain.must("mine", register("ROUGH-1", 1000));
        let offer = chain.must("mine", propose(&["ROUGH-1"], "cutter"));
        chain.must("cutter", accept(offer));
        chain.must(
            "cutter",
            manufacture("ROUGH-1", &[("POL-1", 400), ("POL-2", 350)]),
        );
        chain.must("lab", grade("POL-1", 400));
        let offer = chain.must("cutter", propose(&["POL-1"], "retailer"));
        chain.must("retailer", accept(offer));
        chain.must("retailer", sale);
        chain
    }
}

/// The fuzz target `proof_verify`: a proof from arbitrary bytes, verified
/// against the sample consortium's genesis (its corpus holds that
/// consortium's real proofs, so mutations reach deep into the verifier).
/// It must refuse or accept, never panic.
pub fn fuzz_proof(bytes: &[u8]) {
    use std::sync::OnceLock;
    static GENESIS: OnceLock<GenesisState> = OnceLock::new();
    let genesis = GENESIS.get_or_init(|| Consortium::sample().genesis);
    if let Ok(proof) = crate::codec::decode::<ProvenanceProof>(bytes) {
        let _ = crate::proof::verify_proof(genesis, &proof);
    }
}
