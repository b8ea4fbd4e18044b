//! Building the actions of a journey (for the demo and the benchmark's
//! workload), with bounded fields checked.

use gemtrail_ledger::codec::{BoundedString, BoundedVec};
use gemtrail_ledger::ids::{Digest, OrgId, StoneId};
use gemtrail_ledger::model::{Action, Carats, FourCs, ProposeTransfer};

use crate::error::{CliError, CliResult};

pub(crate) fn text<const MAX: usize>(value: &str) -> CliResult<BoundedString<MAX>> {
    BoundedString::new(value).map_err(|error| CliError::new(error.to_string()))
}

pub(crate) fn stone(id: &str) -> CliResult<StoneId> {
    StoneId::parse(id).map_err(|error| CliError::new(error.to_string()))
}

pub(crate) fn org(id: &str) -> CliResult<OrgId> {
    OrgId::parse(id).map_err(|error| CliError::new(error.to_string()))
}

pub(crate) fn digest(bytes: &[u8]) -> Digest {
    Digest(blake3::hash(bytes).into())
}

pub(crate) fn four_cs(carats: u64, colour: &str, clarity: &str) -> CliResult<FourCs> {
    Ok(FourCs {
        carats: Carats(carats),
        colour: text(colour)?,
        clarity: text(clarity)?,
        cut: text("Excellent")?,
    })
}

pub(crate) fn propose(stones: &[&str], to: &str, terms: &str) -> CliResult<Action> {
    let ids = stones
        .iter()
        .map(|id| stone(id))
        .collect::<CliResult<Vec<_>>>()?;
    Ok(Action::ProposeTransfer(ProposeTransfer {
        stones: BoundedVec::new(ids).map_err(|error| CliError::new(error.to_string()))?,
        to: org(to)?,
        terms_commitment: digest(terms.as_bytes()),
    }))
}
