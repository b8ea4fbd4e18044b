//! What the node does after the ledger changes: resolve commit waiters,
//! count metrics, and follow governance changes to the node set.
//!
//! **Membership.** The ledger's membership (changed only by committed
//! governance transactions) is the source of truth for which nodes exist.
//! Every node keeps its peer directory and the swarm's allow-list in line with
//! it; the leader also changes the Raft voters to match: new nodes join as
//! learners, catch up, then become voters; removed nodes stop being voters.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use gemtrail_consensus::LedgerEvent;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;

use crate::commits::Committed;
use crate::context::{NodeContext, NodeDirectory};

/// Every how many blocks the waiters of clients that hung up are dropped.
const PRUNE_EVERY_BLOCKS: u64 = 128;

/// How often the leader re-checks the Raft voters against the ledger, in case
/// a change was missed (e.g. it became leader after the block).
const MEMBERSHIP_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Follows the ledger's applied blocks until the node shuts down.
pub async fn run(context: Arc<NodeContext>, membership_changed: Arc<Notify>) {
    let mut events = context.ledger.subscribe();
    // Blocks applied before we subscribed (at start) may have waiters too.
    sweep(&context);
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = context.shutdown.wait() => break,
        };
        match event {
            Ok(LedgerEvent::Block(block)) => {
                context.metrics.blocks_applied.inc();
                context
                    .metrics
                    .txs_applied
                    .inc_by(block.receipts.len() as u64);
                let rejected = block
                    .receipts
                    .iter()
                    .filter(|receipt| !receipt.outcome.is_applied())
                    .count();
                context.metrics.txs_rejected.inc_by(rejected as u64);
                context.commits.on_block(block.height, &block.receipts);
                if block.height % PRUNE_EVERY_BLOCKS == 0 {
                    context.commits.prune_closed();
                }
                context
                    .mempool
                    .settle_committed(block.receipts.iter().map(|receipt| &receipt.tx_id));
            }
            Ok(LedgerEvent::SnapshotInstalled { height }) => {
                tracing::info!(height, "ledger replaced by a snapshot");
                sweep(&context);
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "ledger feed lagged; sweeping waiters");
                sweep(&context);
            }
            Err(RecvError::Closed) => break,
        }
        if refresh_directory(&context).await {
            membership_changed.notify_one();
        }
    }
}

/// Resolves every waiter whose transaction is already in the ledger.
fn sweep(context: &NodeContext) {
    context.commits.sweep(|tx_id| {
        let (location, receipt) = context.read(|store| store.receipt(tx_id)).ok()??;
        Some(Committed { location, receipt })
    });
}

/// Reloads the node directory from the ledger; true if it changed.
async fn refresh_directory(context: &NodeContext) -> bool {
    let fresh = context.read(|store| NodeDirectory::new(&store.membership().nodes));
    let allow_list = {
        let mut directory = context
            .directory
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if directory.nodes == fresh.nodes {
            return false;
        }
        tracing::info!(nodes = ?fresh.nodes.keys().collect::<Vec<_>>(), "consortium node set changed");
        *directory = fresh;
        directory.allow_list()
    };
    context.p2p.set_allowed(allow_list).await;
    true
}

/// On the leader, keeps the Raft voters equal to the ledger's node set.
pub async fn reconcile_membership(context: Arc<NodeContext>, changed: Arc<Notify>) {
    loop {
        tokio::select! {
            () = changed.notified() => {}
            () = tokio::time::sleep(MEMBERSHIP_CHECK_INTERVAL) => {}
            () = context.shutdown.wait() => break,
        }
        if !context.is_leader() {
            continue;
        }
        if let Err(error) = reconcile_once(&context).await {
            tracing::warn!(%error, "could not bring Raft membership in line with the ledger");
        }
    }
}

async fn reconcile_once(context: &NodeContext) -> Result<(), String> {
    let wanted = context
        .directory
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .raft_nodes();
    let (voters, learners) = {
        let metrics = context.raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        (
            membership
                .voter_ids()
                .collect::<std::collections::BTreeSet<_>>(),
            membership
                .learner_ids()
                .collect::<std::collections::BTreeSet<_>>(),
        )
    };
    let wanted_ids: std::collections::BTreeSet<_> = wanted.keys().copied().collect();
    if wanted_ids.is_empty() {
        return Err("the ledger lists no node; refusing to empty the Raft voters".to_owned());
    }
    if voters == wanted_ids && learners.is_empty() {
        return Ok(());
    }
    for (id, info) in &wanted {
        if !voters.contains(id) && !learners.contains(id) {
            tracing::info!(node = id, "adding node as a Raft learner");
            context
                .raft
                .add_learner(*id, info.clone(), true)
                .await
                .map_err(|error| error.to_string())?;
        }
    }
    tracing::info!(voters = ?wanted_ids, "changing Raft voters to the ledger's node set");
    context
        .raft
        .change_membership(wanted_ids, false)
        .await
        .map_err(|error| error.to_string())?;
    Ok(())
}
