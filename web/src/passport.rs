//! The buyer's passport: one page, phone first, built from a
//! [`VerifiedJourney`] so that it can only show what the proof verifier
//! checked against the genesis.
//!
//! The node serves it at `/passport/{stone}`; `gemtrail passport export`
//! writes the same page as one self-contained file. Start at
//! [`passport_page`].

use std::collections::BTreeMap;

use gemtrail_ledger::ids::{OrgId, StoneId};
use gemtrail_ledger::model::{FlagReason, FourCs, PolishedOutput, StoneStatus};
use gemtrail_ledger::proof::{Journey, JourneyStep, StepKind, VerifiedJourney};
use maud::{html, Markup, PreEscaped};

use crate::layout::{document, LanguageSwitch};
use crate::locale::{Locale, Locales};
use crate::words::{certifiers, date_text, flag_key, org_name, step_words, time_text};

/// What a passport page shows besides the journey itself.
#[derive(Clone, Copy, Debug)]
pub struct PassportPage<'a> {
    /// The verified journey.
    pub journey: &'a VerifiedJourney,
    /// Display names of members (custodians, labs), by id.
    pub names: &'a BTreeMap<OrgId, String>,
    /// The passport's stable address, which the QR code encodes.
    pub url: &'a str,
    /// The QR code of `url`, as SVG.
    pub qr_svg: &'a str,
    /// Where the passport file downloads from.
    pub download_href: &'a str,
    /// The file's name, as the verify command names it.
    pub file_name: &'a str,
    /// How the page offers its other languages.
    pub switch: LanguageSwitch<'a>,
}

/// The passport page as a whole HTML document.
pub fn passport_page(locales: &Locales, locale: &Locale, page: &PassportPage<'_>) -> Markup {
    let journey = page.journey.journey();
    let title = format!("{}: {}", locale.text("passport_title"), journey.stone);
    let body = html! {
        (heading(locale, journey))
        @if let Some(reason) = journey.flag {
            (flag_alert(locale, reason))
        }
        (verified_card(locale, journey))
        div.columns.grid-gap {
            (stone_card(locale, journey, page.names))
            (origin_card(locale, journey, page.names))
        }
        div.columns.grid-gap {
            (cutting_card(locale, journey, page.names))
            (custody_card(locale, journey, page.names))
        }
        (journey_card(locale, journey, page.names))
        (check_card(locale, journey, page))
    };
    document(locales, locale, &title, page.switch, &body)
}

fn heading(locale: &Locale, journey: &Journey) -> Markup {
    html! {
        h1 { (locale.text("passport_title")) " " span.mono { (journey.stone) } }
        @if let Some(branding) = sale_branding(journey) {
            p.sub.presenter {
                (locale.fill("presented_by", &[("retailer", branding.0)]))
                @if let Some(jeweller) = branding.1 {
                    " · " (locale.fill("jewellery_by", &[("jeweller", jeweller)]))
                }
            }
        }
    }
}

/// The retailer's shop name and jewellery maker, as the retailer signed
/// them in the sale.
fn sale_branding(journey: &Journey) -> Option<(&str, Option<&str>)> {
    journey
        .steps
        .iter()
        .rev()
        .find_map(|step| match &step.kind {
            StepKind::Sold {
                branding: Some(branding),
                ..
            } => Some((
                branding.shop_name.as_str(),
                branding.jeweller.as_ref().map(|name| name.as_str()),
            )),
            _ => None,
        })
}

fn flag_alert(locale: &Locale, reason: FlagReason) -> Markup {
    html! {
        div.alert role="alert" {
            strong { (locale.text(flag_key(reason))) }
            (locale.text("flag_advice"))
        }
    }
}

fn verified_card(locale: &Locale, journey: &Journey) -> Markup {
    let as_of = time_text(journey.as_of_ms);
    let tip_hash = journey.tip_hash.to_string();
    html! {
        section.card.verified {
            h2 { (locale.text("verified_heading")) }
            p { (locale.fill("verified_text", &[("as_of", &as_of), ("certifiers", &certifiers(locale, &journey.certified_by))])) }
            p.mono { (locale.fill("ledger_tip", &[("height", &journey.tip_height.to_string()), ("hash", &tip_hash)])) }
        }
    }
}

/// The polished output the journey's stone was cut as, if it was cut.
fn own_output(journey: &Journey) -> Option<&PolishedOutput> {
    journey.steps.iter().find_map(|step| match &step.kind {
        StepKind::Manufactured { outputs, .. } => outputs
            .iter()
            .find(|output| output.stone_id == journey.stone),
        _ => None,
    })
}

/// The latest grading of the journey's stone itself.
fn own_grade(journey: &Journey) -> Option<(&JourneyStep, &OrgId, &str, &FourCs, bool)> {
    journey
        .steps
        .iter()
        .rev()
        .find_map(|step| match &step.kind {
            StepKind::Graded {
                lab,
                report_number,
                four_cs,
                origin_matched,
            } if step.stone == journey.stone => {
                Some((step, lab, report_number.as_str(), four_cs, *origin_matched))
            }
            _ => None,
        })
}

fn stone_card(locale: &Locale, journey: &Journey, names: &BTreeMap<OrgId, String>) -> Markup {
    let output = own_output(journey);
    let grade = own_grade(journey);
    // The lab's 4Cs when graded, else the cutter's declaration.
    let four_cs = grade
        .map(|(_, _, _, four_cs, _)| four_cs)
        .or(output.map(|output| &output.four_cs));
    html! {
        section.card {
            h2 { (locale.text("section_stone")) }
            dl {
                dt { (locale.text("stone_id")) } dd.mono { (journey.stone) }
                dt { (locale.text("status")) } dd { (status_text(locale, journey, names)) }
                @if let Some(output) = output { dt { (locale.text("shape")) } dd { (output.shape) } }
                @if let Some(four_cs) = four_cs {
                    dt { (locale.text("carats")) } dd { (four_cs.carats) }
                    dt { (locale.text("colour")) } dd { (four_cs.colour) }
                    dt { (locale.text("clarity")) } dd { (four_cs.clarity) }
                    dt { (locale.text("cut")) } dd { (four_cs.cut) }
                }
            }
            h2 { (locale.text("section_lab")) }
            @if let Some((step, lab, report, _, matched)) = grade {
                dl {
                    dt { (locale.text("lab")) } dd { (org_name(names, lab)) }
                    dt { (locale.text("report_number")) } dd.mono { (report) }
                    dt { (locale.text("origin_check")) }
                    dd { (locale.text(if matched { "origin_matched" } else { "origin_not_matched" })) }
                    dt { (locale.text("time")) } dd { (date_text(step.timestamp_ms)) }
                }
            } @else {
                p { (locale.text("not_graded")) }
            }
        }
    }
}

fn status_text(locale: &Locale, journey: &Journey, names: &BTreeMap<OrgId, String>) -> String {
    let custodian = org_name(names, &journey.custodian);
    match journey.status {
        StoneStatus::Active => locale.fill("status_active", &[("custodian", &custodian)]),
        StoneStatus::Consumed => locale.text("status_consumed").to_owned(),
        StoneStatus::Sold => locale.fill("status_sold", &[("custodian", &custodian)]),
    }
}

fn origin_card(locale: &Locale, journey: &Journey, names: &BTreeMap<OrgId, String>) -> Markup {
    let origin = &journey.origin;
    let country = origin.country.to_string();
    html! {
        section.card {
            h2 { (locale.text("section_origin")) }
            dl {
                dt { (locale.text("mine")) } dd { (origin.mine) }
                dt { (locale.text("region")) } dd { (origin.region) }
                dt { (locale.text("country")) } dd { (locale.country(&country)) }
                dt { (locale.text("extracted")) } dd { (origin.extracted_on) }
                dt { (locale.text("producer")) } dd { (org_name(names, &journey.producer)) }
                dt { (locale.text("kp_certificate")) } dd.mono { (journey.kp_certificate) }
                dt { (locale.text("rough_carats")) } dd { (journey.rough_carats) }
            }
        }
    }
}

fn cutting_card(locale: &Locale, journey: &Journey, names: &BTreeMap<OrgId, String>) -> Markup {
    let cut = journey.steps.iter().find_map(|step| match &step.kind {
        StepKind::Manufactured {
            cutter,
            experience_years,
            ..
        } => Some((step, cutter, experience_years)),
        _ => None,
    });
    let Some((step, cutter, years)) = cut else {
        return html! {};
    };
    html! {
        section.card {
            h2 { (locale.text("section_cutting")) }
            dl {
                dt { (locale.text("cutter")) }
                dd { (cutter) br; span.sub { (locale.fill("experience", &[("years", &years.to_string())])) } }
                dt { (locale.text("cut_at")) } dd { (org_name(names, &step.signer)) }
                dt { (locale.text("time")) } dd { (date_text(step.timestamp_ms)) }
            }
        }
    }
}

fn custody_card(locale: &Locale, journey: &Journey, names: &BTreeMap<OrgId, String>) -> Markup {
    html! {
        section.card {
            h2 { (locale.text("section_custody")) }
            ol.steps {
                @for period in &journey.custody {
                    @let from = date_text(period.from_ms);
                    li {
                        strong { (org_name(names, &period.org)) } br;
                        @match period.until_ms {
                            Some(until) => (locale.fill("custody_range", &[("from", &from), ("until", &date_text(until))])),
                            None => (locale.fill("custody_since", &[("from", &from)])),
                        }
                    }
                }
            }
        }
    }
}

fn journey_card(locale: &Locale, journey: &Journey, names: &BTreeMap<OrgId, String>) -> Markup {
    html! {
        section.card {
            h2 { (locale.text("section_journey")) }
            ol.steps {
                @for step in &journey.steps {
                    li {
                        time datetime=(time_text(step.timestamp_ms)) { (date_text(step.timestamp_ms)) }
                        " " span.mono { (step.stone) } ": "
                        (step_words(locale, step, names))
                    }
                }
            }
        }
    }
}

fn check_card(locale: &Locale, journey: &Journey, page: &PassportPage<'_>) -> Markup {
    let command = format!(
        "gemtrail verify --proof {} --genesis genesis.toml",
        page.file_name
    );
    html! {
        section.card #check {
            div.columns {
                div {
                    h2 { (locale.text("section_check")) }
                    p { (locale.text("check_text")) }
                    p { a.button href=(page.download_href) download=(page.file_name) { (locale.text("download")) } }
                    pre { code { (command) } }
                }
                figure.qr {
                    div role="img" aria-label=(locale.fill("qr_alt", &[("url", page.url)])) { (PreEscaped(page.qr_svg)) }
                    figcaption { (locale.text("scan")) br; a.mono href=(page.url) { (page.url) } }
                }
            }
            p.sub.mono { (stone_lineage_text(&journey.lineage)) }
        }
    }
}

fn stone_lineage_text(lineage: &[StoneId]) -> String {
    lineage
        .iter()
        .map(StoneId::as_str)
        .collect::<Vec<_>>()
        .join(" → ")
}
