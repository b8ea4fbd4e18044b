//! The mempool's door: what a transaction must pass before a node takes it.
//!
//! In order: the body decodes canonically (the API does this), the node is
//! not shutting down, the transaction is for this chain, it carries at least one approval, every approval's
//! signature is valid, every approval's key belongs to its organisation in the
//! current membership, its id is not already burned in the ledger (a replay),
//! and the mempool has room. Each failure is a [`SubmitError`] with a stable
//! code the API returns.
//!
//! The key check matters beyond a clear early error: the mempool deduplicates
//! by transaction id, so without it a stranger could copy a pending
//! transaction, sign it with a key of its own, and have its copy take the
//! genuine one's place. Roles and custody are not checked here: they depend on
//! the state the block is applied to, and the block's receipt gives that
//! verdict (membership too is checked again there).

use std::time::Instant;

use gemtrail_ledger::codec::{decode, encoded_len};
use gemtrail_ledger::crypto::PublicKey;
use gemtrail_ledger::ids::{ChainId, OrgId, TxId};
use gemtrail_ledger::model::SignedTransaction;
use gemtrail_ledger::state::LedgerView;
use gemtrail_ledger::store::LedgerStore;

use crate::mempool::{Inserted, Mempool, Pending};

/// Why a submitted transaction was not taken, or not ordered. Every variant
/// has a stable machine-readable [`SubmitError::code`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
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
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::Malformed { .. } => "malformed_transaction",
            SubmitError::WrongChain { .. } => "wrong_chain",
            SubmitError::BadSignature { .. } => "bad_signature",
            SubmitError::Unsigned => "unsigned",
            SubmitError::KeyNotOfMember { .. } => "key_not_of_member",
            SubmitError::Replay { .. } => "replay",
            SubmitError::MempoolFull { .. } => "mempool_full",
            SubmitError::ShuttingDown => "shutting_down",
            SubmitError::NotOrdered { .. } => "not_ordered",
            SubmitError::CommitTimeout { .. } => "commit_timeout",
            SubmitError::Internal { .. } => "internal",
        }
    }

    /// Rebuilds an error from a code and text that came from another node
    /// (a forwarded transaction refused by the leader).
    pub fn from_remote(tx_id: TxId, code: &str, reason: &str) -> Self {
        match code {
            "replay" => SubmitError::Replay { tx_id },
            _ => SubmitError::NotOrdered {
                tx_id,
                reason: format!("the leader refused it ({code}: {reason})"),
            },
        }
    }
}

/// Decodes a client's body into a signed transaction.
pub fn decode_body(body: &[u8]) -> Result<SignedTransaction, SubmitError> {
    decode::<SignedTransaction>(body).map_err(|error| SubmitError::Malformed {
        reason: error.to_string(),
    })
}

/// The checks that need neither ledger state nor curve arithmetic: the chain
/// and at least one approval.
pub fn check_shape(tx: &SignedTransaction, chain_id: &ChainId) -> Result<(), SubmitError> {
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

/// Turns the verdicts on `tx`'s approvals (in order, as
/// [`crate::signatures::SignatureVerifier`] gives them) into the first bad
/// signature's error.
pub fn check_signatures(
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

/// The checks against the ledger (keys of members, replay), then the mempool.
/// Returns whether the transaction was new (a duplicate of a waiting one is
/// accepted without a copy).
pub fn check_and_queue(
    tx: SignedTransaction,
    tx_id: TxId,
    ledger: &dyn LedgerChecks,
    mempool: &Mempool,
) -> Result<Inserted, SubmitError> {
    for (index, approval) in tx.approvals.iter().enumerate() {
        if !ledger.key_of_member(&approval.org, &approval.key) {
            return Err(SubmitError::KeyNotOfMember {
                index,
                org: approval.org.to_string(),
            });
        }
    }
    if ledger.is_burned(&tx_id)? {
        return Err(SubmitError::Replay { tx_id });
    }
    let bytes = encoded_len(&tx) as u64;
    mempool
        .insert(Pending {
            id: tx_id,
            tx,
            bytes,
            since: Instant::now(),
        })
        .map_err(|full| SubmitError::MempoolFull {
            capacity: full.capacity,
        })
}

/// What the door asks of the ledger.
pub trait LedgerChecks {
    /// Whether `key` is one of `org`'s keys in the current membership.
    fn key_of_member(&self, org: &OrgId, key: &PublicKey) -> bool;
    /// Whether the ledger already burned `tx_id`.
    fn is_burned(&self, tx_id: &TxId) -> Result<bool, SubmitError>;
}

impl LedgerChecks for LedgerStore {
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
