//! [`ProofSource`] over the in-memory [`TestChain`], so proofs can be built and
//! tested without the RocksDB store. Test support only (feature `test-utils`).

use super::{ProofSource, TxLocation};
use crate::error::StoreResult;
use crate::history::HistorySource;
use crate::ids::{ChainId, Digest, StoneId};
use crate::machine::AppliedBlock;
use crate::model::{BlockHeader, Receipt, SignedTransaction, Stone};
use crate::state::LedgerView;
use crate::state_tree::StateNodes;
use crate::testkit::TestChain;

/// The block at `height` (1-based), if the chain has one.
fn block_at(chain: &TestChain, height: u64) -> Option<&AppliedBlock> {
    let index = usize::try_from(height.checked_sub(1)?).ok()?;
    chain.blocks.get(index)
}

impl HistorySource for TestChain {
    fn history_node(&self, level: u8, position: u64) -> StoreResult<Option<Digest>> {
        let leaves: Vec<Digest> = std::iter::once(self.consortium.genesis.genesis_hash)
            .chain(self.blocks.iter().map(|applied| applied.hash))
            .map(|hash| Digest(hash.0))
            .collect();
        let span = 1usize << level.min(32);
        let start = usize::try_from(position)
            .unwrap_or(usize::MAX)
            .saturating_mul(span);
        Ok(leaves
            .get(start..start.saturating_add(span))
            .map(crate::merkle::root))
    }
}

impl StateNodes for TestChain {
    fn state_node(&self, key: &jmt::storage::NodeKey) -> StoreResult<Option<jmt::storage::Node>> {
        self.state.state_node(key)
    }
}

impl ProofSource for TestChain {
    fn chain_id(&self) -> &ChainId {
        self.state.chain_id()
    }

    fn tip_height(&self) -> u64 {
        self.blocks.len() as u64
    }

    fn header(&self, height: u64) -> StoreResult<Option<BlockHeader>> {
        Ok(block_at(self, height).map(|applied| applied.block.header.clone()))
    }

    fn stone(&self, id: &StoneId) -> StoreResult<Option<Stone>> {
        self.state.stone(id)
    }

    fn stone_event_locations(&self, id: &StoneId) -> StoreResult<Vec<TxLocation>> {
        let mut locations = Vec::new();
        for applied in &self.blocks {
            let height = applied.block.header.height;
            for event in applied.changes.events.iter().filter(|e| &e.stone == id) {
                locations.push(TxLocation {
                    height,
                    tx_index: event.tx_index,
                });
            }
        }
        Ok(locations)
    }

    fn governance_locations(&self) -> StoreResult<Vec<TxLocation>> {
        let mut locations = Vec::new();
        for applied in &self.blocks {
            let height = applied.block.header.height;
            for tx_index in &applied.changes.governance_txs {
                locations.push(TxLocation {
                    height,
                    tx_index: *tx_index,
                });
            }
        }
        Ok(locations)
    }

    fn transaction_at(
        &self,
        location: TxLocation,
    ) -> StoreResult<Option<(SignedTransaction, Receipt)>> {
        let Some(applied) = block_at(self, location.height) else {
            return Ok(None);
        };
        let index = location.tx_index as usize;
        let transaction = applied.block.transactions.as_slice().get(index);
        let receipt = applied.receipts.get(index);
        Ok(transaction.cloned().zip(receipt.cloned()))
    }

    fn block_leaves(&self, height: u64) -> StoreResult<Option<(Vec<Digest>, Vec<Digest>)>> {
        Ok(block_at(self, height)
            .map(|applied| (applied.tx_leaves.clone(), applied.receipt_leaves.clone())))
    }
}
