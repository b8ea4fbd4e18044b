//! Commit waiters: a client that submits with `wait` gets the receipt as soon
//! as this node applies the block holding its transaction, whichever node
//! proposed it.
//!
//! The node feeds every applied block ([`CommitWatch::on_block`]). A waiter
//! registers before its transaction is admitted, so it cannot miss the block;
//! when the feed lagged or a snapshot replaced the ledger, the node sweeps the
//! waiters against the store ([`CommitWatch::sweep`]) instead.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use gemtrail_ledger::ids::TxId;
use gemtrail_ledger::model::Receipt;
use gemtrail_ledger::proof::TxLocation;
use tokio::sync::oneshot;

use crate::admission::SubmitError;

/// A committed transaction: where it is and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Committed {
    /// Its block and position.
    pub(crate) location: TxLocation,
    /// Its receipt.
    pub(crate) receipt: Receipt,
}

/// What a waiter learns.
pub(crate) type WaitResult = Result<Committed, SubmitError>;

/// Everyone waiting for a transaction to commit on this node.
#[derive(Debug, Default)]
pub(crate) struct CommitWatch {
    waiters: Mutex<HashMap<TxId, Vec<oneshot::Sender<WaitResult>>>>,
}

impl CommitWatch {
    fn lock(&self) -> MutexGuard<'_, HashMap<TxId, Vec<oneshot::Sender<WaitResult>>>> {
        // Each update is a single map operation, so a panic leaves it whole.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers interest in `tx_id`.
    pub(crate) fn register(&self, tx_id: TxId) -> oneshot::Receiver<WaitResult> {
        let (sender, receiver) = oneshot::channel();
        self.lock().entry(tx_id).or_default().push(sender);
        receiver
    }

    /// Drops waiters whose client has gone (after a timeout).
    pub(crate) fn forget_closed(&self, tx_id: &TxId) {
        let mut waiters = self.lock();
        if let Some(list) = waiters.get_mut(tx_id) {
            list.retain(|sender| !sender.is_closed());
            if list.is_empty() {
                waiters.remove(tx_id);
            }
        }
    }

    /// Tells `tx_id`'s waiters the outcome.
    pub(crate) fn resolve(&self, tx_id: &TxId, result: &WaitResult) {
        let senders = self.lock().remove(tx_id);
        for sender in senders.into_iter().flatten() {
            let _client_gone = sender.send(result.clone());
        }
    }

    /// Resolves the waiters of every transaction in an applied block.
    pub(crate) fn on_block(&self, height: u64, receipts: &[Receipt]) {
        if self.lock().is_empty() {
            return;
        }
        for (index, receipt) in receipts.iter().enumerate() {
            let location = TxLocation {
                height,
                tx_index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            if self.lock().contains_key(&receipt.tx_id) {
                self.resolve(
                    &receipt.tx_id,
                    &Ok(Committed {
                        location,
                        receipt: receipt.clone(),
                    }),
                );
            }
        }
    }

    /// Resolves every waiter whose transaction `lookup` finds committed.
    pub(crate) fn sweep(&self, lookup: impl Fn(&TxId) -> Option<Committed>) {
        let ids: Vec<TxId> = self.lock().keys().copied().collect();
        for tx_id in ids {
            if let Some(committed) = lookup(&tx_id) {
                self.resolve(&tx_id, &Ok(committed));
            }
        }
    }

    /// Drops every waiter whose client has gone (it hung up before the
    /// commit); called now and then so abandoned waits cannot pile up.
    pub(crate) fn prune_closed(&self) {
        self.lock().retain(|_, senders| {
            senders.retain(|sender| !sender.is_closed());
            !senders.is_empty()
        });
    }

    /// How many transactions are waited for.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nobody waits.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemtrail_ledger::model::Outcome;

    fn receipt(byte: u8) -> Receipt {
        Receipt {
            tx_id: TxId([byte; 32]),
            outcome: Outcome::Applied,
            events: Default::default(),
        }
    }

    #[test]
    fn a_block_resolves_its_waiters_with_their_location() {
        let watch = CommitWatch::default();
        let mut second = watch.register(TxId([2; 32]));
        let mut other = watch.register(TxId([9; 32]));
        watch.on_block(7, &[receipt(1), receipt(2)]);
        let committed = second.try_recv().unwrap().unwrap();
        assert_eq!(
            committed.location,
            TxLocation {
                height: 7,
                tx_index: 1
            }
        );
        assert_eq!(committed.receipt, receipt(2));
        assert!(other.try_recv().is_err(), "not in the block");
        assert_eq!(watch.len(), 1);
    }

    #[test]
    fn a_sweep_finds_what_the_feed_missed_and_errors_reach_waiters() {
        let watch = CommitWatch::default();
        let mut found = watch.register(TxId([1; 32]));
        let mut failed = watch.register(TxId([2; 32]));
        watch.sweep(|id| {
            (id == &TxId([1; 32])).then(|| Committed {
                location: TxLocation {
                    height: 3,
                    tx_index: 0,
                },
                receipt: receipt(1),
            })
        });
        assert!(found.try_recv().unwrap().is_ok());
        let error = SubmitError::Replay {
            tx_id: TxId([2; 32]),
        };
        watch.resolve(&TxId([2; 32]), &Err(error.clone()));
        assert_eq!(failed.try_recv().unwrap(), Err(error));
        assert!(watch.is_empty());
    }

    #[test]
    fn waiters_of_clients_that_hung_up_are_pruned() {
        let watch = CommitWatch::default();
        let gone = watch.register(TxId([5; 32]));
        let _kept = watch.register(TxId([6; 32]));
        drop(gone);
        watch.prune_closed();
        assert_eq!(watch.len(), 1);
    }
}
