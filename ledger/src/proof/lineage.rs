//! Which stones a proof is about: the requested stone and its ancestors, found
//! by following the events that create them back to a registration.

use super::error::ProofError;
use super::ProvenEvent;
use crate::ids::StoneId;
use crate::model::Action;

/// How an event creates a stone.
enum Creation<'p> {
    /// A producer registered it: the start of the lineage.
    Registered,
    /// It was cut from this rough.
    CutFrom(&'p StoneId),
}

/// How `event` creates `stone`, if it does.
fn creation<'p>(event: &'p ProvenEvent, stone: &StoneId) -> Option<Creation<'p>> {
    match &event.transaction.tx.action {
        Action::RegisterStone(register) if &register.stone_id == stone => {
            Some(Creation::Registered)
        }
        Action::Manufacture(manufacture)
            if manufacture
                .outputs
                .iter()
                .any(|output| &output.stone_id == stone) =>
        {
            Some(Creation::CutFrom(&manufacture.rough))
        }
        _ => None,
    }
}

/// The lineage of `stone`, rough first: each stone is created by the first event
/// of the proof that creates it, back to one created by a registration.
///
/// A second creation of a lineage stone is caught later, by the custody replay.
pub(super) fn find_lineage(
    stone: &StoneId,
    events: &[ProvenEvent],
) -> Result<Vec<StoneId>, ProofError> {
    let mut lineage = vec![stone.clone()];
    loop {
        let current = lineage.last().unwrap_or(stone);
        match events.iter().find_map(|event| creation(event, current)) {
            Some(Creation::Registered) => break,
            Some(Creation::CutFrom(rough)) => {
                // A cycle of cuts never reaches a registration.
                if lineage.contains(rough) {
                    return Err(ProofError::MissingRegistration {
                        stone: rough.clone(),
                    });
                }
                lineage.push(rough.clone());
            }
            None if lineage.len() == 1 => {
                return Err(ProofError::StoneNotInProof {
                    stone: stone.clone(),
                })
            }
            None => {
                return Err(ProofError::MissingRegistration {
                    stone: current.clone(),
                })
            }
        }
    }
    lineage.reverse();
    Ok(lineage)
}
