//! The mempool: admitted transactions waiting to go into a block (on the
//! leader) or to be forwarded to the leader (on a follower).
//!
//! It is bounded (the genesis `mempool_txs_max`) and deduplicated by
//! transaction id, counting both the transactions that wait and those taken
//! into a batch whose fate is not yet known, so a client that submits the same
//! transaction twice, to one node, gets it ordered once.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use gemtrail_ledger::ids::TxId;
use gemtrail_ledger::model::SignedTransaction;
use tokio::sync::Notify;

/// One waiting transaction.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Its id.
    pub id: TxId,
    /// The transaction.
    pub tx: SignedTransaction,
    /// Its encoded size in bytes.
    pub bytes: u64,
    /// When it was admitted.
    pub since: Instant,
}

/// What [`Mempool::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// It is new and now waits.
    New,
    /// The same transaction was already waiting or in a batch.
    Duplicate,
}

/// The mempool is at capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the mempool is full ({capacity} transactions); retry shortly")]
pub struct MempoolFull {
    /// Its capacity.
    pub capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Pending>,
    /// Ids waiting or taken into an unsettled batch.
    known: HashSet<TxId>,
    /// Of `known`, those taken into a batch.
    taken: usize,
}

/// A bounded, deduplicated FIFO of admitted transactions.
#[derive(Debug)]
pub struct Mempool {
    inner: Mutex<Inner>,
    capacity: usize,
    arrived: Notify,
}

impl Mempool {
    /// An empty mempool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: capacity.max(1),
            arrived: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves `Inner` consistent before it can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a transaction at the back of the queue.
    pub fn insert(&self, pending: Pending) -> Result<Inserted, MempoolFull> {
        let mut inner = self.lock();
        if inner.known.contains(&pending.id) {
            return Ok(Inserted::Duplicate);
        }
        if inner.known.len() >= self.capacity {
            return Err(MempoolFull {
                capacity: self.capacity,
            });
        }
        inner.known.insert(pending.id);
        inner.queue.push_back(pending);
        drop(inner);
        self.arrived.notify_one();
        Ok(Inserted::New)
    }

    /// Puts transactions taken in a batch that could not be delivered back at
    /// the front, in their order, to be tried again.
    pub fn requeue(&self, batch: Vec<Pending>) {
        let mut inner = self.lock();
        inner.taken = inner.taken.saturating_sub(batch.len());
        for pending in batch.into_iter().rev() {
            inner.queue.push_front(pending);
        }
        drop(inner);
        self.arrived.notify_one();
    }

    /// Takes up to `max_txs` transactions, and no more than `max_bytes` in all
    /// (at least one, whatever its size), from the front.
    pub fn take(&self, max_txs: usize, max_bytes: u64) -> Vec<Pending> {
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
                batch.push(pending);
            }
        }
        inner.taken += batch.len();
        batch
    }

    /// Forgets a taken batch: it was ordered, or refused for good.
    pub fn settle<'a>(&self, ids: impl IntoIterator<Item = &'a TxId>) {
        let mut inner = self.lock();
        let mut settled = 0;
        for id in ids {
            if inner.known.remove(id) {
                settled += 1;
            }
        }
        inner.taken = inner.taken.saturating_sub(settled);
    }

    /// How many transactions wait (not counting taken batches).
    pub fn waiting(&self) -> usize {
        self.lock().queue.len()
    }

    /// How many transactions are waiting or in unsettled batches.
    pub fn len(&self) -> usize {
        self.lock().known.len()
    }

    /// True when nothing waits and no batch is unsettled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the oldest waiting transaction was admitted.
    pub fn oldest(&self) -> Option<Instant> {
        self.lock().queue.front().map(|pending| pending.since)
    }

    /// Resolves when a transaction arrives (or was requeued) after the call.
    pub async fn arrival(&self) {
        self.arrived.notified().await;
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemtrail_ledger::testkit::{register, Consortium};

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
    fn duplicates_are_admitted_once_even_while_taken() {
        let pool = Mempool::new(10);
        let first = pending(1);
        assert_eq!(pool.insert(first.clone()), Ok(Inserted::New));
        assert_eq!(pool.insert(first.clone()), Ok(Inserted::Duplicate));
        let batch = pool.take(10, u64::MAX);
        assert_eq!(batch.len(), 1);
        assert_eq!(pool.insert(first.clone()), Ok(Inserted::Duplicate));
        pool.settle([&first.id]);
        assert!(pool.is_empty());
        assert_eq!(pool.insert(first), Ok(Inserted::New));
    }

    #[test]
    fn a_full_pool_refuses_and_counts_taken_batches() {
        let pool = Mempool::new(2);
        pool.insert(pending(1)).unwrap();
        pool.insert(pending(2)).unwrap();
        let _batch = pool.take(1, u64::MAX);
        assert_eq!(pool.insert(pending(3)), Err(MempoolFull { capacity: 2 }));
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
