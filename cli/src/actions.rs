//! Building the actions of a journey (for the demo and the benchmark's
//! workload), with bounded fields checked.

use gemtrail_ledger::codec::{BoundedString, BoundedVec};
use gemtrail_ledger::ids::{Digest, OrgId, StoneId};
use gemtrail_ledger::model::{
    Action, Carats, CountryCode, Cutter, Date, FourCs, LabReport, Manufacture, Origin,
    PolishedOutput, ProposeTransfer, RegisterStone, RoughInfo,
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

/// A polished stone of an Excellent cut.
pub(crate) fn polished_output(
    id: &str,
    shape: &str,
    carats: u64,
    colour: &str,
    clarity: &str,
) -> CliResult<PolishedOutput> {
    Ok(PolishedOutput {
        stone_id: stone(id)?,
        shape: text(shape)?,
        four_cs: four_cs(carats, colour, clarity)?,
    })
}

/// Sarah Levi (22 years at the wheel, the demo's and the benchmark's
/// cutter) cuts `rough` into `outputs`; `context` starts the message of a
/// list too long for the ledger.
pub(crate) fn cut_by_sarah_levi(
    rough: &str,
    outputs: Vec<PolishedOutput>,
    context: &str,
) -> CliResult<Action> {
    Ok(Action::Manufacture(Manufacture {
        rough: stone(rough)?,
        outputs: BoundedVec::new(outputs)
            .map_err(|error| CliError::new(format!("{context}{error}")))?,
        cutter: Cutter {
            name: text("Sarah Levi")?,
            experience_years: 22,
        },
    }))
}

/// A lab's report on a 3.10 ct D VVS1 Excellent stone whose origin matched,
/// committing to the `document`'s hash.
pub(crate) fn grade_d_vvs1(id: &str, report_number: &str, document: &[u8]) -> CliResult<Action> {
    Ok(Action::Grade {
        stone: stone(id)?,
        report: LabReport {
            report_number: text(report_number)?,
            four_cs: four_cs(310, "D", "VVS1")?,
            origin_matched: true,
            report_hash: digest(document),
        },
    })
}
