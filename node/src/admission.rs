//! The door: the whole check a transaction passes before this node takes it
//! into its mempool, whether a client submitted it or a follower forwarded
//! it. [`Door::admit_many`] is the one entry point.
//!
//! The checks run in the protocol's order (docs/protocol.md §4.1), cheapest
//! first, so that junk from strangers costs no curve arithmetic:
//!
//! 1. the body decodes canonically (the API does this, [`decode_body`]);
//! 2. the node is not shutting down;
//! 3. the transaction is for this chain and carries at least one approval;
//! 4. every approval's key belongs to its organisation in the current
//!    membership (`key_not_of_member`), and the approvals could authorise
//!    the transaction at all: the signer is a member and signed first, each
//!    approver once, and governance carries a majority of the Admins (the
//!    ledger's own `check_approvals`, refused with the ledger's code). A
//!    transaction the ledger could only refuse is never stored, so its
//!    copies cannot fill blocks (its id is not burned, so it could come
//!    back forever);
//! 5. its id is not already burned in the ledger (`replay`);
//! 6. every approval's signature verifies, checked in one batch with
//!    whatever else is arriving ([`crate::signatures`]);
//! 7. the mempool has room.
//!
//! Each failure is a [`SubmitError`] with a stable [`ErrorCode`].
//!
//! The key check matters beyond a clear early error: the mempool deduplicates
//! by transaction id, so without it a stranger could copy a pending
//! transaction, sign it with a key of its own, and have its copy take the
//! genuine one's place. Roles in the stones' rules and custody are not checked
//! here: they depend on the state the block is applied to, and the block's
//! receipt gives that verdict (membership too is checked again there).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use gemtrail_consensus::LedgerStateMachine;

use gemtrail_ledger::codec::{decode, encoded_len};
use gemtrail_ledger::crypto::PublicKey;
use gemtrail_ledger::ids::{ChainId, OrgId, TxId};
use gemtrail_ledger::model::{RejectReason, SignedTransaction};
use gemtrail_ledger::state::LedgerView;
use gemtrail_ledger::store::LedgerStore;

use gemtrail_ledger::signature_batch::SignatureCheck;

use crate::codes::ErrorCode;
use crate::mempool::{Inserted, Mempool, MempoolFull, Pending};
use crate::signatures::SignatureVerifier;

/// Why a submitted transaction was not taken, or not ordered. Every variant
/// has a stable machine-readable [`SubmitError::code`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SubmitError {
    /// The body is not the canonical encoding of a signed transaction.
    #[error("the transaction is malformed: {reason}")]
    Malformed {
        /// What the decoder found.
        reason: String,
    },
    /// The transaction names another chain.
    #[error("the transaction is for chain {found}, this node serves chain {expected}")]
    WrongChain {
        /// This node's chain.
        expected: ChainId,
        /// The transaction's.
        found: ChainId,
    },
    /// An approval's signature does not verify against the transaction id.
    #[error("approval {index} (by {org}) has an invalid signature for transaction {tx_id}")]
    BadSignature {
        /// The transaction id.
        tx_id: TxId,
        /// Which approval (0 is the signer's).
        index: usize,
        /// The organisation the approval claims to be from.
        org: String,
    },
    /// An approval's key is not one of its organisation's keys (or the
    /// organisation is not a member).
    #[error(
        "approval {index} is signed by a key that is not one of {org}'s keys in the consortium"
    )]
    KeyNotOfMember {
        /// Which approval (0 is the signer's).
        index: usize,
        /// The organisation the approval claims to be from.
        org: String,
    },
    /// The transaction has no approval at all.
    #[error("the transaction carries no signature")]
    Unsigned,
    /// The approvals cannot authorise the transaction under the current
    /// membership, so the ledger could only refuse it.
    #[error("{reason} ({code})", code = reason.code())]
    Unauthorized {
        /// The ledger's reason.
        reason: RejectReason,
    },
    /// The id is already burned in the ledger.
    #[error("transaction {tx_id} is already in the ledger (replay); fetch its receipt instead")]
    Replay {
        /// The transaction id.
        tx_id: TxId,
    },
    /// The mempool is full.
    #[error("the node's mempool is full ({capacity} transactions); retry shortly")]
    MempoolFull {
        /// Its capacity.
        capacity: usize,
    },
    /// The signer already holds its share of the mempool.
    #[error("{signer} already has {share} transactions waiting in this node's mempool, a member's share; retry once some are committed")]
    SignerShareFull {
        /// The signer.
        signer: OrgId,
        /// The most one signer may have waiting.
        share: usize,
    },
    /// The node is shutting down and takes nothing new.
    #[error("the node is shutting down; submit to another node")]
    ShuttingDown,
    /// A follower forwarded the transaction and the leader refused it for a
    /// reason other than a replay; submitting it again is safe.
    #[error("transaction {tx_id} was not ordered: {reason}; submitting it again is safe")]
    NotOrdered {
        /// The transaction id.
        tx_id: TxId,
        /// Why.
        reason: String,
    },
    /// Waiting for the commit took longer than asked; it may still commit.
    #[error(
        "transaction {tx_id} was not committed within {waited_ms} ms; query its receipt later"
    )]
    CommitTimeout {
        /// The transaction id.
        tx_id: TxId,
        /// How long the node waited.
        waited_ms: u64,
    },
    /// The node failed internally (its store); see its log.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

impl SubmitError {
    /// The stable machine-readable code (documented in docs/api.md).
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            SubmitError::Malformed { .. } => ErrorCode::MalformedTransaction,
            SubmitError::WrongChain { .. } => ErrorCode::WrongChain,
            SubmitError::BadSignature { .. } => ErrorCode::BadSignature,
            SubmitError::Unsigned => ErrorCode::Unsigned,
            SubmitError::KeyNotOfMember { .. } => ErrorCode::KeyNotOfMember,
            SubmitError::Unauthorized { reason } => unauthorized_code(reason),
            SubmitError::Replay { .. } => ErrorCode::Replay,
            SubmitError::MempoolFull { .. } => ErrorCode::MempoolFull,
            SubmitError::SignerShareFull { .. } => ErrorCode::SignerShareFull,
            SubmitError::ShuttingDown => ErrorCode::ShuttingDown,
            SubmitError::NotOrdered { .. } => ErrorCode::NotOrdered,
            SubmitError::CommitTimeout { .. } => ErrorCode::CommitTimeout,
            SubmitError::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// Rebuilds an error from a code and text that came from another node
    /// (a forwarded transaction refused by the leader).
    pub(crate) fn from_remote(tx_id: TxId, code: ErrorCode, reason: &str) -> Self {
        match code {
            ErrorCode::Replay => SubmitError::Replay { tx_id },
            _ => SubmitError::NotOrdered {
                tx_id,
                reason: format!("the leader refused it ({code}: {reason})"),
            },
        }
    }
}

/// The door's code for an authorisation the ledger would refuse: the
/// ledger's own code.
fn unauthorized_code(reason: &RejectReason) -> ErrorCode {
    match reason {
        RejectReason::UnknownSigner { .. } => ErrorCode::UnknownSigner,
        RejectReason::SignerDidNotSign { .. } => ErrorCode::SignerDidNotSign,
        RejectReason::UnexpectedApprovals { .. } => ErrorCode::UnexpectedApprovals,
        RejectReason::DuplicateApproval { .. } => ErrorCode::DuplicateApproval,
        RejectReason::UnknownApprover { .. } => ErrorCode::UnknownApprover,
        RejectReason::KeyNotOfMember { .. } => ErrorCode::KeyNotOfMember,
        RejectReason::MissingRole { .. } => ErrorCode::MissingRole,
        RejectReason::NotEnoughAdminApprovals { .. } => ErrorCode::NotEnoughAdminApprovals,
        // `check_approvals` gives no other reason.
        _ => ErrorCode::InvalidRequest,
    }
}

/// Decodes a client's body into a signed transaction.
pub(crate) fn decode_body(body: &[u8]) -> Result<SignedTransaction, SubmitError> {
    decode::<SignedTransaction>(body).map_err(|error| SubmitError::Malformed {
        reason: error.to_string(),
    })
}

/// One door's outcome for one transaction: its id and whether it was new.
pub(crate) type Admission = Result<(TxId, Inserted), SubmitError>;

/// The door of this node's mempool; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Door {
    chain_id: ChainId,
    ledger: LedgerStateMachine,
    mempool: Arc<Mempool>,
    signatures: SignatureVerifier,
    accepting: Arc<AtomicBool>,
}

impl Door {
    /// A door in front of `mempool`, checking against `ledger`.
    pub(crate) fn new(
        chain_id: ChainId,
        ledger: LedgerStateMachine,
        mempool: Arc<Mempool>,
        signatures: SignatureVerifier,
    ) -> Self {
        Self {
            chain_id,
            ledger,
            mempool,
            signatures,
            accepting: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Closes the door for a graceful shutdown: everything after is refused
    /// `shutting_down`.
    pub(crate) fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    /// False once a graceful shutdown started.
    pub(crate) fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    /// Admits one transaction whose id the caller computed (`tx_id` is
    /// `tx.id()`: an id hashes the whole transaction, so it is computed once).
    pub(crate) async fn admit(&self, tx: SignedTransaction, tx_id: TxId) -> Admission {
        self.admit_identified(vec![(tx, tx_id)])
            .await
            .pop()
            .unwrap_or_else(|| {
                Err(SubmitError::Internal {
                    reason: "admission gave no outcome".to_owned(),
                })
            })
    }

    /// Admits transactions in order, one outcome each; their signatures are
    /// checked together, in the batch of whatever else is arriving.
    pub(crate) async fn admit_many(&self, txs: Vec<SignedTransaction>) -> Vec<Admission> {
        let identified = txs
            .into_iter()
            .map(|tx| {
                let tx_id = tx.id();
                (tx, tx_id)
            })
            .collect();
        self.admit_identified(identified).await
    }

    /// [`Door::admit_many`] for transactions whose ids the caller has.
    pub(crate) async fn admit_identified(
        &self,
        txs: Vec<(SignedTransaction, TxId)>,
    ) -> Vec<Admission> {
        if !self.is_accepting() {
            return txs.iter().map(|_| Err(SubmitError::ShuttingDown)).collect();
        }
        let prechecked = self.ledger.read(|store| {
            txs.iter()
                .map(|(tx, tx_id)| precheck(tx, *tx_id, &self.chain_id, store))
                .collect()
        });
        finish(txs, prechecked, &self.signatures, &self.mempool).await
    }
}

/// Checks 3 to 5 of the module docs: everything that needs no curve
/// arithmetic. The ledger is read once for a whole batch by the caller.
pub(crate) fn precheck(
    tx: &SignedTransaction,
    tx_id: TxId,
    chain_id: &ChainId,
    ledger: &dyn LedgerChecks,
) -> Result<(), SubmitError> {
    check_shape(tx, chain_id)?;
    check_member_keys(tx, ledger)?;
    ledger
        .authorize_approvals(tx)
        .map_err(|reason| SubmitError::Unauthorized { reason })?;
    if ledger.is_burned(&tx_id)? {
        return Err(SubmitError::Replay { tx_id });
    }
    Ok(())
}

/// Checks 6 and 7 of the module docs for the transactions that passed
/// [`precheck`]: one signature job for all of them, then the mempool.
pub(crate) async fn finish(
    txs: Vec<(SignedTransaction, TxId)>,
    prechecked: Vec<Result<(), SubmitError>>,
    verifier: &impl VerifySignatures,
    mempool: &Mempool,
) -> Vec<Admission> {
    let checks: Vec<SignatureCheck> = txs
        .iter()
        .zip(&prechecked)
        .filter(|(_, passed)| passed.is_ok())
        .flat_map(|((tx, tx_id), _)| SignatureCheck::of_approvals(tx, *tx_id))
        .collect();
    let verdicts = if checks.is_empty() {
        Vec::new()
    } else {
        verifier.verify(checks).await
    };
    let mut verdicts = verdicts.into_iter();
    txs.into_iter()
        .zip(prechecked)
        .map(|((tx, tx_id), passed)| {
            passed?;
            let mine: Vec<bool> = verdicts.by_ref().take(tx.approvals.len()).collect();
            check_signatures(&tx, tx_id, &mine)?;
            queue(tx, tx_id, mempool).map(|inserted| (tx_id, inserted))
        })
        .collect()
}

/// What verifies the door's signatures: the batching worker in a node, a
/// counting stand-in in tests.
pub(crate) trait VerifySignatures {
    /// The verdict of each check, in order.
    fn verify(&self, checks: Vec<SignatureCheck>) -> impl Future<Output = Vec<bool>> + Send;
}

impl VerifySignatures for SignatureVerifier {
    fn verify(&self, checks: Vec<SignatureCheck>) -> impl Future<Output = Vec<bool>> + Send {
        SignatureVerifier::verify(self, checks)
    }
}

/// The chain and at least one approval.
fn check_shape(tx: &SignedTransaction, chain_id: &ChainId) -> Result<(), SubmitError> {
    if &tx.tx.chain_id != chain_id {
        return Err(SubmitError::WrongChain {
            expected: chain_id.clone(),
            found: tx.tx.chain_id.clone(),
        });
    }
    if tx.approvals.is_empty() {
        return Err(SubmitError::Unsigned);
    }
    Ok(())
}

/// Every approval's key is one of its organisation's keys.
fn check_member_keys(tx: &SignedTransaction, ledger: &dyn LedgerChecks) -> Result<(), SubmitError> {
    for (index, approval) in tx.approvals.iter().enumerate() {
        if !ledger.key_of_member(&approval.org, &approval.key) {
            return Err(SubmitError::KeyNotOfMember {
                index,
                org: approval.org.to_string(),
            });
        }
    }
    Ok(())
}

/// Turns the verdicts on `tx`'s approvals (in order) into the first bad
/// signature's error.
fn check_signatures(
    tx: &SignedTransaction,
    tx_id: TxId,
    verdicts: &[bool],
) -> Result<(), SubmitError> {
    for (index, approval) in tx.approvals.iter().enumerate() {
        if !verdicts.get(index).copied().unwrap_or(false) {
            return Err(SubmitError::BadSignature {
                tx_id,
                index,
                org: approval.org.to_string(),
            });
        }
    }
    Ok(())
}

/// Puts a checked transaction in the mempool. A duplicate of a waiting one is
/// accepted without a copy.
fn queue(tx: SignedTransaction, tx_id: TxId, mempool: &Mempool) -> Result<Inserted, SubmitError> {
    let bytes = encoded_len(&tx) as u64;
    mempool
        .insert(Pending {
            id: tx_id,
            tx,
            bytes,
            since: Instant::now(),
        })
        .map_err(|refused| match refused {
            MempoolFull::Full { capacity } => SubmitError::MempoolFull { capacity },
            MempoolFull::SignerShare { signer, share } => {
                SubmitError::SignerShareFull { signer, share }
            }
        })
}

/// What the door asks of the ledger.
pub(crate) trait LedgerChecks {
    /// Whether `key` is one of `org`'s keys in the current membership.
    fn key_of_member(&self, org: &OrgId, key: &PublicKey) -> bool;
    /// Whether the ledger already burned `tx_id`.
    fn is_burned(&self, tx_id: &TxId) -> Result<bool, SubmitError>;
    /// The membership's part of the ledger's authorisation
    /// ([`gemtrail_ledger::rules::check_approvals`]).
    fn authorize_approvals(&self, tx: &SignedTransaction) -> Result<(), RejectReason>;
}

impl LedgerChecks for LedgerStore {
    fn authorize_approvals(&self, tx: &SignedTransaction) -> Result<(), RejectReason> {
        gemtrail_ledger::rules::check_approvals(self.membership(), tx)
    }

    fn key_of_member(&self, org: &OrgId, key: &PublicKey) -> bool {
        self.membership()
            .member(org)
            .is_some_and(|member| member.keys.iter().any(|own| own == key))
    }

    fn is_burned(&self, tx_id: &TxId) -> Result<bool, SubmitError> {
        self.contains_tx(tx_id)
            .map_err(|error| SubmitError::Internal {
                reason: error.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::AtomicUsize;

    use gemtrail_ledger::codec::BoundedVec;
    use gemtrail_ledger::crypto::{SecretKey, Signature};
    use gemtrail_ledger::model::Membership;
    use gemtrail_ledger::testkit::{org, register, Consortium};

    use super::*;

    /// The ledger as a membership and a set of burned ids.
    struct FakeLedger {
        membership: Membership,
        burned: BTreeSet<TxId>,
    }

    impl LedgerChecks for FakeLedger {
        fn key_of_member(&self, org: &OrgId, key: &PublicKey) -> bool {
            self.membership
                .member(org)
                .is_some_and(|member| member.keys.iter().any(|own| own == key))
        }

        fn is_burned(&self, tx_id: &TxId) -> Result<bool, SubmitError> {
            Ok(self.burned.contains(tx_id))
        }

        fn authorize_approvals(&self, tx: &SignedTransaction) -> Result<(), RejectReason> {
            gemtrail_ledger::rules::check_approvals(&self.membership, tx)
        }
    }

    /// Verifies for real, and counts every signature it was asked to check.
    #[derive(Default)]
    struct CountingVerifier {
        checked: AtomicUsize,
    }

    impl VerifySignatures for CountingVerifier {
        async fn verify(&self, checks: Vec<SignatureCheck>) -> Vec<bool> {
            self.checked.fetch_add(checks.len(), Ordering::SeqCst);
            gemtrail_ledger::signature_batch::verify_all(&checks)
        }
    }

    struct Fixture {
        consortium: Consortium,
        ledger: FakeLedger,
        verifier: CountingVerifier,
        mempool: Mempool,
    }

    impl Fixture {
        fn new() -> Self {
            let consortium = Consortium::sample();
            let ledger = FakeLedger {
                membership: consortium.genesis.membership.clone(),
                burned: BTreeSet::new(),
            };
            Self {
                consortium,
                ledger,
                verifier: CountingVerifier::default(),
                mempool: Mempool::new(16),
            }
        }

        /// Runs the door's checks on one transaction.
        async fn admit(&self, tx: SignedTransaction) -> Admission {
            let tx_id = tx.id();
            let chain_id = self.consortium.chain_id();
            let prechecked = vec![precheck(&tx, tx_id, &chain_id, &self.ledger)];
            finish(vec![(tx, tx_id)], prechecked, &self.verifier, &self.mempool)
                .await
                .pop()
                .unwrap()
        }

        fn verifications(&self) -> usize {
            self.verifier.checked.load(Ordering::SeqCst)
        }

        /// The code `tx` is refused with, and how many signatures the door
        /// verified by then (panics if it is admitted).
        async fn refusal(&self, tx: SignedTransaction) -> (ErrorCode, usize) {
            let refused = self.admit(tx).await.unwrap_err();
            (refused.code(), self.verifications())
        }
    }

    /// `tx` with its first approval's signature replaced by junk.
    fn with_garbage_signature(mut tx: SignedTransaction) -> SignedTransaction {
        let mut approvals = tx.approvals.clone().into_inner();
        approvals[0].signature = Signature([0xA5; 64]);
        tx.approvals = BoundedVec::new(approvals).unwrap();
        tx
    }

    #[tokio::test]
    async fn a_strangers_garbage_is_refused_key_not_of_member_before_any_signature_is_verified() {
        let fixture = Fixture::new();
        let stranger = SecretKey::generate().unwrap();
        let junk = fixture
            .consortium
            .unsigned("mine", 1, register("GT-JUNK", 100))
            .sign(&stranger);
        let junk = with_garbage_signature(junk);
        let refusal = fixture.refusal(junk).await;
        assert_eq!(refusal, (ErrorCode::KeyNotOfMember, 0));
        assert!(fixture.mempool.is_empty());
    }

    #[tokio::test]
    async fn a_replay_is_refused_before_any_signature_is_verified() {
        let mut fixture = Fixture::new();
        let tx = fixture.consortium.tx("mine", 1, register("GT-REPLAY", 100));
        fixture.ledger.burned.insert(tx.id());
        let refusal = fixture.refusal(with_garbage_signature(tx)).await;
        assert_eq!(refusal, (ErrorCode::Replay, 0));
    }

    #[tokio::test]
    async fn a_governance_change_with_too_few_admin_approvals_is_refused_at_the_door_unstored() {
        let fixture = Fixture::new();
        let change = gemtrail_ledger::model::Governance::RemoveNode {
            node: gemtrail_ledger::ids::NodeId(3),
        };
        // One of the three admins: the ledger could only refuse it.
        let alone = fixture.consortium.governance(&["mine"], 1, change);
        let refusal = fixture.refusal(alone).await;
        assert_eq!(refusal, (ErrorCode::NotEnoughAdminApprovals, 0));
        assert!(fixture.mempool.is_empty());
    }

    #[tokio::test]
    async fn an_ordinary_action_with_a_second_approval_is_refused_at_the_door() {
        let fixture = Fixture::new();
        let tx = fixture.consortium.tx("mine", 1, register("GT-TWICE", 100));
        let cosigned = tx
            .approve(org("auditor"), fixture.consortium.key("auditor"))
            .unwrap();
        let refusal = fixture.refusal(cosigned).await;
        assert_eq!(refusal, (ErrorCode::UnexpectedApprovals, 0));
        assert!(fixture.mempool.is_empty());
    }

    #[tokio::test]
    async fn a_members_bad_signature_is_verified_then_refused_bad_signature() {
        let fixture = Fixture::new();
        let tx = fixture.consortium.tx("mine", 1, register("GT-FORGED", 100));
        let refusal = fixture.refusal(with_garbage_signature(tx)).await;
        assert_eq!(refusal, (ErrorCode::BadSignature, 1));
        assert!(fixture.mempool.is_empty());
    }

    #[tokio::test]
    async fn shape_is_checked_first_wrong_chain_then_unsigned() {
        let fixture = Fixture::new();
        let mut foreign = fixture.consortium.tx("mine", 1, register("GT-ABROAD", 100));
        foreign.tx.chain_id = ChainId::parse("other-chain").unwrap();
        assert_eq!(fixture.refusal(foreign).await, (ErrorCode::WrongChain, 0));
        let mut unsigned = fixture.consortium.tx("mine", 2, register("GT-BARE", 100));
        unsigned.approvals = BoundedVec::default();
        assert_eq!(fixture.refusal(unsigned).await, (ErrorCode::Unsigned, 0));
    }

    #[tokio::test]
    async fn a_good_transaction_is_queued_once_and_its_copy_is_a_duplicate() {
        let fixture = Fixture::new();
        let tx = fixture.consortium.tx("mine", 1, register("GT-GOOD", 100));
        let (tx_id, inserted) = fixture.admit(tx.clone()).await.unwrap();
        assert_eq!((tx_id, inserted), (tx.id(), Inserted::New));
        let (_, again) = fixture.admit(tx).await.unwrap();
        assert_eq!(again, Inserted::Duplicate);
        assert_eq!(fixture.mempool.len(), 1);
    }
}
