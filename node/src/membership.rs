//! On the leader, bringing Raft's voters in line with the ledger's node set,
//! one safe step at a time.
//!
//! The ledger's membership (changed only by committed `AddNode` and
//! `RemoveNode` transactions) says which nodes should vote. Raft's own
//! membership follows it in steps that each keep a working majority:
//!
//! 1. **Add** one new node as a learner, without waiting for it, so a new
//!    node that is down or has a wrong address blocks nothing after it. At
//!    [`NODES_MAX`] nodes this waits until a removal made room, so a swap at
//!    the limit never asks Raft for one node more than its store accepts.
//! 2. **Set the voters** to those the ledger keeps plus the learners that
//!    have caught up: this removes voters the ledger dropped and promotes new
//!    ones in one joint change. The joint change still needs the old
//!    majority, which departing nodes can still give, since the directory
//!    keeps them reachable (see [`crate::directory`]). When no old voter
//!    stays, it waits until every new node has caught up.
//! 3. **Drop** learners the ledger no longer lists.
//!
//! [`next_step`] chooses the step from what Raft and the ledger say; it is
//! pure, and tested on its own. Each step runs under a timeout, and a failed
//! or timed-out step is retried on the next tick. A leader that removes
//! itself steps down once the change is committed (openraft does this), and
//! the remaining voters elect a new leader among themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use gemtrail_consensus::types::{NodeInfo, RaftNodeId};
use gemtrail_ledger::model::NODES_MAX;
use openraft::ChangeMembers;
use tokio::sync::Notify;

use crate::directory::{Directory, NodeDirectory};
use crate::raft::RaftHandle;
use crate::shutdown::Shutdown;

/// How often the leader re-checks the Raft voters against the ledger, in case
/// a change was missed (e.g. it became leader after the block) or a step
/// failed.
const MEMBERSHIP_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The longest one membership step may take before it is abandoned and
/// retried on a later tick.
const MEMBERSHIP_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A learner this many entries or fewer behind the leader's log counts as
/// caught up, and may become a voter.
const CAUGHT_UP_LAG_ENTRIES: u64 = 64;

/// What Raft holds now, as the leader sees it.
#[derive(Clone, Debug, Default)]
pub(crate) struct RaftView {
    /// The voters (of the last config, when a joint change is under way).
    pub(crate) voters: BTreeSet<RaftNodeId>,
    /// The learners.
    pub(crate) learners: BTreeSet<RaftNodeId>,
    /// Learners close enough to the leader's log to vote.
    pub(crate) caught_up: BTreeSet<RaftNodeId>,
}

/// One change of Raft's membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Make exactly these the voters (removing or promoting).
    SetVoters(BTreeSet<RaftNodeId>),
    /// Start replicating to a new node, as a learner.
    AddLearner(RaftNodeId),
    /// Forget learners the ledger no longer lists.
    DropLearners(BTreeSet<RaftNodeId>),
}

/// The next step from `raft` towards the voters `wanted`, or `None` when
/// Raft already matches.
pub(crate) fn next_step(raft: &RaftView, wanted: &BTreeSet<RaftNodeId>) -> Option<Step> {
    if wanted.is_empty() {
        return None;
    }
    let members = raft.voters.len() + raft.learners.len();
    let missing = wanted
        .iter()
        .find(|id| !raft.voters.contains(id) && !raft.learners.contains(id));
    if let (Some(id), true) = (missing, members < NODES_MAX) {
        return Some(Step::AddLearner(*id));
    }
    let promotable: BTreeSet<_> = raft.caught_up.intersection(wanted).copied().collect();
    let staying: BTreeSet<_> = raft.voters.intersection(wanted).copied().collect();
    let next_voters: BTreeSet<_> = staying.union(&promotable).copied().collect();
    let departing = raft.voters.difference(wanted).next().is_some();
    // With no old voter staying, hand over only to the whole new set.
    let ready = !staying.is_empty() || &promotable == wanted;
    if (departing || !promotable.is_empty()) && ready && next_voters != raft.voters {
        return Some(Step::SetVoters(next_voters));
    }
    let stale: BTreeSet<_> = raft.learners.difference(wanted).copied().collect();
    (!stale.is_empty()).then_some(Step::DropLearners(stale))
}

/// On the leader, keeps the Raft voters equal to the ledger's node set.
pub(crate) async fn reconcile(
    raft: RaftHandle,
    directory: Directory,
    changed: Arc<Notify>,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            () = changed.notified() => {}
            () = tokio::time::sleep(MEMBERSHIP_CHECK_INTERVAL) => {}
            () = shutdown.wait() => break,
        }
        if !raft.is_leader() {
            continue;
        }
        let wanted = directory.read(NodeDirectory::raft_nodes);
        let Some(step) = next_step(&raft_view(&raft), &wanted.keys().copied().collect()) else {
            continue;
        };
        tracing::info!(
            ?step,
            "changing Raft membership towards the ledger's node set"
        );
        match tokio::time::timeout(MEMBERSHIP_STEP_TIMEOUT, take(&raft, &step, &wanted)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(?step, %error, "Raft membership step failed; retrying");
            }
            Err(_) => tracing::warn!(?step, "Raft membership step timed out; retrying"),
        }
    }
}

/// What Raft holds now, from its metrics (on the leader, with the
/// followers' replication progress).
fn raft_view(raft: &RaftHandle) -> RaftView {
    let metrics = raft.raft.metrics();
    let metrics = metrics.borrow();
    let membership = metrics.membership_config.membership();
    let last_index = metrics.last_log_index.unwrap_or(0);
    let learners: BTreeSet<_> = membership.learner_ids().collect();
    let caught_up = metrics
        .replication
        .as_ref()
        .map(|progress| {
            learners
                .iter()
                .filter(|id| {
                    let matched = progress
                        .get(*id)
                        .and_then(|log| log.as_ref().map(|log| log.index));
                    matched.is_some_and(|index| index + CAUGHT_UP_LAG_ENTRIES >= last_index)
                })
                .copied()
                .collect()
        })
        .unwrap_or_default();
    RaftView {
        voters: membership.voter_ids().collect(),
        learners,
        caught_up,
    }
}

async fn take(
    raft: &RaftHandle,
    step: &Step,
    nodes: &BTreeMap<RaftNodeId, NodeInfo>,
) -> Result<(), String> {
    let outcome = match step {
        Step::SetVoters(voters) => raft.raft.change_membership(voters.clone(), false).await,
        Step::AddLearner(id) => {
            let Some(info) = nodes.get(id) else {
                return Err(format!("node {id} has no address"));
            };
            raft.raft.add_learner(*id, info.clone(), false).await
        }
        Step::DropLearners(ids) => {
            let change = ChangeMembers::RemoveNodes(ids.clone());
            raft.raft.change_membership(change, false).await
        }
    };
    outcome.map(drop).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[u64]) -> BTreeSet<u64> {
        list.iter().copied().collect()
    }

    fn view(voters: &[u64], learners: &[u64], caught_up: &[u64]) -> RaftView {
        RaftView {
            voters: ids(voters),
            learners: ids(learners),
            caught_up: ids(caught_up),
        }
    }

    /// Applies steps as Raft would, with `caught_up` learners catching up at
    /// once; returns every step and asserts Raft never holds more than
    /// `NODES_MAX` nodes or loses all voters.
    fn walk(mut raft: RaftView, wanted: &BTreeSet<u64>, can_catch_up: &BTreeSet<u64>) -> Vec<Step> {
        let mut steps = Vec::new();
        while let Some(step) = next_step(&raft, wanted) {
            assert!(steps.len() < 200, "no end: {steps:?}");
            match &step {
                Step::SetVoters(voters) => {
                    raft.learners.retain(|id| !voters.contains(id));
                    raft.caught_up.retain(|id| !voters.contains(id));
                    raft.voters = voters.clone();
                }
                Step::AddLearner(id) => {
                    raft.learners.insert(*id);
                    if can_catch_up.contains(id) {
                        raft.caught_up.insert(*id);
                    }
                }
                Step::DropLearners(gone) => raft.learners.retain(|id| !gone.contains(id)),
            }
            assert!(raft.voters.len() + raft.learners.len() <= NODES_MAX);
            assert!(!raft.voters.is_empty());
            steps.push(step);
        }
        steps
    }

    #[test]
    fn removing_two_of_three_nodes_one_after_the_other_removes_before_anything_else() {
        let step = next_step(&view(&[1, 2, 3], &[], &[]), &ids(&[1, 2]));
        assert_eq!(step, Some(Step::SetVoters(ids(&[1, 2]))));
        let step = next_step(&view(&[1, 2], &[], &[]), &ids(&[1]));
        assert_eq!(step, Some(Step::SetVoters(ids(&[1]))));
        assert_eq!(next_step(&view(&[1], &[], &[]), &ids(&[1])), None);
    }

    #[test]
    fn a_new_node_that_never_starts_does_not_block_a_later_removal() {
        // Node 4 was added as a learner and never caught up; node 3 is removed.
        let raft = view(&[1, 2, 3], &[4], &[]);
        let step = next_step(&raft, &ids(&[1, 2, 4]));
        assert_eq!(step, Some(Step::SetVoters(ids(&[1, 2]))));
        // And once it is alone in being behind, nothing more is tried.
        assert_eq!(next_step(&view(&[1, 2], &[4], &[]), &ids(&[1, 2, 4])), None);
    }

    #[test]
    fn a_new_node_joins_as_a_learner_and_votes_once_caught_up() {
        let steps = walk(view(&[1, 2, 3], &[], &[]), &ids(&[1, 2, 3, 4]), &ids(&[4]));
        assert_eq!(
            steps,
            vec![Step::AddLearner(4), Step::SetVoters(ids(&[1, 2, 3, 4]))]
        );
    }

    #[test]
    fn a_swap_at_nodes_max_removes_first_and_never_asks_raft_for_more_nodes() {
        let all: Vec<u64> = (1..=NODES_MAX as u64).collect();
        let mut wanted = ids(&all);
        wanted.remove(&7);
        wanted.insert(NODES_MAX as u64 + 1);
        let steps = walk(view(&all, &[], &[]), &wanted, &wanted);
        assert!(matches!(&steps[0], Step::SetVoters(voters) if !voters.contains(&7)));
        assert_eq!(steps[1], Step::AddLearner(NODES_MAX as u64 + 1));
        assert_eq!(steps.len(), 3);
    }

    #[test]
    fn replacing_every_node_keeps_the_old_voters_until_the_new_ones_caught_up() {
        let steps = walk(
            view(&[1, 2, 3], &[], &[]),
            &ids(&[4, 5, 6]),
            &ids(&[4, 5, 6]),
        );
        assert_eq!(
            steps[..3],
            [
                Step::AddLearner(4),
                Step::AddLearner(5),
                Step::AddLearner(6)
            ]
        );
        assert_eq!(steps[3], Step::SetVoters(ids(&[4, 5, 6])));
        assert_eq!(steps.len(), 4);
        // With one new node still behind, the old voters stay.
        let raft = view(&[1, 2, 3], &[4, 5, 6], &[4, 5]);
        assert_eq!(next_step(&raft, &ids(&[4, 5, 6])), None);
    }

    #[test]
    fn removing_a_node_and_adding_another_in_one_block_adds_first_when_there_is_room() {
        let steps = walk(view(&[1, 2, 3], &[], &[]), &ids(&[1, 2, 4]), &ids(&[4]));
        assert_eq!(
            steps,
            vec![Step::AddLearner(4), Step::SetVoters(ids(&[1, 2, 4]))]
        );
    }

    #[test]
    fn a_learner_the_ledger_removed_again_is_dropped() {
        let step = next_step(&view(&[1, 2, 3], &[9], &[]), &ids(&[1, 2, 3]));
        assert_eq!(step, Some(Step::DropLearners(ids(&[9]))));
    }

    #[test]
    fn any_sequence_of_node_changes_converges_on_the_ledgers_set_within_raft_limits() {
        // A fixed xorshift stream: the same 300 sequences on every run.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let mut raft = view(&[1, 2, 3], &[], &[]);
            let mut wanted = ids(&[1, 2, 3]);
            let mut fresh_id = 4;
            for _ in 0..(next() % 12) {
                // A committed AddNode (within the ledger's limit) or RemoveNode
                // (never the last node), as the ledger's rules allow.
                let add = next() % 2 == 0 && wanted.len() < NODES_MAX || wanted.len() == 1;
                if add {
                    wanted.insert(fresh_id);
                    fresh_id += 1;
                } else {
                    let position = (next() % wanted.len() as u64) as usize;
                    let gone = *wanted.iter().nth(position).unwrap();
                    wanted.remove(&gone);
                }
                // Raft may be interrupted part-way by the next change.
                let steps = next() % 4;
                for _ in 0..steps {
                    let Some(step) = next_step(&raft, &wanted) else {
                        break;
                    };
                    raft = after(raft, &step, &wanted);
                    assert!(raft.voters.len() + raft.learners.len() <= NODES_MAX);
                    assert!(!raft.voters.is_empty());
                }
            }
            let mut steps = 0;
            while let Some(step) = next_step(&raft, &wanted) {
                raft = after(raft, &step, &wanted);
                assert!(raft.voters.len() + raft.learners.len() <= NODES_MAX);
                assert!(!raft.voters.is_empty());
                steps += 1;
                assert!(steps < 200, "no end towards {wanted:?}: {raft:?}");
            }
            assert_eq!(raft.voters, wanted);
            assert!(raft.learners.is_empty(), "{raft:?}");
        }
    }

    /// Raft after `step`, every learner the ledger wants catching up at once.
    fn after(mut raft: RaftView, step: &Step, wanted: &BTreeSet<u64>) -> RaftView {
        let mut added = walk_one(&mut raft, step);
        added.retain(|id| wanted.contains(id));
        raft.caught_up.extend(added);
        raft
    }

    fn walk_one(raft: &mut RaftView, step: &Step) -> Vec<u64> {
        match step {
            Step::SetVoters(voters) => {
                raft.learners.retain(|id| !voters.contains(id));
                raft.caught_up.retain(|id| !voters.contains(id));
                raft.voters = voters.clone();
                Vec::new()
            }
            Step::AddLearner(id) => {
                raft.learners.insert(*id);
                vec![*id]
            }
            Step::DropLearners(gone) => {
                raft.learners.retain(|id| !gone.contains(id));
                raft.caught_up.retain(|id| !gone.contains(id));
                Vec::new()
            }
        }
    }
}
