//! Rules that create and change stones: register, manufacture, grade, sell, flag
//! and clear a flag.

use std::collections::BTreeSet;

use super::predicates::{
    check_active, check_clearable, check_flaggable, check_may_flag, check_movable,
    check_outputs_fit, check_rough, require_role,
};
use super::{existing_stone, RuleResult, TxContext};
use crate::codec::BoundedVec;
use crate::ids::StoneId;
use crate::model::{
    Carats, FlagReason, GradeSummary, LabReport, Manufacture, RegisterStone, RejectReason, Role,
    Stone, StoneKind, StoneStatus,
};
use crate::state::{LedgerView, Overlay};

fn check_weight(stone: &StoneId, carats: Carats) -> Result<(), RejectReason> {
    if carats.0 == 0 || carats.is_implausible() {
        return Err(RejectReason::ImplausibleCarats {
            stone: stone.clone(),
            carats,
        });
    }
    Ok(())
}

fn check_new_id<V: LedgerView + ?Sized>(overlay: &Overlay<'_, V>, id: &StoneId) -> RuleResult {
    if overlay.stone(id)?.is_some() {
        return Err(RejectReason::StoneExists { stone: id.clone() }.into());
    }
    Ok(())
}

/// Producer only. The id must be new forever; the weight plausible.
pub(super) fn register<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    register: &RegisterStone,
) -> RuleResult {
    require_role(overlay.membership(), context.signer, Role::Producer)?;
    check_new_id(overlay, &register.stone_id)?;
    check_weight(&register.stone_id, register.rough.carats)?;
    overlay.record_stone_event(Stone::new(
        register.stone_id.clone(),
        StoneKind::Rough {
            rough: register.rough.clone(),
            kp_certificate: register.kp_certificate.clone(),
            producer: context.signer.clone(),
        },
        register.origin.clone(),
        context.signer.clone(),
        context.height,
    ));
    Ok(())
}

/// A Manufacturer holding a movable rough cuts it into new polished stones whose
/// carats sum to no more than the rough's. The rough is consumed.
pub(super) fn manufacture<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    manufacture: &Manufacture,
) -> RuleResult {
    require_role(overlay.membership(), context.signer, Role::Manufacturer)?;
    let mut rough = existing_stone(overlay, &manufacture.rough)?;
    let rough_facts = rough.facts();
    check_movable(&rough_facts, context.signer)?;
    check_rough(&rough_facts)?;
    if manufacture.outputs.is_empty() {
        return Err(RejectReason::NoOutputs.into());
    }
    let mut seen = BTreeSet::new();
    for output in manufacture.outputs.iter() {
        if output.stone_id == rough.id || !seen.insert(&output.stone_id) {
            return Err(RejectReason::DuplicateStone {
                stone: output.stone_id.clone(),
            }
            .into());
        }
        check_new_id(overlay, &output.stone_id)?;
        check_weight(&output.stone_id, output.four_cs.carats)?;
    }
    check_outputs_fit(rough.carats(), manufacture.outputs.as_slice())?;

    let output_ids = manufacture
        .outputs
        .iter()
        .map(|output| output.stone_id.clone())
        .collect::<Vec<_>>();
    for output in manufacture.outputs.iter() {
        overlay.record_stone_event(Stone::new(
            output.stone_id.clone(),
            StoneKind::Polished {
                parent: rough.id.clone(),
                output: output.clone(),
                cutter: manufacture.cutter.clone(),
            },
            rough.origin.clone(),
            context.signer.clone(),
            context.height,
        ));
    }
    rough.status = StoneStatus::Consumed;
    // The outputs are bounded by the same maximum as the manufacture's outputs.
    rough.outputs = BoundedVec::new(output_ids).unwrap_or_default();
    overlay.record_stone_event(rough);
    Ok(())
}

/// A Lab attaches its report to an active stone; no custody is needed (the stone
/// visits the lab without changing hands).
pub(super) fn grade<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    stone_id: &StoneId,
    report: &LabReport,
) -> RuleResult {
    require_role(overlay.membership(), context.signer, Role::Lab)?;
    let mut stone = existing_stone(overlay, stone_id)?;
    check_active(&stone.facts())?;
    check_weight(stone_id, report.four_cs.carats)?;
    stone.grade = Some(GradeSummary {
        lab: context.signer.clone(),
        report: report.clone(),
    });
    overlay.record_stone_event(stone);
    Ok(())
}

/// A Retailer holding a movable stone sells it. Final.
pub(super) fn sell<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    stone_id: &StoneId,
) -> RuleResult {
    require_role(overlay.membership(), context.signer, Role::Retailer)?;
    let mut stone = existing_stone(overlay, stone_id)?;
    check_movable(&stone.facts(), context.signer)?;
    stone.status = StoneStatus::Sold;
    overlay.record_stone_event(stone);
    Ok(())
}

/// Flags a stone stolen, lost or disputed. A flagged stone cannot move.
pub(super) fn flag<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    stone_id: &StoneId,
    reason: FlagReason,
) -> RuleResult {
    let mut stone = existing_stone(overlay, stone_id)?;
    let facts = stone.facts();
    check_may_flag(&facts, context.signer, overlay.membership())?;
    check_flaggable(&facts)?;
    stone.flag = Some(reason);
    overlay.record_stone_event(stone);
    Ok(())
}

/// Lifts a flag.
pub(super) fn clear_flag<V: LedgerView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    context: &TxContext<'_>,
    stone_id: &StoneId,
) -> RuleResult {
    let mut stone = existing_stone(overlay, stone_id)?;
    let facts = stone.facts();
    check_may_flag(&facts, context.signer, overlay.membership())?;
    check_clearable(&facts)?;
    stone.flag = None;
    overlay.record_stone_event(stone);
    Ok(())
}
