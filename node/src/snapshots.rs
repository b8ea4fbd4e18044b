//! When this node snapshots its ledger: every `snapshot_interval_blocks` log
//! entries, at an offset of its own.
//!
//! openraft's own policy (`LogsSinceLast`) makes every node snapshot at the
//! same log index, and so at the same moment. A snapshot is a RocksDB
//! checkpoint, which flushes the ledger's memtables: tens of megabytes
//! written at once. With all three nodes flushing together on the benchmark
//! machine, every node's Raft log fsync waited behind the writes and the
//! whole cluster stalled for 60–190 ms at each snapshot. Here each node
//! snapshots at indexes `k × interval + offset`, with an offset drawn from
//! its node id, so that at most one node of a small cluster flushes at a
//! time, and a commit (the leader and one follower) rarely waits for it.
//!
//! **Not more often than every [`SNAPSHOT_SPACING_MIN`].** A checkpoint took
//! 100–300 ms of flushing and 30–90 ms to read back its marker on the
//! benchmark machine. Under load, blocks come several hundred a second, and
//! an interval of 1,000 of them meant a snapshot every three seconds per node,
//! each flushing memtables that RocksDB would otherwise have filled first. The
//! spacing bounds that cost, and makes the log behind a snapshot cover at
//! least that much time, so a node that was away for a few seconds under load
//! still catches up from the log instead of a whole snapshot. The first
//! snapshot after start is not held back.

use std::time::{Duration, Instant};

use gemtrail_genesis::ValidGenesis;

use crate::raft::RaftHandle;
use crate::shutdown::Shutdown;

/// The least time between two snapshots this node triggers.
pub(crate) const SNAPSHOT_SPACING_MIN: Duration = Duration::from_secs(10);

/// Spreads offsets over the interval for any number of nodes: the fractional
/// parts of multiples of the golden ratio never bunch up.
const SPREAD: f64 = 0.618_033_988_749_895;

/// Log entries between two snapshots on schedule: the genesis
/// `snapshot_interval_blocks`, at least one.
pub(crate) fn interval(genesis: &ValidGenesis) -> u64 {
    genesis.consensus().snapshot_interval_blocks.max(1)
}

/// Where in each interval node `node_id` snapshots.
pub(crate) fn offset(node_id: u64, interval: u64) -> u64 {
    let fraction = (node_id as f64 * SPREAD).fract();
    ((fraction * interval as f64) as u64).min(interval.saturating_sub(1))
}

/// The log index at which the next snapshot falls due, after a snapshot at
/// `last` (none yet: 0): the first index of the form `k × interval + offset`
/// at least half an interval past `last`, so that a node that snapshotted
/// off its schedule (after installing a leader's snapshot, say) does not
/// snapshot again almost at once. So the log behind the latest snapshot never
/// grows past one and a half intervals.
pub(crate) fn next_due(last: u64, interval: u64, offset: u64) -> u64 {
    let interval = interval.max(1);
    let earliest = last.saturating_add(interval.div_ceil(2));
    let base = earliest - earliest % interval + offset % interval;
    if base >= earliest {
        base
    } else {
        base.saturating_add(interval)
    }
}

/// Triggers this node's snapshots until the node shuts down.
pub(crate) async fn run(raft: RaftHandle, interval: u64, shutdown: Shutdown) {
    let offset = offset(raft.id, interval);
    let mut metrics = raft.raft.metrics();
    let mut last_triggered: Option<Instant> = None;
    loop {
        let (applied, last_snapshot) = {
            let now = metrics.borrow_and_update();
            (
                now.last_applied.as_ref().map_or(0, |id| id.index),
                now.snapshot.as_ref().map_or(0, |id| id.index),
            )
        };
        let spaced =
            last_triggered.is_none_or(|triggered| triggered.elapsed() >= SNAPSHOT_SPACING_MIN);
        if spaced && applied >= next_due(last_snapshot, interval, offset) {
            // openraft ignores the trigger while a snapshot is being built;
            // the next change of the metrics asks again once the spacing
            // allows.
            if let Err(error) = raft.raft.trigger().snapshot().await {
                tracing::debug!(%error, "Raft stopped; no more snapshots");
                break;
            }
            last_triggered = Some(Instant::now());
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { break },
            () = shutdown.wait() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_nodes_snapshot_at_different_places_in_the_interval() {
        let offsets: Vec<u64> = (1..=3).map(|node| offset(node, 1000)).collect();
        assert_eq!(offsets, vec![618, 236, 854]);
        // No two within a sixth of the interval of each other.
        for a in &offsets {
            for b in &offsets {
                if a != b {
                    assert!(a.abs_diff(*b) >= 166, "{offsets:?}");
                }
            }
        }
        assert!(offset(7, 1) < 1, "an interval of one has one place");
    }

    #[test]
    fn a_snapshot_falls_due_on_schedule_at_least_half_an_interval_later() {
        // On schedule: every 1000 entries at the node's offset.
        assert_eq!(next_due(0, 1000, 618), 618);
        assert_eq!(next_due(618, 1000, 618), 1618);
        assert_eq!(next_due(1618, 1000, 618), 2618);
        // An offset below half the interval waits for the next round first.
        assert_eq!(next_due(0, 1000, 236), 1236);
        // Off schedule (an installed snapshot at 700): not before 1200.
        assert_eq!(next_due(700, 1000, 618), 1618);
        assert_eq!(next_due(700, 1000, 236), 1236);
        // The gap stays between half and one and a half intervals.
        for offset in [0, 1, 499, 500, 999] {
            for last in [0, 3, 500, 999, 1000, 123_456] {
                let due = next_due(last, 1000, offset);
                assert!(
                    due >= last + 500 && due < last + 1500,
                    "{last} {offset} {due}"
                );
                assert_eq!(due % 1000, offset);
            }
        }
        assert_eq!(next_due(5, 1, 0), 6);
    }
}
