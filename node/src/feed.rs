//! What the node does after the ledger changes: resolve commit waiters,
//! count metrics, and follow governance changes to the node set.
//!
//! **Membership.** The ledger's membership (changed only by committed
//! governance transactions) is the source of truth for which nodes exist.
//! Every node keeps its peer directory and the swarm's allow-list in line with
//! it, plus the departing nodes Raft still holds (see [`crate::directory`]),
//! re-checked every second so a node leaves the allow-list soon after Raft
//! let it go; [`crate::membership`] brings Raft's voters to match on the
//! leader.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gemtrail_consensus::{LedgerEvent, LedgerStateMachine};
use gemtrail_ledger::model::Receipt;
use gemtrail_ledger::state::LedgerView;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;

use crate::commits::Committed;
use crate::directory::NodeDirectory;
use crate::node::Shared;
use crate::raft::RaftHandle;
use crate::shutdown::Shutdown;

/// Every how many blocks the waiters of clients that hung up are dropped.
const PRUNE_EVERY_BLOCKS: u64 = 128;

/// How often the directory is re-checked against Raft's membership, which
/// changes without a ledger block (a departing node leaves it).
const DIRECTORY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// What follows the ledger: the waiters and the mempool it settles, the
/// metrics it counts, and the directory and allow-list it keeps in line.
#[derive(Debug)]
pub(crate) struct Feed {
    pub(crate) ledger: LedgerStateMachine,
    pub(crate) raft: RaftHandle,
    pub(crate) shared: Shared,
    pub(crate) shutdown: Shutdown,
}

impl Feed {
    /// Follows the ledger's applied blocks until the node shuts down.
    pub(crate) async fn run(self, membership_changed: Arc<Notify>) {
        let mut events = self.ledger.subscribe();
        // Blocks applied before we subscribed (at start) may have waiters too.
        self.sweep();
        loop {
            let event = tokio::select! {
                event = events.recv() => Some(event),
                () = tokio::time::sleep(DIRECTORY_CHECK_INTERVAL) => None,
                () = self.shutdown.wait() => break,
            };
            match event {
                None => {}
                Some(Ok(LedgerEvent::Block(block))) => self.on_block(block.height, &block.receipts),
                Some(Ok(LedgerEvent::SnapshotInstalled { height })) => {
                    tracing::info!(height, "ledger replaced by a snapshot");
                    self.sweep();
                }
                Some(Err(RecvError::Lagged(missed))) => {
                    tracing::debug!(missed, "ledger feed lagged; sweeping waiters");
                    self.sweep();
                }
                Some(Err(RecvError::Closed)) => break,
            }
            if self.refresh_directory().await {
                membership_changed.notify_one();
            }
        }
    }

    fn on_block(&self, height: u64, receipts: &[Receipt]) {
        self.shared.metrics.blocks_applied.inc();
        self.shared
            .metrics
            .txs_applied
            .inc_by(receipts.len() as u64);
        let rejected = receipts
            .iter()
            .filter(|receipt| !receipt.outcome.is_applied())
            .count();
        self.shared.metrics.txs_rejected.inc_by(rejected as u64);
        self.shared.commits.on_block(height, receipts);
        if height.is_multiple_of(PRUNE_EVERY_BLOCKS) {
            self.shared.commits.prune_closed();
        }
        self.shared
            .mempool
            .settle_committed(receipts.iter().map(|receipt| &receipt.tx_id));
    }

    /// Settles, against the store, what the missed blocks would have: every
    /// waiter and every held mempool transaction already in the ledger.
    fn sweep(&self) {
        self.shared.commits.sweep(|tx_id| {
            let (location, receipt) = self.ledger.read(|store| store.receipt(tx_id)).ok()??;
            Some(Committed { location, receipt })
        });
        let held = self.shared.mempool.held_ids();
        let committed: Vec<_> = self.ledger.read(|store| {
            held.into_iter()
                .filter(|tx_id| store.contains_tx(tx_id).unwrap_or(false))
                .collect()
        });
        self.shared.mempool.settle_committed(&committed);
    }

    /// Reloads the node directory from the ledger and Raft's membership;
    /// true if it changed.
    async fn refresh_directory(&self) -> bool {
        let raft_nodes: BTreeMap<_, _> = {
            let metrics = self.raft.raft.metrics();
            let metrics = metrics.borrow();
            let membership = metrics.membership_config.membership();
            membership
                .nodes()
                .map(|(id, info)| (*id, info.clone()))
                .collect()
        };
        let fresh = self
            .ledger
            .read(|store| NodeDirectory::new(&store.membership().nodes))
            .with_departing(&raft_nodes);
        let Some(allow_list) = self.shared.directory.replace_if_changed(fresh) else {
            return false;
        };
        self.shared.p2p.set_allowed(allow_list).await;
        true
    }
}
