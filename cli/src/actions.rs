//! Building the actions of a journey (for the demo and the benchmark's
//! workload), with bounded fields checked.

use gemtrail_ledger::codec::{BoundedString, BoundedVec};
use gemtrail_ledger::ids::{Digest, OrgId, StoneId};
use gemtrail_ledger::model::{
    Action, Carats, CountryCode, Date, FourCs, Origin, ProposeTransfer, RegisterStone, RoughInfo,
};

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

/// Registration of a 12.50 ct rough from Jwaneng, Botswana (the demo's and
/// the benchmark's mine), with `evidence` hashes.
pub(crate) fn register_jwaneng_rough(
    id: &str,
    description: &str,
    evidence: Vec<Digest>,
) -> CliResult<Action> {
    Ok(Action::RegisterStone(RegisterStone {
        stone_id: stone(id)?,
        origin: Origin {
            mine: text("Jwaneng")?,
            country: CountryCode::parse("BW").map_err(|error| CliError::new(error.to_owned()))?,
            region: text("Southern District")?,
            extracted_on: Date::new(2026, 3, 14)
                .map_err(|error| CliError::new(error.to_owned()))?,
        },
        rough: RoughInfo {
            carats: Carats(1250),
            description: text(description)?,
        },
        kp_certificate: text("BW-KP-2026-0042")?,
        evidence: BoundedVec::new(evidence).map_err(|error| CliError::new(error.to_string()))?,
    }))
}
