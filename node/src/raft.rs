//! [`RaftHandle`]: this node's Raft id with its Raft, and the questions every
//! task asks of them (who leads, do I), answered from Raft's metrics without
//! a round trip.

use gemtrail_consensus::types::{RaftNodeId, TypeConfig};
use openraft::{Raft, ServerState};

use crate::api::views::RaftRole;

/// This node's Raft and its id; cheap to clone.
#[derive(Clone)]
pub(crate) struct RaftHandle {
    /// This node's Raft id.
    pub(crate) id: RaftNodeId,
    /// Raft.
    pub(crate) raft: Raft<TypeConfig>,
}

impl RaftHandle {
    /// The leader this node knows of, if any.
    pub(crate) fn leader(&self) -> Option<RaftNodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// True while this node leads.
    pub(crate) fn is_leader(&self) -> bool {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        metrics.state == ServerState::Leader && metrics.current_leader == Some(self.id)
    }
}

impl From<ServerState> for RaftRole {
    fn from(state: ServerState) -> Self {
        match state {
            ServerState::Leader => RaftRole::Leader,
            ServerState::Follower => RaftRole::Follower,
            ServerState::Candidate => RaftRole::Candidate,
            ServerState::Learner => RaftRole::Learner,
            ServerState::Shutdown => RaftRole::Shutdown,
        }
    }
}

impl std::fmt::Debug for RaftHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Raft` is not `Debug`; the id says which node this is.
        f.debug_struct("RaftHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
