//! The mempool: admitted transactions waiting to go into a block (on the
//! leader) or to be forwarded to the leader (on a follower).
//!
//! It is bounded (the genesis `mempool_txs_max`) and deduplicated by
//! transaction id, counting the transactions that wait, those taken into a
//! batch whose fate is not yet known, and (on a follower) those forwarded to
//! the leader but not yet seen in a block. So a client that submits the same
//! transaction twice, to one node, gets it ordered once.
//!
//! A follower keeps what it forwarded until the transaction shows up in an
//! applied block: if the leader it was given to loses leadership (or crashes
//! with it in its mempool), the follower sends it again to the next leader.
//!
//! **One settlement path.** A transaction that reached a block leaves the
//! mempool only through [`Mempool::settle_committed`], which the feed calls
//! for every applied block, whoever proposed it; the pump only hands batches
//! over, puts them back, or discards what was refused for good.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use gemtrail_ledger::codec::{encoded_len, BoundedVec};
use gemtrail_ledger::ids::{OrgId, TxId};
use gemtrail_ledger::model::{SignedTransaction, APPROVALS_MAX, BLOCK_TRANSACTIONS_MAX};
use tokio::sync::Notify;

/// One waiting transaction.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    /// Its id.
    pub(crate) id: TxId,
    /// The transaction.
    pub(crate) tx: SignedTransaction,
    /// Its encoded size in bytes.
    pub(crate) bytes: u64,
    /// When it was admitted.
    pub(crate) since: Instant,
}

/// What [`Mempool::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// It is new and now waits.
    New,
    /// The same transaction was already waiting or in a batch.
    Duplicate,
}

/// Why [`Mempool::insert`] refused a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MempoolFull {
    /// The mempool is at capacity.
    #[error("the mempool is full ({capacity} transactions); retry shortly")]
    Full {
        /// Its capacity.
        capacity: usize,
    },
    /// The signer already holds its share of the mempool.
    #[error("{signer} already has {share} transactions waiting in this node's mempool, its share")]
    SignerShare {
        /// The signer.
        signer: OrgId,
        /// The most one signer may have waiting or held.
        share: usize,
    },
}

/// The part of the mempool one signer may hold: a quarter, so that one
/// member flooding it leaves room for the others, but never less than a
/// block's worth, so that one member alone can still fill a block.
fn signer_share(capacity: usize) -> usize {
    (capacity / 4).max(BLOCK_TRANSACTIONS_MAX)
}

/// A transaction handed to a leader, kept until it is seen in a block.
#[derive(Clone, Debug)]
struct Forwarded {
    pending: Pending,
    leader: u64,
    at: Instant,
}

/// A known transaction that no longer waits in the queue.
#[derive(Clone, Debug)]
enum Held {
    /// Taken into a batch whose fate the taker does not know yet.
    Taken,
    /// Handed to a leader (another node, or this one for a proposal it lost).
    Handed(Box<Forwarded>),
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Pending>,
    /// Ids waiting or held, with their signers.
    known: HashMap<TxId, OrgId>,
    /// How many of `known` each signer has.
    per_signer: HashMap<OrgId, usize>,
    /// Of `known`, those not waiting in `queue`.
    held: HashMap<TxId, Held>,
}

impl Inner {
    fn remember(&mut self, id: TxId, signer: &OrgId) {
        self.known.insert(id, signer.clone());
        *self.per_signer.entry(signer.clone()).or_default() += 1;
    }

    fn forget(&mut self, id: &TxId) {
        let Some(signer) = self.known.remove(id) else {
            return;
        };
        if let Some(count) = self.per_signer.get_mut(&signer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_signer.remove(&signer);
            }
        }
    }
}

/// Adds to `waiting` each approval of `copy` by an organisation that has
/// none in it, as far as a transaction's approvals go. Every approval was
/// checked at the door (its key is its organisation's, its signature
/// verifies over the id both copies share), so any of them may stand.
fn add_missing_approvals(waiting: &mut Pending, copy: &SignedTransaction) {
    let mut approvals = waiting.tx.approvals.as_slice().to_vec();
    for approval in copy.approvals.as_slice() {
        if !approvals.iter().any(|held| held.org == approval.org) {
            approvals.push(approval.clone());
        }
    }
    if approvals.len() == waiting.tx.approvals.len() {
        return;
    }
    approvals.truncate(APPROVALS_MAX);
    if let Ok(merged) = BoundedVec::new(approvals) {
        waiting.tx.approvals = merged;
        waiting.bytes = encoded_len(&waiting.tx) as u64;
    }
}

/// A bounded, deduplicated FIFO of admitted transactions.
#[derive(Debug)]
pub(crate) struct Mempool {
    inner: Mutex<Inner>,
    capacity: usize,
    signer_share: usize,
    arrived: Notify,
}

impl Mempool {
    /// An empty mempool holding at most `capacity` transactions.
    pub(crate) fn new(capacity: usize) -> Self {
        Self::with_signer_share(capacity, signer_share(capacity))
    }

    /// An empty mempool holding at most `capacity` transactions, at most
    /// `share` of them from one signer.
    fn with_signer_share(capacity: usize, share: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: capacity.max(1),
            signer_share: share.max(1),
            arrived: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves `Inner` consistent before it can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a transaction at the back of the queue.
    pub(crate) fn insert(&self, pending: Pending) -> Result<Inserted, MempoolFull> {
        let mut inner = self.lock();
        if inner.known.contains_key(&pending.id) {
            // A copy with several approvals may carry ones the waiting copy
            // lacks: someone may have sent a copy stripped of the admins'
            // approvals first (the id leaves them out).
            if pending.tx.approvals.len() > 1 {
                if let Some(waiting) = inner.queue.iter_mut().find(|held| held.id == pending.id) {
                    add_missing_approvals(waiting, &pending.tx);
                }
            }
            return Ok(Inserted::Duplicate);
        }
        if inner.known.len() >= self.capacity {
            return Err(MempoolFull::Full {
                capacity: self.capacity,
            });
        }
        let signer = &pending.tx.tx.signer;
        let share = self.signer_share;
        if inner.per_signer.get(signer).copied().unwrap_or(0) >= share {
            return Err(MempoolFull::SignerShare {
                signer: signer.clone(),
                share,
            });
        }
        inner.remember(pending.id, &pending.tx.tx.signer);
        inner.queue.push_back(pending);
        drop(inner);
        self.arrived.notify_one();
        Ok(Inserted::New)
    }

    /// Puts transactions taken in a batch that could not be delivered back at
    /// the front, in their order, to be tried again.
    /// (Any of them that a block settled meanwhile is dropped instead.)
    pub(crate) fn requeue(&self, batch: Vec<Pending>) {
        let mut inner = self.lock();
        for pending in batch.into_iter().rev() {
            if inner.held.remove(&pending.id).is_some() {
                inner.queue.push_front(pending);
            }
        }
        drop(inner);
        self.arrived.notify_one();
    }

    /// Takes up to `max_txs` transactions, and no more than `max_bytes` in all
    /// (at least one, whatever its size), from the front.
    pub(crate) fn take(&self, max_txs: usize, max_bytes: u64) -> Vec<Pending> {
        let mut inner = self.lock();
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        while batch.len() < max_txs {
            let Some(next) = inner.queue.front() else {
                break;
            };
            if !batch.is_empty() && bytes.saturating_add(next.bytes) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(next.bytes);
            if let Some(pending) = inner.queue.pop_front() {
                inner.held.insert(pending.id, Held::Taken);
                batch.push(pending);
            }
        }
        batch
    }

    /// Forgets taken transactions refused for good (or that cannot be
    /// ordered at all). Committed ones are settled by
    /// [`Mempool::settle_committed`] alone.
    pub(crate) fn discard<'a>(&self, ids: impl IntoIterator<Item = &'a TxId>) {
        let mut inner = self.lock();
        for id in ids {
            inner.held.remove(id);
            inner.forget(id);
        }
    }

    /// The one way a committed transaction leaves the mempool: the feed
    /// calls it with each applied block's ids. Held ones (taken into a
    /// proposal, forwarded) are forgotten; ones still waiting here are left,
    /// and the door of whoever gets them next calls them replays.
    pub(crate) fn settle_committed<'a>(&self, ids: impl IntoIterator<Item = &'a TxId>) {
        let mut inner = self.lock();
        if inner.held.is_empty() {
            return;
        }
        for id in ids {
            if inner.held.remove(id).is_some() {
                inner.forget(id);
            }
        }
    }

    /// The ids of every held transaction (for a sweep against the ledger
    /// after the feed missed blocks).
    pub(crate) fn held_ids(&self) -> Vec<TxId> {
        self.lock().held.keys().copied().collect()
    }

    /// Records that a taken batch was handed to `leader`.
    pub(crate) fn mark_forwarded(&self, batch: Vec<Pending>, leader: u64) {
        let mut inner = self.lock();
        let at = Instant::now();
        for pending in batch {
            if let Some(held) = inner.held.get_mut(&pending.id) {
                *held = Held::Handed(Box::new(Forwarded {
                    pending,
                    leader,
                    at,
                }));
            }
        }
    }

    /// Puts forwarded transactions back in the queue when they were handed
    /// to another node than `leader`, or longer ago than `patience`: the
    /// leader that took them may be gone. Returns how many.
    pub(crate) fn reclaim_forwarded(&self, leader: u64, patience: std::time::Duration) -> usize {
        let mut inner = self.lock();
        let stale: Vec<TxId> = inner
            .held
            .iter()
            .filter(|(_, held)| match held {
                Held::Handed(sent) => sent.leader != leader || sent.at.elapsed() > patience,
                Held::Taken => false,
            })
            .map(|(id, _)| *id)
            .collect();
        let mut reclaimed: Vec<Pending> = stale
            .iter()
            .filter_map(|id| match inner.held.remove(id) {
                Some(Held::Handed(sent)) => Some(sent.pending),
                _ => None,
            })
            .collect();
        reclaimed.sort_by_key(|pending| pending.since);
        let count = reclaimed.len();
        for pending in reclaimed.into_iter().rev() {
            inner.queue.push_front(pending);
        }
        count
    }

    /// How many transactions wait (not counting taken batches).
    pub(crate) fn waiting(&self) -> usize {
        self.lock().queue.len()
    }

    /// How many transactions are waiting or in unsettled batches.
    pub(crate) fn len(&self) -> usize {
        self.lock().known.len()
    }

    /// True when nothing waits and no batch is unsettled.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the oldest waiting transaction was admitted.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        self.lock().queue.front().map(|pending| pending.since)
    }

    /// Resolves when a transaction arrives (or was requeued) after the call.
    pub(crate) async fn arrival(&self) {
        self.arrived.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemtrail_ledger::testkit::{register, Consortium};

    /// A pool holding two waiting transactions, and the two.
    fn pool_of_two() -> (Mempool, Pending, Pending) {
        let pool = Mempool::new(10);
        let (a, b) = (pending(1), pending(2));
        pool.insert(a.clone()).unwrap();
        pool.insert(b.clone()).unwrap();
        (pool, a, b)
    }

    fn pending(nonce: u64) -> Pending {
        let consortium = Consortium::sample();
        let tx = consortium.tx("mine", nonce, register(&format!("S{nonce}"), 100));
        Pending {
            id: tx.id(),
            bytes: gemtrail_ledger::codec::encode(&tx).len() as u64,
            tx,
            since: Instant::now(),
        }
    }

    #[test]
    fn a_copy_stripped_of_approvals_does_not_displace_the_admins_approvals() {
        let consortium = Consortium::sample();
        let change = gemtrail_ledger::model::Governance::RemoveNode {
            node: gemtrail_ledger::ids::NodeId(3),
        };
        let genuine = consortium.governance(&["mine", "auditor", "registry"], 9, change);
        let mut stripped = genuine.clone();
        stripped.approvals = BoundedVec::new(genuine.approvals.as_slice()[..1].to_vec()).unwrap();
        let as_pending = |tx: &SignedTransaction| Pending {
            id: tx.id(),
            bytes: gemtrail_ledger::codec::encode(tx).len() as u64,
            tx: tx.clone(),
            since: Instant::now(),
        };
        let pool = Mempool::new(10);
        assert_eq!(pool.insert(as_pending(&stripped)), Ok(Inserted::New));
        assert_eq!(pool.insert(as_pending(&genuine)), Ok(Inserted::Duplicate));
        let batch = pool.take(10, u64::MAX);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].tx.approvals, genuine.approvals);
        assert_eq!(
            batch[0].bytes,
            gemtrail_ledger::codec::encode(&genuine).len() as u64
        );
    }

    #[test]
    fn duplicates_are_admitted_once_even_while_taken() {
        let pool = Mempool::new(10);
        let first = pending(1);
        assert_eq!(pool.insert(first.clone()), Ok(Inserted::New));
        assert_eq!(pool.insert(first.clone()), Ok(Inserted::Duplicate));
        let batch = pool.take(10, u64::MAX);
        assert_eq!(batch.len(), 1);
        assert_eq!(pool.insert(first.clone()), Ok(Inserted::Duplicate));
        pool.settle_committed([&first.id]);
        assert!(pool.is_empty());
        assert_eq!(pool.insert(first), Ok(Inserted::New));
    }

    #[test]
    fn forwarded_transactions_stay_known_until_committed_or_reclaimed() {
        let (pool, a, b) = pool_of_two();
        let batch = pool.take(10, u64::MAX);
        pool.mark_forwarded(batch, 1);
        assert_eq!(pool.waiting(), 0);
        assert_eq!(pool.insert(a.clone()), Ok(Inserted::Duplicate));
        pool.settle_committed([&a.id]);
        assert_eq!(pool.len(), 1);
        let long = std::time::Duration::from_secs(60);
        assert_eq!(pool.reclaim_forwarded(1, long), 0, "same leader, not stale");
        assert_eq!(pool.reclaim_forwarded(2, long), 1, "the leader changed");
        let again = pool.take(10, u64::MAX);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, b.id);
    }

    #[test]
    fn a_batch_its_block_settled_is_not_put_back_by_a_late_failure() {
        let (pool, a, b) = pool_of_two();
        let batch = pool.take(10, u64::MAX);
        assert_eq!(pool.held_ids().len(), 2);
        pool.settle_committed([&a.id]);
        pool.requeue(batch);
        assert_eq!(pool.len(), 1);
        let again = pool.take(10, u64::MAX);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, b.id);
        pool.discard([&b.id]);
        assert!(pool.is_empty());
        assert!(pool.held_ids().is_empty());
    }

    #[test]
    fn a_full_pool_refuses_and_counts_taken_batches() {
        let pool = Mempool::new(2);
        pool.insert(pending(1)).unwrap();
        pool.insert(pending(2)).unwrap();
        let _batch = pool.take(1, u64::MAX);
        assert_eq!(
            pool.insert(pending(3)),
            Err(MempoolFull::Full { capacity: 2 })
        );
    }

    #[test]
    fn one_signer_flooding_the_pool_is_held_to_its_share_and_others_still_get_in() {
        let pool = Mempool::with_signer_share(10, 2);
        let consortium = Consortium::sample();
        let by = |signer: &str, nonce: u64| {
            let tx = consortium.tx(signer, nonce, register(&format!("F{signer}{nonce}"), 100));
            Pending {
                id: tx.id(),
                bytes: gemtrail_ledger::codec::encode(&tx).len() as u64,
                tx,
                since: Instant::now(),
            }
        };
        assert_eq!(pool.insert(by("mine", 1)), Ok(Inserted::New));
        assert_eq!(pool.insert(by("mine", 2)), Ok(Inserted::New));
        assert!(matches!(
            pool.insert(by("mine", 3)),
            Err(MempoolFull::SignerShare { share: 2, .. })
        ));
        assert_eq!(pool.insert(by("cutter", 1)), Ok(Inserted::New));
        // Once one of its transactions is committed, the signer gets back in.
        let taken = pool.take(1, u64::MAX);
        pool.settle_committed(taken.iter().map(|pending| &pending.id));
        assert_eq!(pool.insert(by("mine", 3)), Ok(Inserted::New));
    }

    #[test]
    fn the_share_is_a_quarter_but_never_less_than_a_block() {
        assert_eq!(signer_share(100_000), 25_000);
        assert_eq!(signer_share(4_096), BLOCK_TRANSACTIONS_MAX);
    }

    #[test]
    fn batches_respect_count_and_bytes_and_requeue_keeps_order() {
        let pool = Mempool::new(10);
        let all: Vec<Pending> = (1..=5).map(pending).collect();
        for item in &all {
            pool.insert(item.clone()).unwrap();
        }
        let bytes = all[0].bytes;
        let batch = pool.take(10, bytes * 2);
        assert_eq!(batch.len(), 2);
        let batch_ids: Vec<TxId> = batch.iter().map(|p| p.id).collect();
        pool.requeue(batch);
        let again = pool.take(3, u64::MAX);
        let again_ids: Vec<TxId> = again.iter().map(|p| p.id).collect();
        assert_eq!(&again_ids[..2], &batch_ids[..]);
        assert_eq!(again_ids[2], all[2].id);
        assert_eq!(pool.take(1, 0).len(), 1, "one transaction always fits");
    }
}
