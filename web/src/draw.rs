//! The explorer's two drawings, as inline SVG: a stone's lineage from the
//! rough to its polished stones as a tree, and a timeline of who held it.
//! Both are plain markup (no script), each box or bar a link or a label.

use gemtrail_ledger::ids::StoneId;
use gemtrail_ledger::proof::CustodyPeriod;
use maud::{html, Markup};

use crate::words::date_text;

/// A rough and the polished stones cut from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineageTree {
    /// The rough at the root.
    pub rough: StoneId,
    /// The polished stones cut from it, in the manufacture's order.
    pub polished: Vec<StoneId>,
}

const BOX_WIDTH: u32 = 150;
const BOX_HEIGHT: u32 = 36;
const GAP: u32 = 20;
const LEVEL_GAP: u32 = 60;

/// The tree, the stone `current` highlighted, each box linking to its page
/// under `href_prefix`.
pub fn lineage_svg(
    tree: &LineageTree,
    current: &StoneId,
    href_prefix: &str,
    label: &str,
) -> Markup {
    let children = u32::try_from(tree.polished.len())
        .unwrap_or(u32::MAX)
        .max(1);
    let width = (children * (BOX_WIDTH + GAP)).max(BOX_WIDTH + GAP) + GAP;
    let height = 2 * BOX_HEIGHT + LEVEL_GAP + 2 * GAP;
    let root_x = (width - BOX_WIDTH) / 2;
    let child_y = GAP + BOX_HEIGHT + LEVEL_GAP;
    let child_x = |index: u32| {
        GAP + index * (BOX_WIDTH + GAP) + (width - GAP - children * (BOX_WIDTH + GAP)) / 2
    };
    html! {
        svg.drawing xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height) {
            title { (label) }
            @for (index, _) in tree.polished.iter().enumerate() {
                @let x = child_x(u32::try_from(index).unwrap_or(0)) + BOX_WIDTH / 2;
                line x1=(root_x + BOX_WIDTH / 2) y1=(GAP + BOX_HEIGHT) x2=(x) y2=(child_y)
                    stroke="#555d66" stroke-width="2" {}
            }
            (stone_box(&tree.rough, root_x, GAP, current, href_prefix))
            @for (index, stone) in tree.polished.iter().enumerate() {
                (stone_box(stone, child_x(u32::try_from(index).unwrap_or(0)), child_y, current, href_prefix))
            }
        }
    }
}

fn stone_box(stone: &StoneId, x: u32, y: u32, current: &StoneId, href_prefix: &str) -> Markup {
    let (fill, ink) = if stone == current {
        ("#0b5394", "#ffffff")
    } else {
        ("#ffffff", "#0b5394")
    };
    html! {
        a href={ (href_prefix) (stone) } {
            rect x=(x) y=(y) width=(BOX_WIDTH) height=(BOX_HEIGHT) rx="6" fill=(fill) stroke="#0b5394" stroke-width="2" {}
            text x=(x + BOX_WIDTH / 2) y=(y + BOX_HEIGHT / 2 + 5) text-anchor="middle" fill=(ink)
                font-family="monospace" font-size="14" { (stone) }
        }
    }
}

const ROW_HEIGHT: u32 = 34;
const LABEL_WIDTH: u32 = 170;
const BAR_WIDTH: u32 = 420;

/// Who held the lineage and when: one row per custody period, bars on a
/// shared time axis ending at `until_ms` (the journey's as-of moment).
pub fn timeline_svg(periods: &[CustodyPeriod], until_ms: u64, label: &str) -> Markup {
    let start_ms = periods.first().map_or(until_ms, |period| period.from_ms);
    let span = until_ms.saturating_sub(start_ms).max(1);
    let x_of = |ms: u64| {
        let offset = u128::from(ms.saturating_sub(start_ms).min(span));
        LABEL_WIDTH
            + u32::try_from(offset * u128::from(BAR_WIDTH) / u128::from(span)).unwrap_or(BAR_WIDTH)
    };
    let rows = u32::try_from(periods.len()).unwrap_or(u32::MAX);
    let width = LABEL_WIDTH + BAR_WIDTH + GAP;
    let height = rows.saturating_mul(ROW_HEIGHT) + 2 * GAP;
    html! {
        svg.drawing xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height) {
            title { (label) }
            @for (row, period) in periods.iter().enumerate() {
                @let y = u32::try_from(row).unwrap_or(0) * ROW_HEIGHT + GAP / 2;
                @let from = x_of(period.from_ms);
                @let to = x_of(period.until_ms.unwrap_or(until_ms)).max(from + 3);
                text x="0" y=(y + 17) font-size="13" fill="#1b1f24" { (period.name) }
                rect x=(from) y=(y + 4) width=(to - from) height="18" rx="4" fill="#0b5394" {
                    title { (period.name) ": " (date_text(period.from_ms)) " – " (date_text(period.until_ms.unwrap_or(until_ms))) }
                }
            }
            text x=(LABEL_WIDTH) y=(height - 4) font-size="12" fill="#555d66" { (date_text(start_ms)) }
            text x=(LABEL_WIDTH + BAR_WIDTH) y=(height - 4) font-size="12" fill="#555d66" text-anchor="end" { (date_text(until_ms)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use gemtrail_ledger::testkit::{org, stone};

    use super::*;

    #[test]
    fn the_tree_links_every_stone_and_highlights_the_current_one() {
        let tree = LineageTree {
            rough: stone("R-1"),
            polished: vec![stone("P-1"), stone("P-2")],
        };
        let svg = lineage_svg(&tree, &stone("P-2"), "/explorer/stones/", "lineage").into_string();
        for id in ["R-1", "P-1", "P-2"] {
            assert!(
                svg.contains(&format!("href=\"/explorer/stones/{id}\"")),
                "{svg}"
            );
        }
        assert_eq!(svg.matches("<line").count(), 2, "{svg}");
        assert_eq!(svg.matches("fill=\"#0b5394\" stroke").count(), 1, "{svg}");
    }

    #[test]
    fn the_timeline_has_a_bar_per_period_within_the_axis() {
        let period = |name: &str, from_ms, until_ms| CustodyPeriod {
            org: org(name),
            name: name.to_owned(),
            from_ms,
            until_ms,
        };
        let periods = [
            period("mine", 0, Some(1_000)),
            period("cutter", 1_000, None),
        ];
        let svg = timeline_svg(&periods, 4_000, "who held it").into_string();
        assert!(
            svg.contains(&format!("x=\"{LABEL_WIDTH}\" y=\"14\" width=\"105\"")),
            "{svg}"
        );
        assert!(
            svg.contains(&format!(
                "x=\"{}\" y=\"48\" width=\"315\"",
                LABEL_WIDTH + 105
            )),
            "{svg}"
        );
    }
}
