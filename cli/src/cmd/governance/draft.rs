//! The draft file an admin writes and the others approve: one JSON document
//! holding a governance transaction and the approvals gathered so far.
//!
//! Every approval signs the transaction id, which covers the change, the
//! chain, the drafter and the nonce. Loading a draft re-checks every
//! signature, so a file altered after anyone approved it is refused at once
//! (`draft_altered`, exit 4), before anyone else signs it or submits it.

use std::path::Path;

use gemtrail_ledger::ids::TxId;
use gemtrail_ledger::model::{Action, Governance, SignedTransaction};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult, EXIT_UNVERIFIED};

/// The `format` of a draft file this CLI reads and writes.
pub(crate) const DRAFT_FORMAT: &str = "gemtrail governance draft v1";

/// Error code of a draft whose approvals no longer match its change.
pub(crate) const DRAFT_ALTERED: &str = "draft_altered";

/// A governance draft, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftFile {
    /// What this file is: [`DRAFT_FORMAT`].
    pub(crate) format: String,
    /// The transaction id every approver signs, for people comparing copies.
    pub(crate) tx_id: TxId,
    /// The change, with its approvals so far (the drafter's first).
    pub(crate) transaction: SignedTransaction,
}

impl DraftFile {
    /// A draft of `transaction`.
    pub(crate) fn new(transaction: SignedTransaction) -> Self {
        Self {
            format: DRAFT_FORMAT.to_owned(),
            tx_id: transaction.id(),
            transaction,
        }
    }

    /// The governance change it carries.
    pub(crate) fn change(&self) -> CliResult<&Governance> {
        match &self.transaction.tx.action {
            Action::Governance(change) => Ok(change),
            other => Err(CliError::new(format!(
                "the draft holds a {} transaction, not a governance change",
                other.name()
            ))),
        }
    }

    /// Reads and checks a draft: its format, that it is governance, and that
    /// every approval still signs exactly this change.
    pub(crate) fn load(path: &Path) -> CliResult<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            CliError::new(format!("cannot read draft {}: {error}", path.display()))
                .hint("an admin writes one with `gemtrail governance draft`")
        })?;
        let draft: DraftFile = serde_json::from_str(&text).map_err(|error| {
            CliError::new(format!(
                "{} is not a governance draft: {error}",
                path.display()
            ))
        })?;
        if draft.format != DRAFT_FORMAT {
            return Err(CliError::new(format!(
                "{} is a {:?} file; this gemtrail reads {DRAFT_FORMAT:?}",
                path.display(),
                draft.format
            )));
        }
        draft.change()?;
        draft.check_untouched(path)?;
        Ok(draft)
    }

    /// Every approval verifies over the id the change has now, and the
    /// recorded id is that id.
    fn check_untouched(&self, path: &Path) -> CliResult {
        let id = self.transaction.id();
        let broken = self
            .transaction
            .approvals
            .iter()
            .find(|approval| !approval.key.verify(id.as_bytes(), &approval.signature));
        if let Some(approval) = broken {
            return Err(altered(
                path,
                &format!("the approval of {} does not sign this change", approval.org),
            ));
        }
        if self.tx_id != id {
            return Err(altered(
                path,
                &format!("its recorded id {} is not the change's id {id}", self.tx_id),
            ));
        }
        Ok(())
    }

    /// Writes the draft to `path` through a temporary file in the same
    /// directory, so a crash never leaves half a draft.
    pub(crate) fn save(&self, path: &Path) -> CliResult {
        let json = serde_json::to_string_pretty(self)
            .map_err(|error| CliError::new(format!("cannot encode the draft: {error}")))?;
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".partial");
        let temporary = std::path::PathBuf::from(temporary);
        let write = std::fs::write(&temporary, format!("{json}\n"))
            .and_then(|()| std::fs::rename(&temporary, path));
        write.map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            CliError::new(format!("cannot write draft {}: {error}", path.display()))
        })
    }
}

fn altered(path: &Path, what: &str) -> CliError {
    CliError {
        exit: EXIT_UNVERIFIED,
        message: format!(
            "draft {} was altered after it was approved: {what}",
            path.display()
        ),
        hint: Some(
            "do not approve or submit it; ask the drafting admin for the original file".to_owned(),
        ),
        code: Some(DRAFT_ALTERED.to_owned()),
    }
}
