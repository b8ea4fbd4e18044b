//! Proptest strategies for every type that is signed, hashed or stored, so the
//! property tests can round-trip and mutate arbitrary values of each.
//!
//! Values are structurally valid (ids normalised, dates real, lengths within their
//! maxima) but otherwise arbitrary: keys need not be curve points, signatures need
//! not verify, and stones need not be consistent with each other. The encoding
//! must carry any such value unchanged.

use gemtrail_ledger::codec::{BoundedString, BoundedVec};
use gemtrail_ledger::crypto::{PublicKey, Signature};
use gemtrail_ledger::ids::{BlockHash, ChainId, Digest, NodeId, OrgId, StoneId, TxId};
use gemtrail_ledger::merkle::MerklePath;
use gemtrail_ledger::model::{
    Action, Approval, Block, BlockHeader, BlockProposal, Carats, CountryCode, Cutter, Date,
    EventSeq, FlagReason, FourCs, Governance, GradeSummary, LabReport, Manufacture, Member,
    Membership, NodeRecord, Origin, Outcome, PolishedOutput, Proposal, ProposalStatus,
    ProposeTransfer, Receipt, RegisterStone, RejectReason, Role, RoleSet, RoughInfo, SaleBranding,
    SignedTransaction, Stone, StoneKind, StoneStatus, Transaction,
};
use gemtrail_ledger::proof::{
    ProvenEvent, ProvenHeader, ProvenanceProof, TxLocation, PROOF_LINEAGE_MAX,
};
use gemtrail_ledger::state_tree::ProvenStoneState;
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;

// ---------------------------------------------------------------- identifiers

pub fn stone_id() -> BoxedStrategy<StoneId> {
    prop_oneof![
        8 => "[A-Z0-9][A-Z0-9._/-]{0,15}",
        1 => "[A-Z0-9]{64}",
    ]
    .prop_map(|text| StoneId::parse(&text).unwrap())
    .boxed()
}

pub fn org_id() -> BoxedStrategy<OrgId> {
    prop_oneof![
        8 => "[a-z0-9][a-z0-9-]{0,11}",
        1 => "[a-z0-9]{32}",
    ]
    .prop_map(|text| OrgId::parse(&text).unwrap())
    .boxed()
}

pub fn chain_id() -> BoxedStrategy<ChainId> {
    prop_oneof![
        8 => "[a-z0-9][a-z0-9._-]{0,15}",
        1 => "[a-z0-9]{64}",
    ]
    .prop_map(|text| ChainId::parse(&text).unwrap())
    .boxed()
}

pub fn node_id() -> BoxedStrategy<NodeId> {
    any::<u64>().prop_map(NodeId).boxed()
}

pub fn tx_id() -> BoxedStrategy<TxId> {
    any::<[u8; 32]>().prop_map(TxId).boxed()
}

pub fn block_hash() -> BoxedStrategy<BlockHash> {
    any::<[u8; 32]>().prop_map(BlockHash).boxed()
}

pub fn digest() -> BoxedStrategy<Digest> {
    any::<[u8; 32]>().prop_map(Digest).boxed()
}

pub fn public_key() -> BoxedStrategy<PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey).boxed()
}

pub fn signature() -> BoxedStrategy<Signature> {
    any::<[u8; 64]>().prop_map(Signature).boxed()
}

// ---------------------------------------------------------------- bounded containers

/// Drops characters from the end until `text` fits in `max` bytes.
fn truncate_to(mut text: String, max: usize) -> String {
    while text.len() > max {
        text.pop();
    }
    text
}

/// Any printable text (multi-byte characters included), or exactly `MAX` bytes.
pub fn sale_branding() -> BoxedStrategy<SaleBranding> {
    (bounded_string(), proptest::option::of(bounded_string()))
        .prop_map(|(shop_name, jeweller)| SaleBranding {
            shop_name,
            jeweller,
        })
        .boxed()
}

pub fn bounded_string<const MAX: usize>() -> BoxedStrategy<BoundedString<MAX>> {
    prop_oneof![
        8 => "\\PC{0,20}".prop_map(|text| truncate_to(text, MAX)),
        1 => Just("x".repeat(MAX)),
    ]
    .prop_map(|text| BoundedString::new(text).unwrap())
    .boxed()
}

/// Up to `len_max` elements (and never more than `MAX`).
pub fn bounded_vec<T: std::fmt::Debug + 'static, const MAX: usize>(
    element: impl Strategy<Value = T> + 'static,
    len_max: usize,
) -> BoxedStrategy<BoundedVec<T, MAX>> {
    vec(element, 0..=len_max.min(MAX))
        .prop_map(|items| BoundedVec::new(items).unwrap())
        .boxed()
}

// ---------------------------------------------------------------- members

pub fn role() -> BoxedStrategy<Role> {
    prop::sample::select(Role::ALL.to_vec()).boxed()
}

/// The role set whose bits are the low 7 bits of `bits`.
pub fn role_set_of(bits: u8) -> RoleSet {
    Role::ALL
        .into_iter()
        .enumerate()
        .filter(|(index, _)| bits & (1 << index) != 0)
        .map(|(_, role)| role)
        .collect()
}

pub fn role_set() -> BoxedStrategy<RoleSet> {
    (0u8..128).prop_map(role_set_of).boxed()
}

pub fn member() -> BoxedStrategy<Member> {
    (
        org_id(),
        bounded_string(),
        role_set(),
        bounded_vec(public_key(), 3),
    )
        .prop_map(|(org, name, roles, keys)| Member {
            org,
            name,
            roles,
            keys,
        })
        .boxed()
}

pub fn node_record() -> BoxedStrategy<NodeRecord> {
    (
        node_id(),
        org_id(),
        bounded_string(),
        bounded_string(),
        bounded_string(),
    )
        .prop_map(|(id, owner, peer_id, listen_addr, api_addr)| NodeRecord {
            id,
            owner,
            peer_id,
            listen_addr,
            api_addr,
        })
        .boxed()
}

pub fn membership() -> BoxedStrategy<Membership> {
    (
        btree_map(org_id(), member(), 0..4),
        btree_map(node_id(), node_record(), 0..3),
        btree_set(org_id(), 0..3),
    )
        .prop_map(|(members, nodes, retired)| Membership {
            members,
            nodes,
            retired,
        })
        .boxed()
}

// ---------------------------------------------------------------- stones

pub fn date() -> BoxedStrategy<Date> {
    (1800u16..=9999, 1u8..=12, 1u8..=31)
        .prop_map(|(year, month, day)| {
            // Clamp the day to the month's length (Feb 29 only in leap years).
            (1..=day)
                .rev()
                .find_map(|day| Date::new(year, month, day).ok())
                .unwrap()
        })
        .boxed()
}

pub fn country_code() -> BoxedStrategy<CountryCode> {
    "[A-Z]{2}"
        .prop_map(|text| CountryCode::parse(&text).unwrap())
        .boxed()
}

pub fn carats() -> BoxedStrategy<Carats> {
    any::<u64>().prop_map(Carats).boxed()
}

pub fn origin() -> BoxedStrategy<Origin> {
    (bounded_string(), country_code(), bounded_string(), date())
        .prop_map(|(mine, country, region, extracted_on)| Origin {
            mine,
            country,
            region,
            extracted_on,
        })
        .boxed()
}

pub fn rough_info() -> BoxedStrategy<RoughInfo> {
    (carats(), bounded_string())
        .prop_map(|(carats, description)| RoughInfo {
            carats,
            description,
        })
        .boxed()
}

pub fn four_cs() -> BoxedStrategy<FourCs> {
    (
        carats(),
        bounded_string(),
        bounded_string(),
        bounded_string(),
    )
        .prop_map(|(carats, colour, clarity, cut)| FourCs {
            carats,
            colour,
            clarity,
            cut,
        })
        .boxed()
}

pub fn polished_output() -> BoxedStrategy<PolishedOutput> {
    (stone_id(), bounded_string(), four_cs())
        .prop_map(|(stone_id, shape, four_cs)| PolishedOutput {
            stone_id,
            shape,
            four_cs,
        })
        .boxed()
}

pub fn cutter() -> BoxedStrategy<Cutter> {
    (bounded_string(), any::<u16>())
        .prop_map(|(name, experience_years)| Cutter {
            name,
            experience_years,
        })
        .boxed()
}

pub fn lab_report() -> BoxedStrategy<LabReport> {
    (bounded_string(), four_cs(), any::<bool>(), digest())
        .prop_map(
            |(report_number, four_cs, origin_matched, report_hash)| LabReport {
                report_number,
                four_cs,
                origin_matched,
                report_hash,
            },
        )
        .boxed()
}

pub fn flag_reason() -> BoxedStrategy<FlagReason> {
    prop::sample::select(vec![
        FlagReason::Stolen,
        FlagReason::Lost,
        FlagReason::Disputed,
    ])
    .boxed()
}

pub fn stone_status() -> BoxedStrategy<StoneStatus> {
    prop::sample::select(vec![
        StoneStatus::Active,
        StoneStatus::Consumed,
        StoneStatus::Sold,
    ])
    .boxed()
}

pub fn stone_kind() -> BoxedStrategy<StoneKind> {
    prop_oneof![
        (rough_info(), bounded_string(), org_id()).prop_map(|(rough, kp_certificate, producer)| {
            StoneKind::Rough {
                rough,
                kp_certificate,
                producer,
            }
        }),
        (stone_id(), polished_output(), cutter()).prop_map(|(parent, output, cutter)| {
            StoneKind::Polished {
                parent,
                output,
                cutter,
            }
        }),
    ]
    .boxed()
}

pub fn grade_summary() -> BoxedStrategy<GradeSummary> {
    (org_id(), lab_report())
        .prop_map(|(lab, report)| GradeSummary { lab, report })
        .boxed()
}

pub fn stone() -> BoxedStrategy<Stone> {
    (
        (stone_id(), stone_kind(), origin(), org_id(), stone_status()),
        (
            proptest::option::of(flag_reason()),
            proptest::option::of(tx_id()),
            proptest::option::of(grade_summary()),
            bounded_vec(stone_id(), 3),
            any::<u64>(),
            any::<u32>(),
        ),
    )
        .prop_map(
            |(
                (id, kind, origin, custodian, status),
                (flag, open_proposal, grade, outputs, created_at, event_count),
            )| Stone {
                id,
                kind,
                origin,
                custodian,
                status,
                flag,
                open_proposal,
                grade,
                outputs,
                created_at,
                event_count,
            },
        )
        .boxed()
}

pub fn proposal_status() -> BoxedStrategy<ProposalStatus> {
    prop::sample::select(vec![
        ProposalStatus::Open,
        ProposalStatus::Accepted,
        ProposalStatus::Rejected,
        ProposalStatus::Cancelled,
    ])
    .boxed()
}

pub fn proposal() -> BoxedStrategy<Proposal> {
    (
        tx_id(),
        org_id(),
        org_id(),
        bounded_vec(stone_id(), 4),
        digest(),
        proposal_status(),
        any::<u64>(),
    )
        .prop_map(
            |(id, from, to, stones, terms_commitment, status, opened_at)| Proposal {
                id,
                from,
                to,
                stones,
                terms_commitment,
                status,
                opened_at,
            },
        )
        .boxed()
}

// ---------------------------------------------------------------- transactions

pub fn governance() -> BoxedStrategy<Governance> {
    prop_oneof![
        member().prop_map(Governance::AddMember),
        (org_id(), bounded_string(), role_set())
            .prop_map(|(org, name, roles)| Governance::UpdateMember { org, name, roles }),
        org_id().prop_map(|org| Governance::RemoveMember { org }),
        (org_id(), public_key(), public_key()).prop_map(|(org, old, new)| Governance::RotateKey {
            org,
            old,
            new
        }),
        node_record().prop_map(Governance::AddNode),
        node_id().prop_map(|node| Governance::RemoveNode { node }),
    ]
    .boxed()
}

pub fn register_stone() -> BoxedStrategy<RegisterStone> {
    (
        stone_id(),
        origin(),
        rough_info(),
        bounded_string(),
        bounded_vec(digest(), 3),
    )
        .prop_map(
            |(stone_id, origin, rough, kp_certificate, evidence)| RegisterStone {
                stone_id,
                origin,
                rough,
                kp_certificate,
                evidence,
            },
        )
        .boxed()
}

pub fn action() -> BoxedStrategy<Action> {
    prop_oneof![
        register_stone().prop_map(Action::RegisterStone),
        (bounded_vec(stone_id(), 4), org_id(), digest()).prop_map(
            |(stones, to, terms_commitment)| Action::ProposeTransfer(ProposeTransfer {
                stones,
                to,
                terms_commitment,
            })
        ),
        tx_id().prop_map(|proposal| Action::AcceptTransfer { proposal }),
        tx_id().prop_map(|proposal| Action::RejectTransfer { proposal }),
        tx_id().prop_map(|proposal| Action::CancelTransfer { proposal }),
        (stone_id(), bounded_vec(polished_output(), 3), cutter()).prop_map(
            |(rough, outputs, cutter)| Action::Manufacture(Manufacture {
                rough,
                outputs,
                cutter,
            })
        ),
        (stone_id(), lab_report()).prop_map(|(stone, report)| Action::Grade { stone, report }),
        (stone_id(), digest(), proptest::option::of(sale_branding())).prop_map(
            |(stone, passport_commitment, branding)| Action::Sell {
                stone,
                passport_commitment,
                branding,
            }
        ),
        (stone_id(), flag_reason()).prop_map(|(stone, reason)| Action::Flag { stone, reason }),
        stone_id().prop_map(|stone| Action::ClearFlag { stone }),
        governance().prop_map(Action::Governance),
    ]
    .boxed()
}

pub fn transaction() -> BoxedStrategy<Transaction> {
    (chain_id(), org_id(), any::<u64>(), action())
        .prop_map(|(chain_id, signer, nonce, action)| Transaction {
            chain_id,
            signer,
            nonce,
            action,
        })
        .boxed()
}

pub fn approval() -> BoxedStrategy<Approval> {
    (org_id(), public_key(), signature())
        .prop_map(|(org, key, signature)| Approval {
            org,
            key,
            signature,
        })
        .boxed()
}

pub fn signed_transaction() -> BoxedStrategy<SignedTransaction> {
    (transaction(), bounded_vec(approval(), 3))
        .prop_map(|(tx, approvals)| SignedTransaction { tx, approvals })
        .boxed()
}

// ---------------------------------------------------------------- blocks and receipts

pub fn block_proposal() -> BoxedStrategy<BlockProposal> {
    (any::<u64>(), bounded_vec(signed_transaction(), 3))
        .prop_map(|(timestamp_ms, transactions)| BlockProposal {
            timestamp_ms,
            transactions,
        })
        .boxed()
}

pub fn block_header() -> BoxedStrategy<BlockHeader> {
    (
        any::<u64>(),
        block_hash(),
        any::<u64>(),
        any::<u32>(),
        digest(),
        digest(),
        digest(),
        digest(),
        digest(),
    )
        .prop_map(
            |(
                height,
                prev_hash,
                timestamp_ms,
                tx_count,
                tx_root,
                receipts_root,
                membership_root,
                state_root,
                history_root,
            )| {
                BlockHeader {
                    height,
                    prev_hash,
                    timestamp_ms,
                    tx_count,
                    tx_root,
                    receipts_root,
                    membership_root,
                    state_root,
                    history_root,
                }
            },
        )
        .boxed()
}

pub fn block() -> BoxedStrategy<Block> {
    (block_header(), bounded_vec(signed_transaction(), 3))
        .prop_map(|(header, transactions)| Block {
            header,
            transactions,
        })
        .boxed()
}

/// How many variants [`RejectReason`] has; [`reject_reason_variant`] builds each.
pub const REJECT_REASON_VARIANTS: u8 = 47;

/// The field values a [`RejectReason`] variant is built from.
#[derive(Clone, Debug)]
pub struct ReasonFields {
    pub org: OrgId,
    pub other_org: OrgId,
    pub stone: StoneId,
    pub tx: TxId,
    pub chain: ChainId,
    pub other_chain: ChainId,
    pub key: PublicKey,
    pub carats: Carats,
    pub other_carats: Carats,
    pub count: u32,
    pub other_count: u32,
    pub node: NodeId,
    pub role: Role,
    pub flag: FlagReason,
    pub status: ProposalStatus,
}

pub fn reason_fields() -> BoxedStrategy<ReasonFields> {
    (
        (org_id(), org_id(), stone_id(), tx_id()),
        (chain_id(), chain_id(), public_key()),
        (carats(), carats(), any::<u32>(), any::<u32>()),
        (node_id(), role(), flag_reason(), proposal_status()),
    )
        .prop_map(
            |(
                (org, other_org, stone, tx),
                (chain, other_chain, key),
                (carats, other_carats, count, other_count),
                (node, role, flag, status),
            )| ReasonFields {
                org,
                other_org,
                stone,
                tx,
                chain,
                other_chain,
                key,
                carats,
                other_carats,
                count,
                other_count,
                node,
                role,
                flag,
                status,
            },
        )
        .boxed()
}

/// The `index`-th variant of [`RejectReason`] (in declaration order), built from `f`.
pub fn reject_reason_variant(index: u8, f: ReasonFields) -> RejectReason {
    use RejectReason as R;
    let ReasonFields {
        org,
        other_org,
        stone,
        tx,
        chain,
        other_chain,
        key,
        carats,
        other_carats,
        count,
        other_count,
        node,
        role,
        flag,
        status,
    } = f;
    match index {
        0 => R::WrongChain {
            expected: chain,
            found: other_chain,
        },
        1 => R::Replay { tx_id: tx },
        2 => R::UnknownSigner { org },
        3 => R::SignerDidNotSign { signer: org },
        4 => R::UnexpectedApprovals { count },
        5 => R::DuplicateApproval { org },
        6 => R::UnknownApprover { org },
        7 => R::KeyNotOfMember { org, key },
        8 => R::BadSignature { org },
        9 => R::MissingRole { org, role },
        10 => R::NotEnoughAdminApprovals {
            approvals: count,
            required: other_count,
        },
        11 => R::StoneExists { stone },
        12 => R::UnknownStone { stone },
        13 => R::NotCustodian {
            stone,
            signer: org,
            custodian: other_org,
        },
        14 => R::StoneFlagged {
            stone,
            reason: flag,
        },
        15 => R::StoneSold { stone },
        16 => R::StoneConsumed { stone },
        17 => R::StoneInOpenProposal {
            stone,
            proposal: tx,
        },
        18 => R::DuplicateStone { stone },
        19 => R::ImplausibleCarats { stone, carats },
        20 => R::AlreadyFlagged {
            stone,
            reason: flag,
        },
        21 => R::NotFlagged { stone },
        22 => R::NotEntitledToFlag { org, stone },
        23 => R::EmptyParcel,
        24 => R::TransferToSelf,
        25 => R::UnknownReceiver { org },
        26 => R::UnknownProposal { proposal: tx },
        27 => R::ProposalClosed {
            proposal: tx,
            status,
        },
        28 => R::NotReceiver {
            proposal: tx,
            receiver: org,
        },
        29 => R::NotProposer {
            proposal: tx,
            proposer: org,
        },
        30 => R::NotRough { stone },
        31 => R::NoOutputs,
        32 => R::CaratsExceeded {
            rough: carats,
            outputs: other_carats,
        },
        33 => R::MemberExists { org },
        34 => R::UnknownMember { org },
        35 => R::IncompleteMember { org },
        36 => R::MalformedKey { key },
        37 => R::WeakKey { key },
        38 => R::KeyInUse { key, org },
        39 => R::LastAdmin,
        40 => R::NodeExists { node },
        41 => R::UnknownNode { node },
        42 => R::NodeCountOutOfRange { max: count },
        43 => R::TooManyMembers { max: count },
        44 => R::MemberRunsNode { org, node },
        45 => R::MemberRetired { org },
        46 => R::ProposerNotMember { proposal: tx, org },
        _ => panic!(
            "RejectReason has {REJECT_REASON_VARIANTS} variants, not {}",
            index + 1
        ),
    }
}

pub fn reject_reason() -> BoxedStrategy<RejectReason> {
    (0..REJECT_REASON_VARIANTS, reason_fields())
        .prop_map(|(index, fields)| reject_reason_variant(index, fields))
        .boxed()
}

pub fn outcome() -> BoxedStrategy<Outcome> {
    prop_oneof![
        1 => Just(Outcome::Applied),
        3 => reject_reason().prop_map(|reason| Outcome::Rejected { reason }),
    ]
    .boxed()
}

pub fn event_seq() -> BoxedStrategy<EventSeq> {
    (stone_id(), any::<u32>())
        .prop_map(|(stone, seq)| EventSeq { stone, seq })
        .boxed()
}

pub fn receipt() -> BoxedStrategy<Receipt> {
    (tx_id(), outcome(), bounded_vec(event_seq(), 3))
        .prop_map(|(tx_id, outcome, events)| Receipt {
            tx_id,
            outcome,
            events,
        })
        .boxed()
}

// ---------------------------------------------------------------- proofs

pub fn merkle_path() -> BoxedStrategy<MerklePath> {
    (any::<u32>(), any::<u32>(), bounded_vec(digest(), 5))
        .prop_map(|(index, leaf_count, siblings)| MerklePath {
            index,
            leaf_count,
            siblings,
        })
        .boxed()
}

pub fn tx_location() -> BoxedStrategy<TxLocation> {
    (any::<u64>(), any::<u32>())
        .prop_map(|(height, tx_index)| TxLocation { height, tx_index })
        .boxed()
}

pub fn proven_event() -> BoxedStrategy<ProvenEvent> {
    (
        tx_location(),
        signed_transaction(),
        merkle_path(),
        receipt(),
        merkle_path(),
    )
        .prop_map(
            |(location, transaction, tx_path, receipt, receipt_path)| ProvenEvent {
                location,
                transaction,
                tx_path,
                receipt,
                receipt_path,
            },
        )
        .boxed()
}

pub fn proven_header() -> BoxedStrategy<ProvenHeader> {
    (block_header(), merkle_path())
        .prop_map(|(header, path)| ProvenHeader { header, path })
        .boxed()
}

/// State leaves with real jmt paths (their private fields cannot be drawn):
/// those of a polished stone of the sample journey.
fn real_states() -> BoundedVec<ProvenStoneState, PROOF_LINEAGE_MAX> {
    let chain = gemtrail_ledger::testkit::TestChain::journey();
    gemtrail_ledger::proof::build_proof(&chain, &gemtrail_ledger::testkit::stone("POL-1"))
        .unwrap()
        .states
}

use gemtrail_ledger::certificate::{Checkpoint, QuorumCertificate};

pub fn provenance_proof() -> BoxedStrategy<ProvenanceProof> {
    (
        (chain_id(), stone_id(), block_hash()),
        (block_header(), merkle_path()),
        bounded_vec(proven_header(), 3),
        bounded_vec(proven_event(), 2),
        bounded_vec(proven_event(), 2),
    )
        .prop_map(
            |((chain_id, stone, tip_hash), (tip, genesis_path), headers, events, governance)| {
                ProvenanceProof {
                    chain_id,
                    stone,
                    tip_hash,
                    certificate: QuorumCertificate::unsigned(Checkpoint::of(&tip, tip_hash)),
                    tip,
                    genesis_path,
                    headers,
                    events,
                    governance,
                    states: real_states(),
                }
            },
        )
        .boxed()
}
