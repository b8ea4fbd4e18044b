//! The journey a verified proof tells: origin, custodians, cutter, lab and sale.
//!
//! [`VerifiedJourney`] can only be made by [`super::verify_proof`]: holding one
//! means every step in it was checked against the genesis. [`Journey`] is the
//! plain, serialisable account inside it (JSON for the CLI and the API), and its
//! `Display` is the text an auditor reads.

use std::fmt;

use serde::Serialize;

use crate::ids::{BlockHash, NodeId, OrgId, StoneId, TxId};
use crate::model::{Carats, FlagReason, FourCs, Origin, PolishedOutput, SaleBranding, StoneStatus};

/// A stone's verified provenance. Only [`super::verify_proof`] makes one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct VerifiedJourney {
    journey: Journey,
}

impl VerifiedJourney {
    /// Wraps a journey the verifier has checked; private to the proof module.
    pub(super) fn new(journey: Journey) -> Self {
        Self { journey }
    }

    /// The verified journey.
    pub fn journey(&self) -> &Journey {
        &self.journey
    }

    /// The verified journey, by value.
    pub fn into_journey(self) -> Journey {
        self.journey
    }
}

impl fmt::Display for VerifiedJourney {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.journey, f)
    }
}

/// A stone's provenance, from the mine to the proof's tip: complete up to
/// that block, and silent on what came after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Journey {
    /// The stone the proof is about.
    pub stone: StoneId,
    /// Its ancestry, rough first, ending with the stone itself.
    pub lineage: Vec<StoneId>,
    /// Mine, country, region and extraction date of the rough.
    pub origin: Origin,
    /// The producer that registered the rough.
    pub producer: OrgId,
    /// The Kimberley Process certificate of the rough's parcel.
    pub kp_certificate: String,
    /// The rough's weight.
    pub rough_carats: Carats,
    /// Every event, in chain order.
    pub steps: Vec<JourneyStep>,
    /// Who held the lineage, and when.
    pub custody: Vec<CustodyPeriod>,
    /// Who held the stone at the tip.
    pub custodian: OrgId,
    /// The stone's status at the tip.
    pub status: StoneStatus,
    /// The stone's flag at the tip, if any.
    pub flag: Option<FlagReason>,
    /// Height of the tip the proof was built at.
    pub tip_height: u64,
    /// The tip's block time (ms since the Unix epoch): the history is
    /// complete as of this moment.
    pub as_of_ms: u64,
    /// Hash of that tip: compare it with what the nodes report.
    pub tip_hash: BlockHash,
    /// The nodes whose signatures certify the tip, a majority of those in
    /// force there.
    pub certified_by: Vec<NodeId>,
}

impl Journey {
    /// Who certified the tip, as text: "nodes 1, 2, 3" (or "node 1").
    pub fn certifiers_text(&self) -> String {
        let ids: Vec<String> = self
            .certified_by
            .iter()
            .map(|node| node.0.to_string())
            .collect();
        let noun = if ids.len() == 1 { "node" } else { "nodes" };
        format!("{noun} {}", ids.join(", "))
    }

    /// The journey, certified by `nodes`.
    pub(super) fn certified_by(mut self, nodes: Vec<NodeId>) -> Self {
        self.certified_by = nodes;
        self
    }
}

/// One event of the journey.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JourneyStep {
    /// Block height.
    pub height: u64,
    /// The block's timestamp, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The lineage stone the event concerns (the rough, for a manufacture).
    pub stone: StoneId,
    /// The member that signed it.
    pub signer: OrgId,
    /// The transaction.
    pub tx_id: TxId,
    /// What happened.
    pub kind: StepKind,
}

/// What happened in one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// The producer registered the rough.
    Registered,
    /// The custodian offered the stone.
    TransferProposed {
        /// The offered receiver.
        to: OrgId,
    },
    /// The receiver accepted: custody moved.
    CustodyTransferred {
        /// The previous custodian.
        from: OrgId,
        /// The new custodian.
        to: OrgId,
    },
    /// The receiver refused the offer.
    TransferRejected,
    /// The proposer withdrew the offer.
    TransferCancelled,
    /// The rough was cut into polished stones.
    Manufactured {
        /// The cutter's name.
        cutter: String,
        /// The cutter's years of experience.
        experience_years: u16,
        /// The polished stones.
        outputs: Vec<PolishedOutput>,
    },
    /// A lab graded the stone.
    Graded {
        /// The lab.
        lab: OrgId,
        /// The report number.
        report_number: String,
        /// The lab's 4Cs.
        four_cs: FourCs,
        /// Whether the lab matched the stone to its rough and origin.
        origin_matched: bool,
    },
    /// The stone was flagged.
    Flagged {
        /// Why.
        reason: FlagReason,
        /// Who flagged it.
        by: OrgId,
    },
    /// The flag was lifted.
    FlagCleared {
        /// Who cleared it.
        by: OrgId,
    },
    /// The final sale.
    Sold {
        /// The retailer.
        retailer: OrgId,
        /// The shop and jewellery maker names the retailer signed with the sale.
        branding: Option<SaleBranding>,
    },
}

/// A stretch of time during which one member held the lineage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustodyPeriod {
    /// The custodian.
    pub org: OrgId,
    /// Its display name in the membership of the time.
    pub name: String,
    /// When custody began (block timestamp, ms since the Unix epoch).
    pub from_ms: u64,
    /// When it ended; `None` while it lasts.
    pub until_ms: Option<u64>,
}

impl fmt::Display for Journey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lineage: Vec<&str> = self.lineage.iter().map(StoneId::as_str).collect();
        writeln!(f, "Provenance of {} (verified)", self.stone)?;
        writeln!(
            f,
            "  complete history as of {} (block {}), certified by {}",
            utc_text(self.as_of_ms),
            self.tip_height,
            self.certifiers_text()
        )?;
        writeln!(f, "  lineage:   {}", lineage.join(" -> "))?;
        let origin = &self.origin;
        writeln!(
            f,
            "  origin:    {} mine, {}, {}; extracted {}",
            origin.mine, origin.region, origin.country, origin.extracted_on
        )?;
        writeln!(
            f,
            "  producer:  {}; Kimberley Process certificate {}; rough {}",
            self.producer, self.kp_certificate, self.rough_carats
        )?;
        writeln!(f, "Custody:")?;
        for period in &self.custody {
            let until = period.until_ms.map_or_else(
                || format!("still as of {}", utc_text(self.as_of_ms)),
                |until_ms| format!("until {}", utc_text(until_ms)),
            );
            writeln!(
                f,
                "  {} ({}) from {} {}",
                period.name,
                period.org,
                utc_text(period.from_ms),
                until
            )?;
        }
        writeln!(f, "Steps:")?;
        for step in &self.steps {
            writeln!(
                f,
                "  #{} {} {}: {}",
                step.height,
                utc_text(step.timestamp_ms),
                step.stone,
                step_text(step)
            )?;
        }
        let flag = self
            .flag
            .map_or_else(|| "none".to_owned(), |reason| reason.to_string());
        writeln!(
            f,
            "As of {}: {} held by {}; flag: {}",
            utc_text(self.as_of_ms),
            status_text(self.status),
            self.custodian,
            flag
        )?;
        write!(f, "Tip: height {} hash {}", self.tip_height, self.tip_hash)
    }
}

fn status_text(status: StoneStatus) -> &'static str {
    match status {
        StoneStatus::Active => "active",
        StoneStatus::Consumed => "cut into polished stones",
        StoneStatus::Sold => "sold",
    }
}

/// One step in words, as the journey prints it.
pub fn step_text(step: &JourneyStep) -> String {
    match &step.kind {
        StepKind::Registered => format!("registered at the mine by {}", step.signer),
        StepKind::TransferProposed { to } => format!("{} offered it to {to}", step.signer),
        StepKind::CustodyTransferred { from, to } => format!("custody moved from {from} to {to}"),
        StepKind::TransferRejected => format!("{} refused the offer", step.signer),
        StepKind::TransferCancelled => format!("{} withdrew the offer", step.signer),
        StepKind::Manufactured {
            cutter,
            experience_years,
            outputs,
        } => {
            let cuts: Vec<String> = outputs
                .iter()
                .map(|output| format!("{} ({})", output.stone_id, output.four_cs.carats))
                .collect();
            format!(
                "cut by {cutter} ({experience_years} years) at {} into {}",
                step.signer,
                cuts.join(", ")
            )
        }
        StepKind::Graded {
            lab,
            report_number,
            four_cs,
            origin_matched,
        } => format!(
            "graded by {lab}, report {report_number}: {} {} {} {}; origin {}",
            four_cs.carats,
            four_cs.colour,
            four_cs.clarity,
            four_cs.cut,
            if *origin_matched {
                "matched"
            } else {
                "not matched"
            }
        ),
        StepKind::Flagged { reason, by } => format!("flagged {reason} by {by}"),
        StepKind::FlagCleared { by } => format!("flag cleared by {by}"),
        StepKind::Sold { retailer, branding } => match branding {
            Some(branding) => format!("sold by {retailer} as {}", branding.shop_name),
            None => format!("sold by {retailer}"),
        },
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for milliseconds since the Unix epoch.
pub fn utc_text(timestamp_ms: u64) -> String {
    let seconds = timestamp_ms / 1_000;
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3_600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::utc_text;

    #[test]
    fn utc_text_renders_known_instants() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_790_000_001_000), "2026-09-21 14:13:21 UTC");
    }
}
