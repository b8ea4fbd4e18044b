//! The transaction rules: who may do what, to which stone, and when.
//!
//! [`apply_transaction`] authorises a signed transaction (`authorize.rs`) and then
//! runs its action's rule (`stones.rs`, `transfers.rs`, `governance.rs`). The
//! checks on stones and parties are written once, in `predicates.rs`, which the
//! proof verifier's custody replay calls too. Every rule reads and checks
//! everything first and writes to the [`Overlay`] only once all checks have
//! passed, so a rejected transaction changes no state. The order of the checks
//! is part of the protocol (it decides which reason a transaction with several
//! faults gets) and is documented in `docs/protocol.md`.

mod authorize;
mod governance;
pub(crate) mod predicates;
mod stones;
mod transfers;

pub use authorize::{check_approvals, check_approver};

use crate::error::StoreError;
use crate::ids::{OrgId, StoneId, TxId};
use crate::model::{Action, RejectReason, SignedTransaction, Stone};
use crate::state::{LedgerView, Overlay};

/// Why a rule stopped: the transaction is rejected, or the store failed (fatal).
#[derive(Debug)]
pub enum Stop {
    /// The transaction is rejected; the block goes on.
    Reject(RejectReason),
    /// The store failed; applying the block must stop.
    Store(StoreError),
}

impl From<RejectReason> for Stop {
    fn from(reason: RejectReason) -> Self {
        Stop::Reject(reason)
    }
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Store(error)
    }
}

/// The result of a rule.
pub type RuleResult<T = ()> = Result<T, Stop>;

/// Everything a rule needs to know about the transaction being applied.
pub struct TxContext<'t> {
    /// Its id.
    pub id: TxId,
    /// The acting member.
    pub signer: &'t OrgId,
    /// Height of the block being built.
    pub height: u64,
}

/// Checks and applies one transaction at `tx_index` of the block at `height`.
///
/// Its id is burned (later copies are replays) once it passes authorisation,
/// whatever its action's outcome. A transaction that fails authorisation does not
/// burn its id: otherwise anyone could copy a member's pending transaction, spoil
/// its signature, and get the genuine one refused as a replay.
///
/// The transaction's writes become part of the block's changes only when it is
/// applied; on rejection they are dropped, so it changes no state.
///
/// `id` is `signed.id()`, which the caller has already computed.
pub fn apply_transaction<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    signed: &SignedTransaction,
    id: TxId,
    tx_index: u32,
    height: u64,
) -> RuleResult {
    let result = run_transaction(overlay, signed, id, tx_index, height);
    match result {
        Ok(()) => overlay.commit_tx(),
        Err(_) => overlay.discard_tx(),
    }
    result
}

fn run_transaction<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    signed: &SignedTransaction,
    id: TxId,
    tx_index: u32,
    height: u64,
) -> RuleResult {
    authorize::authorize(overlay, signed, &id)?;
    overlay.begin_tx(tx_index, id);
    let context = TxContext {
        id,
        signer: &signed.tx.signer,
        height,
    };
    match &signed.tx.action {
        Action::RegisterStone(register) => stones::register(overlay, &context, register),
        Action::ProposeTransfer(propose) => transfers::propose(overlay, &context, propose),
        Action::AcceptTransfer { proposal } => transfers::accept(overlay, &context, proposal),
        Action::RejectTransfer { proposal } => transfers::reject(overlay, &context, proposal),
        Action::CancelTransfer { proposal } => transfers::cancel(overlay, &context, proposal),
        Action::Manufacture(manufacture) => stones::manufacture(overlay, &context, manufacture),
        Action::Grade { stone, report } => stones::grade(overlay, &context, stone, report),
        Action::Sell { stone, .. } => stones::sell(overlay, &context, stone),
        Action::Flag { stone, reason } => stones::flag(overlay, &context, stone, *reason),
        Action::ClearFlag { stone } => stones::clear_flag(overlay, &context, stone),
        Action::Governance(change) => governance::apply(overlay, change),
    }
}

/// Loads a stone or rejects with `UnknownStone`.
fn existing_stone<V: LedgerView + ?Sized>(
    overlay: &Overlay<'_, V>,
    id: &StoneId,
) -> RuleResult<Stone> {
    overlay
        .stone(id)?
        .ok_or_else(|| Stop::Reject(RejectReason::UnknownStone { stone: id.clone() }))
}
