//! The ledger state as the rules see it: a read-only [`LedgerView`], the
//! [`StateChanges`] one block makes, an [`Overlay`] that stages those changes over
//! a view while a block is applied, and [`MemoryState`], a complete in-memory
//! state for tests, audits and reference models.
//!
//! The RocksDB store implements [`LedgerView`] too, so the same rules run over
//! memory and disk.

use std::collections::{BTreeMap, HashSet};

use crate::error::StoreResult;
use crate::history::{HistoryNode, HistoryPeaks};
use crate::ids::{BlockHash, ChainId, ProposalId, StoneId, TxId};
use crate::model::{BlockHeader, Membership, Proposal, Stone};
use crate::state_tree::{MemoryStateNodes, StateNodes, StateTreeUpdate};

/// The last block of the chain (or the genesis, at height 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChainTip {
    /// Its height; 0 is the genesis.
    pub height: u64,
    /// Its hash; the genesis hash at height 0.
    pub hash: BlockHash,
    /// Its timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// What a ledger starts from: the chain id, the genesis hash and the founding
/// membership. The genesis crate builds it from the genesis document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisState {
    /// The chain id.
    pub chain_id: ChainId,
    /// The genesis document's hash: block 1's previous hash.
    pub genesis_hash: BlockHash,
    /// The founding members and nodes.
    pub membership: Membership,
    /// The genesis time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

impl GenesisState {
    /// The tip of a chain that has no blocks yet.
    pub fn tip(&self) -> ChainTip {
        ChainTip {
            height: 0,
            hash: self.genesis_hash,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// Read access to a ledger state.
pub trait LedgerView {
    /// The chain's id.
    fn chain_id(&self) -> &ChainId;
    /// The last block.
    fn tip(&self) -> ChainTip;
    /// The members and nodes in force.
    fn membership(&self) -> &Membership;
    /// A stone's current state.
    fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>>;
    /// A transfer proposal.
    fn proposal(&self, id: &ProposalId) -> StoreResult<Option<Proposal>>;
    /// Whether a transaction with this id was authorised in an earlier block (its
    /// id is burned: any copy is a replay).
    fn contains_tx(&self, id: &TxId) -> StoreResult<bool>;
    /// The history tree's peaks: every block hash up to the tip, genesis first.
    fn history(&self) -> &HistoryPeaks;
}

/// One entry of a stone's event index: the `seq`-th event of `stone` is the
/// transaction at `tx_index` in the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoneEvent {
    /// The stone.
    pub stone: StoneId,
    /// Its sequence number among the stone's events (0 is its creation).
    pub seq: u32,
    /// The transaction's position in the block.
    pub tx_index: u32,
}

/// Everything one block changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Stones created or changed, in their new state.
    pub stones: BTreeMap<StoneId, Stone>,
    /// Proposals opened or closed, in their new state.
    pub proposals: BTreeMap<ProposalId, Proposal>,
    /// The new membership, when governance changed it.
    pub membership: Option<Membership>,
    /// New stone-event index entries, in order.
    pub events: Vec<StoneEvent>,
    /// Transactions to enter in the transaction-id index, in block order.
    pub indexed_txs: Vec<IndexedTx>,
    /// Positions of the applied governance transactions, in block order.
    pub governance_txs: Vec<u32>,
    /// The history tree's peaks once this block's hash is appended.
    pub history: HistoryPeaks,
    /// The complete subtrees that appending this block's hash formed.
    pub history_nodes: Vec<HistoryNode>,
    /// The state tree's new nodes and root, and the nodes it drops.
    pub state_tree: StateTreeUpdate,
}

/// A transaction-id index entry made by a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedTx {
    /// The transaction.
    pub id: TxId,
    /// Its position in the block.
    pub tx_index: u32,
    /// Whether it passed authorisation, burning its id for good.
    pub burned: bool,
}

/// The writes of the transaction being applied, kept apart until it succeeds.
#[derive(Default)]
struct PendingTx {
    stones: BTreeMap<StoneId, Stone>,
    proposals: BTreeMap<ProposalId, Proposal>,
    membership: Option<Membership>,
    events: Vec<StoneEvent>,
}

/// A block's changes staged over a base view. Reads see the current
/// transaction's pending writes first, then the block's, then the base.
///
/// Rules check everything before they write, so a rejected transaction should
/// have nothing pending; discarding a rejected transaction's writes makes that a guarantee rather
/// than a habit.
pub struct Overlay<'a, V: LedgerView + ?Sized> {
    base: &'a V,
    changes: StateChanges,
    pending: PendingTx,
    block_tx_ids: HashSet<TxId>,
    tx_index: u32,
}

impl<'a, V: LedgerView + ?Sized> Overlay<'a, V> {
    /// An overlay with no changes.
    pub fn new(base: &'a V) -> Self {
        Self {
            base,
            changes: StateChanges::default(),
            pending: PendingTx::default(),
            block_tx_ids: HashSet::new(),
            tx_index: 0,
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> &ChainId {
        self.base.chain_id()
    }

    /// The membership in force, including this block's governance so far.
    pub fn membership(&self) -> &Membership {
        self.pending
            .membership
            .as_ref()
            .or(self.changes.membership.as_ref())
            .unwrap_or_else(|| self.base.membership())
    }

    /// A stone, as changed so far.
    pub fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>> {
        match self.pending.stones.get(id).or(self.changes.stones.get(id)) {
            Some(stone) => Ok(Some(stone.clone())),
            None => self.base.stone(id),
        }
    }

    /// A proposal, as changed so far.
    pub fn proposal(&self, id: &ProposalId) -> StoreResult<Option<Proposal>> {
        match self
            .pending
            .proposals
            .get(id)
            .or(self.changes.proposals.get(id))
        {
            Some(proposal) => Ok(Some(proposal.clone())),
            None => self.base.proposal(id),
        }
    }

    /// Whether `id` is burned: authorised on the ledger or earlier in this block.
    pub fn contains_tx(&self, id: &TxId) -> StoreResult<bool> {
        Ok(self.block_tx_ids.contains(id) || self.base.contains_tx(id)?)
    }

    /// Starts the transaction at `tx_index`; its id is now taken, whatever its outcome.
    pub fn begin_tx(&mut self, tx_index: u32, id: TxId) {
        self.tx_index = tx_index;
        self.block_tx_ids.insert(id);
    }

    /// Enters the transaction at `tx_index` in the transaction-id index.
    pub fn index_tx(&mut self, id: TxId, tx_index: u32, burned: bool) {
        self.changes.indexed_txs.push(IndexedTx {
            id,
            tx_index,
            burned,
        });
    }

    /// Stores a stone's new state as an event of the current transaction.
    pub fn record_stone_event(&mut self, mut stone: Stone) {
        self.pending.events.push(StoneEvent {
            stone: stone.id.clone(),
            seq: stone.event_count,
            tx_index: self.tx_index,
        });
        stone.event_count += 1;
        self.pending.stones.insert(stone.id.clone(), stone);
    }

    /// The stone events of the block's applied transactions so far.
    pub(crate) fn events(&self) -> &[StoneEvent] {
        &self.changes.events
    }

    /// Stores a proposal's new state.
    pub fn put_proposal(&mut self, proposal: Proposal) {
        self.pending.proposals.insert(proposal.id, proposal);
    }

    /// Replaces the membership.
    pub fn put_membership(&mut self, membership: Membership) {
        self.pending.membership = Some(membership);
    }

    /// Keeps the current transaction's writes: it was applied.
    pub(crate) fn commit_tx(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.changes.stones.extend(pending.stones);
        self.changes.proposals.extend(pending.proposals);
        if pending.membership.is_some() {
            self.changes.membership = pending.membership;
        }
        self.changes.events.extend(pending.events);
    }

    /// Drops the current transaction's writes: it was rejected.
    pub(crate) fn discard_tx(&mut self) {
        self.pending = PendingTx::default();
    }

    /// The block's changes (a transaction still pending is dropped).
    pub fn into_changes(self) -> StateChanges {
        self.changes
    }
}

/// A whole ledger state in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryState {
    chain_id: ChainId,
    tip: ChainTip,
    membership: Membership,
    stones: BTreeMap<StoneId, Stone>,
    proposals: BTreeMap<ProposalId, Proposal>,
    tx_ids: HashSet<TxId>,
    history: HistoryPeaks,
    state_nodes: MemoryStateNodes,
}

impl MemoryState {
    /// The state at genesis.
    pub fn new(genesis: &GenesisState) -> Self {
        Self {
            chain_id: genesis.chain_id.clone(),
            tip: genesis.tip(),
            membership: genesis.membership.clone(),
            stones: BTreeMap::new(),
            proposals: BTreeMap::new(),
            tx_ids: HashSet::new(),
            history: HistoryPeaks::genesis(genesis.genesis_hash),
            state_nodes: MemoryStateNodes::default(),
        }
    }

    /// Applies a block's changes, as produced by [`crate::machine::apply_block`].
    pub fn commit(&mut self, applied: &crate::machine::AppliedBlock) {
        let header: &BlockHeader = &applied.block.header;
        self.tip = ChainTip {
            height: header.height,
            hash: applied.hash,
            timestamp_ms: header.timestamp_ms,
        };
        for indexed in &applied.changes.indexed_txs {
            if indexed.burned {
                self.tx_ids.insert(indexed.id);
            }
        }
        for (id, stone) in &applied.changes.stones {
            self.stones.insert(id.clone(), stone.clone());
        }
        for (id, proposal) in &applied.changes.proposals {
            self.proposals.insert(*id, proposal.clone());
        }
        if let Some(membership) = &applied.changes.membership {
            self.membership = membership.clone();
        }
        self.history = applied.changes.history.clone();
        self.state_nodes.apply(&applied.changes.state_tree);
    }

    /// Every stone, by id.
    pub fn stones(&self) -> &BTreeMap<StoneId, Stone> {
        &self.stones
    }

    /// Every proposal, by id.
    pub fn proposals(&self) -> &BTreeMap<ProposalId, Proposal> {
        &self.proposals
    }
}

impl StateNodes for MemoryState {
    fn state_node(&self, key: &jmt::storage::NodeKey) -> StoreResult<Option<jmt::storage::Node>> {
        self.state_nodes.state_node(key)
    }
}

impl LedgerView for MemoryState {
    fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }
    fn tip(&self) -> ChainTip {
        self.tip
    }
    fn membership(&self) -> &Membership {
        &self.membership
    }
    fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>> {
        Ok(self.stones.get(id).cloned())
    }
    fn proposal(&self, id: &ProposalId) -> StoreResult<Option<Proposal>> {
        Ok(self.proposals.get(id).cloned())
    }
    fn contains_tx(&self, id: &TxId) -> StoreResult<bool> {
        Ok(self.tx_ids.contains(id))
    }
    fn history(&self) -> &HistoryPeaks {
        &self.history
    }
}
