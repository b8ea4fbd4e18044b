//! The openings a member keeps: for every salted commitment it signs (terms,
//! sale data, evidence documents, grading reports), the value and its salt.
//!
//! They live beside the signing key, in a directory named after it
//! (`cutter.key` → `cutter.openings/`), one file per transaction,
//! `{tx_id}.json`, written with mode 0600 in a 0700 directory before the
//! transaction is submitted: a commitment on the ledger whose opening was
//! lost could never be disclosed. `gemtrail disclose` reads them back.

use std::io::Write;
use std::path::{Path, PathBuf};

use gemtrail_ledger::commitment::{CommittedField, Opening};
use gemtrail_ledger::ids::{Digest, TxId};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

/// The format line of an openings file.
const OPENINGS_FORMAT: &str = "gemtrail openings v1";

/// One transaction's openings, as stored.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TxOpenings {
    /// [`OPENINGS_FORMAT`].
    pub(crate) format: String,
    /// The transaction whose commitments these open.
    pub(crate) tx_id: TxId,
    /// One per committed field.
    pub(crate) openings: Vec<Opening>,
}

/// Collects the openings of the commitments one action makes.
#[derive(Debug, Default)]
pub(crate) struct Committer {
    openings: Vec<Opening>,
}

impl Committer {
    /// Commits to `value` for `field` under a fresh random salt.
    pub(crate) fn commit(&mut self, field: CommittedField, value: Vec<u8>) -> CliResult<Digest> {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt)
            .map_err(|error| CliError::new(format!("no randomness for a salt: {error}")))?;
        let opening = Opening::new(field, value, salt);
        let commitment = opening.commitment();
        self.openings.push(opening);
        Ok(commitment)
    }

    /// The openings collected so far.
    pub(crate) fn openings(&self) -> &[Opening] {
        &self.openings
    }
}

/// The directory of openings kept beside `key`.
pub(crate) fn openings_dir(key: &Path) -> PathBuf {
    key.with_extension("openings")
}

/// Stores `openings` of `tx_id` beside `key`; nothing to store is no file.
pub(crate) fn save(key: &Path, tx_id: &TxId, openings: &[Opening]) -> CliResult {
    if openings.is_empty() {
        return Ok(());
    }
    let dir = openings_dir(key);
    let cannot = |error: std::io::Error| {
        CliError::new(format!(
            "cannot keep the openings in {}: {error}",
            dir.display()
        ))
    };
    create_private_dir(&dir).map_err(cannot)?;
    let file = TxOpenings {
        format: OPENINGS_FORMAT.to_owned(),
        tx_id: *tx_id,
        openings: openings.to_vec(),
    };
    let text = serde_json::to_string_pretty(&file)
        .map_err(|error| CliError::new(format!("cannot encode the openings: {error}")))?;
    let path = dir.join(format!("{tx_id}.json"));
    write_private(&path, text.as_bytes()).map_err(cannot)
}

/// The openings of `tx_id` kept beside `key`.
pub(crate) fn load(key: &Path, tx_id: &TxId) -> CliResult<TxOpenings> {
    let path = openings_dir(key).join(format!("{tx_id}.json"));
    let text = std::fs::read_to_string(&path).map_err(|error| {
        CliError::new(format!(
            "no openings of transaction {tx_id} beside {} ({}: {error})",
            key.display(),
            path.display()
        ))
        .hint("openings are kept by the member that signed the transaction, beside the key it signed with")
    })?;
    let file: TxOpenings = serde_json::from_str(&text).map_err(|error| {
        CliError::new(format!(
            "{} is not an openings file: {error}",
            path.display()
        ))
    })?;
    if file.format != OPENINGS_FORMAT || file.tx_id != *tx_id {
        return Err(CliError::new(format!(
            "{} is not the openings file of transaction {tx_id}",
            path.display()
        )));
    }
    Ok(file)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openings_are_kept_beside_the_key_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("cutter.key");
        let mut committer = Committer::default();
        let commitment = committer
            .commit(CommittedField::Terms, b"USD 180,000, net 30".to_vec())
            .unwrap();
        let tx_id = TxId::from_hex(&"ab".repeat(32)).unwrap();
        save(&key, &tx_id, committer.openings()).unwrap();
        let loaded = load(&key, &tx_id).unwrap();
        assert_eq!(loaded.openings[0].commitment(), commitment);
        assert!(dir.path().join("cutter.openings").is_dir());
        let other = TxId::from_hex(&"cd".repeat(32)).unwrap();
        assert!(load(&key, &other)
            .unwrap_err()
            .message
            .contains("no openings"));
    }

    #[test]
    fn two_commitments_to_the_same_value_differ() {
        let mut committer = Committer::default();
        let first = committer
            .commit(CommittedField::Sale, b"x".to_vec())
            .unwrap();
        let second = committer
            .commit(CommittedField::Sale, b"x".to_vec())
            .unwrap();
        assert_ne!(first, second);
    }
}
