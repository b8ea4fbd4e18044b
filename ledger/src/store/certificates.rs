//! The tip certificates a node gathered ([`QuorumCertificate`]), one per
//! height, beside the blocks they certify.
//!
//! They are written apart from the block batches, when a majority of
//! signatures has arrived, and rewritten as late signatures join: a block is
//! stored before any node can certify it. A certificate is checked before it
//! is stored, so the store holds only ones that verified against the node set
//! of their height.

use rocksdb::{IteratorMode, WriteOptions};

use super::{corrupt, schema, LedgerStore};
use crate::certificate::QuorumCertificate;
use crate::codec::{decode, encode};
use crate::error::{StoreError, StoreResult};

impl LedgerStore {
    /// Stores `certificate` for its height, replacing the one stored there.
    pub fn put_certificate(&self, certificate: &QuorumCertificate) -> StoreResult<()> {
        let mut write_options = WriteOptions::default();
        write_options.set_sync(self.options.sync_writes);
        self.db.put_cf_opt(
            self.cf(schema::CERTIFICATES)?,
            schema::height_key(certificate.checkpoint.height),
            encode(certificate),
            &write_options,
        )?;
        Ok(())
    }

    /// The certificate stored for `height`, if any.
    pub fn certificate(&self, height: u64) -> StoreResult<Option<QuorumCertificate>> {
        self.get(schema::CERTIFICATES, &schema::height_key(height))
    }

    /// Checks that the stored block at the latest certified height, if the
    /// ledger reaches it, is the certified one: a ledger edited while its
    /// node was stopped must not be served.
    pub(super) fn check_certified(&self) -> StoreResult<()> {
        let Some(certificate) = self.latest_certificate()? else {
            return Ok(());
        };
        let height = certificate.checkpoint.height;
        if height > self.tip.height {
            // The blocks after the tip were not yet written back after a
            // crash; Raft applies them again, and the node compares then.
            return Ok(());
        }
        let stored = self
            .header(height)?
            .map(|header| header.hash(&self.chain_id))
            .unwrap_or_default();
        if stored != certificate.checkpoint.block_hash {
            return Err(StoreError::DiffersFromCertificate {
                height,
                certified: certificate.checkpoint.block_hash,
                stored,
            });
        }
        Ok(())
    }

    /// The certificate of the highest certified height, if any.
    pub fn latest_certificate(&self) -> StoreResult<Option<QuorumCertificate>> {
        let column = self.cf(schema::CERTIFICATES)?;
        match self.db.iterator_cf(column, IteratorMode::End).next() {
            Some(item) => {
                let (_, value) = item?;
                decode(&value)
                    .map(Some)
                    .map_err(corrupt(schema::CERTIFICATES))
            }
            None => Ok(None),
        }
    }
}
