//! Ledger values in a locale's words: dates, member names, certifiers, flag
//! reasons and each kind of journey step. Shared by the passport and the
//! explorer.

use std::collections::BTreeMap;

use gemtrail_ledger::ids::{NodeId, OrgId};
use gemtrail_ledger::model::FlagReason;
use gemtrail_ledger::proof::journey::utc_text;
use gemtrail_ledger::proof::{JourneyStep, StepKind};

use crate::locale::Locale;

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn time_text(timestamp_ms: u64) -> String {
    utc_text(timestamp_ms)
}

/// `YYYY-MM-DD` (UTC).
pub(crate) fn date_text(timestamp_ms: u64) -> String {
    let mut text = utc_text(timestamp_ms);
    text.truncate(10);
    text
}

/// A member's display name with its id, or the id alone when unnamed.
pub(crate) fn org_name(names: &BTreeMap<OrgId, String>, org: &OrgId) -> String {
    match names.get(org) {
        Some(name) if name != org.as_str() => format!("{name} ({org})"),
        _ => org.to_string(),
    }
}

/// "nodes 1, 2, 3" in the locale's words.
pub(crate) fn certifiers(locale: &Locale, nodes: &[NodeId]) -> String {
    let ids: Vec<String> = nodes.iter().map(|node| node.0.to_string()).collect();
    let key = if ids.len() == 1 { "node" } else { "nodes" };
    locale.fill(key, &[("ids", &ids.join(", "))])
}

/// The locale key of a flag's warning.
pub(crate) fn flag_key(reason: FlagReason) -> &'static str {
    match reason {
        FlagReason::Stolen => "flag_stolen",
        FlagReason::Lost => "flag_lost",
        FlagReason::Disputed => "flag_disputed",
    }
}

fn reason_key(reason: FlagReason) -> &'static str {
    match reason {
        FlagReason::Stolen => "reason_stolen",
        FlagReason::Lost => "reason_lost",
        FlagReason::Disputed => "reason_disputed",
    }
}

/// One journey step in words.
pub(crate) fn step_words(
    locale: &Locale,
    step: &JourneyStep,
    names: &BTreeMap<OrgId, String>,
) -> String {
    let name = |org: &OrgId| org_name(names, org);
    let signer = name(&step.signer);
    match &step.kind {
        StepKind::Registered => locale.fill("step_registered", &[("signer", &signer)]),
        StepKind::TransferProposed { to } => {
            locale.fill("step_proposed", &[("signer", &signer), ("to", &name(to))])
        }
        StepKind::CustodyTransferred { from, to } => locale.fill(
            "step_transferred",
            &[("from", &name(from)), ("to", &name(to))],
        ),
        StepKind::TransferRejected => locale.fill("step_rejected", &[("signer", &signer)]),
        StepKind::TransferCancelled => locale.fill("step_cancelled", &[("signer", &signer)]),
        StepKind::Manufactured {
            cutter,
            experience_years,
            outputs,
        } => {
            let outputs: Vec<String> = outputs
                .iter()
                .map(|output| format!("{} ({})", output.stone_id, output.four_cs.carats))
                .collect();
            locale.fill(
                "step_manufactured",
                &[
                    ("cutter", cutter.as_str()),
                    ("years", &experience_years.to_string()),
                    ("signer", &signer),
                    ("outputs", &outputs.join(", ")),
                ],
            )
        }
        kind => later_step_words(locale, kind, &name),
    }
}

/// The steps after cutting: grading, flags and the sale.
fn later_step_words(locale: &Locale, kind: &StepKind, name: &dyn Fn(&OrgId) -> String) -> String {
    match kind {
        StepKind::Graded {
            lab,
            report_number,
            four_cs,
            ..
        } => locale.fill(
            "step_graded",
            &[
                ("lab", &name(lab)),
                ("report", report_number.as_str()),
                ("carats", &four_cs.carats.to_string()),
                ("colour", four_cs.colour.as_str()),
                ("clarity", four_cs.clarity.as_str()),
                ("cut", four_cs.cut.as_str()),
            ],
        ),
        StepKind::Flagged { reason, by } => locale.fill(
            "step_flagged",
            &[
                ("reason", locale.text(reason_key(*reason))),
                ("by", &name(by)),
            ],
        ),
        StepKind::FlagCleared { by } => locale.fill("step_cleared", &[("by", &name(by))]),
        StepKind::Sold { retailer, .. } => {
            locale.fill("step_sold", &[("retailer", &name(retailer))])
        }
        _ => String::new(),
    }
}
